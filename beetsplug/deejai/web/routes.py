"""The browser DJ's routes (see :mod:`beetsplug.deejai.web` for the list)."""

from __future__ import annotations

import io
import mimetypes
from typing import TYPE_CHECKING

from beets.logging import getLogger

from .backend import RequestError

if TYPE_CHECKING:
    from flask import Flask

    from .backend import LibraryDj

log = getLogger("beets.deejai")


def audio_type(path: str) -> str:
    """The content type to send an audio file with."""
    extra = {".flac": "audio/flac", ".opus": "audio/ogg", ".m4a": "audio/mp4", ".ogg": "audio/ogg"}
    for ext, kind in extra.items():
        if path.lower().endswith(ext):
            return kind
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _body() -> dict:
    from flask import request

    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise RequestError("a JSON object is needed")
    return data


def _number(data: dict, key: str, kind: type):
    value = data.get(key)
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise RequestError(f"{key} must be a number, not {value!r}") from None


def _end(value) -> str | int:
    """A journey end or waypoint: ``{"id": n}`` (picked from the suggestions) or a query."""
    if isinstance(value, dict):
        item_id = _number(value, "id", int)
        if item_id is None:
            raise RequestError("a journey point needs an id or a query")
        return item_id
    return "" if value is None else str(value)


def image_type(data: bytes) -> str:
    """The content type of an embedded cover, from its first bytes."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


def _upload() -> tuple[bytes, str | None, str | None]:
    from flask import request

    storage = request.files.get("audio")
    if storage is None:
        raise RequestError("no file: send it as the multipart field 'audio'")
    return storage.read(), storage.filename or None, storage.mimetype or None


def register(app: Flask, dj: LibraryDj) -> None:
    """Add the page, the API, the audio and the error handlers to ``app``."""
    from flask import jsonify, render_template, request, send_file
    from werkzeug.exceptions import HTTPException

    @app.before_request
    def library_context() -> None:
        # beets resolves item paths against a context variable that each server thread starts
        # without (it is set in the main thread only): bind it for this request's thread
        try:
            from beets import context
        except ImportError:  # beets before 2.4 stores absolute paths
            return
        context.set_music_dir(dj.lib.directory)

    @app.errorhandler(RequestError)
    def request_error(error: RequestError):
        return jsonify(error=str(error)), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        text = error.description
        if error.code == 413:
            text = f"upload too large (at most {app.config['MAX_CONTENT_LENGTH']} bytes)"
        return jsonify(error=text), error.code

    @app.errorhandler(Exception)
    def internal_error(error: Exception):
        log.error("serve: {}: {}", type(error).__name__, error)  # the logger says "deejai: "
        return jsonify(error=f"internal error: {type(error).__name__}"), 500

    @app.get("/")
    def page():
        return render_template("index.html")

    @app.get("/api/state")
    def state():
        return jsonify(dj.state())

    @app.get("/api/suggest")
    def suggest():
        text = request.args.get("q", "")
        return jsonify(items=dj.find(text) if text.strip() else [])

    @app.post("/api/seed")
    def seed():
        data = _body()
        item_id = _number(data, "id", int)
        return jsonify(
            dj.seed_query(item_id if item_id is not None else str(data.get("query", "")))
        )

    @app.get("/api/map")
    def sound_map():
        return jsonify(dj.map_data())

    @app.post("/api/queue")
    def edit_queue():
        data = _body()
        item_id = _number(data, "id", int)
        if item_id is None:
            raise RequestError("id is needed")
        return jsonify(
            dj.edit_queue(item_id, str(data.get("action", "")), _number(data, "position", int))
        )

    @app.post("/api/journey")
    def journey():
        data = _body()
        via = data.get("via") or []
        if not isinstance(via, list):
            raise RequestError("via must be a list of queries")
        n = _number(data, "n", int)
        return jsonify(
            dj.journey(
                [_end(data.get("a")), _end(data.get("b"))],
                [_end(v) for v in via],
                4 if n is None else n,
            )
        )

    @app.post("/api/upload")
    def upload():
        return jsonify(dj.seed_upload(*_upload()))

    @app.post("/api/mic")
    def microphone():
        data, _, content_type = _upload()
        return jsonify(dj.seed_microphone(data, content_type))

    @app.post("/api/next")
    def next_track():
        data = request.get_json(silent=True) or {}
        return jsonify(dj.advance(bool(data.get("skipped", False))))

    @app.post("/api/controls")
    def controls():
        data = _body()
        return jsonify(dj.controls(_number(data, "lookback", int), _number(data, "noise", float)))

    @app.post("/api/feedback")
    def feedback():
        data = _body()
        item_id = _number(data, "id", int)
        if item_id is None:
            raise RequestError("id is needed")
        return jsonify(dj.feedback(item_id, str(data.get("verdict", ""))))

    @app.get("/audio/<int:item_id>")
    def audio(item_id: int):
        path = dj.file_of(item_id)
        return send_file(path, mimetype=audio_type(path), conditional=True, etag=True)

    @app.get("/art/<int:item_id>")
    def art(item_id: int):
        art = dj.art_of(item_id)
        if isinstance(art, bytes):  # embedded in the audio file
            return send_file(io.BytesIO(art), mimetype=image_type(art), max_age=3600)
        return send_file(art, conditional=True)
