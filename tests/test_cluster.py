"""``beet deejai embed --dask``: embedding on a real Dask cluster (``distributed.LocalCluster``
with worker processes), the beets process the only writer.

Each cluster costs seconds to start (worker processes import numpy and load the bundle), so the
tests share one two-worker cluster where they can and use short generated tracks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_music

distributed = pytest.importorskip("distributed")

from beetsplug.deejai.cluster import ClusterEmbedder, map_path, parse_path_map  # noqa: E402
from deejai_model.ears.bundle import load_bundle  # noqa: E402
from deejai_model.ears.embed import Embedder, TrackSlices  # noqa: E402
from deejai_model.ears.manifest import read_manifest  # noqa: E402
from deejai_model.ears.remote import BUNDLE_ENV  # noqa: E402
from deejai_model.ears.shipped import default_bundle_path  # noqa: E402

pytestmark = pytest.mark.slow

BUNDLE = str(default_bundle_path())
MODEL_ID = read_manifest(BUNDLE).model_id
KINDS = ["chord", "noise", "fastclicks"]


def cluster(n_workers: int = 2, **worker_env) -> distributed.LocalCluster:
    return distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env=worker_env or None,
    )


@pytest.fixture(scope="module")
def shared_cluster():
    with cluster() as running:
        yield running


@pytest.fixture(scope="module")
def short_music(tmp_path_factory) -> list[Path]:
    return make_music(tmp_path_factory.mktemp("music"), per_kind=2, seconds=6.0, kinds=KINDS)


def embedder(address: str, path_map=()) -> ClusterEmbedder:
    return ClusterEmbedder(
        address, bundle=BUNDLE, model_id=MODEL_ID, max_slices=8, batch_size=64, path_map=path_map
    )


def test_path_map_names_files_as_the_workers_see_them():
    pairs = parse_path_map(["/music=/mnt/music", "/music/late=/srv/late,/x/=/y"])
    assert map_path(b"/music/late/a.flac", pairs) == "/srv/late/a.flac"  # longest prefix first
    assert map_path(b"/music/b.flac", pairs) == "/mnt/music/b.flac"
    assert map_path("/musical/c.flac", pairs) == "/musical/c.flac"  # a prefix is a folder
    assert map_path("/x/d.flac", pairs) == "/y/d.flac"


def _stored(env) -> dict[str, np.ndarray]:
    with env.lib.transaction() as tx:
        rows = tx.query("SELECT item_id, n_slices, dim, slices FROM deejai_vectors")
    items = {item.id: os.fsdecode(item.path) for item in env.lib.items()}
    return {items[i]: np.frombuffer(blob, "<f4").reshape(int(n), int(d)) for i, n, d, blob in rows}


def _import(env, music: list[Path]) -> None:
    env.config["deejai"]["auto"] = False  # embedding is the test's
    env.import_music(music[0].parent.parent)
    assert len(env.lib.items()) == len(music)


def test_cli_embeds_on_the_cluster_through_a_path_map_equal_to_local(
    env, shared_cluster, short_music, tmp_path
):
    _import(env, short_music)
    mount = tmp_path / "mnt"
    mount.symlink_to(env.lib_path, target_is_directory=True)  # the workers' view of the library
    env.write_config(dask=shared_cluster.scheduler_address)
    done = env.beet("deejai", "embed", "--path-map", f"{env.lib_path}={mount}")
    assert done.returncode == 0, done.stderr
    assert "embedding on 2 Dask workers" in done.stderr
    assert f"{len(short_music)} embedded, 0 skipped, 0 failed" in done.stderr
    stored = _stored(env)
    local = Embedder(load_bundle(BUNDLE), max_slices=8, workers=1)
    for path, result in local.embed_paths(sorted(stored)):
        assert isinstance(result, TrackSlices)
        np.testing.assert_allclose(stored[path], result.vectors, atol=1e-5, rtol=0)
    again = env.beet("deejai", "embed")  # resumes: all current
    assert f"0 embedded, {len(short_music)} skipped" in again.stderr, again.stderr


def test_a_worker_killed_mid_run_costs_a_retry_not_a_track(shared_cluster, short_music):
    paths = [str(p) for p in short_music] * 2  # enough work to kill a worker in the middle
    run = embedder(shared_cluster.scheduler_address).embed_paths(paths)
    first = next(run)
    with distributed.Client(shared_cluster.scheduler_address, set_as_default=False) as client:
        victim = sorted(client.run(os.getpid).items())[0][1]
    os.kill(victim, 9)
    results = [first, *run]
    assert sorted(p for p, _ in results) == sorted(paths)
    assert all(isinstance(r, TrackSlices) for _, r in results), [
        r for _, r in results if not isinstance(r, TrackSlices)
    ]


def _other_bundle(folder: Path) -> str:
    """The default bundle under another version: another model id, the same weights."""
    other = folder / "other-bundle"
    other.mkdir()
    for entry in Path(BUNDLE).iterdir():
        if entry.name != "manifest.json":
            (other / entry.name).symlink_to(entry)
    manifest = json.loads((Path(BUNDLE) / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = manifest["version"] + ".other"
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return str(other)


def test_a_worker_with_another_model_is_refused_before_any_work(env, short_music, tmp_path):
    _import(env, short_music)
    other = _other_bundle(tmp_path)
    assert read_manifest(other).model_id != MODEL_ID
    with cluster(1, **{BUNDLE_ENV: other}) as wrong:
        env.write_config(dask=wrong.scheduler_address)
        done = env.beet("deejai", "embed")
    assert done.returncode != 0
    assert "refusing Dask workers" in done.stderr and read_manifest(other).model_id in done.stderr
    assert _stored(env) == {}


def test_the_scheduler_going_away_ends_the_run_with_what_came_back_then_resume(
    env, short_music, tmp_path
):
    music = tmp_path / "many"
    for i in range(3):  # more files than fit in flight, so the run outlives the first results
        shutil.copytree(short_music[0].parent.parent, music / f"copy{i}")
    env.config["deejai"]["auto"] = False
    env.import_music(music)
    total = len(env.lib.items())
    running = cluster(1)
    env.write_config(dask=running.scheduler_address, commit_every=1)
    proc = subprocess.Popen(
        [*_beet_argv(env), "deejai", "embed"],
        env=_beet_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not _stored(env) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
    finally:
        running.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, err
    assert "lost the Dask scheduler" in err, err
    assert "Traceback" not in err, err
    kept = len(_stored(env))
    assert 0 < kept < total
    with cluster(2) as again:
        env.write_config(dask=again.scheduler_address)
        done = env.beet("deejai", "embed")
    assert done.returncode == 0, done.stderr
    assert f"{total - kept} embedded, {kept} skipped, 0 failed" in done.stderr
    assert len(_stored(env)) == total


def _beet_argv(env) -> list[str]:
    import sys

    return [sys.executable, "-m", "beets"]


def _beet_env(env) -> dict[str, str]:
    from conftest import ROOT

    run_env = dict(os.environ, BEETSDIR=str(env.temp_path), HOME=str(env.temp_path))
    run_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), run_env.get("PYTHONPATH", "")])
    return run_env
