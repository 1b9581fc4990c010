"""Storage and index of the plugin, on a real beets library with synthetic vectors.

No network runs here: vectors are random (clustered) so these tests are fast; the same code
paths serve the real model's vectors (see test_plugin_library.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from conftest import ROOT
from pooling_recipe import pooled

from beetsplug.deejai.config import Settings
from beetsplug.deejai.index import (
    AnnoySearch,
    IndexPaths,
    build_index,
    load_index,
    read_meta,
)
from beetsplug.deejai.store import SliceRow, VectorStore
from deejai_model.lists.playlists import BruteForceSearch

MODEL = "synthetic@1:000000000000"
OTHER = "other@1:111111111111"
DIM = 16


def _plugin():
    from beets import plugins

    (plugin,) = [p for p in plugins.find_plugins() if p.name == "deejai"]
    return plugin


def _settings(env, **overrides) -> Settings:
    env.config["deejai"].set(overrides)
    return Settings.from_view(env.config["deejai"])


def _add(env, store, model_id, n, rng, centers=None, n_slices=3):
    """``n`` library items with random slice vectors around ``centers`` (cycled)."""
    centers = rng.normal(size=(4, DIM)) if centers is None else centers
    ids, rows = [], []
    for i in range(n):
        item = env.add_item(title=f"t{i}", path=f"/music/t{i}.flac")
        center = centers[i % len(centers)]
        slices = (center + 0.1 * rng.normal(size=(n_slices, DIM))).astype(np.float32)
        rows.append(
            SliceRow(item.id, item.path, 100.0 + i, 30.0, slices, np.arange(n_slices) * 3.0, False)
        )
        ids.append(item.id)
    store.put(model_id, rows)
    return ids


def test_rows_round_trip_whole_and_per_model(env):
    rng = np.random.default_rng(0)
    store = VectorStore(env.lib)
    ids = _add(env, store, MODEL, 5, rng)
    assert store.item_ids(MODEL) == sorted(ids)
    assert store.item_ids(OTHER) == []
    assert store.embedded_state(MODEL) == {i: 100.0 + k for k, i in enumerate(ids)}
    assert store.is_current(ids[0], MODEL, 100.0) and not store.is_current(ids[0], MODEL, 101.0)
    assert not store.is_current(ids[0], OTHER, 100.0)
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
    plugin = _plugin()
    store = plugin.store(env.lib)
    ids = _add(env, store, MODEL, 8, rng)
    settings = _settings(env)
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
    ids = _add(env, store, MODEL, 6, rng)
    settings = _settings(env)
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
    plugin = _plugin()
    store = plugin.store(env.lib)
    src = tmp_path / "song.flac"
    src.write_bytes(b"not really audio")
    item = env.add_item(title="song", path=str(src))
    slices = rng.normal(size=(2, DIM)).astype(np.float32)
    store.put(MODEL, [SliceRow(item.id, item.path, 1.0, 5.0, slices, np.zeros(2), False)])
    settings = _settings(env)
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


def test_index_is_reused_when_current_and_rebuilt_when_settings_or_files_change(env):
    rng = np.random.default_rng(4)
    store = VectorStore(env.lib)
    _add(env, store, MODEL, 10, rng)
    directory = str(env.temp_path)
    settings = _settings(env)
    built = build_index(store, MODEL, settings=settings, directory=directory)
    paths = IndexPaths(directory, MODEL, env.lib.path)
    stamp = os.stat(paths.meta).st_mtime_ns
    again = load_index(store, MODEL, settings=settings, directory=directory)
    assert os.stat(paths.meta).st_mtime_ns == stamp
    np.testing.assert_array_equal(again.vectors, built.vectors)
    assert not [f for f in os.listdir(directory) if f.startswith(".deejai-")]  # no temp left

    centred = _settings(env, normalize="none")
    assert load_index(store, MODEL, settings=centred, directory=directory, rebuild=False) is None
    plain = load_index(store, MODEL, settings=centred, directory=directory)
    assert not np.allclose(plain.vectors, built.vectors)  # the mean is no longer subtracted
    assert np.allclose(np.linalg.norm(plain.vectors, axis=1), 1.0, atol=1e-5)

    with open(paths.ids, "r+b") as f:  # a damaged file is noticed
        f.truncate(10)
    assert load_index(store, MODEL, settings=centred, directory=directory, rebuild=False) is None
    assert len(load_index(store, MODEL, settings=centred, directory=directory)) == 10


def test_centring_subtracts_the_library_mean(env):
    rng = np.random.default_rng(5)
    store = VectorStore(env.lib)
    offset = 5.0 * np.ones(DIM)  # every track shares a big common component
    ids = _add(env, store, MODEL, 12, rng, centers=rng.normal(size=(3, DIM)) + offset)
    settings = _settings(env, normalize="center")
    index = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    slices = store.slices(MODEL)
    expected, mean = pooled([slices[i] for i in ids], kind="meanstd")
    np.testing.assert_allclose(index.pooler.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(index.vectors), expected, atol=1e-5)
    # centred vectors spread out: mean pairwise cosine near 0 rather than near 1
    sims = np.asarray(index.vectors) @ np.asarray(index.vectors).T
    assert sims[np.triu_indices(12, 1)].mean() < 0.3


def test_tfidf_pooling_matches_the_library_and_follows_changes(env):
    rng = np.random.default_rng(6)
    plugin = _plugin()
    store = plugin.store(env.lib)
    ids = _add(env, store, MODEL, 6, rng, n_slices=4)
    settings = _settings(env, pooling="tfidf", epsilon=0.05, normalize="none")
    index = load_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    slices = store.slices(MODEL)
    expected, _ = pooled([slices[i] for i in ids], kind="tfidf", center=False, epsilon=0.05)
    np.testing.assert_allclose(np.asarray(index.vectors), expected, atol=1e-5)

    env.lib.get_item(ids[0]).remove()
    index = load_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    slices = store.slices(MODEL)
    expected, _ = pooled([slices[i] for i in ids[1:]], kind="tfidf", center=False, epsilon=0.05)
    np.testing.assert_allclose(np.asarray(index.vectors), expected, atol=1e-5)


def test_annoy_search_agrees_with_exact_search():
    from annoy import AnnoyIndex

    rng = np.random.default_rng(7)
    centers = rng.normal(size=(30, DIM))
    vectors = centers[rng.integers(0, 30, 3000)] + 0.3 * rng.normal(size=(3000, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1)[:, None]).astype(np.float32)
    ids = np.arange(3000, dtype=np.int64) * 7 + 1  # item ids are not row numbers
    annoy = AnnoyIndex(DIM, "angular")
    for row, v in enumerate(vectors):
        annoy.add_item(row, v.tolist())
    annoy.build(50, n_jobs=1)
    approx, exact = AnnoySearch(annoy, ids), BruteForceSearch(ids, vectors)
    recall = []
    for q in rng.normal(size=(50, DIM)):
        a_ids, a_dist = approx.nearest(q, 10)
        e_ids, e_dist = exact.nearest(q, 10)
        recall.append(len(set(a_ids) & set(e_ids)) / 10)
        unit = q / np.linalg.norm(q)
        true = 1.0 - vectors[(a_ids - 1) // 7] @ unit  # the cosine distance of what Annoy gave
        np.testing.assert_allclose(a_dist, true, atol=1e-4)
        assert np.all(np.diff(a_dist) >= -1e-6) and np.all(np.diff(e_dist) >= 0)
    assert np.mean(recall) >= 0.9


def test_csls_transform_looks_up_item_ids_without_a_dict():
    from deejai_model.lists.playlists import CslsTransform, csls_scores, hubness_radii

    rng = np.random.default_rng(8)
    vectors = rng.normal(size=(40, DIM)).astype(np.float32)
    ids = np.arange(40, dtype=np.int64) * 3
    radii = hubness_radii(vectors, 5)
    cand = np.concatenate([rng.choice(ids, 11, replace=False), [-1]])  # -1: an outside seed
    cosines = np.sort(rng.uniform(-1, 1, 12))[::-1]
    expected_r = [dict(zip(ids.tolist(), radii, strict=True)).get(int(c), 0.0) for c in cand]
    expected = csls_scores(cosines, cosines[:5].mean(), np.array(expected_r))
    for order in (np.arange(40), rng.permutation(40)):  # sorted (the index) or not
        transform = CslsTransform(ids[order], radii[order], 5)
        np.testing.assert_allclose(transform(None, cand, cosines), expected)


def test_hubness_radii_are_stored_with_the_index(env):
    from deejai_model.lists.playlists import hubness_radii

    rng = np.random.default_rng(9)
    store = VectorStore(env.lib)
    _add(env, store, MODEL, 20, rng)
    index = build_index(
        store,
        MODEL,
        settings=_settings(env, hubness="csls", hubness_k=4),
        directory=str(env.temp_path),
    )
    assert read_meta(index.paths)["has_radii"]
    np.testing.assert_allclose(index.radii, hubness_radii(np.asarray(index.vectors), 4), atol=1e-5)
    assert index.score_transform() is not None


def test_importing_the_plugin_is_light():
    code = (
        "import sys, beetsplug.deejai; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'tensorflow', 'keras', 'librosa', 'av', 'annoy', 'deejai_model'}))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_index_metadata_names_model_and_fingerprint(env):
    rng = np.random.default_rng(10)
    store = VectorStore(env.lib)
    ids = _add(env, store, MODEL, 4, rng)
    index = build_index(store, MODEL, settings=_settings(env), directory=str(env.temp_path))
    meta = json.loads(open(index.paths.meta, encoding="utf-8").read())
    assert meta["model_id"] == MODEL and meta["n"] == len(ids)
    assert meta["fingerprint"] == store.fingerprint(MODEL)
    assert os.path.basename(index.paths.ann).startswith("deejai.") and index.paths.ann.endswith(
        ".ann"
    )


def test_libraries_above_exact_below_are_searched_with_annoy(env):
    rng = np.random.default_rng(11)
    store = VectorStore(env.lib)
    _add(env, store, MODEL, 60, rng)
    directory = str(env.temp_path)
    small = load_index(store, MODEL, settings=_settings(env, exact_below=100), directory=directory)
    large = load_index(store, MODEL, settings=_settings(env, exact_below=10), directory=directory)
    assert isinstance(small.search(), BruteForceSearch)
    assert isinstance(large.search(), AnnoySearch)
    assert large.search().search_k == 10000
    for item_id in list(small.ids)[:10]:
        query = small.vectors_by_id()[item_id]
        e_ids, e_dist = small.search().nearest(query, 5)
        a_ids, a_dist = large.search().nearest(query, 5)
        assert a_ids[0] == e_ids[0] == item_id  # itself, at distance ~0
        np.testing.assert_allclose(a_dist, e_dist, atol=1e-4)


def test_m3u_paths_follow_relative_to(env, tmp_path):
    from beetsplug.deejai.output import entry_path, m3u_bytes

    library_dir = env.config["directory"].as_filename()
    song = os.fsencode(os.path.join(library_dir, "a", "b", "song.flac"))
    playlist = str(tmp_path / "lists" / "x.m3u")
    assert entry_path(song, playlist, "absolute") == song
    assert entry_path(song, playlist, "library") == os.fsencode(os.path.join("a", "b", "song.flac"))
    assert entry_path(song, playlist, os.path.join(library_dir, "a")) == b"b/song.flac"
    rel = entry_path(song, playlist, "playlist")
    assert os.path.normpath(os.path.join(tmp_path / "lists", os.fsdecode(rel))) == os.fsdecode(song)
    item = env.add_item(title="Sóng", artist="Ärtist", path=os.fsdecode(song), length=61.6)
    data = m3u_bytes([item], playlist, "absolute").decode("utf-8")
    assert data == f"#EXTM3U\n#EXTINF:62,Ärtist - Sóng\n{os.fsdecode(song)}\n"


def test_embedded_state_of_some_items(env):
    rng = np.random.default_rng(12)
    store = VectorStore(env.lib)
    ids = _add(env, store, MODEL, 5, rng)
    assert store.embedded_state(MODEL, [ids[1], ids[3], 9999]) == {ids[1]: 101.0, ids[3]: 103.0}
    assert store.embedded_state(MODEL, []) == {}
    assert store.embedded_state(OTHER, ids) == {}


def test_delete_and_follow_report_what_they_changed(env):
    rng = np.random.default_rng(13)
    store = VectorStore(env.lib)
    ids = _add(env, store, MODEL, 4, rng)
    extra = SliceRow(ids[0], b"/x", 100.0, 1.0, np.ones((2, DIM), np.float32), np.zeros(2), False)
    store.put(OTHER, [extra])
    old, new = b"/music/t1.flac", b"/new/place.flac"
    assert store.follow_file(ids[1], old, new, 101.0, 555.0, 7) == 1
    assert store.follow_file(ids[1], new, b"/again.flac", 101.0, 556.0, 7) == 0  # mtime differs
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


def test_adaptation_projects_slices_with_what_the_library_learned(env, monkeypatch):
    import dataclasses

    from deejai_model.vectors.adapt import fit_track_projection

    rng = np.random.default_rng(11)
    store = VectorStore(env.lib)
    ids = _add(env, store, MODEL, 12, rng, n_slices=4)
    settings = _settings(env, adapt=True, adapt_dims=8, normalize="center")
    small = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    assert small.pooler.projection is None, "12 items are too few to learn from"

    configured = Settings.pooler
    monkeypatch.setattr(
        Settings, "pooler", lambda s: dataclasses.replace(configured(s), adapt_min_tracks=10)
    )
    assert (
        load_index(store, MODEL, settings=settings, directory=str(env.temp_path), rebuild=False)
        is None
    )
    built = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    slices = store.slices(MODEL)
    bags = [slices[i] for i in ids]
    projection = fit_track_projection(bags, dims=8)
    np.testing.assert_allclose(built.pooler.projection, projection, atol=1e-6)
    expected, _ = pooled(bags, kind="meanstd", projection=projection)
    np.testing.assert_allclose(np.asarray(built.vectors), expected, atol=1e-4)
    # any track's slices (an outside file's) go through the same projection, mean and scaling
    np.testing.assert_allclose(built.track_vector(bags[0]), expected[0], atol=1e-4)

    reloaded = load_index(
        store, MODEL, settings=settings, directory=str(env.temp_path), rebuild=False
    )
    assert reloaded is not None and reloaded.pooler.projection is not None
    off = load_index(
        store, MODEL, settings=_settings(env, adapt=False), directory=str(env.temp_path)
    )
    assert off.pooler.projection is None and off.dim == 2 * DIM  # meanstd of the raw slices


def test_fitted_pooler_round_trips_through_the_index_files(env):
    from deejai_model.vectors.pooling import FittedPooler

    rng = np.random.default_rng(14)
    store = VectorStore(env.lib)
    ids = _add(env, store, MODEL, 9, rng, n_slices=4)
    settings = _settings(env, pooling="tfidf", epsilon=0.05, normalize="center")
    built = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    fitted = built.pooler  # as fitted, before any file is read back
    loaded = load_index(
        store, MODEL, settings=settings, directory=str(env.temp_path), rebuild=False
    )
    assert loaded is not None and loaded._pooler is None
    assert isinstance(loaded.pooler, FittedPooler) and loaded.pooler.pooler == settings.pooler()
    np.testing.assert_array_equal(loaded.pooler.mean, fitted.mean)
    assert loaded.pooler.n_tracks == len(ids) == len(loaded.pooler.reference)
    slices = store.slices(MODEL)
    for row, item_id in enumerate(loaded.ids):  # every item's slices give its indexed vector
        np.testing.assert_allclose(
            loaded.track_vector(slices[item_id]), built.vectors[row], atol=1e-5
        )
    with open(loaded.paths.pooler, "r+b") as f:  # a damaged pooler file makes the index stale
        f.truncate(20)
    assert (
        load_index(store, MODEL, settings=settings, directory=str(env.temp_path), rebuild=False)
        is None
    )


def test_building_the_index_never_writes_to_the_database(env):
    rng = np.random.default_rng(15)
    store = VectorStore(env.lib)
    _add(env, store, MODEL, 8, rng)
    connection = env.lib._connection()
    for pooling in ("meanstd", "mean", "tfidf"):
        before = connection.total_changes
        index = build_index(
            store, MODEL, settings=_settings(env, pooling=pooling), directory=str(env.temp_path)
        )
        assert len(index) == 8 and connection.total_changes == before, pooling


def test_the_settings_configure_the_librarys_pooler(env):
    from beetsplug.deejai import config
    from deejai_model.vectors import pooling

    assert set(config.POOLINGS) == set(pooling.POOLINGS)
    settings = _settings(env, pooling="tfidf", epsilon=0.01, adapt=False, normalize="none")
    assert settings.pooler() == pooling.Pooler(
        kind="tfidf", epsilon=0.01, adapt=False, adapt_dims=64, center=False
    )
    assert settings.index_signature()["pooler"] == settings.pooler().settings()
    assert _settings(env, adapt_dims=16, normalize="center").pooler().center


def test_a_large_library_learns_from_a_sample_and_pools_in_chunks(env, monkeypatch):
    """Above FIT_SAMPLE items the pooler learns from a sample and reads the slices in chunks;
    every item's vector is then what its slices give through the fitted pooler."""
    import dataclasses

    from beetsplug.deejai import index as index_module

    rng = np.random.default_rng(21)
    store = VectorStore(env.lib)
    ids = _add(env, store, MODEL, 23, rng, n_slices=4)
    configured = Settings.pooler
    monkeypatch.setattr(
        Settings, "pooler", lambda s: dataclasses.replace(configured(s), adapt_min_tracks=5)
    )
    monkeypatch.setattr(index_module, "FIT_SAMPLE", 10)
    monkeypatch.setattr(index_module, "POOL_CHUNK", 4)
    reads = []
    real_slices = VectorStore.slices

    def counting(self, model_id, item_ids=None):
        out = real_slices(self, model_id, item_ids)
        reads.append(len(out))
        return out

    monkeypatch.setattr(VectorStore, "slices", counting)
    settings = _settings(env, adapt=True, adapt_dims=4, normalize="center")
    built = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    assert max(reads) <= 10 and sum(reads) == 10 + 23  # the sample, then every item in chunks
    assert built.pooler.projection is not None and built.pooler.n_tracks == 10
    slices = real_slices(store, MODEL)
    by_id = built.vectors_by_id()
    assert sorted(by_id) == sorted(ids)
    for item_id in ids:
        np.testing.assert_allclose(by_id[item_id], built.track_vector(slices[item_id]), atol=1e-5)
