"""musicnn's features of more than one layer, at any slice length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import music

BUNDLE = Path(__file__).resolve().parents[1] / "deejai_model" / "ears" / "bundles" / "musicnn_mtt"


@pytest.fixture(scope="module")
def features_model():
    """The shipped MTT weights in a network of any input length returning every feature."""
    from deejai_model.ears.manifest import Manifest
    from deejai_model.ears.networks.musicnn import build_musicnn
    from deejai_model.ears.weights import assign_bundle_weights

    manifest = Manifest.from_json((BUNDLE / "manifest.json").read_text(encoding="utf-8"))
    model = build_musicnn(**dict(manifest.architecture_params, n_frames=None, output="features"))
    assign_bundle_weights(model, BUNDLE, manifest)
    return model


@pytest.fixture(scope="module")
def logmel_batch() -> np.ndarray:
    """Three 187-frame log-mel slices of generated music, as the plugin's front end cuts them."""
    from deejai_model.ears.frontend import MUSICNN

    fe = MUSICNN
    audio = music(10.0, fe.sample_rate, seed=3).astype(np.float32)
    batch, _ = fe.slices(audio)
    return batch[:3]


def test_features_hold_every_layer_and_agree_with_the_penultimate_model(
    features_model, logmel_batch
):
    from deejai_model.ears.bundle import load_bundle

    out = {k: np.asarray(v) for k, v in features_model(logmel_batch, training=False).items()}
    assert {k: v.shape for k, v in out.items()} == {
        "penultimate": (3, 200),
        "taggram": (3, 50),
        "max_pool": (3, 753),
        "mean_pool": (3, 753),
        "pool_bn": (3, 1506),
    }
    bundle = load_bundle(BUNDLE, runtime="keras")
    np.testing.assert_allclose(out["penultimate"], bundle.embed(logmel_batch), atol=1e-4)
    np.testing.assert_allclose(out["taggram"], bundle.predict(logmel_batch, "taggram"), atol=1e-5)
    assert np.all(out["max_pool"] >= out["mean_pool"] - 1e-5)  # a max is never below the mean
    # pool_bn is the back end's batch norm of max and mean interleaved per channel
    bn = features_model.get_layer("backend_pool_bn")
    interleaved = np.stack([out["max_pool"], out["mean_pool"]], axis=-1).reshape(3, 1506)
    np.testing.assert_allclose(
        np.asarray(bn(interleaved, training=False)), out["pool_bn"], rtol=1e-4, atol=1e-4
    )


def test_features_of_shorter_slices(features_model, logmel_batch):
    """The back end pools over time: half a slice is heard through the same weights."""
    half = features_model(logmel_batch[:, :94], training=False)
    full = features_model(logmel_batch, training=False)
    assert np.asarray(half["pool_bn"]).shape == (3, 1506)
    # the max over the first half of the frames cannot exceed the max over all of them
    # (the mid end sees zero padding at the cut, so allow a small excess)
    assert np.mean(np.asarray(half["max_pool"]) <= np.asarray(full["max_pool"]) + 1e-3) > 0.9
    assert not np.allclose(np.asarray(half["penultimate"]), np.asarray(full["penultimate"]))


def test_unknown_output_is_refused():
    from deejai_model.ears.networks.musicnn import build_musicnn

    with pytest.raises(ValueError, match="output must be one of"):
        build_musicnn(output="layers")
