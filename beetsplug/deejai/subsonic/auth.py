"""Who asks: ``u`` with ``t`` + ``s`` (token = md5(password + salt)), ``p`` (plain or
``enc:`` + hex), or ``apiKey`` alone (the ``apiKeyAuthentication`` extension); and the
lock-out of an address after repeated wrong logins.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping

from .responses import (
    BAD_API_KEY,
    CONFLICTING_AUTH,
    MISSING,
    WRONG_CREDENTIALS,
    SubsonicError,
)
from .settings import SubsonicSettings


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(
        a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape")
    )


def _password(value: str) -> str:
    """``p`` as sent: plain, or ``enc:`` + the hex of its UTF-8."""
    if value.startswith("enc:"):
        try:
            return bytes.fromhex(value[4:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise SubsonicError(WRONG_CREDENTIALS, "wrong username or password") from None
    return value


class Gate:
    """Checks credentials, counting wrong ones per client address.

    Parameters
    ----------
    settings : SubsonicSettings
        The users, and ``max_failures`` / ``lockout``.
    clock : callable
        Seconds (monotonic); tests may pass their own.
    """

    def __init__(self, settings: SubsonicSettings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def _locked_for(self, address: str) -> float:
        """Seconds ``address`` stays locked out (0: not locked)."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(address, []) if now - t < self.settings.lockout]
            self._failures[address] = recent
            if len(recent) >= self.settings.max_failures:
                return max(0.0, self.settings.lockout - (now - recent[-1]))
        return 0.0

    def _failed(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, []).append(self.clock())

    def check(self, params: Mapping[str, str], address: str) -> str:
        """The user name the request authenticates as.

        Raises
        ------
        SubsonicError
            10 (nothing to check), 40 (wrong user or password; also while locked out, with
            HTTP 429), 43 (``apiKey`` and ``u`` together), 44 (unknown API key).
        """
        wait = self._locked_for(address)
        if wait > 0:
            raise SubsonicError(
                WRONG_CREDENTIALS,
                f"too many wrong logins from this address: try again in {int(wait) + 1} s",
                429,
            )
        api_key = params.get("apiKey")
        name = params.get("u")
        if api_key is not None:
            if name is not None or "t" in params or "p" in params:
                raise SubsonicError(CONFLICTING_AUTH, "apiKey cannot be combined with u, t or p")
            for user in self.settings.users.values():
                if any(_same(api_key, key) for key in user.api_keys):
                    return user.name
            self._failed(address)
            raise SubsonicError(BAD_API_KEY, "invalid API key")
        if not name:
            raise SubsonicError(MISSING, "required parameter is missing: u (or apiKey)")
        token, salt, plain = params.get("t"), params.get("s"), params.get("p")
        if token is None and plain is None:
            raise SubsonicError(MISSING, "required parameter is missing: t and s, or p")
        if token is not None and salt is None:
            raise SubsonicError(MISSING, "required parameter is missing: s")
        user = self.settings.users.get(name)
        # compare even for an unknown user, so the time taken says nothing about who exists
        secret = user.password if user is not None else "\0 no such user"
        if token is not None:
            expected = hashlib.md5((secret + str(salt)).encode("utf-8")).hexdigest()
            good = _same(token.lower(), expected)
        else:
            good = _same(_password(str(plain)), secret)
        if user is None or not good:
            self._failed(address)
            raise SubsonicError(WRONG_CREDENTIALS, "wrong username or password")
        return user.name
