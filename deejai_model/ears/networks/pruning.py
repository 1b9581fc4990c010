"""What pruning a network's dead filters needs whatever the network (musicnn, VGG).

Batch-norm arithmetic on stored weights, assigning derived weights to a rebuilt network, and
the two constant layers a pruned network uses: one adding a fixed tensor (what left-out constant
channels contribute), one putting constant channels back between live ones. See
:mod:`deejai_model.ears.networks.musicnn_prune` and :mod:`deejai_model.ears.networks.vgg_prune`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deejai_model.ears.networks.musicnn import BN_EPSILON


def bn_scale_shift(weights: Mapping[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Scale and shift of the inference-mode batch norm ``name``: ``y = scale * x + shift``."""
    gamma, beta, mean, var = (
        np.asarray(weights[f"{name}/{v}"], np.float64)
        for v in ("gamma", "beta", "moving_mean", "moving_variance")
    )
    scale = gamma / np.sqrt(var + BN_EPSILON)
    return scale, beta - scale * mean


def add_constant_layer() -> type:
    """The Keras layer class that adds a fixed tensor (its ``value`` weight) to its input.

    Built on first use so that importing this module does not import Keras.
    """
    import keras

    class AddConstant(keras.layers.Layer):
        """``x + value`` with ``value`` of shape ``shape`` (broadcast over the batch)."""

        def __init__(self, shape: Any, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.value_shape = tuple(int(s) for s in shape)

        def build(self, input_shape: Any) -> None:
            self.value = self.add_weight(
                shape=self.value_shape, initializer="zeros", trainable=False, name="value"
            )

        def call(self, x: Any) -> Any:
            return x + self.value

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "shape": self.value_shape}

    return AddConstant


def restore_channels_layer() -> type:
    """The Keras layer class that puts constant channels back between live ones.

    Built on first use so that importing this module does not import Keras.
    """
    import keras
    from keras import ops

    class RestoreChannels(keras.layers.Layer):
        """``(..., n_live)`` -> ``(..., n_live + n_dead)`` in the original channel order.

        Parameters
        ----------
        dead : sequence of int
            Positions (in the full channel order) of the constant channels.
        n_channels : int
            Channels of the full tensor.
        """

        def __init__(self, dead: Any, n_channels: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.dead = [int(i) for i in dead]
            self.n_channels = int(n_channels)
            live = [i for i in range(self.n_channels) if i not in set(self.dead)]
            # the live channels first, then the constants: where each original channel now is
            where = np.empty(self.n_channels, np.int32)
            where[live] = np.arange(len(live))
            where[self.dead] = len(live) + np.arange(len(self.dead))
            self.order = where.tolist()

        def build(self, input_shape: Any) -> None:
            self.constant = self.add_weight(
                shape=(len(self.dead),), initializer="zeros", trainable=False, name="constant"
            )

        def call(self, x: Any) -> Any:
            constants = ops.zeros_like(x[..., :1]) + self.constant  # (b, t, n_dead)
            return ops.take(ops.concatenate([x, constants], axis=-1), self.order, axis=-1)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "dead": self.dead, "n_channels": self.n_channels}

    return RestoreChannels


def assign_weights(model: Any, values: Mapping[str, np.ndarray]) -> Any:
    """Assign ``values`` (by variable path) to every variable of ``model``; returns ``model``.

    Raises
    ------
    ValueError
        When a variable has no value.
    """
    variables = {v.path: v for v in model.weights}
    missing = set(variables) - set(values)
    if missing:
        raise ValueError(f"no weights for {sorted(missing)[:5]}")
    for path, var in variables.items():
        var.assign(values[path])
    return model


def unprefixed(weights: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The weights whose variable path starts with ``prefix``, by their path without it (one
    network's of a fused bundle's, :mod:`deejai_model.ears.networks.fused`)."""
    return {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
