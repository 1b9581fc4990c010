"""Lists that listen back, through real ``beet`` processes on a real library with generated
audio: spacing, a remaster as a repeat, ``reorder``, ``playlist --extend``, ``--fresh`` and
skips, plays recorded by the DJ page, ``daily``."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from audio_fixtures import A_MAJOR, chord, write_audio
from conftest import SR, DeejaiEnv, kind_of, make_music
from mediafile import MediaFile
from vector_rows import deejai_plugin

GENRES = {"chord": "Ambient", "noise": "Industrial", "fastclicks": "Techno", "slowclicks": "Dub"}


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Iterator[DeejaiEnv]:
    """Twelve generated tracks (three per kind; artist = album = kind, a genre per kind) and a
    live take of chord-2 on an album of its own, embedded on import."""
    folder = tmp_path_factory.mktemp("music")
    paths = make_music(folder)
    (folder / "live").mkdir()
    live = write_audio(
        folder / "live" / "chord-2-live.flac",
        chord(12.0, SR, freqs=[f * 1.12 * 1.01 for f in A_MAJOR]),
        SR,
    )
    tags = MediaFile(live)
    tags.title, tags.artist, tags.album = "chord-2 (Live)", "chord", "chord live"
    tags.save()
    for path in [*paths, live]:
        tags = MediaFile(path)
        tags.genre = GENRES[tags.artist]
        tags.save()
    env = DeejaiEnv()
    env.setup_beets()
    try:
        env.import_music(folder)
        env.write_config()
        yield env
    finally:
        env.teardown_beets()


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def _titles(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


def _item(env: DeejaiEnv, title: str):
    return env.lib.items(f"title:{title}").get()


def _folder(env: DeejaiEnv) -> Path:
    """The library's music folder."""
    path = env.lib_path
    return Path(path.decode() if isinstance(path, bytes) else path)


def _title_of(env: DeejaiEnv, entry: str, folder: Path) -> str:
    """The title of the item a playlist entry names."""
    full = (folder / entry).resolve()
    (item,) = [i for i in env.lib.items() if Path(i.path.decode()).resolve() == full]
    return item.title


@pytest.mark.slow  # several beet processes (> 10 s on 2 cores)
def test_similar_lists_keep_artists_apart_and_cap_albums(lib):
    plain = _titles(
        _ok(
            lib.beet(
                "deejai",
                "similar",
                "title:chord-1",
                "-n",
                "8",
                "-f",
                "$title",
                "--artist-gap",
                "0",
                "--album-max",
                "0",
            )
        )
    )
    assert [kind_of(t) for t in plain[:2]] == ["chord", "chord"]  # the nearest: more chords
    spaced = _titles(
        _ok(lib.beet("deejai", "similar", "title:chord-1", "-n", "8", "-f", "$artist|$album"))
    )
    artists = [line.split("|")[0] for line in spaced]
    assert len(spaced) == 8
    assert all(a != b for a, b in zip(artists, artists[1:], strict=False)), spaced
    albums = [line.split("|")[1] for line in spaced]
    assert max(albums.count(a) for a in albums) <= 3
    tight = _titles(
        _ok(
            lib.beet(
                "deejai",
                "similar",
                "title:chord-1",
                "-n",
                "8",
                "-f",
                "$artist",
                "--artist-gap",
                "4",
                "--album-max",
                "2",
            )
        )
    )
    assert all(len(set(tight[i : i + 4])) == 4 for i in range(len(tight) - 3)), tight


def test_a_live_take_of_a_song_in_the_list_is_a_repeat(lib):
    out = _ok(
        lib.beet(
            "deejai",
            "similar",
            "title:chord-3",
            "-n",
            "12",
            "-f",
            "$title",
            "--artist-gap",
            "0",
            "--album-max",
            "0",
        )
    )
    titles = _titles(out)
    assert len(titles) == 11  # 12 others, one of them a version of another
    assert ("chord-2" in titles) != ("chord-2 (Live)" in titles), titles


