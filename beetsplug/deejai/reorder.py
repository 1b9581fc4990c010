"""``beet deejai reorder FILE.m3u|QUERY``: put tracks in the order that flows best.

The order is the shortest path through the tracks' cosine distances
(:func:`deejai_model.lists.reorder.shortest_path`: nearest neighbour, then 2-opt and Or-opt),
optionally with a fixed ``--first`` and/or ``--last`` track.  A playlist file is rewritten in
place (atomically, every line it does not understand kept where it was) unless ``--pretend``;
a query prints the items in the new order (``-o`` writes them).  The total distance before and
after goes to stderr.
"""

from __future__ import annotations

import optparse
import os
import sys
from typing import TYPE_CHECKING

from beets import ui, util
from beets.ui import UserError

if TYPE_CHECKING:
    from .session import LibrarySession


def parser() -> optparse.OptionParser:
    """Options of ``beet deejai reorder``."""
    p = ui.CommonOptionsParser(prog="beet deejai reorder", usage="%prog [options] FILE.m3u|QUERY")
    p.add_option("--first", help="a query naming the track that must come first")
    p.add_option("--last", help="a query naming the track that must come last")
    p.add_option(
        "-p", "--pretend", action="store_true", help="print the new order; leave the file as it is"
    )
    p.add_option("-f", "--format", dest="format", help="beets format string [format_item]")
    p.add_option("-o", "--output", help="with a QUERY: write the reordered list as an M3U file")
    return p


def _fixed(session: LibrarySession, query: str | None, ids: list[int], what: str) -> int | None:
    """Position in ``ids`` of the track a ``--first`` / ``--last`` query names."""
    if query is None:
        return None
    matches = [item.id for item in session.lib.items([query]) if item.id in set(ids)]
    if not matches:
        raise UserError(f"deejai reorder: --{what} {query!r} names no track of the list")
    return ids.index(matches[0])


def run(session: LibrarySession, opts: optparse.Values, args: list[str]) -> None:
    """``beet deejai reorder``."""
    import numpy as np

    from deejai_model.lists.reorder import cosine_distance_matrix, path_length, shortest_path

    from .checks import prepare_output_file
    from .output import format_lines, resolve_output_path, write_m3u

    if not args:
        raise UserError("deejai reorder: a playlist file or a query is needed")
    playlist = None
    if len(args) == 1 and (args[0].lower().endswith((".m3u", ".m3u8")) or _is_file(args[0])):
        from .playlist_file import find_playlist, read_playlist

        playlist = read_playlist(session.lib, find_playlist(args[0]))
        ids = playlist.item_ids
    else:
        ids = [item.id for item in session.lib.items(args)]
    vectors = session.index().vectors_by_id()
    missing = [i for i in ids if i not in vectors]
    if missing:
        session.log.warning(
            "{} tracks have no vectors (run `beet deejai embed`); they stay at the end",
            len(missing),
        )
    known = [i for i in ids if i in vectors]
    if len(set(known)) != len(known):
        raise UserError("deejai reorder: the list holds a track twice")
    if len(known) < 2:
        raise UserError("deejai reorder: fewer than two tracks with vectors: nothing to reorder")
    dist = cosine_distance_matrix(np.stack([vectors[i] for i in known]))
    first = _fixed(session, opts.first, known, "first")
    last = _fixed(session, opts.last, known, "last")
    order = shortest_path(dist, first=first, last=last)
    before, after = path_length(dist, range(len(known))), path_length(dist, order)
    new_ids = [known[i] for i in order] + missing
    items = session.items_by_id(new_ids)
    for line in format_lines(items, opts.format):
        ui.print_(line)
    print(
        f"deejai reorder: total distance {before:.4f} before, {after:.4f} after "
        f"({len(known)} tracks)",
        file=sys.stderr,
    )
    if playlist is not None and not opts.pretend:
        from .playlist_file import rewrite

        rewrite(playlist.path, playlist.reordered(new_ids))
        session.log.info("rewrote {}", util.displayable_path(playlist.path))
    elif opts.output and playlist is None:
        path = resolve_output_path(opts.output, session.settings.playlist_dir)
        path = prepare_output_file("reorder", path, log=session.log)
        write_m3u(items, path, session.settings.relative_to)
        session.log.info("wrote {} ({} items)", util.displayable_path(path), len(items))


def _is_file(text: str) -> bool:
    return os.path.isfile(util.syspath(util.normpath(text)))
