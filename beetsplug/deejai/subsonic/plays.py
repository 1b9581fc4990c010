"""Plays and skips recorded in the library as beets' ``mpdstats`` plugin records them:
``play_count`` and ``skip_count`` (integers) and ``last_played`` (seconds since the epoch)
are flexible attributes of the item, so ``beet ls play_count:5..`` and smart playlists see
them whichever player was used.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beets.library import Library

#: One lock for every read-modify-write of a counter, so concurrent scrobbles are all counted.
_WRITE = threading.Lock()


def _count(value) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def record_play(lib: Library, item_id: int, when: float | None = None) -> int:
    """Count one play of item ``item_id`` (``when``: seconds since the epoch, default now);
    returns its new ``play_count`` (0 when the item is gone)."""
    with _WRITE:
        item = lib.get_item(item_id)
        if item is None:
            return 0
        item["play_count"] = _count(item.get("play_count")) + 1
        item["last_played"] = int(when if when is not None else time.time())
        item.store()
        return item["play_count"]


def record_skip(lib: Library, item_id: int) -> int:
    """Count one skip of item ``item_id``; returns its new ``skip_count``."""
    with _WRITE:
        item = lib.get_item(item_id)
        if item is None:
            return 0
        item["skip_count"] = _count(item.get("skip_count")) + 1
        item.store()
        return item["skip_count"]
