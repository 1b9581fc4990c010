"""The Keras runner: a bundle's network rebuilt from code and run on TensorFlow.

The network is built by its architecture's builder in :mod:`deejai_model.ears.networks` and
its weights assigned by variable path (:mod:`.weights`); nothing executable is read from disk.
:class:`KerasRunner` runs one output of it as a ``tf.function`` traced once for a fixed-size
batch. It is what runs a bundle without a LiteRT model (:mod:`.runtime`), every output but the
embedding, and what builds, converts and trains networks.

TensorFlow and Keras are imported lazily (:func:`import_tensorflow`), inside the functions
that need them: importing this module costs nothing.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from deejai_model.ears.batching import fixed_batches
from deejai_model.ears.manifest import MANIFEST_FILE, Manifest
from deejai_model.ears.quiet import filtered_stderr
from deejai_model.ears.weights import assign_bundle_weights
from deejai_model.errors import BundleError

#: Slices the network sees per call of :meth:`KerasRunner.run`'s compiled function.
DEFAULT_BATCH_SIZE = 32

# What TensorFlow's C++ side prints on import whatever TF_CPP_MIN_LOG_LEVEL says (its absl
# logging is not initialised yet): the oneDNN notice and the CPU feature guard.
_IMPORT_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog|I0000 |"
    r"To enable the following instructions|E0000 .*(cuInit|cuda))"
)


def import_tensorflow() -> Any:
    """Import TensorFlow quietly, with Keras on its TensorFlow backend.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` and ``KERAS_BACKEND=tensorflow`` unless already set,
    and drops the informational lines TensorFlow's C++ code writes to stderr while it is
    imported (anything else written meanwhile is passed on).

    Returns
    -------
    module
        ``tensorflow``.

    Raises
    ------
    RuntimeError
        When Keras was already imported on another backend.
    MissingExtraError
        When TensorFlow or Keras is not installed (the ``train`` extra).
    """
    from deejai_model.extras import require_extra

    if "tensorflow" not in sys.modules:
        require_extra(
            "train",
            "the Keras runtime (training, or embedding where LiteRT is not)",
            modules=("tensorflow", "keras"),
        )
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


def build_network(manifest: Manifest) -> Any:
    """The manifest's network, built by its architecture's builder (weights not assigned).

    Raises
    ------
    BundleError
        When the builder refuses the manifest's ``architecture_params``.
    """
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


def load_keras_model(path: Path, manifest: Manifest) -> Any:
    """Import TensorFlow, build the manifest's network, assign its weights, check outputs.

    Parameters
    ----------
    path : pathlib.Path
        The bundle directory (its weights' hash is checked against ``manifest`` here).
    manifest : Manifest
        The bundle's validated manifest.

    Returns
    -------
    keras.Model

    Raises
    ------
    BundleError
        When the network cannot be built, its weights do not fit, or its ``output`` is
        missing or not ``dim`` wide.
    """
    manifest_path = path / MANIFEST_FILE
    import_tensorflow()
    model = build_network(manifest)
    assign_bundle_weights(model, path, manifest)
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


def output_names(model: Any, manifest: Manifest) -> list[str]:
    """Names of a network's outputs (the manifest's ``output`` for a single-output one)."""
    outputs = model.output
    return list(outputs) if isinstance(outputs, dict) else [manifest.output]


def slice_shape(model: Any, manifest: Manifest) -> tuple[int, ...]:
    """One slice the network takes: its input shape less the batch axis.

    ``(187, 96)`` (frames, mels) for musicnn, ``(96, 216, 1)`` for speccy; for a network that
    accepts any length, ``(slice_frames, n_mels)`` from the manifest's front end.
    """
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        fe = manifest.frontend
        return fe["slice_frames"], fe["n_mels"]
    return tuple(int(d) for d in shape)


class KerasRunner:
    """One output of a Keras network, run as a ``tf.function`` on fixed-size batches.

    Parameters
    ----------
    model : keras.Model
        The network, weights assigned.
    output : str
        Which output (a key of a dict-output network's outputs, else its only output).
    input_shape : tuple of int
        One slice (see :func:`slice_shape`).
    batch_size : int
        Slices per call of the compiled function; the last batch is zero-padded to it, so it
        is traced once.
    device : str or None
        TensorFlow device the network runs on (``None``: TensorFlow's choice).
    """

    #: The registry key (:data:`deejai_model.ears.bundle.RUNNERS`).
    name = "keras"
    #: Slices per call when the caller names no batch size.
    default_batch_size = DEFAULT_BATCH_SIZE

    def __init__(
        self,
        model: Any,
        output: str,
        *,
        input_shape: tuple[int, ...],
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | None = "/CPU:0",
    ):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        self.model = model
        self.output = output
        self.input_shape = tuple(input_shape)
        self.batch_size = int(batch_size)
        self.device = device
        self._function: Any = None
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        path: Path,
        manifest: Manifest,
        *,
        batch_size: int,
        device: str | None = "/CPU:0",
        threads: int | None = None,
    ) -> KerasRunner:
        """Build a bundle's network (:func:`load_keras_model`) and run its ``output``.

        ``threads`` is LiteRT's and ignored here (TensorFlow uses every core).
        """
        model = load_keras_model(path, manifest)
        return cls(
            model,
            manifest.output,
            input_shape=slice_shape(model, manifest),
            batch_size=batch_size,
            device=device,
        )

    @property
    def width(self) -> int:
        """Size of the output, per slice."""
        outputs = self.model.output
        return int((outputs[self.output] if isinstance(outputs, dict) else outputs).shape[-1])

    def _compiled(self) -> Any:
        """The ``tf.function``, traced once for a ``(batch_size, *input_shape)`` batch."""
        with self._lock:
            if self._function is None:
                tf = import_tensorflow()
                model, device, output = self.model, self.device, self.output
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

                self._function = run
            return self._function

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on ``(n, *input_shape)`` float32 slices.

        Returns
        -------
        np.ndarray
            ``(n, width)`` float32, row ``i`` for slice ``i``.
        """
        fn = self._compiled()
        n = len(batch)
        chunks = [
            fn(chunk).numpy()[: n - start] for start, chunk in fixed_batches(batch, self.batch_size)
        ]
        if not chunks:
            return np.zeros((0, self.width), np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)
