"""Slice vectors -> unit track vector: one component, fitted on a library, applied to any track.

Every track vector, of a library track or of a file outside the library, takes this path:

1. each slice vector is scaled to unit length;
2. adaptation (``adapt``, for libraries of at least ``adapt_min_tracks`` tracks): the unit slices
   are projected by a projection learned from the library's own slices
   (:mod:`deejai_model.vectors.adapt`); with ``contrast`` (off by default), a small non-linear
   head trained contrastively on those projected slices then maps them
   (:mod:`deejai_model.vectors.contrastive`);
3. pooling (``kind``): the mean (``"mean"``), or the mean and spread side by side
   (``"meanstd"``), of the (projected) unit slices, or Deej-A.I.'s TF-IDF (``"tfidf"``,
   :mod:`deejai_model.vectors.mp3tovec`) whose IDF counts the library's tracks;
4. library supervision (``supervise``, for libraries of at least ``adapt_min_tracks`` tracks
   whose labels give :data:`~deejai_model.vectors.supervise.MIN_CLASSES` classes or more): the
   pooled vectors are projected by a discriminant learned from the albums / playlists /
   sessions the caller passes to :meth:`Pooler.fit_transform`
   (:mod:`deejai_model.vectors.supervise`);
5. centring (``center``, for libraries of at least ``center_min_tracks`` tracks): the library's
   mean pooled vector is subtracted;
6. the result is scaled to unit length (a track without slices gets the zero vector).

Parts (``parts``): when a slice vector is several networks' outputs side by side (e.g. two
200-d models = 400-d slices), ``parts`` gives the sizes of its consecutive column blocks. Each
block then takes steps 1-6 on its own (one fitted sub-pooler per block, same settings) and the
track vector is the blocks' unit vectors side by side divided by ``sqrt(n_parts)``: a unit
vector whose cosine with another is the mean of the blocks' cosines. (A joint adaptation of
the concatenation measured worse than this per-network pooling, docs/benchmarks-history.md "fused".)

:class:`Pooler` holds the settings; :meth:`Pooler.fit` learns from the library what steps 2-5
need and returns a :class:`FittedPooler`, whose :meth:`~FittedPooler.transform` gives any
track's vector. :meth:`FittedPooler.to_data` / :meth:`FittedPooler.from_data` turn the fitted
state into JSON-able settings plus named arrays (saved as ``.npz``, never pickled), so an
index stores it beside its vectors and queries use exactly what the index was built with.

TF-IDF against a fitted library: the library is the document collection. A slice's ``k`` is
the number of library tracks holding a slice close to it and ``N`` the number of library
tracks; a slice close to no library slice counts as ``k = 1`` (as rare as can be). For a
library track this is exactly its vector at fit time (its own track holds the slice); a file
from outside is scored against the library as it stands and not added to it, so a copy of a
library file gets that file's vector. (Upstream adds the new track to a random sample of about
100 library tracks instead.) The fitted state then keeps the library's (projected) slices.

This module needs numpy (and scipy when adaptation is fitted).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deejai_model.vectors import mp3tovec
from deejai_model.vectors.adapt import (
    DEFAULT_DIMS,
    DEFAULT_SHRINK,
    fit_track_projection,
    project_slices,
)
from deejai_model.vectors.contrastive import (
    DEFAULT_HIDDEN,
    DEFAULT_STEPS,
    DEFAULT_TEMPERATURE,
    ContrastiveHead,
    train_head,
)
from deejai_model.vectors.norms import unit_rows
from deejai_model.vectors.supervise import (
    DEFAULT_BLEND,
    DEFAULT_SUPERVISED_DIMS,
    DEFAULT_SUPERVISED_SHRINK,
    MIN_MEMBERS,
    blend_with_identity,
    fit_label_projection,
    usable_classes,
)

__all__ = [
    "DEFAULT_POOLING",
    "FORMAT",
    "MIN_TRACKS_TO_ADAPT",
    "MIN_TRACKS_TO_CENTER",
    "POOLINGS",
    "FittedPooler",
    "Pooler",
]

POOLINGS = ("meanstd", "mean", "tfidf")
"""Pooling kinds: per-track ``meanstd`` and ``mean``, library-wide ``tfidf``."""

DEFAULT_POOLING = "meanstd"
"""The kind whose gain over the mean is clear of zero on the dev corpus
(docs/benchmarks-history.md)."""

MIN_TRACKS_TO_ADAPT = 50
"""Below this many tracks no projection is learned (too few to tell what separates them)."""

MIN_TRACKS_TO_CENTER = 3
"""Below this many tracks centring is skipped (the mean of one or two vectors is the vectors)."""

FORMAT = 1
"""Version of :meth:`FittedPooler.to_data`'s layout."""

