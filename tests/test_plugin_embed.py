"""`beet deejai embed` and the import stage with the real shipped model: resumable, Ctrl-C
safe, one log line per bad file, changed files embedded again."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from audio_fixtures import write_audio
from beets.library import Item
from beets.ui import UserError
from conftest import ROOT, SR, DeejaiEnv, make_music

pytestmark = pytest.mark.slow


def _add_files(env, paths) -> list[Item]:
    items = []
    for path in paths:
        item = Item.from_path(str(path))
        item.add(env.lib)
        items.append(item)
    return items


def _embed(env, *args) -> tuple[str, list[str]]:
    """Run ``beet deejai embed ARGS`` here: (summary line on stderr, plugin log lines)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        _, logs = env.run_output("deejai", "embed", *args)
    lines = err.getvalue().splitlines()
    summary = [line for line in lines if "embedded," in line]
    assert len(summary) == 1, err.getvalue()
    todo = int(summary[0].split()[1])  # "deejai: N embedded, ..." (none failed in these runs)
    if todo and summary[0].endswith(" 0 failed"):
        progress = [line for line in lines if " items/s, ETA " in line]
        assert progress and progress[-1].startswith(f"deejai: {todo}/{todo} items,")
    return summary[0], logs


def _rows(env) -> dict[int, bytes]:
    with env.lib.transaction() as tx:
        return {
            int(r[0]): bytes(r[1]) for r in tx.query("SELECT item_id, slices FROM deejai_vectors")
        }


@pytest.fixture(scope="module")
def small_music(tmp_path_factory):
    """Six 8-s files: two chords, two noise-burst tracks, two fast click tracks."""
    return make_music(
        tmp_path_factory.mktemp("small"),
        per_kind=2,
        seconds=8.0,
        kinds=["chord", "noise", "fastclicks"],
    )


def test_embed_resumes_where_it_stopped(env, small_music):
    items = _add_files(env, small_music)
    summary, _ = _embed(env, "album:chord")
    assert summary == "deejai: 2 embedded, 0 skipped, 0 failed"
    first = _rows(env)
    assert set(first) == {i.id for i in items if i.album == "chord"}

    summary, _ = _embed(env)
    assert summary == "deejai: 4 embedded, 2 skipped, 0 failed"
    rows = _rows(env)
    assert set(rows) == {i.id for i in items}
    assert all(rows[i] == first[i] for i in first)  # the first two were not redone

    summary, _ = _embed(env)
    assert summary == "deejai: 0 embedded, 6 skipped, 0 failed"


def test_a_bad_file_costs_one_log_line_and_the_others_embed(env, small_music, tmp_path, caplog):
    items = _add_files(env, small_music[:3])
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"fLaC" + os.urandom(3000))
    bad = Item(path=str(broken), title="broken", artist="nobody")
    bad.add(env.lib)
    err = io.StringIO()
    with (
        contextlib.redirect_stderr(err),
        pytest.raises(UserError, match="1 of the files tried could not be embedded"),
    ):  # exit status 1, as beets' own commands when a file failed
        env.run_command("deejai", "embed")
    logs = [r.getMessage() for r in caplog.records if r.name.startswith("beets")]
    assert "deejai: 3 embedded, 0 skipped, 1 failed" in err.getvalue().splitlines()
    about_bad = [line for line in logs if "broken.flac" in line]
    assert len(about_bad) == 1 and "\n" not in about_bad[0]
    assert set(_rows(env)) == {i.id for i in items}


def test_a_changed_file_is_embedded_again(env, small_music, tmp_path):
    copies = []
    for path in small_music[:3]:
        copies.append(tmp_path / path.name)
        shutil.copy(path, copies[-1])
    items = _add_files(env, copies)
    _embed(env)
    before = _rows(env)

    rng = np.random.default_rng(0)
    write_audio(copies[0], (0.3 * rng.standard_normal(SR * 8)).astype(np.float32), SR)
    stat = os.stat(copies[0])
    os.utime(copies[0], (stat.st_atime, stat.st_mtime + 10))
    summary, _ = _embed(env)
    assert summary == "deejai: 1 embedded, 2 skipped, 0 failed"
    after = _rows(env)
    assert after[items[0].id] != before[items[0].id]
    assert after[items[1].id] == before[items[1].id]

    summary, _ = _embed(env, "--force")
    assert summary == "deejai: 3 embedded, 0 skipped, 0 failed"


