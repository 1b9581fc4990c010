"""What the library already knows about which tracks belong together: its weak labels.

The index (``index.py``) hands these to the pooler's library supervision
(:mod:`deejai_model.vectors.supervise`, setting ``learn_from_library``); each group is a class:

- **albums**: the items of one beets album. Compilations (the album's ``comp`` flag, or its
  album artist is beets' ``va_name``, "Various Artists" by default) are left out: their tracks
  belong together far less than an artist's album does (measured in docs/learned-ears.md).
  Singletons (items in no album) belong to no class;
- **playlists**: the M3U/M3U8 files in the ``playlist`` and ``smartplaylist`` plugins'
  ``playlist_dir`` (lists the user saved from deejai there included: keeping one is a
  choice); entries are matched to items by path;
- **listening sessions**: items' ``last_played`` times (``mpdstats`` and other players that
  keep them) cut into sessions at gaps of 30 minutes (``deejai_model.learn.sentences.sessions``,
  as ``train`` cuts play histories), items skipped more often than played
  (``skip_count``) left out; the plays counted are the items' ``play_count``.

Groups with fewer than :data:`deejai_model.vectors.supervise.MIN_MEMBERS` embedded items
(one-track albums, tiny playlists) teach nothing about what varies within a group and are
neither used nor counted. Reading is read-only SQL through beets' transactions (playlists: one
pass over the items' paths when playlist files exist); an unreadable playlist is one log line
naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beets import config as beets_config

from .listening import play_history

if TYPE_CHECKING:
    from beets.library import Library

__all__ = [
    "MIN_LABELLED_SHARE",
    "LibraryLabels",
    "labels_fingerprint",
    "learned_line",
    "library_labels",
    "playlist_dirs",
]


#: Learn only when at least this share of the embedded tracks is in some group.
#: docs/learned-ears.md: with albums known for 70% of each game's tracks the supervised
#: projection is ahead beyond the interval on dev and val; at 50% on val only, at 30% on
#: neither, and at 30% with compilations not flagged as such it costs P@1 on dev beyond the
#: interval. Real beets libraries are mostly albums, so most are well above it.
MIN_LABELLED_SHARE = 0.5


@dataclass
class LibraryLabels:
    """The library's groups of items, by source.

    Attributes
    ----------
    albums, playlists, sessions : list of list of int
        Item ids of each group with at least ``min_members`` embedded items.
    compilations : int
        Compilation albums left out.
    plays : int
        Sum of the items' ``play_count``.
    errors : list of str
        ``"<file>: <reason>"`` of each playlist that could not be read.
    """

    albums: list[list[int]] = field(default_factory=list)
    playlists: list[list[int]] = field(default_factory=list)
    sessions: list[list[int]] = field(default_factory=list)
    compilations: int = 0
    plays: int = 0
    errors: list[str] = field(default_factory=list)
    tracks: int = 0

    @property
    def labelled_share(self) -> float:
        """Share of the library's embedded items in at least one group (0 for none)."""
        members = {item for group in self.classes for item in group}
        return len(members) / self.tracks if self.tracks else 0.0

    @property
    def enough(self) -> bool:
        """Whether enough of the library is grouped to learn from (:data:`MIN_LABELLED_SHARE`)."""
        return self.labelled_share >= MIN_LABELLED_SHARE

    @property
    def classes(self) -> list[list[int]]:
        """Every group, albums then playlists then sessions."""
        return self.albums + self.playlists + self.sessions

    def summary(self) -> dict[str, int]:
        """Counts, JSON-able (kept in the index metadata)."""
        return {
            "albums": len(self.albums),
            "compilations_left_out": self.compilations,
            "playlists": len(self.playlists),
            "sessions": len(self.sessions),
            "plays": self.plays,
            "labelled_share": round(self.labelled_share, 3),
        }


