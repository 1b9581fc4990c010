"""The contrastive head (``Pooler(contrast=True)``) against the shipped default, on dev + val.

Two protocols, each corpus a library of its own, slice vectors from
:func:`benchmarks.common.slice_vectors` (the shipped default model and K):

- plain (no labels): the library fitted with and without the head, every track a query;
- cold start (:mod:`benchmarks.library_labels`' draws: albums known for a share of each game's
  tracks, the rest cold, queries from the cold tracks): the shipped default *with* its library
  supervision (``Pooler(supervise=True)``, the plugin's settings) against the same with the head
  under it. The head learns from every track's slices (as in an index fit, it needs no labels);
  the supervision from the draw's albums.

Both report P@1 / P@5 paired against the default with bootstrap intervals, games helped / hurt,
and P@5 per game; the fit's time. ``--synthetic N`` also times the fit of an ``N``-track
synthetic library (clustered random slices of the shipped model's width and K) with and
without the head, and its peak memory.

Usage, from the repository root (one BLAS thread: the head's small products lose to threading
on a busy machine)::

    OPENBLAS_NUM_THREADS=1 nice python -m benchmarks.contrastive \\
        --labels ~/.cache/deejai-corpus/labels.tsv,$HOME/.cache/deejai-corpus-val/labels.tsv
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
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
    max_rss_bytes,
    read_labels,
    slice_vectors,
)
from benchmarks.library_labels import draw_albums, precision  # noqa: E402
from benchmarks.report import games_helped, logo, paired_ci  # noqa: E402
from benchmarks.variants import Result, empty_bags, plugin_default, pooler  # noqa: E402
from deejai_model.ears.manifest import read_manifest  # noqa: E402
from deejai_model.vectors.pooling import Pooler  # noqa: E402

GRID = ((300, 64, 0.3, 0), (100, 128, 0.2, 0))
"""``(steps, hidden, temperature, seed)`` of the heads compared (``Pooler.contrast_*``)."""


def rows_against(
    corpus: str, groups: Sequence[str], results: dict[str, Result], extra: dict[str, str]
) -> list[list[str]]:
    """Table rows of every system paired against ``results["default"]``."""
    base = results["default"]
    rows = []
    for name, r in results.items():
        helped, hurt = games_helped(r, base, groups)
        rows.append(
            [
                corpus,
                name,
                f"{np.nanmean(r.p1):.3f}",
                f"{np.nanmean(r.p1 - base.p1):+.3f} {paired_ci(r.p1, base.p1)}",
                f"{np.nanmean(r.p5):.3f}",
                f"{np.nanmean(r.p5 - base.p5):+.3f} {paired_ci(r.p5, base.p5)}",
                f"{helped}/{hurt}/{len(set(groups))}",
                extra.get(name, ""),
            ]
        )
    return rows


def plain(
    bags: list[np.ndarray], groups: Sequence[str], systems: dict[str, Pooler]
) -> tuple[dict[str, Result], dict[str, str]]:
    """Per-track P@1 / P@5 of each system fitted on the library, every track a query, and each
    fit's seconds."""
    everyone = np.ones(len(groups), dtype=bool)
    results, seconds = {}, {}
    for name, system in systems.items():
        started = time.perf_counter()
        _, vectors = system.fit_transform(bags)
        seconds[name] = f"{time.perf_counter() - started:.1f} s"
        p1, p5 = precision(vectors, groups, everyone)
        results[name] = Result(name, p1, p5, [])
    return results, seconds


