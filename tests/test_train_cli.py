"""``python -m deejai_model.learn.train``: trained ears from a folder of audio and playlists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, make_music


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "deejai_model.learn.train", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_folder_and_playlists_to_a_bundle_then_resume(tmp_path):
    music = make_music(tmp_path / "music", per_kind=2, seconds=6.0, kinds=["chord", "noise"])
    lists = tmp_path / "lists"
    lists.mkdir()
    chord, noise = music[:2], music[2:]
    for i in range(4):  # relative paths, and one by #EXTINF name only
        group = chord if i % 2 == 0 else noise
        lines = [os.path.relpath(p, lists) for p in group]
        (lists / f"p{i}.m3u").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (lists / "names.m3u8").write_text(
        "#EXTINF:6,chord - chord-1\n/gone/a.flac\n#EXTINF:6,chord - chord-2\n/gone/b.flac\n",
        encoding="utf-8",
    )
    out = tmp_path / "ears"
    first = run(str(tmp_path / "music"), "--playlists", str(lists), "--no-albums", "-O", str(out),
                "--epochs", "3")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "5 sentences: 10 entries matched (path 8, mbid 0, artist+title 2)" in first.stderr
    assert "embedding 4 files" in first.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["architecture"] == "head" and manifest["base"]["model_id"].startswith("musicnn")
    assert Path(str(out) + ".track2vec.npz").is_file()
    # again: the slices come from the cache, the checkpoint says training is done
    second = run(str(tmp_path / "music"), "--playlists", str(lists), "--no-albums", "-O", str(out),
                 "--epochs", "3")  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "embedding" not in second.stderr and "epoch" not in second.stderr
    # no playlists and no albums: one clear error
    none = run(str(tmp_path / "music"), "--no-albums", "-O", str(tmp_path / "x"))
    assert none.returncode == 2 and "no sentence of two matched tracks" in none.stderr
