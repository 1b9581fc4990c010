"""Reordering a list into the order that flows: against brute force on small lists."""

from __future__ import annotations

import numpy as np
import pytest

from deejai_model.lists.reorder import (
    brute_force_path,
    cosine_distance_matrix,
    path_length,
    shortest_path,
)


def _case(rng: np.random.Generator, n: int) -> np.ndarray:
    # clustered vectors, as music is: a few groups with spread
    centres = rng.normal(size=(3, 16))
    return cosine_distance_matrix(centres[rng.integers(0, 3, n)] + 0.6 * rng.normal(size=(n, 16)))


@pytest.mark.parametrize("ends", ["free", "first", "last", "both"])
def test_the_path_is_the_shortest_on_small_lists(ends):
    rng = np.random.default_rng(len(ends))
    exact, ratios = 0, []
    for _ in range(60):
        n = int(rng.integers(3, 9))
        dist = _case(rng, n)
        first = 0 if ends in ("first", "both") else None
        last = n - 1 if ends in ("last", "both") else None
        order = shortest_path(dist, first=first, last=last)
        best = brute_force_path(dist, first=first, last=last)
        assert sorted(order) == list(range(n))
        if first is not None:
            assert order[0] == first
        if last is not None:
            assert order[-1] == last
        ratio = path_length(dist, order) / path_length(dist, best)
        assert ratio >= 1 - 1e-9  # brute force is the optimum
        ratios.append(ratio)
        exact += ratio < 1 + 1e-9
    assert exact >= 57, ratios  # a local search: optimal on (nearly) every small list
    assert max(ratios) < 1.05


def test_it_beats_the_nearest_neighbour_path_and_the_input_order():
    rng = np.random.default_rng(3)
    dist = _case(rng, 60)
    order = shortest_path(dist)
    from deejai_model.lists.reorder import _nearest_neighbour

    nn = min(path_length(dist, _nearest_neighbour(dist, s, None)) for s in range(60))
    assert path_length(dist, order) < nn
    assert path_length(dist, order) < 0.8 * path_length(dist, range(60))


def test_tiny_lists_and_bad_ends():
    assert shortest_path(np.zeros((0, 0))) == []
    assert shortest_path(np.zeros((1, 1))) == [0]
    assert shortest_path(np.array([[0.0, 1.0], [1.0, 0.0]]), last=0) == [1, 0]
    with pytest.raises(ValueError):
        shortest_path(np.zeros((3, 3)), first=1, last=1)
    with pytest.raises(ValueError):
        shortest_path(np.zeros((3, 3)), first=5)


def _moves(path: list[int], lo: int, hi: int):
    """Every 2-opt move (reverse path[i..j]) and Or-opt move (a stretch of 1-3 put elsewhere,
    either way round) that keeps path[:lo] and path[hi:] in place, written out by hand."""
    for i in range(lo, hi):
        for j in range(i + 1, hi):
            yield path[:i] + path[i : j + 1][::-1] + path[j + 1 :]
    for length in (1, 2, 3):
        for i in range(lo, hi - length + 1):
            seg, rest = path[i : i + length], path[:i] + path[i + length :]
            for k in range(lo, hi - length + 1):
                for piece in (seg, seg[::-1]):
                    yield rest[:k] + piece + rest[k:]


@pytest.mark.parametrize("ends", ["free", "first", "last", "both"])
def test_no_two_opt_or_or_opt_move_improves_the_result(ends):
    # the vectorised moves of reorder.py against the same moves enumerated naively, on
    # clustered, spherical and non-metric distances: the result is a true local optimum
    rng = np.random.default_rng(10 + len(ends))
    for trial in range(40):
        n = int(rng.integers(3, 9))
        if trial % 3 == 0:
            dist = _case(rng, n)
        elif trial % 3 == 1:
            dist = cosine_distance_matrix(rng.normal(size=(n, 8)))
        else:
            m = rng.random((n, n))
            dist = (m + m.T) / 2
            np.fill_diagonal(dist, 0.0)
        first = int(rng.integers(n)) if ends in ("first", "both") else None
        last = None
        if ends in ("last", "both"):
            last = int(rng.choice([i for i in range(n) if i != first]))
        order = shortest_path(dist, first=first, last=last)
        assert sorted(order) == list(range(n))
        assert first is None or order[0] == first
        assert last is None or order[-1] == last
        length = path_length(dist, order)
        lo, hi = int(first is not None), n - int(last is not None)
        for moved in _moves(list(order), lo, hi):
            assert path_length(dist, moved) >= length - 1e-9, (order, moved)
        best = brute_force_path(dist, first=first, last=last)
        assert length <= 1.05 * path_length(dist, best)


def test_apart_keeps_one_artist_off_consecutive_places_where_it_can():
    from deejai_model.lists.reorder import apart

    rng = np.random.default_rng(7)
    centres = rng.normal(size=(2, 16))
    artists = ["a", "a", "a", "b", "b", "b", ""]  # each artist's tracks sound alike
    vectors = np.array([centres[0 if a == "a" else 1] for a in artists])
    dist = cosine_distance_matrix(vectors + 0.2 * rng.normal(size=vectors.shape))
    flowing = [artists[i] for i in shortest_path(dist)]
    assert (
        sum(x == y != "" for x, y in zip(flowing, flowing[1:], strict=False)) >= 3
    )  # by sound: grouped
    spaced = [artists[i] for i in shortest_path(apart(dist, artists))]
    assert (
        sum(x == y != "" for x, y in zip(spaced, spaced[1:], strict=False)) == 0
    )  # a b a b ...: possible
    assert apart(dist, artists)[6, 6] == 0.0 and apart(dist, artists)[6, 5] == dist[6, 5]
