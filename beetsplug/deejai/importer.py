"""Embedding library items: the model handle, the resumable batch loop, progress on stderr,
and a trained head's rows derived from stored base slices.

TensorFlow (through ``deejai_model.ears.bundle``/``embed``) is imported only when something is
actually embedded: :class:`ModelHandle` reads the model id and the manifest from the bundle's
``manifest.json``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from deejai_model.ears.manifest import Manifest, read_manifest

from .store import SliceRow, VectorStore, file_mtime, file_size

if TYPE_CHECKING:
    from beets.library import Item

    from .config import Settings


#: Embedders already built in this process, by (bundle path, model id, max_slices, workers,
#: batch_size): a second plugin instance (tests, a long-lived process) does not rebuild the network.
_EMBEDDERS: dict[tuple, object] = {}


class ModelHandle:
    """The configured model bundle: its id (cheap) and an embedder (loads TensorFlow).

    Parameters
    ----------
    settings : Settings
        ``settings.model`` is the bundle directory (``""``: the bundle shipped with the library).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._path: str | None = settings.model or None
        self._manifest: Manifest | None = None
        self._embedder = None

    @property
    def path(self) -> str:
        """The bundle directory."""
        if self._path is None:
            from deejai_model.ears.shipped import default_bundle_path

            self._path = os.fspath(default_bundle_path())
        return self._path

    @property
    def model_id(self) -> str:
        """``"<name>@<version>:<sha256[:12]>"`` from the manifest, without loading weights.

        Raises
        ------
        BundleError
            When the folder holds no valid manifest.
        """
        return self.manifest.model_id

    @property
    def manifest(self) -> Manifest:
        """The bundle's validated :class:`~deejai_model.ears.manifest.Manifest` (JSON only).

        Raises
        ------
        BundleError
            When the folder holds no valid manifest.
        """
        if self._manifest is None:
            self._manifest = read_manifest(self.path)
        return self._manifest

    def base(self) -> ModelHandle:
        """The handle of the model whose slice vectors this one reads: a trained head's base
        bundle (:func:`deejai_model.ears.head_bundle.resolve_base`), else this handle itself.

        Raises
        ------
        BundleError
            When the manifest is invalid or the head's base bundle is not found.
        """
        if self.manifest.architecture != "head":
            return self
        from pathlib import Path

        from deejai_model.ears.head_bundle import resolve_base

        base_path = resolve_base(self.manifest, Path(self.path))
        return ModelHandle(dataclasses.replace(self.settings, model=os.fspath(base_path)))

    def bundle(self):
        """The loaded :class:`deejai_model.ears.loaded_bundle.Bundle`."""
        return self.embedder().bundle if self._embedder is not None else self._load_bundle()

    def _load_bundle(self):
        from deejai_model.ears.bundle import load_bundle

        return load_bundle(self.path)

    def embedder(self):
        """A :class:`deejai_model.ears.embed.Embedder` for this bundle (created once), or, with
        ``deejai.dask`` set, a :class:`beetsplug.deejai.cluster.ClusterEmbedder`."""
        if self.settings.dask:
            from .cluster import cluster_embedder

            return cluster_embedder(self)
        if self._embedder is None:
            from deejai_model.ears.embed import Embedder

            s = self.settings
            key = (os.path.realpath(self.path), self.model_id)
            key += (s.max_slices, s.workers, s.batch_size)
            if key in _EMBEDDERS:
                self._embedder = _EMBEDDERS[key]
                return self._embedder
            bundle = self._load_bundle()
            self._embedder = Embedder(
                bundle,
                max_slices=self.settings.max_slices,
                workers=self.settings.workers,
                batch_size=self.settings.batch_size,
            )
            _EMBEDDERS[key] = self._embedder
        return self._embedder


@dataclass
class Summary:
    """Counts of one embedding run.

    ``failed`` counts the files that failed in this run, ``failed_before`` the unchanged files
    that were not tried again because they failed before (their reason is in the store).
    """

    embedded: int = 0
    skipped: int = 0
    failed: int = 0
    failed_before: int = 0
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)

    def add(self, other: Summary) -> None:
        """Add the counts (and errors) of ``other`` to these (a whole import's summary)."""
        self.embedded += other.embedded
        self.skipped += other.skipped
        self.failed += other.failed
        self.failed_before += other.failed_before
        self.interrupted = self.interrupted or other.interrupted
        self.errors += other.errors

    def counts(self) -> str:
        """``"10 embedded, 2 skipped, 1 failed"``."""
        return f"{self.embedded} embedded, {self.skipped} skipped, {self.failed} failed"

    def line(self) -> str:
        """One-line report, e.g. ``"deejai: 10 embedded, 2 skipped, 1 failed"``."""
        text = f"deejai: {self.counts()}"
        if self.failed_before:
            text += (
                f", {self.failed_before} failed before and unchanged "
                "(`beet deejai embed --retry-failed` tries them again)"
            )
        if self.interrupted:
            text += " (interrupted: run `beet deejai embed` again to resume)"
        return text


