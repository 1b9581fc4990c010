"""The browser DJ's HTTP API on a real library (Flask's test client; the page itself is driven
in Chromium by test_web_browser.py)."""

from __future__ import annotations

import os
import tempfile
import textwrap

import pytest
from audio_fixtures import chord, noise_bursts, write_audio
from conftest import SR, kind_of
from vector_rows import deejai_plugin

pytestmark = pytest.mark.slow


@pytest.fixture
def dj(deejai_library):
    """A fresh session on the module's library (the session is the only state that changes)."""
    from beetsplug.deejai.web.backend import LibraryDj

    return LibraryDj(deejai_plugin().session(deejai_library.lib), ahead=4)


@pytest.fixture
def client(dj):
    from beetsplug.deejai.web import create_app

    return create_app(dj, max_upload=2_000_000).test_client()


def _kinds(tracks: list[dict]) -> list[str]:
    return [kind_of(t["title"]) for t in tracks]


def test_suggestions_are_embedded_items_matching_a_beets_query(client):
    found = client.get("/api/suggest", query_string={"q": "artist:chord"}).get_json()["items"]
    assert sorted(t["title"] for t in found) == ["chord-1", "chord-2", "chord-3"]
    assert all(t["audio"] == f"/audio/{t['id']}" for t in found)
    assert client.get("/api/suggest", query_string={"q": "nothing-like-this"}).json == {"items": []}


@pytest.mark.parametrize("query", ["/etc/passwd", "path:/etc", "../../etc/passwd", "a/../../b"])
def test_paths_in_queries_are_refused(client, query):
    for response in (
        client.get("/api/suggest", query_string={"q": query}),
        client.post("/api/seed", json={"query": query}),
    ):
        assert response.status_code == 400
        assert "paths are not accepted" in response.get_json()["error"]


def test_paths_in_urls_are_refused(client):
    for url in (
        "/audio/../../etc/passwd",
        "/audio/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/audio//etc/passwd",
        "/art/..%2Fsetup.cfg",
        "/static/../../../setup.cfg",
        "/static/%2E%2E/__init__.py",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"root:" not in response.data and b"[metadata]" not in response.data
    missing = client.get("/audio/999999")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "no item with id 999999"}


def test_a_bug_answers_json_500_without_a_traceback(dj, monkeypatch):
    from beetsplug.deejai.web import create_app

    def broken():
        raise RuntimeError("secret detail /home/me/.config")

    monkeypatch.setattr(dj, "state", broken)
    client = create_app(dj).test_client()
    response = client.get("/api/state")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error: RuntimeError"}
    wrong = client.get("/api/seed")
    assert wrong.status_code == 405 and "error" in wrong.get_json()


def test_a_search_seed_plays_it_and_queues_tracks_that_sound_alike(client):
    state = client.post("/api/seed", json={"query": "title:fastclicks-1"}).get_json()
    assert state["now"]["title"] == "fastclicks-1"
    assert len(state["queue"]) == 4
    assert _kinds(state["queue"][:2]) == ["fastclicks", "fastclicks"]
    following = client.post("/api/next", json={"skipped": False}).get_json()
    assert following["now"]["id"] == state["queue"][0]["id"]
    assert [t["id"] for t in following["queue"][:3]] == [t["id"] for t in state["queue"][1:]]


def test_controls_and_feedback_change_what_comes_next(client):
    state = client.post("/api/seed", json={"query": "title:chord-1"}).get_json()
    assert _kinds(state["queue"][:2]) == ["chord", "chord"]
    wide = client.post("/api/controls", json={"lookback": 0, "noise": 1.5}).get_json()
    assert wide["controls"] == {"lookback": 0, "noise": 1.5}
    client.post("/api/controls", json={"lookback": 3, "noise": 0})
    less = client.post("/api/feedback", json={"id": state["now"]["id"], "verdict": "less"})
    after = less.get_json()
    assert after["now"]["id"] != state["now"]["id"]  # "less" on the playing track moves on
    assert state["now"]["id"] in after["disliked"]
    assert "chord" not in _kinds(after["queue"])
    bad = client.post("/api/controls", json={"lookback": "many"})
    assert bad.status_code == 400 and "lookback must be a number" in bad.get_json()["error"]
    assert client.post("/api/feedback", json={"id": 1, "verdict": "meh"}).status_code == 400


