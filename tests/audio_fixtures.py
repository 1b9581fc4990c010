"""Generators of test audio, shared by the test modules.

Signals are plain numpy arrays (float32, shape ``(samples,)`` for mono or ``(samples, channels)``),
deterministic for a given ``seed``; :func:`write_audio` writes them as wav, flac, mp3, m4a (AAC),
ogg (Vorbis) or opus, with soundfile for PCM/FLAC/Vorbis and PyAV's FFmpeg encoders for the rest.

Example (pytest puts ``tests/`` on ``sys.path``)::

    from audio_fixtures import chord, stereo, write_audio
    path = write_audio(tmp_path / "c.mp3", stereo(chord(5.0, 44100)), 44100)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Extensions :func:`write_audio` knows, with the encoder and sample rate for each.
FORMATS: dict[str, tuple[str, int | None]] = {
    # extension: (encoder, forced sample rate); wav/flac/ogg are written by libsndfile, the
    # others by the FFmpeg libraries inside PyAV's wheel, so no ffmpeg command line is needed.
    "wav": ("", None),
    "flac": ("", None),
    "ogg": ("", None),
    "mp3": ("libmp3lame", None),
    "m4a": ("aac", None),
    "opus": ("libopus", 48000),
}

#: A major triad on A3 (Hz).
A_MAJOR = (220.0, 277.18, 329.63)


def _time(seconds: float, sample_rate: int) -> np.ndarray:
    return np.arange(int(round(seconds * sample_rate)), dtype=np.float64) / sample_rate


def tone(seconds: float, sample_rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    """A sine tone of ``freq`` Hz, ``amp`` peak, ``seconds`` long (mono float32)."""
    return (amp * np.sin(2 * np.pi * freq * _time(seconds, sample_rate))).astype(np.float32)


def chord(
    seconds: float,
    sample_rate: int,
    freqs: Sequence[float] = A_MAJOR,
    amp: float = 0.5,
) -> np.ndarray:
    """Sum of equal sines at ``freqs`` Hz, scaled to ``amp`` peak at most (mono float32)."""
    t = _time(seconds, sample_rate)
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs)
    return (amp * x / max(1, len(freqs))).astype(np.float32)


def noise_bursts(
    seconds: float,
    sample_rate: int,
    every: float = 0.5,
    burst: float = 0.1,
    amp: float = 0.3,
    seed: int = 0,
) -> np.ndarray:
    """White-noise bursts of ``burst`` s every ``every`` s, silence between (mono float32)."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    x = np.zeros(n, dtype=np.float32)
    step, width = int(every * sample_rate), int(burst * sample_rate)
    for start in range(0, n, max(1, step)):
        stop = min(n, start + width)
        x[start:stop] = amp * rng.standard_normal(stop - start)
    return x


def clicks(
    seconds: float, sample_rate: int, bpm: float = 120.0, amp: float = 0.8, click: float = 0.01
) -> np.ndarray:
    """A click track at ``bpm`` beats per minute: decaying 2 kHz blips (mono float32)."""
    n = int(round(seconds * sample_rate))
    x = np.zeros(n, dtype=np.float32)
    width = max(1, int(click * sample_rate))
    t = np.arange(width) / sample_rate
    blip = (amp * np.sin(2 * np.pi * 2000 * t) * np.exp(-t / (click / 4))).astype(np.float32)
    period = 60.0 / bpm
    for k in range(int(seconds / period) + 1):
        start = int(round(k * period * sample_rate))
        if start >= n:
            break
        stop = min(n, start + width)
        x[start:stop] += blip[: stop - start]
    return x


def music(seconds: float, sample_rate: int, bpm: float = 120.0, seed: int = 0) -> np.ndarray:
    """A cheap 'song': a chord that changes every 2 s under a click track (mono float32).

    Deterministic for ``seed``; distinct enough along time that a misplaced excerpt shows.
    """
    rng = np.random.default_rng(seed)
    t = _time(seconds, sample_rate)
    out = np.zeros_like(t)
    seg = int(2 * sample_rate)
    for start in range(0, t.size, seg):
        root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        sl = slice(start, start + seg)
        for ratio in (1.0, 1.26, 1.5):
            out[sl] += np.sin(2 * np.pi * root * ratio * t[sl])
    out = 0.15 * out + clicks(seconds, sample_rate, bpm)
    return np.clip(out, -0.99, 0.99).astype(np.float32)


