"""The shipped default's quality on dev + val, its blocks' fusions chosen leave-one-game-out.

The default bundle (``deejai_model/ears/bundles/musicnn_fused``) hears every slice with several
networks side by side; the plugin pools each network's block on its own and joins them
(``deejai_model.vectors.pooling.Pooler.parts``). This embeds the corpora with the shipped bundle
itself
(its LiteRT runtime, cached in ``--cache`` like :mod:`benchmarks.quality`'s slices), splits its
slice vectors into the blocks, and evaluates every fusion of one or more blocks, each block
adapted, pooled (mean+std), centred and scaled on its own (the plugin's pipeline), beside the
previous default (musicnn MTT alone) and the peers:

- by corpus, dP@5 paired against the previous default with bootstrap intervals;
- leave-one-game-out over all games: for each game, the fusion with the best P@5 on the other
  games, scored on that game;
- P@5 per game.

Usage, from the repository root::

    nice python -m benchmarks.default_quality \\
        --labels /work/corpus/dev/labels.tsv,/work/corpus/val/labels.tsv --cache /work/cache
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file (python benchmarks/x.py): import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import DEFAULT_CACHE, markdown_table, read_labels  # noqa: E402
from benchmarks.quality import (  # noqa: E402
    LOGO_COLUMNS,
    OursGrid,
    corpus_rows,
    log,
    logo,
    paired_ci,
    peer_result,
    variant_name,
)

#: The plugin's pipeline after the slices: library adaptation + mean/std, centred, no CSLS.
PIPELINE = ("trackda-meanstd", "centre", "none")
PREVIOUS_DEFAULT = "mtt"
"""The default before issue 14 (musicnn MTT alone, same pipeline)."""


def block_names(manifest: dict) -> list[str]:
    """Names of a fused bundle's blocks: ``fused.`` and their prefixes without the ``_``."""
    return [
        "fused." + part["prefix"].rstrip("_") for part in manifest["architecture_params"]["parts"]
    ]


class BlockGrid(OursGrid):
    """:class:`OursGrid` whose models include the blocks of a fused bundle's slice vectors and
    ``+``-joined fusions of any models (each pooled on its own, then joined)."""

    def unit_vectors(self, model, k, how_pool, how_norm, slices=None):
        if "+" in model and slices is None:
            parts = [
                super(BlockGrid, self).unit_vectors(m, k, how_pool, how_norm)
                for m in model.split("+")
            ]
            return np.concatenate(parts, axis=1) / np.sqrt(len(parts))
        return super().unit_vectors(model, k, how_pool, how_norm, slices)

    def valid(self, model, k):
        return np.logical_and.reduce([super(BlockGrid, self).valid(m, k) for m in model.split("+")])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", required=True, help="comma-separated labels.tsv files")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--peers", default="bliss,musly")
    args = parser.parse_args(argv)
    from deejai_model.ears.bundle import default_bundle_path

    tracks, corpora = [], []
    for labels_file in args.labels.split(","):
        more = read_labels(labels_file)
        tracks += more
        corpora += [Path(labels_file).resolve().parent.name] * len(more)
    groups = [t.group for t in tracks]
    bundle = default_bundle_path()
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    dims = [part["dim"] for part in manifest["architecture_params"]["parts"]]
    names = block_names(manifest)

    grid = BlockGrid(tracks, args.cache, [PREVIOUS_DEFAULT, str(bundle)], [args.k])
    whole = grid.slices[str(bundle), args.k]
    edges = np.cumsum([0, *dims])
    for name, lo, hi in zip(names, edges[:-1], edges[1:], strict=True):
        grid.slices[name, args.k] = [None if s is None else s[:, lo:hi] for s in whole]
        grid.starts[name, args.k] = grid.starts[str(bundle), args.k]
        grid.failed[name, args.k] = grid.failed[str(bundle), args.k]
    grid.models = []  # no implicit "fused" of everything: fusions are named

    fusions = [
        "+".join(c) for r in range(1, len(names) + 1) for c in itertools.combinations(names, r)
    ]
    for fusion in fusions:  # a fusion's failures are its blocks' (all the bundle's)
        grid.failed[fusion, args.k] = grid.failed[str(bundle), args.k]
    variants = [(PREVIOUS_DEFAULT, args.k, *PIPELINE)] + [(f, args.k, *PIPELINE) for f in fusions]
    log(f"evaluating {len(variants)} variants")
    results = {v: grid.result(v) for v in variants}
    base = results[variants[0]]
    default = results[variants[-1]]  # every block: what the plugin does with the bundle
    base.name = f"previous default: {variant_name(variants[0])}"
    default.name = f"**shipped default** ({manifest['name']}: {variants[-1][0]})"
    for v in variants[1:-1]:
        results[v].name = variant_name(v)
    rows_results = [base, default] + [results[v] for v in variants[1:-1]]
    peers = [peer_result(p, tracks, args.cache) for p in args.peers.split(",") if p]

    out = [
        f"{len(tracks)} tracks, {len(set(groups))} games ({args.labels}); K={args.k}; "
        f"blocks of {bundle.name}: "
        + ", ".join(f"{n} ({d})" for n, d in zip(names, dims, strict=True)),
        "\n### By corpus, paired against the previous default\n",
    ]
    header, rows = corpus_rows(rows_results + peers, base, corpora)
    out.append(markdown_table(header, rows))

    logo_rows, chosen, p1, p5 = logo(results, groups)
    votes = {variant_name(v): chosen.count(v) for v in set(chosen)}
    out.append("\n### Leave-one-game-out over the fusions (and the previous default)\n")
    out.append(markdown_table(LOGO_COLUMNS, logo_rows))
    ranked = sorted(votes.items(), key=lambda item: -item[1])
    out.append(f"\n- Chosen: {'; '.join(f'{n} ({c}x)' for n, c in ranked)}.")
    out.append(
        f"- Held out, paired against the previous default: P@5 {np.nanmean(p5 - base.p5):+.3f} "
        f"{paired_ci(p5, base.p5)}, P@1 {np.nanmean(p1 - base.p1):+.3f} {paired_ci(p1, base.p1)}."
    )
    labels = np.asarray(groups)
    games = sorted(set(groups))
    out.append("\n### P@5 per game\n")
    per_game = [
        [r.name] + [f"{np.nanmean(r.p5[labels == g]):.2f}" for g in games]
        for r in [base, default, *peers]
    ]
    out.append(markdown_table(["system"] + games, per_game))
    helped = sum(
        np.nanmean(default.p5[labels == g]) > np.nanmean(base.p5[labels == g]) for g in games
    )
    hurt = sum(
        np.nanmean(default.p5[labels == g]) < np.nanmean(base.p5[labels == g]) for g in games
    )
    out.append(
        f"\n- The shipped default against the previous one: {helped} games helped, {hurt} hurt, "
        f"of {len(games)}."
    )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
