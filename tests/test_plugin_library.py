"""The plugin on a real library: import embeds with the shipped model, queries make sense.

One library for the module (:func:`conftest.deejai_library`): twelve generated tracks of four
kinds, imported with ``auto: yes``.  These tests only read it.

"""

from __future__ import annotations

import contextlib
import io
import os
import shutil

import numpy as np
import pytest
from conftest import kind_of
from vector_rows import deejai_plugin

pytestmark = pytest.mark.slow


def _vectors(env):
    """``{title: unit vector}`` from the plugin's index (built on demand)."""
    plugin = deejai_plugin()
    index = _index(env)
    vectors = index.vectors_by_id()
    return {item.title: vectors[item.id] for item in env.lib.items()}, plugin


def _index(env):
    from beetsplug.deejai.index import load_index

    plugin = deejai_plugin()
    return load_index(
        plugin.store(env.lib),
        plugin.model().model_id,
        settings=plugin.settings,
        directory=plugin.index_dir(env.lib),
    )


def _titles(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip()]


def test_import_embeds_every_item_with_the_shipped_model(deejai_library):
    from deejai_model.ears.shipped import default_bundle_path

    manifest = (default_bundle_path() / "manifest.json").read_text()
    with deejai_library.lib.transaction() as tx:
        rows = tx.query("SELECT item_id, model_id, n_slices, dim, padded FROM deejai_vectors")
    ids = {item.id for item in deejai_library.lib.items()}
    assert len(ids) == 12
    assert {r[0] for r in rows} == ids
    model_ids = {r[1] for r in rows}
    assert len(model_ids) == 1
    (model_id,) = model_ids
    assert model_id == deejai_plugin().model().model_id
    assert model_id.split("@")[0] in manifest  # the bundle's name
    assert all(r[2] >= 2 and r[4] == 0 for r in rows)  # 12 s: several slices, none padded
    assert {r[3] for r in rows} == {deejai_plugin().model().bundle().dim}


def test_after_import_the_rows_follow_the_copied_files_and_embed_skips_them(deejai_library):
    # the import stage runs before beets copies the files: the rows must end up describing the
    # copies (path and mtime), or the next `embed` would take every file for a changed one
    with deejai_library.lib.transaction() as tx:
        rows = dict(tx.query("SELECT item_id, path FROM deejai_vectors"))
    for item in deejai_library.lib.items():
        assert bytes(rows[item.id]) == item.path
        assert os.fsdecode(item.path).startswith(str(deejai_library.lib_path))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        deejai_library.run_output("deejai", "embed")
    assert "deejai: 0 embedded, 12 skipped, 0 failed" in err.getvalue()


def test_nearest_neighbours_are_of_the_same_kind(deejai_library):
    out, _ = deejai_library.run_output("deejai", "index")
    assert "indexed 12 items" in out
    hits_at_1 = hits_at_2 = 0
    for item in deejai_library.lib.items():
        out, _ = deejai_library.run_output(
            "deejai", "similar", f"title:{item.title}", "-n", "2", "-f", "$title"
        )
        found = _titles(out)
        assert len(found) == 2 and item.title not in found
        hits_at_1 += kind_of(found[0]) == kind_of(item.title)
        hits_at_2 += sum(kind_of(t) == kind_of(item.title) for t in found)
    assert hits_at_1 == 12, "every track's nearest neighbour is of its own kind"
    assert hits_at_2 >= 22, f"precision at 2 too low: {hits_at_2}/24"


@pytest.mark.parametrize(
    "settings", [{"hubness": "csls", "hubness_k": 3}, {"pooling": "tfidf"}, {"normalize": "none"}]
)
def test_other_settings_still_find_the_same_kind(deejai_library, settings):
    deejai_library.config["deejai"].set(settings)
    try:
        hits = 0
        for item in deejai_library.lib.items():
            out, _ = deejai_library.run_output(
                "deejai", "similar", f"title:{item.title}", "-n", "1", "-f", "$title"
            )
            hits += kind_of(_titles(out)[0]) == kind_of(item.title)
        meta = _index(deejai_library).meta
    finally:
        deejai_library.config["deejai"].set(
            {"hubness": "none", "pooling": "meanstd", "normalize": "center"}
        )
    assert hits >= 11
    assert meta["has_radii"] == ("hubness" in settings)
    assert meta["settings"]["pooler"]["kind"] == settings.get("pooling", "meanstd")


