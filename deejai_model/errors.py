"""Exceptions raised by the deejai_model library.

Every error that concerns one file carries the file's path and a short reason, and its
``str()`` is a single line ``"<path>: <reason>"`` so callers can log it as it is and go on
with the next file.
"""

from __future__ import annotations

import os


class DeejaiError(Exception):
    """Base class of every error this library raises on purpose."""


class AudioError(DeejaiError):
    """A file could not be turned into audio samples (undecodable, empty, silent...).

    Parameters
    ----------
    path : str or os.PathLike
        The file that failed.
    reason : str
        One line saying why, e.g. ``"no audio stream"`` or ``"silent"``.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{displayable(self.path)}: {reason}")


def displayable(path: str | bytes | os.PathLike) -> str:
    """``path`` as printable text: bytes that are not UTF-8 become U+FFFD (like beets'
    ``displayable_path``), so a message about a Latin-1 file name can always be printed."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "replace")


class UndecodableAudioError(AudioError):
    """The container or codec cannot be read."""


class EmptyAudioError(AudioError):
    """The file decodes to no samples at all."""


class SilentAudioError(AudioError):
    """The file decodes, but every sample is (near) zero: there is nothing to listen to."""


class BundleError(DeejaiError):
    """A model bundle is missing, malformed, or its weights do not match its manifest."""
