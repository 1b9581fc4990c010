"""Trained ears (a): a head on base slice vectors, trained to Track2Vec, saved as a bundle."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from deejai_model.ears.bundle import load_bundle
from deejai_model.ears.head_bundle import HeadBundle
from deejai_model.errors import BundleError
from deejai_model.learn.head import HeadParams, save_head_bundle, train_head

BASE_DIM, T2V_DIM, GROUPS, PER_GROUP, SLICES = 200, 16, 4, 12, 6
#: A 200-d base (musicnn MTT's penultimate), as the heads here are trained on.
MTT = Path(__file__).resolve().parents[1] / "deejai_model" / "ears" / "bundles" / "musicnn_mtt"


def learnable(seed: int = 0):
    """Slices whose group shows in a few of 200 noisy dimensions; targets cluster by group."""
    rng = np.random.default_rng(seed)
    group_audio = rng.normal(0, 1, (GROUPS, BASE_DIM)) * (rng.random(BASE_DIM) < 0.1)
    group_t2v = rng.normal(0, 1, (GROUPS, T2V_DIM))
    slices, targets, groups = [], [], []
    for g in range(GROUPS):
        for _ in range(PER_GROUP):
            slices.append(group_audio[g] + rng.normal(0, 1.0, (SLICES, BASE_DIM)))
            targets.append(group_t2v[g] + rng.normal(0, 0.3, T2V_DIM))
            groups.append(g)
    return [s.astype(np.float32) for s in slices], np.array(targets, np.float32), groups


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    slices, targets, _ = learnable()
    folder = tmp_path_factory.mktemp("ckpt")
    model, report = train_head(
        slices, targets, params=HeadParams(epochs=30, patience=8), checkpoint_dir=folder
    )
    return model, report, folder


def test_head_beats_the_constant_vector(trained):
    _, report, _ = trained
    assert report.val_tracks == round(GROUPS * PER_GROUP * 0.2)
    assert report.val_cosine > report.constant_cosine + 0.2, report.line()
    assert "best constant vector" in report.line()


def test_checkpoint_resumes_and_a_changed_run_starts_over(trained):
    _, report, folder = trained
    state = json.loads((folder / "last.json").read_text())
    assert state["epoch"] == report.epochs
    slices, targets, _ = learnable()
    # the same data: resumes where it stopped (early stopping already reached: no more epochs)
    _, again = train_head(
        slices, targets, params=HeadParams(epochs=30, patience=8), checkpoint_dir=folder
    )
    assert again.resumed_from == report.epochs and again.epochs == report.epochs
    # other settings: not resumed
    _, fresh = train_head(
        slices, targets, params=HeadParams(epochs=2, patience=8), checkpoint_dir=folder
    )
    assert fresh.resumed_from == 0 and fresh.epochs == 2


def test_bundle_round_trip_applies_head_to_stored_slices(trained, tmp_path):
    model, _, _ = trained
    base = load_bundle(MTT)
    # the head was trained on 200-d vectors, as musicnn's penultimate layer gives
    written = save_head_bundle(model, base, tmp_path / "ears", extra={"note": "test"})
    assert written.base["model_id"] == base.model_id and written.architecture == "head"
    head = load_bundle(tmp_path / "ears")
    assert isinstance(head, HeadBundle) and head.model_id != base.model_id
    assert head.manifest.frontend == base.manifest.frontend
    slices, _, _ = learnable(seed=1)
    np.testing.assert_allclose(
        head.apply(slices[0]), np.asarray(model(slices[0], training=False)), rtol=1e-5, atol=1e-6
    )
    # audio in: head(base(mel slices))
    mel = np.random.default_rng(0).random((3, *base.input_shape), dtype=np.float32)
    np.testing.assert_allclose(head.embed(mel), head.apply(base.embed(mel)), rtol=1e-4, atol=1e-5)
    # a head whose base cannot be found is refused with a clear reason
    manifest = json.loads((tmp_path / "ears" / "manifest.json").read_text())
    manifest["base"] = {"model_id": "other@1:000000000000", "path": "nowhere"}
    (tmp_path / "ears" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="base model other@1:000000000000 not found"):
        load_bundle(tmp_path / "ears")


def test_a_head_bundle_embeds_without_tensorflow_on_a_litert_base(trained, tmp_path):
    """The head runs in numpy, so a head over the shipped LiteRT base never loads TensorFlow
    (outside-file seeds, uploads and `beet import` with trained ears stay light)."""
    model, _, _ = trained
    old_mask = os.umask(0o022)
    try:
        save_head_bundle(model, load_bundle(MTT), tmp_path / "ears")
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((tmp_path / "ears").stat().st_mode) == 0o755  # not mkdtemp's 0700
    slices, _, _ = learnable(seed=2)
    np.save(tmp_path / "slices.npy", slices[0])
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from deejai_model.ears.bundle import load_bundle
        head = load_bundle({str(tmp_path / "ears")!r})
        base_vectors = np.load({str(tmp_path / "slices.npy")!r})
        np.save({str(tmp_path / "applied.npy")!r}, head.apply(base_vectors))
        mel = np.random.default_rng(0).random((2, *head.input_shape), dtype=np.float32)
        print(head.runtime)
        print(head.embed(mel).shape)
        print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"tensorflow", "keras"}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    runtime, shape, heavy = done.stdout.splitlines()
    assert runtime == "litert" and shape == f"(2, {T2V_DIM})" and heavy == "[]", done.stdout
    np.testing.assert_allclose(
        np.load(tmp_path / "applied.npy"),
        np.asarray(model(slices[0], training=False)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_the_same_seed_trains_the_same_head():
    """The seed fixes the head's initial weights too (not only the shuffling): two runs on the
    same data give the same network, whatever ran before them in the process."""
    slices, targets, _ = learnable(seed=1)
    params = HeadParams(epochs=3, patience=3)
    first, _ = train_head(slices, targets, params=params)
    np.random.default_rng().normal(size=10)  # other work between the runs
    second, _ = train_head(slices, targets, params=params)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
