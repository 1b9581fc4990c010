#!/usr/bin/env python
"""Make the fused bundle: musicnn MTT and MSD side by side on one input, as one bundle.

Reads two shipped musicnn bundles, builds :func:`deejai_model.networks.fused.build_fused` with
their weights under the prefixes ``mtt_`` and ``msd_`` (their tag layers left out: the fused
embedding is the two ``penultimate`` vectors side by side), checks that its output equals the two
bundles' own outputs concatenated, and writes it with :func:`deejai_model.bundle.save_bundle`
(licence and provenance included). Convert it to LiteRT afterwards::

    python scripts/make_fused_bundle.py deejai_model/bundles/musicnn_fused
    python scripts/convert_litert.py deejai_model/bundles/musicnn_fused
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deejai_model.bundle import load_bundle, save_bundle  # noqa: E402
from deejai_model.networks.fused import build_fused  # noqa: E402

BUNDLES = Path(__file__).resolve().parents[1] / "deejai_model" / "bundles"
PARTS = (("mtt_", "musicnn_mtt"), ("msd_", "musicnn_msd"))
NAME, VERSION = "musicnn-fused", "0.1.0"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("out", type=Path, help="bundle directory to write")
    args = parser.parse_args(argv)

    bundles = [load_bundle(BUNDLES / name, runtime="keras") for _, name in PARTS]
    parts = []
    for (prefix, _), bundle in zip(PARTS, bundles, strict=True):
        params = dict(bundle.manifest.architecture_params)
        params.pop("output", None)
        parts.append({"prefix": prefix, **params})
    model = build_fused(parts)
    values = {}
    for (prefix, name), bundle in zip(PARTS, bundles, strict=True):
        with np.load(BUNDLES / name / bundle.manifest.weights["file"]) as npz:
            values.update({prefix + key: npz[key] for key in npz.files})
    for var in model.weights:
        var.assign(values[var.path])

    rng = np.random.default_rng(0)
    batch = (rng.random((4, *bundles[0].input_shape)) * 4.0).astype(np.float32)
    want = np.concatenate([b.embed(batch) for b in bundles], axis=1)
    worst = float(np.abs(np.asarray(model(batch)) - want).max())
    if worst > 1e-5:
        raise SystemExit(f"the fused network differs from its parts by {worst:.2e}")

    first = bundles[0].manifest
    ids = ", ".join(b.model_id for b in bundles)
    manifest = {
        "name": NAME,
        "version": VERSION,
        "architecture": "fused",
        "architecture_params": {"parts": parts},
        "output": "penultimate",
        "dim": sum(b.dim for b in bundles),
        "frontend": first.frontend,
        "weights": {"file": "weights.npz"},
        "license": first.license,
        "source": f"{first.source}; and the MSD_musicnn checkpoint of the same wheel ({ids})",
    }
    provenance = (
        f"# Provenance of {NAME}\n\n"
        f"- The networks of `musicnn_mtt` and `musicnn_msd` ({ids}), unchanged, side by side on\n"
        "  one mel input (see those bundles' PROVENANCE.md for where their weights come from).\n"
        "  Variables are prefixed `mtt_` / `msd_`; the tag layers are left out.\n"
        "- Embedding: the MTT `penultimate` (200-d) then the MSD `penultimate` (200-d); the\n"
        "  plugin pools the two blocks separately (`deejai_model.pooling.Pooler.parts`).\n"
        f"- Made by `scripts/make_fused_bundle.py` on {datetime.date.today().isoformat()}; "
        f"max |fused - parts| on random input {worst:.1e}.\n"
    )
    written = save_bundle(
        model,
        manifest,
        args.out,
        license_text=(BUNDLES / PARTS[0][1] / "LICENSE").read_text(encoding="utf-8"),
        provenance=provenance,
    )
    print(f"wrote {args.out}: {NAME}@{VERSION}:{written.weights['sha256'][:12]}")


if __name__ == "__main__":
    main()
