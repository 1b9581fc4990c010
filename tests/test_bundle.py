"""Model bundles: the shipped musicnn bundles, manifest validation, save/load round trips."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deejai_model.ears.bundle import load_bundle
from deejai_model.ears.manifest import Manifest
from deejai_model.ears.shipped import default_bundle_path
from deejai_model.ears.weights import save_bundle, write_npz
from deejai_model.errors import BundleError

BUNDLES = Path(__file__).resolve().parents[1] / "deejai_model" / "ears" / "bundles"

TINY_PARAMS = {
    "num_filt_midend": 4,
    "num_units_backend": 8,
    "num_classes": 3,
    "n_mels": 16,
    "n_frames": 24,
    "output": "both",
    "num_filt_frontend": 0.1,
}


def tiny_manifest(**changes) -> dict:
    manifest = {
        "format": 1,
        "name": "tiny",
        "version": "1",
        "architecture": "musicnn",
        "architecture_params": dict(TINY_PARAMS),
        "output": "penultimate",
        "dim": 8,
        "frontend": {
            "kind": "musicnn",
            "sample_rate": 16000,
            "n_fft": 512,
            "hop_length": 256,
            "n_mels": 16,
            "slice_frames": 24,
        },
        "weights": {"file": "weights.npz"},
        "license": "MIT",
        "source": "tests",
        "labels": ["a", "b", "c"],
    }
    manifest.update(changes)
    return manifest


def tiny_model(seed: int):
    """A small musicnn with random weights, batch-norm statistics included."""
    from deejai_model.ears.networks.musicnn import build_musicnn

    model = build_musicnn(**TINY_PARAMS)
    rng = np.random.default_rng(seed)
    for var in model.weights:
        value = rng.normal(0.0, 0.3, var.shape)
        if var.path.endswith("moving_variance"):
            value = np.abs(value) + 0.5
        var.assign(value.astype(np.float32))
    return model


def slices(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, *shape)) * 4.0).astype(np.float32)


@pytest.fixture(scope="module")
def shipped():
    # the musicnn MTT bundle on the Keras path (its tag layer rides along)
    return load_bundle(BUNDLES / "musicnn_mtt", batch_size=4, runtime="keras")


def copy_bundle(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# --- the shipped bundles ----------------------------------------------------------------


def test_import_is_cheap_and_loading_is_quiet():
    code = """if True:
        import sys
        import numpy as np
        import deejai_model.ears.bundle as b, deejai_model.ears.networks.musicnn
        from deejai_model.ears.shipped import default_bundle_path
        assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules
        bundle = b.load_bundle(default_bundle_path(), batch_size=1)
        print(bundle.embed(np.zeros((1, 187, 96), np.float32)).shape, bundle.dim)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "KERAS"))}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=BUNDLES.parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    dim = Manifest.from_json((default_bundle_path() / "manifest.json").read_text()).dim
    assert proc.stdout.strip() == f"(1, {dim}) {dim}"
    assert proc.stderr == ""  # TensorFlow's import chatter is gone


@pytest.mark.parametrize("name", ["musicnn_mtt", "musicnn_msd"])
def test_shipped_manifests_are_valid_and_complete(name):
    directory = BUNDLES / name
    manifest = Manifest.from_json((directory / "manifest.json").read_text())
    assert manifest.architecture == "musicnn" and manifest.dim == 200
    assert manifest.frontend["kind"] == "musicnn"
    assert len(manifest.labels) == manifest.architecture_params["num_classes"]
    assert "ISC" in (directory / "LICENSE").read_text()
    provenance = (directory / "PROVENANCE.md").read_text()
    assert f"{name.split('_')[1].upper()}_musicnn" in provenance


def test_default_bundle_is_shipped():
    assert default_bundle_path().is_dir()
    assert (default_bundle_path() / "manifest.json").is_file()


def test_shipped_bundle_embeds(shipped):
    assert re.fullmatch(r"musicnn-mtt@0\.1\.0:[0-9a-f]{12}", shipped.model_id)
    assert shipped.model_id.endswith(shipped.manifest.weights["sha256"][:12])
    assert shipped.dim == 200 and shipped.input_shape == (187, 96)

    batch = slices(6, shipped.input_shape)  # one full batch of 4 and a padded one of 2
    out = shipped.embed(batch)
    assert out.shape == (6, 200) and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert np.array_equal(out, shipped.embed(batch))  # deterministic
    # a slice's vector does not depend on its batch mates or on padding
    np.testing.assert_allclose(shipped.embed(batch[5:6])[0], out[5], rtol=0, atol=1e-5)
    # different audio, different vectors
    assert np.abs(out[0] - out[1]).max() > 1e-2
    # every call, padded or not, ran the one compiled function traced once
    assert shipped.runner._compiled().experimental_get_tracing_count() == 1


