"""What the library's sound answers: ``getSonicSimilarTracks`` and ``findSonicPath`` (the
``sonicSimilarity`` extension), and ``getSimilarSongs`` / ``getSimilarSongs2``.

Everything goes through the one :class:`~beetsplug.deejai.session.LibrarySession`: its
index, :meth:`~.LibrarySession.similar` and :meth:`~.LibrarySession.journey_ids`.

- **Similarity** is ``(1 + cos) / 2`` of the cosine between the two unit track vectors
  (the song itself: 1.0; the opposite direction: 0.0), so it is in [0, 1] whatever the model.
- **Spacing.** The neighbours are the session's own spaced list
  (:meth:`~.LibrarySession.similar` with :meth:`~.LibrarySession.listening`: ``deejai.lists``'
  artist gap, album cap and same-song rule, the library's skips; docs/lists.md), as the CLI's
  ``similar`` and every other list: one implementation of spreading
  (:mod:`deejai_model.lists.spacing`).  Songs the user skipped (:mod:`.annotate`) and, for an
  album or artist, its own songs are left out.  ``getSonicSimilarTracks`` orders them by
  similarity (the spec); ``getSimilarSongs`` keeps the spaced order (it is played as a list).
- A song without vectors of the query model is answered with error 70 and a message that
  says to run ``beet deejai embed``; no vectors at all: error 0, and ``sonicSimilarity`` is not
  advertised.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from beets.ui import UserError

from . import ids
from .entries import child
from .responses import GENERIC, NOT_FOUND, SubsonicError

if TYPE_CHECKING:
    from ..session import Seed
    from .params import Params
    from .server import SubsonicServer

#: Seed key of a mean vector (an album's or artist's songs); negative as outside seeds are.
MEAN_KEY = -(10**12)


def similarity(cos: float) -> float:
    """``(1 + cos) / 2``, clipped to [0, 1] and rounded to 4 places."""
    return round(min(1.0, max(0.0, (1.0 + float(cos)) / 2.0)), 4)


def _index(server: SubsonicServer):
    try:
        return server.library.index()
    except UserError as error:
        raise SubsonicError(GENERIC, str(error)) from None


def _items_by_id(server: SubsonicServer, keys: list[int]) -> dict[int, dict]:
    """Songs by id as rows (:meth:`.catalog.Catalog.rows`: no beets models, fast)."""
    return server.catalog.rows(keys)


def song_seed(server: SubsonicServer, song: str) -> Seed:
    """The seed of a song id (error 70 when it has no vectors)."""
    from ..session import Seed

    item = server.catalog.item(song)
    index = _index(server)
    vectors = index.vectors_by_id()
    if item.id not in vectors:
        raise SubsonicError(
            NOT_FOUND,
            f"song {song} has no sonic data (no vectors of model {index.model_id}): "
            "run `beet deejai embed`",
        )
    return Seed(item.id, vectors[item.id], item, song)


def _mean_seed(server: SubsonicServer, key: str) -> tuple[Seed, set[int]]:
    """The seed of an album or artist id: the mean of its songs' vectors; and their ids."""
    from ..session import Seed

    if ids.kind_of(key) == ids.ARTIST:
        items = server.catalog.songs_of(server.catalog.artist_name(key))
    else:
        items = server.catalog.album_items(server.catalog.album(key))
    vectors = _index(server).vectors_by_id()
    rows = [vectors[i.id] for i in items if i.id in vectors]
    if not rows:
        raise SubsonicError(
            NOT_FOUND, f"{key} has no song with sonic data: run `beet deejai embed`"
        )
    mean = np.mean(rows, axis=0)
    mean = (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)
    return Seed(MEAN_KEY, mean, None, key), {i.id for i in items}


def similar(
    server: SubsonicServer, seed: Seed, count: int, *, user: str, leave_out: set[int] = frozenset()
) -> list[tuple[dict, float]]:
    """``(item, similarity)`` of up to ``count`` songs like ``seed``, in the spaced order of the
    session's :meth:`~.LibrarySession.similar` (see the module docstring)."""
    listening = server.library.listening()
    never = listening.exclude | set(leave_out) | server.listening(user).skipped
    found = server.library.similar(seed, count, listening=replace(listening, exclude=never))
    keys = [int(n.id) for n in found if int(n.id) > 0]
    rows = _items_by_id(server, keys)
    vectors = _index(server).vectors_by_id()
    return [
        (rows[k], similarity(float(np.dot(seed.vector, vectors[k])))) for k in keys if k in rows
    ]


def _matches(pairs: list[tuple[dict, float]]) -> dict:
    return {"sonicMatch": [{"entry": child(i), "similarity": s} for i, s in pairs]}


def sonic_similar_tracks(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getSonicSimilarTracks``: ``count`` (10) songs like ``id``, most similar first."""
    seed = song_seed(server, p.required("id"))
    pairs = similar(server, seed, p.integer("count", 10, high=500), user=user)
    return _matches(sorted(pairs, key=lambda pair: -pair[1]))  # the spec: most similar first


def find_sonic_path(server: SubsonicServer, p: Params, user: str) -> dict:
    """``findSonicPath``: at most ``count`` (25) songs from ``startSongId`` to ``endSongId``;
    similarity is to the start song."""
    start = song_seed(server, p.required("startSongId"))
    end = song_seed(server, p.required("endSongId"))
    count = max(2, p.integer("count", 25, high=500))
    keys = server.library.journey_ids([start, end], count - 2)
    by_id = _items_by_id(server, keys)
    vectors = _index(server).vectors_by_id()
    pairs = [
        (by_id[k], similarity(float(np.dot(start.vector, vectors[k])))) for k in keys if k in by_id
    ]
    return _matches(pairs)


def _similar_songs(server: SubsonicServer, p: Params, user: str) -> list[dict]:
    key = p.required("id")
    count = p.integer("count", 50, high=500)
    if ids.kind_of(key) in (ids.ALBUM, ids.ARTIST):
        seed, own = _mean_seed(server, key)
        pairs = similar(server, seed, count, user=user, leave_out=own)
    else:
        pairs = similar(server, song_seed(server, key), count, user=user)
    return [child(i) for i, _ in pairs]


def similar_songs(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getSimilarSongs``: songs like a song, album or artist (from the vectors)."""
    return {"similarSongs": {"song": _similar_songs(server, p, user)}}


def similar_songs2(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getSimilarSongs2``: the same."""
    return {"similarSongs2": {"song": _similar_songs(server, p, user)}}


HANDLERS = {
    "getSonicSimilarTracks": sonic_similar_tracks,
    "findSonicPath": find_sonic_path,
    "getSimilarSongs": similar_songs,
    "getSimilarSongs2": similar_songs2,
}
