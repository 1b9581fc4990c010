"""Browsing and searching: folders, artists, albums, songs, album lists, random songs,
``search3``.  Each handler takes the server, the request's parameters and the user, and
returns the response body (a dict, see :mod:`.responses`).
"""

from __future__ import annotations

import random
import unicodedata
from typing import TYPE_CHECKING

from . import ids
from .entries import ARTIST_STARRED, STARRED, album_entry, artist_entry, child, genre
from .responses import GENERIC, SubsonicError

if TYPE_CHECKING:
    from beets.library import Album

    from .params import Params
    from .server import SubsonicServer

#: Articles ignored when artists are sorted into an index (as Subsonic servers default to).
IGNORED_ARTICLES = "The El La Los Las Le Les"
#: The one music folder: the beets library.
FOLDER_ID = 1


def _sort_name(name: str) -> str:
    words = name.split(" ", 1)
    if len(words) == 2 and words[0] in IGNORED_ARTICLES.split():
        return words[1]
    return name


def _letter(name: str) -> str:
    first = unicodedata.normalize("NFKD", _sort_name(name))[:1].upper()
    return first if first.isalpha() else "#"


def ping(server: SubsonicServer, p: Params, user: str) -> dict:
    """``ping``: the credentials are good."""
    return {}


def get_license(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getLicense``: always valid (it is free software)."""
    return {"license": {"valid": True}}


def get_music_folders(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getMusicFolders``: the library is one folder."""
    return {"musicFolders": {"musicFolder": [{"id": FOLDER_ID, "name": "beets"}]}}


def _artist_index(server: SubsonicServer) -> list[dict]:
    by_artist = server.catalog.artist_album_counts()
    starred = _starred_artists(server)
    letters: dict[str, list[dict]] = {}
    for name in sorted(by_artist, key=lambda n: _sort_name(n).casefold()):
        entry = artist_entry(name, by_artist[name], starred=starred.get(name))
        letters.setdefault(_letter(name), []).append(entry)
    return [{"name": letter, "artist": letters[letter]} for letter in sorted(letters)]


def _starred_artists(server: SubsonicServer) -> dict[str, float]:
    marks = server.catalog.starred_ids("album", ARTIST_STARRED)
    out: dict[str, float] = {}
    for album_id, when in marks.items():
        album = server.lib.get_album(album_id)
        if album is not None:
            out[album.albumartist or "[unknown artist]"] = when
    return out


def get_artists(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getArtists``: album artists by first letter."""
    return {"artists": {"ignoredArticles": IGNORED_ARTICLES, "index": _artist_index(server)}}


def get_indexes(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getIndexes``: the same artists, as the folder-based index."""
    return {
        "indexes": {
            "ignoredArticles": IGNORED_ARTICLES,
            "lastModified": int(server.library_mtime() * 1000),
            "index": _artist_index(server),
        }
    }


def _albums(server: SubsonicServer, albums: list[Album]) -> list[dict]:
    return [album_entry(a, server.catalog.album_items(a)) for a in albums]


def get_artist(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getArtist``: an artist and its albums."""
    name = server.catalog.artist_name(p.required("id"))
    albums = server.catalog.albums_of(name)
    entry = artist_entry(name, len(albums), starred=_starred_artists(server).get(name))
    return {"artist": {**entry, "album": _albums(server, albums)}}


def get_album(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getAlbum``: an album and its songs."""
    album = server.catalog.album(p.required("id"))
    items = server.catalog.album_items(album)
    return {"album": {**album_entry(album, items), "song": [child(i) for i in items]}}


def get_song(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getSong``."""
    return {"song": child(server.catalog.item(p.required("id")))}


def get_music_directory(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getMusicDirectory``: an artist's albums, or an album's songs (folder browsing)."""
    key = p.required("id")
    if ids.kind_of(key) == ids.ARTIST:
        name = server.catalog.artist_name(key)
        children = []
        for album in server.catalog.albums_of(name):
            entry = album_entry(album, server.catalog.album_items(album))
            children.append(
                {
                    "id": entry["id"],
                    "parent": key,
                    "isDir": True,
                    "title": entry["name"],
                    "album": entry["name"],
                    "artist": name,
                    "coverArt": entry["coverArt"],
                    "mediaType": "album",
                }
            )
        return {"directory": {"id": key, "name": name, "child": children}}
    album = server.catalog.album(key)
    items = server.catalog.album_items(album)
    name = album.albumartist or "[unknown artist]"
    return {
        "directory": {
            "id": key,
            "parent": ids.artist_id(name),
            "name": album.album or "[unknown album]",
            "child": [child(i) for i in items],
        }
    }


#: ``getAlbumList2`` types and how each sorts the albums (``random`` is drawn instead).
LIST_TYPES = (
    "random",
    "newest",
    "alphabeticalByName",
    "alphabeticalByArtist",
    "frequent",
    "recent",
    "starred",
    "byYear",
    "byGenre",
    "highest",
)


def _play_stats(server: SubsonicServer) -> tuple[dict[int, int], dict[int, float]]:
    """Plays and latest play by album id (read in one query each)."""
    plays: dict[int, int] = {}
    latest: dict[int, float] = {}
    with server.lib.transaction() as tx:
        rows = tx.query(
            "SELECT i.album_id, a.key, a.value FROM item_attributes a "
            "JOIN items i ON i.id = a.entity_id "
            "WHERE a.key IN ('play_count', 'last_played') AND i.album_id IS NOT NULL"
        )
    for album_id, key, value in rows:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if key == "play_count":
            plays[album_id] = plays.get(album_id, 0) + int(number)
        else:
            latest[album_id] = max(latest.get(album_id, 0.0), number)
    return plays, latest


def album_list(server: SubsonicServer, p: Params) -> list[Album]:
    """The albums a ``getAlbumList2`` request asks for (one page)."""
    kind = p.required("type")
    if kind not in LIST_TYPES:
        raise SubsonicError(GENERIC, f"unknown list type {kind!r}: one of {', '.join(LIST_TYPES)}")
    size = p.integer("size", 10, low=0, high=500)
    offset = p.integer("offset", 0)
    albums = list(server.lib.albums())
    if kind == "random":
        return random.sample(albums, min(size, len(albums)))
    if kind == "newest":
        albums.sort(key=lambda a: -(a.added or 0))
    elif kind == "alphabeticalByName":
        albums.sort(key=lambda a: (a.album or "").casefold())
    elif kind == "alphabeticalByArtist":
        albums.sort(key=lambda a: ((a.albumartist or "").casefold(), (a.album or "").casefold()))
    elif kind in ("frequent", "recent"):
        plays, latest = _play_stats(server)
        score = plays if kind == "frequent" else latest
        albums = sorted((a for a in albums if score.get(a.id)), key=lambda a: -score[a.id])
    elif kind == "starred":
        marks = server.catalog.starred_ids("album", STARRED)
        albums = sorted((a for a in albums if a.id in marks), key=lambda a: -marks[a.id])
    elif kind == "highest":
        albums = []  # nothing is rated through this API
    elif kind == "byYear":
        first, last = p.integer("fromYear", 0), p.integer("toYear", 9999)
        low, high = min(first, last), max(first, last)
        albums = [a for a in albums if low <= (a.year or 0) <= high]
        albums.sort(key=lambda a: a.year or 0, reverse=first > last)
    else:  # byGenre
        wanted = p.required("genre").casefold()
        albums = [a for a in albums if (genre(a) or "").casefold() == wanted]
    return albums[offset : offset + size]


def get_album_list2(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getAlbumList2``."""
    return {"albumList2": {"album": _albums(server, album_list(server, p))}}


def get_album_list(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getAlbumList``: the same albums, as directories."""
    out = []
    for entry in _albums(server, album_list(server, p)):
        out.append(
            {
                "id": entry["id"],
                "parent": entry["artistId"],
                "isDir": True,
                "title": entry["name"],
                "album": entry["name"],
                "artist": entry["artist"],
                "coverArt": entry["coverArt"],
                "mediaType": "album",
            }
        )
    return {"albumList": {"album": out}}


def get_random_songs(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getRandomSongs`` (``genre``, ``fromYear``, ``toYear`` narrow the draw)."""
    size = p.integer("size", 10, low=0, high=500)
    low, high = p.integer("fromYear", 0), p.integer("toYear", 99999)
    wanted = (p.get("genre") or "").casefold()
    if wanted:
        from beets.dbcore.query import NumericQuery

        years = NumericQuery("year", f"{low}..{high}")
        keys = [i.id for i in server.lib.items(years) if (genre(i) or "").casefold() == wanted]
        keys = random.sample(keys, min(size, len(keys)))
    else:
        with server.lib.transaction() as tx:
            rows = tx.query(
                "SELECT id FROM items WHERE year BETWEEN ? AND ? ORDER BY RANDOM() LIMIT ?",
                (low, high, size),
            )
        keys = [r[0] for r in rows]
    items = [server.lib.get_item(k) for k in keys]
    return {"randomSongs": {"song": [child(i) for i in items if i is not None]}}


def _words_query(text: str, fields: tuple[str, ...]):
    """Items (or albums) whose ``fields`` contain every word of ``text`` somewhere."""
    from beets.dbcore.query import AndQuery, OrQuery, SubstringQuery, TrueQuery

    words = text.split()
    if not words:
        return TrueQuery()
    return AndQuery([OrQuery([SubstringQuery(f, w) for f in fields]) for w in words])


def search3(server: SubsonicServer, p: Params, user: str) -> dict:
    """``search3``: artists, albums and songs whose names contain every word of ``query``
    (an empty query, or ``""``, lists everything: clients sync the library that way)."""
    text = (p.get("query") or "").strip().strip('"').strip()
    artist_count = p.integer("artistCount", 20, high=5000)
    album_count = p.integer("albumCount", 20, high=5000)
    song_count = p.integer("songCount", 20, high=5000)
    artist_offset = p.integer("artistOffset", 0)
    album_offset = p.integer("albumOffset", 0)
    song_offset = p.integer("songOffset", 0)
    out: dict[str, list] = {}
    if artist_count:
        by_artist = server.catalog.artist_album_counts()
        folded = [w.casefold() for w in text.split()]
        names = sorted(n for n in by_artist if all(w in n.casefold() for w in folded))
        page = names[artist_offset : artist_offset + artist_count]
        out["artist"] = [artist_entry(n, by_artist[n]) for n in page]
    if album_count:
        albums = list(server.lib.albums(_words_query(text, ("album", "albumartist"))))
        albums.sort(key=lambda a: ((a.albumartist or "").casefold(), (a.album or "").casefold()))
        out["album"] = _albums(server, albums[album_offset : album_offset + album_count])
    if song_count:
        query = _words_query(text, ("title", "artist", "album", "albumartist"))
        items = []
        for pos, item in enumerate(server.lib.items(query)):
            if pos >= song_offset + song_count:
                break
            if pos >= song_offset:
                items.append(item)
        out["song"] = [child(i) for i in items]
    return {"searchResult3": out}


HANDLERS = {
    "ping": ping,
    "getLicense": get_license,
    "getMusicFolders": get_music_folders,
    "getArtists": get_artists,
    "getIndexes": get_indexes,
    "getArtist": get_artist,
    "getAlbum": get_album,
    "getSong": get_song,
    "getMusicDirectory": get_music_directory,
    "getAlbumList": get_album_list,
    "getAlbumList2": get_album_list2,
    "getRandomSongs": get_random_songs,
    "search3": search3,
}
