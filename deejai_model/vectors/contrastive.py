"""Ears adapted to a library without labels, non-linearly: a small head trained contrastively
on the library's own slices.

The linear adaptation (:mod:`deejai_model.vectors.adapt`) keeps the directions along which
tracks differ most relative to how much a track varies within itself. This head goes one step
further with the same self-supervision: two slices of one track are a positive pair, the
slices of the other tracks in the mini-batch are negatives (InfoNCE / NT-Xent, as in SimCLR),
and the map it learns is non-linear.

The head is a residual one-hidden-layer perceptron on the (projected) slices ``x`` of one block::

    u = scale * x                       (scale: 1 / the library's mean slice norm)
    head(x) = u + relu(u @ w1 + b1) @ w2 + b2

``w2`` and ``b2`` start at zero, so an untrained head is the identity (up to ``scale``, which
the pooler's unit length removes). It is trained with Adam on mini-batches of ``batch`` tracks
(one positive pair each, drawn afresh every step), for ``steps`` steps at most, from a fixed
seed: the same library and settings give the same head, bit for bit. Everything is numpy
(float64); no TensorFlow, so it trains inside the index fit and transforms on the query path.

:class:`~deejai_model.vectors.pooling.Pooler` applies it (``contrast=True``; off by default,
measured in docs/learned-ears.md) per block, after the linear adaptation and before pooling.
The head's arrays are part of the fitted pooler's saved state, so cold tracks (new imports,
files outside the library) are transformed without refitting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_HIDDEN",
    "DEFAULT_STEPS",
    "DEFAULT_TEMPERATURE",
    "ContrastiveHead",
    "pair_loss",
    "train_head",
]

DEFAULT_HIDDEN = 64
"""Units of the hidden layer (64, 300 steps, temperature 0.3: the best of the heads measured
on dev + val, docs/learned-ears.md)."""

DEFAULT_STEPS = 300
"""Adam steps at most (each one mini-batch of tracks)."""

DEFAULT_BATCH = 256
"""Tracks per mini-batch (each gives a positive pair; the others are its negatives)."""

DEFAULT_TEMPERATURE = 0.3
"""Temperature of the NT-Xent loss (cosine similarities are divided by it)."""

DEFAULT_LEARNING_RATE = 1e-3
"""Adam's step size."""

_ARRAYS = ("w1", "b1", "w2", "b2", "scale")


