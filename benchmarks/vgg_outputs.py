"""Per-slice caches of a VGG bundle's other embedding outputs, cut from its ``pool45`` cache.

A VGG bundle whose embedding is ``pool45`` (see :mod:`deejai_model.ears.networks.vgg`) holds every
candidate output in one 512-d vector: ``pool5`` flattened (256, time-major: 2 frames x 128
channels), then ``pool4``'s max and mean (128 + 128). So one embedding run of the corpus gives
all of them: this script writes the :mod:`benchmarks.quality` per-slice caches of bundles of
the same weights with embedding ``pool5``, ``pool5_maxmean`` or ``pool4_maxmean`` (made with
``scripts/convert_musicnn.py ... --embedding <name>``), cut from the ``pool45`` cache. Before
writing, it embeds ``--check`` tracks with each target bundle for real (its own LiteRT
network) and stops unless the cut vectors match within 1e-4.

Usage, from the repository root (after a ``benchmarks.quality`` run over the pool45 bundle)::

    nice python -m benchmarks.vgg_outputs --cache /work/cache --k 8 \\
        --labels /work/corpus/dev/labels.tsv,/work/corpus/val/labels.tsv \\
        --source /tmp/vgg_mtt_pool45 --targets /tmp/vgg_mtt_pool5,/tmp/vgg_mtt_pool4_maxmean
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import cache_file, load_ragged, read_labels, save_ragged  # noqa: E402
from benchmarks.quality import bundle_key  # noqa: E402

TOLERANCE = 1e-4


def cut(pool45: np.ndarray, output: str) -> np.ndarray:
    """One embedding output of ``(n, 512)`` ``pool45`` rows.

    Parameters
    ----------
    pool45 : np.ndarray
        ``(n, 512)``: pool5 flattened (2 frames x 128 channels), pool4 max, pool4 mean.
    output : {"pool5", "pool5_maxmean", "pool4_maxmean", "pool45"}

    Returns
    -------
    np.ndarray
        ``(n, 256)`` float32 (``(n, 512)`` for ``pool45``).
    """
    flat5, pool4 = pool45[:, :256], pool45[:, 256:]
    if output == "pool5":
        return flat5
    if output == "pool5_maxmean":
        frames = flat5.reshape(len(flat5), 2, 128)
        return np.concatenate([frames.max(axis=1), frames.mean(axis=1)], axis=1)
    if output == "pool4_maxmean":
        return pool4
    if output == "pool45":
        return pool45
    raise ValueError(f"no output {output!r} in pool45")


def check(target: str, output: str, paths: list[str], cached: dict, k: int) -> float:
    """Largest |real embedding - cut| over ``paths`` embedded with the target bundle."""
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder

    embedder = Embedder(load_bundle(Path(target)), max_slices=k, workers=1)
    worst = 0.0
    for path, result in embedder.embed_paths(paths):
        if isinstance(result, Exception):
            raise SystemExit(f"{path}: {result}")
        worst = max(worst, float(np.abs(result.vectors - cut(cached[path], output)).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True)
    parser.add_argument("--labels", required=True, help="comma-separated labels files")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--source", required=True, help="the pool45 bundle")
    parser.add_argument("--targets", required=True, help="comma-separated bundles to fill")
    parser.add_argument("--check", type=int, default=3, help="tracks embedded for real")
    args = parser.parse_args(argv)

    source = f"ours_{bundle_key(args.source)}_K{args.k or 'all'}"
    paths, arrays, meta = load_ragged(cache_file(args.cache, source))
    _, starts, _ = load_ragged(cache_file(args.cache, source + "_starts"))
    cached = dict(zip(paths, arrays, strict=True))
    tracks = [t.path for f in args.labels.split(",") for t in read_labels(f)]
    missing = [p for p in tracks if p not in cached]
    if missing:
        raise SystemExit(f"{source}: {len(missing)} tracks not cached (run benchmarks.quality)")
    sample = [p for p in tracks if cached[p] is not None][:: max(1, len(tracks) // args.check)]
    for target in args.targets.split(","):
        manifest = json.loads((Path(target) / "manifest.json").read_text(encoding="utf-8"))
        output = manifest["output"]
        source_manifest = json.loads((Path(args.source) / "manifest.json").read_text())
        if manifest["weights"]["sha256"] != source_manifest["weights"]["sha256"]:
            raise SystemExit(f"{target}: other weights than {args.source}")
        worst = check(target, output, sample[: args.check], cached, args.k)
        if worst > TOLERANCE:
            raise SystemExit(f"{target}: cut {output} differs from its embedding by {worst:.2e}")
        name = f"ours_{bundle_key(target)}_K{args.k or 'all'}"
        save_ragged(
            cache_file(args.cache, name),
            paths,
            [cut(a, output) if a is not None else None for a in arrays],
            **meta,
        )
        save_ragged(cache_file(args.cache, name + "_starts"), paths, starts)
        print(f"{name}: {len(paths)} tracks cut from {source} (real embedding within {worst:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
