"""Sentences for Track2Vec: which tracks people put together, read from what a user has.

A *sentence* is an ordered list of :class:`Entry` (one playlist, one listening session, one
album).  This module parses the sources and matches entries to a catalogue of tracks; it knows
nothing of beets (the plugin builds the :class:`Catalogue` from library items).

Sources
-------
- M3U / M3U8 playlists (files, or folders searched recursively): ``#EXTINF`` lines give
  ``artist - title`` for entries whose path is not found.
- Listening histories, cut into sessions at gaps of :data:`SESSION_GAP` seconds or more:
  ListenBrainz export JSON, Last.fm scrobble CSV, Spotify "extended streaming history" JSON.
- The Spotify Million Playlist Dataset JSON slices (``mpd.slice.*.json``).

Matching order: the file path, then the MusicBrainz recording id, then the normalised
``artist + title`` (:func:`normalise_text`).
"""

from __future__ import annotations

import csv
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

#: Listening sessions are cut where two plays are this many seconds apart or more (30 min).
SESSION_GAP = 30 * 60.0
#: Extensions taken for playlists when a folder is given.
PLAYLIST_EXTENSIONS = (".m3u", ".m3u8")


class SentenceSourceError(Exception):
    """A playlist or history file that cannot be read; ``str()`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fsdecode(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class Entry:
    """One track as a playlist or history names it (any field may be missing).

    Attributes
    ----------
    path : str or None
        Absolute file path (M3U entries, resolved against the playlist's folder).
    mbid : str or None
        MusicBrainz recording id.
    artist, title : str or None
        As written in the source.
    played_at : float or None
        Seconds since the epoch (histories only).
    """

    path: str | None = None
    mbid: str | None = None
    artist: str | None = None
    title: str | None = None
    played_at: float | None = None


@dataclass
class Sentence:
    """An ordered list of entries and where it comes from (``source`` names the file)."""

    source: str
    entries: list[Entry] = field(default_factory=list)


# --------------------------------------------------------------------------- normalising

_PARENS = re.compile(r"[\(\[].*?[\)\]]")
_FEAT = re.compile(r"\b(feat|featuring|ft)\b\.?.*$")
_NON_WORD = re.compile(r"[^\w]+")


def normalise_text(text: str | None) -> str:
    """Fold a name for matching: accents off, lower case, bracketed parts and "feat." dropped,
    punctuation and spacing collapsed (``"Beyoncé (Live) feat. X"`` -> ``"beyonce"``)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _FEAT.sub("", _PARENS.sub(" ", text))
    text = text.replace("&", " and ")
    return " ".join(_NON_WORD.sub(" ", text).split())


def track_key(mbid: str | None, artist: str | None, title: str | None) -> str | None:
    """The stable key of a track: ``"mbid:<id>"``, else ``"at:<artist>\\t<title>"`` normalised.

    Returns None when neither is known (no title).
    """
    if mbid:
        return "mbid:" + mbid.strip().lower()
    name = normalise_text(title)
    if not name:
        return None
    return f"at:{normalise_text(artist)}\t{name}"


def artist_title_key(artist: str | None, title: str | None) -> str | None:
    """``"<artist>\\t<title>"`` normalised, or None without a title."""
    name = normalise_text(title)
    return f"{normalise_text(artist)}\t{name}" if name else None


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class CatalogueTrack:
    """A track that sentences are matched to (a library item, a file of a folder).

    Attributes
    ----------
    id : int or str
        The caller's id (beets item id, file path ...).
    path : str
        Absolute file path.
    mbid, artist, title : str or None
        Tags.
    album : str or None
        Album key (for album sentences).
    identity : str or None
        The track's own key, when the caller knows what makes it itself (a library item:
        its MusicBrainz recording id, else its item id), so different files that share
        artist and title stay different words.  None: :func:`track_key` of the tags.
    """

    id: int | str
    path: str
    mbid: str | None = None
    artist: str | None = None
    title: str | None = None
    album: str | None = None
    identity: str | None = None

    @property
    def key(self) -> str:
        """:attr:`identity`, else the stable key of the tags (:func:`track_key`), else the
        path when the track has no title."""
        if self.identity:
            return self.identity
        return track_key(self.mbid, self.artist, self.title) or "path:" + self.path


#: Why an entry matched no track (:meth:`Catalogue.match`).
NOT_FOUND = "not found"
AMBIGUOUS = "ambiguous artist+title"
NO_NAME = "no path, id or title"


@dataclass
class MatchReport:
    """Counts of a matching run (one line through :meth:`line`).

    ``unmatched_by`` counts the unmatched entries by reason (:data:`NOT_FOUND`,
    :data:`AMBIGUOUS`, :data:`NO_NAME`); ``unmatched_entries`` names each one
    (``"<source>: <entry> (<reason>)"``).
    """

    sentences: int = 0
    matched: int = 0
    unmatched: int = 0
    unreadable: int = 0
    by: dict[str, int] = field(default_factory=lambda: {"path": 0, "mbid": 0, "artist+title": 0})
    errors: list[str] = field(default_factory=list)
    unmatched_by: dict[str, int] = field(default_factory=dict)
    unmatched_entries: list[str] = field(default_factory=list)

    def add_unmatched(self, source: str, entry: Entry, reason: str) -> None:
        """Count one entry that matched nothing, and name it."""
        self.unmatched += 1
        self.unmatched_by[reason] = self.unmatched_by.get(reason, 0) + 1
        self.unmatched_entries.append(f"{source}: {describe(entry)} ({reason})")

    def line(self) -> str:
        """E.g. ``"12 sentences: 340 entries matched (path 300, mbid 0, artist+title 40),
        17 unmatched (not found 15, ambiguous artist+title 2), 1 unreadable source(s)"``."""
        by = ", ".join(f"{k} {v}" for k, v in self.by.items())
        why = ", ".join(f"{k} {v}" for k, v in sorted(self.unmatched_by.items()))
        return (
            f"{self.sentences} sentences: {self.matched} entries matched ({by}), "
            f"{self.unmatched} unmatched{f' ({why})' if why else ''}, "
            f"{self.unreadable} unreadable source(s)"
        )


def describe(entry: Entry) -> str:
    """How an entry is named in messages: ``artist - title``, else its path or MBID."""
    if entry.title:
        return f"{entry.artist} - {entry.title}" if entry.artist else entry.title
    return entry.path or (f"mbid:{entry.mbid}" if entry.mbid else "(an entry without a name)")


def _norm_path(path: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


class Catalogue:
    """Tracks to match entries against: by path, then MBID, then artist + title.

    Parameters
    ----------
    tracks : iterable of CatalogueTrack
        Later tracks with the same path or MBID do not replace earlier ones.  An artist + title
        that several tracks (with different keys) share matches none of them: an entry named
        only so cannot tell which one was played.
    """

    def __init__(self, tracks: Iterable[CatalogueTrack]):
        self.tracks = list(tracks)
        self._by_path: dict[str, CatalogueTrack] = {}
        self._by_mbid: dict[str, CatalogueTrack] = {}
        self._by_name: dict[str, list[CatalogueTrack]] = {}
        for track in self.tracks:
            self._by_path.setdefault(_norm_path(track.path), track)
            if track.mbid:
                self._by_mbid.setdefault(track.mbid.strip().lower(), track)
            name = artist_title_key(track.artist, track.title)
            if name:
                named = self._by_name.setdefault(name, [])
                if all(other.key != track.key for other in named):
                    named.append(track)

    def __len__(self) -> int:
        return len(self.tracks)

    def match(self, entry: Entry) -> tuple[CatalogueTrack | None, str]:
        """The track ``entry`` names and how it was found (``"path"``, ``"mbid"``,
        ``"artist+title"``), or ``(None, why not)``: :data:`NOT_FOUND`, :data:`AMBIGUOUS`
        (several tracks have that artist and title) or :data:`NO_NAME`."""
        if entry.path:
            found = self._by_path.get(_norm_path(entry.path))
            if found is not None:
                return found, "path"
        if entry.mbid:
            found = self._by_mbid.get(entry.mbid.strip().lower())
            if found is not None:
                return found, "mbid"
        name = artist_title_key(entry.artist, entry.title)
        if name:
            named = self._by_name.get(name, [])
            if len(named) == 1:
                return named[0], "artist+title"
            if len(named) > 1:
                return None, AMBIGUOUS
        if not (name or entry.path or entry.mbid):
            return None, NO_NAME
        return None, NOT_FOUND

    def match_sentences(
        self, sentences: Iterable[Sentence], report: MatchReport | None = None
    ) -> tuple[list[list[CatalogueTrack]], MatchReport]:
        """Each sentence as the catalogue tracks it names (unmatched entries dropped; sentences
        left with fewer than two tracks dropped).

        Returns
        -------
        (matched sentences, report)
        """
        report = report or MatchReport()
        out: list[list[CatalogueTrack]] = []
        for sentence in sentences:
            tracks = []
            for entry in sentence.entries:
                track, how = self.match(entry)
                if track is None:
                    report.add_unmatched(sentence.source, entry, how)
                else:
                    report.matched += 1
                    report.by[how] += 1
                    tracks.append(track)
            if len(tracks) >= 2:
                out.append(tracks)
                report.sentences += 1
        return out, report

    def album_sentences(self) -> list[list[CatalogueTrack]]:
        """One sentence per album of two tracks or more, in catalogue order."""
        albums: dict[str, list[CatalogueTrack]] = {}
        for track in self.tracks:
            if track.album:
                albums.setdefault(track.album, []).append(track)
        return [tracks for tracks in albums.values() if len(tracks) >= 2]


# --------------------------------------------------------------------------- M3U


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SentenceSourceError(path, f"cannot read ({error.strerror or error})") from error
    for encoding in ("utf-8-sig", "cp1252"):  # .m3u is often Latin-1/cp1252 (Winamp)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _split_artist_title(text: str) -> tuple[str | None, str | None]:
    if " - " in text:
        artist, title = text.split(" - ", 1)
        return artist.strip() or None, title.strip() or None
    return None, text.strip() or None


#: Bytes that never occur in a text playlist (controls other than tab, newlines, form feed).
_BINARY = bytes(range(0, 9)) + b"\x0b\x0e\x0f" + bytes(range(0x10, 0x20)) + b"\x7f"


def _is_binary(data: bytes) -> bool:
    """Whether ``data`` looks like anything but text: a NUL byte, or more than 1 % of control
    bytes in its first 64 KiB."""
    head = data[: 1 << 16]
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _BINARY))
    return controls > len(head) // 100


