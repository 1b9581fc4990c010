"""deejai_model.ears.excerpts: where to listen, which excerpts hold music, one open per file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import chord, write_audio

from deejai_model.ears import audio
from deejai_model.ears.excerpts import (
    EDGE_FRACTION,
    excerpt_starts,
    heard_excerpts,
    heard_slices,
    listen,
)
from deejai_model.ears.frontend import MUSICNN, SPECCY, FrontEnd
from deejai_model.errors import SilentAudioError

BOTH = [MUSICNN, SPECCY]
SR = 22050


# -- where to listen -----------------------------------------------------------------


@pytest.mark.parametrize("fe", BOTH, ids=lambda fe: fe.kind)
@pytest.mark.parametrize("duration", [3.5, 9.0, 16.0, 31.0, 61.7, 240.0, 3600.0])
@pytest.mark.parametrize("max_slices", [1, 4, 8, 16, 64])
def test_excerpt_starts_properties(fe: FrontEnd, duration: float, max_slices: int) -> None:
    span = fe.slice_seconds
    starts = excerpt_starts(fe, duration, max_slices)
    fit = int(duration // span)
    assert starts.ndim == 1 and starts.size == max(1, min(max_slices, fit))
    assert np.all(starts >= 0.0)
    if fit >= 1:
        assert np.all(starts + span <= duration + 1e-9)  # every excerpt is whole
    gaps = np.diff(starts)
    assert np.all(gaps >= span - 1e-9)  # non-overlapping, increasing
    if gaps.size > 1:
        assert np.ptp(gaps) < 1e-6  # evenly spread
    k = starts.size
    if k > 1 and (1 - 2 * EDGE_FRACTION) * duration >= k * span:
        # intro and outro skipped when there is room
        assert starts[0] >= EDGE_FRACTION * duration - 1e-9
        assert starts[-1] + span <= (1 - EDGE_FRACTION) * duration + 1e-9
    if k > 1:
        # spread over the track: the excerpts cover its middle, not only its beginning
        assert starts[0] < 0.3 * duration and starts[-1] + span > 0.7 * duration


@pytest.mark.parametrize("fe", BOTH, ids=lambda fe: fe.kind)
def test_excerpt_starts_every_slice_and_short_tracks(fe: FrontEnd) -> None:
    span = fe.slice_seconds
    every = excerpt_starts(fe, 10.5 * span, 0)
    np.testing.assert_allclose(every, np.arange(10) * span)
    np.testing.assert_array_equal(excerpt_starts(fe, 0.4 * span, 8), [0.0])
    np.testing.assert_array_equal(excerpt_starts(fe, 0.4 * span, 0), [0.0])
    np.testing.assert_array_equal(excerpt_starts(fe, 0.0, 8), [0.0])
    with pytest.raises(ValueError):
        excerpt_starts(fe, 100.0, -1)


# -- which excerpts hold music ---------------------------------------------------------


def test_heard_excerpts_skip_silence_and_audio_past_the_end() -> None:
    fe = MUSICNN
    full = chord(fe.slice_seconds, fe.sample_rate)
    quiet = np.full(fe.slice_samples, 0.5 * audio.SILENCE_PEAK, np.float32)
    cut_short = full[: fe.min_samples - 1]
    keep, fallback = heard_excerpts(fe, [full, quiet, np.zeros(0, np.float32), cut_short, full])
    np.testing.assert_array_equal(keep, [0, 4])
    assert not fallback
    # nothing fills a slice: the excerpt with the most audible samples, flagged
    keep, fallback = heard_excerpts(fe, [cut_short[:100], quiet, cut_short])
    np.testing.assert_array_equal(keep, [2])
    assert fallback


def test_heard_slices_skip_silent_slices() -> None:
    fe = MUSICNN
    n = fe.slice_samples
    track = np.concatenate([np.zeros(n, np.float32), chord(2 * fe.slice_seconds, fe.sample_rate)])
    keep, fallback = heard_slices(fe, track, 3)
    np.testing.assert_array_equal(keep, [1, 2])
    assert not fallback
    keep, fallback = heard_slices(fe, np.zeros(2 * n, np.float32), 2)
    assert keep.size == 1 and fallback


# -- one file, one open -------------------------------------------------------------------


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths :func:`deejai_model.ears.audio.open_audio` opened, in order."""
    seen: list[str] = []
    real = audio.open_audio

    def counting(path):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(audio, "open_audio", counting)
    return seen


def _truncated_mp3(folder: Path, name: str, keep: float) -> Path:
    """A 40-s MP3 cut after ``keep`` of its bytes: its Xing header still says 40 s (as a
    broken download does)."""
    whole = write_audio(folder / f"whole-{name}", chord(40.0, SR), SR)
    data = whole.read_bytes()
    path = folder / name
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_excerpts_past_the_real_end_are_not_listened_to(tmp_path: Path, opens) -> None:
    fe = MUSICNN
    span = fe.slice_seconds
    path = _truncated_mp3(tmp_path, "truncated.mp3", 0.25)
    real = audio.decode(path, fe.sample_rate).size / fe.sample_rate
    assert audio.probe_duration(path) == pytest.approx(40.0, abs=0.1) and real < 11.0
    opens.clear()
    heard = listen(path, fe, max_slices=8)
    assert opens == [str(path)]  # both rounds of excerpts came from one open file
    assert heard.duration == pytest.approx(real, abs=0.1)  # what was found, not the header
    assert len(heard.starts) == len(heard.batch) == int(real // span) and not heard.padded
    assert np.all(heard.starts + span <= real + 0.05)

    # almost nothing left: every planned excerpt lies past the end; one padded slice remains
    stub = _truncated_mp3(tmp_path, "stub.mp3", 0.03)
    opens.clear()
    heard = listen(stub, fe, max_slices=8)
    assert len(heard.starts) == len(heard.batch) == 1 and heard.padded
    assert heard.duration < span
    assert len(opens) == 2  # the whole track is decoded from a fresh open to find its end


@pytest.mark.parametrize("max_slices", [8, 0])
def test_a_long_silent_outro_is_not_listened_to(tmp_path: Path, opens, max_slices: int) -> None:
    music_part = chord(12.0, SR)
    signal = np.concatenate([music_part, np.zeros(SR * 36, np.float32)])
    path = write_audio(tmp_path / "outro.flac", signal, SR)
    heard = listen(path, MUSICNN, max_slices=max_slices)
    assert opens == [str(path)]
    assert heard.duration == pytest.approx(48.0, abs=0.05)  # the file does hold 48 s
    assert 3 <= len(heard.starts) < 12 and not heard.padded  # spread over the 12 s of music
    assert np.all(heard.starts < 12.0)  # every slice holds some of the music
    assert len(heard.batch) == len(heard.starts)


def test_a_silent_file_is_one_error_naming_it(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "silent.wav", np.zeros(SR * 5, np.float32), SR)
    with pytest.raises(SilentAudioError) as caught:
        listen(path, MUSICNN, max_slices=4)
    message = str(caught.value)
    assert message.startswith(f"{path}: silent") and "\n" not in message
