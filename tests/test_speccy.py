"""Speccy in Keras 3 and its Keras-2 HDF5 weight loader, on files written here like Keras 2."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from deejai_model.ears.networks.speccy import FRONTEND, N_PARAMS, WEIGHTED_LAYERS, build_speccy
from deejai_model.errors import BundleError
from deejai_model.learn.convert_speccy import convert_speccy, load_keras2_weights

# Keras 2's weight order inside each layer group (our loader matches by name, not order)
KERAS2_WEIGHTS = {
    "separable_conv2d": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "batch_normalization": ("gamma", "beta", "moving_mean", "moving_variance"),
    "dense": ("kernel", "bias"),
}
# Speccy's shapes, written out from the architecture (not read from our model)
SHAPES = {
    "separable_conv2d_1": [(3, 3, 1, 1), (1, 1, 1, 32), (32,)],
    "batch_normalization_1": [(32,)] * 4,
    "separable_conv2d_2": [(3, 3, 32, 1), (1, 1, 32, 64), (64,)],
    "batch_normalization_2": [(64,)] * 4,
    "separable_conv2d_3": [(3, 3, 64, 1), (1, 1, 64, 128), (128,)],
    "batch_normalization_3": [(128,)] * 4,
    "dense_1": [(41472, 1024), (1024,)],
    "batch_normalization_4": [(1024,)] * 4,
    "dense_2": [(1024, 100), (100,)],
}
OTHER_LAYERS = (
    ["input_1"]
    + [f"{k}_{i}" for k in ("leaky_re_lu", "max_pooling2d", "dropout") for i in range(1, 5)]
    + ["flatten_1"]
)


def kind(layer):
    return layer.rsplit("_", 1)[0]


def random_weights(seed=0, layers=WEIGHTED_LAYERS):
    rng = np.random.default_rng(seed)
    out = {}
    for layer in layers:
        out[layer] = {}
        for name, shape in zip(KERAS2_WEIGHTS[kind(layer)], SHAPES[layer], strict=True):
            if name == "moving_variance":
                value = rng.uniform(0.5, 2.0, shape)
            elif name == "kernel" and layer == "dense_1":
                value = rng.standard_normal(shape, dtype=np.float32) * 0.005
            else:
                value = rng.standard_normal(shape) * 0.3
            out[layer][name] = value.astype(np.float32)
    return out


def write_keras2(path, weights, top_level=False, other_layers=OTHER_LAYERS, chunked=()):
    """Write weights the way Keras 2 did: ``model.save`` layout, or ``save_weights``'s."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        if top_level:
            root = f
        else:
            # a model config that must never be read (it would fail to deserialise)
            f.attrs["model_config"] = json.dumps({"class_name": "Lambda", "config": "!"}).encode()
            root = f.create_group("model_weights")
        names = list(other_layers) + list(weights)
        root.attrs["layer_names"] = np.array([n.encode() for n in names])
        for layer in other_layers:
            root.create_group(layer).attrs["weight_names"] = np.array([], dtype="S1")
        for layer, arrays in weights.items():
            group = root.create_group(layer)
            keys = [f"{layer}/{name}:0" for name in arrays]
            if layer in chunked:  # Keras 2's split of large attributes
                for i, key in enumerate(keys):
                    group.attrs[f"weight_names{i}"] = np.array([key.encode()])
            else:
                group.attrs["weight_names"] = np.array([k.encode() for k in keys])
            for key, value in zip(keys, arrays.values(), strict=True):
                group.create_dataset(key, data=value)


@pytest.fixture(scope="module")
def model():
    return build_speccy()


@pytest.fixture(scope="module")
def weights():
    return random_weights()


@pytest.fixture(scope="module")
def keras2_file(tmp_path_factory, weights):
    path = tmp_path_factory.mktemp("k2") / "speccy_model"  # no extension, like the original
    write_keras2(path, weights)
    return path


def test_architecture(model):
    assert model.count_params() == N_PARAMS == 42_587_213
    assert tuple(model.input_shape) == (None, 96, 216, 1)
    assert tuple(model.output_shape) == (None, 100)
    assert tuple(model.get_layer("flatten_1").output.shape) == (None, 41472)
    for layer in WEIGHTED_LAYERS:
        shapes = sorted(tuple(v.shape) for v in model.get_layer(layer).weights)
        assert shapes == sorted(SHAPES[layer]), layer
    assert FRONTEND["slice_frames"] * FRONTEND["hop_length"] / FRONTEND["sample_rate"] == (
        pytest.approx(5.0155, abs=1e-4)
    )


def numpy_separable_same(x, depthwise, pointwise, bias):
    """3x3 'same' depthwise (cross-correlation) then 1x1 pointwise, channels last, 1 channel."""
    padded = np.pad(x[..., 0], ((0, 0), (1, 1), (1, 1)))
    h, w = x.shape[1:3]
    depth = sum(
        padded[:, i : i + h, j : j + w] * depthwise[i, j, 0, 0] for i in range(3) for j in range(3)
    )
    return depth[..., None] * pointwise[0, 0, 0] + bias


