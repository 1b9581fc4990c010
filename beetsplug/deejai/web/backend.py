"""The browser DJ's link to the library: queries, items, uploads and the DJ session.

Nothing a request sends is used as a filesystem path: tracks are named by item id, files are
the paths beets stores, and an upload is written under a fixed name in a fresh temporary
folder that is deleted when it has been embedded.  Queries never load TensorFlow; uploads and
microphone takes do, lazily, through the plugin's model.
"""

from __future__ import annotations

import itertools
import os
import shlex
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from beets.ui import UserError

from .names import disambiguate, file_name, shown_title, untagged_by_file_name

if TYPE_CHECKING:
    import numpy as np
    from beets.library import Item

    from ..session import LibrarySession

#: Extensions an upload may have (what PyAV decodes and browsers record).
AUDIO_EXTENSIONS = frozenset(
    {"mp3", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "wav", "webm", "wma", "aif", "aiff"}
)
#: Extension for an upload named only by its content type (a microphone take has no name).
EXTENSION_OF_TYPE = {
    "audio/webm": "webm",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/flac": "flac",
}


class RequestError(Exception):
    """A request the DJ cannot serve; ``status`` is the HTTP status (400, 404, 413)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def refuse_paths(text: str) -> list[str]:
    """The words of a beets query, refusing absolute paths and ``..`` (queries name items).

    Raises
    ------
    RequestError
        On an empty query, unbalanced quotes, or a word that is a path outside the library.
    """
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise RequestError(f"bad query {text!r}: {error}") from None
    for word in words:
        value = word.split(":", 1)[1] if ":" in word and not word.startswith("/") else word
        parts = value.replace("\\", "/").split("/")
        if os.path.isabs(value) or value.startswith(("/", "\\", "~")) or ".." in parts:
            raise RequestError(f"paths are not accepted, only queries: {word!r}")
    return words


def upload_extension(filename: str | None, content_type: str | None) -> str:
    """The extension to decode an upload with (type check), from its name or content type."""
    ext = ""
    if filename and "." in filename:
        ext = filename.rsplit(".", 1)[1].lower()
    elif content_type:
        ext = EXTENSION_OF_TYPE.get(content_type.split(";")[0].strip().lower(), "")
    if ext not in AUDIO_EXTENSIONS:
        shown = filename or content_type or "upload"
        raise RequestError(
            f"{shown}: not an audio file type (one of {', '.join(sorted(AUDIO_EXTENSIONS))})"
        )
    return ext


class LibraryDj:
    """One DJ session over a beets library, safe to call from the web server's threads.

    Parameters
    ----------
    library : LibrarySession
        The library session (items, the index, the model for uploads).
    lookback, noise, ahead : see :class:`deejai_model.lists.dj.DjSession`
    """

    def __init__(
        self, library: LibrarySession, *, lookback: int = 3, noise: float = 0.0, ahead: int = 5
    ):
        self.library = library
        self.lib = library.lib
        self.index = library.index()  # fails early (UserError) when nothing is embedded
        self.dj = library.dj_session(lookback=lookback, noise=noise, ahead=ahead)
        self.lock = threading.RLock()
        self.matches: list[dict] = []
        self._beginnings: dict[int, np.ndarray] | None = None
        self._art: dict[int, bool] = {}
        self._map: dict | None = None
        self._map_lock = threading.Lock()
        #: Said when the library has nothing left to play (every track has played).
        self.finished: str | None = None

    # -- items -----------------------------------------------------------------------------
    def item(self, item_id: int) -> Item:
        """The library item ``item_id`` (404 when there is none)."""
        item = self.lib.get_item(int(item_id))
        if item is None:
            raise RequestError(f"no item with id {item_id}", 404)
        return item

    def track(self, item_id: int) -> dict:
        """What the page shows of a track, with why the DJ picked it (``"why"``, or None)."""
        item = self.item(item_id)
        return {
            "id": item.id,
            "title": shown_title(item),
            "artist": item.artist,
            "album": item.album,
            "file": file_name(item),
            "length": round(float(item.length or 0.0), 2),
            "audio": f"/audio/{item.id}",
            "art": f"/art/{item.id}" if self._has_art(item) else None,
            "why": self.dj.why.get(item.id),
        }

    def _has_art(self, item: Item) -> bool:
        if item.id not in self._art:
            try:
                self._art[item.id] = self._art_of(item) is not None
            except RequestError:
                self._art[item.id] = False
        return self._art[item.id]

    def file_of(self, item_id: int) -> str:
        """The audio file of an item, as beets stores it (404 when it is gone)."""
        path = os.fsdecode(self.item(item_id).path)
        if not os.path.isfile(path):
            raise RequestError(f"the file of item {item_id} is missing", 404)
        return path

    def art_of(self, item_id: int) -> str | bytes:
        """An item's cover: its album's art file (``artpath``) else the image embedded in its
        file (bytes); 404 when it has neither."""
        art = self._art_of(self.item(item_id))
        if art is None:
            raise RequestError(f"item {item_id} has no cover art", 404)
        return art

    @staticmethod
    def _art_of(item: Item) -> str | bytes | None:
        album = item.get_album()
        if album is not None and album.artpath:
            path = os.fsdecode(album.artpath)
            if os.path.isfile(path):
                return path
        try:
            from mediafile import MediaFile, UnreadableFileError

            return MediaFile(os.fsdecode(item.path)).art or None
        except (OSError, UnreadableFileError):
            return None

    def find(self, text: str, limit: int = 10) -> list[dict]:
        """Up to ``limit`` embedded items matching a beets query (suggestions for the page)."""
        from beets.dbcore.query import InvalidQueryError, ParsingError

        words = refuse_paths(text)
        vectors = self.dj.vectors
        out: list[dict] = []
        seen: set[int] = set()
        try:
            found = self.lib.items(words)
            # lazily: stop reading at ``limit``, and scan untagged items only when still short
            for item in itertools.chain(found, untagged_by_file_name(self.lib, words)):
                if item.id in vectors and item.id not in seen:
                    seen.add(item.id)
                    out.append(self.track(item.id))
                    if len(out) >= limit:
                        break
        except (InvalidQueryError, ParsingError) as error:
            raise RequestError(f"bad query {text!r}: {error}") from None
        return disambiguate(out)

    def resolve(self, text: str | int) -> int:
        """The id of the first embedded item matching a query, or the item ``text`` names when
        it is an id the page picked from its suggestions (400/404 otherwise)."""
        if isinstance(text, int) and not isinstance(text, bool):
            if text not in self.dj.vectors.library:
                raise RequestError(f"item {text} has no vectors", 404)
            return text
        text = str(text)
        if not text.strip():
            raise RequestError("a query is needed")
        found = self.find(text, limit=1)
        if not found:
            raise RequestError(f"no embedded item matches {text!r}", 404)
        return int(found[0]["id"])

    # -- the session -----------------------------------------------------------------------
    def state(self) -> dict:
        """The session as the page shows it."""
        with self.lock:
            s = self.dj
            current = s.current
            return {
                "now": self.track(current) if current is not None else None,
                "queue": [self.track(t) for t in s.queue if t not in s.vectors.own],
                "controls": {"lookback": s.lookback, "noise": s.noise},
                "liked": [int(t) for t in s.liked],
                "disliked": [int(t) for t in s.disliked],
                "matches": self.matches,
                # the map's path: what played (seeds first), what was skipped, the journey
                "played": [int(t) for t in s.played if t not in s.vectors.own],
                "skipped": [int(t) for t in s.skipped if t not in s.vectors.own],
                "route": [int(t) for t in s.route],
                "finished": self.finished,
            }

    def _locked(self, change: Callable[[], object]) -> dict:
        with self.lock:
            self.finished = None
            try:
                change()
            except (KeyError, ValueError) as error:
                raise RequestError(str(error).strip("'\"")) from None
        return self.state()

    def seed_query(self, text: str | int) -> dict:
        """Start from the first item matching a query (or from the item of an id)."""
        item_id = self.resolve(text)
        self.matches = []
        return self._locked(lambda: self.dj.start([item_id]))

    def journey(self, ends: list[str | int], via: list[str | int], n_per_leg: int) -> dict:
        """Play a journey from A to B through waypoints (each a query, or an id the page
        picked from its suggestions)."""
        if len(ends) != 2 or not all(str(e).strip() for e in ends):
            raise RequestError("a journey needs A and B")
        if not 0 <= n_per_leg <= 50:
            raise RequestError("tracks per leg must be between 0 and 50")
        ids = [self.resolve(ends[0]), *(self.resolve(v) for v in via if str(v).strip())]
        ids.append(self.resolve(ends[1]))
        self.matches = []
        return self._locked(lambda: self.dj.start_journey(ids, n_per_leg))

    def advance(self, skipped: bool) -> dict:
        """The current track ended (or was skipped): move on; the library records the play
        or skip as mpdstats would (``deejai.lists.record_plays``); when nothing is left to play,
        the state says so (``"finished"``)."""
        with self.lock:
            self.finished = None
            ended = self.dj.current
            track = self.dj.advance(skipped=skipped)
            if ended is not None:
                self.library.record_play(ended, skipped=skipped)
            if track is not None:
                self.library.record_play(track, started=True)
            elif self.dj.current is not None:
                self.finished = (
                    "Every track has played: nothing is left to pick. Search for a seed, "
                    "or click a point on the map, to start again."
                )
            return self.state()

    def edit_queue(self, item_id: int, action: str, position: int | None = None) -> dict:
        """``"remove"`` a queued track (it is not picked again), or ``"move"`` it to
        ``position`` (0 = next)."""
        if action == "remove":
            return self._locked(lambda: self.dj.remove(item_id))
        if action == "move":
            if position is None:
                raise RequestError("move needs a position")
            return self._locked(lambda: self.dj.move(item_id, position))
        raise RequestError(f"action must be 'remove' or 'move', not {action!r}")

    def controls(self, lookback: int | None, noise: float | None) -> dict:
        """Set "keep on" and "drunk"."""
        if lookback is not None and not 0 <= lookback <= 50:
            raise RequestError("keep on must be between 0 and 50")
        if noise is not None and not 0.0 <= noise <= 5.0:
            raise RequestError("drunk must be between 0 and 5")
        return self._locked(lambda: self.dj.set_controls(lookback, noise))

    def feedback(self, item_id: int, verdict: str) -> dict:
        """ "more" or "less" like a track; "less" on the playing track also moves on."""
        if verdict not in ("more", "less"):
            raise RequestError(f"verdict must be 'more' or 'less', not {verdict!r}")
        self.item(item_id)

        def change() -> None:
            s = self.dj
            if verdict == "more":
                s.more_like(item_id)
                return
            s.less_like(item_id)
            if s.current == item_id:
                s.advance(skipped=True)

        return self._locked(change)

    # -- the map of the library's sound ---------------------------------------------------
    def map_data(self) -> dict:
        """The map as the page draws it (drawn on first use, then cached on disk and here).

        ``{"method", "n", "ids": [n], "x": [n], "y": [n] (0..1), "labels": [n] "artist -
        title", "fields": {field: {"names": [...], "codes": [n]}}}`` for the fields the page
        can colour by (:data:`MAP_FIELDS`); ``codes[i]`` indexes ``names``, and a year's names
        are sorted, so its codes run from old to new.
        """
        with self._map_lock:
            if self._map is None:
                from ..soundmap import sound_map

                self._map = map_payload(self.lib, sound_map(self.index, log=self.library.log))
            return self._map

    def warm_map(self) -> threading.Thread:
        """Draw (or read) the map in a background thread, so that the page finds it ready."""

        def draw() -> None:
            try:
                self.map_data()
            except Exception as error:  # the page's /api/map says it again, as JSON
                self.library.log.warning("cannot draw the map: {}: {}", type(error).__name__, error)

        thread = threading.Thread(target=draw, name="deejai-map", daemon=True)
        thread.start()
        return thread

    # -- audio from the browser (these load TensorFlow) ------------------------------------
    def _embed_upload(self, data: bytes, filename: str | None, content_type: str | None):
        """Slice vectors of uploaded audio, decoded from a temporary folder deleted after."""
        from deejai_model.errors import AudioError

        if not data:
            raise RequestError(f"{filename or 'upload'}: the file is empty")
        ext = upload_extension(filename, content_type)
        with tempfile.TemporaryDirectory(prefix="deejai-upload-") as folder:
            path = os.path.join(folder, f"upload.{ext}")
            with open(path, "wb") as f:
                f.write(data)
            try:
                return self.library.embed_outside(path)
            except UserError as error:  # the index's model (an earlier default) is not installed
                raise RequestError(str(error)) from None
            except AudioError as error:
                raise RequestError(plain_audio_error(error, filename or "upload")) from None

    def seed_upload(self, data: bytes, filename: str | None, content_type: str | None) -> dict:
        """Start from an audio file that is not in the library (it is not added to it)."""
        vector = self.index.track_vector(self._embed_upload(data, filename, content_type))
        self.matches = []

        def change() -> None:
            key = self.dj.add_outside(vector)
            self.dj.start([key])
            self.dj.advance()  # the upload itself cannot be played: start with its pick

        return self._locked(change)

    def beginnings(self) -> dict[int, np.ndarray]:
        """``{item_id: (1, dim)}`` mean vector of each indexed track's beginning (projected like
        the index), read once: ``(n, dim)`` floats in all."""
        if self._beginnings is None:
            stored = self.library.store.beginnings(self.index.model_id)
            self._beginnings = {
                item_id: self.index.pooler.project(slices).mean(axis=0, keepdims=True)
                for item_id, slices in stored.items()
                if item_id in self.dj.vectors
            }
        return self._beginnings

    def seed_microphone(self, data: bytes, content_type: str | None) -> dict:
        """Start from the library track whose beginning sounds most like a microphone take."""
        from deejai_model.lists.dj import match_beginnings

        clip = self.index.pooler.project(self._embed_upload(data, None, content_type))
        found = match_beginnings(clip, self.beginnings(), n=5)
        if not found:
            raise RequestError("no embedded item to match the microphone against", 404)
        self.matches = [{**self.track(i), "cosine": round(c, 4)} for i, c in found]
        return self._locked(lambda: self.dj.start([found[0][0]]))


#: Fields the map can be coloured by.
MAP_FIELDS = ("genre", "artist", "album", "year")


def map_value(item: Item, field: str) -> str:
    """An item's value of a map field as text ("" when it has none); a list field (beets 2.4+
    stores ``genres``) gives its first value, and ``genre`` falls back to ``genres``."""
    value = item.get(field)
    if not value and field == "genre":
        value = item.get("genres")
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return "" if value in (None, 0) else str(value)


def map_payload(lib, sound_map) -> dict:
    """What :meth:`LibraryDj.map_data` sends, for a :class:`~beetsplug.deejai.soundmap.SoundMap`."""
    ids = [int(i) for i in sound_map.ids]
    wanted = set(ids)
    items = {item.id: item for item in lib.items() if item.id in wanted}
    labels, values = [], {field: [] for field in MAP_FIELDS}
    for item_id in ids:
        item = items.get(item_id)
        if item is None:
            labels.append(f"item {item_id}")
            for field in MAP_FIELDS:
                values[field].append("")
            continue
        labels.append(" - ".join(p for p in (item.artist, shown_title(item)) if p))
        for field in MAP_FIELDS:
            values[field].append(map_value(item, field))
    fields = {}
    for field, column in values.items():
        names = sorted(set(column), key=(lambda v: (v == "", int(v) if v.isdigit() else 0, v)))
        code = {name: i for i, name in enumerate(names)}
        fields[field] = {"names": names, "codes": [code[v] for v in column]}
    xy = sound_map.xy
    return {
        "method": sound_map.method,
        "n": len(ids),
        "ids": ids,
        "x": [round(float(v), 4) for v in xy[:, 0]],
        "y": [round(float(v), 4) for v in xy[:, 1]],
        "labels": labels,
        "fields": fields,
    }


def plain_audio_error(error: Exception, shown: str) -> str:
    """What the page says when an upload cannot be heard: plain words, never the decoder's
    own message (its errno and temporary path mean nothing to the listener)."""
    from deejai_model.errors import EmptyAudioError, SilentAudioError

    if isinstance(error, SilentAudioError):
        return f"{shown}: it is silent: there is nothing to listen to"
    if isinstance(error, EmptyAudioError):
        return f"{shown}: it holds no audio"
    return f"{shown}: this is not audio that can be played (the file could not be decoded)"


def open_dj(library: LibrarySession, *, lookback: int, noise: float, ahead: int) -> LibraryDj:
    """A :class:`LibraryDj`, or a :class:`beets.ui.UserError` saying why not."""
    try:
        return LibraryDj(library, lookback=lookback, noise=noise, ahead=ahead)
    except ValueError as error:
        raise UserError(f"deejai serve: {error}") from None
