"""``beet deejai serve [--host 127.0.0.1] [--port 8050]``: run the browser DJ.

The app is served by waitress, a production WSGI server in pure Python (beets users run the DJ
at home for months), not by Flask's development server and its warning.
"""

from __future__ import annotations

import optparse
from typing import TYPE_CHECKING

from beets import ui
from beets.ui import UserError

from . import DEFAULT_MAX_UPLOAD, create_app, is_loopback

if TYPE_CHECKING:
    from flask import Flask

    from ..session import LibrarySession

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
#: Requests answered at once (audio streams and API calls share them).
THREADS = 8


def parser() -> optparse.OptionParser:
    """Options of ``beet deejai serve``."""
    p = ui.CommonOptionsParser(prog="beet deejai serve", usage="%prog [options]")
    p.add_option(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on [%default]; any other than loopback lets others in",
    )
    p.add_option("--port", type="int", default=DEFAULT_PORT, help="port [%default]")
    p.add_option("--lookback", type="int", default=3, help='"keep on" to start with [%default]')
    p.add_option("--noise", type="float", default=0.0, help='"drunk" to start with [%default]')
    p.add_option("--ahead", type="int", default=5, help="tracks shown as up next [%default]")
    p.add_option(
        "--max-upload",
        type="float",
        default=DEFAULT_MAX_UPLOAD / 2**20,
        help="largest upload in MiB [%default]",
    )
    return p


def run(session: LibrarySession, opts: optparse.Values, rest: list[str]) -> None:
    """``beet deejai serve``: open the DJ on the library and serve until Ctrl-C."""
    from .backend import open_dj

    if rest:
        raise UserError(f"deejai serve: unexpected arguments: {' '.join(rest)}")
    if not 0 < opts.port < 65536:
        raise UserError(f"deejai serve: bad port {opts.port}")
    if opts.max_upload <= 0:
        raise UserError("deejai serve: --max-upload must be > 0")
    from ..subsonic.settings import SubsonicSettings

    subsonic = SubsonicSettings.from_config()
    if not is_loopback(opts.host) and not subsonic.users:
        raise UserError(
            f"deejai serve: not listening on {opts.host} with no Subsonic users: "
            "add deejai.subsonic.users (docs/subsonic.md), or serve on 127.0.0.1"
        )
    dj = open_dj(session, lookback=opts.lookback, noise=opts.noise, ahead=opts.ahead)
    app = create_app(dj, int(opts.max_upload * 2**20), subsonic)
    dj.warm_map()  # the map of the library's sound: read, or drawn once and cached
    if not is_loopback(opts.host):
        session.log.warning(
            "listening on {}: anyone who can reach this address can play your library and "
            "upload files (there is no login)",
            opts.host,
        )
    ui.print_(f"deejai: serving {len(dj.index)} tracks at http://{opts.host}:{opts.port}/")
    try:
        serve_wsgi(app, host=opts.host, port=opts.port)
    except OSError as error:
        raise UserError(
            f"deejai serve: cannot listen on {opts.host}:{opts.port}: {error}"
        ) from None


def serve_wsgi(app: Flask, *, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` with waitress until Ctrl-C.

    Raises
    ------
    OSError
        When the address cannot be listened on (in use, not ours).
    """
    from waitress.server import create_server

    # not waitress.serve: it sets up the root logger and prints its own "Serving on" line
    server = create_server(app, host=host, port=port, threads=THREADS, ident="beets-deejai")
    server.run()  # returns on Ctrl-C, the server closed
