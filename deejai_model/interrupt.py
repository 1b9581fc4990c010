"""Ctrl-C that is never lost: SIGINT deferred to a flag while C code runs.

A ``KeyboardInterrupt`` raised while PyAV is inside FFmpeg (``AudioResampler.resample``, a
filter graph: ``av.error.err_check``) can be swallowed there, and the run goes on as if Ctrl-C
had never been pressed (PyAV 18: 10 of 20 presses during ``decode_excerpts`` in the main
thread, ``benchmarks/ctrl_c_embed.py --decode``). So around such work, in the main thread,
SIGINT only sets a flag; Python code checks it at safe points (between frames, blocks,
batches) with :func:`check` and raises ``KeyboardInterrupt`` there.

- A second Ctrl-C in the same scope raises at once (the user means it).
- Leaving the scope restores the previous handler; a press not yet raised is passed on to it
  (re-sent with :func:`signal.raise_signal`), so nothing is lost between scopes and scopes
  nest.
- Outside the main thread (signals only reach the main thread) and when SIGINT is ignored,
  the scope changes nothing and :func:`check` never raises.

Scopes must not span a ``yield`` of a generator: the handler would stay installed while the
consumer runs.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

__all__ = ["deferred_sigint", "check"]


class _Scope:
    """One :func:`deferred_sigint` scope: Ctrl-C presses seen, and whether one was raised."""

    def __init__(self) -> None:
        self.presses = 0
        self.raised = False

    def handler(self, signum: int, frame: object) -> None:
        self.presses += 1
        if self.presses > 1:  # the second Ctrl-C stops at once
            self.raised = True
            raise KeyboardInterrupt


#: Active scopes of the main thread, innermost last (only the main thread changes it).
_scopes: list[_Scope] = []


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed in the innermost scope.

    Cheap (a list look-up): call it between frames or blocks. Does nothing outside a scope
    and outside the main thread.
    """
    if _scopes and _scopes[-1].presses and threading.current_thread() is threading.main_thread():
        _scopes[-1].raised = True
        raise KeyboardInterrupt


def _nothing() -> None:
    return None


@contextlib.contextmanager
def deferred_sigint() -> Iterator[Callable[[], None]]:
    """Defer SIGINT to a flag for the duration of the ``with`` block; yields :func:`check`.

    Examples
    --------
    >>> with deferred_sigint() as stop_if_pressed:
    ...     for block in []:  # C calls here cannot swallow Ctrl-C
    ...         stop_if_pressed()
    """
    if threading.current_thread() is not threading.main_thread():
        yield _nothing
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None or previous == signal.SIG_IGN:  # not ours to change / Ctrl-C ignored
        yield _nothing
        return
    scope = _Scope()
    signal.signal(signal.SIGINT, scope.handler)
    _scopes.append(scope)
    try:
        yield check
    finally:
        _scopes.remove(scope)
        signal.signal(signal.SIGINT, previous)
        if scope.presses and not scope.raised:  # pressed after the last check: pass it on
            signal.raise_signal(signal.SIGINT)
