"""The index build writes its vectors through a memory-mapped ``.npy`` and builds Annoy in its
``.ann`` file (``on_disk_build``): the same index as one built in memory, without the whole
``(n, dim)`` vectors array on the heap.  Real beets library, synthetic slice vectors."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest
from annoy import AnnoyIndex
from vector_rows import MODEL, add_rows, configured

from beetsplug.deejai import index as index_module
from beetsplug.deejai.index import IndexPaths, build_index, load_index, track_vectors
from beetsplug.deejai.store import SliceRow, VectorStore


def _in_memory_annoy(vectors: np.ndarray, trees: int) -> AnnoyIndex:
    """The Annoy index the build made before ``on_disk_build``: items added, built in RAM."""
    annoy = AnnoyIndex(vectors.shape[1], "angular")
    for row in range(len(vectors)):
        annoy.add_item(row, vectors[row].tolist())
    annoy.build(trees, n_jobs=1)
    return annoy


@pytest.mark.parametrize("chunked", [False, True], ids=["fit-all", "sample-and-chunks"])
@pytest.mark.parametrize("hubness", ["none", "csls"])
def test_the_on_disk_build_is_the_in_memory_build(env, monkeypatch, chunked, hubness):
    rng = np.random.default_rng(8)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 120, rng, centers=rng.normal(size=(12, 16)))
    if chunked:  # the path of libraries above FIT_SAMPLE items, at a test's size
        monkeypatch.setattr(index_module, "FIT_SAMPLE", 50)
        monkeypatch.setattr(index_module, "POOL_CHUNK", 32)
    settings = configured(env, exact_below=10, index_trees=10, hubness=hubness)
    built = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))

    ref_ids, ref_vectors, _ = track_vectors(store, MODEL, settings=settings)
    assert isinstance(ref_vectors, np.ndarray) and not isinstance(ref_vectors, np.memmap)
    np.testing.assert_array_equal(built.ids, ref_ids)
    assert sorted(built.ids.tolist()) == sorted(ids)
    np.testing.assert_allclose(built.vectors, ref_vectors, atol=1e-6)
    assert built.vectors.shape == (120, built.dim) and built.vectors.dtype == np.float32

    reference = _in_memory_annoy(ref_vectors, settings.index_trees)
    paths = IndexPaths(str(env.temp_path), MODEL, env.lib.path)
    saved = str(env.temp_path / "reference.ann")
    reference.save(saved)
    with open(saved, "rb") as a, open(paths.ann, "rb") as b:
        assert a.read() == b.read()  # the very file an in-memory build saves
    on_disk = AnnoyIndex(built.dim, "angular")
    on_disk.load(paths.ann)
    assert on_disk.get_n_items() == 120 and on_disk.get_n_trees() == reference.get_n_trees()
    for row in range(0, 120, 7):
        assert on_disk.get_nns_by_item(row, 10) == reference.get_nns_by_item(row, 10)
    found, _ = built.search().nearest(np.asarray(ref_vectors[3]), 10)
    assert int(found[0]) == int(ref_ids[3])
    if hubness == "csls":
        radii = index_module.csls_radii(ref_vectors, settings.hubness_k, annoy_index=reference)
        np.testing.assert_allclose(built.radii, radii, atol=1e-6)
    assert not [f for f in os.listdir(env.temp_path) if f.startswith(".deejai-")]


def test_items_gone_while_pooling_leave_no_row(env, monkeypatch):
    """An item whose row goes while the chunks are read (a ``beet remove`` meanwhile) is left
    out; the vectors file then holds exactly the rows that stayed."""
    rng = np.random.default_rng(2)
    store = VectorStore(env.lib)
    ids = add_rows(env, store, MODEL, 40, rng)
    monkeypatch.setattr(index_module, "FIT_SAMPLE", 20)
    monkeypatch.setattr(index_module, "POOL_CHUNK", 8)
    gone = set(ids[5:8])
    real_slices = VectorStore.slices

    def meanwhile_removed(self, model_id, item_ids=None):
        out = real_slices(self, model_id, item_ids)
        return {i: s for i, s in out.items() if i not in gone}

    monkeypatch.setattr(VectorStore, "slices", meanwhile_removed)
    settings = configured(env, exact_below=5, index_trees=4)
    built = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    assert built.ids.tolist() == [i for i in ids if i not in gone]
    on_disk = np.load(built.paths.vectors, allow_pickle=False)
    assert on_disk.shape == (37, built.dim)
    slices = real_slices(store, MODEL)
    for row, item_id in enumerate(built.ids):
        np.testing.assert_allclose(on_disk[row], built.track_vector(slices[item_id]), atol=1e-5)


def _wide_rows(env, store, n: int, dim: int, rng) -> None:
    """``n`` more items with 2 slices of ``dim`` each, added in one transaction (fast)."""
    from beets.library import Item

    rows = []
    with env.lib.transaction():
        for i in range(n):
            item = Item(title=f"w{i}", path=f"/music/w{i}.flac".encode())
            env.lib.add(item)
            slices = rng.normal(size=(2, dim)).astype(np.float32)
            rows.append(SliceRow(item.id, item.path, 1.0, 30.0, slices, np.arange(2.0), False))
    store.put(MODEL, rows)


def _traced_build(store, settings, directory: str) -> tuple[int, int]:
    """``build_index`` under :mod:`tracemalloc`: (peak bytes of the Python heap, bytes of the
    index's vectors)."""
    tracemalloc.start()
    try:
        built = build_index(store, MODEL, settings=settings, directory=directory)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, built.vectors.nbytes


def test_the_build_never_holds_the_whole_vectors_array(env, monkeypatch):
    """Above FIT_SAMPLE items, the build's Python heap does not grow with the vectors it
    writes: 3000 more items add well under half their vectors' bytes to its peak (main held
    the vectors whole, and twice while concatenating the chunks)."""
    rng = np.random.default_rng(5)
    store = VectorStore(env.lib)
    monkeypatch.setattr(index_module, "FIT_SAMPLE", 300)
    monkeypatch.setattr(index_module, "POOL_CHUNK", 150)
    settings = configured(
        env, adapt=False, exact_below=10, index_trees=2, hubness="csls", hubness_k=5
    )
    _wide_rows(env, store, 1000, 256, rng)
    small_peak, small = _traced_build(store, settings, str(env.temp_path))
    _wide_rows(env, store, 3000, 256, rng)
    large_peak, large = _traced_build(store, settings, str(env.temp_path))
    assert large - small >= 3000 * 256 * 4  # what the extra items' vectors weigh
    assert large_peak - small_peak < (large - small) / 2, (small_peak, large_peak, small, large)


def test_a_library_without_vectors_gets_an_empty_index(env):
    """No item embedded: the files are still written (nothing to map, nothing to build)."""
    settings = configured(env, exact_below=0)
    store = VectorStore(env.lib)
    built = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    assert len(built) == 0 and built.vectors.shape[0] == 0
    again = load_index(store, MODEL, settings=settings, directory=str(env.temp_path), rebuild=False)
    assert again is not None and len(again) == 0  # current: its files match its metadata
    assert not [f for f in os.listdir(env.temp_path) if f.startswith(".deejai-")]
