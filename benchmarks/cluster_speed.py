"""Embedding on a Dask cluster (issue 25): tracks/s in-process and on 1 and 2 local workers,
the single writer's ceiling, the bytes per track that cross the network, and on paper the
speed-up with N machines and where it stops.

All on the same files in one run (the corpus's first ``--files``, else generated music):

- in-process: the plugin's own :class:`Embedder` (``workers`` decoding threads, as ``beet deejai
  embed`` runs it);
- ``LocalCluster`` of 1 and 2 worker processes, 1 thread each, through
  :class:`beetsplug.deejai.cluster.ClusterEmbedder` (what ``embed --dask`` runs), after a
  warm-up pass that loads the bundle on every worker;
- the writer: :meth:`VectorStore.put` of synthetic rows of the same shape into a real beets
  library on disk, ``commit_every`` rows per transaction (rows/s);
- bytes per track: the pickled result (what Dask sends back: slices, starts, duration) and the
  task (the path, the model id).

    nice -n 10 python -m benchmarks.cluster_speed [--files 24]
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DEFAULT_LABELS, loadavg, read_labels


def _files(n: int, folder: Path) -> list[str]:
    if Path(DEFAULT_LABELS).exists():
        return [str(t.path) for t in read_labels(DEFAULT_LABELS, limit=n)]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from conftest import make_music

    per_kind = max(1, n // 4)
    return [str(p) for p in make_music(folder, per_kind=per_kind, seconds=60.0)][:n]


def _rate(run, paths: list[str]) -> tuple[float, list]:
    started = time.perf_counter()
    results = list(run(paths))
    rate = len(paths) / (time.perf_counter() - started)
    failed = [str(r) for _, r in results if not hasattr(r, "vectors")]
    if failed:  # a rate of failures would mean nothing
        raise RuntimeError(f"{len(failed)} tracks failed: {failed[:3]}")
    return rate, results


def writer_ceiling(dim: int, n_slices: int, *, rows: int = 2000, commit_every: int = 8) -> float:
    """Rows/s :meth:`VectorStore.put` takes into a beets library on disk, ``commit_every``
    rows per transaction."""
    from beets import config
    from beets.library import Item, Library

    from beetsplug.deejai.store import SliceRow, VectorStore

    config["create_backup_before_migrations"] = False
    with tempfile.TemporaryDirectory(prefix="deejai-writer-") as tmp:
        lib = Library(os.path.join(tmp, "library.db"), tmp)
        items = []
        with lib.transaction():
            for i in range(rows):
                item = Item(title=f"t{i}", path=os.fsencode(os.path.join(tmp, f"{i}.mp3")))
                lib.add(item)
                items.append(item)
        store = VectorStore(lib)
        rng = np.random.default_rng(0)
        slices = rng.normal(size=(n_slices, dim)).astype(np.float32)
        starts = np.arange(n_slices, dtype=np.float32)
        batch = [SliceRow(it.id, it.path, 1.0, 180.0, slices, starts, False) for it in items]
        started = time.perf_counter()
        for first in range(0, rows, commit_every):
            store.put("bench@1:000000000000", batch[first : first + commit_every])
        rate = rows / (time.perf_counter() - started)
        lib._close()
    return rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=24, help="tracks to embed per setting")
    args = parser.parse_args(argv)

    from distributed import LocalCluster

    from beetsplug.deejai.cluster import ClusterEmbedder
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder
    from deejai_model.ears.shipped import default_bundle_path

    bundle_dir = str(default_bundle_path())
    with tempfile.TemporaryDirectory(prefix="deejai-cluster-") as tmp:
        paths = _files(args.files, Path(tmp))
        bundle = load_bundle(bundle_dir)
        local = Embedder(bundle, max_slices=8, workers=2, batch_size=64)
        list(local.embed_paths(paths[:2]))  # warm
        rates = {}
        rates["in-process (2 decoding threads)"], results = _rate(local.embed_paths, paths)
        for workers in (1, 2):
            with LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster:
                remote = ClusterEmbedder(
                    cluster.scheduler_address,
                    bundle=bundle_dir,
                    model_id=bundle.model_id,
                    max_slices=8,
                    batch_size=64,
                    stream=open(os.devnull, "w"),  # noqa: SIM115
                )
                list(remote.embed_paths(paths[: 2 * workers]))  # warm: bundles loaded
                rates[f"Dask, {workers} local worker(s) x 1 thread"], _ = _rate(
                    remote.embed_paths, paths
                )
    done = [r for _, r in results if hasattr(r, "vectors")]
    n_slices = int(np.mean([r.vectors.shape[0] for r in done]))
    dim = int(done[0].vectors.shape[1])
    result_bytes = float(np.mean([len(pickle.dumps(r, protocol=5)) for r in done]))
    task_bytes = float(np.mean([len(pickle.dumps((p, bundle.model_id))) for p in paths]))
    ceiling = writer_ceiling(dim, n_slices)

    print(f"<!-- {len(paths)} tracks; load average {loadavg()} -->")
    print("| setting | tracks/s | vs in-process |")
    print("|---|---:|---:|")
    base = rates["in-process (2 decoding threads)"]
    for name, rate in rates.items():
        print(f"| {name} | {rate:.2f} | {rate / base:.2f}x |")
    print(f"| the single SQLite writer (`VectorStore.put`, 8 rows a commit) | {ceiling:.0f} | |")
    print()
    per_worker = rates["Dask, 1 local worker(s) x 1 thread"]
    per_track = result_bytes + task_bytes
    print(
        f"Bytes per track over the network: {result_bytes:.0f} back (slices {n_slices} x {dim})"
        f" + {task_bytes:.0f} out = {per_track / 1024:.1f} KiB."
    )
    print()
    print("| machines (1 worker thread each, as measured) | tracks/s on paper | limited by |")
    print("|---:|---:|---|")
    link = 100e6 / 8  # a 100 Mbit/s home network, bytes/s
    for machines in (1, 2, 4, 8, 16, 64, 256):
        limits = {
            "workers": machines * per_worker,
            "the writer": ceiling,
            "100 Mbit/s": link / per_track,
            "Dask's scheduler (~1 ms a task)": 1000.0,
        }
        name = min(limits, key=limits.get)
        print(f"| {machines} | {limits[name]:.1f} | {name} |")


if __name__ == "__main__":
    main()
