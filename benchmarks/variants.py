"""Our pipeline's variants over one labelled corpus, pooled by the shipped pooler.

A variant is ``(model, k, pooling, normalisation, hubness)``, e.g. ``("default", 8,
"trackda-meanstd", "centre", "none")``; :func:`plugin_default` is the one the plugin ships,
read from its configuration defaults. :class:`OursGrid` turns a variant into the track
vectors the plugin would store: the slice vectors of the shipped ``Embedder``
(:func:`benchmarks.common.slice_vectors`), then
:meth:`deejai_model.vectors.pooling.Pooler.fit_transform` over the library, as
``beetsplug/deejai/index.py`` builds its index. So whatever the grid chooses is what users get.

Models: a short name of :data:`benchmarks.common.MODELS` (``default``, ``mtt``, ``msd``,
``light``) or a bundle path; a fused bundle is pooled block by block (its manifest's
``parts``), as the plugin pools it. ``a+b`` joins models: their slice vectors side by side,
each model a block of its own (``Pooler.parts``), e.g. ``mtt+msd``.

Shipped settings (every one goes through :class:`~deejai_model.vectors.pooling.Pooler`):

- pooling ``[trackda[<dims>s<shrink>]-]<kind>``: ``<kind>`` ``mean``, ``meanstd`` or
  ``tfidf@<epsilon>`` (``Pooler.kind`` / ``epsilon``); the ``trackda`` prefix is the library
  adaptation (``Pooler.adapt``, plain ``trackda`` = the plugin's ``adapt_dims`` /
  ``adapt_shrink``, or e.g. ``trackda128s1.0``); without it ``adapt=False``;
- normalisation ``centre`` or ``none`` (``Pooler.center``);
- hubness ``none`` or ``csls<k>`` (the plugin's ``hubness: csls`` with ``hubness_k: k``,
  :func:`deejai_model.lists.playlists.csls_scores`).

Experiments (levers the plugin does not have; they stay here only because the pooler cannot
express them, and their names say so):

- ``tfidf@p<q>``: TF-IDF whose epsilon is the q-th percentile of the library's (projected)
  slice distances (single models), then the shipped pooler with that epsilon;
- ``every2-<pooling>``: every other slice in time order (K/2 slices without re-embedding);
- ``<pooling>+tdiag<w>`` / ``+tcov<w>``: fused with a Musly-like timbre statistic
  (:mod:`benchmarks.timbre`) with weight ``w``;
- ``tags``: mean tag probabilities (the bundle's ``taggram`` output, at K in :data:`TAG_K`);
- ``[trackda-]slicemax``: no track vector; tracks compared by their best-matching slices;
- hubness ``mp``: mutual proximity.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from benchmarks.common import (
    Track,
    align,
    bundle_dir,
    bundle_key,
    cache_file,
    cached_per_track,
    hits_at_k,
    load_ragged,
    log,
    save_ragged,
    slice_vectors,
)
from deejai_model.ears.manifest import read_manifest
from deejai_model.vectors.norms import unit_rows
from deejai_model.vectors.pooling import Pooler

TAG_K = (16,)
"""Slice counts at which the tag layer (``tags`` pooling) is computed."""

Bags = list[np.ndarray | None]
"""Per track: ``(n_slices, dim)`` slice vectors, or None for a track that failed."""


def plugin_default() -> tuple:
    """The variant the plugin ships: its configuration defaults (``beetsplug/deejai/config.py``)
    written as a variant, e.g. ``("default", 8, "trackda-meanstd", "centre", "none")``."""
    from beetsplug.deejai.config import DEFAULTS
    from deejai_model.vectors.adapt import DEFAULT_DIMS, DEFAULT_SHRINK

    kind = DEFAULTS["pooling"]
    if kind == "tfidf":
        kind = f"tfidf@{DEFAULTS['epsilon']}"
    if DEFAULTS["adapt"]:
        dims = DEFAULTS["adapt_dims"]
        adapt = "trackda" if dims == DEFAULT_DIMS else f"trackda{dims}s{DEFAULT_SHRINK}"
        kind = f"{adapt}-{kind}"
    return (
        DEFAULTS["model"] or "default",
        DEFAULTS["max_slices"],
        kind,
        "centre" if DEFAULTS["normalize"] == "center" else "none",
        f"csls{DEFAULTS['hubness_k']}" if DEFAULTS["hubness"] == "csls" else "none",
    )


def variant_name(variant: tuple) -> str:
    """``mtt K16 mean centre none`` (K0 is written Kall)."""
    model, k, how_pool, how_norm, how_hub = variant
    return f"{model} K{k or 'all'} {how_pool} {how_norm} {how_hub}"


# --------------------------------------------------------------------------- shipped settings


def adaptation_settings(head: str) -> tuple[int, float]:
    """``(dims, shrink)`` of the library adaptation named ``trackda`` (the plugin's settings,
    :data:`deejai_model.vectors.adapt.DEFAULT_DIMS` / ``DEFAULT_SHRINK``) or
    ``trackda<dims>s<shrink>`` (e.g. ``trackda128s1.0``)."""
    from deejai_model.vectors import adapt

    if head == "trackda":
        return adapt.DEFAULT_DIMS, adapt.DEFAULT_SHRINK
    dims, shrink = head[len("trackda") :].split("s")
    return int(dims), float(shrink)


def pooler(how_pool: str, how_norm: str, parts: Sequence[int] = ()) -> Pooler:
    """The shipped :class:`Pooler` of a pooling and normalisation name.

    ``how_pool``: ``[trackda...-]<kind>``, ``<kind>`` ``mean``, ``meanstd`` or
    ``tfidf@<epsilon>``; ``how_norm``: ``centre`` or ``none``.

    Raises
    ------
    ValueError
        For a name the pooler cannot express (an experiment, or a typo).
    """
    if how_norm not in ("centre", "none"):
        raise ValueError(f"unknown normalisation {how_norm!r}")
    adapt, kind = how_pool.split("-", 1) if how_pool.startswith("trackda") else ("", how_pool)
    settings: dict = {"adapt": bool(adapt), "center": how_norm == "centre", "parts": parts}
    if adapt:
        settings["adapt_dims"], settings["adapt_shrink"] = adaptation_settings(adapt)
    if kind.startswith("tfidf@"):
        kind, settings["epsilon"] = "tfidf", float(kind[len("tfidf@") :])
    return Pooler(kind=kind, **settings)


def empty_bags(slices: Bags) -> list[np.ndarray]:
    """``slices`` with every failed track as a ``(0, dim)`` array (no slices)."""
    dim = next(s.shape[1] for s in slices if s is not None)
    return [s if s is not None else np.zeros((0, dim), np.float32) for s in slices]


def pooled_units(
    slices: Bags, how_pool: str, how_norm: str, *, parts: Sequence[int] = ()
) -> np.ndarray:
    """Unit track vectors ``(n_tracks, dim)`` float64 of a library, by the shipped pooler;
    zero rows for tracks without slices. Also takes the ``tfidf@p<q>`` experiment."""
    bags = empty_bags(slices)
    adapt, kind = how_pool.split("-", 1) if how_pool.startswith("trackda") else ("", how_pool)
    if kind.startswith("tfidf@p"):  # experiment: epsilon from the library's slice distances
        if len(parts) > 1:
            raise ValueError(f"{how_pool}: the percentile epsilon is for single models")
        probe = pooler(f"{adapt}-mean" if adapt else "mean", "none").fit(bags)
        epsilon = slice_epsilon([probe.project(b) for b in bags], float(kind[len("tfidf@p") :]))
        how_pool = f"{adapt}-tfidf@{epsilon!r}" if adapt else f"tfidf@{epsilon!r}"
    _, vectors = pooler(how_pool, how_norm, parts).fit_transform(bags)
    return vectors.astype(np.float64)


def csls_distances(unit: np.ndarray, k: int, valid: np.ndarray) -> np.ndarray:
    """CSLS as the plugin scores it (:func:`deejai_model.lists.playlists.csls_scores`), negated.

    ``r(x)``: mean cosine of ``x`` to its ``k`` nearest other valid items
    (:func:`deejai_model.lists.playlists.hubness_radii`).
    """
    from deejai_model.lists.playlists import csls_scores, hubness_radii

    radii = np.zeros(len(unit))
    radii[valid] = hubness_radii(unit[valid], k=k)
    return -csls_scores(unit @ unit.T, radii[:, None], radii[None, :])


def reduce_hubs(unit: np.ndarray, valid: np.ndarray, how: str) -> np.ndarray:
    """Distance matrix from unit track vectors: cosine, then optional hubness reduction."""
    similarity = unit @ unit.T
    if how == "none":
        return 1.0 - similarity
    if how.startswith("csls"):
        return csls_distances(unit, int(how[4:]), valid)
    if how == "mp":
        return mutual_proximity(1.0 - similarity, valid)
    raise ValueError(f"unknown hubness reduction {how!r}")


# --------------------------------------------------------------------------- experiments


def slice_epsilon(slices: Sequence[np.ndarray], percentile: float, sample: int = 4000) -> float:
    """A percentile (in %) of the cosine distances between distinct slices of the library.

    At most ``sample`` slices (a fixed random subset) are compared.
    """
    x = unit_rows(np.concatenate([s for s in slices if s is not None and len(s)]), np.float64)
    if len(x) > sample:
        x = x[np.random.default_rng(0).choice(len(x), sample, replace=False)]
    d = 1.0 - x @ x.T
    return float(np.percentile(d[np.triu_indices(len(x), 1)], percentile))


def slice_match_similarity(bags: Sequence[np.ndarray]) -> np.ndarray:
    """Track similarity from their best-matching slices.

    Slices are centred on the library's mean slice and scaled to unit length; for tracks a and
    b, ``s(a, b)`` is the mean over a's slices of their best cosine among b's slices, and the
    result is symmetrised: ``(s(a, b) + s(b, a)) / 2``. Tracks without slices get zero rows.

    Parameters
    ----------
    bags : sequence of np.ndarray, each (n_slices_i, dim)

    Returns
    -------
    np.ndarray, shape (n_tracks, n_tracks), float64
    """
    counts = np.array([len(b) for b in bags])
    x = np.concatenate([b for b in bags if len(b)]).astype(np.float64)
    x = unit_rows(x - x.mean(axis=0), np.float64)
    present = np.flatnonzero(counts)
    offsets = np.concatenate([[0], np.cumsum(counts[present])[:-1]])
    cosine = x @ x.T
    best = np.maximum.reduceat(cosine, offsets, axis=1)  # (slices, present tracks)
    mean_best = np.add.reduceat(best, offsets, axis=0) / counts[present][:, None]
    similarity = np.zeros((len(bags), len(bags)))
    similarity[np.ix_(present, present)] = (mean_best + mean_best.T) / 2.0
    return similarity


def mutual_proximity(distances: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Gaussian mutual proximity (Schnitzer et al. 2012) as a distance in [0, 1].

    ``MP(x, y) = 1 - P(D_x > d) P(D_y > d)``, each item's distances to the others modelled as a
    normal distribution.
    """
    from scipy.stats import norm

    d = np.array(distances, dtype=np.float64)
    block = d[np.ix_(valid, valid)].copy()
    np.fill_diagonal(block, np.nan)
    mu = np.full(len(d), 0.0)
    sd = np.full(len(d), 1.0)
    mu[valid] = np.nanmean(block, axis=1)
    sd[valid] = np.maximum(np.nanstd(block, axis=1), 1e-12)
    p_x = norm.sf(d, loc=mu[:, None], scale=sd[:, None])
    p_y = norm.sf(d, loc=mu[None, :], scale=sd[None, :])
    return 1.0 - p_x * p_y


