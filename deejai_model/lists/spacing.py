"""Artist and album spacing, and the same song twice, in any list.

A listener does not want two tracks of one artist back to back, half a list from one album, or
the same song twice (a remaster, a live take: another file, the same title).  A :class:`Spacer`
holds each track's artist, album and title key and answers, for a candidate and the list so
far, whether the candidate may come next:

- *title* (hard): a track whose artist and folded title (:func:`title_key`) are already in the
  list never comes again;
- *artist gap* (soft): no artist twice among any ``artist_gap`` consecutive tracks;
- *album cap* (soft): at most ``album_max`` tracks of one album in the list (or, with an
  ``album_window``, among its last ``album_window`` tracks: an endless radio).

The soft rules give way when nothing near enough keeps them (a library of one artist): the list
functions of :mod:`deejai_model.lists.playlists` then take the best candidate that keeps the
album cap, else the best that keeps the hard rule.  A track without a tag (no artist, no album,
no title) is never held back by that tag.

This module needs only the standard library.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "DEFAULT_ALBUM_MAX",
    "DEFAULT_ARTIST_GAP",
    "Spacer",
    "Tags",
    "space_ranked",
    "title_key",
]

DEFAULT_ARTIST_GAP = 2
"""No artist twice in a row (N: not twice among any N consecutive tracks; 1 or 0: off)."""

DEFAULT_ALBUM_MAX = 3
"""At most three tracks of one album in a list (0: no album cap)."""

#: Words in brackets or after a dash that name a version, not another song.
_VERSION = re.compile(
    r"\b(remaster(ed)?|live|mono|stereo|version|edit|mix|remix|demo|acoustic|instrumental|"
    r"radio|single|album|extended|bonus|take|deluxe|original|\d{4})\b",
    re.IGNORECASE,
)


class Tags(NamedTuple):
    """What spacing knows of a track (empty strings when untagged)."""

    artist: str
    album: str
    title: str


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def title_key(title: str) -> str:
    """The title a song keeps across versions: case, accents and punctuation folded, and a
    bracketed or dashed version note (``(Remastered 2009)``, ``- Live``) dropped.

    >>> title_key("Song Two (Live at Wembley)") == title_key("song two - 2011 Remaster")
    True
    """
    text = title or ""
    for pattern in (r"\(([^)]*)\)", r"\[([^\]]*)\]"):
        text = re.sub(pattern, lambda m: " " if _VERSION.search(m.group(1)) else m.group(0), text)
    head, sep, tail = text.rpartition(" - ")
    if sep and head.strip() and _VERSION.search(tail):
        text = head
    return _fold(text)


@dataclass
class Spacer:
    """The spacing rules of one list over the tags of a library.

    Parameters
    ----------
    tags : mapping
        Track id -> :class:`Tags`; ids not in it (a file outside the library) are never held
        back.
    artist_gap : int
        No artist twice among any ``artist_gap`` consecutive tracks (<= 1: off).
    album_max : int
        At most this many tracks of one album (0: off).
    album_window : int, optional
        Count the album cap over the last ``album_window`` tracks only (None: the whole list).
    same_title : bool
        Whether the same artist's same folded title counts as a repeat (hard rule).
    """

    tags: Mapping[Hashable, Tags]
    artist_gap: int = DEFAULT_ARTIST_GAP
    album_max: int = DEFAULT_ALBUM_MAX
    album_window: int | None = None
    same_title: bool = True

    def __post_init__(self) -> None:
        if self.artist_gap < 0 or self.album_max < 0:
            raise ValueError("artist_gap and album_max must be >= 0")
        self._titles: dict[Hashable, tuple[str, str] | None] = {}

    def _title(self, track: Hashable) -> tuple[str, str] | None:
        if track not in self._titles:
            tags = self.tags.get(track)
            key = title_key(tags.title) if tags is not None else ""
            self._titles[track] = (_fold(tags.artist), key) if key else None
        return self._titles[track]

    def repeats(self, track: Hashable, chosen: Sequence[Hashable]) -> bool:
        """Whether ``track`` is a version of a song already in ``chosen`` (the hard rule)."""
        if not self.same_title:
            return False
        key = self._title(track)
        return key is not None and any(self._title(t) == key for t in chosen)

    def allows(
        self,
        track: Hashable,
        chosen: Sequence[Hashable],
        *,
        relax_artist: bool = False,
        coming: tuple[Hashable, int] | None = None,
    ) -> bool:
        """Whether ``track`` may follow ``chosen`` (the list so far, in order) by every rule
        (with ``relax_artist``, every rule but the artist gap: the first to give way).

        ``coming`` is ``(id, places)``: a track known to come ``places`` after ``track`` (a
        journey's next waypoint); the artist gap holds towards it too."""
        if self.repeats(track, chosen):
            return False
        tags = self.tags.get(track)
        if tags is None:
            return True
        if self.artist_gap > 1 and tags.artist and not relax_artist:
            for other in chosen[-(self.artist_gap - 1) :]:
                near = self.tags.get(other)
                if near is not None and near.artist == tags.artist:
                    return False
            if coming is not None and coming[1] < self.artist_gap:
                after = self.tags.get(coming[0])
                if after is not None and after.artist == tags.artist:
                    return False
        if self.album_max > 0 and tags.album:
            window = chosen if self.album_window is None else chosen[-self.album_window :]
            same = sum(1 for t in window if (o := self.tags.get(t)) and o.album == tags.album)
            if same >= self.album_max:
                return False
        return True

    def violations(self, ids: Sequence[Hashable]) -> Counter:
        """How often a list breaks each soft rule: ``Counter(artist=..., album=...)``."""
        out: Counter = Counter()
        for pos, track in enumerate(ids):
            tags = self.tags.get(track)
            if tags is None:
                continue
            before = ids[:pos]
            if self.artist_gap > 1 and tags.artist:
                near = before[-(self.artist_gap - 1) :]
                out["artist"] += any(
                    (o := self.tags.get(t)) and o.artist == tags.artist for t in near
                )
            if self.album_max > 0 and tags.album:
                window = before if self.album_window is None else before[-self.album_window :]
                same = sum(1 for t in window if (o := self.tags.get(t)) and o.album == tags.album)
                out["album"] += same >= self.album_max
        return out


def space_ranked(
    ranked: Sequence[Hashable],
    spacer: Spacer,
    *,
    n: int,
    before: Sequence[Hashable] = (),
) -> list[Hashable]:
    """The first ``n`` of a ranking (best first) that keep the spacing, in rank order.

    Each place takes the best remaining candidate that :meth:`Spacer.allows`; when none does,
    the best that keeps the album cap, else the best that is no repeat of a song (the soft
    rules give way, the artist gap first).

    Parameters
    ----------
    ranked : sequence of ids
        Candidates, best first.
    spacer : Spacer
        The rules.
    n : int
        How many to keep.
    before : sequence of ids
        Tracks the list follows (they count for the rules but are not returned).

    Returns
    -------
    list of ids
        Up to ``n`` ids.
    """
    left = list(ranked)
    chosen = list(before)
    out: list[Hashable] = []
    while left and len(out) < n:
        pick = next((t for t in left if spacer.allows(t, chosen)), None)
        if pick is None:
            pick = next((t for t in left if spacer.allows(t, chosen, relax_artist=True)), None)
        if pick is None:
            pick = next((t for t in left if not spacer.repeats(t, chosen)), None)
            if pick is None:
                break
        left.remove(pick)
        chosen.append(pick)
        out.append(pick)
    return out