def cold_start(
    bags: list[np.ndarray],
    groups: Sequence[str],
    systems: dict[str, Pooler],
    *,
    share: float,
    repeats: int,
    seed: int,
) -> dict[str, Result]:
    """Per-track P@1 / P@5 of each (supervised) system over ``repeats`` album draws, a track's
    mean over the draws where it was cold; each system's unsupervised fit is done once."""
    n = len(groups)
    fitted = {
        name: dataclasses.replace(s, supervise=False).fit(bags) for name, s in systems.items()
    }
    sums = {name: np.zeros((2, n)) for name in systems}
    times_cold = np.zeros(n)
    for repeat in range(repeats):
        draw = draw_albums(
            groups,
            share,
            compilations=0.15,
            rng=np.random.default_rng([seed, int(share * 100), repeat]),
        )
        times_cold += draw.cold
        labels = [a.tolist() for a in draw.albums]
        for name, system in systems.items():
            _, vectors = fitted[name].with_labels(bags, labels, settings=system)
            sums[name] += np.nan_to_num(np.stack(precision(vectors, groups, draw.cold)))
    cold = times_cold > 0
    out = {}
    for name, total in sums.items():
        mean = np.full((2, n), np.nan)
        mean[:, cold] = total[:, cold] / times_cold[cold]
        out[name] = Result(name, mean[0], mean[1], [])
    return out


def logo_summary(
    per_corpus: Sequence[tuple[str, Sequence[str], dict[str, Result]]],
    systems: dict[str, Pooler],
    variant: tuple,
) -> str:
    """The system chosen leave-one-game-out over both corpora (by P@5, the default among the
    candidates) and its held-out dP@5 against the default, per corpus (a Markdown line+table)."""
    model, k, _, how_norm = variant[:4]
    groups = [g for _, gs, _ in per_corpus for g in gs]
    joined = {
        (model, k, name, how_norm, "none"): Result(
            name,
            np.concatenate([r[name].p1 for _, _, r in per_corpus]),
            np.concatenate([r[name].p5 for _, _, r in per_corpus]),
            [],
        )
        for name in systems
    }
    _, chosen, p1, p5 = logo(joined, groups)
    base = joined[model, k, "default", how_norm, "none"]
    corpus_of = np.concatenate([[c] * len(gs) for c, gs, _ in per_corpus])
    votes = {v[2]: chosen.count(v) for v in dict.fromkeys(chosen)}
    rows = []
    for corpus, _, _ in per_corpus:
        mask = corpus_of == corpus
        rows.append(
            [
                corpus,
                f"{np.nanmean(p1[mask] - base.p1[mask]):+.3f} {paired_ci(p1[mask], base.p1[mask])}",
                f"{np.nanmean(p5[mask] - base.p5[mask]):+.3f} {paired_ci(p5[mask], base.p5[mask])}",
            ]
        )
    chosen_line = "; ".join(f"{name} ({count}x)" for name, count in votes.items())
    return (
        f"Chosen leave-one-game-out over both corpora (games): {chosen_line}\n\n"
        + markdown_table(["corpus", "held-out dP@1 [95% CI]", "held-out dP@5 [95% CI]"], rows)
    )


def synthetic_bags(
    n_tracks: int, width: int, k: int, *, seed: int = 0, n_styles: int = 50
) -> list[np.ndarray]:
    """``n_tracks`` synthetic tracks of ``k`` ``(width,)`` slices each: a style centre, a track
    offset and slice noise (ReLU'd, as network outputs are non-negative)."""
    rng = np.random.default_rng(seed)
    styles = rng.normal(0.0, 1.0, (n_styles, width))
    style_of = rng.integers(0, n_styles, n_tracks)
    tracks = styles[style_of] + rng.normal(0.0, 0.7, (n_tracks, width))
    slices = tracks[:, None, :] + rng.normal(0.0, 0.7, (n_tracks, k, width))
    return [np.maximum(s, 0.0).astype(np.float32) for s in slices]


