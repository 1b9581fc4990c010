"""The OpenSubsonic API of ``beet deejai serve`` on a real library (Flask's test client;
test_subsonic_clients.py drives a real server with two client libraries from PyPI)."""

from __future__ import annotations

import hashlib
import os
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from subsonic_library import API_KEY, PASSWORD, USER, library_fixture
from subsonic_schema import check_response
from vector_rows import deejai_plugin

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    yield from library_fixture(tmp_path_factory)


NS = "{http://subsonic.org/restapi}"


def _settings(**kw):
    from beetsplug.deejai.subsonic.settings import SubsonicSettings, SubsonicUser

    users = {USER: SubsonicUser(USER, PASSWORD, (API_KEY,)), "bob": SubsonicUser("bob", "b0b")}
    return SubsonicSettings(users, **kw)


def _app(library, **kw):
    from beetsplug.deejai.web import create_app
    from beetsplug.deejai.web.backend import LibraryDj

    return create_app(LibraryDj(deejai_plugin().session(library.lib)), subsonic=_settings(**kw))


@pytest.fixture(scope="module")
def client(library):
    return _app(library).test_client()


def _token(password: str = PASSWORD, user: str = USER) -> dict:
    salt = os.urandom(6).hex()
    return {"u": user, "s": salt, "t": hashlib.md5((password + salt).encode()).hexdigest()}


def call(client, method: str, *, user: str = USER, password: str = PASSWORD, **params) -> dict:
    """``method`` as JSON with token authentication; its schema is checked."""
    query = {**_token(password, user), "v": "1.16.1", "c": "tests", "f": "json", **params}
    response = client.get(f"/rest/{method}.view", query_string=query)
    assert response.status_code == 200, response.data[:300]
    body = response.get_json()["subsonic-response"]
    assert check_response(method, body) == [], body
    return body


def ok(client, method: str, **params) -> dict:
    body = call(client, method, **params)
    assert body["status"] == "ok", body
    return body


def _ids(library, query: str) -> list[str]:
    return [f"tr-{i.id}" for i in library.lib.items(query)]


def _album(library, name: str) -> str:
    return f"al-{next(iter(library.lib.albums(f'album:{name}'))).id}"


# -- format, credentials, ids ------------------------------------------------------------
def test_xml_is_the_default_and_json_gives_the_same_answer(client, library):
    album = _album(library, "chord")
    query = {**_token(), "v": "1.16.1", "c": "t", "id": album}
    root = ET.fromstring(client.get("/rest/getAlbum", query_string=query).data)
    assert root.tag == f"{NS}subsonic-response"
    assert root.get("status") == "ok" and root.get("openSubsonic") == "true"
    xml_album = root.find(f"{NS}album")
    songs = [s.get("title") for s in xml_album.findall(f"{NS}song")]
    assert songs == ["chord-1", "chord-2", "chord-3"]
    body = ok(client, "getAlbum", id=album)
    assert [s["title"] for s in body["album"]["song"]] == songs
    assert xml_album.get("songCount") == str(body["album"]["songCount"]) == "3"
    posted = client.post("/rest/getAlbum", data={**query, "f": "json"})  # formPost
    assert posted.get_json()["subsonic-response"]["album"]["id"] == album
    jsonp = client.get("/rest/ping", query_string={**query, "f": "jsonp", "callback": "cb"})
    assert jsonp.data.startswith(b"cb({") and jsonp.data.endswith(b");")


def test_credentials_token_password_hex_and_api_key(client):
    base = {"v": "1.16.1", "c": "t", "f": "json"}

    def code(**params):
        body = client.get("/rest/ping", query_string={**base, **params}).get_json()
        body = body["subsonic-response"]
        return 0 if body["status"] == "ok" else body["error"]["code"]

    assert code(**_token()) == 0
    assert code(u=USER, p=PASSWORD) == 0
    assert code(u=USER, p="enc:" + PASSWORD.encode().hex()) == 0
    assert code(apiKey=API_KEY) == 0
    assert code(apiKey=API_KEY, u=USER) == 43
    assert code(apiKey="not-a-key") == 44
    assert code(p=PASSWORD) == 10 and code(u=USER) == 10
    assert code(**_token("wrong")) == 40 and code(u="nobody", p=PASSWORD) == 40
    assert code(u=USER, p="enc:zz") == 40
    for method in ("getArtists", "stream", "getCoverArt", "getSonicSimilarTracks"):
        body = client.get(f"/rest/{method}", query_string={**base, "id": "tr-1"}).get_json()
        assert body["subsonic-response"]["error"]["code"] == 10, method  # nothing without login
    public = client.get("/rest/getOpenSubsonicExtensions", query_string=base).get_json()
    assert public["subsonic-response"]["status"] == "ok"  # the spec makes this one public