def read_m3u(path: str | os.PathLike) -> Sentence:
    """One M3U/M3U8 playlist: relative entries are resolved against its folder; ``#EXTINF``
    names (``artist - title``) are kept for entries whose file is elsewhere.

    Raises
    ------
    SentenceSourceError
        The file cannot be read, is not text (binary data), or names no track.
    """
    path = Path(path)
    try:
        if _is_binary(path.read_bytes()):
            raise SentenceSourceError(path, "not a playlist: binary data, not text")
    except OSError:
        pass  # _read_text says why
    text = _read_text(path)
    folder = path.parent
    entries: list[Entry] = []
    artist = title = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXTINF:"):
            info = line.split(",", 1)[1] if "," in line else ""
            artist, title = _split_artist_title(info)
            continue
        if line.startswith("#"):
            continue
        if line.startswith("file://"):
            from urllib.parse import unquote, urlparse

            line = unquote(urlparse(line).path)
        elif "://" in line:  # a stream: only its #EXTINF name can match
            entries.append(Entry(artist=artist, title=title))
            artist = title = None
            continue
        target = line if os.path.isabs(line) else os.path.join(folder, line.replace("\\", os.sep))
        if title is None:  # plain M3U: guess the name from the file name
            artist_guess, title_guess = _split_artist_title(Path(target).stem)
        else:
            artist_guess, title_guess = artist, title
        entries.append(Entry(path=os.path.abspath(target), artist=artist_guess, title=title_guess))
        artist = title = None
    if not entries:
        raise SentenceSourceError(path, "no tracks in the playlist")
    return Sentence(os.fspath(path), entries)


