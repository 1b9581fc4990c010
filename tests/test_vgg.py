"""musicnn's VGG port (deejai_model.ears.networks.vgg): shapes of every output and bundle loading.

Parity with the original TF1 code and checkpoints is in tests/test_musicnn_parity.py; here a
VGG with random weights is saved as a bundle and loaded back through the architecture
registry, as a converted MTT_vgg / MSD_vgg bundle would be.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deejai_model.ears.bundle import load_bundle
from deejai_model.ears.weights import save_bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    from deejai_model.ears.networks.vgg import build_vgg

    return build_vgg(output="all")


def test_outputs_have_the_documented_shapes(model):
    batch = np.random.default_rng(0).random((3, 187, 96)).astype(np.float32) * 4.0
    out = {name: np.asarray(value) for name, value in model(batch, training=False).items()}
    widths = {"pool5": 256, "pool5_maxmean": 256, "pool4_maxmean": 256, "pool45": 512}
    for name, width in widths.items():
        assert out[name].shape == (3, width), name
    assert out["taggram"].shape == (3, 50)
    assert np.all((out["taggram"] > 0) & (out["taggram"] < 1))
    # pool45 holds pool5 flattened (2 frames x 128 channels) then pool4's max and mean
    np.testing.assert_allclose(out["pool45"][:, :256], out["pool5"], rtol=0, atol=0)
    np.testing.assert_allclose(out["pool45"][:, 256:], out["pool4_maxmean"], rtol=0, atol=0)
    frames = out["pool5"].reshape(3, 2, 128)
    np.testing.assert_allclose(out["pool5_maxmean"][:, :128], frames.max(axis=1), atol=1e-6)
    np.testing.assert_allclose(out["pool5_maxmean"][:, 128:], frames.mean(axis=1), atol=1e-6)


def test_unknown_output_is_refused():
    from deejai_model.ears.networks.vgg import build_vgg

    with pytest.raises(ValueError, match="output must be one of"):
        build_vgg(output="penultimate")


def test_vgg_bundle_loads_through_the_registry(model, tmp_path: Path):
    manifest = {
        "name": "test-vgg",
        "version": "0",
        "architecture": "vgg",
        "architecture_params": {"output": "all"},
        "output": "pool5_maxmean",
        "dim": 256,
        "frontend": {
            "kind": "musicnn",
            "sample_rate": 16000,
            "n_fft": 512,
            "hop_length": 256,
            "n_mels": 96,
            "slice_frames": 187,
        },
        "weights": {"file": "weights.npz"},
        "license": "ISC",
        "source": "random weights (test)",
    }
    save_bundle(model, manifest, tmp_path / "vgg")
    bundle = load_bundle(tmp_path / "vgg", runtime="keras")
    batch = np.random.default_rng(1).random((2, 187, 96)).astype(np.float32)
    assert bundle.input_shape == (187, 96)
    vectors = bundle.embed(batch)
    assert vectors.shape == (2, 256)
    want = np.asarray(model(batch, training=False)["pool5_maxmean"])
    assert float(np.abs(vectors - want).max()) < 1e-5
    assert set(bundle.output_names) >= {"pool5", "pool45", "taggram"}
