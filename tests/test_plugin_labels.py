"""The library's weak labels (albums, playlists, plays) read from a real beets library, and
the index that learns from them (``learn_from_library``)."""

from __future__ import annotations

import numpy as np
import pytest
from vector_rows import MODEL, add_rows, configured

from beetsplug.deejai.index import IndexPaths, build_index, load_index, read_meta, stale_reason
from beetsplug.deejai.labels import library_labels
from beetsplug.deejai.store import SliceRow, VectorStore
from deejai_model.ears.manifest import read_manifest
from deejai_model.ears.shipped import default_bundle_path


def _album(env, items, **fields):
    album = env.lib.add_album(items)
    for key, value in fields.items():
        album[key] = value
    album.store()
    return [item.id for item in items]


def test_albums_playlists_and_plays_become_groups_compilations_do_not(env, tmp_path):
    items = [env.add_item(title=f"t{i}", path=f"/music/t{i}.flac") for i in range(16)]
    artist_album = _album(env, items[0:4], albumartist="Someone")
    _album(env, items[4:7], albumartist="Someone Else", comp=True)
    _album(env, items[7:10], albumartist="Various Artists")
    _album(env, items[10:11], albumartist="Someone")  # a one-track album
    folder = tmp_path / "lists"
    folder.mkdir()
    paths = [items[i].path.decode() for i in (11, 12, 13)]
    (folder / "mine.m3u").write_text("\n".join([*paths, "/elsewhere/gone.mp3"]) + "\n")
    (folder / "empty.m3u8").write_text("#EXTM3U\n")
    env.config["playlist"]["playlist_dir"] = str(folder)
    start = 1_700_000_000.0
    for i, when in zip((1, 2, 3, 14), (start, start + 300, start + 700, start + 9000), strict=True):
        items[i]["last_played"] = when
        items[i]["play_count"] = 2
        items[i].store()
    items[15]["last_played"] = start + 500  # skipped: in no session
    items[15]["skip_count"] = 3
    items[15].store()

    found = library_labels(env.lib, [item.id for item in items])

    assert found.albums == [artist_album]
    assert found.compilations == 2
    assert found.playlists == [[items[i].id for i in (11, 12, 13)]]
    assert found.sessions == [[items[i].id for i in (1, 2, 3)]]  # the lone later play: no group
    assert found.plays == 8
    assert len(found.errors) == 1 and "empty.m3u8" in found.errors[0]
    only_some = library_labels(env.lib, [items[i].id for i in (0, 1, 2, 11, 12)])
    assert only_some.albums == [artist_album[:3]] and only_some.playlists == []


def _grouped_library(env, store, rng, n=64):
    """``n`` items of 4 sounds (``add_rows``), the first 48 in albums of 6 of one sound each."""
    ids = add_rows(env, store, MODEL, n, rng, n_slices=4)
    by_id = {item.id: item for item in env.lib.items()}
    for sound in range(4):
        members = [i for i in ids[:48] if ids.index(i) % 4 == sound]
        for start in range(0, len(members), 6):
            _album(env, [by_id[i] for i in members[start : start + 6]], albumartist=f"a{sound}")
    return ids


def test_the_index_learns_from_albums_and_saves_it_with_the_pooler(env):
    store = VectorStore(env.lib)
    ids = _grouped_library(env, store, np.random.default_rng(7))
    directory = str(env.temp_path)
    learning = configured(env, learn_from_library=True)
    index = build_index(store, MODEL, settings=learning, directory=directory)
    assert index.meta["learned_from"]["albums"] == 8
    assert index.pooler.n_classes == 8
    cold = ids[-1]  # in no album: transformed by the saved state, as an outside file would be
    row = int(np.flatnonzero(np.asarray(index.ids) == cold)[0])
    slices = store.slices(MODEL, [cold])[cold]
    np.testing.assert_allclose(index.track_vector(slices), index.vectors[row], atol=1e-5)

    plain = configured(env, learn_from_library=False)
    paths = IndexPaths(directory, MODEL, env.lib.path)
    fingerprint = store.fingerprint(MODEL)
    assert stale_reason(read_meta(paths), paths, fingerprint=fingerprint, settings=plain)
    unlearned = load_index(store, MODEL, settings=plain, directory=directory)
    assert unlearned.meta["learned_from"] is None and unlearned.pooler.n_classes == 0
    before, after = np.asarray(unlearned.vectors), np.asarray(index.vectors)
    assert before.shape != after.shape or not np.allclose(before, after, atol=1e-3)


def test_a_library_mostly_outside_albums_learns_nothing_and_says_why(env):
    """Under MIN_LABELLED_SHARE of the tracks in groups, the index keeps the plain pooler."""
    from beetsplug.deejai.labels import MIN_LABELLED_SHARE, learned_line

    store = VectorStore(env.lib)
    ids = _grouped_library(env, store, np.random.default_rng(7), n=130)  # 48 of 130 in albums
    assert 48 / len(ids) < MIN_LABELLED_SHARE
    index = build_index(
        store,
        MODEL,
        settings=configured(env, learn_from_library=True),
        directory=str(env.temp_path),
    )
    summary = index.meta["learned_from"]
    assert summary["albums"] == 8 and summary["labelled_share"] == round(48 / 130, 3)
    assert index.pooler.n_classes == 0
    line = learned_line(summary, index.pooler.n_classes)
    assert line.startswith("nothing learned: only 37% of the tracks") and "50%" in line


