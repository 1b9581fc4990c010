"""Decode audio files to mono float32 at a chosen sample rate, with PyAV (libsndfile reads what
FFmpeg refuses to open: :mod:`deejai_model.ears.sndfile`).

The ways in:

- :func:`decode` reads a whole file (or one span of it) packet by packet;
- :func:`decode_excerpts` reads K short excerpts by *seeking*, which costs a small fraction of a
  whole-file decode on long tracks;
- :func:`probe_duration` reads the declared duration;
- :class:`AudioFile` holds one file open for all three, so a caller that reads a file in
  several rounds (:mod:`deejai_model.ears.excerpts`) opens it once.

All go through the same pipeline, so an excerpt equals the same span of a full decode (up to
the first few resampler taps, which are decoded as pre-roll and thrown away):

1. demux and decode packet by packet; a packet that fails to decode is skipped and counted
   instead of failing the file;
2. place the decoded samples by their timestamps (compared over 1.5 s of frames, because
   Ogg Vorbis frames can carry timestamps 448 or 896 samples late, see :func:`_anchor`);
3. cut at a source sample that falls exactly on the output sample grid (only the frame holding
   the cut is copied), and hand the frames to
   ``av.AudioResampler(format="flt", layout="mono", rate=sr, frame_size=16000)``, which mixes
   down and resamples in one pass (stereo is rescaled to the mean of the two channels).

PyAV is imported inside the functions: importing this module costs nothing. Ctrl-C in the main
thread is deferred while a function here runs and raised between packets
(:mod:`deejai_model.interrupt`): raised inside FFmpeg's calls it could be lost.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deejai_model.errors import EmptyAudioError, SilentAudioError, UndecodableAudioError
from deejai_model.interrupt import check, deferred_sigint

#: Peak amplitude (full scale = 1.0) below which decoded audio counts as silent.
SILENCE_PEAK = 1e-4
#: Seconds decoded before an excerpt and then thrown away (decoder and resampler warm-up).
PREROLL_SECONDS = 0.2
#: Output samples per frame asked of the resampler (small frames make it much slower).
RESAMPLER_FRAME_SIZE = 16000
#: Seconds of decoded frames whose timestamps are compared to place decoded samples.
_ANCHOR_SECONDS = 1.5
#: Seconds of source kept before an excerpt's start when cutting on the output grid.
_RESAMPLER_MARGIN = 0.05

PathLike = str | os.PathLike


@dataclass
class DecodeStats:
    """What one decode call met along the way.

    Attributes
    ----------
    corrupt_packets : int
        Packets that failed to decode and were skipped.
    messages : list of str
        The first few decoder messages about them.
    """

    corrupt_packets: int = 0
    messages: list[str] = field(default_factory=list)


def open_audio(path: PathLike) -> tuple[Any, Any]:
    """Open ``path`` and return ``(container, first audio stream)``.

    A file FFmpeg refuses to open is decoded by libsndfile instead
    (:func:`deejai_model.ears.sndfile.wav_bytes`) and the in-memory WAV is opened, so every
    read of :mod:`deejai_model.ears.audio` (seeking included) works on it the same way.

    Raises
    ------
    UndecodableAudioError
        Neither decoder can read the file, it has no audio stream, or no sample rate; the
        reason is plain words, without the path or FFmpeg's error number.
    """
    import av

    try:
        # PyAV wants a str; os.fsdecode keeps any bytes of a non-UTF-8 name (surrogateescape).
        # Tags are never read here, so tags in a wrong encoding must not stop the decode.
        container = av.open(os.fsdecode(path), mode="r", metadata_errors="replace")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        container = _open_with_libsndfile(path, exc)
    return _audio_stream(path, container)


def _open_with_libsndfile(path: PathLike, refused: BaseException) -> Any:
    """The container of the in-memory WAV libsndfile makes of ``path`` (FFmpeg ``refused``)."""
    import av

    from deejai_model.ears.sndfile import SndfileRefused, wav_bytes

    ffmpeg = _plain_reason(refused)
    if isinstance(refused, FileNotFoundError | PermissionError | IsADirectoryError):
        raise UndecodableAudioError(path, f"cannot open: {ffmpeg}") from None
    try:
        data = wav_bytes(path)
    except SndfileRefused as exc:
        reason = f"not a readable audio file (FFmpeg: {ffmpeg}; libsndfile: {exc})"
        raise UndecodableAudioError(path, reason) from None
    import io

    return av.open(io.BytesIO(data), mode="r", format="wav")


def _audio_stream(path: PathLike, container: Any) -> tuple[Any, Any]:
    """``(container, its first audio stream)``; the container is closed when there is none."""
    if not container.streams.audio:
        container.close()
        raise UndecodableAudioError(path, "no audio stream")
    stream = container.streams.audio[0]
    if not stream.codec_context or not stream.codec_context.sample_rate:
        container.close()
        raise UndecodableAudioError(path, "audio stream has no sample rate (corrupt header?)")
    return container, stream


def _plain_reason(exc: BaseException) -> str:
    """What went wrong, in lower-case words: FFmpeg's text without its error number and path."""
    text = getattr(exc, "strerror", None) or _one_line(exc)
    text = " ".join(str(text).split()).rstrip(".")
    return text[:1].lower() + text[1:]


