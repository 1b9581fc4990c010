"""Debian programs the browser and radio tests drive (Chromium, chromedriver, MPD).

In CI (``CI=true``) a missing program is installed with ``apt-get`` (as ``tests/corpus.py``
builds the corpus there); elsewhere, or where installing is impossible, the tests that need it
are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from functools import cache

#: Debian package of each program.
PACKAGES = {"chromium": "chromium", "chromedriver": "chromium-driver", "mpd": "mpd"}


@cache
def _apt_install(packages: tuple[str, ...]) -> str:
    """Install Debian packages; returns '' or why it failed."""
    if os.geteuid() != 0 and not shutil.which("sudo"):
        return "not root and no sudo"
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        done = subprocess.run(
            prefix + command, capture_output=True, text=True, env=env, timeout=900
        )
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}"
    return ""


def require(*programs: str) -> dict[str, str]:
    """Paths of ``programs``, installing them in CI; skips the test when they cannot be had."""
    import pytest

    missing = [p for p in programs if shutil.which(p) is None]
    if missing and os.environ.get("CI") == "true" and shutil.which("apt-get"):
        why = _apt_install(tuple(PACKAGES[p] for p in missing))
        if why:
            pytest.skip(f"cannot install {', '.join(missing)}: {why}")
        missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        packages = " ".join(PACKAGES[p] for p in missing)
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install {packages}; CI does it)")
    return {p: shutil.which(p) for p in programs}


def free_port() -> int:
    """A TCP port free on the loopback address right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> bool:
    """Whether something listens on ``127.0.0.1:port`` within ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def until(check: Callable[[], object], timeout: float, what: str, detail=None):
    """Poll ``check`` every 0.1 s until it returns something true (returned); fail the test
    after ``timeout`` seconds, saying ``what`` was awaited (and ``detail()``, if given)."""
    import time

    import pytest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}" + (f" ({detail()})" if detail else ""))
