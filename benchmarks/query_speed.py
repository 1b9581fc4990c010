"""How long the plugin's query commands take next to ``beet ls``, as whole ``beet`` processes.

Builds a temporary beets library of N items whose vectors are synthetic (clustered random
vectors stored under the shipped model's id, so no audio is decoded and no network runs), builds
the index once, then times each command as a subprocess, best of ``--repeat`` runs:

    beet ls                       (lists every item)
    beet ls title:track-00017     (one item: the cost of starting beets)
    beet deejai similar title:track-00017 -n 20
    beet deejai journey title:track-00017 title:track-0NNNN -n 8
    beet deejai playlist title:track-00017 -n 20
    beet deejai ls                (every item, with the state of its vectors)
    beet deejai embed --pretend   (every item: the files are synthetic, so none is current)

    python -m benchmarks.query_speed [--sizes 1000,10000] [--repeat 3] [--albums 12 --learn no]

``--albums K`` puts the items into beets albums of K tracks (the ears then learn from them,
``learn_from_library``); ``--learn no`` turns that setting off, to compare.

Prints a markdown table with each time's ratio to ``beet ls``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import beet


def _manifest():
    from deejai_model.ears.manifest import read_manifest
    from deejai_model.ears.shipped import default_bundle_path

    return read_manifest(default_bundle_path())


def build_library(
    folder: Path, n: int, seed: int = 0, *, slices: int = 4, album_size: int = 0, learn: str = ""
) -> None:
    """A beets library at ``folder/library.db`` with ``n`` items and synthetic vectors.

    The first item is added through beets (``lib.add``); the others are copies of its row with
    their own title, artist, album, track, length and path, inserted 5000 at a time (a million
    items in minutes, in bounded memory).  Vectors go through the plugin's own
    :meth:`VectorStore.put`; the database then holds ~``n * slices * dim * 4`` bytes of them.
    With ``album_size``, the items are in albums of that many tracks (of one cluster each);
    ``learn``: the ``learn_from_library`` setting written (``""``: the default).
    """
    from beets import config
    from beets.library import Item, Library

    from beetsplug.deejai.store import SliceRow, VectorStore

    manifest = _manifest()
    model_id = manifest.model_id
    dim = manifest.dim
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(4, n // 50), dim)).astype(np.float32)
    config["create_backup_before_migrations"] = False
    lib = Library(str(folder / "library.db"), str(folder / "music"))
    store = VectorStore(lib)
    starts = np.arange(slices) * 3.0

    def fields(i: int) -> dict:
        return {
            "title": f"track-{i:05d}",
            "artist": f"artist-{i % 97}",
            "album": f"album-{i % 331}",
            "track": i % 12 + 1,
            "length": 180.0 + i % 60,
            "path": os.fsencode(folder / "music" / f"{i:05d}.mp3"),
        }

    template = Item(**fields(0))
    lib.add(template)
    assert template.id == 1, "build_library needs a new database"
    with lib.transaction() as tx:
        columns = [row[1] for row in tx.query("PRAGMA table_info(items)") if row[1] != "id"]
        values = dict(
            zip(columns, tx.query(f"SELECT {', '.join(columns)} FROM items")[0], strict=True)
        )
    insert = f"INSERT INTO items ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for first in range(0, n, 5000):
        chunk = range(max(1, first), min(n, first + 5000))
        with lib.transaction() as tx:
            for i in chunk:
                changed = fields(i)
                changed["path"] = Item._fields["path"].to_sql(changed["path"])
                tx.mutate(insert, [changed.get(c, values[c]) for c in columns])
        rows = []
        for i in range(first, min(n, first + 5000)):
            noise = 0.5 * rng.normal(size=(slices, dim))
            vectors = (centers[i % len(centers)] + noise).astype(np.float32)
            path = fields(i)["path"]
            rows.append(SliceRow(i + 1, path, 1.0, 180.0, vectors, starts, False))
        store.put(model_id, rows)
    if album_size:
        items = {item.id: item for item in lib.items()}
        by_cluster: dict[int, list] = {}
        for item_id in sorted(items):
            by_cluster.setdefault((item_id - 1) % len(centers), []).append(items[item_id])
        for members in by_cluster.values():
            for start in range(0, len(members), album_size):
                lib.add_album(members[start : start + album_size])
    lib._close()
    learn_line = f"  learn_from_library: {learn}\n" if learn else ""
    (folder / "config.yaml").write_text(
        f"library: {folder / 'library.db'}\ndirectory: {folder / 'music'}\n"
        "plugins: [deejai]\ndeejai:\n  auto: no\n" + learn_line,
        encoding="utf-8",
    )


def timed(folder: Path, args: list[str], repeat: int) -> tuple[float, int]:
    """Best wall time (s) of ``beet ARGS`` over ``repeat`` runs, and its output line count."""
    best, lines = float("inf"), 0
    for _ in range(repeat):
        elapsed, stdout = beet(folder, *args)
        best, lines = min(best, elapsed), len(stdout.splitlines())
    return best, lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="library sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (best is kept)")
    parser.add_argument("--albums", type=int, default=0, help="items per album (0: no albums)")
    parser.add_argument(
        "--learn", default="", help="learn_from_library: yes / no (default: the plugin's)"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]

    print(f"| items | command | best of {args.repeat} (s) | ratio to `beet ls` | lines |")
    print("|---:|---|---:|---:|---:|")
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="deejai-bench-") as tmp:
            folder = Path(tmp)
            started = time.perf_counter()
            build_library(folder, n, album_size=args.albums, learn=args.learn)
            fill = time.perf_counter() - started
            index_s, index_out = beet(folder, "deejai", "index")
            learned = index_out.strip().splitlines()[-1] if index_out.strip() else ""
            last = f"title:track-{n - 7:05d}"
            commands = {
                "beet ls": ["ls"],
                "beet ls (one item)": ["ls", "title:track-00017"],
                "deejai similar -n 20": ["deejai", "similar", "title:track-00017", "-n", "20"],
                "deejai journey -n 8": ["deejai", "journey", "title:track-00017", last, "-n", "8"],
                "deejai playlist -n 20": ["deejai", "playlist", "title:track-00017", "-n", "20"],
                "deejai ls": ["deejai", "ls"],
                "deejai embed --pretend": ["deejai", "embed", "--pretend"],
            }
            results = {name: timed(folder, cmd, args.repeat) for name, cmd in commands.items()}
            base = results["beet ls"][0]
            for name, (seconds, lines) in results.items():
                print(f"| {n} | {name} | {seconds:.3f} | {seconds / base:.2f} | {lines} |")
            print(
                f"| {n} | (setup: library fill {fill:.1f} s, `beet deejai index` {index_s:.2f} s; "
                f"{learned}) | | | |",
                flush=True,
            )


if __name__ == "__main__":
    main()
