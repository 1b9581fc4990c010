"""A file FFmpeg refuses is read by libsndfile before it is called undecodable."""

from pathlib import Path

import av
import numpy as np
import pytest
from audio_fixtures import A_MAJOR, chord, music, refused_by_ffmpeg, stereo, write_audio

from deejai_model.ears.audio import decode, decode_excerpts, probe_duration
from deejai_model.errors import UndecodableAudioError

SR = 22050


@pytest.fixture(name="pair")
def fixture_pair(tmp_path: Path) -> tuple[Path, Path]:
    """The same 20-s stereo Ogg Vorbis twice: as written, and altered so FFmpeg refuses it."""
    signal = stereo(music(20.0, SR), chord(20.0, SR, freqs=A_MAJOR))
    good = write_audio(tmp_path / "good.ogg", signal, SR)
    refused = tmp_path / "refused.ogg"
    refused.write_bytes(good.read_bytes())
    refused_by_ffmpeg(refused)
    return good, refused


def test_ffmpeg_really_refuses_the_altered_file(pair):
    with pytest.raises(av.error.InvalidDataError):
        av.open(str(pair[1]))


def test_a_file_ffmpeg_refuses_decodes_as_the_intact_one(pair):
    good, refused = pair
    assert probe_duration(refused) == pytest.approx(probe_duration(good), abs=1e-3)
    expected = decode(good, 16000)
    got = decode(refused, 16000)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_excerpts_seek_in_the_fallback(pair):
    good, refused = pair
    starts = [0.0, 7.5, 16.0, 19.0]
    expected = decode_excerpts(good, 16000, starts=starts, length=3.0, pad=False)
    got = decode_excerpts(refused, 16000, starts=starts, length=3.0, pad=False)
    # libsndfile ends the stream at its last granule position: exactly 20 s; FFmpeg's Vorbis
    # decoder keeps a few hundred samples more of the last block
    assert [g.size for g in got] == [48000, 48000, 48000, 16000]
    for g, e in zip(got, expected, strict=True):  # (the resampler's last taps see the end)
        np.testing.assert_allclose(g[:-64], e[: g.size - 64], atol=1e-5)


def test_the_excerpt_planner_listens_to_the_fallback(pair):
    from deejai_model.ears.excerpts import listen
    from deejai_model.ears.frontend import MUSICNN

    good, refused = pair
    frontend = MUSICNN
    heard = listen(refused, frontend, max_slices=4)
    expected = listen(good, frontend, max_slices=4)
    np.testing.assert_allclose(heard.starts, expected.starts)
    np.testing.assert_allclose(heard.batch, expected.batch, atol=1e-3)


def test_a_file_neither_reads_says_so_in_plain_words_naming_it_once(tmp_path):
    junk = tmp_path / "junk.ogg"
    junk.write_bytes(b"OggS" + bytes(range(256)) * 20)
    with pytest.raises(UndecodableAudioError) as raised:
        decode(junk, 16000)
    text = str(raised.value)
    assert text.startswith(f"{junk}: not a readable audio file (FFmpeg: ")
    assert "libsndfile: " in text
    assert text.count(str(junk)) == 1
    assert "Errno" not in text and "1094995529" not in text


@pytest.mark.slow
def test_beet_deejai_embed_embeds_a_file_ffmpeg_refuses(env, pair):
    from beets.library import Item

    good, refused = pair
    for path in (good, refused):
        Item.from_path(str(path)).add(env.lib)
    _, logs = env.run_output("deejai", "embed")
    assert not [line for line in logs if "cannot embed" in line], logs
    out, _ = env.run_output("deejai", "ls")
    assert out.count("[vectors: yes]") == 2, out