def test_wrong_passwords_lock_the_address_out(library):
    client = _app(library, max_failures=3, lockout=60).test_client()
    base = {"v": "1.16.1", "c": "t", "f": "json"}
    here, there = {"REMOTE_ADDR": "10.0.0.7"}, {"REMOTE_ADDR": "10.0.0.8"}
    for _ in range(3):
        client.get("/rest/ping", query_string={**base, "u": USER, "p": "guess"}, environ_base=here)
    locked = client.get(
        "/rest/ping", query_string={**base, "u": USER, "p": PASSWORD}, environ_base=here
    )
    assert locked.status_code == 429
    error = locked.get_json()["subsonic-response"]["error"]
    assert error["code"] == 40 and "too many wrong logins" in error["message"]
    other = client.get(
        "/rest/ping", query_string={**base, "u": USER, "p": PASSWORD}, environ_base=there
    )
    assert other.get_json()["subsonic-response"]["status"] == "ok"


def test_ids_are_stable_across_restarts_and_never_paths(library, client):
    first = ok(client, "getArtists")["artists"]
    again = ok(_app(library).test_client(), "getArtists")["artists"]
    assert first == again
    names = {a["name"]: a["id"] for i in first["index"] for a in i["artist"]}
    assert sorted(names) == ["chord", "fastclicks", "late", "noise", "slowclicks"]
    assert all(v.startswith("ar-") and len(v) == 19 for v in names.values())
    song = ok(client, "getSong", id=_ids(library, "title:chord-1")[0])["song"]
    assert "path" not in song and "/" not in song["id"]
    secret = b"root:"
    for bad in (
        "../../etc/passwd",
        "/etc/passwd",
        "tr-1/../../etc/passwd",
        "tr-0",
        "tr--1",
        "tr-1%2F..",
        "al-1/..",
        "ar-../../x",
        "pl-" + b"../../../etc/passwd".hex(),
        "pl-" + b"/etc/passwd".hex(),
        "pl-2e2e",
    ):
        for method, key in (
            ("getSong", "id"),
            ("stream", "id"),
            ("download", "id"),
            ("getCoverArt", "id"),
            ("getPlaylist", "id"),
            ("getAlbum", "id"),
            ("getArtist", "id"),
        ):
            query = {**_token(), "v": "1.16.1", "c": "t", "f": "json", key: bad}
            response = client.get(f"/rest/{method}", query_string=query)
            assert secret not in response.data
            body = response.get_json()["subsonic-response"]
            assert body["error"]["code"] == 70, (method, bad, body)


def test_a_bug_is_error_0_never_a_500(library, monkeypatch):
    app = _app(library)
    from beetsplug.deejai.subsonic import catalog

    def broken(self, song):
        raise RuntimeError("secret /home/me")

    monkeypatch.setattr(catalog.Catalog, "item", broken)
    response = app.test_client().get(
        "/rest/getSong", query_string={**_token(), "f": "json", "id": "tr-1"}
    )
    assert response.status_code == 200
    body = response.get_json()["subsonic-response"]
    assert body["error"] == {"code": 0, "message": "internal error: RuntimeError"}
    unknown = app.test_client().get("/rest/getVideos", query_string={**_token(), "f": "json"})
    assert unknown.get_json()["subsonic-response"]["error"]["code"] == 70