def _m3u(env: DeejaiEnv, path: Path, titles: list[str], extra: dict[int, str]) -> list[str]:
    lines = ["#EXTM3U"]
    for pos, title in enumerate(titles):
        if pos in extra:
            lines.append(extra[pos])
        item = _item(env, title)
        rel = Path(item.path.decode()).relative_to(path.parent)
        lines += [f"#EXTINF:12,{item.artist} - {item.title}", str(rel)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def test_reorder_rewrites_a_playlist_in_the_order_that_flows(lib):
    path = _folder(lib) / "mixed.m3u"
    order = ["chord-1", "noise-1", "chord-2", "noise-2", "chord-3", "noise-3"]
    extra = {2: "# my note", 4: "http://radio.example/stream"}
    before = _m3u(lib, path, order, extra)
    result = lib.beet("deejai", "reorder", str(path), "-f", "$title")
    _ok(result)
    found = re.search(r"total distance ([\d.]+) before, ([\d.]+) after", result.stderr)
    assert found and float(found[2]) < 0.7 * float(found[1]), result.stderr
    after = path.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before) and after[0] == "#EXTM3U"
    for line in extra.values():  # lines it does not understand stay where they were
        assert after[before.index(line)] == line
    entries = [line for line in after if line.endswith(".flac")]
    assert sorted(entries) == sorted(line for line in before if line.endswith(".flac"))
    assert not any(line.startswith("/") for line in entries)  # the same path style
    kinds = [kind_of(_title_of(lib, e, path.parent)) for e in entries]
    assert sum(a != b for a, b in zip(kinds, kinds[1:], strict=False)) == 1  # grouped
    for pos, line in enumerate(after):  # each #EXTINF still names the entry after it
        if line.startswith("#EXTINF"):
            assert _title_of(lib, after[pos + 1], path.parent) in line


def test_reorder_a_query_with_a_fixed_first_and_last_track(lib):
    result = lib.beet(
        "deejai",
        "reorder",
        "album:chord",
        ",",
        "album:noise",
        "--first",
        "title:noise-2",
        "--last",
        "title:noise-1",
        "-f",
        "$title",
    )
    titles = _titles(_ok(result))
    assert titles[0] == "noise-2" and titles[-1] == "noise-1" and len(titles) == 7  # live take too
    assert "before" in result.stderr and "after" in result.stderr


def test_extend_appends_tracks_that_go_on_and_keeps_the_file(lib, tmp_path):
    base = _folder(lib)
    path = base / "two.m3u"
    before = _m3u(lib, path, ["slowclicks-1", "slowclicks-2"], {1: "#EXTVLCOPT:x"})
    before.insert(1, "not/in/the/library.flac")
    path.write_text("\n".join(before) + "\n", encoding="utf-8")
    out = _ok(lib.beet("deejai", "playlist", "--extend", str(path), "-n", "3", "-f", "$title"))
    added = _titles(out)
    assert len(added) == 3 and not {"slowclicks-1", "slowclicks-2"} & set(added)
    after = path.read_text(encoding="utf-8").splitlines()
    assert after[: len(before)] == before  # what was there stays, byte for byte
    new = [line for line in after[len(before) :] if not line.startswith("#")]
    assert len(new) == 3 and not any(line.startswith("/") for line in new)
    assert all((base / line).is_file() for line in new)
    assert [_title_of(lib, n, base) for n in new] == added


def test_a_journey_never_plays_another_version_of_a_waypoint(lib):
    # the live take of chord-2 sounds like it: a path towards chord-2 is drawn to it, but the
    # same song twice is a hard rule, and chord-2 comes at the end of the path
    out = _titles(
        _ok(
            lib.beet(
                "deejai", "journey", "title:chord-1", "title:chord-2", "-n", "4", "-f", "$title"
            )
        )
    )
    assert out[0] == "chord-1" and out[-1] == "chord-2" and len(out) == 6, out
    assert "chord-2 (Live)" not in out
    assert not out[-2].startswith("chord")  # the artist gap holds towards the waypoint too


