"""What was played and skipped steers the picks: often-skipped tracks come up less.

The counts are beets' ``mpdstats`` fields (``play_count``, ``skip_count``); the plugin reads
them and records the radio's and the DJ page's plays and skips the same way.  A track's *skip
share* is ``skips / (plays + skips + 1)`` (0 for a track never skipped, so an unplayed library
ranks exactly as without history); :class:`HistoryTransform` subtracts ``weight * share`` from
each candidate's score, after any other transform (e.g. CSLS), so a track skipped every time
it came up falls behind neighbours up to ``weight`` further away in cosine.

This module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np

from deejai_model.lists.playlists import ScoreTransform

__all__ = ["DEFAULT_SKIP_WEIGHT", "HistoryTransform", "skip_shares"]

DEFAULT_SKIP_WEIGHT = 0.1
"""Cosine a fully skipped track loses (``deejai.skip_weight``)."""


def skip_shares(
    plays: Mapping[Hashable, int], skips: Mapping[Hashable, int]
) -> dict[Hashable, float]:
    """``skips / (plays + skips + 1)`` of every track skipped at least once."""
    out = {}
    for track, skipped in skips.items():
        if skipped and skipped > 0:
            out[track] = float(skipped) / (max(0, plays.get(track, 0) or 0) + skipped + 1.0)
    return out


class HistoryTransform:
    """A :data:`~deejai_model.lists.playlists.ScoreTransform` that pushes skipped tracks down.

    Parameters
    ----------
    shares : mapping
        Track id -> skip share in [0, 1) (:func:`skip_shares`); tracks not in it lose nothing.
    weight : float
        Score a track with share 1 would lose (cosine units).
    base : ScoreTransform, optional
        Applied first (e.g. :class:`~deejai_model.lists.playlists.CslsTransform`); without it
        the score is the cosine.
    """

    def __init__(
        self,
        shares: Mapping[Hashable, float],
        weight: float = DEFAULT_SKIP_WEIGHT,
        base: ScoreTransform | None = None,
    ):
        if weight < 0:
            raise ValueError("the skip weight must be >= 0")
        self.shares = dict(shares)
        self.weight = float(weight)
        self.base = base

    def penalties(self, ids: np.ndarray) -> np.ndarray:
        """``weight * share`` of each id: ``(len(ids),)`` float64."""
        return self.weight * np.array([self.shares.get(t, 0.0) for t in ids.tolist()])

    def __call__(self, query: np.ndarray, ids: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        scores = (
            np.asarray(cosines, np.float64)
            if self.base is None
            else np.asarray(self.base(query, ids, cosines), np.float64)
        )
        return scores - self.penalties(np.asarray(ids))
