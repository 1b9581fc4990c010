"""Annoy index build and query time against exact search, for growing synthetic libraries.

Vectors are clustered random unit vectors of the shipped model's size (``--dim``, 200).  For
each size: time to add and build (``--trees``), file size, mean query time for the 20 nearest
(Annoy through the plugin's :class:`AnnoySearch`, and exact brute force), and Annoy's recall
at 20 against the exact answer.

    python -m benchmarks.index_scaling [--sizes 10000,1000000] [--trees 50] [--queries 100]

1M vectors need about 1 GB of memory and several minutes to build on one core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from beetsplug.deejai.search import AnnoySearch
from deejai_model.lists.playlists import BruteForceSearch


def synthetic(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``(n, dim)`` float32 unit vectors in ``n // 50`` clusters."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(4, n // 50), dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        block = centers[rng.integers(0, len(centers), stop - start)]
        block += 0.5 * rng.normal(size=block.shape).astype(np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def run(n: int, *, dim: int, trees: int, queries: int, search_k: int) -> dict[str, float]:
    from annoy import AnnoyIndex

    vectors = synthetic(n, dim)
    ids = np.arange(1, n + 1, dtype=np.int64)
    started = time.perf_counter()
    annoy = AnnoyIndex(dim, "angular")
    for row in range(n):
        annoy.add_item(row, vectors[row].tolist())
    added = time.perf_counter()
    annoy.build(trees, n_jobs=1)
    built = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.ann")
        annoy.save(path)
        size = os.path.getsize(path)
        annoy.unload()
        loaded = AnnoyIndex(dim, "angular")
        t0 = time.perf_counter()
        loaded.load(path)
        load_s = time.perf_counter() - t0
        approx, exact = AnnoySearch(loaded, ids, search_k), BruteForceSearch(ids, vectors)
        rng = np.random.default_rng(1)
        qs = vectors[rng.integers(0, n, queries)] + 0.1 * rng.normal(size=(queries, dim))
        t0 = time.perf_counter()
        got = [approx.nearest(q, 20)[0] for q in qs]
        annoy_q = (time.perf_counter() - t0) / queries
        sample = qs[: min(queries, 20)]
        t0 = time.perf_counter()
        truth = [exact.nearest(q, 20)[0] for q in sample]
        exact_q = (time.perf_counter() - t0) / len(sample)
        recall = np.mean([len(set(g) & set(t)) / 20 for g, t in zip(got, truth, strict=False)])
        loaded.unload()
    return {
        "add_s": added - started,
        "build_s": built - added,
        "size_mb": size / 1e6,
        "load_ms": load_s * 1e3,
        "annoy_ms": annoy_q * 1e3,
        "exact_ms": exact_q * 1e3,
        "recall": float(recall),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--trees", type=int, default=50)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--search-k", type=int, default=10000, help="as deejai.search_k")
    args = parser.parse_args(argv)
    print(
        f"| vectors (dim {args.dim}) | add (s) | build {args.trees} trees (s) | file (MB) "
        f"| load (ms) | Annoy query k=20, search_k {args.search_k} (ms) | exact query (ms) "
        "| Annoy recall@20 |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",") if s):
        r = run(n, dim=args.dim, trees=args.trees, queries=args.queries, search_k=args.search_k)
        print(
            f"| {n} | {r['add_s']:.1f} | {r['build_s']:.1f} | {r['size_mb']:.0f} "
            f"| {r['load_ms']:.1f} | {r['annoy_ms']:.2f} | {r['exact_ms']:.1f} "
            f"| {r['recall']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