def test_extend_keeps_a_bom_crlf_and_library_relative_paths(lib, tmp_path):
    base = _folder(lib)
    entries = [
        str(_item(lib, t).path.decode()).removeprefix(str(base) + "/")
        for t in ("noise-1", "noise-2")
    ]
    path = tmp_path / "saved.m3u"  # outside the music folder: its entries are library-relative
    head = ["#EXTM3U", "#PLAYLIST:kept", *entries]
    before = b"\xef\xbb\xbf" + "\r\n".join(head).encode() + b"\r\n"
    path.write_bytes(before)
    _ok(lib.beet("deejai", "playlist", "--extend", str(path), "-n", "2"))
    after = path.read_bytes()
    assert after.startswith(before)  # the BOM and every line, byte for byte
    tail = after[len(before) :]
    assert tail.endswith(b"\r\n") and b"\n" not in tail.replace(b"\r\n", b"")
    new = [line for line in tail.decode().split("\r\n") if line]
    assert [line.startswith("#EXTINF:") for line in new] == [True, False, True, False]
    assert all(not line.startswith("/") and (base / line).is_file() for line in new[1::2])
    assert [p.name for p in tmp_path.iterdir()] == ["saved.m3u"]  # no temporary file left


def test_extend_a_playlist_of_the_playlist_plugin_by_name(lib, tmp_path):
    folder = tmp_path / "lists"
    folder.mkdir()
    item = _item(lib, "fastclicks-1")
    (folder / "party.m3u").write_text(item.path.decode() + "\n", encoding="utf-8")
    lib.write_config(extra=f"playlist:\n  playlist_dir: {folder}\n")
    try:
        _ok(lib.beet("deejai", "playlist", "--extend", "party", "-n", "2"))
    finally:
        lib.write_config()
    lines = (folder / "party.m3u").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and all(line.startswith("/") for line in lines)  # absolute, as it was


@pytest.mark.slow  # several beet processes (> 10 s on 2 cores)
def test_fresh_keeps_out_what_was_played_and_skips_push_down(lib):
    args = (
        "deejai",
        "similar",
        "title:chord-1",
        "-n",
        "3",
        "-f",
        "$title",
        "--artist-gap",
        "0",
        "--album-max",
        "0",
    )
    plain = _titles(_ok(lib.beet(*args)))
    target = _item(lib, plain[0])
    try:
        target["last_played"] = int(time.time()) - 3600
        target.store()
        assert plain[0] not in _titles(_ok(lib.beet(*args, "--fresh", "1")))
        assert _titles(_ok(lib.beet(*args))) == plain  # played, never skipped: no change
        target["skip_count"] = 20
        target.store()
        lib.write_config(lists="{skip_weight: 1.0}")
        assert plain[0] not in _titles(_ok(lib.beet(*args)))
    finally:
        lib.write_config()
        for key in ("last_played", "skip_count"):
            if key in target:
                del target[key]
        target.store()


def test_the_dj_page_records_plays_and_skips_as_mpdstats_does(lib):
    from beetsplug.deejai.web.backend import LibraryDj

    dj = LibraryDj(deejai_plugin().session(lib.lib), ahead=3)
    touched = []
    try:
        dj.seed_query("noise-1")
        first = dj.dj.current
        dj.advance(skipped=False)
        second = dj.dj.current
        dj.advance(skipped=True)
        touched = [int(first), int(second), int(dj.dj.current)]
        a, b, c = (lib.lib.get_item(i) for i in touched)
        assert int(a.get("play_count")) == 1 and "skip_count" not in a
        assert int(b.get("skip_count")) == 1 and "last_played" in b
        assert abs(int(c["last_played"]) - time.time()) < 120
    finally:
        for item_id in touched:
            item = lib.lib.get_item(item_id) if item_id is not None else None
            if item is None:
                continue
            for key in ("play_count", "skip_count", "last_played"):
                if key in item:
                    del item[key]
            item.store()


