"""Decode audio files to mono float32 at a chosen sample rate, with PyAV.

Two ways in:

- :func:`decode` reads a whole file (or one span of it) packet by packet;
- :func:`decode_excerpts` reads K short excerpts by *seeking*, which costs a small fraction of a
  whole-file decode on long tracks.

Both go through the same pipeline, so an excerpt equals the same span of a full decode (up to
the first few resampler taps, which are decoded as pre-roll and thrown away):

1. demux and decode packet by packet; a packet that fails to decode is skipped and counted
   instead of failing the file;
2. convert each decoded frame to float32 and mix it down to mono (mean of the channels) at the
   source rate;
3. place the samples by their timestamps (the median of what every frame says, because the first
   frame after a seek can carry a timestamp that is a few hundred samples late);
4. cut at a source sample that falls exactly on the output sample grid, and resample with
   ``av.AudioResampler(format="flt", layout="mono", rate=sr, frame_size=...)``.

PyAV is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deejai_model.errors import EmptyAudioError, SilentAudioError, UndecodableAudioError

#: Peak amplitude (full scale = 1.0) below which decoded audio counts as silent.
SILENCE_PEAK = 1e-4
#: Seconds decoded before an excerpt and then thrown away (decoder and resampler warm-up).
PREROLL_SECONDS = 0.2
#: Output samples per frame asked of the resampler (small frames make it much slower).
RESAMPLER_FRAME_SIZE = 16000
#: Source samples gathered before they are handed to the resampler in a full decode.
_FEED_SAMPLES = 1 << 16
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
    """

    corrupt_packets: int = 0
    messages: list[str] = field(default_factory=list)


#: Statistics of the most recent call in this process (for logs and tests).
last_stats = DecodeStats()


