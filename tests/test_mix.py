"""The mix engine (deejai_model.mix) on generated audio.

Loudness is checked with pyloudnorm, independently of the engine (which measures with
libavfilter's ebur128); durations with libsndfile; where each track starts by the pitch heard.
"""

from __future__ import annotations

import os

import av
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from audio_fixtures import clicks, noise_bursts, stereo, tone, write_audio

from deejai_model.errors import AudioError
from deejai_model.mix import MixOptions, MixTrack, plan_mix, render_mix
from deejai_model.mix.beats import Beats, beat_shift, steady_beats
from deejai_model.mix.excerpt import SliceTimes, excerpt_offsets
from deejai_model.mix.render import EDGE_FADE, MixError

SR = 22050
PITCHES = (330.0, 523.0, 784.0)
TONE_SECONDS = 6.0


def _padded(signal: np.ndarray, lead: float, tail: float) -> np.ndarray:
    return np.concatenate(
        [np.zeros(int(lead * SR), np.float32), signal, np.zeros(int(tail * SR), np.float32)]
    )


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> list[str]:
    """Three stereo tones of distinct pitch and very different levels, with silence around."""
    folder = tmp_path_factory.mktemp("tones")
    paths = []
    for i, (pitch, amp) in enumerate(zip(PITCHES, (0.5, 0.03, 0.9), strict=True)):
        signal = _padded(tone(TONE_SECONDS, SR, pitch, amp), lead=0.4 + 0.3 * i, tail=0.7)
        paths.append(str(write_audio(folder / f"tone{i}.flac", stereo(signal, signal), SR)))
    return paths


def _tracks(paths) -> list[MixTrack]:
    return [MixTrack(p, "Tester", f"tone {i}") for i, p in enumerate(paths)]


def _options(**kw) -> MixOptions:
    return MixOptions(**{"sample_rate": SR, "crossfade": 2.0, **kw})


