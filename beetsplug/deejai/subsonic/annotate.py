"""``scrobble``, ``star`` / ``unstar`` and ``getStarred2``.

A scrobble (``submission=true``, the default) is a play (:func:`..listening.record_play`,
shared with the radio and the DJ page).  A
"now playing" notice for another song, while the previous one was announced and not
submitted before half its length, is a skip of that one: it is
counted, and the user's later similar lists leave it out.  Stars are flexible attributes
(``subsonic_starred`` on items and albums; ``subsonic_artist_starred`` on the albums of a
starred artist) holding when they were set.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from ..listening import record_play
from . import ids
from .browse import _albums, _starred_artists
from .entries import ARTIST_STARRED, STARRED, artist_entry, child
from .responses import GENERIC, SubsonicError

if TYPE_CHECKING:
    from .params import Params
    from .server import SubsonicServer


def scrobble(server: SubsonicServer, p: Params, user: str) -> dict:
    """``scrobble``: record plays (or note what now plays)."""
    songs = p.all("id")
    if not songs:
        p.required("id")
    times = p.all("time")
    submission = p.flag("submission", True)
    items = [server.catalog.item(song) for song in songs]  # all known, or nothing is recorded
    now = time.time()
    for pos, item in enumerate(items):
        when = now
        if pos < len(times):
            try:
                when = float(times[pos]) / 1000.0
            except ValueError:
                when = math.nan
            if not 0 <= when <= now + 86400:  # NaN, inf or far off would break `$last_played`
                raise SubsonicError(
                    GENERIC, f"time must be milliseconds since 1970, not {times[pos][:40]!r}"
                )
        listening = server.listening(user)
        if submission:
            record_play(server.lib, item.id, when=when)
            listening.finished(item.id)
        else:
            skipped = listening.now_playing(item.id, float(item.length or 0.0), now)
            if skipped is not None:
                record_play(server.lib, skipped, skipped=True)
    return {}


def _targets(server: SubsonicServer, p: Params):
    songs = [server.catalog.item(s) for s in p.all("id") if ids.kind_of(s) in (ids.SONG, "")]
    albums = [server.catalog.album(a) for a in p.all("albumId")]
    albums += [server.catalog.album(a) for a in p.all("id") if ids.kind_of(a) == ids.ALBUM]
    names = [server.catalog.artist_name(a) for a in p.all("artistId")]
    names += [server.catalog.artist_name(a) for a in p.all("id") if ids.kind_of(a) == ids.ARTIST]
    if not (songs or albums or names):
        raise SubsonicError(10, "required parameter is missing: id, albumId or artistId")
    return songs, albums, names


def _mark(server: SubsonicServer, p: Params, value: float | None) -> dict:
    songs, albums, names = _targets(server, p)
    marks = [(s, STARRED) for s in songs] + [(a, STARRED) for a in albums]
    marks += [(a, ARTIST_STARRED) for n in names for a in server.catalog.albums_of(n)]
    with server.lib.transaction():
        for obj, key in marks:
            if value is None:
                if key in obj:
                    del obj[key]
            else:
                obj[key] = value
            if obj in songs:
                obj.store()
            else:
                obj.store(inherit=False)  # an album's mark is not its songs' mark
    return {}


def star(server: SubsonicServer, p: Params, user: str) -> dict:
    """``star``: songs (``id``), albums (``albumId``), artists (``artistId``)."""
    return _mark(server, p, time.time())


def unstar(server: SubsonicServer, p: Params, user: str) -> dict:
    """``unstar``."""
    return _mark(server, p, None)


def get_starred2(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getStarred2``: starred artists, albums and songs, latest first."""
    songs = server.catalog.starred_ids("item", STARRED)
    albums = server.catalog.starred_ids("album", STARRED)
    artists = _starred_artists(server)
    by_artist = server.catalog.artist_album_counts()
    items = [server.lib.get_item(i) for i in sorted(songs, key=lambda i: -songs[i])]
    found = [server.lib.get_album(a) for a in sorted(albums, key=lambda a: -albums[a])]
    return {
        "starred2": {
            "artist": [
                artist_entry(n, by_artist.get(n, 0), starred=w)
                for n, w in sorted(artists.items(), key=lambda x: -x[1])
            ],
            "album": _albums(server, [a for a in found if a is not None]),
            "song": [child(i) for i in items if i is not None],
        }
    }


def get_starred(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getStarred``: the same, under the older name."""
    return {"starred": get_starred2(server, p, user)["starred2"]}


HANDLERS = {
    "scrobble": scrobble,
    "star": star,
    "unstar": unstar,
    "getStarred2": get_starred2,
    "getStarred": get_starred,
}