def playlist_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The playlist files named by ``paths``: files as given, folders searched recursively
    for ``.m3u``/``.m3u8`` (sorted)."""
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            out += sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in PLAYLIST_EXTENSIONS and p.is_file()
            )
        else:
            out.append(path)
    return out


# --------------------------------------------------------------------------- histories


def sessions(
    entries: Sequence[Entry], gap: float = SESSION_GAP, source: str = ""
) -> list[Sentence]:
    """Cut plays into sessions where consecutive plays are ``gap`` seconds apart or more.

    Parameters
    ----------
    entries : sequence of Entry
        Plays with ``played_at``; sorted here by time (entries without a time are dropped).
    gap : float
        Seconds.
    """
    plays = sorted((e for e in entries if e.played_at is not None), key=lambda e: e.played_at)
    out: list[Sentence] = []
    last = None
    for play in plays:
        if last is None or play.played_at - last >= gap:
            out.append(Sentence(f"{source}#session{len(out) + 1}"))
        out[-1].entries.append(play)
        last = play.played_at
    return out


def _load_json(path: Path):
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SentenceSourceError(
            path, f"not valid JSON ({error.msg}, line {error.lineno})"
        ) from error


def _listenbrainz(records: list) -> list[Entry]:
    out = []
    for record in records:
        meta = record.get("track_metadata") or {}
        mapping = meta.get("mbid_mapping") or {}
        extra = meta.get("additional_info") or {}
        mbid = mapping.get("recording_mbid") or extra.get("recording_mbid")
        out.append(
            Entry(
                mbid=mbid,
                artist=meta.get("artist_name"),
                title=meta.get("track_name"),
                played_at=float(record["listened_at"]),
            )
        )
    return out


def _iso_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _spotify_history(records: list) -> list[Entry]:
    out = []
    for record in records:
        title = record.get("master_metadata_track_name")
        if not title:  # podcasts, audiobooks
            continue
        out.append(
            Entry(
                artist=record.get("master_metadata_album_artist_name"),
                title=title,
                played_at=_iso_seconds(record["ts"]),
            )
        )
    return out


def _lastfm_csv(path: Path) -> list[Entry]:
    """Last.fm scrobble CSV: a header with ``artist``/``track`` (or ``title``) and ``uts`` or
    ``utc_time``/``date``, as the common exporters write; else the headerless
    ``artist,album,title,date`` of lastfm-to-csv."""
    text = _read_text(path)
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise SentenceSourceError(path, "empty CSV")
    header = [h.strip().lower() for h in rows[0]]
    if "artist" in header and ("track" in header or "title" in header):
        col = {name: i for i, name in enumerate(header)}
        title_col = col.get("track", col.get("title"))
        mbid_col = col.get("track_mbid", col.get("mbid"))
        body = rows[1:]
    else:
        col = {"artist": 0, "date": 3}
        title_col, mbid_col, body = 2, None, rows
    out = []
    for row in body:
        if len(row) <= max(col["artist"], title_col):
            continue
        when = None
        for name in ("uts", "timestamp", "utc_time", "date"):
            if name in col and col[name] < len(row) and row[col[name]].strip():
                value = row[col[name]].strip()
                when = _parse_time(value)
                if when is not None:
                    break
        out.append(
            Entry(
                mbid=(row[mbid_col].strip() or None) if mbid_col is not None else None,
                artist=row[col["artist"]].strip() or None,
                title=row[title_col].strip() or None,
                played_at=when,
            )
        )
    return out


def _parse_time(value: str) -> float | None:
    if value.isdigit():
        seconds = float(value)
        return seconds / 1000.0 if seconds > 1e11 else seconds  # milliseconds
    for form in ("%d %b %Y, %H:%M", "%d %b %Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, form).timestamp()
        except ValueError:
            continue
    try:
        return _iso_seconds(value)
    except ValueError:
        return None


def read_history(path: str | os.PathLike, gap: float = SESSION_GAP) -> list[Sentence]:
    """A listening history cut into sessions; the format is told from the content.

    - ListenBrainz export: a JSON list (or JSON lines) of listens with ``listened_at`` and
      ``track_metadata``;
    - Spotify extended streaming history: a JSON list of plays with ``ts`` and
      ``master_metadata_track_name``;
    - Last.fm scrobbles: CSV.

    Raises
    ------
    SentenceSourceError
        Unreadable, or not one of these formats.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        entries = _lastfm_csv(path)
    else:
        text = _read_text(path)
        stripped = text.lstrip()
        try:
            if stripped.startswith("["):
                records = json.loads(text)
            else:  # JSON lines (ListenBrainz's newer export)
                records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as error:
            raise SentenceSourceError(
                path, f"not valid JSON ({error.msg}, line {error.lineno})"
            ) from error
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SentenceSourceError(path, "not a list of plays")
        try:
            if records and "listened_at" in records[0]:
                entries = _listenbrainz(records)
            elif records and "ts" in records[0]:
                entries = _spotify_history(records)
            else:
                raise SentenceSourceError(
                    path, "not a ListenBrainz, Spotify or Last.fm history (unknown fields)"
                )
        except (KeyError, TypeError, ValueError) as error:
            raise SentenceSourceError(path, f"a play lacks a usable field ({error})") from error
    if not entries:
        raise SentenceSourceError(path, "no plays in the history")
    return sessions(entries, gap, source=os.fspath(path))


