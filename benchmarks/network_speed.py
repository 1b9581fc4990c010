"""The network's cost per slice: musicnn in full against the shipped runtime without dead filters.

For each shipped musicnn bundle, the full network (every filter, exported here with the same
exporter to a temporary ``.tflite``) and the shipped ``model.tflite`` (dead front-end filters
removed, :mod:`deejai_model.networks.musicnn_prune`) run the same real mel slices (K per track,
through the Embedder's own front end). Reported: live front-end filters, multiply-adds per
slice (counted from the layer shapes), the largest difference from the full Keras network, and
CPU milliseconds per slice (``time.process_time``, LiteRtRunner, after a warm-up call; the
lowest of ``--repeats`` interleaved runs, so that a busy machine's drift hits both alike).

Usage, from the repository root (needs TensorFlow for the full network's export)::

    nice python -m benchmarks.network_speed --labels /work/corpus/val/labels.tsv --tracks 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file (python benchmarks/x.py): import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import markdown_table, read_labels  # noqa: E402
from benchmarks.litert_int8 import cpu_ms_per_slice, mel_slices  # noqa: E402
from benchmarks.quality import bundle_dir  # noqa: E402


def multiply_adds(weights: dict, dead: dict, frames: int = 187, mels: int = 96) -> float:
    """Multiply-adds of one musicnn slice with the ``dead`` front-end filters left out.

    Parameters
    ----------
    weights : dict of str to np.ndarray
        musicnn weights by Keras variable path.
    dead : dict of str to np.ndarray
        Dead filter indices per front-end convolution (empty arrays: the full network).
    frames, mels : int
        Slice shape.

    Returns
    -------
    float
        Multiply-adds of the convolutions and dense layers (batch norms, pooling left out).
    """
    total = 0.0
    for name, idx in dead.items():
        kernel = weights[f"{name}_conv/kernel"]  # (time, freq, 1, filters)
        live = kernel.shape[-1] - len(idx)
        out_freq = mels - kernel.shape[1] + 1 if name.startswith("timbral") else mels
        total += frames * out_freq * kernel.shape[0] * kernel.shape[1] * live
    for i in (1, 2, 3):
        kernel = weights[f"midend_conv{i}/kernel"]  # (7, in, out)
        total += frames * kernel.size
    total += weights["penultimate_dense/kernel"].size
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", required=True)
    parser.add_argument("--models", default="mtt,msd")
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from deejai_model.bundle import load_bundle
    from deejai_model.networks.musicnn_prune import dead_filters
    from deejai_model.runtime import LiteRtRunner, export_litert

    tracks = read_labels(args.labels)
    order = np.random.default_rng(0).permutation(len(tracks))[: args.tracks]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            slices = mel_slices([tracks[i].path for i in order], model)
            bundle = load_bundle(bundle_dir(model), runtime="keras")
            with np.load(bundle.path / "weights.npz", allow_pickle=False) as npz:
                weights = {key: npz[key] for key in npz.files}
            dead = dead_filters(weights)
            full_path = Path(tmp) / f"{model}_full.tflite"
            export_litert(bundle.model, bundle.manifest.output, full_path)
            networks = {
                "every filter": (full_path, {k: np.array([], int) for k in dead}),
                "dead filters left out (shipped)": (bundle_dir(model) / "model.tflite", dead),
            }
            reference = bundle.embed(slices)
            costs = {name: [] for name in networks}
            for _ in range(args.repeats):
                for name, (path, _) in networks.items():
                    costs[name].append(
                        [cpu_ms_per_slice(path, slices, 1, batch) for batch in (1, 8)]
                    )
            full_macs = multiply_adds(weights, networks["every filter"][1])
            full_ms = min(c[0] for c in costs["every filter"])
            for name, (path, gone) in networks.items():
                got = LiteRtRunner(path, batch_size=8).run(slices)
                live = sum(weights[f"{k}_conv/kernel"].shape[-1] - len(v) for k, v in gone.items())
                best = [min(c[i] for c in costs[name]) for i in (0, 1)]
                macs = multiply_adds(weights, gone)
                rows.append(
                    [
                        model,
                        name,
                        f"{live}",
                        f"{macs / 1e9:.2f} ({macs / full_macs:.2f}x)",
                        f"{np.abs(got - reference).max():.1e}",
                        f"{best[0]:.1f} ({best[0] / full_ms:.2f}x)",
                        f"{best[1]:.1f}",
                    ]
                )
            print(f"{model}: {len(slices)} slices of {args.tracks} tracks", file=sys.stderr)
    print(
        f"{args.tracks} tracks of {args.labels}, K=8 slices each; lowest of {args.repeats} "
        "interleaved runs.\n"
    )
    print(
        markdown_table(
            [
                "model",
                "network",
                "live front-end filters (of 561)",
                "GMAC per slice",
                "max |d| vs full Keras",
                "CPU ms/slice (1 thread, batch 1)",
                "(1 thread, batch 8)",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
