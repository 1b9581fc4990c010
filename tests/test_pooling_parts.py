"""Pooling in parts: slice vectors that are several networks' outputs side by side are pooled
block by block, and the blocks' unit track vectors are joined into one unit vector."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from test_pooling import round_trip

from deejai_model.vectors.pooling import FittedPooler, Pooler

PARTS = (10, 8)
DIM = sum(PARTS)


def _library(seed: int, n_tracks: int = 36) -> list[np.ndarray]:
    """Tracks of 2-6 slices; the first block tells 3 groups apart, the second 4 other groups
    (so the blocks carry different signals); tracks 5 and 17 have no slices."""
    rng = np.random.default_rng(seed)
    first = rng.normal(size=(3, PARTS[0])) * 2
    second = rng.normal(size=(4, PARTS[1])) * 2 + 1
    tracks = []
    for i in range(n_tracks):
        n = int(rng.integers(2, 7))
        block_a = first[i % 3] + 0.4 * rng.normal(size=(n, PARTS[0]))
        block_b = 5 * (second[i % 4] + 0.4 * rng.normal(size=(n, PARTS[1])))  # another scale
        tracks.append(np.concatenate([block_a, block_b], axis=1).astype(np.float32))
    tracks[5] = tracks[17] = np.zeros((0, DIM), np.float32)
    return tracks


def _blocks(tracks: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return [t[:, : PARTS[0]] for t in tracks], [t[:, PARTS[0] :] for t in tracks]


POOLERS = [
    Pooler(kind="meanstd", adapt=True, adapt_dims=4, adapt_min_tracks=10),
    Pooler(kind="mean", adapt=False),
    Pooler(kind="tfidf", adapt=False, epsilon=0.05),
    Pooler(kind="tfidf", adapt=True, adapt_dims=4, adapt_min_tracks=10, epsilon=0.05),
]
IDS = [f"{p.kind}-adapt{int(p.adapt)}" for p in POOLERS]


@pytest.mark.parametrize("pooler", POOLERS, ids=IDS)
def test_one_part_is_the_whole_vector_bit_for_bit(pooler: Pooler) -> None:
    tracks = _library(0)
    whole, expected = pooler.fit_transform(tracks, block=7)
    one = dataclasses.replace(pooler, parts=(DIM,))
    fitted, vectors = one.fit_transform(tracks, block=7)
    np.testing.assert_array_equal(vectors, expected)
    probe = np.random.default_rng(1).normal(size=(3, DIM)).astype(np.float32)
    np.testing.assert_array_equal(fitted.transform(probe), whole.transform(probe))
    np.testing.assert_array_equal(fitted.project(probe), whole.project(probe))
    assert fitted.parts == () and fitted.pooler.parts == (DIM,)


@pytest.mark.parametrize("pooler", POOLERS, ids=IDS)
def test_two_parts_are_two_poolers_side_by_side(pooler: Pooler) -> None:
    tracks = _library(2)
    fitted, vectors = dataclasses.replace(pooler, parts=PARTS).fit_transform(tracks, block=7)
    first, second = (pooler.fit_transform(b, block=7) for b in _blocks(tracks))
    expected = np.concatenate([first[1], second[1]], axis=1) / np.sqrt(2)
    assert vectors.dtype == np.float32 and vectors.shape == (len(tracks), fitted.dim)
    assert fitted.dim == first[0].dim + second[0].dim and fitted.input_dim == DIM
    np.testing.assert_allclose(vectors, expected, atol=1e-7)
    for part, alone in zip(fitted.parts, (first[0], second[0]), strict=True):
        assert part.pooler == pooler and part.input_dim in PARTS
        np.testing.assert_array_equal(part.mean, alone.mean)
        assert (part.projection is None) == (alone.projection is None) == (not pooler.adapt)
    # the joint pooling of the 18-d concatenation is another thing
    joint = pooler.fit_transform(tracks, block=7)[1]
    assert joint.shape != vectors.shape or not np.allclose(joint, vectors, atol=1e-3)
    # cosine of two joined vectors = the mean of the blocks' cosines
    cosines = vectors @ vectors.T
    blocks_mean = (first[1] @ first[1].T + second[1] @ second[1].T) / 2
    np.testing.assert_allclose(cosines, blocks_mean, atol=1e-6)


@pytest.mark.parametrize("pooler", POOLERS, ids=IDS)
def test_transform_of_a_library_track_is_its_fitted_vector(pooler: Pooler) -> None:
    tracks = _library(3)
    fitted, vectors = dataclasses.replace(pooler, parts=PARTS).fit_transform(tracks, block=7)
    for track, vector in zip(tracks, vectors, strict=True):
        np.testing.assert_allclose(fitted.transform(track), vector, atol=2e-6)
    np.testing.assert_allclose(fitted.transform_many(tracks), vectors, atol=2e-6)
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(np.delete(norms, [5, 17]), 1.0, atol=1e-5)
    assert norms[5] == norms[17] == 0, "a track without slices gets the zero vector"
    with pytest.raises(ValueError, match=f"fitted on {DIM}"):
        fitted.transform(np.ones((2, DIM - 1), np.float32))


@pytest.mark.parametrize("pooler", POOLERS, ids=IDS)
def test_fitted_parts_round_trip_as_json_and_npz(pooler: Pooler) -> None:
    tracks = _library(4)
    fitted = dataclasses.replace(pooler, parts=PARTS).fit(tracks)
    meta, arrays = fitted.to_data()
    again = round_trip(fitted)
    assert again.pooler == fitted.pooler and len(again.parts) == 2 and again.dim == fitted.dim
    probe = np.random.default_rng(5).normal(size=(4, DIM)).astype(np.float32)
    np.testing.assert_array_equal(again.transform(probe), fitted.transform(probe))
    np.testing.assert_array_equal(again.project(probe), fitted.project(probe))
    np.testing.assert_array_equal(again.transform_many(tracks), fitted.transform_many(tracks))
    # a block's arrays missing: refused, not silently pooled as one
    del arrays["part1_mean"]
    with pytest.raises(ValueError, match="incomplete"):
        FittedPooler.from_data(meta, arrays)
    with pytest.raises(ValueError, match="fitted parts"):
        FittedPooler.from_data({**meta, "parts": meta["parts"][:1]}, arrays)


def test_state_saved_before_parts_existed_still_loads() -> None:
    tracks = _library(6)
    fitted = Pooler(kind="meanstd", adapt=True, adapt_dims=4, adapt_min_tracks=10).fit(tracks)
    meta, arrays = fitted.to_data()
    assert "parts" not in meta and "parts" not in meta["settings"], "the old layout, unchanged"
    again = FittedPooler.from_data(meta, arrays)
    assert again.parts == () and again.pooler == fitted.pooler
    np.testing.assert_array_equal(again.transform(tracks[0]), fitted.transform(tracks[0]))


@pytest.mark.parametrize("adapt", [True, False], ids=["adapted", "raw"])
def test_project_joins_the_blocks_unit_slices(adapt: bool) -> None:
    tracks = _library(7)
    pooler = Pooler(kind="mean", adapt=adapt, adapt_dims=4, adapt_min_tracks=10)
    fitted = dataclasses.replace(pooler, parts=PARTS).fit(tracks)
    rng = np.random.default_rng(8)
    a, b = (rng.normal(size=(n, DIM)).astype(np.float32) for n in (5, 3))
    pa, pb = fitted.project(a), fitted.project(b)
    width = 2 * 4 if adapt else DIM  # each block's adapt_dims, or the raw blocks
    assert pa.shape == (5, width) and pb.shape == (3, width) and pa.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(pa, axis=1), 1.0, atol=1e-6)

    def cosines(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        y = y / np.linalg.norm(y, axis=1, keepdims=True)
        return x @ y.T

    block_a, block_b = fitted.parts
    expected = (
        cosines(block_a.project(a[:, :10]), block_a.project(b[:, :10]))
        + cosines(block_b.project(a[:, 10:]), block_b.project(b[:, 10:]))
    ) / 2
    np.testing.assert_allclose(pa @ pb.T, expected, atol=1e-6)


def test_parts_are_settings_that_survive_json() -> None:
    pooler = Pooler(kind="tfidf", parts=[200, 200])
    assert pooler.parts == (200, 200)
    settings = json.loads(json.dumps(pooler.settings()))
    assert settings["parts"] == [200, 200] and Pooler(**settings) == pooler
    assert "parts" not in Pooler().settings(), "indexes saved before parts keep their signature"


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ((10, 0), "positive"),
        ((12, -2), "positive"),
        ((10, 2.5), "whole numbers"),
        ((10, True), "whole numbers"),
        (18, "sequence of block sizes"),
    ],
)
def test_bad_parts_are_refused_with_a_reason(parts: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Pooler(parts=parts)


def test_parts_must_add_up_to_the_slice_dimension() -> None:
    with pytest.raises(ValueError, match=r"18 dimensions but parts \[10, 9\] sum to 19"):
        Pooler(parts=(10, 9)).fit(_library(9))
    with pytest.raises(ValueError, match="sum to 19"):
        Pooler(parts=(19,)).fit(_library(9))
