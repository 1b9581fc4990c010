"""Library items and albums as the spec's response objects: ``Child`` (a song), ``AlbumID3``,
``ArtistID3``.  Only fields with a value are given; file paths never are.
"""

from __future__ import annotations

import datetime
import os
from typing import TYPE_CHECKING

from deejai_model.files import display_name

from . import ids

if TYPE_CHECKING:
    from beets.library import Album, Item

#: Content type of a file, by its extension (what players need to pick a decoder).
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "wav": "audio/wav",
    "aif": "audio/aiff",
    "aiff": "audio/aiff",
    "wma": "audio/x-ms-wma",
    "ape": "audio/x-ape",
    "wv": "audio/x-wavpack",
}
#: Flexible attribute holding when a song or album was starred (seconds since the epoch).
STARRED = "subsonic_starred"
#: Flexible attribute of albums: when their album artist was starred.
ARTIST_STARRED = "subsonic_artist_starred"


def iso(seconds: float | int | str | None) -> str | None:
    """ISO 8601 (UTC) of seconds since the epoch; None for none."""
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if value <= 0:
        return None
    moment = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def suffix(item: Item) -> str:
    """The file's extension, lower case (``"flac"``)."""
    return os.path.splitext(os.fsdecode(item.path))[1].lstrip(".").lower()


def artist_name(item: Item | dict) -> str:
    """The artist a song is filed under: its album artist, else its artist."""
    return item.get("albumartist") or item.get("artist") or "[unknown artist]"


def genre(obj) -> str | None:
    """The first genre of an item or album (``genres`` since beets 2.x, else ``genre``)."""
    genres = obj.get("genres")
    if isinstance(genres, list | tuple):
        return str(genres[0]) if genres else None
    return genres or obj.get("genre") or None


def _float(value) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _int(value) -> int | None:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _compact(data: dict) -> dict:
    return {k: v for k, v in data.items() if v not in (None, "")}


def child(item: Item | dict) -> dict:
    """The ``Child`` of a song: a beets item, or a row of :meth:`.catalog.Catalog.rows`."""
    get = item.get
    path = get("path") or b""
    ext = os.path.splitext(os.fsdecode(path))[1].lstrip(".").lower()
    song = ids.song_id(get("id"))
    album = ids.album_id(get("album_id")) if get("album_id") else None
    try:
        size = os.path.getsize(path)
    except OSError:
        size = None
    return _compact(
        {
            "id": song,
            "parent": album,
            "isDir": False,
            "title": get("title") or display_name(path),
            "album": get("album"),
            "artist": get("artist"),
            "track": _int(get("track")),
            "year": _int(get("year")),
            "genre": genre(item),
            "coverArt": album or song,
            "size": size,
            "contentType": CONTENT_TYPES.get(ext, "application/octet-stream"),
            "suffix": ext,
            "duration": int(round(_float(get("length")))),
            "bitRate": _int(_float(get("bitrate")) / 1000),
            "bitDepth": _int(get("bitdepth")),
            "samplingRate": _int(get("samplerate")),
            "channelCount": _int(get("channels")),
            "isVideo": False,
            "playCount": int(_int(get("play_count")) or 0),
            "played": iso(get("last_played")),
            "discNumber": _int(get("disc")),
            "created": iso(get("added")),
            "starred": iso(get(STARRED)),
            "albumId": album,
            "artistId": ids.artist_id(artist_name(item)),
            "type": "music",
            "mediaType": "song",
            "musicBrainzId": get("mb_trackid"),
            "bpm": _int(get("bpm")),
        }
    )


def album_entry(album: Album, items: list[Item]) -> dict:
    """The ``AlbumID3`` of an album whose songs are ``items``."""
    name = album.albumartist or (items[0].artist if items else "") or "[unknown artist]"
    plays = sum(int(_int(i.get("play_count")) or 0) for i in items)
    played = max((float(i.get("last_played") or 0) for i in items), default=0)
    return _compact(
        {
            "id": ids.album_id(album.id),
            "name": album.album or "[unknown album]",
            "artist": name,
            "artistId": ids.artist_id(name),
            "coverArt": ids.album_id(album.id),
            "songCount": len(items),
            "duration": int(round(sum(float(i.length or 0) for i in items))),
            "playCount": plays,
            "created": iso(album.added) or iso(1),
            "starred": iso(album.get(STARRED)),
            "year": _int(album.year),
            "genre": genre(album),
            "played": iso(played),
            "musicBrainzId": album.mb_albumid,
        }
    )


def artist_entry(name: str, album_count: int, *, starred: float | None = None) -> dict:
    """The ``ArtistID3`` of the artist ``name``."""
    return _compact(
        {
            "id": ids.artist_id(name),
            "name": name,
            "albumCount": album_count,
            "starred": iso(starred),
        }
    )
