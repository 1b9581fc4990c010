"""Slice vectors -> track vectors: Deej-A.I.'s MP3ToVec TF-IDF, computed exactly.

A track is a bag of slice vectors (one per ~5 s slice of audio, from the network). MP3ToVec
weighs each slice like a word in a document:

1. every slice vector is normalised to unit length;
2. two slices are *close* when their cosine distance ``1 - u.v`` is strictly below
   ``epsilon``; a slice is always close to itself;
3. ``IDF = -ln(k / N)``: ``k`` is the number of distinct tracks holding at least one slice
   close to it (its own track included), ``N`` the number of tracks in the set (tracks with
   no slices included);
4. ``TF`` is the number of slices of its own track close to it (itself included, so >= 1);
5. track vector = sum over its slices of ``unit_slice * TF * IDF`` (not normalised).

Unlike upstream (float16 distances, random batches of 100 tracks) this is computed over the
whole set, in float32 blocked matrix products whose memory is bounded by ``block``, and is
deterministic: the same input gives bit-identical output.

Fallbacks (where upstream would give a zero vector and then NaN cosines):

- a track with no slices gets the zero vector;
- a track whose slices all have ``IDF == 0`` (every slice is close to a slice of every track:
  always the case in a library of one track) gets the **mean of its unit slices** instead.

Building blocks for a growing library: :func:`slice_counts` (``k`` and ``TF`` within one set),
:func:`idf_counts` (``k`` of one set's slices against another set), and
:func:`tfidf_from_counts`. When tracks ``B`` join a library ``A`` whose counts are known::

    ca, cb = slice_counts(A), slice_counts(B)
    k_a = ca.k + idf_counts(A, B)          # old slices also see the new tracks
    k_b = cb.k + idf_counts(B, A)
    vectors = tfidf_from_counts(A + B, np.concatenate([k_a, k_b]),
                                tf=np.concatenate([ca.tf, cb.tf]), n_tracks=len(A) + len(B))

This module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from deejai_model.vectors.norms import unit_rows

DEFAULT_EPSILON = 0.001
"""Upstream's default closeness threshold on cosine distance (its notebooks used 0.01)."""

DEFAULT_BLOCK = 4096
"""Slices per block side: a block pair costs about ``block**2 * 10`` bytes of memory."""


@dataclass(frozen=True)
class SliceCounts:
    """Per-slice closeness counts of a set of tracks, slices concatenated in track order.

    Attributes
    ----------
    k : np.ndarray
        ``(n_slices,)`` int64: number of distinct tracks of the set holding a slice close to
        this one (its own track included, so >= 1).
    tf : np.ndarray
        ``(n_slices,)`` int64: number of slices of its own track close to it (>= 1).
    track_of : np.ndarray
        ``(n_slices,)`` int64: index of the track each slice belongs to.
    n_tracks : int
        Number of tracks in the set, tracks without slices included.
    """

    k: np.ndarray
    tf: np.ndarray
    track_of: np.ndarray
    n_tracks: int


def _as_2d(slices: np.ndarray, dim: int | None) -> np.ndarray:
    arr = np.asarray(slices, dtype=np.float32)
    if arr.size == 0:
        return np.zeros((0, dim or (arr.shape[-1] if arr.ndim == 2 else 0)), np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"slice vectors must be (n_slices, dim), got shape {arr.shape}")
    return arr


