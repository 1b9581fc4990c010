"""Playlists as M3U files in the folder the CLI writes its ``-o`` playlists to
(``deejai.playlist_dir``, else the ``playlist`` plugin's ``playlist_dir``).

Every ``.m3u`` / ``.m3u8`` file directly in that folder is a playlist named by its file name;
its id is that name hex-encoded (:func:`.ids.playlist_id`) and is accepted only when a file
of that name is listed there.  Entries that are not library items are not shown, and are
not kept when the playlist is written again.  Files are written as the CLI writes them
(:func:`beetsplug.deejai.output.write_m3u`: extended M3U, atomically).
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING

from beets import util

from . import ids
from .entries import child, iso
from .responses import GENERIC, NOT_FOUND, SubsonicError

if TYPE_CHECKING:
    from beets.library import Item

    from .params import Params
    from .server import SubsonicServer

EXTENSIONS = (".m3u", ".m3u8")
#: Characters a playlist's name may not have in its file name.
_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]')
_LOCK = threading.Lock()


def folder(server: SubsonicServer) -> str:
    """The playlist folder (absolute)."""
    return os.path.abspath(os.path.expanduser(server.library.settings.playlist_dir))


def _names(server: SubsonicServer) -> list[str]:
    try:
        found = os.listdir(folder(server))
    except OSError:
        return []
    return sorted(
        n
        for n in found
        if n.lower().endswith(EXTENSIONS) and os.path.isfile(os.path.join(folder(server), n))
    )


def _file_name(server: SubsonicServer, playlist: str) -> str:
    """The file of a playlist id: one of the names listed in the folder (error 70 else)."""
    name = ids.parse(playlist, ids.PLAYLIST)
    if name not in _names(server):
        raise SubsonicError(NOT_FOUND, f"playlist not found: {playlist}")
    return str(name)


def _items(server: SubsonicServer, name: str) -> list[Item]:
    """The library items a playlist file lists, in order."""
    path = os.path.join(folder(server), name)
    with open(path, "rb") as f:
        lines = f.read().splitlines()
    base = os.fsencode(os.path.dirname(path))
    library = util.bytestring_path(server.lib.directory)
    by_path = {}
    with server.lib.transaction() as tx:
        for item_id, stored in tx.query("SELECT id, path FROM items"):
            stored = util.bytestring_path(stored)  # relative to the library since beets 2.4
            by_path[os.path.normpath(os.path.join(library, stored))] = item_id
    out = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        for root in (base, library):
            candidate = os.path.normpath(os.path.join(root, line))
            if candidate in by_path:
                item = server.lib.get_item(by_path[candidate])
                if item is not None:
                    out.append(item)
                break
    return out


def _entry(server: SubsonicServer, name: str, user: str, items: list[Item]) -> dict:
    path = os.path.join(folder(server), name)
    info = os.stat(path)
    return {
        "id": ids.playlist_id(name),
        "name": os.path.splitext(name)[0],
        "owner": user,
        "public": False,
        "songCount": len(items),
        "duration": int(round(sum(float(i.length or 0) for i in items))),
        "created": iso(min(info.st_ctime, info.st_mtime)),
        "changed": iso(info.st_mtime),
    }


def get_playlists(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getPlaylists``."""
    return {
        "playlists": {
            "playlist": [_entry(server, n, user, _items(server, n)) for n in _names(server)]
        }
    }


def _with_songs(server: SubsonicServer, name: str, user: str) -> dict:
    items = _items(server, name)
    return {"playlist": {**_entry(server, name, user, items), "entry": [child(i) for i in items]}}


def get_playlist(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getPlaylist``: a playlist and its songs."""
    return _with_songs(server, _file_name(server, p.required("id")), user)


def _write(server: SubsonicServer, name: str, items: list[Item]) -> None:
    from ..output import write_m3u

    os.makedirs(folder(server), exist_ok=True)  # the CLI's rule: a missing folder is made
    write_m3u(items, os.path.join(folder(server), name), server.library.settings.relative_to)


def _new_name(server: SubsonicServer, title: str) -> str:
    clean = _UNSAFE.sub("_", title).strip().lstrip(".")[:120]
    if not clean:
        raise SubsonicError(GENERIC, f"cannot name a playlist {title!r}")
    taken = {n.lower() for n in _names(server)}
    name, n = f"{clean}.m3u", 2
    while name.lower() in taken:
        name, n = f"{clean} ({n}).m3u", n + 1
    return name


def create_playlist(server: SubsonicServer, p: Params, user: str) -> dict:
    """``createPlaylist``: a new playlist (``name``), or new songs for one (``playlistId``)."""
    songs = [server.catalog.item(s) for s in p.all("songId")]
    with _LOCK:
        if p.get("playlistId"):
            name = _file_name(server, p.required("playlistId"))
        else:
            name = _new_name(server, p.required("name"))
        _write(server, name, songs)
    return _with_songs(server, name, user)


def update_playlist(server: SubsonicServer, p: Params, user: str) -> dict:
    """``updatePlaylist``: rename, add songs (``songIdToAdd``), remove by position
    (``songIndexToRemove``)."""
    adding = [server.catalog.item(s) for s in p.all("songIdToAdd")]
    with _LOCK:
        name = _file_name(server, p.required("playlistId"))
        items = _items(server, name)
        drop = set()
        for text in p.all("songIndexToRemove"):
            try:
                drop.add(int(text))
            except ValueError:
                raise SubsonicError(GENERIC, f"bad songIndexToRemove {text!r}") from None
        items = [item for pos, item in enumerate(items) if pos not in drop] + adding
        title = p.get("name")
        if title and title != os.path.splitext(name)[0]:
            old, name = name, _new_name(server, title)
            _write(server, name, items)
            os.remove(os.path.join(folder(server), old))
        else:
            _write(server, name, items)
    return {}


def delete_playlist(server: SubsonicServer, p: Params, user: str) -> dict:
    """``deletePlaylist``: deletes the M3U file."""
    with _LOCK:
        name = _file_name(server, p.required("id"))
        os.remove(os.path.join(folder(server), name))
    return {}


HANDLERS = {
    "getPlaylists": get_playlists,
    "getPlaylist": get_playlist,
    "createPlaylist": create_playlist,
    "updatePlaylist": update_playlist,
    "deletePlaylist": delete_playlist,
}
