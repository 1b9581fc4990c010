"""``beet deejai ACTION ...``: one beets subcommand; each action has its own typed options.

Actions: ``embed``, ``index``, ``similar``, ``journey``, ``playlist``, ``ls`` (here), ``train``
(train.py), ``serve`` (web/serve.py), ``radio`` (radio.py), ``mix`` (mix.py).  Each is an
:class:`Action`: its help line, its option parser (``beet deejai ACTION --help``) and a function
of a :class:`~beetsplug.deejai.session.LibrarySession`.  This module only parses arguments and
prints: the work is the session's.  The query actions import numpy, the index and
``deejai_model.lists.playlists``, never TensorFlow, unless a seed is a file outside the library
(it is embedded on the fly).

Queries mean what they mean to ``beet ls``: arguments are passed to beets as a list of terms
(never one string, which beets would split again).  ``similar``, ``embed`` and ``ls`` take their
arguments as one query; each seed of ``journey`` and ``playlist`` (and each ``--via``) is one
argument, i.e. the one-term query ``beet ls ARGUMENT`` would run.
"""

from __future__ import annotations

import optparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beets import config as beets_config
from beets import ui, util
from beets.ui import Subcommand, UserError

from . import daily, listen_cli, mix, radio, reorder, train
from .labels import learned_line
from .session import CURRENT, FAILED, MISSING, STALE, LibrarySession
from .web import serve

if TYPE_CHECKING:
    from beets.library import Item, Library

#: Flexible field set (in memory only, never stored) on items listed by ``ls``: yes | stale | no.
VECTORS_FIELD = "deejai_vectors"


@dataclass(frozen=True)
class Action:
    """One action of ``beet deejai``.

    Attributes
    ----------
    help : str
        One line for ``beet deejai --help``.
    parser : callable
        ``parser() -> OptionParser``: the action's own options.
    run : callable
        ``run(session, opts, args)``: do it (``opts``, ``args``: what ``parser`` parsed).
    """

    help: str
    parser: Callable[[], optparse.OptionParser]
    run: Callable[[LibrarySession, optparse.Values, list[str]], None]


def _parser(action: str, usage: str) -> optparse.OptionParser:
    return ui.CommonOptionsParser(prog=f"beet deejai {action}", usage=f"%prog {usage}")


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
    listen_cli.add_options(parser)  # spacing, --fresh (docs/lists.md)


def emit(
    session: LibrarySession,
    items: list[Item],
    opts: optparse.Values,
    *,
    distances: Sequence[float] | None = None,
) -> None:
    """Print, write ``-o`` and/or play the result (the output options of a query action)."""
    from .checks import check_relative_to, prepare_output_file
    from .output import format_lines, play, resolve_output_path, write_m3u

    action = getattr(opts, "action", "query")  # set by the command (make_command)
    playlist_path = relative_to = None
    if opts.relative_to:
        check_relative_to(action, opts.relative_to)
    if opts.output:  # checked before anything is printed or written
        settings = session.settings
        relative_to = check_relative_to(action, opts.relative_to or settings.relative_to)
        playlist_path = resolve_output_path(opts.output, settings.playlist_dir)
        playlist_path = prepare_output_file(action, playlist_path, log=session.log)
    for line in format_lines(items, opts.format, distances):
        ui.print_(line)
    if playlist_path is not None:
        try:
            write_m3u(items, playlist_path, relative_to)
        except OSError as error:
            shown = util.displayable_path(playlist_path)
            raise UserError(f"deejai {action}: cannot write {shown}: {error.strerror}") from None
        session.log.info("wrote {} ({} items)", util.displayable_path(playlist_path), len(items))
    if opts.play:
        play(items, session.log, args=opts.play_args, yes=opts.yes)


# -- embed -----------------------------------------------------------------------------------
def embed_parser() -> optparse.OptionParser:
    parser = _parser("embed", "[options] [QUERY]")
    parser.add_option(
        "--force", action="store_true", help="embed again even items that have vectors"
    )
    parser.add_option(
        "--retry-failed",
        dest="retry_failed",
        action="store_true",
        help="try again the unchanged files that failed before (they are skipped otherwise)",
    )
    parser.add_option(
        "-p",
        "--pretend",
        action="store_true",
        help="list the items that would be embedded; embed and change nothing",
    )
    parser.add_option(
        "--dask", metavar="ADDRESS", help="embed on this Dask scheduler (docs/cluster.md)"
    )
    parser.add_option(
        "--path-map",
        action="append",
        default=[],
        metavar="LOCAL=WORKER",
        help="with --dask: where the workers see the library's folder LOCAL (repeatable)",
    )
    _format_option(parser)
    return parser