def centred_units(x: np.ndarray, valid: np.ndarray, how_norm: str) -> np.ndarray:
    """Rows of ``x`` centred on the valid rows' mean (``centre``) or not (``none``), scaled to
    unit length, invalid rows zero: for track vectors the pooler does not make (``tags``)."""
    y = np.array(x, dtype=np.float64)
    if how_norm == "centre":
        y -= y[valid].mean(axis=0)
    elif how_norm != "none":
        raise ValueError(f"unknown normalisation {how_norm!r}")
    y = unit_rows(y, np.float64)
    y[~valid] = 0.0
    return y


def ours_tags(tracks: Sequence[Track], model: str, *, k: int, cache_dir: str) -> Bags | None:
    """Per-slice tag probabilities (the bundle's ``taggram`` output), or None if it has none."""
    name = f"ours-tags_{bundle_key(model)}_K{k or 'all'}"
    path = cache_file(cache_dir, name)
    if path.exists():
        paths, arrays, _ = load_ragged(path)
        return align(tracks, paths, arrays)
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder

    bundle = load_bundle(bundle_dir(model))
    if "taggram" not in bundle.output_names:
        return None
    embedder = Embedder(bundle, max_slices=k, workers=2)
    arrays: Bags = []
    for number, track in enumerate(tracks, 1):
        try:
            arrays.append(bundle.predict(embedder.prepare(track.path).batch, "taggram"))
        except Exception as exc:  # noqa: BLE001 - a failed track is reported, not fatal
            log(f"tags failed: {track.path}: {exc}")
            arrays.append(None)
        if number % 40 == 0:
            log(f"tags {model}: {number}/{len(tracks)}")
    save_ragged(path, [t.path for t in tracks], arrays)
    return arrays