# -- browsing and searching ---------------------------------------------------------------
def test_artist_album_song_and_folders(client, library):
    artists = ok(client, "getArtists")["artists"]["index"]
    chord = next(a for i in artists for a in i["artist"] if a["name"] == "chord")
    artist = ok(client, "getArtist", id=chord["id"])["artist"]
    assert [a["name"] for a in artist["album"]] == ["chord"] and artist["albumCount"] == 1
    album = ok(client, "getAlbum", id=artist["album"][0]["id"])["album"]
    assert album["duration"] == 24 and album["artistId"] == chord["id"]
    song = album["song"][0]
    assert (song["suffix"], song["contentType"], song["track"]) == ("flac", "audio/flac", 1)
    assert song["albumId"] == album["id"] and song["artistId"] == chord["id"]
    assert ok(client, "getMusicFolders")["musicFolders"]["musicFolder"] == [
        {"id": 1, "name": "beets"}
    ]
    indexes = ok(client, "getIndexes")["indexes"]
    assert [i["name"] for i in indexes["index"]] == ["C", "F", "L", "N", "S"]
    folder = call(client, "getMusicDirectory", id=chord["id"])["directory"]
    assert folder["child"][0]["isDir"] is True
    songs = call(client, "getMusicDirectory", id=album["id"])["directory"]["child"]
    assert [s["title"] for s in songs] == ["chord-1", "chord-2", "chord-3"]


def test_album_lists_and_random_songs(client, library):
    by_name = ok(client, "getAlbumList2", type="alphabeticalByName", size=10)["albumList2"]["album"]
    assert [a["name"] for a in by_name] == ["chord", "fastclicks", "late", "noise", "slowclicks"]
    page = ok(client, "getAlbumList2", type="alphabeticalByName", size=2, offset=1)
    assert [a["name"] for a in page["albumList2"]["album"]] == ["fastclicks", "late"]
    newest = ok(client, "getAlbumList2", type="newest")["albumList2"]["album"]
    assert newest[0]["name"] == "late"  # imported last
    assert len(ok(client, "getAlbumList2", type="random", size=3)["albumList2"]["album"]) == 3
    assert call(client, "getAlbumList2", type="sideways")["error"]["code"] == 0
    assert call(client, "getAlbumList2")["error"]["code"] == 10
    songs = ok(client, "getRandomSongs", size=5)["randomSongs"]["song"]
    assert len(songs) == 5 and len({s["id"] for s in songs}) == 5


def test_search3_words_paging_and_everything(client):
    found = ok(client, "search3", query="chord")["searchResult3"]
    assert [a["name"] for a in found["artist"]] == ["chord"]
    assert [a["name"] for a in found["album"]] == ["chord"]
    assert sorted(s["title"] for s in found["song"]) == ["chord-1", "chord-2", "chord-3"]
    everything = ok(client, "search3", query='""', songCount=100)["searchResult3"]
    assert len(everything["song"]) == 13 and len(everything["album"]) == 5
    page = ok(client, "search3", query="", songCount=5, songOffset=10)["searchResult3"]["song"]
    assert len(page) == 3
    assert ok(client, "search3", query="clicks 2", artistCount=0, albumCount=0)[
        "searchResult3"
    ] == {"song": [s for s in ok(client, "search3", query="clicks 2")["searchResult3"]["song"]]}


# -- media --------------------------------------------------------------------------------
def _get(client, method: str, **params):
    return client.get(
        f"/rest/{method}", query_string={**_token(), "v": "1.16.1", "c": "t", **params}
    )


def test_stream_serves_byte_ranges_and_transcodes_on_request(client, library):
    import av

    item = next(iter(library.lib.items("title:chord-1")))
    data = open(item.path, "rb").read()
    ranged = client.get(
        "/rest/stream",
        query_string={**_token(), "id": f"tr-{item.id}"},
        headers={"Range": "bytes=100-199"},
    )
    assert ranged.status_code == 206 and ranged.data == data[100:200]
    assert ranged.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert _get(client, "stream", id=f"tr-{item.id}", format="raw").data == data
    form = {**_token(), "id": f"tr-{item.id}"}  # formPost: py-opensonic POSTs, and seeks
    posted = client.post("/rest/stream.view", data=form, headers={"Range": "bytes=5-9"})
    assert posted.status_code == 206 and posted.data == data[5:10]
    mp3 = _get(client, "stream", id=f"tr-{item.id}", format="mp3", maxBitRate=96)
    assert mp3.status_code == 200 and mp3.mimetype == "audio/mpeg"
    path = library.temp_path / "out.mp3"
    path.write_bytes(mp3.data)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name.startswith("mp3")
        seconds = sum(f.samples for f in container.decode(stream)) / stream.rate
    assert abs(seconds - 8.0) < 0.2
    assert len(mp3.data) < 96_000 / 8 * 8 * 1.3  # about 96 kb/s
    limited = _get(client, "stream", id=f"tr-{item.id}", maxBitRate=32)  # flac > 32 kb/s
    assert limited.mimetype == "audio/mpeg" and limited.data[:3] in (b"ID3", b"\xff\xfb"[:3])
    download = _get(client, "download", id=f"tr-{item.id}")
    assert download.data == data and "attachment" in download.headers["Content-Disposition"]


