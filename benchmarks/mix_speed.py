"""What rendering a mix costs, beside only decoding the same inputs.

usage: python -m benchmarks.mix_speed [--labels LABELS.tsv] [--minutes 60]
                                      [--formats mp3,flac] [--crossfade 6] [--generated]

Takes tracks from the labelled corpus (round robin over its groups, so every game is heard)
until they add up to ``--minutes`` of audio (``--generated``: writes 4-minute generated
tracks instead), then runs each phase in a fresh Python process and reads that process's
peak RSS:

- ``imports``: numpy, PyAV and deejai_model.mix imported, nothing done (the memory floor);
- ``decode``: every input decoded to stereo float32 at 44.1 kHz with the mix's own decoder
  (:func:`deejai_model.mix.source.stereo_blocks`), blocks thrown away (the time floor);
- ``render FORMAT``: :func:`deejai_model.mix.render_mix` into a temporary file;
- with ``mp3`` among the formats, the MP3 encoder alone on the same audio (the ``wav`` mix,
  rendered for it): ``encode mp3 (PyAV)`` is the mix's own :class:`~deejai_model.mix.encode.
  Encoder` (PyAV's bundled LAME, blocks read with soundfile), ``encode mp3 (ffmpeg)`` is
  ``ffmpeg -i mix.wav -c:a libmp3lame -b:a 256k`` (the ``ffmpeg`` on ``PATH``: Debian's, with
  Debian's LAME), its CPU read from the child's rusage. Their ratio is what the encoder's
  build costs; ``render mp3`` less ``render wav`` is what the mix pays for its MP3.

Prints a markdown table: wall and CPU seconds, seconds per minute of output, the ratios to the
decode floor (wall and CPU: on a loaded machine the CPU ratio is the one to trust), peak RSS,
and the size the mix's PCM would have if it were held in memory. Run it with ``nice``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from itertools import zip_longest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DEFAULT_LABELS, loadavg, markdown_table, read_labels  # noqa: E402

RATE = 44100


def pick_inputs(labels: str, minutes: float) -> list[str]:
    """Corpus tracks, round robin over groups, until they last ``minutes``."""
    by_group: dict[str, list] = {}
    for track in read_labels(labels):
        by_group.setdefault(track.group, []).append(track)
    picked, total = [], 0.0
    for row in zip_longest(*by_group.values()):
        for track in row:
            if track is None or total >= minutes * 60:
                continue
            picked.append(track.path)
            total += track.seconds
    return picked


def generated_inputs(folder: str, minutes: float) -> list[str]:
    """4-minute generated tracks (tests/audio_fixtures.music), as FLAC, lasting ``minutes``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from audio_fixtures import music, stereo, write_audio

    paths = []
    for i in range(int(-(-minutes // 4))):
        signal = music(240.0, RATE, bpm=90 + 7 * i, seed=i)
        paths.append(str(write_audio(Path(folder) / f"g{i}.flac", stereo(signal), RATE)))
    return paths


def run_phase(phase: str, inputs: list[str], *, out: str, crossfade: float) -> dict:
    """In this process: do one phase and return its measurements."""
    import resource
    import time

    import numpy as np  # noqa: F401 - part of the floor

    from deejai_model.mix import MixOptions, MixTrack, render_mix
    from deejai_model.mix.source import stereo_blocks

    wall0, cpu0 = time.perf_counter(), time.process_time()
    seconds = 0.0
    if phase == "decode":
        for path in inputs:
            seconds += sum(block.shape[1] for block in stereo_blocks(path, RATE)) / RATE
    elif phase == "encode":
        import soundfile

        from deejai_model.mix.encode import Encoder

        (source,) = inputs
        encoder = Encoder(out, "mp3", sample_rate=RATE)
        for block in soundfile.blocks(source, blocksize=32768, dtype="float32", always_2d=True):
            encoder.write(block.T)
            seconds += block.shape[0] / RATE
        encoder.close()
    elif phase == "render":
        result = render_mix(
            [MixTrack(p) for p in inputs],
            out,
            options=MixOptions(sample_rate=RATE, crossfade=crossfade),
            on_error=lambda e: print(f"left out {e}", file=sys.stderr),
        )
        seconds = result.duration
    return {
        "wall": time.perf_counter() - wall0,
        "cpu": time.process_time() - cpu0,
        "seconds": seconds,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def measure(phase: str, inputs: list[str], *, out: str, crossfade: float) -> dict:
    """Run one phase in a fresh Python process; its JSON result."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(inputs, handle)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.mix_speed", "--phase", phase, "--inputs",
             handle.name, "--out", out, "--crossfade", str(crossfade)],
            cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        os.unlink(handle.name)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ffmpeg_encode(source: str, out: str) -> dict:
    """``ffmpeg -i source -c:a libmp3lame -b:a 256k out``: wall, CPU (the child's rusage)."""
    import resource
    import shutil
    import time

    if not shutil.which("ffmpeg"):
        return {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", source, "-c:a", "libmp3lame", "-b:a", "256k", out],
        check=True,
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    import soundfile

    seconds = soundfile.info(source).duration
    return {"wall": wall, "cpu": cpu, "seconds": seconds, "peak_rss": after.ru_maxrss * 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--formats", default="mp3,flac,wav")
    parser.add_argument("--crossfade", type=float, default=6.0)
    parser.add_argument("--generated", action="store_true")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        with open(args.inputs, encoding="utf-8") as handle:
            inputs = json.load(handle)
        print(json.dumps(run_phase(args.phase, inputs, out=args.out, crossfade=args.crossfade)))
        return

    with tempfile.TemporaryDirectory(prefix="mix-bench-") as work:
        if args.generated:
            inputs = generated_inputs(work, args.minutes)
            source = f"{len(inputs)} generated 4-min FLAC tracks"
        else:
            inputs = pick_inputs(args.labels, args.minutes)
            source = f"{len(inputs)} tracks of {args.labels}"
        print(f"inputs: {source}; load {loadavg()}", file=sys.stderr)
        runs = [("imports", measure("imports", inputs, out="", crossfade=args.crossfade))]
        runs.append(("decode", measure("decode", inputs, out="", crossfade=args.crossfade)))
        for ext in args.formats.split(","):
            out = os.path.join(work, f"mix.{ext}")
            runs.append(
                (f"render {ext}", measure("render", inputs, out=out, crossfade=args.crossfade))
            )
            size = os.path.getsize(out)
            runs[-1][1]["size"] = size
            if ext != "wav":
                os.unlink(out)
        wav = os.path.join(work, "mix.wav")
        if "mp3" in args.formats.split(",") and os.path.exists(wav):
            alone = os.path.join(work, "alone.mp3")
            runs.append(("encode mp3 (PyAV)", measure("encode", [wav], out=alone, crossfade=0)))
            runs[-1][1]["size"] = os.path.getsize(alone)
            cli = ffmpeg_encode(wav, alone)
            if cli:
                cli["size"] = os.path.getsize(alone)
                runs.append(("encode mp3 (ffmpeg)", cli))
        floor, floor_cpu = runs[1][1]["wall"], runs[1][1]["cpu"]
        rows = []
        for name, r in runs:
            minutes = r["seconds"] / 60 if name != "imports" else float("nan")
            rows.append(
                [
                    name,
                    f"{minutes:.1f}" if name != "imports" else "",
                    f"{r['wall']:.1f}",
                    f"{r['cpu']:.1f}",
                    f"{r['wall'] / minutes:.2f}" if name != "imports" else "",
                    f"{r['wall'] / floor:.2f}" if name != "imports" else "",
                    f"{r['cpu'] / floor_cpu:.2f}" if name != "imports" else "",
                    f"{r['peak_rss'] / 2**20:.0f}",
                    f"{r['size'] / 2**20:.0f}" if "size" in r else "",
                ]
            )
        pcm = runs[-1][1]["seconds"] * RATE * 2 * 4 / 2**20
        print(
            markdown_table(
                [
                    "phase",
                    "audio min",
                    "wall s",
                    "CPU s",
                    "wall s / min",
                    "x decode (wall)",
                    "x decode (CPU)",
                    "peak RSS MiB",
                    "file MiB",
                ],
                rows,
            )
        )
        named = dict(runs)
        if "encode mp3 (ffmpeg)" in named:
            pyav, cli = named["encode mp3 (PyAV)"], named["encode mp3 (ffmpeg)"]
            print(
                f"\nMP3 encoder alone, same audio: PyAV / ffmpeg = {pyav['cpu'] / cli['cpu']:.2f}x"
                f" CPU, {pyav['wall'] / cli['wall']:.2f}x wall"
            )
        if "render mp3" in named and "render wav" in named:
            extra = named["render mp3"]["cpu"] - named["render wav"]["cpu"]
            print(
                f"render mp3 - render wav: {extra:.1f} CPU s "
                f"({extra / named['render mp3']['cpu']:.0%} of the mp3 render)"
            )
        print(
            f"\ncrossfade {args.crossfade:g} s; the whole mix as float32 stereo PCM would be "
            f"{pcm:.0f} MiB; load after: {loadavg()}"
        )


if __name__ == "__main__":
    main()
