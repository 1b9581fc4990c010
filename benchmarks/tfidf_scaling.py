"""How exact MP3ToVec TF-IDF scales with the library size.

Run: ``PYTHONPATH=. nice python benchmarks/tfidf_scaling.py [--tracks 1000 10000]``
(options ``--slices 16 --dim 200 --block 4096``).

Synthetic slices: random vectors with ~10% near-copies of a few hundred motifs, so closeness
is not empty. Prints one row per library size: slices, wall time of ``tfidf_vectors``, pair
throughput and the peak size of one block pair.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from deejai_model.vectors.mp3tovec import DEFAULT_BLOCK, tfidf_vectors


def synthetic_library(n_tracks: int, *, n_slices: int, dim: int, seed: int = 0) -> list[np.ndarray]:
    """Random slice vectors with planted near-duplicates (10% of slices)."""
    rng = np.random.default_rng(seed)
    motifs = rng.standard_normal((max(1, n_tracks // 20), dim)).astype(np.float32)
    slices = rng.standard_normal((n_tracks * n_slices, dim)).astype(np.float32)
    planted = rng.random(len(slices)) < 0.1
    picks = rng.integers(len(motifs), size=int(planted.sum()))
    slices[planted] = motifs[picks] + 1e-4 * rng.standard_normal((len(picks), dim))
    return list(slices.reshape(n_tracks, n_slices, dim))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--slices", type=int, default=16)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK)
    args = parser.parse_args()
    print(f"block {args.block}: one block pair ~{10 * args.block**2 / 2**20:.0f} MiB")
    print("| tracks | slices | dim | seconds | Mpairs/s | ms/track |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n_tracks in args.tracks:
        library = synthetic_library(n_tracks, n_slices=args.slices, dim=args.dim)
        start = time.perf_counter()
        vectors = tfidf_vectors(library, block=args.block)
        seconds = time.perf_counter() - start
        assert vectors.shape == (n_tracks, args.dim) and np.isfinite(vectors).all()
        m = n_tracks * args.slices
        pairs = m * (m + 1) / 2
        print(
            f"| {n_tracks} | {m} | {args.dim} | {seconds:.2f} | {pairs / seconds / 1e6:.0f} "
            f"| {1000 * seconds / n_tracks:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
