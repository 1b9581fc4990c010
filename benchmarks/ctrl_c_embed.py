"""Ctrl-C against ``beet deejai embed``: SIGINT at random moments, N real processes.

Each trial starts from the same freshly imported library (no vectors), runs
``beet deejai embed`` in a new process, sends SIGINT after a random delay (uniform over
``[0, --spread]`` seconds after start: loading, planning, decoding, inference, storing), and
records how the process ended:

- ``stopped``: it exited within ``--grace`` seconds of the signal (else it is killed);
- ``exit 0``: it exited 0 although it was interrupted before finishing every item;
- ``no line``: it stopped early without printing the ``interrupted`` line;
- ``traceback``: a Python traceback on stderr;
- ``torn rows``: rows whose blob does not hold ``n_slices * dim`` float32 values;
- ``finished``: the run embedded everything before the signal came (not an interruption).

``--decode N`` measures the cause in this process instead:
``deejai_model.ears.audio.decode_excerpts``
of a long file in the main thread (as ``beet deejai similar FILE`` embeds an outside file),
SIGINT from a timer after a random delay, N times; ``lost`` counts runs where no
``KeyboardInterrupt`` came out of 10 more decodes.

Run from the repository root::

    nice python -m benchmarks.ctrl_c_embed --trials 30 --files 12 --spread 12
    nice python -m benchmarks.ctrl_c_embed --decode 20
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks.common import markdown_table  # noqa: E402


def _library(folder: Path, files: int, seconds: float) -> tuple[Path, Path]:
    """Generated music imported (as-is) into a beets library: (BEETSDIR, database)."""
    from conftest import make_music

    make_music(folder / "music", per_kind=max(1, files // 4), seconds=seconds)
    beetsdir = folder / "beets"
    beetsdir.mkdir()
    db = beetsdir / "library.db"
    (beetsdir / "config.yaml").write_text(
        f"library: {db}\ndirectory: {folder / 'lib'}\nplugins: [deejai]\n"
        "deejai:\n  auto: no\n  commit_every: 1\n  workers: 1\n  batch_size: 4\n",
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "beets", "import", "-A", "-C", "-q", str(folder / "music")],
        env=_env(beetsdir),
        check=True,
        capture_output=True,
    )
    return beetsdir, db


def _env(beetsdir: Path) -> dict[str, str]:
    return dict(os.environ, BEETSDIR=str(beetsdir), PYTHONPATH=str(ROOT))


def _rows(db: Path) -> tuple[int, int]:
    """(rows, torn rows) of ``deejai_vectors``."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        try:
            rows = conn.execute("SELECT n_slices, dim, length(slices) FROM deejai_vectors")
            rows = rows.fetchall()
        except sqlite3.OperationalError:  # never created: interrupted before the first row
            return 0, 0
    return len(rows), sum(1 for n, d, size in rows if n * d * 4 != size)


