"""``beet deejai ACTION ...``: one beets subcommand, dispatching on its first argument.

Actions: ``embed``, ``index``, ``similar``, ``journey``, ``playlist``, ``mix`` (in mix.py).
The query actions import numpy, the index and ``deejai_model.playlists``, never TensorFlow,
unless a seed is a file outside the library (it is embedded on the fly).
"""

from __future__ import annotations

import optparse
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beets import ui
from beets.ui import Subcommand, UserError

if TYPE_CHECKING:
    import numpy as np
    from beets.library import Item, Library

    from . import DeejaiPlugin

ACTIONS = {
    "embed": "embed items (all, or those matching QUERY) that have no vectors yet",
    "index": "rebuild the search index now (queries rebuild it when stale)",
    "similar": "items that sound like the first item matching QUERY (or a file)",
    "journey": "a path of items from A to B, through --via waypoints",
    "playlist": "continue a playlist from the seeds (each argument: a query or a file)",
    "mix": "render the seeds (or a journey / playlist) into one crossfaded audio file",
}

USAGE = "%prog ACTION [options] [ARGS]\n\nActions:\n" + "\n".join(
    f"  {name:<9} {text}" for name, text in ACTIONS.items()
)

DEFAULT_FORMAT = "$artist - $title"
SIMILAR_FORMAT = "$artist - $title  ($deejai_distance)"


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
        Actions(plugin, lib).run(action, rest)

    command.func = run
    return command


