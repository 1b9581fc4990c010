"""``beet deejai ACTION ...``: one beets subcommand, dispatching on its first argument.

Actions: ``embed``, ``index``, ``similar``, ``journey``, ``playlist``, ``ls``, ``train``
(train.py), ``serve`` (web/), ``radio`` (radio.py), ``mix`` (mix.py).  The query actions import
numpy, the index and ``deejai_model.lists.playlists``, never TensorFlow, unless a seed is a file
outside the library (it is embedded on the fly).

Queries mean what they mean to ``beet ls``: arguments are passed to beets as a list of terms
(never one string, which beets would split again).  ``similar``, ``embed`` and ``ls`` take their
arguments as one query; each seed of ``journey`` and ``playlist`` (and each ``--via``) is one
argument, i.e. the one-term query ``beet ls ARGUMENT`` would run.
"""

from __future__ import annotations

import optparse
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beets import ui, util
from beets.ui import Subcommand, UserError

if TYPE_CHECKING:
    import numpy as np
    from beets.library import Item, Library

    from . import DeejaiPlugin
    from .importer import ModelHandle

ACTIONS = {
    "embed": "embed items (all, or those matching QUERY) that have no vectors yet",
    "index": "rebuild the search index now (queries rebuild it when stale)",
    "similar": "items that sound like the first item matching QUERY (or a file)",
    "journey": "a path of items from A to B, through --via waypoints",
    "playlist": "continue a playlist from the seeds (each argument: a query or a file)",
    "ls": "list items (all, or those matching QUERY) and whether they have vectors",
    "train": "learn Track2Vec from playlists/history/albums and ears that hear it",
    "serve": "a browser DJ that keeps playing music that goes together",
    "radio": "endless radio for MPD: keep its queue topped up with fitting tracks",
    "mix": "render the seeds (or a journey / playlist) into one crossfaded audio file",
}

#: Flexible field set (in memory only, never stored) on items listed by ``ls``: yes | stale | no.
VECTORS_FIELD = "deejai_vectors"

USAGE = "%prog ACTION [options] [ARGS]\n\nActions:\n" + "\n".join(
    f"  {name:<9} {text}" for name, text in ACTIONS.items()
)


def make_command(plugin: DeejaiPlugin) -> Subcommand:
    """The ``deejai`` subcommand of ``plugin``."""
    parser = ui.CommonOptionsParser(usage=USAGE)
    parser.disable_interspersed_args()
    command = Subcommand("deejai", parser=parser, help="playlists from what your music sounds like")

    def run(lib: Library, opts, args: list[str]) -> None:
        if not args:
            command.print_help()
            raise UserError("deejai: an action is needed: " + ", ".join(ACTIONS))
        action, rest = args[0], list(args[1:])
        if action not in ACTIONS:
            raise UserError(f"deejai: unknown action {action!r} (one of {', '.join(ACTIONS)})")
        from deejai_model.errors import BundleError

        try:
            Actions(plugin, lib).run(action, rest)
        except BundleError as error:  # deejai.model names no usable bundle
            message = f"deejai {action}: cannot use the model (deejai.model): {error}"
            raise UserError(message) from error

    command.func = run
    return command


def _format_option(parser: optparse.OptionParser) -> None:
    parser.add_option("-f", "--format", dest="format", help="beets format string [format_item]")


def _output_options(parser: optparse.OptionParser, n: int, n_help: str = "how many items") -> None:
    parser.add_option("-n", "--count", dest="n", type="int", default=n, help=f"{n_help} [%default]")
    _format_option(parser)
    parser.add_option("-o", "--output", dest="output", help="write an extended M3U playlist file")
    parser.add_option(
        "--relative-to",
        dest="relative_to",
        help="paths in -o: playlist | library | absolute | a folder (config deejai.relative_to)",
    )
    parser.add_option(
        "--play", action="store_true", help="send the result to the player (the play plugin's)"
    )
    parser.add_option("-A", "--args", dest="play_args", help="with --play: add player arguments")
    parser.add_option(
        "-y", "--yes", action="store_true", help="with --play: skip play.warning_threshold"
    )
    parser.add_option(
        "--creativity",
        type="float",
        help="0..1: creativity*cos(audio) + (1-creativity)*cos(track2vec) (after `deejai train`)",
    )


def _parser(action: str, usage: str) -> optparse.OptionParser:
    return optparse.OptionParser(prog=f"beet deejai {action}", usage=f"%prog {usage}")


