"""Neighbour searches over the index arrays (``deejai_model.playlists.NeighbourSearch``).

:class:`ExactSearch` (brute force) and :class:`AnnoySearch` (approximate) both return cosine
distances ``1 - cos``, closest first, ties broken by item id; :class:`CslsScores` is the
hubness re-ranking handed to the playlist functions; :class:`VectorsById` maps item ids to unit
vectors without building a dict of the whole library.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


class ExactSearch:
    """Brute-force cosine search over unit vectors (a ``NeighbourSearch``).

    Parameters
    ----------
    ids : np.ndarray, (n,) int64
        Item id of each row.
    vectors : np.ndarray, (n, dim) float32
        Unit vectors.
    """

    def __init__(self, ids: np.ndarray, vectors: np.ndarray):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.vectors = np.asarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest items to ``query``: ``(item ids, cosine distances)``, closest first.

        Ties are broken by item id.
        """
        k = min(int(k), len(self.ids))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        q = unit_rows(np.asarray(query, dtype=np.float32)[None, :])[0]
        dist = 1.0 - self.vectors @ q
        part = np.argpartition(dist, k - 1)[:k] if k < len(dist) else np.arange(len(dist))
        order = part[np.lexsort((self.ids[part], dist[part]))]
        return self.ids[order], dist[order].astype(np.float32)


class AnnoySearch:
    """Approximate cosine search through an Annoy (angular) index (a ``NeighbourSearch``).

    Annoy's angular distance is ``sqrt(2 - 2 cos)`` on unit vectors, so the cosine distance is
    ``d**2 / 2``.  Annoy item ``i`` is row ``i`` of ``ids``.

    Parameters
    ----------
    search_k : int
        Nodes Annoy inspects per query, at least ``n_trees * k`` (Annoy's default, which finds
        only about half of the true nearest neighbours for ``k = 1`` on 1e5 items; 10000 finds
        nearly all of them in a few ms, see ``benchmarks/index_scaling.py``).
    """

    def __init__(self, annoy_index, ids: np.ndarray, search_k: int = -1):
        self.annoy = annoy_index
        self.ids = np.asarray(ids, dtype=np.int64)
        self.search_k = search_k
        self.trees = max(1, annoy_index.get_n_trees())

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest items to ``query``: ``(item ids, cosine distances)``, closest first."""
        k = min(int(k), len(self.ids))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows, dists = self.annoy.get_nns_by_vector(
            np.asarray(query, dtype=np.float32).tolist(),
            k,
            search_k=max(self.search_k, self.trees * k),
            include_distances=True,
        )
        rows = np.asarray(rows, dtype=np.int64)
        dist = np.asarray(dists, dtype=np.float32) ** 2 / 2.0
        order = np.lexsort((self.ids[rows], dist))
        return self.ids[rows[order]], dist[order]


class CslsScores:
    """A ``deejai_model.playlists.ScoreTransform`` reading radii from the index arrays.

    Same scores as :class:`deejai_model.playlists.CslsTransform` (``2 cos - r(q) - r(x)``,
    ``r(q)`` = mean cosine of the query to its first ``k`` candidates) without building a
    dict of the whole library on every query.
    """

    def __init__(self, ids: np.ndarray, radii: np.ndarray, k: int):
        self.ids = ids
        self.radii = radii
        self.k = k

    def __call__(self, query: np.ndarray, ids: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        from deejai_model.playlists import csls_scores

        ids = np.asarray(ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.ids, ids), 0, max(len(self.ids) - 1, 0))
        known = (len(self.ids) > 0) & (np.asarray(self.ids)[pos] == ids)
        r_items = np.where(known, np.asarray(self.radii, dtype=np.float64)[pos], 0.0)
        r_query = float(np.mean(cosines[: self.k])) if len(cosines) else 0.0
        return csls_scores(cosines, r_query, r_items)


def auto_search_k(n: int) -> int:
    """Default Annoy ``search_k`` for ``n`` items: ``max(10000, n // 10)``.

    On clustered synthetic vectors (dim 200, 50 trees) this keeps recall@20 near 0.98 at 1e5
    items (6 ms a query) and 0.93 at 1e6 (25 ms); see ``benchmarks/index_scaling.py``.
    """
    return max(10000, n // 10)


class VectorsById(Mapping):
    """Read-only ``{item_id: unit vector}`` view over the index arrays (no per-query dict)."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, extra: dict | None = None):
        self._ids = ids
        self._vectors = vectors
        self.extra: dict[int, np.ndarray] = dict(extra or {})

    def row(self, item_id: int) -> int | None:
        """Row of ``item_id`` in the arrays, or None."""
        pos = int(np.searchsorted(self._ids, item_id))
        if pos < len(self._ids) and int(self._ids[pos]) == int(item_id):
            return pos
        return None

    def __getitem__(self, item_id: int) -> np.ndarray:
        if item_id in self.extra:
            return self.extra[item_id]
        row = self.row(item_id)
        if row is None:
            raise KeyError(item_id)
        return np.asarray(self._vectors[row], dtype=np.float32)

    def __contains__(self, item_id: object) -> bool:
        if item_id in self.extra:
            return True
        try:
            return self.row(int(item_id)) is not None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False

    def __iter__(self) -> Iterator[int]:
        yield from (int(i) for i in self._ids)
        yield from self.extra

    def __len__(self) -> int:
        return len(self._ids) + len(self.extra)