def _open(path: PathLike) -> tuple[Any, Any]:
    """Open ``path`` and return ``(container, first audio stream)``; raise UndecodableAudioError."""
    import av

    try:
        container = av.open(os.fspath(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise UndecodableAudioError(path, f"cannot open: {_one_line(exc)}") from exc
    if not container.streams.audio:
        container.close()
        raise UndecodableAudioError(path, "no audio stream")
    stream = container.streams.audio[0]
    if not stream.codec_context or not stream.codec_context.sample_rate:
        container.close()
        raise UndecodableAudioError(path, "audio stream has no sample rate (corrupt header?)")
    stream.thread_type = "AUTO"
    return container, stream


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


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
    import av

    container, stream = _open(path)
    try:
        if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
            return float(stream.duration * stream.time_base)
        if container.duration is not None and container.duration > 0:
            return float(container.duration / av.time_base)
        stats = DecodeStats()
        total = sum(samples.shape[0] for _, samples in _mono_frames(container, stream, stats))
        return total / float(stream.codec_context.sample_rate)
    finally:
        container.close()


def _to_mono(frame: Any) -> np.ndarray:
    """Return a decoded frame's samples as mono float32 (mean of the channels), full scale 1."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        data = data.reshape(-1, channels).T
    kind = data.dtype
    if kind == np.int16:
        data = data.astype(np.float32) / 32768.0
    elif kind == np.int32:
        data = data.astype(np.float32) / 2147483648.0
    elif kind == np.uint8:
        data = (data.astype(np.float32) - 128.0) / 128.0
    elif kind == np.int64:
        data = (data / 9223372036854775808.0).astype(np.float32)
    else:
        data = data.astype(np.float32, copy=False)
    if data.shape[0] == 1:
        return np.ascontiguousarray(data[0])
    return data.mean(axis=0, dtype=np.float32)


def _mono_frames(
    container: Any, stream: Any, stats: DecodeStats
) -> Iterator[tuple[Any, np.ndarray]]:
    """Yield ``(pts or None, mono float32 samples)`` per decoded frame; skip bad packets."""
    import av

    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, ValueError) as exc:
            stats.corrupt_packets += 1
            if len(stats.messages) < 5:
                stats.messages.append(_one_line(exc))
            continue
        for frame in frames:
            if frame.samples:
                yield frame.pts, _to_mono(frame)


class _Resampler:
    """Feed mono float32 blocks at ``src_rate``; collect mono float32 at ``rate``."""

    def __init__(self, src_rate: int, rate: int):
        import av

        self._av = av
        self.src_rate = src_rate
        self.rate = rate
        self.passthrough = src_rate == rate
        self._out: list[np.ndarray] = []
        self._fed = 0
        if not self.passthrough:
            self._resampler = av.AudioResampler(
                format="flt", layout="mono", rate=rate, frame_size=RESAMPLER_FRAME_SIZE
            )

    def feed(self, block: np.ndarray) -> None:
        if block.size == 0:
            return
        if self.passthrough:
            self._out.append(block)
            return
        frame = self._av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block, dtype=np.float32).reshape(1, -1),
            format="flt",
            layout="mono",
        )
        frame.sample_rate = self.src_rate
        frame.pts = self._fed
        self._fed += block.size
        for out in self._resampler.resample(frame):
            self._out.append(out.to_ndarray().reshape(-1))

    def finish(self) -> np.ndarray:
        if not self.passthrough and self._fed:
            for out in self._resampler.resample(None):
                self._out.append(out.to_ndarray().reshape(-1))
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


def decode(
    path: PathLike, sample_rate: int, offset: float = 0.0, duration: float | None = None
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
    global last_stats
    rate = _check_rate(sample_rate)
    if offset < 0 or (duration is not None and duration < 0):
        raise ValueError("offset and duration must be >= 0")
    stats = DecodeStats()
    container, stream = _open(path)
    try:
        if offset > 0:
            length = None if duration is None else int(round(duration * rate))
            origin = _origin(container, stream, stats)
            audio = _decode_span(container, stream, rate, offset, length, stats, origin)
        else:
            audio = _decode_whole(container, stream, rate, duration, stats)
    finally:
        container.close()
        last_stats = stats
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if audio.size == 0 and offset > 0:
        raise EmptyAudioError(path, f"no audio samples after {offset:g} s")
    _check_audio(path, audio.size, peak)
    return audio


def _decode_whole(
    container: Any, stream: Any, rate: int, duration: float | None, stats: DecodeStats
) -> np.ndarray:
    src_rate = int(stream.codec_context.sample_rate)
    resampler: _Resampler | None = None
    limit = None if duration is None else int(math.ceil(duration * src_rate)) + 64
    pending: list[np.ndarray] = []
    pending_n = 0
    total = 0
    for _, mono in _mono_frames(container, stream, stats):
        if resampler is None:
            # The rate can only be trusted once a frame has decoded (some headers lie).
            resampler = _Resampler(src_rate, rate)
        pending.append(mono)
        pending_n += mono.size
        total += mono.size
        if pending_n >= _FEED_SAMPLES:
            resampler.feed(np.concatenate(pending))
            pending, pending_n = [], 0
        if limit is not None and total >= limit:
            break
    if resampler is None:
        return np.zeros(0, dtype=np.float32)
    if pending:
        resampler.feed(np.concatenate(pending))
    audio = resampler.finish()
    if duration is not None:
        audio = audio[: int(round(duration * rate))]
    return audio


def _origin(container: Any, stream: Any, stats: DecodeStats) -> int:
    """Timestamp, in source samples, of the first sample of a full decode.

    Read from the first few frames of the file (the stream's declared ``start_time`` can
    disagree with the frames: a Vorbis file may start at -128). Leaves the container read
    from the start; the caller seeks next.
    """
    src_rate = int(stream.codec_context.sample_rate)
    anchors: list[int] = []
    decoded = 0
    for pts, mono in _mono_frames(container, stream, stats):
        if pts is not None:
            anchors.append(int(round(pts * stream.time_base * src_rate)) - decoded)
        decoded += mono.size
        if len(anchors) >= 8:
            break
    if anchors:
        return _anchor(anchors)
    if stream.start_time is not None:
        return int(round(stream.start_time * stream.time_base * src_rate))
    return 0


def _decode_span(
    container: Any,
    stream: Any,
    rate: int,
    start: float,
    length: int | None,
    stats: DecodeStats,
    origin: int,
) -> np.ndarray:
    """Seek to just before ``start`` seconds, decode, and return ``length`` samples at ``rate``.

    Fewer samples come back when the file ends first (``length=None``: up to the end).
    ``origin`` is the timestamp of the track's first sample, in source samples
    (see :func:`_origin`).
    """
    src_rate = int(stream.codec_context.sample_rate)
    time_base = stream.time_base
    seek_to = start - PREROLL_SECONDS
    if seek_to > 0:
        target = (origin + seek_to * src_rate) / src_rate
        container.seek(int(math.floor(target / time_base)), stream=stream, backward=True)
    else:
        _rewind(container, stream, origin / src_rate)

    # Wanted source samples, relative to the track's first sample.
    want_from = int(math.floor(start * src_rate))
    want_to = None if length is None else int(math.ceil((start * rate + length) * src_rate / rate))
    blocks: list[np.ndarray] = []
    anchors: list[int] = []  # what each frame says the first decoded sample's index is
    decoded = 0
    for pts, mono in _mono_frames(container, stream, stats):
        if pts is not None:
            position = int(round(pts * time_base * src_rate)) - origin
            anchors.append(position - decoded)
        blocks.append(mono)
        decoded += mono.size
        if want_to is not None and len(anchors) >= 3 and _anchor(anchors) + decoded >= want_to + 64:
            break
    if not blocks:
        return np.zeros(0, dtype=np.float32)
    if not anchors:
        raise UndecodableAudioError("?", "frames carry no timestamps: cannot seek")
    first = _anchor(anchors)
    source = np.concatenate(blocks)

    # Cut on a source sample that also falls on the output grid, a little before the start,
    # so the resampler's output lines up with a full decode's, and its warm-up is discarded.
    grid = _grid(src_rate, rate)
    margin = int(_RESAMPLER_MARGIN * src_rate)
    cut = max(0, want_from - margin) // grid * grid
    if cut < first:  # pre-roll did not reach back far enough (or we are at the file start)
        cut = -(-first // grid) * grid
    source = source[cut - first :]
    resampler = _Resampler(src_rate, rate)
    resampler.feed(source)
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
        container.seek(int(math.floor(origin / stream.time_base)), stream=stream, backward=True)


def _anchor(anchors: list[int]) -> int:
    return int(np.median(anchors))


def decode_excerpts(
    path: PathLike, sample_rate: int, starts: Sequence[float] | np.ndarray, length: float
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

    Returns
    -------
    list of np.ndarray
        One 1-D float32 array per start, in the order of ``starts``, each exactly
        ``round(length * sample_rate)`` samples (zero-padded at the end when the file ends first).

    Raises
    ------
    UndecodableAudioError, EmptyAudioError, SilentAudioError
        As :func:`decode`; silence is judged over all the excerpts together.
    """
    global last_stats
    rate = _check_rate(sample_rate)
    n = int(round(length * rate))
    if n <= 0:
        raise ValueError("length must be at least one sample")
    stats = DecodeStats()
    container, stream = _open(path)
    out: list[np.ndarray] = []
    try:
        origin = _origin(container, stream, stats) if len(starts) else 0
        for start in starts:
            start = float(start)
            if start < 0:
                raise ValueError(f"excerpt start must be >= 0, not {start}")
            try:
                audio = _decode_span(container, stream, rate, start, n, stats, origin)
            except UndecodableAudioError as exc:
                raise UndecodableAudioError(path, exc.reason) from None
            if audio.size < n:
                audio = np.concatenate([audio, np.zeros(n - audio.size, dtype=np.float32)])
            out.append(audio)
    finally:
        container.close()
        last_stats = stats
    if not out:
        return out
    peak = max(float(np.max(np.abs(a))) for a in out)
    if peak == 0.0 and probe_duration(path) <= 0.0:
        raise EmptyAudioError(path, "no audio samples")
    _check_audio(path, n, peak)
    return out
