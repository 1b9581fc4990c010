"""Shared pieces of the benchmarks: where the corpus and the cache are, the labelled corpus,
the shipped bundles by short name, slice vectors from the shipped Embedder, retrieval metrics,
caching, measuring.

Run the benchmarks from the repository root as modules (``python -m benchmarks.quality``),
so that both ``benchmarks`` and ``deejai_model`` import without installing anything.

Locations come from the environment, as the tests' (``tests/corpus.py``) do:

``DEEJAI_CORPUS``
    the corpus folder holding ``labels.tsv`` (default ``~/.cache/deejai-corpus``, where
    ``scripts/fetch_corpus.sh`` builds it);
``DEEJAI_BENCH_CACHE``
    the folder of the benchmarks' caches (default ``~/.cache/deejai-bench``).
"""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deejai_model.ears.shipped import BUNDLES_DIR, DEFAULT_BUNDLE, manifest_model_id
from deejai_model.files import replaced_atomically

#: The corpus folder: ``$DEEJAI_CORPUS``, else where ``scripts/fetch_corpus.sh`` puts it.
CORPUS_DIR = Path(os.environ.get("DEEJAI_CORPUS") or Path.home() / ".cache" / "deejai-corpus")
#: The labels file of the corpus (``path<TAB>group<TAB>seconds``, header row).
DEFAULT_LABELS = str(CORPUS_DIR / "labels.tsv")
#: The benchmarks' caches (slice vectors, peers' analyses): ``$DEEJAI_BENCH_CACHE`` or default.
DEFAULT_CACHE = os.environ.get("DEEJAI_BENCH_CACHE") or str(Path.home() / ".cache" / "deejai-bench")

#: Short names of the shipped bundles (folders of ``deejai_model/ears/bundles``).
MODELS = {
    "default": DEFAULT_BUNDLE,
    "mtt": "musicnn_mtt",
    "msd": "musicnn_msd",
    "light": "musicnn_fused_light",
}