def ours_timbre(tracks: Sequence[Track], k: int, cache_dir: str) -> Bags:
    """Per track, the Gaussian of :func:`benchmarks.timbre.gaussian` over the K mel slices
    the plugin cuts for the network: ``(1, c + c*c)`` rows (mean, then covariance), cached."""
    from benchmarks import timbre
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder

    embedder = Embedder(load_bundle(bundle_dir("mtt")), max_slices=k, workers=1)

    def analyse(path: str) -> np.ndarray:
        mean, covariance = timbre.gaussian(embedder.prepare(path).batch)
        return np.concatenate([mean, covariance.reshape(-1)])

    arrays, _ = cached_per_track(tracks, cache_dir, name=f"timbre-mel_K{k}", analyse=analyse)
    return arrays


def timbre_units(stats: Bags, kind: str) -> np.ndarray:
    """Z-scored unit timbre vectors (``diag`` or ``cov``) from :func:`ours_timbre`'s rows."""
    from benchmarks import timbre

    c = timbre.DEFAULT_COEFFS
    rows = np.zeros((len(stats), len(timbre.timbre_vector(np.zeros(c), np.eye(c), kind))))
    valid = np.array([s is not None for s in stats])
    for i, s in enumerate(stats):
        if s is not None:
            flat = s.reshape(c + c * c)
            rows[i] = timbre.timbre_vector(flat[:c], flat[c:].reshape(c, c), kind)
    return timbre.library_unit_vectors(rows, valid)