# --------------------------------------------------------------------------- Million Playlist


def million_playlist_files(folder: str | os.PathLike) -> list[Path]:
    """The ``*.json`` slices of a Million Playlist Dataset folder (``data/`` too), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SentenceSourceError(folder, "not a folder")
    files = sorted(folder.glob("*.json")) or sorted(folder.glob("data/*.json"))
    if not files:
        raise SentenceSourceError(folder, "no mpd.slice.*.json files")
    return files


def read_million_playlists(path: str | os.PathLike) -> list[Sentence]:
    """The playlists of one Million Playlist Dataset slice (``{"playlists": [{"tracks":
    [{"artist_name", "track_name"}...]}...]}``)."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
        raise SentenceSourceError(path, "not a Million Playlist Dataset slice (no 'playlists')")
    out = []
    for playlist in data["playlists"]:
        tracks = playlist.get("tracks") or []
        entries = [Entry(artist=t.get("artist_name"), title=t.get("track_name")) for t in tracks]
        name = playlist.get("pid", playlist.get("name", len(out)))
        out.append(Sentence(f"{path}#{name}", entries))
    return out


def read_sources(
    playlists: Iterable[str | os.PathLike] = (),
    histories: Iterable[str | os.PathLike] = (),
    *,
    million_playlists: str | os.PathLike | None = None,
    report: MatchReport | None = None,
    warn: Callable[[str], None] | None = None,
) -> Iterator[Sentence]:
    """Every sentence of the given sources; an unreadable source costs one ``warn(line)`` and
    is counted in ``report.unreadable``; the others are read."""
    report = report if report is not None else MatchReport()

    def failed(error: SentenceSourceError) -> None:
        report.unreadable += 1
        report.errors.append(str(error))
        if warn is not None:
            warn(str(error))

    for path in playlist_files(playlists):
        try:
            yield read_m3u(path)
        except SentenceSourceError as error:
            failed(error)
    for path in histories:
        try:
            yield from read_history(path)
        except SentenceSourceError as error:
            failed(error)
    if million_playlists:
        try:
            files = million_playlist_files(million_playlists)
        except SentenceSourceError as error:
            failed(error)
            files = []
        for path in files:
            try:
                yield from read_million_playlists(path)
            except SentenceSourceError as error:
                failed(error)
