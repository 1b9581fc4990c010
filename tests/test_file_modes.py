"""What is written under a temporary name and renamed gets the mode ``open()`` would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from audio_fixtures import stereo, tone, write_audio

from deejai_model.learn.track2vec import Track2VecParams, train_track2vec
from deejai_model.mix import MixOptions, MixTrack, render_mix

SR = 22050


@pytest.fixture(name="umask_022")
def fixture_umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: str | os.PathLike) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_mix_and_its_tracklists_are_readable_by_others(umask_022, tmp_path: Path):
    signal = tone(3.0, SR, 440.0, 0.4)
    source = write_audio(tmp_path / "tone.flac", stereo(signal, signal), SR)
    result = render_mix([MixTrack(str(source))], str(tmp_path / "mix.ogg"), options=MixOptions(SR))
    assert [mode(p) for p in result.paths] == [0o644] * 3


def test_saved_track2vec_files_are_readable_by_others(umask_022, tmp_path: Path):
    sentences = [["a", "b", "c"], ["b", "c", "d"]] * 5
    model = train_track2vec(sentences, Track2VecParams(min_count=1, dim=4, epochs=2))
    model.save(tmp_path / "t2v")
    assert {mode(p) for p in tmp_path.glob("t2v*")} == {0o644}
