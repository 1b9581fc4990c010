"""Showing results as ``beet ls`` and ``beet play`` do: beets formats, extended M3U files,
the play plugin's player.

Paths are bytes, as beets keeps them, and go through beets' helpers: ``normpath`` for what the
user typed, ``syspath`` for the file system, ``displayable_path`` for the terminal.
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from beets import config as beets_config
from beets import plugins, ui, util

from deejai_model.files import display_name, replaced_atomically

if TYPE_CHECKING:
    from beets.library import Item

#: Flexible field set (in memory only, never stored) on items printed by ``similar``.
DISTANCE_FIELD = "deejai_distance"


def file_name(item: Item) -> str:
    """The item's file name (no folder), printable whatever its encoding."""
    return util.displayable_path(os.path.basename(item.path))


def item_line(item: Item, fmt: str | None = None) -> str:
    """``item`` as ``beet ls -f FMT`` prints it (no ``fmt``: beets' ``format_item``).

    With beets' format, an item that shows nothing more than an item without tags would (an
    untagged file: ``" -  - "``) shows its file name instead.
    """
    line = format(item, fmt or "")
    if not fmt and line == _untagged_line(beets_config["format_item"].as_str()):
        return file_name(item)
    return line


@functools.lru_cache(maxsize=8)
def _untagged_line(template: str) -> str:
    """What ``template`` makes of an item without any tag."""
    from beets.library import Item

    return format(Item(), template)


def format_lines(
    items: Sequence[Item], fmt: str | None, distances: Sequence[float] | None = None
) -> list[str]:
    """Each item through the beets template ``fmt``, or :func:`item_line`'s default.

    With the default format, items whose lines would be the same (different files with the
    same tags) are told apart by :func:`distinct_lines`.  With ``distances``,
    ``$deejai_distance`` is available in ``fmt``, and the default line ends with the distance
    in parentheses.  The distance is set on the in-memory item only (it is not stored).
    """
    if fmt:
        lines = [item_line(item, fmt) for item in items]
    else:
        lines = distinct_lines(items)
    if distances is not None:
        for pos, item in enumerate(items):
            item[DISTANCE_FIELD] = f"{float(distances[pos]):.4f}"
            if fmt:
                lines[pos] = item_line(item, fmt)
            else:
                lines[pos] = f"{lines[pos]}  ({item[DISTANCE_FIELD]})"
    return lines


#: What tells apart items that print the same, tried in order as beets' ``%aunique{}`` tries
#: album fields: the first that differs between all of them is added to their lines.
DISAMBIGUATORS = ("album", "year", "track", "file name", "path")


def _disambiguator(item: Item, name: str) -> str:
    if name == "album":
        return item.album or ""
    if name == "year":
        return str(item.year) if item.year else ""
    if name == "track":
        return f"track {item.track}" if item.track else ""
    if name == "file name":
        return file_name(item)
    return util.displayable_path(item.path)


def distinct_lines(items: Sequence[Item]) -> list[str]:
    """:func:`item_line` of each item, with ``" [<what differs>]"`` added to the lines that
    several items share (album, else year, else track number, else file name, else path:
    the first of :data:`DISAMBIGUATORS` whose values all differ within that group).

    Examples
    --------
    Five files tagged ``NeonCorridor - HyperRogue - Living Caves`` from five albums print as
    ``NeonCorridor - HyperRogue - Living Caves [HyperRogue OST]``, ... .
    """
    lines = [item_line(item) for item in items]
    groups: dict[str, list[int]] = {}
    for pos, line in enumerate(lines):
        groups.setdefault(line, []).append(pos)
    for line, where in groups.items():
        if len(where) < 2:
            continue
        for name in DISAMBIGUATORS:
            values = [_disambiguator(items[pos], name) for pos in where]
            if len(set(values)) == len(values):
                for pos, value in zip(where, values, strict=True):
                    lines[pos] = f"{line} [{value}]"
                break
    return lines


def outside_item(path: bytes) -> Item:
    """A (never stored) item for a file outside the library, tags read as ``beet import`` would.

    A file whose tags cannot be read still gets an item (its path only).
    """
    from beets.library import Item, ReadError

    try:
        return Item.from_path(path)
    except ReadError:
        return Item(path=util.bytestring_path(path))


