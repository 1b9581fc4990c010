"""What the library knows of listening: tags for spacing, plays and skips as mpdstats keeps them.

beets' ``mpdstats`` plugin keeps three flexible fields per item: ``play_count`` and
``skip_count`` (integers) and ``last_played`` (a Unix time, set when a track starts).  The
radio and the DJ page record what they play the same way (:func:`record_play`), so that these
signals grow with use whether or not mpdstats runs.  Everything is read with one SQL query
each (no ``Item`` objects), so a large library pays milliseconds.

Nothing here imports numpy.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from deejai_model.lists.spacing import Tags

if TYPE_CHECKING:
    from beets.library import Library

__all__ = ["PlayHistory", "library_tags", "play_history", "record_play"]

#: The flexible fields of beets' mpdstats plugin that steer the lists.
HISTORY_FIELDS = ("play_count", "skip_count", "last_played")


def library_tags(lib: Library) -> dict[int, Tags]:
    """Every item's artist, album and title as spacing compares them.

    The album is the beets album id (items of one album share it), else
    ``albumartist / album`` for a tagged singleton, else ``""`` (no album cap).
    """
    out = {}
    with lib.transaction() as tx:
        rows = tx.query("SELECT id, artist, albumartist, album, album_id, title FROM items")
    for item_id, artist, albumartist, album, album_id, title in rows:
        if album_id:
            album_key = f"#{album_id}"
        elif album:
            album_key = f"{albumartist or artist or ''}/{album}"
        else:
            album_key = ""
        out[int(item_id)] = Tags(str(artist or ""), album_key, str(title or ""))
    return out


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass
class PlayHistory:
    """The library's mpdstats fields, by item id (only items that have them)."""

    plays: dict[int, int] = field(default_factory=dict)
    skips: dict[int, int] = field(default_factory=dict)
    last_played: dict[int, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.plays or self.skips or self.last_played)

    def played_since(self, when: float) -> set[int]:
        """Items whose ``last_played`` is at or after ``when`` (a Unix time)."""
        return {item for item, at in self.last_played.items() if at >= when}

    def recent(self, days: float, now: float | None = None) -> set[int]:
        """Items played within the last ``days`` days."""
        now = time.time() if now is None else now
        return self.played_since(now - days * 86400.0)


def play_history(lib: Library) -> PlayHistory:
    """Read ``play_count``, ``skip_count`` and ``last_played`` of every item that has them
    (values that are not numbers are ignored)."""
    history = PlayHistory()
    marks = ", ".join("?" for _ in HISTORY_FIELDS)
    with lib.transaction() as tx:
        rows = tx.query(
            f"SELECT entity_id, key, value FROM item_attributes WHERE key IN ({marks})",
            HISTORY_FIELDS,
        )
    into = {"play_count": history.plays, "skip_count": history.skips}
    for item_id, key, value in rows:
        number = _number(value)
        if number is None:
            continue
        if key == "last_played":
            history.last_played[int(item_id)] = number
        else:
            into[key][int(item_id)] = int(number)
    return history


#: One lock for every read-modify-write of a counter, so concurrent plays (the DJ page's, the
#: radio's, many Subsonic clients' scrobbles) are all counted.
_WRITE = threading.Lock()


def record_play(
    lib: Library,
    item_id: int,
    *,
    skipped: bool = False,
    started: bool = False,
    when: float | None = None,
):
    """Record on an item what mpdstats would: ``last_played`` when a track ``started``, then
    ``skip_count + 1`` (``skipped``) or ``play_count + 1`` when it ended.

    Parameters
    ----------
    lib : Library
        The beets library.
    item_id : int
        The item's id.
    skipped, started : bool
        What happened: the track started, ended after a skip, or ended played (neither).
    when : float, optional
        When it was played, in seconds since the epoch (a Subsonic scrobble's ``time``): also
        sets ``last_played`` on an ended play. Default: now, for a start only.

    Returns
    -------
    Item or None
        The item, or None when it is no longer in the library.
    """
    with _WRITE:
        item = lib.get_item(int(item_id))
        if item is None:
            return None
        if started or when is not None:
            item["last_played"] = int(when if when is not None else time.time())
        if not started:
            key = "skip_count" if skipped else "play_count"
            item[key] = int(_number(item.get(key, 0)) or 0) + 1
        item.store()
        return item
