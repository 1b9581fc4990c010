"""The pooling component: fitted on a library, the same vector for any track, saved as data."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from pooling_recipe import pooled

from deejai_model.vectors import adapt, mp3tovec
from deejai_model.vectors.pooling import FittedPooler, Pooler

DIM = 12


def _library(rng: np.random.Generator, n_tracks: int = 24, n_groups: int = 4) -> list[np.ndarray]:
    """Tracks of 2-6 slices around one of ``n_groups`` centres; one track has no slices."""
    centres = rng.normal(size=(n_groups, DIM)) * 2
    tracks = [
        (centres[i % n_groups] + 0.4 * rng.normal(size=(int(rng.integers(2, 7)), DIM))).astype(
            np.float32
        )
        for i in range(n_tracks)
    ]
    tracks[5] = np.zeros((0, DIM), np.float32)
    return tracks


POOLERS = [
    Pooler(kind="meanstd", adapt=False),
    Pooler(kind="mean", adapt=False, center=False),
    Pooler(kind="meanstd", adapt=True, adapt_dims=6, adapt_min_tracks=10),
    Pooler(kind="tfidf", adapt=False, epsilon=0.05),
    Pooler(kind="tfidf", adapt=True, adapt_dims=6, adapt_min_tracks=10, epsilon=0.05),
]


@pytest.mark.parametrize("pooler", POOLERS, ids=lambda p: f"{p.kind}-adapt{int(p.adapt)}")
def test_transform_of_a_library_track_is_its_fitted_vector(pooler: Pooler) -> None:
    tracks = _library(np.random.default_rng(0))
    fitted, vectors = pooler.fit_transform(tracks, block=7)
    assert vectors.shape == (len(tracks), fitted.dim) and vectors.dtype == np.float32
    for track, vector in zip(tracks, vectors, strict=True):
        np.testing.assert_allclose(fitted.transform(track), vector, atol=2e-6)
    np.testing.assert_allclose(fitted.transform_many(tracks), vectors, atol=2e-6)
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(np.delete(norms, 5), 1.0, atol=1e-5)
    assert norms[5] == 0, "a track without slices gets the zero vector"
    assert (fitted.projection is not None) == pooler.adapt


def test_the_steps_are_projection_pooling_centring_unit_length() -> None:
    tracks = _library(np.random.default_rng(1))
    pooler = Pooler(kind="meanstd", adapt=True, adapt_dims=5, adapt_min_tracks=10)
    fitted, vectors = pooler.fit_transform(tracks)
    projection = adapt.fit_track_projection(tracks, dims=5, shrink=pooler.adapt_shrink)
    np.testing.assert_allclose(fitted.projection, projection, atol=1e-6)
    expected, mean = pooled(tracks, kind="meanstd", projection=projection)
    np.testing.assert_allclose(fitted.mean, mean, atol=1e-6)
    np.testing.assert_allclose(np.delete(vectors, 5, 0), np.delete(expected, 5, 0), atol=1e-5)


def test_tfidf_of_the_library_is_mp3tovec_and_an_outside_track_is_scored_against_it() -> None:
    rng = np.random.default_rng(2)
    tracks = [t for t in _library(rng) if len(t)]
    pooler = Pooler(kind="tfidf", adapt=False, center=False, epsilon=0.05)
    fitted, vectors = pooler.fit_transform(tracks)
    expected, _ = pooled(tracks, kind="tfidf", center=False, epsilon=0.05)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)
    # an outside track: k counts library tracks (N = the library), a lone slice counts as k = 1
    outside = np.concatenate([tracks[0][:1], rng.normal(size=(2, DIM)) * 9]).astype(np.float32)
    counts = mp3tovec.slice_counts([outside], epsilon=0.05)
    k = np.maximum(mp3tovec.idf_counts([outside], tracks, epsilon=0.05), 1)
    raw = mp3tovec.tfidf_from_counts([outside], k, tf=counts.tf, n_tracks=len(tracks))[0]
    np.testing.assert_allclose(fitted.transform(outside), raw / np.linalg.norm(raw), atol=1e-6)


def test_small_libraries_are_neither_adapted_nor_centred() -> None:
    tracks = _library(np.random.default_rng(3))[:2]
    fitted = Pooler(adapt_min_tracks=3).fit(tracks)
    assert fitted.projection is None and not fitted.mean.any()
    empty = Pooler().fit([])
    assert empty.n_tracks == 0 and empty.dim == 0


def round_trip(fitted: FittedPooler) -> FittedPooler:
    """``fitted`` saved as an index saves it (JSON + ``np.savez``) and loaded without pickles."""
    meta, arrays = fitted.to_data()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return FittedPooler.from_data(json.loads(json.dumps(meta)), dict(loaded))


@pytest.mark.parametrize("pooler", POOLERS, ids=lambda p: f"{p.kind}-adapt{int(p.adapt)}")
def test_fitted_state_round_trips_as_json_and_npz_without_pickles(pooler: Pooler) -> None:

    tracks = _library(np.random.default_rng(4))
    fitted = pooler.fit(tracks)
    meta, arrays = fitted.to_data()
    again = round_trip(fitted)
    assert again.pooler == pooler and again.n_tracks == fitted.n_tracks
    probe = np.random.default_rng(5).normal(size=(4, DIM)).astype(np.float32)
    np.testing.assert_array_equal(again.transform(probe), fitted.transform(probe))
    with pytest.raises(ValueError, match="format"):
        FittedPooler.from_data({**meta, "format": 99}, arrays)


def test_bad_input_is_refused_with_a_reason() -> None:
    fitted = Pooler(adapt=False).fit(_library(np.random.default_rng(6)))
    with pytest.raises(ValueError, match="fitted on 12"):
        fitted.transform(np.ones((3, DIM + 1), np.float32))
    with pytest.raises(ValueError, match="unknown pooling"):
        Pooler(kind="median")
    with pytest.raises(ValueError, match="epsilon"):
        Pooler(epsilon=0.0)


@pytest.mark.parametrize("adapt", [True, False], ids=["adapted", "raw"])
def test_project_is_the_space_transform_pools_in(adapt):
    """``project`` gives the slices ``transform`` pools: their pooled mean, centred, is the
    vector."""
    from deejai_model.vectors.norms import unit_vector

    rng = np.random.default_rng(3)
    library = [rng.normal(size=(6, 24)).astype(np.float32) + i % 4 for i in range(60)]
    fitted = Pooler(kind="mean", adapt=adapt, adapt_dims=8).fit(library)
    track = rng.normal(size=(5, 24)).astype(np.float32)
    projected = fitted.project(track)
    assert projected.shape == (5, 8 if adapt else 24)
    expected = unit_vector(mp3tovec.mean_vectors([projected])[0] - fitted.mean)
    np.testing.assert_allclose(fitted.transform(track), expected, atol=1e-5)
