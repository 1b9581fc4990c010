"""Light inference: a bundle's network run by LiteRT instead of TensorFlow.

A bundle may ship its embedding network a second time, converted to a LiteRT flatbuffer
(``model.tflite``, made from the Keras network by ``scripts/convert_litert.py`` and recorded
in the manifest's ``runtime`` entry with its SHA-256 and the SHA-256 of the weights it was
made from). LiteRT (``ai-edge-litert``) is TensorFlow's own deployment runtime: importing it
costs ~35 MiB and well under a second, where ``import tensorflow`` costs ~0.6 GiB and
several seconds; musicnn's interpreter, arena included, adds ~0.1 GiB.

The flatbuffer is data: operators from LiteRT's fixed built-in set, and the weights as
constant tensors. Nothing executable is read from disk.

Keras and TensorFlow stay what builds, converts and trains networks (:func:`export_litert`,
:mod:`.keras_runner`).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from deejai_model.ears.batching import fixed_batches
from deejai_model.ears.manifest import Manifest, file_sha256
from deejai_model.ears.quiet import filtered_stderr
from deejai_model.ears.weights import bundle_weights
from deejai_model.errors import BundleError
from deejai_model.files import replaced_atomically

# What LiteRT's C++ side prints once per process when it sets up its CPU delegate.
_LITERT_NOISE = re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate")

__all__ = [
    "RUNTIMES",
    "LITERT_KIND",
    "LITERT_BATCH_SIZE",
    "litert_available",
    "LiteRtRunner",
    "export_litert",
]

#: What :func:`deejai_model.ears.bundle.load_bundle` accepts as ``runtime``: ``"auto"`` runs
#: LiteRT when the bundle ships a LiteRT model and ``ai_edge_litert`` is installed, else Keras;
#: the others name a runner of :data:`deejai_model.ears.bundle.RUNNERS`.
RUNTIMES = ("auto", "keras", "litert")
#: The manifest's ``runtime.kind`` of a LiteRT flatbuffer.
LITERT_KIND = "litert"
#: Slices per interpreter call. Memory grows with it (musicnn's front-end activations are
#: ~10 MiB per slice: 139 MiB peak RSS at 1, 209 MiB at 8) while speed does not (42-45 ms CPU
#: per slice at 1, 2, 4, 8, 16 and 32; docs/benchmarks-history.md), so it is one slice.
LITERT_BATCH_SIZE = 1


def litert_available() -> bool:
    """Whether ``ai_edge_litert`` can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("ai_edge_litert") is not None
    except (ImportError, ValueError):
        return False


