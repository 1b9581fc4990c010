"""``beet deejai serve [--host 127.0.0.1] [--port 8050]``: run the browser DJ."""

from __future__ import annotations

import optparse
from typing import TYPE_CHECKING

from beets import ui
from beets.ui import UserError

from . import DEFAULT_MAX_UPLOAD, create_app, is_loopback

if TYPE_CHECKING:
    from ..session import LibrarySession

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050


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
    dj = open_dj(session, lookback=opts.lookback, noise=opts.noise, ahead=opts.ahead)
    app = create_app(dj, int(opts.max_upload * 2**20))
    dj.warm_map()  # the map of the library's sound: read, or drawn once and cached
    if not is_loopback(opts.host):
        session.log.warning(
            "listening on {}: anyone who can reach this address can play your library and "
            "upload files (there is no login)",
            opts.host,
        )
    ui.print_(f"deejai: serving {len(dj.index)} tracks at http://{opts.host}:{opts.port}/")
    try:
        app.run(host=opts.host, port=opts.port, threaded=True, debug=False, use_reloader=False)
    except OSError as error:
        raise UserError(
            f"deejai serve: cannot listen on {opts.host}:{opts.port}: {error}"
        ) from None
