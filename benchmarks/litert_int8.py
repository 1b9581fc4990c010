"""Post-training int8 for a bundle's LiteRT network: parity and CPU cost per slice.

Converts the bundle's Keras network (TensorFlow needed) twice with
``tf.lite.TFLiteConverter``: float32 as shipped, and full-integer int8 (weights and activations,
float input and output) calibrated on a representative dataset of real mel slices (the Embedder's
own front end over ``--calibration`` tracks of a labels file). Prints, per model, the worst
absolute difference and the mean cosine to the shipped float model's 200-d output on held-out
slices, and CPU milliseconds per slice at several thread counts and batch sizes. Nothing is
written into the bundle: the models go to ``--out``.

Usage, from the repository root::

    nice python -m benchmarks.litert_int8 --labels /work/corpus/dev/labels.tsv --out /tmp/int8
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import markdown_table, read_labels  # noqa: E402
from benchmarks.quality import bundle_dir  # noqa: E402


def mel_slices(paths: list[str], model: str, k: int = 8) -> np.ndarray:
    """(n, frames, bands) float32 network inputs of ``paths`` (K slices each)."""
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder

    embedder = Embedder(load_bundle(bundle_dir(model)), max_slices=k, workers=1)
    return np.concatenate([embedder.prepare(p).batch for p in paths]).astype(np.float32)


def convert(model: str, calibration: np.ndarray | None, path: Path) -> Path:
    """Write the bundle's embedding output as an int8 .tflite through the same exporter as the
    shipped model: full integer, calibrated on ``calibration`` (n, frames, bands) slices, or
    dynamic range (int8 weights, float activations) when ``calibration`` is None."""
    import tensorflow as tf

    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.runtime import export_litert

    bundle = load_bundle(bundle_dir(model), runtime="keras")

    def representative():
        for row in calibration:
            yield [row[None].astype(np.float32)]

    settings = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if calibration is not None:
        settings["representative_dataset"] = representative
    export_litert(bundle.model, bundle.manifest.output, path, **settings)
    return path


def cpu_ms_per_slice(path: Path, slices: np.ndarray, threads: int, batch: int) -> float:
    """CPU milliseconds per slice of LiteRtRunner over ``slices`` (after one warm-up call)."""
    from deejai_model.ears.runtime import LiteRtRunner

    runner = LiteRtRunner(path, batch_size=batch, threads=threads)
    runner.run(slices[:batch])
    start = time.process_time()
    runner.run(slices)
    return 1000.0 * (time.process_time() - start) / len(slices)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", required=True)
    parser.add_argument("--model", default="mtt")
    parser.add_argument("--calibration", type=int, default=24, help="tracks to calibrate on")
    parser.add_argument("--test", type=int, default=8, help="other tracks to compare on")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kinds", default="full,dynamic", help="full, dynamic or both")
    args = parser.parse_args(argv)
    from deejai_model.ears.runtime import LiteRtRunner

    tracks = read_labels(args.labels)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(tracks))
    calibration = mel_slices([tracks[i].path for i in order[: args.calibration]], args.model)
    test = mel_slices(
        [tracks[i].path for i in order[args.calibration : args.calibration + args.test]],
        args.model,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    shipped = bundle_dir(args.model) / "model.tflite"
    networks = [("float32 (shipped)", shipped)]
    if "full" in args.kinds:
        path = convert(args.model, calibration, args.out / f"{args.model}_int8.tflite")
        networks.append(("int8 (full integer, calibrated)", path))
    if "dynamic" in args.kinds:
        path = convert(args.model, None, args.out / f"{args.model}_int8_dynamic.tflite")
        networks.append(("int8 weights, float activations (dynamic range)", path))
    reference = LiteRtRunner(shipped, batch_size=1).run(test)
    rows = []
    for name, path in networks:
        got = LiteRtRunner(path, batch_size=1).run(test)
        cosine = np.sum(got * reference, axis=1) / (
            np.linalg.norm(got, axis=1) * np.linalg.norm(reference, axis=1)
        )
        costs = [
            f"{cpu_ms_per_slice(path, test, threads, batch):.1f}"
            for threads, batch in ((1, 1), (1, 8), (2, 8))
        ]
        rows.append(
            [
                name,
                f"{path.stat().st_size / 2**20:.1f}",
                f"{np.abs(got - reference).max():.2e}",
                f"{cosine.mean():.4f}",
                *costs,
            ]
        )
    print(
        f"{args.model}: calibrated on {len(calibration)} slices of {args.calibration} tracks, "
        f"compared on {len(test)} slices of {args.test} other tracks.\n"
    )
    print(
        markdown_table(
            [
                "network",
                "MiB",
                "max |d| vs shipped",
                "mean cosine vs shipped",
                "CPU ms/slice (1 thread, batch 1)",
                "(1 thread, batch 8)",
                "(2 threads, batch 8)",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