def test_shipped_bundle_taggram(shipped):
    tags = shipped.predict(slices(2, shipped.input_shape), output="taggram")
    assert tags.shape == (2, len(shipped.manifest.labels))
    assert ((tags > 0) & (tags < 1)).all()


def test_embed_rejects_bad_shapes_and_handles_empty(shipped):
    assert shipped.embed(np.zeros((0, 187, 96), np.float32)).shape == (0, 200)
    with pytest.raises(ValueError, match=r"\(n, 187, 96\)"):
        shipped.embed(np.zeros((2, 96, 187), np.float32))
    with pytest.raises(ValueError, match="no output"):
        shipped.predict(slices(1, (187, 96)), output="logits")


# --- errors -----------------------------------------------------------------------------


def test_checksum_mismatch_is_refused(tmp_path):
    bundle = copy_bundle(default_bundle_path(), tmp_path / "b")
    weights = bytearray((bundle / "weights.npz").read_bytes())
    weights[-100] ^= 0xFF
    (bundle / "weights.npz").write_bytes(bytes(weights))
    with pytest.raises(BundleError, match="sha256 .* \\(corrupt or replaced weights\\)"):
        load_bundle(bundle, runtime="keras")


def test_only_what_runs_is_hashed(tmp_path, monkeypatch):
    """LiteRT runs model.tflite (whose hash it checks): the 8.7 MB weights.npz is neither
    hashed nor needed; the Keras network, built on demand, checks the weights it reads."""
    import deejai_model.ears.manifest as manifest_module

    hashed = []
    real = manifest_module.file_sha256
    monkeypatch.setattr(
        "deejai_model.ears.runtime.file_sha256", lambda p: hashed.append(p) or real(p)
    )
    bundle = copy_bundle(default_bundle_path(), tmp_path / "b")
    (bundle / "weights.npz").write_bytes(b"garbage")
    lite = load_bundle(bundle, runtime="litert")
    assert [p.name for p in hashed] == ["model.tflite"]
    assert lite.model_id == load_bundle(default_bundle_path(), runtime="litert").model_id
    assert lite.embed(slices(2, (187, 96))).shape == (2, lite.manifest.dim)
    with pytest.raises(BundleError, match="corrupt or replaced weights"):
        lite.model  # noqa: B018 - the Keras network reads (so checks) the weights


def test_missing_manifest_and_weights(tmp_path):
    with pytest.raises(BundleError, match="manifest.json"):
        load_bundle(tmp_path)
    with pytest.raises(BundleError, match="not a bundle directory"):
        load_bundle(tmp_path / "nowhere")
    bundle = copy_bundle(default_bundle_path(), tmp_path / "b")
    (bundle / "weights.npz").unlink()
    with pytest.raises(BundleError, match="weights.npz is missing"):
        load_bundle(bundle, runtime="keras")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": 3}, "format 3 is not supported"),
        ({"architecture": "resnet"}, "architecture 'resnet'"),
        ({"dim": "200"}, "dim must be int"),
        ({"dim": True}, "dim must be int"),
        ({"weights": {"file": "../evil.npz", "sha256": "0" * 64}}, "plain .npz file name"),
        ({"weights": {"file": "weights.npz", "sha256": "xyz"}}, "64 lowercase hex"),
        ({"weights": {"file": "weights.npz"}}, "lacks key: sha256"),
        ({"frontend": {"kind": "musicnn"}}, "frontend lacks key"),
        ({"colour": "blue"}, "unknown key.*colour"),
        ({"labels": [1, 2]}, "labels must be a list of strings"),
    ],
)
def test_manifest_validation(change, message):
    data = tiny_manifest(weights={"file": "weights.npz", "sha256": "a" * 64})
    data.update(change)
    with pytest.raises(BundleError, match=message):
        Manifest.from_dict(data)


def test_manifest_missing_key_and_bad_json(tmp_path):
    data = tiny_manifest(weights={"file": "weights.npz", "sha256": "a" * 64})
    del data["source"]
    with pytest.raises(BundleError, match="lacks key.*source"):
        Manifest.from_dict(data)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path)