def _declared_duration(container: Any, stream: Any) -> float | None:
    """Seconds the stream's (else the container's) header declares; None when neither does."""
    import av

    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return float(container.duration / av.time_base)
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def decoded_frames(container: Any, stream: Any, stats: DecodeStats) -> Iterator[Any]:
    """Yield the decoded audio frames of ``stream``, skipping (and counting) bad packets."""
    import av

    packets = container.demux(stream)
    while True:
        check()  # a Ctrl-C pressed while FFmpeg ran (see deejai_model.interrupt)
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.error.FFmpegError, ValueError) as exc:
            # the container itself is broken from here on: keep what decoded so far
            stats.corrupt_packets += 1
            if len(stats.messages) < 5:
                stats.messages.append("demux: " + _one_line(exc))
            return
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, ValueError) as exc:
            stats.corrupt_packets += 1
            if len(stats.messages) < 5:
                stats.messages.append(_one_line(exc))
            continue
        for frame in frames:
            if frame.samples:
                yield frame


def drop_samples(frame: Any, skip: int) -> Any:
    """A copy of ``frame`` without its first ``skip`` samples (same format, layout, rate)."""
    import av

    data = frame.to_ndarray()
    if frame.format.is_planar:
        data = data[:, skip:]
    else:
        data = data[:, skip * len(frame.layout.channels) :]
    out = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(data), format=frame.format.name, layout=frame.layout.name
    )
    out.sample_rate = frame.sample_rate
    return out


class _Resampler:
    """Feed decoded frames (any format and layout); collect mono float32 at ``rate``.

    FFmpeg's resampler does the mixdown and the rate conversion in one pass. Its stereo to
    mono matrix is ``(L + R) / sqrt(2)``; the output is rescaled to the mean ``(L + R) / 2``
    (what librosa's ``to_mono`` and so the upstream models saw). Other layouts keep FFmpeg's
    downmix. A change of format, layout or rate mid-stream starts a new resampler.
    """

    def __init__(self, rate: int):
        self.rate = rate
        self._out: list[np.ndarray] = []
        self._resampler: Any = None
        self._key: tuple[str, str, int] | None = None
        self._gain = 1.0
        self._fed = 0

    def _flush(self) -> None:
        if self._resampler is not None:
            self._collect(self._resampler.resample(None))
            self._resampler = None

    def _collect(self, frames: list[Any]) -> None:
        for out in frames:
            block = out.to_ndarray().reshape(-1)
            self._out.append(block * np.float32(self._gain) if self._gain != 1.0 else block)

    def feed(self, frame: Any) -> None:
        import av

        key = (frame.format.name, frame.layout.name, int(frame.sample_rate))
        if key != self._key:
            self._flush()
            self._key = key
            self._resampler = av.AudioResampler(
                format="flt", layout="mono", rate=self.rate, frame_size=RESAMPLER_FRAME_SIZE
            )
            self._gain = math.sqrt(0.5) if len(frame.layout.channels) == 2 else 1.0
            self._fed = 0
        # Timestamps are ours: samples are taken as contiguous (like a plain full decode).
        frame.pts = self._fed
        self._fed += frame.samples
        self._collect(self._resampler.resample(frame))

    def finish(self) -> np.ndarray:
        self._flush()
        if not self._out:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._out).astype(np.float32, copy=False)


