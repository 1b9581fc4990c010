"""The vector store's schema version and its migrations, and reads that never scan the vectors.

A query at 100k items used to spend ~0.5 s counting a model's rows: no index held the model id,
and ``item_path`` is stored after the slice blobs, so the count read every vector.  These tests
ask SQLite itself (``EXPLAIN QUERY PLAN`` of every statement the store runs) whether a read
scans the table, on a real beets library.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from vector_rows import MODEL, add_rows

from beetsplug.deejai import store as store_module
from beetsplug.deejai.store import SCHEMA_VERSION, VectorStore, schema_version

V1_TABLE = (
    "CREATE TABLE deejai_vectors (item_id INTEGER NOT NULL, model_id TEXT NOT NULL, "
    "path BLOB NOT NULL, mtime REAL NOT NULL, duration REAL NOT NULL, "
    "n_slices INTEGER NOT NULL, dim INTEGER NOT NULL, padded INTEGER NOT NULL, "
    "starts BLOB NOT NULL, slices BLOB NOT NULL, size INTEGER, item_path BLOB, "
    "PRIMARY KEY (item_id, model_id))"
)


@contextlib.contextmanager
def statements(lib):
    """Every SQL statement (parameters expanded) run on ``lib``'s connection meanwhile."""
    seen: list[str] = []
    conn = lib._connection()
    conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


def scans_of_vectors(lib, sql: list[str]) -> list[str]:
    """The statements among ``sql`` whose plan scans ``deejai_vectors`` row by row."""
    bad = []
    with lib.transaction() as tx:
        for statement in sql:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = " | ".join(str(row[-1]) for row in tx.query("EXPLAIN QUERY PLAN " + statement))
            if "deejai_vectors" in statement and "SCAN v" in plan or "SCAN deejai_vectors" in plan:
                bad.append(f"{statement}  ->  {plan}")
    return bad


def _indexes(lib) -> set[str]:
    with lib.transaction() as tx:
        rows = tx.query("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {row[0] for row in rows}


def test_reads_of_a_models_rows_use_an_index_not_a_scan_of_the_vectors(env):
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 6, np.random.default_rng(0))
    with statements(env.lib) as seen:
        store.fingerprint(MODEL)
        store.item_ids(MODEL)
        store.embedded_state(MODEL)
        store.embedded_state(MODEL, ids[:2])
        store.slices(MODEL, ids[:3])
        store.strays(MODEL, ids)
        VectorStore(env.lib)  # opening a current store again
    assert seen, "the trace saw no statement"
    assert scans_of_vectors(env.lib, seen) == []


def test_an_older_database_is_migrated_once_and_keeps_its_rows(env):
    item = env.add_item(title="old", path="/music/old.flac")
    with env.lib.transaction() as tx:
        tx.mutate("DROP TABLE IF EXISTS deejai_vectors")
        tx.mutate("DROP TABLE IF EXISTS deejai_schema")
        tx.mutate(V1_TABLE)
        tx.mutate(
            "INSERT INTO deejai_vectors VALUES (?, ?, ?, 1.0, 5.0, 2, 4, 0, ?, ?, 10, NULL)",
            (
                item.id,
                MODEL,
                item.path,
                np.zeros(2, np.float32).tobytes(),
                np.ones((2, 4), np.float32).tobytes(),
            ),
        )
        assert schema_version(tx) == 0
    store = VectorStore(env.lib)
    with env.lib.transaction() as tx:
        assert schema_version(tx) == SCHEMA_VERSION
    assert "deejai_vectors_owned" in _indexes(env.lib)
    assert store.item_ids(MODEL) == [item.id]  # item_path filled in by the migration
    np.testing.assert_array_equal(store.slices(MODEL)[item.id], np.ones((2, 4), np.float32))
    with statements(env.lib) as seen:
        VectorStore(env.lib)
    assert not any("item_path IS NULL" in s or "CREATE INDEX" in s for s in seen), seen


def test_a_failed_migration_leaves_the_older_version_whole_and_runs_again(env, monkeypatch):
    with env.lib.transaction() as tx:
        tx.mutate("DROP TABLE IF EXISTS deejai_schema")
        tx.mutate("DROP INDEX IF EXISTS deejai_vectors_owned")
    broken = (*store_module.INDEXES, "CREATE INDEX broken ON no_such_table (x)")
    monkeypatch.setattr(store_module, "INDEXES", broken)
    with pytest.raises(Exception, match="no_such_table"):
        VectorStore(env.lib)
    with env.lib.transaction() as tx:
        assert schema_version(tx) == 0
    assert "deejai_vectors_owned" not in _indexes(env.lib)  # rolled back with the rest
    monkeypatch.undo()
    VectorStore(env.lib)
    assert "deejai_vectors_owned" in _indexes(env.lib)
    with env.lib.transaction() as tx:
        assert schema_version(tx) == SCHEMA_VERSION
