"""The renderer: tracks in, one continuous mix out, streamed block by block.

For each track, in order:

1. **analyse**: decode it once to stereo float32 at the mix rate (:mod:`.source`), spooling the
   samples to a temporary file while the EBU R128 meter (:mod:`.loudness`) measures its
   integrated loudness and true peak, and the first and last samples above the silence
   threshold are found (leading and trailing silence is trimmed);
2. **gain**: the track is turned up or down to the target loudness. Where that would take its
   true peak past the ceiling, the track is played once more through the limiter of step 4
   and measured again, and its gain corrected by what the limiter took (at most
   :data:`MAKEUP_PASSES` times, until within :data:`MAKEUP_TOLERANCE` LU): a quiet track
   whose rare peaks reach full scale is raised to the target all the same, only its peaks
   turned down;
3. **join**: its body is copied to the output and its last ``x`` samples are crossfaded
   (equal power, :mod:`.crossfade`) with the next track's first ``x``, where ``x`` is the
   crossfade length, at most half of either track;
4. the mix passes through a look-ahead true-peak limiter set at the ceiling
   (:mod:`.limiter`, latency compensated): it holds the peaks of the raised tracks, and a
   crossfade of two loud tracks can sum above either.

A mix of excerpts (tracks cut from the middle: a first track that starts past its beginning,
a last one given a duration) fades in and out over :data:`EDGE_FADE` seconds, so it neither
starts nor ends with a click.

At most two tracks are spooled at a time and blocks are ``source.BLOCK`` samples, so memory
stays bounded whatever the length of the mix. The output is written under a temporary name
and renamed at the end, with the CUE sheet and text tracklist beside it; an error or Ctrl-C
leaves none of them behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from deejai_model.errors import AudioError, DeejaiError, SilentAudioError
from deejai_model.files import display_name, replaced_atomically
from deejai_model.interrupt import deferred_sigint
from deejai_model.mix.crossfade import crossfade, edge_fade_curve
from deejai_model.mix.encode import Chapter, Encoder, output_format
from deejai_model.mix.limiter import TruePeakLimiter
from deejai_model.mix.loudness import LoudnessMeter, normalising_gain_db
from deejai_model.mix.source import BLOCK, stereo_blocks
from deejai_model.mix.tracklist import TracklistEntry, cue_sheet, text_tracklist

#: Most corrections of a limited track's gain (each measured through the limiter again).
MAKEUP_PASSES = 2
#: LU from the target within which a limited track's gain is left as it is.
MAKEUP_TOLERANCE = 0.2
#: Seconds of the fade in at the start and out at the end of a mix of excerpts.
EDGE_FADE = 1.0


class MixError(DeejaiError):
    """The mix cannot be made at all (no track decodes, or ``strict`` met a bad track)."""


@dataclass(frozen=True)
class MixTrack:
    """One track to mix.

    Attributes
    ----------
    path : str
        Audio file.
    artist, title : str
        For the tracklist (title defaults to the file name).
    offset : float
        Seconds into the file where the part used begins (an excerpt).
    duration : float or None
        Seconds used from ``offset`` (None: to the end).
    """

    path: str
    artist: str = ""
    title: str = ""
    offset: float = 0.0
    duration: float | None = None

    @property
    def label(self) -> str:
        title = self.title or display_name(self.path)
        return f"{self.artist} - {title}" if self.artist else title


@dataclass(frozen=True)
class MixOptions:
    """How the mix sounds.

    Attributes
    ----------
    sample_rate : int
        Hz of the mix.
    target_lufs : float
        Integrated loudness each track is brought to (EBU R128; streaming services use -14).
    ceiling_dbtp : float
        Highest true peak of the mix, dBTP: the level of its look-ahead true-peak limiter.
    crossfade : float
        Seconds of each equal-power crossfade (0: gapless cut).
    silence_dbfs : float
        Leading and trailing samples below this peak level are trimmed.
    kbps : int or None
        Bit rate of a lossy output (None: the format's default).
    beat_align : bool
        Where both sides of a join keep a steady, compatible beat, skip up to one beat of the
        incoming track's head so that the beats line up through the crossfade (:mod:`.beats`).
    """

    sample_rate: int = 44100
    target_lufs: float = -14.0
    ceiling_dbtp: float = -1.0
    crossfade: float = 6.0
    silence_dbfs: float = -60.0
    kbps: int | None = None
    beat_align: bool = False


@dataclass(frozen=True)
class MixEntry:
    """Where one track sits in the mix.

    Attributes
    ----------
    track : MixTrack
    start : float
        Seconds from the start of the mix where the track begins (its fade-in starts).
    length : float
        Seconds of the track used (after trimming silence), fades included.
    loudness : float
        Its integrated loudness before the gain, LUFS.
    gain_db : float
        The gain applied.
    beat_skip : float or None
        Seconds of its head skipped to line its beats up with the previous track's (None:
        not beat-aligned).
    true_peak : float
        Its true peak before the gain, dBTP.
    """

    track: MixTrack
    start: float
    length: float
    loudness: float
    gain_db: float
    beat_skip: float | None = None
    true_peak: float = float("nan")

    def tracklist_entry(self) -> TracklistEntry:
        title = self.track.title or display_name(self.track.path)
        return TracklistEntry(self.start, self.track.artist, title)


@dataclass
class MixResult:
    """What a render (or a plan) produced.

    Attributes
    ----------
    entries : list of MixEntry
        The tracks in the mix, in order.
    skipped : list of AudioError
        Tracks left out because they could not be decoded.
    duration : float
        Seconds of the mix.
    paths : list of str
        Files written (mix, CUE sheet, text tracklist); empty for a plan.
    """

    entries: list[MixEntry] = field(default_factory=list)
    skipped: list[AudioError] = field(default_factory=list)
    duration: float = 0.0
    paths: list[str] = field(default_factory=list)


@dataclass
class _Analysed:
    """One track, decoded and measured: the part used is samples ``lead:end`` of the spool."""

    track: MixTrack
    spool: str | None
    lead: int
    end: int
    loudness: float
    true_peak: float
    gain_db: float
    rate: int = 44100
    beat_skip: float | None = None

    @property
    def length(self) -> int:
        return self.end - self.lead

    @property
    def gain(self) -> np.float32:
        return np.float32(10.0 ** (self.gain_db / 20.0))

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` (counted from ``lead``) with the gain: ``(2, n)`` float32."""
        assert self.spool is not None
        with open(self.spool, "rb") as handle:
            handle.seek((self.lead + start) * 8)
            data = np.fromfile(handle, dtype=np.float32, count=(stop - start) * 2)
        return data.reshape(-1, 2).T * self.gain

    def mono(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` (from ``lead``, no gain) as mono ``(n,)``; decoded again by
        seeking when the track was not spooled (a dry run)."""
        if self.spool is not None:
            return self.read(start, stop).mean(axis=0) / self.gain
        offset = self.track.offset + (self.lead + start) / self.rate
        blocks = list(
            stereo_blocks(
                self.track.path, self.rate, offset=offset, duration=(stop - start) / self.rate
            )
        )
        return np.concatenate(blocks, axis=1).mean(axis=0)

    def drop(self) -> None:
        if self.spool is not None and os.path.exists(self.spool):
            os.unlink(self.spool)


def _analyse(
    track: MixTrack, options: MixOptions, spool: str | None, check: Callable[[], None]
) -> _Analysed:
    """Decode ``track`` once: measure it, find where its sound starts and ends, spool it."""
    rate = options.sample_rate
    meter = LoudnessMeter(rate)
    threshold = np.float32(10.0 ** (options.silence_dbfs / 20.0))
    lead = end = -1
    total = 0
    handle = open(spool, "wb") if spool else None
    try:
        for block in stereo_blocks(track.path, rate, offset=track.offset, duration=track.duration):
            check()
            meter.push(block)
            loud = np.flatnonzero(np.max(np.abs(block), axis=0) > threshold)
            if loud.size:
                if lead < 0:
                    lead = total + int(loud[0])
                end = total + int(loud[-1]) + 1
            if handle is not None:
                np.ascontiguousarray(block.T).tofile(handle)
            total += block.shape[1]
    except BaseException:
        if handle is not None:
            handle.close()
            os.unlink(spool)
        raise
    if handle is not None:
        handle.close()
    if lead < 0:
        if spool:
            os.unlink(spool)
        raise SilentAudioError(
            track.path, f"silent (no sample above {options.silence_dbfs:g} dBFS)"
        )
    loudness, true_peak = meter.result()
    gain = normalising_gain_db(loudness, target_lufs=options.target_lufs)
    analysed = _Analysed(track, spool, lead, end, loudness, true_peak, gain, rate)
    if spool and true_peak + gain > options.ceiling_dbtp:
        _make_up(analysed, options, check)
    return analysed


def _limited_loudness(track: _Analysed, options: MixOptions, check: Callable[[], None]) -> float:
    """Integrated loudness (LUFS) of the part of ``track`` used, with its gain, after the
    true-peak limiter."""
    limiter = TruePeakLimiter(track.rate, options.ceiling_dbtp)
    meter = LoudnessMeter(track.rate, true_peak=False)
    for a in range(0, track.length, BLOCK):
        check()
        meter.push(limiter.push(track.read(a, min(a + BLOCK, track.length))))
    meter.push(limiter.finish())
    return meter.result()[0]


def _make_up(track: _Analysed, options: MixOptions, check: Callable[[], None]) -> None:
    """Correct ``track.gain_db`` by the loudness the limiter takes from its peaks.

    Each try adds what the last measure missed, and is kept only if it comes closer to the
    target (a track that is nothing but peaks gains nothing from more gain: it is left where
    the limiter lets it be).
    """
    miss = options.target_lufs - _limited_loudness(track, options, check)
    for _ in range(MAKEUP_PASSES):
        if abs(miss) <= MAKEUP_TOLERANCE:
            return
        kept = track.gain_db
        track.gain_db = kept + miss
        tried = options.target_lufs - _limited_loudness(track, options, check)
        if abs(tried) >= abs(miss):
            track.gain_db = kept
            return
        miss = tried


def _analysed(
    tracks: Iterable[MixTrack],
    options: MixOptions,
    spool_dir: str | None,
    on_error: Callable[[AudioError], None] | None,
    skipped: list[AudioError],
    check: Callable[[], None],
) -> Iterator[_Analysed]:
    """Analyse tracks one by one, leaving out (and reporting) those that fail."""
    for number, track in enumerate(tracks):
        spool = os.path.join(spool_dir, f"{number}.f32") if spool_dir else None
        try:
            yield _analyse(track, options, spool, check)
        except AudioError as error:
            skipped.append(error)
            if on_error is None:
                raise MixError(str(error)) from error
            on_error(error)


def _fade(current: _Analysed, following: _Analysed, crossfade_samples: int) -> int:
    return min(crossfade_samples, current.length // 2, following.length // 2)


def _align_beats(current: _Analysed, following: _Analysed, crossfade_samples: int) -> None:
    """Skip the head of ``following`` so that its beats fall on ``current``'s (if both are
    steady and compatible); records the skip in ``following.beat_skip``."""
    from deejai_model.mix.beats import LISTEN_SECONDS, beat_shift, steady_beats

    rate = current.rate
    fade = _fade(current, following, crossfade_samples)
    if fade <= 0:
        return
    listen = int(LISTEN_SECONDS * rate)
    tail = min(current.length, max(listen, fade))
    outgoing = steady_beats(current.mono(current.length - tail, current.length), rate)
    if outgoing is None:
        return
    incoming = steady_beats(following.mono(0, min(following.length, listen)), rate)
    if incoming is None:
        return
    shift = beat_shift(outgoing, incoming, tail_seconds=tail / rate, fade=fade / rate)
    if shift is None:
        return
    skip = int(round(shift * rate))
    if following.length - skip >= 2 * fade:
        following.lead += skip
        following.beat_skip = skip / rate


def _joins(
    analysed: Iterator[_Analysed], crossfade_samples: int, beat_align: bool = False
) -> Iterator[tuple[_Analysed, int, int, int, _Analysed | None]]:
    """``(track, start, fade_in, fade_out, next track)`` for each track, in mix samples.

    The crossfade between two tracks is ``crossfade_samples``, at most half of either, so a
    track's incoming and outgoing fades never overlap. With ``beat_align`` the next track's
    head may first lose up to a beat (:func:`_align_beats`).
    """
    current = next(analysed, None)
    start = fade_in = 0
    while current is not None:
        following = next(analysed, None)
        fade_out = 0
        if following is not None:
            if beat_align:
                _align_beats(current, following, crossfade_samples)
            fade_out = _fade(current, following, crossfade_samples)
        yield current, start, fade_in, fade_out, following
        start += current.length - fade_out
        current, fade_in = following, fade_out


def _entry(track: _Analysed, start: int, rate: int) -> MixEntry:
    return MixEntry(
        track.track,
        start / rate,
        track.length / rate,
        track.loudness,
        track.gain_db,
        track.beat_skip,
        track.true_peak,
    )


def _placed(
    analysed: Iterator[_Analysed],
    options: MixOptions,
    result: MixResult,
    progress: Callable[[MixEntry], None] | None,
) -> Iterator[tuple[_Analysed, int, int, _Analysed | None]]:
    """``(track, fade_in, fade_out, next track)`` for each track; once the caller has done with
    one, its :class:`MixEntry` goes into ``result`` and to ``progress``.

    Raises :class:`MixError` when no track decodes; sets ``result.duration`` at the end.
    """
    rate = options.sample_rate
    end = 0
    joins = _joins(analysed, int(round(options.crossfade * rate)), options.beat_align)
    for track, start, fade_in, fade_out, following in joins:
        yield track, fade_in, fade_out, following
        result.entries.append(_entry(track, start, rate))
        end = start + track.length
        if progress is not None:
            progress(result.entries[-1])
    if not result.entries:
        raise MixError("no track of the mix could be decoded")
    result.duration = end / rate


def plan_mix(
    tracks: Sequence[MixTrack],
    options: MixOptions,
    *,
    on_error: Callable[[AudioError], None] | None = None,
    progress: Callable[[MixEntry], None] | None = None,
) -> MixResult:
    """Where each track would start in the mix, without writing anything.

    Each track is decoded and measured (trimming silence changes the times), nothing is kept.
    ``on_error`` is called with each track that fails (None: the first failure raises
    :class:`MixError`); ``progress`` with each track placed.
    """
    result = MixResult()
    with deferred_sigint() as check:
        analysed = _analysed(tracks, options, None, on_error, result.skipped, check)
        for _ in _placed(analysed, options, result, progress):
            pass
    return result


def side_paths(path: str) -> tuple[str, str]:
    """The CUE sheet and text tracklist written beside the mix ``path``.

    Named after the whole file name (``mix.mp3`` -> ``mix.mp3.cue``, ``mix.mp3.txt``), so that
    one name rendered to two formats (``mix.mp3``, ``mix.ogg``) keeps both tracklists.
    """
    return path + ".cue", path + ".txt"


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _render(
    tracks: Sequence[MixTrack],
    encoder: Encoder,
    options: MixOptions,
    on_error: Callable[[AudioError], None] | None,
    progress: Callable[[MixEntry], None] | None,
    check: Callable[[], None],
) -> MixResult:
    """Analyse, gain, join and limit ``tracks`` into ``encoder`` (left open)."""
    rate = options.sample_rate
    result = MixResult()
    limiter = TruePeakLimiter(rate, options.ceiling_dbtp)

    def emit(block: np.ndarray) -> None:
        check()
        encoder.write(limiter.push(block))

    with tempfile.TemporaryDirectory(prefix="deejai-mix-") as spool_dir:
        analysed = _analysed(tracks, options, spool_dir, on_error, result.skipped, check)
        first = True
        for track, fade_in, fade_out, following in _placed(analysed, options, result, progress):
            edges = _edges(track, first=first, last=following is None)
            first = False
            for a in range(fade_in, track.length - fade_out, BLOCK):
                b = min(a + BLOCK, track.length - fade_out)
                emit(_faded_edges(track.read(a, b), a, track.length, edges))
            base = track.length - fade_out
            for a in range(0, fade_out, BLOCK):
                b = min(a + BLOCK, fade_out)
                assert following is not None
                outgoing, incoming = track.read(base + a, base + b), following.read(a, b)
                emit(crossfade(outgoing, incoming, n=fade_out, start=a))
            track.drop()
    encoder.write(limiter.finish())
    return result


def _edges(track: _Analysed, *, first: bool, last: bool) -> tuple[int, int]:
    """Samples of fade in and fade out at the mix's edges: the first track's head when it was
    cut from the middle (``offset > 0``), the last one's tail when it was given a duration."""
    n = min(int(round(EDGE_FADE * track.rate)), track.length // 2)
    head = n if first and track.track.offset > 0 else 0
    tail = n if last and track.track.duration is not None else 0
    return head, tail


def _faded_edges(block: np.ndarray, start: int, length: int, edges: tuple[int, int]) -> np.ndarray:
    """``block`` (samples ``start:`` of a ``length``-sample track) with the edge fades of
    :func:`_edges` applied."""
    head, tail = edges
    stop = start + block.shape[1]
    if start < head:
        k = min(stop, head) - start
        block[:, :k] *= edge_fade_curve(head, start, start + k)
    if tail and stop > length - tail:
        a = max(start, length - tail)
        fall = edge_fade_curve(tail, length - stop, length - a)[::-1]
        block[:, a - start :] *= fall
    return block


def render_mix(
    tracks: Sequence[MixTrack],
    path: str,
    *,
    options: MixOptions,
    on_error: Callable[[AudioError], None] | None = None,
    progress: Callable[[MixEntry], None] | None = None,
) -> MixResult:
    """Render ``tracks`` into the audio file ``path``, with ``path.cue`` and ``path.txt`` beside it.

    Parameters
    ----------
    tracks : sequence of MixTrack
        In mix order.
    path : str
        Output; its extension picks the format (see :mod:`.encode`).
    options : MixOptions
        Loudness target, ceiling, crossfade...
    on_error : callable, optional
        Called with the :class:`AudioError` of each track that cannot be decoded, which is
        then left out. None: the first such track stops the mix (:class:`MixError`).
    progress : callable, optional
        Called with each track's :class:`MixEntry` once it is rendered.

    Returns
    -------
    MixResult

    Raises
    ------
    ValueError
        Unknown output extension.
    MixError
        No track decodes, or a track fails and ``on_error`` is None.
    """
    ext = output_format(path)
    cue_path, text_path = side_paths(path)
    with deferred_sigint() as check, contextlib.ExitStack() as stack:
        # entered last first, so that the mix is renamed into place first (the stack unwinds)
        text_temp, cue_temp, mix_temp = (
            stack.enter_context(replaced_atomically(p, suffix=".part"))
            for p in (text_path, cue_path, path)
        )
        encoder = Encoder(mix_temp, ext, sample_rate=options.sample_rate, kbps=options.kbps)
        try:
            result = _render(tracks, encoder, options, on_error, progress, check)
            chapters = [
                Chapter(e.start, nxt.start if nxt else result.duration, e.track.label)
                for e, nxt in zip(result.entries, [*result.entries[1:], None], strict=True)
            ]
            encoder.close(chapters)
        except BaseException:
            encoder.abort()
            raise
        listed = [e.tracklist_entry() for e in result.entries]
        _write_text(cue_temp, cue_sheet(listed, path))
        _write_text(text_temp, text_tracklist(listed))
        check()
    result.paths = [path, cue_path, text_path]
    return result
