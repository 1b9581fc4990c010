"""The plugin's tables in a real beets library database must never disturb beets' own
transactions, never half-write, never share index files between libraries, and never hand one
track's vectors to another track that got its (reused) item id.  Synthetic vectors: fast."""

from __future__ import annotations

import contextlib
import os
import sqlite3

import numpy as np
import pytest
from beets.library import Item, Library

from beetsplug.deejai.config import Settings
from beetsplug.deejai.index import load_index
from beetsplug.deejai.store import SliceRow, VectorStore

MODEL = "synthetic@1:000000000000"
DIM = 8


def _row(item, rng, mtime=100.0, size=1234) -> SliceRow:
    slices = rng.normal(size=(3, DIM)).astype(np.float32)
    row = SliceRow(item.id, item.path, mtime, 30.0, slices, np.arange(3) * 3.0, False)
    row.size = size
    return row


def _count(db: str, sql: str) -> int:
    """A query through a second connection: it sees only what is committed."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return conn.execute(sql).fetchone()[0]


def test_creating_the_tables_does_not_commit_beets_open_transaction(env):
    db = env.config["library"].as_filename()
    with env.lib.transaction() as tx:
        tx.mutate("INSERT INTO items (title, path) VALUES (?, ?)", ("pending", b"/p.flac"))
        VectorStore(env.lib)  # e.g. `beet rm` sends item_removed inside its transaction
        assert _count(db, "SELECT COUNT(*) FROM items WHERE title = 'pending'") == 0
    assert _count(db, "SELECT COUNT(*) FROM items WHERE title = 'pending'") == 1
    assert _count(db, "SELECT COUNT(*) FROM deejai_vectors") == 0  # the tables exist


def test_a_failed_write_leaves_neither_rows_nor_counter_and_keeps_beets_work(env):
    rng = np.random.default_rng(0)
    store = VectorStore(env.lib)
    first, second = env.add_item(path="/music/a.flac"), env.add_item(path="/music/b.flac")
    store.put(MODEL, [_row(first, rng)])
    generation = store.generation(MODEL)
    with env.lib.transaction() as tx:  # the counter cannot be bumped (a real SQLite failure)
        tx.mutate(
            "CREATE TRIGGER no_bump BEFORE UPDATE ON deejai_generation "
            "BEGIN SELECT RAISE(ABORT, 'counter is read-only'); END"
        )
    with env.lib.transaction() as tx:
        tx.mutate("INSERT INTO items (title, path) VALUES (?, ?)", ("beets' own", b"/c.flac"))
        with pytest.raises(sqlite3.DatabaseError, match="read-only"):
            store.put(MODEL, [_row(second, rng)])
        with pytest.raises(sqlite3.DatabaseError, match="read-only"):
            store.delete_items([first.id])
    assert store.item_ids(MODEL) == [first.id]  # neither the new row nor the delete
    assert store.generation(MODEL) == generation
    assert [i.title for i in env.lib.items("title:own")] == ["beets' own"]


def test_two_libraries_in_one_folder_keep_their_own_index(env):
    settings = Settings.from_view(env.config["deejai"])
    folder = env.temp_path / "shared"
    folder.mkdir()
    indexes = {}
    for name, seed in (("rock.db", 1), ("jazz.db", 2)):
        lib = Library(str(folder / name), str(folder / "music"))
        rng = np.random.default_rng(seed)
        store = VectorStore(lib)
        rows = []
        for i in range(6):  # same count and counter in both: equal fingerprints
            item = Item(path=f"/m/{name}/{i}.flac")
            item.add(lib)
            rows.append(_row(item, rng))
        store.put(MODEL, rows)
        built = load_index(store, MODEL, settings=settings, directory=str(folder))
        indexes[name] = (lib, store, built.vectors.copy())
    for lib, store, vectors in indexes.values():
        again = load_index(store, MODEL, settings=settings, directory=str(folder), rebuild=False)
        assert again is not None  # each library's index is still current
        np.testing.assert_array_equal(again.vectors, vectors)
        lib._close()
    rock, jazz = indexes["rock.db"][2], indexes["jazz.db"][2]
    assert not np.allclose(rock, jazz)


def test_a_reused_item_id_does_not_inherit_the_removed_tracks_vectors(env):
    rng = np.random.default_rng(3)
    store = VectorStore(env.lib)
    items = [env.add_item(path=f"/music/{i}.flac") for i in range(4)]
    store.put(MODEL, [_row(item, rng) for item in items])
    settings = Settings.from_view(env.config["deejai"])
    assert len(load_index(store, MODEL, settings=settings, directory=str(env.temp_path))) == 4
    # removed while the plugin was not loaded (no item_removed), then another track is added:
    # SQLite hands the new item the highest id again
    gone = items[-1]
    with env.lib.transaction() as tx:
        tx.mutate("DELETE FROM items WHERE id = ?", (gone.id,))
    newcomer = env.add_item(path="/music/other.flac")
    assert newcomer.id == gone.id
    assert gone.id not in store.item_ids(MODEL)
    assert gone.id not in store.slices(MODEL)
    assert gone.id not in store.embedded_state(MODEL)
    assert store.fingerprint(MODEL)["count"] == 3
    index = load_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    assert len(index) == 3 and gone.id not in set(index.ids.tolist())
    # the row is a stray with the old file's mtime and size: `embed` will not adopt it
    assert store.strays(MODEL, [newcomer.id]) == {newcomer.id: (100.0, 1234)}


def test_rows_of_an_older_table_still_belong_to_their_items(env):
    """Tables written before rows carried beets' form of the path are upgraded in place."""
    inside = env.add_item(path=str(env.lib_path / "a" / "song.flac"))  # stored relative by beets
    outside = env.add_item(path="/elsewhere/song.flac")
    slices = np.ones((2, DIM), np.float32).tobytes()
    with env.lib.transaction() as tx:
        raw = dict(tx.query("SELECT id, path FROM items"))
        assert not os.path.isabs(raw[inside.id]) and os.path.isabs(raw[outside.id])
        tx.mutate(
            "CREATE TABLE deejai_vectors (item_id INTEGER NOT NULL, model_id TEXT NOT NULL, "
            "path BLOB NOT NULL, mtime REAL NOT NULL, duration REAL NOT NULL, "
            "n_slices INTEGER NOT NULL, dim INTEGER NOT NULL, padded INTEGER NOT NULL, "
            "starts BLOB NOT NULL, slices BLOB NOT NULL, track_vector BLOB, pooling TEXT, "
            "PRIMARY KEY (item_id, model_id))"
        )
        for item in (inside, outside):
            tx.mutate(
                "INSERT INTO deejai_vectors VALUES (?, ?, ?, 1.0, 5.0, 2, ?, 0, ?, ?, NULL, NULL)",
                (item.id, MODEL, item.path, DIM, np.zeros(2, np.float32).tobytes(), slices),
            )
    store = VectorStore(env.lib)
    assert store.item_ids(MODEL) == [inside.id, outside.id]
    assert store.embedded_state(MODEL) == {inside.id: 1.0, outside.id: 1.0}


def test_adopting_a_moved_file_brings_its_row_back_and_changes_the_fingerprint(env):
    rng = np.random.default_rng(7)
    store = VectorStore(env.lib)
    items = [env.add_item(path=f"/music/{i}.flac") for i in range(2)]
    store.put(MODEL, [_row(item, rng) for item in items])
    with env.lib.transaction() as tx:  # moved while the plugin was not loaded
        tx.mutate("UPDATE items SET path = ? WHERE id = ?", (b"/moved/0.flac", items[0].id))
    assert store.item_ids(MODEL) == [items[1].id]
    assert store.strays(MODEL, [i.id for i in items]) == {items[0].id: (100.0, 1234)}
    before = store.fingerprint(MODEL)
    store.adopt(items[0].id, MODEL, b"/moved/0.flac")
    assert store.item_ids(MODEL) == [items[0].id, items[1].id]
    assert store.strays(MODEL, [i.id for i in items]) == {}
    after = store.fingerprint(MODEL)
    assert after["generation"] == before["generation"] + 1 and after["count"] == 2
