"""musicnn's VGG without its dead filters: the same function for less work.

As in musicnn (:mod:`deejai_model.ears.networks.musicnn_prune`), training left many VGG filters with
kernels of ~1e-30..1e-7 (``MSD_vgg``: 79, 75, 40, 47 and 1 of 128 in the five blocks). A dead
filter's channel is ``c = bn(relu(bias))`` at every position, and max pooling keeps it. Here
the next block's convolution also sees those constants, through its zero padding: inside the
patch a constant channel adds a constant to each output channel, at the borders less (fewer
taps fall inside). :func:`prune_vgg` therefore builds each block with only its live filters
reading only the previous block's live channels, and adds the dead channels' exact
contribution as a fixed ``(time, frequency, filters)`` map (:func:`border_map`) before the
ReLU; ``pool4`` and ``pool5`` get their constant channels back before the outputs. VGG takes
fixed 187 x 96 patches, so the maps are fixed too. Only the runtime file is pruned; the weights
and the model id stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: A filter is dead when its largest kernel weight is below this fraction of the block's
#: largest (MSD_vgg: the dead ones sit below 1e-6 of it, the live ones above 1e-2).
DEAD_BELOW = 1e-6


def dead_filters(weights: Mapping[str, np.ndarray], blocks: int = 5) -> dict[int, np.ndarray]:
    """Indices of each block's dead filters (block number, from 1, to sorted indices)."""
    out = {}
    for i in range(1, blocks + 1):
        kernel = np.asarray(weights[f"block{i}_conv/kernel"])
        largest = np.abs(kernel.reshape(-1, kernel.shape[-1])).max(axis=0)
        out[i] = np.flatnonzero(largest < DEAD_BELOW * largest.max())
    return out


def _constants(weights: Mapping[str, np.ndarray], i: int, idx: np.ndarray) -> np.ndarray:
    """``bn(relu(bias))`` of block ``i``'s filters ``idx``: their channels' constant values."""
    from deejai_model.ears.networks.pruning import bn_scale_shift

    scale, shift = bn_scale_shift(weights, f"block{i}_bn")
    bias = np.asarray(weights[f"block{i}_conv/bias"], np.float64)[idx]
    return scale[idx] * np.maximum(bias, 0.0) + shift[idx]


def border_map(kernel: np.ndarray, constants: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """What constant input channels add to a 3 x 3 ``same`` convolution, position by position.

    Parameters
    ----------
    kernel : np.ndarray
        ``(3, 3, n_constant, filters)``: the convolution's weights on those channels.
    constants : np.ndarray
        ``(n_constant,)`` the channels' values.
    height, width : int
        The convolution's input (= output) size.

    Returns
    -------
    np.ndarray
        ``(height, width, filters)`` float32: at each position, the sum over the taps that fall
        inside the input (the zero padding adds nothing).
    """
    per_tap = np.einsum("yxcf,c->yxf", np.asarray(kernel, np.float64), constants)
    out = np.zeros((height, width, kernel.shape[-1]))
    for dy in range(3):
        for dx in range(3):
            rows = slice(max(0, 1 - dy), min(height, height + 1 - dy))
            cols = slice(max(0, 1 - dx), min(width, width + 1 - dx))
            out[rows, cols] += per_tap[dy, dx]
    return out.astype(np.float32)


def pruned_weights(
    weights: Mapping[str, np.ndarray], n_frames: int, n_mels: int
) -> tuple[dict[int, np.ndarray], dict[str, np.ndarray]]:
    """``(dead filters per block, the pruned network's weights)`` from the full weights."""
    from deejai_model.ears.networks.vgg import POOLS

    dead = dead_filters(weights, len(POOLS))
    out = {k: np.asarray(v, np.float32) for k, v in weights.items()}
    height, width = n_frames, n_mels
    previous_live = np.arange(1)  # the input's one channel
    previous_dead = np.zeros(0, int)
    previous_constants = np.zeros(0)
    for i, (size, strides) in enumerate(POOLS, start=1):
        kernel = out[f"block{i}_conv/kernel"]
        live = np.setdiff1d(np.arange(kernel.shape[-1]), dead[i])
        if previous_dead.size:
            out[f"block{i}_border/value"] = border_map(
                kernel[:, :, previous_dead][..., live],
                previous_constants,
                height=height,
                width=width,
            )
        out[f"block{i}_conv/kernel"] = kernel[:, :, previous_live][..., live]
        out[f"block{i}_conv/bias"] = out[f"block{i}_conv/bias"][live]
        for v in ("gamma", "beta", "moving_mean", "moving_variance"):
            out[f"block{i}_bn/{v}"] = out[f"block{i}_bn/{v}"][live]
        constants = _constants(weights, i, dead[i])
        if dead[i].size and i >= len(POOLS) - 1:  # pool4 and pool5 are outputs
            out[f"block{i}_restore/constant"] = constants.astype(np.float32)
        height = (height - size[0]) // strides[0] + 1
        width = (width - size[1]) // strides[1] + 1
        previous_live, previous_dead, previous_constants = live, dead[i], constants
    return dead, out


def prune_vgg(
    weights: Mapping[str, np.ndarray], prefix: str = "", **architecture_params: Any
) -> Any:
    """VGG built without its dead filters, weights assigned.

    Parameters
    ----------
    weights : mapping of str to np.ndarray
        The full network's weights by Keras variable path; with ``prefix``, those whose path
        starts with it.
    prefix : str
        The network's layer-name prefix (:func:`~deejai_model.ears.networks.vgg.build_vgg`).
    **architecture_params
        :func:`~deejai_model.ears.networks.vgg.build_vgg`'s other parameters.

    Returns
    -------
    keras.Model
        Same inputs and outputs as the full network, the same values within float32
        summation order.
    """
    from deejai_model.ears.networks.pruning import unprefixed
    from deejai_model.ears.networks.vgg import build_vgg
    from deejai_model.ears.weights import assign_weights

    own = unprefixed(weights, prefix)
    n_frames = architecture_params.get("n_frames", 187)
    n_mels = architecture_params.get("n_mels", 96)
    dead, values = pruned_weights(own, n_frames, n_mels)
    model = build_vgg(**architecture_params, prefix=prefix, dead=dead)
    return assign_weights(model, {prefix + k: v for k, v in values.items()})
