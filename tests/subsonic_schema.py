"""The OpenSubsonic responses' required fields and their types, written from the spec's
response pages (open-subsonic-api, ``content/en/docs/Responses/*.md``), and a checker.

A schema maps a field to ``(type, required)``; a type is a Python type (or tuple), a nested
schema (dict), or a one-element list ``[type]`` for arrays.  Only fields the spec lists are
checked; unknown fields are allowed (the spec lets servers add fields).
"""

from __future__ import annotations

STR, INT, NUM, BOOL = str, int, (int, float), bool

ENVELOPE = {
    "status": (STR, True),
    "version": (STR, True),
    "type": (STR, True),
    "serverVersion": (STR, True),
    "openSubsonic": (BOOL, True),
}
ERROR = {"code": (INT, True), "message": (STR, False), "helpUrl": (STR, False)}
# Responses/Child.md
CHILD = {
    "id": (STR, True),
    "parent": (STR, False),
    "isDir": (BOOL, True),
    "title": (STR, True),
    "album": (STR, False),
    "artist": (STR, False),
    "track": (INT, False),
    "year": (INT, False),
    "genre": (STR, False),
    "coverArt": (STR, False),
    "size": (INT, False),
    "contentType": (STR, False),
    "suffix": (STR, False),
    "duration": (INT, False),
    "bitRate": (INT, False),
    "bitDepth": (INT, False),
    "samplingRate": (INT, False),
    "channelCount": (INT, False),
    "path": (STR, False),
    "isVideo": (BOOL, False),
    "userRating": (INT, False),
    "playCount": (INT, False),
    "discNumber": (INT, False),
    "created": (STR, False),
    "starred": (STR, False),
    "albumId": (STR, False),
    "artistId": (STR, False),
    "type": (STR, False),
    "mediaType": (STR, False),
    "played": (STR, False),
    "bpm": (INT, False),
    "musicBrainzId": (STR, False),
}
# Responses/ArtistID3.md
ARTIST = {
    "id": (STR, True),
    "name": (STR, True),
    "coverArt": (STR, False),
    "albumCount": (INT, False),
    "starred": (STR, False),
    "musicBrainzId": (STR, False),
}
# Responses/AlbumID3.md
ALBUM = {
    "id": (STR, True),
    "name": (STR, True),
    "artist": (STR, False),
    "artistId": (STR, False),
    "coverArt": (STR, False),
    "songCount": (INT, True),
    "duration": (INT, True),
    "playCount": (INT, False),
    "created": (STR, True),
    "starred": (STR, False),
    "year": (INT, False),
    "genre": (STR, False),
    "played": (STR, False),
    "musicBrainzId": (STR, False),
}
ALBUM_WITH_SONGS = {**ALBUM, "song": ([CHILD], False)}
ARTIST_WITH_ALBUMS = {**ARTIST, "albumCount": (INT, True), "album": ([ALBUM], False)}
INDEX_ID3 = {"name": (STR, True), "artist": ([ARTIST], False)}
# Responses/playlist.md, playlistWithSongs.md
PLAYLIST = {
    "id": (STR, True),
    "name": (STR, True),
    "comment": (STR, False),
    "owner": (STR, False),
    "public": (BOOL, False),
    "songCount": (INT, True),
    "duration": (INT, True),
    "created": (STR, True),
    "changed": (STR, True),
    "coverArt": (STR, False),
}
SONIC_MATCH = {"entry": (CHILD, True), "similarity": (NUM, True)}
EXTENSION = {"name": (STR, True), "versions": ([INT], True)}

