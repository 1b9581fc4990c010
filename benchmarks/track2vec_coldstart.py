"""Proof that trained ears hear, not remember: cold-start retrieval after training on playlists.

For each corpus (labels.tsv: path, group = game, seconds) and each split seed:

1. 70 % of the tracks of every game are "warm": they appear in generated playlists (each
   playlist draws from one game's warm tracks, and each entry is, with probability
   ``--stray``, a warm track of another game instead); the other 30 % are "cold": in no playlist.
2. Track2Vec is trained on the playlists (the plugin's defaults), then the head
   (:mod:`deejai_model.learn.head`) on the warm tracks' stored musicnn slice vectors.
3. Every track, warm and cold, is embedded by the head from its slices; cold tracks are the
   queries, all other tracks the library: same-game P@1 and P@5.  Against the untrained
   default ears on the same queries (paired bootstrap interval of the per-query difference),
   with the same pooling.

Also prints the head's validation cosine beside the best constant vector (Deej-A.I.: 0.70 vs
0.52) and per-game P@5.

Run from the repository root (slices are cached in ``--cache``, as benchmarks.quality does)::

    python -m benchmarks.track2vec_coldstart --labels /work/corpus/dev/labels.tsv \\
        --labels /work/corpus/val/labels.tsv --seeds 3
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

from benchmarks.common import (
    DEFAULT_CACHE,
    TreeMemorySampler,
    bootstrap_ci,
    cosine_distances,
    hits_at_k,
    markdown_table,
    read_labels,
)
from benchmarks.quality import normalise, ours_slices, pool


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def make_playlists(
    groups: Sequence[str],
    warm: np.ndarray,
    rng: np.random.Generator,
    per_track: float = 3.0,
    length: int = 8,
    stray: float = 0.1,
) -> list[list[int]]:
    """Playlists of track indices: mostly one game's warm tracks, with some strays.

    About ``per_track`` playlists per warm track of ``length`` entries each, games drawn in
    proportion to their warm tracks.
    """
    labels = np.asarray(groups)
    warm_idx = np.flatnonzero(warm)
    by_group = {g: warm_idx[labels[warm_idx] == g] for g in np.unique(labels[warm_idx])}
    names = list(by_group)
    weights = np.array([len(by_group[g]) for g in names], dtype=float)
    n_lists = int(round(per_track * len(warm_idx) / length * 2))
    out = []
    for _ in range(n_lists):
        game = names[rng.choice(len(names), p=weights / weights.sum())]
        members = by_group[game]
        picks = rng.choice(members, min(length, len(members)), replace=False)
        playlist = [
            int(rng.choice(warm_idx)) if rng.random() < stray else int(track) for track in picks
        ]
        out.append(playlist)
    return out


def split(groups: Sequence[str], share: float, rng: np.random.Generator) -> np.ndarray:
    """Warm mask: ``share`` of each game's tracks (at least 2 warm and 1 cold per game)."""
    labels = np.asarray(groups)
    warm = np.zeros(len(labels), dtype=bool)
    for g in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == g))
        n_warm = min(max(2, int(round(share * len(idx)))), len(idx) - 1)
        warm[idx[:n_warm]] = True
    return warm


def evaluate(vectors: np.ndarray, groups, cold: np.ndarray, valid: np.ndarray, how: str):
    """Per-query P@1 and P@5 of the cold tracks (library: every valid track)."""
    unit = normalise(vectors, valid, how)
    d = cosine_distances(unit)
    return {k: hits_at_k(d, groups, k, valid=valid, queries=cold & valid) for k in (1, 5)}


