"""``beet deejai radio``: endless radio for MPD.

It connects to MPD with beets' ``mpd:`` settings (``host``, ``port``, ``password``,
``music_directory``, read as beets' mpdstats plugin reads them, with the same defaults) through
python-mpd2, and watches the queue.  When fewer than ``--ahead`` tracks remain after the one
playing, it appends the next pick of a :class:`deejai_model.lists.dj.DjSession` made from the last
``--lookback`` tracks played, with ``--noise``.  A track that leaves before half its length
counts as "less like this".  MPD names files by their path relative to its music directory;
the radio maps them to library items the same way (items outside that folder cannot be queued
and are never picked).  When MPD goes away it reconnects, and carries on with what it knew.
"""

from __future__ import annotations

import optparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beets import config, ui
from beets.ui import UserError

if TYPE_CHECKING:
    from beets.library import Library

    from deejai_model.lists.dj import DjSession

    from .session import LibrarySession

#: Waits between reconnection attempts (seconds); the last one repeats.
RECONNECT_WAITS = (0.5, 1.0, 2.0, 5.0, 10.0)


def mpd_settings() -> dict:
    """Beets' ``mpd:`` configuration with mpdstats' defaults: host, port, password, folder."""
    view = config["mpd"]
    view.add(
        {
            "music_directory": config["directory"].as_filename(),
            "host": os.environ.get("MPD_HOST", "localhost"),
            "port": int(os.environ.get("MPD_PORT", 6600)),
            "password": "",
        }
    )
    view["password"].redact = True
    host = view["host"].as_str()
    if host[:1] in ("/", "~"):
        host = os.path.expanduser(host)
    return {
        "host": host,
        "port": view["port"].get(int),
        "password": view["password"].as_str(),
        "music_directory": view["music_directory"].as_filename(),
    }


class LibraryPaths:
    """Item ids <-> paths relative to MPD's music directory.

    Parameters
    ----------
    lib : Library
        The library.
    music_directory : str
        MPD's ``music_directory`` (absolute).
    ids : iterable of int
        The items that may be queued (those with vectors).
    """

    def __init__(self, lib: Library, music_directory: str, ids):
        self.lib = lib
        self.root = os.path.realpath(music_directory)
        wanted = {int(i) for i in ids}
        self.relative: dict[int, str] = {}
        for item in lib.items():
            if item.id in wanted:
                path = os.path.realpath(os.fsdecode(item.path))
                if path.startswith(self.root + os.sep):
                    self.relative[item.id] = os.path.relpath(path, self.root)
        self.by_file = {rel: item_id for item_id, rel in self.relative.items()}
        self.outside = wanted - set(self.relative)

    def item_id(self, mpd_file: str) -> int | None:
        """The item MPD's ``file`` names, or None (a stream, or a file not in the library)."""
        return self.by_file.get(os.path.normpath(mpd_file))


@dataclass
class _Playing:
    """What MPD played at the last look."""

    song_id: str
    item_id: int | None
    elapsed: float
    duration: float