class LiteRtRunner:
    """One LiteRT interpreter for one network output, fed fixed-size batches.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.tflite`` file: one input ``(batch, *slice_shape)`` float32 with a free batch
        axis, one output ``(batch, width)`` float32.
    batch_size : int
        Slices per interpreter call; the last batch is zero-padded to it, so the arena is
        allocated once.
    threads : int or None
        Threads of the interpreter's CPU kernels (``None``: every core, as TensorFlow does).

    Raises
    ------
    BundleError
        If the file cannot be read as a LiteRT model of that form.
    """

    #: The registry key (:data:`deejai_model.ears.bundle.RUNNERS`).
    name = LITERT_KIND
    #: Slices per call when the caller names no batch size.
    default_batch_size = LITERT_BATCH_SIZE

    def __init__(
        self,
        path: str | os.PathLike,
        batch_size: int = LITERT_BATCH_SIZE,
        threads: int | None = None,
    ):
        from ai_edge_litert.interpreter import Interpreter

        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        self.path = Path(path)
        self.batch_size = int(batch_size)
        threads = threads or os.cpu_count() or 1
        try:
            # LiteRT says once, on stderr, that it applies its CPU delegate: keep that quiet.
            with filtered_stderr(_LITERT_NOISE):
                interpreter = Interpreter(model_path=os.fspath(self.path), num_threads=int(threads))
                inputs = interpreter.get_input_details()
                outputs = interpreter.get_output_details()
                if len(inputs) != 1 or len(outputs) != 1:
                    raise ValueError(
                        f"want one input and one output, found {len(inputs)} and {len(outputs)}"
                    )
                interpreter.resize_tensor_input(
                    inputs[0]["index"], [self.batch_size, *inputs[0]["shape"][1:]]
                )
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError, OSError) as exc:
            raise BundleError(f"{self.path}: cannot load as a LiteRT model: {exc}") from exc
        self._interpreter = interpreter
        self._input = inputs[0]["index"]
        self._output = outputs[0]["index"]
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in inputs[0]["shape"][1:])
        self.width = int(outputs[0]["shape"][-1])
        self._lock = threading.Lock()  # an interpreter runs one call at a time

    @classmethod
    def load(
        cls,
        path: Path,
        manifest: Manifest,
        *,
        batch_size: int,
        device: str | None = None,
        threads: int | None = None,
    ) -> LiteRtRunner:
        """Check a bundle's LiteRT model against its manifest and load it.

        ``device`` is TensorFlow's and ignored here (LiteRT runs on the CPU).

        Raises
        ------
        BundleError
            When the bundle has no LiteRT model, LiteRT is not installed, or the model is
            missing, not the manifest's (SHA-256), converted from other weights, or not
            ``dim`` wide.
        """
        runtime = manifest.runtime
        if runtime is None:
            raise BundleError(f"{path}: the bundle has no LiteRT model (manifest runtime)")
        if not litert_available():
            raise BundleError(f"{path}: LiteRT is not installed (pip install ai-edge-litert)")
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
                f"{model_path}: converted from other weights than the manifest's "
                f"(convert again with scripts/convert_litert.py)"
            )
        runner = cls(model_path, batch_size=batch_size, threads=threads)
        if runner.width != manifest.dim:
            raise BundleError(
                f"{model_path}: output has {runner.width} values, the manifest's dim is "
                f"{manifest.dim}"
            )
        return runner

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on ``(n, *input_shape)`` slices; returns ``(n, width)`` float32."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        n, size = len(batch), self.batch_size
        out = np.empty((n, self.width), np.float32)
        with self._lock:
            for start, chunk in fixed_batches(batch, size):
                self._interpreter.set_tensor(self._input, chunk)
                self._interpreter.invoke()
                out[start : start + size] = self._interpreter.get_tensor(self._output)[: n - start]
        return out


def export_litert(
    model: Any, output: str, path: str | os.PathLike, **converter_settings: Any
) -> None:
    """Convert one output of a Keras network to a LiteRT flatbuffer (needs TensorFlow).

    Parameters
    ----------
    model : keras.Model
        The network with its weights; a dict-output network keeps only ``output``.
    output : str
        Which output becomes the flatbuffer's only output.
    path : str or os.PathLike
        Where to write the ``.tflite`` file (written under a temporary name, then renamed).
    **converter_settings
        ``tf.lite.TFLiteConverter`` attributes passed through Keras' exporter (e.g.
        ``optimizations``, ``representative_dataset`` for post-training quantisation).
    """
    import keras

    outputs = model.output
    single = outputs[output] if isinstance(outputs, dict) else outputs
    network = keras.Model(model.inputs, single, name=f"{model.name}_{output}")
    with replaced_atomically(os.fspath(path), suffix=".tflite") as staged:
        network.export(staged, format="litert", verbose=False, **converter_settings)


def pruned_network(bundle: Any) -> Any:
    """The bundle's network without its dead filters, weights assigned (needs TensorFlow).

    musicnn (:mod:`deejai_model.ears.networks.musicnn_prune`), VGG
    (:mod:`deejai_model.ears.networks.vgg_prune`) and fused networks of them compute the same
    function as the full network within float32 summation order; what LiteRT runs
    (``scripts/convert_litert.py``). Other architectures: the bundle's own network.

    Parameters
    ----------
    bundle : deejai_model.ears.loaded_bundle.Bundle
        A loaded bundle (any runtime).

    Returns
    -------
    keras.Model
    """
    from deejai_model.ears.networks.fused import PRUNERS, build_fused, prune

    manifest = bundle.manifest
    if manifest.architecture not in (*PRUNERS, "fused"):
        return bundle.model
    weights = bundle_weights(bundle.path, manifest)
    params = manifest.architecture_params
    if manifest.architecture == "fused":
        return build_fused(weights=weights, **params)
    return prune(manifest.architecture, weights, **params)
