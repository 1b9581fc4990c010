"""The pooling recipe, stated once for the tests that check what a track vector should be.

slices -> (projection) -> per-track pooling (MP3ToVec's mean, mean+std or TF-IDF of the unit
slices) -> centring on the mean of the tracks that have slices -> unit length. The shipped
:class:`deejai_model.vectors.pooling.Pooler` must give the same vectors; this restates it
from the building blocks, with numpy's own norms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deejai_model.vectors import adapt, mp3tovec


def pooled(
    bags: Sequence[np.ndarray],
    *,
    kind: str = "meanstd",
    projection: np.ndarray | None = None,
    center: bool = True,
    epsilon: float = mp3tovec.DEFAULT_EPSILON,
) -> tuple[np.ndarray, np.ndarray]:
    """Track vectors of ``bags`` by the recipe, and the mean they were centred on.

    Parameters
    ----------
    bags : sequence of np.ndarray
        One ``(n_slices_i, dim)`` array per track (``n_slices_i`` may be 0).
    kind : str
        ``"mean"``, ``"meanstd"`` or ``"tfidf"``.
    projection : np.ndarray, optional
        ``(dim, dims)`` library projection applied to the slices first.
    center : bool
        Subtract the mean of the tracks that have slices.
    epsilon : float
        TF-IDF closeness.

    Returns
    -------
    (vectors, mean) : tuple of np.ndarray
        ``(n_tracks, out_dim)`` float64 unit rows (zero for tracks without slices) and the
        ``(out_dim,)`` mean (zero without ``center``).
    """
    if projection is not None:
        bags = adapt.project_slices(bags, projection)
    if kind == "tfidf":
        raw = mp3tovec.tfidf_vectors(bags, epsilon=epsilon)
    else:
        raw = {"mean": mp3tovec.mean_vectors, "meanstd": mp3tovec.meanstd_vectors}[kind](bags)
    raw = raw.astype(np.float64)
    has_slices = np.array([len(b) > 0 for b in bags])
    mean = raw[has_slices].mean(axis=0) if center else np.zeros(raw.shape[1])
    centred = np.where(has_slices[:, None], raw - mean, 0.0)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return centred / np.where(norms > 0, norms, 1.0), mean
