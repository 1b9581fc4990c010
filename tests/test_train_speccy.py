"""Trained ears (b): Speccy trained from mel slices to Track2Vec, saved as a Speccy bundle."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_music

from deejai_model.ears.bundle import load_bundle
from deejai_model.learn.head import HeadParams
from deejai_model.learn.train_speccy import save_speccy_bundle, speccy_slices, train_speccy


def test_speccy_trains_resumes_and_saves_a_bundle(tmp_path):
    paths = [str(p) for p in make_music(tmp_path / "m", 2, 6.0, kinds=["chord", "noise"])]
    (tmp_path / "bad.flac").write_bytes(b"not audio")
    warned = []
    mel = speccy_slices([*paths, str(tmp_path / "bad.flac")], max_slices=2, warn=warned.append)
    assert list(mel) == paths and len(warned) == 1 and "bad.flac" in warned[0]
    assert all(m.shape[1:] == (96, 216, 1) for m in mel.values())
    rng = np.random.default_rng(0)
    kinds = rng.normal(size=(2, 100))
    targets = np.stack([kinds[0], kinds[0], kinds[1], kinds[1]]) + 0.1 * rng.normal(size=(4, 100))
    params = HeadParams(epochs=2, patience=5, batch_size=4, learning_rate=1e-4, validation=0.25)
    model, report = train_speccy(
        list(mel.values()), targets, params=params, checkpoint_dir=tmp_path / "c"
    )
    assert report.epochs == 2 and report.val_tracks == 1 and -1 <= report.val_cosine <= 1
    _, again = train_speccy(
        list(mel.values()), targets, params=params, checkpoint_dir=tmp_path / "c"
    )
    assert again.resumed_from == 2  # the checkpoint: nothing left to do
    save_speccy_bundle(model, tmp_path / "speccy", version="1", extra={"report": "test"})
    bundle = load_bundle(tmp_path / "speccy")
    assert bundle.manifest.architecture == "speccy" and bundle.dim == 100
    first = mel[paths[0]]
    np.testing.assert_allclose(
        bundle.embed(first), np.asarray(model(first, training=False)), rtol=1e-4, atol=1e-4
    )
    with pytest.raises(ValueError, match="Speccy outputs 100 dimensions"):
        train_speccy(list(mel.values()), targets[:, :16], params=params)
