"""Deej-A.I.'s "Speccy" network rebuilt in Keras 3.

Speccy maps one mel slice (96 mel bands x 216 frames, ~5 s at 22050 Hz, values in [0, 1],
row 0 the lowest band) to a 100-dimensional vector::

    3 x [SeparableConv2D(32/64/128, 3x3, same), LeakyReLU(0.2), BatchNormalization,
         MaxPooling2D(2x2), Dropout(0.2/0.3/0.4)]
    Flatten (12 x 27 x 128 = 41,472) -> Dense(1024) -> LeakyReLU(0.2) -> BatchNormalization
    -> Dropout(0.5) -> Dense(100, linear)

42,587,213 parameters. Its layers carry the names of the original Keras-2 model
(``separable_conv2d_1..3``, ``batch_normalization_1..4``, ``dense_1``, ``dense_2``), so the
weights of Deej-A.I.'s ``speccy_model`` file map onto them by name.

Loading those Keras-2 weights and turning them into a bundle is
:mod:`deejai_model.learn.convert_speccy`'s job (this module is only the network, which
:mod:`deejai_model.ears.bundle` builds).

TensorFlow/Keras are imported inside :func:`build_speccy`.
"""

from __future__ import annotations

import os
from typing import Any

from deejai_model.ears.frontend import SPECCY

INPUT_SHAPE = (96, 216, 1)
"""(mel bands, frames, channels) of one slice."""

EMBEDDING_DIM = 100
N_PARAMS = 42_587_213

FRONTEND = SPECCY.to_manifest()
"""The front end Speccy was trained with (see docs/deejai-upstream.md)."""

WEIGHTED_LAYERS = (
    "separable_conv2d_1",
    "batch_normalization_1",
    "separable_conv2d_2",
    "batch_normalization_2",
    "separable_conv2d_3",
    "batch_normalization_3",
    "dense_1",
    "batch_normalization_4",
    "dense_2",
)
"""Layers holding weights, in network order, named as in the Keras-2 file."""


def speccy_manifest(name: str, version: str, *, license: str, source: str) -> dict[str, Any]:
    """The manifest of a Speccy bundle (``deejai_model.ears.bundle``'s format 1; the weights' sha256
    is added when the bundle is saved)."""
    return {
        "format": 1,
        "name": name,
        "version": version,
        "architecture": "speccy",
        "architecture_params": {},
        "output": "embedding",
        "dim": EMBEDDING_DIM,
        "frontend": dict(FRONTEND),
        "weights": {"file": "weights.npz"},
        "license": license,
        "source": source,
    }


def build_speccy() -> Any:
    """Build the Speccy network (random weights, inference-ready with ``training=False``).

    Returns
    -------
    keras.Model
        Input ``(batch, 96, 216, 1)`` float32 in [0, 1]; output ``(batch, 100)``.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from keras import layers

    inputs = keras.Input(shape=INPUT_SHAPE, name="spectrogram")
    x = inputs
    for i, (filters, rate) in enumerate(((32, 0.2), (64, 0.3), (128, 0.4)), start=1):
        x = layers.SeparableConv2D(filters, (3, 3), padding="same", name=f"separable_conv2d_{i}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"leaky_re_lu_{i}")(x)
        x = layers.BatchNormalization(name=f"batch_normalization_{i}")(x)
        x = layers.MaxPooling2D((2, 2), name=f"max_pooling2d_{i}")(x)
        x = layers.Dropout(rate, name=f"dropout_{i}")(x)
    x = layers.Flatten(name="flatten_1")(x)
    x = layers.Dense(1024, name="dense_1")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="leaky_re_lu_4")(x)
    x = layers.BatchNormalization(name="batch_normalization_4")(x)
    x = layers.Dropout(0.5, name="dropout_4")(x)
    outputs = layers.Dense(EMBEDDING_DIM, name="dense_2")(x)
    return keras.Model(inputs, outputs, name="speccy")