def test_a_journey_plays_from_a_through_the_waypoint_to_b(client):
    state = client.post(
        "/api/journey",
        json={"a": "title:chord-1", "b": "title:noise-1", "via": ["fastclicks-2"], "n": 1},
    ).get_json()
    assert state["now"]["title"] == "chord-1"
    titles = [t["title"] for t in state["queue"]]
    assert titles[1] == "fastclicks-2" and titles[3] == "noise-1"
    assert len(set(titles)) == len(titles) and "chord-1" not in titles
    bad = client.post("/api/journey", json={"a": "title:chord-1", "b": ""})
    assert bad.status_code == 400 and bad.get_json() == {"error": "a journey needs A and B"}
    missing = client.post("/api/journey", json={"a": "chord-1", "b": "no-such-title"})
    assert missing.status_code == 404


def test_more_like_this_steers_the_queue_towards_the_track(client):
    state = client.post("/api/seed", json={"query": "title:slowclicks-1"}).get_json()
    assert state["queue"][0]["title"].startswith("slowclicks")
    chord = client.get("/api/suggest", query_string={"q": "title:chord-3"}).get_json()["items"][0]
    after = client.post("/api/feedback", json={"id": chord["id"], "verdict": "more"}).get_json()
    assert after["now"]["id"] == state["now"]["id"]  # "more" does not move on
    assert after["liked"] == [chord["id"]]
    rank = [t["title"] for t in after["queue"]]
    before = [t["title"] for t in state["queue"]]
    assert not any(kind_of(t) == "chord" for t in before)
    assert any(kind_of(t) == "chord" for t in rank), (before, rank)


def test_the_store_gives_each_track_its_first_slices(dj):
    store = dj.library.store
    model_id = dj.index.model_id
    heads = store.beginnings(model_id, seconds=4.0, at_most=2)
    slices = store.slices(model_id)
    assert set(heads) == set(slices)
    for item_id, head in heads.items():
        assert 1 <= len(head) <= 2
        assert (head == slices[item_id][: len(head)]).all()
    assert all(len(h) == 1 for h in store.beginnings(model_id, seconds=0.1).values())


