"""The ``subsonic-response`` envelope, as XML (the default) or JSON, from one dict shape.

A body is a dict: scalar values are XML attributes (JSON members), dict values are child
elements, lists are repeated child elements named by their key (a list of scalars repeats
elements whose text is the value, as ``versions`` of an ``openSubsonicExtension``).  JSON
keeps the same dict, so both formats come from one shape.
"""

from __future__ import annotations

import functools
import json
import re
from xml.sax.saxutils import escape, quoteattr

API_VERSION = "1.16.1"
SERVER_TYPE = "beets-deejai"
XMLNS = "http://subsonic.org/restapi"

#: Error codes of the spec (Responses/error).
GENERIC, MISSING, CLIENT_OLD, SERVER_OLD, WRONG_CREDENTIALS = 0, 10, 20, 30, 40
TOKEN_UNSUPPORTED, MECHANISM_UNSUPPORTED, CONFLICTING_AUTH, BAD_API_KEY = 41, 42, 43, 44
NOT_AUTHORISED, NOT_FOUND = 50, 70


class SubsonicError(Exception):
    """A request answered with ``status="failed"``: ``code`` of the spec, a message, and the
    HTTP status to send it with (200, as Subsonic servers do, unless said)."""

    def __init__(self, code: int, message: str, http_status: int = 200):
        super().__init__(message)
        self.code = code
        self.http_status = http_status


@functools.cache
def server_version() -> str:
    """The plugin's version, for ``serverVersion``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("beets-deejai")
    except PackageNotFoundError:
        return "0"


def envelope(body: dict | None = None, *, error: SubsonicError | None = None) -> dict:
    """The ``subsonic-response`` dict: the fields every answer has, then ``body`` (or the
    error)."""
    out: dict = {
        "status": "failed" if error is not None else "ok",
        "version": API_VERSION,
        "type": SERVER_TYPE,
        "serverVersion": server_version(),
        "openSubsonic": True,
    }
    if error is not None:
        out["error"] = {"code": error.code, "message": str(error)}
    elif body:
        out.update(body)
    return out


def utf8(text: str) -> bytes:
    """``text`` as UTF-8; surrogates (from a file name or tag that is not UTF-8) become U+FFFD
    instead of failing the response."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return text.encode("utf-8", "replace")
        return raw.decode("utf-8", "replace").encode("utf-8")


def to_json(response: dict, callback: str | None = None) -> str:
    """``{"subsonic-response": response}`` as JSON (JSONP when a ``callback`` is named)."""
    text = json.dumps({"subsonic-response": response}, ensure_ascii=False, separators=(",", ":"))
    return f"{callback}({text});" if callback else text


#: Characters XML 1.0 forbids (controls but tab and newlines; U+FFFE, U+FFFF): a tag that has
#: one (a NUL from an ID3 list, an escape code) would make the whole document unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _element(name: str, value, out: list[str]) -> None:
    if isinstance(value, dict):
        attrs = "".join(
            f" {k}={quoteattr(_scalar(v))}"
            for k, v in value.items()
            if not isinstance(v, dict | list) and v is not None
        )
        children = [(k, v) for k, v in value.items() if isinstance(v, dict | list)]
        if not children:
            out.append(f"<{name}{attrs}/>")
            return
        out.append(f"<{name}{attrs}>")
        for key, child in children:
            if isinstance(child, list):
                for entry in child:
                    _element(key, entry, out)
            else:
                _element(key, child, out)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{escape(_scalar(value))}</{name}>")


def to_xml(response: dict) -> str:
    """``response`` as the ``<subsonic-response>`` XML document."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _element("subsonic-response", {"xmlns": XMLNS, **response}, out)
    return "".join(out)
