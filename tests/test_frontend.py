"""deejai_model.ears.frontend: slice geometry and the model-ready arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import chord, music, noise_bursts, tone, write_audio

from deejai_model.ears import audio, frontend
from deejai_model.ears.excerpts import excerpt_starts
from deejai_model.ears.frontend import FrontEnd

MUSICNN_SPEC = {
    "kind": "musicnn",
    "sample_rate": 16000,
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 96,
    "slice_frames": 187,
}
SPECCY_SPEC = {
    "kind": "speccy",
    "sample_rate": 22050,
    "n_fft": 2048,
    "hop_length": 512,
    "n_mels": 96,
    "slice_frames": 216,
}
BOTH = [MUSICNN_SPEC, SPECCY_SPEC]


def _mel(y: np.ndarray, d: dict) -> np.ndarray:
    import librosa

    extra = {"fmax": d["sample_rate"] / 2} if d["kind"] == "speccy" else {}
    return librosa.feature.melspectrogram(
        y=y,
        sr=d["sample_rate"],
        n_fft=d["n_fft"],
        hop_length=d["hop_length"],
        n_mels=d["n_mels"],
        **extra,
    )


# -- construction and geometry --------------------------------------------------------


def test_from_manifest() -> None:
    fe = FrontEnd.from_manifest({**MUSICNN_SPEC, "extra": "ignored"})
    assert fe == frontend.MUSICNN and fe.to_manifest() == MUSICNN_SPEC
    assert FrontEnd.from_manifest(SPECCY_SPEC) == frontend.SPECCY
    assert fe.slice_samples == 187 * 256
    assert fe.slice_seconds == pytest.approx(2.992)
    assert frontend.SPECCY.slice_seconds == pytest.approx(216 * 512 / 22050)
    assert frontend.SPECCY.slice_samples == 110592
    with pytest.raises(ValueError, match="slice_frames"):
        FrontEnd.from_manifest({k: v for k, v in MUSICNN_SPEC.items() if k != "slice_frames"})
    with pytest.raises(ValueError, match="kind"):
        FrontEnd.from_manifest({**MUSICNN_SPEC, "kind": "vggish"})
    with pytest.raises(ValueError):
        FrontEnd.from_manifest({**MUSICNN_SPEC, "hop_length": 0})


# -- slices -----------------------------------------------------------------------------


def test_musicnn_slices_match_librosa() -> None:
    fe = FrontEnd.from_manifest(MUSICNN_SPEC)
    y = music(10.0, 16000, seed=3)
    batch, padded = fe.slices(y)
    frames = 1 + y.size // 256
    assert batch.shape == (frames // 187, 187, 96) and batch.dtype == np.float32
    assert not padded
    ref = np.log10(10000 * _mel(y, MUSICNN_SPEC).T + 1)
    for i in range(batch.shape[0]):
        np.testing.assert_allclose(batch[i], ref[i * 187 : (i + 1) * 187], rtol=1e-5, atol=1e-5)
    assert batch.min() >= 0.0


def test_speccy_slices_match_upstream_recipe() -> None:
    import librosa

    fe = FrontEnd.from_manifest(SPECCY_SPEC)
    y = music(23.0, 22050, seed=4) + noise_bursts(23.0, 22050, amp=0.05)
    batch, padded = fe.slices(y)
    frames = 1 + y.size // 512
    assert batch.shape == (frames // 216, 96, 216, 1) and batch.dtype == np.float32
    assert not padded
    mel = _mel(y, SPECCY_SPEC)
    for i in range(batch.shape[0]):
        s = librosa.power_to_db(mel[:, i * 216 : (i + 1) * 216], ref=np.max, top_db=80)
        s = (s - s.min()) / (s.max() - s.min())
        np.testing.assert_allclose(batch[i, :, :, 0], s, atol=1e-5)
        assert batch[i].min() == 0.0 and batch[i].max() == pytest.approx(1.0)


def test_speccy_row_zero_is_the_lowest_band() -> None:
    fe = FrontEnd.from_manifest(SPECCY_SPEC)
    low, _ = fe.slices(tone(6.0, 22050, freq=110.0))
    high, _ = fe.slices(tone(6.0, 22050, freq=8000.0))
    band = np.arange(96)
    assert np.argmax(low[0, :, :, 0].mean(axis=1)) < 10
    assert np.argmax(high[0, :, :, 0].mean(axis=1)) > 80
    assert (band * low[0, :, :, 0].mean(axis=1)).sum() < (
        band * high[0, :, :, 0].mean(axis=1)
    ).sum()


def test_speccy_constant_slice_is_zero() -> None:
    fe = FrontEnd.from_manifest(SPECCY_SPEC)
    batch, padded = fe.slices(np.zeros(fe.slice_samples * 2, np.float32))
    assert batch.shape[0] == 2 and not padded
    assert not np.any(batch)


@pytest.mark.parametrize("d", BOTH, ids=lambda d: d["kind"])
def test_short_audio_gives_one_padded_slice(d: dict) -> None:
    fe = FrontEnd.from_manifest(d)
    y = chord(1.0, fe.sample_rate)
    batch, padded = fe.slices(y)
    assert padded and batch.shape[0] == 1
    assert np.all(np.isfinite(batch))
    long_enough, padded = fe.slices(chord(fe.slice_seconds, fe.sample_rate))
    assert not padded and long_enough.shape[0] == 1


@pytest.mark.parametrize("d", BOTH, ids=lambda d: d["kind"])
def test_one_second_mp3_end_to_end(tmp_path: Path, d: dict) -> None:
    fe = FrontEnd.from_manifest(d)
    path = write_audio(tmp_path / "short.mp3", chord(1.0, 44100), 44100)
    duration = audio.probe_duration(path)
    assert duration == pytest.approx(1.0, abs=0.05)
    batch, padded = fe.slices(audio.decode(path, fe.sample_rate))
    assert padded and batch.shape[0] == 1
    starts = excerpt_starts(fe, duration, 8)
    np.testing.assert_array_equal(starts, [0.0])
    excerpts = audio.decode_excerpts(path, fe.sample_rate, starts=starts, length=fe.slice_seconds)
    assert excerpts[0].size == fe.slice_samples
    from_excerpts, padded = fe.batch_from_excerpts(excerpts, duration=duration)
    assert padded
    assert from_excerpts.shape == batch.shape
    np.testing.assert_allclose(from_excerpts, batch, atol=0.02)


# -- batches from excerpts ------------------------------------------------------------


@pytest.mark.parametrize("d", BOTH, ids=lambda d: d["kind"])
def test_batch_from_excerpts_equals_slices(d: dict) -> None:
    fe = FrontEnd.from_manifest(d)
    y = music(40.0, fe.sample_rate, seed=5)
    starts = excerpt_starts(fe, 40.0, 6)
    excerpts = [
        y[int(round(s * fe.sample_rate)) : int(round(s * fe.sample_rate)) + fe.slice_samples]
        for s in starts
    ]
    batch, padded = fe.batch_from_excerpts(excerpts, duration=40.0)
    assert not padded and batch.shape[0] == len(excerpts)
    for i, ex in enumerate(excerpts):
        one, _ = fe.slices(ex)
        assert one.shape[0] == 1
        np.testing.assert_allclose(batch[i], one[0], rtol=1e-5, atol=1e-5)
    if fe.kind == "speccy":
        assert batch.min() >= 0.0 and batch.max() <= 1.0
    short = [excerpts[0], excerpts[1][: fe.slice_samples // 3]]
    batch, padded = fe.batch_from_excerpts(short)
    assert padded and batch.shape[0] == 2
    with pytest.raises(ValueError):
        fe.batch_from_excerpts([])


def test_excerpts_of_unequal_length_make_one_batch() -> None:
    """Unpadded excerpts (as the embedder decodes them) may fall a few samples short."""
    fe = frontend.MUSICNN
    rng = np.random.default_rng(5)
    full = (0.1 * rng.standard_normal(fe.slice_samples)).astype(np.float32)
    nearly = full[: fe.min_samples + 10]
    batch, padded = fe.batch_from_excerpts([full, nearly])
    assert batch.shape == (2, fe.slice_frames, fe.n_mels) and not padded
    np.testing.assert_allclose(batch[1, :-2], batch[0, :-2], atol=1e-4)