def run_corpus(labels: str, seeds: int, cache: str, share: float, stray: float, epochs: int):
    from deejai_model.learn.head import HeadParams, train_head
    from deejai_model.learn.track2vec import Track2VecParams, auto_epochs, train_track2vec

    tracks = read_labels(labels)
    groups = [t.group for t in tracks]
    slices, _, failed = ours_slices(tracks, "mtt", 8, cache)
    valid = np.array([s is not None for s in slices])
    log(f"{labels}: {len(tracks)} tracks, {len(set(groups))} games, {len(failed)} failed")
    dim = next(s.shape[1] for s in slices if s is not None)
    bags = [s if s is not None else np.zeros((0, dim), np.float32) for s in slices]

    rows_pk, per_game, cosines = [], {}, []
    diffs = {1: [], 5: [], "plugin 1": [], "plugin 5": []}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        warm = split(groups, share, rng) & valid
        cold = ~warm & valid
        lists = make_playlists(groups, warm, rng, stray=stray)
        t2v = train_track2vec(
            [[str(i) for i in p] for p in lists],
            Track2VecParams(
                min_count=1,
                sample=0.0,
                epochs=auto_epochs(sum(map(len, lists))),
                seed=seed + 1,
            ),
        )
        trainable = [i for i in range(len(tracks)) if str(i) in t2v and valid[i]]
        started = time.perf_counter()
        model, report = train_head(
            [bags[i] for i in trainable],
            np.stack([t2v.vector(str(i)) for i in trainable]),
            HeadParams(epochs=epochs, seed=seed),
        )
        seconds = time.perf_counter() - started
        cosines.append((report.val_cosine, report.constant_cosine, report.epochs, seconds))
        head_bags = [
            np.asarray(model(b, training=False)) if len(b) else np.zeros((0, 100), np.float32)
            for b in bags
        ]
        systems = {
            "default ears, mean, centre": evaluate(
                pool(bags, "mean"), groups, cold, valid, "centre"
            ),
            "default ears, plugin default (trackda-meanstd, centre)": evaluate(
                pool(bags, "trackda-meanstd"), groups, cold, valid, "centre"
            ),
            "trained head, mean, centre": evaluate(
                pool(head_bags, "mean"), groups, cold, valid, "centre"
            ),
            "trained head, plugin default (trackda-meanstd, centre)": evaluate(
                pool(head_bags, "trackda-meanstd"), groups, cold, valid, "centre"
            ),
        }
        base = systems["default ears, mean, centre"]
        for name, result in systems.items():
            rows_pk.append((seed, name, result))
        trained = systems["trained head, mean, centre"]
        plugin_base = systems["default ears, plugin default (trackda-meanstd, centre)"]
        plugin_trained = systems["trained head, plugin default (trackda-meanstd, centre)"]
        for k in (1, 5):
            diffs[k].append(trained[k] - base[k])
            diffs[f"plugin {k}"].append(plugin_trained[k] - plugin_base[k])
        labels_cold = np.asarray(groups)[cold]
        for g in np.unique(labels_cold):
            mask = labels_cold == g
            per_game.setdefault(g, []).append((base[5][mask].mean(), trained[5][mask].mean()))
        log(
            f"seed {seed}: {int(warm.sum())} warm / {int(cold.sum())} cold tracks, "
            f"{len(lists)} playlists, head {report.line()} in {seconds:.0f} s"
        )
    return tracks, rows_pk, per_game, cosines, diffs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", action="append", required=True, help="labels.tsv (repeat)")
    parser.add_argument("--seeds", type=int, default=3, help="random splits per corpus")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--share", type=float, default=0.7, help="share of tracks in playlists")
    parser.add_argument("--stray", type=float, default=0.1, help="chance an entry is off-game")
    parser.add_argument("--epochs", type=int, default=200, help="most head epochs")
    args = parser.parse_args(argv)

    for labels in args.labels:
        with TreeMemorySampler() as memory:
            tracks, rows_pk, per_game, cosines, diffs = run_corpus(
                labels, args.seeds, args.cache, args.share, args.stray, args.epochs
            )
        print(f"\n### {labels}: cold-start same-game precision ({args.seeds} splits)\n")
        table = []
        names = list(dict.fromkeys(name for _, name, _ in rows_pk))
        for name in names:
            p1 = np.concatenate([r[1] for _, n, r in rows_pk if n == name])
            p5 = np.concatenate([r[5] for _, n, r in rows_pk if n == name])
            table.append((name, len(p1), "{:.3f} [{:.3f}, {:.3f}]".format(*bootstrap_ci(p1))))
            table[-1] += ("{:.3f} [{:.3f}, {:.3f}]".format(*bootstrap_ci(p5)),)
        print(markdown_table(("system", "cold queries", "P@1 [95% CI]", "P@5 [95% CI]"), table))
        print("\nPaired difference per cold query, trained head minus default ears:\n")
        print(
            markdown_table(
                ("pooling", "metric", "mean difference [95% paired bootstrap CI]"),
                [
                    (
                        "mean, centre" if isinstance(k, int) else "plugin default",
                        f"P@{str(k)[-1]}",
                        "{:+.3f} [{:+.3f}, {:+.3f}]".format(
                            *bootstrap_ci(np.concatenate(diffs[k]))
                        ),
                    )
                    for k in diffs
                ],
            )
        )
        print("\nHead validation cosine (held-out warm tracks' slices) vs best constant vector:\n")
        print(
            markdown_table(
                ("split", "head", "constant", "epochs", "train s"),
                [
                    (i, f"{c[0]:.3f}", f"{c[1]:.3f}", c[2], f"{c[3]:.0f}")
                    for i, c in enumerate(cosines)
                ],
            )
        )
        print("\nPer game, cold-query P@5 (mean over splits): default ears -> trained head\n")
        print(
            markdown_table(
                ("game", "default", "trained"),
                [
                    (
                        g,
                        f"{np.mean([v[0] for v in vals]):.2f}",
                        f"{np.mean([v[1] for v in vals]):.2f}",
                    )
                    for g, vals in sorted(per_game.items())
                ],
            )
        )
        print(f"\npeak memory (process tree): {memory.peak_bytes / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
