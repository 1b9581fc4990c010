"""musicnn without its dead front-end filters: the same function for less work.

Training left most of musicnn's front-end filters with kernels near zero: the largest
weights of many are 1e-30 to 1e-9, and the rest of the spread runs smoothly down from the live
filters' 1e-2..1. Such a filter's output is (nearly) its bias everywhere, so after ReLU, batch
norm and the max over frequency its channel is (nearly) a constant ``c = bn(relu(bias))`` for
every frame of every input. :func:`channel_swing` bounds how far any input can move a channel
from that constant; a filter is dead when the bound is below :data:`DEAD_BELOW`. Counted in
the shipped checkpoints:

========================  ===========  ===========
layer (filters)           MTT dead     MSD dead
========================  ===========  ===========
timbral 7 x 38 (204)      132          181
timbral 7 x 67 (204)      135          190
temporal 128 / 64 / 32    29 / 34 / 9  48 / 44 / 34
multiply-adds per slice   0.39x        0.13x
========================  ===========  ===========

:func:`prune_musicnn` builds the network with only the live filters and folds each dead
channel's constant into what reads it: the first mid-end convolution gets the constants' exact
contribution through its zero padding as a fixed ``(frames, filters)`` map (the network then
needs a fixed slice length), and the back end's dense bias absorbs their pooled values. On
real music the outputs stay within ~2e-5 of the full network's (LiteRT's conversion is held to
it by the 1e-4 parity gate on generated music). That is measured, not guaranteed: for MTT the
swings of its filters run smoothly through the threshold, and the worst case the bounds allow
is ~2e-4 on the penultimate layer (MSD's dead and live filters are 1e-8 and 3e-2 apart).
Only the runtime file is pruned: the bundle keeps the checkpoint's weights, so the model id
does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deejai_model.ears.networks.pruning import bn_scale_shift, unprefixed
from deejai_model.ears.weights import assign_weights

#: The front-end convolutions (Keras layer names of :func:`build_musicnn`) whose dead filters
#: are removed, each followed by the batch norm of the same prefix.
FRONTEND_CONVS = (
    "timbral_74",
    "timbral_77",
    "temporal_128",
    "temporal_64",
    "temporal_32",
)

#: Largest log-mel value assumed at the input: ``log10(10000 x + 1)`` of mel power reaches ~5 for
#: full-scale music; 10 leaves a wide margin.
INPUT_BOUND = 10.0

#: A filter is dead when no input within :data:`INPUT_BOUND` can move its channel (after batch
#: norm, before the frequency max) by more than this from its constant. The bound is a worst
#: case (every tap at its largest input with the worst sign): on real music the shipped
#: networks' outputs stay within ~2e-5 of the full ones at this setting (parity gate: 1e-4).
DEAD_BELOW = 1e-3


def channel_swing(weights: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """How far each filter's channel can move from its bias's value, at most.

    ``|bn(relu(w * x + b)) - bn(relu(b))| <= |scale| * ||w||_1 * max|x|`` (ReLU is 1-Lipschitz),
    with ``x`` the input batch norm's output for log-mel values in ``[0, INPUT_BOUND]`` (and the
    zero padding).

    Parameters
    ----------
    weights : mapping of str to np.ndarray
        musicnn weights by Keras variable path, as in a bundle's ``weights.npz``.
    name : str
        A name of :data:`FRONTEND_CONVS`.

    Returns
    -------
    np.ndarray
        ``(n_filters,)`` float64 bounds.
    """
    in_scale, in_shift = bn_scale_shift(weights, "input_bn")
    largest_input = float(
        np.max(np.abs([in_shift, in_scale * INPUT_BOUND + in_shift, np.zeros(1)]))
    )
    kernel = np.asarray(weights[f"{name}_conv/kernel"], np.float64)
    l1 = np.abs(kernel.reshape(-1, kernel.shape[-1])).sum(axis=0)
    scale, _ = bn_scale_shift(weights, f"{name}_bn")
    return np.abs(scale) * l1 * largest_input


def dead_filters(weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Indices of the dead filters of each front-end convolution.

    Parameters
    ----------
    weights : mapping of str to np.ndarray
        musicnn weights by Keras variable path (``timbral_74_conv/kernel``...), as in a
        bundle's ``weights.npz``.

    Returns
    -------
    dict of str to np.ndarray
        For each name of :data:`FRONTEND_CONVS`, the sorted int indices of its filters whose
        :func:`channel_swing` is below :data:`DEAD_BELOW`.
    """
    return {
        name: np.flatnonzero(channel_swing(weights, name) < DEAD_BELOW) for name in FRONTEND_CONVS
    }


def dead_channel_values(
    weights: Mapping[str, np.ndarray], name: str, dead: np.ndarray
) -> np.ndarray:
    """The constant each dead filter's channel takes: batch norm of ReLU of its bias.

    Parameters
    ----------
    weights : mapping of str to np.ndarray
        musicnn weights by Keras variable path.
    name : str
        A name of :data:`FRONTEND_CONVS`.
    dead : np.ndarray
        ``(n_dead,)`` indices of its dead filters.

    Returns
    -------
    np.ndarray
        ``(n_dead,)`` float32 values, in the order of ``dead``.
    """
    bias = np.asarray(weights[f"{name}_conv/bias"], np.float64)[dead]
    scale, shift = bn_scale_shift(weights, f"{name}_bn")
    return (scale[dead] * np.maximum(bias, 0.0) + shift[dead]).astype(np.float32)


