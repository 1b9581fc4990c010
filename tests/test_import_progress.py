"""`beet import` with ``deejai.auto`` shows its embedding as it goes (a line per album,
visible without ``-v``) and a summary when the import ends."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import write_audio
from conftest import SR, make_music

pytestmark = pytest.mark.slow


def test_import_shows_a_line_per_album_and_a_summary(env, tmp_path):
    music = tmp_path / "music"
    make_music(music, per_kind=2, seconds=5.0, kinds=["chord", "noise"])
    write_audio(music / "noise" / "silence.flac", np.zeros(SR * 5, np.float32), SR)
    env.write_config(auto=True)
    done = env.beet("import", "-A", "-q", str(music))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    albums = [line for line in lines if line.startswith("deejai: ") and "import:" not in line]
    assert len(albums) == 2, done.stdout
    chord = next(line for line in albums if "chord" in line)
    assert chord.startswith("deejai: ") and "2 embedded, 0 skipped, 0 failed" in chord
    noise = next(line for line in albums if "noise" in line)
    assert "2 embedded, 0 skipped, 1 failed" in noise
    assert lines[-1] == "deejai: import: 4 embedded, 0 skipped, 1 failed"
    assert sum("cannot embed" in line for line in done.stderr.splitlines()) == 1
