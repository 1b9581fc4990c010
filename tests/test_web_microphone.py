"""The microphone seed matches what it hears against the *beginnings* of library tracks."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import chord, noise_bursts, write_audio
from conftest import SR
from mediafile import MediaFile
from vector_rows import deejai_plugin

pytestmark = pytest.mark.slow


def _track(path, first: np.ndarray, rest: np.ndarray, title: str):
    written = write_audio(path, np.concatenate([first, rest]), SR)
    tags = MediaFile(written)
    tags.title, tags.artist, tags.album = title, "mixed", title
    tags.save()


def test_a_take_matches_the_track_that_starts_like_it_not_the_one_that_sounds_like_it_most(
    env, tmp_path
):
    from beetsplug.deejai.web import create_app
    from beetsplug.deejai.web.backend import LibraryDj

    music = tmp_path / "music"
    music.mkdir()
    # "chord-first": 7 s of chord, then 17 s of noise bursts; "noise-first": the other way
    _track(music / "a.flac", chord(7.0, SR), noise_bursts(17.0, SR, seed=1), "chord-first")
    _track(music / "b.flac", noise_bursts(7.0, SR, seed=2), chord(17.0, SR), "noise-first")
    env.import_music(music)
    plugin = deejai_plugin()
    dj = LibraryDj(plugin.session(env.lib), ahead=1)
    by_title = {item.title: item.id for item in env.lib.items()}
    # over the whole track, "noise-first" is the more chord-like of the two
    whole = dj.index.vectors_by_id()
    take = write_audio(tmp_path / "take.wav", chord(6.0, SR), SR)
    slices = plugin.model().embedder().embed_path(take).vectors
    query = dj.index.track_vector(slices)
    assert query @ whole[by_title["noise-first"]] > query @ whole[by_title["chord-first"]]
    client = create_app(dj).test_client()
    with open(take, "rb") as f:
        response = client.post(
            "/api/mic",
            data={"audio": (f, "", "audio/wav")},
            content_type="multipart/form-data",
        )
    assert response.status_code == 200, response.get_json()
    state = response.get_json()
    assert state["now"]["title"] == "chord-first"
    assert [m["title"] for m in state["matches"]] == ["chord-first", "noise-first"]