@pytest.mark.slow  # several beet processes (> 10 s on 2 cores)
def test_daily_mixes_from_what_was_played(lib, tmp_path):
    none = lib.beet("deejai", "daily", "-k", "2", "--dir", str(tmp_path / "a"), "-n", "2")
    assert none.returncode == 0 and "nothing was played" in none.stderr, none.stderr
    assert len(list((tmp_path / "a").glob("deejai-daily-*.m3u"))) >= 1
    played = [_item(lib, t) for t in ("chord-1", "chord-3", "fastclicks-1", "fastclicks-2")]
    try:
        for item in played:
            item["last_played"] = int(time.time()) - 86400
            item.store()
        out = _ok(
            lib.beet(
                "deejai", "daily", "-k", "2", "--days", "7", "--dir", str(tmp_path / "b"), "-n", "2"
            )
        )
    finally:
        for item in played:
            del item["last_played"]
            item.store()
    files = sorted((tmp_path / "b").glob("deejai-daily-*.m3u"))
    assert [f.name for f in files] == ["deejai-daily-ambient.m3u", "deejai-daily-techno.m3u"], out
    for f in files:
        entries = [line for line in f.read_text().splitlines() if not line.startswith("#")]
        stems = {_title_of(lib, e, f.parent) for e in entries}
        kind = "chord" if "ambient" in f.name else "fastclicks"
        played_here = {i.title for i in played if i.title.startswith(kind)}
        assert played_here <= stems and len(stems - played_here) == 2  # two not played lately
        # the artist gap: one artist twice in a row only as often as every order must
        folder = f.parent
        artists = [
            next(
                i.artist
                for i in lib.lib.items()
                if Path(i.path.decode()).resolve() == (folder / e).resolve()
            )
            for e in entries
        ]

        def side_by_side(order):
            return sum(a == b for a, b in zip(order, order[1:], strict=False))

        fewest = min(side_by_side(p) for p in itertools.permutations(artists))
        assert side_by_side(artists) == fewest, artists


def test_a_wrong_lists_setting_is_one_clear_line(lib):
    lib.write_config(lists="{anchor: 2}")
    try:
        result = lib.beet("deejai", "similar", "title:chord-1", "-n", "2")
    finally:
        lib.write_config()
    assert result.returncode != 0
    assert "deejai.lists.anchor must be in [0, 1]" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_fresh_station_never_picks_what_was_played_lately(lib):
    session = deejai_plugin().session(lib.lib)
    seed = _item(lib, "chord-1")
    plain = session.dj_session(lookback=3, noise=0.0, ahead=4)
    plain.start([seed.id])
    recent = lib.lib.get_item(int(plain.queue[0]))
    try:
        recent["last_played"] = int(time.time()) - 600
        recent.store()
        fresh = session.dj_session(lookback=3, noise=0.0, ahead=4, fresh_days=1)
        fresh.start([seed.id])
        assert recent.id not in [int(t) for t in fresh.queue + fresh.picks(6)]
    finally:
        del recent["last_played"]
        recent.store()


def test_a_long_lived_session_spaces_by_the_tags_as_they_are_now(lib):
    """A server's session keeps the library's tags between lists, and reads them again when the
    library changes: in its own process, and in another one (a `beet modify` elsewhere)."""
    session = deejai_plugin().session(lib.lib)
    item = _item(lib, "noise-2")
    artist = item.artist

    def spaced_artist() -> str:
        return session.listening().spacer.tags[item.id].artist

    try:
        assert spaced_artist() == artist
        assert session.listening().spacer.tags is session.listening().spacer.tags  # kept
        item.artist = "renamed here"
        item.store()
        assert spaced_artist() == "renamed here"
        time.sleep(0.01)  # a later mtime for the other process's write
        _ok(lib.beet("modify", "-y", f"id:{item.id}", "artist=renamed elsewhere"))
        assert spaced_artist() == "renamed elsewhere"
    finally:
        item.load()
        item.artist = artist
        item.store()
