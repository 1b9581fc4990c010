"""Which excerpts of a track hold music: plan them, decode them, keep the ones heard.

The one excerpt planner; :class:`deejai_model.ears.embed.Embedder` calls :func:`listen` for each
file. With ``max_slices > 0`` it

1. plans ``max_slices`` slice starts spread over the declared duration (:func:`excerpt_starts`);
2. decodes those excerpts by seeking, unpadded (:meth:`deejai_model.ears.audio.AudioFile.excerpts`);
3. when the music ends well before the declared duration (a truncated file, an MP3 without a
   length header, a long silent outro), plans again over the part that was heard and decodes
   the new excerpts from the same open file (when no planned excerpt held any music, the
   whole track is decoded first to find where it ends);
4. keeps the excerpts that fill a slice and are not silent (:func:`heard_excerpts`) and makes
   them the front end's batch, one slice each.

With ``max_slices == 0`` the whole track is decoded, cut into every non-overlapping slice from
the start (upstream Deej-A.I.'s behaviour) and the silent slices dropped (:func:`heard_slices`).
Silence is ``deejai_model.ears.audio.SILENCE_PEAK``, the threshold the decoder's
``SilentAudioError`` uses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deejai_model.ears.audio import SILENCE_PEAK, AudioFile
from deejai_model.ears.frontend import FrontEnd
from deejai_model.errors import SilentAudioError, UndecodableAudioError

__all__ = [
    "EDGE_FRACTION",
    "HeardSlices",
    "excerpt_starts",
    "heard_excerpts",
    "heard_slices",
    "listen",
    "plan_excerpts",
]

#: Fraction of a track skipped at each end (intro, outro) when excerpts are spread over it.
EDGE_FRACTION = 0.05


@dataclass
class HeardSlices:
    """The model input of one track: the slices that hold music, and where they start.

    Attributes
    ----------
    path : str
        The audio file.
    batch : np.ndarray, float32
        One front-end slice per row, shaped as :meth:`FrontEnd.slices` returns them.
    starts : np.ndarray, shape (n_slices,), float32
        Start time of each slice in seconds from the beginning of the track.
    duration : float
        Duration of the track in seconds: the declared one, or where the music was found to
        end when the file holds less than it declares.
    padded : bool
        True when no slice was full of music: the track is shorter than one slice (zero-padded)
        or only one mostly silent slice was left.
    """

    path: str
    batch: np.ndarray
    starts: np.ndarray
    duration: float
    padded: bool


def excerpt_starts(frontend: FrontEnd, duration: float, max_slices: int) -> np.ndarray:
    """Plan where to listen: start times of non-overlapping slices of ``frontend``.

    Parameters
    ----------
    frontend : FrontEnd
        Gives the slice length (:attr:`FrontEnd.slice_seconds`).
    duration : float
        Track length in seconds.
    max_slices : int
        At most this many slices, spread evenly over the track, skipping the first and last
        ``EDGE_FRACTION`` of it when they still fit; 0 means every non-overlapping slice from
        0 (Deej-A.I.'s behaviour).

    Returns
    -------
    np.ndarray
        float64 start times in seconds, increasing. A track shorter than one slice (or of
        unknown length, ``duration <= 0``) gets one start at 0.
    """
    if max_slices < 0:
        raise ValueError("max_slices must be >= 0")
    span = frontend.slice_seconds
    fit = int(math.floor(duration / span + 1e-9)) if duration > 0 else 0
    if fit <= 1:
        return np.zeros(1)
    if max_slices == 0:
        return np.arange(fit, dtype=np.float64) * span
    k = min(max_slices, fit)
    lo, hi = EDGE_FRACTION * duration, (1.0 - EDGE_FRACTION) * duration
    if hi - lo < k * span:
        lo, hi = 0.0, duration
    step = (hi - lo) / k
    starts = lo + (np.arange(k) + 0.5) * step - span / 2.0
    return np.clip(starts, 0.0, max(0.0, duration - span))


def _peaks(pieces: Sequence[np.ndarray]) -> np.ndarray:
    """Peak absolute amplitude of each piece of audio (0.0 for an empty one), float64."""
    return np.array([float(np.max(np.abs(p))) if np.asarray(p).size else 0.0 for p in pieces])


def heard_excerpts(frontend: FrontEnd, excerpts: Sequence[np.ndarray]) -> tuple[np.ndarray, bool]:
    """Which excerpts to listen to: silence and audio past the end are not music.

    Parameters
    ----------
    frontend : FrontEnd
        Gives the fewest samples that fill a slice (:attr:`FrontEnd.min_samples`).
    excerpts : sequence of np.ndarray
        1-D excerpts at the front end's rate as decoded, *not* zero-padded (an excerpt that
        the end of the file cuts short is shorter, one planned past the end is empty).

    Returns
    -------
    keep : np.ndarray, int
        Indices of the excerpts that fill a slice and are not silent (peak at least
        ``SILENCE_PEAK``), increasing. When none does, the one excerpt with the most audible
        samples (a short track).
    padded : bool
        True when that fallback was taken (its slice is zero-padded or mostly silence).
    """
    sizes = np.array([np.asarray(e).size for e in excerpts])
    audible = _peaks(excerpts) >= SILENCE_PEAK
    keep = np.flatnonzero((sizes >= frontend.min_samples) & audible)
    if keep.size:
        return keep, False
    return np.array([int(np.argmax(sizes * audible))]), True


def heard_slices(frontend: FrontEnd, audio: np.ndarray, n_slices: int) -> tuple[np.ndarray, bool]:
    """Which of the first ``n_slices`` slices of a whole-track decode to listen to.

    Parameters
    ----------
    frontend : FrontEnd
        Cuts the slices (every :attr:`FrontEnd.slice_samples` from sample 0, as
        :meth:`FrontEnd.slices` does).
    audio : np.ndarray
        The whole track, 1-D, at the front end's rate.
    n_slices : int
        Slices :meth:`FrontEnd.slices` cut from it.

    Returns
    -------
    keep : np.ndarray, int
        The non-silent slices, increasing; when all are silent, the loudest one.
    padded : bool
        True when that fallback was taken.
    """
    audio = np.asarray(audio).reshape(-1)
    n = frontend.slice_samples
    peaks = _peaks([audio[i * n : (i + 1) * n] for i in range(n_slices)])
    keep = np.flatnonzero(peaks >= SILENCE_PEAK)
    if keep.size:
        return keep, False
    return np.array([int(np.argmax(peaks))]), True


def listen(path: str | os.PathLike, frontend: FrontEnd, *, max_slices: int) -> HeardSlices:
    """Decode the excerpts of one file that hold music, as the front end's batch.

    The file is opened once, however many rounds the plan takes.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file.
    frontend : FrontEnd
        Sample rate and slices of the network's input.
    max_slices : int
        Slices spread over the track (:func:`excerpt_starts`); 0: every slice from the start.

    Returns
    -------
    HeardSlices

    Raises
    ------
    deejai_model.errors.AudioError
        With a one-line ``"<path>: <reason>"`` message: the file cannot be decoded, is empty
        or silent.
    """
    path = os.fspath(path)
    with AudioFile(path) as source:
        duration = source.duration()
        if max_slices == 0:
            samples = source.decode(frontend.sample_rate)
        else:
            starts, excerpts, duration = plan_excerpts(
                source, frontend, duration=duration, max_slices=max_slices
            )
    if max_slices == 0:
        batch, padded = frontend.slices(samples)
        keep, fallback = heard_slices(frontend, samples, len(batch))
        batch, padded = batch[keep], padded or fallback
        starts = keep.astype(np.float32) * np.float32(frontend.slice_seconds)
    else:
        keep, fallback = heard_excerpts(frontend, excerpts)
        starts = starts[keep]
        batch, padded = frontend.batch_from_excerpts([excerpts[i] for i in keep], duration=duration)
        padded = padded or fallback
    if len(batch) == 0:
        raise UndecodableAudioError(path, "no slices could be cut from the audio")
    return HeardSlices(path, batch, starts[: len(batch)], float(duration), bool(padded))


def plan_excerpts(
    source: AudioFile, frontend: FrontEnd, *, duration: float, max_slices: int
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """Plan excerpts over ``duration`` seconds and decode them, unpadded; plan again over the
    music when it ends well before ``duration`` (steps 1-3 of :func:`listen`).

    Parameters
    ----------
    source : AudioFile
        The open file; every round of excerpts is read from it.
    frontend : FrontEnd
        Sample rate and slice length.
    duration : float
        The declared duration in seconds (``source.duration()``).
    max_slices : int
        Excerpts planned, at most (> 0).

    Returns
    -------
    starts : np.ndarray, shape (k,), float32
        Start times in seconds.
    excerpts : list of np.ndarray
        The decoded excerpts (shorter or empty past the end of the audio).
    duration : float
        The duration in seconds: the declared one, or where the audio was found to end.
    """
    rate, span = frontend.sample_rate, frontend.slice_seconds

    def decode(over: float) -> tuple[np.ndarray, list[np.ndarray]]:
        starts = np.asarray(excerpt_starts(frontend, over, max_slices), dtype=np.float32)
        return starts, source.excerpts(rate, starts=starts, length=span, pad=False)

    try:
        starts, excerpts = decode(duration)
    except SilentAudioError:  # silent, or every excerpt fell past a much earlier end
        end = source.decode(rate).size / rate  # raises if silent
        if end >= duration - span:
            raise
        starts, excerpts = decode(end)
        return starts, excerpts, end
    # source.excerpts raised SilentAudioError when none was heard
    last = int(np.flatnonzero(_peaks(excerpts) >= SILENCE_PEAK)[-1])
    if last == len(excerpts) - 1:
        return starts, excerpts, duration
    # nothing heard after excerpt `last`: the music ends between it and the next one
    end = float(starts[last]) + excerpts[last].size / rate
    past_end = excerpts[last].size < int(round(span * rate)) or excerpts[-1].size == 0
    starts, excerpts = decode(end)
    return starts, excerpts, end if past_end else duration
