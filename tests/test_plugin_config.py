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
    settings = configured(env, pooling="tfidf", epsilon=0.01, adapt=False, normalize="none")
    assert settings.pooler() == pooling.Pooler(
        kind="tfidf", epsilon=0.01, adapt=False, adapt_dims=64, center=False
    )
    assert settings.index_signature()["pooler"] == settings.pooler().settings()
    assert configured(env, adapt_dims=16, normalize="center").pooler().center


def test_the_near_duplicate_threshold_is_its_own_setting(env):
    settings = configured(env, epsilon=0.05, near_duplicate=0.002)
    assert settings.epsilon == 0.05 and settings.near_duplicate == 0.002
    assert settings.pooler().epsilon == 0.05  # TF-IDF closeness; lists get near_duplicate
    with pytest.raises(confuse.ConfigValueError, match="deejai.near_duplicate"):
        configured(env, epsilon=0.001, near_duplicate=-0.1)
    configured(env, near_duplicate=0.001)


def test_every_section_is_read_and_validated_once(env, tmp_path):
    settings = configured(env, track2vec=str(tmp_path / "t2v"))
    assert settings.track2vec == str(tmp_path / "t2v")
    assert settings.mix.crossfade == 6.0 and settings.mix.bitrate == 0
    assert settings.train.albums is None and settings.train.word2vec_epochs is None
    env.config["deejai"]["train"].set({"albums": True, "word2vec_epochs": 30})
    assert configured(env).train.albums is True
    assert configured(env).train.word2vec_epochs == 30
    env.config["deejai"]["train"].set({"albums": "sometimes"})
    with pytest.raises(confuse.ConfigValueError, match="deejai.train.albums"):
        configured(env)
    env.config["deejai"]["train"].set({"albums": "auto"})
    env.config["deejai"]["mix"].set({"crossfade": -1})
    with pytest.raises(confuse.ConfigValueError, match="deejai.mix.crossfade"):
        configured(env)
    env.config["deejai"]["mix"].set({"crossfade": 6.0})
    configured(env, track2vec="")


def test_paths_in_the_config_are_read_as_beets_reads_paths(env):
    settings = configured(env, model="~/my-ears")
    assert settings.model == os.path.join(os.path.expanduser("~"), "my-ears")
    assert configured(env, model="musicnn_fused_light").model.endswith("musicnn_fused_light")
    configured(env, model="")
