"""Output paths and option values, through real `beet` processes: each mistake is one clear
`error:` line and exit status 1 (never a traceback, never a silent empty result), and missing
folders of an output file are created for the playlist commands and `mix` alike."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _one_error(done, *expected: str) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def _unwritable(tmp_path: Path) -> Path:
    """A folder no file can be written into, whoever runs the tests (root ignores modes)."""
    if os.geteuid() == 0:
        return Path("/sys")  # sysfs refuses new files even to root
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("action", ["similar", "playlist"])
def test_output_naming_a_folder_is_one_error_line(deejai_library, tmp_path, action):
    done = deejai_library.beet("deejai", action, "title:chord-1", "-o", str(tmp_path))
    _one_error(done, f"deejai {action}: cannot write {tmp_path}", "is a folder")
    assert "chord" not in done.stdout  # refused before anything was printed


def test_output_under_a_file_is_one_error_line(deejai_library, tmp_path):
    plain = tmp_path / "notes.txt"
    plain.write_text("x")
    done = deejai_library.beet("deejai", "similar", "title:chord-1", "-o", str(plain / "a.m3u"))
    _one_error(done, f"{plain} is a file, not a folder")


def test_output_in_an_unwritable_place_is_one_error_line(deejai_library, tmp_path):
    target = _unwritable(tmp_path) / "deejai-test.m3u"
    done = deejai_library.beet("deejai", "similar", "title:chord-1", "-o", str(target))
    _one_error(done, f"cannot write {target}")
    assert not target.exists()


def test_mix_output_in_an_unwritable_place_is_one_error_line(deejai_library, tmp_path):
    target = _unwritable(tmp_path) / "deejai-test.wav"
    done = deejai_library.beet("deejai", "mix", "title:chord-1", "title:chord-2", "-o", str(target))
    _one_error(done, f"deejai mix: cannot write {target}")


def test_missing_folders_are_created_for_playlists_and_mixes_alike(deejai_library, tmp_path):
    m3u = tmp_path / "new" / "deeper" / "list.m3u"
    done = deejai_library.beet("deejai", "similar", "title:chord-1", "-n", "2", "-o", str(m3u))
    assert done.returncode == 0, done.stderr
    assert m3u.read_text(encoding="utf-8").startswith("#EXTM3U\n")
    mix = tmp_path / "mixes" / "today" / "mix.wav"
    done = deejai_library.beet("deejai", "mix", "title:chord-1", "title:chord-2", "-o", str(mix))
    assert done.returncode == 0, done.stderr
    assert mix.stat().st_size > 0


def test_relative_to_that_is_no_folder_is_one_error_line(deejai_library, tmp_path):
    m3u = tmp_path / "list.m3u"
    done = deejai_library.beet(
        "deejai", "similar", "title:chord-1", "-o", str(m3u), "--relative-to", "absolut"
    )
    _one_error(done, "--relative-to 'absolut' is not playlist, library, absolute")
    assert not m3u.exists()
    done = deejai_library.beet(
        "deejai", "similar", "title:chord-1", "-o", str(m3u), "--relative-to", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (["similar", "title:chord-1", "-n", "-3"], "deejai similar: -n must be >= 0, not -3"),
        (["journey", "title:chord-1", "title:chord-2", "-n", "-1"], "-n must be >= 0, not -1"),
        (["playlist", "title:chord-1", "--noise", "-1"], "--noise must be >= 0, not -1"),
        (["playlist", "title:chord-1", "--lookback", "-2"], "--lookback must be >= 0, not -2"),
        (
            ["mix", "title:chord-1", "title:chord-2", "--between", "-2", "--dry-run"],
            "deejai mix: --between must be >= 0, not -2",
        ),
    ],
)
def test_negative_counts_are_one_error_line_quoting_only_what_was_typed(
    deejai_library, args, expected
):
    done = deejai_library.beet("deejai", *args)
    error = _one_error(done, expected)
    if "--noise" in args:
        assert "lookback" not in error
