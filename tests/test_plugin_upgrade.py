"""A library embedded with an earlier default model keeps working after the default changes
(beetsplug/deejai/upgrade.py): queries use the earlier default's vectors and say so in one line,
until `beet deejai embed` brings the library to the new default; an explicit `model` gets no
fallback; no index mixes model ids.

"Earlier default" is the shipped musicnn_mtt bundle; the "new default" is a copy of it with
another manifest version (so another model id), made the default by patching
``deejai_model.ears.shipped.default_bundle_path`` and ``upgrade.EARLIER_DEFAULTS``: in-process with
monkeypatch, in a real ``beet`` process through its prelude.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from beets.library import Item
from beets.ui import UserError
from conftest import make_music
from vector_rows import deejai_plugin

pytestmark = pytest.mark.slow

NOTICE = "an earlier default; `beet deejai embed` brings them up to date"


def _model_id(bundle: Path) -> str:
    from deejai_model.ears.shipped import manifest_model_id

    return manifest_model_id(bundle)


def _name(model_id: str) -> str:
    """``name@version`` (the id without its weights' hash), as the line names a model."""
    return model_id.split(":", 1)[0]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> tuple[Path, Path]:
    """``(earlier default, new default)``: the shipped bundle and a copy with version 9.9.9."""
    from deejai_model.ears.shipped import default_bundle_path

    shipped = default_bundle_path()
    new = tmp_path_factory.mktemp("bundles") / "musicnn_mtt_next"
    shutil.copytree(shipped, new)
    manifest = json.loads((new / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = "9.9.9"
    (new / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert _model_id(new) != _model_id(shipped)
    return shipped, new


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> list[Path]:
    """Four 6-s files: two chords, two noise-burst tracks."""
    return make_music(
        tmp_path_factory.mktemp("music"), per_kind=2, seconds=6.0, kinds=["chord", "noise"]
    )


def _library_with_earlier_vectors(env, music, earlier: Path) -> list[Item]:
    """Add ``music`` and embed it with the earlier default (named explicitly for that run)."""
    items = []
    for path in music:
        item = Item.from_path(str(path))
        item.add(env.lib)
        items.append(item)
    env.config["deejai"]["model"] = str(earlier)
    with contextlib.redirect_stderr(io.StringIO()):
        env.run_output("deejai", "embed")
    env.config["deejai"]["model"] = ""
    return items


def _make_default(monkeypatch, bundles) -> tuple[str, str]:
    """Make the copy the shipped default and the shipped bundle the earlier one: ids (old, new)."""
    import deejai_model.ears.shipped
    from beetsplug.deejai import upgrade

    earlier, new = bundles
    monkeypatch.setattr(deejai_model.ears.shipped, "default_bundle_path", lambda: new)
    monkeypatch.setattr(upgrade, "EARLIER_DEFAULTS", (_model_id(earlier),))
    return _model_id(earlier), _model_id(new)


def _run(env, *args) -> tuple[str, str, list[str]]:
    """``beet ARGS`` in this process: (stdout, stderr, plugin log lines)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        out, logs = env.run_output(*args)
    return out, err.getvalue(), logs


def _rows_by_model(env) -> dict[str, set[int]]:
    with env.lib.transaction() as tx:
        rows = tx.query("SELECT model_id, item_id FROM deejai_vectors")
    found: dict[str, set[int]] = {}
    for model_id, item_id in rows:
        found.setdefault(model_id, set()).add(int(item_id))
    return found


def _index_files(env) -> dict[str, set[int]]:
    """``{model id: item ids}`` of every index on disk beside the library."""
    folder = Path(deejai_plugin().index_dir(env.lib))
    indexes = {}
    for meta_path in folder.glob("deejai.*.json"):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        ids = np.load(str(meta_path)[: -len(".json")] + ".ids.npy", allow_pickle=False)
        indexes[meta["model_id"]] = {int(i) for i in ids}
    return indexes


def test_queries_use_the_earlier_default_until_embed_brings_the_library_up_to_date(
    env, music, bundles, monkeypatch
):
    items = _library_with_earlier_vectors(env, music, bundles[0])
    old, new = _make_default(monkeypatch, bundles)
    assert deejai_plugin().model().model_id == new
    everyone = {item.id for item in items}

    # before re-embedding: every query works from the earlier default, one line per command
    for args in (
        ("similar", "title:chord-1", "-n", "2", "-f", "$title"),
        ("journey", "title:chord-1", "title:noise-2", "-n", "1", "-f", "$title"),
        ("playlist", "title:noise-1", "-n", "2", "-f", "$title"),
        ("index",),
    ):
        out, _, logs = _run(env, "deejai", *args)
        assert out.strip(), args
        notices = [line for line in logs if NOTICE in line]
        assert notices == [
            f"4 of 4 items were embedded by {_name(old)}, {NOTICE} ({_name(new)})"
        ], (args, logs)
    assert _index_files(env) == {old: everyone}

    # ls: items with only the earlier default's vectors are stale, not embedded
    out, err, logs = _run(env, "deejai", "ls")
    assert out.count("[vectors: stale]") == 4 and "[vectors: yes]" not in out
    assert "4 with vectors of an earlier default only" in err
    assert not [line for line in logs if NOTICE in line]

    # embed part of the library: the new default's rows come, the earlier ones stay, and
    # queries keep using the earlier default (it still covers more)
    _, err, _ = _run(env, "deejai", "embed", "album:chord")
    assert "deejai: 2 embedded, 0 skipped, 0 failed" in err
    assert "deejai: 2/2 items," in err  # with progress
    chords = {item.id for item in items if item.album == "chord"}
    assert _rows_by_model(env) == {old: everyone, new: chords}
    _, _, logs = _run(env, "deejai", "similar", "title:noise-1", "-n", "3")
    assert len([line for line in logs if "4 of 4 items were embedded by" in line]) == 1
    assert _index_files(env) == {old: everyone}

    # the rest: every item has the new default's vectors, the earlier rows and index go
    _, err, logs = _run(env, "deejai", "embed")
    assert "deejai: 2 embedded, 2 skipped, 0 failed" in err
    assert _rows_by_model(env) == {new: everyone}
    assert any(f"dropped 4 rows of {_name(old)}" in line for line in logs), logs
    out, _, logs = _run(env, "deejai", "similar", "title:noise-1", "-n", "3", "-f", "$title")
    assert len(out.split()) == 3
    assert not [line for line in logs if NOTICE in line]
    assert _index_files(env) == {new: everyone}
    out, err, _ = _run(env, "deejai", "ls")
    assert out.count("[vectors: yes]") == 4 and "earlier default" not in err


def test_an_explicit_model_gets_no_fallback(env, music, bundles, monkeypatch):
    _library_with_earlier_vectors(env, music, bundles[0])
    old, new = _make_default(monkeypatch, bundles)
    env.config["deejai"]["model"] = str(bundles[1])  # the new default, named by the user
    with pytest.raises(UserError, match=f"no item has vectors of model {new}"):
        _run(env, "deejai", "similar", "title:chord-1")
    out, err, logs = _run(env, "deejai", "ls")
    assert out.count("[vectors: no]") == 4 and "earlier default" not in err
    assert not [line for line in logs if NOTICE in line]
    _run(env, "deejai", "embed", "album:chord")
    assert _rows_by_model(env)[old] == {item.id for item in env.lib.items()}  # nothing dropped
    _, _, logs = _run(env, "deejai", "similar", "title:chord-1", "-n", "1")
    assert not [line for line in logs if NOTICE in line]
    assert set(_index_files(env)) == {new}
    env.config["deejai"]["model"] = ""  # the same library on the shipped default falls back
    _, _, logs = _run(env, "deejai", "similar", "title:chord-1", "-n", "1")
    assert len([line for line in logs if "4 of 4 items were embedded by" in line]) == 1


def test_a_file_outside_the_library_is_heard_by_the_earlier_default(
    env, music, bundles, monkeypatch
):
    _library_with_earlier_vectors(env, music[1:], bundles[0])  # chord-1 stays outside
    _make_default(monkeypatch, bundles)
    out, _, logs = _run(env, "deejai", "similar", str(music[0]), "-n", "1", "-f", "$title")
    assert out.split() == ["chord-2"]
    assert len([line for line in logs if NOTICE in line]) == 1


def test_an_earlier_default_that_no_longer_ships_cannot_hear_outside_files(
    env, bundles, monkeypatch
):
    from beetsplug.deejai.upgrade import model_handle
    from deejai_model.ears.shipped import bundle_by_id

    plugin = deejai_plugin()
    assert bundle_by_id(_model_id(bundles[0])) == bundles[0]
    assert bundle_by_id(_model_id(bundles[1])) is None  # not under deejai_model/ears/bundles
    current = plugin.model()
    assert model_handle(plugin.settings, current, current.model_id) is current
    with pytest.raises(UserError, match="no longer installed"):
        model_handle(plugin.settings, current, _model_id(bundles[1]))

    from beetsplug.deejai.importer import ModelHandle
    from deejai_model.ears.manifest import read_manifest

    session = plugin.session(env.lib)  # the mix's excerpts read the query model's manifest
    session.model = ModelHandle(dataclasses.replace(plugin.settings, model=str(bundles[1])))
    monkeypatch.setattr(session, "query_model_id", lambda: _model_id(bundles[0]))
    assert session.query_manifest() == read_manifest(bundles[0])  # a shipped earlier default
    monkeypatch.setattr(session, "query_model_id", lambda: _model_id(bundles[1]))
    assert session.query_manifest() == read_manifest(bundles[1])  # the configured model's
    session.model = current
    assert session.query_manifest() == current.manifest  # gone: the configured model's


def test_beet_says_it_once_and_stops_after_embed(env, music, bundles):
    old, new = _model_id(bundles[0]), _model_id(bundles[1])
    _library_with_earlier_vectors(env, music, bundles[0])
    env.write_config()
    prelude = (
        "import pathlib, deejai_model.ears.shipped as shipped\n"
        f"shipped.default_bundle_path = lambda: pathlib.Path({str(bundles[1])!r})\n"
        "import beetsplug.deejai.upgrade as upgrade\n"
        f"upgrade.EARLIER_DEFAULTS = ({_model_id(bundles[0])!r},)\n"
    )
    done = env.beet("deejai", "similar", "title:chord-1", "-n", "2", prelude=prelude, probe=True)
    assert done.returncode == 0, done.stderr
    notices = [line for line in done.stderr.splitlines() if NOTICE in line]
    assert notices == [
        f"deejai: 4 of 4 items were embedded by {_name(old)}, {NOTICE} ({_name(new)})"
    ], done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and lines[-1] == "HEAVY="  # two items; the query loaded no model
    done = env.beet("deejai", "embed", prelude=prelude)
    assert done.returncode == 0 and "4 embedded" in done.stderr, done.stderr
    done = env.beet("deejai", "similar", "title:chord-1", "-n", "2", prelude=prelude)
    assert done.returncode == 0 and NOTICE not in done.stderr, done.stderr
    assert len(done.stdout.splitlines()) == 2


def test_the_web_dj_and_mix_excerpts_use_the_earlier_default(env, music, bundles, monkeypatch):
    from beetsplug.deejai.store import VectorStore
    from beetsplug.deejai.web.backend import LibraryDj

    _library_with_earlier_vectors(env, music, bundles[0])
    old, _ = _make_default(monkeypatch, bundles)
    dj = LibraryDj(deejai_plugin().session(env.lib), ahead=2)
    assert dj.index.model_id == old and len(dj.index) == 4
    assert set(dj.beginnings()) == {item.id for item in env.lib.items()}

    asked = []
    slice_times = VectorStore.slice_times

    def spy(self, model_id, item_ids):
        asked.append(model_id)
        return slice_times(self, model_id, item_ids)

    monkeypatch.setattr(VectorStore, "slice_times", spy)
    out, _, logs = _run(
        env, "deejai", "mix", "chord-1", "noise-1", "--excerpt", "4", "--crossfade", "1",
        "--dry-run",
    )  # fmt: skip
    assert asked == [old]  # where each excerpt starts comes from the earlier default's slices
    assert len(out.strip().splitlines()) == 2
    assert len([line for line in logs if NOTICE in line]) == 1
