"""``stream`` (HTTP byte ranges; transcoding when asked), ``download`` and ``getCoverArt``
(beets' ``artpath``, else the art embedded in a song's file)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from deejai_model.files import display_name

from . import ids
from .entries import CONTENT_TYPES, suffix
from .responses import NOT_FOUND, SubsonicError

if TYPE_CHECKING:
    from beets.library import Item

    from .params import Params
    from .server import SubsonicServer

#: Image types by their first bytes.
IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
)


def _file(item: Item) -> str:
    path = os.fsdecode(item.path)
    if not os.path.isfile(path):
        raise SubsonicError(NOT_FOUND, f"the file of song {ids.song_id(item.id)} is missing")
    return path


def send_ranged(path: str, mimetype: str, **options):
    """``path`` with HTTP range requests honoured for POST as for GET (clients such as
    py-opensonic POST their parameters: the ``formPost`` extension).  The file is opened by
    its bytes, so a name that is not UTF-8 is served too."""
    from flask import request, send_file
    from werkzeug.exceptions import RequestedRangeNotSatisfiable

    raw = os.fsencode(path)
    info = os.stat(raw)
    response = send_file(
        open(raw, "rb"),  # noqa: SIM115 - the response closes it
        mimetype=mimetype,
        conditional=False,
        etag=f"{info.st_mtime_ns:x}-{info.st_size:x}-{info.st_ino:x}",
        last_modified=info.st_mtime,
        **options,
    )
    environ = dict(request.environ)
    if environ.get("REQUEST_METHOD") == "POST":
        environ["REQUEST_METHOD"] = "GET"  # werkzeug applies ranges to GET and HEAD only
    try:
        return response.make_conditional(environ, accept_ranges=True, complete_length=info.st_size)
    except RequestedRangeNotSatisfiable as error:  # HTTP 416 + "Content-Range: bytes */size"
        response.close()
        return error.get_response()


def stream(server: SubsonicServer, p: Params, user: str):
    """``stream``: the file as it is (with ranges), or transcoded (``format``,
    ``maxBitRate``; ``timeOffset`` then starts that many seconds in)."""
    from flask import Response, stream_with_context

    from .transcode import TARGETS, plan, transcoded

    item = server.catalog.item(p.required("id"))
    path = _file(item)
    ext = suffix(item)
    target = plan(
        ext,
        int((item.bitrate or 0) / 1000),
        fmt=p.get("format"),
        max_kbps=p.integer("maxBitRate", 0, high=10_000),
    )
    if target is None:
        kind = CONTENT_TYPES.get(ext, "application/octet-stream")
        return send_ranged(path, kind)
    fmt, kbps = target
    offset = float(p.integer("timeOffset", 0, high=10**6))
    from deejai_model.errors import AudioError

    chunks = transcoded(path, fmt, kbps, offset=offset)
    try:
        first = next(chunks, b"")
    except AudioError as error:  # the reason, with the file's name but not its folder
        reason = str(error).replace(path, display_name(path))
        raise SubsonicError(0, f"cannot transcode song {ids.song_id(item.id)}: {reason}") from None

    def body():
        yield first
        yield from chunks

    return Response(stream_with_context(body()), mimetype=TARGETS[fmt])


def download(server: SubsonicServer, p: Params, user: str):
    """``download``: the file as it is, as an attachment (with ranges)."""
    item = server.catalog.item(p.required("id"))
    path = _file(item)
    ext = suffix(item)
    name = (f"{item.title}.{ext}" if item.title else display_name(path)).replace("/", "_")
    kind = CONTENT_TYPES.get(ext, "application/octet-stream")
    return send_ranged(path, kind, as_attachment=True, download_name=name)


def _image_type(data: bytes) -> str:
    for magic, kind in IMAGE_MAGIC:
        if data.startswith(magic):
            return kind
    return "application/octet-stream"


def _embedded(items: list[Item]) -> bytes | None:
    """The art embedded in the first of ``items`` that has some (read with mediafile)."""
    from mediafile import FileTypeError, MediaFile, UnreadableFileError

    for item in items:
        try:
            art = MediaFile(os.fsdecode(item.path)).art
        except (FileTypeError, UnreadableFileError, OSError):
            continue
        if art:
            return bytes(art)
    return None


def cover_art(server: SubsonicServer, p: Params, user: str):
    """``getCoverArt``: for an album, song or artist id (``size`` is not applied: the image
    is sent as it is)."""
    from flask import Response

    key = p.required("id")
    kind = ids.kind_of(key)
    if kind == ids.SONG:
        item = server.catalog.item(key)
        album = item.get_album()
        albums, items = ([album] if album else []), [item]
    elif kind == ids.ARTIST:
        albums = server.catalog.albums_of(server.catalog.artist_name(key))
        items = []
    else:
        album = server.catalog.album(key)
        albums, items = [album], []
    for album in albums:
        if album.artpath and os.path.isfile(album.artpath):
            with open(album.artpath, "rb") as f:
                head = f.read(16)
            return send_ranged(os.fsdecode(album.artpath), _image_type(head))
    for album in albums:
        items = items + server.catalog.album_items(album)[:1]
    data = _embedded(items)
    if data is None:
        raise SubsonicError(NOT_FOUND, f"no cover art for {key}")
    return Response(data, mimetype=_image_type(data))


HANDLERS = {"stream": stream, "download": download, "getCoverArt": cover_art}