def _grid(src_rate: int, rate: int) -> int:
    """Source samples between two instants that fall exactly on both sample grids."""
    return src_rate // math.gcd(src_rate, rate)


def _check_audio(path: PathLike, samples: int, peak: float) -> None:
    if samples == 0:
        raise EmptyAudioError(path, "no audio samples")
    if not peak >= SILENCE_PEAK:
        raise SilentAudioError(path, f"silent (peak {peak:.2g} < {SILENCE_PEAK:g})")


def _check_rate(sample_rate: int) -> int:
    rate = int(sample_rate)
    if rate <= 0 or rate != sample_rate:
        raise ValueError(f"sample_rate must be a positive integer, not {sample_rate!r}")
    return rate


def _decode_whole(
    container: Any, stream: Any, rate: int, duration: float | None, stats: DecodeStats
) -> np.ndarray:
    src_rate = int(stream.codec_context.sample_rate)
    resampler = _Resampler(rate)
    limit = None if duration is None else int(math.ceil(duration * src_rate)) + 64
    total = 0
    for frame in decoded_frames(container, stream, stats):
        resampler.feed(frame)
        total += frame.samples
        if limit is not None and total >= limit:
            break
    audio = resampler.finish()
    if duration is not None:
        audio = audio[: int(round(duration * rate))]
    return audio


def _origin(container: Any, stream: Any, stats: DecodeStats) -> float:
    """Timestamp, in seconds, of the first sample of a full decode.

    Read from the first few frames of the file (the stream's declared ``start_time`` can
    disagree with the frames: a Vorbis file may start at -128 samples). Leaves the container
    read from the start; the caller seeks next.
    """
    anchors: list[int] = []
    decoded = 0
    src_rate = 0
    for frame in decoded_frames(container, stream, stats):
        src_rate = src_rate or int(frame.sample_rate)
        if frame.pts is not None:
            anchors.append(int(round(frame.pts * stream.time_base * src_rate)) - decoded)
        decoded += frame.samples
        if decoded >= _ANCHOR_SECONDS * src_rate:
            break
    if anchors:
        return _anchor(anchors) / src_rate
    if stream.start_time is not None:
        return float(stream.start_time * stream.time_base)
    return 0.0


