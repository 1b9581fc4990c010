"""musicnn's VGG without its dead filters computes the same function (networks/vgg_prune)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import music

from deejai_model.ears.bundle import load_bundle
from deejai_model.ears.frontend import FrontEnd
from deejai_model.ears.networks.pruning import unprefixed
from deejai_model.ears.networks.vgg import build_vgg
from deejai_model.ears.networks.vgg_prune import border_map, dead_filters, prune_vgg
from deejai_model.ears.weights import assign_weights, read_npz

FUSED = Path(__file__).resolve().parents[1] / "deejai_model" / "ears" / "bundles" / "musicnn_fused"


def _vgg_part() -> tuple[dict, dict[str, np.ndarray]]:
    """The shipped fused bundle's VGG part: its description and its (unprefixed) weights."""
    manifest = load_bundle(FUSED, runtime="litert").manifest
    part = next(p for p in manifest.architecture_params["parts"] if p["architecture"] == "vgg")
    return part, unprefixed(read_npz(FUSED / "weights.npz"), part["prefix"])


def _full(weights: dict[str, np.ndarray], params: dict):
    return assign_weights(build_vgg(**params), weights)


@pytest.fixture(scope="module")
def slices() -> np.ndarray:
    manifest = load_bundle(FUSED, runtime="litert").manifest
    frontend = FrontEnd.from_manifest(manifest.frontend)
    out, _ = frontend.slices(music(20.0, frontend.sample_rate, bpm=120, seed=9))
    return out[:5]


def test_pruned_vgg_equals_the_full_one_on_music(slices):
    part, weights = _vgg_part()
    dead = dead_filters(weights)
    assert dead[1].size > 0 and dead[2].size > 0  # MSD_vgg: 79 and 75 of 128
    params = {**part["params"], "output": part["output"]}
    want = np.asarray(_full(weights, params)(slices))
    got = np.asarray(prune_vgg(weights, **params)(slices))
    assert np.abs(want).max() > 1.0
    assert np.abs(got - want).max() < 1e-4


def test_dead_channels_at_the_edges_are_accounted_for(slices):
    """Filters killed anywhere (first, last, in between) in every block, with biases that make
    their constants large: the border maps and restored channels keep the function."""
    part, weights = _vgg_part()
    rng = np.random.default_rng(3)
    for i in range(1, 6):
        kernel = weights[f"block{i}_conv/kernel"].copy()
        n = kernel.shape[-1]
        kill = np.unique(np.r_[0, n - 1, rng.choice(n, size=n // 5, replace=False)])
        kernel[..., kill] = 0.0
        weights[f"block{i}_conv/kernel"] = kernel
        bias = weights[f"block{i}_conv/bias"].copy()
        bias[kill] = rng.uniform(0.5, 2.0, size=kill.size).astype(np.float32)
        weights[f"block{i}_conv/bias"] = bias
    params = {**part["params"], "output": part["output"]}  # pool5 then pool4's max and mean
    want = np.asarray(_full(weights, params)(slices))
    got = np.asarray(prune_vgg(weights, **params)(slices))
    assert np.abs(got - want).max() < 1e-4


def test_border_map_is_the_convolution_of_constant_channels():
    import keras

    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((3, 3, 4, 6)).astype(np.float32)
    constants = rng.standard_normal(4)
    conv = keras.layers.Conv2D(6, (3, 3), padding="same", use_bias=False)
    image = np.broadcast_to(constants.astype(np.float32), (1, 7, 5, 4))
    conv.build(image.shape)
    conv.kernel.assign(kernel)
    want = np.asarray(conv(image))[0]
    np.testing.assert_allclose(
        border_map(kernel, constants, height=7, width=5), want, rtol=1e-5, atol=1e-5
    )


def test_the_shipped_fused_runtime_holds_the_pruned_vgg():
    from ai_edge_litert.interpreter import Interpreter

    _, weights = _vgg_part()
    dead = dead_filters(weights)
    live = {i: 128 - dead[i].size for i in dead}
    shapes = [
        tuple(t["shape"]) for t in Interpreter(str(FUSED / "model.tflite")).get_tensor_details()
    ]
    # LiteRT kernels are (out, height, width, in): block 2 reads block 1's live channels only
    assert (live[2], 3, 3, live[1]) in shapes
    assert (128, 3, 3, 128) not in shapes
