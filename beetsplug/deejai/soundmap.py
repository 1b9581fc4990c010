"""The map of the library's sound: 2-D coordinates of every indexed track, cached beside the
index files.

The layout (:func:`deejai_model.vectors.layout.layout_2d`, t-SNE by default: chosen by the
neighbour-keeping figures in ``docs/dj-page.md``) is computed once per index, after it, and
kept in two files beside the index's (``deejai.<library>.<model>.map.npy`` and ``.map.json``):

``.map.npy``
    ``(n, 2) float32`` coordinates in ``[0, 1]``, row ``i`` for the index's row ``i``.
``.map.json``
    ``{"format", "key", "method", "n"}``, written last; ``key`` is a hash of the index's
    model id, store fingerprint, settings and vectors file, so that any change of the index
    makes the map stale and it is drawn again.

Both are plain data (loaded without pickles), written whole or not at all
(:func:`deejai_model.files.replaced_atomically`).  Loading a current map costs one small read;
queries never compute it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from deejai_model.files import replaced_atomically
from deejai_model.vectors.layout import DEFAULT_METHOD, layout_2d

if TYPE_CHECKING:
    from .index import TrackIndex

MAP_FORMAT = 1


@dataclass(frozen=True)
class SoundMap:
    """Map coordinates of the indexed tracks.

    Attributes
    ----------
    ids : np.ndarray
        ``(n,)`` int64 item ids (the index's rows).
    xy : np.ndarray
        ``(n, 2)`` float32 coordinates in ``[0, 1]``.
    method : str
        The layout that made them.
    """

    ids: np.ndarray
    xy: np.ndarray
    method: str


def map_files(index: TrackIndex) -> tuple[str, str]:
    """``(coordinates .npy, metadata .json)`` paths of an index's map."""
    base = index.paths.meta[: -len(".json")]
    return base + ".map.npy", base + ".map.json"


def index_key(index: TrackIndex) -> str:
    """A hash of what the index's vectors depend on (changes whenever the index is rebuilt)."""
    meta = index.meta
    what = {
        "model_id": meta.get("model_id"),
        "fingerprint": meta.get("fingerprint"),
        "settings": meta.get("settings"),
        "vectors": meta.get("files", {}).get("vectors"),
        "n": meta.get("n"),
    }
    return hashlib.sha1(json.dumps(what, sort_keys=True).encode("utf-8")).hexdigest()


def read_map(index: TrackIndex, method: str = DEFAULT_METHOD) -> SoundMap | None:
    """The cached map of ``index``, or None when there is none or it is stale."""
    coords_path, meta_path = map_files(index)
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        xy = np.load(coords_path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if (
        not isinstance(meta, dict)
        or meta.get("format") != MAP_FORMAT
        or meta.get("key") != index_key(index)
        or meta.get("method") != method
        or xy.shape != (len(index), 2)
    ):
        return None
    return SoundMap(np.asarray(index.ids), xy.astype(np.float32), method)


def build_map(index: TrackIndex, method: str = DEFAULT_METHOD, log=None) -> SoundMap:
    """Lay the index's tracks out in 2-D and cache the result beside the index."""
    started = time.perf_counter()
    xy = layout_2d(np.asarray(index.vectors), method=method)
    coords_path, meta_path = map_files(index)
    with replaced_atomically(coords_path, suffix=".npy") as tmp:
        np.save(tmp, xy, allow_pickle=False)
    meta = {"format": MAP_FORMAT, "key": index_key(index), "method": method, "n": len(index)}
    with replaced_atomically(meta_path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(meta, f)
    if log is not None:
        log.debug("map of {} tracks drawn in {:.1f} s", len(index), time.perf_counter() - started)
    return SoundMap(np.asarray(index.ids), xy, method)


def available_method(method: str = DEFAULT_METHOD, log=None) -> str:
    """``method``, or ``"pca"`` when it is t-SNE and scikit-learn (the ``map`` extra) is not
    installed: the plain install still draws a map, one that keeps fewer neighbours
    (``docs/dj-page.md``), and says once how to get the better one."""
    from deejai_model.extras import missing_modules

    if method == "tsne" and missing_modules(("sklearn",)):
        if log is not None:
            log.info(
                "the map is laid out by PCA; for t-SNE, which keeps more of each track's "
                "neighbours: pip install 'beets-deejai[map]'"
            )
        return "pca"
    return method


def sound_map(index: TrackIndex, method: str = DEFAULT_METHOD, log=None) -> SoundMap:
    """The index's map: the cached one when current, else drawn now and cached (by
    :func:`available_method`)."""
    method = available_method(method, log)
    return read_map(index, method) or build_map(index, method, log)


def remove_map(index: TrackIndex) -> None:
    """Delete the cached map files of an index (missing files are fine)."""
    for path in map_files(index):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
