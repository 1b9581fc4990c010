"""The DJ session (deejai_model/lists/dj.py) on clustered vectors: no beets, no model."""

from __future__ import annotations

import numpy as np
import pytest

from deejai_model.lists.dj import DjSession, match_beginnings
from deejai_model.lists.playlists import BruteForceSearch

DIM = 16


def _clusters(n_clusters: int = 4, per: int = 5, spread: float = 0.05, seed: int = 0):
    """``{id: vector}``: cluster ``c`` holds ids ``c*100 .. c*100+per-1``, near axis ``c``."""
    rng = np.random.default_rng(seed)
    vectors = {}
    for c in range(n_clusters):
        centre = np.zeros(DIM)
        centre[c] = 1.0
        for i in range(per):
            vectors[c * 100 + i] = centre + spread * rng.standard_normal(DIM)
    return vectors


def _session(vectors, **kw) -> DjSession:
    ids = list(vectors)
    return DjSession(BruteForceSearch(ids, np.stack([vectors[i] for i in ids])), vectors, **kw)


def test_start_queues_the_seeds_neighbours_and_advance_plays_them_in_order():
    dj = _session(_clusters(), ahead=3)
    dj.start([0])
    assert dj.current == 0
    queued = list(dj.queue)
    assert len(queued) == 3 and all(t // 100 == 0 for t in queued)
    assert dj.advance() == queued[0]
    assert dj.current == queued[0]
    assert dj.queue[:2] == queued[1:] and len(dj.queue) == 3  # topped up, order kept
    assert len(set(dj.played + dj.queue)) == len(dj.played + dj.queue)  # nothing twice


def test_lookback_and_noise_change_the_queue():
    vectors = _clusters(per=4)
    vectors[50] = vectors[0] * 0 + np.eye(DIM)[0] + np.eye(DIM)[1]  # between clusters 0 and 1
    dj = _session(vectors, ahead=4, lookback=1)
    dj.start([100, 101, 0])  # cluster 1 twice, then cluster 0
    short = list(dj.queue)
    dj.set_controls(lookback=3)  # now the two cluster-1 tracks pull too
    assert dj.queue != short
    dj.set_controls(lookback=1, noise=0.0)
    assert dj.queue == short  # deterministic without noise
    dj.set_controls(noise=3.0)
    drunk = [list(dj.queue)] + [(dj.requeue(), list(dj.queue))[1] for _ in range(4)]
    assert any(q != short for q in drunk)


def test_less_like_this_keeps_the_track_and_its_neighbours_out_and_steers_away():
    vectors = _clusters()
    dj = _session(vectors, ahead=4, avoid_neighbours=2, lookback=1)
    dj.start([0])
    before = list(dj.queue)
    assert all(t // 100 == 0 for t in before)
    dj.less_like(1)
    assert 1 in dj.avoided and len(dj.avoided) == 3
    assert not set(dj.queue) & dj.avoided
    assert dj.queue != before


def test_a_new_start_forgets_the_steering_but_never_picks_excluded_tracks():
    vectors = _clusters()
    dj = _session(vectors, ahead=4, avoid_neighbours=2)
    dj.never = {2, 3}
    dj.start([0])
    assert not {2, 3} & set(dj.queue)
    dj.less_like(1)
    dj.start([0])
    assert dj.avoided == set() and dj.disliked == []
    assert 1 in dj.queue and not {2, 3} & set(dj.queue)
    dj.start_journey([0, 300], 3)
    assert not {2, 3} & set(dj.queue)


def test_more_like_this_pulls_the_next_picks_towards_the_track():
    vectors = _clusters(per=6)
    vectors[7] = np.eye(DIM)[0] + 0.9 * np.eye(DIM)[2]  # in cluster 0 but leaning to cluster 2
    dj = _session(vectors, ahead=3, lookback=1)
    dj.start([0])
    assert not any(t // 100 == 2 for t in dj.queue)
    dj.more_like(7)
    dj.more_like(200)
    assert any(t // 100 == 2 for t in dj.queue)


def test_a_skipped_track_no_longer_shapes_the_query():
    vectors = _clusters()
    listened = _session(vectors, lookback=1)
    listened.start([0])
    listened.record_played(300)
    assert all(t // 100 == 3 for t in listened.picks(2))  # follows what played last
    skipped = _session(vectors, lookback=1)
    skipped.start([0])
    skipped.record_played(300, skipped=True)
    picks = skipped.picks(2)
    assert all(t // 100 == 0 for t in picks)  # the skipped track is out of the window
    assert 300 not in picks


def test_skip_moves_on_to_the_next_queued_track():
    dj = _session(_clusters(), ahead=3)
    dj.start([0])
    first, second = dj.queue[:2]
    assert dj.advance() == first
    assert dj.advance(skipped=True) == second
    assert first in dj.skipped


def test_journey_queues_the_path_then_keeps_going():
    vectors = _clusters()
    dj = _session(vectors, ahead=2)
    dj.start_journey([0, 300], n_per_leg=2)
    assert dj.current == 0
    assert dj.queue[2] == 300 and len(dj.queue) >= 3
    for _ in range(4):
        dj.advance()
    assert 300 in dj.played and dj.current is not None and len(dj.queue) == 2


def test_an_outside_seed_shapes_the_picks_but_is_not_played():
    vectors = _clusters()
    dj = _session(vectors, ahead=2)
    key = dj.add_outside(np.eye(DIM)[2])
    dj.start([key])
    assert dj.current is None
    assert all(t // 100 == 2 for t in dj.queue)
    assert dj.advance() // 100 == 2


def test_bad_controls_are_refused():
    dj = _session(_clusters())
    with pytest.raises(ValueError):
        dj.set_controls(lookback=-1)
    with pytest.raises(KeyError):
        dj.start([12345])


def test_match_beginnings_ranks_by_the_first_slices():
    beginnings = {1: np.stack([np.eye(4)[0], np.eye(4)[1]]), 2: np.eye(4)[2:3], 3: np.eye(4)[3:4]}
    clip = np.stack([np.eye(4)[2] + 0.1 * np.eye(4)[0]])
    ranked = match_beginnings(clip, beginnings, n=2)
    assert [r[0] for r in ranked] == [2, 1]
    assert ranked[0][1] > 0.99
