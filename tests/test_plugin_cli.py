"""The query commands as a beets user meets them: seeds parsed exactly like ``beet ls``
arguments, beets' own formats and path helpers, the play and playlist plugins' settings,
``beet deejai ls`` and ``embed --pretend``.

One library for the module: five short tracks imported with ``auto: yes`` (so embedded with the
real model), with quotes, apostrophes, spaces and non-ASCII in their tags and paths, one of them
untagged, and a decoy whose tags match ``title:Blue in Green`` once it is split into three
terms; then two items added without vectors (one untagged, with a non-UTF-8 file name).
The tests only read it.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from audio_fixtures import write_audio
from beets.library import Item
from beets.util import displayable_path
from conftest import KINDS, SR, DeejaiEnv
from mediafile import MediaFile

pytestmark = pytest.mark.slow

SECONDS = 6.0

#: (folder, file name, tags or None, kind, index of the kind's generator)
TRACKS = [
    ("blue", "Blue in Green.flac", ("Blue in Green", "Miles Davis", "Kind of Blue"), "chord", 0),
    # sorts first (artist) and matches the three terms title:Blue, in, Green
    ("decoy", "moon.flac", ("Blue Moon", "Aaron Decoy", "Green in Spring"), "chord", 2),
    ("rumours", "stop.flac", ("Don't Stop", "Fleetwood Mac", "Rumours"), "fastclicks", 0),
    ("homogenic", "joga.flac", ("Jóga", "Björk", "Homogenic"), "noise", 0),
    ("untagged", "untitled take.flac", None, "slowclicks", 0),
]


def _write(path: Path, kind: str, index: int, tags: tuple[str, str, str] | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_audio(path, KINDS[kind](index, SECONDS), SR)
    if tags is not None:
        media = MediaFile(str(path))
        media.title, media.artist, media.album = tags
        media.save()
    return path


@pytest.fixture(scope="module")
def cli_library(tmp_path_factory) -> Iterator[DeejaiEnv]:
    music = tmp_path_factory.mktemp("cli_music")
    for folder, name, tags, kind, index in TRACKS:
        _write(music / folder / name, kind, index, tags)
    later = tmp_path_factory.mktemp("cli_later")
    tagged = _write(later / "not yet.flac", "noise", 1, ("Not Yet", "Later", "Someday"))
    untagged = _write(later / "plain.flac", "fastclicks", 1, None)
    latin1 = os.path.join(os.fsencode(later), b"caf\xe9 take.flac")  # not UTF-8
    os.rename(untagged, latin1)
    env = DeejaiEnv()
    env.setup_beets()
    try:
        env.import_music(music)
        for path in (os.fsencode(tagged), latin1):  # no vectors (the import stage did not run)
            Item.from_path(path).add(env.lib)
        env.write_config()
        yield env
    finally:
        env.teardown_beets()


def _item(env: DeejaiEnv, title: str) -> Item:
    (item,) = [item for item in env.lib.items() if item.title == title]
    return item


def _untagged(env: DeejaiEnv, embedded: bool = True) -> Item:
    """The untagged item that has vectors (imported), or the one that has none (added)."""
    items = [item for item in env.lib.items() if not item.title]
    with env.lib.transaction() as tx:
        have = {row[0] for row in tx.query("SELECT item_id FROM deejai_vectors")}
    (item,) = [item for item in items if (item.id in have) == embedded]
    return item


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _printed(text: str) -> str:
    """``text`` as beets prints it (what the terminal cannot encode becomes ``?``)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _ls_titles(env: DeejaiEnv, *query: str) -> list[str]:
    """What ``beet ls -f '$title' QUERY`` prints."""
    saved = env.config["format_item"].get()
    try:
        out, _ = env.run_output("ls", "-f", "$title", *query)
    finally:  # `ls -f` sets format_item (for this process: here, the tests')
        env.config["format_item"] = saved
    return _lines(out)


# -- item 3: each seed argument means what it means to `beet ls` ---------------------------


def test_each_seed_argument_is_one_query_like_a_beet_ls_argument(cli_library):
    stop = _item(cli_library, "Don't Stop")
    seeds = {  # argument -> the one item `beet ls ARGUMENT` lists
        "title:Blue in Green": "Blue in Green",  # spaces: one term, not three
        "title:Don't Stop": "Don't Stop",  # an apostrophe is not a shell quote
        f"path:{displayable_path(stop.path)}": "Don't Stop",  # the example
        "artist:Björk": "Jóga",
        "Jóga": "Jóga",
    }
    for argument, title in seeds.items():
        assert _ls_titles(cli_library, argument) == [title], argument
    arguments = list(seeds)
    done = cli_library.beet("deejai", "playlist", *arguments, "-n", "0", "-f", "$title")
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout) == [seeds[a] for a in arguments]
    assert "items match" not in done.stderr  # every argument matched exactly one item

    done = cli_library.beet(
        "deejai",
        "journey",
        "title:Blue in Green",
        f"path:{displayable_path(stop.path)}",
        "--via",
        "artist:Björk",
        "-n",
        "0",
        "-f",
        "$title",
    )
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout) == ["Blue in Green", "Jóga", "Don't Stop"]

    # quotes the shell kept are part of the term: `beet ls '"Blue Moon"'` finds nothing
    assert _ls_titles(cli_library, '"Blue Moon"') == []
    done = cli_library.beet("deejai", "similar", '"Blue Moon"')
    assert done.returncode != 0 and "no item matches" in done.stderr


