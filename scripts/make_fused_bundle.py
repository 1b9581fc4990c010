#!/usr/bin/env python
"""Make a fused bundle: several bundles' networks side by side on one input, as one bundle.

Reads the part bundles (each a musicnn or VGG bundle with the same front end), builds
:func:`deejai_model.ears.networks.fused.build_fused` with their weights under their prefixes, checks
that its output equals the parts' own embeddings concatenated, and writes it with
:func:`deejai_model.ears.weights.save_bundle` (licence and provenance included). The shipped default
was made with::

    python scripts/convert_musicnn.py MSD_vgg /tmp/msd_vgg_pool45 --embedding pool45
    python scripts/make_fused_bundle.py deejai_model/ears/bundles/musicnn_fused \\
        --part mtt_=deejai_model/ears/bundles/musicnn_mtt \\
        --part msd_=deejai_model/ears/bundles/musicnn_msd \\
        --part vggmsd_=/tmp/msd_vgg_pool45
    python scripts/convert_litert.py deejai_model/ears/bundles/musicnn_fused
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deejai_model.ears.bundle import load_bundle  # noqa: E402
from deejai_model.ears.networks.fused import build_fused  # noqa: E402
from deejai_model.ears.weights import assign_weights, bundle_weights, save_bundle  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("out", type=Path, help="bundle directory to write")
    parser.add_argument(
        "--part", action="append", required=True, help="PREFIX=BUNDLE_DIR, in output order"
    )
    parser.add_argument("--name", default="musicnn-fused")
    parser.add_argument("--version", default="0.1.0")
    args = parser.parse_args(argv)

    prefixes, bundles = [], []
    for spec in args.part:
        prefix, _, directory = spec.partition("=")
        prefixes.append(prefix)
        bundles.append(load_bundle(directory, runtime="keras"))
    for bundle in bundles[1:]:
        if bundle.manifest.frontend != bundles[0].manifest.frontend:
            raise SystemExit(f"{bundle.path}: another front end than {bundles[0].path}")
        if bundle.manifest.license != bundles[0].manifest.license:
            raise SystemExit(f"{bundle.path}: another licence than {bundles[0].path}")
    parts = []
    for prefix, bundle in zip(prefixes, bundles, strict=True):
        params = dict(bundle.manifest.architecture_params)
        params.pop("output", None)
        parts.append(
            {
                "prefix": prefix,
                "architecture": bundle.manifest.architecture,
                "output": bundle.manifest.output,
                "dim": bundle.dim,
                "params": params,
            }
        )
    values = {}
    for prefix, bundle in zip(prefixes, bundles, strict=True):
        weights = bundle_weights(bundle.path, bundle.manifest)
        values.update({prefix + key: value for key, value in weights.items()})
    model = assign_weights(build_fused(parts), values)

    rng = np.random.default_rng(0)
    batch = (rng.random((4, *bundles[0].input_shape)) * 4.0).astype(np.float32)
    want = np.concatenate([b.embed(batch) for b in bundles], axis=1)
    worst = float(np.abs(np.asarray(model(batch)) - want).max())
    if worst > 1e-5:
        raise SystemExit(f"the fused network differs from its parts by {worst:.2e}")

    first = bundles[0].manifest
    listed = "".join(
        f"  - `{prefix}`: {b.model_id} ({b.manifest.source}), its `{b.manifest.output}` "
        f"({b.dim} values)\n"
        for prefix, b in zip(prefixes, bundles, strict=True)
    )
    manifest = {
        "name": args.name,
        "version": args.version,
        "architecture": "fused",
        "architecture_params": {"parts": parts},
        "output": "embedding",
        "dim": sum(b.dim for b in bundles),
        "frontend": first.frontend,
        "weights": {"file": "weights.npz"},
        "license": first.license,
        "source": "; ".join(b.manifest.source for b in bundles),
    }
    provenance = (
        f"# Provenance of {args.name}\n\n"
        "- Networks of other bundles, unchanged, side by side on one mel input (see each\n"
        "  source's provenance for where its weights come from); variables are prefixed:\n"
        f"{listed}"
        "- Embedding: the parts' embeddings in that order; the plugin pools each part's block on\n"
        "  its own (`deejai_model.vectors.pooling.Pooler.parts`).\n"
        f"- Made by `scripts/make_fused_bundle.py` on {datetime.date.today().isoformat()}; "
        f"max |fused - parts| on random input {worst:.1e}.\n"
    )
    written = save_bundle(
        model,
        manifest,
        args.out,
        license_text=(bundles[0].path / "LICENSE").read_text(encoding="utf-8"),
        provenance=provenance,
    )
    print(f"wrote {args.out}: {written.model_id}")


if __name__ == "__main__":
    main()
