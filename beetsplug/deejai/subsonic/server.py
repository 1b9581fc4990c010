"""The state one Subsonic API keeps: the library session, the catalog, the login gate, and
what each user is listening to (for skips)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beets.ui import UserError

from .auth import Gate
from .catalog import Catalog

if TYPE_CHECKING:
    from ..session import LibrarySession
    from .settings import SubsonicSettings

#: Skipped songs remembered per user (and left out of their similar lists).
SKIPS_KEPT = 200


@dataclass
class Listening:
    """What one user's player last announced ("now playing"), and the songs they skipped."""

    current: int | None = None
    started: float = 0.0
    length: float = 0.0
    skipped: set[int] = field(default_factory=set)
    order: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now_playing(self, item_id: int, length: float, now: float) -> int | None:
        """Note that ``item_id`` plays; returns the song this skipped, if any (the one
        announced before, not submitted, left before half its length)."""
        with self.lock:
            before, started, previous_length = self.current, self.started, self.length
            self.current, self.started, self.length = item_id, now, length
            if before is None or before == item_id:
                return None
            if now - started >= previous_length / 2:
                return None
            self.skipped.add(before)
            self.order.append(before)
            if len(self.order) > SKIPS_KEPT:
                self.skipped.discard(self.order.pop(0))
            return before

    def finished(self, item_id: int) -> None:
        """``item_id`` was played (submitted): it was no skip."""
        with self.lock:
            if self.current == item_id:
                self.current = None
            self.skipped.discard(item_id)


class SubsonicServer:
    """The Subsonic API's view of one library session.

    Parameters
    ----------
    library : LibrarySession
        The one library session of the server (shared with the browser DJ).
    settings : SubsonicSettings
        The users and the lock-out.
    """

    def __init__(self, library: LibrarySession, settings: SubsonicSettings):
        self.library = library
        self.lib = library.lib
        self.settings = settings
        self.catalog = Catalog(library.lib)
        self.gate = Gate(settings)
        self._listening: dict[str, Listening] = {}
        self._lock = threading.Lock()

    def listening(self, user: str) -> Listening:
        """The listening state of ``user``."""
        with self._lock:
            return self._listening.setdefault(user, Listening())

    def has_vectors(self) -> bool:
        """Whether the sonic endpoints can answer (some item has vectors of the query model)."""
        try:
            return len(self.library.index()) > 0
        except UserError:
            return False

    def library_mtime(self) -> float:
        """When the library database last changed (seconds since the epoch)."""
        try:
            return os.path.getmtime(self.lib.path)
        except (OSError, TypeError):
            return 0.0
