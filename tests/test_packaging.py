"""What the source distribution and the wheel carry, built from a copy of the tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

SKIP = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"
)


def _build(tmp_path: Path, kind: str) -> Path:
    """``kind`` ("sdist" or "wheel") of a copy of the tree, built by setuptools' PEP 517 hook."""
    source = Path(shutil.copytree(ROOT, tmp_path / "src", ignore=SKIP))
    out = tmp_path / "dist"
    code = f"from setuptools import build_meta as b; print(b.build_{kind}({str(out)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=source, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


def _tracked(folder: str) -> set[str]:
    return {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_sdist_carries_the_tests_with_their_fixtures(tmp_path):
    sdist = _build(tmp_path, "sdist")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for needed in ("tests/conftest.py", "tests/audio_fixtures.py", "tests/system_tools.py"):
        assert needed in names
    assert _tracked("tests") <= names  # every test module and fixture
    assert {"benchmarks/common.py", ".importlinter", "scripts/fetch_corpus.sh"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_wheel_carries_the_packages_and_their_data_only(tmp_path):
    wheel = _build(tmp_path, "wheel")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "deejai_model/ears/bundles/musicnn_fused/model.tflite" in names
    assert "deejai_model/ears/bundles/musicnn_fused/manifest.json" in names
    assert "beetsplug/deejai/web/static/app.js" in names
    assert "beetsplug/deejai/web/templates/index.html" in names
    assert "beetsplug/__init__.py" not in names  # a namespace package
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/"))]
    # each array once (manifest format 2): 14.7 MiB, where copies made it 25.3 MiB
    assert wheel.stat().st_size < 16 * 2**20, f"{wheel.stat().st_size / 2**20:.1f} MiB"
