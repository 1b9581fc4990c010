"""musicnn without its dead front-end filters computes the same function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import music

from deejai_model.ears.bundle import load_bundle
from deejai_model.ears.frontend import FrontEnd
from deejai_model.ears.manifest import read_manifest
from deejai_model.ears.networks.musicnn import build_musicnn
from deejai_model.ears.networks.musicnn_prune import (
    DEAD_BELOW,
    FRONTEND_CONVS,
    dead_channel_values,
    dead_filters,
    prune_musicnn,
)
from deejai_model.ears.weights import assign_weights, bundle_weights

BUNDLES = Path(__file__).resolve().parents[1] / "deejai_model" / "ears" / "bundles"


def _weights(name: str) -> dict[str, np.ndarray]:
    return bundle_weights(BUNDLES / name, read_manifest(BUNDLES / name))


def _full(weights: dict[str, np.ndarray], params: dict):
    return assign_weights(build_musicnn(**params), weights)


@pytest.fixture(scope="module")
def slices() -> np.ndarray:
    """Front-end slices of generated music (chords, drums) through the MTT bundle's front end."""
    manifest = load_bundle(BUNDLES / "musicnn_mtt", runtime="keras").manifest
    frontend = FrontEnd.from_manifest(manifest.frontend)
    out, _ = frontend.slices(music(20.0, frontend.sample_rate, bpm=100, seed=3))
    return out[:6]


@pytest.mark.parametrize("name", ["musicnn_mtt", "musicnn_msd"])
def test_dead_channels_are_the_constants_on_real_audio(name, slices):
    """Each dead filter's channel (batch norm, max over frequency) is its constant on music."""
    import keras

    bundle = load_bundle(BUNDLES / name, runtime="keras")
    weights = _weights(name)
    dead = dead_filters(weights)
    assert dead["timbral_74"].size > 0 and dead["timbral_77"].size > 0
    for conv in FRONTEND_CONVS:
        norm = keras.Model(bundle.model.inputs, bundle.model.get_layer(f"{conv}_bn").output)
        channels = np.asarray(norm(slices)).max(axis=2)  # (slices, frames, filters)
        live = np.setdiff1d(np.arange(channels.shape[-1]), dead[conv])
        constants = dead_channel_values(weights, conv, dead[conv])
        assert np.abs(channels[..., dead[conv]] - constants).max() <= DEAD_BELOW
        # the live ones do move with the music
        assert np.ptp(channels[..., live], axis=(0, 1)).max() > 0.1


@pytest.mark.parametrize("name", ["musicnn_mtt", "musicnn_msd"])
def test_pruned_network_equals_the_full_one(name, slices):
    bundle = load_bundle(BUNDLES / name, runtime="keras")
    params = dict(bundle.manifest.architecture_params)
    weights = _weights(name)
    full = bundle.model(slices)
    pruned = prune_musicnn(weights, **params)(slices)
    for output in ("penultimate", "taggram"):
        want, got = np.asarray(full[output]), np.asarray(pruned[output])
        assert float(np.abs(want).max()) > 0.1
        assert float(np.abs(got - want).max()) < 1e-4


def test_dead_channels_are_folded_exactly(slices):
    """Filters killed at the edges and in between, with large constants: the mid end's border
    map and the dense bias carry them exactly."""
    weights = _weights("musicnn_mtt")
    params = dict(
        load_bundle(BUNDLES / "musicnn_mtt", runtime="keras").manifest.architecture_params
    )
    rng = np.random.default_rng(7)
    killed = {}
    for conv in FRONTEND_CONVS:
        kernel = weights[f"{conv}_conv/kernel"].copy()
        n = kernel.shape[-1]
        kill = np.unique(np.r_[0, n - 1, rng.choice(n, size=n // 4, replace=False)])
        kernel[..., kill] = 0.0
        weights[f"{conv}_conv/kernel"] = kernel
        # a positive bias makes each killed channel a distinct nonzero constant
        bias = weights[f"{conv}_conv/bias"].copy()
        bias[kill] = rng.uniform(0.1, 1.0, size=kill.size).astype(np.float32)
        weights[f"{conv}_conv/bias"] = bias
        killed[conv] = kill
    want = _full(weights, params)(slices)
    pruned = prune_musicnn(weights, **params)
    found = dead_filters(weights)
    assert all(set(killed[conv]) <= set(found[conv]) for conv in FRONTEND_CONVS)
    got = pruned(slices)
    for output in ("penultimate", "taggram"):
        assert float(np.abs(np.asarray(got[output]) - np.asarray(want[output])).max()) < 1e-4
    assert float(np.abs(np.asarray(want["penultimate"])).max()) > 0.1


@pytest.mark.parametrize("name", ["musicnn_mtt", "musicnn_msd"])
def test_the_shipped_litert_model_is_the_pruned_network(name):
    from ai_edge_litert.interpreter import Interpreter

    dead = dead_filters(_weights(name))
    interpreter = Interpreter(model_path=str(BUNDLES / name / "model.tflite"))
    shapes = [tuple(t["shape"]) for t in interpreter.get_tensor_details()]
    # LiteRT stores a convolution kernel as (out, height, width, in): musicnn's timbral ones
    # are 7 frames by 38 / 67 mel bands over one input channel
    for conv, width in (("timbral_74", 38), ("timbral_77", 67)):
        live = 204 - dead[conv].size
        assert (live, 7, width, 1) in shapes, sorted(s for s in shapes if len(s) == 4)
        assert (204, 7, width, 1) not in shapes