def log(message: str) -> None:
    """Progress on stderr (stdout is the Markdown report)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Track:
    """One labelled track of the dev corpus.

    Attributes
    ----------
    path : str
        Audio file path.
    group : str
        Label; here the game the music comes from.
    seconds : float
        Duration in seconds.
    """

    path: str
    group: str
    seconds: float


def read_labels(path: str | os.PathLike = DEFAULT_LABELS, limit: int | None = None) -> list[Track]:
    """Read a ``path<TAB>group<TAB>seconds`` file with a header line (default: the corpus').

    Parameters
    ----------
    path : str or PathLike
        The TSV file.
    limit : int, optional
        Keep only this many tracks, taken evenly over the groups (round robin), so that a
        small run still sees every group.

    Returns
    -------
    list of Track
        In file order (or round-robin order when ``limit`` is given).
    """
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    folder = Path(path).resolve().parent
    tracks = [
        Track(str(folder / r["path"]), r["group"], float(r["seconds"])) for r in rows
    ]  # a relative path is relative to the labels file (an absolute one stays as it is)
    if limit is None or limit >= len(tracks):
        return tracks
    by_group: dict[str, list[Track]] = {}
    for track in tracks:
        by_group.setdefault(track.group, []).append(track)
    picked: list[Track] = []
    queues = [list(v) for v in by_group.values()]
    while len(picked) < limit:
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


# --------------------------------------------------------------------------- slice vectors


def bundle_dir(model: str) -> Path:
    """Bundle folder of a short name (:data:`MODELS`: ``default``, ``mtt``, ...) or a path."""
    return BUNDLES_DIR / MODELS[model] if model in MODELS else Path(model)


def bundle_key(model: str) -> str:
    """``<name>@<version>:<sha12>`` of a model, read from its manifest alone (no TensorFlow)."""
    return manifest_model_id(bundle_dir(model))


def slice_vectors(
    tracks: Sequence[Track], model: str, *, k: int, cache_dir: str | os.PathLike, workers: int = 2
) -> tuple[list[np.ndarray | None], list[np.ndarray | None], list[str]]:
    """Per-slice vectors of every track as the plugin computes them, cached per (model, K).

    Runs the shipped ``Embedder(load_bundle(...), max_slices=k, workers=workers).embed_paths``
    on the tracks missing from ``<cache_dir>/ours_<model id>_K<k>.npz`` (saved every 40 tracks).

    Returns
    -------
    (vectors, starts, failures)
        ``vectors[i]``: ``(n_slices, dim)`` float32, or None when track ``i`` failed;
        ``starts[i]``: ``(n_slices, 1)`` slice start times in seconds; failures as
        ``"path: reason"`` lines.
    """
    name = f"ours_{bundle_key(model)}_K{k or 'all'}"
    path = cache_file(cache_dir, name)
    vectors: dict[str, np.ndarray | None] = {}
    starts: dict[str, np.ndarray | None] = {}
    errors: dict[str, str] = {}
    if path.exists():
        paths, arrays, meta = load_ragged(path)
        vectors = dict(zip(paths, arrays, strict=True))
        _, start_arrays, _ = load_ragged(cache_file(cache_dir, name + "_starts"))
        starts = dict(zip(paths, start_arrays, strict=True))
        errors = dict(zip(paths, [str(e) for e in meta["errors"]], strict=True))
    todo = [t.path for t in tracks if t.path not in vectors]
    if todo:
        from deejai_model.ears.bundle import load_bundle
        from deejai_model.ears.embed import Embedder

        log(f"embedding {len(todo)} tracks with {model}, K={k or 'all'}")
        embedder = Embedder(load_bundle(bundle_dir(model)), max_slices=k, workers=workers)
        for done, (track_path, result) in enumerate(embedder.embed_paths(todo), 1):
            if isinstance(result, Exception):
                vectors[track_path], starts[track_path] = None, None
                errors[track_path] = str(result)
                log(f"failed: {result}")
            else:
                vectors[track_path] = result.vectors
                starts[track_path] = result.starts.reshape(-1, 1)
                errors[track_path] = ""
            if done % 40 == 0 or done == len(todo):
                save_known(path, vectors, errors)
                save_known(cache_file(cache_dir, name + "_starts"), starts)
                log(f"{model} K={k or 'all'}: {done}/{len(todo)}")
    keys = list(vectors)
    out_vectors = align(tracks, keys, [vectors[p] for p in keys])
    out_starts = align(tracks, keys, [starts[p] for p in keys])
    failed = [
        f"{t.path}: {errors.get(t.path, 'missing')}"
        for t, v in zip(tracks, out_vectors, strict=True)
        if v is None
    ]
    return out_vectors, out_starts, failed


# --------------------------------------------------------------------------- distances


def cosine_distances(vectors: np.ndarray) -> np.ndarray:
    """Pairwise cosine distances ``1 - u.v / (|u| |v|)`` of the rows, float64, shape (n, n).

    A zero row gets distance 1 to everything.
    """
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    return 1.0 - x @ x.T


def euclidean_distances(vectors: np.ndarray) -> np.ndarray:
    """Pairwise euclidean distances of the rows, float64, shape (n, n)."""
    x = np.asarray(vectors, dtype=np.float64)
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    return np.sqrt(np.maximum(d2, 0.0))


def zscore(vectors: np.ndarray) -> np.ndarray:
    """Standardise every column to mean 0, standard deviation 1 (constant columns become 0)."""
    x = np.asarray(vectors, dtype=np.float64)
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


# --------------------------------------------------------------------------- metrics


def hits_at_k(
    distances: np.ndarray,
    groups: Sequence[str],
    k: int,
    *,
    valid: np.ndarray | None = None,
    queries: np.ndarray | None = None,
) -> np.ndarray:
    """Per-query precision at ``k`` of same-group nearest neighbours, the query itself left out.

    Parameters
    ----------
    distances : ndarray, shape (n, n)
        ``distances[q, j]``: distance from query ``q`` to library item ``j`` (smaller = closer).
    groups : sequence of str, length n
        Labels.
    k : int
        Neighbours looked at.
    valid : ndarray of bool, shape (n,), optional
        Items that exist for this system (e.g. tracks it could analyse). Invalid items are
        neither queries nor neighbours. Default: all.
    queries : ndarray of bool, shape (n,), optional
        Items to use as queries (intersected with ``valid``). Default: all valid ones.

    Returns
    -------
    ndarray, shape (n_queries,)
        Fraction of the ``k`` nearest neighbours in the query's group, for each query in
        index order. Ties are broken by index (stable sort).
    """
    d = np.array(distances, dtype=np.float64, copy=True)
    n = d.shape[0]
    labels = np.asarray(groups)
    ok = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    use = ok if queries is None else ok & np.asarray(queries, dtype=bool)
    d[:, ~ok] = np.inf
    np.fill_diagonal(d, np.inf)
    d = np.where(np.isnan(d), np.inf, d)
    rows = np.flatnonzero(use)
    order = np.argsort(d[rows], axis=1, kind="stable")[:, :k]
    same = labels[order] == labels[rows][:, None]
    return same.mean(axis=1)


def bootstrap_ci(
    values: np.ndarray, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of per-query values with a percentile bootstrap interval (queries resampled).

    Returns
    -------
    (mean, low, high) : tuple of float
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(v.mean()), float(low), float(high)


def fmt_ci(values: np.ndarray, seed: int = 0) -> str:
    """``"0.53 [0.46, 0.61]"``: mean with its bootstrap 95% interval."""
    mean, low, high = bootstrap_ci(values, seed=seed)
    return f"{mean:.2f} [{low:.2f}, {high:.2f}]"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend("| " + " | ".join(str(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


# --------------------------------------------------------------------------- cache


def cache_file(cache_dir: str | os.PathLike, name: str) -> Path:
    """Path ``<cache_dir>/<name>.npz`` (characters unsafe in file names replaced), dir created."""
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name)
    directory = Path(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{safe}.npz"


def save_ragged(
    path: Path, paths: Sequence[str], arrays: Sequence[np.ndarray | None], **meta
) -> None:
    """Store one 2-D float32 array per track (None = failed) as one npz without pickles.

    Layout: ``data`` (all rows stacked), ``offsets`` (n+1), ``paths`` (unicode), ``ok`` (bool),
    and every keyword in ``meta`` as an array.
    """
    dims = [a.shape[1] for a in arrays if a is not None and a.ndim == 2]
    dim = dims[0] if dims else 0
    blocks = [
        np.asarray(a, dtype=np.float32).reshape(-1, dim) if a is not None else np.zeros((0, dim))
        for a in arrays
    ]
    counts = [b.shape[0] for b in blocks]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    data = np.concatenate(blocks).astype(np.float32) if blocks else np.zeros((0, dim), np.float32)
    with replaced_atomically(str(path), suffix=".npz") as tmp:
        np.savez(
            tmp,
            data=data,
            offsets=offsets,
            paths=np.array([str(p) for p in paths]),
            ok=np.array([a is not None for a in arrays]),
            **{k: np.asarray(v) for k, v in meta.items()},
        )


def save_known(
    path: Path, known: dict[str, np.ndarray | None], errors: dict[str, str] | None = None
) -> None:
    """:func:`save_ragged` of a ``{track path: array or None}`` cache, with each path's error
    line (``""``: none) when ``errors`` is given."""
    keys = list(known)
    meta = {} if errors is None else {"errors": np.array([errors.get(k, "") for k in keys])}
    save_ragged(path, keys, [known[k] for k in keys], **meta)


def load_ragged(path: Path) -> tuple[list[str], list[np.ndarray | None], dict[str, np.ndarray]]:
    """Inverse of :func:`save_ragged`: (paths, arrays or None, other arrays)."""
    with np.load(path, allow_pickle=False) as z:
        data, offsets, ok = z["data"], z["offsets"], z["ok"]
        paths = [str(p) for p in z["paths"]]
        meta = {k: z[k] for k in z.files if k not in {"data", "offsets", "paths", "ok"}}
    arrays = [data[offsets[i] : offsets[i + 1]] if ok[i] else None for i in range(len(paths))]
    return paths, arrays, meta


def align(
    tracks: Sequence[Track], paths: Sequence[str], arrays: Sequence[np.ndarray | None]
) -> list[np.ndarray | None]:
    """Reorder cached arrays to ``tracks`` (missing paths become None)."""
    by_path = dict(zip(paths, arrays, strict=True))
    return [by_path.get(t.path) for t in tracks]


def cached_per_track(
    tracks: Sequence[Track],
    cache_dir: str,
    *,
    name: str,
    analyse: Callable[[str], np.ndarray],
) -> tuple[list[np.ndarray | None], list[str]]:
    """Run ``analyse`` on every track not yet in ``<cache>/<name>.npz``; return arrays, failures.

    A failure is any exception, ``BaseException`` included (bliss's Rust panics), except
    ``KeyboardInterrupt`` and ``SystemExit``. Failures are cached too, and retried on the
    next run.
    """
    path = cache_file(cache_dir, name)
    known: dict[str, np.ndarray | None] = {}
    errors: dict[str, str] = {}
    if path.exists():
        paths, arrays, meta = load_ragged(path)
        known = dict(zip(paths, arrays, strict=True))
        errors = dict(
            zip(paths, [str(e) for e in meta.get("errors", [""] * len(paths))], strict=True)
        )
    todo = [t for t in tracks if known.get(t.path) is None]
    for number, track in enumerate(todo, 1):
        try:
            value = np.atleast_2d(np.asarray(analyse(track.path), dtype=np.float32))
            known[track.path] = value
            errors[track.path] = ""
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: B036 - pyo3 PanicException is a BaseException
            known[track.path] = None
            errors[track.path] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            log(f"{name}: {track.path}: {errors[track.path]}")
        if number % 20 == 0 or number == len(todo):
            save_known(path, known, errors)
            log(f"{name}: {number}/{len(todo)} analysed")
    arrays = align(tracks, list(known), list(known.values()))
    failed = [
        f"{t.path}: {errors.get(t.path, 'missing')}"
        for t, a in zip(tracks, arrays, strict=True)
        if a is None
    ]
    return arrays, failed


# --------------------------------------------------------------------------- measuring

#: The repository root (``beet`` subprocesses load the plugin from this checkout).
ROOT = Path(__file__).resolve().parent.parent


def beet(home: str | os.PathLike, *args: str) -> tuple[float, str]:
    """Run ``beet ARGS`` in a fresh process on the library configured in ``home``
    (``BEETSDIR``), the plugin from this checkout.

    Returns
    -------
    (wall seconds, stdout)

    Raises
    ------
    RuntimeError
        When the command fails (its stderr's end in the message).
    """
    env = dict(os.environ, BEETSDIR=str(home), PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "beets", *args], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"beet {' '.join(args)} failed: {done.stderr[-2000:]}")
    return wall, done.stdout


def cpu_seconds() -> float:
    """CPU time (user + system, seconds) of this process and of its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _tree_stats(root: int) -> tuple[int, float]:
    """(RSS bytes, CPU seconds) summed over ``root`` and its live descendants, read from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    page = os.sysconf("SC_PAGE_SIZE")
    tick = os.sysconf("SC_CLK_TCK")
    rss = 0
    cpu = 0.0
    for pid in members:
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
                rss += int(handle.read().split()[1]) * page
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return rss, cpu


class TreeMemorySampler:
    """Samples the summed RSS of this process and its descendants in a background thread.

    ``peak_bytes`` is the largest sum seen (worker pools included, unlike ``ru_maxrss``,
    which is per process).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pid = os.getpid()
        while not self._stop.is_set():
            rss, _ = _tree_stats(pid)
            self.peak_bytes = max(self.peak_bytes, rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Stopwatch:
    """Wall and CPU time (this process and reaped children) since construction or ``reset``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start counting again."""
        self.wall0 = time.perf_counter()
        self.cpu0 = cpu_seconds()

    def read(self) -> tuple[float, float]:
        """(wall seconds, CPU seconds) elapsed."""
        return time.perf_counter() - self.wall0, cpu_seconds() - self.cpu0


def max_rss_bytes() -> int:
    """Peak RSS of this process alone (``ru_maxrss``; KiB on Linux), in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def loadavg() -> str:
    """The 1/5/15-minute load averages, formatted."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (on {os.cpu_count()} cores)"
