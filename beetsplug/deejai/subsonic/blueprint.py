"""The ``/rest/`` routes: one view answers every method, as ``/rest/NAME`` and
``/rest/NAME.view``, from the query string or a form body."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets.logging import getLogger

from . import annotate, browse, media, playlists, sonic
from .params import Params
from .responses import GENERIC, NOT_FOUND, SubsonicError, envelope, to_json, to_xml, utf8

if TYPE_CHECKING:
    from flask import Flask

    from .server import SubsonicServer

log = getLogger("beets.deejai")


def extensions(server: SubsonicServer, p: Params, user: str) -> dict:
    """``getOpenSubsonicExtensions`` (answered without credentials, as the spec asks);
    ``sonicSimilarity`` only while some item has vectors."""
    found = [
        {"name": "formPost", "versions": [1]},
        {"name": "apiKeyAuthentication", "versions": [1]},
    ]
    if server.has_vectors():
        found.append({"name": "sonicSimilarity", "versions": [1]})
    return {"openSubsonicExtensions": found}


HANDLERS = {
    "getOpenSubsonicExtensions": extensions,
    **browse.HANDLERS,
    **media.HANDLERS,
    **playlists.HANDLERS,
    **annotate.HANDLERS,
    **sonic.HANDLERS,
}
#: Methods answered without credentials.
PUBLIC = frozenset({"getOpenSubsonicExtensions"})
#: Methods that need vectors (not answered, as unknown methods, while there are none).
SONIC = frozenset({"getSonicSimilarTracks", "findSonicPath"})


def _render(body: dict | None, p: Params, error: SubsonicError | None = None):
    from flask import Response

    response = envelope(body, error=error)
    fmt = (p.get("f") or "xml").lower()
    status = error.http_status if error is not None else 200
    if fmt == "json":
        text, kind = to_json(response), "application/json"
    elif fmt == "jsonp":
        callback = p.get("callback") or "callback"
        if not callback.replace("_", "").replace(".", "").isalnum():
            callback = "callback"
        text, kind = to_json(response, callback), "application/javascript"
    else:
        text, kind = to_xml(response), "text/xml"
    return Response(utf8(text), status, mimetype=kind)


def answer(server: SubsonicServer, method: str, values, *, address: str):
    """The response to ``method`` with request ``values`` from ``address``: never an
    exception (a bug is error 0, logged)."""
    p = Params(values)
    name = method[:-5] if method.endswith(".view") else method
    try:
        handler = HANDLERS.get(name)
        if name not in PUBLIC:
            user = server.gate.check(values, address)
        else:
            user = ""
        if handler is None or (name in SONIC and not server.has_vectors()):
            raise SubsonicError(NOT_FOUND, f"unknown method: {name[:60]}", 404)
        body = handler(server, p, user)
    except SubsonicError as error:
        return _render(None, p, error)
    except Exception as error:  # noqa: BLE001 - a bug must not become a 500 with a traceback
        log.error("subsonic {}: {}: {}", name[:60], type(error).__name__, error)
        return _render(None, p, SubsonicError(GENERIC, f"internal error: {type(error).__name__}"))
    if isinstance(body, dict):
        return _render(body, p)
    return body


def register(app: Flask, server: SubsonicServer) -> None:
    """Add ``/rest/<method>`` (GET and POST) to ``app``."""
    from flask import request

    def rest(method: str):
        return answer(server, method, request.values, address=request.remote_addr or "")

    app.add_url_rule("/rest/<path:method>", "subsonic", rest, methods=["GET", "POST"])
