"""The creativity blend: creativity * cos(audio) + (1 - creativity) * cos(track2vec)."""

from __future__ import annotations

import numpy as np
import pytest

from deejai_model.lists import playlists
from deejai_model.lists.creativity import JointSpace, blend_scores

# audio: a ~ b, c far; track2vec: a ~ c, b far; d has no Track2Vec vector (audio like a)
AUDIO = {
    "a": np.array([1.0, 0.0, 0.0]),
    "b": np.array([0.9, 0.3, 0.0]),
    "c": np.array([0.0, 1.0, 0.2]),
    "d": np.array([0.8, 0.0, 0.6]),
}
T2V = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0]), "c": np.array([0.95, 0.3])}


def cos(u, v):
    return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))


def test_blend_scores_formula_and_audio_alone_outside_the_vocabulary():
    got = blend_scores([0.5, 0.5], [1.0, 1.0], has_t2v=[True, False], creativity=0.25)
    np.testing.assert_allclose(got, [0.25 * 0.5 + 0.75 * 1.0, 0.5])
    with pytest.raises(ValueError):
        blend_scores([0.5], [0.5], has_t2v=[True], creativity=1.5)


@pytest.mark.parametrize("creativity", [0.0, 0.3, 0.7, 1.0])
def test_similar_ranks_by_the_blend(creativity):
    space = JointSpace(AUDIO, T2V, creativity)
    vectors = space.vectors_by_id()
    found = playlists.similar(
        space.search(), vectors["a"], n=3, exclude=["a"], score_transform=space.score_transform()
    )
    expected = {
        k: creativity * cos(AUDIO["a"], AUDIO[k]) + (1 - creativity) * cos(T2V["a"], T2V[k])
        if k in T2V
        else cos(AUDIO["a"], AUDIO[k])
        for k in "bcd"
    }
    assert [n.id for n in found] == sorted(expected, key=lambda k: -expected[k])
    if creativity == 1.0:
        assert found[0].id == "b"  # sounds alike
    if creativity == 0.0:
        assert found[0].id == "c"  # people put them together


def test_playlist_and_journey_run_in_the_joint_space():
    space = JointSpace(AUDIO, T2V, 0.0)
    vectors = space.vectors_by_id()
    added = playlists.continue_playlist(
        space.search(), vectors, seeds=["a"], n=2, score_transform=space.score_transform()
    )
    assert added[0] == "c"
    path = playlists.journey(
        space.search(),
        vectors,
        waypoints=["a", "b"],
        n_per_leg=1,
        score_transform=space.score_transform(),
    )
    assert path[0] == "a" and path[-1] == "b" and len(path) == 3
