"""benchmarks.timbre: a Musly-like Gaussian over cepstra of the network's own mel slices."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import noise_bursts, tone

from benchmarks import timbre
from deejai_model.ears.frontend import MUSICNN

RATE = 16000


def test_dct_matrix_is_scipys_orthonormal_dct():
    from scipy.fft import dct

    frames = np.random.default_rng(0).normal(size=(7, 96))
    expected = dct(frames, type=2, norm="ortho", axis=1)[:, :20]
    assert np.allclose(frames @ timbre.dct_matrix(96, 20), expected, atol=1e-10)
    with pytest.raises(ValueError):
        timbre.dct_matrix(96, 97)


def log_mel_batch(signal: np.ndarray) -> np.ndarray:
    """The musicnn front end's (slices, 187, 96) log-mel batch: what the network sees."""
    batch, _ = MUSICNN.slices(signal.astype(np.float32))
    return batch


def test_timbre_pairs_like_with_like():
    """In a small library, each tone's nearest neighbour is the other tone, each noise's the
    other noise (the statistic hears timbre, not pitch or seed)."""
    sounds = [
        tone(10.0, RATE, 330.0),
        tone(10.0, RATE, 440.0),
        noise_bursts(10.0, RATE, seed=3),
        noise_bursts(10.0, RATE, seed=4),
    ]
    rows = []
    for signal in sounds:
        mean, covariance = timbre.gaussian(log_mel_batch(signal))
        assert mean.shape == (20,) and covariance.shape == (20, 20)
        assert np.allclose(covariance, covariance.T)
        rows.append(timbre.timbre_vector(mean, covariance, "diag"))
    unit = timbre.library_unit_vectors(np.stack(rows), np.ones(len(rows), bool))
    assert np.allclose(np.linalg.norm(unit, axis=1), 1.0)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    assert similarity.argmax(axis=1).tolist() == [1, 0, 3, 2]


def test_vector_kinds_and_invalid_rows():
    mean, covariance = np.arange(3.0), np.diag([4.0, 9.0, 16.0])
    assert np.allclose(timbre.timbre_vector(mean, covariance, "diag"), [0, 1, 2, 2, 3, 4])
    assert timbre.timbre_vector(mean, covariance, "cov").shape == (3 + 6,)
    with pytest.raises(ValueError):
        timbre.timbre_vector(mean, covariance, "full")
    rows = np.random.default_rng(1).normal(size=(5, 6))
    valid = np.array([True, True, False, True, True])
    unit = timbre.library_unit_vectors(rows, valid)
    assert np.array_equal(unit[2], np.zeros(6))
    with pytest.raises(ValueError):
        timbre.cepstra(np.zeros((0, 10, 96)))