class Radio:
    """Keeps an MPD queue going with the picks of a DJ session.

    Parameters
    ----------
    dj : DjSession
        Picks the tracks; learns what played and what was skipped.
    paths : LibraryPaths
        Item <-> MPD file.
    mpd_settings : dict
        :func:`mpd_settings`.
    ahead : int
        Tracks to keep queued after the one playing.
    log : logger
        Where to say what happens.
    seed : int, optional
        An item to queue and play first when MPD plays nothing of the library.
    record : callable, optional
        ``record(item_id, *, skipped=False, started=False)``: note a play in the library as
        mpdstats does (:meth:`.session.LibrarySession.record_play`).
    """

    def __init__(
        self,
        dj: DjSession,
        paths: LibraryPaths,
        *,
        mpd_settings: dict,
        ahead: int,
        log,
        seed: int | None = None,
        record: Callable[..., None] | None = None,
    ):
        import mpd

        self.mpd = mpd
        self.dj = dj
        self.paths = paths
        self.mpd_settings = mpd_settings
        self.ahead = ahead
        self.log = log
        self.seed = seed
        self.record = record or (lambda item_id, **kind: None)
        self.client = None
        self.playing: _Playing | None = None
        dj.never |= paths.outside  # MPD cannot play them

    # -- connection ------------------------------------------------------------------------
    def connect(self) -> None:
        """Connect (and log in); raises OSError or mpd.ConnectionError when MPD is not there."""
        client = self.mpd.MPDClient()
        client.timeout = 10
        client.connect(self.mpd_settings["host"], self.mpd_settings["port"])
        if self.mpd_settings["password"]:
            try:
                client.password(self.mpd_settings["password"])
            except self.mpd.CommandError as error:
                raise UserError(f"deejai radio: MPD refused the password: {error}") from None
        self.client = client
        self.log.info(
            "connected to MPD at {}:{}", self.mpd_settings["host"], self.mpd_settings["port"]
        )

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
                self.client.disconnect()
            except (self.mpd.ConnectionError, OSError):
                pass
            self.client = None

    # -- one look at the queue -------------------------------------------------------------
    def step(self) -> list[int]:
        """Look at MPD once: note what plays, top the queue up; returns the items appended."""
        client = self.client
        assert client is not None
        status = client.status()
        queue = client.playlistinfo()
        position = int(status["song"]) if "song" in status else None
        now = queue[position] if position is not None and position < len(queue) else None
        self._note(now, status)
        if now is None and self.dj.current is None and self.seed is not None:
            self.dj.start([self.seed])
            added = self._append([self.seed])
            client.play(len(queue))
            self.seed = None
            return added
        if position is not None:
            after = queue[position + 1 :]
        else:  # stopped at the end of the queue (or MPD restarted with an empty one)
            after = [] if self.dj.current is not None else queue
        pending = [self.paths.item_id(song["file"]) for song in after]
        missing = self.ahead - len(after)
        if missing <= 0 or self.dj.current is None:
            return []
        # nothing already in MPD's queue is queued again (a track MPD played or failed on
        # between two looks was never seen playing)
        queued = {self.paths.item_id(song["file"]) for song in queue} - {None}
        picks = self.dj.picks(
            missing, pending=[p for p in pending if p is not None], exclude=queued
        )
        added = self._append(picks)
        if added and status.get("state") == "stop" and (now is None or not after):
            client.play(len(queue))  # the queue had run dry (or MPD restarted): play on
        return added

    def _note(self, now: dict | None, status: dict) -> None:
        """Record the song playing; a song left before half its length is "less like this"."""
        song_id = now["id"] if now is not None else None
        before = self.playing
        if before is not None and before.song_id != song_id and before.item_id is not None:
            if before.duration > 0 and before.elapsed < before.duration / 2:
                self.log.info("skipped early: less like item {}", before.item_id)
                self.dj.record_played(before.item_id, skipped=True)
                self.dj.less_like(before.item_id)
                self.record(before.item_id, skipped=True)
            else:
                self.record(before.item_id)
        if now is None:
            self.playing = None
            return
        item_id = self.paths.item_id(now["file"])
        elapsed = float(status.get("elapsed", 0.0)) if status.get("songid") == song_id else 0.0
        duration = float(status.get("duration", now.get("duration", now.get("time", 0.0))) or 0.0)
        if before is None or before.song_id != song_id:
            if item_id is not None:
                self.dj.record_played(item_id)
                self.record(item_id, started=True)
            self.playing = _Playing(song_id, item_id, elapsed, duration)
        else:
            before.elapsed = max(before.elapsed, elapsed)
            before.duration = duration or before.duration

    def _append(self, item_ids: list[int]) -> list[int]:
        added = []
        for item_id in item_ids:
            self.client.add(self.paths.relative[int(item_id)])
            added.append(int(item_id))
            self.say_queued(int(item_id))
        return added

    def say_queued(self, item_id: int) -> None:
        """One DJ-log line on stdout per queued track, flushed (a terminal, a pipe or ``tee``
        shows it at once): time, artist - title, and why the DJ picked it."""
        item = self.paths.lib.get_item(item_id)
        name = f"item {item_id}"
        if item is not None:
            title = item.title or os.path.basename(os.fsdecode(item.path))
            name = " - ".join(p for p in (item.artist, title) if p)
        why = self.dj.why.get(item_id)
        ui.print_(f"{time.strftime('%H:%M:%S')}  queued  {name}" + (f"  ({why})" if why else ""))
        sys.stdout.flush()

    # -- the loop --------------------------------------------------------------------------
    def run(self, poll: float = 1.0, max_polls: int | None = None) -> None:
        """Watch MPD every ``poll`` seconds until Ctrl-C (or ``max_polls`` looks)."""
        polls = 0
        failures = 0
        while max_polls is None or polls < max_polls:
            polls += 1
            try:
                if self.client is None:
                    self.connect()
                    failures = 0
                self.step()
            except (self.mpd.ConnectionError, OSError) as error:
                wait = RECONNECT_WAITS[min(failures, len(RECONNECT_WAITS) - 1)]
                if failures == 0:
                    self.log.warning("lost MPD ({}); reconnecting", error or "connection closed")
                failures += 1
                self.close()
                self.playing = None  # a restart is not a skip
                time.sleep(wait)
                continue
            time.sleep(poll)


