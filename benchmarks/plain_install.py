"""The plain install as a user gets it: size, time, and the main commands without TensorFlow.

In a temporary folder, two fresh virtual environments: the floor, ``pip install beets`` (what a
beets user has already), and ``pip install <this repository>`` (the plain install: no extra).
For each: pip's wall time and the environment's size on disk. Then, in the plugin's
environment, whether a heavy package came along (TensorFlow, Keras, gensim, librosa, SciPy,
h5py), and the main commands through its own ``bin/beet`` on a small generated library: import,
``embed``, ``similar``, ``journey``, ``playlist``, ``mix`` (Ogg) and ``serve`` (answered over
HTTP), each with its wall time, peak memory and exit status.

    python -m benchmarks.plain_install [--tracks 6] [--pip-args=--no-cache-dir] [--keep DIR]

pip's cache makes a second install faster: pass ``--pip-args=--no-cache-dir`` for a cold one.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ROOT
from benchmarks.serve_speed import _free_port

#: Left out of the copy that is installed.
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"
)

#: What the plain install must not bring.
HEAVY = ("tensorflow", "tensorflow-cpu", "keras", "gensim", "librosa", "scipy", "h5py")

#: Written by the environment's own Python: tagged tracks of two kinds (chords, clicks).
MAKE_MUSIC = """
import sys, numpy as np, soundfile as sf
from mediafile import MediaFile
folder, n = sys.argv[1], int(sys.argv[2])
sr, seconds = 22050, 12.0
t = np.arange(int(sr * seconds)) / sr
for i in range(n):
    kind = "chord" if i % 2 == 0 else "clicks"
    if kind == "chord":
        y = sum(np.sin(2 * np.pi * f * 1.12 ** (i // 2) * t) for f in (220.0, 277.2, 329.6)) / 4
    else:
        y = np.zeros_like(t)
        beat = int(sr * 60 / (120 + 8 * i))
        for start in range(0, len(y) - 400, beat):
            y[start:start + 400] = np.hanning(800)[400:] * 0.8
    path = f"{folder}/{kind}-{i // 2 + 1}.flac"
    sf.write(path, y.astype(np.float32), sr)
    tags = MediaFile(path)
    tags.title, tags.artist, tags.album = f"{kind}-{i // 2 + 1}", kind, kind
    tags.save()
"""


def _run(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run ``cmd``: wall seconds, peak RSS (MiB) of the process, exit status, output tail."""
    start = time.perf_counter()
    process = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall": time.perf_counter() - start,
        "rss": usage.ru_maxrss / 1024,
        "rc": process.returncode,
        "out": out[-2000:],
    }


def _size(folder: Path) -> float:
    """MiB on disk (``du``)."""
    done = subprocess.run(["du", "-sk", str(folder)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0]) / 1024


def _venv(folder: Path, requirement: str, pip_args: list[str]) -> dict:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    empty = _size(folder)
    pip = [str(folder / "bin" / "pip"), "install", "-q", *pip_args, requirement]
    result = _run(pip)
    if result["rc"] != 0:
        raise SystemExit(f"pip install {requirement} failed:\n{result['out']}")
    result["size"] = _size(folder)
    result["empty"] = empty
    return result


def _serve(beet: str, env: dict) -> dict:
    """``beet deejai serve`` until it answers ``POST /api/seed`` over HTTP, then Ctrl-C."""
    port = _free_port()
    start = time.perf_counter()
    process = subprocess.Popen(
        [beet, "deejai", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    answered, rc = False, None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/seed",
                    data=json.dumps({"query": "chord-1"}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=30) as answer:
                    answered = json.loads(answer.read())["now"]["title"] == "chord-1"
                break
            except OSError:
                time.sleep(0.2)
        wall = time.perf_counter() - start
    finally:
        process.send_signal(2)  # Ctrl-C
        out = process.communicate(timeout=30)[0]
        rc = process.returncode
    ok = answered and "development server" not in out.lower()
    return {"wall": wall, "rss": float("nan"), "rc": 0 if ok else (rc or 1), "out": out[-2000:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=6)
    parser.add_argument("--pip-args", default="", help="extra pip install arguments")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="deejai-plain-"))
    work.mkdir(parents=True, exist_ok=True)
    pip_args = shlex.split(args.pip_args)
    try:
        print("pip install beets (the floor)...", file=sys.stderr)
        floor = _venv(work / "beets", "beets", pip_args)
        print("pip install the plugin...", file=sys.stderr)
        # from a copy, as from a clean clone (pip builds a local folder in place)
        source = shutil.copytree(ROOT, work / "src", ignore=SKIP)
        plain = _venv(work / "plain", str(source), pip_args)
        python, beet = str(work / "plain/bin/python"), str(work / "plain/bin/beet")
        listed = subprocess.run(
            [python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True
        )
        names = {p["name"].lower() for p in json.loads(listed.stdout)}
        heavy = sorted(names & set(HEAVY))

        print("| install | pip wall s | size MiB | x beets alone |")
        print("|---|---|---|---|")
        for label, r in (("`pip install beets` (floor)", floor), ("`pip install .`", plain)):
            print(
                f"| {label} | {r['wall']:.1f} | {r['size']:.0f} | {r['size'] / floor['size']:.2f} |"
            )
        print(
            f"\nheavy packages in the plain install: {', '.join(heavy) or 'none'} "
            f"({len(names)} packages; an empty venv is {plain['empty']:.0f} MiB)\n"
        )

        music, home = work / "music", work / "home"
        music.mkdir(exist_ok=True)
        home.mkdir(exist_ok=True)
        subprocess.run([python, "-c", MAKE_MUSIC, str(music), str(args.tracks)], check=True)
        (home / "config.yaml").write_text(
            f"directory: {work / 'library'}\nlibrary: {home / 'library.db'}\n"
            "plugins: deejai\ndeejai:\n  auto: no\n"
            "import:\n  copy: no\n  write: no\n  autotag: no\n  quiet: yes\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(BEETSDIR=str(home), HOME=str(home))
        steps = [
            ("beet import -A", ["import", "-A", str(music)]),
            ("beet deejai embed", ["deejai", "embed"]),
            ("beet deejai similar", ["deejai", "similar", "chord-1", "-n", "3"]),
            ("beet deejai journey", ["deejai", "journey", "chord-1", "clicks-1", "-n", "2"]),
            ("beet deejai playlist", ["deejai", "playlist", "chord-1", "-n", "4"]),
            (
                "beet deejai mix (ogg)",
                ["deejai", "mix", "chord-1", "clicks-1", "-o", str(work / "mix.ogg")],
            ),
        ]
        print(
            f"| command ({args.tracks} tracks of 12 s, the plain install) | wall s | "
            "peak RSS MiB | exit |"
        )
        print("|---|---|---|---|")
        for label, words in steps:
            r = _run([beet, *words], env=env, cwd=work)
            print(f"| `{label}` | {r['wall']:.2f} | {r['rss']:.0f} | {r['rc']} |")
            if r["rc"] != 0:
                print(r["out"], file=sys.stderr)
        r = _serve(beet, env)
        print(
            f"| `beet deejai serve` (start to first answered `POST /api/seed`) | "
            f"{r['wall']:.2f} | | {r['rc']} |"
        )
        if r["rc"] != 0:
            print(r["out"], file=sys.stderr)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
