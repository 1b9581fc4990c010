"""Parity of the shipped musicnn bundles with the ORIGINAL musicnn 0.1.0 code path.

The reference runs the wheel's own ``musicnn/models.py`` (``define_model``) in TF1 graph
mode and restores every variable from the wheel's checkpoint with ``tf.compat.v1.train.Saver``.
TF 2.16+ no longer has ``tf.compat.v1.layers`` (it needs Keras 2), so ``models.py`` sees a
``tf`` whose ``compat.v1.layers`` is a minimal shim built from ``tf.compat.v1.get_variable``
and ``tf.nn`` ops, naming variables exactly as TF1 layers did (``conv2d_5/kernel``...); the
Saver fails if any name or shape does not match the checkpoint.

The wheel comes from ``$MUSICNN_WHEEL_DIR`` (a folder holding the ``.whl`` or the unpacked
wheel) or is downloaded from PyPI with ``pip download --no-deps musicnn==0.1.0``.
"""

from __future__ import annotations

import glob
import importlib
import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]

BUNDLES = Path(__file__).resolve().parents[1] / "deejai_model" / "ears" / "bundles"


def _unpacked_wheel(folder: Path, tmp: Path) -> Path | None:
    """The root of an unpacked musicnn wheel found in or unpacked from ``folder``."""
    if (folder / "musicnn" / "models.py").is_file():
        return folder
    for sub in folder.iterdir():
        if (sub / "musicnn" / "models.py").is_file():
            return sub
    wheels = sorted(glob.glob(str(folder / "musicnn-0.1.0-*.whl")))
    if not wheels:
        return None
    root = tmp / "unpacked"
    with zipfile.ZipFile(wheels[0]) as zf:
        zf.extractall(root)
    return root


@pytest.fixture(scope="module")
def wheel_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("musicnn_wheel")
    env_dir = os.environ.get("MUSICNN_WHEEL_DIR")
    if env_dir:
        root = _unpacked_wheel(Path(env_dir), tmp)
        assert root is not None, f"MUSICNN_WHEEL_DIR={env_dir} holds no musicnn 0.1.0 wheel"
        return root
    download = tmp / "download"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(download),
            "musicnn==0.1.0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot download musicnn 0.1.0 from PyPI: {proc.stderr.strip()[-300:]}")
    root = _unpacked_wheel(download, tmp)
    assert root is not None, "pip download gave no musicnn wheel"
    return root


class _TF1LayersShim:
    """The subset of ``tf.compat.v1.layers`` that musicnn's ``models.py`` uses, inference only.

    Variables are created with ``tf.compat.v1.get_variable`` under TF1's automatic layer names
    (``conv2d``, ``conv2d_1``, ...; ``batch_normalization``, ...; ``dense``, ...) in the order
    the layers are called, which is how the checkpoint named them.
    """

    def __init__(self, tf: types.ModuleType):
        self.tf = tf
        self.counts: dict[str, int] = {}

    def _name(self, base: str) -> str:
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def _var(self, name: str, shape: list[int]):
        return self.tf.compat.v1.get_variable(name, shape=shape, dtype=self.tf.float32)

    def conv2d(self, inputs, filters, kernel_size, padding="valid", activation=None, name=None):
        tf = self.tf
        kh, kw = (int(k) for k in kernel_size)
        # a named layer (the VGG's '1CNN'...) takes its name and leaves the count alone
        with tf.compat.v1.variable_scope(name or self._name("conv2d")):
            kernel = self._var("kernel", [kh, kw, int(inputs.shape[-1]), filters])
            bias = self._var("bias", [filters])
        out = tf.nn.bias_add(
            tf.nn.conv2d(inputs, kernel, strides=[1, 1, 1, 1], padding=padding.upper()), bias
        )
        return activation(out) if activation is not None else out

    def batch_normalization(self, inputs, training):
        assert training is False, "the reference only runs in inference mode"
        tf = self.tf
        channels = int(inputs.shape[-1])
        with tf.compat.v1.variable_scope(self._name("batch_normalization")):
            gamma = self._var("gamma", [channels])
            beta = self._var("beta", [channels])
            mean = self._var("moving_mean", [channels])
            var = self._var("moving_variance", [channels])
        return tf.nn.batch_normalization(inputs, mean, var, beta, gamma, 1e-3)

    def max_pooling2d(self, inputs, pool_size, strides):
        ksize = [1, int(pool_size[0]), int(pool_size[1]), 1]
        strd = [1, int(strides[0]), int(strides[1]), 1]
        return self.tf.nn.max_pool2d(inputs, ksize, strd, padding="VALID")

    def dense(self, inputs, units, activation=None):
        tf = self.tf
        with tf.compat.v1.variable_scope(self._name("dense")):
            kernel = self._var("kernel", [int(inputs.shape[-1]), units])
            bias = self._var("bias", [units])
        out = tf.nn.bias_add(tf.matmul(inputs, kernel), bias)
        return activation(out) if activation is not None else out

    def dropout(self, inputs, rate, training):
        assert training is False
        return inputs

    def flatten(self, inputs):
        return self.tf.reshape(inputs, [-1, int(np.prod(inputs.shape[1:]))])


class _Proxy:
    """An object that answers ``attrs`` itself and delegates every other attribute."""

    def __init__(self, target, **attrs):
        self._target = target
        self.__dict__.update(attrs)

    def __getattr__(self, name):
        return getattr(self._target, name)


