"""The cold-start protocol's simulated albums (benchmarks/library_labels.py)."""

from __future__ import annotations

import numpy as np

from benchmarks.library_labels import ALBUM_SIZES, draw_albums


def test_albums_are_drawn_within_a_game_and_compilations_across_games():
    groups = ["a"] * 40 + ["b"] * 30 + ["c"] * 9
    draw = draw_albums(groups, 0.5, compilations=0.2, rng=np.random.default_rng(0))
    labels = np.asarray(groups)
    for game in "abc":
        in_game = labels == game
        assert abs((~draw.cold & in_game).sum() - round(0.5 * in_game.sum())) == 0
    members = np.concatenate(draw.albums + draw.compilations)
    assert len(members) == len(set(members.tolist())) == (~draw.cold).sum()
    assert not draw.cold[members].any()  # cold tracks are in no album
    assert all(len(set(labels[a])) == 1 for a in draw.albums)
    assert all(len(a) <= ALBUM_SIZES[1] for a in draw.albums + draw.compilations)
    assert any(len(set(labels[c])) > 1 for c in draw.compilations)
    assert sum(len(c) for c in draw.compilations) == round(0.2 * (~draw.cold).sum())