def run_embed(session: LibrarySession, opts: optparse.Values, query: list[str]) -> None:
    """``embed``: vectors for the items (all, or those matching QUERY) that need them."""
    from .output import item_line

    if opts.dask is not None or opts.path_map:
        from .cluster import use_cluster

        use_cluster(session, opts.dask, opts.path_map)
    items = list(session.lib.items(query))
    if opts.pretend:  # reads the manifest only
        todo, skipped = session.embedding_plan(
            items, force=opts.force, retry_failed=opts.retry_failed
        )
        for item in todo:
            ui.print_(item_line(item, opts.format))
        print(f"deejai: would embed {len(todo)}, skip {skipped}", file=sys.stderr)
        return
    try:  # beets ends on a stray Ctrl-C silently with status 0: say it, exit non-zero
        summary = session.embed(
            items, force=opts.force, retry_failed=opts.retry_failed, progress=True
        )
    except KeyboardInterrupt:
        raise UserError(INTERRUPTED) from None
    print(summary.line(), file=sys.stderr)
    if summary.interrupted:
        raise UserError(INTERRUPTED)
    session.retire_earlier()
    if summary.failed:  # as beets' own commands: an error line and exit status 1
        raise UserError(
            f"deejai: {summary.failed} of the files tried could not be embedded "
            "(the reasons are above; `beet deejai ls` shows them)"
        )


#: What ``embed`` says on Ctrl-C (a forced run is resumed too: :meth:`VectorStore.redo`).
INTERRUPTED = "deejai: interrupted; what was embedded is stored: run `beet deejai embed` to resume"


# -- index -----------------------------------------------------------------------------------
def index_parser() -> optparse.OptionParser:
    return _parser("index", "")


def run_index(session: LibrarySession, opts: optparse.Values, args: list[str]) -> None:
    """``index``: rebuild the search index now."""
    index = session.rebuild_index()
    ui.print_(
        f"deejai: indexed {len(index)} items of {index.model_id} in "
        f"{index.meta['built_seconds']:.2f} s ({index.paths.ann})"
    )
    ui.print_(f"deejai: {learned_line(index.meta.get('learned_from'), index.pooler.n_classes)}")


# -- similar, journey, playlist --------------------------------------------------------------
def similar_parser() -> optparse.OptionParser:
    parser = _parser("similar", "[options] QUERY|FILE")
    _output_options(parser, 20, "how many similar items")
    return parser


def run_similar(session: LibrarySession, opts: optparse.Values, query: list[str]) -> None:
    """``similar``: the items nearest to the first item matching QUERY (or to a file)."""
    if not query:
        raise UserError("deejai similar: a query (or a file) is needed")
    seed = session.seed(query)
    found = session.similar(
        seed, opts.n, creativity=opts.creativity, listening=listen_cli.listening(session, opts)
    )
    items = session.items_by_id([n.id for n in found])
    by_id = {n.id: n.distance for n in found}
    emit(session, items, opts, distances=[by_id[item.id] for item in items])


def journey_parser() -> optparse.OptionParser:
    parser = _parser("journey", "[options] A B  (each a query or a file)")
    _output_options(parser, 8, "tracks between two waypoints")
    parser.add_option(
        "--via", action="append", default=[], help="a waypoint between A and B (repeatable)"
    )
    return parser


def run_journey(session: LibrarySession, opts: optparse.Values, ends: list[str]) -> None:
    """``journey``: a path of items from A to B through the ``--via`` waypoints."""
    if len(ends) != 2:
        raise UserError("deejai journey: two seeds are needed: A B (quote multi-word queries)")
    waypoints = [ends[0], *opts.via, ends[1]]
    seeds = [session.seed(w) for w in waypoints]  # each argument is one query
    ids = session.journey_ids(
        seeds, opts.n, creativity=opts.creativity, listening=listen_cli.listening(session, opts)
    )
    emit(session, session.items_by_id(ids), opts)


def playlist_parser() -> optparse.OptionParser:
    parser = _parser("playlist", "[options] SEED...  (each a query or a file)")
    _output_options(parser, 20, "tracks to add after the seeds")
    parser.add_option(
        "--lookback", type="int", default=3, help="query from the last N tracks (0: all)"
    )
    parser.add_option(
        "--noise", type="float", default=0.0, help="randomness, relative to the query's size"
    )
    parser.add_option("--seed", dest="rng_seed", type="int", help="random seed for --noise")
    parser.add_option(
        "--extend",
        metavar="FILE|NAME",
        help="append -n tracks to this M3U file (or playlist plugin list)",
    )
    return parser


def run_playlist(session: LibrarySession, opts: optparse.Values, words: list[str]) -> None:
    """``playlist``: the seeds, then the tracks that continue them."""
    if opts.extend:
        listen_cli.run_extend(session, opts, words)
        return
    if not words:
        raise UserError("deejai playlist: at least one seed is needed")
    seeds = [session.seed(w) for w in words]  # each argument is one query
    ids = session.playlist_ids(
        seeds,
        opts.n,
        lookback=opts.lookback,
        noise=opts.noise,
        rng_seed=opts.rng_seed,
        creativity=opts.creativity,
        listening=listen_cli.listening(session, opts),
    )
    emit(session, session.items_by_id([s.key for s in seeds] + ids), opts)


