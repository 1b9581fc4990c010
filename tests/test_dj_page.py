"""The DJ page's data, on real libraries through Flask's test client: the map (cached beside
the index), why each pick was made, the queue edited, journeys by picked tracks, the end of
the library, uploads that are not audio (test_dj_page_names.py: untagged and look-alike
tracks, embedded covers).

The page itself is driven in Chromium by test_web_browser.py."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from conftest import kind_of
from vector_rows import deejai_plugin

pytestmark = pytest.mark.slow


@pytest.fixture
def dj(deejai_library):
    from beetsplug.deejai.web.backend import LibraryDj

    return LibraryDj(deejai_plugin().session(deejai_library.lib), ahead=4)


@pytest.fixture
def client(dj):
    from beetsplug.deejai.web import create_app

    return create_app(dj).test_client()


def test_the_map_has_a_point_per_track_drawn_once_and_cached_beside_the_index(dj, client):
    from beetsplug.deejai.soundmap import map_files, read_map

    coords, meta = map_files(dj.index)
    for path in (coords, meta):
        if os.path.exists(path):
            os.remove(path)
    data = client.get("/api/map").get_json()
    n = len(dj.index)
    assert data["n"] == n == 12 and sorted(data["ids"]) == sorted(int(i) for i in dj.index.ids)
    assert all(0.0 <= v <= 1.0 for v in data["x"] + data["y"])
    assert len(data["labels"]) == n and "chord - chord-1" in data["labels"]
    artists = data["fields"]["artist"]
    assert sorted(artists["names"]) == ["chord", "fastclicks", "noise", "slowclicks"]
    assert len(artists["codes"]) == n
    # cached beside the index, keyed by it: a new session reads it instead of drawing it
    assert os.path.dirname(coords) == os.path.dirname(dj.index.paths.meta)
    stamp = os.stat(coords).st_mtime_ns
    cached = read_map(dj.index)
    assert cached is not None and np.allclose(cached.xy[:, 0], data["x"], atol=1e-4)
    from beetsplug.deejai.web.backend import LibraryDj

    again = LibraryDj(deejai_plugin().session(dj.lib), ahead=4).map_data()
    assert again["x"] == data["x"] and os.stat(coords).st_mtime_ns == stamp
    # another index (its key changes) makes the cached map stale
    dj.index.meta = {**dj.index.meta, "fingerprint": {"changed": 1}}
    assert read_map(dj.index) is None


def test_tracks_that_sound_alike_lie_near_each_other_on_the_map(client):
    data = client.get("/api/map").get_json()
    xy = np.stack([data["x"], data["y"]], axis=1)
    kinds = np.array([kind_of(label.split(" - ")[-1]) for label in data["labels"]])
    near = 0
    for i in range(len(xy)):
        d = np.linalg.norm(xy - xy[i], axis=1)
        d[i] = np.inf
        near += kinds[np.argmin(d)] == kinds[i]
    assert near >= 10, (near, list(zip(kinds, xy.round(2).tolist(), strict=True)))


def test_each_queued_pick_says_why_it_was_picked(client):
    state = client.post("/api/seed", json={"query": "title:noise-1"}).get_json()
    assert state["now"]["why"] == "seed"
    assert state["queue"][0]["why"] == "nearest to the last one"
    assert state["queue"][2]["why"] == "nearest to the last 3"
    state = client.post("/api/controls", json={"noise": 0.5}).get_json()
    assert all(t["why"].endswith("drunk 0.5") for t in state["queue"])
    state = client.post("/api/controls", json={"noise": 0}).get_json()
    state = client.post("/api/feedback", json={"id": state["queue"][0]["id"], "verdict": "more"})
    assert all("steered by more / less" in t["why"] for t in state.get_json()["queue"])
    ids = {t["title"]: t["id"] for t in client.get("/api/suggest?q=chord").json["items"]}
    ids |= {t["title"]: t["id"] for t in client.get("/api/suggest?q=noise").json["items"]}
    state = client.post(
        "/api/journey", json={"a": {"id": ids["noise-1"]}, "b": {"id": ids["chord-3"]}, "n": 1}
    ).get_json()
    assert state["now"]["why"] == "journey start"
    assert [t["why"] for t in state["queue"][:2]] == ["journey step 1 of 2", "journey step 2 of 2"]
    assert state["route"] == [ids["noise-1"], state["queue"][0]["id"], ids["chord-3"]]


def test_a_journey_by_picked_tracks_never_needs_an_id_query(client):
    found = {t["title"]: t["id"] for t in client.get("/api/suggest?q=fastclicks").json["items"]}
    found |= {t["title"]: t["id"] for t in client.get("/api/suggest?q=chord").json["items"]}
    found |= {t["title"]: t["id"] for t in client.get("/api/suggest?q=noise").json["items"]}
    state = client.post(
        "/api/journey",
        json={
            "a": {"id": found["fastclicks-1"]},
            "via": [{"id": found["noise-2"]}],
            "b": "title:chord-3",  # a typed query still works
            "n": 1,
        },
    ).get_json()
    titles = [state["now"]["title"]] + [t["title"] for t in state["queue"]]
    assert titles[0] == "fastclicks-1" and titles[2] == "noise-2" and titles[4] == "chord-3"
    assert client.post("/api/journey", json={"a": {"id": 99999}, "b": "x"}).status_code == 404


def test_queued_tracks_can_be_reordered_and_removed(client):
    state = client.post("/api/seed", json={"query": "title:chord-1"}).get_json()
    queue = [t["id"] for t in state["queue"]]
    state = client.post("/api/queue", json={"id": queue[2], "action": "move", "position": 0})
    assert [t["id"] for t in state.get_json()["queue"]] == [queue[2], queue[0], queue[1], queue[3]]
    state = client.post("/api/queue", json={"id": queue[0], "action": "remove"}).get_json()
    after = [t["id"] for t in state["queue"]]
    assert queue[0] not in after and after[:3] == [queue[2], queue[1], queue[3]]
    assert len(after) == 4  # topped up again
    for _ in range(12):  # a removed track is not picked again in this session
        state = client.post("/api/next", json={"skipped": False}).get_json()
        assert state["now"] is None or state["now"]["id"] != queue[0]
    bad = client.post("/api/queue", json={"id": queue[0], "action": "move", "position": 0})
    assert bad.status_code == 400 and "is not queued" in bad.json["error"]
    assert client.post("/api/queue", json={"id": after[0], "action": "x"}).status_code == 400


def test_when_every_track_has_played_the_page_is_told(client):
    state = client.post("/api/seed", json={"query": "title:chord-1"}).get_json()
    assert state["finished"] is None
    for _ in range(11):
        state = client.post("/api/next", json={"skipped": False}).get_json()
    assert len(state["played"]) == 12 and state["queue"] == []
    assert state["finished"] is None  # the twelfth track plays now
    state = client.post("/api/next", json={"skipped": False}).get_json()
    assert "Every track has played" in state["finished"]
    assert client.get("/api/state").get_json()["finished"] == state["finished"]
    state = client.post("/api/seed", json={"query": "title:chord-2"}).get_json()
    assert state["finished"] is None


def test_an_upload_that_is_not_audio_gets_plain_words(client):
    response = client.post(
        "/api/upload",
        data={"audio": (io.BytesIO(b"<html>not a song</html>\n" * 200), "song.mp3")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    message = response.get_json()["error"]
    assert message == (
        "song.mp3: this is not audio that can be played (the file could not be decoded)"
    )


def test_without_the_map_extra_the_map_is_pca_and_says_how_to_get_t_sne(monkeypatch):
    """The plain install has no scikit-learn: the map falls back to PCA, with one hint."""
    import logging

    import deejai_model.extras as extras
    from beetsplug.deejai.soundmap import available_method

    messages = []

    class Log:
        def info(self, message, *args):
            messages.append(message.format(*args))

    assert available_method("tsne", Log()) == "tsne" and not messages  # the test extra has it
    real = extras.missing_modules
    monkeypatch.setattr(
        extras,
        "missing_modules",
        lambda names: ["sklearn"] if "sklearn" in names else real(names),
    )
    assert available_method("tsne", Log()) == "pca"
    assert len(messages) == 1 and "beets-deejai[map]" in messages[0]
    assert available_method("pca", Log()) == "pca" and len(messages) == 1
    logging.getLogger(__name__).debug("map fallback checked")
