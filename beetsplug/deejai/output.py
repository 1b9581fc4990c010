"""Showing results: beets format strings, extended M3U files, handing a playlist to a player."""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from beets import config as beets_config
from beets import ui, util

if TYPE_CHECKING:
    from beets.library import Item

#: Flexible field set (in memory only, never stored) on items printed by ``similar``.
DISTANCE_FIELD = "deejai_distance"


def format_lines(
    items: Sequence[Item], fmt: str, distances: Sequence[float] | None = None
) -> list[str]:
    """Each item through the beets template ``fmt``; ``$deejai_distance`` is available.

    The distance is set on the in-memory item only (it is not stored).
    """
    lines = []
    for pos, item in enumerate(items):
        if distances is not None:
            item[DISTANCE_FIELD] = f"{float(distances[pos]):.4f}"
        lines.append(item.evaluate_template(fmt))
    return lines


def resolve_output_path(path: str, playlist_dir: str) -> str:
    """``-o`` value -> file path: a relative path is taken inside ``playlist_dir``."""
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(playlist_dir, path)
    return os.path.abspath(path)


def entry_path(item_path: bytes, playlist_path: str, relative_to: str) -> bytes:
    """How an item's path is written in a playlist file.

    Parameters
    ----------
    item_path : bytes
        Absolute path as beets stores it.
    playlist_path : str
        The playlist file.
    relative_to : str
        ``"playlist"``: relative to the playlist's folder; ``"absolute"``: as is;
        ``"library"``: relative to the beets music directory; anything else: a folder.
    """
    if relative_to == "absolute":
        return bytes(item_path)
    if relative_to == "playlist":
        base = os.path.dirname(os.path.abspath(playlist_path))
    elif relative_to == "library":
        base = beets_config["directory"].as_filename()
    else:
        base = os.path.abspath(os.path.expanduser(relative_to))
    return os.path.relpath(bytes(item_path), os.fsencode(base))


def m3u_bytes(items: Sequence[Item], playlist_path: str, relative_to: str) -> bytes:
    """An extended M3U (UTF-8) listing ``items`` in order, with ``#EXTINF`` lines."""
    out = [b"#EXTM3U\n"]
    for item in items:
        title = f"{item.artist} - {item.title}".replace("\n", " ")
        out.append(f"#EXTINF:{int(round(item.length or 0))},{title}\n".encode())
        out.append(entry_path(item.path, playlist_path, relative_to) + b"\n")
    return b"".join(out)


def write_m3u(items: Sequence[Item], path: str, relative_to: str) -> str:
    """Write the playlist atomically (temporary file, then rename); returns its path."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    data = m3u_bytes(items, path, relative_to)
    fd, tmp = tempfile.mkstemp(prefix=".deejai-", suffix=".m3u", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a playlist is not
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def play(items: Sequence[Item], playlist_path: str | None, log) -> None:
    """Hand the playlist to the player the ``play`` plugin would use, and exit into it.

    The command is ``play.command`` from the configuration (``$playlist`` is replaced by the
    file, otherwise the file is appended), else the system's "open" command.  Like
    ``beet play``, this replaces the beets process.
    """
    if not items:
        ui.print_("deejai: nothing to play.")
        return
    if playlist_path is None:
        playlist_path = write_m3u(
            items, util.get_temp_filename(__name__, suffix=".m3u").decode(), "absolute"
        )
    command = None
    if "play" in beets_config and beets_config["play"]["command"].exists():
        command = beets_config["play"]["command"].get()
    command = command or util.open_anything()
    ui.print_(f"Playing {len(items)} tracks.")
    log.debug("executing {} {}", command, playlist_path)
    command = command.replace(" $args", "").replace("$args", "")
    targets: list[str] = [playlist_path]
    if "$playlist" in command:  # the play plugin's marker: the file goes there
        command = command.replace("$playlist", shlex.quote(playlist_path))
        targets = []
    try:
        util.interactive_open(targets, command)
    except OSError as exc:
        raise ui.UserError(f"could not play the playlist: {exc}") from exc
