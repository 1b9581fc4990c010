"""``beet deejai serve``: a browser DJ that keeps playing library tracks that go together.

A Flask app (beets' own ``web`` plugin uses Flask) serving one plain HTML page with its
JavaScript and CSS (package data: no build step, no CDN, works offline) and a small JSON API
over a :class:`~beetsplug.deejai.web.backend.LibraryDj`:

========================  ==============================================================
``GET /``                 the page
``GET /api/state``        what plays, the queue, the controls
``GET /api/suggest?q=``   embedded items matching a beets query (up to 10), or untagged ones
                          by file name; look-alikes get a ``"detail"``
``POST /api/seed``        ``{"query"}``: start from the first match; ``{"id"}``: from a track
                          picked from the suggestions or on the map
``POST /api/journey``     ``{"a", "b", "via": [...], "n"}``: play a journey (each point a
                          query or ``{"id"}``)
``GET /api/map``          the map of the library's sound (drawn once, cached by the index)
``POST /api/queue``       ``{"id", "action": "remove"|"move", "position"}``: edit the queue
``POST /api/upload``      multipart ``audio``: start from a file outside the library
``POST /api/mic``         multipart ``audio``: start from the track whose beginning matches
``POST /api/next``        ``{"skipped"}``: the track ended or was skipped
``POST /api/controls``    ``{"lookback", "noise"}``: "keep on" and "drunk"
``POST /api/feedback``    ``{"id", "verdict": "more"|"less"}``
``GET /audio/<id>``       the item's file, with HTTP range requests (seeking)
``GET /art/<id>``         the cover (beets' ``artpath``, else the image embedded in the file)
``/rest/<method>``        the OpenSubsonic API (:mod:`beetsplug.deejai.subsonic`)
========================  ==============================================================

Errors are JSON ``{"error": "..."}`` with status 400, 404, 405, 413 or 500, never a traceback.
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from ..subsonic.settings import SubsonicSettings
    from .backend import LibraryDj

#: Largest upload accepted (bytes), unless ``--max-upload`` says otherwise.
DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024


def create_app(
    dj: LibraryDj,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    subsonic: SubsonicSettings | None = None,
) -> Flask:
    """The Flask app serving ``dj``.

    Parameters
    ----------
    dj : LibraryDj
        The session and library it serves.
    max_upload : int
        Largest request body in bytes (a larger upload gets 413).
    subsonic : SubsonicSettings, optional
        Logins of the Subsonic API under ``/rest/`` (default: ``deejai.subsonic``).
    """
    from flask import Flask

    from .routes import register

    # the folders are named, not searched for: Flask's search for the package of a namespace
    # package's module fails (StopIteration) under an editable install's import hook
    here = os.path.dirname(os.path.abspath(__file__))
    app = Flask(
        __name__,
        static_folder="static",
        template_folder="templates",
        root_path=here,
        instance_path=os.path.join(here, "instance"),  # never used: the app keeps no files
    )
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload)
    register(app, dj)
    from ..subsonic import add_subsonic

    add_subsonic(app, dj.library, subsonic)
    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
