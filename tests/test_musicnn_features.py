"""musicnn's features of more than one layer, at any slice length, and the benchmark's layer
variants (benchmarks/layers.py) built on them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audio_fixtures import chord, music, write_audio  # noqa: E402

from benchmarks import layers  # noqa: E402
from benchmarks.common import Track  # noqa: E402

BUNDLE = Path(__file__).resolve().parents[1] / "deejai_model" / "ears" / "bundles" / "musicnn_mtt"


@pytest.fixture(scope="module")
def features_model():
    """The shipped MTT weights in a network of any input length returning every feature."""
    from deejai_model.ears.manifest import Manifest
    from deejai_model.ears.networks.musicnn import build_musicnn
    from deejai_model.ears.weights import load_weights

    manifest = Manifest.from_json((BUNDLE / "manifest.json").read_text(encoding="utf-8"))
    model = build_musicnn(**dict(manifest.architecture_params, n_frames=None, output="features"))
    load_weights(model, BUNDLE / manifest.weights["file"])
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


def test_layer_model_names_parts_and_network_work():
    assert layers.parse("mtt.pen+pool@94") == ("mtt", ["pen", "pool"], 94)
    assert layers.parts("mtt.pen+pool@94") == ["mtt.pen@94", "mtt.pool@94"]
    assert layers.parts("fused.pool@63") == ["mtt.pool@63", "msd.pool@63"]
    assert layers.parts("mtt") == ["mtt"]
    assert layers.network_work("mtt", 8) == 1.0
    assert layers.network_work("fused", 8) == 2.0
    assert layers.network_work("mtt.pen@94", 16) == pytest.approx(94 * 16 / (187 * 8))
    assert layers.network_work("mtt.pool@94", 16, every2=True) == pytest.approx(94 * 8 / 1496)
    assert layers.network_work("fused.pen@63", 24) == pytest.approx(2 * 63 * 24 / 1496)
    for bad in ("mtt.pen", "vgg.pen@94", "mtt.nope@94", "mtt.pen@0"):
        with pytest.raises(ValueError):
            layers.parse(bad)


def test_extract_caches_every_layer_at_the_slice_length_asked(tmp_path):
    """One pass fills every feature; short slices come from the plugin's slice plan; a
    broken file is a failure line, not a crash; a second call reads the cache."""
    from deejai_model.ears.bundle import load_bundle

    sr = 22050
    good = write_audio(tmp_path / "chord.wav", chord(20.0, sr), sr)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    tracks = [Track(str(good), "a", 20.0), Track(str(broken), "a", 0.0)]
    cache = str(tmp_path / "cache")

    pool, starts, failed = layers.layer_slices(tracks, "mtt.pool@94", 4, cache)
    assert pool[0].shape == (4, 1506) and pool[1] is None
    assert len(failed) == 1 and failed[0].startswith(str(broken))
    assert np.all(np.diff(starts[0].reshape(-1)) > 0)
    pen94, _, _ = layers.layer_slices(tracks, "mtt.pen@94", 4, cache)
    assert pen94[0].shape == (4, 200)
    assert len(list(Path(cache).glob("layers_*_F94_K4_*.npz"))) == len(layers.FEATURES) + 1

    # at the shipped length the penultimate feature is the plugin's own vector
    pen187, starts187, _ = layers.layer_slices(tracks, "mtt.pen@187", 4, cache)
    from deejai_model.ears.embed import Embedder

    plugin = Embedder(load_bundle(BUNDLE, runtime="keras"), max_slices=4).embed_path(str(good))
    np.testing.assert_allclose(pen187[0], plugin.vectors, atol=1e-4)
    np.testing.assert_allclose(starts187[0].reshape(-1), plugin.starts, atol=1e-6)


def test_quality_report_evaluates_layer_variants_with_their_network_work(tmp_path, capsys):
    """benchmarks.quality runs layer models beside each other on two corpora: fused parts,
    every other slice, and each variant's network work relative to the plugin default."""
    from benchmarks import quality

    sr = 22050
    labels = []
    for corpus in ("dev", "val"):
        folder = tmp_path / corpus
        folder.mkdir()
        rows = ["path\tgroup\tseconds"]
        for i, (group, seed) in enumerate([("x", 1), ("x", 2), ("y", 3), ("y", 4)]):
            signal = music(16.0, sr, bpm=90 if group == "x" else 150, seed=seed)
            path = write_audio(folder / f"{corpus}{i}.wav", signal, sr)
            rows.append(f"{path}\t{corpus}-{group}\t16.0")
        (folder / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        labels.append(str(folder / "labels.tsv"))

    cache = str(tmp_path / "cache")
    tracks = [t for f in labels for t in quality.read_labels(f)]
    grid = quality.OursGrid(tracks, cache, ["mtt.pen+pool@94"], [8], {94: [4]})
    assert grid.model_ks("mtt.pen+pool@94") == [4]
    fused = grid.unit_vectors("mtt.pen+pool@94", 4, "meanstd", "centre")
    assert fused.shape == (8, 2 * 200 + 2 * 1506)
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-9)
    halved = grid.unit_vectors("mtt.pen+pool@94", 4, "every2-meanstd", "centre")
    assert halved.shape == fused.shape and not np.allclose(halved, fused)
    assert quality.variant_work(("mtt.pen@94", 16, "every2-meanstd", "centre", "none")) == (
        pytest.approx(94 * 8 / (187 * 8))
    )

    quality.main(
        ["--labels", ",".join(labels), "--systems", "ours", "--cache", cache]
        + ["--models", "mtt.pen@94,mtt.pen+pool@94", "--k", "8", "--layer-k", "94:4"]
        + ["--pools", "meanstd,every2-meanstd", "--norms", "centre", "--hubs", "none"]
    )
    report = capsys.readouterr().out
    assert "network work" in report
    assert "mtt.pen+pool@94 K4 every2-meanstd centre none" in report
    assert f"{94 * 4 / (187 * 8):.2f}x" in report and f"{94 * 2 / (187 * 8):.2f}x" in report
    assert "At most ~half the default's network work" in report
