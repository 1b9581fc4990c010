"""The command line of lists that listen back: spacing and ``--fresh`` options, and
``beet deejai playlist --extend``.

``similar``, ``journey`` and ``playlist`` take ``--artist-gap``, ``--album-max`` and ``--fresh``
(:func:`add_options`, :func:`listening`); ``playlist --extend FILE|NAME`` appends to an M3U
file (or a ``playlist`` plugin playlist by name) the tracks that go on from it, all of its
tracks seeds, weighted towards its end (:func:`run_extend`).
"""

from __future__ import annotations

import optparse
from typing import TYPE_CHECKING

from beets import ui, util
from beets.ui import UserError

if TYPE_CHECKING:
    import numpy as np

    from .session import LibrarySession, Listening, Seed

#: ``--extend``: a track's weight in the query halves every this many tracks back from the end.
EXTEND_HALF_LIFE = 4.0


def add_options(parser: optparse.OptionParser) -> None:
    """The listening options of a query action."""
    parser.add_option(
        "--artist-gap",
        type="int",
        help="no artist twice among any N consecutive tracks, 0: off [deejai.lists.artist_gap]",
    )
    parser.add_option(
        "--album-max",
        type="int",
        help="at most K tracks of one album, 0: off [deejai.lists.album_max]",
    )
    parser.add_option(
        "--fresh", type="float", metavar="DAYS", help="leave out what was played in the last DAYS"
    )


def listening(session: LibrarySession, opts: optparse.Values) -> Listening:
    """The :class:`~beetsplug.deejai.session.Listening` the options ask for."""
    return session.listening(
        artist_gap=opts.artist_gap, album_max=opts.album_max, fresh_days=opts.fresh
    )


def extend_anchor(session: LibrarySession, seeds: list[Seed]) -> np.ndarray:
    """The summed unit vectors of a playlist's tracks, each weighted ``0.5 ** (k / half-life)``
    for the ``k``-th track from the end: ``(dim,)``."""
    import numpy as np

    from deejai_model.vectors.norms import unit_vector

    weights = 0.5 ** (np.arange(len(seeds))[::-1] / EXTEND_HALF_LIFE)
    return np.sum([w * unit_vector(s.vector) for w, s in zip(weights, seeds, strict=True)], axis=0)


def run_extend(session: LibrarySession, opts: optparse.Values, words: list[str]) -> None:
    """``playlist --extend FILE|NAME``: append ``-n`` tracks that go on from the playlist (and
    the SEEDs given), print them, and rewrite the file atomically."""
    if opts.output or opts.play:
        raise UserError("deejai playlist: --extend rewrites the playlist; not with -o or --play")
    from .output import format_lines
    from .playlist_file import find_playlist, read_playlist, rewrite
    from .session import Seed

    path = find_playlist(opts.extend)
    playlist = read_playlist(session.lib, path)
    index = session.index()
    vectors = index.vectors_by_id()
    seeds = []
    for item in session.items_by_id(playlist.item_ids):
        if item.id in vectors:
            seeds.append(Seed(item.id, vectors[item.id], item, str(item.id)))
    seeds += [session.seed(w) for w in words]  # more seeds from the command line
    if not seeds:
        raise UserError(
            f"deejai playlist: no track of {util.displayable_path(path)} is in the library "
            "with vectors"
        )
    added = session.playlist_ids(
        seeds,
        opts.n,
        lookback=opts.lookback,
        noise=opts.noise,
        rng_seed=opts.rng_seed,
        creativity=opts.creativity,
        listening=listening(session, opts),
        anchor=extend_anchor(session, seeds),
    )
    items = session.items_by_id(added)
    for line in format_lines(items, opts.format):
        ui.print_(line)
    rewrite(playlist.path, playlist.extended_with(items))
    session.log.info("added {} tracks to {}", len(items), util.displayable_path(playlist.path))
