"""Track2Vec: trained with gensim on sentences of track keys, saved and read back as data."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from deejai_model.learn.track2vec import Track2Vec, Track2VecError, Track2VecParams, train_track2vec

GROUPS = 4
PER_GROUP = 8


def group_playlists(n: int = 200, length: int = 6, seed: int = 0) -> list[list[str]]:
    """Playlists that each draw from one group's tracks (``g<group>-<i>``)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        g = rng.integers(GROUPS)
        out.append([f"g{g}-{i}" for i in rng.choice(PER_GROUP, length, replace=False)])
    return out


@pytest.fixture(scope="module")
def model() -> Track2Vec:
    return train_track2vec(
        group_playlists(), Track2VecParams(min_count=1, dim=16, epochs=30, sample=0.0)
    )


def test_tracks_people_put_together_are_neighbours(model):
    assert len(model) == GROUPS * PER_GROUP and model.dim == 16
    for key in model.keys:
        group = key.split("-")[0]
        neighbours = model.similar(key, PER_GROUP - 1)
        same = sum(k.split("-")[0] == group for k, _ in neighbours)
        assert same >= PER_GROUP - 2, (key, neighbours)
    assert model.similar("g0-0", 3)[0][1] > model.similar("g0-0", 40)[-1][1]


def test_save_load_round_trip_is_plain_data(model, tmp_path):
    npz, meta = model.save(tmp_path / "t2v")
    with zipfile.ZipFile(npz) as zf:
        assert zf.namelist() == ["vectors.npy"]
    data = json.loads(meta.read_text(encoding="utf-8"))
    assert data["params"]["sg"] == 0 and data["params"]["window"] == 2
    again = Track2Vec.load(tmp_path / "t2v.npz")
    assert again.keys == model.keys and again.fingerprint == model.fingerprint
    np.testing.assert_array_equal(again.vectors, model.vectors)
    assert again.similar("g1-1", 3) == model.similar("g1-1", 3)
    assert again.vector("nope") is None and "g1-1" in again


def test_mixed_files_are_refused(model, tmp_path):
    model.save(tmp_path / "a")
    other = Track2Vec(model.keys, model.vectors * 2)
    other.save(tmp_path / "b")
    (tmp_path / "b.npz").replace(tmp_path / "a.npz")
    with pytest.raises(Track2VecError, match="do not match"):
        Track2Vec.load(tmp_path / "a")
    with pytest.raises(Track2VecError, match="cannot read"):
        Track2Vec.load(tmp_path / "missing")


def test_upstream_defaults_and_empty_vocabulary():
    params = Track2VecParams()
    assert (params.dim, params.window, params.min_count, params.epochs, params.sg) == (
        100,
        2,
        10,
        15,
        0,
    )
    with pytest.raises(ValueError, match="no track occurs 10 times"):
        train_track2vec([["a", "b"], ["b", "c"]])


TRAIN_AND_PRINT = """
import sys
sys.path.insert(0, {tests!r})
from test_track2vec import group_playlists
from deejai_model.learn.track2vec import Track2VecParams, train_track2vec
model = train_track2vec(group_playlists(40), Track2VecParams(min_count=1, dim=8, epochs=5))
print(repr(model.vectors.sum()), repr(model.vectors[0, 0]))
"""


def test_same_sentences_and_seed_give_the_same_vectors_in_every_process():
    """gensim seeds word vectors through a hash function: it must not be Python's salted one."""
    import os
    import subprocess
    import sys

    script = TRAIN_AND_PRINT.format(tests=os.path.dirname(__file__))
    outputs = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1, outputs
