"""What the user typed, checked before any work: option values and output files.

Each mistake is one :class:`beets.ui.UserError` line (beets prints ``error: ...`` and exits 1)
that names the option or the path as typed; nothing is written before the checks pass.

Missing folders of an output file (``-o`` of the query commands and of ``mix``) are created, as
beets' ``smartplaylist`` plugin creates its playlist folders; an output that names a folder, a
path under a file, or a place that cannot be written to is refused.
"""

from __future__ import annotations

import optparse
import os
import tempfile

from beets import util
from beets.ui import UserError

#: Options that count or measure something, by ``dest``: they must be >= 0.
NON_NEGATIVE = ("n", "lookback", "noise", "between", "ahead")
#: ``--relative-to`` values that are not folders.
RELATIVE_TO = ("playlist", "library", "absolute")


def _flag(dest: str) -> str:
    return "-n" if dest == "n" else "--" + dest.replace("_", "-")


def _typed(value: float) -> str:
    """A number as the user probably typed it (``-1.0`` -> ``-1``)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_option_values(action: str, opts: optparse.Values) -> None:
    """Refuse a negative count or amount (:data:`NON_NEGATIVE`) among the action's options.

    Raises
    ------
    UserError
        ``"deejai ACTION: --noise must be >= 0, not -1"``: the first offending option only.
    """
    for dest in NON_NEGATIVE:
        value = getattr(opts, dest, None)
        if isinstance(value, int | float) and value < 0:
            raise UserError(f"deejai {action}: {_flag(dest)} must be >= 0, not {_typed(value)}")


def check_relative_to(action: str, value: str) -> str:
    """``--relative-to`` (or ``deejai.relative_to``): one of :data:`RELATIVE_TO` or an existing
    folder.

    Raises
    ------
    UserError
        When ``value`` is neither (a typo such as ``absolut`` would write paths that resolve
        nowhere).
    """
    if value in RELATIVE_TO or os.path.isdir(util.syspath(util.normpath(value))):
        return value
    raise UserError(
        f"deejai {action}: --relative-to {value!r} is not {', '.join(RELATIVE_TO)} "
        "nor an existing folder"
    )


def _reason(error: OSError) -> str:
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:]


def prepare_output_file(action: str, path: bytes | str, *, log=None) -> bytes:
    """Make sure a file can be written at ``path``: create its missing folders, refuse the rest.

    Parameters
    ----------
    action : str
        The action, for the message (``"similar"``, ``"mix"``).
    path : bytes or str
        The absolute output file.
    log : logger, optional
        Told (INFO) about each folder created.

    Returns
    -------
    bytes
        ``path`` normalised (beets' ``normpath``).

    Raises
    ------
    UserError
        ``path`` is a folder, lies under a file, or its folder cannot be created or written to.
    """
    path = util.normpath(path)
    shown = util.displayable_path(path)
    where = f"deejai {action}: cannot write {shown}"
    if os.path.isdir(util.syspath(path)):
        raise UserError(f"{where}: it is a folder (-o names the file to write)")
    folder = os.path.dirname(path)
    existing = folder
    while not os.path.exists(util.syspath(existing)):
        existing = os.path.dirname(existing)
    if not os.path.isdir(util.syspath(existing)):
        raise UserError(f"{where}: {util.displayable_path(existing)} is a file, not a folder")
    if existing != folder:
        try:
            os.makedirs(util.syspath(folder), exist_ok=True)
        except OSError as error:
            shown_folder = util.displayable_path(folder)
            raise UserError(f"{where}: cannot create {shown_folder}: {_reason(error)}") from None
        if log is not None:
            log.info("created the folder {}", util.displayable_path(folder))
    try:  # the one true test of "can a file be written there" (root, ACLs, read-only mounts)
        with tempfile.TemporaryFile(dir=util.syspath(folder), prefix=".deejai-"):
            pass
    except OSError as error:
        raise UserError(f"{where}: {_reason(error)}") from None
    return path
