"""``beet deejai daily [-k 4] [--days 30]``: mixes from what was played lately.

The tracks played in the last ``--days`` (mpdstats' ``last_played``, which the radio and the DJ
page record too) are grouped by sound: k-means on their unit track vectors
(:func:`scipy.cluster.vq.kmeans2`, k-means++ starts, a fixed seed).  Each group is extended
with the ``-n`` tracks nearest to its centre that were not played in those days (spaced as any
list), put in the order that flows (:func:`deejai_model.lists.reorder.shortest_path`; two
tracks of one artist side by side only where every order must, :func:`~.reorder.apart`) and
written as one M3U, named from the group's most common genre, else artist.  With no play
history it says so and groups the most recently added albums instead.
"""

from __future__ import annotations

import optparse
import os
import re
import sys
from collections import Counter
from typing import TYPE_CHECKING

from beets import ui, util
from beets.ui import UserError

if TYPE_CHECKING:
    import numpy as np
    from beets.library import Item

    from .session import LibrarySession

#: Without play history: how many of the most recently added albums stand in for it.
RECENT_ALBUMS = 8


def parser() -> optparse.OptionParser:
    """Options of ``beet deejai daily``."""
    p = ui.CommonOptionsParser(prog="beet deejai daily", usage="%prog [options]")
    p.add_option("-k", "--groups", dest="k", type="int", default=4, help="mixes [%default]")
    p.add_option(
        "--days", type="float", default=30.0, help="what was played in the last DAYS [%default]"
    )
    p.add_option(
        "-n", "--count", dest="n", type="int", default=15, help="new tracks per mix [%default]"
    )
    p.add_option("--dir", help="folder of the M3U files [deejai.playlist_dir]")
    p.add_option("--seed", dest="rng_seed", type="int", default=0, help="k-means seed [%default]")
    return p


def recent_albums(session: LibrarySession, count: int = RECENT_ALBUMS) -> list[int]:
    """Items of the ``count`` albums added last (newest first)."""
    with session.lib.transaction() as tx:
        rows = tx.query("SELECT id FROM albums ORDER BY added DESC LIMIT ?", (count,))
    ids = []
    for (album_id,) in rows:
        album = session.lib.get_album(int(album_id))
        if album is not None:
            ids += [item.id for item in album.items()]
    return ids


def groups(units: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k-means groups of unit vectors (rows of ``units``, ``(n, dim)``): lists of row
    positions, largest first; empty groups left out."""
    import numpy as np
    from scipy.cluster.vq import kmeans2  # the daily extra (run() checks it first)

    k = max(1, min(k, len(units)))
    if k == 1:
        return [np.arange(len(units))]
    _, labels = kmeans2(units.astype(np.float64), k, minit="++", seed=seed)
    found = [np.flatnonzero(labels == g) for g in range(k)]
    return sorted((g for g in found if len(g)), key=len, reverse=True)


def mix_name(items: list[Item]) -> str:
    """The most common genre of ``items``, else artist, else ``"mix"``."""
    for field in ("genres", "genre", "artist"):
        values: Counter = Counter()
        for item in items:
            value = item.get(field) or ""
            if isinstance(value, list | tuple):  # beets >= 2.13 keeps a list of genres
                value = value[0] if value else ""
            values[str(value).strip()] += 1
        values.pop("", None)
        if values:
            return values.most_common(1)[0][0]
    return "mix"


def file_slug(name: str) -> str:
    """A file-name-safe form of a mix name."""
    slug = re.sub(r"[^\w\-]+", "-", name.casefold(), flags=re.UNICODE).strip("-")
    return slug or "mix"


def run(session: LibrarySession, opts: optparse.Values, args: list[str]) -> None:
    """``beet deejai daily``."""
    from deejai_model.extras import MissingExtraError, require_extra

    try:
        require_extra("daily", "deejai daily")
    except MissingExtraError as error:
        raise UserError(str(error)) from None
    import numpy as np

    from deejai_model.lists.playlists import similar
    from deejai_model.lists.reorder import apart, cosine_distance_matrix, shortest_path
    from deejai_model.vectors.norms import unit_rows

    from .checks import prepare_output_file
    from .listening import play_history
    from .output import write_m3u

    if opts.k < 1 or opts.days <= 0 or opts.n < 0:
        raise UserError("deejai daily: -k >= 1, --days > 0, -n >= 0")
    if args:
        raise UserError("deejai daily: no arguments (see --help)")
    index = session.index()
    vectors = index.vectors_by_id()
    history = play_history(session.lib)
    played = sorted(i for i in history.recent(opts.days) if i in vectors)
    if not played:
        print(
            f"deejai daily: nothing was played in the last {opts.days:g} days "
            "(no last_played: enable mpdstats, or play through `beet deejai radio` / `serve`); "
            "mixing the most recently added albums",
            file=sys.stderr,
        )
        played = [i for i in recent_albums(session) if i in vectors]
    if not played:
        raise UserError("deejai daily: no track with vectors to start from")
    units = unit_rows(np.stack([vectors[i] for i in played]))
    listening = session.listening(fresh_days=opts.days)
    folder = opts.dir or session.settings.playlist_dir
    used: set[str] = set()
    for number, rows in enumerate(groups(units, opts.k, opts.rng_seed), 1):
        members = [played[r] for r in rows]
        centre = units[rows].mean(axis=0)
        found = similar(
            index.search(),
            centre,
            n=opts.n,
            exclude=set(played) | listening.exclude,
            score_transform=listening.transform(index.score_transform()),
            spacer=listening.spacer,
        )
        ids = members + [n.id for n in found]
        if len(ids) > 2:
            dist = cosine_distance_matrix(np.stack([vectors[i] for i in ids]))
            if listening.spacer is not None and listening.spacer.artist_gap > 1:
                tags = listening.spacer.tags  # one artist twice in a row only where it must
                dist = apart(dist, [t.artist if (t := tags.get(i)) else "" for i in ids])
            ids = [ids[i] for i in shortest_path(dist)]
        items = session.items_by_id(ids)
        name = mix_name(session.items_by_id(members))
        slug = file_slug(name)
        if slug in used:
            slug = f"{slug}-{number}"
        used.add(slug)
        path = os.path.join(os.path.expanduser(folder), f"deejai-daily-{slug}.m3u")
        path = prepare_output_file("daily", path, log=session.log)  # folders made as the CLI's
        write_m3u(items, path, session.settings.relative_to)
        ui.print_(
            f"{name}: {len(members)} played + {len(found)} new -> {util.displayable_path(path)}"
        )
