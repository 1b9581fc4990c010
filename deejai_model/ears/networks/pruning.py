"""What pruning a network's dead filters needs whatever the network (musicnn, VGG).

Batch-norm arithmetic on stored weights and one part's weights of a fused bundle (derived
weights are assigned with :func:`deejai_model.ears.weights.assign_weights`; the constant
layers the rebuilt network uses are in :mod:`.layers`, beside the builders). See
:mod:`deejai_model.ears.networks.musicnn_prune` and :mod:`deejai_model.ears.networks.vgg_prune`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from deejai_model.ears.networks.layers import BN_EPSILON


def bn_scale_shift(weights: Mapping[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Scale and shift of the inference-mode batch norm ``name``: ``y = scale * x + shift``."""
    gamma, beta, mean, var = (
        np.asarray(weights[f"{name}/{v}"], np.float64)
        for v in ("gamma", "beta", "moving_mean", "moving_variance")
    )
    scale = gamma / np.sqrt(var + BN_EPSILON)
    return scale, beta - scale * mean


def unprefixed(weights: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The weights whose variable path starts with ``prefix``, by their path without it (one
    network's of a fused bundle's, :mod:`deejai_model.ears.networks.fused`)."""
    return {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
