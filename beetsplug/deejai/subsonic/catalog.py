"""The library as the Subsonic API sees it: songs, albums and album artists by id.

Artists are not a beets table: an artist is an album artist name (a song without an album is
filed under its own artist), found by the digest its id carries (:mod:`.ids`).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import TYPE_CHECKING

from . import ids
from .entries import artist_name
from .responses import NOT_FOUND, SubsonicError

if TYPE_CHECKING:
    from beets.library import Album, Item, Library


#: Columns of the ``items`` table that a song's ``Child`` uses.
ROW_FIELDS = (
    "id",
    "album_id",
    "title",
    "album",
    "artist",
    "albumartist",
    "track",
    "disc",
    "year",
    "genres",
    "length",
    "bitrate",
    "bitdepth",
    "samplerate",
    "channels",
    "path",
    "added",
    "mb_trackid",
    "bpm",
)
#: Flexible attributes a ``Child`` shows.
ROW_FLEX = ("play_count", "last_played", "subsonic_starred")


@functools.cache
def _genre_delimiter() -> str:
    from beets.library import Item

    return getattr(Item._fields.get("genres"), "db_delimiter", "; ")


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

    def rows(self, keys: list[int]) -> dict[int, dict]:
        """Songs by item id as plain dicts of the fields :func:`.entries.child` reads (two SQL
        queries, no beets model objects: a similar list is read in milliseconds).

        ``path`` is absolute (bytes) and ``genres`` a list, as on an :class:`Item`."""
        from beets import util

        keys = sorted({int(k) for k in keys if int(k) > 0})
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        fields = ", ".join(ROW_FIELDS)
        library = util.bytestring_path(self.lib.directory)
        delimiter = _genre_delimiter()
        out: dict[int, dict] = {}
        with self.lib.transaction() as tx:
            for row in tx.query(f"SELECT {fields} FROM items WHERE id IN ({marks})", keys):
                entry = dict(zip(ROW_FIELDS, row, strict=True))
                path = util.bytestring_path(entry["path"])
                entry["path"] = os.path.normpath(os.path.join(library, path))
                genres = entry.get("genres")
                if isinstance(genres, str):
                    entry["genres"] = [g for g in genres.split(delimiter) if g]
                out[entry["id"]] = entry
            flex = tx.query(
                f"SELECT entity_id, key, value FROM item_attributes WHERE entity_id IN ({marks}) "
                f"AND key IN ({','.join('?' * len(ROW_FLEX))})",
                [*keys, *ROW_FLEX],
            )
        for entity, key, value in flex:
            if entity in out:
                out[entity][key] = value
        return out

    @staticmethod
    def album_items(album: Album) -> list[Item]:
        """The album's songs, by disc and track."""
        return sorted(album.items(), key=lambda i: (i.disc or 0, i.track or 0, i.id))

    # -- artists ---------------------------------------------------------------------------
    def artist_album_counts(self) -> dict[str, int]:
        """Albums per album artist name (one SQL query: every artist that has an album)."""
        out: dict[str, int] = {}
        with self.lib.transaction() as tx:
            rows = tx.query("SELECT albumartist, COUNT(*) FROM albums GROUP BY albumartist")
        for name, count in rows:
            key = name or "[unknown artist]"
            out[key] = out.get(key, 0) + int(count)
        return out

    def artist_name(self, artist: str) -> str:
        """The name an artist id names (error 70 when no album or song has it)."""
        digest = ids.parse(artist, ids.ARTIST)
        with self._lock:
            name = self._artists.get(str(digest))
        if name is None:
            names = set(self.artist_album_counts())
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
