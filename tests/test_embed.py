"""deejai_model.ears.embed: files -> per-slice vectors with the shipped model, errors and order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import chord, clicks, noise_bursts, write_audio

from deejai_model.ears.bundle import load_bundle
from deejai_model.ears.embed import Embedder, TrackSlices
from deejai_model.ears.shipped import default_bundle_path
from deejai_model.errors import AudioError, SilentAudioError, UndecodableAudioError

SR = 22050


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(default_bundle_path())


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("embed")
    return {
        "chord": write_audio(folder / "chord.mp3", chord(20.0, SR), SR),
        "clicks": write_audio(folder / "clicks.ogg", clicks(20.0, SR, bpm=120), SR),
        "noise": write_audio(folder / "noise.flac", noise_bursts(20.0, SR, seed=1), SR),
        "short": write_audio(folder / "short.wav", chord(1.0, SR), SR),
        "silent": write_audio(folder / "silent.wav", np.zeros(SR * 5, np.float32), SR),
        "text": _text_file(folder / "notes.mp3"),
    }


def _text_file(path: Path) -> Path:
    path.write_text("this is not audio\n" * 100)
    return path


def test_embed_path_shapes_and_provenance(bundle, files) -> None:
    embedder = Embedder(bundle, max_slices=6, workers=1)
    track = embedder.embed_path(files["chord"])
    assert isinstance(track, TrackSlices)
    assert track.vectors.shape == (6, bundle.dim) and track.vectors.dtype == np.float32
    assert np.all(np.isfinite(track.vectors))
    assert track.model_id == bundle.model_id
    assert track.duration == pytest.approx(20.0, abs=0.1)
    # starts are spread over the track, increasing, and each slice fits inside it
    assert np.all(np.diff(track.starts) > 0)
    assert track.starts[-1] + embedder.frontend.slice_seconds <= track.duration + 1e-3
    assert not track.padded


def test_short_track_gets_one_padded_slice(bundle, files) -> None:
    track = Embedder(bundle, max_slices=8, workers=1).embed_path(files["short"])
    assert track.vectors.shape == (1, bundle.dim)
    assert track.padded


def test_bad_files_raise_one_line_errors(bundle, files) -> None:
    embedder = Embedder(bundle, max_slices=4, workers=1)
    with pytest.raises(SilentAudioError) as silent:
        embedder.embed_path(files["silent"])
    with pytest.raises(UndecodableAudioError) as text:
        embedder.embed_path(files["text"])
    for info, path in ((silent, files["silent"]), (text, files["text"])):
        message = str(info.value)
        assert message.startswith(str(path) + ": ") and "\n" not in message


def test_embed_paths_keeps_order_and_goes_on_after_errors(bundle, files) -> None:
    order = ["chord", "text", "clicks", "silent", "short", "noise"]
    embedder = Embedder(bundle, max_slices=4, workers=2, batch_size=5)
    results = list(embedder.embed_paths([files[name] for name in order]))
    assert [path for path, _ in results] == [str(files[name]) for name in order]
    kinds = {name: result for name, (_, result) in zip(order, results, strict=True)}
    assert isinstance(kinds["text"], AudioError) and isinstance(kinds["silent"], AudioError)
    for name in ("chord", "clicks", "short", "noise"):
        assert isinstance(kinds[name], TrackSlices), kinds[name]


def test_batched_results_equal_one_by_one(bundle, files) -> None:
    """Slices of several tracks share network batches; that must not change any vector."""
    names = ["chord", "clicks", "noise", "short"]
    embedder = Embedder(bundle, max_slices=5, workers=2, batch_size=7)
    together = dict(embedder.embed_paths([files[n] for n in names]))
    for name in names:
        alone = embedder.embed_path(files[name])
        np.testing.assert_allclose(together[str(files[name])].vectors, alone.vectors, atol=1e-4)


def test_distinct_sounds_get_distinct_vectors(bundle, files) -> None:
    """Slices of one steady sound agree with each other more than with other sounds."""
    embedder = Embedder(bundle, max_slices=6, workers=1)
    units, means = {}, {}
    for name in ("chord", "clicks", "noise"):
        v = embedder.embed_path(files[name]).vectors
        units[name] = v / np.linalg.norm(v, axis=1, keepdims=True)
        means[name] = units[name].mean(axis=0) / np.linalg.norm(units[name].mean(axis=0))
    within = min(float(np.min(units[n] @ means[n])) for n in means)
    across = max(float(means[a] @ means[b]) for a in means for b in means if a < b)
    assert within > across


def test_every_slice_mode_matches_upstream_slicing(bundle, files) -> None:
    """max_slices=0 cuts every non-overlapping slice from the start (upstream behaviour)."""
    embedder = Embedder(bundle, max_slices=0, workers=1)
    track = embedder.embed_path(files["clicks"])
    expected = int(20.0 // embedder.frontend.slice_seconds)
    assert track.vectors.shape[0] == expected
    np.testing.assert_allclose(
        track.starts, np.arange(expected) * embedder.frontend.slice_seconds, atol=1e-4
    )


def test_negative_max_slices_is_refused(bundle) -> None:
    with pytest.raises(ValueError):
        Embedder(bundle, max_slices=-1)
