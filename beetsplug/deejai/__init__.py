"""deejai: a beets plugin that listens to your music and makes playlists from what it hears.

Importing this package is cheap: it needs beets and confuse only.  numpy and the index are
imported by the commands that use them, TensorFlow (through ``deejai_model.ears.bundle``/``embed``)
only when audio is actually embedded.  See docs/plugin.md.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import config as beets_config
from beets import ui, util
from beets.plugins import BeetsPlugin

from .config import DEFAULTS, Settings
from .store import file_mtime, file_size

if TYPE_CHECKING:
    from beets.library import Item, Library

    from .importer import ModelHandle, Summary
    from .session import LibrarySession
    from .store import VectorStore


#: beets events sent after it moved, copied or linked an item's file to a new path.
FILE_EVENTS = ("item_moved", "item_copied", "item_linked", "item_hardlinked", "item_reflinked")


class DeejaiPlugin(BeetsPlugin):
    """Embeds tracks with a CNN (on import or on demand) and answers playlist queries."""

    #: Plays recorded by ``listening.record_play`` (the radio, the DJ page, Subsonic
    #: scrobbles), typed exactly as beets' ``mpdstats`` types them (the same type objects: both
    #: plugins can be loaded), so that ``beet ls play_count:5..`` and ``last_played`` ranges work.
    @property
    def item_types(self):
        from beets.dbcore import types

        return {"play_count": types.INTEGER, "skip_count": types.INTEGER, "last_played": types.DATE}

    def __init__(self, name: str | None = None):
        super().__init__(name or "deejai")
        self.config.add(DEFAULTS)
        self._store: VectorStore | None = None
        self._model: ModelHandle | None = None
        self._model_failed = False
        #: mtime of a file just before beets writes its tags or moves it, by (item id, path)
        self._mtimes_before: dict[tuple[int, bytes], float] = {}
        self.register_listener("item_removed", self.item_removed)
        self.register_listener("write", self.before_file_change)
        self.register_listener("after_write", self.after_write)
        self.register_listener("before_item_moved", self.before_file_change)
        for event in FILE_EVENTS:
            self.register_listener(event, self.file_changed)
        self.import_stages = [self.imported]  # it does nothing unless deejai.auto
        #: the counts of the ``beet import`` under way (printed when it ends)
        self._import_summary: Summary | None = None
        self.register_listener("import_begin", self.import_begin)
        self.register_listener("import", self.import_end)

    # -- shared state ------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The validated configuration (read afresh: tests and ``--set`` may change it)."""
        return Settings.from_view(self.config)

    def store(self, lib: Library) -> VectorStore:
        """The vector tables of ``lib`` (created on first use)."""
        from .store import VectorStore

        if self._store is None or self._store.lib is not lib:
            self._store = VectorStore(lib)
        return self._store

    def model(self, settings: Settings | None = None) -> ModelHandle:
        """The configured model bundle (TensorFlow is loaded only when it embeds); ``settings``:
        the :attr:`settings` already read (read afresh when not given)."""
        from .importer import ModelHandle

        settings = self.settings if settings is None else settings
        if self._model is None or self._model.settings != settings:
            self._model = ModelHandle(settings)
        return self._model

    def index_dir(self, lib: Library) -> str:
        """Folder of the index files: beside the library database."""
        path = os.fsdecode(lib.path) if lib.path else ":memory:"
        if path == ":memory:":
            return beets_config.config_dir()
        return os.path.dirname(os.fsdecode(util.normpath(path)))

    def session(self, lib: Library) -> LibrarySession:
        """A :class:`~.session.LibrarySession` on ``lib``: what every front end uses."""
        from .session import LibrarySession

        settings = self.settings
        return LibrarySession(
            lib,
            settings=settings,
            model=self.model(settings),
            open_store=lambda: self.store(lib),
            index_dir=self.index_dir(lib),
            log=self._log,
        )

    # -- events ------------------------------------------------------------------------------
    def item_removed(self, item: Item) -> None:
        """Delete the item's vector rows (this also makes the index stale)."""
        lib = getattr(item, "db", None) or getattr(item, "_db", None)
        if lib is not None and item.id is not None:
            self.store(lib).delete_items([item.id])

    def before_file_change(self, item: Item, path: bytes | None = None, **_) -> None:
        """``write`` / ``before_item_moved``: note the file's mtime before beets touches it."""
        path = path or item.path
        if item.id is not None and path:
            self._mtimes_before[(item.id, bytes(path))] = file_mtime(path)

    def after_write(self, item: Item, path: bytes) -> None:
        """beets wrote tags into the file: same audio, new mtime; record it (if the row was made
        from the file as it was just before the write)."""
        self._follow(item, path, path)

    def file_changed(self, item: Item, source: bytes, destination: bytes) -> None:
        """beets moved, copied or linked the item's file: the row follows it."""
        self._follow(item, source, destination)

    def _follow(self, item: Item, source: bytes, destination: bytes) -> None:
        lib = getattr(item, "db", None) or getattr(item, "_db", None)
        before = self._mtimes_before.pop((item.id, bytes(source)), None)
        if lib is None or item.id is None:
            return
        if before is None:  # a copy or link leaves the source as it was
            before = file_mtime(source) if os.path.exists(source) else file_mtime(destination)
        self.store(lib).follow_file(
            item.id,
            source,
            destination,
            source_mtime=before,
            mtime=file_mtime(destination),
            size=file_size(destination),
        )

    # -- import ------------------------------------------------------------------------------
    def imported(self, session, task) -> None:
        """Import stage (with ``deejai.auto``): embed the task's items (a bad file warns; the
        import goes on).

        beets runs it before it copies, moves or retags the files; the rows follow those
        changes through beets' file events (:meth:`file_changed`, :meth:`after_write`).  The
        settings are read inside the ``try``: a wrong ``deejai:`` value costs one warning (none
        with ``auto: no``) and the import goes on.
        """
        if self._model_failed:
            return
        try:
            settings = self.settings
            if not settings.auto:
                return
            items = [item for item in task.imported_items() if item.id is not None]
            if not items:
                return
            from .importer import embed_items

            summary = embed_items(
                items,
                self.store(session.lib),
                model=self.model(settings),
                settings=settings,
                log=self._log,
            )
        except Exception as error:  # bad settings, no model, no TensorFlow...: tell once
            self._model_failed = True
            if self.config["auto"].get():  # the raw value: ``auto: no`` stays silent
                self._log.error("cannot embed on import ({}); import goes on", error)
            return
        self._report_task(task, summary)
        if summary.interrupted:  # Ctrl-C: what is done is stored; stop the import too
            raise KeyboardInterrupt

    def import_begin(self, session) -> None:
        """``import_begin``: start counting this import's embedding."""
        from .importer import Summary

        self._import_summary = Summary()

    def _report_task(self, task, summary: Summary) -> None:
        """One line per import task that embedded or failed something, printed as beets prints
        its own import progress (visible without ``-v``: import stages log only warnings)."""
        if self._import_summary is not None:
            self._import_summary.add(summary)
        if not (summary.embedded or summary.failed):
            return
        where = util.displayable_path(task.paths[0]) if task.paths else "?"
        text = f"deejai: {where}: {summary.counts()}"
        if self._import_summary is not None:
            text += f" ({self._import_summary.embedded} embedded so far)"
        ui.print_(text)

    def import_end(self, lib, paths) -> None:
        """``import`` (``beet import`` is done): the whole import's embedding summary."""
        summary, self._import_summary = self._import_summary, None
        if summary is not None and (summary.embedded or summary.failed or summary.failed_before):
            ui.print_(f"deejai: import: {summary.line().removeprefix('deejai: ')}")

    # -- commands ----------------------------------------------------------------------------
    def commands(self):
        from .commands import make_command

        return [make_command(self.session)]


__all__ = ["DeejaiPlugin"]
