"""A request's parameters (query string and form body alike: the ``formPost`` extension)."""

from __future__ import annotations

from .responses import GENERIC, MISSING, SubsonicError


class Params:
    """Typed reads of a request's parameters.

    Parameters
    ----------
    values : werkzeug MultiDict (or any mapping with ``get`` and ``getlist``)
        The request's ``values`` (``args`` and ``form`` together).
    """

    def __init__(self, values):
        self.values = values

    def get(self, name: str, default: str | None = None) -> str | None:
        """One value (the first), or ``default``."""
        value = self.values.get(name)
        return default if value is None else str(value)

    def required(self, name: str) -> str:
        """One value; error 10 when it is missing or empty."""
        value = self.values.get(name)
        if value is None or str(value) == "":
            raise SubsonicError(MISSING, f"required parameter is missing: {name}")
        return str(value)

    def all(self, name: str) -> list[str]:
        """Every value given for ``name`` (``id=1&id=2``), empty ones left out."""
        return [str(v) for v in self.values.getlist(name) if str(v) != ""]

    def integer(self, name: str, default: int, *, low: int = 0, high: int = 10**9) -> int:
        """An integer in ``[low, high]`` (clipped); ``default`` when absent; error 0 when it is
        not a number."""
        value = self.values.get(name)
        if value is None or str(value) == "":
            return default
        try:
            number = int(float(str(value)))
        except ValueError:
            raise SubsonicError(
                GENERIC, f"{name} must be a number, not {str(value)[:40]!r}"
            ) from None
        return max(low, min(high, number))

    def flag(self, name: str, default: bool) -> bool:
        """A boolean (``true``/``false``, ``1``/``0``)."""
        value = self.values.get(name)
        if value is None or str(value) == "":
            return default
        return str(value).strip().lower() in ("true", "1", "yes")
