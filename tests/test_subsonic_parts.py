"""The Subsonic API's parts that need no library: ids, the XML/JSON shape, logins and the
lock-out, transcoding decisions, skips (quick lane)."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET

import pytest
from beets.ui import UserError

from beetsplug.deejai.subsonic import ids
from beetsplug.deejai.subsonic.auth import Gate
from beetsplug.deejai.subsonic.responses import SubsonicError, envelope, to_json, to_xml, utf8
from beetsplug.deejai.subsonic.server import Listening
from beetsplug.deejai.subsonic.settings import SubsonicSettings, SubsonicUser
from beetsplug.deejai.subsonic.sonic import similarity
from beetsplug.deejai.subsonic.transcode import plan


def test_ids_round_trip_and_refuse_anything_else():
    assert ids.parse(ids.song_id(42), ids.SONG) == 42
    assert ids.parse(ids.album_id(7), ids.ALBUM) == 7
    assert ids.artist_id("Björk") == ids.artist_id("Björk") != ids.artist_id("Bjork")
    assert ids.parse(ids.playlist_id("Road trip.m3u"), ids.PLAYLIST) == "Road trip.m3u"
    for text, kind in [
        ("tr-0", ids.SONG),
        ("tr-01", ids.SONG),
        ("tr-1/..", ids.SONG),
        ("al-1", ids.SONG),
        ("tr-1", ids.ALBUM),
        ("../etc/passwd", ids.SONG),
        ("ar-../../x", ids.ARTIST),
        ("pl-zz", ids.PLAYLIST),
        ("pl-", ids.PLAYLIST),
        ("", ids.SONG),
    ]:
        with pytest.raises(SubsonicError) as error:
            ids.parse(text, kind)
        assert error.value.code == 70


def test_xml_and_json_come_from_one_shape():
    body = {
        "album": {
            "id": "al-1",
            "name": 'Tom & "Jerry" <3',
            "starred": None,
            "song": [{"id": "tr-1", "isDir": False}, {"id": "tr-2", "isDir": False}],
        },
        "openSubsonicExtensions": [{"name": "formPost", "versions": [1, 2]}],
    }
    response = envelope(body)
    parsed = json.loads(to_json(response))["subsonic-response"]
    assert parsed["status"] == "ok" and parsed["openSubsonic"] is True
    assert parsed["album"]["song"][1]["id"] == "tr-2"
    root = ET.fromstring(to_xml(response))
    ns = "{http://subsonic.org/restapi}"
    album = root.find(f"{ns}album")
    assert album.get("name") == 'Tom & "Jerry" <3' and album.get("starred") is None
    assert [s.get("isDir") for s in album.findall(f"{ns}song")] == ["false", "false"]
    extension = root.find(f"{ns}openSubsonicExtensions")
    assert [v.text for v in extension.findall(f"{ns}versions")] == ["1", "2"]
    failed = envelope(error=SubsonicError(70, "song not found: tr-9"))
    assert failed["status"] == "failed" and failed["error"] == {
        "code": 70,
        "message": "song not found: tr-9",
    }
    assert to_json(failed, "cb").startswith('cb({"subsonic-response":')
    assert utf8("f\udceate") == "f\ufffdte".encode()


def _gate(clock):
    users = {"al": SubsonicUser("al", "pw", ("KEY",))}
    return Gate(SubsonicSettings(users, max_failures=2, lockout=30), clock=lambda: clock[0])


def test_logins_and_a_lock_out_that_ends():
    clock = [100.0]
    gate = _gate(clock)
    token = hashlib.md5(b"pwNaCl").hexdigest()
    assert gate.check({"u": "al", "t": token, "s": "NaCl"}, "a") == "al"
    assert gate.check({"u": "al", "t": token.upper(), "s": "NaCl"}, "a") == "al"
    assert gate.check({"apiKey": "KEY"}, "a") == "al"
    for params, code in [
        ({"u": "al", "t": token}, 10),
        ({"u": "al", "t": token, "s": "salt"}, 40),
        ({"apiKey": "KEY", "p": "pw"}, 43),
        ({"u": "al", "p": "enc:6e6f7065"}, 40),
    ]:
        with pytest.raises(SubsonicError) as error:
            gate.check(params, "b")
        assert error.value.code == code
    with pytest.raises(SubsonicError) as locked:  # two wrong logins from "b": locked out
        gate.check({"u": "al", "p": "pw"}, "b")
    assert locked.value.http_status == 429
    assert gate.check({"u": "al", "p": "pw"}, "c") == "al"  # other addresses are not
    clock[0] += 31
    assert gate.check({"u": "al", "p": "pw"}, "b") == "al"


def test_settings_need_a_password():
    import confuse

    view = confuse.RootView([confuse.ConfigSource.of({"users": {"al": {"api_key": "K"}}})])
    with pytest.raises(UserError, match="a password is needed"):
        SubsonicSettings.from_config(view)
    view = confuse.RootView(
        [confuse.ConfigSource.of({"users": {"al": "pw", "bo": {"password": 1, "api_keys": ["A"]}}})]
    )
    settings = SubsonicSettings.from_config(view)
    assert settings.users["al"].password == "pw" and settings.users["bo"].api_keys == ("A",)


def test_an_empty_api_key_is_refused_not_a_key_anyone_can_send():
    import confuse

    users = {"al": {"password": "pw", "api_keys": ["K", ""]}}
    view = confuse.RootView([confuse.ConfigSource.of({"users": users})])
    with pytest.raises(UserError, match="deejai.subsonic.users.al: an api_key cannot be empty"):
        SubsonicSettings.from_config(view)


def test_transcoding_only_when_asked_or_over_the_limit():
    assert plan("flac", 900, fmt=None, max_kbps=0) is None
    assert plan("flac", 900, fmt="raw", max_kbps=96) is None
    assert plan("flac", 900, fmt="mp3", max_kbps=0) == ("mp3", 192)
    assert plan("flac", 900, fmt=None, max_kbps=128) == ("mp3", 128)
    assert plan("mp3", 320, fmt="mp3", max_kbps=320) is None
    assert plan("mp3", 320, fmt="opus", max_kbps=999) == ("opus", 320)
    assert plan("mp3", 128, fmt="flv", max_kbps=0) is None  # unknown format: as it is
    assert plan("mp3", 128, fmt=None, max_kbps=8) == ("mp3", 32)


def test_similarity_is_normalised_cosine():
    assert similarity(1.0) == 1.0 and similarity(-1.0) == 0.0 and similarity(0.0) == 0.5
    assert similarity(1.0000002) == 1.0 and similarity(0.3) == 0.65


def test_a_skip_is_a_now_playing_notice_before_half_the_song():
    listening = Listening()
    assert listening.now_playing(1, 200.0, now=0.0) is None
    assert listening.now_playing(2, 200.0, now=30.0) == 1  # left song 1 after 30 of 200 s
    assert listening.now_playing(3, 100.0, now=150.0) is None  # song 2 played 120 s
    listening.finished(3)
    assert listening.now_playing(4, 100.0, now=160.0) is None  # song 3 was scrobbled
    assert listening.skipped == {1}
