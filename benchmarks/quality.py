"""Retrieval quality on a labelled corpus: ours (and its levers) against bliss, Musly and baselines.

For every system: P@1 and P@5 of same-group nearest neighbours (the query itself left out) with
bootstrap 95% intervals over queries, and P@1 per group. For ours, a grid of variants (model,
slices per track, pooling, normalisation, hubness reduction; :mod:`benchmarks.variants`, whose
track vectors come from the shipped pooler), chosen leave-one-group-out, one lever at a time
from the plugin's shipped default, and a label-free check (two halves of one track should find
each other first).

Usage, from the repository root (the corpus from ``$DEEJAI_CORPUS``, caches in
``$DEEJAI_BENCH_CACHE``; see :mod:`benchmarks.common`)::

    nice python -m benchmarks.quality --systems ours,bliss,musly,logmel,speccy-random

Several corpora at once (comma-separated labels files; each named by its folder, e.g. ``dev``
and ``val``) make one library of all their tracks: leave-one-game-out runs over every game, and
a "by corpus" section reports each corpus' queries on their own, with paired intervals against
the plugin default::

    nice python -m benchmarks.quality --labels dev/labels.tsv,val/labels.tsv

Prints Markdown. Per-slice vectors and peer analyses are cached in ``--cache`` (``.npz``, no
pickles), so a second run only evaluates.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file (python benchmarks/x.py): import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import peers  # noqa: E402
from benchmarks.common import (  # noqa: E402
    DEFAULT_CACHE,
    DEFAULT_LABELS,
    Track,
    bootstrap_ci,
    log,
    markdown_table,
    read_labels,
)
from benchmarks.report import (  # noqa: E402
    LEVER_COLUMNS,
    LOGO_COLUMNS,
    corpus_rows,
    lever_rows,
    logo,
    not_behind,
    paired_ci,
    summary_rows,
    wins_everywhere,
)
from benchmarks.variants import (  # noqa: E402
    TAG_K,
    OursGrid,
    Result,
    evaluate,
    plugin_default,
    variant_name,
)

K_VALUES = (4, 8, 16, 32, 0)  # 0 = every slice of the whole track
POOLS = (
    "mean",
    "meanstd",
    "tfidf@0.001",
    "trackda-mean",
    "trackda-meanstd",
    "tfidf@p0.1",  # experiments from here on (benchmarks/variants.py)
    "tfidf@p1",
    "tfidf@p5",
    "tags",
)
NORMS = ("none", "centre")
HUBS = ("none", "csls5", "csls10", "csls20", "mp")

#: Peer and baseline systems by name: (label in the reports, ``benchmarks.peers`` function).
PEERS = {
    "bliss": ("bliss (23 features, euclidean)", peers.bliss_library),
    "musly": ("Musly timbre (whole tracks, mutual proximity)", peers.musly_library),
    "logmel": ("log-mel 96 mean+std, z-scored, cosine", peers.logmel_library),
    "speccy-random": (
        "Speccy, random weights, K=16, mean, centred, cosine",
        peers.speccy_random_library,
    ),
}


def peer_result(system: str, tracks: Sequence[Track], cache_dir: str) -> Result:
    """P@1 / P@5 of one peer or baseline system (:data:`PEERS`) over ``tracks``."""
    label, library = PEERS[system]
    log(f"running {system}")
    distances, valid, failed = library(tracks, cache_dir)
    return evaluate(label, distances, [t.group for t in tracks], valid=valid, failed=failed)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; prints the Markdown report on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS, help="comma-separated labels.tsv files")
    parser.add_argument("--systems", default="ours,bliss,musly,logmel,speccy-random")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument(
        "--models",
        default="default,mtt,msd",
        help="ours: bundles (default, mtt, msd, light, a path) and +-joins (mtt+msd)",
    )
    parser.add_argument(
        "--k", default=",".join(str(k) for k in K_VALUES), help="ours: slices per track (0 = all)"
    )
    parser.add_argument("--pools", default=",".join(POOLS))
    parser.add_argument("--norms", default=",".join(NORMS))
    parser.add_argument("--hubs", default=",".join(HUBS))
    parser.add_argument("--limit", type=int, default=None, help="use only N tracks")
    args = parser.parse_args(argv)

    tracks, corpora = [], []
    for labels_file in args.labels.split(","):
        more = read_labels(labels_file, args.limit)
        tracks += more
        corpora += [Path(labels_file).resolve().parent.name] * len(more)
    groups = [t.group for t in tracks]
    systems = [s for s in args.systems.split(",") if s]
    started = time.time()
    out: list[str] = [
        f"Corpus: {args.labels}: {len(tracks)} tracks, {len(set(groups))} groups "
        f"({', '.join(f'{g} {groups.count(g)}' for g in sorted(set(groups)))})."
    ]
    results: list[Result] = []

    if "ours" in systems:
        models = args.models.split(",")
        k_values = [int(k) for k in args.k.split(",")]
        grid = OursGrid(tracks, args.cache, models=models, k_values=k_values)
        variants = [
            v
            for model in models
            for v in itertools.product(
                [model],
                k_values,
                args.pools.split(","),
                args.norms.split(","),
                args.hubs.split(","),
            )
            if v[2] != "tags" or v[1] in TAG_K
        ]
        log(f"evaluating {len(variants)} variants")
        all_results = {v: grid.result(v) for v in variants}
        # the shipped variant; without its model in --models, its settings on the first model
        shipped = plugin_default()
        default = shipped if shipped in all_results else (models[0], *shipped[1:])
        default = default if default in all_results else variants[0]
        logo_rows, chosen, logo_p1, logo_p5 = logo(all_results, groups)
        votes = {v: chosen.count(v) for v in dict.fromkeys(chosen)}
        overall = max(
            all_results,
            key=lambda v: (np.nanmean(all_results[v].p5), np.nanmean(all_results[v].p1)),
        )
        labels = np.asarray(groups)
        names = sorted(set(groups))

        def worst_game(v: tuple) -> float:
            return min(np.nanmean(all_results[v].p5[labels == g]) for g in names)

        robust = max(all_results, key=lambda v: (worst_game(v), np.nanmean(all_results[v].p5)))
        logo_result = Result("LOGO", logo_p1, logo_p5, [])
        by_corpus = [all_results[default], logo_result]
        by_corpus += [all_results[v] for v in all_results if v != default]
        results.append(all_results[default])
        results[-1].name = f"**ours, plugin default** ({variant_name(default)})"
        if default != shipped:
            results[
                -1
            ].name = (
                f"**ours, as near the plugin default as --models allows** ({variant_name(default)})"
            )
        logo_result.name = "ours, leave-one-game-out choice (held-out)"
        results.append(logo_result)
        best = Result(
            f"ours, best variant in hindsight ({variant_name(overall)}; optimistic)",
            all_results[overall].p1,
            all_results[overall].p5,
            all_results[overall].failed,
        )
        results.append(best)
    for system in systems:
        if system != "ours":
            results.append(peer_result(system, tracks, args.cache))
            if "ours" in systems:
                by_corpus.append(results[-1])  # peers' rows beside ours, paired alike

    rows, per_group = summary_rows(results, groups)
    out.append("\n## Systems\n")
    out.append(
        markdown_table(["system", "P@1 [95% CI]", "P@5 [95% CI]", "queries", "failed"], rows)
    )
    out.append("\n## P@1 per game\n")
    out.append(markdown_table(["system"] + sorted(set(groups)), per_group))
    failures = [(r.name, f) for r in results for f in r.failed]
    if failures:
        out.append("\nFailed tracks (left out of that system's queries and neighbours):\n")
        out.extend(f"- {name}: {f.replace('`', '')}" for name, f in failures)

    if "ours" in systems and len(set(corpora)) > 1:
        out.append("\n## By corpus (queries of each corpus; one library of all tracks)\n")
        out.append(
            f"dP@5 against the plugin default ({variant_name(default)}), paired over the same "
            "queries, bootstrap 95% interval.\n"
        )
        work = {variant_name(v): grid.network_work(v) for v in all_results if v[1]}
        header, rows = corpus_rows(by_corpus, all_results[default], corpora=corpora, work=work)
        out.append(markdown_table(header, rows))
        winners = [r.name for r in by_corpus[1:] if wins_everywhere(r, by_corpus[0], corpora)]
        out.append(
            "\n- Ahead of the default beyond the interval on a corpus and not behind on any: "
            + ("; ".join(winners) if winners else "none")
            + "."
        )
        cheap = [
            f"{variant_name(v)} ({grid.network_work(v):.2f}x)"
            for v in all_results
            if v[1]
            and grid.network_work(v) <= 0.55
            and not_behind(all_results[v], by_corpus[0], corpora)
        ]
        out.append(
            "- At most ~half the default's network work (<= 0.55x) and not behind beyond the "
            "interval on any corpus: " + ("; ".join(cheap) if cheap else "none") + "."
        )

    if "ours" in systems:
        out.append("\n## Ours: leave-one-game-out choice of settings\n")
        out.append(
            "For each game, the variant with the best P@5 over the other games' queries "
            "(neighbours from the whole library), evaluated on that game's queries.\n"
        )
        out.append(markdown_table(LOGO_COLUMNS, logo_rows))
        p1m, p1l, p1h = bootstrap_ci(logo_p1)
        p5m, p5l, p5h = bootstrap_ci(logo_p5)
        out.append(
            f"\n- LOGO aggregate: P@1 {p1m:.2f} [{p1l:.2f}, {p1h:.2f}], "
            f"P@5 {p5m:.2f} [{p5l:.2f}, {p5h:.2f}] over {len(groups)} queries."
        )
        out.append(
            f"- LOGO minus plugin default, paired over queries: P@1 "
            f"{np.nanmean(logo_p1 - all_results[default].p1):+.3f} "
            f"{paired_ci(logo_p1, all_results[default].p1)}, P@5 "
            f"{np.nanmean(logo_p5 - all_results[default].p5):+.3f} "
            f"{paired_ci(logo_p5, all_results[default].p5)}."
        )
        out.append(
            "- Chosen most often: "
            + "; ".join(
                f"{variant_name(v)} ({n}x)" for v, n in sorted(votes.items(), key=lambda x: -x[1])
            )
        )
        out.append(
            f'- Best worst-game P@5 ("helps every game"): {variant_name(robust)} '
            f"(worst game {worst_game(robust):.2f}, overall P@1 "
            f"{np.nanmean(all_results[robust].p1):.3f} / P@5 "
            f"{np.nanmean(all_results[robust].p5):.3f})."
        )

        out.append(
            f"\n## Ours: one lever at a time from the plugin default ({variant_name(default)})\n"
        )
        out.append(
            f"Default: P@1 {np.nanmean(all_results[default].p1):.3f}, "
            f"P@5 {np.nanmean(all_results[default].p5):.3f}. "
            "Games helped/hurt counts P@5 per game.\n"
        )
        out.append(
            markdown_table(
                LEVER_COLUMNS,
                lever_rows(all_results, default, groups),
            )
        )
        if robust != default:
            out.append(f"\nSame, from the most robust variant ({variant_name(robust)}):\n")
            out.append(
                markdown_table(
                    LEVER_COLUMNS,
                    lever_rows(all_results, robust, groups),
                )
            )

        top = sorted(all_results, key=lambda v: -np.nanmean(all_results[v].p5))[:15]
        out.append("\n## Ours: top 15 variants by P@5 (in hindsight, all games)\n")
        out.append(
            markdown_table(
                ["variant", "P@1", "P@5", "worst-game P@5"],
                [
                    [
                        variant_name(v),
                        f"{np.nanmean(all_results[v].p1):.3f}",
                        f"{np.nanmean(all_results[v].p5):.3f}",
                        f"{worst_game(v):.2f}",
                    ]
                    for v in top
                ],
            )
        )

        twin_variants = list(
            dict.fromkeys(
                [default, robust, overall]
                + [
                    v
                    for v in variants
                    if v[1] == max(k_values, key=lambda k: k or 10**6)
                    and v[3] == "centre"
                    and v[4] == "none"
                ]
            )
        )
        twin_rows = []
        for v in twin_variants:
            if v[2] == "tags" or "+t" in v[2] or v[2].endswith("slicemax") or "every2" in v[2]:
                continue  # no pooled halves: tag layer, timbre fusion, slice matching
            recall, n = grid.twin_recall(v)
            twin_rows.append([variant_name(v), f"{recall:.3f}", n])
        out.append("\n## Label-free check: each half of a track finds its other half\n")
        out.append(
            "Slices of each track split into first and second half (time order), each half "
            "pooled as a separate track; recall@1 of the twin among all halves.\n"
        )
        out.append(markdown_table(["variant", "twin recall@1", "halves"], twin_rows))

    out.append(f"\n(evaluated in {time.time() - started:.0f} s)")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
