"""deejai_model.ears.melspec: librosa's mel spectrogram in numpy, checked against librosa itself."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import chord, music, noise_bursts

from deejai_model.ears.melspec import mel_filterbank, melspectrogram

# (sample_rate, n_fft, hop_length, n_mels): musicnn's and Speccy's front ends
PARAMS = [(16000, 512, 256, 96), (22050, 2048, 512, 96)]


@pytest.mark.parametrize("sr, n_fft, hop, n_mels", PARAMS)
def test_filterbank_equals_librosa(sr, n_fft, hop, n_mels):
    import librosa

    expected = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    got = mel_filterbank(sr, n_fft, n_mels)
    assert got.shape == expected.shape == (n_mels, 1 + n_fft // 2)
    assert np.abs(got - expected).max() <= 1e-6 * expected.max()


@pytest.mark.parametrize("sr, n_fft, hop, n_mels", PARAMS)
def test_melspectrogram_equals_librosa_on_music(sr, n_fft, hop, n_mels):
    import librosa

    clips = np.stack(
        [
            music(3.0, sr, seed=2)[: 3 * sr],
            chord(3.0, sr)[: 3 * sr],
            noise_bursts(3.0, sr, seed=4)[: 3 * sr],
            np.zeros(3 * sr, np.float32),
        ]
    ).astype(np.float32)
    expected = librosa.feature.melspectrogram(
        y=clips, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels
    )
    got = melspectrogram(clips, sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert expected[:3].max() > 1.0  # real energy, not an empty comparison
    scale = expected.max(axis=(-2, -1), keepdims=True) + 1e-12
    assert np.abs(got - expected).max() <= 1e-5 * expected.max()
    assert (np.abs(got - expected) / scale).max() <= 1e-5
    # the musicnn log scaling the network sees
    log_diff = np.abs(np.log10(10000 * got + 1) - np.log10(10000 * expected + 1))
    assert log_diff.max() <= 1e-4
    assert np.array_equal(got[3], np.zeros_like(got[3]))  # silence stays exactly zero


def test_one_dimensional_signal():
    y = music(2.0, 16000, seed=5).astype(np.float32)
    mel = {"n_fft": 512, "hop_length": 256, "n_mels": 96}
    assert np.allclose(melspectrogram(y, 16000, **mel), melspectrogram(y[None], 16000, **mel)[0])
    assert melspectrogram(y, 16000, **mel).shape == (96, 1 + len(y) // 256)


def test_shipped_model_hears_the_same_through_either_front_end():
    """Vectors from the numpy mel equal those from librosa's within the runtime tolerance."""
    import librosa

    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder
    from deejai_model.ears.shipped import default_bundle_path

    bundle = load_bundle(default_bundle_path())
    fe = Embedder(bundle).frontend
    sr, n = fe.sample_rate, fe.slice_samples
    clips = [music(4.0, sr, seed=7)[:n], chord(4.0, sr)[:n], noise_bursts(4.0, sr, seed=8)[:n]]
    ours = fe.batch_from_excerpts(clips)[0]
    mel = librosa.feature.melspectrogram(
        y=np.stack(clips).astype(np.float32),
        sr=sr,
        n_fft=fe.n_fft,
        hop_length=fe.hop_length,
        n_mels=fe.n_mels,
    )[:, :, : fe.slice_frames]
    theirs = fe._finish(mel.astype(np.float32))
    assert np.abs(ours - theirs).max() <= 1e-4
    assert np.abs(bundle.embed(ours) - bundle.embed(theirs)).max() <= 1e-4
