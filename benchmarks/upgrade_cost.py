"""What choosing the query's model (``beetsplug/deejai/upgrade.py``) adds to a query's start.

Before, a query read one ``store.fingerprint`` (the index check); now it runs
``choose_model``, whose fingerprint the index check reuses.  For growing synthetic libraries
(a beets database in a temporary folder, items and rows written through SQL and ``put``; rows
of 8 slices x 200 floats), the median time of: one fingerprint (the floor: what a query paid
before), ``choose_model`` while an earlier default covers every item and the current default
a tenth (falling back), and ``choose_model`` once ``embed`` brought every item up to date and
retired the earlier rows.

    python -m benchmarks.upgrade_cost [--sizes 1000,20000,100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Callable

import confuse
import numpy as np
from beets.library import Library

from beetsplug.deejai import upgrade
from beetsplug.deejai.config import DEFAULTS, Settings
from beetsplug.deejai.store import SliceRow, VectorStore

OLD, NEW = "musicnn-mtt@0.1.0:959544c49989", "musicnn-mtt@9.9.9:959544c49989"


def median_ms(run: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``run()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1000.0 * float(np.median(times))


def measure(n: int, repeat: int) -> tuple[float, float, float]:
    """``(one fingerprint, choose_model falling back, choose_model up to date)`` in ms."""
    folder = tempfile.mkdtemp(prefix="deejai-upgrade-")
    lib = Library(os.path.join(folder, "library.db"), folder)
    paths = [f"/music/{i}.flac".encode() for i in range(1, n + 1)]
    with lib.transaction() as tx:
        tx.mutate_many("INSERT INTO items (id, path) VALUES (?, ?)", list(enumerate(paths, 1)))
    store = VectorStore(lib)
    slices, starts = np.zeros((8, 200), np.float32), np.zeros(8, np.float32)
    rows = [SliceRow(i, p, 1.0, 60.0, slices, starts, False) for i, p in enumerate(paths, 1)]
    view = confuse.Configuration("deejai-bench", read=False)
    view.add(DEFAULTS)
    settings = Settings.from_view(view)
    upgrade.EARLIER_DEFAULTS = (OLD,)
    for start in range(0, n, 5000):
        store.put(OLD, rows[start : start + 5000])
    store.put(NEW, rows[: n // 10])
    assert upgrade.choose_model(store, settings, NEW).earlier
    fallback = median_ms(lambda: upgrade.choose_model(store, settings, NEW), repeat)
    for start in range(0, n, 5000):
        store.put(NEW, rows[start : start + 5000])
    upgrade.retire_earlier(
        store, settings=settings, current_id=NEW, index_dir=folder, log=logging.getLogger("bench")
    )
    assert not upgrade.choose_model(store, settings, NEW).earlier
    current = median_ms(lambda: upgrade.choose_model(store, settings, NEW), repeat)
    floor = median_ms(lambda: store.fingerprint(NEW), repeat)
    return floor, fallback, current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,20000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("beets").setLevel(logging.ERROR)
    print("| items | one fingerprint (before) ms | choose_model, up to date ms | ratio |", end="")
    print(" choose_model, falling back ms | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in (int(size) for size in args.sizes.split(",")):
        floor, fallback, current = measure(n, args.repeat)
        print(
            f"| {n} | {floor:.1f} | {current:.1f} | {current / floor:.2f} | {fallback:.1f} | "
            f"{fallback / floor:.2f} |"
        )


if __name__ == "__main__":
    main()
