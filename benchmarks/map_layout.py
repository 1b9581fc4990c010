"""How well each 2-D layout of the DJ page's map keeps each track's true nearest neighbours.

For every layout (:data:`deejai_model.vectors.layout.METHODS`, plus UMAP when ``umap`` is
importable) on

- synthetic unit vectors with nested cluster structure (8 styles x 6 sub-styles, 64-d), at
  1k and 10k tracks (``--sizes``);
- the real dev and val corpora's track vectors as the plugin makes them, each corpus pooled as
  one library (the shipped default variant of :mod:`benchmarks.variants`, slices cached like
  :mod:`benchmarks.quality`'s),

it prints the share of each track's 10 nearest (cosine) kept among its 10 nearest on the map,
trustworthiness at k = 10 (:func:`deejai_model.vectors.layout.trustworthiness`), the seconds
the layout took, the process's peak memory after it, and the share kept paired track by track
against the shipped layout (bootstrap 95% interval of the difference).  The floor, measured
in the same run, is PCA (the first two principal axes).  Results: ``docs/dj-page.md``.

Usage, from the repository root::

    nice python -m benchmarks.map_layout --sizes 1000,10000 \\
        --labels ~/.cache/deejai-corpus/labels.tsv,~/.cache/deejai-corpus-val/labels.tsv
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    DEFAULT_CACHE,
    DEFAULT_LABELS,
    log,
    markdown_table,
    max_rss_bytes,
    read_labels,
)
from benchmarks.report import paired_ci  # noqa: E402
from deejai_model.vectors.layout import (  # noqa: E402
    DEFAULT_METHOD,
    METHODS,
    kept_per_track,
    layout_2d,
    trustworthiness,
)
from deejai_model.vectors.norms import unit_rows  # noqa: E402

K = 10


def synthetic(n: int, *, dim: int = 64, styles: int = 8, sub: int = 6, seed: int = 0):
    """``(n, dim)`` unit vectors in nested clusters: styles, sub-styles in each, tracks."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(styles, dim))
    subs = centres[:, None, :] + 0.6 * rng.normal(size=(styles, sub, dim))
    which = rng.integers(0, styles * sub, size=n)
    x = subs.reshape(-1, dim)[which] + 0.45 * rng.normal(size=(n, dim))
    return unit_rows(x, np.float32)


def real_vectors(labels: str, cache: str) -> dict[str, np.ndarray]:
    """Each corpus's track vectors under the shipped default, pooled as one library would be
    (tracks that failed left out): ``{corpus folder name: (n, d)}``."""
    from benchmarks.variants import OursGrid, plugin_default

    model, k, how_pool, how_norm, _ = plugin_default()
    out = {}
    for path in labels.split(","):
        tracks = read_labels(path)
        grid = OursGrid(tracks, cache, models=[model], k_values=[k])
        units = grid.unit_vectors(model, k, how_pool, how_norm=how_norm)
        out[Path(path).expanduser().resolve().parent.name] = unit_rows(
            units[grid.valid(model, k)], np.float32
        )
    return out


def umap_2d(vectors: np.ndarray) -> np.ndarray:
    """UMAP (umap-learn, cosine), when it is importable."""
    import umap

    return umap.UMAP(n_components=2, metric="cosine", random_state=0).fit_transform(vectors)


def layouts(sample: int = 0) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The layouts to compare: the shipped methods, t-SNE of a ``sample`` (when given) with the
    other tracks placed among their nearest sampled ones, and UMAP where installed."""
    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        m: (lambda x, m=m: layout_2d(x, method=m)) for m in METHODS
    }
    if sample:
        out[f"tsne-sample{sample}"] = lambda x: layout_2d(x, method="tsne", sample=sample)
    try:
        import umap  # noqa: F401
    except Exception as error:  # not installed (or its numba does not load)
        log(f"umap left out: {type(error).__name__}: {error}")
    else:
        out["umap"] = umap_2d
    return out


def measure(name: str, vectors: np.ndarray, methods: dict) -> list[list]:
    """One table row per layout of ``vectors``; the share kept paired against the shipped
    layout's, track by track (bootstrap interval of the difference)."""
    rows, kept = [], {}
    for method, run in methods.items():
        log(f"{name}: {method} on {len(vectors)} tracks")
        started = time.perf_counter()
        xy = run(vectors)
        seconds = time.perf_counter() - started
        kept[method] = kept_per_track(vectors, xy, K)
        rows.append(
            [
                name,
                len(vectors),
                method,
                f"{kept[method].mean():.3f}",
                f"{trustworthiness(vectors, xy, K):.3f}",
                f"{seconds:.1f}",
                f"{max_rss_bytes() / 2**20:.0f}",
            ]
        )
        log(" | ".join(str(c) for c in rows[-1]))
    for row, method in zip(rows, methods, strict=True):
        if method == DEFAULT_METHOD or DEFAULT_METHOD not in kept:
            row.append("")
        else:
            diff = kept[method] - kept[DEFAULT_METHOD]
            row.append(f"{diff.mean():+.3f} {paired_ci(kept[method], kept[DEFAULT_METHOD])}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="synthetic library sizes")
    parser.add_argument("--labels", default=DEFAULT_LABELS, help="comma-separated labels.tsv")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--methods", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--sample", type=int, default=0, help="also t-SNE of a sample this big")
    args = parser.parse_args(argv)
    methods = layouts(args.sample)
    if args.methods:
        methods = {m: f for m, f in methods.items() if m in args.methods.split(",")}
    rows = []
    if args.labels:
        corpora = real_vectors(args.labels, args.cache)
        for name, vectors in corpora.items():
            rows += measure(f"corpus {name}", vectors, methods)
    for size in [int(s) for s in args.sizes.split(",") if s]:
        rows += measure("synthetic clusters", synthetic(size), methods)
    header = [
        "vectors",
        "tracks",
        "layout",
        f"{K}-NN kept",
        f"trustworthiness@{K}",
        "seconds",
        "peak RSS MiB",
        f"kept, paired vs {DEFAULT_METHOD}",
    ]
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
