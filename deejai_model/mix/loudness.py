"""Loudness of one track (ITU-R BS.1770 / EBU R128) and the gain that brings it to a target.

The measuring is libavfilter's ``ebur128`` filter (gated integrated loudness, true peak by 4x
oversampling) fed block by block, so a track of any length is measured in bounded memory.
"""

from __future__ import annotations

import math

import numpy as np

from deejai_model.mix.filters import AudioFilter

#: Loudness (LUFS) reported for a track too short or too quiet to gate.
SILENT_LUFS = -70.0


class LoudnessMeter:
    """Integrated loudness and true peak of the blocks pushed through it.

    Parameters
    ----------
    sample_rate : int
        Hz of the blocks.
    channels : int
        1 or 2.
    true_peak : bool
        Also measure the true peak (4x oversampling; the costlier half of the work). Without
        it :meth:`result`'s peak is ``-inf``.
    """

    def __init__(self, sample_rate: int, channels: int = 2, *, true_peak: bool = True):
        self._filter = AudioFilter(
            "ebur128",
            "metadata=1:peak=" + ("true" if true_peak else "none"),
            sample_rate=sample_rate,
            channels=channels,
        )
        self._done = False

    def push(self, block: np.ndarray) -> None:
        """Measure ``block``: ``(channels, n)`` float32, full scale 1.0."""
        self._filter.push(block)

    def result(self) -> tuple[float, float]:
        """``(integrated loudness in LUFS, true peak in dBTP)`` of everything pushed."""
        if not self._done:
            self._filter.finish()
            self._done = True
        meta = self._filter.metadata
        integrated = float(meta.get("lavfi.r128.I", SILENT_LUFS))
        if not math.isfinite(integrated):
            integrated = SILENT_LUFS
        peak = float(meta.get("lavfi.r128.true_peak", 0.0))
        return integrated, 20.0 * math.log10(peak) if peak > 0 else -math.inf


def normalising_gain_db(integrated_lufs: float, *, target_lufs: float) -> float:
    """Gain in dB that brings a track of ``integrated_lufs`` to ``target_lufs``.

    The true peak does not hold the gain back: the mix's look-ahead true-peak limiter
    (:mod:`.limiter`) turns down the peaks that would pass the ceiling, and the renderer makes
    up for the loudness they took (:func:`deejai_model.mix.render`). A track too quiet to gate
    (:data:`SILENT_LUFS`) keeps its level.

    Returns
    -------
    float
        dB to add (negative: turn down).
    """
    if integrated_lufs <= SILENT_LUFS:
        return 0.0
    return target_lufs - integrated_lufs
