"""The plugin's own tables inside the beets library database.

Why inside the library database, through beets' transaction API (``lib.transaction()``):

* one file to back up and move, and item ids are only meaningful in that file;
* beets' per-thread connections and its database lock are reused, so an import stage writing
  vectors never races beets' own writes, and in-memory test libraries work too;
* a row is written by one ``INSERT OR REPLACE`` statement, so it is whole or absent; a batch of
  rows is committed at the end of its transaction.  A run that is interrupted loses at most the
  batch in flight, and the next run skips what is stored (same model, same file mtime);
* beets' transactions are never disturbed: tables are created with plain ``execute`` (never
  ``executescript``, which commits whatever beets has open), and every write runs inside a
  SAVEPOINT together with its change-counter bump, so a failure rolls back both and nothing of
  beets' own pending work.

A row belongs to an item only while it describes the item's file: same item id *and* same path
(beets reuses the highest item id after a delete, so an id alone can name another track).  Rows
whose path is not the item's are never read; ``beet deejai embed`` adopts one (records the new
path) only when the file's mtime and size are the ones embedded, else embeds the file again.

Tables
------
``deejai_vectors``: one row per (item, model): the file's path and mtime when it was embedded,
the slice vectors (float32, little endian, shape ``(n_slices, dim)``) and slice start times.
Track vectors are not stored per item: they depend on the whole library and live in the index
(``index.py``, ``deejai_model.vectors.pooling``).  Databases from before that keep two unused,
NULL-able
columns (``track_vector``, ``pooling``).
``deejai_generation``: a counter per model, bumped by every write or delete of that model's
rows; with the row count it is the fingerprint an index is checked against.
``deejai_failures``: one row per item whose file could not be embedded: its path (as beets
stores it) and mtime then, and the reason.  ``embed`` skips an unchanged failed file (same
path, same mtime) until asked to retry; a row is dropped when the item gets vectors or leaves
the library.  Added later: created (empty) on first use by older databases.
``deejai_redo``: items a ``embed --force`` run still has to embed again, per model; each row
goes when the item's new row is stored (or its failure recorded), so a forced run that is
interrupted is finished by the next plain ``embed``.
``deejai_schema``: one row, the version of these tables (:data:`SCHEMA_VERSION`).

Versions and migrations
-----------------------
Opening a store creates the tables of :data:`SCHEMA` that are missing (``IF NOT EXISTS``: a
table added later needs no new version) and reads ``deejai_schema.version``; only a database
of an older version (or none) runs :meth:`VectorStore._migrate` (columns added, rows rewritten,
:data:`INDEXES`), each step idempotent, all of them and the new version in one SAVEPOINT:
a migration interrupted half way leaves the older version, whole, and runs again next time.
A current database costs one small read per command (no scan of the vectors).
Version 2 adds ``deejai_vectors_owned``, the index on ``(model_id, item_id, item_path)`` that
every read of a model's rows (the fingerprint count above all) uses instead of scanning the
table: ``item_path`` is stored after the slice blobs, so a scan reads every vector.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from beets.library import Library

#: Statements that create the tables (each run with ``execute`` inside beets' transaction).
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS deejai_vectors (
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
    size INTEGER,
    item_path BLOB,
    PRIMARY KEY (item_id, model_id)
)""",
    """CREATE TABLE IF NOT EXISTS deejai_generation (
    model_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS deejai_failures (
    item_id INTEGER PRIMARY KEY,
    item_path BLOB NOT NULL,
    mtime REAL NOT NULL,
    reason TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS deejai_redo (
    item_id INTEGER NOT NULL,
    model_id TEXT NOT NULL,
    PRIMARY KEY (item_id, model_id)
)""",
)
#: The version of the tables this code writes (``deejai_schema.version``).
SCHEMA_VERSION = 2
#: Indexes, created by the migration to version 2 (``IF NOT EXISTS``: idempotent).
INDEXES = (
    "CREATE INDEX IF NOT EXISTS deejai_vectors_owned "
    "ON deejai_vectors (model_id, item_id, item_path)",
)
#: Columns added after the first release: ``(name, SQL type)``; added to older tables.
ADDED_COLUMNS = (("size", "INTEGER"), ("item_path", "BLOB"))
#: The rows that belong to their item: same id, and made from the item's path (compared as
#: beets stores it, relative to its music directory, so moving that directory changes nothing).
OWNED = "FROM deejai_vectors v JOIN items i ON i.id = v.item_id AND i.path = v.item_path"

