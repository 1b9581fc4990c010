"""Do two checkouts give the same vectors? Embed a corpus through each one's real CLI, compare.

For refactors that must not change what users get. Each checkout (a folder with
``deejai_model/`` and ``beetsplug/``, e.g. ``git worktree add /tmp/old REV``) runs, with its
own code first on ``PYTHONPATH``, in a fresh beets library of the corpus's files (symlinks):
``beet import -A``, ``beet deejai embed``, ``beet deejai index``. Then the stored slice vectors
(table ``deejai_vectors``), the model ids and the index's track vectors are compared, item by
item::

    python -m benchmarks.same_vectors --before /tmp/old --after . [--labels LABELS] [--limit N]

It prints one line per kind of array (how many are bit-identical, the largest difference) and
exits 1 when anything differs. The corpus is ``$DEEJAI_CORPUS`` (``labels.tsv``).
"""

from __future__ import annotations

import argparse
import glob
import os
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np

from benchmarks.common import DEFAULT_LABELS, read_labels


def embed_with(checkout: str, paths: list[str], work: str) -> dict[str, np.ndarray]:
    """``{"slices/<name>", "track/<name>", "model/<name>": array}`` of ``paths`` embedded by
    the plugin of ``checkout`` in a new library under ``work``."""
    music = os.path.join(work, "music")
    os.makedirs(music)
    for i, path in enumerate(paths):
        os.symlink(os.path.abspath(path), os.path.join(music, f"{i:04d}-{os.path.basename(path)}"))
    config = os.path.join(work, "config.yaml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(
            f"directory: {music}\nlibrary: {work}/library.db\nplugins: deejai\n"
            "import:\n  copy: no\n  write: no\n  autotag: no\n  quiet: yes\n"
        )
    env = dict(os.environ, BEETSDIR=work, PYTHONPATH=os.path.abspath(checkout))
    beet = [sys.executable, "-c", "import sys; from beets.ui import main; sys.exit(main())"]
    for args in (["import", "-A", "-q", music], ["deejai", "embed"], ["deejai", "index"]):
        subprocess.run([*beet, "-c", config, *args], check=True, env=env, cwd=work)
    db = sqlite3.connect(os.path.join(work, "library.db"))
    rows = db.execute(
        "SELECT v.item_id, i.path, v.model_id, v.dim, v.n_slices, v.slices "
        "FROM deejai_vectors v JOIN items i ON i.id = v.item_id"
    ).fetchall()
    arrays: dict[str, np.ndarray] = {}
    names = {}
    for item_id, path, model_id, dim, n, blob in rows:
        name = os.path.basename(os.fsdecode(path))
        names[item_id] = name
        arrays["slices/" + name] = np.frombuffer(blob, dtype=np.float32).reshape(n, dim)
        arrays["model/" + name] = np.array(model_id)
    (ids,) = [np.load(p) for p in glob.glob(os.path.join(work, "*.ids.npy"))]
    (vectors,) = [np.load(p) for p in glob.glob(os.path.join(work, "*.vectors.npy"))]
    for item_id, vector in zip(ids, vectors, strict=True):
        arrays["track/" + names[int(item_id)]] = vector
    return arrays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="checkout folder of the old code")
    parser.add_argument("--after", required=True, help="checkout folder of the new code")
    parser.add_argument("--labels", default=str(DEFAULT_LABELS), help="labels.tsv of a corpus")
    parser.add_argument(
        "--limit", type=int, default=0, help="only N tracks (spread over the groups)"
    )
    args = parser.parse_args(argv)
    paths = [track.path for track in read_labels(args.labels, limit=args.limit or None)]
    with tempfile.TemporaryDirectory() as before, tempfile.TemporaryDirectory() as after:
        old = embed_with(args.before, paths, before)
        new = embed_with(args.after, paths, after)
    same = True
    if set(old) != set(new):
        print(f"different items: {sorted(set(old) ^ set(new))[:5]}")
        same = False
    for kind in ("model", "slices", "track"):
        keys = sorted(k for k in old if k.startswith(kind + "/") and k in new)
        equal = sum(np.array_equal(old[k], new[k]) for k in keys)
        worst = max(
            (float(np.abs(old[k] - new[k]).max()) for k in keys if kind != "model"), default=0.0
        )
        print(f"{kind:>6}: {equal}/{len(keys)} bit-identical, largest difference {worst:.3g}")
        same &= equal == len(keys)
    print("same vectors" if same else "DIFFERENT vectors")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
