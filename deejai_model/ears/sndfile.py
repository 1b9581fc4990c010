"""The second decoder: what FFmpeg refuses, libsndfile (``soundfile``) may still read.

Some real files are refused by FFmpeg's demuxer although libsndfile and ordinary players play
them (e.g. Ogg Vorbis written by libVorbis 1.3.1 whose identification header FFmpeg's Ogg
parser rejects).  :func:`wav_bytes` decodes such a file with libsndfile into an in-memory WAV
(mono float32, the mean of the channels, at the file's own rate), which
:func:`deejai_model.ears.audio.open_audio` then opens with FFmpeg like any file: seeking,
excerpts and resampling stay the one pipeline of :mod:`deejai_model.ears.audio`.
"""

from __future__ import annotations

import io
import os

import numpy as np

#: Frames read from libsndfile at a time (the mono copy is built block by block).
BLOCK_FRAMES = 1 << 16


class SndfileRefused(Exception):
    """libsndfile cannot read the file either; ``str()`` is its reason, in plain words."""


def _plain(text: str) -> str:
    """libsndfile's message as a lower-case phrase without a final full stop."""
    text = " ".join(str(text).split()).rstrip(".")
    return text[:1].lower() + text[1:] if text else "unknown error"


def wav_bytes(path: str | bytes | os.PathLike) -> bytes:
    """Decode ``path`` with libsndfile to an in-memory WAV file.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        An audio file libsndfile knows (WAV, AIFF, FLAC, Ogg Vorbis/Opus, MP3 with
        libsndfile >= 1.1...).

    Returns
    -------
    bytes
        A WAV file: mono (the mean of the channels), 32-bit float, the source's sample rate;
        about ``4 * sample_rate`` bytes per second of audio.

    Raises
    ------
    SndfileRefused
        libsndfile cannot open or read the file (its reason in plain words).
    """
    import soundfile as sf

    out = io.BytesIO()
    try:
        with sf.SoundFile(os.fsdecode(path)) as source:
            rate = int(source.samplerate)
            with sf.SoundFile(
                out, mode="w", samplerate=rate, channels=1, format="WAV", subtype="FLOAT"
            ) as sink:
                for block in source.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
                    sink.write(np.ascontiguousarray(block.mean(axis=1, dtype=np.float32)))
    except sf.LibsndfileError as exc:
        raise SndfileRefused(_plain(exc.error_string)) from None
    except (sf.SoundFileError, OSError, RuntimeError, ValueError) as exc:
        raise SndfileRefused(_plain(getattr(exc, "strerror", None) or str(exc))) from None
    return out.getvalue()
