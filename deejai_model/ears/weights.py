"""A bundle's weights as plain data: ``weights.npz`` read, written and assigned by name.

``weights.npz`` holds one array per Keras variable, keyed by the variable's path (such as
``midend_conv1/kernel``), read with ``allow_pickle=False`` and written byte-for-byte
reproducibly, so the same weights always hash the same (the model id, :mod:`.manifest`).
:func:`save_bundle` writes a network and its manifest as a bundle directory.

Keras is never imported here: the functions that take a model only use its variables.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from deejai_model.ears.manifest import (
    FORMAT,
    MANIFEST_FILE,
    SHARED_FORMAT,
    Manifest,
    file_sha256,
)
from deejai_model.errors import BundleError

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class WeightsMismatch(ValueError):
    """The weights do not fit the network: a variable without a value, a value without a
    variable, or a value of the wrong shape."""


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, by name (never unpickling anything)."""
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def write_npz(arrays: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write arrays to an uncompressed ``.npz`` byte-for-byte reproducibly.

    ``np.savez`` stamps the current time into the zip, so the same weights would hash
    differently on every run; here every member has a fixed timestamp and keys are sorted.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def variables_by_path(model: Any) -> dict[str, Any]:
    """A Keras model's variables by path (``layer_name/variable_name``).

    Raises
    ------
    BundleError
        When two variables share a path (layers left to Keras' automatic names).
    """
    variables: dict[str, Any] = {}
    for var in model.weights:
        if var.path in variables:
            raise BundleError(
                f"the network has two variables named {var.path!r}: name its layers explicitly"
            )
        variables[var.path] = var
    return variables


def weight_arrays(model: Any) -> dict[str, np.ndarray]:
    """A Keras model's current weights as arrays by variable path (what ``weights.npz`` holds)."""
    return {path: np.asarray(var.numpy()) for path, var in variables_by_path(model).items()}


def _few(names: Any, n: int = 5) -> str:
    names = sorted(names)
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")


def assign_weights(model: Any, values: Mapping[str, Any], *, exact: bool = False) -> Any:
    """Assign ``values`` (arrays by variable path) to every variable of ``model``.

    Parameters
    ----------
    model : keras.Model
        The network; each variable takes the value of its path, cast to its dtype.
    values : mapping of str to array-like
        A dict, or an open ``np.load`` file (each array read when assigned).
    exact : bool
        Refuse values that no variable takes too (a bundle's weights must fit exactly).

    Returns
    -------
    keras.Model
        ``model``.

    Raises
    ------
    WeightsMismatch
        When a variable has no value, a value has the wrong shape, or (``exact``) a value has
        no variable.
    """
    variables = variables_by_path(model)
    keys = set(values)
    missing = set(variables) - keys
    extra = keys - set(variables) if exact else set()
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if extra:
            parts.append(f"unexpected {_few(extra)}")
        raise WeightsMismatch("weights do not fit the network: " + "; ".join(parts))
    for path, var in variables.items():
        value = np.asarray(values[path])
        if tuple(value.shape) != tuple(var.shape):
            raise WeightsMismatch(
                f"{path} has shape {value.shape}, the network wants {tuple(var.shape)}"
            )
        var.assign(value.astype(var.dtype, copy=False))
    return model


def bundle_weights(bundle_dir: str | os.PathLike, manifest: Manifest) -> dict[str, np.ndarray]:
    """A bundle's weights by variable path, checked against the manifest's ``weights.sha256``.

    Format 1: its own ``weights.npz`` (:func:`verified_weights`). Format 2
    (:data:`~deejai_model.ears.manifest.SHARED_FORMAT`): the arrays are cut from the files
    ``weights.sources`` names (another shipped bundle's weights, a small file of the bundle's
    own), then written again in memory as the bundle's weights file was written
    (:func:`write_npz` is byte-reproducible): those bytes must hash to ``weights.sha256``, the
    hash the model id is made of. So a shipped bundle that holds another's arrays stores them
    once, and its id and vectors stay what they were.

    Raises
    ------
    BundleError
        When a file is missing or unreadable, or the weights do not hash to the manifest's.
    """
    if manifest.format != SHARED_FORMAT:
        return _read(verified_weights(bundle_dir, manifest))
    bundle_dir = Path(bundle_dir)
    arrays: dict[str, np.ndarray] = {}
    for source in manifest.weights["sources"]:
        folder = bundle_dir.parent / source["bundle"] if "bundle" in source else bundle_dir
        path = folder / source["file"]
        if not path.is_file():
            raise BundleError(f"{bundle_dir}: weights file {path} is missing")
        prefix = source["prefix"]
        for key, value in _read(path).items():
            if key.startswith(prefix):
                arrays[key[len(prefix) :] if source["strip"] else key] = value
    buffer = io.BytesIO()
    write_npz(arrays, buffer)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    if digest != manifest.weights["sha256"]:
        raise BundleError(
            f"{bundle_dir}: the weights cut from {', '.join(_source_names(manifest))} hash to "
            f"{digest}, not the manifest's {manifest.weights['sha256']} (corrupt or replaced "
            f"weights)"
        )
    return arrays


def _source_names(manifest: Manifest) -> list[str]:
    return [
        "/".join(filter(None, (s.get("bundle"), s["file"]))) for s in manifest.weights["sources"]
    ]


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        return read_npz(path)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path}: cannot read weights: {exc}") from exc


