"""Store each shipped array once: bundles whose weights another bundle holds cut them from it.

The default bundle, ``musicnn_fused``, holds the MTT, MSD and VGG-MSD networks' weights under
the prefixes ``mtt_``, ``msd_`` and ``vggmsd_``. ``musicnn_mtt`` and ``musicnn_msd`` are the
first two (plus their tag layers, which the fused bundle leaves out) and
``musicnn_fused_light`` the last two. This rewrites those three bundles in manifest format 2
(``deejai_model.ears.manifest.SHARED_FORMAT``): ``weights.sources`` names the arrays to cut
from ``musicnn_fused/weights.npz`` and a small ``own.npz`` keeps the arrays found nowhere else.
``weights.sha256``, and so every model id, stays the same: the cut arrays, written again by
``weights.write_npz`` (byte-reproducible), hash to it, which ``weights.bundle_weights`` checks
whenever the weights are read. Run it again after remaking a bundle with
``scripts/convert_musicnn.py`` or ``scripts/make_fused_bundle.py`` (those write format 1).

    python scripts/share_weights.py            # rewrites the shipped bundles in place
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deejai_model.ears.manifest import SHARED_FORMAT, read_manifest  # noqa: E402
from deejai_model.ears.shipped import BUNDLES_DIR  # noqa: E402
from deejai_model.ears.weights import bundle_weights, read_npz, write_npz  # noqa: E402

#: bundle -> (the bundle it cuts from, [(prefix, strip)]).
PLAN: dict[str, tuple[str, list[tuple[str, bool]]]] = {
    "musicnn_mtt": ("musicnn_fused", [("mtt_", True)]),
    "musicnn_msd": ("musicnn_fused", [("msd_", True)]),
    "musicnn_fused_light": ("musicnn_fused", [("msd_", False), ("vggmsd_", False)]),
}
OWN = "own.npz"


def share(folder: Path, source: str, cuts: list[tuple[str, bool]]) -> None:
    """Rewrite ``folder``'s bundle to cut its weights from ``source`` (a sibling bundle)."""
    manifest_path = folder / "manifest.json"
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    if data["format"] == SHARED_FORMAT:
        print(f"{folder.name}: already shared")
        return
    mine = read_npz(folder / data["weights"]["file"])
    theirs = read_npz(BUNDLES_DIR / source / "weights.npz")
    covered: set[str] = set()
    for prefix, strip in cuts:
        for key, value in theirs.items():
            if key.startswith(prefix):
                name = key[len(prefix) :] if strip else key
                if name not in mine or not np.array_equal(mine[name], value):
                    raise SystemExit(f"{folder.name}: {name} differs from {source}'s {key}")
                covered.add(name)
    sources = [
        {"bundle": source, "file": "weights.npz", "prefix": prefix, "strip": strip}
        for prefix, strip in cuts
    ]
    rest = {k: v for k, v in mine.items() if k not in covered}
    if rest:
        if any(any(k.startswith(p) for p, _ in cuts) for k in rest):
            raise SystemExit(f"{folder.name}: an own array would be taken by a prefix")
        write_npz(rest, folder / OWN)
        sources.append({"file": OWN, "prefix": "", "strip": False})
    old_file = data["weights"]["file"]
    data["format"] = SHARED_FORMAT
    data["weights"] = {"sha256": data["weights"]["sha256"], "sources": sources}
    manifest_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    manifest = read_manifest(folder)
    assembled = bundle_weights(folder, manifest)  # raises unless they hash as before
    assert assembled.keys() == mine.keys()
    (folder / old_file).unlink()
    print(f"{folder.name}: {len(covered)} arrays cut from {source}, {len(rest)} in {OWN}")


def main() -> None:
    for name, (source, cuts) in PLAN.items():
        share(BUNDLES_DIR / name, source, cuts)


if __name__ == "__main__":
    main()
