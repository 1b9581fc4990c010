"""The map's layout (deejai_model/vectors/layout.py): the neighbour-keeping measures, and t-SNE
keeping more of each track's neighbours than the PCA floor on vectors with cluster structure."""

from __future__ import annotations

import numpy as np
import pytest

from deejai_model.vectors.layout import (
    MIN_TSNE,
    layout_2d,
    neighbours_kept,
    pca_2d,
    place_by_neighbours,
    trustworthiness,
    unit_square,
)


def _clusters(n: int, dim: int = 32, k: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    x = centres[rng.integers(0, k, size=n)] + 0.5 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_trustworthiness_is_sklearns_computed_in_blocks():
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness

    x = _clusters(300)
    xy = pca_2d(x)
    ours = trustworthiness(x, xy, k=10)
    assert ours == pytest.approx(sklearn_trustworthiness(x, xy, n_neighbors=10, metric="cosine"))
    assert 0.5 < ours < 1.0


def test_neighbours_kept_is_one_when_the_map_keeps_every_neighbourhood():
    rng = np.random.default_rng(1)
    angles = rng.uniform(0.0, np.pi, size=200)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # cosine ranks as the angle
    line = np.stack([angles * 5.0, np.zeros_like(angles)], axis=1)
    assert neighbours_kept(circle, line, k=10) == 1.0
    assert trustworthiness(circle, line, k=10) == pytest.approx(1.0)
    shuffled = rng.permutation(line)  # a map that ignores the vectors keeps almost nothing
    assert neighbours_kept(circle, shuffled, k=10) < 0.2
    assert trustworthiness(circle, shuffled, k=10) < 0.7


@pytest.mark.slow  # t-SNE twice: seconds on an idle machine, minutes on a busy one
def test_tsne_keeps_more_neighbours_than_the_pca_floor():
    x = _clusters(400)
    tsne = layout_2d(x, method="tsne")
    pca = layout_2d(x, method="pca")
    assert tsne.shape == (400, 2) and tsne.dtype == np.float32
    assert 0.0 <= tsne.min() and tsne.max() <= 1.0
    assert neighbours_kept(x, tsne) > neighbours_kept(x, pca) + 0.1
    assert trustworthiness(x, tsne) > trustworthiness(x, pca) + 0.05
    assert np.array_equal(tsne, layout_2d(x, method="tsne"))  # the same for the same vectors


@pytest.mark.slow  # one t-SNE of 150 tracks
def test_a_large_library_is_laid_out_from_a_sample_and_keeps_its_neighbours():
    x = _clusters(400, seed=2)
    sampled = layout_2d(x, sample=150)
    assert sampled.shape == (400, 2) and np.isfinite(sampled).all()
    pca = layout_2d(x, method="pca")
    assert neighbours_kept(x, sampled) > neighbours_kept(x, pca) + 0.05
    assert trustworthiness(x, sampled) > trustworthiness(x, pca)


def test_placed_tracks_land_among_their_nearest_laid_out_ones():
    anchors = np.eye(4, dtype=np.float32)
    spots = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    near_first = np.array([[1.0, 0.05, 0.0, 0.0]])
    placed = place_by_neighbours(near_first, anchors, spots, k=1)
    assert np.allclose(placed, [[0.0, 0.0]])
    between = place_by_neighbours(np.array([[1.0, 1.0, 0.0, 0.0]]), anchors, spots, k=2)
    assert np.allclose(between, [[0.5, 0.0]])


def test_small_libraries_and_odd_input():
    x = _clusters(MIN_TSNE - 1)
    assert layout_2d(x).shape == (MIN_TSNE - 1, 2)  # PCA below MIN_TSNE
    assert layout_2d(np.zeros((0, 8))).shape == (0, 2)
    assert np.array_equal(layout_2d(np.ones((1, 8))), [[0.5, 0.5]])
    square = unit_square(np.array([[0.0, 0.0], [4.0, 1.0]]))
    assert np.allclose(square, [[0.0, 0.375], [1.0, 0.625]])  # aspect kept, centred
    with pytest.raises(ValueError, match="unknown layout"):
        layout_2d(x, method="umap")
