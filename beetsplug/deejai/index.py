"""The search index: every embedded item's unit track vector, searchable by cosine.

The vectors come from one :class:`deejai_model.vectors.pooling.Pooler` (configured by
:meth:`Settings.pooler`), fitted on the library's slice vectors when the index is built; its
fitted state (projection, library mean, TF-IDF reference) is saved with the index, so a file
from outside the library is turned into a vector exactly as the library's items were
(:meth:`TrackIndex.track_vector`).  Building reads the database and never writes to it.

Files, beside the library database (``<dir>/deejai.<model-hash>.*``, ``model-hash`` =
``sha1(model_id)[:12]``):

``.ann``
    Annoy index (angular metric) over the unit vectors; Annoy item ``i`` is row ``i``.
``.ids.npy``
    ``int64`` beets item id of each row, ascending.
``.vectors.npy``
    ``(n, dim) float32`` unit track vectors (:meth:`FittedPooler.transform` of each item).
``.radii.npy``
    ``(n,) float32`` CSLS radius of each row (mean cosine to its ``hubness_k`` nearest
    neighbours), only with ``hubness: csls``.
``.pooler.npz``
    The fitted pooler's arrays (:meth:`FittedPooler.to_data`; loaded without pickles).
``.json``
    Metadata, written last: model id, the store fingerprint it was built from, the settings it
    depends on, the fitted pooler's JSON half, and size/mtime of the files above.  Every file
    is written to a temporary name and moved into place with :func:`os.replace`; an index whose
    files do not match its JSON, or whose fingerprint differs from the store's, is stale and
    rebuilt before the next query.

Building holds a bounded heap however large the library: the pooler learns from a sample of
:data:`FIT_SAMPLE` items, the items are pooled :data:`POOL_CHUNK` at a time straight into the
(temporary) ``.vectors.npy`` through :func:`numpy.lib.format.open_memmap`, Annoy reads its
items from that file and builds into the (temporary) ``.ann`` with ``on_disk_build``, and the
CSLS radii are asked of that Annoy index a row at a time; the vectors and trees live in the
page cache, not on the heap (``docs/scale.md``).

Searching: exact (:class:`deejai_model.lists.playlists.BruteForceSearch`) up to ``exact_below``
items, so small libraries get exact answers; Annoy above that.  Both report cosine distances
(``1 - cos``).  With ``hubness: csls`` the playlist functions re-rank each candidate pool by
CSLS ``2 cos - r(q) - r(x)`` (:class:`deejai_model.lists.playlists.CslsTransform`), the same way
for similar, journey and playlist.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from deejai_model.files import replaced_atomically

from .search import AnnoySearch, VectorsById, auto_search_k

__all__ = [
    "AnnoySearch",
    "IndexPaths",
    "TrackIndex",
    "VectorsById",
    "build_index",
    "load_index",
    "read_meta",
    "stale_reason",
]

if TYPE_CHECKING:
    from annoy import AnnoyIndex

    from deejai_model.lists.playlists import CslsTransform, NeighbourSearch
    from deejai_model.vectors.pooling import FittedPooler

    from .config import Settings
    from .store import VectorStore

FORMAT = 3


def model_hash(model_id: str) -> str:
    """Short stable file-name token of a model id."""
    return hashlib.sha1(model_id.encode("utf-8")).hexdigest()[:12]


def library_token(library: str | bytes) -> str:
    """Short stable file-name token of a library database: its file name (two libraries in
    one folder get their own index files; moving the folder keeps them)."""
    name = os.path.basename(os.fsencode(library)) or b":memory:"
    return hashlib.sha1(name).hexdigest()[:8]


class IndexPaths:
    """Where the index files of one library and one model live.

    Parameters
    ----------
    directory : str
        Folder beside the library database.
    model_id : str
        The model whose vectors the index holds.
    library : str or bytes
        The library database's path (``lib.path``).
    """

    def __init__(self, directory: str, model_id: str, library: str | bytes):
        base = os.path.join(directory, f"deejai.{library_token(library)}.{model_hash(model_id)}")
        self.ann = base + ".ann"
        self.ids = base + ".ids.npy"
        self.vectors = base + ".vectors.npy"
        self.radii = base + ".radii.npy"
        self.pooler = base + ".pooler.npz"
        self.meta = base + ".json"

    def data_files(self) -> dict[str, str]:
        return {
            "ann": self.ann,
            "ids": self.ids,
            "vectors": self.vectors,
            "radii": self.radii,
            "pooler": self.pooler,
        }


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _atomic_write(path: str, write: Callable[[str], None]) -> list[int]:
    """Write ``path`` whole through ``write(tmp_path)`` (:func:`replaced_atomically`); returns
    its ``[size, mtime_ns]``."""
    with replaced_atomically(path) as tmp:
        write(tmp)
    stat = _stat(path)
    assert stat is not None
    return stat


def _save_npy(path: str, array: np.ndarray) -> list[int]:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)

    return _atomic_write(path, write)


def _save_npz(path: str, arrays: dict[str, np.ndarray]) -> list[int]:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a name
            np.savez(f, **arrays)

    return _atomic_write(path, write)


# -- the index -----------------------------------------------------------------------------


class TrackIndex:
    """A loaded index: unit vectors of library items, a way to search them, and the pooler.

    Attributes
    ----------
    ids : np.ndarray, (n,) int64
        Item ids, ascending.
    vectors : np.ndarray, (n, dim) float32
        Unit track vectors (memory-mapped).
    radii : np.ndarray or None
        CSLS radius per row.
    meta : dict
        The JSON metadata.
    """

    def __init__(self, paths: IndexPaths, meta: dict, *, exact_below: int, search_k: int = -1):
        self.paths = paths
        self.meta = meta
        self.model_id: str = meta["model_id"]
        self.ids = np.load(paths.ids, mmap_mode="r", allow_pickle=False)
        self.vectors = np.load(paths.vectors, mmap_mode="r", allow_pickle=False)
        self.radii = np.load(paths.radii, allow_pickle=False) if meta.get("has_radii") else None
        self.exact_below = exact_below
        self.search_k = search_k
        self._search: NeighbourSearch | None = None
        self._pooler: FittedPooler | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    @property
    def pooler(self) -> FittedPooler:
        """The pooler the index was built with, fitted on the library (loaded on first use)."""
        if self._pooler is None:
            from deejai_model.vectors.pooling import FittedPooler

            with np.load(self.paths.pooler, allow_pickle=False) as arrays:
                self._pooler = FittedPooler.from_data(self.meta["pooler"], dict(arrays))
        return self._pooler

    def track_vector(self, slices: np.ndarray) -> np.ndarray:
        """The unit vector of a track from its raw slice vectors, made as the indexed ones were.

        Parameters
        ----------
        slices : np.ndarray
            ``(n_slices, model_dim)`` slice vectors of this index's model (e.g. of a file
            outside the library).

        Returns
        -------
        np.ndarray
            ``(dim,)`` float32 unit vector; the same as the indexed row for an item's slices.
        """
        return self.pooler.transform(slices)

    def score_transform(self) -> CslsTransform | None:
        """The hubness correction to hand to the playlist functions (None: plain cosine)."""
        if self.radii is None:
            return None
        from deejai_model.lists.playlists import CslsTransform

        return CslsTransform(self.ids, self.radii, int(self.meta["settings"]["hubness_k"]))

    def search(self) -> NeighbourSearch:
        """A neighbour search over this index (exact for small libraries, else Annoy)."""
        if self._search is None:
            if len(self.ids) <= self.exact_below:
                from deejai_model.lists.playlists import BruteForceSearch

                self._search = BruteForceSearch(np.asarray(self.ids), np.asarray(self.vectors))
            else:
                from annoy import AnnoyIndex

                annoy = AnnoyIndex(self.dim, "angular")
                annoy.load(self.paths.ann)
                search_k = self.search_k if self.search_k > 0 else auto_search_k(len(self.ids))
                self._search = AnnoySearch(annoy, self.ids, search_k)
        return self._search

    def vectors_by_id(self, extra: dict | None = None) -> VectorsById:
        """Mapping ``item_id -> unit vector`` (plus ``extra`` vectors, e.g. of outside files)."""
        return VectorsById(self.ids, self.vectors, extra)


# -- building and loading ------------------------------------------------------------------


#: A library with more items than this learns its pooler (adaptation, mean) from this many of
#: them, drawn at random, and pools every item in chunks of :data:`POOL_CHUNK`: an index build
#: then holds at most this many items' slices at once (~0.6 GB with the default's 912-d slices)
#: however large the library. TF-IDF pooling counts the whole library and reads it whole.
FIT_SAMPLE = 20000
POOL_CHUNK = 5000


def track_vectors(
    store: VectorStore,
    model_id: str,
    *,
    settings: Settings,
    log=None,
    labels: list[list[int]] | None = None,
    into: str | None = None,
) -> tuple[np.ndarray, np.ndarray, FittedPooler]:
    """Fit the configured pooler on the library's slices: ``(ids (n,), vectors (n, dim), fitted)``.

    Reads the database only.  Track vectors depend on the whole library (its projection, its
    mean, its TF-IDF counts), so they are derived here and kept in the index files, not stored
    per item.  Above :data:`FIT_SAMPLE` items the pooler learns from a random sample of them
    (the same sample for the same library) and every item's vector is its
    :meth:`FittedPooler.transform`, as an outside file's is. ``labels``: item ids of each
    album / playlist / session (``labels.py``) that supervise the pooler
    (``learn_from_library``); within the sample when the pooler learns from one.

    ``into``: an existing file to write the vectors to as a ``.npy``, :data:`POOL_CHUNK` items
    at a time (:func:`numpy.lib.format.open_memmap`); the vectors returned are then that
    memory-mapped file, so the whole ``(n, dim)`` array is never on the heap.  Default: an
    array in memory.
    """
    ids = store.item_ids(model_id)
    pooler = dataclasses.replace(settings.pooler(), parts=model_parts(model_id, settings))
    if log is not None:
        log.info("pooling the slices of {} items ({})", len(ids), pooler.kind)
    if pooler.kind == "tfidf" or len(ids) <= FIT_SAMPLE:
        slices = store.slices(model_id, ids)
        ids = [i for i in ids if i in slices]  # an item removed meanwhile
        fitted, vectors = pooler.fit_transform([slices[i] for i in ids], labels=_rows(ids, labels))
        del slices
        if into is not None:
            vectors = _written(into, vectors)
        return np.asarray(ids, dtype=np.int64), vectors, fitted
    sample = np.random.default_rng(len(ids)).choice(ids, FIT_SAMPLE, replace=False)
    slices = store.slices(model_id, sorted(int(i) for i in sample))
    fitted = pooler.fit(list(slices.values()), labels=_rows(list(slices), labels))
    del slices
    vectors = _rows_file(into, len(ids), fitted.dim)
    kept: list[int] = []
    for start in range(0, len(ids), POOL_CHUNK):
        chunk = store.slices(model_id, ids[start : start + POOL_CHUNK])
        here = [i for i in ids[start : start + POOL_CHUNK] if i in chunk]
        if here:
            vectors[len(kept) : len(kept) + len(here)] = fitted.transform_many(
                [chunk[i] for i in here]
            )
        kept += here
    if len(kept) < len(ids):  # items removed meanwhile: the first len(kept) rows hold the rest
        vectors = _shrunk(into, vectors, len(kept))
    return np.asarray(kept, dtype=np.int64), vectors, fitted


def _rows_file(into: str | None, n: int, dim: int) -> np.ndarray:
    """A ``(n, dim) float32`` array to fill: a new ``.npy`` at ``into`` mapped in memory, or
    (``into`` None) an array in memory."""
    if into is None or n * dim == 0:  # nothing to map (an empty file cannot be mapped)
        empty = np.zeros((n, dim), np.float32)
        if into is not None:
            with open(into, "wb") as f:
                np.save(f, empty, allow_pickle=False)
        return empty
    from numpy.lib.format import open_memmap

    return open_memmap(into, mode="w+", dtype=np.float32, shape=(n, dim))


def _written(into: str, vectors: np.ndarray) -> np.ndarray:
    """``vectors`` written to ``into`` as a ``.npy``; returned memory-mapped from there."""
    out = _rows_file(into, *vectors.shape)
    out[:] = vectors
    if isinstance(out, np.memmap):
        out.flush()
    return out


def _shrunk(into: str | None, vectors: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` rows of ``vectors``; a file ``into`` is rewritten (a block at a time,
    atomically) to hold only them."""
    if into is None:
        return vectors[:n]
    with replaced_atomically(into) as tmp:
        out = _rows_file(tmp, n, vectors.shape[1])
        for start in range(0, n, POOL_CHUNK):
            out[start : start + POOL_CHUNK] = vectors[start : min(n, start + POOL_CHUNK)]
        if isinstance(out, np.memmap):
            out.flush()
        del out
    dim = vectors.shape[1]
    del vectors
    if n == 0:
        return np.zeros((0, dim), np.float32)
    return np.load(into, mmap_mode="r+", allow_pickle=False)


