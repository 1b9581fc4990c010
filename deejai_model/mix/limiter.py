"""A look-ahead true-peak limiter, streaming, in numpy.

What broadcast loudness normalisers do to raise a quiet track whose rare peaks already reach
full scale: bring the whole track to the target loudness, and turn only those peaks down.

1. **True peak** (ITU-R BS.1770-4, annex 2, oversampled further): each channel is oversampled
   :data:`OVERSAMPLE` (8) times by a windowed-sinc polyphase interpolator (:data:`TAPS` input
   samples per phase, Hann window); the peak of a sample is the largest magnitude of any
   channel at it or at the seven points after it. BS.1770's 4x reads a 15 kHz tone at 44.1 kHz
   up to 0.3 dB under its peak; 8x keeps the waveform's peak under the ceiling.
   Points are interpolated only where the samples around them could reach the ceiling (the
   interpolator's gain bounds them): most music far below the ceiling costs a max and a compare.
2. **Gain wanted**: ``r[n] = min(1, ceiling / peak[n])``, the ceiling :data:`MARGIN_DB` under
   the one asked for.
3. **Look-ahead envelope**: the smallest ``r`` over the last ``A + R`` samples (a hold), then
   two moving averages, of ``A`` (attack, :data:`ATTACK` s) and ``R`` (release,
   :data:`RELEASE` s) samples. The audio is delayed by ``A + R - 2`` samples, so the gain has
   reached ``r[p]`` when sample ``p`` comes out: the gain falls smoothly over the ``A + R``
   samples before a peak and rises over the ``A + R`` after it, and never lets a peak through.

Where no sample needs limiting and none did in the last ``A + R``, a block passes unchanged.
Every step is vectorised over a block, with the few samples of history each needs carried
between blocks: the output is the same whatever the block sizes. Blocks out have the same
lengths as blocks in once the latency is filled; :meth:`TruePeakLimiter.finish` returns the
rest, so the output has exactly as many samples as the input.
"""

from __future__ import annotations

import numpy as np

#: Oversampling factor of the true-peak detector. BS.1770 asks for 4x at 48 kHz and below, but
#: 4x lets high-frequency content (a 15 kHz tone, high-passed noise at 44.1 kHz) peak up to
#: 0.3 dB over the ceiling between its points; 8x keeps it under (tests/test_mix.py).
OVERSAMPLE = 8
#: Input samples per interpolation phase.
TAPS = 24
#: dB under the ceiling the limiter aims at: 8x oversampling can miss a little of a peak
#: between its points (up to 0.14 dB for a 20 kHz tone at 44.1 kHz), and other meters
#: interpolate differently. 0.1 let noise over 15 kHz through 0.03 dB over the ceiling
#: (``benchmarks/limiter_peaks.py``, 32x).
MARGIN_DB = 0.15
#: Seconds of the gain's fall before a peak (first moving average).
ATTACK = 0.005
#: Seconds of the second moving average: smooths the fall and sets the rise after a peak.
RELEASE = 0.05


def _interpolator(factor: int = OVERSAMPLE, taps: int = TAPS) -> np.ndarray:
    """Windowed-sinc coefficients: ``(taps, factor)``; column ``k`` gives the value at
    ``k / factor`` of a sample past the middle of a ``taps``-sample window (column 0: the
    middle sample itself)."""
    half = taps // 2
    offsets = np.arange(taps, dtype=np.float64) - (half - 1)  # -11 .. 12 for 24 taps
    coeffs = np.empty((taps, factor))
    for k in range(factor):
        t = k / factor - offsets  # distance from each input sample to the point wanted
        window = 0.5 + 0.5 * np.cos(np.pi * t / (half + 1))
        coeffs[:, k] = np.sinc(t) * window
    coeffs[:, 0] = offsets == 0  # exactly the sample
    return coeffs


