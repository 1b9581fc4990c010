"""Put a list's tracks in the order that flows: the shortest path through them.

The order of a playlist is an open travelling-salesman path over the tracks' cosine
distances, optionally with a fixed first and/or last track.  :func:`shortest_path` builds
nearest-neighbour paths (from every allowed start, on small lists) and improves the shortest few
with
2-opt (reverse a stretch) and Or-opt (move a stretch of 1-3 tracks elsewhere, either way
round) until neither helps: a local optimum, exact on small lists in practice
(``tests/test_reorder.py`` checks it against :func:`brute_force_path`).

This module needs numpy only.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from deejai_model.vectors.norms import unit_rows

__all__ = [
    "apart",
    "brute_force_path",
    "cosine_distance_matrix",
    "path_length",
    "shortest_path",
]

#: Below this many tracks every start of the nearest-neighbour path is tried.
ALL_STARTS_BELOW = 200
#: How many starts are improved (the shortest nearest-neighbour paths, then shuffles of the
#: free middle when there are fewer; the best result is kept).
IMPROVED_STARTS = 8
#: Improvements smaller than this (in summed cosine distance) end the search.
TOLERANCE = 1e-12


def cosine_distance_matrix(vectors: np.ndarray) -> np.ndarray:
    """``1 - cos`` between every pair of rows: ``(n, dim) -> (n, n)`` float64, zero diagonal."""
    units = unit_rows(np.asarray(vectors), np.float64)
    dist = np.clip(1.0 - units @ units.T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    return dist


def apart(dist: np.ndarray, groups: Sequence[str], *, cost: float = 2.0) -> np.ndarray:
    """``dist`` with ``cost`` added between two tracks of one non-empty group (an artist).

    With ``cost`` at least the largest distance (2 for cosine distances), a shortest path puts
    two tracks of one artist side by side only where every order must: an artist gap of 2 in
    :func:`shortest_path`'s order (a soft rule, as in :mod:`deejai_model.lists.spacing`).

    Parameters
    ----------
    dist : np.ndarray
        ``(n, n)`` distances.
    groups : sequence of str
        ``n`` group names; ``""`` belongs to no group.
    cost : float
        What a same-group step costs on top of its distance.

    Returns
    -------
    np.ndarray
        ``(n, n)`` float64, zero diagonal.
    """
    names = np.asarray(list(groups), dtype=object)
    same = (names[:, None] == names[None, :]) & (names != "")[:, None]
    out = np.asarray(dist, dtype=np.float64) + cost * same
    np.fill_diagonal(out, 0.0)
    return out


def path_length(dist: np.ndarray, order: Sequence[int]) -> float:
    """Sum of the distances between consecutive tracks of ``order`` (an open path)."""
    order = np.asarray(order, dtype=np.int64)
    if len(order) < 2:
        return 0.0
    return float(dist[order[:-1], order[1:]].sum())


def _nearest_neighbour(dist: np.ndarray, start: int, last: int | None) -> list[int]:
    n = len(dist)
    left = np.ones(n, dtype=bool)
    left[start] = False
    if last is not None and last != start:
        left[last] = False
    path = [start]
    for _ in range(int(left.sum())):
        row = np.where(left, dist[path[-1]], np.inf)
        nxt = int(np.argmin(row))
        path.append(nxt)
        left[nxt] = False
    if last is not None and last != start:
        path.append(last)
    return path


def _two_opt(dist: np.ndarray, path: list[int], lo: int, hi: int) -> bool:
    """One pass of 2-opt on ``path[lo:hi]`` (positions that may move); True if it improved."""
    n = len(path)
    improved = False
    for i in range(lo, hi - 1):
        p = np.asarray(path)
        a = p[i - 1] if i > 0 else -1
        js = np.arange(i + 1, hi)
        # reversing path[i..j]: edges (a, p[i]) and (p[j], p[j+1]) become (a, p[j]), (p[i], p[j+1])
        old = np.zeros(len(js))
        new = np.zeros(len(js))
        if a >= 0:
            old += dist[a, p[i]]
            new += dist[a, p[js]]
        has_next = js + 1 < n
        nxt = p[np.minimum(js + 1, n - 1)]
        old += np.where(has_next, dist[p[js], nxt], 0.0)
        new += np.where(has_next, dist[p[i], nxt], 0.0)
        gain = old - new
        best = int(np.argmax(gain))
        if gain[best] > TOLERANCE:
            j = int(js[best])
            path[i : j + 1] = path[i : j + 1][::-1]
            improved = True
    return improved


def _or_opt(dist: np.ndarray, path: list[int], lo: int, hi: int) -> bool:
    """One pass of Or-opt: move a stretch of 1-3 of ``path[lo:hi]`` elsewhere in that range,
    either way round; True if it improved."""
    improved = False
    for length in (1, 2, 3):
        i = lo
        while i + length <= hi:
            n = len(path)
            seg = path[i : i + length]
            a = path[i - 1] if i > 0 else None
            b = path[i + length] if i + length < n else None
            gain = (dist[a, seg[0]] if a is not None else 0.0) + (
                dist[seg[-1], b] if b is not None else 0.0
            )
            if a is not None and b is not None:
                gain -= dist[a, b]
            rest = np.asarray(path[:i] + path[i + length :])
            ks = np.arange(lo, hi - length + 1)  # insert before rest[k]
            ks = ks[ks != i]
            if len(ks) and gain > TOLERANCE:
                prev = rest[np.maximum(ks - 1, 0)]
                has_prev = ks > 0
                nxt = rest[np.minimum(ks, len(rest) - 1)]
                has_next = ks < len(rest)
                joined = np.where(has_prev & has_next, dist[prev, nxt], 0.0)
                best_cost, best = np.inf, None
                for piece in (seg, seg[::-1]):
                    cost = (
                        np.where(has_prev, dist[prev, piece[0]], 0.0)
                        + np.where(has_next, dist[piece[-1], nxt], 0.0)
                        - joined
                    )
                    k = int(np.argmin(cost))
                    if cost[k] < best_cost:
                        best_cost, best = float(cost[k]), (int(ks[k]), piece)
                if best is not None and gain - best_cost > TOLERANCE:
                    k, piece = best
                    rest_list = rest.tolist()
                    path[:] = rest_list[:k] + list(piece) + rest_list[k:]
                    improved = True
            i += 1
    return improved


def shortest_path(
    dist: np.ndarray, *, first: int | None = None, last: int | None = None
) -> list[int]:
    """A short open path through every track (the order that flows best).

    Parameters
    ----------
    dist : np.ndarray
        ``(n, n)`` symmetric distances (e.g. :func:`cosine_distance_matrix`).
    first, last : int, optional
        Positions (rows of ``dist``) that must open / close the path.

    Returns
    -------
    list of int
        A permutation of ``range(n)``: nearest-neighbour paths (from every allowed start below
        :data:`ALL_STARTS_BELOW` tracks), the shortest improved by 2-opt and Or-opt until
        neither helps.
    """
    dist = np.asarray(dist, dtype=np.float64)
    n = len(dist)
    if dist.shape != (n, n):
        raise ValueError(f"need a square distance matrix, not {dist.shape}")
    for end in (first, last):
        if end is not None and not 0 <= end < n:
            raise ValueError(f"fixed track {end} is not one of {n}")
    if first is not None and first == last and n > 1:
        raise ValueError("the first and the last track must differ")
    if n <= 2:
        order = list(range(n))
        if (first is not None and order[0] != first) or (last is not None and order[-1] != last):
            order.reverse()
        return order
    if first is not None:
        starts = [first]
    else:
        starts = [i for i in range(n) if i != last]
        if n >= ALL_STARTS_BELOW:
            starts = starts[:1]
    paths = sorted(
        (_nearest_neighbour(dist, s, last) for s in starts), key=lambda p: path_length(dist, p)
    )[:IMPROVED_STARTS]
    rng = np.random.default_rng(0)  # restarts from shuffles of the free middle (same every run)
    while len(paths) < IMPROVED_STARTS and n > 3:
        middle = [i for i in paths[0] if i not in (first, last)]
        rng.shuffle(middle)
        paths.append(
            ([first] if first is not None else []) + middle + ([last] if last is not None else [])
        )
    lo = 1 if first is not None else 0
    hi = n - 1 if last is not None else n
    best: list[int] = []
    for path in paths:
        while True:
            changed = _two_opt(dist, path, lo, hi)
            changed = _or_opt(dist, path, lo, hi) or changed
            if not changed:
                break
        if not best or path_length(dist, path) < path_length(dist, best) - TOLERANCE:
            best = path
    return best


def brute_force_path(
    dist: np.ndarray, *, first: int | None = None, last: int | None = None
) -> list[int]:
    """The shortest open path by trying every order (for checks; ``n`` up to ~9)."""
    n = len(dist)
    if n == 0:
        return []
    middle = [i for i in range(n) if i not in (first, last)]
    perms = np.array(list(itertools.permutations(middle)), dtype=np.int64).reshape(-1, len(middle))
    head = np.full((len(perms), 1), first) if first is not None else np.zeros((len(perms), 0))
    tail = np.full((len(perms), 1), last) if last is not None else np.zeros((len(perms), 0))
    orders = np.hstack([head, perms, tail]).astype(np.int64)
    lengths = dist[orders[:, :-1], orders[:, 1:]].sum(axis=1)
    return orders[int(np.argmin(lengths))].tolist()
