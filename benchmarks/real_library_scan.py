"""How often a corpus meets the real-library faults of issue 11 (items 1 and 6).

usage: python benchmarks/real_library_scan.py LABELS.tsv [LABELS.tsv ...] [--max-slices 8]

For each track of each ``labels.tsv`` (``path<TAB>group<TAB>seconds``, header row):

- whether PyAV's default (strict UTF-8) reading of its tags fails, which stopped decoding
  before ``deejai_model.ears.audio`` read tags with ``metadata_errors="replace"``;
- how many of the excerpts planned over its declared duration (the plan used before) are
  silent or past the end of the audio, i.e. were pooled as music before;
- whether the embedder now plans its excerpts again over the part where music was heard.

Prints a markdown table. No network runs (decoding only).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from deejai_model.ears import audio  # noqa: E402
from deejai_model.ears.bundle import default_bundle_path, load_bundle  # noqa: E402
from deejai_model.ears.embed import Embedder  # noqa: E402
from deejai_model.errors import AudioError  # noqa: E402


def strict_tags_fail(path: str) -> bool:
    """True when PyAV cannot open ``path`` with its default strict UTF-8 tag decoding."""
    import av

    try:
        av.open(path).close()
    except UnicodeDecodeError:
        return True
    except av.error.FFmpegError:
        return False
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="+", type=Path)
    parser.add_argument("--max-slices", type=int, default=8)
    args = parser.parse_args()
    embedder = Embedder(load_bundle(default_bundle_path()), max_slices=args.max_slices, workers=1)
    fe = embedder.frontend
    print(
        "| corpus | tracks | tags not UTF-8 | tracks with silent or past-end excerpts (old plan) "
        "| such excerpts | tracks re-planned now | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for labels in args.labels:
        with open(labels, newline="") as handle:
            rows = [r for r in csv.reader(handle, delimiter="\t") if r and r[0] != "path"]
        bad_tags = hit = wasted = replanned = errors = 0
        for row in rows:
            path = row[0]
            bad_tags += strict_tags_fail(path)
            try:
                duration = audio.probe_duration(path)
                old = fe.excerpt_starts(duration, args.max_slices)
                pieces = audio.decode_excerpts(path, fe.sample_rate, old, fe.slice_seconds, False)
                heard, _ = fe.heard_excerpts(pieces)
                now = embedder.prepare(path).starts
            except AudioError:
                errors += 1
                continue
            hit += len(heard) < len(old)
            wasted += len(old) - len(heard)
            replanned += len(now) != len(old) or not np.allclose(now, old[: len(now)])
        total = args.max_slices * len(rows)
        print(
            f"| {labels} | {len(rows)} | {bad_tags} | {hit} | {wasted} of {total} "
            f"| {replanned} | {errors} |"
        )


if __name__ == "__main__":
    main()