def reference_outputs(wheel: Path, model: str, batch: np.ndarray) -> tuple[np.ndarray, ...]:
    """Outputs of ``batch`` by the wheel's own ``define_model`` and checkpoint.

    ``(penultimate, taggram)`` for a musicnn model; ``(pool5, taggram, pool4)`` for a VGG one
    (``define_model`` returns the logits and pool1..pool5 there).
    """
    import tensorflow as tf

    sys.path.insert(0, str(wheel))
    try:
        for name in [m for m in sys.modules if m == "musicnn" or m.startswith("musicnn.")]:
            del sys.modules[name]
        models = importlib.import_module("musicnn.models")
        config = importlib.import_module("musicnn.configuration")
        assert Path(models.__file__).resolve().is_relative_to(wheel.resolve())
    finally:
        sys.path.remove(str(wheel))

    labels = config.MTT_LABELS if model.startswith("MTT") else config.MSD_LABELS
    graph = tf.Graph()
    with graph.as_default():
        shim = _TF1LayersShim(tf)
        v1 = _Proxy(tf.compat.v1, layers=shim)
        models.tf = _Proxy(tf, compat=_Proxy(tf.compat, v1=v1))
        x = tf.compat.v1.placeholder(tf.float32, [None, batch.shape[1], config.N_MELS])
        logits, *features, penultimate = models.define_model(x, False, model, len(labels))
        taggram = tf.nn.sigmoid(logits)
        fetch = [penultimate, taggram] + ([features[-1]] if model.endswith("_vgg") else [])
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, str(wheel / "musicnn" / model) + "/")
            return tuple(sess.run(fetch, feed_dict={x: batch}))


@pytest.mark.parametrize(
    ("bundle_dir", "model"),
    [
        ("musicnn_mtt", "MTT_musicnn"),
        ("musicnn_msd", "MSD_musicnn"),
    ],
)
def test_bundle_matches_original_musicnn(wheel_root: Path, bundle_dir: str, model: str):
    from deejai_model.ears.bundle import load_bundle

    bundle = load_bundle(BUNDLES / bundle_dir)
    frontend = bundle.manifest.frontend
    rng = np.random.default_rng(1234)
    # log10(10000 x + 1) of mel power lies in about [0, 6]
    batch = (rng.random((5, frontend["slice_frames"], frontend["n_mels"])) * 4.0).astype(np.float32)

    ref_penultimate, ref_taggram = reference_outputs(wheel_root, model, batch)
    ours = bundle.embed(batch)

    assert ours.shape == ref_penultimate.shape == (5, bundle.dim)
    assert float(np.abs(ref_penultimate).max()) > 0.1  # a real signal, not all zeros
    assert float(np.abs(ours - ref_penultimate).max()) < 1e-4

    # the tag layer rides along in the bundle: it must match the original too
    tags = bundle.predict(batch, output="taggram")
    assert float(np.abs(tags - ref_taggram).max()) < 1e-5


def _run_script(*args: str) -> None:
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    proc = subprocess.run(
        [sys.executable, str(scripts / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def _max_mean(pooled: np.ndarray) -> np.ndarray:
    """(n, t, f, c) -> (n, 2c): max then mean over time and frequency."""
    return np.concatenate([pooled.max(axis=(1, 2)), pooled.mean(axis=(1, 2))], axis=1)


@pytest.fixture(scope="module", params=["MTT_vgg", "MSD_vgg"])
def converted_vgg(
    request: pytest.FixtureRequest, wheel_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, np.ndarray, dict[str, np.ndarray]]:
    """One VGG converted once by the scripts (Keras bundle, then LiteRT, which the script
    checks within 1e-4), with a batch and the wheel's own outputs for it.

    Returns
    -------
    (model, bundle directory, (5, 187, 96) batch, reference outputs by our output name)
    """
    model = request.param
    out = tmp_path_factory.mktemp("vgg") / model
    _run_script("convert_musicnn.py", model, str(out), "--wheel-dir", str(wheel_root))
    _run_script("convert_litert.py", str(out))  # fails unless LiteRT is within 1e-4

    rng = np.random.default_rng(99)
    batch = (rng.random((5, 187, 96)) * 4.0).astype(np.float32)
    pool5, ref_taggram, pool4 = reference_outputs(wheel_root, model, batch)
    assert pool5.shape == (5, 2, 1, 128) and pool4.shape == (5, 11, 6, 128)
    flat5 = pool5.reshape(5, -1)
    assert float(np.abs(flat5).max()) > 0.1  # a real signal, not all zeros
    reference = {
        "pool5": flat5,
        "pool5_maxmean": _max_mean(pool5),
        "pool4_maxmean": _max_mean(pool4),
        "pool45": np.concatenate([flat5, _max_mean(pool4)], axis=1),
        "taggram": ref_taggram,
    }
    return model, out, batch, reference


def test_vgg_port_matches_original(converted_vgg):
    """The converted VGG bundle on Keras gives the wheel's own pool5/pool4/tags."""
    from deejai_model.ears.bundle import load_bundle

    model, out, batch, reference = converted_vgg
    keras_bundle = load_bundle(out, runtime="keras")
    assert keras_bundle.manifest.architecture == "vgg"
    assert keras_bundle.model_id.startswith(f"musicnn-vgg-{model[:3].lower()}-pool5@")
    for name, want in reference.items():
        got = keras_bundle.predict(batch, output=name)
        assert got.shape == want.shape, name
        assert float(np.abs(got - want).max()) < 1e-4, name


def test_vgg_litert_matches_original(converted_vgg):
    """The same bundle's LiteRT model (what runs by default) gives the wheel's pool5."""
    from deejai_model.ears.bundle import load_bundle

    _, out, batch, reference = converted_vgg
    lite = load_bundle(out)
    assert lite.runtime == "litert"
    assert float(np.abs(lite.embed(batch) - reference["pool5"]).max()) < 1e-4
