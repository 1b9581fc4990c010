"""Model bundles: a network's architecture, front end and weights as plain data.

A bundle is a directory holding ``manifest.json`` (see :class:`Manifest`), ``weights.npz``
(one array per Keras variable, keyed by the variable's path such as ``midend_conv1/kernel``,
read with ``allow_pickle=False``), ``LICENSE`` and ``PROVENANCE.md``. :func:`load_bundle`
checks the weights' SHA-256 against the manifest, rebuilds the network from code and assigns
the weights by name; nothing executable is ever read from disk.

A bundle may also ship the embedding output converted to LiteRT (``model.tflite``, the
manifest's optional ``runtime`` entry; see :mod:`deejai_model.ears.runtime`). Then
:meth:`Bundle.embed` runs it without TensorFlow, and the Keras network is built only if
something asks for it (another output, :attr:`Bundle.model`).

TensorFlow and Keras are imported lazily, inside the functions that need them: importing
this module costs nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from deejai_model.ears.manifest import (  # noqa: F401 (the bundle's public names)
    ARCHITECTURES,
    FORMAT,
    FRONTEND_KEYS,
    MANIFEST_FILE,
    RUNTIME_KEYS,
    Manifest,
    file_sha256,
)
from deejai_model.ears.shipped import BUNDLES_DIR, DEFAULT_BUNDLE
from deejai_model.errors import BundleError

#: Slices the network sees per call of :meth:`Bundle.embed`'s compiled function.
DEFAULT_BATCH_SIZE = 32

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


# What TensorFlow's C++ side prints on import whatever TF_CPP_MIN_LOG_LEVEL says (its absl
# logging is not initialised yet): the oneDNN notice and the CPU feature guard.
_IMPORT_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog|I0000 |"
    r"To enable the following instructions|E0000 .*(cuInit|cuda))"
)


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern[str]) -> Iterator[None]:
    """Drop the lines matching ``noise`` that native code writes to stderr inside the block.

    File descriptor 2 is redirected to a temporary file for the block; afterwards every line
    that does not match ``noise`` is passed on to ``sys.stderr``.
    """
    import sys
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True) if not noise.match(line)]
            if kept:
                sys.stderr.write("".join(kept))


def _import_tf() -> Any:
    """Import TensorFlow quietly, with Keras on its TensorFlow backend.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` and ``KERAS_BACKEND=tensorflow`` unless already set,
    and drops the informational lines TensorFlow's C++ code writes to stderr while it is
    imported (anything else written meanwhile is passed on).
    """
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        with filtered_stderr(_IMPORT_NOISE):
            import tensorflow  # noqa: F401
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"deejai_model needs Keras' TensorFlow backend, but Keras runs on "
            f"{keras.backend.backend()!r} (set KERAS_BACKEND=tensorflow)"
        )
    return tf


def _build_network(manifest: Manifest) -> Any:
    params = manifest.architecture_params
    if manifest.architecture == "musicnn":
        from deejai_model.ears.networks.musicnn import build_musicnn as builder
    elif manifest.architecture == "fused":
        from deejai_model.ears.networks.fused import build_fused as builder
    elif manifest.architecture == "head":
        from deejai_model.ears.networks.head import build_head as builder
    elif manifest.architecture == "vgg":
        from deejai_model.ears.networks.vgg import build_vgg as builder
    else:  # "speccy", checked by Manifest
        from deejai_model.ears.networks.speccy import build_speccy as builder
    try:
        return builder(**params)
    except (TypeError, ValueError) as exc:
        raise BundleError(
            f"cannot build {manifest.architecture} with architecture_params {params}: {exc}"
        ) from exc


def _variables_by_path(model: Any) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for var in model.weights:
        if var.path in variables:
            raise BundleError(
                f"the network has two variables named {var.path!r}: name its layers explicitly"
            )
        variables[var.path] = var
    return variables


def _few(names: Any, n: int = 5) -> str:
    names = sorted(names)
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")


def _assign_weights(model: Any, weights_path: Path) -> None:
    variables = _variables_by_path(model)
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            keys = set(npz.files)
            missing, extra = set(variables) - keys, keys - set(variables)
            if missing or extra:
                parts = []
                if missing:
                    parts.append(f"missing {_few(missing)}")
                if extra:
                    parts.append(f"unexpected {_few(extra)}")
                raise BundleError(
                    f"{weights_path}: weights do not fit the network: " + "; ".join(parts)
                )
            for path, var in variables.items():
                value = npz[path]
                if tuple(value.shape) != tuple(var.shape):
                    raise BundleError(
                        f"{weights_path}: {path} has shape {value.shape}, "
                        f"the network wants {tuple(var.shape)}"
                    )
                var.assign(value.astype(var.dtype, copy=False))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{weights_path}: cannot read weights: {exc}") from exc


class Bundle:
    """A loaded bundle: its manifest and a ready network (use :func:`load_bundle`).

    Attributes
    ----------
    path : pathlib.Path
        The bundle directory.
    manifest : Manifest
        The validated manifest.
    model : keras.Model
        The network, weights assigned (built on first use when ``runner`` embeds).
    runner : deejai_model.ears.runtime.LiteRtRunner or None
        Runs the manifest's ``output`` without TensorFlow, when the bundle ships a LiteRT
        model and LiteRT was chosen.
    batch_size : int
        Slices per call of the compiled network; the last batch is zero-padded to it.
    """

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        model: Any = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | None = "/CPU:0",
        runner: Any = None,
    ):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        if model is None and runner is None:
            raise ValueError("a Bundle needs a Keras model or a runner")
        self.path = path
        self.manifest = manifest
        self._model = model
        self.runner = runner
        self.batch_size = batch_size
        self.device = device
        self._functions: dict[str, Any] = {}
        self._lock = threading.RLock()

    @property
    def model(self) -> Any:
        """The Keras network (imports TensorFlow and builds it on first use)."""
        with self._lock:
            if self._model is None:
                self._model = _build_checked(self.path, self.manifest)
            return self._model

    @property
    def runtime(self) -> str:
        """What :meth:`embed` runs on: ``"litert"`` or ``"keras"``."""
        return "litert" if self.runner is not None else "keras"

    @property
    def model_id(self) -> str:
        """``"<name>@<version>:<sha256[:12]>"``: names the model and its exact weights."""
        return self.manifest.model_id

    @property
    def dim(self) -> int:
        """Size of the embedding :meth:`embed` returns."""
        return self.manifest.dim

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one slice :meth:`embed` takes: the network's input less the batch.

        ``(187, 96)`` (frames, mels) for musicnn, ``(96, 216, 1)`` for speccy; for a network
        that accepts any length, ``(slice_frames, n_mels)`` from the manifest's front end.
        """
        if self.runner is not None:
            return self.runner.input_shape
        shape = tuple(self.model.inputs[0].shape[1:])
        if any(d is None for d in shape):
            fe = self.manifest.frontend
            return fe["slice_frames"], fe["n_mels"]
        return tuple(int(d) for d in shape)

    @property
    def output_names(self) -> list[str]:
        """Names of the network's outputs (one name for a single-output network)."""
        outputs = self.model.output
        if isinstance(outputs, dict):
            return list(outputs)
        return [self.manifest.output]

    def _function(self, output: str) -> Any:
        with self._lock:
            fn = self._functions.get(output)
            if fn is None:
                fn = self._functions[output] = self._compile(output)
            return fn

    def _compile(self, output: str) -> Any:
        """One ``tf.function`` for one output, traced once for a fixed-size batch."""
        if output not in self.output_names:
            raise ValueError(
                f"{self.model_id} has no output {output!r}; it has {', '.join(self.output_names)}"
            )
        tf = _import_tf()
        model, device = self.model, self.device
        multi = isinstance(model.output, dict)
        spec = tf.TensorSpec((self.batch_size, *self.input_shape), tf.float32)

        @tf.function(input_signature=[spec], reduce_retracing=True)
        def run(x: Any) -> Any:
            if device is None:
                y = model(x, training=False)
            else:
                with tf.device(device):
                    y = model(x, training=False)
            return y[output] if multi else y

        return run

    def predict(self, batch: np.ndarray, output: str | None = None) -> np.ndarray:
        """Run the network on slices and return one of its outputs.

        Parameters
        ----------
        batch : np.ndarray
            ``(n, *input_shape)`` front-end slices, e.g. ``(n, 187, 96)`` for musicnn.
        output : str or None
            Which output (see :attr:`output_names`); ``None`` is the manifest's ``output``.

        Returns
        -------
        np.ndarray
            ``(n, width)`` float32, row ``i`` for slice ``i``.
        """
        output = output or self.manifest.output
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 1 + len(self.input_shape) or batch.shape[1:] != self.input_shape:
            want = ", ".join(str(d) for d in self.input_shape)
            raise ValueError(f"batch must have shape (n, {want}), not {batch.shape}")
        if self.runner is not None and output == self.manifest.output:
            return self.runner.run(batch)
        fn = self._function(output)
        n, size = len(batch), self.batch_size
        chunks = []
        for start in range(0, n, size):
            chunk = batch[start : start + size]
            if len(chunk) < size:
                pad = np.zeros((size - len(chunk), *self.input_shape), np.float32)
                chunk = np.concatenate([chunk, pad])
            chunks.append(fn(chunk).numpy()[: n - start])
        if not chunks:
            width = (
                self.dim
                if output == self.manifest.output
                else int(self.model.output[output].shape[-1])
            )
            return np.zeros((0, width), np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """Embed slices: the manifest's ``output`` for each slice.

        Parameters
        ----------
        batch : np.ndarray
            ``(n, *input_shape)`` front-end slices (see :attr:`input_shape`), any float
            dtype, as :meth:`deejai_model.ears.frontend.FrontEnd.slices` makes them.

        Returns
        -------
        np.ndarray
            ``(n, dim)`` float32. Rows do not depend on the other slices in the batch.
        """
        return self.predict(batch)

    def __repr__(self) -> str:
        return f"Bundle({self.model_id!r}, path={str(self.path)!r}, runtime={self.runtime!r})"


def _build_checked(path: Path, manifest: Manifest) -> Any:
    """Import TensorFlow, build the manifest's network, assign its weights, check outputs."""
    manifest_path = path / MANIFEST_FILE
    _import_tf()
    model = _build_network(manifest)
    _assign_weights(model, path / manifest.weights["file"])
    outputs = model.output
    names = list(outputs) if isinstance(outputs, dict) else [manifest.output]
    if manifest.output not in names:
        raise BundleError(
            f"{manifest_path}: output {manifest.output!r} is not one of the "
            f"network's outputs ({', '.join(names)})"
        )
    width = (outputs[manifest.output] if isinstance(outputs, dict) else outputs).shape[-1]
    if width != manifest.dim:
        raise BundleError(
            f"{manifest_path}: dim is {manifest.dim} but the network's "
            f"{manifest.output!r} output has {width}"
        )
    return model


def _load_head_network(weights_path: Path, manifest: Manifest) -> Any:
    """A head bundle's :class:`deejai_model.learn.head.HeadNetwork`, checked against the
    manifest."""
    from deejai_model.learn.head import HeadNetwork

    try:
        network = HeadNetwork(read_npz(weights_path))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{weights_path}: not head weights: {exc}") from exc
    params = manifest.architecture_params
    want = (params.get("input_dim"), manifest.dim)
    if (network.input_dim, network.dim) != want:
        raise BundleError(
            f"{weights_path}: the head maps {network.input_dim} -> {network.dim} values, "
            f"the manifest says {want[0]} -> {want[1]}"
        )
    return network


def _load_runner(path: Path, manifest: Manifest, batch_size: int, threads: int | None) -> Any:
    """Check the bundle's LiteRT model against the manifest and load it."""
    from deejai_model.ears.runtime import LiteRtRunner

    runtime = manifest.runtime
    assert runtime is not None
    model_path = path / runtime["file"]
    if not model_path.is_file():
        raise BundleError(f"{path}: LiteRT model {runtime['file']} is missing")
    digest = file_sha256(model_path)
    if digest != runtime["sha256"]:
        raise BundleError(
            f"{model_path}: sha256 {digest} does not match the manifest's "
            f"{runtime['sha256']} (corrupt or replaced model)"
        )
    if runtime["weights_sha256"] != manifest.weights["sha256"]:
        raise BundleError(
            f"{model_path}: converted from other weights than {manifest.weights['file']} "
            f"(convert again with scripts/convert_litert.py)"
        )
    runner = LiteRtRunner(model_path, batch_size=batch_size, threads=threads)
    if runner.width != manifest.dim:
        raise BundleError(
            f"{model_path}: output has {runner.width} values, the manifest's dim is {manifest.dim}"
        )
    return runner


def load_bundle(
    path: str | os.PathLike,
    batch_size: int | None = None,
    device: str | None = "/CPU:0",
    runtime: str = "auto",
    threads: int | None = None,
) -> Bundle:
    """Load a bundle directory: validate, check hashes, then load LiteRT or build Keras.

    Parameters
    ----------
    path : str or os.PathLike
        The bundle directory.
    batch_size : int or None
        Slices per call of the network in :meth:`Bundle.embed` (``None``:
        :data:`DEFAULT_BATCH_SIZE` for Keras, :data:`deejai_model.ears.runtime.LITERT_BATCH_SIZE`
        for LiteRT).
    device : str or None
        TensorFlow device the Keras network runs on (``None``: TensorFlow's choice).
    runtime : {"auto", "keras", "litert"}
        What runs :meth:`Bundle.embed`: ``"auto"`` is LiteRT when the bundle ships a LiteRT
        model and ``ai_edge_litert`` is installed (TensorFlow is then not imported), else
        Keras on TensorFlow. Both give the same vectors within 1e-4 (tested), so vectors
        keep one :attr:`Bundle.model_id`.
    threads : int or None
        LiteRT's CPU threads (``None``: every core).

    Raises
    ------
    BundleError
        If the manifest is missing or invalid, the weights or LiteRT model are missing, do
        not match the manifest's SHA-256, or do not fit the network; or ``runtime="litert"``
        for a bundle without a LiteRT model or without ``ai_edge_litert`` installed.
    """
    from deejai_model.ears.runtime import LITERT_BATCH_SIZE, RUNTIMES, litert_available

    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    path = Path(path)
    manifest_path = path / MANIFEST_FILE
    if not path.is_dir():
        raise BundleError(f"{path}: not a bundle directory")
    if not manifest_path.is_file():
        raise BundleError(f"{path}: no {MANIFEST_FILE} (not a bundle)")
    try:
        manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"))
    except BundleError as exc:
        raise BundleError(f"{manifest_path}: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path}: cannot read: {exc}") from exc

    weights_path = path / manifest.weights["file"]
    if not weights_path.is_file():
        raise BundleError(f"{path}: weights file {manifest.weights['file']} is missing")
    digest = file_sha256(weights_path)
    if digest != manifest.weights["sha256"]:
        raise BundleError(
            f"{weights_path}: sha256 {digest} does not match the manifest's "
            f"{manifest.weights['sha256']} (corrupt or replaced weights)"
        )

    if manifest.architecture == "head":  # a small head on another bundle's slice vectors
        from deejai_model.learn.head import HeadBundle, resolve_base

        network = _load_head_network(weights_path, manifest)
        base = load_bundle(
            resolve_base(manifest, path),
            batch_size=batch_size,
            device=device,
            runtime=runtime,
            threads=threads,
        )
        return HeadBundle(
            path,
            manifest,
            network,
            base,
            batch_size=batch_size or DEFAULT_BATCH_SIZE,
            device=device,
        )
    if runtime == "litert":
        if manifest.runtime is None:
            raise BundleError(f"{path}: the bundle has no LiteRT model (manifest runtime)")
        if not litert_available():
            raise BundleError(f"{path}: LiteRT is not installed (pip install ai-edge-litert)")
    use_litert = runtime == "litert" or (
        runtime == "auto" and manifest.runtime is not None and litert_available()
    )
    if use_litert:
        size = batch_size or LITERT_BATCH_SIZE
        runner = _load_runner(path, manifest, size, threads)
        return Bundle(path, manifest, batch_size=size, device=device, runner=runner)
    model = _build_checked(path, manifest)
    return Bundle(path, manifest, model, batch_size=batch_size or DEFAULT_BATCH_SIZE, device=device)


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
    arrays = {p: np.asarray(v.numpy()) for p, v in _variables_by_path(model).items()}
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


def default_bundle_path() -> Path:
    """The bundle that ships as the default ears (``musicnn_fused``: MTT, MSD and VGG)."""
    return BUNDLES_DIR / DEFAULT_BUNDLE