def per_game_rows(groups: Sequence[str], results: dict[str, Result]) -> tuple[list, list]:
    """Header and rows of P@5 per game."""
    games = sorted(set(groups))
    labels = np.asarray(groups)
    rows = [
        [name] + [f"{np.nanmean(r.p5[labels == g]):.2f}" for g in games]
        for name, r in results.items()
    ]
    return ["system", *games], rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS, help="comma-separated labels.tsv files")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--repeats", type=int, default=5, help="album draws per share")
    parser.add_argument("--shares", default="0.3,0.5,0.7", help="cold start shares ('' : none)")
    parser.add_argument("--limit", type=int, default=None, help="tracks per corpus (smoke runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic", type=int, default=0, help="also time an N-track library")
    parser.add_argument(
        "--grid",
        default=",".join(":".join(str(x) for x in head) for head in GRID),
        help="heads steps:hidden:temperature[:seed], comma-separated",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    variant = plugin_default()
    model, k, how_pool, how_norm = variant[:4]
    parts = read_manifest(bundle_dir(model)).parts
    shipped = pooler(how_pool, how_norm, parts)
    systems: dict[str, Pooler] = {"default": shipped}
    for item in args.grid.split(","):
        steps, hidden, temperature, seed = [*item.split(":"), "0"][:4]
        systems[f"head s{steps} h{hidden} t{temperature} seed{seed}"] = dataclasses.replace(
            shipped,
            contrast=True,
            contrast_steps=int(steps),
            contrast_hidden=int(hidden),
            contrast_temperature=float(temperature),
            contrast_seed=int(seed),
        )
    out = [f"Shipped variant {' '.join(str(x) for x in variant)}; heads {args.grid}.\n"]
    header = ["corpus", "system", "P@1", "dP@1 [95% CI]", "P@5", "dP@5 [95% CI]", "games +/-/of"]

    corpora = []
    for labels_file in args.labels.split(","):
        tracks = read_labels(labels_file, limit=args.limit)
        slices, _, failed = slice_vectors(tracks, model, k=k, cache_dir=args.cache)
        for line in failed:
            log(f"left out: {line}")
        kept = [i for i, s in enumerate(slices) if s is not None]
        name = Path(labels_file).resolve().parent.name
        groups = [tracks[i].group for i in kept]
        corpora.append((name, groups, empty_bags([slices[i] for i in kept])))

    out.append("### Plain protocol (no labels): every track a query\n")
    rows, per_game, plain_results = [], [], []
    for corpus, groups, bags in corpora:
        log(f"{corpus}: plain")
        results, seconds = plain(bags, groups, systems)
        rows += rows_against(corpus, groups, results, seconds)
        per_game.append((corpus, *per_game_rows(groups, results)))
        plain_results.append((corpus, groups, results))
    out.append(markdown_table([*header, "fit"], rows))
    out.append("\n" + logo_summary(plain_results, systems, variant))
    for corpus, game_header, game_rows in per_game:
        out.append(f"\nP@5 per game, {corpus}:\n")
        out.append(markdown_table(game_header, game_rows))

    shares = [float(s) for s in args.shares.split(",") if s]
    if shares:
        supervised = {name: dataclasses.replace(s, supervise=True) for name, s in systems.items()}
        out.append(
            "\n### Cold start: albums known for a share, queries from the cold tracks "
            "(every system with the shipped library supervision)\n"
        )
        rows = []
        for share in shares:
            for corpus, groups, bags in corpora:
                log(f"{corpus}: cold start {share:.0%}")
                results = cold_start(
                    bags, groups, supervised, share=share, repeats=args.repeats, seed=args.seed
                )
                rows += [
                    [f"{share:.0%}", *row[:-1]] for row in rows_against(corpus, groups, results, {})
                ]
        out.append(markdown_table(["share", *header], rows))

    if args.synthetic:
        width, slices_k = sum(parts), k or 8
        bags = synthetic_bags(args.synthetic, width, slices_k, seed=args.seed)
        out.append(
            f"\n### Fit of a synthetic {args.synthetic}-track library ({slices_k} slices of "
            f"{width}-d per track)\n"
        )
        rows = []
        for name, system in systems.items():
            before = time.perf_counter()
            system.fit(bags)
            rows.append([name, f"{time.perf_counter() - before:.1f} s"])
        out.append(markdown_table(["system", "fit"], rows))
    out.append(
        f"\n{time.perf_counter() - started:.0f} s, peak RSS {max_rss_bytes() / 2**20:.0f} MiB."
    )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