def parser() -> optparse.OptionParser:
    """Options of ``beet deejai radio``."""
    p = ui.CommonOptionsParser(prog="beet deejai radio", usage="%prog [options] [SEED QUERY]")
    p.add_option("--ahead", type="int", default=2, help="tracks to keep queued [%default]")
    p.add_option("--lookback", type="int", default=3, help='"keep on" [%default]')
    p.add_option("--noise", type="float", default=0.0, help='"drunk" [%default]')
    p.add_option("--poll", type="float", default=1.0, help="seconds between looks [%default]")
    p.add_option(
        "--fresh", type="float", metavar="DAYS", help="never queue what was played in DAYS"
    )
    p.add_option("--host", help="MPD host (default: mpd.host)")
    p.add_option("--port", type="int", help="MPD port (default: mpd.port)")
    p.add_option("--password", help="MPD password (default: mpd.password)")
    return p


def run(session: LibrarySession, opts: optparse.Values, query: list[str]) -> None:
    """``beet deejai radio``: run the radio until Ctrl-C."""
    if opts.ahead < 1 or opts.lookback < 0 or opts.noise < 0 or opts.poll <= 0:
        raise UserError("deejai radio: --ahead >= 1, --lookback >= 0, --noise >= 0, --poll > 0")
    config["mpd"].set({k: v for k in ("host", "port", "password") if (v := getattr(opts, k))})
    settings = mpd_settings()
    index = session.index()
    seed = None
    if query:
        vectors = index.vectors_by_id()
        matches = [item for item in session.lib.items(query) if item.id in vectors]
        if not matches:
            raise UserError(f"deejai radio: no embedded item matches {' '.join(query)!r}")
        seed = matches[0].id
    paths = LibraryPaths(session.lib, settings["music_directory"], index.ids)
    if not paths.relative:
        raise UserError(
            f"deejai radio: no embedded item is under MPD's music directory "
            f"{settings['music_directory']} (set mpd.music_directory)"
        )
    dj = session.dj_session(
        lookback=opts.lookback, noise=opts.noise, ahead=opts.ahead, fresh_days=opts.fresh
    )
    station = Radio(
        dj,
        paths,
        mpd_settings=settings,
        ahead=opts.ahead,
        log=session.log,
        seed=seed,
        record=session.record_play,
    )
    try:
        station.connect()
    except (station.mpd.ConnectionError, OSError) as error:
        raise UserError(
            f"deejai radio: cannot connect to MPD at {settings['host']}:{settings['port']}: {error}"
        ) from None
    try:
        station.run(opts.poll)
    except KeyboardInterrupt:
        pass
    finally:
        station.close()