def assign_bundle_weights(model: Any, bundle_dir: str | os.PathLike, manifest: Manifest) -> None:
    """Assign a bundle's weights (:func:`bundle_weights`) to its network, each exactly once.

    Raises
    ------
    BundleError
        When the weights are missing, corrupt or do not fit the network.
    """
    try:
        assign_weights(model, bundle_weights(bundle_dir, manifest), exact=True)
    except WeightsMismatch as exc:
        raise BundleError(f"{bundle_dir}: {exc}") from exc


def verified_weights(bundle_dir: str | os.PathLike, manifest: Manifest) -> Path:
    """The path of a bundle's weights file, after checking it against the manifest's SHA-256.

    Called by what reads the weights (the Keras network, a head), not for a LiteRT run: that
    checks its own model file's hash instead (hash what runs).

    Raises
    ------
    BundleError
        When the file is missing or its SHA-256 is not the manifest's ``weights.sha256``,
        or the bundle's weights are cut from other files (format 2: :func:`bundle_weights`).
    """
    if manifest.format == SHARED_FORMAT:
        raise BundleError(
            f"{bundle_dir}: the weights are cut from {', '.join(_source_names(manifest))}, "
            "not a file of their own"
        )
    weights_path = Path(bundle_dir) / manifest.weights["file"]
    if not weights_path.is_file():
        raise BundleError(f"{bundle_dir}: weights file {manifest.weights['file']} is missing")
    digest = file_sha256(weights_path)
    if digest != manifest.weights["sha256"]:
        raise BundleError(
            f"{weights_path}: sha256 {digest} does not match the manifest's "
            f"{manifest.weights['sha256']} (corrupt or replaced weights)"
        )
    return weights_path


def load_weights(model: Any, weights_path: str | os.PathLike) -> None:
    """Assign a bundle's ``weights.npz`` to its network, every variable exactly once.

    Raises
    ------
    BundleError
        When the file cannot be read (or holds pickled objects) or does not fit the network.
    """
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            assign_weights(model, npz, exact=True)
    except WeightsMismatch as exc:
        raise BundleError(f"{weights_path}: {exc}") from exc
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{weights_path}: cannot read weights: {exc}") from exc


def save_bundle(
    model: Any,
    manifest: Manifest | Mapping[str, Any],
    directory: str | os.PathLike,
    *,
    license_text: str | None = None,
    provenance: str | None = None,
) -> Manifest:
    """Write a model's weights and manifest as a bundle directory.

    Parameters
    ----------
    model : keras.Model
        The network, built by the manifest's architecture with its ``architecture_params``;
        every variable is saved under its path.
    manifest : Manifest or mapping
        The manifest; ``weights.sha256`` is filled in (any given value is replaced) and
        ``weights.file`` defaults to ``weights.npz``.
    directory : str or os.PathLike
        Created if needed; files already there with the same names are overwritten.
    license_text, provenance : str or None
        Written to ``LICENSE`` and ``PROVENANCE.md`` when given.

    Returns
    -------
    Manifest
        The manifest as written.
    """
    data = manifest.to_dict() if isinstance(manifest, Manifest) else dict(manifest)
    data.setdefault("format", FORMAT)
    data.pop("runtime", None)  # a converted model of other weights: convert again
    weights = dict(data.get("weights") or {})
    weights.setdefault("file", "weights.npz")
    weights.pop("sha256", None)
    data["weights"] = weights
    Manifest.from_dict(data, require_sha256=False)  # validate before writing anything

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = weight_arrays(model)
    weights_path = directory / weights["file"]
    write_npz(arrays, weights_path)
    weights["sha256"] = file_sha256(weights_path)
    final = Manifest.from_dict(data)
    (directory / MANIFEST_FILE).write_text(final.to_json(), encoding="utf-8")
    if license_text is not None:
        (directory / "LICENSE").write_text(license_text, encoding="utf-8")
    if provenance is not None:
        (directory / "PROVENANCE.md").write_text(provenance, encoding="utf-8")
    return final
