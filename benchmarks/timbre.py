"""A Musly-like timbre statistic from the mel slices the network already gets.

Musly ranks well with one Gaussian over a track's MFCCs. The same statistic can be had at no
extra decoding cost from the log-compressed mel slices that
:class:`deejai_model.ears.embed.Embedder`
cuts for the network: a DCT-II over the mel bands gives cepstral coefficients per frame, and
their mean and spread over every frame of every slice describe the track's timbre.

Beets-free and numpy-only (no scipy, no librosa).
"""

from __future__ import annotations

import numpy as np

DEFAULT_COEFFS = 20
"""Cepstral coefficients kept (Musly keeps 25 of 36 bands; 20 of 96 here)."""


def dct_matrix(n_bands: int, n_coeffs: int) -> np.ndarray:
    """Orthonormal DCT-II basis, as ``scipy.fft.dct(x, type=2, norm='ortho')`` applies it.

    Returns
    -------
    np.ndarray, shape (n_bands, n_coeffs), float64
        Right-multiply frames of ``n_bands`` log-mel values to get ``n_coeffs`` coefficients.
    """
    if not 1 <= n_coeffs <= n_bands:
        raise ValueError(f"need 1 <= n_coeffs <= n_bands, got {n_coeffs} of {n_bands}")
    band = np.arange(n_bands)[:, None]
    coeff = np.arange(n_coeffs)[None, :]
    basis = np.cos(np.pi * (2 * band + 1) * coeff / (2 * n_bands)) * np.sqrt(2.0 / n_bands)
    basis[:, 0] /= np.sqrt(2.0)
    return basis


def cepstra(batch: np.ndarray, n_coeffs: int = DEFAULT_COEFFS) -> np.ndarray:
    """Cepstral coefficients of every frame of a batch of log-mel slices.

    Parameters
    ----------
    batch : np.ndarray, shape (slices, frames, bands)
        Log-compressed mel spectrogram slices (the network's input).
    n_coeffs : int
        Coefficients kept per frame.

    Returns
    -------
    np.ndarray, shape (slices * frames, n_coeffs), float64
    """
    batch = np.asarray(batch, dtype=np.float64)
    if batch.ndim != 3 or batch.shape[0] == 0:
        raise ValueError(f"expected a non-empty (slices, frames, bands) batch, got {batch.shape}")
    frames = batch.reshape(-1, batch.shape[-1])
    return frames @ dct_matrix(batch.shape[-1], n_coeffs)


def gaussian(batch: np.ndarray, n_coeffs: int = DEFAULT_COEFFS) -> tuple[np.ndarray, np.ndarray]:
    """One Gaussian over a track's cepstral frames: mean and covariance.

    Returns
    -------
    mean : np.ndarray, shape (n_coeffs,), float64
    covariance : np.ndarray, shape (n_coeffs, n_coeffs), float64
    """
    frames = cepstra(batch, n_coeffs)
    return frames.mean(axis=0), np.cov(frames, rowvar=False).reshape(n_coeffs, n_coeffs)


def timbre_vector(mean: np.ndarray, covariance: np.ndarray, kind: str = "diag") -> np.ndarray:
    """Flatten a Gaussian into a feature vector.

    Parameters
    ----------
    mean : np.ndarray, shape (c,)
    covariance : np.ndarray, shape (c, c)
    kind : str
        ``diag``: mean and standard deviations, shape (2c,); ``cov``: mean and the upper
        triangle of the covariance (diagonal included), shape (c + c(c+1)/2,).
    """
    if kind == "diag":
        return np.concatenate([mean, np.sqrt(np.maximum(np.diag(covariance), 0.0))])
    if kind == "cov":
        return np.concatenate([mean, covariance[np.triu_indices(len(mean))]])
    raise ValueError(f"unknown timbre vector kind {kind!r}")


def library_unit_vectors(vectors: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Z-score each feature over the library's valid rows, then scale rows to unit length.

    Parameters
    ----------
    vectors : np.ndarray, shape (n, d)
    valid : np.ndarray, shape (n,), bool
        Rows that hold a statistic; the others come back as zeros.

    Returns
    -------
    np.ndarray, shape (n, d), float64
    """
    x = np.array(vectors, dtype=np.float64)
    mean = x[valid].mean(axis=0)
    std = x[valid].std(axis=0)
    x = (x - mean) / np.where(std > 0, std, 1.0)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    x[~valid] = 0.0
    return x