def pruned_weights(weights: Mapping[str, np.ndarray], n_frames: int = 187) -> dict[str, np.ndarray]:
    """The weights of :func:`prune_musicnn`'s network, derived from the full network's.

    Front-end convolutions and their batch norms keep their live filters' entries. The dead
    channels' constants are folded into what reads them: the first mid-end convolution reads
    only the live channels and gets ``midend_border1/value``, the constants' exact
    ``(n_frames, filters)`` contribution through its zero padding (:func:`border_map_1d`); the
    back end's pooled batch norm and dense layer keep the live channels' entries, and the dense
    bias absorbs the dead ones (the max and mean of a constant channel are the constant).
    Every other weight is copied.
    """
    dead = dead_filters(weights)
    out = {k: np.asarray(v, np.float32) for k, v in weights.items()}
    live_channels, dead_channels, constants = [], [], []
    offset = 0
    for name, idx in dead.items():
        n_all = out[f"{name}_conv/kernel"].shape[-1]
        live = np.setdiff1d(np.arange(n_all), idx)
        out[f"{name}_conv/kernel"] = out[f"{name}_conv/kernel"][..., live]
        out[f"{name}_conv/bias"] = out[f"{name}_conv/bias"][live]
        for v in ("gamma", "beta", "moving_mean", "moving_variance"):
            out[f"{name}_bn/{v}"] = out[f"{name}_bn/{v}"][live]
        live_channels.append(offset + live)
        dead_channels.append(offset + idx)
        constants.append(dead_channel_values(weights, name, idx).astype(np.float64))
        offset += n_all
    live_front = np.concatenate(live_channels)
    dead_front = np.concatenate(dead_channels)
    values = np.concatenate(constants)
    kernel = np.asarray(weights["midend_conv1/kernel"], np.float64)  # (7, 561, filters)
    out["midend_conv1/kernel"] = out["midend_conv1/kernel"][:, live_front, :]
    out["midend_border1/value"] = border_map_1d(kernel[:, dead_front, :], values, n_frames)
    # back end: pooled entries 2c (max) and 2c + 1 (mean) of each mid-end channel c
    n_mid = offset + 3 * kernel.shape[-1]
    keep_mid = np.concatenate([live_front, np.arange(offset, n_mid)])
    keep = np.stack([2 * keep_mid, 2 * keep_mid + 1], axis=1).reshape(-1)
    gone = np.stack([2 * dead_front, 2 * dead_front + 1], axis=1).reshape(-1)
    scale, shift = bn_scale_shift(weights, "backend_pool_bn")
    dense = np.asarray(weights["penultimate_dense/kernel"], np.float64)
    pooled_constants = scale[gone] * np.repeat(values, 2) + shift[gone]
    out["penultimate_dense/bias"] = (
        np.asarray(weights["penultimate_dense/bias"], np.float64) + pooled_constants @ dense[gone]
    ).astype(np.float32)
    out["penultimate_dense/kernel"] = out["penultimate_dense/kernel"][keep]
    for v in ("gamma", "beta", "moving_mean", "moving_variance"):
        out[f"backend_pool_bn/{v}"] = out[f"backend_pool_bn/{v}"][keep]
    return out


def border_map_1d(kernel: np.ndarray, constants: np.ndarray, n_frames: int) -> np.ndarray:
    """What constant input channels add to a 7-tap convolution over zero-padded time.

    Parameters
    ----------
    kernel : np.ndarray
        ``(7, n_constant, filters)``: the convolution's weights on those channels.
    constants : np.ndarray
        ``(n_constant,)`` the channels' values.
    n_frames : int
        Frames in (and out).

    Returns
    -------
    np.ndarray
        ``(n_frames, filters)`` float32: at each frame, the sum over the taps that fall inside.
    """
    per_tap = np.einsum("kcf,c->kf", np.asarray(kernel, np.float64), constants)
    taps, half = per_tap.shape[0], per_tap.shape[0] // 2
    out = np.zeros((n_frames, per_tap.shape[1]))
    for k in range(taps):
        frames = slice(max(0, half - k), min(n_frames, n_frames + half - k))
        out[frames] += per_tap[k]
    return out.astype(np.float32)


def prune_musicnn(
    weights: Mapping[str, np.ndarray], prefix: str = "", **architecture_params: Any
) -> Any:
    """musicnn built without its dead front-end filters, weights assigned.

    Parameters
    ----------
    weights : mapping of str to np.ndarray
        The full network's weights by Keras variable path (a bundle's ``weights.npz``); with
        ``prefix``, those whose path starts with it.
    prefix : str
        The network's layer-name prefix (:func:`~deejai_model.ears.networks.musicnn.build_musicnn`).
    **architecture_params
        :func:`~deejai_model.ears.networks.musicnn.build_musicnn`'s other parameters (a bundle's
        ``architecture_params``).

    Returns
    -------
    keras.Model
        Same inputs and outputs as the full network, and the same values within the parity
        gate (see the module's docstring).
    """
    from deejai_model.ears.networks.musicnn import build_musicnn

    own = unprefixed(weights, prefix)
    model = build_musicnn(**architecture_params, frontend_dead=dead_filters(own), prefix=prefix)
    n_frames = architecture_params.get("n_frames", 187)
    return assign_weights(model, {prefix + k: v for k, v in pruned_weights(own, n_frames).items()})
