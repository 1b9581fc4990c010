"""The Subsonic API on a library without vectors: it browses, but no sonic extension."""

from __future__ import annotations

import os

import pytest
from conftest import make_music
from test_subsonic import _settings, _token, call, ok
from vector_rows import deejai_plugin

pytestmark = pytest.mark.slow


def test_without_vectors_sonic_similarity_is_not_advertised(env):
    from flask import Flask

    from beetsplug.deejai.subsonic import add_subsonic

    folder = env.temp_path / "plain"
    make_music(folder, per_kind=1, seconds=4.0, kinds=["chord"])
    env.config["deejai"]["auto"] = False
    env.import_music(folder)
    app = Flask("bare")
    add_subsonic(app, deejai_plugin().session(env.lib), _settings())
    client = app.test_client()
    names = [e["name"] for e in ok(client, "getOpenSubsonicExtensions")["openSubsonicExtensions"]]
    assert names == ["formPost", "apiKeyAuthentication"]
    song = f"tr-{next(iter(env.lib.items())).id}"
    body = client.get(
        "/rest/getSonicSimilarTracks", query_string={**_token(), "f": "json", "id": song}
    )
    assert body.get_json()["subsonic-response"]["error"]["code"] == 70
    similar = call(client, "getSimilarSongs", id=song)
    assert similar["error"]["code"] == 0 and "beet deejai embed" in similar["error"]["message"]
    assert ok(client, "getSong", id=song)["song"]["title"] == "chord-1"


def test_a_file_name_that_is_not_utf8_is_served_by_its_name(env, tmp_path):
    from audio_fixtures import chord, write_audio
    from beets.library import Item
    from flask import Flask

    from beetsplug.deejai.subsonic import add_subsonic

    plain = write_audio(tmp_path / "plain.flac", chord(4.0, 22050), 22050)
    latin = os.path.join(os.fsencode(tmp_path), b"f\xeate-\xe9t\xe9.flac")  # Latin-1 name
    os.rename(plain, latin)
    item = Item.from_path(latin)
    env.lib.add(item)
    app = Flask("latin")
    add_subsonic(app, deejai_plugin().session(env.lib), _settings())
    client = app.test_client()
    song = ok(client, "getSong", id=f"tr-{item.id}")["song"]
    assert song["title"] == "f\ufffdte-\ufffdt\ufffd.flac" and song["suffix"] == "flac"
    assert [s["id"] for s in ok(client, "search3", query="")["searchResult3"]["song"]] == [
        f"tr-{item.id}"
    ]
    query = {**_token(), "id": f"tr-{item.id}"}
    raw = client.get("/rest/stream", query_string=query)
    assert raw.data == open(latin, "rb").read(), raw.data[:300]
    assert client.get("/rest/download", query_string=query).status_code == 200
    mp3 = client.get("/rest/stream", query_string={**query, "format": "mp3"})
    assert mp3.mimetype == "audio/mpeg" and len(mp3.data) > 1000


def test_a_tag_with_control_characters_leaves_the_xml_readable(env, tmp_path):
    import xml.etree.ElementTree as ET

    from audio_fixtures import chord, write_audio
    from beets.library import Item
    from flask import Flask

    from beetsplug.deejai.subsonic import add_subsonic

    item = Item.from_path(write_audio(tmp_path / "nul.flac", chord(4.0, 22050), 22050))
    item.title, item.artist = "Side A\x00Side B", "Esc\x1b[1mape"  # a NUL list, a terminal code
    env.lib.add(item)
    app = Flask("controls")
    add_subsonic(app, deejai_plugin().session(env.lib), _settings())
    client = app.test_client()
    ns = "{http://subsonic.org/restapi}"
    for method, query in (("getSong", {"id": f"tr-{item.id}"}), ("search3", {"query": ""})):
        xml = client.get(f"/rest/{method}", query_string={**_token(), **query}).data
        root = ET.fromstring(xml)  # one bad tag must not make the whole answer unreadable
        assert root.get("status") == "ok", xml[:300]
        song = next(root.iter(f"{ns}song"))
        assert song.get("title") == "Side A\ufffdSide B", xml[:300]
        assert song.get("artist") == "Esc\ufffd[1mape", xml[:300]
    assert ok(client, "getSong", id=f"tr-{item.id}")["song"]["title"] == "Side A\x00Side B"


def test_a_range_past_the_end_is_416_and_errors_name_no_folder(env, tmp_path):
    from audio_fixtures import chord, write_audio
    from beets.library import Item
    from flask import Flask

    from beetsplug.deejai.subsonic import add_subsonic

    path = write_audio(tmp_path / "short.flac", chord(3.0, 22050), 22050)
    item = Item.from_path(path)
    env.lib.add(item)
    app = Flask("ranges")
    add_subsonic(app, deejai_plugin().session(env.lib), _settings())
    client = app.test_client()
    query = {**_token(), "id": f"tr-{item.id}"}
    size = os.path.getsize(path)
    for send in (client.get, client.post):  # POST: the formPost extension
        kind = "query_string" if send == client.get else "data"
        past = send("/rest/stream", headers={"Range": f"bytes={size + 10}-"}, **{kind: query})
        assert past.status_code == 416, past.data[:300]
        assert past.headers["Content-Range"] == f"bytes */{size}"
    inside = client.get("/rest/stream", query_string=query, headers={"Range": "bytes=4-9"})
    assert inside.status_code == 206 and inside.data == path.read_bytes()[4:10]
    late = call(client, "stream", id=f"tr-{item.id}", format="mp3", timeOffset="100000")
    message = late["error"]["message"]
    assert "short.flac" in message and str(tmp_path) not in message, message
