"""CPU cost per slice of bundles' LiteRT networks, measured side by side in one run.

For each bundle (``mtt``, ``msd`` or a bundle path; each must ship ``model.tflite``): the
multiply-accumulates of one slice counted from the Keras network's convolution and dense
layers, and the CPU milliseconds per slice (``time.process_time``, after a warm-up call) of
:class:`deejai_model.ears.runtime.LiteRtRunner` with 1 thread at batch 1 and batch 8, on real mel
slices (the Embedder's front end over a few tracks of each labels file). The bundles are timed
in turns, ``--rounds`` times, and the median is reported, so that load from other processes
falls on all of them alike; the ratio is against the first bundle.

Usage, from the repository root::

    nice python -m benchmarks.network_cost \\
        --labels /work/corpus/dev/labels.tsv,/work/corpus/val/labels.tsv \\
        --bundles mtt,/tmp/vgg_mtt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import markdown_table, read_labels  # noqa: E402
from benchmarks.litert_int8 import cpu_ms_per_slice, mel_slices  # noqa: E402
from benchmarks.quality import bundle_dir, bundle_key  # noqa: E402

SETTINGS = ((1, 1), (1, 8))
"""(threads, batch) pairs timed."""


def macs_per_slice(model: str) -> float:
    """Multiply-accumulates of one slice through the Keras network's Conv and Dense layers."""
    import keras

    from deejai_model.ears.bundle import load_bundle

    network = load_bundle(bundle_dir(model), runtime="keras").model
    total = 0.0
    for layer in network.layers:
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv1D | keras.layers.Dense):
            out_positions = float(np.prod(layer.output.shape[1:-1]))
            total += out_positions * float(np.prod(layer.kernel.shape))
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", required=True, help="comma-separated labels files")
    parser.add_argument("--bundles", default="mtt", help="comma-separated: mtt, msd or paths")
    parser.add_argument("--tracks", type=int, default=4, help="tracks per labels file")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    paths: list[str] = []
    for labels_file in args.labels.split(","):
        tracks = read_labels(labels_file)
        order = np.random.default_rng(0).permutation(len(tracks))
        paths += [tracks[i].path for i in order[: args.tracks]]
    bundles = args.bundles.split(",")
    slices = mel_slices(paths, bundles[0])
    timings: dict[tuple[str, int, int], list[float]] = {}
    for _ in range(args.rounds):
        for model in bundles:
            network = bundle_dir(model) / "model.tflite"
            for threads, batch in SETTINGS:
                ms = cpu_ms_per_slice(network, slices, threads, batch)
                timings.setdefault((model, threads, batch), []).append(ms)
    median = {key: float(np.median(values)) for key, values in timings.items()}
    rows = []
    base = bundles[0]
    for model in bundles:
        row = [bundle_key(model), f"{macs_per_slice(model) / 1e9:.2f}"]
        for threads, batch in SETTINGS:
            ms = median[model, threads, batch]
            row += [f"{ms:.1f}", f"{ms / median[base, threads, batch]:.2f}"]
        row.append(f"{8 * median[model, 1, 8]:.0f}")
        rows.append(row)
    print(
        f"{len(slices)} mel slices of {len(paths)} tracks ({args.tracks} per labels file); "
        f"median of {args.rounds} rounds; ratios against {bundle_key(base)}.\n"
    )
    print(
        markdown_table(
            [
                "network",
                "GMAC/slice",
                "CPU ms/slice (1 thread, batch 1)",
                "ratio",
                "(1 thread, batch 8)",
                "ratio",
                "CPU ms/track (8 slices, batch 8)",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