def stereo(left: np.ndarray, right: np.ndarray | None = None) -> np.ndarray:
    """Stack two mono signals (or one with a half-level copy of itself) into (samples, 2)."""
    if right is None:
        right = 0.5 * left
    return np.stack([left, right], axis=1).astype(np.float32)


def have_ffmpeg() -> bool:
    """True when the ffmpeg command line is on PATH."""
    return shutil.which("ffmpeg") is not None


def write_audio(path: str | os.PathLike, signal: np.ndarray, sample_rate: int) -> Path:
    """Write ``signal`` to ``path`` in the format its extension names.

    Parameters
    ----------
    path : str or os.PathLike
        Target; the extension (one of ``FORMATS``) picks the format.
    signal : np.ndarray
        float32 samples, ``(n,)`` or ``(n, channels)``, full scale 1.0.
    sample_rate : int
        Hz. Opus is resampled by its encoder to 48 kHz (as every Opus file is).

    Returns
    -------
    Path
        ``path``.
    """
    import soundfile as sf

    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError(f"unknown format {ext!r}")
    if ext in ("wav", "flac", "ogg"):
        kind = {"wav": ("WAV", "FLOAT"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS")}
        fmt, subtype = kind[ext]
        channels = 1 if signal.ndim == 1 else signal.shape[1]
        with sf.SoundFile(path, "w", sample_rate, channels, subtype, format=fmt) as out:
            for start in range(0, len(signal), 65536):  # libsndfile's Vorbis crashes on huge writes
                out.write(signal[start : start + 65536])
        return path
    codec, rate = FORMATS[ext]
    _encode_with_pyav(path, signal, sample_rate, codec, rate or sample_rate)
    return path


def _encode_with_pyav(
    path: Path, signal: np.ndarray, sample_rate: int, codec: str, out_rate: int
) -> None:
    """Encode float samples with one of FFmpeg's encoders through PyAV (128 kb/s)."""
    import av

    samples = np.asarray(signal, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[:, None]
    layout = "mono" if samples.shape[1] == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=out_rate, layout=layout)
        stream.bit_rate = 128_000
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples.T), format="fltp", layout=layout
        )
        frame.sample_rate = sample_rate
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def set_raw_vorbis_comments(path: str | os.PathLike, comments: Sequence[bytes]) -> None:
    """Replace the Vorbis comment packet of an Ogg Vorbis file with raw ``comments``.

    Each comment is written byte for byte (e.g. ``b"TITLE=Caf\\xe9"``, Latin-1 as older rippers
    wrote them, although the Vorbis spec says UTF-8), which no tagging library will do; the Ogg
    pages are rebuilt with mutagen's page code (CRCs, sequence numbers).
    """
    import struct

    from mutagen.ogg import OggPage

    with open(path, "r+b") as f:
        pages = []
        while True:
            try:
                pages.append(OggPage(f))
            except EOFError:
                break
        # page 1 holds the comment packet and the setup packet (libsndfile and libvorbis)
        head = [page for page in pages if page.sequence == 1]
        packets = OggPage.to_packets(head)
        vendor = b"deejai tests"
        packet = b"\x03vorbis" + struct.pack("<I", len(vendor)) + vendor
        packet += struct.pack("<I", len(comments))
        for comment in comments:
            packet += struct.pack("<I", len(comment)) + comment
        packet += b"\x01"  # framing bit
        new = OggPage.from_packets([packet, *packets[1:]], head[0].sequence)
        for page in new:
            page.serial = head[0].serial
        OggPage.replace(f, head, new)


def refused_by_ffmpeg(path: str | os.PathLike) -> None:
    """Make an Ogg Vorbis file (e.g. from :func:`write_audio`) one FFmpeg refuses to open
    while libsndfile (libvorbis) still plays it.

    One zero byte is appended to the Vorbis identification packet: FFmpeg's Ogg demuxer wants
    that packet exactly 30 bytes long ("Invalid data found when processing input", as with the
    real files written by libVorbis 1.3.1 that were met), libvorbis reads its fields and
    ignores what follows.  The first page is rebuilt with mutagen's page code (CRC).
    """
    from mutagen.ogg import OggPage

    with open(path, "r+b") as f:
        first = OggPage(f)
        (packet,) = OggPage.to_packets([first])
        (page,) = OggPage.from_packets([packet + b"\x00"], first.sequence)
        page.serial, page.position, page.first = first.serial, first.position, True
        OggPage.replace(f, [first], [page])
