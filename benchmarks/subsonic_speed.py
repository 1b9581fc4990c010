"""How fast ``beet deejai serve`` answers the OpenSubsonic API, and whether it holds up under
50 clients at once.

Builds the synthetic library of :mod:`benchmarks.query_speed` (N items, clustered random
vectors under the shipped model's id), gives the first 20 items a real audio file (a 30 s
FLAC, so ``stream`` sends and transcodes real bytes), builds the index, starts a real
``beet deejai serve`` on a free loopback port with one Subsonic user, then:

1. **Latency**: ``--repeat`` requests each, one at a time, new connection each (p50, p99, ratio
   of p50 to ``ping``, the floor: login + envelope, no library work).  ``stream`` is timed to
   its first byte (as a player starts playing), raw and transcoded to MP3 at 128 kb/s.
2. **Load**: ``--clients`` threads for ``--seconds``, each looping over getSonicSimilarTracks,
   getSimilarSongs2, search3, a ranged stream and a scrobble of a random song; every answer
   must be ``ok`` (HTTP 2xx), and afterwards the library's ``play_count`` total must equal the
   scrobbles the server acknowledged (no lost scrobble).
3. The server's peak resident memory (VmHWM) after both.

    python -m benchmarks.subsonic_speed [--sizes 10000] [--repeat 200] [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks.query_speed import build_library, timed
from benchmarks.serve_speed import _peak_rss_mib, running_server

USER, PASSWORD = "bench", "bench-password"
AUDIO_ITEMS = 20


def _write_audio(folder: Path) -> None:
    """Give the first items a real file (FLAC bytes under their ``.mp3`` names: FFmpeg probes
    the content, the raw stream sends bytes as they are)."""
    import soundfile

    rate = 44100
    t = np.arange(30 * rate) / rate
    tone = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
    stereo = np.stack([tone, tone], axis=1).astype(np.float32)
    (folder / "music").mkdir(exist_ok=True)
    for i in range(AUDIO_ITEMS):
        soundfile.write(str(folder / "music" / f"{i:05d}.mp3"), stereo, rate, format="FLAC")


def _query(method: str, **params) -> str:
    salt = os.urandom(4).hex()
    token = hashlib.md5((PASSWORD + salt).encode()).hexdigest()
    base = {"u": USER, "t": token, "s": salt, "v": "1.16.1", "c": "bench", "f": "json"}
    return f"/rest/{method}?" + urllib.parse.urlencode({**base, **params})


def _ok(data: bytes) -> dict:
    body = json.loads(data)["subsonic-response"]
    if body["status"] != "ok":
        raise RuntimeError(f"failed: {body.get('error')}")
    return body


def _time(base: str, path: str, *, first_byte: bool = False, headers: dict | None = None) -> float:
    """Seconds a request takes (to its first body byte with ``first_byte``)."""
    request = urllib.request.Request(base + path, headers=headers or {})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        if first_byte:  # a player starts here; the rest is not waited for (closed)
            response.read(1)
            return time.perf_counter() - started
        data = response.read()
    elapsed = time.perf_counter() - started
    if response.headers.get_content_type() == "application/json":
        _ok(data)
    return elapsed


def _percentile(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times), q))


def _latency(base: str, n: int, repeat: int):
    """``(name, seconds of each request)`` per case, as each is measured."""
    rng = random.Random(1)

    def song() -> str:
        return f"tr-{rng.randint(1, n)}"

    def audio() -> str:
        return f"tr-{rng.randint(1, AUDIO_ITEMS)}"

    cases = {
        "ping (floor)": lambda: _time(base, _query("ping")),
        "getSonicSimilarTracks count=10": lambda: _time(
            base, _query("getSonicSimilarTracks", id=song(), count=10)
        ),
        "getSimilarSongs2 count=50": lambda: _time(
            base, _query("getSimilarSongs2", id=song(), count=50)
        ),
        "findSonicPath count=25": lambda: _time(
            base, _query("findSonicPath", startSongId=song(), endSongId=song(), count=25)
        ),
        "search3 track-0001": lambda: _time(base, _query("search3", query="track-0001")),
        "stream raw, first byte": lambda: _time(
            base, _query("stream", id=audio()), first_byte=True
        ),
        "stream mp3 128 kb/s, first byte": lambda: _time(
            base, _query("stream", id=audio(), format="mp3", maxBitRate=128), first_byte=True
        ),
    }
    for name, run in cases.items():
        run()  # warm
        yield name, [run() for _ in range(repeat)]


def _load(base: str, n: int, *, clients: int, seconds: float) -> dict:
    """``clients`` threads for ``seconds``: requests, errors, scrobbles acknowledged by song."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    totals = {"requests": 0, "errors": 0, "scrobbles": {}, "error_samples": []}

    def client(seed: int) -> None:
        rng = random.Random(seed)
        done, errors, scrobbles, samples = 0, 0, {}, []
        while time.monotonic() < stop:
            song = f"tr-{rng.randint(1, n)}"
            audio = f"tr-{rng.randint(1, AUDIO_ITEMS)}"
            calls = [
                (_query("getSonicSimilarTracks", id=song, count=10), None),
                (_query("getSimilarSongs2", id=song, count=20), None),
                (_query("search3", query=f"track-{rng.randint(0, 999):04d}"), None),
                (_query("stream", id=audio), {"Range": "bytes=0-65535"}),
                (_query("scrobble", id=song), None),
            ]
            for path, headers in calls:
                try:
                    request = urllib.request.Request(base + path, headers=headers or {})
                    with urllib.request.urlopen(request, timeout=60) as response:
                        data = response.read()
                        if response.headers.get_content_type() == "application/json":
                            _ok(data)
                    if "scrobble" in path:
                        scrobbles[song] = scrobbles.get(song, 0) + 1
                except (OSError, RuntimeError, ValueError) as error:
                    errors += 1
                    if len(samples) < 3:
                        samples.append(f"{path.split('?')[0]}: {error}")
                done += 1
        with lock:
            totals["requests"] += done
            totals["errors"] += errors
            totals["error_samples"] += samples
            for key, count in scrobbles.items():
                totals["scrobbles"][key] = totals["scrobbles"].get(key, 0) + count

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals["wall"] = time.perf_counter() - started
    return totals


