"""The mix's output file: the format its extension names, encoded with PyAV; chapters.

=========  ============  ==============  ==================================================
extension  container     codec           chapters
=========  ============  ==============  ==================================================
mp3        MP3           LAME, 256 kb/s  ID3v2 ``CHAP`` + ``CTOC`` frames (FFmpeg's muxer)
m4a        MPEG-4        AAC, 256 kb/s   MP4 chapters (written by FFmpeg's muxer)
ogg, opus  Ogg           Opus, 160 kb/s  Vorbis-comment ``CHAPTERnnn`` tags (mutagen)
flac       FLAC          FLAC 16-bit     Vorbis-comment ``CHAPTERnnn`` tags (mutagen)
wav        WAV           PCM 16-bit      none
=========  ============  ==============  ==================================================

PyAV's FFmpeg has no Vorbis encoder worth using, so ``.ogg`` holds Opus (as ``.opus`` does);
every current player reads it.

An MP3's chapters must be in its ID3v2 tag, which the muxer writes before the first frame,
while the chapters are known only once the mix is done. So the MP3 is encoded to a temporary
file beside the output and then copied, packet by packet (no re-encoding: well under a second
for an hour), into the output with the chapters set before the header. FFmpeg's muxer writes
``CHAP`` frames in time order; mutagen would sort them by size, and FFmpeg (so PyAV and most
players) reads them in file order.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np


@dataclass(frozen=True)
class OutputFormat:
    """How one extension is written.

    Attributes
    ----------
    muxer : str
        FFmpeg container format name.
    codec : str
        FFmpeg encoder name.
    kbps : int or None
        Bit rate of a lossy codec (None: lossless).
    rate : int or None
        Sample rate the codec needs (None: the mix's).
    """

    muxer: str
    codec: str
    kbps: int | None
    rate: int | None = None


FORMATS: dict[str, OutputFormat] = {
    "mp3": OutputFormat("mp3", "libmp3lame", 256),
    "m4a": OutputFormat("ipod", "aac", 256),
    "ogg": OutputFormat("ogg", "libopus", 160, 48000),
    "opus": OutputFormat("ogg", "libopus", 160, 48000),
    "flac": OutputFormat("flac", "flac", None),
    "wav": OutputFormat("wav", "pcm_s16le", None),
}


@dataclass(frozen=True)
class Chapter:
    """A named span of the output. ``start``/``end`` in seconds."""

    start: float
    end: float
    title: str


def output_format(path: str | os.PathLike) -> str:
    """The extension of ``path`` as a key of :data:`FORMATS`; ValueError names the known ones."""
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError(
            f"{os.fspath(path)}: unknown output format {ext or '(none)'!r}; "
            f"use one of {', '.join(FORMATS)}"
        )
    return ext


class Encoder:
    """Writes ``(2, n)`` float32 blocks to ``path`` in the format ``ext`` names.

    Parameters
    ----------
    path : str
        Where to write (the caller renames it into place when everything went well).
    ext : str
        A key of :data:`FORMATS`.
    sample_rate : int
        Hz of the blocks.
    kbps : int, optional
        Bit rate of a lossy codec instead of the format's default.
    """

    def __init__(self, path: str, ext: str, *, sample_rate: int, kbps: int | None = None):
        import av

        self.path = path
        self.ext = ext
        self.format = FORMATS[ext]
        self.sample_rate = int(sample_rate)
        self._encoded = path  # mp3: a temporary file, copied into ``path`` with the chapters
        if ext == "mp3" and isinstance(path, str | os.PathLike):  # a file object: streamed
            handle, self._encoded = tempfile.mkstemp(
                prefix=".deejai-", suffix=".mp3.part", dir=os.path.dirname(path) or "."
            )
            os.close(handle)
        self._container: Any = av.open(self._encoded, mode="w", format=self.format.muxer)
        self._stream = self._container.add_stream(
            self.format.codec, rate=self.format.rate or self.sample_rate, layout="stereo"
        )
        bitrate = kbps or self.format.kbps
        if bitrate:
            self._stream.bit_rate = int(bitrate) * 1000
        self._pts = 0

    def write(self, block: np.ndarray) -> None:
        """Encode ``block``: ``(2, n)`` float32, full scale 1.0."""
        import av

        if block.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block, dtype=np.float32), format="fltp", layout="stereo"
        )
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        self._pts += block.shape[1]
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self, chapters: Sequence[Chapter] = ()) -> None:
        """Flush the encoder, add ``chapters`` where the format has them, close the file."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        if chapters and self.ext == "m4a":
            self._container.set_chapters(_av_chapters(chapters))
        self._container.close()
        if self._encoded is not self.path:
            try:
                _copy_with_chapters(self._encoded, self.path, chapters)
            finally:
                os.unlink(self._encoded)
        elif chapters:
            write_tag_chapters(self.path, self.ext, chapters)

    def abort(self) -> None:
        """Close the file without flushing (the caller deletes it); the mp3's temporary goes."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - already failing; the file is deleted next
            pass
        if self._encoded != self.path and os.path.exists(self._encoded):
            os.unlink(self._encoded)


def _av_chapters(chapters: Sequence[Chapter]) -> list[dict]:
    """``chapters`` as PyAV's ``set_chapters`` takes them (milliseconds)."""
    return [
        {
            "id": i + 1,
            "start": int(round(c.start * 1000)),
            "end": int(round(c.end * 1000)),
            "time_base": Fraction(1, 1000),
            "metadata": {"title": c.title},
        }
        for i, c in enumerate(chapters)
    ]


def _copy_with_chapters(source: str, path: str, chapters: Sequence[Chapter]) -> None:
    """Copy the MP3 ``source`` packet by packet into ``path``, its ID3v2 tag holding
    ``chapters`` (``CTOC`` + ``CHAP`` frames in time order, written by FFmpeg's muxer).

    The muxer writes a new Xing/LAME header from the copied stream, encoder delay and padding
    included, so the decoded samples are the same.
    """
    import av

    with av.open(source) as inp, av.open(path, mode="w", format="mp3") as out:
        stream = inp.streams.audio[0]
        copy = out.add_stream_from_template(stream)
        if chapters:
            out.set_chapters(_av_chapters(chapters))
        for packet in inp.demux(stream):
            if packet.dts is None:  # the demuxer's final empty packet
                continue
            packet.stream = copy
            out.mux(packet)


def _clock(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def write_tag_chapters(path: str, ext: str, chapters: Sequence[Chapter]) -> None:
    """Add chapters to a closed Ogg/FLAC file (``CHAPTERnnn`` comments).

    Other formats are left as they are (m4a's and mp3's chapters are written by the muxer).
    """
    if ext in ("ogg", "opus", "flac"):
        if ext == "flac":
            from mutagen.flac import FLAC as Tagged
        else:
            from mutagen.oggopus import OggOpus as Tagged
        tagged = Tagged(path)
        if tagged.tags is None:
            tagged.add_tags()
        for i, chapter in enumerate(chapters, start=1):
            tagged[f"CHAPTER{i:03d}"] = _clock(chapter.start)
            tagged[f"CHAPTER{i:03d}NAME"] = chapter.title
        tagged.save()
