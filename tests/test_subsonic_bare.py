"""The Subsonic API on a library without vectors: it browses, but no sonic extension."""

from __future__ import annotations

import pytest
from conftest import make_music
from test_subsonic import _plugin, _settings, _token, call, ok

pytestmark = pytest.mark.slow


def test_without_vectors_sonic_similarity_is_not_advertised(env):
    from flask import Flask

    from beetsplug.deejai.subsonic import add_subsonic

    folder = env.temp_path / "plain"
    make_music(folder, per_kind=1, seconds=4.0, kinds=["chord"])
    env.config["deejai"]["auto"] = False
    env.import_music(folder)
    app = Flask("bare")
    add_subsonic(app, _plugin().session(env.lib), _settings())
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
