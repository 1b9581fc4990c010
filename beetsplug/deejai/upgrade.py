"""When the shipped default ears change: a library embedded with an earlier default keeps working.

A new default model has a new model id (``name@version:sha12``), and vectors of different models
never mix.  Until ``beet deejai embed`` has given the library's items vectors of the new default,
a user who never set ``deejai.model`` would find queries answered from the few items embedded
since (or not at all).  So, when ``deejai.model`` is unset (the shipped default is in use):

* queries (similar, journey, playlist, mix, serve, radio, index) use the vectors and the index of
  whichever of the current default and the earlier defaults (:data:`EARLIER_DEFAULTS`) covers more
  of the library's items; ties go to the current default.  One query uses one model id;
* when an earlier default is used, the command logs one line saying so and that
  ``beet deejai embed`` brings the library up to date;
* the import stage and ``embed`` always embed with the current default;
* an earlier default's rows are kept while queries may use them, and deleted at the end of an
  ``embed`` run once the current default covers at least as many items (only rows of items that
  have rows of the current default: :func:`retire_earlier`).

A user who set ``deejai.model`` gets exactly that model: no fallback, nothing deleted.

Nothing here imports numpy or TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beets.ui import UserError

if TYPE_CHECKING:
    from .config import Settings
    from .importer import ModelHandle
    from .store import VectorStore

#: Model ids of the earlier shipped defaults, newest first (documented in docs/plugin.md, "When
#: the default model changes").  An entry equal to the current default is ignored, so the list
#: may name today's default ahead of the change that replaces it.
EARLIER_DEFAULTS: tuple[str, ...] = ("musicnn-mtt@0.1.0:959544c49989",)


@dataclass(frozen=True)
class QueryModel:
    """Which model's vectors a query uses, and why.

    Attributes
    ----------
    model_id : str
        The model whose vectors and index the query uses.
    current_id : str
        The configured model (the shipped default when ``deejai.model`` is unset).
    fingerprint : dict
        ``store.fingerprint(model_id)`` when it was chosen (its ``count``: library items with
        vectors of ``model_id``); handed to ``load_index`` so that it is not counted twice.
    total : int
        Items in the library.
    """

    model_id: str
    current_id: str
    fingerprint: dict[str, int]
    total: int

    @property
    def covered(self) -> int:
        """Library items with vectors of :attr:`model_id`."""
        return self.fingerprint["count"]

    @property
    def earlier(self) -> bool:
        """True when the query uses an earlier default's vectors."""
        return self.model_id != self.current_id

    def notice(self) -> str:
        """The one line that tells the user (beets' log adds the ``deejai:`` prefix)."""
        old, new = display_names(self.model_id, self.current_id)
        return (
            f"{self.covered} of {self.total} items were embedded by {old}, an earlier default; "
            f"`beet deejai embed` brings them up to date ({new})"
        )


def display_names(*model_ids: str) -> list[str]:
    """``name@version`` of each model id, or the whole id where two would read the same."""
    short = [model_id.split(":", 1)[0] for model_id in model_ids]
    if len(set(short)) == len(short):
        return short
    return list(model_ids)


def earlier_defaults(current_id: str) -> list[str]:
    """:data:`EARLIER_DEFAULTS` without the current default, newest first."""
    return [model_id for model_id in EARLIER_DEFAULTS if model_id != current_id]


def library_size(store: VectorStore) -> int:
    """Items in the library."""
    with store.lib.transaction() as tx:
        return int(tx.query("SELECT COUNT(*) FROM items")[0][0])


def choose_model(store: VectorStore, settings: Settings, current_id: str) -> QueryModel:
    """The model whose vectors queries use (see the module's docstring).

    Costs one count of the library's items beyond what the index check costs anyway, unless
    an earlier default may cover more (its rows are counted only when it wrote some here and
    the current default does not cover every item).

    Parameters
    ----------
    current_id : str
        The configured model's id (``ModelHandle.model_id``).
    """
    best_id, best = current_id, store.fingerprint(current_id)
    total = library_size(store)
    if not settings.model and best["count"] < total:  # an earlier default may cover more
        for model_id in earlier_defaults(current_id):
            if store.generation(model_id) == 0:  # never embedded into this library
                continue
            fingerprint = store.fingerprint(model_id)
            if fingerprint["count"] > best["count"]:
                best_id, best = model_id, fingerprint
    return QueryModel(best_id, current_id, best, total)


def model_handle(settings: Settings, current: ModelHandle, model_id: str) -> ModelHandle:
    """A handle on ``model_id``'s bundle, to embed a file outside the library as the index's
    items were embedded: ``current`` itself, or an earlier default's shipped bundle.

    Raises
    ------
    UserError
        When the earlier default's bundle no longer ships.
    """
    if model_id == current.model_id:
        return current
    from deejai_model.ears.shipped import bundle_by_id

    from .importer import ModelHandle

    path = bundle_by_id(model_id)
    if path is None:
        raise UserError(
            f"deejai: a file outside the library cannot be compared with items embedded by "
            f"{model_id} (an earlier default that is no longer installed): run `beet deejai embed`"
        )
    return ModelHandle(dataclasses.replace(settings, model=os.fspath(path)))


def earlier_items(store: VectorStore, settings: Settings, current_id: str) -> set[int]:
    """Ids of library items with vectors of an earlier default (none when ``deejai.model`` is
    set: then earlier defaults are not this library's concern)."""
    if settings.model:
        return set()
    found: set[int] = set()
    for model_id in earlier_defaults(current_id):
        found.update(store.item_ids(model_id))
    return found


def retire_earlier(
    store: VectorStore, *, settings: Settings, current_id: str, index_dir: str, log
) -> int:
    """Delete earlier defaults' rows that queries will no longer use; returns how many.

    Only when ``deejai.model`` is unset and the current default covers at least as many items
    as each earlier default; then an earlier default's rows of items that have rows of the
    current default go (an item whose new embedding failed keeps its old row), and its index
    files go with its last row.  Called at the end of a completed ``embed`` run.
    """
    if settings.model:
        return 0
    from .index import IndexPaths

    current = store.fingerprint(current_id)["count"]
    have_current = store.item_ids(current_id)
    deleted = 0
    for model_id in earlier_defaults(current_id):
        covered = store.fingerprint(model_id)["count"]
        if covered == 0 or covered > current:
            continue
        gone = store.delete_model_rows(model_id, have_current)
        deleted += gone
        old, new = display_names(model_id, current_id)
        log.info("dropped {} rows of {} (an earlier default): their items have {}", gone, old, new)
        if store.fingerprint(model_id)["count"] == 0:
            paths = IndexPaths(index_dir, model_id, store.lib.path)
            for path in [*paths.data_files().values(), paths.meta]:
                if os.path.exists(path):
                    os.unlink(path)
    return deleted
