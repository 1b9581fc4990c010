"""Unit-length rows: the one row normaliser of deejai_model and the plugin.

This module needs numpy only.
"""

from __future__ import annotations

import numpy as np


def unit_rows(x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """Scale each row to unit length; all-zero rows stay zero.

    Norms are computed in float64 whatever ``dtype`` is, so float32 rows are normalised to
    float32 precision.

    Parameters
    ----------
    x : np.ndarray
        ``(n, dim)`` vectors.
    dtype : numpy dtype
        Type of the result (float32 for stored vectors, float64 for interpolation).

    Returns
    -------
    np.ndarray
        ``(n, dim)`` unit rows of ``dtype``.

    Raises
    ------
    ValueError
        When ``x`` is not two-dimensional.
    """
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 2:
        raise ValueError(f"expected (n, dim) vectors, got shape {x.shape}")
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
    out = np.zeros_like(x)
    ok = norms > 0
    out[ok] = x[ok] / norms[ok, None].astype(dtype)
    return out


def unit_vector(v: np.ndarray) -> np.ndarray:
    """One vector scaled to unit length (float64; a zero vector stays zero): ``(dim,)``."""
    return unit_rows(np.asarray(v).reshape(1, -1), np.float64)[0]