def test_similar_takes_its_arguments_as_one_query_like_beet_ls(cli_library):
    stop = _item(cli_library, "Don't Stop")
    done = cli_library.beet(
        "deejai", "similar", f"path:{displayable_path(stop.path)}", "-n", "3", "-f", "$title"
    )
    assert done.returncode == 0, done.stderr
    found = _lines(done.stdout)
    assert len(found) == 3 and "Don't Stop" not in found

    # three arguments: three terms of one query, as `beet ls Blue in Green` (two items match)
    assert _ls_titles(cli_library, "Blue", "in", "Green") == ["Blue Moon", "Blue in Green"]
    done = cli_library.beet("deejai", "similar", "Blue", "in", "Green", "-n", "1")
    assert done.returncode == 0, done.stderr
    assert "2 items match 'Blue in Green'; using the first: Aaron Decoy" in done.stderr


# -- item 5: output as beets users expect -------------------------------------------------


def test_default_format_is_beets_format_item_and_an_untagged_item_shows_its_file_name(
    cli_library, tmp_path
):
    untagged = _untagged(cli_library)
    name = displayable_path(os.path.basename(untagged.path))
    target = tmp_path / "seeds.m3u"
    cli_library.write_config(extra="format_item: '$title by $artist'\n", relative_to="absolute")
    try:
        done = cli_library.beet(
            "deejai",
            "playlist",
            "title:Blue in Green",
            displayable_path(untagged.path),  # a library file given by its path
            "-n",
            "0",
            "-o",
            str(target),
        )
        similar = cli_library.beet("deejai", "similar", "title:Don't Stop", "-n", "2")
    finally:
        cli_library.write_config()
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout) == ["Blue in Green by Miles Davis", name]
    m3u = target.read_text(encoding="utf-8").splitlines()
    assert m3u[1].endswith(",Miles Davis - Blue in Green")
    assert m3u[3] == f"#EXTINF:{round(untagged.length)},{name}"  # not " - "
    assert m3u[4] == displayable_path(untagged.path)

    assert similar.returncode == 0, similar.stderr
    for line in _lines(similar.stdout):  # format_item, then the distance
        shown, distance = line.rsplit("  (", 1)
        assert shown == name or " by " in shown
        assert 0.0 <= float(distance.rstrip(")")) <= 2.0


def test_a_relative_output_file_goes_to_the_playlist_plugins_folder(cli_library, tmp_path):
    folder = tmp_path / "beets playlists"
    cli_library.write_config(extra=f"playlist:\n  playlist_dir: {folder}\n")
    try:
        done = cli_library.beet("deejai", "similar", "title:Jóga", "-n", "2", "-o", "mix.m3u")
    finally:
        cli_library.write_config()
    assert done.returncode == 0, done.stderr
    written = (folder / "mix.m3u").read_text(encoding="utf-8").splitlines()
    assert written[0] == "#EXTM3U" and len(written) == 5

    # the plugin's own setting wins over the playlist plugin's
    own = tmp_path / "own"
    cli_library.write_config(extra=f"playlist:\n  playlist_dir: {folder}\n", playlist_dir=str(own))
    try:
        done = cli_library.beet("deejai", "similar", "title:Jóga", "-n", "1", "-o", "one.m3u")
    finally:
        cli_library.write_config()
    assert done.returncode == 0, done.stderr
    assert (own / "one.m3u").is_file() and not (folder / "one.m3u").exists()


def test_a_seed_file_from_outside_the_library_is_in_the_output_and_the_m3u(cli_library, tmp_path):
    outside = _write(tmp_path / "far away" / "elsewhere.flac", "slowclicks", 2, None)
    media = MediaFile(str(outside))
    media.title, media.artist = "Elsewhere", "Nobody"
    media.save()
    target = tmp_path / "out.m3u"
    out, _ = cli_library.run_output(
        "deejai",
        "playlist",
        str(outside),
        "title:Don't Stop",
        "-n",
        "1",
        "-o",
        str(target),
        "--relative-to",
        "absolute",
        "-f",
        "$title",
    )
    shown = _lines(out)
    assert shown[:2] == ["Elsewhere", "Don't Stop"] and len(shown) == 3
    m3u = target.read_text(encoding="utf-8").splitlines()
    assert m3u[1].startswith("#EXTINF:6,Nobody - Elsewhere")
    assert m3u[2] == str(outside)
    assert len(m3u) == 7

    out, _ = cli_library.run_output(
        "deejai", "journey", "title:Jóga", str(outside), "-n", "1", "-f", "$title"
    )
    shown = _lines(out)
    assert shown[0] == "Jóga" and shown[-1] == "Elsewhere" and len(shown) == 3