def test_similar_prints_distances_in_ascending_order(deejai_library):
    out, _ = deejai_library.run_output("deejai", "similar", "title:noise-1", "-n", "11")
    lines = _titles(out)
    assert len(lines) == 11
    distances = [float(line.rsplit("(", 1)[1].rstrip(")")) for line in lines]
    assert distances == sorted(distances)
    assert lines[0].startswith("noise - noise - noise-")  # beets' format_item, then distance


def test_journey_goes_from_a_to_b_without_repeats_and_gets_closer_to_b(deejai_library):
    vectors, _ = _vectors(deejai_library)
    out, _ = deejai_library.run_output(
        "deejai", "journey", "title:chord-1", "title:slowclicks-2", "-n", "4", "-f", "$title"
    )
    path = _titles(out)
    assert path[0] == "chord-1" and path[-1] == "slowclicks-2"
    assert len(path) == 6 and len(set(path)) == 6
    to_b = [float(vectors[t] @ vectors["slowclicks-2"]) for t in path]
    steps = np.diff(to_b)
    assert steps.mean() > 0 and to_b[-2] > to_b[0]


def test_journey_through_a_waypoint(deejai_library):
    out, _ = deejai_library.run_output(
        "deejai",
        "journey",
        "title:noise-1",
        "title:chord-1",
        "--via",
        "title:fastclicks-1",
        "-n",
        "2",
        "-f",
        "$title",
    )
    path = _titles(out)
    assert len(path) == 7 and len(set(path)) == 7
    assert path[0] == "noise-1" and path[3] == "fastclicks-1" and path[-1] == "chord-1"


def test_playlist_continues_with_the_seed_kind_and_noise_is_reproducible(deejai_library):
    out, _ = deejai_library.run_output(
        "deejai", "playlist", "title:fastclicks-1", "-n", "2", "-f", "$title"
    )
    titles = _titles(out)
    assert titles[0] == "fastclicks-1"
    assert sorted(titles[1:]) == ["fastclicks-2", "fastclicks-3"]
    args = ["deejai", "playlist", "title:chord-1", "-n", "6", "--noise", "0.5", "-f", "$title"]
    first, _ = deejai_library.run_output(*args, "--seed", "3")
    again, _ = deejai_library.run_output(*args, "--seed", "3")
    assert first == again
    titles = _titles(first)
    assert titles[0] == "chord-1" and len(set(titles)) == 7


def test_a_query_matching_several_items_uses_the_first_and_warns(deejai_library):
    out, logs = deejai_library.run_output("deejai", "similar", "chord", "-n", "1", "-f", "$title")
    first = deejai_library.lib.items("chord")[0]
    assert any("3 items match 'chord'" in line and first.title in line for line in logs)
    assert _titles(out) != [first.title]


def test_a_file_outside_the_library_is_embedded_on_the_fly(deejai_library, deejai_music, tmp_path):
    outside = tmp_path / "elsewhere.flac"
    shutil.copy(next(p for p in deejai_music if p.name == "noise-2.flac"), outside)
    out, logs = deejai_library.run_output(
        "deejai", "similar", str(outside), "-n", "2", "-f", "$title"
    )
    found = _titles(out)
    assert found[0] == "noise-2"  # the same audio, in the library
    assert kind_of(found[1]) == "noise"
    assert any("not in the library" in line for line in logs)


@pytest.mark.parametrize("pooling", ["meanstd", "tfidf"])
def test_an_outside_copy_of_a_library_file_gets_that_items_vector(
    deejai_library, deejai_music, tmp_path, monkeypatch, pooling
):
    import dataclasses

    from beetsplug.deejai.config import Settings

    # adapted (a projection learned from these 12 items), centred, then pooled
    configured = Settings.pooler
    monkeypatch.setattr(
        Settings, "pooler", lambda s: dataclasses.replace(configured(s), adapt_min_tracks=5)
    )
    deejai_library.config["deejai"].set({"pooling": pooling, "adapt": True, "adapt_dims": 8})
    try:
        outside = tmp_path / "copy.flac"
        shutil.copy(next(p for p in deejai_music if p.name == "chord-3.flac"), outside)
        session = deejai_plugin().session(deejai_library.lib)
        index = session.index()
        # the shipped default is pooled per network: one fitted block each
        assert index.pooler.pooler.parts == (200, 200, 512)
        assert len(index.pooler.parts) == 3
        assert all(b.projection is not None for b in index.pooler.parts)
        assert index.pooler.pooler.kind == pooling
        seed = session.seed(str(outside))
        (item,) = deejai_library.lib.items("title:chord-3")
        assert seed.item is None and seed.key < 0
        np.testing.assert_allclose(seed.vector, index.vectors_by_id()[item.id], atol=1e-4)
    finally:
        deejai_library.config["deejai"].set({"pooling": "meanstd", "adapt": True, "adapt_dims": 64})


