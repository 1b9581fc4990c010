"""The mix limiter's true-peak detector: 8x oversampling (shipped) against BS.1770's 4x.

usage: python -m benchmarks.limiter_peaks [--seconds 60] [--files PATH,...]

Runs :class:`deejai_model.mix.limiter.TruePeakLimiter` (ceiling -1 dBTP, 44.1 kHz stereo,
blocks of 32768 samples as the mix pushes them) over signals that need limiting: generated
music (``tests/audio_fixtures.music``) raised until its peaks are 6 dB over full scale, white
noise 9 dB over, noise high-passed at 15 kHz (cymbal-like), a 15 kHz tone at full scale, and
any ``--files`` (decoded by PyAV, raised to peak 6 dB over). Prints, per signal and detector,
the limiter's CPU seconds per minute of audio and the waveform's peak after it, measured by
scipy's 32x polyphase resampler (a different interpolator from the limiter's). A detector
keeps the ceiling when its peak column stays at or under -1.0 dBTP.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from benchmarks.common import loadavg, markdown_table  # noqa: E402

RATE = 44100
BLOCK = 32768
CEILING = -1.0


def _peak_dbtp(audio: np.ndarray, factor: int = 32, chunk: int = 1 << 16) -> float:
    """Peak of ``(channels, n)`` audio oversampled ``factor`` times, dB re full scale (in
    chunks with 1024 samples of context each side: memory stays small)."""
    from scipy.signal import resample_poly

    pad, peak = 1024, 0.0
    for a in range(0, audio.shape[1], chunk):
        lo, hi = max(0, a - pad), min(audio.shape[1], a + chunk + pad)
        up = resample_poly(audio[:, lo:hi], factor, 1, axis=1)
        keep = up[:, (a - lo) * factor : (min(a + chunk, audio.shape[1]) - lo) * factor]
        peak = max(peak, float(np.abs(keep).max()))
    return float(20 * np.log10(peak))


def _decode(path: str, seconds: float) -> np.ndarray:
    """The first ``seconds`` of a file: ``(2, n)`` float32 at :data:`RATE`."""
    import av

    parts, wanted = [], int(seconds * RATE)
    with av.open(path) as container:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
        for frame in container.decode(audio=0):
            parts += [f.to_ndarray() for f in resampler.resample(frame)]
            if sum(p.shape[1] for p in parts) >= wanted:
                break
    return np.concatenate(parts, axis=1)[:, :wanted].astype(np.float32)


def _over(audio: np.ndarray, db: float) -> np.ndarray:
    """``audio`` scaled so its sample peak is ``db`` over full scale."""
    return (audio / np.abs(audio).max() * 10 ** (db / 20)).astype(np.float32)


def signals(seconds: float, files: list[str]) -> dict[str, np.ndarray]:
    """Name -> ``(2, n)`` float32 signal that needs limiting."""
    from audio_fixtures import music
    from scipy.signal import butter, sosfilt

    n = int(seconds * RATE)
    rng = np.random.default_rng(0)
    song = music(seconds, RATE)
    out = {
        "generated music, peaks +6 dB": _over(np.stack([song, np.roll(song, 7)]), 6.0),
        "white noise, peaks +9 dB": _over(rng.standard_normal((2, n)), 9.0),
        "noise over 15 kHz, peaks +6 dB": _over(
            sosfilt(butter(8, 15000, "high", fs=RATE, output="sos"), rng.standard_normal((2, n))),
            6.0,
        ),
        "15 kHz tone, full scale": np.tile(
            np.sin(2 * np.pi * 15000 * np.arange(n) / RATE + 0.3), (2, 1)
        ).astype(np.float32),
    }
    for path in files:
        out[f"{Path(path).name}, peaks +6 dB"] = _over(_decode(path, seconds), 6.0)
    return out


def limited(audio: np.ndarray, oversample: int) -> tuple[np.ndarray, float]:
    """The limiter's output and its CPU seconds."""
    from deejai_model.mix.limiter import TruePeakLimiter

    limiter = TruePeakLimiter(RATE, CEILING, oversample=oversample)
    start = time.process_time()
    parts = [limiter.push(audio[:, a : a + BLOCK]) for a in range(0, audio.shape[1], BLOCK)]
    out = np.concatenate([*parts, limiter.finish()], axis=1)
    return out, time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--files", default="", help="comma-separated audio files")
    args = parser.parse_args(argv)
    files = [f for f in args.files.split(",") if f]
    rows = []
    for name, audio in signals(args.seconds, files).items():
        floor = None
        for oversample in (4, 8):
            out, cpu = limited(audio, oversample)
            cpu = min(cpu, limited(audio, oversample)[1])  # the better of two runs
            per_minute = cpu * 60.0 / args.seconds
            floor = per_minute if floor is None else floor
            rows.append(
                [
                    name,
                    f"{oversample}x" + (" (shipped)" if oversample == 8 else " (BS.1770)"),
                    f"{per_minute:.2f}",
                    f"{per_minute / floor:.2f}",
                    f"{_peak_dbtp(audio):+.2f}",
                    f"{_peak_dbtp(out):+.2f}",
                ]
            )
    header = ["signal", "detector", "CPU s / min", "vs 4x", "in dBTP", "out dBTP (32x)"]
    print(markdown_table(header, rows))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nceiling {CEILING} dBTP; peak RSS {peak:.0f} MiB; load {loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
