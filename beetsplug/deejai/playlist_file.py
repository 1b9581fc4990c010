"""An M3U file as the library sees it: its entries mapped to items, rewritten in place.

``beet deejai playlist --extend`` and ``beet deejai reorder`` change a playlist someone
keeps: they must not lose what they do not understand.  :func:`read_playlist` keeps every
line as the bytes it was (comments, ``#EXTINF`` lines, streams, files not in the library) and
maps each entry it can to a library item; :meth:`PlaylistFile.extended` and
:meth:`PlaylistFile.reordered` give the new file's bytes, with new entries written in the path
style the file already uses (absolute, relative to its folder, to the library, or to
``playlist.relative_to``) and its line ends; :func:`rewrite` replaces the file atomically
(:func:`deejai_model.files.replaced_atomically`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beets import config as beets_config
from beets import util
from beets.ui import UserError

from deejai_model.files import replaced_atomically

from .output import entry_path, extinf_title

if TYPE_CHECKING:
    from beets.library import Item, Library

__all__ = ["PlaylistFile", "find_playlist", "read_playlist", "rewrite"]


@dataclass
class Entry:
    """One track line of the file: its line, the ``#EXTINF`` line just before it, its item."""

    line: int
    extinf: int | None
    item_id: int | None


@dataclass
class PlaylistFile:
    """A read M3U file.

    Attributes
    ----------
    path : bytes
        The file (absolute).
    lines : list of bytes
        Every line, without its line end.
    newline : bytes
        The file's line end.
    extended : bool
        Whether it starts with ``#EXTM3U`` (new entries then get ``#EXTINF`` lines).
    entries : list of Entry
        Its track lines in order.
    style : str
        How its paths are written: ``absolute``, ``playlist``, ``library`` or a folder.
    bom : bytes
        The UTF-8 byte order mark the file opens with (``b""``: none), written back as it was.
    """

    path: bytes
    lines: list[bytes]
    newline: bytes
    extended: bool
    entries: list[Entry]
    style: str
    bom: bytes = b""

    @property
    def item_ids(self) -> list[int]:
        """The library items it lists, in order (entries of other files left out)."""
        return [e.item_id for e in self.entries if e.item_id is not None]

    def _join(self, lines: Sequence[bytes]) -> bytes:
        return self.bom + b"".join(line + self.newline for line in lines)

    def _entry_lines(self, item: Item) -> list[bytes]:
        lines = []
        if self.extended:
            lines.append(f"#EXTINF:{int(round(item.length or 0))},{extinf_title(item)}".encode())
        lines.append(entry_path(item.path, self.path, self.style))
        return lines

    def extended_with(self, items: Sequence[Item]) -> bytes:
        """The file with ``items`` appended, every line before them kept as it was."""
        lines = list(self.lines)
        while lines and not lines[-1].strip():
            lines.pop()
        for item in items:
            lines += self._entry_lines(item)
        return self._join(lines)

    def reordered(self, item_ids: Sequence[int]) -> bytes:
        """The file with its library entries (and their ``#EXTINF`` lines) in the order of
        ``item_ids`` (a permutation of :attr:`item_ids`), in the places library entries held;
        every other line stays where it was."""
        known = [e for e in self.entries if e.item_id is not None]
        if sorted(item_ids) != sorted(e.item_id for e in known):
            raise ValueError("a reordering must list the playlist's items, each once")
        pool: dict[int, list[Entry]] = {}
        for entry in known:
            pool.setdefault(entry.item_id, []).append(entry)
        blocks = []
        for item_id in item_ids:
            entry = pool[item_id].pop(0)
            block = [self.lines[entry.extinf]] if entry.extinf is not None else []
            blocks.append(block + [self.lines[entry.line]])
        moved = {e.line for e in known} | {e.extinf for e in known if e.extinf is not None}
        starts = {e.extinf if e.extinf is not None else e.line for e in known}
        out: list[bytes] = []
        next_block = iter(blocks)
        for number, line in enumerate(self.lines):
            if number in starts:
                out += next(next_block)
            elif number not in moved:
                out.append(line)
        return self._join(out)


