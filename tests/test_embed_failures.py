"""Failures are remembered: a file that cannot be embedded is recorded with its reason and
mtime; `ls` shows it, `embed` skips it while it is unchanged (until `--retry-failed`), a query
on it says why, and `embed` exits non-zero as beets' own commands do when files failed."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3

import numpy as np
import pytest
from audio_fixtures import write_audio
from beets.ui import UserError
from conftest import SR, DeejaiEnv, make_music
from test_plugin_embed import _add_files as _add
from test_plugin_embed import interrupt_beet

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    """Three 6-s files: two chords, one noise-burst track."""
    return make_music(
        tmp_path_factory.mktemp("music"), per_kind=2, seconds=6.0, kinds=["chord", "noise"]
    )[:3]


def _silent(folder, name="silence.flac"):
    path = write_audio(folder / name, np.zeros(SR * 6, np.float32), SR)
    return path


def _run(env, *args) -> tuple[str, str, UserError | None]:
    """``beet ARGS`` in this process: (stdout, stderr, the UserError it ended with, if any)."""
    out, err = io.StringIO(), io.StringIO()
    error = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            env.run_command(*args)
        except UserError as raised:
            error = raised
    return out.getvalue(), err.getvalue(), error


def test_a_failed_file_is_remembered_shown_skipped_retried_and_forgotten_when_fixed(
    env, music, tmp_path
):
    _add(env, music)
    silent = _silent(tmp_path)
    (bad,) = _add(env, [silent])

    _, err, error = _run(env, "deejai", "embed")
    assert "3 embedded, 0 skipped, 1 failed" in err
    assert error is not None and "1 of the files tried could not be embedded" in str(error)

    out, err, error = _run(env, "deejai", "ls")
    assert error is None
    (line,) = [line for line in out.splitlines() if "silence" in line]
    assert line.endswith("[vectors: failed: silent (peak 0 < 0.0001)]")
    assert "1 failed" in err

    _, err, error = _run(env, "deejai", "embed")  # unchanged: not tried again, not an error
    assert error is None
    assert "0 embedded, 3 skipped, 0 failed, 1 failed before and unchanged" in err
    assert "--retry-failed" in err

    _, err, error = _run(env, "deejai", "embed", "--retry-failed")
    assert "0 embedded, 3 skipped, 1 failed" in err and error is not None

    _, err, error = _run(env, "deejai", "embed", "--force", f"id:{bad.id}")
    assert "0 embedded, 0 skipped, 1 failed" in err and error is not None

    shutil.copy(music[0], silent)  # fixed: a new mtime, and audio
    stat = os.stat(silent)
    os.utime(silent, (stat.st_atime, stat.st_mtime + 10))
    _, err, error = _run(env, "deejai", "embed")
    assert error is None and "1 embedded, 3 skipped, 0 failed" in err
    out, _, _ = _run(env, "deejai", "ls", f"id:{bad.id}")
    assert out.rstrip().endswith("[vectors: yes]")
    with env.lib.transaction() as tx:
        assert tx.query("SELECT COUNT(*) FROM deejai_failures")[0][0] == 0


def test_a_query_on_a_failed_item_says_why_it_has_no_vectors(env, music, tmp_path):
    _add(env, music)
    (bad,) = _add(env, [_silent(tmp_path)])
    _run(env, "deejai", "embed")
    _, _, error = _run(env, "deejai", "similar", f"id:{bad.id}")
    assert error is not None
    text = str(error)
    assert "could not be embedded (silent (peak 0 < 0.0001))" in text
    assert "--retry-failed" in text and "run `beet deejai embed`" not in text


def test_removing_a_failed_item_forgets_its_failure(env, music, tmp_path):
    _add(env, music[:1])
    (bad,) = _add(env, [_silent(tmp_path)])
    _run(env, "deejai", "embed")
    bad.remove()
    with env.lib.transaction() as tx:
        assert tx.query("SELECT COUNT(*) FROM deejai_failures")[0][0] == 0


def test_embed_exit_status_is_1_when_files_failed_as_beets_commands(env, music, tmp_path):
    """Real `beet` processes: status 1 and beets' "error:" line when a file failed in this
    run; 0 when the only failure is an unchanged file that failed before."""
    _add(env, music[:1])
    _add(env, [_silent(tmp_path)])
    env.write_config()
    first = env.beet("deejai", "embed")
    assert first.returncode == 1, first.stderr
    assert "error: deejai: 1 of the files tried could not be embedded" in first.stderr
    assert "Traceback" not in first.stderr
    again = env.beet("deejai", "embed")
    assert again.returncode == 0, again.stderr
    assert "1 failed before and unchanged" in again.stderr


def _redo_rows(db) -> int | None:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM deejai_redo").fetchone()[0]
        except sqlite3.OperationalError:
            return None


def test_ctrl_c_during_embed_force_is_finished_by_the_next_plain_embed(tmp_path):
    """A real `beet deejai embed --force`, sent SIGINT once it re-embedded some items: the next
    plain `beet deejai embed` re-embeds exactly the items the forced run had left."""
    env = DeejaiEnv()
    env.setup_beets()
    try:
        paths = make_music(tmp_path / "music", per_kind=4, seconds=4.0)
        _add(env, paths)
        env.write_config(commit_every=1, workers=1, batch_size=4)
        done = env.beet("deejai", "embed")
        assert done.returncode == 0, done.stderr
        db = env.config["library"].as_filename()

        def some_redone() -> bool:
            left = _redo_rows(db)
            return left is not None and 0 < left <= len(paths) - 2

        status, err, _ = interrupt_beet(
            env, ["deejai", "embed", "--force"], ready=some_redone, what="re-embedded nothing"
        )
        assert status != 0 and "run `beet deejai embed` to resume" in err, err
        left = _redo_rows(db)
        assert 0 < left < len(paths)
        done = env.beet("deejai", "embed")
        assert done.returncode == 0, done.stderr
        assert f"{left} embedded, {len(paths) - left} skipped, 0 failed" in done.stderr
        assert _redo_rows(db) == 0
    finally:
        env.teardown_beets()