class Progress:
    """``done/total, rate, ETA`` on a stream: one ``\\r`` line on a terminal, else a few lines.

    Parameters
    ----------
    total : int
        Items to do.
    stream : file, optional
        Default ``sys.stderr``.
    """

    def __init__(self, total: int, stream=None):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.done = 0
        self._every = max(1, total // 10)

    def text(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = "?" if left != left else time.strftime("%H:%M:%S", time.gmtime(left))
        return f"deejai: {self.done}/{self.total} items, {rate:.2f} items/s, ETA {eta}"

    def step(self, n: int = 1) -> None:
        """Count ``n`` more items done and redraw."""
        self.done += n
        if self.tty:
            self.stream.write("\r" + self.text() + "\x1b[K")
            self.stream.flush()
        elif self.done % self._every == 0 or self.done == self.total:
            self.stream.write(self.text() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()


#: An item's vectors for a model: made from the file as it is now, from an older file, none.
CURRENT, STALE, MISSING = "yes", "stale", "no"
#: No current vectors, and the file as it is now failed to embed (the reason is in the store).
FAILED = "failed"


def vector_states(
    items: Sequence[Item], store: VectorStore, model_id: str
) -> list[tuple[str, float]]:
    """``(state, file mtime)`` of each item: :data:`CURRENT`, :data:`STALE`, :data:`MISSING`
    or :data:`FAILED`.

    An item's vectors are current when its row for ``model_id`` was made from a file with the
    file's present mtime; an item without current vectors whose file, as it is now, failed to
    embed is :data:`FAILED`.
    """
    few = [item.id for item in items] if len(items) <= 2000 else None  # an import task
    stored = store.embedded_state(model_id, few)
    failures = store.failures(few)
    states = []
    for item in items:
        mtime = file_mtime(item.path)
        if item.id in stored and stored[item.id] == mtime:
            states.append((CURRENT, mtime))
        elif item.id in failures and failures[item.id][0] == mtime:
            states.append((FAILED, mtime))
        else:
            states.append((MISSING if item.id not in stored else STALE, mtime))
    return states


@dataclass
class Plan:
    """What an embedding run would do (:func:`plan_embedding`).

    Attributes
    ----------
    todo : dict
        ``{path: (item, mtime)}`` to embed.
    skipped : int
        Items not embedded: current vectors (unless forced), every item but the first on one
        file (the file is embedded once), and the adoptable ones.
    adoptable : list of Item
        Items whose row was made from another path, with this file's mtime and size: the same
        file moved behind the plugin's back; the row can follow it without decoding.
    failed_before : int
        Unchanged files that failed before and are not tried again (not counted in
        ``skipped``).
    """

    todo: dict[str, tuple[Item, float]]
    skipped: int = 0
    adoptable: list[Item] = field(default_factory=list)
    failed_before: int = 0


def plan_embedding(
    items: Sequence[Item],
    store: VectorStore,
    model_id: str,
    *,
    force: bool = False,
    retry_failed: bool = False,
) -> Plan:
    """What an embedding run would do, without writing anything.

    An item is embedded when it has no current vectors of ``model_id`` and its file, as it is
    now, did not fail before (unless ``retry_failed``); with ``force`` every item is; an item
    left over by an interrupted forced run (:meth:`VectorStore.redo`) is too.
    """
    plan = Plan(todo={})
    todo = plan.todo
    redo = store.redo(model_id) if not force else set()
    for item, (state, mtime) in zip(items, vector_states(items, store, model_id), strict=True):
        path = os.fsdecode(item.path)
        if path in todo:
            plan.skipped += 1
        elif state == FAILED and not (force or retry_failed):
            plan.failed_before += 1
        elif state == CURRENT and not force and item.id not in redo:
            plan.skipped += 1
        else:
            todo[path] = (item, mtime)
    if todo and not force:  # rows made from another path: the same file moved, or a reused id
        strays = store.strays(model_id, [item.id for item, _ in todo.values()])
        for path, (item, mtime) in list(todo.items()):
            if item.id in strays and strays[item.id] == (mtime, file_size(item.path)):
                plan.adoptable.append(item)
                plan.skipped += 1
                del todo[path]
    return plan


def embed_items(
    items: Sequence[Item],
    store: VectorStore,
    *,
    model: ModelHandle,
    settings: Settings,
    log,
    force: bool = False,
    retry_failed: bool = False,
    progress: bool = False,
) -> Summary:
    """Embed the items that need it and store whole rows, committing every few items.

    An item is skipped when it has a row for the configured model made from a file with the
    same mtime (unless ``force``), or when its unchanged file failed before (unless
    ``retry_failed`` or ``force``).  A file that cannot be decoded costs one warning line, its
    failure is recorded (:meth:`VectorStore.record_failures`), and the run goes on.  Ctrl-C
    (``KeyboardInterrupt``) stops the run after committing what is done; the summary says so.
    A forced run first notes every item it will embed (:meth:`VectorStore.mark_redo`), so an
    interrupted one is finished by the next plain run.

    Parameters
    ----------
    items : sequence of beets.library.Item
        Library items (with ids).
    progress : bool
        Show progress on stderr.

    Returns
    -------
    Summary
    """
    from deejai_model.errors import AudioError

    summary = Summary()
    model_id = model.model_id
    plan = plan_embedding(items, store, model_id, force=force, retry_failed=retry_failed)
    todo = plan.todo
    summary.skipped, summary.failed_before = plan.skipped, plan.failed_before
    for item in plan.adoptable:  # rows made from another path with this file's mtime and size
        store.adopt(item.id, model_id, item.path)
    if not todo:
        return summary
    if force:
        store.mark_redo(model_id, [item.id for item, _ in todo.values()])

    meter = None
    pending: list[SliceRow] = []
    failures: list[tuple[int, bytes, float, str]] = []

    def commit() -> None:
        """Store what is pending: rows, and the failures (each write whole or not at all)."""
        nonlocal pending, failures
        if failures:
            store.record_failures(failures)
            failures = []
        if pending:
            summary.embedded += store.put(model_id, pending)
            pending = []

    def settle(path: str, result) -> None:
        """The one place an item's result (its vectors, or why it has none) is handled."""
        item, mtime = todo[path]
        if isinstance(result, AudioError):
            summary.failed += 1
            summary.errors.append(str(result))
            failures.append((item.id, item.path, mtime, result.reason))
            log.warning("cannot embed {}", result)
        else:
            pending.append(
                SliceRow(
                    item_id=item.id,
                    path=item.path,
                    mtime=mtime,
                    duration=result.duration,
                    slices=result.vectors,
                    starts=result.starts,
                    padded=result.padded,
                    size=file_size(item.path),
                )
            )
        if len(pending) + len(failures) >= settings.commit_every:
            commit()
        if meter is not None:
            meter.step()

    try:  # from the model's loading on: a Ctrl-C anywhere ends as "interrupted", never silently
        embedder = model.embedder()  # loads the network before the clock starts
        meter = Progress(len(todo)) if progress else None
        for path, result in embedder.embed_paths(list(todo)):
            settle(path, result)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        commit()
        if meter is not None:
            meter.close()
    return summary


def apply_head(
    store: VectorStore, head, base_id: str, *, item_ids: Sequence[int] | None = None
) -> int:
    """Store a trained head's rows for items that have ``base_id`` slices, computed from those
    slices (no decoding); items whose head row is current (same file mtime) are left alone.

    Parameters
    ----------
    head : deejai_model.ears.loaded_bundle.Bundle
        The loaded head bundle (its ``apply`` maps ``(n_slices, base_dim)`` base slices to
        ``(n_slices, dim)`` head slices).
    base_id : str
        The base model's id.
    item_ids : sequence of int, optional
        Only these items (default: every item with base slices).

    Returns
    -------
    int
        Items written.
    """
    current = store.embedded_state(head.model_id, item_ids)
    todo = [r for r in store.rows(base_id, item_ids) if current.get(r.item_id) != r.mtime]
    done = 0
    for start in range(0, len(todo), 256):
        batch = [
            dataclasses.replace(row, slices=head.apply(row.slices))
            for row in todo[start : start + 256]
        ]
        done += store.put(head.model_id, batch)
    return done