def learned_line(summary: dict[str, int] | None, n_classes: int) -> str:
    """What an index learned from, for ``beet deejai index``.

    Parameters
    ----------
    summary : dict or None
        :meth:`LibraryLabels.summary` as the index metadata keeps it (None: the setting is
        off).
    n_classes : int
        Groups the pooler learned from (0: too few).

    Returns
    -------
    str
        E.g. ``"learned from 12 albums (1 compilation left out), 3 playlists, 2 listening
        sessions (140 plays)"``.
    """
    if summary is None:
        return "learning from the library is off (learn_from_library: no)"
    comps = summary.get("compilations_left_out", 0)
    found = (
        f"{summary['albums']} albums"
        + (f" ({comps} compilations left out)" if comps else "")
        + f", {summary['playlists']} playlists, {summary['sessions']} listening sessions "
        f"({summary['plays']} plays)"
    )
    share = summary.get("labelled_share")
    if share is not None and share < MIN_LABELLED_SHARE:
        return (
            f"nothing learned: only {share:.0%} of the tracks are in an album, playlist or "
            f"listening session (it needs {MIN_LABELLED_SHARE:.0%}): {found}"
        )
    if not n_classes:  # fewer than 2 groups of 3+ items, or a library under 50 items
        return f"nothing learned (it needs 50+ items and 2+ groups of 3+ of them): {found}"
    return f"learned from {found}"


def playlist_dirs() -> list[str]:
    """The playlist and smartplaylist plugins' ``playlist_dir``, where set and existing (not
    their default ``.``, which would search the current folder)."""
    import confuse

    found = []
    for plugin in ("playlist", "smartplaylist"):
        try:
            if beets_config[plugin]["playlist_dir"].get() in (None, "", "."):
                continue
            folder = beets_config[plugin]["playlist_dir"].as_filename()
        except confuse.ConfigError:  # not configured
            continue
        if os.path.isdir(folder) and folder not in found:
            found.append(folder)
    return found


def _kept(groups: Sequence[Sequence[int]], embedded: set[int], min_members: int) -> list:
    out = []
    for group in groups:
        members = [i for i in dict.fromkeys(group) if i in embedded]
        if len(members) >= min_members:
            out.append(members)
    return out


def _is_compilation(comp, albumartist: str | None, va_name: str) -> bool:
    """An album flagged ``comp``, or by beets' ``va_name`` (casefolded)."""
    return bool(comp) or (albumartist or "").strip().casefold() == va_name


#: Item-to-album checksum (SQLite integers: each term < 2**31, so the sum cannot overflow).
_MEMBERSHIP_SUM = (
    "SELECT COUNT(*), SUM(((id * 2654435761) % 4294967311 * 40503 + album_id * 2246822519)"
    " % 2147483647) FROM items WHERE album_id IS NOT NULL"
)


def _albums_digest(lib: Library, va_name: str) -> list:
    """What :func:`_albums` would find, cheaply: a checksum of which item is on which album
    (one pass over the items, no join) and the compilations' album ids."""
    with lib.transaction() as tx:
        members = tx.query(_MEMBERSHIP_SUM)
        albums = tx.query("SELECT id, comp, albumartist FROM albums ORDER BY id")
    compilations = [
        int(album_id)
        for album_id, comp, albumartist in albums
        if _is_compilation(comp, albumartist, va_name)
    ]
    return [[int(x or 0) for x in members[0]], len(albums), compilations]


def _albums(lib: Library, va_name: str) -> tuple[list[list[int]], int]:
    """Items of each album that is not a compilation, and how many compilations there are."""
    groups: dict[int, list[int]] = {}
    compilations = set()
    with lib.transaction() as tx:
        rows = tx.query(
            "SELECT i.id, i.album_id, a.comp, a.albumartist FROM items i "
            "JOIN albums a ON a.id = i.album_id ORDER BY i.id"
        )
    for item_id, album_id, comp, albumartist in rows:
        if _is_compilation(comp, albumartist, va_name):
            compilations.add(album_id)
            continue
        groups.setdefault(album_id, []).append(int(item_id))
    return list(groups.values()), len(compilations)


