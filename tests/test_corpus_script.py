"""The dev corpus can be built from the repository: the skipped corpus tests say how."""

from __future__ import annotations

import re
import subprocess

from conftest import ROOT
from corpus import FETCH, SKIP_REASON


def test_the_corpus_script_is_in_the_repository_and_the_skip_names_it():
    assert FETCH.is_file() and FETCH.resolve().is_relative_to(ROOT)
    assert f"`{FETCH.relative_to(ROOT).as_posix()}`" in SKIP_REASON and "\n" not in SKIP_REASON
    script = FETCH.read_text(encoding="utf-8")
    assert not re.search(r"\.\./|/work/|shared/", script)  # nothing outside the repository
    done = subprocess.run(["bash", "-n", str(FETCH)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_an_unknown_set_is_refused_before_anything_is_fetched(tmp_path):
    done = subprocess.run(
        ["bash", str(FETCH), "--set", "nope", str(tmp_path / "c")], capture_output=True, text=True
    )
    assert done.returncode == 2 and "unknown set 'nope'" in done.stderr
    assert not (tmp_path / "c").exists()
