"""musicnn (Pons & Serra, 2019) rebuilt with the Keras 3 functional API.

The network is the one of ``musicnn.models.build_musicnn`` in the musicnn 0.1.0 wheel:
a musically motivated front end (``7774timbraltemporal``: two timbral convolutions of
7 x 38 and 7 x 67 and three temporal ones of 128, 64 and 32 frames, each max-pooled over
frequency), a dense mid end of three 7-frame convolutions with residual connections, and a
``globalpool_dense`` back end (max and mean over time, batch norm, a 200-unit dense layer,
batch norm -- the "penultimate" features -- and a tag layer).

Batch normalisation always runs in inference mode and dropout is absent: the model only
ever predicts. Every layer has a fixed name so that weights map by variable path
(``layer_name/variable_name``); :data:`CHECKPOINT_NAMES` maps the original TF1 checkpoint's
variable scopes onto those names.

Input: a batch of log-mel patches ``(batch, n_frames, n_mels)`` float32, computed as
musicnn does, by the front end :data:`deejai_model.ears.frontend.MUSICNN` (187 frames of
96 mel bands are 3 seconds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deejai_model.ears.networks.layers import BN_EPSILON

#: TF1 checkpoint variable scope -> Keras layer name in :func:`build_musicnn`.
CHECKPOINT_NAMES: dict[str, str] = {
    "batch_normalization": "input_bn",
    "conv2d": "timbral_74_conv",
    "batch_normalization_1": "timbral_74_bn",
    "conv2d_1": "timbral_77_conv",
    "batch_normalization_2": "timbral_77_bn",
    "conv2d_2": "temporal_128_conv",
    "batch_normalization_3": "temporal_128_bn",
    "conv2d_3": "temporal_64_conv",
    "batch_normalization_4": "temporal_64_bn",
    "conv2d_4": "temporal_32_conv",
    "batch_normalization_5": "temporal_32_bn",
    "conv2d_5": "midend_conv1",
    "batch_normalization_6": "midend_bn1",
    "conv2d_6": "midend_conv2",
    "batch_normalization_7": "midend_bn2",
    "conv2d_7": "midend_conv3",
    "batch_normalization_8": "midend_bn3",
    "batch_normalization_9": "backend_pool_bn",
    "dense": "penultimate_dense",
    "batch_normalization_10": "penultimate_bn",
    "dense_1": "tags_dense",
}

#: Keras layers whose kernels are 1-D convolutions here but 2-D ones (with a width-1 input
#: channel axis) in the checkpoint: ``(k, w, 1, f)`` there is ``(k, w, f)`` here.
CONV1D_LAYERS = ("midend_conv1", "midend_conv2", "midend_conv3")

OUTPUTS = ("penultimate", "taggram", "both", "features")
#: Keys of the dict that ``output="features"`` returns.
FEATURES = ("penultimate", "taggram", "max_pool", "mean_pool", "pool_bn")


def build_musicnn(
    *,
    num_filt_midend: int = 64,
    num_units_backend: int = 200,
    num_classes: int = 50,
    n_mels: int = 96,
    n_frames: int | None = 187,
    output: str = "penultimate",
    num_filt_frontend: float = 1.6,
    frontend_dead: Mapping[str, Sequence[int]] | None = None,
    prefix: str = "",
) -> Any:
    """Build musicnn as an (untrained) Keras 3 model.

    Parameters
    ----------
    num_filt_midend : int
        Filters of each mid-end convolution (64 for ``MTT_musicnn`` / ``MSD_musicnn``).
    num_units_backend : int
        Units of the penultimate dense layer, i.e. the embedding size (200).
    num_classes : int
        Tags of the output layer (50).
    n_mels : int
        Mel bands of the input (96).
    n_frames : int or None
        Frames per input patch (187 = 3 s at 16 kHz with hop 256); ``None`` accepts
        patches of any length (the back end pools over time).
    output : {"penultimate", "taggram", "both", "features"}
        What the model returns: the ``(batch, num_units_backend)`` penultimate features
        (batch-normalised dense layer, as musicnn's ``penultimate``), the ``(batch,
        num_classes)`` tag probabilities (sigmoid of the logits), a dict holding both
        under those two keys, or (``"features"``) a dict of every layer musicnn's own
        extractor exposes from the back end: ``penultimate``, ``taggram``, ``max_pool`` and
        ``mean_pool`` (each ``(batch, 753)``: the mid-end features -- front end 561, then
        the three mid-end convolutions of ``num_filt_midend`` -- maximum / mean over the
        patch's frames, in the original musicnn's channel order), and ``pool_bn``
        (``(batch, 1506)``: both pools interleaved per channel and batch-normalised, the
        input of the penultimate dense layer).
    num_filt_frontend : float
        Front-end width factor (1.6: 204 timbral and 51 temporal filters).
    frontend_dead : mapping of str to sequence of int, optional
        Filters left out of front-end convolutions (``timbral_74``... to indices); their
        constant channels are folded into the first mid-end convolution (a fixed border map)
        and the dense layer's bias: see :mod:`deejai_model.ears.networks.musicnn_prune`, which
        builds and fills such a network (fixed ``n_frames``, no ``features`` output).
    prefix : str
        Put before every layer name (and so every variable path), so that two musicnn
        networks can live in one model (:mod:`deejai_model.ears.networks.fused`).

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

    dead = {name: list(idx) for name, idx in (frontend_dead or {}).items()}
    folded = any(dead.values())
    if folded and (n_frames is None or output == "features"):
        raise ValueError("a pruned musicnn needs a fixed n_frames and has no 'features' output")

    def block(x: Any, name: str, filters: int, kernel: tuple[int, int], padding: str) -> Any:
        # convolution, batch norm, then max over the whole frequency axis: (b, t, f, c) -> (b, t, c)
        gone = dead.get(name, [])
        y = layers.Conv2D(
            filters - len(gone),
            kernel,
            padding=padding,
            activation="relu",
            name=prefix + f"{name}_conv",
        )(x)
        # the dead filters' constant channels are left out; what reads them has them folded
        return ops.max(bn(f"{name}_bn")(y, training=False), axis=2)

    timbral_filters = int(num_filt_frontend * 128)
    temporal_filters = int(num_filt_frontend * 32)

    inputs = keras.Input(shape=(n_frames, n_mels), dtype="float32", name=prefix + "logmel")
    x = layers.Reshape((-1, n_mels, 1), name=prefix + "add_channel")(inputs)
    x = bn("input_bn")(x, training=False)

    # --- front end: timbral blocks ('valid' in frequency, time padded by 3 each side)
    x_pad7 = layers.ZeroPadding2D(((3, 3), (0, 0)), name=prefix + "timbral_pad")(x)
    features = []
    for tag, width in (("74", int(0.4 * n_mels)), ("77", int(0.7 * n_mels))):
        features.append(block(x_pad7, f"timbral_{tag}", timbral_filters, (7, width), "valid"))
    # --- front end: temporal blocks ('same' padding, TF convention)
    for length in (128, 64, 32):
        features.append(block(x, f"temporal_{length}", temporal_filters, (length, 1), "same"))
    frontend = layers.Concatenate(axis=-1, name=prefix + "frontend_concat")(features)

    # --- mid end: a convolution over all channels is a 1-D convolution in time
    def midend_conv(x: Any, i: int) -> Any:
        x = layers.ZeroPadding1D((3, 3), name=prefix + f"midend_pad{i}")(x)
        border = folded and i == 1  # the left-out constant channels' part (musicnn_prune)
        x = layers.Conv1D(
            num_filt_midend,
            7,
            padding="valid",
            activation=None if border else "relu",
            name=prefix + f"midend_conv{i}",
        )(x)
        if border:
            from deejai_model.ears.networks.layers import add_constant_layer

            shape = (n_frames, num_filt_midend)
            x = add_constant_layer()(shape, name=prefix + "midend_border1")(x)
            x = layers.ReLU(name=prefix + "midend_relu1")(x)
        return bn(f"midend_bn{i}")(x, training=False)

    m1 = midend_conv(frontend, 1)
    m2 = layers.Add(name=prefix + "midend_res2")([midend_conv(m1, 2), m1])
    m3 = layers.Add(name=prefix + "midend_res3")([midend_conv(m2, 3), m2])
    midend = layers.Concatenate(axis=-1, name=prefix + "midend_concat")([frontend, m1, m2, m3])

    # --- back end: max and mean over time, interleaved per channel as TF1's
    # flatten(concat([max, mean], axis=2)) of (b, c, 1) tensors gives them.
    max_pool = ops.max(midend, axis=1)
    mean_pool = ops.mean(midend, axis=1)
    pooled = ops.reshape(ops.stack([max_pool, mean_pool], axis=-1), (-1, 2 * midend.shape[-1]))
    pool_bn = bn("backend_pool_bn")(pooled, training=False)
    dense = layers.Dense(num_units_backend, activation="relu", name=prefix + "penultimate_dense")(
        pool_bn
    )
    penultimate = bn("penultimate_bn")(dense, training=False)

    if output == "penultimate":
        outputs: Any = penultimate
    else:
        logits = layers.Dense(num_classes, name=prefix + "tags_dense")(penultimate)
        taggram = layers.Activation("sigmoid", name=prefix + "taggram")(logits)
        if output == "taggram":
            outputs = taggram
        elif output == "both":
            outputs = {"penultimate": penultimate, "taggram": taggram}
        else:
            outputs = {
                "penultimate": penultimate,
                "taggram": taggram,
                "max_pool": max_pool,
                "mean_pool": mean_pool,
                "pool_bn": pool_bn,
            }
    return keras.Model(inputs, outputs, name=prefix + "musicnn")