def _output_options(
    parser: optparse.OptionParser, fmt: str, n: int, n_help: str = "how many items"
) -> None:
    parser.add_option("-n", "--count", dest="n", type="int", default=n, help=f"{n_help} [%default]")
    parser.add_option("-f", "--format", dest="format", default=fmt, help="beets format string")
    parser.add_option("-o", "--output", dest="output", help="write an extended M3U playlist file")
    parser.add_option(
        "--relative-to",
        dest="relative_to",
        help="paths in -o: playlist | library | absolute | a folder (config deejai.relative_to)",
    )
    parser.add_option("--play", action="store_true", help="send the playlist to the player")


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
        self._outside = 0

    def run(self, action: str, args: list[str]) -> None:
        getattr(self, f"do_{action}")(args)

    # -- shared ----------------------------------------------------------------------------
    @property
    def store(self):
        return self.plugin.store(self.lib)

    def index(self):
        """The current index (rebuilt first when the library's vectors changed)."""
        if self._index is None:
            from .index import load_index

            model_id = self.plugin.model().model_id
            index = load_index(
                self.store, model_id, self.settings, self.plugin.index_dir(self.lib), self.log
            )
            if len(index) == 0:
                raise UserError(
                    f"deejai: no item has vectors of model {model_id} yet: "
                    "run `beet deejai embed` first"
                )
            self._index = index
        return self._index

    def lookup(self, query: list[str] | str) -> Item | str:
        """The item a seed names, or the path of a file outside the library.

        A query that matches several items uses the first (in the library's default order) and
        warns how many matched.
        """
        words = [query] if isinstance(query, str) else list(query)
        text = " ".join(words)
        if len(words) == 1 and os.path.isfile(words[0]):
            from beets.dbcore.query import PathQuery

            found = list(self.lib.items(PathQuery("path", os.path.abspath(words[0]))))
            if not found:
                return words[0]
            items = found
        else:
            items = list(self.lib.items(words if len(words) > 1 else words[0]))
        if not items:
            raise UserError(f"deejai: no item matches {text!r}")
        item = items[0]
        if len(items) > 1:
            self.log.warning(
                "{} items match {!r}; using the first: {}",
                len(items),
                text,
                item.evaluate_template(DEFAULT_FORMAT),
            )
        return item

    def seed(self, query: list[str] | str) -> Seed:
        """Resolve one seed (see :meth:`lookup`) to its vector; an outside file is embedded."""
        item = self.lookup(query)
        if isinstance(item, str):
            return self._outside_seed(item)
        index = self.index()
        vectors = index.vectors_by_id()
        if item.id not in vectors:
            raise UserError(
                f"deejai: {item.evaluate_template(DEFAULT_FORMAT)} has no vectors of model "
                f"{index.model_id}: run `beet deejai embed`"
            )
        return Seed(item.id, vectors[item.id], item, item.evaluate_template(DEFAULT_FORMAT))

    def _outside_seed(self, path: str) -> Seed:
        """Embed a file that is not in the library (this loads TensorFlow)."""
        from deejai_model import mp3tovec
        from deejai_model.errors import AudioError

        index = self.index()
        self.log.info("{} is not in the library; embedding it", path)
        try:
            slices = self.plugin.model().embedder().embed_path(path).vectors
        except AudioError as error:
            raise UserError(f"deejai: cannot embed {error}") from error
        slices = index.adapt_slices(slices)
        if self.settings.per_track_pooling:
            raw = mp3tovec.pool_per_track([slices], self.settings.pooling)[0]
        else:
            library = [index.adapt_slices(s) for s in self.store.slices(index.model_id).values()]
            raw = mp3tovec.track_vector_against(slices, library, epsilon=self.settings.epsilon)
        self._outside += 1
        return Seed(-self._outside, index.query_vector(raw), None, path)

    def items_by_id(self, ids) -> list[Item]:
        """Library items for ``ids``, in order (ids not in the library are left out)."""
        out = []
        for item_id in ids:
            item = self.lib.get_item(int(item_id)) if int(item_id) >= 0 else None
            if item is not None:
                out.append(item)
        return out

    def emit(self, items: list[Item], opts, distances=None) -> None:
        """Print, write ``-o`` and/or play the result."""
        from .output import format_lines, play, resolve_output_path, write_m3u

        for line in format_lines(items, opts.format, distances):
            ui.print_(line)
        playlist_path = None
        if opts.output:
            playlist_path = resolve_output_path(opts.output, self.settings.playlist_dir)
            write_m3u(items, playlist_path, opts.relative_to or self.settings.relative_to)
            self.log.info("wrote {} ({} items)", playlist_path, len(items))
        if opts.play:
            play(items, playlist_path, self.log)

    # -- actions ---------------------------------------------------------------------------
    def do_embed(self, args: list[str]) -> None:
        from .importer import embed_items

        parser = _parser("embed", "[options] [QUERY]")
        parser.add_option(
            "--force", action="store_true", help="embed again even items that have vectors"
        )
        opts, query = parser.parse_args(args)
        pruned = self.store.prune_orphans()
        if pruned:
            self.log.info("dropped {} rows of items no longer in the library", pruned)
        items = list(self.lib.items(query))
        summary = embed_items(
            items,
            self.store,
            self.plugin.model(),
            self.settings,
            self.log,
            force=opts.force,
            progress=True,
        )
        print(summary.line(), file=sys.stderr)
        if summary.interrupted:
            raise UserError("deejai: interrupted; what was embedded is stored")

    def do_index(self, args: list[str]) -> None:
        from .index import build_index

        parser = _parser("index", "")
        parser.parse_args(args)
        model_id = self.plugin.model().model_id
        index = build_index(
            self.store, model_id, self.settings, self.plugin.index_dir(self.lib), self.log
        )
        ui.print_(
            f"deejai: indexed {len(index)} items of {model_id} in "
            f"{index.meta['built_seconds']:.2f} s ({index.paths.ann})"
        )

    def do_similar(self, args: list[str]) -> None:
        from deejai_model import playlists

        parser = _parser("similar", "[options] QUERY|FILE")
        _output_options(parser, SIMILAR_FORMAT, 20, "how many similar items")
        opts, query = parser.parse_args(args)
        if not query:
            raise UserError("deejai similar: a query (or a file) is needed")
        seed = self.seed(query)
        index = self.index()
        found = playlists.similar(
            index.search(),
            seed.vector,
            opts.n,
            exclude=[seed.key],
            score_transform=index.score_transform(),
        )
        items = self.items_by_id([n.id for n in found])
        by_id = {n.id: n.distance for n in found}
        self.emit(items, opts, [by_id[item.id] for item in items])

    def do_journey(self, args: list[str]) -> None:
        parser = _parser("journey", "[options] A B  (each a query or a file)")
        _output_options(parser, DEFAULT_FORMAT, 8, "tracks between two waypoints")
        parser.add_option(
            "--via", action="append", default=[], help="a waypoint between A and B (repeatable)"
        )
        opts, ends = parser.parse_args(args)
        if len(ends) != 2:
            raise UserError("deejai journey: two seeds are needed: A B (quote multi-word queries)")
        seeds = [self.seed(ends[0]), *(self.seed(v) for v in opts.via), self.seed(ends[1])]
        self.emit(self.items_by_id(self.journey_ids(seeds, opts.n)), opts)

    def journey_ids(self, seeds: list[Seed], n_per_leg: int) -> list[int]:
        """Keys of a journey through ``seeds`` (waypoints) with ``n_per_leg`` tracks per leg."""
        from deejai_model import playlists

        index = self.index()
        vectors = index.vectors_by_id({s.key: s.vector for s in seeds if s.item is None})
        return playlists.journey(
            index.search(),
            vectors,
            [s.key for s in seeds],
            n_per_leg,
            epsilon=self.settings.epsilon,
            score_transform=index.score_transform(),
        )

    def do_playlist(self, args: list[str]) -> None:
        parser = _parser("playlist", "[options] SEED...  (each a query or a file)")
        _output_options(parser, DEFAULT_FORMAT, 20, "tracks to add after the seeds")
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
        seeds = [self.seed(w) for w in words]
        ids = self.playlist_ids(seeds, opts.n, opts.lookback, opts.noise, opts.rng_seed)
        self.emit(self.items_by_id([s.key for s in seeds] + ids), opts)

    def playlist_ids(
        self,
        seeds: list[Seed],
        n: int,
        lookback: int = 3,
        noise: float = 0.0,
        rng_seed: int | None = None,
    ) -> list[int]:
        """Keys of the ``n`` tracks that continue a playlist of ``seeds`` (seeds not included)."""
        import numpy as np

        from deejai_model import playlists

        index = self.index()
        vectors = index.vectors_by_id({s.key: s.vector for s in seeds if s.item is None})
        return list(
            playlists.continue_playlist(
                index.search(),
                vectors,
                [s.key for s in seeds],
                n,
                lookback=lookback,
                noise=noise,
                rng=np.random.default_rng(rng_seed),
                epsilon=self.settings.epsilon,
                score_transform=index.score_transform(),
            )
        )

    def do_mix(self, args: list[str]) -> None:
        from .mix import mix_command

        mix_command(self, args)
