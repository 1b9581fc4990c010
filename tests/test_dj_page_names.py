"""The DJ page names tracks a listener can find and tell apart: untagged tracks by their file
name, look-alike suggestions by album or file name; covers embedded in the files are shown.

A fresh library of its own (not the shared module library of test_dj_page.py)."""

from __future__ import annotations

import re

import pytest
from audio_fixtures import chord, clicks, noise_bursts, write_audio
from conftest import SR
from mediafile import Image, ImageType, MediaFile
from vector_rows import deejai_plugin

pytestmark = pytest.mark.slow


def _tag(path, **tags):
    media = MediaFile(path)
    for key, value in tags.items():
        setattr(media, key, value)
    media.save()


def test_untagged_and_look_alike_tracks_are_found_and_told_apart(env, tmp_path):
    from beetsplug.deejai.web import create_app
    from beetsplug.deejai.web.backend import LibraryDj

    music = tmp_path / "music"
    music.mkdir()
    # five tracks with the same artist and title: two on their own albums, three on one album
    for i, album in enumerate(["Caves I", "Caves II", "Caves", "Caves", "Caves"]):
        notes = [220.0 + 7 * i, 277.2 + 7 * i, 329.6]
        path = write_audio(music / f"living-caves-{i}.flac", chord(8.0, SR, freqs=notes), SR)
        _tag(path, title="Living Caves", artist="NeonCorridor", album=album)
    bare = write_audio(music / "Overworld Theme (loop).flac", clicks(8.0, SR, bpm=120), SR)
    _tag(bare, title="", artist="", album="", genre="Chiptune")
    cover = write_audio(music / "covered.flac", noise_bursts(8.0, SR, seed=3), SR)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    _tag(cover, title="Covered", artist="x", images=[Image(png, type=ImageType.front)])
    # imported in place: the page shows an untagged track by the name its file has in the library
    env.setup_importer(import_dir=music, autotag=False, copy=False)
    env.importer.run()
    client = create_app(LibraryDj(deejai_plugin().session(env.lib), ahead=2)).test_client()

    found = client.get("/api/suggest", query_string={"q": "overworld theme"}).json["items"]
    assert [t["title"] for t in found] == ["Overworld Theme (loop).flac"]
    assert client.get("/api/suggest?q=loop").json["items"][0]["id"] == found[0]["id"]

    alike = client.get("/api/suggest", query_string={"q": "living caves"}).json["items"]
    assert len(alike) == 5
    details = sorted(t["detail"] for t in alike)
    assert details[:2] == ["Caves I", "Caves II"]  # an album that tells them apart
    assert all(re.fullmatch(r"living-caves-[234]\.flac", d) for d in details[2:])  # else the file
    shown = {(t["artist"], t["title"], t["detail"]) for t in alike}
    assert len(shown) == 5

    # the map is coloured by genre, whichever way beets stores it (genre, or genres)
    genres = client.get("/api/map").json["fields"]["genre"]
    assert genres["names"] == ["Chiptune", ""] and sorted(genres["codes"]) == [0] + [1] * 6

    item = next(iter(env.lib.items("title:Covered")))
    response = client.get(f"/art/{item.id}")
    assert response.status_code == 200 and response.data == png
    assert response.mimetype == "image/png"
    state = client.post("/api/seed", json={"id": item.id}).get_json()
    assert state["now"]["art"] == f"/art/{item.id}"