def test_a_query_that_rebuilds_the_index_leaves_the_database_untouched(deejai_library):
    import hashlib

    db = deejai_library.config["library"].as_filename()

    def state() -> tuple[str, int]:
        with open(db, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest(), os.stat(db).st_mtime_ns

    for settings in ({"pooling": "mean", "normalize": "none"}, {"pooling": "tfidf"}):
        deejai_library.write_config(**settings)  # settings the index was not built with
        before = state()
        done = deejai_library.beet("-v", "deejai", "similar", "title:chord-1", "-n", "2")
        assert done.returncode == 0, done.stderr
        assert "rebuilding the index" in done.stderr
        assert state() == before, f"`similar` with {settings} wrote to the database"
    deejai_library.write_config()


def test_m3u_output_lists_the_items_relative_to_the_playlist(deejai_library, tmp_path):
    target = tmp_path / "lists" / "trip.m3u8"
    out, _ = deejai_library.run_output(
        "deejai",
        "journey",
        "title:chord-1",
        "title:noise-1",
        "-n",
        "2",
        "-o",
        str(target),
        "-f",
        "$id",
    )
    ids = [int(x) for x in _titles(out)]
    lines = target.read_bytes().decode("utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    entries = list(zip(lines[1::2], lines[2::2], strict=True))
    assert len(entries) == len(ids) == 4
    for (extinf, entry), item_id in zip(entries, ids, strict=True):
        item = deejai_library.lib.get_item(item_id)
        assert extinf == f"#EXTINF:{round(item.length)},{item.artist} - {item.title}"
        assert not os.path.isabs(entry)
        assert os.path.samefile(target.parent / entry, os.fsdecode(item.path))

    absolute = tmp_path / "abs.m3u"
    deejai_library.run_output(
        "deejai",
        "similar",
        "title:chord-1",
        "-n",
        "3",
        "-o",
        str(absolute),
        "--relative-to",
        "absolute",
    )
    paths = [line for line in absolute.read_text().splitlines() if not line.startswith("#")]
    assert len(paths) == 3 and all(os.path.isabs(p) and os.path.isfile(p) for p in paths)


def test_play_hands_the_playlist_to_the_configured_player(deejai_library):
    deejai_library.write_config(extra="play:\n  command: cat\n")  # the player prints the playlist
    try:
        done = deejai_library.beet(
            "deejai", "similar", "title:chord-1", "-n", "2", "--play", "-f", "$id"
        )
    finally:
        deejai_library.write_config()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    ids = [int(x) for x in lines[:2]]
    assert lines[2] == "Playing 2 tracks."
    # the play plugin's playlist file: one path a line
    assert lines[3:] == [os.fsdecode(deejai_library.lib.get_item(i).path) for i in ids]


def test_query_commands_in_a_fresh_process_do_not_import_tensorflow(deejai_library):
    for args in (
        ["deejai", "similar", "title:chord-2", "-n", "3"],
        ["deejai", "journey", "title:chord-2", "title:noise-3", "-n", "2"],
        ["deejai", "playlist", "title:noise-3", "-n", "3"],
    ):
        done = deejai_library.beet(*args, probe=True)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[-1] == "HEAVY=", f"{args[1]} deejai_library {lines[-1]}"
        assert len(lines) >= 4  # the items, then the probe line


def test_unknown_action_and_no_match_are_user_errors(deejai_library):
    done = deejai_library.beet("deejai", "dance")
    assert done.returncode != 0 and "unknown action" in done.stderr
    done = deejai_library.beet("deejai", "similar", "title:nothing-like-this")
    assert done.returncode != 0 and "no item matches" in done.stderr
