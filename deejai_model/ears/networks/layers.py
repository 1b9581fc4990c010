"""What the network builders share: the batch-norm epsilon and two constant Keras layers.

A network rebuilt without its dead filters (:mod:`.musicnn_prune`, :mod:`.vgg_prune`) uses one
layer adding a fixed tensor (what left-out constant channels contribute) and one putting
constant channels back between live ones. Keras is imported inside the functions that make
the layer classes, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Batch-norm epsilon of TF1's ``tf.layers.batch_normalization`` (Keras' default too), which
#: musicnn's and its VGG's checkpoints were trained with.
BN_EPSILON = 1e-3


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