# -- ls --------------------------------------------------------------------------------------
def ls_parser() -> optparse.OptionParser:
    parser = _parser("ls", "[options] [QUERY]")
    _format_option(parser)
    parser.add_option(
        "-m",
        "--missing",
        action="store_true",
        help="only items without current vectors (what `embed` would embed)",
    )
    return parser


def run_ls(session: LibrarySession, opts: optparse.Values, query: list[str]) -> None:
    """``ls``: the matching items, each with the state of its vectors; a count on stderr."""
    from .output import item_line

    model_id = session.model.model_id
    items = list(session.lib.items(query))
    counts = {CURRENT: 0, STALE: 0, MISSING: 0, FAILED: 0}
    n_earlier = 0
    # setting a field costs beets a walk over every tag name: only when the template shows it
    template = opts.format or beets_config["format_item"].as_str()
    show_state = VECTORS_FIELD in template
    states = session.vector_states(items)
    reasons = session.failure_reasons(items) if any(s == FAILED for s, _ in states) else {}
    for item, (state, earlier) in zip(items, states, strict=True):
        counts[state] += 1
        n_earlier += earlier
        if opts.missing and state == CURRENT:
            continue
        if show_state:
            item[VECTORS_FIELD] = state  # in memory only, for -f
        line = item_line(item, opts.format)
        shown = f"{state}: {reasons.get(item.id, '?')}" if state == FAILED else state
        ui.print_(line if opts.format else f"{line}  [vectors: {shown}]")
    text = f"deejai: {len(items)} items: {counts[CURRENT]} with vectors of {model_id}"
    if counts[STALE] - n_earlier:
        text += f", {counts[STALE] - n_earlier} with vectors of an older file"
    if n_earlier:
        text += f", {n_earlier} with vectors of an earlier default only (stale)"
    if counts[FAILED]:
        text += f", {counts[FAILED]} failed (`embed --retry-failed` tries again)"
    print(f"{text}, {counts[MISSING]} without", file=sys.stderr)


#: Every action, in the order ``beet deejai --help`` lists them.
ACTIONS: dict[str, Action] = {
    "embed": Action(
        "embed items (all, or those matching QUERY) that have no vectors yet",
        embed_parser,
        run_embed,
    ),
    "index": Action(
        "rebuild the search index now (queries rebuild it when stale)", index_parser, run_index
    ),
    "similar": Action(
        "items that sound like the first item matching QUERY (or a file)",
        similar_parser,
        run_similar,
    ),
    "journey": Action(
        "a path of items from A to B, through --via waypoints", journey_parser, run_journey
    ),
    "playlist": Action(
        "continue a playlist from the seeds (each argument: a query or a file)",
        playlist_parser,
        run_playlist,
    ),
    "reorder": Action(
        "put a playlist file's (or a query's) tracks in the order that flows best",
        reorder.parser,
        reorder.run,
    ),
    "daily": Action(
        "mixes from what was played lately: one M3U per group of sound",
        daily.parser,
        daily.run,
    ),
    "ls": Action(
        "list items (all, or those matching QUERY) and whether they have vectors",
        ls_parser,
        run_ls,
    ),
    "train": Action(
        "learn Track2Vec from playlists/history/albums and ears that hear it",
        train.parser,
        train.run,
    ),
    "serve": Action(
        "a browser DJ that keeps playing music that goes together", serve.parser, serve.run
    ),
    "radio": Action(
        "endless radio for MPD: keep its queue topped up with fitting tracks",
        radio.parser,
        radio.run,
    ),
    "mix": Action(
        "render the seeds (or a journey / playlist) into one crossfaded audio file",
        mix.parser,
        mix.run,
    ),
}

USAGE = "%prog ACTION [options] [ARGS]\n\nActions:\n" + "\n".join(
    f"  {name:<9} {action.help}" for name, action in ACTIONS.items()
)


def make_command(open_session: Callable[[Library], LibrarySession]) -> Subcommand:
    """The ``deejai`` subcommand.

    Parameters
    ----------
    open_session : callable
        ``open_session(lib) -> LibrarySession`` (the plugin's :meth:`DeejaiPlugin.session`).
    """
    parser = ui.CommonOptionsParser(usage=USAGE)
    parser.disable_interspersed_args()
    command = Subcommand("deejai", parser=parser, help="playlists from what your music sounds like")

    def run(lib: Library, opts: optparse.Values, args: list[str]) -> None:
        if not args:
            command.print_help()
            raise UserError("deejai: an action is needed: " + ", ".join(ACTIONS))
        name, rest = args[0], list(args[1:])
        action = ACTIONS.get(name)
        if action is None:
            raise UserError(f"deejai: unknown action {name!r} (one of {', '.join(ACTIONS)})")
        action_opts, action_args = action.parser().parse_args(rest)
        from deejai_model.errors import BundleError

        from .checks import check_option_values

        check_option_values(name, action_opts)
        action_opts.action = name  # for the messages of shared helpers (emit)
        try:
            action.run(open_session(lib), action_opts, action_args)
        except BundleError as error:  # deejai.model names no usable bundle
            message = f"deejai {name}: cannot use the model (deejai.model): {error}"
            raise UserError(message) from error

    command.func = run
    return command
