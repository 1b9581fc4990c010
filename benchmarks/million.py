"""A big library on one machine (issue 25): every figure next to its target, at 100k and 1M items.

The libraries are real beets databases of synthetic items (:func:`benchmarks.query_speed.
build_library`: real rows, clustered random slice vectors under the shipped model's id, no
audio), generated once into ``<cache>/million/<n>/`` (``--cache``, default
``~/.cache/deejai-bench``) and reused: 100k items take minutes, 1M items tens of minutes and
~8 GB (``--slices``, default 4 per item below 1M items, 2 at 1M).

For each size, as whole ``beet`` processes on the cached library:

- ``beet deejai index``: wall time and peak resident memory, the heap (``RssAnon``, which must
  stay bounded: ``index.FIT_SAMPLE`` / ``POOL_CHUNK``, vectors and Annoy built in their files)
  apart from the mapped index files (``RssFile``, page cache);
- ``similar``, ``journey``, ``playlist`` against ``beet ls`` of one item (target <= 1.5x);
- ``deejai ls`` against ``beet ls`` of the whole library (``--whole``; minutes at 100k);
- Annoy recall@10 at the default ``search_k`` against exact search over the index's own
  vectors (target >= 0.95);
- with ``--serve``, the web DJ's answers (:func:`benchmarks.serve_speed.serve_rows`).

    nice -n 10 python -m benchmarks.million --sizes 100000 --whole --serve
    nice -n 10 python -m benchmarks.million --sizes 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DEFAULT_CACHE, ROOT
from benchmarks.query_speed import build_library, timed

QUERY_TARGET = 1.5
LS_TARGET = 1.5
RECALL_TARGET = 0.95


def cached_library(cache: Path, n: int, slices: int) -> Path:
    """The synthetic library of ``n`` items under ``cache`` (generated on first use)."""
    folder = cache / "million" / str(n)
    if not (folder / "config.yaml").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("library.db*"):
            stale.unlink()
        started = time.perf_counter()
        build_library(folder, n, slices=slices)
        print(f"<!-- generated {n} items in {time.perf_counter() - started:.0f} s -->", flush=True)
    return folder


def _memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` / ``RssAnon`` / ``RssFile`` of process ``pid`` (KiB; empty once it is gone).

    ``RssAnon`` is the heap (what must fit in RAM); ``RssFile`` the pages of mapped files (the
    index's memory-mapped vectors and Annoy's ``on_disk_build`` file), page cache that the
    kernel writes back and evicts under pressure."""
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def index_build(folder: Path) -> tuple[float, dict[str, float]]:
    """``beet deejai index`` on ``folder``: (wall seconds, peak MiB of ``VmRSS``, ``RssAnon``,
    ``RssFile``, each sampled every 0.1 s)."""
    env = dict(os.environ, BEETSDIR=str(folder), PYTHONPATH=str(ROOT))
    peak = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "beets", "deejai", "index"], env=env)
    while process.poll() is None:
        for key, value in _memory_kib(process.pid).items():
            peak[key] = max(peak[key], value)
        time.sleep(0.1)
    wall = time.perf_counter() - started
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, process.args)
    return wall, {key: value / 1024 for key, value in peak.items()}


def annoy_recall(folder: Path, k: int = 10, queries: int = 200, seed: int = 0) -> float:
    """Mean recall@``k`` of the plugin's Annoy search (its default ``search_k``) against exact
    cosine search, over the index files in ``folder`` (queries: random indexed items)."""
    from annoy import AnnoyIndex

    from beetsplug.deejai.search import AnnoySearch, auto_search_k

    (meta,) = [p for p in folder.glob("deejai.*.json")]
    base = str(meta)[: -len(".json")]
    ids = np.load(base + ".ids.npy", mmap_mode="r")
    vectors = np.load(base + ".vectors.npy", mmap_mode="r")
    annoy = AnnoyIndex(vectors.shape[1], "angular")
    annoy.load(base + ".ann")
    search = AnnoySearch(annoy, ids, auto_search_k(len(ids)))
    rows = np.random.default_rng(seed).choice(len(ids), queries, replace=False)
    picked = np.asarray(vectors[rows], dtype=np.float32)
    best = np.full((queries, k), -np.inf, dtype=np.float32)
    where = np.zeros((queries, k), dtype=np.int64)
    for start in range(0, len(ids), 100_000):  # exact top-k, block by block (bounded memory)
        block = np.asarray(vectors[start : start + 100_000], dtype=np.float32)
        sims = np.concatenate([best, picked @ block.T], axis=1)
        cols = np.concatenate(
            [where, np.arange(start, start + len(block))[None].repeat(queries, 0)], 1
        )
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best = np.take_along_axis(sims, top, 1)
        where = np.take_along_axis(cols, top, 1)
    hits = 0
    for q, row in enumerate(rows):
        found, _ = search.nearest(np.asarray(vectors[row], dtype=np.float32), k)
        hits += len(set(found.tolist()) & set(ids[where[q]].tolist()))
    return hits / (queries * k)


