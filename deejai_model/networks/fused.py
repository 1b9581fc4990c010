"""Several musicnn networks hearing the same mel slices, their embeddings side by side.

musicnn's MTT and MSD checkpoints share one front end (16 kHz, 512-point FFT, hop 256, 96 mel
bands, 187-frame slices), so one decoded and mel-transformed slice feeds both. This builds one
Keras model whose output is the networks' ``penultimate`` vectors concatenated,
``(batch, sum of their dims)``; each part keeps its own layer names under a prefix
(``mtt_timbral_74_conv/kernel``...), so one ``weights.npz`` holds them all. The pooling treats
the parts as separate blocks (``deejai_model.pooling.Pooler.parts``): each is adapted, pooled,
centred and scaled on its own, and cosine similarity is the mean of the parts' cosines, which is
how the fusion was measured (docs/benchmarks.md, issue 14).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _part_network(part: Mapping[str, Any], weights: Mapping[str, np.ndarray] | None) -> Any:
    """One part: the full musicnn (weights assigned later) or, given weights, the pruned one."""
    params = {k: v for k, v in part.items() if k != "prefix"}
    params["output"] = "penultimate"
    if weights is None:
        from deejai_model.networks.musicnn import build_musicnn

        return build_musicnn(prefix=part["prefix"], **params)
    from deejai_model.networks.musicnn_prune import prune_musicnn

    return prune_musicnn(weights, prefix=part["prefix"], **params)


def build_fused(
    parts: Sequence[Mapping[str, Any]],
    output: str = "penultimate",
    weights: Mapping[str, np.ndarray] | None = None,
) -> Any:
    """musicnn networks side by side on one input.

    Parameters
    ----------
    parts : sequence of mapping
        One per network, in output order: ``prefix`` (its layer-name prefix, e.g. ``"mtt_"``)
        plus :func:`~deejai_model.networks.musicnn.build_musicnn`'s parameters (their
        ``n_frames`` and ``n_mels`` must agree; ``output`` is always ``penultimate``).
    output : {"penultimate"}
        The only output: the parts' penultimate vectors concatenated.
    weights : mapping of str to np.ndarray, optional
        Given, each part is built without its dead front-end filters
        (:func:`~deejai_model.networks.musicnn_prune.prune_musicnn`) with these weights
        assigned (what the LiteRT conversion exports); otherwise the full, untrained network.

    Returns
    -------
    keras.Model
        Takes float32 ``(batch, n_frames, n_mels)`` log-mel patches, returns
        ``(batch, sum of num_units_backend)``.
    """
    import keras

    if output != "penultimate":
        raise ValueError(f"a fused network has one output, 'penultimate', not {output!r}")
    if len(parts) < 2:
        raise ValueError("a fused network needs at least two parts")
    shapes = {(p.get("n_frames", 187), p.get("n_mels", 96)) for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"the parts do not hear the same slices: (frames, mels) {sorted(shapes)}")
    prefixes = [p["prefix"] for p in parts]
    if len(set(prefixes)) != len(prefixes) or not all(prefixes):
        raise ValueError(f"each part needs its own non-empty prefix, got {prefixes}")
    n_frames, n_mels = shapes.pop()
    inputs = keras.Input(shape=(n_frames, n_mels), dtype="float32", name="logmel")
    outputs = [_part_network(part, weights)(inputs) for part in parts]
    joined = keras.layers.Concatenate(axis=-1, name="penultimate")(outputs)
    return keras.Model(inputs, joined, name="musicnn_fused")
