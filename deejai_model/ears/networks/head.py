"""The "trained ears" head: a small network from a base model's slice vectors to Track2Vec.

::

    Standardise (per-dimension mean/variance of the training slices, stored as weights)
    -> Dense(hidden, relu) -> Dropout -> Dense(dim, linear)

Its input is one slice vector of the base bundle (e.g. musicnn's 200-d penultimate layer), its
output one vector in the Track2Vec space.  TensorFlow/Keras are imported inside the builder.
"""

from __future__ import annotations

from typing import Any

#: The standardising layer's epsilon: ``(x - mean) / sqrt(variance + NORM_EPSILON)``.
NORM_EPSILON = 1e-6


def build_head(input_dim: int, dim: int = 100, *, hidden: int = 256, dropout: float = 0.3) -> Any:
    """Build the head network.

    Parameters
    ----------
    input_dim : int
        Width of the base model's slice vectors.
    dim : int
        Width of the output (the Track2Vec vectors').
    hidden : int
        Units of the hidden layer.
    dropout : float
        Dropout rate after the hidden layer (training only).

    Returns
    -------
    keras.Model
        ``(batch, input_dim) -> (batch, dim)``; variable paths ``head_norm/moving_mean`` ...,
        ``head_hidden/kernel`` ..., ``head_out/kernel`` ...
    """
    import keras

    if min(input_dim, dim, hidden) <= 0:
        raise ValueError(f"head sizes must be positive: {input_dim}, {dim}, {hidden}")
    inputs = keras.Input((int(input_dim),), name="slice_vector")
    # per-dimension standardisation: fixed statistics (set from the training slices, see
    # deejai_model.learn.head.train_head) held as BatchNormalization's moving mean and variance,
    # which are plain variables saved with the weights; frozen, so it never updates them
    norm = keras.layers.BatchNormalization(
        center=False, scale=False, epsilon=NORM_EPSILON, name="head_norm"
    )
    norm.trainable = False
    x = norm(inputs)
    x = keras.layers.Dense(int(hidden), activation="relu", name="head_hidden")(x)
    x = keras.layers.Dropout(float(dropout), name="head_dropout")(x)
    outputs = keras.layers.Dense(int(dim), name="head_out")(x)
    return keras.Model(inputs, outputs, name="deejai_head")
