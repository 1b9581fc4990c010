#!/usr/bin/env python
"""Convert a bundle's embedding network to LiteRT and record it in the bundle's manifest.

The Keras network is built from the bundle's weights (TensorFlow needed here, not at run time),
its manifest ``output`` is exported with Keras' ``model.export(format="litert")`` to
``model.tflite`` beside the weights, and the conversion is checked on music-like audio made
here (chords over a click track, through the bundle's own front end): the largest absolute
difference between the two runtimes' vectors must stay under ``--tolerance`` (1e-4), or
nothing is written. The manifest then gets ``runtime: {kind, file, sha256, weights_sha256}``
(written under a temporary name and renamed); the weights and so the model id are unchanged.

musicnn and VGG networks (alone or fused) are exported without their dead filters
(:mod:`deejai_model.ears.networks.musicnn_prune`, :mod:`deejai_model.ears.networks.vgg_prune`: the
same
function, within the parity gate, for a fraction of the multiply-adds), held by the same
parity check to the full Keras network; ``--no-prune`` exports the full network.

Usage::

    python scripts/convert_litert.py deejai_model/ears/bundles/musicnn_mtt \\
        deejai_model/ears/bundles/musicnn_msd
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deejai_model.ears.bundle import load_bundle  # noqa: E402
from deejai_model.ears.frontend import FrontEnd  # noqa: E402
from deejai_model.ears.manifest import MANIFEST_FILE, file_sha256  # noqa: E402
from deejai_model.ears.runtime import (  # noqa: E402
    LITERT_KIND,
    LiteRtRunner,
    export_litert,
    pruned_network,
)
from deejai_model.files import replaced_atomically  # noqa: E402

LITERT_FILE = "model.tflite"


def test_signal(sample_rate: int, seconds: float = 40.0, seed: int = 0) -> np.ndarray:
    """Chords changing every 2 s over a 120 bpm click and a little noise, float32 mono."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    signal = np.zeros_like(t)
    for start in np.arange(0.0, seconds, 2.0):
        root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        on = (t >= start) & (t < start + 2.0)
        for ratio in (1.0, 1.26, 1.5):
            signal[on] += 0.15 * np.sin(2 * np.pi * root * ratio * t[on])
    beat = (t % 0.5) < 0.01
    signal[beat] += 0.5 * rng.standard_normal(beat.sum())
    signal += 0.01 * rng.standard_normal(len(t))
    return signal.astype(np.float32)


def convert(directory: Path, tolerance: float, prune: bool = True) -> float:
    """Convert one bundle; returns the largest absolute difference seen."""
    bundle = load_bundle(directory, runtime="keras")
    manifest = bundle.manifest
    target = directory / LITERT_FILE
    with replaced_atomically(os.fspath(target), suffix=".tflite") as staged:
        export_litert(pruned_network(bundle) if prune else bundle.model, manifest.output, staged)
        frontend = FrontEnd.from_manifest(manifest.frontend)
        slices, _ = frontend.slices(test_signal(frontend.sample_rate))
        expected = bundle.embed(slices)
        got = LiteRtRunner(staged, batch_size=5).run(slices)
        worst = float(np.abs(got - expected).max())
        if not worst <= tolerance:
            raise SystemExit(
                f"{directory}: LiteRT differs from Keras by {worst:.2e} > {tolerance:.0e}; "
                "nothing written"
            )

    data = manifest.to_dict()
    data["runtime"] = {
        "kind": LITERT_KIND,
        "file": LITERT_FILE,
        "sha256": file_sha256(target),
        "weights_sha256": manifest.weights["sha256"],
    }
    manifest_path = directory / MANIFEST_FILE
    text = type(manifest).from_dict(data).to_json()
    with replaced_atomically(os.fspath(manifest_path), suffix=".json") as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    loaded = load_bundle(directory, runtime="litert")  # loads and hashes as written
    print(
        f"wrote {target}: {loaded.model_id}, {len(slices)} slices, "
        f"max |LiteRT - Keras| = {worst:.2e}"
    )
    return worst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("bundles", nargs="+", type=Path, help="bundle directories")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument(
        "--no-prune", action="store_true", help="musicnn: export every filter, dead ones too"
    )
    args = parser.parse_args(argv)
    for directory in args.bundles:
        convert(directory, args.tolerance, prune=not args.no_prune)


if __name__ == "__main__":
    main()
