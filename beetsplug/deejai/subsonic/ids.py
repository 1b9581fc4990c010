"""Subsonic ids of songs, albums, artists and playlists: never file paths.

=============  ==========================  ============================================
kind           id                          stable because
=============  ==========================  ============================================
song           ``tr-<item id>``            beets' item ids do not change
album          ``al-<album id>``           beets' album ids do not change
artist         ``ar-<16 hex>``             SHA-1 of the (album) artist name
playlist       ``pl-<hex of the name>``    the M3U file's name, hex-encoded (UTF-8)
=============  ==========================  ============================================

A request's id is parsed into a number (songs, albums), a digest (artists) or a name that
must be the name of a file already listed in the playlist folder (playlists): nothing a
client sends is ever joined to a path, so traversal is impossible by construction.
"""

from __future__ import annotations

import hashlib
import re

from .responses import NOT_FOUND, SubsonicError

SONG, ALBUM, ARTIST, PLAYLIST = "tr", "al", "ar", "pl"
_NUMBER = re.compile(r"[1-9][0-9]{0,17}")
_DIGEST = re.compile(r"[0-9a-f]{16}")
_HEX = re.compile(r"(?:[0-9a-f]{2}){1,400}")


def song_id(item_id: int) -> str:
    """The id of library item ``item_id``."""
    return f"{SONG}-{int(item_id)}"


def album_id(album_id: int) -> str:
    """The id of library album ``album_id``."""
    return f"{ALBUM}-{int(album_id)}"


def artist_id(name: str) -> str:
    """The id of the artist named ``name`` (the same name gives the same id everywhere)."""
    digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ARTIST}-{digest[:16]}"


def playlist_id(name: str) -> str:
    """The id of the playlist file named ``name`` (its file name without the folder)."""
    return f"{PLAYLIST}-{name.encode('utf-8', 'surrogateescape').hex()}"


def kind_of(text: str) -> str:
    """The kind (:data:`SONG`, :data:`ALBUM`, ...) an id names; "" for none."""
    head, _, _ = str(text).partition("-")
    return head if head in (SONG, ALBUM, ARTIST, PLAYLIST) else ""


def parse(text: str, kind: str) -> int | str:
    """The library id (songs, albums), digest (artists) or file name (playlists) of an id.

    Raises
    ------
    SubsonicError
        Code 70 when ``text`` is not an id of that kind.
    """
    head, _, body = str(text).partition("-")
    pattern = {SONG: _NUMBER, ALBUM: _NUMBER, ARTIST: _DIGEST, PLAYLIST: _HEX}[kind]
    if head == kind and pattern.fullmatch(body):
        if kind in (SONG, ALBUM):
            return int(body)
        if kind == ARTIST:
            return body
        return bytes.fromhex(body).decode("utf-8", "surrogateescape")
    raise SubsonicError(NOT_FOUND, f"no such {_NAMES[kind]}: {str(text)[:80]!r}")


_NAMES = {SONG: "song", ALBUM: "album", ARTIST: "artist", PLAYLIST: "playlist"}
