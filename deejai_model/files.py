"""Writing files so that nothing is ever half-written, with the modes a plain ``open()`` gives.

:func:`replaced_atomically` is the one write-then-rename of the project: what it writes
appears whole under its final name or not at all.

:func:`tempfile.mkstemp` creates files readable by their owner only (0600) and
:func:`tempfile.mkdtemp` such folders (0700); renamed into place they would keep that mode.
A mix, a playlist, an index or a trained bundle should get the mode a plain ``open()`` or
``mkdir()`` gives: 0666 or 0777 less the process's umask.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import AnyStr


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


@contextlib.contextmanager
def replaced_atomically(
    path: AnyStr, *, suffix: AnyStr | None = None, directory: bool = False, public: bool = True
) -> Iterator[AnyStr]:
    """Write ``path`` whole or not at all: yield a temporary name beside it, then rename.

    The temporary file (or, with ``directory``, folder) is made in ``path``'s folder, so the
    final :func:`os.replace` is atomic. When the ``with`` block raises (Ctrl-C included), the
    temporary name is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or bytes
        The final name; a bytes path (beets' paths) gives a bytes temporary name.
    suffix : str or bytes, optional
        Ending of the temporary name (some writers choose the format by it); default ``.tmp``.
    directory : bool
        Make a temporary folder instead of a file (an existing ``path`` folder must be empty
        or absent for :func:`os.replace`).
    public : bool
        Give the result the mode a plain ``open()`` / ``mkdir()`` would (see
        :func:`make_public`), not :mod:`tempfile`'s private 0600 / 0700.

    Yields
    ------
    str or bytes
        The temporary name to write; it already exists (empty).
    """
    folder = os.path.dirname(path) or (b"." if isinstance(path, bytes) else ".")
    prefix = b".deejai-" if isinstance(path, bytes) else ".deejai-"
    if suffix is None:
        suffix = b".tmp" if isinstance(path, bytes) else ".tmp"
    if directory:
        tmp = tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=folder)
    else:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
        os.close(fd)
    try:
        yield tmp
        if public:
            make_public(tmp, directory=directory)
        os.replace(tmp, path)
    except BaseException:
        if directory:
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)
        raise
