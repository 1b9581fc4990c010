"""Spacing, the same song twice, skips and the anchor, on the list functions themselves."""

from __future__ import annotations

import numpy as np
import pytest

from deejai_model.lists.dj import DjSession
from deejai_model.lists.history import HistoryTransform, skip_shares
from deejai_model.lists.playlists import BruteForceSearch, continue_playlist, similar
from deejai_model.lists.spacing import Spacer, Tags, space_ranked, title_key


def _library(seed: int = 0, artists: int = 4, per: int = 6):
    """Artists whose tracks sit close together (one album each), unit vectors by id."""
    rng = np.random.default_rng(seed)
    ids, vectors, tags = [], [], {}
    for a in range(artists):
        centre = rng.normal(size=32)
        for t in range(per):
            track = a * 100 + t
            ids.append(track)
            vectors.append(centre + 0.3 * rng.normal(size=32))
            tags[track] = Tags(f"artist {a}", f"album {a}", f"song {a}-{t}")
    vectors = np.array(vectors, dtype=np.float32)
    return BruteForceSearch(np.array(ids), vectors), dict(zip(ids, vectors, strict=True)), tags


def test_versions_of_one_song_share_a_title_key():
    assert title_key("Song Two (Live at Wembley)") == title_key("song two - 2011 Remaster")
    assert title_key("Café [Remastered]") == title_key("cafe")
    assert title_key("Intro (Part 2)") != title_key("Intro")  # not a version note
    assert title_key("") == ""


def test_spacing_keeps_artists_apart_and_caps_albums():
    tags = {i: Tags(a, a, str(i)) for i, a in enumerate("aaabbbcccddd")}
    spacer = Spacer(tags, artist_gap=2, album_max=2)
    kept = space_ranked(list(range(12)), spacer, n=6)
    artists = [tags[i].artist for i in kept]
    assert all(x != y for x, y in zip(artists, artists[1:], strict=False))
    assert max(artists.count(a) for a in "abcd") <= 2
    assert not +spacer.violations(kept)
    assert spacer.violations(list(range(12)))["artist"] > 0


def test_soft_rules_give_way_but_a_repeated_song_never_comes():
    tags = {0: Tags("a", "x", "Song"), 1: Tags("a", "x", "Song (Live)"), 2: Tags("a", "x", "B")}
    spacer = Spacer(tags, artist_gap=3, album_max=1)
    assert space_ranked([0, 1, 2], spacer, n=3) == [0, 2]  # one artist only: spacing gives way


def test_similar_with_spacing_mixes_artists_near_the_seed():
    search, vectors, tags = _library()
    plain = similar(search, vectors[0], n=3, exclude=[0])
    assert {t.id // 100 for t in plain} == {0}  # unspaced: all the seed's artist
    spaced = similar(search, vectors[0], n=6, exclude=[0], spacer=Spacer(tags, 2, 2))
    ids = [t.id for t in spaced]
    assert len(ids) == 6 and sum(i // 100 == 0 for i in ids) == 2
    assert not +Spacer(tags, 2, 2).violations(ids)
    assert spaced[0] == plain[0]  # the nearest track still leads


def test_continuation_and_the_dj_keep_the_spacing():
    search, vectors, tags = _library()
    spacer = Spacer(tags, artist_gap=2, album_max=0)
    picks = continue_playlist(search, vectors, seeds=[0], n=10, spacer=spacer)
    artists = [t // 100 for t in [0, *picks]]
    assert all(x != y for x, y in zip(artists, artists[1:], strict=False))
    dj = DjSession(search, vectors, ahead=6, spacer=Spacer(tags, 2, 3, album_window=6))
    dj.start([0])
    artists = [t // 100 for t in dj.played + dj.queue]
    assert all(x != y for x, y in zip(artists, artists[1:], strict=False))


def test_skips_push_a_track_down_and_no_history_changes_nothing():
    search, vectors, _ = _library()
    plain = [t.id for t in similar(search, vectors[0], n=5, exclude=[0])]
    assert skip_shares({}, {}) == {}
    shares = skip_shares({plain[0]: 1}, {plain[0]: 9})
    assert shares[plain[0]] == pytest.approx(9 / 11)
    steered = [
        t.id
        for t in similar(
            search, vectors[0], n=5, exclude=[0], score_transform=HistoryTransform(shares, 1.0)
        )
    ]
    assert plain[0] not in steered and steered == plain[1:5] + steered[4:]
    unchanged = similar(search, vectors[0], n=5, exclude=[0], score_transform=HistoryTransform({}))
    assert [t.id for t in unchanged] == plain


def test_the_anchor_keeps_a_station_near_its_seed():
    search, vectors, _ = _library(seed=2, artists=6, per=8)
    wander = continue_playlist(search, vectors, seeds=[0], n=30, lookback=1)
    same = continue_playlist(search, vectors, seeds=[0], n=30, lookback=1, anchor_weight=0.0)
    assert wander == same  # weight 0: today's continuation exactly
    stay = continue_playlist(
        search, vectors, seeds=[0], n=30, lookback=1, anchor=vectors[0], anchor_weight=1.0
    )
    ranked = [t.id for t in similar(search, vectors[0], n=30, exclude=[0])]
    assert stay == ranked  # weight 1: the seed's own neighbours, nearest first

    def home(ids):
        return sum(t // 100 == 0 for t in ids[:7])

    half = continue_playlist(
        search, vectors, seeds=[0], n=30, lookback=1, anchor=vectors[0], anchor_weight=0.5
    )
    assert home(half) >= home(wander)


def test_vary_draws_among_the_near_top():
    search, vectors, _ = _library()
    runs = {
        tuple(continue_playlist(search, vectors, seeds=[0], n=4, vary=3, rng=s)) for s in range(8)
    }
    assert len(runs) > 1  # not one fixed chain
    top = {t.id for t in similar(search, vectors[0], n=8, exclude=[0])}
    assert all(run[0] in top for run in runs)
    fixed = {tuple(continue_playlist(search, vectors, seeds=[0], n=4, rng=s)) for s in range(4)}
    assert len(fixed) == 1


def test_more_like_this_still_steers_an_anchored_station():
    search, vectors, _ = _library(seed=4)
    dj = DjSession(search, vectors, ahead=4, anchor_weight=0.7)
    dj.start([0])
    assert all(t // 100 == 0 for t in dj.queue)
    dj.more_like(305)
    assert any(t // 100 == 3 for t in dj.queue), dj.queue


def test_a_journey_keeps_the_gap_towards_each_waypoint_and_no_version_of_it():
    from deejai_model.lists.playlists import journey

    search, vectors, tags = _library(seed=3)
    tags[5] = Tags("artist 0", "album 0", "Song 1-0 (Live)")  # a take of waypoint 100's song
    tags[100] = Tags("artist 1", "album 1", "song 1-0")
    spacer = Spacer(tags, artist_gap=3, album_max=0)
    path = journey(search, vectors, waypoints=[0, 100], n_per_leg=4, spacer=spacer)
    assert path[0] == 0 and path[-1] == 100 and 5 not in path
    assert not +spacer.violations(path), [tags[t].artist for t in path]
    unspaced = journey(search, vectors, waypoints=[0, 100], n_per_leg=4)
    assert +spacer.violations(unspaced)  # the path would run into its waypoint's artist