def test_cover_art_from_artpath_else_embedded(client, library):
    chord = _album(library, "chord")
    assert _get(client, "getCoverArt", id=chord).data == library.cover.read_bytes()
    noise_song = _ids(library, "title:noise-2")[0]
    art = _get(client, "getCoverArt", id=noise_song)
    assert art.data == library.noise_art and art.mimetype == "image/png"
    assert _get(client, "getCoverArt", id=_album(library, "noise")).data == library.noise_art
    missing = _get(client, "getCoverArt", id=_album(library, "fastclicks"), f="json")
    assert missing.get_json()["subsonic-response"]["error"]["code"] == 70


# -- playlists ----------------------------------------------------------------------------
def test_playlists_are_m3u_files_in_the_cli_playlist_folder(client, library):
    from beetsplug.deejai.output import write_m3u

    folder = deejai_plugin().settings.playlist_dir  # where `beet deejai similar -o NAME` writes
    songs = _ids(library, "title:chord-1") + _ids(library, "title:noise-1")
    made = ok(client, "createPlaylist", name="Road trip", songId=songs)["playlist"]
    assert made["name"] == "Road trip" and [e["id"] for e in made["entry"]] == songs
    path = os.path.join(folder, "Road trip.m3u")
    text = open(path, encoding="utf-8").read()
    assert text.startswith("#EXTM3U") and "chord-1.flac" in text and "noise-1.flac" in text
    listed = ok(client, "getPlaylists")["playlists"]["playlist"]
    assert [p["name"] for p in listed] == ["Road trip"] and listed[0]["songCount"] == 2
    extra = _ids(library, "title:slowclicks-3")
    ok(
        client,
        "updatePlaylist",
        playlistId=made["id"],
        songIdToAdd=extra,
        songIndexToRemove="0",
        name="Trip",
    )
    assert not os.path.exists(path) and os.path.exists(os.path.join(folder, "Trip.m3u"))
    trip = ok(client, "getPlaylists")["playlists"]["playlist"][0]
    entries = ok(client, "getPlaylist", id=trip["id"])["playlist"]["entry"]
    assert [e["id"] for e in entries] == [songs[1], extra[0]]
    # a playlist the CLI wrote (`beet deejai similar ... -o`) is listed too
    write_m3u(
        list(library.lib.items("album:fastclicks")), os.path.join(folder, "cli.m3u"), "playlist"
    )
    names = {p["name"]: p for p in ok(client, "getPlaylists")["playlists"]["playlist"]}
    assert names["cli"]["songCount"] == 3
    ok(client, "deletePlaylist", id=trip["id"])
    ok(client, "deletePlaylist", id=names["cli"]["id"])
    assert os.listdir(folder) == []
    assert call(client, "createPlaylist", name="../../evil", songId=songs)["status"] == "ok"
    assert os.listdir(folder) == ["_.._evil.m3u"]  # a name, never a path
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))