def _plays(lib: Library) -> tuple[list[list[int]], int]:
    """Listening sessions from the items' last plays, and the sum of their play counts.

    An item skipped more often than played (``skip_count``) joins no session: skipping says it
    did not belong there.
    """
    from deejai_model.learn.sentences import SESSION_GAP, Entry, sessions

    history = play_history(lib)  # the one reader of mpdstats' fields
    played, skipped = history.plays, history.skips
    plays = int(sum(max(0, n) for n in played.values()))
    last = sorted(
        (when, item_id)
        for item_id, when in history.last_played.items()
        if when > 0 and skipped.get(item_id, 0) <= played.get(item_id, 0)
    )
    entries = [Entry(played_at=when) for when, _ in last]
    owner = {id(entry): item_id for entry, (_, item_id) in zip(entries, last, strict=True)}
    # the one cut of plays into sessions (train's histories use it too)
    cut = sessions(entries, SESSION_GAP)
    return [[owner[id(entry)] for entry in session.entries] for session in cut], plays


def _playlists(lib: Library, folders: Sequence[str], log) -> tuple[list[list[int]], list[str]]:
    """Items of each playlist file in ``folders`` (matched by path), and the unreadable ones."""
    from deejai_model.learn.sentences import SentenceSourceError, playlist_files, read_m3u

    files = playlist_files(folders)
    if not files:
        return [], []
    by_path = {}
    for item in lib.items():
        by_path[os.path.normcase(os.path.abspath(os.fsdecode(item.path)))] = item.id
    groups, errors = [], []
    for path in files:
        try:
            sentence = read_m3u(path)
        except SentenceSourceError as error:
            errors.append(str(error))
            if log is not None:
                log.warning("deejai: {}", error)
            continue
        group = [
            by_path[key]
            for entry in sentence.entries
            if entry.path and (key := os.path.normcase(os.path.abspath(entry.path))) in by_path
        ]
        groups.append(group)
    return groups, errors


def library_labels(
    lib: Library,
    item_ids: Sequence[int],
    *,
    min_members: int | None = None,
    log=None,
) -> LibraryLabels:
    """The library's albums, playlists and listening sessions, as groups of embedded items.

    Parameters
    ----------
    lib : beets.library.Library
        The library (read only).
    item_ids : sequence of int
        Items with slice vectors (the index's items); groups keep only these.
    min_members : int, optional
        Smallest group kept (default :data:`deejai_model.vectors.supervise.MIN_MEMBERS`).
    log : logging.Logger, optional
        Where unreadable playlists are reported (one line each).

    Returns
    -------
    LibraryLabels
    """
    from deejai_model.vectors.supervise import MIN_MEMBERS

    least = MIN_MEMBERS if min_members is None else min_members
    embedded = {int(i) for i in item_ids}
    va_name = beets_config["va_name"].as_str().strip().casefold()
    albums, compilations = _albums(lib, va_name)
    sessions, plays = _plays(lib)
    playlists, errors = _playlists(lib, playlist_dirs(), log)
    return LibraryLabels(
        albums=_kept(albums, embedded, least),
        playlists=_kept(playlists, embedded, least),
        sessions=_kept(sessions, embedded, least),
        compilations=compilations,
        plays=plays,
        errors=errors,
        tracks=len(embedded),
    )


def labels_fingerprint(lib: Library) -> str:
    """A digest of the groups an index learns from that change without the library's vectors
    changing: its albums (which items, which are compilations) and its playlist files (names
    and bytes). The index keeps it and is rebuilt when it differs (``index.stale_reason``).

    Listening sessions are not in it: every play would rebuild the index. They are read again
    whenever the index is rebuilt (new vectors, settings, albums or playlists, or
    ``beet deejai index``).

    Costs one pass of SQL over the items (a checksum of their albums: two changes could cancel
    out, unlikely), one over the albums and one read of each playlist file: no item objects
    (about 35 ms for 20,000 items in 2,000 albums).

    Parameters
    ----------
    lib : beets.library.Library
        The library (read only).

    Returns
    -------
    str
        Hex SHA-1.
    """
    from deejai_model.learn.sentences import playlist_files

    va_name = beets_config["va_name"].as_str().strip().casefold()
    digest = hashlib.sha1(json.dumps(_albums_digest(lib, va_name)).encode())
    for path in playlist_files(playlist_dirs()):
        digest.update(os.fsencode(path) + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError as error:  # library_labels names it when the index is built
            digest.update(type(error).__name__.encode())
        digest.update(b"\0")
    return digest.hexdigest()