def checkpoint_to_keras_weights(
    variables: dict[str, Any],
    names: dict[str, str] | None = None,
    conv1d_layers: tuple[str, ...] = CONV1D_LAYERS,
) -> dict[str, Any]:
    """Rename (and reshape) musicnn TF1 checkpoint variables to Keras variable paths.

    Parameters
    ----------
    variables : dict of str to np.ndarray
        Checkpoint variables by name (``conv2d_5/kernel``...); optimiser slots (``Adam``,
        ``beta1_power``...) are ignored.
    names : dict of str to str or None
        Checkpoint scope -> Keras layer name; ``None`` is :data:`CHECKPOINT_NAMES` (another
        network of the wheel passes its own, as :mod:`deejai_model.ears.networks.vgg` does).
    conv1d_layers : tuple of str
        Keras layers whose ``(k, w, 1, f)`` checkpoint kernels become ``(k, w, f)``.

    Returns
    -------
    dict of str to np.ndarray
        float32 arrays keyed by Keras variable path (``midend_conv1/kernel``...).
    """
    import numpy as np

    names = CHECKPOINT_NAMES if names is None else names
    out: dict[str, Any] = {}
    for name, value in variables.items():
        scope, _, var = name.rpartition("/")
        if scope not in names:
            continue
        layer = names[scope]
        value = np.asarray(value, dtype=np.float32)
        if layer in conv1d_layers and var == "kernel":
            value = value[:, :, 0, :]  # (k, w, 1, f) -> (k, w, f)
        out[f"{layer}/{var}"] = value
    return out
