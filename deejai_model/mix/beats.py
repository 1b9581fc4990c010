"""Beat-aligned joins: where both tracks keep a steady beat, start the incoming track so that
its beats fall on the outgoing track's beat grid through the crossfade.

The beat of the outgoing track's last seconds and of the incoming track's first seconds is
found from librosa's onset strength (:func:`steady_beats`). When both are clear and their
tempos agree (within ``TEMPO_TOLERANCE``, or one
is double the other), the incoming track skips ``s`` seconds of its head, ``0 <= s <`` one beat
of the outgoing track, so that its first beat lands on the outgoing grid. Otherwise the join
stays a plain crossfade. librosa is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Onset strength on the beat grid, relative to its mean, of a beat called clear.
PULSE_CONTRAST = 2.0
#: Samples between onset-strength frames.
HOP = 256
#: Relative tempo difference under which two beats can be aligned (no time stretching).
TEMPO_TOLERANCE = 0.04
#: Seconds of each side of a join listened to for its beat.
LISTEN_SECONDS = 10.0


@dataclass(frozen=True)
class Beats:
    """A steady beat.

    Attributes
    ----------
    period : float
        Seconds between beats (median).
    times : np.ndarray, shape (n,)
        Beat times, seconds from the start of the audio analysed.
    """

    period: float
    times: np.ndarray


def steady_beats(mono: np.ndarray, sample_rate: int) -> Beats | None:
    """The beat of ``mono`` (float32, ``(n,)``) if it is clear and steady, else None.

    The tempo is librosa's estimate from the onset-strength autocorrelation
    (``librosa.feature.tempo``); the phase is where onsets pile up when the onset envelope is
    folded at that period. The beat counts as clear when the onset strength on the beat grid
    is at least ``PULSE_CONTRAST`` times its mean (white noise: about 1; a drum track: 3+).
    librosa's dynamic-programming beat tracker is not used: it forces a grid on anything
    (noise included) and crashed (numba segfault, librosa 0.11) on a plain click track.
    """
    import librosa

    if mono.size < 4 * sample_rate:
        return None
    hop = HOP
    envelope = librosa.onset.onset_strength(y=mono, sr=sample_rate, hop_length=hop)
    if not np.any(envelope > 0):
        return None
    bpm = float(librosa.feature.tempo(onset_envelope=envelope, sr=sample_rate, hop_length=hop)[0])
    if not bpm > 0:
        return None
    period = 60.0 / bpm * sample_rate / hop  # frames
    phases = np.arange(int(np.ceil(period)))
    strength = [
        envelope[np.round(np.arange(p, envelope.size - 1, period)).astype(int)].mean()
        for p in phases
    ]
    if max(strength) < PULSE_CONTRAST * envelope.mean():
        return None
    # refine: the onset peak near each grid beat, and the straight line through them (the
    # tempo estimate is quantised to whole frames of lag)
    grid = np.arange(phases[int(np.argmax(strength))], envelope.size - 1, period)
    reach = max(1, int(period / 4))
    peaks = np.array(
        [
            max(0, int(round(g)) - reach)
            + int(np.argmax(envelope[max(0, int(round(g)) - reach) : int(round(g)) + reach + 1]))
            for g in grid
        ]
    )
    slope, intercept = np.polyfit(np.arange(peaks.size), peaks, 1)
    times = (intercept + slope * np.arange(peaks.size)) * hop / sample_rate
    return Beats(float(slope * hop / sample_rate), times)


def compatible(a: Beats, b: Beats) -> bool:
    """True when the two tempos agree, or one is twice the other."""
    ratio = a.period / b.period
    return any(abs(ratio - r) <= TEMPO_TOLERANCE * r for r in (0.5, 1.0, 2.0))


def beat_shift(
    outgoing: Beats, incoming: Beats, *, tail_seconds: float, fade: float
) -> float | None:
    """Seconds to skip at the head of the incoming track so that the beats line up.

    Parameters
    ----------
    outgoing : Beats
        Beats of the outgoing track's last ``tail_seconds``.
    incoming : Beats
        Beats of the incoming track's head (times from its first sample used).
    tail_seconds : float
        Length of the outgoing tail; the crossfade is its last ``fade`` seconds.
    fade : float
        Crossfade seconds.

    Returns
    -------
    float or None
        ``s`` in ``[0, outgoing.period)``, or None when the beats are not compatible.
    """
    if not compatible(outgoing, incoming):
        return None
    grid = (outgoing.times[-1] - (tail_seconds - fade)) % outgoing.period  # first grid beat
    return float((incoming.times[0] - grid) % outgoing.period)


def beat_offset(
    outgoing: Beats, incoming: Beats, *, tail_seconds: float, fade: float, skip: float
) -> float | None:
    """Mean distance, in seconds, from each incoming beat inside the fade to the outgoing grid.

    Used to check an alignment: ``skip`` is what the incoming track's head loses.
    """
    fade_start = tail_seconds - fade
    grid_phase = outgoing.times[-1] - fade_start
    beats = incoming.times - skip
    beats = beats[(beats >= 0) & (beats <= fade)]
    if not beats.size:
        return None
    off = (beats - grid_phase) % outgoing.period
    return float(np.mean(np.minimum(off, outgoing.period - off)))
