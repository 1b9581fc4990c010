"""Power mel spectrograms in numpy alone, equal to librosa's defaults.

``librosa.feature.melspectrogram`` is what the shipped networks were trained on, but its first
call imports scipy and numba: ~0.22 GB of memory in a process that otherwise needs ~0.14 GB
to embed (docs/benchmarks-history.md, issue 14). This module computes the same thing with
``numpy.fft``: a centred, zero-padded STFT with a periodic Hann window, its power, and a
Slaney-style mel filterbank (librosa's defaults: ``htk=False``, ``norm="slaney"``,
``fmin=0``, ``fmax=sr/2``). ``tests/test_melspec.py`` holds it to librosa on real generated audio.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["mel_filterbank", "melspectrogram"]

# Slaney's mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log = hz >= _MIN_LOG_HZ
    mel[log] = _MIN_LOG_MEL + np.log(hz[log] / _MIN_LOG_HZ) / _LOGSTEP
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    log = mel >= _MIN_LOG_MEL
    hz[log] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel[log] - _MIN_LOG_MEL))
    return hz


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Slaney-normalised triangular mel filters from 0 Hz to ``sample_rate / 2``.

    Returns
    -------
    np.ndarray, shape (n_mels, 1 + n_fft // 2), float32
        Row ``m`` weights the FFT bins of mel band ``m`` (read-only: cached).
    """
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_hz = _mel_to_hz(np.linspace(0.0, _hz_to_mel(np.array([sample_rate / 2.0]))[0], n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


def melspectrogram(
    y: np.ndarray, sample_rate: int, *, n_fft: int, hop_length: int, n_mels: int
) -> np.ndarray:
    """Power mel spectrogram of mono audio, as ``librosa.feature.melspectrogram`` computes it.

    Parameters
    ----------
    y : np.ndarray, shape (..., samples)
        Audio, float; leading axes are independent signals.
    sample_rate : int
        Hz.
    n_fft, hop_length : int
        FFT size and hop, in samples. Frames are centred: the signal is zero-padded by
        ``n_fft // 2`` on both sides, giving ``1 + samples // hop_length`` frames.
    n_mels : int
        Mel bands.

    Returns
    -------
    np.ndarray, shape (..., n_mels, frames), float32
    """
    y = np.asarray(y, dtype=np.float32)
    pad = [(0, 0)] * (y.ndim - 1) + [(n_fft // 2, n_fft // 2)]
    padded = np.pad(y, pad)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop_length, :]
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    spectrum = np.fft.rfft(frames * window, axis=-1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)  # (..., frames, bins)
    # one 2-D product: numpy's stacked matmul against the transposed filterbank takes a slow
    # non-BLAS path (~10x the time of this, which was most of the front end's CPU)
    bins = power.shape[-1]
    mel = (power.reshape(-1, bins) @ mel_filterbank(sample_rate, n_fft, n_mels).T).reshape(
        *power.shape[:-1], n_mels
    )  # (..., frames, mels)
    return np.ascontiguousarray(np.swapaxes(mel, -1, -2), dtype=np.float32)