def trial(beetsdir: Path, db: Path, *, delay: float, grace: float, items: int) -> dict:
    """One interrupted run on a copy of the fresh library."""
    work = Path(tempfile.mkdtemp(prefix="ctrlc-", dir=beetsdir.parent))
    try:
        shutil.copytree(beetsdir, work / "beets")
        config = work / "beets" / "config.yaml"
        config.write_text(
            config.read_text(encoding="utf-8").replace(str(db), str(work / "beets" / db.name)),
            encoding="utf-8",
        )
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "beets", "deejai", "embed"],
            env=_env(work / "beets"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        sent = time.monotonic()
        finished_before = process.poll() is not None
        if not finished_before:
            process.send_signal(signal.SIGINT)
        killed = False
        try:
            _, err = process.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            killed = True
            process.kill()
            _, err = process.communicate()
        stop = time.monotonic() - sent
        rows, torn = _rows(work / "beets" / db.name)
        return {
            "delay": delay,
            "finished": finished_before or (rows == items and process.returncode == 0),
            "stopped": not killed,
            "seconds": stop,
            "rc": process.returncode,
            "line": "interrupted" in err,
            "traceback": "Traceback" in err,
            "rows": rows,
            "torn": torn,
            "total": time.monotonic() - started,
            "last": err.strip().splitlines()[-1] if err.strip() else "",
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def decode_trials(n: int, spread: float, rng: random.Random) -> list[tuple[str, int]]:
    """SIGINT while the main thread decodes excerpts: how often it is raised, lost."""
    import threading
    import traceback

    from audio_fixtures import music, write_audio

    from deejai_model.ears import audio

    outcomes = {"raised between packets": 0, "raised elsewhere": 0, "lost": 0}
    with tempfile.TemporaryDirectory(prefix="ctrlc-decode-") as tmp:
        path = str(write_audio(Path(tmp) / "long.wav", music(240.0, 44100), 44100))
        starts = [float(s) for s in range(0, 230, 5)]
        audio.decode_excerpts(path, 16000, starts=starts, length=3.0)  # warm: imports, page cache
        for _ in range(n):
            timer = threading.Timer(rng.uniform(0.0, spread), signal.raise_signal, [signal.SIGINT])
            timer.start()
            try:
                for _ in range(10):
                    audio.decode_excerpts(path, 16000, starts=starts, length=3.0)
                timer.join()
                outcomes["lost"] += 1
            except KeyboardInterrupt as interrupt:
                where = traceback.extract_tb(interrupt.__traceback__)[-1].filename
                key = "between packets" if where.endswith("interrupt.py") else "elsewhere"
                outcomes["raised " + key] += 1
            finally:
                timer.cancel()
    return list(outcomes.items())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--files", type=int, default=12, help="library size (multiple of 4)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each file")
    parser.add_argument("--spread", type=float, default=12.0, help="latest SIGINT, s after start")
    parser.add_argument("--grace", type=float, default=30.0, help="s to wait before killing")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--decode", type=int, default=0, help="in-process decode trials instead")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    if args.decode:
        print(markdown_table(["outcome", "count"], decode_trials(args.decode, 0.5, rng)))
        return
    with tempfile.TemporaryDirectory(prefix="ctrlc-embed-") as tmp:
        beetsdir, db = _library(Path(tmp), args.files, args.seconds)
        items = 4 * max(1, args.files // 4)
        results = []
        for i in range(args.trials):
            r = trial(
                beetsdir, db, delay=rng.uniform(0.0, args.spread), grace=args.grace, items=items
            )
            results.append(r)
            print(
                f"{i + 1:3d} delay {r['delay']:5.2f}s rc {r['rc']} rows {r['rows']:2d} "
                f"stop {r['seconds']:5.2f}s line {r['line']} tb {r['traceback']} "
                f"torn {r['torn']} {'FINISHED' if r['finished'] else ''}"
                + ("" if r["line"] or r["finished"] else f" last: {r['last'][:100]}"),
                file=sys.stderr,
                flush=True,
            )
    hit = [r for r in results if not r["finished"]]
    stops = sorted(r["seconds"] for r in hit if r["stopped"])
    table = [
        ("trials", len(results)),
        ("finished before the signal", len(results) - len(hit)),
        ("interrupted", len(hit)),
        ("did not stop (killed after grace)", sum(not r["stopped"] for r in hit)),
        ("exit 0", sum(r["rc"] == 0 for r in hit)),
        ("no 'interrupted' line", sum(not r["line"] for r in hit)),
        ("traceback", sum(r["traceback"] for r in hit)),
        ("torn rows", sum(r["torn"] for r in hit)),
        ("median stop, s", f"{stops[len(stops) // 2]:.2f}" if stops else "-"),
        ("max stop, s", f"{stops[-1]:.2f}" if stops else "-"),
    ]
    print(markdown_table(["outcome", "count"], table))


if __name__ == "__main__":
    main()
