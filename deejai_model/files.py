"""File modes for what is written under a temporary name and renamed into place.

:func:`tempfile.mkstemp` creates files readable by their owner only (0600) and
:func:`tempfile.mkdtemp` such folders (0700); renamed into place they would keep that mode.
A mix, a playlist, an index or a trained bundle should get the mode a plain ``open()`` or
``mkdir()`` gives: 0666 or 0777 less the process's umask.
"""

from __future__ import annotations

import os


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def make_public(path: str | bytes | os.PathLike, directory: bool = False) -> None:
    """Give ``path`` the mode a new file (or, with ``directory``, folder) would have."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def display_name(path: str | bytes | os.PathLike) -> str:
    """The file name of ``path`` (no folder) as text that encodes to UTF-8.

    Bytes of the name that are not UTF-8 become U+FFFD, so the name can go into a tag, a CUE
    sheet or an M3U line (``os.fsdecode`` would leave surrogates that no UTF-8 file accepts).
    """
    name = os.path.basename(os.fsdecode(path))
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
