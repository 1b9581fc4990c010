"""Where one track's embedding CPU goes: probe + excerpt decoding, mel front end, network.

Runs the Embedder's own steps one at a time on each track (single process, the shipped bundle
on its default runtime) and sums CPU seconds (``time.process_time``) per step, so the split is
measured, not guessed. Prints a Markdown table.

Usage, from the repository root::

    nice python -m benchmarks.embed_profile --limit 26
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import DEFAULT_LABELS, bundle_dir, markdown_table, read_labels  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--model", default="default", help="short name (benchmarks.common.MODELS) or path"
    )
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args(argv)
    from deejai_model.ears.audio import AudioFile
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder
    from deejai_model.ears.excerpts import heard_excerpts, plan_excerpts

    tracks = read_labels(args.labels, args.limit)
    bundle = load_bundle(bundle_dir(args.model))
    embedder = Embedder(bundle, max_slices=args.k, workers=1)
    fe = embedder.frontend
    bundle.embed(np.zeros((1, *bundle_input_shape(fe)), np.float32))  # warm-up, not counted
    cpu = {"probe + decode excerpts": 0.0, "mel front end": 0.0, "network": 0.0}
    slices = 0
    for track in tracks:
        t0 = time.process_time()
        with AudioFile(track.path) as source:
            starts, excerpts, duration = plan_excerpts(
                source, fe, duration=source.duration(), max_slices=args.k
            )
        t1 = time.process_time()
        keep, _ = heard_excerpts(fe, excerpts)
        batch, _ = fe.batch_from_excerpts([excerpts[i] for i in keep], duration=duration)
        t2 = time.process_time()
        bundle.embed(batch)
        t3 = time.process_time()
        cpu["probe + decode excerpts"] += t1 - t0
        cpu["mel front end"] += t2 - t1
        cpu["network"] += t3 - t2
        slices += len(batch)
    total = sum(cpu.values())
    rows = [
        [step, f"{seconds / len(tracks):.3f}", f"{100 * seconds / total:.0f}%"]
        for step, seconds in cpu.items()
    ]
    rows.append(["total", f"{total / len(tracks):.3f}", "100%"])
    print(
        f"{len(tracks)} tracks of {args.labels}, {slices} slices "
        f"({1000 * cpu['network'] / slices:.1f} CPU ms per slice in the network).\n"
    )
    print(markdown_table(["step", "CPU s/track", "share"], rows))
    return 0


def bundle_input_shape(frontend) -> tuple[int, int]:
    """(frames, bands) of one network input slice."""
    return frontend.slice_frames, frontend.n_mels


if __name__ == "__main__":
    sys.exit(main())
