"""Decode one file, or a span of it, to stereo float32 blocks at the mix's sample rate.

Blocks are yielded as they decode (never the whole track), each ``(2, n)`` float32. Mono
files are copied to both channels; other layouts take FFmpeg's downmix. A packet that fails
to decode is skipped, as in :mod:`deejai_model.ears.audio`, whose opening and demuxing it shares.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from deejai_model.ears.audio import (
    DecodeStats,
    PathLike,
    decoded_frames,
    drop_samples,
    open_audio,
)
from deejai_model.errors import EmptyAudioError

#: Output samples per block asked of the resampler.
BLOCK = 32768
#: Seconds before an excerpt's start to seek to (the decoder's warm-up is decoded and dropped).
SEEK_MARGIN = 1.0


def stereo_blocks(
    path: PathLike, sample_rate: int, *, offset: float = 0.0, duration: float | None = None
) -> Iterator[np.ndarray]:
    """Yield ``(2, n)`` float32 blocks of ``path`` at ``sample_rate``, from ``offset`` seconds.

    Parameters
    ----------
    path : str or os.PathLike
        Any file FFmpeg reads.
    sample_rate : int
        Output rate in Hz.
    offset : float
        Seconds into the track where the blocks begin (found by seeking, then cut by the
        frames' timestamps).
    duration : float, optional
        Seconds to yield at most (default: to the end).

    Raises
    ------
    UndecodableAudioError
        Not audio, no audio stream, unreadable header.
    EmptyAudioError
        Nothing decodes from ``offset`` on.
    """
    import av

    container, stream = open_audio(path)
    stats = DecodeStats()
    limit = None if duration is None else int(round(duration * sample_rate))
    produced = 0
    try:
        time_base = stream.time_base
        origin = 0.0
        if stream.start_time is not None and time_base is not None:
            origin = float(stream.start_time * time_base)
        if offset > SEEK_MARGIN and time_base is not None:
            try:
                container.seek(
                    int(math.floor((origin + offset - SEEK_MARGIN) / time_base)),
                    stream=stream,
                    backward=True,
                )
            except av.error.FFmpegError:
                pass  # not seekable: decode from the start and drop what comes before
        resampler = av.AudioResampler(
            format="fltp", layout="stereo", rate=sample_rate, frame_size=BLOCK
        )

        def cut_frames() -> Iterator[Any]:
            """The decoded frames from ``offset`` on (the first one cut), then None (flush)."""
            position = None  # source sample index of the next frame (the first one's timestamp)
            fed = 0
            for frame in decoded_frames(container, stream, stats):
                rate = frame.sample_rate
                if position is None:
                    position = 0
                    if offset > 0 and frame.pts is not None and time_base is not None:
                        position = int(round((float(frame.pts * time_base) - origin) * rate))
                start = int(round(offset * rate))
                if position + frame.samples <= start:
                    position += frame.samples
                    continue
                if position < start:
                    frame = drop_samples(frame, start - position)
                    position = start
                position += frame.samples
                frame.pts = fed  # contiguous timestamps of our own, as in deejai_model.ears.audio
                fed += frame.samples
                yield frame
            yield None

        for frame in cut_frames():
            for out in resampler.resample(frame):
                block = out.to_ndarray()
                if limit is not None:
                    block = block[:, : limit - produced]
                produced += block.shape[1]
                if block.shape[1]:
                    yield block
                if limit is not None and produced >= limit:
                    return
    finally:
        container.close()
    if produced == 0:
        reason = f"no audio samples after {offset:g} s" if offset else "no audio samples"
        raise EmptyAudioError(path, reason)  # as deejai_model.ears.audio says it (not "empty")