def interleaved(folder: Path, commands: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Best wall time of each ``beet`` command over ``repeat`` rounds, the commands taking
    turns in each round (a busy machine then slows each about equally)."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(repeat):
        for name, command in commands.items():
            best[name] = min(best[name], timed(folder, command, 1)[0])
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="library sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query (best is kept)")
    parser.add_argument("--slices", type=int, default=0, help="slices per item (0: 4, 2 at 1M)")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where the libraries live")
    parser.add_argument("--whole", action="store_true", help="also `deejai ls` vs `beet ls`")
    parser.add_argument("--serve", action="store_true", help="also the web DJ's answers")
    parser.add_argument("--reindex", action="store_true", help="time the index build again")
    args = parser.parse_args(argv)

    print("| items | measure | value | target | met |")
    print("|---:|---|---:|---|---|")
    for n in [int(s) for s in args.sizes.split(",") if s]:
        slices = args.slices or (2 if n >= 1_000_000 else 4)
        folder = cached_library(Path(args.cache), n, slices)

        def row(what: str, value: str, target: str, met: bool | None, n: int = n) -> None:
            verdict = "" if met is None else ("yes" if met else "**no**")
            print(f"| {n} | {what} | {value} | {target} | {verdict} |", flush=True)

        if args.reindex or not list(folder.glob("deejai.*.json")):
            wall, peak = index_build(folder)
            row(
                "`beet deejai index` (wall; peak RSS = heap + mapped index files)",
                f"{wall:.0f} s; {peak['VmRSS']:.0f} MiB = {peak['RssAnon']:.0f} + "
                f"{peak['RssFile']:.0f} MiB",
                "heap bounded",
                None,
            )
        last = f"title:track-{n - 7:05d}"
        queries = {
            "ls one": ["ls", "title:track-00017"],
            "similar -n 20": ["deejai", "similar", "title:track-00017", "-n", "20"],
            "journey -n 8": ["deejai", "journey", "title:track-00017", last, "-n", "8"],
            "playlist -n 20": ["deejai", "playlist", "title:track-00017", "-n", "20"],
        }
        best = interleaved(folder, queries, args.repeat)
        one = best.pop("ls one")
        row("`beet ls` one item (s)", f"{one:.2f}", "floor", None)
        for name, seconds in best.items():
            ratio = seconds / one
            row(
                f"`deejai {name}` / `beet ls` one",
                f"{ratio:.2f}x ({seconds:.2f} s)",
                f"<= {QUERY_TARGET}x",
                ratio <= QUERY_TARGET,
            )
        recall = annoy_recall(folder)
        row(
            "Annoy recall@10, default search_k",
            f"{recall:.3f}",
            f">= {RECALL_TARGET}",
            recall >= RECALL_TARGET,
        )
        if args.whole:
            whole, _ = timed(folder, ["ls"], 1)
            mine, _ = timed(folder, ["deejai", "ls"], 1)
            row(
                "`deejai ls` / `beet ls` whole library",
                f"{mine / whole:.2f}x ({mine:.0f} s / {whole:.0f} s)",
                f"<= {LS_TARGET}x",
                mine / whole <= LS_TARGET,
            )
        if args.serve:
            from benchmarks.serve_speed import serve_rows

            *answers, (_, start_s, rss, _) = serve_rows(folder, n, repeat=args.repeat * 5)
            for name, median, _best, floor in answers:
                row(
                    f"web DJ {name} (median ms)",
                    f"{median * 1e3:.1f}",
                    f"`GET /` {floor * 1e3:.1f} ms",
                    None,
                )
            row("web DJ start-up, peak RSS", f"{start_s:.1f} s, {rss:.0f} MiB", "", None)


if __name__ == "__main__":
    main()