def test_an_index_that_learned_from_albums_refits_when_they_change(env, tmp_path):
    store = VectorStore(env.lib)
    ids = _grouped_library(env, store, np.random.default_rng(11))
    directory = str(env.temp_path)
    learning = configured(env, learn_from_library=True)
    built = build_index(store, MODEL, settings=learning, directory=directory)
    assert built.meta["learned_from"]["albums"] == 8
    current = load_index(store, MODEL, settings=learning, directory=directory, rebuild=False)
    assert current is not None  # nothing changed: no rebuild

    album = env.lib.get_item(ids[0]).get_album()
    album.comp = True  # no item, no vector changes: only what the ears learn from
    album.store()
    assert load_index(store, MODEL, settings=learning, directory=directory, rebuild=False) is None
    refit = load_index(store, MODEL, settings=learning, directory=directory)
    assert refit.meta["learned_from"]["albums"] == 7
    assert refit.meta["learned_from"]["compilations_left_out"] == 1
    moved = env.lib.get_item(ids[1])  # to another album: the same albums, one member moved
    moved.album_id = env.lib.get_item(ids[2]).album_id
    moved.store()
    assert load_index(store, MODEL, settings=learning, directory=directory, rebuild=False) is None
    assert load_index(store, MODEL, settings=learning, directory=directory).pooler.n_classes == 7

    folder = tmp_path / "lists"
    folder.mkdir()
    env.config["playlist"]["playlist_dir"] = str(folder)
    chosen = [env.lib.get_item(i).path.decode() for i in ids[48:52]]  # cold items
    (folder / "evening.m3u").write_text("\n".join(chosen) + "\n")
    listed = load_index(store, MODEL, settings=learning, directory=directory)
    assert listed.meta["learned_from"]["playlists"] == 1
    assert listed.pooler.n_classes == 8
    (folder / "evening.m3u").write_text("\n".join(chosen[:2]) + "\n")  # too short to count
    emptied = load_index(store, MODEL, settings=learning, directory=directory)
    assert emptied.meta["learned_from"]["playlists"] == 0

    plain = configured(env, learn_from_library=False)
    load_index(store, MODEL, settings=plain, directory=directory)
    album.comp = False  # the setting off: albums are not looked at
    album.store()
    assert load_index(store, MODEL, settings=plain, directory=directory, rebuild=False)


@pytest.mark.slow  # two index builds of the shipped model's 912-d slices
def test_beet_deejai_index_says_what_it_learned_from(env):
    bundle = read_manifest(default_bundle_path())
    store = VectorStore(env.lib)
    rng = np.random.default_rng(8)
    centres = rng.normal(size=(4, sum(bundle.parts)))
    items, rows = [], []
    for i in range(60):
        item = env.add_item(title=f"t{i}", path=f"/music/t{i}.flac")
        slices = (centres[i % 4] + 0.3 * rng.normal(size=(3, len(centres[0])))).astype(np.float32)
        rows.append(SliceRow(item.id, item.path, 1.0, 30.0, slices, np.arange(3) * 3.0, False))
        items.append(item)
    store.put(bundle.model_id, rows)
    _album(env, items[0::4], albumartist="a")  # 2 albums of 15: half the library is grouped
    _album(env, items[1::4], albumartist="b")
    _album(env, [items[i] for i in (2, 6, 10)], comp=True)

    out, _ = env.run_output("deejai", "index")
    assert "indexed 60 items" in out
    assert "learned from 2 albums (1 compilations left out), 0 playlists" in out

    env.config["deejai"]["learn_from_library"] = False
    out, _ = env.run_output("deejai", "index")
    assert "learning from the library is off" in out


def test_a_large_library_learns_its_albums_within_the_sample(env, monkeypatch):
    import dataclasses

    from beetsplug.deejai import index as index_module
    from beetsplug.deejai.config import Settings

    store = VectorStore(env.lib)
    ids = _grouped_library(env, store, np.random.default_rng(9))
    pooler_of = Settings.pooler
    monkeypatch.setattr(
        Settings, "pooler", lambda s: dataclasses.replace(pooler_of(s), adapt_min_tracks=5)
    )
    monkeypatch.setattr(index_module, "FIT_SAMPLE", 40)
    monkeypatch.setattr(index_module, "POOL_CHUNK", 16)
    settings = configured(env, learn_from_library=True, adapt_dims=8)
    built = build_index(store, MODEL, settings=settings, directory=str(env.temp_path))
    assert built.pooler.n_tracks == 40 and built.pooler.n_classes >= 2
    slices = store.slices(MODEL)
    by_id = built.vectors_by_id()
    for item_id in ids:
        np.testing.assert_allclose(by_id[item_id], built.track_vector(slices[item_id]), atol=1e-5)
