"""Why the mix's MP3 costs more CPU than ``ffmpeg -c:a libmp3lame``: the encoder's settings.

usage: python -m benchmarks.mp3_settings [--seconds 60]

Encodes the same generated music (``tests/audio_fixtures.music``, stereo, 44.1 kHz, 256 kb/s)
with PyAV's bundled LAME under each setting the mix could change (frames of 32768 samples as
the mix writes them or LAME's own 1152, float or 16-bit input, LAME's quality through
``compression_level``), and with the ``ffmpeg`` on ``PATH`` (Debian's LAME) at its default
and at the same ``compression_level``; prints CPU seconds and the ratio to ffmpeg's default.
If every PyAV row stays well above every ffmpeg row, the settings are not the cause.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from benchmarks.common import loadavg, markdown_table  # noqa: E402

RATE = 44100


def pyav_cpu(audio: np.ndarray, out: str, *, block: int, fmt: str, level: str | None) -> float:
    """CPU seconds to encode ``audio`` (``(2, n)`` float32) with PyAV's libmp3lame."""
    import av

    data = (np.clip(audio, -1, 1) * 32767).astype(np.int16) if fmt == "s16p" else audio
    start = time.process_time()
    with av.open(out, mode="w", format="mp3") as container:
        options = {"compression_level": level} if level else {}
        stream = container.add_stream("libmp3lame", rate=RATE, layout="stereo", options=options)
        stream.bit_rate = 256000
        stream.codec_context.format = fmt
        for a in range(0, data.shape[1], block):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data[:, a : a + block]), format=fmt, layout="stereo"
            )
            frame.sample_rate, frame.pts = RATE, a
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return time.process_time() - start


def ffmpeg_cpu(wav: str, out: str, level: str | None) -> float:
    """CPU seconds (the child's rusage) of ``ffmpeg -i wav -c:a libmp3lame -b:a 256k``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    extra = ["-compression_level", level] if level else []
    command = ["ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", "libmp3lame", "-b:a", "256k"]
    subprocess.run([*command, *extra, out], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if not shutil.which("ffmpeg"):
        sys.exit("needs an ffmpeg on PATH to compare with")
    from audio_fixtures import music, stereo, write_audio

    audio = np.ascontiguousarray(stereo(music(args.seconds, RATE, bpm=100, seed=1)).T)
    with tempfile.TemporaryDirectory(prefix="mp3-settings-") as work:
        wav = str(write_audio(os.path.join(work, "in.wav"), audio.T, RATE))
        out = os.path.join(work, "out.mp3")
        print(f"{args.seconds:g} s of music; load {loadavg()}", file=sys.stderr)
        rows = [("ffmpeg (Debian LAME), default", ffmpeg_cpu(wav, out, None))]
        rows.append(("ffmpeg, compression_level 3", ffmpeg_cpu(wav, out, "3")))
        for name, block, fmt, level in [
            ("PyAV, as the mix: 32768-sample frames, float", 32768, "fltp", None),
            ("PyAV, 1152-sample frames (LAME's own)", 1152, "fltp", None),
            ("PyAV, 16-bit input", 32768, "s16p", None),
            ("PyAV, compression_level 3", 32768, "fltp", "3"),
            ("PyAV, compression_level 7 (faster, worse)", 32768, "fltp", "7"),
        ]:
            rows.append((name, pyav_cpu(audio, out, block=block, fmt=fmt, level=level)))
    floor = rows[0][1]
    print(
        markdown_table(
            ["encoder, settings", "CPU s", "x ffmpeg default"],
            [[n, f"{c:.2f}", f"{c / floor:.2f}"] for n, c in rows],
        )
    )
    print(f"\nload after: {loadavg()}")


if __name__ == "__main__":
    main()
