"""The fused bundle: musicnn MTT, MSD and VGG side by side on one input (networks/fused.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import chord, music, write_audio

from deejai_model.ears.bundle import load_bundle
from deejai_model.ears.embed import Embedder
from deejai_model.ears.manifest import Manifest
from deejai_model.ears.weights import read_npz
from deejai_model.errors import BundleError

BUNDLES = Path(__file__).resolve().parents[1] / "deejai_model" / "ears" / "bundles"
SR = 22050


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("fused")
    return [
        write_audio(folder / "music.ogg", music(20.0, SR, bpm=96, seed=5), SR),
        write_audio(folder / "chord.flac", chord(8.0, SR), SR),
    ]


def _vectors(bundle, songs) -> np.ndarray:
    out = dict(Embedder(bundle, max_slices=4, workers=1).embed_paths(songs))
    return np.concatenate([out[os.fspath(p)].vectors for p in songs])


def test_fused_vectors_are_the_networks_side_by_side(songs):
    """MTT and MSD blocks equal those bundles' own vectors; the VGG block equals the VGG
    network built alone from the fused bundle's weights."""
    from deejai_model.ears.networks.pruning import unprefixed
    from deejai_model.ears.networks.vgg import build_vgg
    from deejai_model.ears.weights import assign_weights

    fused = load_bundle(BUNDLES / "musicnn_fused")
    assert fused.runtime == "litert" and fused.dim == 912
    assert fused.manifest.parts == (200, 200, 512)
    mtt, msd = (load_bundle(BUNDLES / name) for name in ("musicnn_mtt", "musicnn_msd"))
    got = _vectors(fused, songs)
    assert got.shape[1] == 912 and len(got) >= 5
    for block, bundle in ((slice(0, 200), mtt), (slice(200, 400), msd)):
        want = _vectors(bundle, songs)
        assert np.abs(want).max() > 0.5
        assert np.abs(got[:, block] - want).max() <= 1e-4

    part = fused.manifest.architecture_params["parts"][2]
    assert (part["architecture"], part["output"]) == ("vgg", "pool45")
    weights = unprefixed(read_npz(BUNDLES / "musicnn_fused" / "weights.npz"), part["prefix"])
    vgg = assign_weights(build_vgg(**part["params"], output=part["output"]), weights)
    batch = Embedder(fused, max_slices=4, workers=1).prepare(songs[0]).batch
    want = np.asarray(vgg(batch))
    assert np.abs(want).max() > 0.1
    assert np.abs(fused.embed(batch)[:, 400:] - want).max() <= 1e-4


def test_fused_litert_matches_its_keras_network(songs):
    keras_bundle = load_bundle(BUNDLES / "musicnn_fused", runtime="keras")
    lite_bundle = load_bundle(BUNDLES / "musicnn_fused")
    assert keras_bundle.model_id == lite_bundle.model_id
    assert np.abs(_vectors(keras_bundle, songs) - _vectors(lite_bundle, songs)).max() <= 1e-4


def _edited(tmp_path: Path, edit) -> Path:
    directory = tmp_path / "fused"
    shutil.copytree(BUNDLES / "musicnn_fused", directory)
    data = json.loads((directory / "manifest.json").read_text())
    edit(data)
    (directory / "manifest.json").write_text(json.dumps(data))
    return directory


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(dim=300), "dim is 300 but the parts give 912"),
        (
            lambda d: d["architecture_params"].update(parts=d["architecture_params"]["parts"][:1]),
            "two or more parts",
        ),
        (
            lambda d: d["architecture_params"]["parts"][1].pop("prefix"),
            "exactly the keys",
        ),
        (
            lambda d: d["architecture_params"]["parts"][1].update(output="taggram"),
            "part output 'taggram' is not one of",
        ),
        (
            lambda d: d["architecture_params"]["parts"][1].update(params=[1]),
            "params must be a mapping",
        ),
    ],
)
def test_bad_fused_manifests_are_refused(tmp_path, edit, message):
    with pytest.raises(BundleError, match=message):
        load_bundle(_edited(tmp_path, edit))


def test_other_architectures_have_one_part():
    manifest = Manifest.from_json((BUNDLES / "musicnn_mtt" / "manifest.json").read_text())
    assert manifest.parts == ()


def test_the_light_bundle_is_the_defaults_msd_and_vgg_blocks(songs):
    """musicnn-fused-light (MSD + VGG-MSD, for slow machines) hears as the default's blocks."""
    light = load_bundle(BUNDLES / "musicnn_fused_light")
    fused = load_bundle(BUNDLES / "musicnn_fused")
    assert light.manifest.parts == (200, 512) and light.model_id != fused.model_id
    batch = Embedder(fused, max_slices=4, workers=1).prepare(songs[0]).batch
    np.testing.assert_allclose(light.embed(batch), fused.embed(batch)[:, 200:], atol=1e-4)


def test_a_shipped_bundle_is_named_in_the_config(tmp_path, monkeypatch):
    import confuse

    from beetsplug.deejai.config import DEFAULTS, Settings

    monkeypatch.chdir(tmp_path)
    config = confuse.Configuration("deejai-test", read=False)
    config.set(DEFAULTS)
    config.set({"model": "musicnn_fused_light"})
    assert Settings.from_view(config).model == os.fspath(BUNDLES / "musicnn_fused_light")
    config.set({"model": "no_such_bundle"})  # not shipped: a path relative to here
    assert Settings.from_view(config).model == os.fspath(tmp_path / "no_such_bundle")


def test_a_part_whose_dim_is_not_its_networks_is_refused(tmp_path):
    """The sum agrees but the split does not: the network tells (the pooling would cross
    networks' blocks otherwise)."""

    def shift(d):
        parts = d["architecture_params"]["parts"]
        parts[0]["dim"], parts[1]["dim"] = 300, 100

    with pytest.raises(BundleError, match="gives 200 values, its dim says 300"):
        load_bundle(_edited(tmp_path, shift), runtime="keras")


def test_model_parts_come_from_the_models_own_manifest(tmp_path):
    import confuse

    from beetsplug.deejai.config import DEFAULTS, Settings
    from beetsplug.deejai.index import model_parts

    config = confuse.Configuration("deejai-test", read=False)
    config.set(DEFAULTS)
    settings = Settings.from_view(config)
    fused = load_bundle(BUNDLES / "musicnn_fused")
    assert model_parts(fused.model_id, settings) == (200, 200, 512)
    mtt = load_bundle(BUNDLES / "musicnn_mtt")
    assert model_parts(mtt.model_id, settings) == ()
    assert model_parts("unknown@1:000000000000", settings) == ()