def resolve_output_path(path: str, playlist_dir: str) -> bytes:
    """``-o`` value -> absolute file path: a relative path is taken inside ``playlist_dir``."""
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(os.path.expanduser(playlist_dir), path)
    return util.normpath(path)


def entry_path(item_path: bytes, playlist_path: bytes | str, relative_to: str) -> bytes:
    """How an item's path is written in a playlist file.

    Parameters
    ----------
    item_path : bytes
        Absolute path as beets stores it.
    playlist_path : bytes or str
        The playlist file.
    relative_to : str
        ``"playlist"``: relative to the playlist's folder; ``"absolute"``: as is;
        ``"library"``: relative to the beets music directory; anything else: a folder.
    """
    item_path = util.bytestring_path(item_path)
    if relative_to == "absolute":
        return item_path
    if relative_to == "playlist":
        base = os.path.dirname(util.normpath(playlist_path))
    elif relative_to == "library":
        base = util.normpath(beets_config["directory"].as_filename())
    else:
        base = util.normpath(relative_to)
    return os.path.relpath(item_path, base)


def extinf_title(item: Item) -> str:
    """The title of the item's ``#EXTINF`` line: ``artist - title``, else the file name."""
    if not item.title:
        return display_name(item.path)  # the file is UTF-8: no surrogates of a Latin-1 name
    title = f"{item.artist} - {item.title}" if item.artist else item.title
    return " ".join(title.splitlines())


def m3u_bytes(items: Sequence[Item], playlist_path: bytes | str, relative_to: str) -> bytes:
    """An extended M3U (UTF-8) listing ``items`` in order, with ``#EXTINF`` lines.

    Paths are written as the bytes beets has (a file name that is not UTF-8 stays playable).
    """
    out = [b"#EXTM3U\n"]
    for item in items:
        out.append(f"#EXTINF:{int(round(item.length or 0))},{extinf_title(item)}\n".encode())
        out.append(entry_path(item.path, playlist_path, relative_to) + b"\n")
    return b"".join(out)


def write_m3u(items: Sequence[Item], path: bytes | str, relative_to: str) -> bytes:
    """Write the playlist atomically (temporary file, then rename) into an existing folder
    (:func:`.checks.prepare_output_file` makes it); returns its path."""
    path = util.normpath(path)
    data = m3u_bytes(items, path, relative_to)
    with replaced_atomically(path, suffix=b".m3u") as tmp, open(tmp, "wb") as f:
        f.write(data)
    return path


def play(items: Sequence[Item], log, *, args: str | None = None, yes: bool = False) -> None:
    """Send ``items`` to the player as ``beet play QUERY`` would send them, in this order.

    Everything comes from the ``play`` plugin (beets' ``beetsplug/play.py``, used whether or
    not it is enabled): ``play.command`` (else the system's opener), ``$args`` (``args``),
    ``$playlist``, ``raw`` (the paths instead of a playlist file), ``relative_to``, ``bom``
    and ``warning_threshold`` (a prompt, unless ``yes``).  Like ``beet play``, this replaces
    the beets process.
    """
    from beetsplug import play as play_module

    if not items:
        ui.print_("deejai: nothing to play.")
        return
    player = _play_plugin()
    settings = beets_config["play"]
    paths = [item.path for item in items]
    if settings["relative_to"].get():
        base = util.normpath(settings["relative_to"].get())
        paths = [os.path.relpath(path, base) for path in paths]
    open_args = player._playlist_or_paths(paths)
    command = player._command_str(args)
    if play_module.PLS_MARKER in command:  # as `beet play`: the playlist file goes there
        if settings["raw"].get(bool):
            command = command.replace(play_module.PLS_MARKER, " ")
        else:
            quoted = " ".join(shlex.quote(util.displayable_path(a)) for a in open_args)
            command = command.replace(play_module.PLS_MARKER, quoted)
            open_args = []
    if yes or not player._exceeds_threshold(items, command, open_args):
        play_module.play(command, items, paths, open_args, log)


def _play_plugin():
    """The ``play`` plugin: the loaded one, else one made for its helpers and defaults."""
    for plugin in plugins.find_plugins():
        if plugin.name == "play":
            return plugin
    from beetsplug.play import PlayPlugin

    return PlayPlugin()
