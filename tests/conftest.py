"""Shared fixtures of the plugin tests: generated music, and a real beets library on disk
with the deejai plugin loaded (``beets.test.helper``), usable for a whole module.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import A_MAJOR, chord, clicks, noise_bursts, write_audio
from beets.test.helper import ImportHelper, PluginMixin
from mediafile import MediaFile

ROOT = Path(__file__).resolve().parent.parent
SR = 22050

#: Kinds of generated music; ``make(i)`` gives the ``i``-th track (0-based) of the kind.
KINDS: dict[str, Callable[[int, float], np.ndarray]] = {
    "chord": lambda i, s: chord(s, SR, freqs=[f * 1.12**i for f in A_MAJOR]),
    "noise": lambda i, s: noise_bursts(s, SR, every=0.4 + 0.1 * i, burst=0.15, seed=i),
    "fastclicks": lambda i, s: clicks(s, SR, bpm=176 + 6 * i),
    "slowclicks": lambda i, s: clicks(s, SR, bpm=52 + 4 * i),
}


def kind_of(title: str) -> str:
    """The kind a generated track's title names (``"chord-2"`` -> ``"chord"``)."""
    return title.rsplit("-", 1)[0]


def make_music(
    folder: Path, per_kind: int = 3, seconds: float = 12.0, kinds=None, ext: str = "flac"
) -> list[Path]:
    """Write ``per_kind`` tagged files of each kind, one sub-folder (album) per kind.

    Tags: title ``<kind>-<n>``, artist and album ``<kind>``.
    """
    paths = []
    for kind in kinds or KINDS:
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_kind):
            path = write_audio(folder / kind / f"{kind}-{i + 1}.{ext}", KINDS[kind](i, seconds), SR)
            tags = MediaFile(path)
            tags.title, tags.artist, tags.album, tags.track = f"{kind}-{i + 1}", kind, kind, i + 1
            tags.save()
            paths.append(path)
    return paths


class DeejaiEnv(PluginMixin, ImportHelper):
    """A temporary beets library on disk with the deejai plugin, and ways to drive it."""

    plugin = "deejai"
    db_on_disk = True
    #: Plugin settings every :meth:`write_config` writes (a fixture may set them).
    default_settings: dict = {}

    def setup_beets(self) -> None:
        super().setup_beets()
        self.config["import"]["quiet"] = True

    def write_config(self, extra: str = "", **deejai) -> Path:
        """Write ``$BEETSDIR/config.yaml`` for ``beet`` subprocesses; returns its path.

        ``extra`` is appended as is (YAML), ``deejai`` are settings of the plugin.
        """
        lines = [
            f"library: {self.config['library'].as_filename()}",
            f"directory: {self.lib_path}",
            "plugins: [deejai]",
            "deejai:",
        ]
        settings = {"auto": False, **self.default_settings, **deejai}
        lines += [f"  {key}: {value}" for key, value in settings.items()]
        path = self.temp_path / "config.yaml"
        path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
        return path

    def import_music(self, folder: Path) -> None:
        """Import ``folder`` as-is (tags, no autotagger), copying into the library."""
        self.setup_importer(import_dir=folder, autotag=False, copy=True)
        self.importer.run()

    def run_output(self, *args: str) -> tuple[str, list[str]]:
        """Run ``beet ARGS`` in this process: ``(stdout, log lines of the plugin)``."""
        records: list[str] = []

        class Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append(record.getMessage())

        from beets.logging import getLogger

        logger = getLogger("beets")
        handler = Collect(level=logging.DEBUG)
        logger.addHandler(handler)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                self.run_command(*args)
        finally:
            logger.removeHandler(handler)
        return out.getvalue(), records

    def beet(
        self, *args: str, probe: bool = False, prelude: str = ""
    ) -> subprocess.CompletedProcess:
        """Run ``beet ARGS`` in a fresh Python (after :meth:`write_config`).

        With ``probe``, the process prints, after the command, a line
        ``HEAVY=<comma-separated heavy modules imported>``.  ``prelude`` is Python code run
        before beets starts (e.g. to patch what the command would block on).
        """
        script = textwrap.dedent(
            """
            import sys
            from beets.ui import main
            try:
                main(sys.argv[1:])
            finally:
                if PROBE:
                    heavy = {"tensorflow", "keras", "librosa", "av", "soundfile"}
                    found = sorted({m.split(".")[0] for m in sys.modules} & heavy)
                    print("HEAVY=" + ",".join(found))
            """
        ).replace("PROBE", str(probe))
        script = prelude + "\n" + script
        env = dict(os.environ, BEETSDIR=str(self.temp_path), HOME=str(self.temp_path))
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        return subprocess.run(
            [sys.executable, "-c", script, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(name="env")
def fresh_env() -> Iterator[DeejaiEnv]:
    """An empty library with the deejai plugin, made anew for each test that asks for ``env``."""
    env = DeejaiEnv()
    env.setup_beets()
    try:
        yield env
    finally:
        env.teardown_beets()


@pytest.fixture(scope="module")
def deejai_music(tmp_path_factory) -> list[Path]:
    """Twelve 12-s FLAC files: three each of chords, noise bursts, fast and slow clicks."""
    return make_music(tmp_path_factory.mktemp("music"))


@pytest.fixture(scope="module")
def deejai_library(deejai_music) -> Iterator[DeejaiEnv]:
    """A library into which :func:`deejai_music` was imported with ``auto: yes`` (so embedded
    on import, with the real shipped model).  Shared by a module: tests must not change it."""
    env = DeejaiEnv()
    env.setup_beets()
    # one artist per kind here, and the tests measure the ranking: no artist / album spacing, the
    # best pick every time (the spacing has its own tests: test_spacing.py, test_listen_back.py)
    env.default_settings = {"lists": "{artist_gap: 0, album_max: 0, vary: 1}"}
    env.config["deejai"]["lists"].set({"artist_gap": 0, "album_max": 0, "vary": 1})
    try:
        env.import_music(deejai_music[0].parent.parent)
        env.write_config()
        yield env
    finally:
        env.teardown_beets()
