"""End to end: `beet import` of the dev corpus with auto-embed, then `beet deejai similar`.

Builds a fresh beets library in a temporary folder (files imported in place, as-is), times the
import with the plugin's auto-embed, then asks `similar` for every labelled track through the
plugin's own command and prints P@1 / P@5 of same-game neighbours. Beside it, in the same run,
the same import without the plugin (the floor: what beets itself costs).

    python -m benchmarks.import_corpus [--labels LABELS.tsv] [--limit N]

(default labels: the corpus of ``$DEEJAI_CORPUS``, see :mod:`benchmarks.common`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a file (python benchmarks/x.py): import from the repo root
    sys.path.insert(0, str(ROOT))

from benchmarks.common import DEFAULT_LABELS, beet, read_labels  # noqa: E402


def make_library(home: Path, plugin: bool) -> None:
    """Write ``home/config.yaml``: a new library, files imported in place, the plugin or not."""
    home.mkdir(parents=True)
    (home / "config.yaml").write_text(
        f"directory: {home / 'library'}\nlibrary: {home / 'library.db'}\n"
        # each game is a folder, so an album: learning from albums would learn the labels
        # themselves (docs/learned-ears.md measures that lever with albums of part of a game)
        + (
            "plugins: deejai\ndeejai:\n  auto: yes\n  learn_from_library: no\n"
            if plugin
            else "plugins: []\n"
        )
        + "import:\n  copy: no\n  write: no\n  autotag: no\n  quiet: yes\n"
        # untagged folders look like duplicate albums (same empty album name): keep them all
        + "  duplicate_action: keep\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    tracks = read_labels(args.labels, args.limit)
    rows = [(t.path, t.group) for t in tracks]
    seconds = sum(t.seconds for t in tracks)
    with tempfile.TemporaryDirectory(prefix="deejai-import-") as tmp:
        music = Path(tmp) / "music"
        for i, (path, group) in enumerate(rows):
            link = music / group / f"{i:04d}{Path(path).suffix}"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
        group_of = {str(music / g / f"{i:04d}{Path(p).suffix}"): g for i, (p, g) in enumerate(rows)}
        timings = {}
        for name, plugin in (("beet import (no plugin)", False), ("beet import + deejai", True)):
            home = Path(tmp) / name.replace(" ", "_").replace("(", "").replace(")", "")
            make_library(home, plugin)
            timings[name], _ = beet(home, "import", "-A", str(music))
        _, listing = beet(home, "ls", "-f", "$id\t$path")
        ids = {line.split("\t")[1]: int(line.split("\t")[0]) for line in listing.splitlines()}
        groups = {ids[p]: g for p, g in group_of.items() if p in ids}
        hits1, hits5, similar_wall = [], [], []
        for item_id, group in groups.items():
            wall, out = beet(  # the ranking itself: no artist / album spacing (docs/lists.md)
                home,
                "deejai",
                "similar",
                f"id:{item_id}",
                "-n",
                "5",
                "-f",
                "$id",
                "--artist-gap",
                "0",
                "--album-max",
                "0",
            )
            similar_wall.append(wall)
            found = [groups.get(int(x)) for x in out.split()]
            hits1.append(found[0] == group)
            hits5.append(np.mean([f == group for f in found]))
        ls_wall = min(beet(home, "ls", f"id:{next(iter(groups))}")[0] for _ in range(3))
    n = len(rows)
    floor = timings["beet import (no plugin)"]
    print(
        f"{n} tracks, {seconds / 60:.1f} min of audio, {os.cpu_count()} cores, "
        f"load average before/after: {os.getloadavg()[0]:.2f}\n"
    )
    print("| step | wall s | s/track | ratio to plain import |")
    print("|---|---|---|---|")
    for name, wall in timings.items():
        print(f"| {name} | {wall:.1f} | {wall / n:.3f} | {wall / floor:.2f} |")
    print(f"\n| query | median wall s | ratio to `beet ls id:N` ({ls_wall:.3f} s) |")
    print("|---|---|---|")
    print(
        f"| beet deejai similar -n 5 | {np.median(similar_wall):.3f} | "
        f"{np.median(similar_wall) / ls_wall:.2f} |"
    )
    print(
        f"\nThrough the plugin's own commands: P@1 {np.mean(hits1):.3f}, "
        f"P@5 {np.mean(hits5):.3f} over {len(groups)} queries (same-game neighbours)."
    )


if __name__ == "__main__":
    main()
