"""The plugin embeds with the shipped bundle's LiteRT model: no TensorFlow in `beet import`."""

from __future__ import annotations

from conftest import make_music


def test_import_and_embed_never_import_tensorflow(env, tmp_path):
    music = make_music(tmp_path / "music", per_kind=1, seconds=8.0, kinds=["chord", "noise"])
    env.write_config(auto=True)
    done = env.beet("import", "-A", "-q", str(music[0].parent.parent), probe=True)
    assert done.returncode == 0, done.stderr
    heavy = done.stdout.splitlines()[-1]
    assert heavy.startswith("HEAVY=") and "tensorflow" not in heavy and "keras" not in heavy
    assert "XNNPACK" not in done.stderr

    done = env.beet("deejai", "embed", "--force", probe=True)
    assert done.returncode == 0, done.stderr
    heavy = done.stdout.splitlines()[-1]
    assert "tensorflow" not in heavy and "keras" not in heavy

    done = env.beet("deejai", "similar", "title:chord-1", "-n", "1")
    assert done.returncode == 0, done.stderr
    assert "noise-1" in done.stdout