#: Method -> (key of the body, its schema); None: no body.
BODIES = {
    "ping": None,
    "scrobble": None,
    "star": None,
    "unstar": None,
    "updatePlaylist": None,
    "deletePlaylist": None,
    "getLicense": ("license", {"valid": (BOOL, True), "email": (STR, False)}),
    "getOpenSubsonicExtensions": ("openSubsonicExtensions", [EXTENSION]),
    "getMusicFolders": (
        "musicFolders",
        {"musicFolder": ([{"id": (INT, True), "name": (STR, False)}], False)},
    ),
    "getArtists": ("artists", {"ignoredArticles": (STR, True), "index": ([INDEX_ID3], False)}),
    "getIndexes": (
        "indexes",
        {
            "ignoredArticles": (STR, True),
            "lastModified": (INT, True),
            "index": ([INDEX_ID3], False),
        },
    ),
    "getArtist": ("artist", ARTIST_WITH_ALBUMS),
    "getAlbum": ("album", ALBUM_WITH_SONGS),
    "getSong": ("song", CHILD),
    "getAlbumList2": ("albumList2", {"album": ([ALBUM], False)}),
    "getRandomSongs": ("randomSongs", {"song": ([CHILD], False)}),
    "search3": (
        "searchResult3",
        {"artist": ([ARTIST], False), "album": ([ALBUM], False), "song": ([CHILD], False)},
    ),
    "getPlaylists": ("playlists", {"playlist": ([PLAYLIST], False)}),
    "getPlaylist": ("playlist", {**PLAYLIST, "entry": ([CHILD], False)}),
    "createPlaylist": ("playlist", {**PLAYLIST, "entry": ([CHILD], False)}),
    # Responses/starred2.md names Child for albums; servers and clients use AlbumID3
    "getStarred2": (
        "starred2",
        {"artist": ([ARTIST], False), "album": ([ALBUM], False), "song": ([CHILD], False)},
    ),
    # Responses/directory.md, albumList.md, starred.md
    "getMusicDirectory": (
        "directory",
        {
            "id": (STR, True),
            "parent": (STR, False),
            "name": (STR, True),
            "starred": (STR, False),
            "playCount": (INT, False),
            "child": ([CHILD], False),
        },
    ),
    "getAlbumList": ("albumList", {"album": ([CHILD], False)}),
    "getStarred": (
        "starred",
        {"artist": ([ARTIST], False), "album": ([ALBUM], False), "song": ([CHILD], False)},
    ),
    "getSimilarSongs": ("similarSongs", {"song": ([CHILD], False)}),
    "getSimilarSongs2": ("similarSongs2", {"song": ([CHILD], False)}),
    "getSonicSimilarTracks": ("sonicMatch", [SONIC_MATCH]),
    "findSonicPath": ("sonicMatch", [SONIC_MATCH]),
}


def _type_ok(value, kind) -> bool:
    if kind is BOOL:
        return isinstance(value, bool)
    if kind in (INT, NUM):
        return isinstance(value, kind) and not isinstance(value, bool)
    return isinstance(value, kind)


def check(value, schema, where: str = "$") -> list[str]:
    """What is wrong with ``value`` against ``schema`` (empty: nothing)."""
    problems: list[str] = []
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{where}: an array is needed, not {type(value).__name__}"]
        for pos, entry in enumerate(value):
            problems += check(entry, schema[0], f"{where}[{pos}]")
        return problems
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{where}: an object is needed, not {type(value).__name__}"]
        for key, (kind, required) in schema.items():
            if key not in value:
                if required:
                    problems.append(f"{where}.{key}: required, missing")
                continue
            problems += check(value[key], kind, f"{where}.{key}")
        return problems
    if not _type_ok(value, schema):
        return [f"{where}: {schema} is needed, not {type(value).__name__} {value!r}"]
    return problems


def check_response(method: str, response: dict) -> list[str]:
    """Problems of one ``subsonic-response`` (the dict inside) of ``method``."""
    problems = check(response, ENVELOPE, "subsonic-response")
    if response.get("status") == "failed":
        return problems + check(response.get("error"), ERROR, "error")
    if response.get("status") != "ok":
        problems.append(f"status: 'ok' or 'failed', not {response.get('status')!r}")
    if response.get("openSubsonic") is not True:
        problems.append("openSubsonic must be true")
    body = BODIES.get(method)
    if method not in BODIES:
        problems.append(f"no schema for {method}")
    elif body is not None:
        key, schema = body
        if key not in response:
            problems.append(f"{method}: {key} missing")
        else:
            problems += check(response[key], schema, key)
    return problems
