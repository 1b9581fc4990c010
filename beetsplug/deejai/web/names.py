"""How the DJ page names tracks: untagged ones by their file name (and found by it), and
suggestions that would read alike told apart by album, then by file name."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beets.library import Item, Library


def file_name(item: Item) -> str:
    """The item's file name (no folder), as text even when the bytes are not UTF-8."""
    return os.path.basename(os.fsdecode(item.path))


def shown_title(item: Item) -> str:
    """The title the page shows: the tag, else the file name."""
    return item.title or file_name(item)


def untagged_by_file_name(lib: Library, words: Iterable[str]) -> Iterator[Item]:
    """Items without a title whose file name holds every word (case-insensitive): what the
    page shows of them is their file name, so a search for that name finds them."""
    wanted = [w.casefold() for w in words if w.strip()]
    if not wanted or any(":" in w for w in wanted):  # a field query names its field
        return
    for item in lib.items("title::^$"):
        name = file_name(item).casefold()
        if all(w in name for w in wanted):
            yield item


def disambiguate(tracks: list[dict]) -> list[dict]:
    """Add a ``"detail"`` to each track dict whose ``artist - title`` line another one shares:
    its album when that tells the group apart, else its file name (``"file"``).

    The dicts need ``"artist"``, ``"title"``, ``"album"`` and ``"file"``; they are changed in
    place and returned.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for track in tracks:
        groups.setdefault((track["artist"] or "", track["title"] or ""), []).append(track)
    for group in groups.values():
        if len(group) < 2:
            continue
        albums = [t["album"] or "" for t in group]
        for track, album in zip(group, albums, strict=True):
            unique = album and albums.count(album) == 1
            track["detail"] = album if unique else track["file"]
    return tracks