# -- plays and stars ----------------------------------------------------------------------
def test_scrobbles_count_plays_as_mpdstats_and_skips_steer_later_picks(client, library):
    song = _ids(library, "title:slowclicks-2")[0]
    ok(client, "scrobble", id=song, time=1_700_000_000_000)
    ok(client, "scrobble", id=song)
    item = library.lib.get_item(int(song[3:]))
    assert item["play_count"] == 2 and int(item["last_played"]) >= int(time.time()) - 60
    assert ok(client, "getSong", id=song)["song"]["playCount"] == 2
    frequent = ok(client, "getAlbumList2", type="frequent")["albumList2"]["album"]
    assert [a["name"] for a in frequent] == ["slowclicks"]
    assert (
        ok(client, "getAlbumList2", type="recent")["albumList2"]["album"][0]["name"] == "slowclicks"
    )
    # bob skips chord-2: "now playing" chord-2, then at once another song
    chord2, chord3 = _ids(library, "title:chord-2")[0], _ids(library, "title:chord-3")[0]
    seed = _ids(library, "title:chord-1")[0]
    before = [
        s["id"]
        for s in ok(client, "getSimilarSongs", id=seed, count=3, user="bob", password="b0b")[
            "similarSongs"
        ]["song"]
    ]
    assert chord2 in before
    ok(client, "scrobble", id=chord2, submission="false", user="bob", password="b0b")
    ok(client, "scrobble", id=chord3, submission="false", user="bob", password="b0b")
    assert library.lib.get_item(int(chord2[3:]))["skip_count"] == 1
    after = ok(client, "getSimilarSongs", id=seed, count=3, user="bob", password="b0b")[
        "similarSongs"
    ]["song"]
    assert chord2 not in [s["id"] for s in after]
    # the skip is the library's (skip_count, as mpdstats records it): it steers every list,
    # the CLI's and other users' too: the song comes up less (docs/lists.md "Skips and plays
    # steer"); it is a penalty, so a close song may stay in a short list, further down
    alice = [
        s["id"] for s in ok(client, "getSimilarSongs", id=seed, count=3)["similarSongs"]["song"]
    ]
    assert chord2 not in alice or alice.index(chord2) > before.index(chord2), (before, alice)
    assert call(client, "scrobble", id="tr-999999")["error"]["code"] == 70


def test_star_and_unstar_songs_albums_artists(client, library):
    song = _ids(library, "title:fastclicks-1")[0]
    album = _album(library, "noise")
    artist = next(
        a["id"]
        for i in ok(client, "getArtists")["artists"]["index"]
        for a in i["artist"]
        if a["name"] == "slowclicks"
    )
    ok(client, "star", id=song, albumId=album, artistId=artist)
    starred = ok(client, "getStarred2")["starred2"]
    assert [s["id"] for s in starred["song"]] == [song] and "starred" in starred["song"][0]
    assert [a["id"] for a in starred["album"]] == [album]
    assert [a["id"] for a in starred["artist"]] == [artist]
    assert library.lib.get_item(int(song[3:])).get("subsonic_starred") is not None
    assert [
        a["name"] for a in ok(client, "getAlbumList2", type="starred")["albumList2"]["album"]
    ] == ["noise"]
    ok(client, "unstar", id=song, albumId=album, artistId=artist)
    assert ok(client, "getStarred2")["starred2"] == {"artist": [], "album": [], "song": []}
    assert call(client, "star")["error"]["code"] == 10


# -- sound --------------------------------------------------------------------------------
def test_sonic_similar_tracks_are_ordered_normalised_and_spread(client, library):
    extensions = ok(client, "getOpenSubsonicExtensions")["openSubsonicExtensions"]
    assert {"name": "sonicSimilarity", "versions": [1]} in extensions
    seed = _ids(library, "title:chord-1")[0]
    matches = ok(client, "getSonicSimilarTracks", id=seed, count=3)["sonicMatch"]
    titles = [m["entry"]["title"] for m in matches]
    scores = [m["similarity"] for m in matches]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert titles[0] in ("chord-2", "chord-3") and len(titles) == 3
    index = deejai_plugin().session(library.lib).index()
    vectors = index.vectors_by_id()
    a, b = vectors[int(seed[3:])], vectors[int(matches[0]["entry"]["id"][3:])]
    assert matches[0]["similarity"] == pytest.approx((1 + float(np.dot(a, b))) / 2, abs=1e-4)
    many = ok(client, "getSonicSimilarTracks", id=seed)["sonicMatch"]
    assert len(many) == 10 and seed not in [m["entry"]["id"] for m in many]
    assert {"chord-2", "chord-3"} <= {m["entry"]["title"] for m in many}


