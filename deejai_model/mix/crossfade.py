"""Fade curves. Equal-power crossfades: the outgoing track follows a cosine, the incoming one a
sine, so that two uncorrelated tracks keep a constant power (``cos^2 + sin^2 = 1``) through the
join. Edge fades (a mix's first and last seconds): a raised cosine from silence."""

from __future__ import annotations

import numpy as np


def equal_power_curves(n: int, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, ...]:
    """Gains of the outgoing and incoming track over samples ``start:stop`` of an ``n``-sample fade.

    Parameters
    ----------
    n : int
        Length of the whole fade in samples.
    start, stop : int
        The part of the fade wanted (default: all of it), so a long fade can be rendered
        block by block.

    Returns
    -------
    (fade_out, fade_in) : tuple of np.ndarray, each ``(stop - start,)`` float32
        ``cos(theta)`` and ``sin(theta)`` with ``theta = pi/2 * (k + 0.5) / n``.
    """
    stop = n if stop is None else stop
    theta = (np.arange(start, stop, dtype=np.float64) + 0.5) * (np.pi / 2.0 / max(n, 1))
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


def crossfade(outgoing: np.ndarray, incoming: np.ndarray, *, n: int, start: int = 0) -> np.ndarray:
    """Mix two ``(channels, k)`` blocks at samples ``start:start+k`` of an ``n``-sample fade."""
    fade_out, fade_in = equal_power_curves(n, start, start + outgoing.shape[1])
    return outgoing * fade_out + incoming * fade_in


def edge_fade_curve(n: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Gains of a fade in from silence over samples ``start:stop`` of an ``n``-sample fade.

    Returns
    -------
    np.ndarray, ``(stop - start,)`` float32
        The raised cosine ``(1 - cos(pi * (k + 0.5) / n)) / 2``: 0 to 1 with no corner at
        either end (a fade out is the same curve reversed).
    """
    stop = n if stop is None else stop
    phase = (np.arange(start, stop, dtype=np.float64) + 0.5) * (np.pi / max(n, 1))
    return (0.5 - 0.5 * np.cos(phase)).astype(np.float32)