def _stored_plays(folder: Path) -> dict[int, int]:
    import sqlite3

    with sqlite3.connect(folder / "library.db") as db:
        rows = db.execute(
            "SELECT entity_id, value FROM item_attributes WHERE key = 'play_count'"
        ).fetchall()
    return {int(i): int(v) for i, v in rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000", help="library sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=200, help="requests per endpoint")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration")
    args = parser.parse_args(argv)

    print("| items | request | p50 (ms) | p99 (ms) | p50 / ping |")
    print("|---:|---|---:|---:|---:|", flush=True)
    loads = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        with tempfile.TemporaryDirectory(prefix="deejai-bench-") as tmp:
            folder = Path(tmp)
            build_library(folder, n)
            _write_audio(folder)
            with open(folder / "config.yaml", "a", encoding="utf-8") as f:
                f.write(f"  subsonic:\n    users:\n      {USER}:\n        password: {PASSWORD}\n")
            timed(folder, ["deejai", "index"], 1)
            with running_server(folder) as (server, base, _):
                floor = None
                for name, values in _latency(base, n, args.repeat):
                    floor = floor or statistics.median(values)
                    p50, p99 = _percentile(values, 50), _percentile(values, 99)
                    print(
                        f"| {n} | {name} | {p50 * 1e3:.1f} | {p99 * 1e3:.1f} | {p50 / floor:.1f} |",
                        flush=True,
                    )
                before = sum(_stored_plays(folder).values())
                load = _load(base, n, clients=args.clients, seconds=args.seconds)
                stored = sum(_stored_plays(folder).values()) - before
                sent = sum(load["scrobbles"].values())
                loads.append((n, load, sent, stored, _peak_rss_mib(server.pid)))
    print()
    print(
        "| items | clients | seconds | requests | requests/s | errors | scrobbles acknowledged "
        "| plays stored | lost | server peak RSS (MiB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, load, sent, stored, rss in loads:
        print(
            f"| {n} | {args.clients} | {load['wall']:.0f} | {load['requests']} "
            f"| {load['requests'] / load['wall']:.0f} | {load['errors']} | {sent} | {stored} "
            f"| {sent - stored} | {rss:.0f} |"
        )
        for sample in load["error_samples"][:5]:
            print(f"<!-- error: {sample} -->")


if __name__ == "__main__":
    main()