@dataclass
class Seed:
    """A starting point: a library item, or a file outside the library.

    Attributes
    ----------
    key : int
        The item id, or a negative number for an outside file.
    vector : np.ndarray
        Its unit vector, normalised like the index's.
    item : Item or None
        The library item (None for an outside file).
    label : str
        How to name it in messages.
    """

    key: int
    vector: np.ndarray
    item: Item | None
    label: str


class Actions:
    """The implementation of each action, bound to a plugin and a library."""

    def __init__(self, plugin: DeejaiPlugin, lib: Library):
        self.plugin = plugin
        self.lib = lib
        self.log = plugin._log
        self.settings = plugin.settings
        self._index = None
        self._query = None  # upgrade.QueryModel, chosen on first use
        self._outside = 0
        self._outside_items: dict[int, Item] = {}  # by (negative) seed key

    def run(self, action: str, args: list[str]) -> None:
        getattr(self, f"do_{action}")(args)

    # -- shared ----------------------------------------------------------------------------
    @property
    def store(self):
        return self.plugin.store(self.lib)

    def query_model_id(self) -> str:
        """The model whose vectors queries use: the configured one, or an earlier default that
        covers more of the library (:mod:`beetsplug.deejai.upgrade`; said in one log line)."""
        if self._query is None:
            from .upgrade import choose_model

            self._query = choose_model(self.store, self.settings, self.plugin.model().model_id)
            if self._query.earlier:
                self.log.warning("{}", self._query.notice())
        return self._query.model_id

    def query_model(self) -> ModelHandle:
        """The :class:`ModelHandle` of :meth:`query_model_id` (to embed outside files)."""
        from .upgrade import model_handle

        return model_handle(self.settings, self.plugin.model(), self.query_model_id())

    def index(self):
        """The current index (rebuilt first when the library's vectors changed)."""
        if self._index is None:
            from .index import load_index

            model_id = self.query_model_id()
            index = load_index(
                self.store,
                model_id,
                self.settings,
                self.plugin.index_dir(self.lib),
                self.log,
                fingerprint=self._query.fingerprint,
            )
            if len(index) == 0:
                raise UserError(
                    f"deejai: no item has vectors of model {model_id} yet: "
                    "run `beet deejai embed` first"
                )
            self._index = index
        return self._index

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
        from .output import item_line, outside_item

        item = self.lookup(terms)
        if isinstance(item, str):
            seed = self._outside_seed(item)
            self._outside_items[seed.key] = outside_item(os.fsencode(item))
            return seed
        index = self.index()
        vectors = index.vectors_by_id()
        if item.id not in vectors:
            raise UserError(
                f"deejai: {item_line(item)} has no vectors of model {index.model_id}: "
                "run `beet deejai embed`"
            )
        return Seed(item.id, vectors[item.id], item, item_line(item))

    def _outside_seed(self, path: str) -> Seed:
        """Embed a file that is not in the library (this loads TensorFlow) and pool it with the
        index's fitted pooler, exactly as the library's items were pooled."""
        from deejai_model.errors import AudioError

        index = self.index()
        self.log.info("{} is not in the library; embedding it", path)
        try:
            slices = self.query_model().embedder().embed_path(path).vectors
        except AudioError as error:
            raise UserError(f"deejai: cannot embed {error}") from error
        self._outside += 1
        return Seed(-self._outside, index.track_vector(slices), None, path)

    def space(self, creativity: float | None, seeds: dict):
        """``(search, vectors_by_id, score_transform)`` of a query: the index's, or with a
        ``creativity`` (``--creativity``) the blend with Track2Vec
        (:mod:`beetsplug.deejai.creativity`)."""
        index = self.index()
        outside = {key: vector for key, vector in seeds.items() if key < 0}
        if creativity is None:
            return index.search(), index.vectors_by_id(outside), index.score_transform()
        from .creativity import blended_space

        return blended_space(self, index, creativity, outside)

    def items_by_id(self, ids) -> list[Item]:
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

    def emit(self, items: list[Item], opts, distances=None) -> None:
        """Print, write ``-o`` and/or play the result."""
        from .output import format_lines, play, resolve_output_path, write_m3u

        for line in format_lines(items, opts.format, distances):
            ui.print_(line)
        if opts.output:
            playlist_path = resolve_output_path(opts.output, self.settings.playlist_dir)
            write_m3u(items, playlist_path, opts.relative_to or self.settings.relative_to)
            self.log.info("wrote {} ({} items)", util.displayable_path(playlist_path), len(items))
        if opts.play:
            play(items, self.log, args=opts.play_args, yes=opts.yes)

    # -- actions ---------------------------------------------------------------------------
    def do_embed(self, args: list[str]) -> None:
        from .importer import embed_items

        parser = _parser("embed", "[options] [QUERY]")
        parser.add_option(
            "--force", action="store_true", help="embed again even items that have vectors"
        )
        parser.add_option(
            "-p",
            "--pretend",
            action="store_true",
            help="list the items that would be embedded; embed and change nothing",
        )
        _format_option(parser)
        opts, query = parser.parse_args(args)
        if opts.pretend:
            self._pretend_embed(query, opts)
            return
        try:  # beets ends on a stray Ctrl-C silently with status 0: say it, exit non-zero
            pruned = self.store.prune_orphans()
            if pruned:
                self.log.info("dropped {} rows of items no longer in the library", pruned)
            items = list(self.lib.items(query))
            from .train import apply_stored

            apply_stored(self, items, force=opts.force)  # a trained head: from stored slices
            summary = embed_items(
                items,
                self.store,
                self.plugin.model(),
                self.settings,
                self.log,
                force=opts.force,
                progress=True,
            )
        except KeyboardInterrupt:
            raise UserError("deejai: interrupted; what was embedded is stored") from None
        print(summary.line(), file=sys.stderr)
        if summary.interrupted:
            raise UserError("deejai: interrupted; what was embedded is stored")
        from .upgrade import retire_earlier

        model_id = self.plugin.model().model_id
        retire_earlier(
            self.store, self.settings, model_id, self.plugin.index_dir(self.lib), self.log
        )

    def _pretend_embed(self, query: list[str], opts) -> None:
        """``embed --pretend``: print what ``embed`` would embed (reads the manifest only)."""
        from .importer import plan_embedding
        from .output import item_line

        items = list(self.lib.items(query))
        model_id = self.plugin.model().model_id
        todo, skipped, _ = plan_embedding(items, self.store, model_id, opts.force)
        for item, _ in todo.values():
            ui.print_(item_line(item, opts.format))
        print(f"deejai: would embed {len(todo)}, skip {skipped}", file=sys.stderr)

    def do_index(self, args: list[str]) -> None:
        from .index import build_index

        parser = _parser("index", "")
        parser.parse_args(args)
        model_id = self.query_model_id()
        index = build_index(
            self.store, model_id, self.settings, self.plugin.index_dir(self.lib), self.log
        )
        ui.print_(
            f"deejai: indexed {len(index)} items of {model_id} in "
            f"{index.meta['built_seconds']:.2f} s ({index.paths.ann})"
        )

    def do_similar(self, args: list[str]) -> None:
        from deejai_model.lists import playlists

        parser = _parser("similar", "[options] QUERY|FILE")
        _output_options(parser, 20, "how many similar items")
        opts, query = parser.parse_args(args)
        if not query:
            raise UserError("deejai similar: a query (or a file) is needed")
        seed = self.seed(query)
        search, vectors, transform = self.space(opts.creativity, {seed.key: seed.vector})
        found = playlists.similar(
            search,
            vectors[seed.key],
            opts.n,
            exclude=[seed.key],
            score_transform=transform,
        )
        items = self.items_by_id([n.id for n in found])
        by_id = {n.id: n.distance for n in found}
        self.emit(items, opts, [by_id[item.id] for item in items])

    def do_journey(self, args: list[str]) -> None:
        parser = _parser("journey", "[options] A B  (each a query or a file)")
        _output_options(parser, 8, "tracks between two waypoints")
        parser.add_option(
            "--via", action="append", default=[], help="a waypoint between A and B (repeatable)"
        )
        opts, ends = parser.parse_args(args)
        if len(ends) != 2:
            raise UserError("deejai journey: two seeds are needed: A B (quote multi-word queries)")
        waypoints = [ends[0], *opts.via, ends[1]]
        seeds = [self.seed(w) for w in waypoints]  # each argument is one query
        self.emit(self.items_by_id(self.journey_ids(seeds, opts.n, opts.creativity)), opts)

    def journey_ids(
        self, seeds: list[Seed], n_per_leg: int, creativity: float | None = None
    ) -> list[int]:
        """Keys of a journey through ``seeds`` (waypoints) with ``n_per_leg`` tracks per leg."""
        from deejai_model.lists import playlists

        search, vectors, transform = self.space(creativity, {s.key: s.vector for s in seeds})
        return list(
            playlists.journey(
                search,
                vectors,
                [s.key for s in seeds],
                n_per_leg,
                epsilon=self.settings.epsilon,
                score_transform=transform,
            )
        )

    def do_train(self, args: list[str]) -> None:
        from .train import run_train

        run_train(self, args)

    def do_playlist(self, args: list[str]) -> None:
        parser = _parser("playlist", "[options] SEED...  (each a query or a file)")
        _output_options(parser, 20, "tracks to add after the seeds")
        parser.add_option(
            "--lookback", type="int", default=3, help="query from the last N tracks (0: all)"
        )
        parser.add_option(
            "--noise", type="float", default=0.0, help="randomness, relative to the query's size"
        )
        parser.add_option("--seed", dest="rng_seed", type="int", help="random seed for --noise")
        opts, words = parser.parse_args(args)
        if not words:
            raise UserError("deejai playlist: at least one seed is needed")
        seeds = [self.seed(w) for w in words]  # each argument is one query
        ids = self.playlist_ids(
            seeds, opts.n, opts.lookback, opts.noise, opts.rng_seed, opts.creativity
        )
        self.emit(self.items_by_id([s.key for s in seeds] + ids), opts)

    def playlist_ids(
        self,
        seeds: list[Seed],
        n: int,
        lookback: int = 3,
        noise: float = 0.0,
        rng_seed: int | None = None,
        creativity: float | None = None,
    ) -> list[int]:
        """Keys of the ``n`` tracks that continue a playlist of ``seeds`` (seeds not included)."""
        import numpy as np

        if lookback < 0 or noise < 0:
            raise UserError(f"deejai: --lookback and --noise must be >= 0, not {lookback}, {noise}")

        from deejai_model.lists import playlists

        search, vectors, transform = self.space(creativity, {s.key: s.vector for s in seeds})
        return list(
            playlists.continue_playlist(
                search,
                vectors,
                [s.key for s in seeds],
                n,
                lookback=lookback,
                noise=noise,
                rng=np.random.default_rng(rng_seed),
                epsilon=self.settings.epsilon,
                score_transform=transform,
            )
        )

    def do_ls(self, args: list[str]) -> None:
        """``ls``: the matching items, each with the state of its vectors; a count on stderr."""
        from .importer import CURRENT, MISSING, STALE, vector_states
        from .output import item_line
        from .upgrade import earlier_items

        parser = _parser("ls", "[options] [QUERY]")
        _format_option(parser)
        parser.add_option(
            "-m",
            "--missing",
            action="store_true",
            help="only items without current vectors (what `embed` would embed)",
        )
        opts, query = parser.parse_args(args)
        model_id = self.plugin.model().model_id
        items = list(self.lib.items(query))
        counts = {CURRENT: 0, STALE: 0, MISSING: 0}
        earlier = earlier_items(self.store, self.settings, model_id)  # an earlier default's
        n_earlier = 0
        for item, (state, _) in zip(items, vector_states(items, self.store, model_id), strict=True):
            if state == MISSING and item.id in earlier:
                state, n_earlier = STALE, n_earlier + 1
            counts[state] += 1
            if opts.missing and state == CURRENT:
                continue
            item[VECTORS_FIELD] = state  # in memory only, for -f
            line = item_line(item, opts.format)
            ui.print_(line if opts.format else f"{line}  [vectors: {state}]")
        text = f"deejai: {len(items)} items: {counts[CURRENT]} with vectors of {model_id}"
        if counts[STALE] - n_earlier:
            text += f", {counts[STALE] - n_earlier} with vectors of an older file"
        if n_earlier:
            text += f", {n_earlier} with vectors of an earlier default only (stale)"
        print(f"{text}, {counts[MISSING]} without", file=sys.stderr)

    def do_serve(self, args: list[str]) -> None:
        from .web.serve import serve

        serve(self.plugin, self.lib, args)

    def do_radio(self, args: list[str]) -> None:
        from .radio import radio

        radio(self.plugin, self.lib, args)

    def do_mix(self, args: list[str]) -> None:
        from .mix import mix_command

        mix_command(self, args)
