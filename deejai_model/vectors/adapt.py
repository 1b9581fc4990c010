"""Ears adapted to a library without labels: a linear projection learned from its own slices.

Two slices of one track are taken as "the same music" and slices of different tracks as
different: the projection keeps the directions along which tracks differ most relative to how
much a track varies within itself (Fisher's discriminant with tracks as classes). It needs no
labels, only the slice vectors the library already stores, and costs one ``dim x dim``
generalised eigenproblem.

Measured as a lever in ``benchmarks/quality.py`` (pooling names
``trackda-mean`` / ``trackda-meanstd``); see docs/benchmarks-history.md.
:class:`~deejai_model.vectors.pooling.Pooler` applies it (``adapt=True``, the default) to
libraries of :data:`~deejai_model.vectors.pooling.MIN_TRACKS_TO_ADAPT` tracks or more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deejai_model.vectors.norms import unit_rows

__all__ = [
    "DEFAULT_DIMS",
    "DEFAULT_SHRINK",
    "fit_track_projection",
    "generalized_eigh",
    "project_slices",
]

DEFAULT_DIMS = 64
"""Directions the projection keeps (chosen on the dev corpus, docs/benchmarks-history.md)."""

DEFAULT_SHRINK = 0.3
"""Ridge on the within-track scatter, as a fraction of its mean eigenvalue."""


def fit_track_projection(
    slices_per_track: Sequence[np.ndarray],
    dims: int = DEFAULT_DIMS,
    shrink: float = DEFAULT_SHRINK,
) -> np.ndarray:
    """Learn a ``(dim, dims)`` projection that separates tracks, from unlabelled slices.

    Parameters
    ----------
    slices_per_track : sequence of np.ndarray
        One ``(n_slices_i, dim)`` array per track (raw network outputs; rows are normalised to
        unit length here). Tracks with fewer than two slices add nothing to the within-track
        scatter but count in the total scatter.
    dims : int
        Output dimensions kept (the leading generalised eigenvectors); at most ``dim``.
    shrink : float
        Ridge added to the within-track scatter, as a fraction of its mean eigenvalue: keeps the
        problem well posed when the library is small.

    Returns
    -------
    np.ndarray
        ``(dim, dims)`` float32; project unit slices with ``units @ projection``.

    Raises
    ------
    ValueError
        When there are no slices, or ``dims < 1``.
    """
    if dims < 1:
        raise ValueError(f"dims must be >= 1, got {dims}")
    units = [unit_rows(s, np.float64) for s in slices_per_track if len(s)]
    if not units:
        raise ValueError("no slices to learn a projection from")
    stacked = np.concatenate(units)
    dim = stacked.shape[1]
    counts = np.array([len(u) for u in units], dtype=np.float64)
    track_means = np.stack([u.mean(axis=0) for u in units])
    second = stacked.T @ stacked / len(stacked)
    mean = stacked.mean(axis=0)
    total = second - np.outer(mean, mean)
    # within-track scatter = sum over slices of x x^T - sum over tracks of n m m^T (float64)
    within = second - (track_means.T * counts) @ track_means / len(stacked)
    within += shrink * max(np.trace(within) / dim, 1e-12) * np.eye(dim)
    vectors = generalized_eigh(total, within)  # ascending generalised eigenvalues
    return np.ascontiguousarray(vectors[:, ::-1][:, : min(dims, dim)], dtype=np.float32)


def generalized_eigh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Eigenvectors of the symmetric-definite problem ``a v = w b v``, in numpy (no SciPy).

    As ``scipy.linalg.eigh(a, b)``: through the Cholesky factor ``b = L L^T``, the ordinary
    problem ``L^-1 a L^-T u = w u`` and ``v = L^-T u``, so that ``V^T b V = I``.

    Parameters
    ----------
    a : np.ndarray
        ``(d, d)`` symmetric, float64.
    b : np.ndarray
        ``(d, d)`` symmetric positive definite, float64.

    Returns
    -------
    np.ndarray
        ``(d, d)`` float64, one eigenvector per column, by ascending eigenvalue (each column's
        sign is arbitrary, as with any eigensolver).
    """
    lower = np.linalg.cholesky(b)
    half = np.linalg.solve(lower, a)  # L^-1 a
    reduced = np.linalg.solve(lower, half.T)  # L^-1 a L^-T (a symmetric)
    _, u = np.linalg.eigh((reduced + reduced.T) / 2)
    return np.linalg.solve(lower.T, u)


def project_slices(
    slices_per_track: Sequence[np.ndarray], projection: np.ndarray
) -> list[np.ndarray]:
    """Unit-normalise each track's slices and project them: ``(n_slices_i, dims)`` float32 each."""
    return [
        (unit_rows(s, np.float64) @ projection).astype(np.float32)
        if len(s)
        else np.zeros((0, projection.shape[1]), np.float32)
        for s in slices_per_track
    ]
