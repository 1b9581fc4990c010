"""Does beat alignment apply, and does it line the beats up? Measured on real joins.

usage: python -m benchmarks.mix_beats [--labels LABELS.tsv,...] [--pairs 40]
                                      [--crossfade 6]

Makes ``--pairs`` joins per corpus: consecutive tracks of one group (a set of one game) and
tracks of two different groups, spread over the corpus. For each join it listens, as the
renderer does (:mod:`deejai_model.mix.beats`), to the last 10 s of the outgoing track and the
first 10 s of the incoming one, and reports:

- how often both sides have a clear beat, and how often the tempos are compatible (the join
  is then aligned);
- for aligned joins, the mean distance of the incoming beats inside the crossfade to the
  outgoing beat grid, as a fraction of a beat, with a plain crossfade and aligned (0 = on the
  beat, 0.25 = as far off as chance).

It measures the mechanism (does the alignment put beats on beats), not whether listeners
prefer it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DEFAULT_LABELS, markdown_table, read_labels  # noqa: E402
from deejai_model.errors import AudioError  # noqa: E402
from deejai_model.mix.beats import (  # noqa: E402
    LISTEN_SECONDS,
    beat_offset,
    beat_shift,
    compatible,
    steady_beats,
)
from deejai_model.mix.source import stereo_blocks  # noqa: E402

RATE = 22050


def mono(path: str, offset: float, seconds: float) -> np.ndarray:
    blocks = list(stereo_blocks(path, RATE, offset=offset, duration=seconds))
    return np.concatenate(blocks, axis=1).mean(axis=0)


def joins(labels: str, pairs: int) -> list[tuple[str, str, str]]:
    """``(kind, outgoing path, incoming path)``: half within a group, half across groups."""
    tracks = read_labels(labels)
    tracks = [t for t in tracks if t.seconds >= 2 * LISTEN_SECONDS]
    by_group: dict[str, list] = {}
    for t in tracks:
        by_group.setdefault(t.group, []).append(t)
    groups = sorted(by_group)
    rng = np.random.default_rng(0)
    out = []
    for i in range(pairs // 2):
        group = by_group[groups[i % len(groups)]]
        a = int(rng.integers(len(group) - 1))
        out.append(("same game", group[a].path, group[a + 1].path))
        g1, g2 = rng.choice(len(groups), 2, replace=False)
        a, b = by_group[groups[g1]], by_group[groups[g2]]
        out.append(
            ("two games", a[int(rng.integers(len(a)))].path, b[int(rng.integers(len(b)))].path)
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS, help="comma-separated labels.tsv files")
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--crossfade", type=float, default=6.0)
    args = parser.parse_args()
    rows = []
    for labels in args.labels.split(","):
        stats: dict[str, dict[str, list]] = {}
        for kind, a_path, b_path in joins(labels, args.pairs):
            s = stats.setdefault(
                kind, {"n": [], "steady": [], "aligned": [], "plain": [], "after": []}
            )
            try:
                from deejai_model.ears.audio import probe_duration

                tail = mono(a_path, probe_duration(a_path) - LISTEN_SECONDS, LISTEN_SECONDS)
                head = mono(b_path, 0.0, LISTEN_SECONDS)
            except AudioError as error:
                print(f"skipped {error}", file=sys.stderr)
                continue
            s["n"].append(1)
            out, inc = steady_beats(tail, RATE), steady_beats(head, RATE)
            if out is None or inc is None:
                continue
            s["steady"].append(1)
            if not compatible(out, inc):
                continue
            join = {"tail_seconds": tail.size / RATE, "fade": args.crossfade}
            shift = beat_shift(out, inc, **join)
            plain = beat_offset(out, inc, **join, skip=0.0)
            after = beat_offset(out, inc, **join, skip=shift)
            if plain is None or after is None:
                continue
            s["aligned"].append(1)
            s["plain"].append(plain / out.period)
            s["after"].append(after / out.period)
        for kind, s in stats.items():
            n = len(s["n"])
            rows.append(
                [
                    Path(labels).parent.name,
                    kind,
                    n,
                    f"{len(s['steady']) / max(n, 1):.0%}",
                    f"{len(s['aligned']) / max(n, 1):.0%}",
                    f"{np.mean(s['plain']):.3f}" if s["plain"] else "",
                    f"{np.mean(s['after']):.3f}" if s["after"] else "",
                ]
            )
    print(
        markdown_table(
            [
                "corpus",
                "join",
                "joins",
                "both clear beat",
                "aligned (compatible tempo)",
                "beat offset, plain (beats)",
                "beat offset, aligned (beats)",
            ],
            rows,
        )
    )
    print(f"\ncrossfade {args.crossfade:g} s, listening to {LISTEN_SECONDS:g} s each side")


if __name__ == "__main__":
    main()
