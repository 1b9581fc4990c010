"""musicnn's VGG baseline (Pons & Serra, 2019) rebuilt with the Keras 3 functional API.

The network is the one of ``musicnn.models.vgg`` in the musicnn 0.1.0 wheel (``MTT_vgg`` and
``MSD_vgg``, both with 128 filters): batch norm of the input, then five blocks of a 3 x 3
convolution (``same`` padding, ReLU), batch norm and max pooling -- ``[4, 1]`` with strides
``[2, 2]``, then ``[2, 2]`` three times, then ``[4, 4]`` with strides ``[4, 4]`` -- which turn a
``(187, 96)`` log-mel patch into ``pool5`` of ``(2, 1, 128)`` (time, frequency, channels);
flattened (256 values) it feeds a 50-unit dense tag layer.

Batch normalisation always runs in inference mode and dropout is absent: the model only ever
predicts. Every layer has a fixed name so that weights map by variable path
(``layer_name/variable_name``); :data:`CHECKPOINT_NAMES` maps the original TF1 checkpoint's
variable scopes onto those names.

Embedding outputs (all per slice, float32):

``pool5``
    ``pool5`` flattened in TF1's (time, frequency, channel) order, 256 values: what the tag
    layer sees.
``pool5_maxmean``
    max then mean of ``pool5`` over time and frequency, 128 + 128 values.
``pool4_maxmean``
    max then mean of ``pool4`` (``(11, 6, 128)``) over time and frequency, 128 + 128 values.
``pool45``
    ``pool5`` then ``pool4``'s max and mean, 512 values: every candidate above in one vector
    (``pool5_maxmean`` is a function of ``pool5``), for measuring them from one run.
``taggram``
    sigmoid of the tag layer's logits, 50 values.

Input: a batch of log-mel patches ``(batch, n_frames, n_mels)``, computed as for musicnn by the
front end :data:`deejai_model.ears.frontend.MUSICNN`; 187 frames are 3 seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deejai_model.ears.networks.layers import BN_EPSILON

#: The blocks' max pooling: (pool size, strides), each as (time, frequency).
POOLS: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((4, 1), (2, 2)),
    ((2, 2), (2, 2)),
    ((2, 2), (2, 2)),
    ((2, 2), (2, 2)),
    ((4, 4), (4, 4)),
)

#: TF1 checkpoint variable scope -> Keras layer name in :func:`build_vgg`.
CHECKPOINT_NAMES: dict[str, str] = {
    "batch_normalization": "input_bn",
    **{f"{i}CNN": f"block{i}_conv" for i in range(1, 6)},
    **{f"batch_normalization_{i}": f"block{i}_bn" for i in range(1, 6)},
    "dense": "tags_dense",
}

#: Outputs a bundle may name as its embedding (see the module docstring).
EMBEDDINGS = ("pool5", "pool5_maxmean", "pool4_maxmean", "pool45")
OUTPUTS = (*EMBEDDINGS, "taggram", "all")


def build_vgg(
    *,
    num_filters: int = 128,
    num_classes: int = 50,
    n_mels: int = 96,
    n_frames: int = 187,
    output: str = "pool5",
    prefix: str = "",
    dead: Mapping[int, Sequence[int]] | None = None,
) -> Any:
    """Build musicnn's VGG as an (untrained) Keras 3 model.

    Parameters
    ----------
    num_filters : int
        Filters of each 3 x 3 convolution (128 for ``MTT_vgg`` / ``MSD_vgg``).
    num_classes : int
        Tags of the output layer (50).
    n_mels : int
        Mel bands of the input (96).
    n_frames : int
        Frames per input patch (187 = 3 s at 16 kHz with hop 256); fixed, since ``pool5``
        is flattened into the tag layer.
    dead : mapping of int to sequence of int, optional
        Filters left out of each block (block number from 1 to indices), their constant
        channels accounted for: see :mod:`deejai_model.ears.networks.vgg_prune`, which builds and
        fills such a network (fixed ``n_frames`` only).
    prefix : str
        Put before every layer name (and so every variable path), so that the network can
        live beside others in one model (:mod:`deejai_model.ears.networks.fused`).
    output : {"pool5", "pool5_maxmean", "pool4_maxmean", "pool45", "taggram", "all"}
        What the model returns: one of the outputs of the module docstring, ``(batch,
        width)``, or ``"all"``: a dict holding every one of them by name.

    Returns
    -------
    keras.Model
        A functional model taking float32 ``(batch, n_frames, n_mels)`` log-mel patches.
    """
    import keras
    from keras import layers, ops

    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, not {output!r}")

    def bn(name: str) -> Any:
        return layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=prefix + name)

    def max_mean(x: Any) -> Any:
        # (b, t, f, c) -> (b, 2c): max over time and frequency, then the mean
        return ops.concatenate([ops.max(x, axis=(1, 2)), ops.mean(x, axis=(1, 2))], axis=-1)

    inputs = keras.Input(shape=(n_frames, n_mels), dtype="float32", name=prefix + "logmel")
    x = layers.Reshape((n_frames, n_mels, 1), name=prefix + "add_channel")(inputs)
    x = bn("input_bn")(x, training=False)
    gone_by_block = {int(i): [int(j) for j in v] for i, v in (dead or {}).items()}
    height, width = n_frames, n_mels
    border = False  # the previous block left constant channels out
    pooled = []
    for i, (size, strides) in enumerate(POOLS, start=1):
        gone = gone_by_block.get(i, [])
        filters = num_filters - len(gone)
        x = layers.Conv2D(
            filters,
            (3, 3),
            padding="same",
            activation=None if border else "relu",
            name=prefix + f"block{i}_conv",
        )(x)
        if border:  # what the left-out constant channels add (vgg_prune.border_map)
            from deejai_model.ears.networks.layers import add_constant_layer

            shape = (height, width, filters)
            x = add_constant_layer()(shape, name=prefix + f"block{i}_border")(x)
            x = layers.ReLU(name=prefix + f"block{i}_relu")(x)
        x = bn(f"block{i}_bn")(x, training=False)
        x = layers.MaxPooling2D(size, strides, padding="valid", name=prefix + f"pool{i}")(x)
        out = x
        if gone and i >= len(POOLS) - 1:  # pool4 and pool5 are outputs: constants back in
            from deejai_model.ears.networks.layers import restore_channels_layer

            restore = restore_channels_layer()
            out = restore(gone, num_filters, name=prefix + f"block{i}_restore")(x)
        pooled.append(out)
        border = bool(gone)
        height = (height - size[0]) // strides[0] + 1
        width = (width - size[1]) // strides[1] + 1
    pool4, pool5 = pooled[3], pooled[4]

    flat = layers.Flatten(name=prefix + "pool5_flat")(pool5)
    logits = layers.Dense(num_classes, name=prefix + "tags_dense")(flat)
    everything = {
        "pool5": flat,
        "pool5_maxmean": max_mean(pool5),
        "pool4_maxmean": max_mean(pool4),
        "taggram": layers.Activation("sigmoid", name=prefix + "taggram")(logits),
    }
    everything["pool45"] = ops.concatenate([flat, everything["pool4_maxmean"]], axis=-1)
    outputs = everything if output == "all" else everything[output]
    return keras.Model(inputs, outputs, name=prefix + "vgg")


def checkpoint_to_keras_weights(variables: dict[str, Any]) -> dict[str, Any]:
    """Rename musicnn VGG TF1 checkpoint variables to Keras variable paths.

    Parameters
    ----------
    variables : dict of str to np.ndarray
        Checkpoint variables by name (``2CNN/kernel``...); optimiser slots (``Adam``,
        ``beta1_power``...) are ignored.

    Returns
    -------
    dict of str to np.ndarray
        float32 arrays keyed by Keras variable path (``block2_conv/kernel``...).
    """
    from deejai_model.ears.networks import musicnn

    return musicnn.checkpoint_to_keras_weights(variables, CHECKPOINT_NAMES, conv1d_layers=())
