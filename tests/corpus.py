"""Where the dev corpus is, for tests marked ``corpus``.

The corpus (~170 freely licensed game-music recordings, 6 games, ``labels.tsv``) is found at
``$DEEJAI_CORPUS``, else at ``~/.cache/deejai-corpus`` (the default of
``../shared/corpus/fetch.sh``). In CI (``CI=true``) it is built there with that script when it is
missing, so the corpus tests run in CI too; elsewhere they are skipped when it is absent.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FETCH = ROOT.parent / "shared" / "corpus" / "fetch.sh"
DEFAULT = Path.home() / ".cache" / "deejai-corpus"


@cache
def corpus_dir() -> Path | None:
    """The corpus folder (holding ``labels.tsv``), building it in CI; None when unavailable."""
    if os.environ.get("DEEJAI_CORPUS"):
        folder = Path(os.environ["DEEJAI_CORPUS"])
        return folder if (folder / "labels.tsv").exists() else None
    if (DEFAULT / "labels.tsv").exists():
        return DEFAULT
    if os.environ.get("CI") == "true" and FETCH.exists():
        done = subprocess.run(["bash", str(FETCH), str(DEFAULT)], capture_output=True, text=True)
        if done.returncode == 0 and (DEFAULT / "labels.tsv").exists():
            return DEFAULT
        print(f"building the corpus failed: {done.stderr[-2000:]}")
    return None


def corpus_labels() -> list[tuple[Path, str]]:
    """``(path, group)`` of every labelled corpus track; empty when there is no corpus."""
    folder = corpus_dir()
    if folder is None:
        return []
    rows = []
    for line in (folder / "labels.tsv").read_text().splitlines()[1:]:
        if line.strip():
            path, group = line.split("\t")[:2]
            rows.append((Path(path) if Path(path).is_absolute() else folder / path, group))
    return rows
