"""Files whose header is fine but whose audio is garbage fail with a clear AudioError."""

from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import A_MAJOR, chord, write_audio
from mediafile import MediaFile

from deejai_model.ears.audio import decode, decode_excerpts
from deejai_model.errors import AudioError, UndecodableAudioError

SR = 22050


@pytest.fixture(name="garbled_flac")
def fixture_garbled_flac(tmp_path: Path) -> Path:
    """A tagged 20-s FLAC cut inside its padding block, then 5000 random bytes.

    FFmpeg's FLAC demuxer then fails every seek with EPERM, which PyAV raises as
    ``PermissionError``: "Operation not permitted", which is not what is wrong.
    """
    path = write_audio(tmp_path / "garbled.flac", chord(20.0, SR, freqs=A_MAJOR), SR)
    tags = MediaFile(path)
    tags.title = "garbled"
    tags.save()
    head = path.read_bytes()[:200]
    noise = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    path.write_bytes(head + noise)
    return path


def test_excerpts_of_garbled_audio_raise_undecodable_naming_the_file(garbled_flac):
    with pytest.raises(UndecodableAudioError) as raised:
        decode_excerpts(garbled_flac, 16000, starts=[3.0], length=3.0)
    assert str(raised.value).startswith(f"{garbled_flac}: ")
    assert "not permitted" not in str(raised.value)


def test_decode_with_offset_names_the_file(garbled_flac):
    with pytest.raises(UndecodableAudioError) as raised:
        decode(garbled_flac, 16000, offset=3.0)
    assert str(raised.value).startswith(f"{garbled_flac}: ")


def test_a_mix_leaves_out_garbled_audio_saying_it_has_no_samples(garbled_flac, tmp_path):
    from deejai_model.mix import MixOptions, MixTrack, plan_mix

    good = write_audio(tmp_path / "good.flac", chord(4.0, SR, freqs=A_MAJOR), SR)
    errors: list[AudioError] = []
    tracks = [MixTrack(str(garbled_flac)), MixTrack(str(good))]
    plan = plan_mix(tracks, MixOptions(SR), on_error=errors.append)
    assert [e.track.path for e in plan.entries] == [str(good)]
    assert len(errors) == 1 and str(errors[0]).startswith(f"{garbled_flac}: ")
    assert errors[0].reason == "no audio samples"  # the words of deejai_model.ears.audio