def _rows(ids: list[int], labels: list[list[int]] | None) -> list[list[int]] | None:
    """Each group of item ids as row indices into ``ids`` (items not there are dropped)."""
    if not labels:
        return None
    row = {item_id: r for r, item_id in enumerate(ids)}
    return [[row[i] for i in group if i in row] for group in labels]


def model_parts(model_id: str, settings: Settings) -> tuple[int, ...]:
    """Blocks that ``model_id``'s slice vectors are made of, pooled one by one.

    A fused bundle's (``deejai_model.ears.networks.fused``) parts' dims, found in the manifest of
    the configured bundle or of a shipped one with that model id; ``()`` (one block) for any
    other model or one whose bundle is not found. (The configured bundle's manifest was
    validated when its model id was read: an invalid one stops the command before this.)
    """
    from deejai_model.ears.manifest import read_manifest
    from deejai_model.ears.shipped import bundle_by_id
    from deejai_model.errors import BundleError

    for path in (settings.model, bundle_by_id(model_id)):
        if not path:
            continue
        try:
            manifest = read_manifest(path)
        except BundleError:
            continue  # not a bundle
        if manifest.model_id == model_id:
            return manifest.parts
    return ()


def csls_radii(vectors: np.ndarray, k: int, *, annoy_index=None, block: int = 2048) -> np.ndarray:
    """Mean cosine similarity of each unit row to its ``k`` nearest other rows: ``(n,)``.

    Exact by blocked matrix products, or through ``annoy_index`` (rows = Annoy items) if given.
    """
    n = len(vectors)
    k = min(k, n - 1)
    out = np.zeros(n, dtype=np.float32)
    if k <= 0:
        return out
    if annoy_index is not None:
        for row in range(n):
            _, dists = annoy_index.get_nns_by_item(row, k + 1, include_distances=True)
            sims = 1.0 - np.asarray(dists[1 : k + 1], dtype=np.float32) ** 2 / 2.0
            out[row] = sims.mean() if len(sims) else 0.0
        return out
    from deejai_model.lists.playlists import hubness_radii

    return hubness_radii(vectors, k, block=block).astype(np.float32)