def test_loads_keras2_file_by_name_and_computes_like_numpy(model, keras2_file, weights):
    load_keras2_weights(model, keras2_file)
    for layer, arrays in weights.items():
        got = {v.name: np.asarray(v.numpy()) for v in model.get_layer(layer).weights}
        assert set(got) == set(arrays)
        for name, value in arrays.items():
            np.testing.assert_array_equal(got[name], value, err_msg=f"{layer}/{name}")

    import keras

    probe = keras.Model(
        model.input,
        [
            model.get_layer("separable_conv2d_1").output,
            model.get_layer("leaky_re_lu_4").output,
            model.get_layer("dropout_4").output,
            model.output,
        ],
    )
    x = np.random.default_rng(1).uniform(0, 1, (2, 96, 216, 1)).astype(np.float32)
    conv1, pre_bn4, post_bn4, y = (np.asarray(t) for t in probe(x, training=False))
    sc = weights["separable_conv2d_1"]
    np.testing.assert_allclose(
        conv1,
        numpy_separable_same(x, sc["depthwise_kernel"], sc["pointwise_kernel"], sc["bias"]),
        rtol=1e-4,
        atol=1e-5,
    )
    bn = weights["batch_normalization_4"]
    expected_bn = (pre_bn4 - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + 1e-3)
    np.testing.assert_allclose(
        post_bn4, expected_bn * bn["gamma"] + bn["beta"], rtol=1e-4, atol=1e-4
    )
    d2 = weights["dense_2"]
    expected = post_bn4.astype(np.float64) @ d2["kernel"] + d2["bias"]
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    # inference is deterministic (dropout off)
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), y)


def test_top_level_layout_loads_the_same(model, tmp_path, weights):
    other = random_weights(seed=5)
    path = tmp_path / "weights.h5"
    write_keras2(path, other, top_level=True, chunked=("dense_2", "batch_normalization_4"))
    load_keras2_weights(model, path)
    np.testing.assert_array_equal(
        model.get_layer("dense_2").kernel.numpy(), other["dense_2"]["kernel"]
    )
    np.testing.assert_array_equal(
        model.get_layer("batch_normalization_4").moving_variance.numpy(),
        other["batch_normalization_4"]["moving_variance"],
    )
    assert not np.array_equal(other["dense_2"]["kernel"], weights["dense_2"]["kernel"])


def snapshot(model):
    return [np.array(v.numpy()) for v in model.get_layer("separable_conv2d_1").weights]


def test_wrong_shape_names_file_and_layer_and_assigns_nothing(model, tmp_path):
    bad = random_weights(seed=2, layers=WEIGHTED_LAYERS[:1])
    bad["separable_conv2d_1"]["pointwise_kernel"] = np.zeros((1, 1, 1, 31), np.float32)
    path = tmp_path / "bad_shape"
    write_keras2(path, bad)
    before = snapshot(model)
    with pytest.raises(BundleError, match=r"bad_shape.*separable_conv2d_1.*pointwise_kernel"):
        load_keras2_weights(model, path)
    for a, b in zip(before, snapshot(model), strict=True):
        np.testing.assert_array_equal(a, b)


def test_missing_layer_is_named_and_nothing_is_assigned(model, tmp_path):
    partial = random_weights(seed=3, layers=WEIGHTED_LAYERS[:1])  # fits, but alone
    path = tmp_path / "partial"
    write_keras2(path, partial)
    before = snapshot(model)
    with pytest.raises(BundleError, match=r"partial.*batch_normalization_1.*not found"):
        load_keras2_weights(model, path)
    for a, b in zip(before, snapshot(model), strict=True):
        np.testing.assert_array_equal(a, b)


def test_missing_and_extra_weights_are_named(model, tmp_path):
    w = random_weights(seed=4, layers=WEIGHTED_LAYERS[:1])
    del w["separable_conv2d_1"]["bias"]
    w["separable_conv2d_1"]["extra"] = np.zeros(3, np.float32)
    path = tmp_path / "odd"
    write_keras2(path, w)
    with pytest.raises(BundleError, match=r"separable_conv2d_1.*missing \['bias'\].*'extra'"):
        load_keras2_weights(model, path)


def test_not_hdf5_is_a_bundle_error(model, tmp_path):
    path = tmp_path / "speccy_model"
    path.write_bytes(b"this is not HDF5")
    with pytest.raises(BundleError, match="speccy_model"):
        load_keras2_weights(model, path)
    with pytest.raises(BundleError, match="nowhere"):
        load_keras2_weights(model, tmp_path / "nowhere")


@pytest.mark.slow
def test_convert_to_bundle_and_load_it_back(model, keras2_file, tmp_path):
    from deejai_model.ears.bundle import load_bundle

    load_keras2_weights(model, keras2_file)
    out = tmp_path / "speccy_bundle"
    manifest = convert_speccy(keras2_file, out)
    assert manifest.architecture == "speccy" and manifest.dim == 100
    assert manifest.frontend == FRONTEND
    assert (out / "PROVENANCE.md").is_file()
    bundle = load_bundle(out, batch_size=4)
    assert bundle.input_shape == (96, 216, 1) and bundle.dim == 100
    x = np.random.default_rng(7).uniform(0, 1, (3, 96, 216, 1)).astype(np.float32)
    np.testing.assert_allclose(
        bundle.embed(x), np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-5
    )


def test_the_network_and_the_bundle_do_not_import_each_other() -> None:
    """``bundle.py`` builds networks; the Keras-2 converter lives outside ``networks/``."""
    import ast
    from pathlib import Path

    import deejai_model

    root = Path(deejai_model.__file__).parent

    def imported(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        return names

    for network in (root / "ears" / "networks").glob("*.py"):
        assert not {"deejai_model.ears.bundle", "deejai_model.learn.convert_speccy"} & imported(
            network
        )
    assert "deejai_model.learn.convert_speccy" not in imported(root / "ears" / "bundle.py")