_F32 = "<f4"


def file_mtime(path: bytes | str) -> float:
    """Modification time of a file in seconds since the epoch (``0.0`` when it is missing)."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def file_size(path: bytes | str) -> int | None:
    """Size of a file in bytes (``None`` when it is missing)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _chunks(ids: Sequence[int], size: int = 500) -> Iterator[tuple[Sequence[int], str]]:
    """``ids`` in pieces of at most ``size`` (SQLite's limit on bound parameters), each with
    its ``?,?,...`` placeholders."""
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        yield chunk, ",".join("?" * len(chunk))


@contextmanager
def _atomic(tx, name: str = "deejai_write") -> Iterator[None]:
    """All statements of the block, or none: a SAVEPOINT inside beets' transaction ``tx``.

    Rolling back to the savepoint undoes only the block, never beets' own pending writes; and
    beets' ``Transaction`` commits on exit even after an exception, so without it a failure half
    way would commit half a write.
    """
    tx.mutate(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        tx.mutate(f"ROLLBACK TO {name}")
        tx.mutate(f"RELEASE {name}")
        raise
    tx.mutate(f"RELEASE {name}")


def schema_version(tx) -> int:
    """The version of the plugin's tables in the database of transaction ``tx`` (0: none or
    from before versions were recorded)."""
    found = tx.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deejai_schema'")
    if not found:
        return 0
    rows = tx.query("SELECT MAX(version) FROM deejai_schema")
    return int(rows[0][0] or 0)


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
    size : int or None
        The file's size in bytes when it was embedded (with ``mtime``, what tells the same file
        at another path).
    """

    item_id: int
    path: bytes
    mtime: float
    duration: float
    slices: np.ndarray
    starts: np.ndarray
    padded: bool
    size: int | None = None


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
            for statement in SCHEMA:  # cheap when they exist; new tables need no version
                tx.mutate(statement)
            if schema_version(tx) >= SCHEMA_VERSION:
                return
            with _atomic(tx, "deejai_migrate"):
                self._migrate(tx)

    def _migrate(self, tx) -> None:
        """Bring the tables of an older version (or none) to :data:`SCHEMA_VERSION`: columns,
        rows rewritten, indexes.  Every step is idempotent and the caller runs them in one
        SAVEPOINT."""
        have = {row[1] for row in tx.query("PRAGMA table_info(deejai_vectors)")}
        for name, kind in ADDED_COLUMNS:
            if name not in have:
                tx.mutate(f"ALTER TABLE deejai_vectors ADD COLUMN {name} {kind}")
        old = tx.query("SELECT rowid, path FROM deejai_vectors WHERE item_path IS NULL")
        if old:  # rows of an older version: once
            tx.mutate_many(
                "UPDATE deejai_vectors SET item_path = ? WHERE rowid = ?",
                [(self._db_path(path), rowid) for rowid, path in old],
            )
        for statement in INDEXES:
            tx.mutate(statement)
        tx.mutate("CREATE TABLE IF NOT EXISTS deejai_schema (version INTEGER NOT NULL)")
        tx.mutate("DELETE FROM deejai_schema")
        tx.mutate("INSERT INTO deejai_schema (version) VALUES (?)", (SCHEMA_VERSION,))

    def _db_path(self, path: bytes) -> bytes:
        """``path`` as beets stores it in ``items.path`` (relative to its music directory)."""
        from beets.library import Item

        with self.lib.music_dir_context():
            return bytes(Item._fields["path"].to_sql(bytes(path)))

    def _owned_query(
        self, tx, columns: str, model_id: str, item_ids: Sequence[int] | None = None
    ) -> list[Sequence]:
        """``SELECT v.item_id, <columns>`` of ``model_id``'s rows that belong to their item
        (optionally only ``item_ids``), in item id order."""
        sql = f"SELECT v.item_id, {columns} {OWNED} WHERE v.model_id = ?"
        if item_ids is None:
            return tx.query(sql + " ORDER BY v.item_id", (model_id,))
        rows: list[Sequence] = []
        ids = [int(i) for i in item_ids]
        for chunk, marks in _chunks(ids):
            rows += tx.query(f"{sql} AND v.item_id IN ({marks})", (model_id, *chunk))
        return sorted(rows, key=lambda row: row[0])

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

        Counts only rows that belong to an item still in the library (same id and path), so
        items removed (or ids reused) while the plugin was disabled also make the index stale.
        """
        with self.lib.transaction() as tx:
            count = tx.query(f"SELECT COUNT(*) {OWNED} WHERE v.model_id = ?", (model_id,))[0][0]
        return {"generation": self.generation(model_id), "count": int(count)}

    # -- reads -----------------------------------------------------------------------------
    def embedded_state(
        self, model_id: str, item_ids: Sequence[int] | None = None
    ) -> dict[int, float]:
        """``{item_id: mtime}`` of the items (default: all) that have a row for ``model_id``
        made from their current path."""
        with self.lib.transaction() as tx:
            rows = self._owned_query(tx, "v.mtime", model_id, item_ids)
        return {int(r[0]): float(r[1]) for r in rows}

    def strays(self, model_id: str, item_ids: Sequence[int]) -> dict[int, tuple[float, int | None]]:
        """``{item_id: (mtime, size)}`` of rows of ``model_id`` made from another path than the
        item's: a file moved behind the plugin's back, or a reused item id."""
        sql = (
            "SELECT v.item_id, v.mtime, v.size FROM deejai_vectors v "
            "JOIN items i ON i.id = v.item_id "
            "WHERE v.model_id = ? AND v.item_path IS NOT i.path"
        )
        rows: list[Sequence] = []
        ids = [int(i) for i in item_ids]
        with self.lib.transaction() as tx:
            for chunk, marks in _chunks(ids):
                rows += tx.query(f"{sql} AND v.item_id IN ({marks})", (model_id, *chunk))
        return {int(r[0]): (float(r[1]), None if r[2] is None else int(r[2])) for r in rows}

    def item_ids(self, model_id: str) -> list[int]:
        """Ids of library items with a row for ``model_id`` (of their file), ascending."""
        with self.lib.transaction() as tx:
            rows = self._owned_query(tx, "1", model_id)
        return [int(r[0]) for r in rows]

    def slices(self, model_id: str, item_ids: Sequence[int] | None = None) -> dict[int, np.ndarray]:
        """Slice vectors ``{item_id: (n_slices, dim) float32}`` of library items.

        Parameters
        ----------
        item_ids : sequence of int, optional
            Only these items (default: every item with a row for ``model_id``).
        """
        with self.lib.transaction() as tx:
            rows = self._owned_query(tx, "v.n_slices, v.dim, v.slices", model_id, item_ids)
        return {int(r[0]): _array(r[3], (int(r[1]), int(r[2]))) for r in rows}

    def slice_times(
        self, model_id: str, item_ids: Sequence[int]
    ) -> dict[int, tuple[np.ndarray, np.ndarray, float]]:
        """Where each item's slices were heard: ``{item_id: (starts, slices, duration)}``.

        ``starts`` is ``(n_slices,)`` seconds, ``slices`` ``(n_slices, dim)`` float32 and
        ``duration`` the track's seconds (items without a row of their file for ``model_id``
        are left out).
        """
        with self.lib.transaction() as tx:
            rows = self._owned_query(
                tx, "v.n_slices, v.dim, v.starts, v.slices, v.duration", model_id, item_ids
            )
        return {
            int(r[0]): (_array(r[3], (int(r[1]),)), _array(r[4], (int(r[1]), int(r[2]))), r[5])
            for r in rows
        }

    def beginnings(
        self, model_id: str, seconds: float = 30.0, at_most: int = 2
    ) -> dict[int, np.ndarray]:
        """The slice vectors of each item's beginning: ``{item_id: (k, dim) float32}``.

        ``k`` counts the slices starting within ``seconds`` of the track's first stored slice,
        at least 1 and at most ``at_most`` (slices are stored in start order).  Only those
        bytes are read from the database.
        """
        import numpy as np

        columns = "v.n_slices, v.dim, v.starts, substr(v.slices, 1, v.dim * 4 * min(v.n_slices, ?))"
        with self.lib.transaction() as tx:
            rows = tx.query(
                f"SELECT v.item_id, {columns} {OWNED} WHERE v.model_id = ?",
                (max(1, int(at_most)), model_id),
            )
        out = {}
        for item_id, n_slices, dim, starts_blob, head in rows:
            starts = _array(starts_blob, (int(n_slices),))
            keep = int(np.clip(np.sum(starts < starts[0] + seconds), 1, at_most))
            out[int(item_id)] = _array(head, (-1, int(dim)))[:keep]
        return out

    # -- writes ----------------------------------------------------------------------------
    def put(self, model_id: str, rows: Iterable[SliceRow]) -> int:
        """Store (or replace) rows of ``model_id`` and bump its counter, all or nothing;
        returns how many."""
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
                    None if row.size is None else int(row.size),
                    self._db_path(row.path),
                )
            )
        if not values:
            return 0
        with self.lib.transaction() as tx, _atomic(tx):
            tx.mutate_many(
                "INSERT OR REPLACE INTO deejai_vectors (item_id, model_id, path, mtime, duration, "
                "n_slices, dim, padded, starts, slices, size, item_path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            done = [(v[0],) for v in values]
            tx.mutate_many("DELETE FROM deejai_failures WHERE item_id = ?", done)
            tx.mutate_many(
                "DELETE FROM deejai_redo WHERE item_id = ? AND model_id = ?",
                [(v[0], model_id) for v in values],
            )
            self._bump(tx, [model_id])
        return len(values)

    def delete_items(self, item_ids: Iterable[int]) -> int:
        """Delete every model's rows of these items; returns the number of rows deleted."""
        ids = [int(i) for i in item_ids]
        if not ids:
            return 0
        deleted = 0
        with self.lib.transaction() as tx, _atomic(tx):
            for chunk, marks in _chunks(ids):
                models = [
                    r[0]
                    for r in tx.query(
                        f"SELECT DISTINCT model_id FROM deejai_vectors WHERE item_id IN ({marks})",
                        chunk,
                    )
                ]
                tx.mutate(f"DELETE FROM deejai_failures WHERE item_id IN ({marks})", chunk)
                tx.mutate(f"DELETE FROM deejai_redo WHERE item_id IN ({marks})", chunk)
                if models:
                    tx.mutate(f"DELETE FROM deejai_vectors WHERE item_id IN ({marks})", chunk)
                    deleted += tx.query("SELECT changes()")[0][0]
                    self._bump(tx, models)
        return deleted

    def delete_model_rows(self, model_id: str, item_ids: Iterable[int]) -> int:
        """Delete ``model_id``'s rows of these items (other models' rows stay), all or nothing;
        returns how many."""
        ids = [int(i) for i in item_ids]
        deleted = 0
        with self.lib.transaction() as tx, _atomic(tx):
            for chunk, marks in _chunks(ids):
                tx.mutate(
                    f"DELETE FROM deejai_vectors WHERE model_id = ? AND item_id IN ({marks})",
                    (model_id, *chunk),
                )
                deleted += tx.query("SELECT changes()")[0][0]
            if deleted:
                self._bump(tx, [model_id])
        return deleted

    def prune_orphans(self) -> int:
        """Delete rows (and failures) whose item is no longer in the library; returns how many
        vector rows."""
        with self.lib.transaction() as tx:
            ids = [
                int(r[0])
                for r in tx.query(
                    "SELECT item_id FROM deejai_vectors "
                    "WHERE item_id NOT IN (SELECT id FROM items) "
                    "UNION SELECT item_id FROM deejai_failures "
                    "WHERE item_id NOT IN (SELECT id FROM items)"
                )
            ]
        return self.delete_items(ids)

    # -- failures and forced runs ------------------------------------------------------------
    def record_failures(self, failures: Iterable[tuple[int, bytes, float, str]]) -> int:
        """Remember files that could not be embedded: ``(item_id, path, mtime, reason)`` each
        (``path`` as the item has it, ``mtime`` the file's when it was tried); clears their
        forced re-embed (:meth:`mark_redo`) of every model.  Returns how many."""
        values = [
            (int(item_id), self._db_path(path), float(mtime), str(reason))
            for item_id, path, mtime, reason in failures
        ]
        if not values:
            return 0
        with self.lib.transaction() as tx, _atomic(tx):
            tx.mutate_many(
                "INSERT OR REPLACE INTO deejai_failures (item_id, item_path, mtime, reason) "
                "VALUES (?, ?, ?, ?)",
                values,
            )
            tx.mutate_many("DELETE FROM deejai_redo WHERE item_id = ?", [(v[0],) for v in values])
        return len(values)

    def failures(self, item_ids: Sequence[int] | None = None) -> dict[int, tuple[float, str]]:
        """``{item_id: (mtime, reason)}`` of recorded failures of the items' current paths
        (default: every item)."""
        sql = (
            "SELECT f.item_id, f.mtime, f.reason FROM deejai_failures f "
            "JOIN items i ON i.id = f.item_id AND i.path = f.item_path"
        )
        with self.lib.transaction() as tx:
            if item_ids is None:
                rows = list(tx.query(sql))
            else:
                rows = []
                ids = [int(i) for i in item_ids]
                for chunk, marks in _chunks(ids):
                    rows += tx.query(f"{sql} WHERE f.item_id IN ({marks})", chunk)
        return {int(r[0]): (float(r[1]), str(r[2])) for r in rows}

    def mark_redo(self, model_id: str, item_ids: Iterable[int]) -> None:
        """Note that these items must be embedded again with ``model_id`` (``embed --force``),
        whatever their rows say, until their new row is stored."""
        with self.lib.transaction() as tx, _atomic(tx):
            tx.mutate_many(
                "INSERT OR IGNORE INTO deejai_redo (item_id, model_id) VALUES (?, ?)",
                [(int(i), model_id) for i in item_ids],
            )

    def redo(self, model_id: str) -> set[int]:
        """Ids of the items a forced run of ``model_id`` has still to embed again."""
        with self.lib.transaction() as tx:
            rows = tx.query("SELECT item_id FROM deejai_redo WHERE model_id = ?", (model_id,))
        return {int(r[0]) for r in rows}

    def follow_file(
        self,
        item_id: int,
        source: bytes,
        destination: bytes,
        *,
        source_mtime: float,
        mtime: float,
        size: int | None,
    ) -> int:
        """Follow a beets file operation on an embedded file (every model's row of the item).

        beets moved, copied or linked the item's file from ``source`` to ``destination``, or
        rewrote its tags in place (``source == destination``); the audio is the same.  A row
        made from ``source`` moves to ``destination``; its mtime and size become the new ones
        only when it was embedded from the file as it was just before (``source_mtime``): a
        file whose audio changed since it was embedded stays due for embedding.

        Returns
        -------
        int
            Rows whose mtime was brought up to date.
        """
        with self.lib.transaction() as tx, _atomic(tx):
            tx.mutate(
                "UPDATE deejai_vectors SET mtime = ?, size = ? "
                "WHERE item_id = ? AND path = ? AND mtime = ?",
                (float(mtime), size, int(item_id), bytes(source), float(source_mtime)),
            )
            refreshed = int(tx.query("SELECT changes()")[0][0])
            if bytes(source) != bytes(destination):
                tx.mutate(
                    "UPDATE deejai_vectors SET path = ?, item_path = ? "
                    "WHERE item_id = ? AND path = ?",
                    (bytes(destination), self._db_path(destination), int(item_id), bytes(source)),
                )
        return refreshed

    def adopt(self, item_id: int, model_id: str, path: bytes) -> None:
        """Record that the item's row of ``model_id`` describes the file now at ``path`` (the
        caller checked mtime and size).  Bumps the counter: the set of rows an index is built
        from changes."""
        with self.lib.transaction() as tx, _atomic(tx):
            self._bump(tx, [model_id])
            tx.mutate(
                "UPDATE deejai_vectors SET path = ?, item_path = ? "
                "WHERE item_id = ? AND model_id = ?",
                (bytes(path), self._db_path(path), int(item_id), model_id),
            )

    def rows(self, model_id: str, item_ids: Sequence[int] | None = None) -> list[SliceRow]:
        """Whole stored rows of ``model_id`` that belong to their items, e.g. to derive another
        model's rows from these slices without decoding (:mod:`beetsplug.deejai.train`)."""
        columns = (
            "v.path, v.mtime, v.duration, v.n_slices, v.dim, v.padded, v.starts, v.slices, v.size"
        )
        with self.lib.transaction() as tx:
            found = self._owned_query(tx, columns, model_id, item_ids)
        return [
            SliceRow(
                item_id=int(r[0]),
                path=bytes(r[1]),
                mtime=float(r[2]),
                duration=float(r[3]),
                slices=_array(r[8], (int(r[4]), int(r[5]))),
                starts=_array(r[7], (int(r[4]),)),
                padded=bool(r[6]),
                size=None if r[9] is None else int(r[9]),
            )
            for r in found
        ]
