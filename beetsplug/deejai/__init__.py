"""deejai: a beets plugin that listens to your music and makes playlists from what it hears.

Importing this package is cheap: it needs beets and confuse only.  numpy and the index are
imported by the commands that use them, TensorFlow (through ``deejai_model.bundle``/``embed``)
only when audio is actually embedded.  See docs/plugin.md.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import config as beets_config
from beets.plugins import BeetsPlugin

from .config import DEFAULTS, Settings

if TYPE_CHECKING:
    from beets.library import Item, Library

    from .importer import ModelHandle
    from .store import VectorStore


class DeejaiPlugin(BeetsPlugin):
    """Embeds tracks with a CNN (on import or on demand) and answers playlist queries."""

    def __init__(self, name: str | None = None):
        super().__init__(name or "deejai")
        self.config.add(DEFAULTS)
        self._store: VectorStore | None = None
        self._model: ModelHandle | None = None
        self._model_failed = False
        self._import_mtimes: dict[int, tuple[str, float]] = {}
        self.register_listener("item_removed", self.item_removed)
        self.register_listener("item_moved", self.item_moved)
        self.register_listener("database_change", self.database_change)
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]
            self.register_listener("import_task_files", self.import_task_files)

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

    def model(self) -> ModelHandle:
        """The configured model bundle (TensorFlow is loaded only when it embeds)."""
        from .importer import ModelHandle

        settings = self.settings
        if self._model is None or self._model.settings != settings:
            self._model = ModelHandle(settings)
        return self._model

    def index_dir(self, lib: Library) -> str:
        """Folder of the index files: beside the library database."""
        path = os.fsdecode(lib.path) if lib.path else ":memory:"
        if path == ":memory:":
            return beets_config.config_dir()
        return os.path.dirname(os.path.abspath(path))

    # -- events ------------------------------------------------------------------------------
    def item_removed(self, item: Item) -> None:
        """Delete the item's vector rows (this also makes the index stale)."""
        lib = getattr(item, "db", None) or getattr(item, "_db", None)
        if lib is not None and item.id is not None:
            self.store(lib).delete_items([item.id])

    def item_moved(self, item: Item, source: bytes, destination: bytes) -> None:
        """Record the new path (the vectors do not depend on where the file is)."""
        lib = getattr(item, "db", None) or getattr(item, "_db", None)
        if lib is not None and item.id is not None:
            self.store(lib).update_path(item.id, destination)

    def database_change(self, lib: Library, model) -> None:
        """Keep the stored path in step with the item (``beet mv``, ``beet modify`` ...)."""
        from beets.library import Item

        if isinstance(model, Item) and model.id is not None and model.path:
            self.store(lib).update_path(model.id, model.path)

    # -- import ------------------------------------------------------------------------------
    def imported(self, session, task) -> None:
        """Import stage: embed the task's items (a bad file warns; the import goes on)."""
        if self._model_failed:
            return
        from .importer import embed_items
        from .store import file_mtime

        items = [item for item in task.imported_items() if item.id is not None]
        if not items:
            return
        before = {item.id: file_mtime(item.path) for item in items}
        try:
            model = self.model()
            summary = embed_items(items, self.store(session.lib), model, self.settings, self._log)
        except Exception as error:  # no model, no TensorFlow...: tell once, keep importing
            self._model_failed = True
            self._log.error("cannot embed on import ({}); import goes on", error)
            return
        self._log.debug("{}", summary.line())
        for item_id, mtime in before.items():
            self._import_mtimes[item_id] = (model.model_id, mtime)
        if summary.interrupted:  # Ctrl-C: what is done is stored; stop the import too
            raise KeyboardInterrupt

    def import_task_files(self, session, task) -> None:
        """After beets copied, moved or retagged the task's files: record their final path and
        mtime, so that the next ``embed`` does not take them for changed files."""
        from .store import file_mtime

        store = self.store(session.lib)
        for item in task.imported_items():
            embedded = self._import_mtimes.pop(item.id, None)
            if embedded is not None:
                model_id, mtime = embedded
                store.refresh_file(item.id, model_id, item.path, file_mtime(item.path), mtime)

    # -- commands ----------------------------------------------------------------------------
    def commands(self):
        from .commands import make_command

        return [make_command(self)]


__all__ = ["DeejaiPlugin"]
