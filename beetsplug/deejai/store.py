"""The plugin's own tables inside the beets library database.

Why inside the library database, through beets' transaction API (``lib.transaction()``):

* one file to back up and move, and item ids are only meaningful in that file;
* beets' per-thread connections and its database lock are reused, so an import stage writing
  vectors never races beets' own writes, and in-memory test libraries work too;
* a row is written by one ``INSERT OR REPLACE`` statement, so it is whole or absent; a batch of
  rows is committed at the end of its transaction.  A run that is interrupted loses at most the
  batch in flight, and the next run skips what is stored (same model, same file mtime).

Tables
------
``deejai_vectors``: one row per (item, model): the file's path and mtime when it was embedded,
the slice vectors (float32, little endian, shape ``(n_slices, dim)``), slice start times, and
the derived track vector with the pooling that produced it.
``deejai_generation``: a counter per model, bumped by every write or delete of that model's
rows; with the row count it is the fingerprint an index is checked against.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from beets.library import Library

SCHEMA = """
CREATE TABLE IF NOT EXISTS deejai_vectors (
    item_id INTEGER NOT NULL,
    model_id TEXT NOT NULL,
    path BLOB NOT NULL,
    mtime REAL NOT NULL,
    duration REAL NOT NULL,
    n_slices INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    padded INTEGER NOT NULL,
    starts BLOB NOT NULL,
    slices BLOB NOT NULL,
    track_vector BLOB,
    pooling TEXT,
    PRIMARY KEY (item_id, model_id)
);
CREATE TABLE IF NOT EXISTS deejai_generation (
    model_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
);
"""

_F32 = "<f4"


def file_mtime(path: bytes | str) -> float:
    """Modification time of a file in seconds since the epoch (``0.0`` when it is missing)."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


@dataclass
class SliceRow:
    """What gets stored for one embedded item.

    Attributes
    ----------
    item_id : int
        The beets item id.
    path : bytes
        The file, as beets stores it.
    mtime : float
        The file's mtime (seconds) when it was embedded.
    duration : float
        Track duration in seconds.
    slices : np.ndarray, shape (n_slices, dim), float32
        Per-slice vectors.
    starts : np.ndarray, shape (n_slices,), float32
        Slice start times in seconds.
    padded : bool
        The track was shorter than one slice.
    track_vector : np.ndarray or None, shape (n,): the pooling's width
        Pooled vector, if already known.
    pooling : str or None
        Pooling tag of ``track_vector`` (see :attr:`Settings.pooling_tag`).
    """

    item_id: int
    path: bytes
    mtime: float
    duration: float
    slices: np.ndarray
    starts: np.ndarray
    padded: bool
    track_vector: np.ndarray | None = None
    pooling: str | None = None


def _blob(array: np.ndarray) -> bytes:
    import numpy as np

    return np.ascontiguousarray(array, dtype=_F32).tobytes()