def _onsets(audio: np.ndarray, frame: float = 0.05) -> list[float]:
    """Seconds where each of PITCHES is first heard (40 dB below its steady level; mono input)."""
    n = int(frame * SR)
    frames = audio[: len(audio) // n * n].reshape(-1, n) * np.hanning(n)
    spectrum = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    onsets = []
    for pitch in PITCHES:
        level = spectrum[:, int(np.argmin(np.abs(freqs - pitch)))]
        onsets.append(float(np.flatnonzero(level > 0.01 * level.max())[0] * frame))
    return onsets


def test_duration_is_the_parts_minus_the_crossfades(tones, tmp_path):
    out = str(tmp_path / "mix.wav")
    result = render_mix(_tracks(tones), out, options=_options(crossfade=2.0))
    audio, rate = sf.read(out)
    expected = 3 * TONE_SECONDS - 2 * 2.0  # silences trimmed, two 2-s crossfades
    assert rate == SR
    assert abs(len(audio) / rate - expected) < 0.05
    assert abs(result.duration - expected) < 0.05
    assert [os.path.basename(p) for p in result.paths] == ["mix.wav", "mix.wav.cue", "mix.wav.txt"]


def test_gapless_cut_keeps_every_sample(tones, tmp_path):
    out = str(tmp_path / "mix.wav")
    render_mix(_tracks(tones), out, options=_options(crossfade=0.0))
    audio, rate = sf.read(out)
    assert abs(len(audio) / rate - 3 * TONE_SECONDS) < 0.05


def test_each_track_is_brought_to_the_target_loudness(tones, tmp_path):
    out = str(tmp_path / "mix.wav")
    target = -16.0
    result = render_mix(_tracks(tones), out, options=_options(target_lufs=target, crossfade=1.0))
    audio, rate = sf.read(out)
    meter = pyloudnorm.Meter(rate)
    for entry in result.entries:  # the middle of each segment, away from the fades
        a, b = int((entry.start + 1.5) * rate), int((entry.start + entry.length - 1.5) * rate)
        assert abs(meter.integrated_loudness(audio[a:b]) - target) < 1.0
    # the raw tones differ by ~30 dB; the gains made up for it
    gains = [e.gain_db for e in result.entries]
    assert max(gains) - min(gains) > 25
    assert np.max(np.abs(audio)) <= 10 ** (-1.0 / 20) + 1e-3  # the -1 dBTP ceiling


def _true_peak_dbtp(audio: np.ndarray) -> float:
    """True peak of ``(n, channels)`` audio by 8x oversampling (scipy's polyphase resampler:
    not the limiter's interpolator, nor libavfilter's)."""
    from scipy.signal import resample_poly

    return float(20 * np.log10(np.abs(resample_poly(audio, 8, 1, axis=0)).max()))


def _segments(result, audio: np.ndarray, rate: int) -> list[np.ndarray]:
    """The mix cut at the CUE times: each track from its start to the next one's."""
    starts = [int(round(e.start * rate)) for e in result.entries] + [len(audio)]
    return [audio[a:b] for a, b in zip(starts, starts[1:], strict=False)]


def _quiet_and_peaky(seconds: float = 8.0) -> np.ndarray:
    """A quiet tone (about -40 LUFS) with a full-scale click every 2 s: its peak allows
    almost no gain."""
    signal = tone(seconds, SR, 440.0, 0.01)
    for at in np.arange(0.5, seconds, 2.0):
        signal[int(at * SR) : int(at * SR) + 3] = [0.99, -0.99, 0.99]
    return signal


def test_a_quiet_peaky_track_is_raised_to_the_target_under_the_ceiling(tones, tmp_path):
    peaky = write_audio(tmp_path / "peaky.flac", stereo(_quiet_and_peaky()), SR)
    tracks = [MixTrack(tones[0]), MixTrack(str(peaky)), MixTrack(tones[2])]
    out = str(tmp_path / "mix.flac")
    result = render_mix(tracks, out, options=_options(crossfade=1.0))
    audio, rate = sf.read(out)
    meter = pyloudnorm.Meter(rate)
    loudness = [meter.integrated_loudness(part) for part in _segments(result, audio, rate)]
    assert result.entries[1].loudness < -35  # raised by more than 20 dB...
    assert all(abs(lufs - -14.0) < 1.0 for lufs in loudness), loudness
    assert _true_peak_dbtp(audio) <= -1.0 + 0.05  # ...under the -1 dBTP ceiling


def test_a_track_of_nothing_but_peaks_stays_under_the_ceiling(tmp_path):
    # sparse loud bursts: turning them up only turns the limiter down; nothing clips
    clicks = noise_bursts(8.0, SR, every=1.0, burst=0.01, amp=0.9)
    path = write_audio(tmp_path / "clicks.flac", stereo(clicks, clicks), SR)
    out = str(tmp_path / "mix.flac")
    result = render_mix([MixTrack(str(path))], out, options=_options(target_lufs=-10.0))
    audio, _ = sf.read(out)
    entry = result.entries[0]
    assert entry.gain_db < (-10.0 - entry.loudness) + 12  # the corrections stopped
    assert _true_peak_dbtp(audio) <= -1.0 + 0.05


@pytest.mark.parametrize("crossfade", [0.0, 3.0])
def test_tracklist_times_are_where_each_tone_is_heard(tones, tmp_path, crossfade):
    out = str(tmp_path / "mix.wav")
    result = render_mix(_tracks(tones), out, options=_options(crossfade=crossfade))
    audio, rate = sf.read(out)
    heard = _onsets(audio[:, 0])
    assert [round(e.start) for e in result.entries] == [0, 6 - crossfade, 12 - 2 * crossfade]
    for onset, entry in zip(heard, result.entries, strict=True):
        assert abs(onset - entry.start) < 0.06
    lines = open(tmp_path / "mix.wav.txt", encoding="utf-8").read().splitlines()
    starts = [round(e.start) for e in result.entries]
    assert lines == [f"0:{s:02d}  Tester - tone {i}" for i, s in enumerate(starts)]
    cue = open(tmp_path / "mix.wav.cue", encoding="utf-8").read()
    assert 'FILE "mix.wav" WAVE' in cue
    assert cue.count("TRACK ") == 3 and cue.count('PERFORMER "Tester"') == 3


def test_plan_matches_the_render(tones, tmp_path):
    planned = plan_mix(_tracks(tones), _options())
    rendered = render_mix(_tracks(tones), str(tmp_path / "mix.flac"), options=_options())
    assert [e.start for e in planned.entries] == [e.start for e in rendered.entries]
    assert planned.duration == rendered.duration
    assert not list(tmp_path.glob("*.part"))


def _junk(folder) -> str:
    path = folder / "broken.mp3"
    path.write_bytes(b"this is not audio at all " * 400)
    return str(path)


def test_an_undecodable_track_is_named_and_left_out(tones, tmp_path):
    bad = _junk(tmp_path)
    errors: list[AudioError] = []
    tracks = _tracks(tones)
    result = render_mix(
        [tracks[0], MixTrack(bad), tracks[1]],
        str(tmp_path / "mix.wav"),
        options=_options(),
        on_error=errors.append,
    )
    assert len(errors) == 1 and str(errors[0]).startswith(bad + ": ")
    assert "\n" not in str(errors[0])
    assert [e.track.path for e in result.entries] == [tones[0], tones[1]]
    assert result.skipped == errors


def test_strict_stops_at_an_undecodable_track_and_writes_nothing(tones, tmp_path):
    bad = _junk(tmp_path)
    with pytest.raises(MixError, match="broken.mp3"):
        render_mix(
            [MixTrack(tones[0]), MixTrack(bad)], str(tmp_path / "mix.mp3"), options=_options()
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp3"]


def test_ctrl_c_leaves_no_file(tones, tmp_path):
    def interrupt(entry):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_mix(
            _tracks(tones), str(tmp_path / "mix.mp3"), options=_options(), progress=interrupt
        )
    assert list(tmp_path.iterdir()) == []


def test_a_real_sigint_stops_the_render_and_leaves_no_file(tones, tmp_path):
    import signal

    def press_ctrl_c(entry):  # a real SIGINT, as a terminal sends, after the first track
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        render_mix(
            _tracks(tones), str(tmp_path / "mix.m4a"), options=_options(), progress=press_ctrl_c
        )
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_unknown_extension_is_refused(tones, tmp_path):
    with pytest.raises(ValueError, match="unknown output format 'xyz'"):
        render_mix(_tracks(tones), str(tmp_path / "mix.xyz"), options=_options())
    assert list(tmp_path.iterdir()) == []


def _chapters(path: str, ext: str) -> list[str]:
    """Chapter titles as a reader other than the writer sees them."""
    if ext == "mp3":
        from mutagen.id3 import ID3

        return [str(f.sub_frames["TIT2"]) for f in ID3(path).getall("CHAP")]
    if ext in ("ogg", "opus", "flac"):
        import mutagen

        tags = mutagen.File(path).tags
        return [tags[f"CHAPTER{i:03d}NAME"][0] for i in (1, 2, 3) if f"CHAPTER{i:03d}NAME" in tags]
    if ext == "m4a":
        with av.open(path) as container:
            return [c["metadata"]["title"] for c in container.chapters()]
    return []


@pytest.mark.parametrize(
    "ext,codec",
    [
        ("mp3", "mp3"),
        ("m4a", "aac"),
        ("ogg", "opus"),
        ("opus", "opus"),
        ("flac", "flac"),
        ("wav", "pcm_s16le"),
    ],
)
def test_every_format_round_trips_through_a_decoder(tones, tmp_path, ext, codec):
    out = str(tmp_path / f"mix.{ext}")
    result = render_mix(_tracks(tones), out, options=_options())
    with av.open(out) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.codec.name.startswith(codec)
        assert stream.codec_context.channels == 2
        samples = sum(f.samples for f in container.decode(stream))
        rate = stream.codec_context.sample_rate
    assert abs(samples / rate - result.duration) < 0.05
    expected = [] if ext == "wav" else [f"Tester - tone {i}" for i in range(3)]
    assert _chapters(out, ext) == expected


def test_excerpts_join_the_parts_that_sound_alike():
    x, y, z = np.eye(3, dtype=np.float32)
    a = SliceTimes(np.array([0.0, 30.0]), np.stack([x, z]), 40.0)  # x early, z late
    b = SliceTimes(np.array([0.0, 30.0, 50.0]), np.stack([y, x, y]), 60.0)
    c = SliceTimes(np.array([0.0, 10.0]), np.stack([y, y]), 20.0)
    offsets = excerpt_offsets([a, b, c], length=25.0, slice_seconds=3.0)
    # A ends on x (B is mostly y, a little x; z is unlike B): its window starting at 0 ends on x.
    # B opens on x (A's chosen ending) at 30 s and ends on y (like C).
    # C is shorter than 25 s: from its start.
    assert offsets == [0.0, 30.0, 0.0]
    # without A, B's windows all end on y and none opens on a known ending: the first wins
    assert excerpt_offsets([b, c], length=25.0, slice_seconds=3.0)[0] == 0.0


def test_excerpt_of_an_unknown_track_is_its_middle():
    assert excerpt_offsets([None], length=10.0, slice_seconds=3.0, durations=[100.0]) == [45.0]
    assert excerpt_offsets([None], length=10.0, slice_seconds=3.0) == [0.0]


def test_excerpt_renders_only_that_section(tones, tmp_path):
    tracks = [MixTrack(t, offset=2.0, duration=3.0) for t in tones]
    result = render_mix(tracks, str(tmp_path / "mix.wav"), options=_options(crossfade=1.0))
    assert abs(result.duration - (3 * 3.0 - 2 * 1.0)) < 0.05


def test_a_mix_of_excerpts_fades_in_and_out(tones, tmp_path):
    tracks = [MixTrack(t, offset=2.0, duration=3.0) for t in tones]
    result = render_mix(tracks, str(tmp_path / "mix.wav"), options=_options(crossfade=1.0))
    audio, rate = sf.read(tmp_path / "mix.wav")
    edge = int(0.01 * rate)
    level = np.abs(audio[int(1.5 * rate) : int(2.0 * rate)]).max()  # past the fade in
    assert level > 0.1
    assert np.abs(audio[:edge]).max() < 1e-3 * level  # no click into the middle of the music
    assert np.abs(audio[-edge:]).max() < 1e-3 * level
    frame = rate // 20
    count = int(EDGE_FADE * 20)
    frames = np.abs(audio[: count * frame]).reshape(count, frame, 2).max(axis=(1, 2))
    assert np.all(np.diff(frames) > 0)  # a ramp up over EDGE_FADE seconds
    assert abs(len(audio) / rate - result.duration) < 0.01  # the fades take no time
    # whole tracks start and end as they are (no fade)
    render_mix(_tracks(tones), str(tmp_path / "whole.wav"), options=_options(crossfade=1.0))
    whole, _ = sf.read(tmp_path / "whole.wav")
    assert np.abs(whole[:edge]).max() > 0.1


def _click_track(shift: float, seconds: float = 16.0) -> np.ndarray:
    """A quiet 100 Hz hum (so nothing is trimmed) under 120 bpm clicks starting at ``shift``."""
    hum = tone(seconds, SR, 100.0, 0.05)
    clicks_at = np.zeros_like(hum)
    body = clicks(seconds - shift, SR, bpm=120.0)
    clicks_at[int(shift * SR) :] = body[: hum.size - int(shift * SR)]
    return hum + clicks_at


def _fade_clicks_off_beat(path) -> float:
    """Largest distance (s) of a click inside the 12-16 s crossfade from the beat grid of the
    outgoing track's own clicks (found the same way before the fade, so the detector's own
    delay cancels)."""
    audio, _ = sf.read(path)
    n = int(0.005 * SR)
    mono = audio[:, 0]
    energy = np.square(np.diff(mono))[: (mono.size - 1) // n * n].reshape(-1, n).sum(axis=1)
    loud = energy > 0.2 * energy.max()
    onsets = np.flatnonzero(loud & ~np.concatenate([[False], loud[:-1]])) * n / SR
    before = onsets[(onsets > 1.0) & (onsets < 11.9)] % 0.5
    fade = onsets[(onsets > 12.1) & (onsets < 15.9)]  # both tracks click here
    assert before.size > 15 and fade.size >= 6
    off = (fade - np.median(before)) % 0.5
    return float(np.minimum(off, 0.5 - off).max())


def test_beat_alignment_puts_the_incoming_clicks_on_the_outgoing_beat(tmp_path):
    a = write_audio(tmp_path / "a.flac", _click_track(0.0), SR)
    b = write_audio(tmp_path / "b.flac", _click_track(0.2), SR)  # 0.2 s off the beat
    out = str(tmp_path / "mix.wav")
    tracks = [MixTrack(str(a)), MixTrack(str(b))]
    result = render_mix(tracks, out, options=_options(crossfade=4.0, beat_align=True))
    assert result.entries[1].beat_skip == pytest.approx(0.2, abs=0.02)
    assert abs(result.duration - (16.0 + 16.0 - result.entries[1].beat_skip - 4.0)) < 0.05
    assert _fade_clicks_off_beat(out) < 0.02
    # the plain crossfade keeps B's clicks 0.2 s off A's
    plain = render_mix(tracks, str(tmp_path / "plain.wav"), options=_options(crossfade=4.0))
    assert plain.entries[1].beat_skip is None
    assert _fade_clicks_off_beat(tmp_path / "plain.wav") > 0.15


def test_beats_are_aligned_only_when_both_are_steady_and_compatible(tmp_path):
    steady = Beats(0.5, np.arange(0.1, 10, 0.5))
    join = {"tail_seconds": 10.0, "fade": 4.0}
    assert beat_shift(steady, Beats(0.5, np.arange(0.3, 10, 0.5)), **join) == pytest.approx(0.2)
    assert beat_shift(steady, Beats(0.25, np.arange(0.3, 10, 0.25)), **join) is not None
    assert beat_shift(steady, Beats(0.43, np.arange(0.3, 10, 0.43)), **join) is None
    rng = np.random.default_rng(0)
    assert steady_beats(rng.standard_normal(12 * SR).astype(np.float32) * 0.1, SR) is None
    assert steady_beats(clicks(12.0, SR, bpm=100.0), SR) is not None


def test_mp3_chapters_are_stored_in_time_order(tones, tmp_path):
    # titles of decreasing length: sorted by frame size (as mutagen saves), the last came first
    titles = ["the first track, with a long title", "second one", "3rd"]
    tracks = [MixTrack(p, "", t) for p, t in zip(tones, titles, strict=True)]
    out = str(tmp_path / "mix.mp3")
    result = render_mix(tracks, out, options=_options())
    starts = [e.start for e in result.entries]
    with av.open(out) as container:  # FFmpeg reads the CHAP frames in file order
        read = [
            (float(c["start"] * c["time_base"]), c["metadata"]["title"])
            for c in container.chapters()
        ]
    assert [t for _, t in read] == titles
    assert [round(s, 2) for s, _ in read] == [round(s, 2) for s in starts]
    from mutagen.id3 import ID3

    tags = ID3(out)
    chaps = tags.getall("CHAP")  # in the tag's order
    assert [str(c.sub_frames["TIT2"]) for c in chaps] == titles
    assert [c.start_time for c in chaps] == sorted(c.start_time for c in chaps)
    (toc,) = tags.getall("CTOC")
    assert toc.child_element_ids == [c.element_id for c in chaps]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_one_name_in_two_formats_keeps_both_tracklists(tones, tmp_path):
    first = render_mix(_tracks(tones[:2]), str(tmp_path / "mix.mp3"), options=_options())
    second = render_mix(_tracks(tones), str(tmp_path / "mix.ogg"), options=_options())
    assert set(first.paths).isdisjoint(second.paths)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["mix.mp3", "mix.mp3.cue", "mix.mp3.txt", "mix.ogg", "mix.ogg.cue", "mix.ogg.txt"]
    )
    assert 'FILE "mix.mp3" MP3' in (tmp_path / "mix.mp3.cue").read_text(encoding="utf-8")
    assert (tmp_path / "mix.mp3.txt").read_text(encoding="utf-8").count("\n") == 2
    assert 'FILE "mix.ogg" OGG' in (tmp_path / "mix.ogg.cue").read_text(encoding="utf-8")
    assert (tmp_path / "mix.ogg.txt").read_text(encoding="utf-8").count("\n") == 3


def test_the_limiter_holds_true_peaks_whatever_the_block_size():
    from deejai_model.mix.limiter import TruePeakLimiter

    rng = np.random.default_rng(1)
    music_like = np.stack([tone(4.0, SR, 200.0, 0.1), tone(4.0, SR, 300.0, 0.1)])
    music_like[:, rng.integers(0, music_like.shape[1], 6)] = 1.8  # peaks 6 dB over full scale

    def limited(block: int) -> np.ndarray:
        limiter = TruePeakLimiter(SR, -1.0)
        parts = [limiter.push(music_like[:, a : a + block]) for a in range(0, 4 * SR, block)]
        return np.concatenate([*parts, limiter.finish()], axis=1)

    big, small = limited(32768), limited(777)
    assert big.shape == music_like.shape  # as many samples out as in, in time
    np.testing.assert_allclose(big, small, atol=1e-6)
    assert _true_peak_dbtp(big.T) <= -1.0
    touched = np.abs(big - music_like).max(axis=0) > 1e-6
    assert 0 < touched.mean() < 0.25  # around the peaks only (about 0.1 s each)


def test_the_limiter_keeps_high_frequencies_under_the_ceiling_between_samples():
    # BS.1770's 4x points miss up to 0.3 dB of the waveform's peak near 15 kHz at 44.1 kHz
    from scipy.signal import butter, resample_poly, sosfilt

    from deejai_model.mix.limiter import TruePeakLimiter

    rate = 44100
    n = 2 * rate
    rng = np.random.default_rng(3)
    hiss = sosfilt(butter(8, 15000, "high", fs=rate, output="sos"), rng.standard_normal((2, n)))
    cymbal_like = (1.5 * hiss).astype(np.float32)
    whistle = np.sin(2 * np.pi * 15000 * np.arange(n) / rate + 0.3).astype(np.float32)
    for loud in (cymbal_like, np.stack([whistle, whistle])):
        limiter = TruePeakLimiter(rate, -1.0)
        parts = [limiter.push(loud[:, a : a + 4096]) for a in range(0, n, 4096)]
        out = np.concatenate([*parts, limiter.finish()], axis=1)
        waveform_peak = 20 * np.log10(np.abs(resample_poly(out, 32, 1, axis=1)).max())
        assert waveform_peak <= -1.0
        assert waveform_peak > -1.5  # limited to the ceiling, not far below it
