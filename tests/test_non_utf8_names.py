"""An untagged file whose name is not UTF-8 goes into M3U files and mixes by its name."""

from __future__ import annotations

import os
from pathlib import Path

from audio_fixtures import stereo, tone, write_audio
from beets.library import Item
from mutagen import File as MutagenFile

from beetsplug.deejai.output import write_m3u
from deejai_model.mix import MixOptions, MixTrack, render_mix

SR = 22050
LATIN1_NAME = b"f\xeate-\xe9t\xe9.flac"  # "fête-été" in Latin-1: not UTF-8


def test_an_m3u_names_an_untagged_latin1_file_and_keeps_its_path_bytes(tmp_path: Path):
    path = os.fsencode(tmp_path) + b"/" + LATIN1_NAME
    written = write_m3u([Item(path=path, length=3.0)], str(tmp_path / "p.m3u"), "absolute")
    lines = Path(os.fsdecode(written)).read_bytes().splitlines()
    assert lines[1].decode("utf-8") == "#EXTINF:3,f\ufffdte-\ufffdt\ufffd.flac"
    assert lines[2] == path


def test_a_mix_labels_an_untagged_latin1_file_by_its_name(tmp_path: Path):
    signal = tone(3.0, SR, 330.0, 0.4)
    source = write_audio(tmp_path / "plain.flac", stereo(signal, signal), SR)
    latin = os.path.join(os.fsencode(tmp_path), LATIN1_NAME)
    os.rename(source, latin)
    out = tmp_path / "mix.ogg"
    result = render_mix([MixTrack(os.fsdecode(latin))], str(out), options=MixOptions(SR))
    assert result.paths[0] == str(out)
    assert "f\ufffdte-\ufffdt\ufffd.flac" in (tmp_path / "mix.ogg.txt").read_text(encoding="utf-8")
    assert MutagenFile(out)["CHAPTER001NAME"] == ["f\ufffdte-\ufffdt\ufffd.flac"]
