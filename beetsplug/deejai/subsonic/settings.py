"""``deejai.subsonic``: who may log in, and when wrong passwords lock an address out.

.. code-block:: yaml

    deejai:
      subsonic:
        users:
          alice:
            password: a long secret     # token + salt, p=, p=enc: (all need the password)
            api_key: 40 random letters  # optional: apiKeyAuthentication
        max_failures: 5                 # wrong logins from one address before it is locked out
        lockout: 60                     # seconds it stays locked out

Read with confuse from beets' configuration; nothing else of the plugin's settings depends on
it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from beets.ui import UserError


@dataclass(frozen=True)
class SubsonicUser:
    """One login: a name, its password, and its API keys (may be empty)."""

    name: str
    password: str
    api_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubsonicSettings:
    """The validated ``deejai.subsonic`` section.

    Attributes
    ----------
    users : dict of str to SubsonicUser
        By name; empty means nobody can log in (and ``serve`` stays on loopback).
    max_failures : int
        Wrong logins from one address, within ``lockout`` seconds, that lock it out.
    lockout : float
        Seconds an address stays locked out (and the window that counts failures).
    """

    users: dict[str, SubsonicUser] = field(default_factory=dict)
    max_failures: int = 5
    lockout: float = 60.0

    @classmethod
    def from_config(cls, view=None) -> SubsonicSettings:
        """From ``view`` (default: beets' ``deejai.subsonic``).

        Raises
        ------
        UserError
            On a user without a password, or a bad number.
        """
        if view is None:
            from beets import config

            view = config["deejai"]["subsonic"]
        data = view.get() if view.exists() else None
        data = data or {}
        if not isinstance(data, dict):
            raise UserError("deejai.subsonic must be a mapping (users, max_failures, lockout)")
        users = {}
        for name, entry in (data.get("users") or {}).items():
            entry = entry if isinstance(entry, dict) else {"password": entry}
            password = entry.get("password")
            if not isinstance(password, str | int) or not str(password):
                raise UserError(f"deejai.subsonic.users.{name}: a password is needed")
            keys = entry.get("api_key") or entry.get("api_keys") or ()
            keys = (keys,) if isinstance(keys, str) else tuple(str(k) for k in keys)
            if any(not key.strip() for key in keys):  # `apiKey=` would log in as this user
                raise UserError(f"deejai.subsonic.users.{name}: an api_key cannot be empty")
            users[str(name)] = SubsonicUser(str(name), str(password), keys)
        try:
            max_failures = int(data.get("max_failures", 5))
            lockout = float(data.get("lockout", 60))
        except (TypeError, ValueError) as error:
            raise UserError(f"deejai.subsonic: {error}") from None
        if max_failures < 1 or lockout < 0:
            raise UserError("deejai.subsonic: max_failures must be >= 1 and lockout >= 0")
        return cls(users, max_failures, lockout)
