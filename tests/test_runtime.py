"""deejai_model.ears.runtime: the shipped bundles run on LiteRT, same vectors, no TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import chord, clicks, music, write_audio

from deejai_model.ears.bundle import load_bundle
from deejai_model.ears.embed import Embedder
from deejai_model.ears.manifest import Manifest, file_sha256
from deejai_model.ears.shipped import default_bundle_path
from deejai_model.errors import BundleError

BUNDLES = Path(__file__).resolve().parents[1] / "deejai_model" / "ears" / "bundles"
SR = 22050


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("runtime")
    return [
        write_audio(folder / "music.mp3", music(24.0, SR, bpm=100, seed=3), SR),
        write_audio(folder / "chord.flac", chord(9.0, SR), SR),
        write_audio(folder / "clicks.ogg", clicks(2.0, SR, bpm=150), SR),  # one padded slice
    ]


@pytest.mark.parametrize("name", ["musicnn_mtt", "musicnn_msd"])
def test_litert_matches_keras_on_real_audio(name, songs):
    keras_bundle = load_bundle(BUNDLES / name, runtime="keras")
    lite_bundle = load_bundle(BUNDLES / name)
    assert lite_bundle.runtime == "litert" and keras_bundle.runtime == "keras"
    assert lite_bundle.model_id == keras_bundle.model_id
    assert lite_bundle.input_shape == keras_bundle.input_shape == (187, 96)

    def vectors(bundle):
        out = dict(Embedder(bundle, max_slices=6, workers=1).embed_paths(songs))
        return np.concatenate([out[os.fspath(p)].vectors for p in songs])

    expected, got = vectors(keras_bundle), vectors(lite_bundle)
    assert expected.shape == got.shape == (6 + 3 + 1, 200)
    assert np.abs(expected).max() > 0.5  # real activations, not zeros
    assert np.abs(got - expected).max() <= 1e-4

    # Other outputs still come from the Keras network, built when first asked for.
    batch = Embedder(lite_bundle).prepare(songs[1]).batch
    tags = lite_bundle.predict(batch, output="taggram")
    assert np.abs(tags - keras_bundle.predict(batch, output="taggram")).max() <= 1e-5


def test_embedding_a_file_never_imports_tensorflow_or_librosa(songs):
    code = f"""if True:
        import resource, sys
        from deejai_model.ears.bundle import load_bundle
        from deejai_model.ears.shipped import default_bundle_path
        from deejai_model.ears.embed import Embedder
        bundle = load_bundle(default_bundle_path())
        track = Embedder(bundle, max_slices=4).embed_path({os.fspath(songs[0])!r})
        heavy = sorted(
            m for m in ("tensorflow", "keras", "librosa", "numba", "scipy") if m in sys.modules
        )
        print(bundle.runtime, track.vectors.shape, track.model_id, heavy)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "KERAS"))}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    manifest = Manifest.from_json((default_bundle_path() / "manifest.json").read_text())
    model_id = f"{manifest.name}@{manifest.version}:{manifest.weights['sha256'][:12]}"
    assert proc.stdout.split() == ["litert", "(4,", f"{manifest.dim})", model_id, "[]"]
    assert proc.stderr == ""  # LiteRT's delegate notice is kept quiet


def test_shipped_litert_models_are_recorded():
    for name in ("musicnn_mtt", "musicnn_msd", "musicnn_fused", "musicnn_fused_light"):
        manifest = Manifest.from_json((BUNDLES / name / "manifest.json").read_text())
        assert manifest.runtime["kind"] == "litert"
        assert manifest.runtime["weights_sha256"] == manifest.weights["sha256"]
        assert file_sha256(BUNDLES / name / manifest.runtime["file"]) == manifest.runtime["sha256"]


def _copy(tmp_path: Path) -> Path:
    # the whole folder: musicnn_mtt's weights are cut from musicnn_fused's (manifest format 2)
    return Path(shutil.copytree(BUNDLES, tmp_path / "bundles")) / "musicnn_mtt"


def _edit_runtime(directory: Path, **changes) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["runtime"].update(changes)
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_replaced_litert_model_is_refused(tmp_path):
    bundle = _copy(tmp_path)
    with open(bundle / "model.tflite", "r+b") as fh:
        fh.seek(5000)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(BundleError, match=r"model.tflite: sha256 .* \(corrupt or replaced model\)"):
        load_bundle(bundle)
    (bundle / "model.tflite").unlink()
    with pytest.raises(BundleError, match="LiteRT model model.tflite is missing"):
        load_bundle(bundle)


def test_litert_model_of_other_weights_is_refused(tmp_path):
    bundle = _copy(tmp_path)
    _edit_runtime(bundle, weights_sha256="0" * 64)
    with pytest.raises(BundleError, match="converted from other weights.*convert_litert.py"):
        load_bundle(bundle)


def test_garbage_litert_model_is_a_bundle_error(tmp_path):
    bundle = _copy(tmp_path)
    (bundle / "model.tflite").write_bytes(b"not a flatbuffer" * 10)
    _edit_runtime(bundle, sha256=file_sha256(bundle / "model.tflite"))
    with pytest.raises(BundleError, match="cannot load as a LiteRT model"):
        load_bundle(bundle)


def test_runtime_choice(tmp_path):
    bundle = _copy(tmp_path)
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["runtime"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="has no LiteRT model"):
        load_bundle(bundle, runtime="litert")
    with pytest.raises(ValueError, match="runtime must be one of"):
        load_bundle(bundle, runtime="onnx")
    assert load_bundle(bundle).runtime == "keras"  # auto falls back to Keras


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "onnx"}, "runtime.kind 'onnx' is not 'litert'"),
        ({"file": "../model.tflite"}, "plain .tflite file name"),
        ({"sha256": "abc"}, "runtime.sha256 is not 64"),
        ({"extra": "x"}, "runtime has unknown key"),
    ],
)
def test_runtime_manifest_validation(change, message):
    data = json.loads((BUNDLES / "musicnn_mtt" / "manifest.json").read_text())
    data["runtime"].update(change)
    with pytest.raises(BundleError, match=message):
        Manifest.from_dict(data)
    data["runtime"] = {"file": "model.tflite", "sha256": "1" * 64, "weights_sha256": "2" * 64}
    with pytest.raises(BundleError, match="runtime lacks key"):
        Manifest.from_dict(data)


def test_saving_new_weights_drops_the_stale_litert_entry(tmp_path):
    from test_bundle import tiny_manifest, tiny_model

    from deejai_model.ears.weights import save_bundle

    stale = dict(kind="litert", file="model.tflite", sha256="1" * 64, weights_sha256="2" * 64)
    written = save_bundle(tiny_model(seed=5), tiny_manifest(runtime=stale), tmp_path / "t")
    assert written.runtime is None
    assert "runtime" not in json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert load_bundle(tmp_path / "t").runtime == "keras"
