"""Showing results (output.py): extended M3U files."""

from __future__ import annotations

import os


def test_m3u_paths_follow_relative_to(env, tmp_path):
    from beetsplug.deejai.output import entry_path, m3u_bytes

    library_dir = env.config["directory"].as_filename()
    song = os.fsencode(os.path.join(library_dir, "a", "b", "song.flac"))
    playlist = str(tmp_path / "lists" / "x.m3u")
    assert entry_path(song, playlist, "absolute") == song
    assert entry_path(song, playlist, "library") == os.fsencode(os.path.join("a", "b", "song.flac"))
    assert entry_path(song, playlist, os.path.join(library_dir, "a")) == b"b/song.flac"
    rel = entry_path(song, playlist, "playlist")
    assert os.path.normpath(os.path.join(tmp_path / "lists", os.fsdecode(rel))) == os.fsdecode(song)
    item = env.add_item(title="Sóng", artist="Ärtist", path=os.fsdecode(song), length=61.6)
    data = m3u_bytes([item], playlist, "absolute").decode("utf-8")
    assert data == f"#EXTM3U\n#EXTINF:62,Ärtist - Sóng\n{os.fsdecode(song)}\n"
