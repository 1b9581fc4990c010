"""The plugin's index with ``contrastive_head: yes``: the head is trained with the index,
saved with its pooler, loaded as data, and switching it off rebuilds the index."""

from __future__ import annotations

import numpy as np
from vector_rows import MODEL, add_rows, configured

from beetsplug.deejai.index import IndexPaths, build_index, load_index, read_meta, stale_reason
from beetsplug.deejai.store import VectorStore


def test_the_index_trains_the_head_and_saves_it_with_the_pooler(env):
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 60, np.random.default_rng(3), n_slices=4)
    directory = str(env.temp_path)
    with_head = configured(env, contrastive_head=True, learn_from_library=False, adapt_dims=8)
    index = build_index(store, MODEL, settings=with_head, directory=directory)
    assert index.pooler.head is not None
    loaded = load_index(store, MODEL, settings=with_head, directory=directory)
    assert loaded.pooler.head is not None
    np.testing.assert_array_equal(np.asarray(loaded.vectors), np.asarray(index.vectors))
    slices = store.slices(MODEL, [ids[5]])[ids[5]]
    np.testing.assert_array_equal(loaded.track_vector(slices), index.track_vector(slices))
    row = int(np.flatnonzero(np.asarray(index.ids) == ids[5])[0])
    np.testing.assert_allclose(loaded.track_vector(slices), index.vectors[row], atol=1e-5)

    without = configured(env, contrastive_head=False)
    paths = IndexPaths(directory, MODEL, env.lib.path)
    assert stale_reason(
        read_meta(paths), paths, fingerprint=store.fingerprint(MODEL), settings=without
    )
    assert load_index(store, MODEL, settings=without, directory=directory).pooler.head is None
