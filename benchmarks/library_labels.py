"""Ears that learn from the library's albums: the cold-start protocol on dev + val.

Each corpus is a library of its own. Its games stand for what albums and playlists know: for a
share (30/50/70%) of each game's tracks, the library "knows" albums, simulated as random
subsets of 8-15 tracks drawn within the game (what is left of a game, under
:data:`benchmarks.library_labels.MIN_ALBUM` tracks, becomes a one- or two-track album); a
share of the known tracks (``--compilations``, 15% by default) goes instead into
"compilation" albums of 8-15 tracks drawn across games. The other tracks are cold: singletons,
no labels at fit time. Every track is in the library; queries come from the cold tracks only,
their neighbours from the whole library. Each share is drawn ``--repeats`` times; a track's
P@k is its mean over the draws where it was cold (tracks never cold are not queries).

Systems, each pooled by the shipped :class:`~deejai_model.vectors.pooling.Pooler` (the
plugin's default variant, :func:`benchmarks.variants.plugin_default`) fitted on the library:

- the shipped default (no labels);
- ``supervised d<dims> s<shrink> b<blend>``: ``Pooler(supervise=True, ...)`` with the albums
  as labels,
  compilations left out (as the plugin leaves out flagged compilations,
  ``beetsplug/deejai/labels.py``);
- ``... +comps``: the same with the compilations taken as albums (an unflagged "Various
  Artists" album);
- the plain protocol (no labels at all): the supervised pooler without labels, every track a
  query (its vectors must be the default's).

Reports, by corpus and share: P@1 / P@5 and dP@5 paired against the shipped default with
bootstrap intervals, games helped/hurt; the settings chosen leave-one-game-out over both
corpora; P@5 per game; the verdict of the on-by-default rule.

Usage, from the repository root (cache from the environment, see :mod:`benchmarks.common`)::

    nice python -m benchmarks.library_labels \\
        --labels ~/.cache/deejai-corpus/labels.tsv,~/.cache/deejai-corpus-val/labels.tsv
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
    hits_at_k,
    log,
    markdown_table,
    max_rss_bytes,
    read_labels,
    slice_vectors,
)
from benchmarks.report import games_helped, logo, paired_ci  # noqa: E402
from benchmarks.variants import Result, empty_bags, plugin_default, pooler  # noqa: E402
from deejai_model.ears.manifest import read_manifest  # noqa: E402
from deejai_model.vectors.pooling import Pooler  # noqa: E402

SHARES = (0.3, 0.5, 0.7)
"""Shares of each game's tracks whose albums the library knows."""

ALBUM_SIZES = (8, 15)
"""Smallest and largest simulated album (tracks)."""

MIN_ALBUM = 3
"""A game's leftover known tracks below this many form a small album of their own."""

GRID = (
    (8, 1.0, 1.0),
    (16, 1.0, 1.0),
    (8, 1.0, 0.5),
    (16, 1.0, 0.5),
    (16, 1.0, 0.7),
    (32, 0.3, 0.5),
)
"""``(dims, shrink, blend)`` of the supervised projections compared (``Pooler.supervise_*``)."""


@dataclasses.dataclass
class Draw:
    """One simulated library: which tracks are cold, and its albums.

    Attributes
    ----------
    cold : np.ndarray
        ``(n,)`` bool: tracks in no album (the queries).
    albums : list of np.ndarray
        Track indices of each album of one game (one- and two-track leftovers included).
    compilations : list of np.ndarray
        Track indices of each compilation (tracks of several games).
    """

    cold: np.ndarray
    albums: list[np.ndarray]
    compilations: list[np.ndarray]


def draw_albums(
    groups: Sequence[str],
    share: float,
    *,
    compilations: float,
    rng: np.random.Generator,
) -> Draw:
    """Simulate a library's albums: ``share`` of each game's tracks known (see the module)."""
    labels = np.asarray(groups)
    cold = np.ones(len(labels), dtype=bool)
    known_by_game: dict[str, list[int]] = {}
    for game in sorted(set(groups)):
        rows = rng.permutation(np.flatnonzero(labels == game))
        known = rows[: int(round(share * len(rows)))]
        cold[known] = False
        known_by_game[game] = list(known)
    pool = [i for rows in known_by_game.values() for i in rows]
    n_comp = int(round(compilations * len(pool)))
    in_comps = set(rng.choice(pool, n_comp, replace=False).tolist()) if n_comp else set()
    albums = []
    for rows in known_by_game.values():
        rows = [i for i in rows if i not in in_comps]
        while rows:
            size = int(rng.integers(ALBUM_SIZES[0], ALBUM_SIZES[1] + 1))
            if len(rows) - size < MIN_ALBUM:
                size = len(rows) if len(rows) <= ALBUM_SIZES[1] else size
            albums.append(np.array(rows[:size]))
            rows = rows[size:]
    comps = []
    mixed = rng.permutation(sorted(in_comps)).tolist()
    while mixed:
        size = int(rng.integers(ALBUM_SIZES[0], ALBUM_SIZES[1] + 1))
        comps.append(np.array(mixed[:size]))
        mixed = mixed[size:]
    return Draw(cold, albums, comps)