def _stack(slices_per_track: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the tracks' slices; return (slices (M, dim) float32, lengths (T,) int64)."""
    arrays = [_as_2d(s, None) for s in slices_per_track]
    dims = {a.shape[1] for a in arrays if a.shape[0] > 0 or a.shape[1] > 0}
    if len(dims) > 1:
        raise ValueError(f"slice vectors of different dimensions: {sorted(dims)}")
    dim = dims.pop() if dims else 0
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    nonempty = [a for a in arrays if a.shape[0] > 0]
    if not nonempty:
        return np.zeros((0, dim), np.float32), lengths
    return np.concatenate(nonempty, axis=0), lengths


def _sum_by_track(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sum consecutive rows of ``values`` (float64) track by track; zero for empty tracks."""
    out = np.zeros((len(lengths), values.shape[1]), dtype=np.float64)
    nonempty = lengths > 0
    if nonempty.any():
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[nonempty]
        out[nonempty] = np.add.reduceat(values, starts, axis=0, dtype=np.float64)
    return out


def _groups(lengths: np.ndarray, block: int) -> list[tuple[int, int, int, int]]:
    """Cut the tracks into runs of whole tracks holding at most ``block`` slices each.

    A track longer than ``block`` forms a run by itself. Returns
    ``(first_track, end_track, first_slice, end_slice)`` for runs that hold slices.
    """
    if block < 1:
        raise ValueError("block must be >= 1")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    runs = []
    start = 0
    n = len(lengths)
    while start < n:
        end = start + 1
        while end < n and offsets[end + 1] - offsets[start] <= block:
            end += 1
        if offsets[end] > offsets[start]:
            runs.append((start, end, int(offsets[start]), int(offsets[end])))
        start = end
    return runs


_DENSE_FRACTION = 1 / 64
"""Above this fraction of close pairs in a block, count with segment sums, not pair lists."""


def _touched(
    close: np.ndarray,
    row_track: np.ndarray,
    col_track: np.ndarray,
    tf: bool = False,
    transpose: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Distinct-track counts of one closeness block.

    ``row_track`` / ``col_track`` (non-decreasing) give each row's / column's track.
    Returns ``(k_rows, tf_rows, k_cols)``: per row, the distinct column tracks holding a
    close slice; per row, the close columns of its own track (if ``tf``); per column, the
    distinct row tracks holding a close slice (if ``transpose``).
    """
    n_rows, n_cols = close.shape
    tf_rows = k_cols = None
    if np.count_nonzero(close) > close.size * _DENSE_FRACTION:
        starts = np.flatnonzero(np.r_[True, col_track[1:] != col_track[:-1]])
        per_track = np.add.reduceat(close, starts, axis=1, dtype=np.int32)
        if tf:
            own = np.searchsorted(col_track[starts], row_track)
            tf_rows = per_track[np.arange(n_rows), own]
        if transpose:
            row_starts = np.flatnonzero(np.r_[True, row_track[1:] != row_track[:-1]])
            per_row_track = np.add.reduceat(close, row_starts, axis=0, dtype=np.int32)
            k_cols = np.count_nonzero(per_row_track, axis=0)
        return np.count_nonzero(per_track, axis=1), tf_rows, k_cols
    rows, cols = np.nonzero(close)  # row-major: columns ascend within each row
    ct = col_track[cols]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (rows[1:] != rows[:-1]) | (ct[1:] != ct[:-1])
    k_rows = np.bincount(rows[new], minlength=n_rows)
    rt = row_track[rows]
    if tf:
        tf_rows = np.bincount(rows[ct == rt], minlength=n_rows)
    if transpose:
        span = int(row_track[-1] - row_track[0]) + 1
        keys = np.unique(cols.astype(np.int64) * span + (rt - row_track[0]))
        k_cols = np.bincount(keys // span, minlength=n_cols)
    return k_rows, tf_rows, k_cols


def _close(a: np.ndarray, b: np.ndarray, epsilon: float) -> np.ndarray:
    """Boolean matrix: cosine distance ``1 - a.b`` strictly below ``epsilon`` (float32)."""
    sims = a @ b.T
    np.subtract(np.float32(1.0), sims, out=sims)
    return sims < np.float32(epsilon)


def _pairs(runs_a: list, runs_b: list, symmetric: bool) -> Iterator[tuple[int, int]]:
    for i in range(len(runs_a)):
        for j in range(i if symmetric else 0, len(runs_b)):
            yield i, j


def slice_counts(
    slices_per_track: Sequence[np.ndarray],
    epsilon: float = DEFAULT_EPSILON,
    block: int = DEFAULT_BLOCK,
) -> SliceCounts:
    """Count, for every slice, the tracks and own-track slices close to it.

    Parameters
    ----------
    slices_per_track : sequence of np.ndarray
        One ``(n_slices_i, dim)`` array per track (``n_slices_i`` may be 0).
    epsilon : float
        Slices are close when their cosine distance is strictly below this.
    block : int
        Slices per block side of the blocked similarity products (memory bound).

    Returns
    -------
    SliceCounts
        ``k`` and ``tf`` per slice, in the order of the concatenated slices.

    Notes
    -----
    Only block pairs ``(i, j)`` with ``i <= j`` are computed; the lower triangle is the
    transpose of the upper one, so closeness is exactly symmetric.
    """
    slices, lengths = _stack(slices_per_track)
    units = unit_rows(slices)
    m = units.shape[0]
    track_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    k = np.zeros(m, dtype=np.int64)
    tf = np.zeros(m, dtype=np.int64)
    runs = _groups(lengths, block)
    for i, j in _pairs(runs, runs, symmetric=True):
        _, _, a0, a1 = runs[i]
        _, _, b0, b1 = runs[j]
        close = _close(units[a0:a1], units[b0:b1], epsilon)
        if i == j:
            np.fill_diagonal(close, True)
            k_rows, tf[a0:a1], _ = _touched(close, track_of[a0:a1], track_of[b0:b1], tf=True)
            k[a0:a1] += k_rows
        else:
            k_rows, _, k_cols = _touched(close, track_of[a0:a1], track_of[b0:b1], transpose=True)
            k[a0:a1] += k_rows
            k[b0:b1] += k_cols
    return SliceCounts(k=k, tf=tf, track_of=track_of, n_tracks=len(lengths))


def idf_counts(
    slices_per_track: Sequence[np.ndarray],
    other_slices_per_track: Sequence[np.ndarray],
    *,
    epsilon: float = DEFAULT_EPSILON,
    block: int = DEFAULT_BLOCK,
) -> np.ndarray:
    """For every slice of one set, count the tracks of *another* set holding a close slice.

    Parameters
    ----------
    slices_per_track : sequence of np.ndarray
        The tracks whose slices are counted for, ``(n_slices_i, dim)`` each.
    other_slices_per_track : sequence of np.ndarray
        The tracks counted (disjoint from the first set: nothing is close "to itself" here).
    epsilon : float
        Closeness threshold on cosine distance (strict).
    block : int
        Slices per block side.

    Returns
    -------
    np.ndarray
        ``(n_slices,)`` int64 counts, in the order of the first set's concatenated slices.
        Add them to :attr:`SliceCounts.k` to get ``k`` over the union of both sets.
    """
    slices, lengths = _stack(slices_per_track)
    others, other_lengths = _stack(other_slices_per_track)
    k = np.zeros(slices.shape[0], dtype=np.int64)
    if slices.shape[0] == 0 or others.shape[0] == 0:
        return k
    if slices.shape[1] != others.shape[1]:
        raise ValueError(f"dimension mismatch: {slices.shape[1]} vs {others.shape[1]}")
    units, other_units = unit_rows(slices), unit_rows(others)
    track_of = np.repeat(np.arange(len(lengths)), lengths)
    other_track_of = np.repeat(np.arange(len(other_lengths)), other_lengths)
    runs_a = _groups(lengths, block)
    runs_b = _groups(other_lengths, block)
    for i, j in _pairs(runs_a, runs_b, symmetric=False):
        _, _, a0, a1 = runs_a[i]
        _, _, b0, b1 = runs_b[j]
        close = _close(units[a0:a1], other_units[b0:b1], epsilon)
        k[a0:a1] += _touched(close, track_of[a0:a1], other_track_of[b0:b1])[0]
    return k


def tfidf_from_counts(
    slices_per_track: Sequence[np.ndarray],
    k: np.ndarray,
    *,
    tf: np.ndarray,
    n_tracks: int,
) -> np.ndarray:
    """Combine per-slice counts into track vectors ``sum(unit_slice * TF * -ln(k / N))``.

    Parameters
    ----------
    slices_per_track : sequence of np.ndarray
        One ``(n_slices_i, dim)`` array per track.
    k, tf : np.ndarray
        ``(n_slices,)`` counts for the concatenated slices (see :func:`slice_counts`).
    n_tracks : int
        ``N`` in the IDF: all tracks of the library, tracks without slices included.

    Returns
    -------
    np.ndarray
        ``(n_tracks_given, dim)`` float32. Tracks with no slices: zero. Tracks whose slices
        all have ``IDF == 0``: mean of their unit slices (see module docstring).
    """
    slices, lengths = _stack(slices_per_track)
    k = np.asarray(k, dtype=np.int64)
    tf = np.asarray(tf, dtype=np.int64)
    if k.shape != (slices.shape[0],) or tf.shape != (slices.shape[0],):
        raise ValueError("k and tf need one entry per slice")
    if slices.shape[0] and (k.min() < 1 or k.max() > n_tracks or tf.min() < 1):
        raise ValueError("counts out of range: need 1 <= k <= n_tracks and tf >= 1")
    units = unit_rows(slices)
    idf = -np.log(k / float(n_tracks)) if slices.shape[0] else np.zeros(0)
    weights = tf * idf
    track_of = np.repeat(np.arange(len(lengths)), lengths)
    out = _sum_by_track(units * weights[:, None], lengths)
    has_weight = np.zeros(len(lengths), dtype=bool)
    has_weight[track_of[weights > 0]] = True
    fallback = (lengths > 0) & ~has_weight
    if fallback.any():
        out[fallback] = _sum_by_track(units, lengths)[fallback] / lengths[fallback, None]
    return out.astype(np.float32)


def tfidf_vectors(
    slices_per_track: Sequence[np.ndarray],
    epsilon: float = DEFAULT_EPSILON,
    block: int = DEFAULT_BLOCK,
) -> np.ndarray:
    """Deej-A.I. MP3ToVec track vectors over the whole set of tracks, exactly.

    Parameters
    ----------
    slices_per_track : sequence of np.ndarray
        One ``(n_slices_i, dim)`` array of slice vectors per track; ``n_slices_i`` may be 0.
    epsilon : float
        Slices are close when their cosine distance ``1 - u.v`` is strictly below this
        (upstream default 0.001).
    block : int
        Slices per block side; bounds memory at about ``10 * block**2`` bytes. The result
        does not depend on it except for pairs within float32 rounding of ``epsilon``.

    Returns
    -------
    np.ndarray
        ``(n_tracks, dim)`` float32 track vectors (not normalised). Zero for tracks without
        slices; mean of unit slices for tracks whose every slice has ``IDF == 0`` (e.g. a
        library of a single track).

    Notes
    -----
    Cost is O(n_slices**2 * dim): 10k tracks x 16 slices x 200 dims is about 2.6e12
    multiply-adds (see ``benchmarks/tfidf_scaling.py``).
    """
    counts = slice_counts(slices_per_track, epsilon=epsilon, block=block)
    return tfidf_from_counts(slices_per_track, counts.k, tf=counts.tf, n_tracks=counts.n_tracks)


def mean_vectors(slices_per_track: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of each track's unit slice vectors (the simple alternative to TF-IDF).

    Parameters
    ----------
    slices_per_track : sequence of np.ndarray
        One ``(n_slices_i, dim)`` array per track.

    Returns
    -------
    np.ndarray
        ``(n_tracks, dim)`` float32; zero for tracks without slices.
    """
    slices, lengths = _stack(slices_per_track)
    out = _sum_by_track(unit_rows(slices), lengths)
    nz = lengths > 0
    out[nz] /= lengths[nz, None]
    return out.astype(np.float32)


def meanstd_vectors(slices_per_track: Sequence[np.ndarray]) -> np.ndarray:
    """Mean and standard deviation of each track's unit slice vectors, side by side.

    The mean says where a track sits; the spread says how much it moves (a steady drone and a
    track that changes instrument every verse can share a mean). On the dev corpus this is
    the one pooling lever whose gain over the mean is clear of zero (docs/benchmarks-history.md).

    Parameters
    ----------
    slices_per_track : sequence of np.ndarray
        One ``(n_slices_i, dim)`` array per track.

    Returns
    -------
    np.ndarray
        ``(n_tracks, 2 * dim)`` float32: ``[mean, std]``; zero for tracks without slices, and a
        zero spread for tracks with one slice.
    """
    slices, lengths = _stack(slices_per_track)
    units = unit_rows(slices)
    mean = _sum_by_track(units, lengths)
    nz = lengths > 0
    mean[nz] /= lengths[nz, None]
    deviations = units - np.repeat(mean, lengths, axis=0)  # not E[x^2] - E[x]^2: no cancellation
    std = _sum_by_track(deviations * deviations, lengths)
    std[nz] /= lengths[nz, None]
    std = np.sqrt(std)
    return np.concatenate([mean, std], axis=1).astype(np.float32)
