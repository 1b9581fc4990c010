"""The library as the Subsonic API sees it: songs, albums and album artists by id.

Artists are not a beets table: an artist is an album artist name (a song without an album is
filed under its own artist), found by the digest its id carries (:mod:`.ids`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import TYPE_CHECKING

from . import ids
from .entries import artist_name
from .responses import NOT_FOUND, SubsonicError

if TYPE_CHECKING:
    from beets.library import Album, Item, Library


class Catalog:
    """Lookups on a beets library, safe to share between the server's threads.

    Parameters
    ----------
    lib : Library
        The beets library.
    """

    def __init__(self, lib: Library):
        self.lib = lib
        self._lock = threading.Lock()
        self._artists: dict[str, str] = {}  # digest -> name

    # -- songs and albums ------------------------------------------------------------------
    def item(self, song: str) -> Item:
        """The item a song id names (error 70 when there is none)."""
        item = self.lib.get_item(ids.parse(song, ids.SONG))
        if item is None:
            raise SubsonicError(NOT_FOUND, f"song not found: {song}")
        return item

    def album(self, album: str) -> Album:
        """The album an album id names (error 70 when there is none)."""
        found = self.lib.get_album(ids.parse(album, ids.ALBUM))
        if found is None:
            raise SubsonicError(NOT_FOUND, f"album not found: {album}")
        return found

    @staticmethod
    def album_items(album: Album) -> list[Item]:
        """The album's songs, by disc and track."""
        return sorted(album.items(), key=lambda i: (i.disc or 0, i.track or 0, i.id))

    # -- artists ---------------------------------------------------------------------------
    def artist_albums(self) -> dict[str, list[Album]]:
        """Albums by album artist name (every artist that has an album)."""
        out: dict[str, list[Album]] = defaultdict(list)
        for album in self.lib.albums():
            out[album.albumartist or "[unknown artist]"].append(album)
        return out

    def artist_name(self, artist: str) -> str:
        """The name an artist id names (error 70 when no album or song has it)."""
        digest = ids.parse(artist, ids.ARTIST)
        with self._lock:
            name = self._artists.get(str(digest))
        if name is None:
            names = set(self.artist_albums())
            with self.lib.transaction() as tx:
                rows = tx.query("SELECT DISTINCT albumartist, artist FROM items")
            names.update(r[0] or r[1] or "[unknown artist]" for r in rows)
            table = {ids.parse(ids.artist_id(n), ids.ARTIST): n for n in names}
            with self._lock:
                self._artists = {str(k): v for k, v in table.items()}
                name = self._artists.get(str(digest))
        if name is None:
            raise SubsonicError(NOT_FOUND, f"artist not found: {artist}")
        return name

    def albums_of(self, name: str) -> list[Album]:
        """The albums of the album artist ``name``, oldest first."""
        from beets.dbcore.query import MatchQuery

        found = list(self.lib.albums(MatchQuery("albumartist", name)))
        if name == "[unknown artist]":
            found += list(self.lib.albums(MatchQuery("albumartist", "")))
        return sorted(found, key=lambda a: (a.year or 0, a.album or "", a.id))

    def songs_of(self, name: str) -> list[Item]:
        """Every song filed under the artist ``name`` (album artist, else artist)."""
        from beets.dbcore.query import MatchQuery, OrQuery

        query = OrQuery([MatchQuery("albumartist", name), MatchQuery("artist", name)])
        return [i for i in self.lib.items(query) if artist_name(i) == name]

    def starred_ids(self, model: str = "item", key: str = "") -> dict[int, float]:
        """``{id: when}`` of the items (``model="item"``) or albums with the flexible attribute
        ``key`` (read in one query)."""
        table = "item_attributes" if model == "item" else "album_attributes"
        with self.lib.transaction() as tx:
            rows = tx.query(f"SELECT entity_id, value FROM {table} WHERE key = ?", (key,))
        out = {}
        for entity, value in rows:
            try:
                out[int(entity)] = float(value)
            except (TypeError, ValueError):
                continue
        return out
