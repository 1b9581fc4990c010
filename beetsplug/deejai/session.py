"""One library session: what every front end asks of the library.

The command line (``commands.py``), the web DJ (``web/``), the radio (``radio.py``), the mix
(``mix.py``) and ``train`` all go through a :class:`LibrarySession`, along the pipeline:

seeds (queries or files) -> items -> vectors (the store, the model) -> the index -> lists.

It chooses the query's model once (:mod:`.upgrade`), loads (or rebuilds) its index once, and is
the one place that embeds a file outside the library.  It prints nothing: front ends do the
output.  Nothing here imports TensorFlow unless a file outside the library is embedded (or
``embed`` runs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beets import util
from beets.ui import UserError

from .importer import CURRENT, FAILED, MISSING, STALE

if TYPE_CHECKING:
    import numpy as np
    from beets.library import Item, Library

    from deejai_model.ears.manifest import Manifest
    from deejai_model.lists.dj import DjSession
    from deejai_model.lists.playlists import Neighbour, ScoreTransform
    from deejai_model.lists.spacing import Spacer

    from .config import ListSettings, Settings
    from .importer import ModelHandle, Summary
    from .index import TrackIndex
    from .store import VectorStore
    from .upgrade import QueryModel

__all__ = ["CURRENT", "FAILED", "MISSING", "STALE", "LibrarySession", "Listening", "Seed"]


@dataclass
class Seed:
    """A starting point: a library item, or a file outside the library.

    Attributes
    ----------
    key : int
        The item id, or a negative number for an outside file.
    vector : np.ndarray
        ``(dim,)`` unit vector, made like the index's.
    item : Item or None
        The library item (None for an outside file).
    label : str
        How to name it in messages.
    """

    key: int
    vector: np.ndarray
    item: Item | None
    label: str


@dataclass
class Listening:
    """How one list listens back (docs/lists.md): its spacing, what it keeps out, the skips.

    Attributes
    ----------
    spacer : Spacer or None
        Artist / album spacing and the same song twice (None: none).
    exclude : set of int
        Items never picked (``--fresh``: played lately).
    shares : dict
        Item id -> skip share (:func:`deejai_model.lists.history.skip_shares`).
    skip_weight : float
        Cosine an always-skipped item loses.
    """

    spacer: Spacer | None
    exclude: set[int]
    shares: dict[int, float]
    skip_weight: float

    def transform(self, base: ScoreTransform | None) -> ScoreTransform | None:
        """``base`` with the skips' penalty after it (``base`` itself when nothing was
        skipped: an unplayed library ranks as without history)."""
        if not self.shares or self.skip_weight <= 0:
            return base
        from deejai_model.lists.history import HistoryTransform

        return HistoryTransform(self.shares, self.skip_weight, base)


class LibrarySession:
    """A beets library as the plugin's front ends use it (one per command or server).

    Parameters
    ----------
    lib : Library
        The beets library.
    settings : Settings
        The validated ``deejai:`` configuration.
    model : ModelHandle
        The configured model (cheap until something is embedded).
    open_store : callable
        ``open_store() -> VectorStore``; called on first use (it may create the tables).
    index_dir : str
        Folder of the index files (beside the library database).
    log : logger
        beets' logger of the plugin.
    """

    def __init__(
        self,
        lib: Library,
        *,
        settings: Settings,
        model: ModelHandle,
        open_store: Callable[[], VectorStore],
        index_dir: str,
        log,
    ):
        self.lib = lib
        self.settings = settings
        self.model = model
        self.index_dir = index_dir
        self.log = log
        self._open_store = open_store
        self._store: VectorStore | None = None
        self._index: TrackIndex | None = None
        self._query: QueryModel | None = None
        self._outside = 0
        self._outside_items: dict[int, Item] = {}  # by (negative) seed key
        #: ``(library state, tags)``: every item's tags for spacing, read again only when the
        #: library changed (:meth:`_library_tags`); a server asks for them on every list.
        self._tags: tuple[tuple[int, int], dict] | None = None

    # -- vectors ---------------------------------------------------------------------------
    @property
    def store(self) -> VectorStore:
        """The library's vector tables."""
        if self._store is None:
            self._store = self._open_store()
        return self._store

    @property
    def track2vec_base(self) -> str:
        """Where Track2Vec is saved and read: ``deejai.track2vec``, or beside the library."""
        return self.settings.track2vec or os.path.join(self.index_dir, "deejai.track2vec")

    def embed(
        self,
        items: Sequence[Item],
        *,
        force: bool = False,
        retry_failed: bool = False,
        progress: bool = False,
    ) -> Summary:
        """``beet deejai embed``: give ``items`` vectors of the configured model.

        Drops rows of items no longer in the library, derives a trained head's rows from stored
        base slices where it can (not with ``force``), then embeds the rest.  It retires
        nothing: after a completed run the caller calls :meth:`retire_earlier` (``beet deejai
        embed`` does).  ``KeyboardInterrupt`` propagates; the summary says when the embedding
        loop itself was cut short.  Unchanged files that failed before are tried again only
        with ``retry_failed`` (or ``force``).
        """
        from .importer import embed_items

        pruned = self.store.prune_orphans()
        if pruned:
            self.log.info("dropped {} rows of items no longer in the library", pruned)
        self._apply_stored(items, force=force)
        return embed_items(
            items,
            self.store,
            model=self.model,
            settings=self.settings,
            log=self.log,
            force=force,
            retry_failed=retry_failed,
            progress=progress,
        )

    def retire_earlier(self) -> int:
        """Delete an earlier default's rows that queries no longer use
        (:func:`.upgrade.retire_earlier`); returns how many."""
        from .upgrade import retire_earlier

        return retire_earlier(
            self.store,
            settings=self.settings,
            current_id=self.model.model_id,
            index_dir=self.index_dir,
            log=self.log,
        )

    def embedding_plan(
        self, items: Sequence[Item], *, force: bool = False, retry_failed: bool = False
    ) -> tuple[list[Item], int]:
        """What :meth:`embed` would embed, writing nothing (``embed --pretend``): the items it
        would decode, and how many it would skip, failed files not tried again included (reads
        the manifest only)."""
        from .importer import plan_embedding

        plan = plan_embedding(
            items, self.store, self.model.model_id, force=force, retry_failed=retry_failed
        )
        return [item for item, _ in plan.todo.values()], plan.skipped + plan.failed_before

    def failure_reasons(self, items: Sequence[Item]) -> dict[int, str]:
        """``{item_id: reason}`` of the items whose file, as it is now, failed to embed."""
        from .store import file_mtime

        failures = self.store.failures([item.id for item in items])
        return {
            item.id: failures[item.id][1]
            for item in items
            if item.id in failures and failures[item.id][0] == file_mtime(item.path)
        }

    def _apply_stored(self, items: Sequence[Item], *, force: bool) -> int:
        """With a trained head configured: give ``items`` the head's rows from their stored base
        slices, so only items without base slices are decoded (not with ``force``, which
        decodes everything again).  Returns the items written."""
        from .importer import apply_head

        if force or not items:
            return 0
        base = self.model.base()
        if base is self.model:
            return 0
        head = self.model.bundle()
        done = apply_head(self.store, head, base.model_id, item_ids=[item.id for item in items])
        if done:
            self.log.info("{} items got {} vectors from stored slices", done, self.model.model_id)
        return done

    def vector_states(self, items: Sequence[Item]) -> list[tuple[str, bool]]:
        """``(state, earlier)`` of each item's vectors of the configured model: ``state`` is
        :data:`CURRENT`, :data:`STALE`, :data:`MISSING` or :data:`FAILED` (the file failed to
        embed: :meth:`failure_reasons`); an item with vectors of an earlier default only is
        :data:`STALE` with ``earlier`` True (:mod:`.upgrade`)."""
        from .importer import vector_states
        from .upgrade import earlier_items

        model_id = self.model.model_id
        earlier = earlier_items(self.store, self.settings, model_id)
        out = []
        for item, (state, _) in zip(items, vector_states(items, self.store, model_id), strict=True):
            if state in (MISSING, FAILED) and item.id in earlier:
                out.append((STALE, True))
            else:
                out.append((state, False))
        return out

    # -- the index -------------------------------------------------------------------------
    def query_model_id(self) -> str:
        """The model whose vectors queries use: the configured one, or an earlier default that
        covers more of the library (:mod:`.upgrade`; said in one log line)."""
        if self._query is None:
            from .upgrade import choose_model

            self._query = choose_model(self.store, self.settings, self.model.model_id)
            if self._query.earlier:
                self.log.warning("{}", self._query.notice())
        return self._query.model_id

    def query_model(self) -> ModelHandle:
        """The :class:`ModelHandle` of :meth:`query_model_id` (to embed outside files)."""
        from .upgrade import model_handle

        return model_handle(self.settings, self.model, self.query_model_id())

    def query_manifest(self) -> Manifest:
        """The manifest of :meth:`query_model`'s bundle (an earlier default's, maybe), or the
        configured model's when that earlier default no longer ships (JSON only: nothing
        heavy is loaded)."""
        try:
            handle = self.query_model()
        except UserError:  # an earlier default that is no longer installed
            handle = self.model
        return handle.manifest

    def index(self) -> TrackIndex:
        """The current index (rebuilt first when the library's vectors changed).

        Raises
        ------
        UserError
            When no item has vectors of the query's model.
        """
        if self._index is None:
            from .index import load_index

            model_id = self.query_model_id()
            assert self._query is not None
            index = load_index(
                self.store,
                model_id,
                settings=self.settings,
                directory=self.index_dir,
                log=self.log,
                fingerprint=self._query.fingerprint,
            )
            if len(index) == 0:
                raise UserError(
                    f"deejai: no item has vectors of model {model_id} yet: "
                    "run `beet deejai embed` first"
                )
            self._index = index
        return self._index

    def rebuild_index(self) -> TrackIndex:
        """``beet deejai index``: build the query model's index now, stale or not."""
        from .index import build_index

        self._index = build_index(
            self.store,
            self.query_model_id(),
            settings=self.settings,
            directory=self.index_dir,
            log=self.log,
        )
        return self._index

    # -- seeds -----------------------------------------------------------------------------
    def lookup(self, terms: str | list[str]) -> Item | str:
        """The item a seed names, or the path of a file outside the library (nothing is
        embedded: :meth:`seed` does that).

        ``terms`` is one query, as ``beet ls`` gets its arguments: a list of terms, or one
        string that is one term (one command-line argument; beets does not split either
        again).  A lone term that names an existing file is that file.  A query that matches
        several items uses the first (in the library's default order) and warns how many
        matched.
        """
        from .output import item_line

        terms = [terms] if isinstance(terms, str) else list(terms)
        text = " ".join(terms)
        if len(terms) == 1 and os.path.isfile(util.syspath(terms[0])):
            from beets.dbcore.query import PathQuery

            path = util.normpath(terms[0])
            items = list(self.lib.items(PathQuery("path", path)))
            if not items:
                return os.fsdecode(path)
        else:
            items = list(self.lib.items(terms))
        if not items:
            raise UserError(f"deejai: no item matches {text!r}")
        item = items[0]
        if len(items) > 1:
            self.log.warning(
                "{} items match {!r}; using the first: {}", len(items), text, item_line(item)
            )
        return item

    def seed(self, terms: str | list[str]) -> Seed:
        """Resolve one seed (see :meth:`lookup`) to its vector; a file outside the library is
        embedded on the fly and kept as an unstored item for the output."""
        from deejai_model.errors import AudioError

        from .output import item_line, outside_item

        item = self.lookup(terms)
        if isinstance(item, str):
            index = self.index()
            self.log.info("{} is not in the library; embedding it", item)
            try:
                vector = index.track_vector(self.embed_outside(item))
            except AudioError as error:
                raise UserError(f"deejai: cannot embed {error}") from error
            self._outside += 1
            seed = Seed(-self._outside, vector, None, item)
            self._outside_items[seed.key] = outside_item(os.fsencode(item))
            return seed
        index = self.index()
        vectors = index.vectors_by_id()
        if item.id not in vectors:
            failed = self.failure_reasons([item]).get(item.id)
            if failed is not None:
                raise UserError(
                    f"deejai: {item_line(item)} has no vectors: its file could not be embedded "
                    f"({failed}); `beet deejai embed --retry-failed` tries it again"
                )
            raise UserError(
                f"deejai: {item_line(item)} has no vectors of model {index.model_id}: "
                "run `beet deejai embed`"
            )
        return Seed(item.id, vectors[item.id], item, item_line(item))

    def embed_outside(self, path: str) -> np.ndarray:
        """Raw slice vectors of a file that is not in the library, by the index's model (this
        loads TensorFlow): ``(n_slices, model_dim)``; :meth:`TrackIndex.track_vector` pools
        them exactly as the library's items were pooled.

        Raises
        ------
        UserError
            When the index's model (an earlier default) is no longer installed.
        deejai_model.errors.AudioError
            When the file cannot be decoded.
        """
        return self.query_model().embedder().embed_path(path).vectors

    # -- lists -----------------------------------------------------------------------------
    def _space(self, creativity: float | None, seeds: dict[int, np.ndarray]):
        """``(search, vectors_by_id, score_transform)`` of a query: the index's, or with a
        ``creativity`` (``--creativity``) the blend with Track2Vec (:mod:`.creativity`).

        ``seeds`` maps seed keys to vectors; the negative keys (files outside the library)
        join the vectors."""
        index = self.index()
        outside = {key: vector for key, vector in seeds.items() if key < 0}
        if creativity is None:
            return index.search(), index.vectors_by_id(outside), index.score_transform()
        from .creativity import blended_space

        return blended_space(
            index,
            creativity,
            outside,
            lib=self.lib,
            track2vec_base=self.track2vec_base,
            log=self.log,
        )

    def list_settings(self) -> ListSettings:
        """``deejai.lists`` (a mistake in it is a :class:`UserError`)."""
        import confuse

        try:
            return self.settings.lists
        except confuse.ConfigError as error:
            raise UserError(f"deejai: {error}") from error

    def listening(
        self,
        *,
        artist_gap: int | None = None,
        album_max: int | None = None,
        album_window: int | None = None,
        fresh_days: float | None = None,
    ) -> Listening:
        """The :class:`Listening` of a list: ``deejai.lists`` with the command's overrides.

        ``album_window`` counts the album cap over a list's last tracks (the radio, the DJ
        page); ``fresh_days`` keeps out what was played within that many days.
        """
        from deejai_model.lists.history import skip_shares
        from deejai_model.lists.spacing import Spacer

        from .listening import play_history

        lists = self.list_settings()
        gap = lists.artist_gap if artist_gap is None else artist_gap
        cap = lists.album_max if album_max is None else album_max
        if gap < 0 or cap < 0 or (fresh_days is not None and fresh_days < 0):
            raise UserError("deejai: the artist gap, the album cap and --fresh must be >= 0")
        spacer = None
        if gap > 1 or cap > 0 or lists.same_title:
            spacer = Spacer(
                self._library_tags(),
                artist_gap=gap,
                album_max=cap,
                album_window=album_window,
                same_title=lists.same_title,
            )
        history = play_history(self.lib)
        exclude = history.recent(fresh_days) if fresh_days else set()
        shares = skip_shares(history.plays, history.skips)
        return Listening(spacer, exclude, shares, lists.skip_weight)

    def _library_tags(self) -> dict:
        """:func:`.listening.library_tags`, cached until the library changes: in this process
        (beets' database revision) or in another one (the database file's mtime)."""
        from .listening import library_tags

        try:
            mtime = os.stat(util.syspath(self.lib.path)).st_mtime_ns
        except OSError:  # an in-memory library
            mtime = 0
        state = (self.lib.revision, mtime)
        cached = self._tags
        if cached is None or cached[0] != state:
            cached = self._tags = (state, library_tags(self.lib))
        return cached[1]

    def similar(
        self,
        seed: Seed,
        n: int,
        *,
        creativity: float | None = None,
        listening: Listening | None = None,
    ) -> list[Neighbour]:
        """The ``n`` items nearest to ``seed`` (itself left out), closest first, spaced."""
        from deejai_model.lists import playlists

        listening = listening or self.listening()
        search, vectors, transform = self._space(creativity, {seed.key: seed.vector})
        return playlists.similar(
            search,
            vectors[seed.key],
            n=n,
            exclude=[seed.key, *listening.exclude],
            score_transform=listening.transform(transform),
            spacer=listening.spacer,
        )

    def journey_ids(
        self,
        seeds: list[Seed],
        n_per_leg: int,
        *,
        creativity: float | None = None,
        listening: Listening | None = None,
    ) -> list[int]:
        """Keys of a journey through ``seeds`` (waypoints) with ``n_per_leg`` tracks per leg."""
        from deejai_model.lists import playlists

        listening = listening or self.listening()
        search, vectors, transform = self._space(creativity, {s.key: s.vector for s in seeds})
        return list(
            playlists.journey(
                search,
                vectors,
                waypoints=[s.key for s in seeds],
                n_per_leg=n_per_leg,
                near_duplicate=self.settings.near_duplicate,
                exclude=listening.exclude,
                score_transform=listening.transform(transform),
                spacer=listening.spacer,
            )
        )

    def playlist_ids(
        self,
        seeds: list[Seed],
        n: int,
        *,
        lookback: int = 3,
        noise: float = 0.0,
        rng_seed: int | None = None,
        creativity: float | None = None,
        listening: Listening | None = None,
        anchor: np.ndarray | None = None,
    ) -> list[int]:
        """Keys of the ``n`` tracks that continue a playlist of ``seeds`` (seeds not included).

        Every step keeps ``deejai.lists.anchor`` of its query on ``anchor`` (default: the
        seeds' summed unit vectors); the pick is the best (reproducible), not drawn.

        Raises
        ------
        UserError
            When ``lookback`` or ``noise`` is negative.
        """
        import numpy as np

        for name, value in (("lookback", lookback), ("noise", noise)):
            if value < 0:
                raise UserError(f"deejai: --{name} must be >= 0, not {value:g}")

        from deejai_model.lists import playlists
        from deejai_model.vectors.norms import unit_vector

        lists = self.list_settings()
        listening = listening or self.listening()
        search, vectors, transform = self._space(creativity, {s.key: s.vector for s in seeds})
        if anchor is None:
            anchor = np.sum([unit_vector(vectors[s.key]) for s in seeds], axis=0)
        return list(
            playlists.continue_playlist(
                search,
                vectors,
                seeds=[s.key for s in seeds],
                n=n,
                lookback=lookback,
                noise=noise,
                rng=np.random.default_rng(rng_seed),
                near_duplicate=self.settings.near_duplicate,
                exclude=listening.exclude,
                score_transform=listening.transform(transform),
                spacer=listening.spacer,
                anchor=anchor,
                anchor_weight=lists.anchor,
            )
        )

    def dj_session(
        self, *, lookback: int, noise: float, ahead: int, fresh_days: float | None = None
    ) -> DjSession:
        """A :class:`deejai_model.lists.dj.DjSession` over the index (the web DJ, the radio),
        with ``deejai.lists``' anchor, variety, skips and spacing (the album cap over its last
        ``album_window`` tracks); ``fresh_days`` keeps out what was played that recently."""
        from deejai_model.lists.dj import DjSession

        lists = self.list_settings()
        listening = self.listening(album_window=lists.album_window, fresh_days=fresh_days)
        index = self.index()
        return DjSession(
            index.search(),
            index.vectors_by_id(),
            lookback=lookback,
            noise=noise,
            ahead=ahead,
            near_duplicate=self.settings.near_duplicate,
            score_transform=listening.transform(index.score_transform()),
            anchor_weight=lists.anchor,
            vary=lists.vary,
            spacer=listening.spacer,
            exclude=listening.exclude,
        )

    def record_play(self, item_id: int, *, skipped: bool = False, started: bool = False) -> None:
        """Record a play, skip or start on the item as mpdstats does, when
        ``deejai.lists.record_plays`` is on and the mpdstats plugin does not run (it records
        them itself)."""
        from beets import plugins

        from .listening import record_play

        if item_id is None or int(item_id) < 0 or not self.list_settings().record_plays:
            return
        if any(p.name == "mpdstats" for p in plugins.find_plugins()):
            return
        record_play(self.lib, int(item_id), skipped=skipped, started=started)

    def items_by_id(self, ids: Iterable[int]) -> list[Item]:
        """Items for ``ids``, in order: library items, and the (unstored) items of seed files
        from outside the library (negative ids); ids of neither are left out."""
        out = []
        for item_id in map(int, ids):
            if item_id < 0:
                item = self._outside_items.get(item_id)
            else:
                item = self.lib.get_item(item_id)
            if item is not None:
                out.append(item)
        return out
