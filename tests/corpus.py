"""Where the dev corpus is, for tests marked ``corpus``.

The corpus (~170 freely licensed game-music recordings, 6 games, ``labels.tsv``) is found where
the benchmarks find it (:data:`benchmarks.common.CORPUS_DIR`): at ``$DEEJAI_CORPUS``, else at
``~/.cache/deejai-corpus`` (the default of ``scripts/fetch_corpus.sh``). In CI (``CI=true``)
it is built at that default with that script when it is missing, so the corpus tests run in CI
too; elsewhere they are skipped when it is absent.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

from benchmarks.common import CORPUS_DIR, read_labels

ROOT = Path(__file__).resolve().parent.parent
FETCH = ROOT / "scripts" / "fetch_corpus.sh"
#: Why a corpus test is skipped, and how to build the corpus (one line).
SKIP_REASON = (
    "no dev corpus: build it with `scripts/fetch_corpus.sh` (Debian/Ubuntu, as root; 680 MB "
    "of game-music packages into ~/.cache/deejai-corpus), or set DEEJAI_CORPUS"
)


@cache
def corpus_dir() -> Path | None:
    """The corpus folder (holding ``labels.tsv``), building it in CI; None when unavailable."""
    if (CORPUS_DIR / "labels.tsv").exists():
        return CORPUS_DIR
    if not os.environ.get("DEEJAI_CORPUS") and os.environ.get("CI") == "true" and FETCH.exists():
        done = subprocess.run(["bash", str(FETCH), str(CORPUS_DIR)], capture_output=True, text=True)
        if done.returncode == 0 and (CORPUS_DIR / "labels.tsv").exists():
            return CORPUS_DIR
        print(f"building the corpus failed: {done.stderr[-2000:]}")
    return None


def corpus_labels() -> list[tuple[Path, str]]:
    """``(path, group)`` of every labelled corpus track; empty when there is no corpus."""
    folder = corpus_dir()
    if folder is None:
        return []
    return [(Path(t.path), t.group) for t in read_labels(folder / "labels.tsv")]