@pytest.mark.parametrize("raw", [True, False])
def test_play_follows_the_play_plugins_settings(cli_library, raw):
    folder = displayable_path(cli_library.lib.directory)
    if raw:  # the paths themselves, relative to play.relative_to; -y: past the threshold
        play = f"play:\n  command: printf '%s\\n'\n  raw: yes\n  relative_to: {folder}\n"
        play += "  warning_threshold: 1\n"
        options = ["-y"]
    else:  # a playlist file, put where $playlist stands; -A: where $args stands
        play = "play:\n  command: cat $args $playlist\n"
        options = ["-A", "-n"]  # cat numbers the lines
    cli_library.write_config(extra=play)
    try:
        done = cli_library.beet(
            "deejai", "playlist", "title:Jóga", "-n", "2", "--play", "-f", "$id", *options
        )
    finally:
        cli_library.write_config()
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stdout)
    ids = [int(x) for x in lines[:3]]
    assert lines[3] == "Playing 3 tracks."
    paths = [cli_library.lib.get_item(i).path for i in ids]
    if raw:
        expected = [displayable_path(os.path.relpath(p, cli_library.lib.directory)) for p in paths]
    else:
        expected = [f"{n:>6}\t{displayable_path(p)}" for n, p in enumerate(paths, 1)]
    assert lines[4:] == expected


# -- item 5: `beet deejai ls` and `embed --pretend` ---------------------------------------


def test_ls_shows_which_items_have_vectors_and_missing_lists_the_others(cli_library):
    missing = _untagged(cli_library, embedded=False)
    out, _ = cli_library.run_output("deejai", "ls", "-f", "$id|$deejai_vectors")
    states = {int(i): state for i, state in (line.split("|") for line in _lines(out))}
    assert states.pop(_item(cli_library, "Not Yet").id) == "no"
    assert states.pop(missing.id) == "no"
    assert len(states) == 5 and set(states.values()) == {"yes"}

    done = cli_library.beet("deejai", "ls", "--missing")
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout) == [  # beets' format_item, then the state
        _printed(f"{displayable_path(os.path.basename(missing.path))}  [vectors: no]"),
        "Later - Someday - Not Yet  [vectors: no]",
    ]
    assert "7 items: 5 with vectors of" in done.stderr and "2 without" in done.stderr

    # a file changed since it was embedded: its vectors are stale, and `embed` would embed it
    stop = _item(cli_library, "Don't Stop")
    mtime = os.stat(stop.path).st_mtime
    os.utime(stop.path, (mtime + 100, mtime + 100))
    try:
        out, _ = cli_library.run_output("deejai", "ls", "-m", "-f", "$title|$deejai_vectors")
    finally:
        os.utime(stop.path, (mtime, mtime))
    assert "Don't Stop|stale" in _lines(out) and len(_lines(out)) == 3

    # a query, parsed like `beet ls`
    out, _ = cli_library.run_output("deejai", "ls", "title:Don't Stop")
    assert _lines(out) == ["Fleetwood Mac - Rumours - Don't Stop  [vectors: yes]"]


def test_embed_pretend_lists_what_would_be_embedded_and_embeds_nothing(cli_library):
    with cli_library.lib.transaction() as tx:
        before = tx.query("SELECT item_id, mtime FROM deejai_vectors ORDER BY item_id")
    without = {str(i.id) for i in (_item(cli_library, "Not Yet"), _untagged(cli_library, False))}
    done = cli_library.beet("deejai", "embed", "--pretend", "-f", "$id", probe=True)
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stdout)
    assert lines[-1] == "HEAVY="  # nothing loaded the model
    assert set(lines[:-1]) == without and len(lines) == 3
    assert "deejai: would embed 2, skip 5" in done.stderr
    with cli_library.lib.transaction() as tx:
        after = tx.query("SELECT item_id, mtime FROM deejai_vectors ORDER BY item_id")
    assert [tuple(r) for r in after] == [tuple(r) for r in before]

    done = cli_library.beet("deejai", "embed", "-p", "--force", "title:Jóga")
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout) == ["Björk - Homogenic - Jóga"]


def test_warnings_name_items_in_beets_format(cli_library):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        _, logs = cli_library.run_output("deejai", "similar", "Blue", "-n", "1")
    assert any("using the first: Aaron Decoy - Green in Spring - Blue Moon" in x for x in logs)
