"""Synthetic vector rows in a real beets library: what the store and index tests build on.

No network runs: slice vectors are random (clustered), so these tests are fast; the same code
paths serve the real model's vectors (see test_plugin_library.py).
"""

from __future__ import annotations

import numpy as np

from beetsplug.deejai.config import Settings
from beetsplug.deejai.store import SliceRow

MODEL = "synthetic@1:000000000000"
OTHER = "other@1:111111111111"
DIM = 16


def deejai_plugin():
    """The loaded deejai plugin (the ``env`` fixture loads it)."""
    from beets import plugins

    (plugin,) = [p for p in plugins.find_plugins() if p.name == "deejai"]
    return plugin


def configured(env, **overrides) -> Settings:
    """The plugin's settings with ``overrides`` set in ``env``'s configuration."""
    env.config["deejai"].set(overrides)
    return Settings.from_view(env.config["deejai"])


def add_rows(env, store, model_id, n, rng, *, centers=None, n_slices=3) -> list[int]:
    """``n`` library items with random ``(n_slices, DIM)`` slice vectors around ``centers``
    (cycled; default 4 random ones), mtime ``100 + i``; returns their ids."""
    centers = rng.normal(size=(4, DIM)) if centers is None else centers
    ids, rows = [], []
    for i in range(n):
        item = env.add_item(title=f"t{i}", path=f"/music/t{i}.flac")
        center = centers[i % len(centers)]
        slices = (center + 0.1 * rng.normal(size=(n_slices, DIM))).astype(np.float32)
        rows.append(
            SliceRow(item.id, item.path, 100.0 + i, 30.0, slices, np.arange(n_slices) * 3.0, False)
        )
        ids.append(item.id)
    store.put(model_id, rows)
    return ids
