"""The plugin's configuration (config.py): one validated Settings object, cheap to load."""

from __future__ import annotations

import os
import subprocess
import sys

import confuse
import pytest
from conftest import ROOT
from vector_rows import configured


def test_importing_the_plugin_is_light():
    code = (
        "import sys, beetsplug.deejai; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'tensorflow', 'keras', 'librosa', 'av', 'annoy', 'deejai_model'}))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_settings_configure_the_librarys_pooler(env):
    from beetsplug.deejai import config
    from deejai_model.vectors import pooling

    assert set(config.POOLINGS) == set(pooling.POOLINGS)
    settings = configured(
        env, pooling="tfidf", epsilon=0.01, adapt=False, normalize="none", learn_from_library=False
    )
    assert settings.pooler() == pooling.Pooler(
        kind="tfidf", epsilon=0.01, adapt=False, adapt_dims=64, center=False
    )
    assert configured(env, learn_from_library=True).pooler().supervise
    assert settings.index_signature()["pooler"] == settings.pooler().settings()
    assert configured(env, adapt_dims=16, normalize="center").pooler().center


def test_the_contrastive_head_is_an_option_that_rebuilds_the_index(env):
    off = configured(env)
    assert not off.pooler().contrast  # off by default (docs/learned-ears.md)
    assert not any(key.startswith("contrast") for key in off.index_signature()["pooler"])
    on = configured(env, contrastive_head=True)
    assert on.pooler().contrast
    assert on.index_signature() != off.index_signature()


def test_the_near_duplicate_threshold_is_its_own_setting(env):
    settings = configured(env, epsilon=0.05, near_duplicate=0.002)
    assert settings.epsilon == 0.05 and settings.near_duplicate == 0.002
    assert settings.pooler().epsilon == 0.05  # TF-IDF closeness; lists get near_duplicate
    with pytest.raises(confuse.ConfigValueError, match="deejai.near_duplicate"):
        configured(env, epsilon=0.001, near_duplicate=-0.1)
    configured(env, near_duplicate=0.001)


def test_every_section_is_read_and_checked_once_when_first_needed(env, tmp_path):
    settings = configured(env, track2vec=str(tmp_path / "t2v"))
    assert settings.track2vec == str(tmp_path / "t2v")
    assert settings.mix.crossfade == 6.0 and settings.mix.bitrate == 0
    assert settings.train.albums is None and settings.train.word2vec_epochs is None
    env.config["deejai"]["mix"].set({"crossfade": -1})
    assert settings.mix.crossfade == 6.0  # read once: kept for the settings' lifetime
    env.config["deejai"]["mix"].set({"crossfade": 6.0})

    env.config["deejai"]["train"].set({"albums": True, "word2vec_epochs": 30})
    assert configured(env).train.albums is True
    assert configured(env).train.word2vec_epochs == 30
    for epochs in (30.0, "30"):  # whole numbers, as int() took them before
        env.config["deejai"]["train"].set({"word2vec_epochs": epochs})
        assert configured(env).train.word2vec_epochs == 30
    for epochs in ("lots", 30.5, -1, True):
        env.config["deejai"]["train"].set({"word2vec_epochs": epochs})
        with pytest.raises(confuse.ConfigValueError, match="deejai.train.word2vec_epochs"):
            assert configured(env).train
    env.config["deejai"]["train"].set({"word2vec_epochs": "auto"})
    for albums, read in ((False, False), (True, True), ("sometimes", None), ("auto", None)):
        env.config["deejai"]["train"].set({"albums": albums})
        assert configured(env).train.albums is read  # anything but yes/no is auto, as before

    env.config["deejai"]["mix"].set({"crossfade": -1})
    settings = configured(env)  # a mistake in mix: only what uses mix fails
    assert settings.pooling == "meanstd" and settings.train.dim == 100
    with pytest.raises(confuse.ConfigValueError, match="deejai.mix.crossfade"):
        assert settings.mix
    env.config["deejai"]["mix"].set({"crossfade": 6.0})
    assert settings.mix.crossfade == 6.0
    configured(env, track2vec="")


def test_paths_in_the_config_are_read_as_beets_reads_paths(env):
    settings = configured(env, model="~/my-ears")
    assert settings.model == os.path.join(os.path.expanduser("~"), "my-ears")
    assert configured(env, model="musicnn_fused_light").model.endswith("musicnn_fused_light")
    configured(env, model="")


def test_a_relative_model_is_resolved_once_from_beets_configuration_directory(
    env, tmp_path, monkeypatch
):
    from beetsplug.deejai.config import Settings

    def model_in(text: str) -> str:
        overlay = tmp_path / "elsewhere" / "overlay.yaml"  # as `beet -c FILE` reads it
        overlay.parent.mkdir(exist_ok=True)
        overlay.write_text(f"deejai:\n  model: {text}\n", encoding="utf-8")
        env.config.set_file(str(overlay))
        return Settings.from_view(env.config["deejai"]).model

    config_dir = env.config.config_dir()  # $BEETSDIR
    (tmp_path / "elsewhere" / "ears").mkdir(parents=True)  # beside the -c file: not meant
    here = tmp_path / "here"
    (here / "musicnn_fused_light").mkdir(parents=True)  # in the current folder: not meant
    monkeypatch.chdir(here)
    assert model_in("ears") == os.path.join(config_dir, "ears")
    shipped = model_in("musicnn_fused_light")
    assert shipped != str(here / "musicnn_fused_light")
    assert os.path.isfile(os.path.join(shipped, "manifest.json"))  # the shipped bundle
    os.mkdir(os.path.join(config_dir, "musicnn_fused_light"))  # a bundle of that name there
    assert model_in("musicnn_fused_light") == os.path.join(config_dir, "musicnn_fused_light")


def test_the_train_sources_are_paths_read_as_beets_reads_paths(env, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        "deejai:\n  train:\n"
        "    playlists: [~/lists, mine.m3u]\n"
        "    history: ~/listens.json\n"
        "    million_playlists: ~/mpd\n",
        encoding="utf-8",
    )
    env.config.set_file(str(overlay))
    train = configured(env).train
    config_dir = env.config.config_dir()
    assert train.playlists == (str(home / "lists"), os.path.join(config_dir, "mine.m3u"))
    assert train.history == (str(home / "listens.json"),)
    assert train.million_playlists == str(home / "mpd")
    env.config["deejai"]["train"].set({"playlists": [], "history": "", "million_playlists": ""})
    train = configured(env).train
    assert (train.playlists, train.history, train.million_playlists) == ((), (), "")
