"""Half-tagged libraries: different files with the same artist and title stay apart, in the
output of every list and in training; `train` names what it could not match; a binary `.m3u`
is unreadable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from audio_fixtures import A_MAJOR, chord, write_audio
from beets.library import Item
from conftest import SR

from deejai_model.learn.sentences import (
    AMBIGUOUS,
    NOT_FOUND,
    MatchReport,
    SentenceSourceError,
    read_m3u,
    read_sources,
)


def _same_tags(env, folder: Path, albums: list[str], *, years=None) -> list[Item]:
    """One file per album name given, all tagged ``NeonCorridor - Living Caves``."""
    items = []
    for n, album in enumerate(albums):
        path = write_audio(
            folder / f"caves-{n}.flac", chord(4.0, SR, freqs=[f * 1.1**n for f in A_MAJOR]), SR
        )
        item = Item.from_path(str(path))
        item.artist, item.title, item.album, item.track = "NeonCorridor", "Living Caves", album, 1
        item.year = years[n] if years else 0
        item.add(env.lib)
        items.append(item)
    return items


def test_list_lines_of_same_tagged_files_are_told_apart(env, tmp_path):
    from beetsplug.deejai.output import format_lines

    items = _same_tags(env, tmp_path, ["HyperRogue"] * 3, years=[2015, 2016, 2017])
    lines = format_lines(items, None)
    assert lines == [f"NeonCorridor - HyperRogue - Living Caves [{y}]" for y in (2015, 2016, 2017)]
    with_distance = format_lines(items, None, [0.1, 0.2, 0.3])
    assert with_distance[1] == "NeonCorridor - HyperRogue - Living Caves [2016]  (0.2000)"


def test_same_album_falls_back_to_the_file_name(env, tmp_path):
    from beetsplug.deejai.output import format_lines

    items = _same_tags(env, tmp_path, ["HyperRogue", "HyperRogue"], years=[2015, 2015])
    lines = format_lines(items, None)
    assert lines[0].endswith("[caves-0.flac]") and lines[1].endswith("[caves-1.flac]")


def test_lines_that_differ_are_left_as_beets_prints_them(env, tmp_path):
    from beetsplug.deejai.output import format_lines

    items = _same_tags(env, tmp_path, ["HyperRogue", "Other"])
    items[1].title = "Crystal World"
    lines = format_lines(items, None)
    assert not any("[" in line for line in lines)


def test_similar_prints_same_tagged_items_apart(env, tmp_path):
    items = _same_tags(env, tmp_path, ["HyperRogue"] * 4)
    env.run_command("deejai", "embed")
    # the lists' same-title rule would keep all but one of them out (docs/lists.md): off here
    env.config["deejai"]["lists"]["same_title"] = False
    out, _ = env.run_output("deejai", "similar", f"id:{items[0].id}", "-n", "3")
    lines = [line.rsplit("  (", 1)[0] for line in out.splitlines()]
    assert len(lines) == 3 and len(set(lines)) == 3, out
    assert all(line.endswith(".flac]") for line in lines), out


def test_training_keys_items_by_identity_and_matches_histories_by_name(env, tmp_path):
    from beetsplug.deejai.creativity import item_key
    from beetsplug.deejai.train import catalogue_of
    from deejai_model.learn.train import gather_sentences

    items = _same_tags(env, tmp_path, ["HyperRogue", "HyperRogue"])
    path = write_audio(tmp_path / "crystal.flac", chord(4.0, SR, freqs=A_MAJOR), SR)
    unique = Item.from_path(str(path))
    unique.artist, unique.title, unique.album = "NeonCorridor", "Crystal World", "HyperRogue"
    unique.mb_trackid = "0f5d1f2e-0000-4000-8000-000000000001"
    unique.add(env.lib)
    env.lib.add_album(items + [unique])
    everything = list(env.lib.items())

    keys = {item.id: item_key(item) for item in everything}
    assert len(set(keys.values())) == 3  # two "Living Caves" files are two words
    assert keys[unique.id] == "mbid:0f5d1f2e-0000-4000-8000-000000000001"
    assert keys[items[0].id] == f"item:{items[0].id}"

    start = 1_700_000_000
    plays = [
        ("NeonCorridor", "Crystal World"),
        ("NeonCorridor", "Living Caves"),  # two items have this name: cannot tell which
        ("NeonCorridor", "Crystal World"),
        ("Nobody", "Nothing"),
    ]
    history = tmp_path / "listens.json"
    history.write_text(
        json.dumps(
            [
                {
                    "listened_at": start + 200 * n,
                    "track_metadata": {"artist_name": artist, "track_name": title},
                }
                for n, (artist, title) in enumerate(plays)
            ]
        ),
        encoding="utf-8",
    )
    found = gather_sentences(catalogue_of(everything), histories=[history], albums=True)
    assert found.report.matched == 2 and found.report.by["artist+title"] == 2
    assert found.report.unmatched_by == {AMBIGUOUS: 1, NOT_FOUND: 1}
    assert "2 unmatched (ambiguous artist+title 1, not found 1)" in found.line()
    named = found.report.unmatched_entries
    assert any("NeonCorridor - Living Caves (ambiguous" in entry for entry in named)
    album = next(sentence for sentence in found.keys if len(sentence) == 3)
    assert sorted(album) == sorted(keys.values())


def test_train_names_unmatched_entries_with_v(env, tmp_path):
    """A real `beet -v deejai train` that matches nothing: each unmatched entry is named (one
    debug line each), with the count by reason, before the error."""
    _same_tags(env, tmp_path, ["HyperRogue", "HyperRogue"])
    playlist = tmp_path / "lists" / "evening.m3u"
    playlist.parent.mkdir()
    playlist.write_text(
        "#EXTM3U\n#EXTINF:1,Nobody - Nothing\n/nowhere/a.mp3\n"
        "#EXTINF:1,NeonCorridor - Living Caves\n/nowhere/b.mp3\n",
        encoding="utf-8",
    )
    env.write_config()
    done = env.beet("-v", "deejai", "train", "--no-albums", "--playlists", str(playlist))
    assert done.returncode == 1, done.stderr
    named = [line for line in done.stderr.splitlines() if "unmatched: " in line]
    assert len(named) == 2, done.stderr
    assert "Nobody - Nothing (not found)" in named[0]
    assert "NeonCorridor - Living Caves (ambiguous artist+title)" in named[1]
    assert "2 unmatched (ambiguous artist+title 1, not found 1)" in done.stderr


def test_a_binary_m3u_is_unreadable_not_a_playlist(tmp_path):
    garbage = tmp_path / "garbage.m3u"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(SentenceSourceError, match="binary data"):
        read_m3u(garbage)
    good = tmp_path / "good.m3u"
    good.write_text("#EXTM3U\n#EXTINF:1,Café - Crème\n/a/b.mp3\n", encoding="cp1252")
    report = MatchReport()
    warned: list[str] = []
    sentences = list(read_sources([garbage, good], report=report, warn=warned.append))
    assert [s.source for s in sentences] == [str(good)]
    assert report.unreadable == 1 and str(garbage) in warned[0]