def test_import_goes_on_past_a_silent_file(env, small_music, tmp_path):
    folder = tmp_path / "import" / "album"
    folder.mkdir(parents=True)
    for path in small_music[:2]:
        shutil.copy(path, folder / path.name)
    write_audio(folder / "silence.flac", np.zeros(SR * 6, np.float32), SR)
    from beets.logging import getLogger

    records = []

    class Collect(__import__("logging").Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Collect()
    getLogger("beets").addHandler(handler)
    try:
        env.import_music(folder.parent)
    finally:
        getLogger("beets").removeHandler(handler)
    items = list(env.lib.items())
    assert len(items) == 3
    rows = _rows(env)
    assert len(rows) == 2
    silent = [i for i in items if i.id not in rows]
    assert len(silent) == 1 and os.fsdecode(silent[0].path).endswith(".flac")
    assert len([r for r in records if "cannot embed" in r]) == 1


#: Wrong ``deejai:`` values: one in the section every action reads, one in ``mix:``.
BAD_SETTINGS = "  mix:\n    crossfade: -1\n"


@pytest.mark.parametrize("auto", [False, True])
def test_a_wrong_setting_never_stops_beet_import(env, tmp_path, auto):
    """A real `beet import` process: with ``auto: no`` a wrong setting is not the import's
    concern (silent, as when the stage did not run); with ``auto: yes`` it is one warning
    line, and the import goes on."""
    make_music(tmp_path / "music", per_kind=1, seconds=4.0, kinds=["chord"])
    env.write_config(BAD_SETTINGS, auto=auto, max_slices=-1)
    done = env.beet("import", "-A", "-q", str(tmp_path / "music"))
    assert done.returncode == 0, done.stderr
    assert [item.title for item in env.lib.items()] == ["chord-1"]
    warnings = [line for line in done.stderr.splitlines() if "cannot embed on import" in line]
    if auto:
        assert len(warnings) == 1 and "deejai.max_slices must be >= 0" in warnings[0]
        assert "import goes on" in warnings[0]
    else:
        assert warnings == []


def _vector_rows(db) -> list[tuple[int, int, int]] | None:
    """``(n_slices, dim, blob bytes)`` of each stored row; None before the table exists."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        try:
            return conn.execute(
                "SELECT n_slices, dim, length(slices) FROM deejai_vectors"
            ).fetchall()
        except sqlite3.OperationalError:  # the command has not opened its store yet
            return None


def interrupt_beet(
    env, args: list[str], *, ready, then: float = 0.0, what: str = "nothing happened"
) -> tuple[int, str, float]:
    """Start ``beet ARGS`` in a fresh process on ``env``'s library, send it SIGINT ``then``
    seconds after ``ready()`` first holds; ``(exit status, stderr, seconds it took to stop)``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "beets", *args],
        env=dict(os.environ, BEETSDIR=str(env.temp_path), PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    while process.poll() is None and not ready():
        assert time.monotonic() - started < 120, f"the run {what}"
        time.sleep(0.02)
    time.sleep(then)
    assert process.poll() is None, f"the run ended before SIGINT ({args})"
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, err = process.communicate(timeout=60)
    return process.returncode, err, time.monotonic() - sent


#: When each interrupted run gets its SIGINT: once ``new`` more rows are stored (0: once the
#: command has opened its tables), ``then`` seconds later: planning, loading the model,
#: decoding, the network, a commit.
CTRL_C_MOMENTS = [(0, 0.0), (1, 0.0), (2, 0.07), (1, 0.15), (2, 0.3)]


def test_ctrl_c_at_any_moment_stops_keeps_whole_rows_and_the_next_run_resumes(tmp_path):
    """Five real `beet deejai embed` processes, each sent SIGINT at another moment: each stops
    within seconds with a non-zero status and the "interrupted" line, leaves only whole rows,
    and the next run resumes (Ctrl-C swallowed inside FFmpeg or by beets would exit 0)."""
    env = DeejaiEnv()
    env.setup_beets()
    try:
        paths = make_music(tmp_path / "music", per_kind=8, seconds=4.0)
        _add_files(env, paths)
        env.write_config(commit_every=1, workers=1, batch_size=4)
        db = env.config["library"].as_filename()
        stored = 0
        for new, then in CTRL_C_MOMENTS:

            def stored_enough(want=stored + new) -> bool:
                rows = _vector_rows(db)
                return rows is not None and len(rows) >= want

            status, err, stopped = interrupt_beet(
                env, ["deejai", "embed"], ready=stored_enough, then=then, what="stored nothing"
            )
            assert stopped < 10, (new, then)  # stops now, not at the end
            assert status != 0, (new, then, err)
            assert "interrupted" in err and "Traceback" not in err, (new, then, err)
            rows = _vector_rows(db) or []
            assert all(n * d * 4 == size for n, d, size in rows)  # whole rows only
            assert stored + new <= len(rows) < len(paths), (new, then)
            stored = len(rows)
        assert stored >= 6  # the "rows" moments each came after new rows

        done = env.beet("deejai", "embed")
        assert done.returncode == 0, done.stderr
        assert f"{len(paths) - stored} embedded, {stored} skipped, 0 failed" in done.stderr
    finally:
        env.teardown_beets()
