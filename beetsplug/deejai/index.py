"""The search index over track vectors: pooled, normalised, and searchable by cosine.

Files, beside the library database (``<dir>/deejai.<model-hash>.*``, ``model-hash`` =
``sha1(model_id)[:12]``):

``.ann``
    Annoy index (angular metric) over the normalised vectors; Annoy item ``i`` is row ``i``.
``.ids.npy``
    ``int64`` beets item id of each row, ascending.
``.vectors.npy``
    ``(n, dim) float32`` unit vectors (pooled, centred if ``normalize: center``, normalised).
``.radii.npy``
    ``(n,) float32`` CSLS radius of each row (mean cosine to its ``hubness_k`` nearest
    neighbours), only with ``hubness: csls``.
``.json``
    Metadata, written last: model id, the store fingerprint it was built from, the settings it
    depends on, the library mean vector, and size/mtime of the files above.  Every file is
    written to a temporary name and moved into place with :func:`os.replace`; an index whose
    files do not match its JSON, or whose fingerprint differs from the store's, is stale and
    rebuilt before the next query.

Searching: exact (brute force) up to ``exact_below`` items, so small libraries get exact
answers; Annoy above that.  Both report cosine distances (``1 - cos``).  With ``hubness: csls``
the playlist functions re-rank each candidate pool by CSLS ``2 cos - r(q) - r(x)``
(:class:`CslsScores`), the same way for similar, journey and playlist.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .search import (
    AnnoySearch,
    CslsScores,
    ExactSearch,
    VectorsById,
    auto_search_k,
    unit_rows,
)

__all__ = [
    "AnnoySearch",
    "CslsScores",
    "ExactSearch",
    "IndexPaths",
    "TrackIndex",
    "VectorsById",
    "build_index",
    "load_index",
    "read_meta",
    "stale_reason",
]

if TYPE_CHECKING:
    from .config import Settings
    from .store import VectorStore

FORMAT = 2
#: Below this many items, centring is skipped (the mean of one or two vectors is the vectors).
MIN_ITEMS_TO_CENTER = 3
#: Below this many items, no projection is learned (too few tracks to tell what separates them).
MIN_ITEMS_TO_ADAPT = 50


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
        self.projection = base + ".projection.npy"
        self.meta = base + ".json"

    def data_files(self) -> dict[str, str]:
        return {
            "ann": self.ann,
            "ids": self.ids,
            "vectors": self.vectors,
            "radii": self.radii,
            "projection": self.projection,
        }


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _atomic_write(path: str, write: Callable[[str], None]) -> list[int]:
    """Write ``path`` through ``write(tmp_path)`` then :func:`os.replace`; returns its stat."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".deejai-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes files private; these are like the db
        stat = _stat(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    assert stat is not None
    return stat


def _save_npy(path: str, array: np.ndarray) -> list[int]:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)

    return _atomic_write(path, write)


# -- the index -----------------------------------------------------------------------------


class TrackIndex:
    """A loaded index: unit vectors of library items and a way to search them.

    Attributes
    ----------
    ids : np.ndarray, (n,) int64
        Item ids, ascending.
    vectors : np.ndarray, (n, dim) float32
        Unit vectors (memory-mapped).
    mean : np.ndarray, (dim,) float32
        Subtracted before normalising (zeros with ``normalize: none``).
    radii : np.ndarray or None
        CSLS radius per row.
    meta : dict
        The JSON metadata.
    """

    def __init__(self, paths: IndexPaths, meta: dict, exact_below: int, search_k: int = -1):
        self.paths = paths
        self.meta = meta
        self.model_id: str = meta["model_id"]
        self.ids = np.load(paths.ids, mmap_mode="r", allow_pickle=False)
        self.vectors = np.load(paths.vectors, mmap_mode="r", allow_pickle=False)
        self.mean = np.asarray(meta["mean"], dtype=np.float32)
        self.radii = np.load(paths.radii, allow_pickle=False) if meta.get("has_radii") else None
        self.projection = (
            np.load(paths.projection, allow_pickle=False) if meta.get("has_projection") else None
        )
        self.exact_below = exact_below
        self.search_k = search_k
        self._search = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    def score_transform(self) -> CslsScores | None:
        """The hubness correction to hand to the playlist functions (None: plain cosine)."""
        if self.radii is None:
            return None
        return CslsScores(self.ids, self.radii, int(self.meta["settings"]["hubness_k"]))

    def search(self):
        """A ``NeighbourSearch`` over this index (exact for small libraries, else Annoy)."""
        if self._search is None:
            if len(self.ids) <= self.exact_below:
                self._search = ExactSearch(self.ids, np.asarray(self.vectors))
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

    def query_vector(self, raw: np.ndarray) -> np.ndarray:
        """Normalise a pooled (raw) track vector the way the indexed ones were: ``(dim,)``."""
        return unit_rows((np.asarray(raw, dtype=np.float32) - self.mean)[None, :])[0]

    def adapt_slices(self, slices: np.ndarray) -> np.ndarray:
        """Slice vectors of a track outside the library, projected as the library's were."""
        if self.projection is None:
            return slices
        from deejai_model.adapt import project_slices

        return project_slices([slices], self.projection)[0]


