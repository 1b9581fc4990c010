"""Which section of each track a mix of excerpts uses, chosen from the tracks' slice vectors.

Each track's stored slices say what it sounds like at known start times. Tracks are taken in
order; for track ``i`` every window of ``length`` seconds that starts at one of its slices is a
candidate, and the one chosen maximises

    cos(first slice in the window, last slice of track i-1's chosen window)
  + cos(last slice in the window, mean of track i+1's slices)

so that each transition joins the parts that sound most alike. A track without slices (or
without neighbours) gets its middle section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deejai_model.vectors.norms import unit_rows, unit_vector


@dataclass(frozen=True)
class SliceTimes:
    """What a track sounds like where.

    Attributes
    ----------
    starts : np.ndarray, shape (n,)
        Slice start times, seconds.
    slices : np.ndarray, shape (n, dim)
        Slice vectors.
    duration : float
        Track length, seconds.
    """

    starts: np.ndarray
    slices: np.ndarray
    duration: float


def _middle(duration: float, length: float) -> float:
    return max(0.0, (duration - length) / 2.0)


def excerpt_offsets(
    tracks: Sequence[SliceTimes | None],
    *,
    length: float,
    slice_seconds: float,
    durations: Sequence[float] | None = None,
) -> list[float]:
    """Start, in seconds, of the ``length``-second section used from each track.

    Parameters
    ----------
    tracks : sequence of SliceTimes or None
        In mix order; None for a track whose slices are unknown.
    length : float
        Seconds of each excerpt.
    slice_seconds : float
        Seconds one slice spans.
    durations : sequence of float, optional
        Track lengths for the tracks given as None (else their middle cannot be found and
        they start at 0).

    Returns
    -------
    list of float
        One offset per track, ``0 <= offset <= max(0, duration - length)``.
    """
    means = [
        None if t is None or not len(t.slices) else unit_vector(t.slices.mean(axis=0))
        for t in tracks
    ]
    offsets: list[float] = []
    previous_tail: np.ndarray | None = None
    for i, track in enumerate(tracks):
        following = means[i + 1] if i + 1 < len(tracks) else None
        if track is None or not len(track.slices):
            duration = durations[i] if durations is not None else 0.0
            offsets.append(_middle(duration, length))
            previous_tail = None
            continue
        latest = max(0.0, track.duration - length)
        if latest == 0.0 or (previous_tail is None and following is None):
            offsets.append(_middle(track.duration, length))
            previous_tail = unit_vector(track.slices[-1])
            continue
        starts = np.asarray(track.starts, dtype=np.float64)
        units = unit_rows(track.slices, np.float64)
        best, best_score, best_tail = 0.0, -np.inf, units[-1]
        for candidate in np.unique(np.clip(starts, 0.0, latest)):
            inside = np.flatnonzero(
                (starts >= candidate - 1e-6) & (starts + slice_seconds <= candidate + length + 1e-6)
            )
            if not inside.size:
                inside = np.array([int(np.argmin(np.abs(starts - candidate)))])
            head, tail = units[inside[0]], units[inside[-1]]
            score = 0.0
            if previous_tail is not None:
                score += float(head @ previous_tail)
            if following is not None:
                score += float(tail @ following)
            if score > best_score + 1e-9:
                best, best_score, best_tail = float(candidate), score, tail
        offsets.append(best)
        previous_tail = best_tail
    return offsets
