"""Lists that listen back (issue 22), on dev + val: what spacing costs, what reordering gains,
how history steers a radio, and how an anchor keeps a station on its seed.

Each corpus is its own library: track vectors from the cached slice vectors
(:func:`benchmarks.common.slice_vectors`) pooled by the plugin's default
(:func:`benchmarks.variants.plugin_default`), artist / album / title read from the files' own
tags (as beets would import them), and the lists made by the shipped functions of
``deejai_model.lists``.  "Same group" is the track's game (the corpus label).

    nice python -m benchmarks.listen_back --labels ~/.cache/deejai-corpus/labels.tsv,\
~/.cache/deejai-corpus-val/labels.tsv [--cache DIR]

Prints Markdown tables (stdout); progress on stderr.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    DEFAULT_CACHE,
    DEFAULT_LABELS,
    bundle_dir,
    log,
    markdown_table,
    max_rss_bytes,
    read_labels,
    slice_vectors,
)
from benchmarks.report import paired_ci
from benchmarks.variants import plugin_default, pooled_units
from deejai_model.ears.manifest import read_manifest
from deejai_model.lists.dj import DjSession
from deejai_model.lists.history import HistoryTransform, skip_shares
from deejai_model.lists.playlists import BruteForceSearch, continue_playlist, similar
from deejai_model.lists.reorder import (
    brute_force_path,
    cosine_distance_matrix,
    path_length,
    shortest_path,
)
from deejai_model.lists.spacing import Spacer, Tags

#: Spacing settings compared with the unspaced list: (artist gap, album cap).
SPACINGS = [(0, 0), (2, 0), (0, 3), (2, 3), (3, 3), (3, 2)]
#: Anchor weights compared ("stay" 1 .. "wander" 0).
ANCHORS = [0.0, 0.15, 0.3, 0.5, 0.7, 1.0]


class Library:
    """One corpus as a library: unit vectors, groups, tags, the search."""

    def __init__(self, labels: str, cache: str):
        from mediafile import MediaFile

        tracks = read_labels(labels)
        model, k, how_pool, how_norm, _ = plugin_default()
        slices, _, failed = slice_vectors(tracks, model, k=k, cache_dir=cache)
        keep = [i for i, s in enumerate(slices) if s is not None]
        parts = read_manifest(bundle_dir(model)).parts
        units = pooled_units([slices[i] for i in keep], how_pool, how_norm, parts=parts)
        self.name = Path(labels).resolve().parent.name.replace("deejai-corpus-", "") or "dev"
        if self.name == "deejai-corpus":
            self.name = "dev"
        self.tracks = [tracks[i] for i in keep]
        self.ids = np.arange(len(keep))
        self.units = units.astype(np.float32)
        self.groups = np.array([t.group for t in self.tracks])
        self.vectors = dict(zip(self.ids.tolist(), self.units, strict=True))
        self.search = BruteForceSearch(self.ids, self.units)
        self.tags = {}
        for i, track in zip(self.ids.tolist(), self.tracks, strict=True):
            tags = MediaFile(track.path)
            album = f"{tags.albumartist or tags.artist or ''}/{tags.album}" if tags.album else ""
            self.tags[i] = Tags(str(tags.artist or ""), album, str(tags.title or ""))
        self.failed = failed

    def same(self, seed: int, ids) -> float:
        ids = list(ids)
        return float(np.mean(self.groups[ids] == self.groups[seed])) if ids else np.nan

    def to_seed(self, seed: int, ids) -> float:
        ids = list(ids)
        return float(np.mean(1.0 - self.units[ids] @ self.units[seed])) if ids else np.nan


def spacing_table(libs: list[Library]) -> str:
    rows = []
    for lib in libs:
        base5 = base10 = None
        for gap, cap in SPACINGS:
            spacer = Spacer(lib.tags, gap, cap) if (gap or cap) else None
            p5, p10, broken = [], [], 0
            for seed in lib.ids.tolist():
                found = [
                    t.id
                    for t in similar(
                        lib.search, lib.vectors[seed], n=10, exclude=[seed], spacer=spacer
                    )
                ]
                p5.append(lib.same(seed, found[:5]))
                p10.append(lib.same(seed, found))
                broken += bool(+Spacer(lib.tags, 3, 3).violations(found))
            p5, p10 = np.array(p5), np.array(p10)
            if base5 is None:
                base5, base10 = p5, p10
            rows.append(
                [
                    lib.name,
                    f"{gap or 'off'} / {cap or 'off'}",
                    f"{p5.mean():.3f}",
                    paired_ci(p5, base5) if gap or cap else "",
                    f"{p10.mean():.3f}",
                    paired_ci(p10, base10) if gap or cap else "",
                    f"{broken / len(p5):.2f}",
                ]
            )
    return markdown_table(
        [
            "corpus",
            "artist gap / album cap",
            "same-group @5",
            "vs unspaced (95% CI)",
            "same-group @10",
            "vs unspaced (95% CI)",
            "lists breaking 3/3",
        ],
        rows,
    )


def reorder_table(libs: list[Library], lists: int = 60) -> str:
    rows = []
    for lib in libs:
        rng = np.random.default_rng(0)
        for kind, size in (("random 8", 8), ("similar top 8", 8), ("random 30", 30)):
            gain_in, gap_opt, seconds = [], [], []
            for _ in range(lists):
                if kind.startswith("similar"):
                    seed = int(rng.integers(len(lib.ids)))
                    ids = [seed] + [
                        t.id
                        for t in similar(lib.search, lib.vectors[seed], n=size - 1, exclude=[seed])
                    ]
                    rng.shuffle(ids)
                else:
                    ids = rng.choice(len(lib.ids), size, replace=False).tolist()
                dist = cosine_distance_matrix(lib.units[ids])
                start = time.perf_counter()
                order = shortest_path(dist)
                seconds.append(time.perf_counter() - start)
                ours = path_length(dist, order)
                gain_in.append(1.0 - ours / path_length(dist, range(size)))
                if size <= 9:
                    gap_opt.append(ours / path_length(dist, brute_force_path(dist)) - 1.0)
            exact = f"{np.mean(np.array(gap_opt) < 1e-9):.2f}" if gap_opt else "-"
            worst = f"{max(gap_opt):.4f}" if gap_opt else "-"
            rows.append(
                [
                    lib.name,
                    kind,
                    lists,
                    f"{np.mean(gain_in):.3f}",
                    exact,
                    worst,
                    f"{1000 * np.median(seconds):.1f}",
                ]
            )
    return markdown_table(
        [
            "corpus",
            "list",
            "lists",
            "distance saved vs input order",
            "optimal (share)",
            "worst excess over optimum",
            "median ms",
        ],
        rows,
    )


def history_table(libs: list[Library], picks: int = 10, share: float = 0.2) -> str:
    """A radio of ``picks`` from every seed, without and with history: a random ``share`` of the
    library skipped 3 times (played 0), and the same share played yesterday (``--fresh 7``)."""
    rows = []
    for lib in libs:
        rng = np.random.default_rng(1)
        n = len(lib.ids)
        skipped = set(rng.choice(n, int(share * n), replace=False).tolist())
        recent = set(rng.choice(n, int(share * n), replace=False).tolist())
        shares = skip_shares({}, {t: 3 for t in skipped})
        for weight in (0.05, 0.1, 0.2):
            changed, skip_before, skip_after, same_b, same_a = [], [], [], [], []
            for seed in lib.ids.tolist():
                before = DjSession(lib.search, lib.vectors, ahead=picks)
                before.start([seed])
                after = DjSession(
                    lib.search,
                    lib.vectors,
                    ahead=picks,
                    score_transform=HistoryTransform(shares, weight),
                )
                after.start([seed])
                changed.append(
                    np.mean([a != b for a, b in zip(before.queue, after.queue, strict=False)])
                )
                skip_before.append(np.mean([t in skipped for t in before.queue]))
                skip_after.append(np.mean([t in skipped for t in after.queue]))
                same_b.append(lib.same(seed, before.queue))
                same_a.append(lib.same(seed, after.queue))
            rows.append(
                [
                    lib.name,
                    f"skips, weight {weight}",
                    f"{np.mean(changed):.2f}",
                    f"{np.mean(skip_before):.3f} -> {np.mean(skip_after):.3f}",
                    f"{np.mean(same_b):.3f} -> {np.mean(same_a):.3f}",
                    paired_ci(np.array(same_a), np.array(same_b)),
                ]
            )
        changed, rec_b, same_b, same_a = [], [], [], []
        for seed in lib.ids.tolist():
            before = continue_playlist(lib.search, lib.vectors, seeds=[seed], n=picks)
            after = continue_playlist(
                lib.search, lib.vectors, seeds=[seed], n=picks, exclude=recent - {seed}
            )
            changed.append(np.mean([a != b for a, b in zip(before, after, strict=False)]))
            rec_b.append(np.mean([t in recent for t in before]))
            same_b.append(lib.same(seed, before))
            same_a.append(lib.same(seed, after))
        rows.append(
            [
                lib.name,
                "--fresh (20% played lately)",
                f"{np.mean(changed):.2f}",
                f"{np.mean(rec_b):.3f} -> 0.000 (recent)",
                f"{np.mean(same_b):.3f} -> {np.mean(same_a):.3f}",
                paired_ci(np.array(same_a), np.array(same_b)),
            ]
        )
    return markdown_table(
        [
            "corpus",
            "history",
            "picks changed",
            "skipped (or recent) share of picks",
            "same-group share",
            "paired 95% CI",
        ],
        rows,
    )


def anchor_rows(libs: list[Library], lookback: int = 3) -> tuple[str, str]:
    rows, per_game = [], {}
    for lib in libs:
        base = {}
        for vary in (1, 3):
            for weight in ANCHORS:
                s10, s30, d10, d30, distinct = [], [], [], [], []
                for seed in lib.ids.tolist():
                    run = continue_playlist(
                        lib.search,
                        lib.vectors,
                        seeds=[seed],
                        n=30,
                        lookback=lookback,
                        anchor=lib.vectors[seed],
                        anchor_weight=weight,
                        vary=vary,
                        rng=seed,
                    )
                    s10.append(lib.same(seed, run[:10]))
                    s30.append(lib.same(seed, run))
                    d10.append(lib.to_seed(seed, run[:10]))
                    d30.append(lib.to_seed(seed, run))
                    if vary > 1:
                        again = continue_playlist(
                            lib.search,
                            lib.vectors,
                            seeds=[seed],
                            n=10,
                            lookback=lookback,
                            anchor=lib.vectors[seed],
                            anchor_weight=weight,
                            vary=vary,
                            rng=seed + 10_000,
                        )
                        distinct.append(np.mean([a != b for a, b in zip(run, again, strict=False)]))
                    else:
                        distinct.append(0.0)
                s10, s30 = np.array(s10), np.array(s30)
                if (vary, weight) == (1, 0.0):
                    base = {"s10": s10, "s30": s30}
                per_game.setdefault((vary, weight), {}).setdefault(lib.name, (lib.groups, s30))
                rows.append(
                    [
                        lib.name,
                        weight,
                        vary,
                        f"{s10.mean():.3f}",
                        paired_ci(s10, base["s10"]) if weight or vary > 1 else "",
                        f"{s30.mean():.3f}",
                        paired_ci(s30, base["s30"]) if weight or vary > 1 else "",
                        f"{np.mean(d10):.3f}",
                        f"{np.mean(d30):.3f}",
                        f"{np.mean(distinct):.2f}",
                    ]
                )
    table = markdown_table(
        [
            "corpus",
            "anchor",
            "vary",
            "same-group @10",
            "vs today (CI)",
            "same-group @30",
            "vs today (CI)",
            "dist. to seed @10",
            "@30",
            "picks differing between two runs",
        ],
        rows,
    )
    game_rows = []
    for lib in libs:
        groups = sorted(set(lib.groups))
        for g in groups:
            cells = [lib.name, g]
            for key in ((1, 0.0), (1, 0.3), (1, 0.5), (3, 0.3)):
                labels, s30 = per_game[key][lib.name]
                cells.append(f"{s30[labels == g].mean():.2f}")
            game_rows.append(cells)
    games = markdown_table(
        ["corpus", "game", "today @30", "anchor 0.3 @30", "anchor 0.5 @30", "0.3 + vary 3 @30"],
        game_rows,
    )
    return table, games


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--labels",
        default=",".join(
            [DEFAULT_LABELS, os.path.expanduser("~/.cache/deejai-corpus-val/labels.tsv")]
        ),
        help="labels files, comma-separated (each one library)",
    )
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--only", default="spacing,reorder,history,anchor")
    args = parser.parse_args()
    start = time.perf_counter()
    libs = [Library(path, args.cache) for path in args.labels.split(",")]
    for lib in libs:
        log(f"{lib.name}: {len(lib.ids)} tracks, {len(set(lib.groups))} games")
    only = set(args.only.split(","))
    names = ", ".join(f"{lib.name} ({len(lib.ids)} tracks)" for lib in libs)
    print(f"# Lists that listen back: {names}")
    if "spacing" in only:
        print("\n## What spacing costs in same-group precision (similar, top 10)\n")
        print(spacing_table(libs))
    if "reorder" in only:
        print("\n## Reorder: distance saved, and against the optimum (brute force, 8 tracks)\n")
        print(reorder_table(libs))
    if "history" in only:
        print("\n## How history steers a radio (10 picks from every seed)\n")
        print(history_table(libs))
    if "anchor" in only:
        table, games = anchor_rows(libs)
        print("\n## Anchor: coherence over 10 and 30 picks (lookback 3, drunk 0)\n")
        print(table)
        print("\n### Same-group share over 30 picks, per game\n")
        print(games)
    mib = max_rss_bytes() / 2**20
    print(f"\n{time.perf_counter() - start:.0f} s, peak memory {mib:.0f} MiB")


if __name__ == "__main__":
    main()
