"""The network's cost per slice: each bundle in full against its shipped, pruned runtime.

For each bundle (by default musicnn MTT, MSD and the shipped default), the full network (every
filter, exported here with the same exporter to a temporary ``.tflite``) and the shipped
``model.tflite`` (dead filters removed: :func:`deejai_model.ears.runtime.pruned_network`) run the
same real mel slices (K per track, through the Embedder's own front end). Reported:
multiply-adds per slice (counted from the Keras layers' shapes), the largest difference from
the full Keras network, and CPU milliseconds per slice (``time.process_time``, LiteRtRunner,
after a warm-up call; the lowest of ``--repeats`` interleaved runs, so that a busy machine's
drift hits both alike).

Usage, from the repository root (needs TensorFlow for the full network's export)::

    nice python -m benchmarks.network_speed --tracks 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a file (python benchmarks/x.py): import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    DEFAULT_LABELS,
    bundle_dir,
    log,
    markdown_table,
    read_labels,
)


def mel_slices(paths: list[str], directory: Path, k: int = 8) -> np.ndarray:
    """``(n, frames, bands)`` float32 network inputs of ``paths`` (K slices each), cut by the
    shipped Embedder's own front end."""
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder

    embedder = Embedder(load_bundle(directory), max_slices=k, workers=1)
    return np.concatenate([embedder.prepare(p).batch for p in paths]).astype(np.float32)


def cpu_ms_per_slice(path: Path, slices: np.ndarray, *, threads: int, batch: int) -> float:
    """CPU milliseconds per slice of LiteRtRunner over ``slices`` (after one warm-up call)."""
    from deejai_model.ears.runtime import LiteRtRunner

    runner = LiteRtRunner(path, batch_size=batch, threads=threads)
    runner.run(slices[:batch])
    start = time.process_time()
    runner.run(slices)
    return 1000.0 * (time.process_time() - start) / len(slices)


def multiply_adds(model: Any) -> float:
    """Multiply-adds of one slice through a Keras network's convolutions and dense layers
    (nested models included; batch norms, pooling and element-wise ops left out)."""
    import keras

    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += multiply_adds(layer)
        elif isinstance(layer, keras.layers.Conv2D | keras.layers.Conv1D):
            kernel = layer.kernel.shape  # (*window, in, out)
            positions = int(np.prod(layer.output.shape[1:-1]))
            total += positions * float(np.prod(kernel))
        elif isinstance(layer, keras.layers.Dense):
            total += float(np.prod(layer.kernel.shape))
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS)
    parser.add_argument(
        "--models", default="mtt,msd,default", help="short names (benchmarks.common.MODELS), paths"
    )
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.runtime import LiteRtRunner, export_litert, pruned_network

    tracks = read_labels(args.labels)
    order = np.random.default_rng(0).permutation(len(tracks))[: args.tracks]
    paths = [tracks[i].path for i in order]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            directory = bundle_dir(model)
            bundle = load_bundle(directory, runtime="keras")
            slices = mel_slices(paths, directory)
            full_path = Path(tmp) / f"{directory.name}_full.tflite"
            export_litert(bundle.model, bundle.manifest.output, full_path)
            networks = {
                "every filter": (full_path, multiply_adds(bundle.model)),
                "dead filters left out (shipped)": (
                    directory / bundle.manifest.runtime["file"],
                    multiply_adds(pruned_network(bundle)),
                ),
            }
            reference = bundle.embed(slices)
            costs = {name: [] for name in networks}
            for _ in range(args.repeats):
                for name, (path, _) in networks.items():
                    costs[name].append(
                        [cpu_ms_per_slice(path, slices, threads=1, batch=batch) for batch in (1, 8)]
                    )
            full_macs = networks["every filter"][1]
            full_ms = min(c[0] for c in costs["every filter"])
            for name, (path, macs) in networks.items():
                got = LiteRtRunner(path, batch_size=8).run(slices)
                best = [min(c[i] for c in costs[name]) for i in (0, 1)]
                rows.append(
                    [
                        f"{bundle.manifest.name} ({bundle.dim})",
                        name,
                        f"{macs / 1e9:.2f} ({macs / full_macs:.2f}x)",
                        f"{np.abs(got - reference).max():.1e}",
                        f"{best[0]:.1f} ({best[0] / full_ms:.2f}x)",
                        f"{best[1]:.1f}",
                    ]
                )
            log(f"{model}: {len(slices)} slices of {args.tracks} tracks")
    print(
        f"{args.tracks} tracks of {args.labels}, K=8 slices each; lowest of {args.repeats} "
        "interleaved runs.\n"
    )
    print(
        markdown_table(
            [
                "bundle (dim)",
                "network",
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