_SUPERVISE_FIELDS = (
    "supervise",
    "supervise_dims",
    "supervise_shrink",
    "supervise_min_members",
    "supervise_blend",
)
"""The :class:`Pooler` settings of the library supervision (step 4)."""

_CONTRAST_FIELDS = (
    "contrast",
    "contrast_hidden",
    "contrast_steps",
    "contrast_temperature",
    "contrast_seed",
)
"""The :class:`Pooler` settings of the contrastive head (step 2b)."""

_PER_TRACK = {"mean": mp3tovec.mean_vectors, "meanstd": mp3tovec.meanstd_vectors}


def _bags(slices_per_track: Sequence[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Tracks as ``(n_slices_i, dim)`` float32 arrays, and their common ``dim`` (0 if unknown)."""
    bags = []
    for slices in slices_per_track:
        arr = np.asarray(slices, dtype=np.float32)
        if arr.size == 0:
            arr = arr.reshape(0, arr.shape[-1] if arr.ndim == 2 else 0)
        elif arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise ValueError(f"slice vectors must be (n_slices, dim), got shape {arr.shape}")
        bags.append(arr)
    dims = {b.shape[1] for b in bags if b.shape[1] > 0}
    if len(dims) > 1:
        raise ValueError(f"slice vectors of different dimensions: {sorted(dims)}")
    dim = dims.pop() if dims else 0
    return [b if b.shape[1] or not dim else np.zeros((0, dim), np.float32) for b in bags], dim


def _split(bags: Sequence[np.ndarray], parts: Sequence[int]) -> list[list[np.ndarray]]:
    """Each block's slices: ``[block][track]`` arrays of ``(n_slices_i, parts[block])``."""
    bounds = np.cumsum(parts)[:-1]
    per_track = [np.split(b, bounds, axis=1) for b in bags]
    return [[blocks[i] for blocks in per_track] for i in range(len(parts))]


def _join(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """Unit rows of the blocks side by side over ``sqrt(n_blocks)``: ``(n, sum of widths)``
    float32 (a cosine between two rows is the mean of the blocks' cosines)."""
    scale = np.float32(1.0 / np.sqrt(len(blocks)))
    return (np.concatenate(blocks, axis=1) * scale).astype(np.float32)


def _finish(raw: np.ndarray, mean: np.ndarray, has_slices: np.ndarray) -> np.ndarray:
    """Centre and scale to unit length; tracks without slices get zero: ``(n, out_dim)``."""
    out = unit_rows(np.asarray(raw, dtype=np.float32) - mean)
    out[~has_slices] = 0.0
    return out


@dataclass(frozen=True)
class Pooler:
    """How slice vectors become a track vector (the settings; :meth:`fit` learns the rest).

    Attributes
    ----------
    kind : {"meanstd", "mean", "tfidf"}
        Pooling of the (projected) unit slices.
    adapt : bool
        Learn a projection from the library's slices (:mod:`deejai_model.vectors.adapt`).
    adapt_dims : int
        Directions the projection keeps (at most the slice dimension).
    adapt_shrink : float
        Ridge of the projection's within-track scatter.
    adapt_min_tracks : int
        Smallest library that learns a projection.
    epsilon : float
        TF-IDF: slices are close below this cosine distance.
    center : bool
        Subtract the library's mean pooled vector before scaling to unit length.
    center_min_tracks : int
        Smallest library that is centred.
    parts : tuple of int
        Sizes of consecutive column blocks of the slice vectors (e.g. ``(200, 200)`` for two
        networks' outputs side by side), each pooled on its own; ``()`` or one block: the
        whole vector is pooled as one.
    supervise : bool
        Learn a discriminant of the pooled vectors from the ``labels`` given to
        :meth:`fit_transform` (:mod:`deejai_model.vectors.supervise`); without labels, with
        too few usable classes, or in a library of fewer than ``adapt_min_tracks`` tracks
        (with slices), nothing is learned.
    supervise_dims : int
        Directions the supervised projection keeps (0: all).
    supervise_shrink : float
        Ridge of the within-class scatter.
    supervise_min_members : int
        Smallest class (tracks with slices) that counts.
    supervise_blend : float
        Share of the supervised directions beside the pooled vector, in ``(0, 1]`` (1: the
        discriminant alone; :func:`~deejai_model.vectors.supervise.blend_with_identity`).
    contrast : bool
        After the adaptation, train a small non-linear head on the projected slices (slices of
        one track together, of other tracks apart; :mod:`deejai_model.vectors.contrastive`) and
        pool its outputs; only where the adaptation is learned.
    contrast_hidden : int
        Hidden units of the head.
    contrast_steps : int
        Training steps (mini-batches of tracks) of the head.
    contrast_temperature : float
        Temperature of the head's NT-Xent loss.
    contrast_seed : int
        Seed of the head's initial weights and mini-batches (same library, same head).
    """

    kind: str = DEFAULT_POOLING
    adapt: bool = True
    adapt_dims: int = DEFAULT_DIMS
    adapt_shrink: float = DEFAULT_SHRINK
    adapt_min_tracks: int = MIN_TRACKS_TO_ADAPT
    epsilon: float = mp3tovec.DEFAULT_EPSILON
    center: bool = True
    center_min_tracks: int = MIN_TRACKS_TO_CENTER
    parts: tuple[int, ...] = ()
    supervise: bool = False
    supervise_dims: int = DEFAULT_SUPERVISED_DIMS
    supervise_shrink: float = DEFAULT_SUPERVISED_SHRINK
    supervise_min_members: int = MIN_MEMBERS
    supervise_blend: float = DEFAULT_BLEND
    contrast: bool = False
    contrast_hidden: int = DEFAULT_HIDDEN
    contrast_steps: int = DEFAULT_STEPS
    contrast_temperature: float = DEFAULT_TEMPERATURE
    contrast_seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.parts, Sequence):
            raise ValueError(f"parts must be a sequence of block sizes, got {self.parts!r}")
        parts = tuple(self.parts)
        if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in parts):
            raise ValueError(f"parts must be block sizes (whole numbers), got {list(parts)}")
        if any(p < 1 for p in parts):
            raise ValueError(f"parts must be positive block sizes, got {list(parts)}")
        object.__setattr__(self, "parts", tuple(int(p) for p in parts))
        if self.kind not in POOLINGS:
            raise ValueError(f"unknown pooling {self.kind!r}; known: {', '.join(POOLINGS)}")
        if not 0.0 < self.epsilon < 2.0:
            raise ValueError(f"epsilon must be in (0, 2), got {self.epsilon}")
        if self.adapt_dims < 1:
            raise ValueError(f"adapt_dims must be >= 1, got {self.adapt_dims}")
        if self.supervise_shrink <= 0:
            raise ValueError(f"supervise_shrink must be > 0, got {self.supervise_shrink}")
        if not 0.0 < self.supervise_blend <= 1.0:
            raise ValueError(f"supervise_blend must be in (0, 1], got {self.supervise_blend}")
        if self.contrast_hidden < 1 or self.contrast_steps < 1 or self.contrast_temperature <= 0:
            raise ValueError(
                "contrast_hidden and contrast_steps must be >= 1 and contrast_temperature > 0"
            )

    def settings(self) -> dict[str, Any]:
        """The settings as a JSON-able dict (``Pooler(**settings())`` is this pooler).

        ``parts`` is a list, and left out when there are none (so settings saved before parts
        existed still read as the same pooler); so are the ``supervise*`` settings while
        ``supervise`` is off, and the ``contrast*`` ones while ``contrast`` is off.
        """
        settings = dataclasses.asdict(self)
        if not self.supervise:
            for name in _SUPERVISE_FIELDS:
                del settings[name]
        if not self.contrast:
            for name in _CONTRAST_FIELDS:
                del settings[name]
        settings["parts"] = list(self.parts)
        if not self.parts:
            del settings["parts"]
        return settings

    def fit(
        self,
        slices_per_track: Sequence[np.ndarray],
        *,
        labels: Sequence[Sequence[int]] | None = None,
    ) -> FittedPooler:
        """Learn from a library what its track vectors need (see :meth:`fit_transform`)."""
        return self.fit_transform(slices_per_track, labels=labels)[0]

    def fit_transform(
        self,
        slices_per_track: Sequence[np.ndarray],
        block: int = mp3tovec.DEFAULT_BLOCK,
        *,
        labels: Sequence[Sequence[int]] | None = None,
    ) -> tuple[FittedPooler, np.ndarray]:
        """Learn from a library and return its tracks' vectors too (TF-IDF is counted once).

        Parameters
        ----------
        slices_per_track : sequence of np.ndarray
            The library: one ``(n_slices_i, dim)`` array of raw slice vectors per track
            (``n_slices_i`` may be 0).
        block : int
            TF-IDF: slices per block side of the similarity products (memory bound only).
        labels : sequence of sequence of int, optional
            The library's classes for ``supervise``: the track indices (into
            ``slices_per_track``) of each album / playlist / session.

        Returns
        -------
        fitted : FittedPooler
            The settings and what was learned.
        vectors : np.ndarray
            ``(n_tracks, fitted.dim)`` float32 unit track vectors, equal (to float32
            rounding) to ``fitted.transform`` of each track's slices; zero rows for tracks
            without slices.

        Raises
        ------
        ValueError
            When the slices' dimension is not the sum of ``parts``.
        """
        if self.supervise and labels:
            unsupervised = dataclasses.replace(self, supervise=False)
            fitted = unsupervised.fit(slices_per_track)
            return fitted.with_labels(slices_per_track, labels, settings=self)
        bags, input_dim = _bags(slices_per_track)
        if self.parts:
            if input_dim and input_dim != sum(self.parts):
                raise ValueError(
                    f"slice vectors have {input_dim} dimensions but parts {list(self.parts)} "
                    f"sum to {sum(self.parts)}"
                )
            input_dim = sum(self.parts)
            bags = [b if b.shape[1] else np.zeros((0, input_dim), np.float32) for b in bags]
        if len(self.parts) > 1:
            whole = dataclasses.replace(self, parts=())
            fits = [whole.fit_transform(blocks, block) for blocks in _split(bags, self.parts)]
            fitted = FittedPooler(
                self,
                input_dim,
                len(bags),
                np.concatenate([f.mean for f, _ in fits]),
                parts=tuple(f for f, _ in fits),
            )
            return fitted, _join([vectors for _, vectors in fits])
        n_tracks = len(bags)
        projection = None
        if self.adapt and n_tracks >= self.adapt_min_tracks and input_dim:
            projection = fit_track_projection(bags, dims=self.adapt_dims, shrink=self.adapt_shrink)
            bags = project_slices(bags, projection)
        head = None
        if self.contrast and projection is not None:
            head = train_head(
                bags,
                hidden=self.contrast_hidden,
                steps=self.contrast_steps,
                temperature=self.contrast_temperature,
                seed=self.contrast_seed,
            )
            if head is not None:
                bags = head.apply_many(bags)
        reference = None
        if self.kind == "tfidf":
            counts = mp3tovec.slice_counts(bags, epsilon=self.epsilon, block=block)
            raw = mp3tovec.tfidf_from_counts(bags, counts.k, tf=counts.tf, n_tracks=n_tracks)
            reference = bags
        else:
            raw = _PER_TRACK[self.kind](bags)
        has_slices = np.array([len(b) > 0 for b in bags], dtype=bool)
        out_dim = raw.shape[1] if raw.ndim == 2 else 0
        mean = np.zeros(out_dim, dtype=np.float32)
        if self.center and int(has_slices.sum()) >= self.center_min_tracks:
            mean = raw[has_slices].mean(axis=0).astype(np.float32)
        fitted = FittedPooler(self, input_dim, n_tracks, mean, projection, reference, head=head)
        if n_tracks == 0:
            return fitted, np.zeros((0, out_dim), np.float32)
        return fitted, _finish(raw, mean, has_slices)

    def supervision(
        self, raw: np.ndarray, has_slices: np.ndarray, labels: Sequence[Sequence[int]]
    ) -> tuple[np.ndarray | None, int]:
        """The supervised projection of pooled vectors and the classes it learned from.

        Parameters
        ----------
        raw : np.ndarray
            ``(n_tracks, d)`` pooled vectors of the library (before centring).
        has_slices : np.ndarray
            ``(n_tracks,)`` bool: tracks with slices (the others are left out).
        labels : sequence of sequence of int
            Track indices of each class.

        Returns
        -------
        (projection or None, n_classes)
            ``(d, d + dims)`` float32 (the discriminant of
            :func:`~deejai_model.vectors.supervise.fit_label_projection` beside the pooled
            vector, :func:`~deejai_model.vectors.supervise.blend_with_identity`; ``(d, dims)``
            with ``supervise_blend`` 1) and the number of usable classes; ``(None, 0)`` when
            too few.
        """
        classes = usable_classes(labels, has_slices, self.supervise_min_members)
        rows = np.cumsum(has_slices) - 1  # library row -> row among tracks with slices
        projection = fit_label_projection(
            raw[has_slices],
            [rows[c] for c in classes],
            dims=self.supervise_dims,
            shrink=self.supervise_shrink,
        )
        if projection is None:
            return None, 0
        return blend_with_identity(raw[has_slices], projection, self.supervise_blend), len(classes)


@dataclass(frozen=True, eq=False)
class FittedPooler:
    """A :class:`Pooler` with what it learned from one library.

    Attributes
    ----------
    pooler : Pooler
        The settings.
    input_dim : int
        Dimension of the slice vectors it was fitted on (0 for an empty library).
    n_tracks : int
        Tracks of the library (``N`` of the TF-IDF), tracks without slices included.
    mean : np.ndarray
        ``(dim,)`` float32 subtracted before scaling to unit length (zeros: not centred).
    projection : np.ndarray or None
        ``(input_dim, adapt_dims)`` float32 adaptation, or None.
    reference : list of np.ndarray or None
        TF-IDF only: the library's (projected) slices, one ``(n_slices_i, d)`` array per track.
    parts : tuple of FittedPooler
        With two or more ``pooler.parts``: one fitted pooler per block (what each learned is
        there; ``mean`` is then their means side by side, ``projection`` and ``reference``
        None); empty otherwise.
    supervision : np.ndarray or None
        ``(pooled_dim, dim)`` float32 map of the pooled vectors learned from the library's
        labels (the pooled vector beside its discriminant, :mod:`deejai_model.vectors.supervise`),
        or None.
    n_classes : int
        Classes the supervision learned from (with parts: those of the first block).
    head : ContrastiveHead or None
        The contrastive head applied to the projected slices (``contrast``), or None.
    """

    pooler: Pooler
    input_dim: int
    n_tracks: int
    mean: np.ndarray
    projection: np.ndarray | None = None
    reference: list[np.ndarray] | None = None
    parts: tuple[FittedPooler, ...] = ()
    supervision: np.ndarray | None = None
    n_classes: int = 0
    head: ContrastiveHead | None = None

    @property
    def dim(self) -> int:
        """Dimension of the track vectors."""
        return int(self.mean.shape[0])

    def transform(self, slices: np.ndarray) -> np.ndarray:
        """The unit track vector of one track (in the library or not).

        Parameters
        ----------
        slices : np.ndarray
            ``(n_slices, input_dim)`` raw slice vectors of the track.

        Returns
        -------
        np.ndarray
            ``(dim,)`` float32 unit vector; zero when the track has no slices.

        Raises
        ------
        ValueError
            When the slices' dimension is not the one the pooler was fitted on.
        """
        return self.transform_many([slices])[0]

    def project(self, slices: np.ndarray) -> np.ndarray:
        """One track's slices in the space the pooler pools them in, before pooling.

        Parameters
        ----------
        slices : np.ndarray
            ``(n_slices, input_dim)`` raw slice vectors.

        Returns
        -------
        np.ndarray
            ``(n_slices, d)`` float32: unit slices projected by the library's adaptation
            (``d = adapt_dims``), or the raw slices when the pooler learned no projection.
            With parts: each block's projected slices scaled to unit length, side by side,
            over ``sqrt(n_parts)`` (a cosine between two rows is the mean of the blocks'
            cosines).
        """
        bags, _ = _bags([slices])
        if self.parts:
            return _join(
                [
                    unit_rows(part.project(blocks[0]))
                    for part, blocks in zip(
                        self.parts, _split(bags, self.pooler.parts), strict=True
                    )
                ]
            )
        if self.projection is None:
            return bags[0]
        projected = project_slices(bags, self.projection)[0]
        return projected if self.head is None else self.head.apply(projected)

    def _checked_bags(self, slices_per_track: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each track's slices as ``(n_slices_i, input_dim)`` float32 (an empty track as
        ``(0, input_dim)``), refusing slices of another width than the fit's."""
        bags, dim = _bags(slices_per_track)
        if dim and dim != self.input_dim:
            raise ValueError(
                f"slice vectors have {dim} dimensions; the pooler was fitted on {self.input_dim}"
            )
        return [b if b.shape[1] else np.zeros((0, self.input_dim), np.float32) for b in bags]

    def transform_many(self, slices_per_track: Sequence[np.ndarray]) -> np.ndarray:
        """Unit track vectors of several tracks: ``(n_tracks, dim)`` float32 (see
        :meth:`transform`; tracks are scored one by one against the library, not together)."""
        bags = self._checked_bags(slices_per_track)
        if self.parts:
            return _join(
                [
                    part.transform_many(blocks)
                    for part, blocks in zip(
                        self.parts, _split(bags, self.pooler.parts), strict=True
                    )
                ]
            )
        raw = self._pooled(bags)
        if self.supervision is not None:
            raw = raw.astype(np.float64) @ self.supervision
        has_slices = np.array([len(b) > 0 for b in bags], dtype=bool)
        return _finish(raw.reshape(len(bags), self.dim), self.mean, has_slices)

    def _pooled(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        """One block's pooled vectors ``(n_tracks, d)`` of raw slices, before supervision and
        centring (steps 1-3)."""
        if self.projection is not None:
            bags = project_slices(bags, self.projection)
        if self.head is not None:
            bags = self.head.apply_many(bags)
        kind = self.pooler.kind
        if kind == "tfidf":
            epsilon = self.pooler.epsilon
            tf = mp3tovec.slice_counts(bags, epsilon=epsilon).tf
            k = mp3tovec.idf_counts(bags, self.reference or [], epsilon=epsilon)
            n = max(self.n_tracks, 1)
            raw = mp3tovec.tfidf_from_counts(bags, np.clip(k, 1, n), tf=tf, n_tracks=n)
        else:
            raw = _PER_TRACK[kind](bags)
        return raw.reshape(len(bags), -1)

    def with_labels(
        self,
        slices_per_track: Sequence[np.ndarray],
        labels: Sequence[Sequence[int]] | None,
        *,
        settings: Pooler | None = None,
    ) -> tuple[FittedPooler, np.ndarray]:
        """This pooler, its supervision (re)learned from the library's labels (step 4; the
        adaptation and TF-IDF reference stay as fitted, the mean is taken again).

        ``Pooler(supervise=True).fit_transform(slices, labels=labels)`` is
        ``Pooler().fit(slices).with_labels(slices, labels, settings=...)``.

        Parameters
        ----------
        slices_per_track : sequence of np.ndarray
            The library this pooler was fitted on: ``(n_slices_i, input_dim)`` raw slices.
        labels : sequence of sequence of int or None
            Track indices of each class (album, playlist, session); None: no supervision.
        settings : Pooler, optional
            The settings to fit with (default: this pooler's); they may differ from this
            pooler's in the ``supervise*`` fields only.

        Returns
        -------
        (FittedPooler, np.ndarray)
            The supervised pooler and the library's ``(n_tracks, dim)`` float32 unit vectors.

        Raises
        ------
        ValueError
            When ``settings`` differ in anything else, or the slices do not fit.
        """
        settings = self.pooler if settings is None else settings
        same = {f: getattr(self.pooler, f) for f in _SUPERVISE_FIELDS}
        if dataclasses.replace(settings, **same) != self.pooler:
            raise ValueError("with_labels: settings may differ in the supervise* fields only")
        bags = self._checked_bags(slices_per_track)
        if self.parts:
            whole = dataclasses.replace(settings, parts=())
            fits = [
                part.with_labels(blocks, labels, settings=whole)
                for part, blocks in zip(self.parts, _split(bags, settings.parts), strict=True)
            ]
            fitted = dataclasses.replace(
                self,
                pooler=settings,
                mean=np.concatenate([f.mean for f, _ in fits]),
                parts=tuple(f for f, _ in fits),
                n_classes=fits[0][0].n_classes,
            )
            return fitted, _join([vectors for _, vectors in fits])
        raw = self._pooled(bags)
        has_slices = np.array([len(b) > 0 for b in bags], dtype=bool)
        supervision, n_classes = None, 0
        big_enough = int(has_slices.sum()) >= settings.adapt_min_tracks
        if settings.supervise and labels and raw.shape[1] and big_enough:
            supervision, n_classes = settings.supervision(raw, has_slices, labels)
        if supervision is not None:
            raw = (raw.astype(np.float64) @ supervision).astype(np.float32)
        mean = np.zeros(raw.shape[1], dtype=np.float32)
        if settings.center and int(has_slices.sum()) >= settings.center_min_tracks:
            mean = raw[has_slices].mean(axis=0).astype(np.float32)
        fitted = dataclasses.replace(
            self, pooler=settings, mean=mean, supervision=supervision, n_classes=n_classes
        )
        return fitted, _finish(raw, mean, has_slices)

    # -- as data ----------------------------------------------------------------------------
    def to_data(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The fitted state as ``(JSON-able dict, named arrays)`` (for ``np.savez``).

        Returns
        -------
        meta : dict
            ``format``, ``settings`` (:meth:`Pooler.settings`), ``input_dim``, ``n_tracks``,
            ``dim``, ``has_projection``, ``has_reference``; ``has_supervision`` and
            ``n_classes`` when supervised; ``has_head`` with a contrastive head.
        arrays : dict of np.ndarray
            ``mean``; ``projection`` when adapted; ``supervision`` when supervised;
            ``head_w1``, ``head_b1``, ``head_w2``, ``head_b2``, ``head_scale`` with a head;
            ``reference_slices`` (all slices concatenated) and ``reference_lengths`` (slices
            per track) for TF-IDF.

        With parts, ``meta["parts"]`` holds each block's meta and each block's arrays are
        named ``part<i>_<name>`` (``mean`` is then the blocks' means side by side).
        """
        meta = {
            "format": FORMAT,
            "settings": self.pooler.settings(),
            "input_dim": self.input_dim,
            "n_tracks": self.n_tracks,
            "dim": self.dim,
            "has_projection": self.projection is not None,
            "has_reference": self.reference is not None,
        }
        arrays = {"mean": np.asarray(self.mean, dtype=np.float32)}
        if self.supervision is not None:
            meta["has_supervision"] = True
            meta["n_classes"] = self.n_classes
            arrays["supervision"] = np.asarray(self.supervision, dtype=np.float32)
        if self.head is not None:
            meta["has_head"] = True
            arrays.update({f"head_{name}": a for name, a in self.head.to_arrays().items()})
        if self.parts:
            meta["parts"] = []
            for i, part in enumerate(self.parts):
                part_meta, part_arrays = part.to_data()
                meta["parts"].append(part_meta)
                arrays.update({f"part{i}_{name}": a for name, a in part_arrays.items()})
        if self.projection is not None:
            arrays["projection"] = np.asarray(self.projection, dtype=np.float32)
        if self.reference is not None:
            width = self.projection.shape[1] if self.projection is not None else self.input_dim
            arrays["reference_lengths"] = np.array([len(b) for b in self.reference], np.int64)
            arrays["reference_slices"] = (
                np.concatenate(self.reference).astype(np.float32)
                if self.reference
                else np.zeros((0, width), np.float32)
            )
        return meta, arrays

    @classmethod
    def from_data(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> FittedPooler:
        """Rebuild a fitted pooler from :meth:`to_data`'s output (e.g. a loaded ``.npz``).

        Raises
        ------
        ValueError
            When the layout's format is not :data:`FORMAT` or an array is missing.
        """
        if meta.get("format") != FORMAT:
            raise ValueError(f"pooler state format {meta.get('format')!r}, expected {FORMAT}")
        try:
            pooler = Pooler(**meta["settings"])
            projection = np.asarray(arrays["projection"]) if meta["has_projection"] else None
            supervision = (
                np.asarray(arrays["supervision"], dtype=np.float32)
                if meta.get("has_supervision")
                else None
            )
            head = (
                ContrastiveHead.from_arrays(
                    {n.removeprefix("head_"): a for n, a in arrays.items() if n.startswith("head_")}
                )
                if meta.get("has_head")
                else None
            )
            reference = None
            if meta["has_reference"]:
                lengths = np.asarray(arrays["reference_lengths"], dtype=np.int64)
                slices = np.asarray(arrays["reference_slices"], dtype=np.float32)
                reference = np.split(slices, np.cumsum(lengths)[:-1]) if len(lengths) else []
            parts = tuple(
                cls.from_data(
                    part_meta,
                    {
                        name.removeprefix(f"part{i}_"): a
                        for name, a in arrays.items()
                        if name.startswith(f"part{i}_")
                    },
                )
                for i, part_meta in enumerate(meta.get("parts", ()))
            )
            if len(parts) != (len(pooler.parts) if len(pooler.parts) > 1 else 0):
                raise ValueError(
                    f"incomplete pooler state: {len(parts)} fitted parts for parts "
                    f"{list(pooler.parts)}"
                )
            return cls(
                pooler,
                int(meta["input_dim"]),
                int(meta["n_tracks"]),
                np.asarray(arrays["mean"], dtype=np.float32),
                projection,
                reference,
                parts,
                supervision=supervision,
                n_classes=int(meta.get("n_classes", parts[0].n_classes if parts else 0)),
                head=head,
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"incomplete pooler state: {error}") from error