def test_manifest_json_round_trip():
    data = tiny_manifest(weights={"file": "weights.npz", "sha256": "b" * 64})
    manifest = Manifest.from_dict(data)
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert json.loads(manifest.to_json()) == data


# --- save / load ------------------------------------------------------------------------


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    from deejai_model.ears.loaded_bundle import Bundle

    model = tiny_model(seed=1)
    manifest = save_bundle(
        model,
        tiny_manifest(),
        tmp_path / "tiny",
        license_text="MIT\n",
        provenance="# made by a test\n",
    )
    assert (tmp_path / "tiny" / "LICENSE").read_text() == "MIT\n"
    loaded = load_bundle(tmp_path / "tiny", batch_size=3)
    assert loaded.manifest == manifest

    batch = slices(5, (24, 16), seed=2)
    original = Bundle(tmp_path, manifest, model=model, batch_size=3)
    for output in ("penultimate", "taggram"):
        expected = original.predict(batch, output=output)
        assert np.array_equal(loaded.predict(batch, output=output), expected)
    assert np.abs(loaded.embed(batch)).max() > 1e-3


def test_model_id_follows_weights(tmp_path):
    model = tiny_model(seed=3)
    first = save_bundle(model, tiny_manifest(), tmp_path / "a")
    again = save_bundle(model, tiny_manifest(), tmp_path / "b")
    assert first.weights["sha256"] == again.weights["sha256"]  # byte-reproducible
    assert load_bundle(tmp_path / "a").model_id == load_bundle(tmp_path / "b").model_id

    var = model.get_layer("penultimate_dense").bias
    var.assign(var.numpy() + 1e-3)
    changed = save_bundle(model, tiny_manifest(), tmp_path / "c")
    assert changed.weights["sha256"] != first.weights["sha256"]
    assert load_bundle(tmp_path / "c").model_id != load_bundle(tmp_path / "a").model_id
    assert load_bundle(tmp_path / "a").model_id.startswith("tiny@1:")


def _rewrite_weights(directory: Path, arrays: dict) -> None:
    """Replace a bundle's weights and re-hash them, as a careless converter would."""
    write_npz(arrays, directory / "weights.npz")
    _rehash(directory)


def _rehash(directory: Path) -> None:
    import hashlib

    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["weights"]["sha256"] = hashlib.sha256(
        (directory / "weights.npz").read_bytes()
    ).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_weights_that_do_not_fit_are_refused(tmp_path):
    save_bundle(tiny_model(seed=4), tiny_manifest(), tmp_path / "t")
    with np.load(tmp_path / "t" / "weights.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}

    extra = dict(arrays, **{"surplus/kernel": np.zeros(3, np.float32)})
    _rewrite_weights(tmp_path / "t", extra)
    with pytest.raises(BundleError, match="unexpected surplus/kernel"):
        load_bundle(tmp_path / "t")

    missing = {k: v for k, v in arrays.items() if k != "tags_dense/bias"}
    _rewrite_weights(tmp_path / "t", missing)
    with pytest.raises(BundleError, match="missing tags_dense/bias"):
        load_bundle(tmp_path / "t")

    wrong = dict(arrays, **{"tags_dense/bias": np.zeros(4, np.float32)})
    _rewrite_weights(tmp_path / "t", wrong)
    with pytest.raises(BundleError, match=r"tags_dense/bias has shape \(4,\)"):
        load_bundle(tmp_path / "t")


def test_pickled_weights_are_not_loaded(tmp_path):
    save_bundle(tiny_model(seed=5), tiny_manifest(), tmp_path / "t")
    with np.load(tmp_path / "t" / "weights.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["tags_dense/bias"] = np.array([{"boom": 1}] * 3, dtype=object)
    path = tmp_path / "t" / "weights.npz"
    np.savez(path, **arrays)  # object arrays are pickled inside the npz
    _rehash(tmp_path / "t")
    with pytest.raises(BundleError, match="cannot read weights"):
        load_bundle(tmp_path / "t")


def test_dim_must_match_network(tmp_path):
    save_bundle(tiny_model(seed=6), tiny_manifest(), tmp_path / "t")
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    manifest["dim"] = 9
    (tmp_path / "t" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="dim is 9"):
        load_bundle(tmp_path / "t")


def test_bad_architecture_params(tmp_path):
    save_bundle(tiny_model(seed=7), tiny_manifest(), tmp_path / "t")
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    manifest["architecture_params"]["depth"] = 3
    (tmp_path / "t" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="cannot build musicnn"):
        load_bundle(tmp_path / "t")
