"""What the plugin's row-ownership check costs on a large library.

usage: python benchmarks/store_reads.py [--items 50000] [--repeat 5]

Builds a beets library of ``--items`` items (paths inside its music directory, so beets stores
them relative) with one small row each in the plugin's tables, then times, best of
``--repeat``:

- the floor: a bare ``COUNT(*)`` of rows joined with ``items`` by id only (what the store did
  before it checked that a row was made from the item's path);
- ``VectorStore.fingerprint`` (every query command runs it), ``embedded_state`` and
  ``item_ids``, which only read rows made from their item's path.

Prints a markdown table of seconds and the ratio to the floor, and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from beets.library import Library  # noqa: E402

from beetsplug.deejai.store import SliceRow, VectorStore  # noqa: E402

MODEL = "bench@1:000000000000"


def best(fn, repeat: int) -> float:
    """Best wall seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="deejai-store-bench-")
    music = os.path.join(folder, "music")
    lib = Library(os.path.join(folder, "library.db"), music)
    store = VectorStore(lib)
    names = [f"artist {i % 300}/album {i % 4000}/{i:05d} track.flac" for i in range(args.items)]
    with lib.transaction() as tx:
        tx.mutate_many(
            "INSERT INTO items (id, path, title) VALUES (?, ?, ?)",
            [(i + 1, name.encode(), "t") for i, name in enumerate(names)],
        )
    one = np.zeros((1, 4), np.float32)
    store.put(
        MODEL,
        [
            SliceRow(i + 1, os.path.join(music, name).encode(), 1.0, 1.0, one, np.zeros(1), False)
            for i, name in enumerate(names)
        ],
    )

    def floor() -> None:
        with lib.transaction() as tx:
            tx.query(
                "SELECT COUNT(*) FROM deejai_vectors v JOIN items i ON i.id = v.item_id "
                "WHERE v.model_id = ?",
                (MODEL,),
            )

    assert store.fingerprint(MODEL)["count"] == args.items
    base = best(floor, args.repeat)
    rows = [("COUNT(*) joined by id (floor)", base)]
    rows.append(("fingerprint", best(lambda: store.fingerprint(MODEL), args.repeat)))
    rows.append(("embedded_state (all)", best(lambda: store.embedded_state(MODEL), args.repeat)))
    rows.append(("item_ids", best(lambda: store.item_ids(MODEL), args.repeat)))
    print(f"{args.items} items, best of {args.repeat}\n")
    print("| read | seconds | x floor |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.4f} | {seconds / base:.1f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
