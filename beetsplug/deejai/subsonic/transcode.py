"""``stream`` with ``format`` / ``maxBitRate``: decode with PyAV and encode on the fly.

It reuses the mix's decoder (:func:`deejai_model.mix.source.stereo_blocks`) and encoder
(:class:`deejai_model.mix.encode.Encoder`), writing into a sink that the HTTP response
drains block by block: the first bytes leave after the first decoded block, not after the
whole file.  PyAV is imported only when something is transcoded.
"""

from __future__ import annotations

from collections.abc import Iterator

#: Formats ``stream`` transcodes to (a key of the mix's encoder formats) and their type.
TARGETS = {"mp3": "audio/mpeg", "opus": "audio/ogg", "ogg": "audio/ogg"}
#: Bit rate when only a format is asked for (kb/s).
DEFAULT_KBPS = 192
#: Samples encoded before the first bytes are sent (4 MP3 frames).
FIRST_SAMPLES = 4608
#: Lowest and highest bit rate asked of the encoder (kb/s).
KBPS_RANGE = (32, 320)


class _Sink:
    """A write-only, unseekable file for the muxer: keeps what it is given until drained."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def plan(
    suffix: str, bitrate_kbps: int, *, fmt: str | None, max_kbps: int
) -> tuple[str, int] | None:
    """``(target format, kb/s)`` when the file must be transcoded, else None.

    Parameters
    ----------
    suffix : str
        The file's extension (``"flac"``).
    bitrate_kbps : int
        The file's bit rate (kb/s; 0 when unknown).
    fmt : str or None
        ``format`` as asked (``"raw"``: never transcode; an unknown one is ignored).
    max_kbps : int
        ``maxBitRate`` (0: no limit).
    """
    if fmt == "raw":
        return None
    target = fmt if fmt in TARGETS else None
    over = max_kbps > 0 and (bitrate_kbps == 0 or bitrate_kbps > max_kbps)
    if target is None or target == suffix:
        if not over:
            return None
        target = target or "mp3"
    kbps = max_kbps if max_kbps > 0 else DEFAULT_KBPS
    return target, max(KBPS_RANGE[0], min(KBPS_RANGE[1], kbps))


def transcoded(path: str, target: str, kbps: int, *, offset: float = 0.0) -> Iterator[bytes]:
    """The file at ``path`` encoded as ``target`` at ``kbps``, in chunks as they are made.

    Raises
    ------
    deejai_model.errors.AudioError
        When the file cannot be decoded (before the first chunk).
    """
    from deejai_model.mix.encode import FORMATS, Encoder
    from deejai_model.mix.source import stereo_blocks

    rate = FORMATS[target].rate or 44100
    blocks = stereo_blocks(path, rate, offset=offset)
    first = next(blocks, None)  # decoding errors surface here, before any byte is sent
    sink = _Sink()
    encoder = Encoder(sink, target, sample_rate=rate, kbps=kbps)  # type: ignore[arg-type]
    try:
        if first is not None:  # a short head first: the player starts sooner
            encoder.write(first[:, :FIRST_SAMPLES])
            yield sink.drain()
            encoder.write(first[:, FIRST_SAMPLES:])
        for block in blocks:
            encoder.write(block)
            data = sink.drain()
            if data:
                yield data
        encoder.close()
    except BaseException:
        encoder.abort()
        raise
    tail = sink.drain()
    if tail:
        yield tail