def _path_index(lib: Library) -> dict[bytes, int]:
    """Every item's absolute path -> its id (one query; beets >= 2.12 stores paths inside the
    music folder relative to it)."""
    try:
        from beets.dbcore.pathutils import expand_path_from_db
    except ImportError:  # an older beets stores absolute paths

        def expand_path_from_db(path: bytes) -> bytes:
            return path

    with lib.transaction() as tx:
        rows = tx.query("SELECT id, path FROM items")
    return {
        util.normpath(expand_path_from_db(util.bytestring_path(path))): int(item_id)
        for item_id, path in rows
    }


def _bases(path: bytes) -> dict[str, bytes]:
    """The folders a relative entry may be relative to, by style name, most likely first."""
    bases = {"playlist": os.path.dirname(path)}
    library = beets_config["directory"].as_filename()
    bases["library"] = util.normpath(library)
    relative_to = beets_config["playlist"]["relative_to"]
    if relative_to.exists() and relative_to.get() not in (None, "library", "playlist"):
        folder = util.normpath(relative_to.as_filename())
        bases[util.displayable_path(folder)] = folder
    return bases


def read_playlist(lib: Library, path: bytes | str) -> PlaylistFile:
    """Read an M3U / M3U8 file and map its entries to library items.

    Raises
    ------
    UserError
        When the file cannot be read.
    """
    path = util.normpath(path)
    try:
        with open(util.syspath(path), "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise UserError(f"deejai: cannot read {util.displayable_path(path)}: {error}") from None
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    lines = data.split(newline)
    if lines and lines[-1] == b"":
        lines.pop()
    bom = b""
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        bom, lines[0] = lines[0][:3], lines[0][3:]  # not the first line's text; kept for writing
    by_path = _path_index(lib)
    bases = _bases(path)
    styles: Counter = Counter()
    entries = []
    for number, raw in enumerate(lines):
        text = raw.strip()
        if not text or text.startswith(b"#"):
            continue
        extinf = number - 1 if number and lines[number - 1].startswith(b"#EXTINF") else None
        item_id = None
        if b"://" not in text:
            if os.path.isabs(text):
                item_id = by_path.get(util.normpath(text))
                styles["absolute"] += item_id is not None
            else:
                for style, base in bases.items():
                    item_id = by_path.get(util.normpath(os.path.join(base, text)))
                    if item_id is not None:
                        styles[style] += 1
                        break
        entries.append(Entry(number, extinf, item_id))
    style = styles.most_common(1)[0][0] if styles else "playlist"
    if style not in ("absolute", "playlist", "library"):
        style = bases[style].decode("utf-8", "surrogateescape")
    extended = bool(lines) and lines[0].strip().upper().startswith(b"#EXTM3U")
    return PlaylistFile(path, lines, newline, extended, entries, style, bom)


def find_playlist(name: str) -> bytes:
    """A playlist named on the command line: that file when it exists, else the ``playlist``
    plugin's ``playlist_dir/NAME.m3u`` (or ``.m3u8``), as its ``playlist:NAME`` query finds it.

    Raises
    ------
    UserError
        When neither exists.
    """
    if os.path.isfile(util.syspath(util.normpath(name))):
        return util.normpath(name)
    view = beets_config["playlist"]["playlist_dir"]
    if view.exists() and view.get():
        folder = view.as_filename()
        for ext in ("", ".m3u", ".m3u8"):
            candidate = util.normpath(os.path.join(folder, name + ext))
            if os.path.isfile(util.syspath(candidate)):
                return candidate
    raise UserError(f"deejai: no playlist file {name!r} (nor in playlist.playlist_dir)")


def rewrite(path: bytes, data: bytes) -> None:
    """Replace the file with ``data`` atomically (whole or not at all); its mode is kept."""
    try:
        mode = os.stat(util.syspath(path)).st_mode & 0o777
    except OSError:
        mode = None
    with replaced_atomically(path, suffix=b".m3u", public=mode is None) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
