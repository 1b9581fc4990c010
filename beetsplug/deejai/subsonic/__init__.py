"""The OpenSubsonic API under ``/rest/`` of ``beet deejai serve``: Subsonic apps browse,
search and play the beets library, and their "similar", "radio" and "path" use its vectors.

==============================================  ==============================================
methods                                         module
==============================================  ==============================================
ping, getLicense, getMusicFolders, getArtists,  :mod:`.browse`
getIndexes, getArtist, getAlbum, getSong,
getMusicDirectory, getAlbumList(2),
getRandomSongs, search3
stream, download, getCoverArt                   :mod:`.media` (:mod:`.transcode`)
get/create/update/deletePlaylist(s)             :mod:`.playlists` (M3U files)
scrobble, star, unstar, getStarred(2)           :mod:`.annotate` (plays: :mod:`..listening`)
getSonicSimilarTracks, findSonicPath,           :mod:`.sonic`
getSimilarSongs(2)
getOpenSubsonicExtensions                       :mod:`.blueprint`
==============================================  ==============================================

Answers are XML unless ``f=json`` (or ``jsonp``) (:mod:`.responses`); logins come from
``deejai.subsonic.users`` (:mod:`.settings`, :mod:`.auth`); ids are never paths (:mod:`.ids`).
See docs/subsonic.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from ..session import LibrarySession
    from .settings import SubsonicSettings


def add_subsonic(app: Flask, library: LibrarySession, settings: SubsonicSettings | None = None):
    """Serve the Subsonic API of ``library`` under ``/rest/`` of ``app``; returns the
    :class:`.server.SubsonicServer`."""
    from .blueprint import register
    from .server import SubsonicServer
    from .settings import SubsonicSettings

    server = SubsonicServer(library, settings or SubsonicSettings.from_config())
    register(app, server)
    return server
