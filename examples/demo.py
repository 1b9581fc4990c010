"""The main job on a small example: a fresh beets library that listens to its music.

Generates a dozen short tracks of four kinds (sine chords, noise bursts, fast clicks, slow
clicks), imports them into a new beets library in a temporary folder with the deejai plugin
enabled (vectors are computed on import), then asks for similar tracks and a journey.

    python examples/demo.py [--keep DIR]

Nothing is downloaded: the model ships inside the package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from mediafile import MediaFile

SR = 22050
SECONDS = 12.0


def _chord(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(SR * SECONDS)) / SR
    root = rng.uniform(180, 320)
    y = sum(np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.26, 1.5))
    return y * (0.5 + 0.5 * np.sin(2 * np.pi * 0.25 * t) ** 2)


def _noise(rng: np.random.Generator) -> np.ndarray:
    n = int(SR * SECONDS)
    env = (np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * np.arange(n) / SR) > 0).astype(float)
    return rng.standard_normal(n) * env * 0.5


def _clicks(rng: np.random.Generator, bpm: float) -> np.ndarray:
    n = int(SR * SECONDS)
    y = np.zeros(n)
    click = np.exp(-np.arange(int(0.03 * SR)) / (0.004 * SR)) * rng.standard_normal(int(0.03 * SR))
    step = int(SR * 60 / bpm)
    for start in range(0, n - len(click), step):
        y[start : start + len(click)] += click
    return y


KINDS = {
    "chord": _chord,
    "noise": _noise,
    "fastclicks": lambda rng: _clicks(rng, rng.uniform(170, 190)),
    "slowclicks": lambda rng: _clicks(rng, rng.uniform(55, 65)),
}


def make_music(folder: Path, per_kind: int = 3) -> list[Path]:
    """Write ``per_kind`` FLAC files of each kind into ``folder``; return their paths."""
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, make in KINDS.items():
        for i in range(per_kind):
            y = make(rng)
            y = (0.8 * y / np.max(np.abs(y))).astype(np.float32)
            path = folder / f"{kind}-{i + 1}.flac"
            sf.write(path, y, SR)
            tags = MediaFile(path)
            tags.title, tags.artist, tags.album = f"{kind}-{i + 1}", kind, "deejai demo"
            tags.save()
            paths.append(path)
    return paths


def beet(beetsdir: Path, *args: str) -> str:
    """Run ``beet`` with the demo's configuration and return what it printed."""
    env = dict(os.environ, BEETSDIR=str(beetsdir))
    cmd = [sys.executable, "-m", "beets", *args]
    print("$ beet " + " ".join(args), flush=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"beet {' '.join(args)} failed with exit code {done.returncode}")
    print(done.stdout, flush=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the library here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="deejai-demo-"))
    try:
        music = root / "incoming"
        make_music(music)
        (root / "config.yaml").write_text(
            f"directory: {root / 'library'}\n"
            f"library: {root / 'library.db'}\n"
            "plugins: deejai\n"
            "import:\n  copy: no\n  write: no\n  autotag: no\n  quiet: yes\n"
            "deejai:\n  auto: yes\n"
        )
        beet(root, "import", "-A", str(music))
        beet(root, "ls")
        beet(root, "deejai", "similar", "title:chord-1", "-n", "4")
        beet(root, "deejai", "journey", "title:chord-1", "title:slowclicks-1", "-n", "3")
        beet(root, "deejai", "playlist", "title:noise-1", "-n", "5")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    if args.keep is None:
        print("the demo library was temporary and is removed (--keep DIR builds it in DIR)")
    else:
        print(f"library: {root} (BEETSDIR={root} beet ls)")


if __name__ == "__main__":
    main()
