"""What the libsndfile fallback costs: a file FFmpeg refuses, read through
:mod:`deejai_model.ears.sndfile`, against the same audio FFmpeg reads (the floor).

usage: python -m benchmarks.sndfile_fallback [--minutes 1,3,10] [--repeat 3]

For each length, a stereo 44.1 kHz Ogg Vorbis of generated music (tests/audio_fixtures) and a
copy FFmpeg refuses (``refused_by_ffmpeg``: one byte more in the identification header) are
read with :mod:`deejai_model.ears.audio`, each way in its own process: the whole track
(``decode``) and the K=8 excerpts embedding reads (``decode_excerpts`` at
:func:`~deejai_model.ears.excerpts.excerpt_starts`). Prints a Markdown table of wall seconds
(best of ``--repeat``), the ratio to FFmpeg reading the intact file, and each process's peak
RSS (``VmHWM``). Run it with ``nice``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import markdown_table  # noqa: E402

RATE = 44100


def make_pair(folder: Path, minutes: float) -> tuple[Path, Path]:
    """``(intact.ogg, refused.ogg)`` of ``minutes`` of generated stereo music."""
    import soundfile as sf

    sys.path.insert(0, str(ROOT / "tests"))
    from audio_fixtures import music, refused_by_ffmpeg, stereo

    signal = music(60.0 * minutes, RATE)
    data = stereo(signal, signal[::-1].copy())
    intact = folder / f"intact-{minutes:g}.ogg"
    with sf.SoundFile(intact, "w", RATE, 2, format="OGG", subtype="VORBIS") as f:
        for start in range(0, len(data), RATE):  # one big write crashes libsndfile 1.2's Vorbis
            f.write(data[start : start + RATE])
    refused = folder / f"refused-{minutes:g}.ogg"
    refused.write_bytes(intact.read_bytes())
    refused_by_ffmpeg(refused)
    return intact, refused


def measure(path: str, way: str, repeat: int) -> dict:
    """In this process: best wall seconds of reading ``path`` one ``way``, and peak RSS."""
    from deejai_model.ears import audio
    from deejai_model.ears.excerpts import excerpt_starts
    from deejai_model.ears.frontend import MUSICNN

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        if way == "whole":
            audio.decode(path, MUSICNN.sample_rate)
        else:
            starts = excerpt_starts(MUSICNN, audio.probe_duration(path), 8)
            seconds = MUSICNN.slice_samples / MUSICNN.sample_rate
            audio.decode_excerpts(path, MUSICNN.sample_rate, starts=starts, length=seconds)
        best = min(best, time.perf_counter() - started)
    return {"seconds": best, "peak_bytes": peak_rss()}


def peak_rss() -> int:
    """This process's peak resident memory in bytes: ``VmHWM`` (``ru_maxrss`` would carry the
    parent's peak over ``exec`` on Linux), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def in_child(path: Path, way: str, repeat: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.sndfile_fallback"]
    done = subprocess.run(
        [*command, "--child", str(path), way, str(repeat)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--minutes", default="1,3,10", help="track lengths, comma-separated")
    args.add_argument("--repeat", type=int, default=3, help="runs per measure (best kept)")
    args.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    opts = args.parse_args(argv)
    if opts.child:
        path, way, repeat = opts.child
        print(json.dumps(measure(path, way, int(repeat))))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="deejai-sndfile-") as folder:
        for minutes in (float(m) for m in opts.minutes.split(",")):
            intact, refused = make_pair(Path(folder), minutes)
            for way in ("whole", "excerpts"):
                floor = in_child(intact, way, opts.repeat)
                fallback = in_child(refused, way, opts.repeat)
                rows.append(
                    [
                        f"{minutes:g}",
                        way,
                        f"{floor['seconds']:.2f}",
                        f"{fallback['seconds']:.2f}",
                        f"{fallback['seconds'] / floor['seconds']:.1f}x",
                        f"{floor['peak_bytes'] / 2**20:.0f}",
                        f"{fallback['peak_bytes'] / 2**20:.0f}",
                    ]
                )
    header = [
        "minutes",
        "read",
        "FFmpeg s",
        "fallback s",
        "ratio",
        "FFmpeg peak MiB",
        "fallback peak MiB",
    ]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
