"""The shipped default's quality on dev + val, its blocks' fusions chosen leave-one-game-out.

The default bundle (``deejai_model/ears/bundles/musicnn_fused``) hears every slice with several
networks side by side; the plugin pools each network's block on its own and joins them
(``deejai_model.vectors.pooling.Pooler.parts``). This embeds the corpora with the shipped bundle
itself (its LiteRT runtime, cached in ``--cache`` like :mod:`benchmarks.quality`'s slices) and
evaluates the plugin's shipped variant (:func:`benchmarks.variants.plugin_default`: the
bundle's blocks pooled by the shipped pooler) beside every fusion of fewer of its blocks (each
pooled the same way, as a bundle of those networks would be), the previous default (musicnn
MTT alone) and the peers:

- by corpus, dP@5 paired against the previous default with bootstrap intervals;
- leave-one-game-out over all games: for each game, the fusion with the best P@5 on the other
  games, scored on that game;
- P@5 per game.

Usage, from the repository root (corpus and cache from the environment, see
:mod:`benchmarks.common`)::

    nice python -m benchmarks.default_quality --labels dev/labels.tsv,val/labels.tsv
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file (python benchmarks/x.py): import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    DEFAULT_CACHE,
    DEFAULT_LABELS,
    bundle_dir,
    log,
    markdown_table,
    read_labels,
)
from benchmarks.quality import peer_result  # noqa: E402
from benchmarks.report import (  # noqa: E402
    LOGO_COLUMNS,
    corpus_rows,
    games_helped,
    logo,
    paired_ci,
)
from benchmarks.variants import OursGrid, plugin_default, variant_name  # noqa: E402
from deejai_model.ears.manifest import read_manifest  # noqa: E402

PREVIOUS_DEFAULT = "mtt"
"""The default before issue 14 (musicnn MTT alone, same pipeline)."""


def block_names(manifest) -> list[str]:
    """Names of a fused bundle's blocks: ``fused.`` and their prefixes without the ``_``."""
    return ["fused." + part["prefix"].rstrip("_") for part in manifest.architecture_params["parts"]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS, help="comma-separated labels.tsv files")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--peers", default="bliss,musly")
    args = parser.parse_args(argv)
    shipped = plugin_default()
    model, k, pipeline = shipped[0], shipped[1], shipped[2:]

    tracks, corpora = [], []
    for labels_file in args.labels.split(","):
        more = read_labels(labels_file)
        tracks += more
        corpora += [Path(labels_file).resolve().parent.name] * len(more)
    groups = [t.group for t in tracks]
    bundle = bundle_dir(model)
    manifest = read_manifest(bundle)
    dims = manifest.parts
    names = block_names(manifest)

    grid = OursGrid(tracks, args.cache, models=[PREVIOUS_DEFAULT, model], k_values=[k])
    whole = grid.slices[model, k]
    edges = np.cumsum([0, *dims])
    for name, lo, hi in zip(names, edges[:-1], edges[1:], strict=True):
        blocks = [None if s is None else s[:, lo:hi] for s in whole]
        grid.add_model(
            name, k, slices=blocks, starts=grid.starts[model, k], failed=grid.failed[model, k]
        )
    fusions = ["+".join(c) for r in range(1, len(names)) for c in itertools.combinations(names, r)]
    variants = [(PREVIOUS_DEFAULT, k, *pipeline)] + [(f, k, *pipeline) for f in fusions]
    variants.append(shipped)  # every block: what the plugin does with the bundle
    log(f"evaluating {len(variants)} variants")
    results = {v: grid.result(v) for v in variants}
    base = results[variants[0]]
    default = results[variants[-1]]  # every block: what the plugin does with the bundle
    base.name = f"previous default: {variant_name(variants[0])}"
    default.name = f"**shipped default** ({manifest.name}: {'+'.join(names)})"
    for v in variants[1:-1]:
        results[v].name = variant_name(v)
    rows_results = [base, default] + [results[v] for v in variants[1:-1]]
    peers = [peer_result(p, tracks, args.cache) for p in args.peers.split(",") if p]

    out = [
        f"{len(tracks)} tracks, {len(set(groups))} games ({args.labels}); K={k}; "
        f"blocks of {bundle.name}: "
        + ", ".join(f"{n} ({d})" for n, d in zip(names, dims, strict=True)),
        "\n### By corpus, paired against the previous default\n",
    ]
    header, rows = corpus_rows(rows_results + peers, base, corpora=corpora)
    out.append(markdown_table(header, rows))

    logo_rows, chosen, p1, p5 = logo(results, groups)
    votes = {variant_name(v): chosen.count(v) for v in dict.fromkeys(chosen)}
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
    helped, hurt = games_helped(default, base, groups)
    out.append(
        f"\n- The shipped default against the previous one: {helped} games helped, {hurt} hurt, "
        f"of {len(games)}."
    )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