def annoy_on_disk(vectors: np.ndarray, path: str, *, trees: int) -> AnnoyIndex:
    """An angular Annoy index of ``vectors``' rows (item ``i`` = row ``i``), built in ``path``.

    Annoy's ``on_disk_build``: its items and trees are written to the memory-mapped file
    ``path`` as they are made (the page cache holds them, not the heap), which is then the
    same file :meth:`AnnoyIndex.save` would have written. ``vectors``: ``(n, dim)``, read a row
    at a time (a memory-mapped array stays on disk). Returns the built, loaded index.
    """
    from annoy import AnnoyIndex

    annoy = AnnoyIndex(max(int(vectors.shape[1]), 1), "angular")
    annoy.on_disk_build(path)
    for row in range(len(vectors)):
        annoy.add_item(row, vectors[row].tolist())
    annoy.build(trees, n_jobs=1)
    return annoy


def build_index(
    store: VectorStore, model_id: str, *, settings: Settings, directory: str, log=None
) -> TrackIndex:
    """Pool and index every embedded item of ``model_id``; write the files atomically.

    Reads the database, never writes to it (a query may call this when the index is stale).

    Returns
    -------
    TrackIndex
        The new index, loaded.
    """
    started = time.perf_counter()
    fingerprint = store.fingerprint(model_id)
    learned = labels_digest = None
    if settings.learn_from_library:
        from .labels import labels_fingerprint, library_labels

        labels_digest = labels_fingerprint(store.lib)
        learned = library_labels(store.lib, store.item_ids(model_id), log=log)
    paths = IndexPaths(directory, model_id, store.lib.path)
    os.makedirs(directory, exist_ok=True)
    # The vectors go straight to the .npy file (memory-mapped, a chunk at a time) and Annoy
    # builds in its .ann file (``on_disk_build``): both live in the page cache, not the heap,
    # so the build's resident memory stays near the pooling's however large the library.
    with (
        replaced_atomically(paths.vectors) as tmp_vectors,
        replaced_atomically(paths.ann) as tmp_ann,
    ):
        ids, vectors, fitted = track_vectors(
            store,
            model_id,
            settings=settings,
            log=log,
            labels=learned.classes if learned is not None and learned.enough else None,
            into=tmp_vectors,
        )
        n = len(ids)
        dim = int(vectors.shape[1]) if n else 0
        annoy = annoy_on_disk(vectors, tmp_ann, trees=settings.index_trees)
        radii = None
        if settings.hubness == "csls":
            annoy_index = annoy if n > settings.exact_below else None
            radii = csls_radii(vectors, settings.hubness_k, annoy_index=annoy_index)
        annoy.unload()
        if isinstance(vectors, np.memmap):
            vectors.flush()
        del vectors
    stats = {"ann": _stat(paths.ann), "vectors": _stat(paths.vectors)}
    stats["ids"] = _save_npy(paths.ids, ids)
    if radii is not None:
        stats["radii"] = _save_npy(paths.radii, radii)
    pooler_meta, pooler_arrays = fitted.to_data()
    stats["pooler"] = _save_npz(paths.pooler, pooler_arrays)
    meta = {
        "format": FORMAT,
        "model_id": model_id,
        "fingerprint": fingerprint,
        "settings": settings.index_signature(),
        "n": n,
        "dim": dim,
        "pooler": pooler_meta,
        "has_radii": radii is not None,
        "learned_from": learned.summary() if learned is not None else None,
        "labels": labels_digest,
        "files": stats,
        "built_seconds": round(time.perf_counter() - started, 3),
    }

    def write_meta(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(meta, f)

    _atomic_write(paths.meta, write_meta)
    if log is not None:
        log.debug("index of {} items built in {:.2f} s", n, meta["built_seconds"])
    return TrackIndex(paths, meta, exact_below=settings.exact_below, search_k=settings.search_k)


def read_meta(paths: IndexPaths) -> dict | None:
    """The index metadata, or None when missing or unreadable."""
    try:
        with open(paths.meta, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stale_reason(
    meta: dict | None,
    paths: IndexPaths,
    *,
    fingerprint: dict,
    settings: Settings,
    labels: str | None = None,
) -> str | None:
    """Why the index on disk cannot be used (None: it is current). ``labels``: the library's
    ``labels.labels_fingerprint`` when it learns from them (None: not checked)."""
    if meta is None:
        return "no index yet"
    if meta.get("format") != FORMAT:
        return "index format changed"
    if meta.get("fingerprint") != fingerprint:
        return "the library's vectors changed"
    if meta.get("settings") != settings.index_signature():
        return "settings changed"
    if labels is not None and meta.get("labels") != labels:
        return "the library's albums or playlists changed"
    for name, stat in meta.get("files", {}).items():
        if _stat(paths.data_files()[name]) != stat:
            return f"index file {name} does not match its metadata"
    return None


def load_index(
    store: VectorStore,
    model_id: str,
    *,
    settings: Settings,
    directory: str,
    log=None,
    rebuild: bool = True,
    fingerprint: dict[str, int] | None = None,
) -> TrackIndex | None:
    """The current index of ``model_id``, rebuilt first if it is stale.

    Parameters
    ----------
    rebuild : bool
        When False, return None instead of rebuilding a stale index.
    fingerprint : dict, optional
        ``store.fingerprint(model_id)`` if the caller has just read it (default: read it).
    """
    paths = IndexPaths(directory, model_id, store.lib.path)
    meta = read_meta(paths)
    if fingerprint is None:
        fingerprint = store.fingerprint(model_id)
    labels = None
    if settings.learn_from_library:
        from .labels import labels_fingerprint

        labels = labels_fingerprint(store.lib)
    reason = stale_reason(meta, paths, fingerprint=fingerprint, settings=settings, labels=labels)
    if reason is None:
        assert meta is not None
        return TrackIndex(paths, meta, exact_below=settings.exact_below, search_k=settings.search_k)
    if not rebuild:
        return None
    if log is not None:
        log.info("rebuilding the index ({})", reason)
    return build_index(store, model_id, settings=settings, directory=directory, log=log)