def precision(vectors: np.ndarray, groups: Sequence[str], queries: np.ndarray) -> tuple:
    """Per-track P@1 and P@5 (NaN for non-queries) of unit vectors by cosine."""
    distances = 1.0 - vectors.astype(np.float64) @ vectors.T.astype(np.float64)
    valid = np.abs(vectors).sum(axis=1) > 0
    use = valid & queries
    p1 = np.full(len(groups), np.nan)
    p5 = np.full(len(groups), np.nan)
    p1[use] = hits_at_k(distances, groups, 1, valid=valid, queries=use)
    p5[use] = hits_at_k(distances, groups, 5, valid=valid, queries=use)
    return p1, p5


def cold_start(
    bags: list[np.ndarray],
    groups: Sequence[str],
    shipped: Pooler,
    systems: dict[str, tuple[Pooler, bool]],
    *,
    share: float,
    repeats: int,
    compilations: float,
    seed: int,
) -> dict[str, Result]:
    """Per-track P@1 / P@5 of every system over ``repeats`` draws (mean over the draws where
    the track was cold). ``systems``: name -> (pooler, whether compilations count as albums)."""
    n = len(groups)
    sums = {name: np.zeros((2, n)) for name in ["default", *systems]}
    times_cold = np.zeros(n)
    fitted, base_vectors = shipped.fit_transform(bags)
    for repeat in range(repeats):
        draw = draw_albums(
            groups,
            share,
            compilations=compilations,
            rng=np.random.default_rng([seed, int(share * 100), repeat]),
        )
        times_cold += draw.cold
        p1, p5 = precision(base_vectors, groups, draw.cold)
        sums["default"] += np.nan_to_num(np.stack([p1, p5]))
        for name, (system, with_comps) in systems.items():
            labels = draw.albums + (draw.compilations if with_comps else [])
            # the shipped adaptation fitted once; equal to system.fit_transform(bags, labels=...)
            _, vectors = fitted.with_labels(bags, [a.tolist() for a in labels], settings=system)
            p1, p5 = precision(vectors, groups, draw.cold)
            sums[name] += np.nan_to_num(np.stack([p1, p5]))
    cold = times_cold > 0
    out = {}
    for name, total in sums.items():
        mean = np.full((2, n), np.nan)
        mean[:, cold] = total[:, cold] / times_cold[cold]
        out[name] = Result(name, mean[0], mean[1], [])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS, help="comma-separated labels.tsv files")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--repeats", type=int, default=5, help="draws per share")
    parser.add_argument("--shares", default=",".join(str(s) for s in SHARES))
    parser.add_argument("--compilations", type=float, default=0.15)
    parser.add_argument("--limit", type=int, default=None, help="tracks per corpus (smoke runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--grid",
        default=",".join(f"{d}:{s}:{b}" for d, s, b in GRID),
        help="supervised settings dims:shrink:blend, comma-separated",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    shipped_variant = plugin_default()
    model, k, how_pool, how_norm = shipped_variant[:4]
    parts = read_manifest(bundle_dir(model)).parts
    shipped = pooler(how_pool, how_norm, parts)
    systems: dict[str, tuple[Pooler, bool]] = {}
    grid = [tuple(float(x) for x in item.split(":")) for item in args.grid.split(",")]
    for dims, shrink, blend in ((int(d), s, b) for d, s, b in grid):
        name = f"supervised d{dims or 'all'} s{shrink} b{blend}"
        system = dataclasses.replace(
            shipped,
            supervise=True,
            supervise_dims=dims,
            supervise_shrink=shrink,
            supervise_blend=blend,
        )
        systems[name] = (system, False)
    shares = [float(s) for s in args.shares.split(",")]

    corpora: list[tuple[str, list, list[np.ndarray]]] = []
    for labels_file in args.labels.split(","):
        tracks = read_labels(labels_file, limit=args.limit)
        slices, _, failed = slice_vectors(tracks, model, k=k, cache_dir=args.cache)
        for line in failed:
            log(f"left out: {line}")
        kept = [i for i, s in enumerate(slices) if s is not None]
        name = Path(labels_file).resolve().parent.name
        corpora.append((name, [tracks[i] for i in kept], empty_bags([slices[i] for i in kept])))

    out = [
        f"Cold-start protocol: {' + '.join(f'{c} ({len(t)} tracks)' for c, t, _ in corpora)}; "
        f"shipped variant {' '.join(str(x) for x in shipped_variant)}; {args.repeats} draws "
        f"per share, compilations {args.compilations:.0%} of the known tracks, albums of "
        f"{ALBUM_SIZES[0]}-{ALBUM_SIZES[1]} tracks.\n"
    ]
    by_share: dict[float, dict[str, tuple[list[str], dict[str, Result], list[str]]]] = {}
    for share in shares:
        by_share[share] = {}
        for corpus, tracks, bags in corpora:
            groups = [t.group for t in tracks]
            # the chosen setting with compilations as albums (unflagged compilations)
            with_comps = {f"{name} +comps": (system, True) for name, (system, _) in systems.items()}
            log(f"{corpus}: share {share:.0%}")
            results = cold_start(
                bags,
                groups,
                shipped,
                {**systems, **with_comps},
                share=share,
                repeats=args.repeats,
                compilations=args.compilations,
                seed=args.seed,
            )
            by_share[share][corpus] = (groups, results, [corpus] * len(groups))

    header = [
        "share",
        "corpus",
        "system",
        "P@1",
        "dP@1 [95% CI]",
        "P@5",
        "dP@5 [95% CI]",
        "games +/-/of",
    ]
    rows = []
    for share, per_corpus in by_share.items():
        for corpus, (groups, results, _) in per_corpus.items():
            base = results["default"]
            for name, r in results.items():
                helped, hurt = games_helped(r, base, groups)
                rows.append(
                    [
                        f"{share:.0%}",
                        corpus,
                        name if name != "default" else "**shipped default**",
                        f"{np.nanmean(r.p1):.3f}",
                        f"{np.nanmean(r.p1 - base.p1):+.3f} {paired_ci(r.p1, base.p1)}",
                        f"{np.nanmean(r.p5):.3f}",
                        f"{np.nanmean(r.p5 - base.p5):+.3f} {paired_ci(r.p5, base.p5)}",
                        f"{helped}/{hurt}/{len(set(groups))}",
                    ]
                )
    out.append("### Cold tracks as queries, paired against the shipped default\n")
    out.append(markdown_table(header, rows))

    # leave-one-game-out over both corpora, per share: which setting, and is it ahead?
    out.append("\n### Settings chosen leave-one-game-out (both corpora, compilations flagged)\n")
    logo_rows = []
    for share, per_corpus in by_share.items():
        groups = [g for c in per_corpus.values() for g in c[0]]
        names = ["default", *systems]
        joined = {
            (model, k, name, how_norm, "none"): Result(
                name,
                np.concatenate([c[1][name].p1 for c in per_corpus.values()]),
                np.concatenate([c[1][name].p5 for c in per_corpus.values()]),
                [],
            )
            for name in names
        }
        _, chosen, p1, p5 = logo(joined, groups)
        base = joined[model, k, "default", how_norm, "none"]
        votes = {v[2]: chosen.count(v) for v in dict.fromkeys(chosen)}
        corpus_of = np.concatenate([c[2] for c in per_corpus.values()])
        cells = []
        for corpus in per_corpus:
            mask = corpus_of == corpus
            cells.append(
                f"{np.nanmean(p5[mask] - base.p5[mask]):+.3f} {paired_ci(p5[mask], base.p5[mask])}"
            )
        logo_rows.append(
            [f"{share:.0%}", "; ".join(f"{n} ({c}x)" for n, c in votes.items()), *cells]
        )
    out.append(
        markdown_table(
            ["share", "chosen (games)", *[f"{c} held-out dP@5 [95% CI]" for c, _, _ in corpora]],
            logo_rows,
        )
    )

    # per game, at the middle share
    middle = shares[len(shares) // 2]
    out.append(f"\n### P@5 per game, share {middle:.0%}\n")
    for groups, results, _ in by_share[middle].values():
        games = sorted(set(groups))
        labels = np.asarray(groups)
        out.append(
            markdown_table(
                ["system", *games],
                [
                    [name] + [f"{np.nanmean(r.p5[labels == g]):.2f}" for g in games]
                    for name, r in results.items()
                    if "+comps" not in name
                ],
            )
            + "\n"
        )

    # the plain protocol: no labels at all
    out.append("### Plain protocol (no labels): every track a query\n")
    plain_rows = []
    for corpus, tracks, bags in corpora:
        groups = [t.group for t in tracks]
        everyone = np.ones(len(groups), dtype=bool)
        _, base_vectors = shipped.fit_transform(bags)
        b1, b5 = precision(base_vectors, groups, everyone)
        for name, (system, _) in systems.items():
            _, vectors = system.fit_transform(bags, labels=None)
            p1, p5 = precision(vectors, groups, everyone)
            plain_rows.append(
                [
                    corpus,
                    name,
                    f"{np.nanmean(p5):.3f}",
                    f"{np.nanmean(p5 - b5):+.3f} {paired_ci(p5, b5)}",
                    f"{np.abs(vectors - base_vectors).max():.1e}",
                ]
            )
    out.append(
        markdown_table(
            ["corpus", "system", "P@5", "dP@5 [95% CI]", "max |vector - default's|"], plain_rows
        )
    )
    out.append(
        f"\n{time.perf_counter() - started:.0f} s, peak RSS {max_rss_bytes() / 2**20:.0f} MiB."
    )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