def test_audio_is_served_with_range_requests(client, deejai_library):
    item = next(iter(deejai_library.lib.items("title:chord-2")))
    data = open(os.fsdecode(item.path), "rb").read()
    whole = client.get(f"/audio/{item.id}")
    assert whole.status_code == 200 and whole.data == data
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Type"] == "audio/flac"
    part = client.get(f"/audio/{item.id}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    assert part.data == data[1000:2000]
    beyond = client.get(f"/audio/{item.id}", headers={"Range": f"bytes={len(data) + 5}-"})
    assert beyond.status_code == 416


def test_audio_is_found_from_the_server_threads(client, deejai_library):
    # beets resolves stored paths with a context variable that new threads lack
    import threading

    item = next(iter(deejai_library.lib.items("title:chord-3")))
    statuses = []
    worker = threading.Thread(target=lambda: statuses.append(client.get(f"/audio/{item.id}")))
    worker.start()
    worker.join(30)
    assert statuses[0].status_code == 200, statuses[0].get_json()


def test_album_art_comes_from_beets_artpath(client, deejai_library, tmp_path):
    item = next(iter(deejai_library.lib.items("title:noise-1")))
    assert client.get(f"/art/{item.id}").status_code == 404
    album = item.get_album()
    cover = tmp_path / "cover.png"
    cover.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    album.artpath = str(cover).encode()
    album.store()
    try:
        response = client.get(f"/art/{item.id}")
        assert response.status_code == 200 and response.data == cover.read_bytes()
        state = client.post("/api/seed", json={"query": "title:noise-1"}).get_json()
        assert state["now"]["art"] == f"/art/{item.id}"
    finally:
        album.artpath = None
        album.store()


@pytest.fixture
def upload_tmp(monkeypatch, tmp_path):
    """Uploads are decoded under this folder (it must be empty afterwards)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_bad_uploads_get_clear_errors_and_leave_nothing_behind(client, upload_tmp):
    def post(data: bytes, name: str):
        import io

        return client.post(
            "/api/upload",
            data={"audio": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )

    empty = post(b"", "song.mp3")
    assert empty.status_code == 400 and empty.get_json() == {"error": "song.mp3: the file is empty"}
    text = post(b"just some words\n" * 100, "notes.txt")
    assert text.status_code == 400 and "notes.txt: not an audio file type" in text.json["error"]
    fake = post(b"just some words\n" * 100, "fake.mp3")
    assert fake.status_code == 400 and fake.json["error"].startswith("fake.mp3: ")
    assert "/" not in fake.json["error"]  # the temporary path is not shown
    huge = post(b"\0" * 3_000_000, "huge.wav")
    assert huge.status_code == 413 and "upload too large" in huge.json["error"]
    assert client.post("/api/upload").status_code == 400
    assert list(upload_tmp.iterdir()) == []


def test_an_uploaded_file_seeds_the_session_without_joining_the_library(
    client, deejai_library, upload_tmp, tmp_path
):
    path = write_audio(tmp_path / "mine.wav", noise_bursts(8.0, SR, every=0.5, seed=7), SR)
    before = len(deejai_library.lib.items())
    with open(path, "rb") as f:
        response = client.post(
            "/api/upload", data={"audio": (f, "mine.wav")}, content_type="multipart/form-data"
        )
    assert response.status_code == 200, response.json
    state = response.get_json()
    assert kind_of(state["now"]["title"]) == "noise"
    assert _kinds(state["queue"][:2]) == ["noise", "noise"]
    assert len(deejai_library.lib.items()) == before
    assert list(upload_tmp.iterdir()) == []


def test_a_microphone_take_starts_the_track_whose_beginning_matches(client, tmp_path):
    take = write_audio(tmp_path / "take.wav", chord(6.0, SR, freqs=[220.0, 277.18, 329.63]), SR)
    with open(take, "rb") as f:
        response = client.post(
            "/api/mic", data={"audio": (f, "blob")}, content_type="multipart/form-data"
        )
    # a take named "blob" is typed by its content type
    assert response.status_code == 400
    with open(take, "rb") as f:
        response = client.post(
            "/api/mic",
            data={"audio": (f, "", "audio/wav")},
            content_type="multipart/form-data",
        )
    assert response.status_code == 200, response.json
    state = response.get_json()
    assert state["now"]["title"] == "chord-1"  # same notes as chord-1's beginning
    assert state["matches"][0]["id"] == state["now"]["id"]


def test_query_endpoints_never_load_tensorflow(deejai_library):
    """A real `beet deejai serve` process, its requests answered without a socket."""
    deejai_library.write_config()
    script = textwrap.dedent(
        """
        import sys
        import beetsplug.deejai.web.serve
        def run(app, **kw):
            c = app.test_client()
            for url in ("/", "/api/state", "/api/suggest?q=chord", "/audio/1"):
                assert c.get(url).status_code == 200, url
            assert c.post("/api/seed", json={"query": "slowclicks"}).status_code == 200
            assert c.post("/api/next", json={"skipped": True}).status_code == 200
            assert c.post("/api/feedback", json={"id": 1, "verdict": "less"}).status_code == 200
            assert c.post("/api/journey", json={"a": "chord-1", "b": "noise-1"}).status_code == 200
            print("SERVED", kw["host"], kw["port"])
        beetsplug.deejai.web.serve.serve_wsgi = run
        """
    )
    done = deejai_library.beet("deejai", "serve", "--port", "8123", probe=True, prelude=script)
    assert done.returncode == 0, done.stderr
    assert "SERVED 127.0.0.1 8123" in done.stdout  # loopback unless asked
    assert done.stdout.rstrip().endswith("HEAVY=")  # not even PyAV
    assert "anyone who can reach" not in done.stderr


def test_serving_beyond_loopback_must_be_asked_for_and_warns(deejai_library):
    # beyond loopback the Subsonic API needs users (test_subsonic.py: refused without)
    deejai_library.write_config(extra="  subsonic:\n    users:\n      u: {password: p}\n")
    prelude = (
        "import beetsplug.deejai.web.serve as serve\n"
        "serve.serve_wsgi = lambda app, **kw: print('HOST', kw['host'])\n"
    )
    done = deejai_library.beet("deejai", "serve", "--host", "0.0.0.0", prelude=prelude)
    assert done.returncode == 0, done.stderr
    assert "HOST 0.0.0.0" in done.stdout
    assert "listening on 0.0.0.0: anyone who can reach this address" in done.stderr
    bad = deejai_library.beet("deejai", "serve", "--port", "0", prelude=prelude)
    assert bad.returncode != 0 and "deejai serve: bad port 0" in bad.stderr
    deejai_library.write_config()
