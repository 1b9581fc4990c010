"""Does a real journey mix reach its loudness, track by track?

usage: python -m benchmarks.mix_loudness [--labels LABELS.tsv] [--tracks 19] [--format mp3]
                                         [--crossfade 6] [--excerpt SECONDS] [--keep DIR]

Builds a journey of ``--tracks`` corpus tracks as the plugin would (the shipped default
bundle's cached slice vectors, ``benchmarks.common.slice_vectors``; track vectors from the
shipped ``Pooler``; ``deejai_model.lists.playlists.journey`` from the corpus' first track to
the track least like it), renders it with :func:`deejai_model.mix.render_mix` and the plugin's
default sound (-14 LUFS, -1 dBTP, 6-s crossfades), decodes the mix again with PyAV and measures
each track's segment, cut at the CUE times (from its start to the next track's start), with
an implementation other than the renderer's: integrated loudness with pyloudnorm, true peak
by 4x oversampling with scipy's polyphase resampler.

Prints a Markdown table, one row per track: its own loudness and true peak, the gain it was
given, the segment's loudness and true peak in the mix and its distance to the target; then
the whole mix's integrated loudness and the largest distance. Run it with ``nice``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    DEFAULT_CACHE,
    DEFAULT_LABELS,
    bundle_dir,
    loadavg,
    log,
    markdown_table,
    read_labels,
    slice_vectors,
)


def journey_paths(labels: str, count: int, cache: str) -> list[str]:
    """``count`` corpus tracks in journey order, from the first track to the one least like it."""
    from deejai_model.ears.manifest import read_manifest
    from deejai_model.lists.playlists import BruteForceSearch, journey
    from deejai_model.vectors.pooling import Pooler

    tracks = read_labels(labels)
    slices, _, failed = slice_vectors(tracks, "default", k=8, cache_dir=cache)
    for line in failed:
        log(f"left out {line}")
    kept = [(t.path, s) for t, s in zip(tracks, slices, strict=True) if s is not None]
    paths = [p for p, _ in kept]
    parts = read_manifest(bundle_dir("default")).parts
    _, vectors = Pooler(parts=parts).fit_transform([s for _, s in kept])
    ids = np.arange(len(paths))
    start = 0
    end = int(np.argmin(vectors @ vectors[start]))
    order = journey(
        BruteForceSearch(ids, vectors),
        dict(zip(ids.tolist(), vectors, strict=True)),
        waypoints=[start, end],
        n_per_leg=count - 2,
    )
    return [paths[int(i)] for i in order]


def decoded(path: str, rate: int) -> np.ndarray:
    """The whole file as ``(n, 2)`` float32 at ``rate`` (PyAV, as a player decodes it)."""
    from deejai_model.mix.source import stereo_blocks

    return np.concatenate(list(stereo_blocks(path, rate)), axis=1).T


def true_peak_dbtp(audio: np.ndarray) -> float:
    """4x-oversampled peak of ``(n, channels)`` audio, dBTP (scipy's polyphase resampler)."""
    from scipy.signal import resample_poly

    peak = 0.0
    for a in range(0, len(audio), 1 << 20):  # in parts: bounded memory
        part = audio[max(0, a - 64) : a + (1 << 20) + 64]
        peak = max(peak, float(np.abs(resample_poly(part, 4, 1, axis=0)).max()))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS)
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--tracks", type=int, default=19)
    parser.add_argument("--format", default="mp3")
    parser.add_argument("--crossfade", type=float, default=6.0)
    parser.add_argument("--excerpt", type=float, help="seconds from the middle of each track")
    parser.add_argument("--keep", help="folder to keep the mix in (default: a temporary one)")
    args = parser.parse_args()

    import pyloudnorm

    from deejai_model.files import display_name
    from deejai_model.mix import MixOptions, MixTrack, render_mix

    paths = journey_paths(args.labels, args.tracks, args.cache)
    tracks = [MixTrack(p, title=display_name(p)) for p in paths]
    if args.excerpt:
        tracks = [
            MixTrack(t.path, title=t.title, offset=max(0.0, s.seconds / 2 - args.excerpt / 2),
                     duration=args.excerpt)
            for t, s in zip(tracks, [_seconds(args.labels, p) for p in paths], strict=True)
        ]  # fmt: skip
    options = MixOptions(crossfade=args.crossfade)
    with tempfile.TemporaryDirectory(prefix="mix-loudness-") as work:
        out = os.path.join(args.keep or work, f"journey.{args.format}")
        log(f"rendering {len(tracks)} tracks to {out}; load {loadavg()}")
        wall, cpu = time.perf_counter(), time.process_time()
        result = render_mix(tracks, out, options=options, on_error=lambda e: log(f"left out {e}"))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        audio = decoded(out, options.sample_rate)
    rate = options.sample_rate
    meter = pyloudnorm.Meter(rate)
    starts = [int(round(e.start * rate)) for e in result.entries] + [len(audio)]
    rows, misses = [], []
    for number, (entry, a, b) in enumerate(
        zip(result.entries, starts, starts[1:], strict=False), start=1
    ):
        segment = audio[a:b]
        lufs = meter.integrated_loudness(segment)
        misses.append(lufs - options.target_lufs)
        rows.append(
            [
                number,
                entry.track.title[:32],
                f"{entry.loudness:.1f}",
                f"{getattr(entry, 'true_peak', float('nan')):.1f}",
                f"{entry.gain_db:+.1f}",
                f"{lufs:.1f}",
                f"{true_peak_dbtp(segment):.2f}",
                f"{lufs - options.target_lufs:+.2f}",
            ]
        )
    print(
        markdown_table(
            [
                "#",
                "track",
                "own LUFS",
                "own dBTP",
                "gain dB",
                "segment LUFS",
                "segment dBTP",
                "vs target LU",
            ],
            rows,
        )  # fmt: skip
    )
    whole = meter.integrated_loudness(audio)
    print(
        f"\n{len(result.entries)} tracks, {result.duration / 60:.1f} min, {args.format}; whole "
        f"mix {whole:.1f} LUFS, true peak {true_peak_dbtp(audio):.2f} dBTP; segments "
        f"{min(misses):+.2f} to {max(misses):+.2f} LU from {options.target_lufs:g} (largest "
        f"|miss| {max(abs(m) for m in misses):.2f} LU); render {wall:.0f} s wall, {cpu:.0f} s "
        f"CPU; load after: {loadavg()}"
    )


def _seconds(labels: str, path: str):
    """The labels' row of ``path``."""
    return next(t for t in read_labels(labels) if t.path == path)


if __name__ == "__main__":
    main()
