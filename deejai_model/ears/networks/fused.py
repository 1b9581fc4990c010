"""Several networks hearing the same mel slices, their embeddings side by side.

musicnn's MTT and MSD checkpoints, and the VGG models of the same wheel, share one front end
(:data:`deejai_model.ears.frontend.MUSICNN`), so one decoded and
mel-transformed slice feeds them all. This builds one Keras model whose output is the networks'
embeddings concatenated, ``(batch, sum of their dims)``; each part keeps its own layer names
under a prefix (``mtt_timbral_74_conv/kernel``...), so one ``weights.npz`` holds them all.
The pooling treats the parts as separate blocks (``deejai_model.vectors.pooling.Pooler.parts``):
each
is adapted, pooled, centred and scaled on its own, and cosine similarity is the mean of the
parts' cosines, which is how the fusion was measured (docs/benchmarks-history.md, issue 14).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy only in annotations: the manifest checks parts without importing it
    import numpy as np

#: Part architectures and their builders (module, function).
PART_BUILDERS = {
    "musicnn": ("deejai_model.ears.networks.musicnn", "build_musicnn"),
    "vgg": ("deejai_model.ears.networks.vgg", "build_vgg"),
}

#: The outputs a part may embed with (one tensor each).
PART_OUTPUTS = {
    "musicnn": ("penultimate",),
    "vgg": ("pool5", "pool5_maxmean", "pool4_maxmean", "pool45"),
}

#: Part architectures and what builds them without their dead filters, weights assigned.
PRUNERS = {
    "musicnn": ("deejai_model.ears.networks.musicnn_prune", "prune_musicnn"),
    "vgg": ("deejai_model.ears.networks.vgg_prune", "prune_vgg"),
}


def _call(
    registry: Mapping[str, tuple[str, str]], architecture: str, *args: Any, **kwargs: Any
) -> Any:
    """Call the function a registry names for ``architecture`` (imported on first use)."""
    import importlib

    module, function = registry[architecture]
    return getattr(importlib.import_module(module), function)(*args, **kwargs)


def prune(architecture: str, weights: Mapping[str, np.ndarray], **params: Any) -> Any:
    """A ``musicnn`` or ``vgg`` network without its dead filters, weights assigned
    (:data:`PRUNERS`; ``params``: the builder's, ``prefix`` included)."""
    return _call(PRUNERS, architecture, weights, **params)


def _part_network(part: Mapping[str, Any], weights: Mapping[str, np.ndarray] | None) -> Any:
    """One part's network: the full one (weights assigned later) or, given weights, the part
    without its dead filters, weights assigned."""
    params = {**part["params"], "output": part["output"], "prefix": part["prefix"]}
    if weights is not None:
        return prune(part["architecture"], weights, **params)
    return _call(PART_BUILDERS, part["architecture"], **params)


def build_fused(
    parts: Sequence[Mapping[str, Any]],
    output: str = "embedding",
    weights: Mapping[str, np.ndarray] | None = None,
) -> Any:
    """Networks side by side on one input, their embeddings concatenated.

    Parameters
    ----------
    parts : sequence of mapping
        One per network, in output order: ``prefix`` (its layer-name prefix, e.g. ``"mtt_"``),
        ``architecture`` (a key of :data:`PART_BUILDERS`), ``output`` (the network's output
        that is its embedding), ``dim`` (that output's size) and ``params`` (the builder's
        other parameters; ``n_frames`` and ``n_mels`` must agree between parts).
    output : {"embedding"}
        The only output: the parts' embeddings concatenated.
    weights : mapping of str to np.ndarray, optional
        Given, each part is built without its dead filters (:data:`PRUNERS`) with these
        weights assigned, as the LiteRT conversion exports it; otherwise the full, untrained
        network.

    Returns
    -------
    keras.Model
        Takes float32 ``(batch, n_frames, n_mels)`` log-mel patches, returns
        ``(batch, sum of the parts' dims)``.
    """
    import keras

    if output != "embedding":
        raise ValueError(f"a fused network has one output, 'embedding', not {output!r}")
    check_parts(parts)
    n_frames = parts[0]["params"].get("n_frames", 187)
    n_mels = parts[0]["params"].get("n_mels", 96)
    inputs = keras.Input(shape=(n_frames, n_mels), dtype="float32", name="logmel")
    outputs = []
    for part in parts:
        output = _part_network(part, weights)(inputs)
        if output.shape[-1] != part["dim"]:
            raise ValueError(
                f"part {part['prefix']!r} gives {output.shape[-1]} values, its dim says "
                f"{part['dim']}"
            )
        outputs.append(output)
    joined = keras.layers.Concatenate(axis=-1, name="embedding")(outputs)
    return keras.Model(inputs, joined, name="fused")


def check_parts(parts: Any) -> None:
    """Raise ValueError unless ``parts`` describes two or more networks as
    :func:`build_fused` wants them."""
    if not isinstance(parts, list | tuple) or len(parts) < 2:
        raise ValueError("a fused network needs two or more parts")
    keys = {"prefix", "architecture", "output", "dim", "params"}
    for part in parts:
        if not isinstance(part, Mapping) or set(part) != keys:
            raise ValueError(f"each part must have exactly the keys {sorted(keys)}")
        if part["architecture"] not in PART_BUILDERS:
            raise ValueError(
                f"part architecture {part['architecture']!r} is not one of "
                f"{', '.join(PART_BUILDERS)}"
            )
        if not isinstance(part["dim"], int) or part["dim"] < 1:
            raise ValueError(f"part dim must be a positive int, not {part['dim']!r}")
        if not isinstance(part["params"], Mapping) or not isinstance(part["prefix"], str):
            raise ValueError("part params must be a mapping and prefix a string")
        if part["output"] not in PART_OUTPUTS[part["architecture"]]:
            raise ValueError(
                f"part output {part['output']!r} is not one of "
                f"{', '.join(PART_OUTPUTS[part['architecture']])}"
            )
    prefixes = [p["prefix"] for p in parts]
    if len(set(prefixes)) != len(prefixes) or not all(prefixes):
        raise ValueError(f"each part needs its own non-empty prefix, got {prefixes}")
    shapes = {(p["params"].get("n_frames", 187), p["params"].get("n_mels", 96)) for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"the parts do not hear the same slices: (frames, mels) {sorted(shapes)}")
