"""The tree is ``ruff`` clean: lint rules and formatting (pyproject.toml's settings)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff() -> list[str]:
    """The ruff of this environment (installed by the ``test`` extra)."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    return [found]


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_tree_is_ruff_clean(args):
    done = subprocess.run(
        [*_ruff(), *args, str(ROOT)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    found = done.stdout + done.stderr
    assert done.returncode == 0, f"ruff {' '.join(args)} found problems:\n{found}"