def _sliding_min(values: np.ndarray, width: int) -> np.ndarray:
    """``out[i] = min(values[i : i + width])`` for every full window (van Herk / Gil-Werman:
    O(n) whatever ``width``). ``(n,)`` -> ``(n - width + 1,)``."""
    n = values.size - width + 1
    blocks = -(-values.size // width)
    padded = np.full(blocks * width, np.inf)
    padded[: values.size] = values
    shaped = padded.reshape(blocks, width)
    prefix = np.minimum.accumulate(shaped, axis=1).ravel()
    suffix = np.minimum.accumulate(shaped[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(suffix[:n], prefix[width - 1 : width - 1 + n])


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Mean of every full window of ``width``: ``(n,)`` -> ``(n - width + 1,)`` (float64)."""
    sums = np.concatenate([[0.0], np.cumsum(values)])
    return (sums[width:] - sums[:-width]) / width


class TruePeakLimiter:
    """Keeps the true peak of a stream of ``(channels, n)`` float32 blocks under a ceiling.

    Parameters
    ----------
    sample_rate : int
        Hz of the blocks.
    ceiling_dbtp : float
        Highest true peak let through, dBTP (e.g. -1).
    channels : int
        Channels of the blocks.
    oversample : int
        Points per sample of the true-peak detector (default :data:`OVERSAMPLE`; 4 is
        BS.1770's, kept for ``benchmarks/limiter_peaks.py``).

    Attributes
    ----------
    latency : int
        Samples by which the output lags the input (:meth:`push` holds them back; the output
        is not shifted: :meth:`finish` returns them).
    """

    def __init__(
        self,
        sample_rate: int,
        ceiling_dbtp: float,
        channels: int = 2,
        *,
        oversample: int = OVERSAMPLE,
    ):
        self.ceiling = float(10.0 ** ((ceiling_dbtp - MARGIN_DB) / 20.0))
        self._attack = max(1, int(round(ATTACK * sample_rate)))
        self._release = max(1, int(round(RELEASE * sample_rate)))
        self._coeffs = _interpolator(oversample).astype(np.float32)
        self._bound = float(np.abs(self._coeffs).sum(axis=0).max())
        self._half = TAPS // 2
        hold = self._attack + self._release
        # the interpolator needs TAPS - 1 samples around a point; its output lags by half of it
        self.latency = self._half + hold - 2
        self._input = np.zeros((channels, TAPS - 1), np.float32)  # interpolator history
        self._wanted = np.ones(hold - 1)  # r history for the hold
        self._held = np.ones(self._attack - 1)  # hold output history for the attack average
        self._smooth = np.ones(self._release - 1)  # attack output history for the release
        self._delay = np.zeros((channels, self.latency), np.float32)
        self._pending = self.latency  # output samples still to drop (the latency's zeros)
        self._channels = channels

    def _peaks(self, block: np.ndarray) -> np.ndarray:
        """True peak at each sample of the stream :data:`TAPS` // 2 samples before ``block``'s:
        ``(n,)``. Interpolated only where a window's samples could reach the ceiling."""
        n = block.shape[1]
        context = np.concatenate([self._input, block], axis=1)
        self._input = context[:, n:]
        level = np.abs(context).max(axis=0)  # (n + TAPS - 1,)
        peaks = level[self._half - 1 : self._half - 1 + n].copy()
        reach = -_sliding_min(-level, TAPS) * self._bound  # no interpolated value is above it
        near = np.flatnonzero(reach > self.ceiling)
        if near.size:
            windows = np.lib.stride_tricks.sliding_window_view(context, TAPS, axis=1)[:, near]
            between = np.abs(windows @ self._coeffs[:, 1:]).max(axis=(0, 2))
            peaks[near] = np.maximum(peaks[near], between)
        return peaks

    def _gain(self, block: np.ndarray) -> np.ndarray:
        """The envelope for ``block``'s samples as they come out: ``(n,)`` float64."""
        n = block.shape[1]
        peaks = self._peaks(block)
        if peaks.max() <= self.ceiling and self._settled:
            return np.ones(n)  # nothing to limit, nothing being limited: the histories stay 1
        wanted = np.minimum(1.0, self.ceiling / np.maximum(peaks, 1e-12))
        wanted = np.concatenate([self._wanted, wanted])
        self._wanted = wanted[n:]
        held = np.concatenate([self._held, _sliding_min(wanted, self._wanted.size + 1)])
        self._held = held[n:]
        smooth = np.concatenate([self._smooth, _moving_average(held, self._attack)])
        self._smooth = smooth[n:]
        return _moving_average(smooth, self._release)

    @property
    def _settled(self) -> bool:
        """Whether every history of the envelope is at unity gain."""
        return bool(
            self._wanted.min(initial=1.0) >= 1.0
            and self._held.min(initial=1.0) >= 1.0
            and self._smooth.min(initial=1.0) >= 1.0
        )

    def push(self, block: np.ndarray) -> np.ndarray:
        """Limit ``block`` (``(channels, n)`` float32); returns the samples ready, ``(channels,
        m)`` float32, ``m <= n`` (less only while the first :attr:`latency` samples fill)."""
        n = block.shape[1]
        if n == 0:
            return np.zeros((self._channels, 0), np.float32)
        block = np.asarray(block, dtype=np.float32)
        gain = self._gain(block)
        delayed = np.concatenate([self._delay, block], axis=1)
        self._delay = delayed[:, n:]
        out = delayed[:, :n] * gain.astype(np.float32)
        drop = min(self._pending, n)
        self._pending -= drop
        return out[:, drop:]

    def finish(self) -> np.ndarray:
        """The samples still held back: ``(channels, latency)`` float32 (fewer if fewer came
        in). Zeros are pushed behind them, so the last peaks are seen ahead too."""
        return self.push(np.zeros((self._channels, self.latency), np.float32))
