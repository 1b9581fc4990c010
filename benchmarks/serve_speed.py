"""How fast the browser DJ answers, next to serving its static page and to ``beet ls``.

Builds the synthetic library of :mod:`benchmarks.query_speed` (N items, clustered random
vectors under the shipped model's id; no audio), builds the index, starts a real
``beet deejai serve`` on a free loopback port, and times each request over HTTP (median and
best of ``--repeat``).  The floor is ``GET /`` (Flask rendering the page, no library work);
``beet ls title:...`` (a whole process) is the cost a user compares against.  Also reports the
server's start-up time (until it accepts connections) and its peak resident memory (VmHWM).

    python -m benchmarks.serve_speed [--sizes 1000,10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import ROOT
from benchmarks.query_speed import build_library, timed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, body: dict | None = None) -> float:
    """Seconds one request takes (the answer must be 2xx)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return time.perf_counter() - started


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def running_server(folder: Path) -> Iterator[tuple[subprocess.Popen, str, float]]:
    """``beet deejai serve`` on the library in ``folder`` (its ``config.yaml``), on a free port:
    yields ``(process, base URL, start-up seconds)`` once the port answers, and stops it after.

    Raises
    ------
    RuntimeError
        When the server exits, or does not answer within 120 s.
    """
    port = _free_port()
    env = dict(os.environ, BEETSDIR=str(folder), PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "beets", "deejai", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None or time.perf_counter() - started > 120:
                raise RuntimeError("beet deejai serve did not start")
            time.sleep(0.02)
        yield server, f"http://127.0.0.1:{port}", time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(20)


def serve_rows(folder: Path, n: int, *, repeat: int) -> list[tuple[str, float, float, float]]:
    """Start ``beet deejai serve`` on the library in ``folder`` (``n`` synthetic items, index
    built) and time each request: ``[(request, median s, best s, median of GET /)]``, plus a
    last row ``("start-up (s) / peak RSS (MiB)", start, rss, 0)``."""
    with running_server(folder) as (server, base, start_s):
        requests = {
            "GET / (floor)": (f"{base}/", None),
            "GET /api/state": (f"{base}/api/state", None),
            "GET /api/suggest?q=track-0001": (f"{base}/api/suggest?q=track-0001", None),
            "POST /api/seed title:track-00017": (
                f"{base}/api/seed",
                {"query": "title:track-00017"},
            ),
            "POST /api/next (skip)": (f"{base}/api/next", {"skipped": True}),
            "POST /api/controls": (f"{base}/api/controls", {"lookback": 2, "noise": 0.3}),
            "POST /api/journey -n 4": (
                f"{base}/api/journey",
                {"a": "title:track-00017", "b": f"title:track-{n - 7:05d}", "n": 4},
            ),
        }
        results = {}
        for name, (url, body) in requests.items():
            _request(url, body)  # warm
            times = [_request(url, body) for _ in range(repeat)]
            results[name] = (statistics.median(times), min(times))
        floor = results["GET / (floor)"][0]
        rows = [(name, median, best, floor) for name, (median, best) in results.items()]
        rows.append(("start-up (s) / peak RSS (MiB)", start_s, _peak_rss_mib(server.pid), 0.0))
        return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="library sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=20, help="requests per endpoint")
    args = parser.parse_args(argv)

    print("| items | request | median (ms) | best (ms) | median / `GET /` |")
    print("|---:|---|---:|---:|---:|")
    for n in [int(s) for s in args.sizes.split(",") if s]:
        with tempfile.TemporaryDirectory(prefix="deejai-bench-") as tmp:
            folder = Path(tmp)
            build_library(folder, n)
            timed(folder, ["deejai", "index"], 1)
            ls_one, _ = timed(folder, ["ls", "title:track-00017"], 3)
            *rows, (_, start_s, rss, _) = serve_rows(folder, n, repeat=args.repeat)
            for name, median, best, floor in rows:
                print(
                    f"| {n} | {name} | {median * 1e3:.1f} | {best * 1e3:.1f} "
                    f"| {median / floor:.1f} |"
                )
            print(
                f"| {n} | (server start {start_s:.2f} s; `beet ls title:track-00017` "
                f"{ls_one:.2f} s; server peak RSS {rss:.0f} MiB) | | | |",
                flush=True,
            )


if __name__ == "__main__":
    main()
