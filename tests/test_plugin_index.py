"""The plugin's search index (index.py, search.py) on a real beets library with synthetic
vectors: built from the store, reused while current, rebuilt when stale, searched exactly or
with Annoy, pooled as the library's pooler says."""

from __future__ import annotations

import json
import os

import numpy as np
from pooling_recipe import pooled
from vector_rows import DIM, MODEL, add_rows, configured, deejai_plugin

from beetsplug.deejai.config import Settings
from beetsplug.deejai.index import AnnoySearch, IndexPaths, build_index, load_index, read_meta
from beetsplug.deejai.store import VectorStore
from deejai_model.lists.playlists import BruteForceSearch


def test_index_is_reused_when_current_and_rebuilt_when_settings_or_files_change(env):
    rng = np.random.default_rng(4)
    store = VectorStore(env.lib)
    add_rows(env, store, MODEL, 10, rng)
    directory = str(env.temp_path)
    settings = configured(env)
    built = build_index(store, MODEL, settings=settings, directory=directory)
    paths = IndexPaths(directory, MODEL, env.lib.path)
    stamp = os.stat(paths.meta).st_mtime_ns
    again = load_index(store, MODEL, settings=settings, directory=directory)
    assert os.stat(paths.meta).st_mtime_ns == stamp
    np.testing.assert_array_equal(again.vectors, built.vectors)
    assert not [f for f in os.listdir(directory) if f.startswith(".deejai-")]  # no temp left

    centred = configured(env, normalize="none")
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
    ids = add_rows(env, store, MODEL, 12, rng, centers=rng.normal(size=(3, DIM)) + offset)
    settings = configured(env, normalize="center")
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
    plugin = deejai_plugin()
    store = plugin.store(env.lib)
    ids = add_rows(env, store, MODEL, 6, rng, n_slices=4)
    settings = configured(env, pooling="tfidf", epsilon=0.05, normalize="none")
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
    add_rows(env, store, MODEL, 20, rng)
    index = build_index(
        store,
        MODEL,
        settings=configured(env, hubness="csls", hubness_k=4),
        directory=str(env.temp_path),
    )
    assert read_meta(index.paths)["has_radii"]
    np.testing.assert_allclose(index.radii, hubness_radii(np.asarray(index.vectors), 4), atol=1e-5)
    assert index.score_transform() is not None


def test_index_metadata_names_model_and_fingerprint(env):
    rng = np.random.default_rng(10)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 4, rng)
    index = build_index(store, MODEL, settings=configured(env), directory=str(env.temp_path))
    meta = json.loads(open(index.paths.meta, encoding="utf-8").read())
    assert meta["model_id"] == MODEL and meta["n"] == len(ids)
    assert meta["fingerprint"] == store.fingerprint(MODEL)
    assert os.path.basename(index.paths.ann).startswith("deejai.") and index.paths.ann.endswith(
        ".ann"
    )


def test_libraries_above_exact_below_are_searched_with_annoy(env):
    rng = np.random.default_rng(11)
    store = VectorStore(env.lib)
    add_rows(env, store, MODEL, 60, rng)
    directory = str(env.temp_path)
    small = load_index(store, MODEL, settings=configured(env, exact_below=100), directory=directory)
    large = load_index(store, MODEL, settings=configured(env, exact_below=10), directory=directory)
    assert isinstance(small.search(), BruteForceSearch)
    assert isinstance(large.search(), AnnoySearch)
    assert large.search().search_k == 10000
    for item_id in list(small.ids)[:10]:
        query = small.vectors_by_id()[item_id]
        e_ids, e_dist = small.search().nearest(query, 5)
        a_ids, a_dist = large.search().nearest(query, 5)
        assert a_ids[0] == e_ids[0] == item_id  # itself, at distance ~0
        np.testing.assert_allclose(a_dist, e_dist, atol=1e-4)


def test_adaptation_projects_slices_with_what_the_library_learned(env, monkeypatch):
    import dataclasses

    from deejai_model.vectors.adapt import fit_track_projection

    rng = np.random.default_rng(11)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 12, rng, n_slices=4)
    settings = configured(env, adapt=True, adapt_dims=8, normalize="center")
    small = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    assert small.pooler.projection is None, "12 items are too few to learn from"

    pooler_of = Settings.pooler
    monkeypatch.setattr(
        Settings, "pooler", lambda s: dataclasses.replace(pooler_of(s), adapt_min_tracks=10)
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
        store, MODEL, settings=configured(env, adapt=False), directory=str(env.temp_path)
    )
    assert off.pooler.projection is None and off.dim == 2 * DIM  # meanstd of the raw slices


def test_fitted_pooler_round_trips_through_the_index_files(env):
    from deejai_model.vectors.pooling import FittedPooler

    rng = np.random.default_rng(14)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 9, rng, n_slices=4)
    settings = configured(env, pooling="tfidf", epsilon=0.05, normalize="center")
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
    add_rows(env, store, MODEL, 8, rng)
    connection = env.lib._connection()
    for pooling in ("meanstd", "mean", "tfidf"):
        before = connection.total_changes
        index = build_index(
            store, MODEL, settings=configured(env, pooling=pooling), directory=str(env.temp_path)
        )
        assert len(index) == 8 and connection.total_changes == before, pooling


def test_a_large_library_learns_from_a_sample_and_pools_in_chunks(env, monkeypatch):
    """Above FIT_SAMPLE items the pooler learns from a sample and reads the slices in chunks;
    every item's vector is then what its slices give through the fitted pooler."""
    import dataclasses

    from beetsplug.deejai import index as index_module

    rng = np.random.default_rng(21)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 23, rng, n_slices=4)
    pooler_of = Settings.pooler
    monkeypatch.setattr(
        Settings, "pooler", lambda s: dataclasses.replace(pooler_of(s), adapt_min_tracks=5)
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
    settings = configured(env, adapt=True, adapt_dims=4, normalize="center")
    built = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    assert max(reads) <= 10 and sum(reads) == 10 + 23  # the sample, then every item in chunks
    assert built.pooler.projection is not None and built.pooler.n_tracks == 10
    slices = real_slices(store, MODEL)
    by_id = built.vectors_by_id()
    assert sorted(by_id) == sorted(ids)
    for item_id in ids:
        np.testing.assert_allclose(by_id[item_id], built.track_vector(slices[item_id]), atol=1e-5)