def _decode_span(
    container: Any,
    stream: Any,
    rate: int,
    start: float,
    length: int | None,
    stats: DecodeStats,
    origin: float,
) -> np.ndarray:
    """Seek to just before ``start`` seconds, decode, and return ``length`` samples at ``rate``.

    Fewer samples come back when the file ends first (``length=None``: up to the end).
    ``origin`` is the timestamp, in seconds, of the track's first sample (see :func:`_origin`).
    """
    import av

    time_base = stream.time_base
    seek_to = start - PREROLL_SECONDS
    if seek_to > 0:
        try:
            container.seek(
                int(math.floor((origin + seek_to) / time_base)), stream=stream, backward=True
            )
        except av.error.FFmpegError:  # not seekable: read from the start (slow, still right)
            _rewind(container, stream, origin)
    else:
        _rewind(container, stream, origin)

    # Geometry in source samples (relative to the track's first sample), set by the first
    # frame: its rate is the truth (a header can declare the core rate of HE-AAC).
    src_rate = want_from = grid = margin = 0
    want_to: int | None = None
    resampler = _Resampler(rate)
    pending: list[Any] = []  # frames decoded before their placement is known
    anchors: list[int] = []  # where each frame says the first decoded sample sits
    first: int | None = None  # index of the first decoded sample, once known
    cut = 0  # first source sample handed to the resampler
    decoded = 0

    def place() -> None:
        # Cut on a source sample that also falls on the output grid, a little before the
        # start, so the output lines up with a full decode's and the warm-up is discarded.
        nonlocal first, cut, pending
        first = _anchor(anchors)
        cut = max(0, want_from - margin) // grid * grid
        if cut < first:  # the pre-roll did not reach back far enough (or at the file start)
            cut = -(-first // grid) * grid
        index = first
        for frame in pending:
            push(frame, index)
            index += frame.samples
        pending = []

    def push(frame: Any, index: int) -> None:
        if index + frame.samples <= cut:
            return
        resampler.feed(drop_samples(frame, cut - index) if index < cut else frame)

    for frame in decoded_frames(container, stream, stats):
        if not src_rate:
            src_rate = int(frame.sample_rate)
            want_from = int(math.floor(start * src_rate))
            if length is not None:
                want_to = int(math.ceil((start * rate + length) * src_rate / rate))
            grid = _grid(src_rate, rate)
            margin = int(_RESAMPLER_MARGIN * src_rate)
        if first is None:
            if frame.pts is not None:
                position = int(round((frame.pts * time_base - origin) * src_rate))
                anchors.append(position - decoded)
            pending.append(frame)
            decoded += frame.samples
            if anchors and (
                decoded >= _ANCHOR_SECONDS * src_rate
                or (want_to is not None and min(anchors) + decoded >= want_to + 64)
            ):
                place()
        else:
            push(frame, first + decoded)
            decoded += frame.samples
        if first is not None and want_to is not None and first + decoded >= want_to + 64:
            break
    if first is None:
        if not pending:
            return np.zeros(0, dtype=np.float32)
        if not anchors:
            raise UndecodableAudioError("?", "frames carry no timestamps: cannot seek")
        place()
    assert first is not None
    audio = resampler.finish()
    skip = int(round(start * rate)) - cut * rate // src_rate
    if skip < 0:
        audio = np.concatenate([np.zeros(-skip, dtype=np.float32), audio])
        skip = 0
    audio = audio[skip:]
    if length is not None:
        audio = audio[:length]
    return audio


def _rewind(container: Any, stream: Any, origin: float) -> None:
    """Seek back to the very first packet, priming packets included (AAC's sit before 0)."""
    import av

    try:
        container.seek(
            int(math.floor((origin - 1.0) / stream.time_base)), stream=stream, backward=True
        )
    except av.error.FFmpegError:
        try:
            container.seek(int(math.floor(origin / stream.time_base)), stream=stream, backward=True)
        except av.error.FFmpegError as exc:  # FLAC with garbage frames: EPERM ("not permitted")
            raise UndecodableAudioError("?", "cannot seek in the audio (corrupt file?)") from exc


def _anchor(anchors: list[int]) -> int:
    """Where the first decoded sample sits, from what each frame's timestamp says.

    Ogg Vorbis timestamps inside a page are guessed by the demuxer and can run 448 (or 896)
    samples late for a stretch of frames (after a short block); the timestamp at a page's
    end is exact. Timestamps are never early, so the smallest value that at least two
    frames agree on is taken (the smallest of all when no two agree).
    """
    counts: dict[int, int] = {}
    for value in anchors:
        counts[value] = counts.get(value, 0) + 1
    agreed = [value for value, count in counts.items() if count >= 2]
    return min(agreed) if agreed else min(anchors)


class AudioFile:
    """One audio file held open: its duration, excerpts decoded by seeking, or the whole track.

    Reading a file in several rounds through one of these opens it once and finds the
    timestamp of its first sample once; every round gives what a fresh open would (a seek
    flushes the decoder, and a whole-track decode starts from a fresh open).

    Parameters
    ----------
    path : str or os.PathLike
        Any file FFmpeg can read (mp3, m4a/aac, flac, ogg vorbis/opus, wav...).
    stats : DecodeStats, optional
        Where the reads count the packets that failed to decode (a new one when omitted).

    Raises
    ------
    UndecodableAudioError
        Not audio, no audio stream, unreadable header.

    Examples
    --------
    >>> with AudioFile("song.mp3") as song:  # doctest: +SKIP
    ...     first, last = song.excerpts(16000, starts=[0.0, song.duration() - 3.0], length=3.0)
    """

    def __init__(self, path: PathLike, stats: DecodeStats | None = None) -> None:
        self.path = path
        self.stats = DecodeStats() if stats is None else stats
        self._read = False  # frames were decoded: a whole-track read must open it again
        self._origin: float | None = None
        container = None
        try:
            with deferred_sigint():  # Ctrl-C is raised after FFmpeg returns, never inside it
                container, self._stream = open_audio(path)
                self._duration = _declared_duration(container, self._stream)  # None: count
        except BaseException:  # a press raised on leaving the scope: no open file is left
            if container is not None:
                container.close()
            raise
        self._container = container

    def __enter__(self) -> AudioFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @deferred_sigint()
    def close(self) -> None:
        """Close the file (the object is unusable afterwards)."""
        self._container.close()

    def _fresh(self) -> None:
        """Open the file again when frames were read, so reading starts at its beginning."""
        if self._read:
            self._container.close()
            self._container, self._stream = open_audio(self.path)
        self._read = True

    @deferred_sigint()
    def duration(self) -> float:
        """The duration of the first audio stream, in seconds.

        The stream's or container's declared duration when there is one; otherwise the file
        is decoded (at its own rate) and its samples are counted, once.

        Returns
        -------
        float
            Seconds (0.0 for a file with no samples). A truncated file or an MP3 without a
            length header can declare more than it holds.
        """
        if self._duration is None:
            self._fresh()
            frames = decoded_frames(self._container, self._stream, DecodeStats())
            total = sum(frame.samples for frame in frames)
            self._duration = total / float(self._stream.codec_context.sample_rate)
        return self._duration

    def _first_sample(self) -> float:
        """Timestamp, in seconds, of the track's first sample (see :func:`_origin`), once."""
        if self._origin is None:
            self._fresh()
            self._origin = _origin(self._container, self._stream, self.stats)
        return self._origin

    @deferred_sigint()
    def decode(
        self, sample_rate: int, *, offset: float = 0.0, duration: float | None = None
    ) -> np.ndarray:
        """Decode the track, or one span of it, to mono float32: see :func:`decode`."""
        rate = _check_rate(sample_rate)
        if offset < 0 or (duration is not None and duration < 0):
            raise ValueError("offset and duration must be >= 0")
        if offset > 0:
            length = None if duration is None else int(round(duration * rate))
            audio = self._span(rate, offset, length)
        else:
            self._fresh()
            audio = _decode_whole(self._container, self._stream, rate, duration, self.stats)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if audio.size == 0 and offset > 0:
            raise EmptyAudioError(self.path, f"no audio samples after {offset:g} s")
        _check_audio(self.path, audio.size, peak)
        return audio

    @deferred_sigint()
    def excerpts(
        self,
        sample_rate: int,
        *,
        starts: Sequence[float] | np.ndarray,
        length: float,
        pad: bool = True,
    ) -> list[np.ndarray]:
        """Decode excerpts by seeking, one per start: see :func:`decode_excerpts`."""
        rate = _check_rate(sample_rate)
        n = int(round(length * rate))
        if n <= 0:
            raise ValueError("length must be at least one sample")
        out: list[np.ndarray] = []
        for start in starts:
            start = float(start)
            if start < 0:
                raise ValueError(f"excerpt start must be >= 0, not {start}")
            audio = self._span(rate, start, n)
            if pad and audio.size < n:
                audio = np.concatenate([audio, np.zeros(n - audio.size, dtype=np.float32)])
            out.append(audio)
        if not out:
            return out
        peak = max((float(np.max(np.abs(a))) for a in out if a.size), default=0.0)
        if peak == 0.0 and self.duration() <= 0.0:
            raise EmptyAudioError(self.path, "no audio samples")
        _check_audio(self.path, n, peak)
        return out

    def _span(self, rate: int, start: float, length: int | None) -> np.ndarray:
        origin = self._first_sample()
        try:
            return _decode_span(
                self._container, self._stream, rate, start, length, self.stats, origin
            )
        except UndecodableAudioError as exc:
            raise UndecodableAudioError(self.path, exc.reason) from None


def probe_duration(path: PathLike) -> float:
    """Return the duration of the first audio stream of ``path``.

    The container's or stream's declared duration is used when there is one; otherwise the
    file is decoded (at its own rate) and its samples are counted.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file.

    Returns
    -------
    float
        Duration in seconds (may be 0.0 for an empty file).

    Raises
    ------
    UndecodableAudioError
        The file cannot be opened or has no audio stream.
    """
    with AudioFile(path) as audio_file:
        return audio_file.duration()


def decode(
    path: PathLike,
    sample_rate: int,
    *,
    offset: float = 0.0,
    duration: float | None = None,
    stats: DecodeStats | None = None,
) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate``.

    Parameters
    ----------
    path : str or os.PathLike
        Any file FFmpeg can read (mp3, m4a/aac, flac, ogg vorbis/opus, wav...).
    sample_rate : int
        Output rate in Hz (e.g. 16000 or 22050).
    offset : float, optional
        Seconds from the start of the track where decoding begins (found by seeking).
    duration : float, optional
        Seconds to decode from ``offset``; ``None`` means up to the end. The result is shorter
        when the file ends first (never padded).
    stats : DecodeStats, optional
        Filled with the packets that failed to decode and were skipped.

    Returns
    -------
    np.ndarray
        1-D float32 samples, full scale 1.0.

    Raises
    ------
    UndecodableAudioError
        Not audio, no audio stream, unreadable header.
    EmptyAudioError
        Nothing decodes (0 samples).
    SilentAudioError
        The decoded peak is below ``SILENCE_PEAK``.
    """
    with AudioFile(path, stats) as audio_file:
        return audio_file.decode(sample_rate, offset=offset, duration=duration)


def decode_excerpts(
    path: PathLike,
    sample_rate: int,
    *,
    starts: Sequence[float] | np.ndarray,
    length: float,
    pad: bool = True,
    stats: DecodeStats | None = None,
) -> list[np.ndarray]:
    """Decode excerpts of ``length`` seconds beginning at each of ``starts``, by seeking.

    One container is opened for all excerpts. Each excerpt is decoded from about
    ``PREROLL_SECONDS`` before its start and cut by timestamps, so it matches the same span of
    :func:`decode` (bit for bit for PCM, FLAC, MP3 and Vorbis in our tests).

    Parameters
    ----------
    path : str or os.PathLike
        Audio file.
    sample_rate : int
        Output rate in Hz.
    starts : sequence of float
        Start of each excerpt, seconds from the start of the track, in any order.
    length : float
        Length of every excerpt in seconds.
    pad : bool, optional
        Zero-pad an excerpt that the end of the file cuts short (default). With ``False`` it
        comes back shorter (empty when it starts past the end), which tells where the audio
        really ends when the declared duration is wrong (truncated files, MP3s without a
        length header).
    stats : DecodeStats, optional
        Filled with the packets that failed to decode and were skipped.

    Returns
    -------
    list of np.ndarray
        One 1-D float32 array per start, in the order of ``starts``, each exactly
        ``round(length * sample_rate)`` samples (with ``pad``; at most that many without).

    Raises
    ------
    UndecodableAudioError, EmptyAudioError, SilentAudioError
        As :func:`decode`; silence is judged over all the excerpts together.
    """
    with AudioFile(path, stats) as audio_file:
        return audio_file.excerpts(sample_rate, starts=starts, length=length, pad=pad)
