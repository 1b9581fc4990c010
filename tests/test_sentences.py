"""Sentences for Track2Vec: playlists, histories and Million Playlist slices, matched to tracks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from deejai_model.learn.sentences import (
    Catalogue,
    CatalogueTrack,
    Entry,
    SentenceSourceError,
    normalise_text,
    read_history,
    read_m3u,
    read_million_playlists,
    read_sources,
    sessions,
    track_key,
)


def catalogue(root: Path) -> Catalogue:
    return Catalogue(
        [
            CatalogueTrack(1, str(root / "a" / "one.flac"), None, "Ärtist", "One (Remaster)", "A"),
            CatalogueTrack(2, str(root / "a" / "two.flac"), "MB-2", "Artist", "Two", "A"),
            CatalogueTrack(3, str(root / "b" / "three.flac"), None, "Band & Co", "Three", "B"),
        ]
    )


def test_normalise_text_folds_accents_case_brackets_and_feat():
    assert normalise_text("Beyoncé (Live) feat. Jay-Z") == "beyonce"
    assert normalise_text("  The  Band & Co. ") == "the band and co"
    assert normalise_text(None) == ""


def test_track_key_prefers_mbid_then_artist_title():
    assert track_key("ABC", "x", "y") == "mbid:abc"
    assert track_key(None, "Ärtist", "One [Live]") == "at:artist\tone"
    assert track_key(None, "Artist", "") is None


def test_m3u_relative_extinf_and_cp1252(tmp_path):
    cat = catalogue(tmp_path)
    playlist = tmp_path / "lists" / "mix.m3u"
    playlist.parent.mkdir()
    lines = [
        "#EXTM3U",
        "../a/one.flac",  # relative to the playlist: matched by path
        "#EXTINF:123,Artist - Two",
        "/elsewhere/two.mp3",  # not on disk here: matched by #EXTINF artist + title
        "#EXTINF:1,Band and Co - Three",
        "http://radio.example/stream",
        "/nowhere/Unknown - Song.mp3",  # unmatched
    ]
    playlist.write_bytes("\r\n".join(lines).encode("cp1252"))
    sentence = read_m3u(playlist)
    assert len(sentence.entries) == 4
    matched, report = cat.match_sentences([sentence])
    assert [t.id for t in matched[0]] == [1, 2, 3]
    assert (report.matched, report.unmatched) == (3, 1)
    assert report.by == {"path": 1, "mbid": 0, "artist+title": 2}
    assert "1 unmatched" in report.line()


def test_unreadable_sources_are_counted_and_the_rest_read(tmp_path):
    good = tmp_path / "good.m3u8"
    good.write_text("one.flac\ntwo.flac\n", encoding="utf-8")
    empty = tmp_path / "empty.m3u"
    empty.write_text("#EXTM3U\n", encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    warned = []
    from deejai_model.learn.sentences import MatchReport

    report = MatchReport()
    got = list(
        read_sources(
            [tmp_path], [broken, tmp_path / "missing.csv"], report=report, warn=warned.append
        )
    )
    assert [Path(s.source).name for s in got] == ["good.m3u8"]
    assert report.unreadable == 3
    assert any("empty.m3u: no tracks" in w for w in warned)
    assert any(w.startswith(str(broken)) and "not valid JSON" in w for w in warned)
    assert all("\n" not in w for w in warned)


def test_sessions_cut_at_thirty_minute_gaps():
    plays = [Entry(title=str(t), played_at=t) for t in (0, 100, 1899, 1899 + 1800, 9000, 3)]
    cut = sessions(plays)
    assert [[e.title for e in s.entries] for s in cut] == [
        ["0", "3", "100", "1899"],
        ["3699"],
        ["9000"],
    ]


def test_listenbrainz_history_uses_recording_mbid(tmp_path):
    listens = [
        {
            "listened_at": 1000 + i * 200,
            "track_metadata": {
                "artist_name": "Artist",
                "track_name": "Two",
                "mbid_mapping": {"recording_mbid": "mb-2"},
            },
        }
        for i in range(2)
    ] + [
        {"listened_at": 99999, "track_metadata": {"artist_name": "Ärtist", "track_name": "One"}},
        {"listened_at": 99999 + 60, "track_metadata": {"artist_name": "X", "track_name": "Y"}},
    ]
    path = tmp_path / "listens.json"
    path.write_text(json.dumps(listens), encoding="utf-8")
    got = read_history(path)
    assert len(got) == 2
    matched, report = catalogue(tmp_path).match_sentences(got)
    assert report.by["mbid"] == 2 and report.by["artist+title"] == 1 and report.unmatched == 1
    assert [t.id for t in matched[0]] == [2, 2]


def test_spotify_extended_history_skips_podcasts(tmp_path):
    plays = [
        {"ts": "2024-01-01T10:00:00Z", "master_metadata_track_name": "Two",
         "master_metadata_album_artist_name": "Artist"},
        {"ts": "2024-01-01T10:04:00Z", "master_metadata_track_name": None,
         "episode_name": "A podcast"},
        {"ts": "2024-01-01T10:08:00Z", "master_metadata_track_name": "Three",
         "master_metadata_album_artist_name": "Band & Co"},
    ]  # fmt: skip
    path = tmp_path / "Streaming_History_Audio_2024.json"
    path.write_text(json.dumps(plays), encoding="utf-8")
    got = read_history(path)
    assert len(got) == 1 and [e.title for e in got[0].entries] == ["Two", "Three"]
    matched, _ = catalogue(tmp_path).match_sentences(got)
    assert [t.id for t in matched[0]] == [2, 3]


def test_lastfm_csv_with_header_and_headerless(tmp_path):
    with_header = tmp_path / "scrobbles.csv"
    with with_header.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["uts", "utc_time", "artist", "album", "track"])
        writer.writerow(["1700000000", "x", "Artist", "A", "Two"])
        writer.writerow(["1700000300", "x", "Ärtist", "A", "One"])
        writer.writerow(["1700009000", "x", "Band & Co", "B", "Three"])
    assert [len(s.entries) for s in read_history(with_header)] == [2, 1]
    headerless = tmp_path / "lastfm-to-csv.csv"
    headerless.write_text(
        "Artist,A,Two,14 Nov 2023 22:13\nBand & Co,B,Three,14 Nov 2023 22:16\n", encoding="utf-8"
    )
    got = read_history(headerless)
    assert len(got) == 1
    assert [t.id for t in catalogue(tmp_path).match_sentences(got)[0][0]] == [2, 3]


def test_unknown_json_history_is_one_clear_error(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps([{"foo": 1}]), encoding="utf-8")
    with pytest.raises(SentenceSourceError, match=r"other\.json: not a ListenBrainz"):
        read_history(path)


def test_million_playlist_slice(tmp_path):
    data = {
        "info": {},
        "playlists": [
            {"pid": 7, "tracks": [
                {"artist_name": "Artist", "track_name": "Two"},
                {"artist_name": "Band & Co", "track_name": "Three"},
                {"artist_name": "Nobody", "track_name": "Nothing"},
            ]},
        ],
    }  # fmt: skip
    path = tmp_path / "mpd.slice.0-999.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    got = read_million_playlists(path)
    matched, report = catalogue(tmp_path).match_sentences(got)
    assert [t.id for t in matched[0]] == [2, 3] and report.unmatched == 1
    assert list(read_sources(million_playlists=tmp_path))[0].source.endswith("#7")


def test_album_sentences():
    albums = catalogue(Path("/music")).album_sentences()
    assert [[t.id for t in s] for s in albums] == [[1, 2]]  # album B has one track only
