"""The plugin's vector tables (store.py) on a real beets library with synthetic vectors: rows
whole and per model, and rows that follow beets' removes and moves."""

from __future__ import annotations

import os

import numpy as np
from vector_rows import DIM, MODEL, OTHER, add_rows, configured, deejai_plugin

from beetsplug.deejai.index import load_index
from beetsplug.deejai.store import SliceRow, VectorStore


def test_rows_round_trip_whole_and_per_model(env):
    rng = np.random.default_rng(0)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 5, rng)
    assert store.item_ids(MODEL) == sorted(ids)
    assert store.item_ids(OTHER) == []
    assert store.embedded_state(MODEL) == {i: 100.0 + k for k, i in enumerate(ids)}
    assert store.embedded_state(MODEL, [ids[0]]) == {ids[0]: 100.0}  # the file's mtime
    assert store.embedded_state(OTHER, [ids[0]]) == {}
    slices = store.slices(MODEL)
    assert all(s.shape == (3, DIM) and s.dtype == np.float32 for s in slices.values())
    # a second model's rows for the same items do not touch the first's
    before = store.fingerprint(MODEL)
    path = env.lib.get_item(ids[0]).path
    _other = SliceRow(ids[0], path, 1.0, 1.0, np.ones((2, DIM), np.float32), np.zeros(2), True)
    store.put(OTHER, [_other])
    assert store.fingerprint(MODEL) == before
    assert store.item_ids(OTHER) == [ids[0]]
    np.testing.assert_array_equal(store.slices(MODEL)[ids[0]], slices[ids[0]])


def test_removing_an_item_deletes_its_rows_and_the_index_follows(env):
    rng = np.random.default_rng(1)
    plugin = deejai_plugin()
    store = plugin.store(env.lib)
    ids = add_rows(env, store, MODEL, 8, rng)
    settings = configured(env)
    directory = str(env.temp_path)
    index = load_index(store, MODEL, settings=settings, directory=directory)
    assert list(index.ids) == sorted(ids)

    victim = env.lib.get_item(ids[3])
    victim.remove()  # sends item_removed to the plugin
    assert ids[3] not in store.item_ids(MODEL)
    with env.lib.transaction() as tx:
        assert (
            tx.query("SELECT COUNT(*) FROM deejai_vectors WHERE item_id = ?", (ids[3],))[0][0] == 0
        )

    index = load_index(store, MODEL, settings=settings, directory=directory)
    assert ids[3] not in set(index.ids.tolist()) and len(index) == 7
    found, _ = index.search().nearest(index.vectors_by_id()[ids[0]], 8)
    assert ids[3] not in set(found.tolist())


def test_items_removed_behind_the_plugins_back_make_the_index_stale(env):
    rng = np.random.default_rng(2)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 6, rng)
    settings = configured(env)
    load_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    with env.lib.transaction() as tx:  # as if the plugin had been disabled during `beet rm`
        tx.mutate("DELETE FROM items WHERE id = ?", (ids[0],))
    assert (
        load_index(store, MODEL, settings=settings, directory=str(env.temp_path), rebuild=False)
        is None
    )
    assert store.prune_orphans() == 1
    assert len(load_index(store, MODEL, settings=settings, directory=str(env.temp_path))) == 5


def test_moving_an_item_updates_the_stored_path_but_keeps_the_index(env, tmp_path):
    rng = np.random.default_rng(3)
    plugin = deejai_plugin()
    store = plugin.store(env.lib)
    src = tmp_path / "song.flac"
    src.write_bytes(b"not really audio")
    item = env.add_item(title="song", path=str(src))
    slices = rng.normal(size=(2, DIM)).astype(np.float32)
    store.put(MODEL, [SliceRow(item.id, item.path, 1.0, 5.0, slices, np.zeros(2), False)])
    settings = configured(env)
    load_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    generation = store.generation(MODEL)

    item.move()  # into the library directory: sends item_moved, then database_change
    with env.lib.transaction() as tx:
        (stored,) = tx.query("SELECT path FROM deejai_vectors WHERE item_id = ?", (item.id,))
    assert bytes(stored[0]) == item.path and item.path != os.fsencode(src)
    assert store.generation(MODEL) == generation
    assert (
        load_index(store, MODEL, settings=settings, directory=str(env.temp_path), rebuild=False)
        is not None
    )


def test_embedded_state_of_some_items(env):
    rng = np.random.default_rng(12)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 5, rng)
    assert store.embedded_state(MODEL, [ids[1], ids[3], 9999]) == {ids[1]: 101.0, ids[3]: 103.0}
    assert store.embedded_state(MODEL, []) == {}
    assert store.embedded_state(OTHER, ids) == {}


def test_delete_and_follow_report_what_they_changed(env):
    rng = np.random.default_rng(13)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 4, rng)
    extra = SliceRow(ids[0], b"/x", 100.0, 1.0, np.ones((2, DIM), np.float32), np.zeros(2), False)
    store.put(OTHER, [extra])
    old, new = b"/music/t1.flac", b"/new/place.flac"
    assert store.follow_file(ids[1], old, new, source_mtime=101.0, mtime=555.0, size=7) == 1
    moved_again = store.follow_file(
        ids[1], new, b"/again.flac", source_mtime=101.0, mtime=556.0, size=7
    )
    assert moved_again == 0  # mtime differs
    with env.lib.transaction() as tx:
        (row,) = tx.query(
            "SELECT path, mtime, size FROM deejai_vectors WHERE item_id = ?", ids[1:2]
        )
    assert (bytes(row[0]), row[1], row[2]) == (b"/again.flac", 555.0, 7)
    generations = store.generation(MODEL), store.generation(OTHER)
    assert store.delete_items([ids[0], ids[2]]) == 3  # two rows of MODEL, one of OTHER
    assert store.delete_items([ids[0]]) == 0
    assert store.generation(MODEL) == generations[0] + 1
    assert store.generation(OTHER) == generations[1] + 1