def _array(blob: bytes, shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    return np.frombuffer(blob, dtype=_F32).reshape(shape)


class VectorStore:
    """Slice and track vectors of library items, per model.

    Parameters
    ----------
    lib : beets.library.Library
        The library whose database holds the tables (created on first use).
    """

    def __init__(self, lib: Library):
        self.lib = lib
        with lib.transaction() as tx:
            tx.script(SCHEMA)

    # -- bookkeeping -----------------------------------------------------------------------
    @staticmethod
    def _bump(tx, model_ids: Iterable[str]) -> None:
        for model_id in set(model_ids):
            tx.mutate(
                "INSERT INTO deejai_generation (model_id, generation) VALUES (?, 1) "
                "ON CONFLICT(model_id) DO UPDATE SET generation = generation + 1",
                (model_id,),
            )

    def generation(self, model_id: str) -> int:
        """The change counter of ``model_id``'s rows (0 when never written)."""
        with self.lib.transaction() as tx:
            rows = tx.query(
                "SELECT generation FROM deejai_generation WHERE model_id = ?", (model_id,)
            )
        return int(rows[0][0]) if rows else 0

    def fingerprint(self, model_id: str) -> dict[str, int]:
        """What an index built from this model's rows must match to be current.

        Counts only rows whose item is still in the library, so items removed while the plugin
        was disabled also make the index stale.
        """
        with self.lib.transaction() as tx:
            count = tx.query(
                "SELECT COUNT(*) FROM deejai_vectors v JOIN items i ON i.id = v.item_id "
                "WHERE v.model_id = ?",
                (model_id,),
            )[0][0]
        return {"generation": self.generation(model_id), "count": int(count)}

    # -- reads -----------------------------------------------------------------------------
    def embedded_state(
        self, model_id: str, item_ids: Sequence[int] | None = None
    ) -> dict[int, float]:
        """``{item_id: mtime}`` of the items (default: all) that have a row for ``model_id``."""
        sql = "SELECT item_id, mtime FROM deejai_vectors WHERE model_id = ?"
        with self.lib.transaction() as tx:
            if item_ids is None:
                rows = tx.query(sql, (model_id,))
            else:
                rows, ids = [], [int(i) for i in item_ids]
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows += tx.query(f"{sql} AND item_id IN ({marks})", (model_id, *chunk))
        return {int(r[0]): float(r[1]) for r in rows}

    def is_current(self, item_id: int, model_id: str, mtime: float) -> bool:
        """True when the item has a row for ``model_id`` made from a file with this ``mtime``."""
        with self.lib.transaction() as tx:
            rows = tx.query(
                "SELECT mtime FROM deejai_vectors WHERE item_id = ? AND model_id = ?",
                (item_id, model_id),
            )
        return bool(rows) and float(rows[0][0]) == float(mtime)

    def item_ids(self, model_id: str) -> list[int]:
        """Ids of library items with a row for ``model_id``, ascending."""
        with self.lib.transaction() as tx:
            rows = tx.query(
                "SELECT v.item_id FROM deejai_vectors v JOIN items i ON i.id = v.item_id "
                "WHERE v.model_id = ? ORDER BY v.item_id",
                (model_id,),
            )
        return [int(r[0]) for r in rows]

    def slices(self, model_id: str, item_ids: Sequence[int] | None = None) -> dict[int, np.ndarray]:
        """Slice vectors ``{item_id: (n_slices, dim) float32}`` of library items.

        Parameters
        ----------
        item_ids : sequence of int, optional
            Only these items (default: every item with a row for ``model_id``).
        """
        sql = (
            "SELECT v.item_id, v.n_slices, v.dim, v.slices FROM deejai_vectors v "
            "JOIN items i ON i.id = v.item_id WHERE v.model_id = ?"
        )
        with self.lib.transaction() as tx:
            if item_ids is None:
                rows = tx.query(sql, (model_id,))
            else:
                rows = []
                ids = list(item_ids)
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows += tx.query(f"{sql} AND v.item_id IN ({marks})", (model_id, *chunk))
        return {int(r[0]): _array(r[3], (int(r[1]), int(r[2]))) for r in rows}

    def slice_times(
        self, model_id: str, item_ids: Sequence[int]
    ) -> dict[int, tuple[np.ndarray, np.ndarray, float]]:
        """Where each item's slices were heard: ``{item_id: (starts, slices, duration)}``.

        ``starts`` is ``(n_slices,)`` seconds, ``slices`` ``(n_slices, dim)`` float32 and
        ``duration`` the track's seconds (items without a row for ``model_id`` are left out).
        """
        sql = (
            "SELECT item_id, n_slices, dim, starts, slices, duration FROM deejai_vectors "
            "WHERE model_id = ?"
        )
        rows = []
        ids = [int(i) for i in item_ids]
        with self.lib.transaction() as tx:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += tx.query(f"{sql} AND item_id IN ({marks})", (model_id, *chunk))
        return {
            int(r[0]): (_array(r[3], (int(r[1]),)), _array(r[4], (int(r[1]), int(r[2]))), r[5])
            for r in rows
        }

    def track_vectors(self, model_id: str, pooling: str) -> dict[int, np.ndarray]:
        """Stored track vectors ``{item_id: (n,)}`` that were derived with ``pooling``.

        ``n`` is the pooling's width (``dim``, or ``2 * dim`` for ``meanstd``).
        """
        with self.lib.transaction() as tx:
            rows = tx.query(
                "SELECT v.item_id, v.track_vector FROM deejai_vectors v "
                "JOIN items i ON i.id = v.item_id "
                "WHERE v.model_id = ? AND v.pooling = ? AND v.track_vector IS NOT NULL",
                (model_id, pooling),
            )
        return {int(r[0]): _array(r[1], (-1,)) for r in rows}

    # -- writes ----------------------------------------------------------------------------
    def put(self, model_id: str, rows: Iterable[SliceRow]) -> int:
        """Store (or replace) rows of ``model_id`` in one transaction; returns how many."""
        values = []
        for row in rows:
            slices = row.slices
            values.append(
                (
                    int(row.item_id),
                    model_id,
                    bytes(row.path),
                    float(row.mtime),
                    float(row.duration),
                    int(slices.shape[0]),
                    int(slices.shape[1]),
                    int(bool(row.padded)),
                    _blob(row.starts),
                    _blob(slices),
                    None if row.track_vector is None else _blob(row.track_vector),
                    row.pooling if row.track_vector is not None else None,
                )
            )
        if not values:
            return 0
        with self.lib.transaction() as tx:
            tx.mutate_many(
                "INSERT OR REPLACE INTO deejai_vectors (item_id, model_id, path, mtime, duration, "
                "n_slices, dim, padded, starts, slices, track_vector, pooling) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            self._bump(tx, [model_id])
        return len(values)

    def set_track_vectors(
        self, model_id: str, item_ids: Sequence[int], vectors: np.ndarray, pooling: str
    ) -> None:
        """Store derived track vectors (does not change the fingerprint: slices are the same)."""
        with self.lib.transaction() as tx:
            tx.mutate_many(
                "UPDATE deejai_vectors SET track_vector = ?, pooling = ? "
                "WHERE item_id = ? AND model_id = ?",
                [
                    (_blob(vector), pooling, int(item_id), model_id)
                    for item_id, vector in zip(item_ids, vectors, strict=True)
                ],
            )

    def delete_items(self, item_ids: Iterable[int]) -> int:
        """Delete every model's rows of these items; returns the number of rows deleted."""
        ids = [int(i) for i in item_ids]
        if not ids:
            return 0
        deleted = 0
        with self.lib.transaction() as tx:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                models = [
                    r[0]
                    for r in tx.query(
                        f"SELECT DISTINCT model_id FROM deejai_vectors WHERE item_id IN ({marks})",
                        chunk,
                    )
                ]
                if models:
                    tx.mutate(f"DELETE FROM deejai_vectors WHERE item_id IN ({marks})", chunk)
                    deleted += tx.query("SELECT changes()")[0][0]
                    self._bump(tx, models)
        return deleted

    def prune_orphans(self) -> int:
        """Delete rows whose item is no longer in the library; returns how many."""
        with self.lib.transaction() as tx:
            ids = [
                int(r[0])
                for r in tx.query(
                    "SELECT DISTINCT item_id FROM deejai_vectors "
                    "WHERE item_id NOT IN (SELECT id FROM items)"
                )
            ]
        return self.delete_items(ids)

    def refresh_file(
        self, item_id: int, model_id: str, path: bytes, mtime: float, embedded_mtime: float
    ) -> bool:
        """Record where an embedded file went and its new mtime, if its row is the one embedded
        from a file with ``embedded_mtime`` (the import stage runs before beets copies, moves or
        retags files; the audio is the same).  Returns True when a row was updated."""
        with self.lib.transaction() as tx:
            tx.mutate(
                "UPDATE deejai_vectors SET path = ?, mtime = ? "
                "WHERE item_id = ? AND model_id = ? AND mtime = ?",
                (bytes(path), float(mtime), int(item_id), model_id, float(embedded_mtime)),
            )
            return bool(tx.query("SELECT changes()")[0][0])

    def update_path(self, item_id: int, path: bytes) -> None:
        """Record the item's new path (vectors are about the audio, so they stay valid)."""
        with self.lib.transaction() as tx:
            tx.mutate(
                "UPDATE deejai_vectors SET path = ? WHERE item_id = ? AND path != ?",
                (bytes(path), int(item_id), bytes(path)),
            )
