"""Real-library faults with the real shipped model and real beets commands: tags in a wrong
encoding and non-UTF-8 file names, tag writes (``beet modify -w``) that must not force
re-embedding, files moved behind the plugin's back, and reused item ids."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil

import pytest
from audio_fixtures import set_raw_vorbis_comments, write_audio
from beets.library import Item
from beets.logging import getLogger
from conftest import KINDS, SR, make_music
from mediafile import MediaFile

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    """Three 5-s tagged FLAC files (chords, noise bursts, clicks)."""
    return make_music(
        tmp_path_factory.mktemp("real"),
        per_kind=1,
        seconds=5.0,
        kinds=["chord", "noise", "fastclicks"],
    )


def _copies(paths, folder) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    return [shutil.copy(path, folder / path.name) for path in paths]


def _add(env, paths) -> list[Item]:
    items = []
    for path in paths:
        item = Item.from_path(os.fspath(path))
        item.add(env.lib)
        items.append(item)
    return items


def _embed(env) -> str:
    """``beet deejai embed`` in this process; its summary line."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        env.run_output("deejai", "embed")
    (line,) = [x for x in err.getvalue().splitlines() if "embedded," in x]
    return line


def test_tag_writes_do_not_force_re_embedding_but_new_audio_does(env, music, tmp_path):
    paths = _copies(music, tmp_path / "lib")
    _add(env, paths)
    env.write_config(workers=1)
    assert _embed(env) == "deejai: 3 embedded, 0 skipped, 0 failed"

    # a real `beet` process writes new tags into every file (mtime changes, audio does not)
    done = env.beet("modify", "-y", "-w", "title=Renamed")
    assert done.returncode == 0, done.stderr
    assert all(MediaFile(os.fspath(p)).title == "Renamed" for p in paths)
    assert _embed(env) == "deejai: 0 embedded, 3 skipped, 0 failed"

    # copied into the library folder (new files, new mtimes), then moved within it
    for args in (("move", "-c"), ("modify", "-y", "-w", "-m", "title=Moved")):
        done = env.beet(*args)
        assert done.returncode == 0, done.stderr
    paths = [os.fsdecode(item.path) for item in env.lib.items()]
    assert all(p.startswith(str(env.lib_path)) and p.endswith("Moved.flac") for p in paths), paths
    assert _embed(env) == "deejai: 0 embedded, 3 skipped, 0 failed"

    # new audio in one file (no beets event), then a tag write on all: that one is embedded again
    write_audio(paths[0], KINDS["slowclicks"](0, 5.0), SR)
    stat = os.stat(paths[0])
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    done = env.beet("modify", "-y", "-w", "title=Again")
    assert done.returncode == 0, done.stderr
    assert _embed(env) == "deejai: 1 embedded, 2 skipped, 0 failed"


def test_latin1_tags_and_a_non_utf8_name_import_and_embed(env, tmp_path):
    folder = os.path.join(os.fsencode(tmp_path), b"import", b"album")
    os.makedirs(folder)
    made = write_audio(tmp_path / "latin1.ogg", KINDS["chord"](2, 6.0), SR)
    set_raw_vorbis_comments(
        made, [b"TITLE=Caf\xe9 del Mar", b"ARTIST=Bj\xf6rk", b"ALBUM=D\xe9j\xe0"]
    )
    name = os.path.join(folder, b"caf\xe9.ogg")
    os.rename(made, name)
    logs: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            logs.append(record.getMessage())

    handler = Collect()
    getLogger("beets").addHandler(handler)
    try:
        # in place (no copy): the library keeps the raw name; auto: the import stage embeds
        env.setup_importer(import_dir=tmp_path / "import", autotag=False, copy=False)
        env.importer.run()
    finally:
        getLogger("beets").removeHandler(handler)
    assert not [line for line in logs if "cannot embed" in line], logs
    (item,) = env.lib.items()
    assert item.path == name  # the raw byte is kept
    with env.lib.transaction() as tx:
        rows = tx.query("SELECT item_id, n_slices FROM deejai_vectors")
    assert [(r[0], r[1]) for r in rows] == [(item.id, 2)]
    env.write_config(workers=1)
    assert _embed(env) == "deejai: 0 embedded, 1 skipped, 0 failed"


def test_embed_adopts_a_moved_file_and_embeds_a_reused_id_afresh(env, music, tmp_path):
    paths = _copies(music, tmp_path / "lib")
    items = _add(env, paths)
    env.write_config(workers=1)
    assert _embed(env) == "deejai: 3 embedded, 0 skipped, 0 failed"
    with env.lib.transaction() as tx:
        before = dict(tx.query("SELECT item_id, slices FROM deejai_vectors"))

    # moved by hand and pointed at in the database while the plugin was not loaded
    moved = tmp_path / "elsewhere.flac"
    os.rename(paths[0], moved)
    with env.lib.transaction() as tx:
        tx.mutate("UPDATE items SET path = ? WHERE id = ?", (os.fsencode(moved), items[0].id))
    # the last item removed while the plugin was not loaded; a new track gets its id
    with env.lib.transaction() as tx:
        tx.mutate("DELETE FROM items WHERE id = ?", (items[2].id,))
    other = write_audio(tmp_path / "other.flac", KINDS["slowclicks"](1, 5.0), SR)
    (newcomer,) = _add(env, [other])
    assert newcomer.id == items[2].id

    assert _embed(env) == "deejai: 1 embedded, 2 skipped, 0 failed"
    with env.lib.transaction() as tx:
        after = dict(tx.query("SELECT item_id, slices FROM deejai_vectors"))
        (path,) = tx.query("SELECT path FROM deejai_vectors WHERE item_id = ?", (items[0].id,))[0]
    assert after[items[0].id] == before[items[0].id] and bytes(path) == os.fsencode(moved)
    assert after[newcomer.id] != before[newcomer.id]