# -- building and loading ------------------------------------------------------------------


def pooled_vectors(
    store: VectorStore, model_id: str, settings: Settings, log=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Track vectors of every embedded library item: ``(ids (n,), vectors (n, dim), projection)``.

    With ``adapt`` (and a library of at least :data:`MIN_ITEMS_TO_ADAPT` items) the slices are
    first projected by the library's own projection (:func:`adapted_vectors`); ``projection``
    is then that ``(dim, adapt_dims)`` matrix, else None. Otherwise per-track poolings (mean,
    mean+std) are stored once per track and only missing ones computed, and TF-IDF, which
    depends on the whole library, is recomputed from all slices (and stored).
    """
    from deejai_model import mp3tovec

    ids = store.item_ids(model_id)
    if adapts(settings, len(ids)):
        return adapted_vectors(store, model_id, settings, ids, log)
    tag = settings.pooling_tag
    if not settings.per_track_pooling:  # TF-IDF vectors hold only for the set they were made from
        tag = f"{tag}@{store.generation(model_id)}"
    known = store.track_vectors(model_id, tag)
    missing = [i for i in ids if i not in known]
    if settings.per_track_pooling:
        if missing:
            slices = store.slices(model_id, missing)
            fresh = mp3tovec.pool_per_track([slices[i] for i in missing], settings.pooling)
            store.set_track_vectors(model_id, missing, fresh, tag)
            known.update(zip(missing, fresh, strict=True))
    elif missing:
        if log is not None:
            log.info("computing TF-IDF track vectors of {} items", len(ids))
        slices = store.slices(model_id)
        fresh = mp3tovec.tfidf_vectors([slices[i] for i in ids], epsilon=settings.epsilon)
        store.set_track_vectors(model_id, ids, fresh, tag)
        known = dict(zip(ids, fresh, strict=True))
    if not ids:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32), None
    vectors = np.stack([known[i] for i in ids]).astype(np.float32)
    return np.asarray(ids, dtype=np.int64), vectors, None


def adapts(settings: Settings, n_items: int) -> bool:
    """Whether the index learns a projection (``adapt`` on and a library big enough)."""
    return settings.adapt and n_items >= MIN_ITEMS_TO_ADAPT


def adapted_vectors(
    store: VectorStore, model_id: str, settings: Settings, ids: list[int], log=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Track vectors pooled from slices projected by the library's own projection.

    They depend on the whole library (like TF-IDF), so they are derived here, at index time,
    and not stored in the database (which keeps the per-track vectors of the raw slices).
    Returns ``(ids, vectors, projection (dim, adapt_dims))``.
    """
    from deejai_model import mp3tovec
    from deejai_model.adapt import fit_track_projection, project_slices

    if log is not None:
        log.info("learning the library's projection from the slices of {} items", len(ids))
    slices = store.slices(model_id)
    bags = [slices[i] for i in ids]
    projection = fit_track_projection(bags, dims=settings.adapt_dims)
    projected = project_slices(bags, projection)
    if settings.per_track_pooling:
        raw = mp3tovec.pool_per_track(projected, settings.pooling)
    else:
        raw = mp3tovec.tfidf_vectors(projected, epsilon=settings.epsilon)
    return np.asarray(ids, dtype=np.int64), raw.astype(np.float32), projection


def csls_radii(vectors: np.ndarray, k: int, annoy_index=None, block: int = 2048) -> np.ndarray:
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
    from deejai_model.playlists import hubness_radii

    return hubness_radii(vectors, k, block=block).astype(np.float32)


def build_index(
    store: VectorStore, model_id: str, settings: Settings, directory: str, log=None
) -> TrackIndex:
    """Pool, normalise and index every embedded item of ``model_id``; write the files atomically.

    Returns
    -------
    TrackIndex
        The new index, loaded.
    """
    from annoy import AnnoyIndex

    started = time.perf_counter()
    fingerprint = store.fingerprint(model_id)
    ids, raw, projection = pooled_vectors(store, model_id, settings, log)
    n = len(ids)
    dim = int(raw.shape[1]) if n else 0
    if settings.normalize == "center" and n >= MIN_ITEMS_TO_CENTER:
        mean = raw.mean(axis=0).astype(np.float32)
    else:
        mean = np.zeros(dim, dtype=np.float32)
    vectors = unit_rows(raw - mean) if n else raw
    paths = IndexPaths(directory, model_id, store.lib.path)
    os.makedirs(directory, exist_ok=True)

    annoy = AnnoyIndex(max(dim, 1), "angular")
    for row in range(n):
        annoy.add_item(row, vectors[row].tolist())
    annoy.build(settings.index_trees, n_jobs=1)

    def write_ann(tmp: str) -> None:
        annoy.save(tmp)

    stats = {"ann": _atomic_write(paths.ann, write_ann)}
    radii = None
    if settings.hubness == "csls":
        radii = csls_radii(vectors, settings.hubness_k, annoy if n > settings.exact_below else None)
    annoy.unload()
    stats["ids"] = _save_npy(paths.ids, ids)
    stats["vectors"] = _save_npy(paths.vectors, vectors)
    if radii is not None:
        stats["radii"] = _save_npy(paths.radii, radii)
    if projection is not None:
        stats["projection"] = _save_npy(paths.projection, projection)
    meta = {
        "format": FORMAT,
        "model_id": model_id,
        "fingerprint": fingerprint,
        "settings": settings.index_signature(),
        "n": n,
        "dim": dim,
        "mean": mean.tolist(),
        "has_radii": radii is not None,
        "has_projection": projection is not None,
        "files": stats,
        "built_seconds": round(time.perf_counter() - started, 3),
    }

    def write_meta(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(meta, f)

    _atomic_write(paths.meta, write_meta)
    if log is not None:
        log.debug("index of {} items built in {:.2f} s", n, meta["built_seconds"])
    return TrackIndex(paths, meta, settings.exact_below, settings.search_k)


def read_meta(paths: IndexPaths) -> dict | None:
    """The index metadata, or None when missing or unreadable."""
    try:
        with open(paths.meta, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stale_reason(
    meta: dict | None, paths: IndexPaths, fingerprint: dict, settings: Settings
) -> str | None:
    """Why the index on disk cannot be used (None: it is current)."""
    if meta is None:
        return "no index yet"
    if meta.get("format") != FORMAT:
        return "index format changed"
    if meta.get("fingerprint") != fingerprint:
        return "the library's vectors changed"
    if meta.get("settings") != settings.index_signature():
        return "settings changed"
    for name, stat in meta.get("files", {}).items():
        if _stat(paths.data_files()[name]) != stat:
            return f"index file {name} does not match its metadata"
    return None


def load_index(
    store: VectorStore,
    model_id: str,
    settings: Settings,
    directory: str,
    log=None,
    rebuild: bool = True,
) -> TrackIndex | None:
    """The current index of ``model_id``, rebuilt first if it is stale.

    Parameters
    ----------
    rebuild : bool
        When False, return None instead of rebuilding a stale index.
    """
    paths = IndexPaths(directory, model_id, store.lib.path)
    meta = read_meta(paths)
    reason = stale_reason(meta, paths, store.fingerprint(model_id), settings)
    if reason is None:
        assert meta is not None
        return TrackIndex(paths, meta, settings.exact_below, settings.search_k)
    if not rebuild:
        return None
    if log is not None:
        log.info("rebuilding the index ({})", reason)
    return build_index(store, model_id, settings, directory, log)
