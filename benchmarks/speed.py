"""Speed and memory of each system on the same files, each in its own process.

Systems: the decode floor (PyAV whole-file decode to 22.05 kHz mono; and ours' K-excerpt decode
alone), bliss, Musly (timbre, whole files), ours (``Embedder`` end to end on the shipped
bundle's default runtime, LiteRT, then the shipped pooler with its defaults), ``ours-keras``
(the same on Keras/TensorFlow), ``ours@<bundle dir>`` (``ours`` on another bundle),
and ``beet-embed`` / ``beet-embed@<bundle>`` (``beet deejai embed`` itself, in-process, on a fresh
library of the same files imported in place without auto-embedding; afterwards the first and
second ``beet deejai similar`` in fresh processes: the first query after an import builds the
index).
For ours, runtime start-up (TensorFlow import or LiteRT load), model load and the first call are
measured on their own and left out of the per-track cost; for ``beet-embed`` the untimed set-up is
the ``beet import``.

Usage, from the repository root (on an idle machine: other load distorts every number)::

    nice python -m benchmarks.speed [--labels LABELS.tsv] [--limit 30] [--k 16,0]

Each system runs in a fresh subprocess (``python -m benchmarks.speed --worker ...``), which
reports wall time, CPU time (its own and that of reaped children, e.g. Musly's ffmpeg), and the
peak of the summed RSS of its process tree, sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file (python benchmarks/x.py): import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    DEFAULT_LABELS,
    Stopwatch,
    TreeMemorySampler,
    beet,
    loadavg,
    markdown_table,
    max_rss_bytes,
    read_labels,
)

# --------------------------------------------------------------------------- worker side


def _beet_library(paths: list[str], k: int, model: str = "") -> Path:
    """A fresh beets library (BEETSDIR) of ``paths`` as singletons imported in place
    (``model``: the ``deejai.model`` setting, a bundle directory or shipped name)."""
    home = Path(tempfile.mkdtemp(prefix="deejai-speed-"))
    music = home / "music"
    music.mkdir()
    for i, path in enumerate(paths):  # one folder: symlinks with unique names
        (music / f"{i:05d}{Path(path).suffix}").symlink_to(path)
    (home / "config.yaml").write_text(
        f"directory: {home / 'library'}\nlibrary: {home / 'library.db'}\n"
        f"plugins: deejai\ndeejai:\n  auto: no\n  max_slices: {k}\n"
        + (f"  model: {model}\n" if model else "")
        + "import:\n  copy: no\n  write: no\n  autotag: no\n  quiet: yes\n  singletons: yes\n",
        encoding="utf-8",
    )
    beet(home, "import", str(music))
    return home


def _setup(system: str, k: int, paths: Sequence[str] = ()):
    """Import and load what ``system`` needs; return a function ``paths -> failures``."""
    if system == "decode":
        from benchmarks.peers import decode_pyav

        def run(paths: list[str]) -> int:
            failed = 0
            for p in paths:
                try:
                    decode_pyav(p, 22050)
                except Exception:  # noqa: BLE001 - counted
                    failed += 1
            return failed

        return run
    if system == "excerpts":
        from deejai_model.ears import audio
        from deejai_model.ears.excerpts import excerpt_starts
        from deejai_model.ears.frontend import FrontEnd
        from deejai_model.ears.manifest import read_manifest
        from deejai_model.ears.shipped import default_bundle_path

        fe = FrontEnd.from_manifest(read_manifest(default_bundle_path()).frontend)

        def run(paths: list[str]) -> int:
            failed = 0
            for p in paths:
                try:
                    starts = excerpt_starts(fe, audio.probe_duration(p), k)
                    audio.decode_excerpts(p, fe.sample_rate, starts=starts, length=fe.slice_seconds)
                except Exception:  # noqa: BLE001 - counted
                    failed += 1
            return failed

        return run
    if system == "bliss":
        from bliss_audio import Song

        def run(paths: list[str]) -> int:
            failed = 0
            for p in paths:
                try:
                    Song(p).analysis  # noqa: B018 - the analysis is the work measured
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException:  # noqa: B036 - bliss panics are BaseExceptions
                    failed += 1
            return failed

        return run
    if system == "musly":
        from benchmarks.peers import musly_analyse, musly_distances, musly_jukebox

        def run(paths: list[str]) -> int:
            jukebox = musly_jukebox("timbre")
            models = []
            for p in paths:
                try:
                    models.append(musly_analyse(jukebox, p))
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException:  # noqa: B036
                    models.append(None)
            musly_distances(jukebox, models)
            return sum(m is None for m in models)

        return run
    if system == "beet-embed" or system.startswith("beet-embed@"):
        # beet-embed@<bundle>: with deejai.model set to that bundle
        home = _beet_library(list(paths), k, system.partition("@")[2])
        os.environ["BEETSDIR"] = str(home)
        from beets.ui import main as beet_main

        def run(paths: list[str]) -> int:
            try:
                beet_main(["deejai", "embed"])
            except SystemExit as stop:  # exit 1: some files failed (counted, as for the others)
                if stop.code != 1:
                    raise
            with sqlite3.connect(home / "library.db") as db:
                return db.execute("SELECT COUNT(*) FROM deejai_failures").fetchone()[0]

        def after() -> dict:
            with sqlite3.connect(home / "library.db") as db:  # seeds that have vectors
                rows = db.execute("SELECT DISTINCT item_id FROM deejai_vectors ORDER BY 1 LIMIT 2")
                first, second = (f"id:{item_id}" for (item_id,) in rows.fetchall())
            return {
                "first_query": beet(home, "deejai", "similar", first, "-n", "5")[0],
                "second_query": beet(home, "deejai", "similar", second, "-n", "5")[0],
                "ls_query": beet(home, "ls", first)[0],
            }

        run.after = after
        return run
    if system in ("ours", "ours-keras") or system.startswith("ours@"):
        import numpy as np

        from deejai_model.ears.bundle import load_bundle
        from deejai_model.ears.embed import Embedder
        from deejai_model.ears.shipped import default_bundle_path
        from deejai_model.vectors.pooling import Pooler

        runtime = "keras" if system == "ours-keras" else "auto"
        # ours@<bundle dir>: the same on another bundle (its default runtime)
        where = Path(system[len("ours@") :]) if "@" in system else default_bundle_path()
        bundle = load_bundle(where, runtime=runtime)
        bundle.embed(np.zeros((1, *bundle.input_shape), np.float32))  # trace / first call
        embedder = Embedder(bundle, max_slices=k, workers=2)
        # the front end's first call (numpy FFT set-up, filterbank): start-up, not per track
        embedder.frontend.batch_from_excerpts([np.zeros(embedder.frontend.slice_samples)])

        def run(paths: list[str]) -> int:
            bags = []
            failed = 0
            for _, result in embedder.embed_paths(paths):
                if isinstance(result, Exception):
                    failed += 1
                else:
                    bags.append(result.vectors)
            Pooler(parts=bundle.manifest.parts).fit_transform(bags)  # the plugin's default
            return failed

        return run
    raise ValueError(f"unknown system {system!r}")


def worker(system: str, paths: list[str], k: int) -> dict:
    """Measure one system in this process; returns the figures as a dict."""
    with TreeMemorySampler(0.1) as sampler:
        watch = Stopwatch()
        run = _setup(system, k, paths)
        setup_wall, setup_cpu = watch.read()
        setup_rss = sampler.peak_bytes
        watch.reset()
        failed = run(paths)
        wall, cpu = watch.read()
    extra = run.after() if hasattr(run, "after") else {}
    return {
        **extra,
        "system": system,
        "k": k,
        "tracks": len(paths),
        "failed": failed,
        "setup_wall": setup_wall,
        "setup_cpu": setup_cpu,
        "setup_rss": setup_rss,
        "wall": wall,
        "cpu": cpu,
        "peak_tree_rss": sampler.peak_bytes,
        "maxrss_self": max_rss_bytes(),
    }


# --------------------------------------------------------------------------- parent side


def run_worker(system: str, paths_file: str, *, k: int = 16, nice: int = 0) -> dict:
    """Run one system in a fresh ``python -m benchmarks.speed --worker`` process."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.speed",
        "--worker",
        system,
        "--paths-file",
        paths_file,
        "--k",
        str(k),
    ]
    if nice:
        command = ["nice", "-n", str(nice)] + command
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{system} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; prints Markdown on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS)
    parser.add_argument(
        "--limit", type=int, default=None, help="only N tracks, taken round-robin over the groups"
    )
    parser.add_argument("--k", default="8", help="ours: slices per track, comma list (0 = all)")
    parser.add_argument(
        "--systems", default="decode,excerpts,bliss,musly,ours,ours-keras,beet-embed"
    )
    parser.add_argument("--nice", type=int, default=0, help="run workers under nice -n N")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--paths-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        with open(args.paths_file, encoding="utf-8") as handle:
            paths = [line.rstrip("\n") for line in handle if line.strip()]
        print(json.dumps(worker(args.worker, paths, int(args.k.split(",")[0]))))
        return 0

    tracks = read_labels(args.labels, args.limit)
    audio_minutes = sum(t.seconds for t in tracks) / 60.0
    load_before = loadavg()
    runs: list[dict] = []
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(t.path for t in tracks) + "\n")
        paths_file = handle.name
    try:
        for system in args.systems.split(","):
            ks = [int(x) for x in args.k.split(",")]
            if system == "excerpts":
                ks = [k for k in ks if k > 0]  # K=all is the whole-file decode above
            per_k = ("ours", "ours-keras", "beet-embed", "excerpts")
            for k in ks if system in per_k or system.startswith(("ours@", "beet-embed@")) else [0]:
                print(
                    f"[{time.strftime('%H:%M:%S')}] {system} K={k} ...", file=sys.stderr, flush=True
                )
                runs.append(run_worker(system, paths_file, k=k, nice=args.nice))
    finally:
        os.unlink(paths_file)
    load_after = loadavg()

    def label(r: dict) -> str:
        if r["system"].startswith("beet-embed@"):
            return (
                f"ours: `beet deejai embed` (max_slices {r['k'] or 'all'}, model "
                f"{r['system'].partition('@')[2]}), in-process"
            )
        if r["system"].startswith("ours@"):
            return (
                f"ours: Embedder K={r['k'] or 'all'} on {r['system'][len('ours@') :]}, "
                "its default runtime, workers=2, + the shipped pooling"
            )
        return {
            "decode": "decode floor: PyAV whole file, 22.05 kHz mono",
            "excerpts": f"decode floor: ours' K={r['k'] or 'all'} excerpts (PyAV seek)",
            "bliss": "bliss-audio Song(path).analysis",
            "musly": "Musly timbre, whole file (+ style, similarity)",
            "ours": f"ours: Embedder K={r['k'] or 'all'}, LiteRT, workers=2, + the shipped pooling",
            "ours-keras": f"ours: Embedder K={r['k'] or 'all'}, Keras/TensorFlow, workers=2, "
            "+ the shipped pooling",
            "beet-embed": f"ours: `beet deejai embed` (max_slices {r['k'] or 'all'}), in-process",
        }[r["system"]]

    per_track = {id(r): r["wall"] / max(r["tracks"], 1) for r in runs}
    floor = next((per_track[id(r)] for r in runs if r["system"] == "decode"), None)
    bliss = next((per_track[id(r)] for r in runs if r["system"] == "bliss"), None)
    # CPU seconds per track: on a shared machine the fairer comparison (wall time there
    # measures the scheduler as much as the system).
    cpu_track = {id(r): r["cpu"] / max(r["tracks"], 1) for r in runs}
    bliss_cpu = [cpu_track[id(r)] for r in runs if r["system"] == "bliss"]
    bliss_cpu_mean = sum(bliss_cpu) / len(bliss_cpu) if bliss_cpu else None
    rows = []
    for r in runs:
        s = per_track[id(r)]
        rows.append(
            [
                label(r),
                f"{s:.3f}",
                f"{r['wall'] / audio_minutes:.3f}",
                f"{s / floor:.2f}" if floor else "-",
                f"{s / bliss:.2f}" if bliss else "-",
                f"{cpu_track[id(r)]:.3f}",
                f"{cpu_track[id(r)] / bliss_cpu_mean:.2f}" if bliss_cpu_mean else "-",
                f"{r['cpu'] / r['wall']:.2f}" if r["wall"] > 0 else "-",
                f"{r['peak_tree_rss'] / 2**20:.0f}",
                f"{r['maxrss_self'] / 2**20:.0f}",
                r["failed"],
            ]
        )
    out = [
        f"{len(tracks)} tracks, {audio_minutes:.1f} min of audio; machine: {os.cpu_count()} "
        f"cores; load average before {load_before}, after {load_after}.\n",
        markdown_table(
            [
                "system",
                "s/track",
                "s per audio min",
                "x decode floor",
                "x bliss",
                "CPU s/track",
                "x bliss CPU (mean of bliss runs)",
                "cores used",
                "peak RSS MiB (process tree)",
                "peak RSS MiB (worker alone)",
                "failed",
            ],
            rows,
        ),
    ]
    for r in runs:
        if r["system"] in ("ours", "ours-keras"):
            what = "LiteRT" if r["system"] == "ours" else "import TensorFlow, build Keras, trace"
            what += ", first mel spectrogram"
            out.append(
                f"\n{label(r)}: start-up ({what}, load bundle, first call): "
                f"{r['setup_wall']:.2f} s wall, {r['setup_cpu']:.2f} s CPU, "
                f"{r['setup_rss'] / 2**20:.0f} MiB RSS; not in the per-track figures."
            )
        if r["system"].startswith("beet-embed"):
            out.append(
                f"\nAfter `beet deejai embed` of {r['tracks']} tracks: first `beet deejai similar`"
                f" (builds the index) {r['first_query']:.2f} s, second {r['second_query']:.2f} s, "
                f"`beet ls id:1` {r['ls_query']:.2f} s (fresh processes)."
            )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
