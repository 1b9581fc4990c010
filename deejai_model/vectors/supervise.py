"""Ears that learn from the library's own weak labels: a discriminant projection of pooled
track vectors, supervised by what the library puts together (albums, playlists, listening
sessions).

The label-free adaptation (:mod:`deejai_model.vectors.adapt`) treats the slices of one track as
"the same music". This goes one step further with what a library already knows: tracks of one
album, one playlist or one listening session belong together far more often than not. Each such
group is a *class*; the projection keeps the directions along which the library's tracks
differ most relative to how much a class varies within itself (Fisher's discriminant, closed
form, one ``dim x dim`` generalised eigenproblem on the pooled track vectors):

- the total scatter ``S_t`` is the covariance of every track's pooled vector, labelled or not
  (singletons and cold tracks help here);
- the within-class scatter ``S_w`` is the covariance of labelled tracks around their class'
  mean, over classes of at least :data:`MIN_MEMBERS` tracks (one-track albums and singletons
  teach nothing about what varies within a class); a track in several classes counts in each;
- ``S_w`` gets a ridge of ``shrink`` times its mean eigenvalue, and the projection is the
  leading ``dims`` generalised eigenvectors of ``(S_t, S_w)``.

Which groups are classes is the caller's choice (the plugin: ``beetsplug/deejai/labels.py``
drops compilations and "Various Artists" albums, measured in docs/learned-ears.md). Fewer than
:data:`MIN_CLASSES` usable classes: no projection (None).

:class:`~deejai_model.vectors.pooling.Pooler` applies it (``supervise=True``) per block, after
pooling and before centring; the projection is part of the fitted pooler's saved state, so cold
tracks (new imports, files outside the library) are transformed without refitting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deejai_model.vectors.adapt import generalized_eigh

__all__ = [
    "DEFAULT_BLEND",
    "DEFAULT_SUPERVISED_DIMS",
    "DEFAULT_SUPERVISED_SHRINK",
    "MIN_CLASSES",
    "MIN_MEMBERS",
    "blend_with_identity",
    "fit_label_projection",
    "usable_classes",
]

DEFAULT_SUPERVISED_DIMS = 16
"""Directions kept per block (0: as many as the pooled vector has); chosen leave-one-game-out
on dev + val, docs/learned-ears.md."""

DEFAULT_SUPERVISED_SHRINK = 1.0
"""Ridge on the within-class scatter, as a fraction of its mean eigenvalue."""

DEFAULT_BLEND = 0.7
"""Share of the supervised directions in the blended vector (1: the discriminant alone). 0.7:
the discriminant alone gained more P@5 but cost P@1 beyond the interval on the dev corpus;
this blend kept P@1 within it everywhere (docs/learned-ears.md)."""

MIN_MEMBERS = 3
"""Smallest class (tracks with slices) that counts: smaller ones are ignored."""

MIN_CLASSES = 2
"""Fewest usable classes that learn a projection."""


def usable_classes(
    classes: Sequence[Sequence[int]], has_vector: np.ndarray, min_members: int = MIN_MEMBERS
) -> list[np.ndarray]:
    """The classes that count: members with a vector, duplicates removed, at least
    ``min_members`` of them.

    Parameters
    ----------
    classes : sequence of sequence of int
        Track indices (rows of the library) of each class.
    has_vector : np.ndarray
        ``(n_tracks,)`` bool: tracks that have slices.
    min_members : int
        Smallest class kept.

    Returns
    -------
    list of np.ndarray
        ``(n_members,)`` int64 sorted row indices of each kept class.

    Raises
    ------
    ValueError
        When an index is outside ``[0, n_tracks)``.
    """
    n = len(has_vector)
    kept = []
    for members in classes:
        rows = np.unique(np.asarray(members, dtype=np.int64).reshape(-1))
        if len(rows) and (rows[0] < 0 or rows[-1] >= n):
            raise ValueError(f"class member outside the library of {n} tracks")
        rows = rows[has_vector[rows]]
        if len(rows) >= min_members:
            kept.append(rows)
    return kept


def fit_label_projection(
    vectors: np.ndarray,
    classes: Sequence[np.ndarray],
    *,
    dims: int = DEFAULT_SUPERVISED_DIMS,
    shrink: float = DEFAULT_SUPERVISED_SHRINK,
) -> np.ndarray | None:
    """Learn a ``(dim, dims)`` projection that separates the library's classes.

    Parameters
    ----------
    vectors : np.ndarray
        ``(n_tracks, dim)`` pooled track vectors of every track with slices (labelled or not).
    classes : sequence of np.ndarray
        Row indices into ``vectors`` of each class (as :func:`usable_classes` returns them).
    dims : int
        Directions kept (the leading generalised eigenvectors); 0 or more than ``dim``: all.
    shrink : float
        Ridge on the within-class scatter, as a fraction of its mean eigenvalue (> 0).

    Returns
    -------
    np.ndarray or None
        ``(dim, dims)`` float32, applied as ``vectors @ projection``; None when fewer than
        :data:`MIN_CLASSES` classes are given.

    Raises
    ------
    ValueError
        When ``shrink`` is not positive.
    """
    if shrink <= 0:
        raise ValueError(f"shrink must be > 0, got {shrink}")
    if len(classes) < MIN_CLASSES:
        return None
    x = np.asarray(vectors, dtype=np.float64)
    dim = x.shape[1]
    total = np.cov(x, rowvar=False, bias=True).reshape(dim, dim)
    within = np.zeros((dim, dim))
    count = 0
    for rows in classes:
        deviations = x[rows] - x[rows].mean(axis=0)
        within += deviations.T @ deviations
        count += len(rows)
    within /= count
    within += shrink * max(np.trace(within) / dim, 1e-12) * np.eye(dim)
    basis = generalized_eigh(total, within)  # ascending generalised eigenvalues
    keep = dim if dims <= 0 else min(dims, dim)
    return np.ascontiguousarray(basis[:, ::-1][:, :keep], dtype=np.float32)


def blend_with_identity(
    vectors: np.ndarray, projection: np.ndarray, blend: float = DEFAULT_BLEND
) -> np.ndarray:
    """The pooled vectors kept beside their discriminant projection, as one linear map.

    The discriminant alone keeps only what separates the library's classes and loses the
    detail that tells one recording from a near copy; side by side, both count. Each half is
    scaled by the library's root-mean-square norm of its centred vectors, so that ``blend`` is
    the supervised half's share of the squared length.

    Parameters
    ----------
    vectors : np.ndarray
        ``(n_tracks, dim)`` pooled vectors of the library (tracks with slices).
    projection : np.ndarray
        ``(dim, dims)`` from :func:`fit_label_projection`.
    blend : float
        In ``(0, 1]``; 1: the (scaled) projection alone.

    Returns
    -------
    np.ndarray
        ``(dim, dim + dims)`` float32 (``(dim, dims)`` when ``blend`` is 1), applied as
        ``vectors @ map``.

    Raises
    ------
    ValueError
        When ``blend`` is outside ``(0, 1]``.
    """
    if not 0.0 < blend <= 1.0:
        raise ValueError(f"blend must be in (0, 1], got {blend}")
    x = np.asarray(vectors, dtype=np.float64)
    centred = x - x.mean(axis=0)
    projected = centred @ projection.astype(np.float64)

    def rms(a: np.ndarray) -> float:
        return max(float(np.sqrt((a * a).sum(axis=1).mean())), 1e-12)

    supervised = projection * (np.sqrt(blend) / rms(projected))
    if blend == 1.0:
        return np.ascontiguousarray(supervised, dtype=np.float32)
    plain = np.eye(x.shape[1]) * (np.sqrt(1.0 - blend) / rms(centred))
    return np.ascontiguousarray(np.concatenate([plain, supervised], axis=1), dtype=np.float32)
