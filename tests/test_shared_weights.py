"""Shipped bundles store each array once (manifest format 2 cuts weights from another bundle),
and every model id stays what stored vectors record."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from deejai_model.ears.bundle import load_bundle
from deejai_model.ears.manifest import SHARED_FORMAT, Manifest, read_manifest
from deejai_model.ears.shipped import BUNDLES_DIR, bundle_by_id, manifest_model_id
from deejai_model.ears.weights import bundle_weights, read_npz, write_npz
from deejai_model.errors import BundleError

#: The ids vectors in users' libraries carry (the default, an earlier default, the others):
#: the contract that sharing the weights must keep.
SHIPPED_IDS = {
    "musicnn_fused": "musicnn-fused@0.1.0:e9891fcc4191",
    "musicnn_fused_light": "musicnn-fused-light@0.1.0:97aa381d023a",
    "musicnn_mtt": "musicnn-mtt@0.1.0:959544c49989",
    "musicnn_msd": "musicnn-msd@0.1.0:02b8fba9ef5d",
}


def test_model_ids_are_unchanged_and_found():
    for name, model_id in SHIPPED_IDS.items():
        assert manifest_model_id(BUNDLES_DIR / name) == model_id
        assert bundle_by_id(model_id) == BUNDLES_DIR / name


@pytest.mark.parametrize("name", sorted(SHIPPED_IDS))
def test_the_weights_hash_to_the_id(name):
    """Written again as the bundle's weights file was, the weights hash to ``weights.sha256``."""
    folder = BUNDLES_DIR / name
    manifest = read_manifest(folder)
    arrays = bundle_weights(folder, manifest)
    buffer = io.BytesIO()
    write_npz(arrays, buffer)
    assert hashlib.sha256(buffer.getvalue()).hexdigest() == manifest.weights["sha256"]
    assert manifest.model_id.endswith(manifest.weights["sha256"][:12])


def test_no_array_is_shipped_twice():
    seen: dict[str, str] = {}
    for path in sorted(BUNDLES_DIR.glob("*/*.npz")):
        for key, value in read_npz(path).items():
            if value.nbytes < 4096:
                continue
            digest = hashlib.sha256(value.tobytes()).hexdigest()
            assert digest not in seen, f"{path}:{key} repeats {seen[digest]}"
            seen[digest] = f"{path}:{key}"
    shared = [n for n in SHIPPED_IDS if read_manifest(BUNDLES_DIR / n).format == SHARED_FORMAT]
    assert sorted(shared) == ["musicnn_fused_light", "musicnn_msd", "musicnn_mtt"]


@pytest.fixture
def bundles(tmp_path) -> Path:
    """A copy of the shipped bundles folder (the shared ones find their source beside them)."""
    return Path(shutil.copytree(BUNDLES_DIR, tmp_path / "bundles"))


def test_a_shared_bundle_runs_on_litert_and_keras(bundles):
    mtt = bundles / "musicnn_mtt"
    lite = load_bundle(mtt, runtime="litert")
    assert lite.model_id == SHIPPED_IDS["musicnn_mtt"]
    batch = np.random.default_rng(0).normal(size=(2, 187, 96)).astype(np.float32)
    keras = load_bundle(mtt, runtime="keras")
    np.testing.assert_allclose(keras.embed(batch), lite.embed(batch), atol=1e-4)
    assert keras.predict(batch, output="taggram").shape == (2, 50)  # the tag layer (own.npz)


def test_replaced_or_missing_sources_are_refused(bundles):
    fused = bundles / "musicnn_fused" / "weights.npz"
    arrays = read_npz(fused)
    arrays["mtt_backend_pool_bn/beta"] = arrays["mtt_backend_pool_bn/beta"] + 1.0
    write_npz(arrays, fused)
    light = bundles / "musicnn_fused_light"
    with pytest.raises(BundleError, match=r"cut from musicnn_fused/weights.npz.*corrupt"):
        bundle_weights(bundles / "musicnn_mtt", read_manifest(bundles / "musicnn_mtt"))
    bundle_weights(light, read_manifest(light))  # takes no mtt_ array: still whole
    fused.unlink()
    with pytest.raises(BundleError, match="weights file .*weights.npz is missing"):
        bundle_weights(light, read_manifest(light))
    assert load_bundle(light, runtime="litert").model_id == SHIPPED_IDS["musicnn_fused_light"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bundle": "../elsewhere"}, "plain folder name"),
        ({"file": "../w.npz"}, "plain .npz file name"),
        ({"strip": "yes"}, "strip must be bool"),
        ({"sha256": "a" * 64}, "unknown key"),
    ],
)
def test_bad_sources_are_refused(change, message):
    data = json.loads((BUNDLES_DIR / "musicnn_mtt" / "manifest.json").read_text())
    data["weights"]["sources"][0].update(change)
    with pytest.raises(BundleError, match=message):
        Manifest.from_dict(data)
    data = json.loads((BUNDLES_DIR / "musicnn_mtt" / "manifest.json").read_text())
    data["format"] = 1  # sources belong to format 2
    with pytest.raises(BundleError, match="unknown key"):
        Manifest.from_dict(data)