def test_subsonic_lists_are_spaced_as_every_list(client, library):
    """One spacing for every front end (docs/lists.md): getSimilarSongs is the session's spaced
    `similar` list (the CLI's), getSonicSimilarTracks the same songs, most similar first."""
    from beetsplug.deejai.listening import library_tags
    from deejai_model.lists.spacing import Spacer

    session = deejai_plugin().session(library.lib)
    seed = _ids(library, "title:chord-1")[0]
    spacer = Spacer(library_tags(library.lib))
    for count in (3, 7):
        want = [f"tr-{n.id}" for n in session.similar(session.seed(f"id:{seed[3:]}"), count)]
        songs = ok(client, "getSimilarSongs2", id=seed, count=count)["similarSongs2"]["song"]
        assert [s["id"] for s in songs] == want
        assert sum(spacer.violations([int(s[3:]) for s in want]).values()) == 0
        matches = ok(client, "getSonicSimilarTracks", id=seed, count=count)["sonicMatch"]
        assert sorted(m["entry"]["id"] for m in matches) == sorted(want)
        scores = [m["similarity"] for m in matches]
        assert scores == sorted(scores, reverse=True)


def test_sonic_path_starts_and_ends_with_the_songs(client, library):
    start, end = _ids(library, "title:chord-1")[0], _ids(library, "title:slowclicks-1")[0]
    path = ok(client, "findSonicPath", startSongId=start, endSongId=end, count=5)["sonicMatch"]
    assert path[0]["entry"]["id"] == start and path[-1]["entry"]["id"] == end
    assert len(path) == 5 and path[0]["similarity"] == 1.0
    assert len({m["entry"]["id"] for m in path}) == 5
    assert len(ok(client, "findSonicPath", startSongId=start, endSongId=end)["sonicMatch"]) <= 25
    assert call(client, "findSonicPath", startSongId=start)["error"]["code"] == 10


def test_similar_songs_from_a_song_album_or_artist(client, library):
    chord = _album(library, "chord")
    songs = ok(client, "getSimilarSongs2", id=chord, count=5)["similarSongs2"]["song"]
    assert len(songs) == 5 and not any(s["albumId"] == chord for s in songs)
    artist = ok(client, "getAlbum", id=chord)["album"]["artistId"]
    by_artist = ok(client, "getSimilarSongs", id=artist, count=4)["similarSongs"]["song"]
    assert len(by_artist) == 4 and not any(s["artistId"] == artist for s in by_artist)


def test_a_song_without_vectors_gets_a_clear_error(client, library):
    late = _ids(library, "title:late-1")[0]
    for method in ("getSonicSimilarTracks", "getSimilarSongs2"):
        body = call(client, method, id=late)
        assert body["error"]["code"] == 70 and "beet deejai embed" in body["error"]["message"]
    body = call(
        client, "findSonicPath", startSongId=_ids(library, "title:chord-1")[0], endSongId=late
    )
    assert body["error"]["code"] == 70


# -- serve --------------------------------------------------------------------------------
def test_serve_refuses_other_addresses_without_users(library):
    prelude = (
        "import beetsplug.deejai.web.serve as serve\n"
        "serve.serve_wsgi = lambda app, **kw: print('HOST', kw['host'])\n"
    )
    library.write_config()  # no subsonic users
    refused = library.beet("deejai", "serve", "--host", "0.0.0.0", prelude=prelude)
    assert refused.returncode != 0 and "no Subsonic users" in refused.stderr
    assert "HOST" not in refused.stdout
    local = library.beet("deejai", "serve", prelude=prelude)
    assert local.returncode == 0 and "HOST 127.0.0.1" in local.stdout
    from subsonic_library import SUBSONIC_YAML

    library.write_config(extra=SUBSONIC_YAML)
    allowed = library.beet("deejai", "serve", "--host", "0.0.0.0", prelude=prelude)
    assert allowed.returncode == 0 and "HOST 0.0.0.0" in allowed.stdout


def test_a_scrobble_time_that_is_no_date_records_nothing(client, library):
    song = _ids(library, "title:fastclicks-3")[0]
    item = library.lib.get_item(int(song[3:]))
    for bad in ("nan", "inf", "-5", "1e30", "soon"):
        error = call(client, "scrobble", id=song, time=bad)["error"]
        assert error["code"] == 0 and "milliseconds since 1970" in error["message"], error
    item.load()
    assert "play_count" not in item and "last_played" not in item  # `$last_played` still formats
    ok(client, "scrobble", id=song, time=1_700_000_000_000)
    item.load()
    assert item["play_count"] == 1 and int(item["last_played"]) == 1_700_000_000