def every_other(slices: Bags, starts: Bags) -> Bags:
    """Every other slice of each track in time order (K/2 evenly spread slices, as a K/2 run
    would cut them up to the plan's offset)."""
    return [
        s[np.argsort(st.reshape(-1), kind="stable")][::2] if s is not None else None
        for s, st in zip(slices, starts, strict=True)
    ]


# --------------------------------------------------------------------------- the grid


@dataclasses.dataclass
class Result:
    """Per-query precision of one system on the whole corpus (NaN: not a query)."""

    name: str
    p1: np.ndarray
    p5: np.ndarray
    failed: list[str]


def evaluate(
    name: str,
    distances: np.ndarray,
    groups: Sequence[str],
    *,
    valid: np.ndarray,
    failed: list[str],
) -> Result:
    """P@1 and P@5 of every valid query, NaN for the others."""
    p1 = np.full(len(groups), np.nan)
    p5 = np.full(len(groups), np.nan)
    p1[valid] = hits_at_k(distances, groups, 1, valid=valid)
    p5[valid] = hits_at_k(distances, groups, 5, valid=valid)
    return Result(name, p1, p5, failed)


class OursGrid:
    """Every variant of our pipeline over one corpus, with memoised track vectors.

    Parameters
    ----------
    tracks : sequence of Track
        The library (and the queries).
    cache_dir : str or PathLike
        Where slice vectors and experiments' analyses are cached.
    models : sequence of str
        Models to load: short names, bundle paths, or ``+``-joins of them.
    k_values : sequence of int
        Slices per track (0: every slice).
    """

    def __init__(
        self,
        tracks: Sequence[Track],
        cache_dir: str | os.PathLike,
        *,
        models: Sequence[str],
        k_values: Sequence[int],
    ):
        self.tracks = list(tracks)
        self.cache_dir = str(cache_dir)
        self.groups = [t.group for t in tracks]
        self.k_values = list(k_values)
        self.slices: dict[tuple[str, int], Bags] = {}
        self.starts: dict[tuple[str, int], Bags] = {}
        self.failed: dict[tuple[str, int], list[str]] = {}
        self.parts: dict[str, tuple[int, ...]] = {}
        self._units: dict[tuple, np.ndarray] = {}
        for model in dict.fromkeys(m for joined in models for m in joined.split("+")):
            parts = read_manifest(bundle_dir(model)).parts
            for k in self.k_values:
                slices, starts, failed = slice_vectors(self.tracks, model, k=k, cache_dir=cache_dir)
                self.add_model(model, k, slices=slices, starts=starts, failed=failed, parts=parts)

    def add_model(
        self,
        model: str,
        k: int,
        *,
        slices: Bags,
        starts: Bags,
        failed: list[str],
        parts: Sequence[int] = (),
    ) -> None:
        """Put one model's slice vectors at K slices per track into the grid.

        ``parts``: the sizes of the blocks its slice vectors are made of (a fused bundle's
        ``Manifest.parts``), each pooled on its own; ``()``: one block.
        """
        self.slices[model, k], self.starts[model, k] = slices, starts
        self.failed[model, k] = failed
        self.parts[model] = tuple(parts)

    def _joined(self, model: str, k: int) -> tuple[Bags, Bags, tuple[int, ...]]:
        """Slices, starts and blocks of a model, ``+``-joins put side by side."""
        names = model.split("+")
        if len(names) == 1:
            return self.slices[model, k], self.starts[model, k], self.parts[model]
        columns = [self.slices[m, k] for m in names]
        slices = [
            None if any(c is None for c in track) else np.concatenate(track, axis=1)
            for track in zip(*columns, strict=True)
        ]
        parts = tuple(
            p
            for m in names
            for p in (
                self.parts[m] or (next(s.shape[1] for s in self.slices[m, k] if s is not None),)
            )
        )
        return slices, self.starts[names[0], k], parts

    def valid(self, model: str, k: int) -> np.ndarray:
        """Tracks with at least one slice vector under ``model`` (a join: under every model)."""
        return np.logical_and.reduce(
            [[s is not None and len(s) > 0 for s in self.slices[m, k]] for m in model.split("+")]
        )

    def unit_vectors(
        self, model: str, k: int, how_pool: str, *, how_norm: str, slices: Bags | None = None
    ) -> np.ndarray:
        """Unit track vectors ``(n_tracks, dim)`` float64 of a model under a pooling (shipped
        or experiment, see the module's docstring) and normalisation; ``slices`` replace the
        model's own (e.g. halves of tracks)."""
        key = (model, k, how_pool, how_norm)
        if slices is None and key in self._units:
            return self._units[key]
        own, starts, parts = self._joined(model, k)
        if how_pool.startswith("every2-"):
            out = self.unit_vectors(
                model,
                k,
                how_pool[len("every2-") :],
                how_norm=how_norm,
                slices=every_other(own, starts),
            )
        elif "+t" in how_pool:
            base_pool, fuse = how_pool.split("+t")
            kind = "diag" if fuse.startswith("diag") else "cov"
            weight = float(fuse[len(kind) :])
            stats = ours_timbre(self.tracks, k, self.cache_dir)
            out = np.concatenate(
                [
                    np.sqrt(1.0 - weight)
                    * self.unit_vectors(model, k, base_pool, how_norm=how_norm),
                    np.sqrt(weight) * timbre_units(stats, kind),
                ],
                axis=1,
            )
        elif how_pool == "tags":
            tags = ours_tags(self.tracks, model, k=k, cache_dir=self.cache_dir)
            if tags is None:
                raise ValueError(f"{model} has no tag layer")
            dim = next(t.shape[1] for t in tags if t is not None)
            means = np.stack(
                [t.mean(axis=0) if t is not None and len(t) else np.zeros(dim) for t in tags]
            )
            out = centred_units(means, self.valid(model, k), how_norm)
        else:
            out = pooled_units(own if slices is None else slices, how_pool, how_norm, parts=parts)
        if slices is None:
            self._units[key] = out
        return out

    def distances(self, variant: tuple) -> tuple[np.ndarray, np.ndarray]:
        """(distance matrix, valid mask) of ``(model, k, pool, norm, hub)``.

        Pooling ``[trackda...-]slicemax``: no pooled vector; tracks compared by their
        best-matching slices (:func:`slice_match_similarity`) in the space the shipped pooler
        pools them in (:meth:`~deejai_model.vectors.pooling.FittedPooler.project`);
        ``norm`` and ``hub`` do not apply (use ``centre``/``none``).
        """
        model, k, how_pool, how_norm, how_hub = variant
        valid = self.valid(model, k)
        if how_pool.endswith("slicemax"):
            own, _, parts = self._joined(model, k)
            bags = empty_bags(own)
            fitted = pooler(how_pool.replace("slicemax", "mean"), "none", parts).fit(bags)
            projected = [fitted.project(b) for b in bags]  # raw slices when not adapted
            if fitted.projection is None and not fitted.parts:
                projected = [unit_rows(b) for b in projected]
            return 1.0 - slice_match_similarity(projected), valid
        unit = self.unit_vectors(model, k, how_pool, how_norm=how_norm)
        return reduce_hubs(unit, valid, how_hub), valid

    def result(self, variant: tuple) -> Result:
        """Per-query P@1/P@5 of a variant."""
        d, valid = self.distances(variant)
        model, k = variant[0], variant[1]
        failed = sorted({f for m in model.split("+") for f in self.failed[m, k]})
        return evaluate(variant_name(variant), d, self.groups, valid=valid, failed=failed)

    def network_work(self, variant: tuple) -> float:
        """Network work per track relative to one network at 8 slices: networks (blocks) x
        slices heard / 8 (``every2-`` poolings hear half the slices)."""
        model, k, how_pool = variant[0], variant[1], variant[2]
        nets = sum(max(1, len(self.parts[m])) for m in model.split("+"))
        return nets * (k or 0) / (2 if how_pool.startswith("every2-") else 1) / 8

    def twin_recall(self, variant: tuple) -> tuple[float, int]:
        """Label-free check: recall@1 of a track's other half among all half-tracks.

        Each track's slices (in time order) are split into a first and a second half; the
        halves are pooled and normalised as separate tracks of a library of 2n halves, and
        each half queries all other halves. Tracks with fewer than 2 slices are left out.

        Returns
        -------
        (recall, n_halves)
        """
        model, k, how_pool, how_norm, how_hub = variant
        own, starts, _ = self._joined(model, k)
        halves: list[np.ndarray] = []
        for s, st in zip(own, starts, strict=True):
            if s is not None and len(s) >= 2:
                s = s[np.argsort(st.reshape(-1), kind="stable")]
                halves += [s[: len(s) // 2], s[len(s) // 2 :]]
        unit = self.unit_vectors(model, k, how_pool, how_norm=how_norm, slices=halves)
        d = reduce_hubs(unit, np.ones(len(unit), bool), how_hub)
        np.fill_diagonal(d, np.inf)
        nearest = np.argmin(d, axis=1)
        twins = np.arange(len(unit)) ^ 1
        return float((nearest == twins).mean()), len(unit)