@dataclass(frozen=True, eq=False)
class ContrastiveHead:
    """A trained head: the arrays of ``u + relu(u @ w1 + b1) @ w2 + b2``, ``u = scale * x``.

    Attributes
    ----------
    w1 : np.ndarray
        ``(d, hidden)`` float32.
    b1 : np.ndarray
        ``(hidden,)`` float32.
    w2 : np.ndarray
        ``(hidden, d)`` float32.
    b2 : np.ndarray
        ``(d,)`` float32.
    scale : np.ndarray
        ``()`` float32: 1 / the mean norm of the library's slices it was trained on.
    """

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    scale: np.ndarray

    @property
    def dim(self) -> int:
        """Dimension of the slices in and out."""
        return int(self.w1.shape[0])

    def apply(self, slices: np.ndarray) -> np.ndarray:
        """The head's output for slices: ``(n, d)`` -> ``(n, d)`` float32."""
        x = np.asarray(slices, dtype=np.float64) * float(self.scale)
        hidden = np.maximum(x @ self.w1.astype(np.float64) + self.b1, 0.0)
        return (x + hidden @ self.w2.astype(np.float64) + self.b2).astype(np.float32)

    def apply_many(self, slices_per_track: Sequence[np.ndarray]) -> list[np.ndarray]:
        """:meth:`apply` of each track's ``(n_slices_i, d)`` slices (one product for all)."""
        if not slices_per_track:
            return []
        lengths = [len(s) for s in slices_per_track]
        stacked = np.concatenate([np.asarray(s).reshape(-1, self.dim) for s in slices_per_track])
        return np.split(self.apply(stacked), np.cumsum(lengths)[:-1])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The head as named float32 arrays (for ``np.savez``; never pickled)."""
        return {name: np.asarray(getattr(self, name), dtype=np.float32) for name in _ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ContrastiveHead:
        """Rebuild a head from :meth:`to_arrays`' output.

        Raises
        ------
        KeyError
            When an array is missing.
        """
        return cls(**{name: np.asarray(arrays[name], dtype=np.float32) for name in _ARRAYS})


def _nt_xent(z: np.ndarray, temperature: float) -> tuple[float, np.ndarray]:
    """NT-Xent loss of ``(2B, d)`` outputs whose rows ``i`` and ``i + B`` are positives, and
    its gradient with respect to ``z``."""
    n = len(z)
    half = n // 2
    norms = np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    u = z / norms
    logits = u @ u.T / temperature
    np.fill_diagonal(logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    positive = np.concatenate([np.arange(half, n), np.arange(half)])
    loss = -np.log(np.maximum(probs[np.arange(n), positive], 1e-300)).mean()
    grad_logits = probs
    grad_logits[np.arange(n), positive] -= 1.0
    grad_logits /= n
    grad_u = (grad_logits + grad_logits.T) @ u / temperature
    grad_z = (grad_u - u * (grad_u * u).sum(axis=1, keepdims=True)) / norms
    return float(loss), grad_z


def train_head(
    slices_per_track: Sequence[np.ndarray],
    *,
    hidden: int = DEFAULT_HIDDEN,
    steps: int = DEFAULT_STEPS,
    batch: int = DEFAULT_BATCH,
    temperature: float = DEFAULT_TEMPERATURE,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    seed: int = 0,
) -> ContrastiveHead | None:
    """Train a head on a library's slices: slices of one track together, of others apart.

    Parameters
    ----------
    slices_per_track : sequence of np.ndarray
        One ``(n_slices_i, d)`` array per track (the slices the pooler pools: projected by the
        linear adaptation). Only tracks with two slices or more are drawn from.
    hidden : int
        Units of the hidden layer.
    steps : int
        Adam steps (mini-batches); the training's time is bounded by it (about
        ``steps * (2 batch)^2 * (d + hidden)`` flops).
    batch : int
        Tracks per mini-batch (fewer when the library has fewer).
    temperature : float
        Of the NT-Xent loss.
    learning_rate : float
        Adam's step size.
    seed : int
        Of the initial weights and the mini-batches: the same inputs give the same head.

    Returns
    -------
    ContrastiveHead or None
        None when fewer than two tracks have two slices (nothing to contrast).

    Raises
    ------
    ValueError
        When ``hidden``, ``steps``, ``batch`` or ``temperature`` are not positive.
    """
    if hidden < 1 or steps < 1 or batch < 2 or temperature <= 0:
        raise ValueError(
            f"train_head needs hidden >= 1, steps >= 1, batch >= 2 and temperature > 0, got "
            f"{hidden}, {steps}, {batch}, {temperature}"
        )
    bags = [np.asarray(s, dtype=np.float64) for s in slices_per_track if len(s) >= 2]
    if len(bags) < 2:
        return None
    dim = bags[0].shape[1]
    lengths = np.array([len(b) for b in bags])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    stacked = np.concatenate(bags)
    scale = 1.0 / max(float(np.linalg.norm(stacked, axis=1).mean()), 1e-12)
    stacked *= scale
    rng = np.random.default_rng(seed)
    params = {
        "w1": rng.normal(0.0, 1.0 / np.sqrt(dim), (dim, hidden)),
        "b1": np.zeros(hidden),
        "w2": np.zeros((hidden, dim)),
        "b2": np.zeros(dim),
    }
    first = {k: np.zeros_like(v) for k, v in params.items()}
    second = {k: np.zeros_like(v) for k, v in params.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    size = min(batch, len(bags))
    for step in range(1, steps + 1):
        tracks = rng.choice(len(bags), size, replace=False)
        n = lengths[tracks]
        a = rng.integers(0, n)
        b = (a + rng.integers(1, n)) % n  # another slice of the same track
        x = stacked[np.concatenate([offsets[tracks] + a, offsets[tracks] + b])]
        pre = x @ params["w1"] + params["b1"]
        act = np.maximum(pre, 0.0)
        z = x + act @ params["w2"] + params["b2"]
        _, grad_z = _nt_xent(z, temperature)
        grad_act = grad_z @ params["w2"].T
        grad_pre = grad_act * (pre > 0)
        grads = {
            "w2": act.T @ grad_z,
            "b2": grad_z.sum(axis=0),
            "w1": x.T @ grad_pre,
            "b1": grad_pre.sum(axis=0),
        }
        for name, grad in grads.items():
            first[name] = beta1 * first[name] + (1 - beta1) * grad
            second[name] = beta2 * second[name] + (1 - beta2) * grad * grad
            corrected = first[name] / (1 - beta1**step)
            params[name] -= (
                learning_rate * corrected / (np.sqrt(second[name] / (1 - beta2**step)) + eps)
            )
    return ContrastiveHead(
        **{k: v.astype(np.float32) for k, v in params.items()},
        scale=np.asarray(scale, dtype=np.float32),
    )


def pair_loss(
    head: ContrastiveHead | None,
    slices_per_track: Sequence[np.ndarray],
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    batch: int = DEFAULT_BATCH,
    seed: int = 0,
) -> float:
    """Mean NT-Xent loss of the head (None: the identity) over mini-batches covering the
    library once, one positive pair per track drawn from ``seed`` (a fixed yardstick)."""
    bags = [np.asarray(s, dtype=np.float64) for s in slices_per_track if len(s) >= 2]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(bags))
    losses = []
    for start in range(0, len(order) - 1, batch):
        chosen = [bags[i] for i in order[start : start + batch]]
        if len(chosen) < 2:
            break
        pairs = [rng.choice(len(b), 2, replace=False) for b in chosen]
        x = np.concatenate(
            [
                np.stack([b[p[0]] for b, p in zip(chosen, pairs, strict=True)]),
                np.stack([b[p[1]] for b, p in zip(chosen, pairs, strict=True)]),
            ]
        )
        z = head.apply(x).astype(np.float64) if head is not None else x
        losses.append(_nt_xent(z, temperature)[0])
    return float(np.mean(losses))
