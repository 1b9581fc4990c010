"""What decoding alone costs: whole-file decode vs K excerpts found by seeking.

usage: python -m benchmarks.decode_floor [--labels LABELS.tsv] [--limit N]
                                      [--workers 1,2] [--repeat 1] [--rate 16000]

Decodes the tracks listed in ``labels.tsv`` (default: the corpus of ``$DEEJAI_CORPUS``; a
spread of ``--limit`` of them, every group represented) to mono float32 at ``--rate`` with
:mod:`deejai_model.ears.audio`, either whole (:func:`decode`) or as K musicnn-sized excerpts
(:func:`decode_excerpts` with :func:`excerpt_starts`), in 1 and 2 worker processes,
and prints a markdown table of wall seconds per track and per minute of audio (best of
``--repeat`` runs). Run it with ``nice``: it keeps every core it is given busy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DEFAULT_LABELS, read_labels  # noqa: E402
from deejai_model.ears import audio  # noqa: E402
from deejai_model.ears.excerpts import excerpt_starts  # noqa: E402
from deejai_model.ears.frontend import MUSICNN  # noqa: E402
from deejai_model.errors import AudioError  # noqa: E402


def plain_pyav(path: str, rate: int) -> None:
    """Reference: the plainest PyAV decode + resample (no placement, no checks)."""
    import av

    with av.open(path) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate, frame_size=16000)
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:  # a corrupt packet: skip it, as audio.decode does
                continue
            for frame in frames:
                resampler.resample(frame)
        resampler.resample(None)


def job(args: tuple[str, str, int, int]) -> tuple[float, str | None]:
    """Decode one track one way; return (seconds of audio, error or None)."""
    path, way, k, rate = args
    try:
        duration = audio.probe_duration(path)
        if way == "whole":
            audio.decode(path, rate)
        elif way == "plain":
            plain_pyav(path, rate)
        else:
            fe = MUSICNN
            starts = excerpt_starts(fe, duration, k)
            audio.decode_excerpts(path, rate, starts=starts, length=fe.slice_seconds)
        return duration, None
    except AudioError as exc:
        return 0.0, str(exc)


def run(paths: list[str], way: str, *, k: int, rate: int, workers: int) -> tuple[float, float, int]:
    """Return (wall seconds, seconds of audio, errors) for one pass over ``paths``."""
    jobs = [(p, way, k, rate) for p in paths]
    t0 = time.perf_counter()
    if workers == 1:
        results = [job(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(job, jobs, chunksize=1))
    wall = time.perf_counter() - t0
    return wall, sum(r[0] for r in results), sum(1 for r in results if r[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=Path, default=Path(DEFAULT_LABELS))
    parser.add_argument("--limit", type=int, default=40, help="tracks (0: all)")
    parser.add_argument("--workers", default="1,2", help="comma-separated process counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the best counts")
    parser.add_argument("--no-reference", action="store_true", help="skip the plain PyAV row")
    parser.add_argument("--rate", type=int, default=16000, help="output sample rate, Hz")
    opts = parser.parse_args(argv)
    if not opts.labels.exists():
        print(f"{opts.labels}: no such labels file (build the corpus first)", file=sys.stderr)
        return 2
    paths = [t.path for t in read_labels(opts.labels, opts.limit or None)]
    workers = [int(w) for w in opts.workers.split(",")]
    ways = [
        ("plain PyAV, whole file (reference)", "plain", 0),
        ("audio.decode, whole file", "whole", 0),
        ("audio.decode_excerpts, K=8", "excerpts", 8),
        ("audio.decode_excerpts, K=16", "excerpts", 16),
    ]
    if opts.no_reference:
        ways = ways[1:]
    fe = MUSICNN
    print(
        f"{len(paths)} tracks from {opts.labels}, decode to {opts.rate} Hz mono float32, "
        f"excerpts of {fe.slice_seconds:.3f} s, {os.cpu_count()} CPUs, best of {opts.repeat}"
    )
    header = "| way | " + " | ".join(
        f"{w} worker{'s' * (w > 1)}: s/track | s/audio-min" for w in workers
    )
    print()
    print(header + " |")
    print("|---|" + "---|---|" * len(workers))
    for label, way, k in ways:
        cells = []
        for w in workers:
            best = None
            for _ in range(max(1, opts.repeat)):
                wall, seconds, errors = run(paths, way, k=k, rate=opts.rate, workers=w)
                best = wall if best is None else min(best, wall)
            minutes = max(seconds / 60.0, 1e-9)
            cells.append(f"{best / len(paths):.3f} | {best / minutes:.4f}")
        note = f" ({errors} errors)" if errors else ""
        print(f"| {label}{note} | " + " | ".join(cells) + " |", flush=True)
    print(f"\naudio: {seconds / 60:.1f} min in {len(paths)} tracks")
    if hasattr(os, "getloadavg"):
        print("load average at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
