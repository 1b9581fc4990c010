"""MP3ToVec TF-IDF: the blocked implementation against the definition, computed naively."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deejai_model.vectors import mp3tovec
from deejai_model.vectors.mp3tovec import (
    idf_counts,
    mean_vectors,
    slice_counts,
    tfidf_from_counts,
    tfidf_vectors,
)


def reference_tfidf(slices_per_track, epsilon):
    """The definition, literally: python loops, float64, no blocking, no fallback."""
    units = []
    owner = []
    for t, slices in enumerate(slices_per_track):
        for s in np.asarray(slices, dtype=np.float64).reshape(-1, np.shape(slices)[-1]):
            units.append(s / math.sqrt(float(np.dot(s, s))))
            owner.append(t)
    n = len(slices_per_track)
    dim = np.shape(slices_per_track[0])[-1]
    out = np.zeros((n, dim))
    for i, u in enumerate(units):
        tracks = set()
        tf = 0
        for j, v in enumerate(units):
            if i == j or 1.0 - float(np.dot(u, v)) < epsilon:
                tracks.add(owner[j])
                if owner[j] == owner[i]:
                    tf += 1
        idf = -math.log(len(tracks) / n)
        out[owner[i]] += u * tf * idf
    return out


def planted_library(rng, n_tracks=9, dim=12, max_slices=6, n_motifs=4, jitter=1e-5):
    """Random slices plus copies (tiny jitter) of a few motifs, across and within tracks."""
    motifs = rng.standard_normal((n_motifs, dim))
    tracks = []
    for t in range(n_tracks):
        n = int(rng.integers(0, max_slices + 1)) if t % 4 else max_slices
        rows = []
        for _ in range(n):
            if rng.random() < 0.45:
                m = motifs[rng.integers(n_motifs)]
                rows.append(m * rng.uniform(0.5, 2.0) + jitter * rng.standard_normal(dim))
            else:
                rows.append(rng.standard_normal(dim) * rng.uniform(0.1, 10.0))
        tracks.append(np.array(rows, dtype=np.float32).reshape(n, dim))
    return tracks


@pytest.mark.parametrize("dense_fraction", [0.0, 2.0, mp3tovec._DENSE_FRACTION])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blocked_matches_definition_for_every_block_size(seed, dense_fraction, monkeypatch):
    # 0.0: always count by segment sums; 2.0: always by pair lists
    monkeypatch.setattr(mp3tovec, "_DENSE_FRACTION", dense_fraction)
    rng = np.random.default_rng(seed)
    tracks = planted_library(rng)
    expected = reference_tfidf(tracks, 0.001)
    # the planted duplicates really do make IDF vary
    counts = slice_counts(tracks)
    assert counts.k.max() > 1 and counts.k.min() == 1 and counts.tf.max() > 1
    results = [tfidf_vectors(tracks, epsilon=0.001, block=b) for b in (1, 2, 3, 5, 7, 4096)]
    for got in results:
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # deterministic: same block, bit-identical
    np.testing.assert_array_equal(tfidf_vectors(tracks, block=3), results[2])


def test_hand_checked_small_case():
    # track 0: two identical slices a, a; track 1: a (scaled), b; track 2: c
    a = np.array([1.0, 0.0, 0.0])
    b = np.array([0.0, 1.0, 0.0])
    c = np.array([0.0, 0.0, 1.0])
    tracks = [np.stack([a, a]), np.stack([3 * a, b]), c[None, :]]
    got = tfidf_vectors(tracks)
    n = 3
    # slice a of track 0: close tracks {0, 1}: idf ln(3/2); tf 2; two of them
    np.testing.assert_allclose(got[0], 2 * (a * 2 * math.log(n / 2)), rtol=1e-6)
    # track 1: a with tf 1, idf ln(3/2); b with tf 1, idf ln 3
    np.testing.assert_allclose(got[1], a * math.log(1.5) + b * math.log(3), rtol=1e-6)
    np.testing.assert_allclose(got[2], c * math.log(3), rtol=1e-6)


def test_epsilon_is_strict():
    # unit vectors whose cosine distance is exactly 0.5 in float32
    u = np.array([[1.0, 0.0, 0.0, 0.0]], np.float32)
    v = np.array([[0.5, 0.5, 0.5, 0.5]], np.float32)
    tracks = [u, v]
    at_edge = slice_counts(tracks, epsilon=0.5)
    np.testing.assert_array_equal(at_edge.k, [1, 1])
    above = slice_counts(tracks, epsilon=0.5001)
    np.testing.assert_array_equal(above.k, [2, 2])
    # k == N everywhere: IDF 0, so both tracks fall back to their mean unit slice
    np.testing.assert_allclose(tfidf_vectors(tracks, epsilon=0.5001), [u[0], v[0]], atol=1e-7)


def test_closeness_is_symmetric_and_permutation_invariant():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((1, 8))
    # one-slice tracks whose pairwise distances straddle epsilon
    flat = np.concatenate([base + s * rng.standard_normal((1, 8)) for s in np.linspace(0, 0.2, 16)])
    singles = [row[None, :] for row in flat]
    close = np.array([[idf_counts([a], [b], epsilon=0.01)[0] for b in singles] for a in singles])
    np.fill_diagonal(close, 1)
    assert 0 < close.sum() - 16 < 16 * 15  # some pairs close, some not
    np.testing.assert_array_equal(close, close.T)
    for block in (1, 4, 100):
        np.testing.assert_array_equal(
            slice_counts(singles, epsilon=0.01, block=block).k, close.sum(axis=1)
        )
    tracks = [flat[i : i + 3] for i in range(0, 16, 3)]
    got = tfidf_vectors(tracks, epsilon=0.01, block=2)
    np.testing.assert_allclose(got, reference_tfidf(tracks, 0.01), rtol=1e-5, atol=1e-6)
    order = [3, 0, 5, 1, 4, 2]
    permuted = tfidf_vectors([tracks[i] for i in order], epsilon=0.01, block=2)
    np.testing.assert_allclose(permuted, got[order], rtol=1e-6)


def test_zero_slice_tracks_count_in_n_and_get_zero_vectors():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal((2, 5)).astype(np.float32)
    empty = np.zeros((0, 5), np.float32)
    with_empty = tfidf_vectors([a, empty, b, empty])
    assert np.all(with_empty[1] == 0) and np.all(with_empty[3] == 0)
    without = tfidf_vectors([a, b])
    # same k and tf, N 4 instead of 2: vectors scale by ln(4) / ln(2) (all k == 1 here)
    np.testing.assert_allclose(with_empty[0], without[0] * math.log(4) / math.log(2), rtol=1e-5)
    assert slice_counts([empty, empty]).k.shape == (0,)
    assert tfidf_vectors([empty]).shape == (1, 5)


def test_single_track_library_falls_back_to_mean():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 6)).astype(np.float32)
    got = tfidf_vectors([a])
    np.testing.assert_allclose(got, mean_vectors([a]), rtol=1e-6)
    units = a / np.linalg.norm(a, axis=1, keepdims=True)
    np.testing.assert_allclose(got[0], units.mean(axis=0), rtol=1e-5)
    assert np.linalg.norm(got[0]) > 0


def test_two_track_library_is_usable():
    rng = np.random.default_rng(6)
    tracks = [rng.standard_normal((3, 6)), rng.standard_normal((2, 6))]
    got = tfidf_vectors(tracks)
    assert np.all(np.isfinite(got)) and np.all(np.linalg.norm(got, axis=1) > 0)
    np.testing.assert_allclose(got, reference_tfidf(tracks, 0.001), rtol=1e-5)


@pytest.mark.parametrize("dense_fraction", [0.0, 2.0])
def test_growing_library_from_building_blocks_equals_full_recompute(dense_fraction, monkeypatch):
    monkeypatch.setattr(mp3tovec, "_DENSE_FRACTION", dense_fraction)
    rng = np.random.default_rng(7)
    tracks = planted_library(rng, n_tracks=12)
    old, new = tracks[:7], tracks[7:]
    co, cn = slice_counts(old, block=3), slice_counts(new, block=3)
    k_old = co.k + idf_counts(old, new, block=3)
    k_new = cn.k + idf_counts(new, old, block=3)
    grown = tfidf_from_counts(
        old + new,
        np.concatenate([k_old, k_new]),
        tf=np.concatenate([co.tf, cn.tf]),
        n_tracks=len(tracks),
    )
    np.testing.assert_allclose(grown, tfidf_vectors(tracks), rtol=1e-6)


def test_mean_vectors():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((3, 4))
    got = mean_vectors([a, np.zeros((0, 4))])
    expected = (a / np.linalg.norm(a, axis=1, keepdims=True)).mean(axis=0)
    np.testing.assert_allclose(got[0], expected, rtol=1e-6)
    assert np.all(got[1] == 0)


def test_rejects_mixed_dimensions():
    with pytest.raises(ValueError):
        tfidf_vectors([np.ones((2, 3)), np.ones((2, 4))])


def test_meanstd_is_mean_and_spread_of_unit_slices() -> None:
    rng = np.random.default_rng(3)
    tracks = [rng.normal(size=(n, 6)).astype(np.float32) * 5 for n in (4, 1, 7)] + [
        np.zeros((0, 6), np.float32)
    ]
    out = mp3tovec.meanstd_vectors(tracks)
    assert out.shape == (4, 12) and out.dtype == np.float32
    for track, row in zip(tracks[:3], out, strict=False):
        units = track / np.linalg.norm(track, axis=1, keepdims=True)
        np.testing.assert_allclose(row[:6], units.mean(axis=0), atol=1e-6)
        np.testing.assert_allclose(row[6:], units.std(axis=0), atol=1e-5)
    assert np.all(out[1, 6:] == 0) and np.all(out[3] == 0)  # one slice: no spread; none: zero
