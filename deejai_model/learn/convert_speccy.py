"""Deej-A.I.'s Keras-2 ``speccy_model`` file -> the Keras 3 Speccy network -> a bundle.

Keras 3 cannot load that extensionless Keras-2 HDF5 file, so :func:`load_keras2_weights`
reads the weight arrays with h5py and assigns them to the network of
:func:`deejai_model.ears.networks.speccy.build_speccy`; the file's model config (executable layer
definitions) is never deserialised. :func:`convert_speccy` turns such a file into a bundle
directory (see ``docs/architecture.md``).

A one-off conversion tool: nothing at run time imports it.  TensorFlow/Keras and h5py are
imported inside the functions.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import numpy as np

from deejai_model.ears.manifest import file_sha256
from deejai_model.ears.networks.speccy import WEIGHTED_LAYERS, build_speccy, speccy_manifest
from deejai_model.ears.weights import save_bundle
from deejai_model.errors import BundleError

__all__ = ["convert_speccy", "load_keras2_weights"]


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes | np.bytes_) else str(value)


def _weight_basename(name: str) -> str:
    """``'dense_1/kernel:0'`` -> ``'kernel'``."""
    base = name.rsplit("/", 1)[-1]
    return base.split(":", 1)[0]


def _read_layer(path: str, root: Any, layer: str) -> dict[str, np.ndarray]:
    """Arrays of one layer group, keyed by weight basename, in ``weight_names`` order."""
    if layer not in root:
        raise BundleError(f"{path}: layer {layer!r} not found in the weights file")
    group = root[layer]
    names = group.attrs.get("weight_names")
    if names is None and "weight_names0" in group.attrs:
        # Keras 2 splits attributes over 64 KiB into weight_names0, weight_names1, ...
        chunks = []
        while f"weight_names{len(chunks)}" in group.attrs:
            chunks.append(np.atleast_1d(group.attrs[f"weight_names{len(chunks)}"]))
        names = np.concatenate(chunks)
    if names is None:
        raise BundleError(f"{path}: layer {layer!r} has no weight_names attribute")
    arrays: dict[str, np.ndarray] = {}
    for raw in np.atleast_1d(names):
        name = _text(raw)
        if name not in group:
            raise BundleError(f"{path}: layer {layer!r} lists weight {name!r} but lacks it")
        dataset = group[name]
        if not hasattr(dataset, "shape"):
            raise BundleError(f"{path}: layer {layer!r}: {name!r} is not a dataset")
        arrays[_weight_basename(name)] = np.asarray(dataset[()])
    return arrays


def load_keras2_weights(model: Any, path: str | os.PathLike) -> None:
    """Assign the weights of a Keras-2 HDF5 file to a :func:`build_speccy` network.

    Reads ``/model_weights/<layer>/`` (a whole saved model, like Deej-A.I.'s extensionless
    ``speccy_model``) or ``/<layer>/`` (weights saved with ``save_weights``): each layer
    group's ``weight_names`` attribute lists its datasets (``depthwise_kernel``,
    ``pointwise_kernel``, ``bias``; ``gamma``, ``beta``, ``moving_mean``,
    ``moving_variance``; ``kernel``, ``bias``). Weights are matched by name, shapes are
    checked, and nothing is assigned unless every layer fits.

    Parameters
    ----------
    model : keras.Model
        From :func:`build_speccy`.
    path : str or os.PathLike
        The HDF5 file (any extension or none).

    Raises
    ------
    BundleError
        The file is missing or not HDF5, or a layer or weight is missing, extra or of the
        wrong shape; the message names the file and the layer.
    """
    import h5py

    path = os.fspath(path)
    try:
        handle = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: cannot open as a Keras-2 HDF5 file: {exc}") from exc
    planned: list[tuple[Any, np.ndarray]] = []
    with handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        for layer_name in WEIGHTED_LAYERS:
            try:
                layer = model.get_layer(layer_name)
            except ValueError as exc:
                raise BundleError(f"the network has no layer {layer_name!r}") from exc
            arrays = _read_layer(path, root, layer_name)
            variables = {v.name.split("/")[-1].split(":")[0]: v for v in layer.weights}
            missing = sorted(set(variables) - set(arrays))
            extra = sorted(set(arrays) - set(variables))
            if missing or extra:
                raise BundleError(
                    f"{path}: layer {layer_name!r}: weights do not fit "
                    f"(missing {missing or 'none'}, unexpected {extra or 'none'})"
                )
            for name, var in variables.items():
                value = arrays[name]
                if tuple(value.shape) != tuple(var.shape):
                    raise BundleError(
                        f"{path}: layer {layer_name!r}: {name} has shape {value.shape}, "
                        f"the network wants {tuple(var.shape)}"
                    )
                if not np.issubdtype(value.dtype, np.floating):
                    raise BundleError(
                        f"{path}: layer {layer_name!r}: {name} has dtype {value.dtype}"
                    )
                planned.append((var, value))
    for var, value in planned:
        var.assign(value.astype(var.dtype, copy=False))


def convert_speccy(
    h5_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    name: str = "speccy",
    version: str = "deejai-keras2",
    license: str = "GPL-3.0-or-later",
    source: str = "Deej-A.I. speccy_model (teticio/Deej-AI), converted from Keras-2 HDF5",
) -> Any:
    """Convert a Keras-2 ``speccy_model`` file into a bundle directory.

    Parameters
    ----------
    h5_path : str or os.PathLike
        The original Keras-2 HDF5 file (Deej-A.I.'s ``speccy_model``, no extension).
    out_dir : str or os.PathLike
        The bundle directory to write (``manifest.json``, ``weights.npz``,
        ``PROVENANCE.md``).
    name, version, license, source : str
        Manifest fields. The licence is the weights' licence as the user received them;
        check it before sharing the bundle.

    Returns
    -------
    deejai_model.ears.manifest.Manifest
        The manifest as written.

    Raises
    ------
    BundleError
        If the file does not fit the network (see :func:`load_keras2_weights`).
    """
    model = build_speccy()
    load_keras2_weights(model, h5_path)
    manifest = speccy_manifest(name, version, license=license, source=source)
    provenance = (
        "# Provenance\n\n"
        f"Converted from the Keras-2 HDF5 file `{Path(h5_path).name}` "
        f"(sha256 `{file_sha256(Path(h5_path))}`) by `deejai_model.learn.convert_speccy`"
        f" on {datetime.date.today().isoformat()}.\n\n"
        "Weights were read by name with h5py (the file's Keras-2 model config was not "
        "used) and assigned to the Speccy network rebuilt in Keras 3.\n"
    )
    return save_bundle(model, manifest, out_dir, provenance=provenance)
