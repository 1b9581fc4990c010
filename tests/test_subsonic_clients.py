"""A whole listening session through two Subsonic client libraries nobody here wrote
(``py-opensonic``, which Music Assistant uses, and ``py-sonic``) against a real
``beet deejai serve``; every response they receive is checked against the schema written
from the spec's response pages (subsonic_schema.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from conftest import ROOT, kind_of
from subsonic_library import API_KEY, PASSWORD, USER, library_fixture
from subsonic_schema import check_response
from system_tools import free_port, wait_for_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    yield from library_fixture(tmp_path_factory)


@pytest.fixture(scope="module")
def server(library):
    """``beet deejai serve`` on a free port: ``(port, process)``."""
    port = free_port()
    env = dict(os.environ, BEETSDIR=str(library.temp_path), HOME=str(library.temp_path))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from beets.ui import main; main(sys.argv[1:])"]
        + ["deejai", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if not wait_for_port(port, 120):
            process.terminate()
            pytest.fail(f"serve did not start: {process.communicate(timeout=20)}")
        yield port
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
        assert "Traceback" not in err, err[-2000:]


def _method(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name[:-5] if name.endswith(".view") else name


def _fresh(library, song: str):
    """The item as the server left it in the database (read anew)."""
    return library.lib.get_item(int(song[3:]))


def test_a_listening_session_through_py_opensonic(library, server, monkeypatch):
    import libopensonic
    from libopensonic._async.connection import AsyncConnection

    seen: list[tuple[str, dict]] = []
    handle = AsyncConnection._handle_info_res

    async def recording(self, res):
        body = await handle(self, res)
        seen.append((_method(res.url.path), body))
        return body

    monkeypatch.setattr(AsyncConnection, "_handle_info_res", recording)
    conn = libopensonic.Connection("http://127.0.0.1", USER, PASSWORD, port=server)
    by_key = libopensonic.Connection("http://127.0.0.1", api_key=API_KEY, port=server)

    def read(response) -> bytes:
        return asyncio.run_coroutine_threadsafe(response.read(), conn._loop).result()

    try:
        assert conn.ping() and by_key.ping()
        names = [e.name for e in conn.get_open_subsonic_extensions()]
        assert "sonicSimilarity" in names and "apiKeyAuthentication" in names
        # browse: artists -> album -> songs
        artists = [a for i in conn.get_artists().index for a in i.artist]
        chord = next(a for a in artists if a.name == "chord")
        album = conn.get_artist(chord.id).album[0]
        songs = conn.get_album(album.id).song
        assert [s.title for s in songs] == ["chord-1", "chord-2", "chord-3"]
        first = songs[0]
        # search
        found = conn.search3("noise")
        assert {s.title for s in found.song} == {"noise-1", "noise-2", "noise-3"}
        # stream with a range request; cover art
        data = open(_fresh(library, first.id).path, "rb").read()
        part = conn.stream(first.id, byte_range="bytes=10-59")
        assert part.status == 206 and read(part) == data[10:60]
        cover = conn.get_cover_art(album.cover_art)
        assert read(cover) == library.cover.read_bytes()
        # similar tracks, a sonic path, Music Assistant's radio call
        matches = conn.get_sonic_similar_tracks(first.id, count=5)
        assert len(matches) == 5 and matches[0].entry.title.startswith("chord")
        assert all(0.0 <= m.similarity <= 1.0 for m in matches)
        end = next(s for s in found.song if s.title == "noise-1")
        path = conn.find_sonic_path(first.id, end.id, count=6)
        assert path[0].entry.id == first.id and path[-1].entry.id == end.id and len(path) == 6
        radio = conn.get_similar_songs(first.id, count=8)
        assert len(radio) == 8 and first.id not in [s.id for s in radio]
        assert len(conn.get_similar_songs2(album.id, count=4)) == 4
        # a playlist, a play, a star
        assert conn.create_playlist(name="opensonic mix", song_ids=[m.entry.id for m in matches])
        lists = {p.name: p for p in conn.get_playlists()}
        assert lists["opensonic mix"].song_count == 5
        assert [e.id for e in conn.get_playlist(lists["opensonic mix"].id).entry] == [
            m.entry.id for m in matches
        ]
        plays = int(_fresh(library, first.id).get("play_count", 0))
        assert conn.scrobble(first.id)
        assert _fresh(library, first.id)["play_count"] == plays + 1
        assert conn.star(sids=[first.id])
        assert [s.id for s in conn.get_starred2().song] == [first.id]
        assert conn.unstar(sids=[first.id])
    finally:
        conn.cleanup()
        by_key.cleanup()
    assert len(seen) >= 18
    problems = [(m, p) for m, body in seen for p in check_response(m, body)]
    assert problems == []


def test_a_listening_session_through_py_sonic(library, server):
    import libsonic

    seen: list[tuple[str, dict]] = []

    class Recording(libsonic.Connection):
        def _doInfoReq(self, req):
            body = super()._doInfoReq(req)
            seen.append((_method(req.full_url.split("?")[0]), body))
            return body

    conn = Recording("http://127.0.0.1", USER, PASSWORD, port=server)
    legacy = Recording("http://127.0.0.1", USER, PASSWORD, port=server, legacyAuth=True)
    assert conn.ping() and legacy.ping()
    # browse
    index = conn.getArtists()["artists"]["index"]
    slow = next(a for i in index for a in i["artist"] if a["name"] == "slowclicks")
    album = conn.getArtist(slow["id"])["artist"]["album"][0]
    songs = conn.getAlbum(album["id"])["album"]["song"]
    assert [s["title"] for s in songs] == ["slowclicks-1", "slowclicks-2", "slowclicks-3"]
    first = songs[0]
    # search
    found = conn.search3("fastclicks")["searchResult3"]
    assert sorted(s["title"] for s in found["song"]) == [
        "fastclicks-1",
        "fastclicks-2",
        "fastclicks-3",
    ]
    # stream with a range (its raw request, with the header added), cover art (embedded)
    data = open(_fresh(library, first["id"]).path, "rb").read()
    request = conn._getRequest("stream.view", {"id": first["id"]})
    request.add_header("Range", "bytes=0-31")
    part = conn._doBinReq(request)
    assert part.status == 206 and part.read() == data[:32]
    noise = conn.search3("noise-2")["searchResult3"]["song"][0]
    assert conn.getCoverArt(noise["coverArt"]).read() == library.noise_art
    # sonic endpoints through its raw request (py-sonic has none); getSimilarSongs2
    raw = conn._doInfoReq(
        conn._getRequest("getSonicSimilarTracks.view", {"id": first["id"], "count": 4})
    )
    assert raw["status"] == "ok" and len(raw["sonicMatch"]) == 4
    assert kind_of(raw["sonicMatch"][0]["entry"]["title"]) == "slowclicks"
    end = found["song"][0]
    path = conn._doInfoReq(
        conn._getRequest(
            "findSonicPath.view", {"startSongId": first["id"], "endSongId": end["id"], "count": 5}
        )
    )["sonicMatch"]
    assert [path[0]["entry"]["id"], path[-1]["entry"]["id"]] == [first["id"], end["id"]]
    similar = conn.getSimilarSongs2(first["id"], count=6)["similarSongs2"]["song"]
    assert len(similar) == 6
    # a playlist, plays, a star
    conn.createPlaylist(name="py-sonic mix", songIds=[s["id"] for s in similar])
    lists = conn.getPlaylists()["playlists"]["playlist"]
    mine = next(p for p in lists if p["name"] == "py-sonic mix")
    entries = conn.getPlaylist(mine["id"])["playlist"]["entry"]
    assert [e["id"] for e in entries] == [s["id"] for s in similar]
    plays = int(_fresh(library, first["id"]).get("play_count", 0))
    conn.scrobble(first["id"], submission=True)
    conn.scrobble(first["id"], submission=True)
    assert _fresh(library, first["id"])["play_count"] == plays + 2
    conn.star(albumIds=[album["id"]])
    assert [a["id"] for a in conn.getStarred2()["starred2"]["album"]] == [album["id"]]
    conn.deletePlaylist(mine["id"])
    assert all(s["status"] == "ok" for _, s in seen)
    assert len(seen) >= 18
    problems = [(m, p) for m, body in seen for p in check_response(m, body)]
    assert problems == []
