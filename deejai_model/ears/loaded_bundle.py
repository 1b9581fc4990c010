"""A loaded bundle: its manifest and the runner that embeds with it.

:func:`deejai_model.ears.bundle.load_bundle` makes a :class:`Bundle`: the runner it chose
(:data:`deejai_model.ears.bundle.RUNNERS`) runs the manifest's ``output``, and the Keras
network (:mod:`.keras_runner`) is built only when something asks for it (another output,
:attr:`Bundle.model`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from deejai_model.ears.keras_runner import (
    DEFAULT_BATCH_SIZE,
    KerasRunner,
    load_keras_model,
    output_names,
    slice_shape,
)
from deejai_model.ears.manifest import Manifest


class Runner(Protocol):
    """What runs a network output on front-end slices: the values of ``RUNNERS``.

    A :class:`Bundle` needs only ``name``, ``input_shape`` and ``run`` (a head bundle's
    :class:`~deejai_model.ears.head_bundle.HeadRunner` has just those); ``load`` and
    ``default_batch_size`` are how :func:`~deejai_model.ears.bundle.load_bundle` makes one.
    """

    #: What :attr:`Bundle.runtime` reports: ``"keras"`` or ``"litert"``.
    name: str
    #: Slices per call when the caller does not say.
    default_batch_size: int
    #: One slice the runner takes (the batch axis left out).
    input_shape: tuple[int, ...]

    @classmethod
    def load(
        cls,
        path: Path,
        manifest: Manifest,
        *,
        batch_size: int,
        device: str | None = None,
        threads: int | None = None,
    ) -> Runner:
        """The runner of the bundle in ``path`` (its files checked against ``manifest``)."""
        ...

    def run(self, batch: np.ndarray) -> np.ndarray:
        """``(n, *input_shape)`` float32 slices -> ``(n, width)`` float32."""
        ...


class Bundle:
    """A loaded bundle: its manifest and a ready runner (use
    :func:`deejai_model.ears.bundle.load_bundle`).

    Parameters
    ----------
    path : pathlib.Path
        The bundle directory.
    manifest : Manifest
        The validated manifest.
    runner : Runner or None
        Runs the manifest's ``output``; ``None``: a :class:`KerasRunner` of ``model``.
    model : keras.Model or None
        The network, weights assigned; ``None``: built from ``path`` on first use.
    batch_size : int
        Slices per call of the network; the last batch is zero-padded to it.
    device : str or None
        TensorFlow device the Keras network runs on (``None``: TensorFlow's choice).

    Attributes
    ----------
    path : pathlib.Path
    manifest : Manifest
    runner : Runner
    batch_size : int
    device : str or None
    """

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        *,
        runner: Runner | None = None,
        model: Any = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | None = "/CPU:0",
    ):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        if model is None and runner is None:
            raise ValueError("a Bundle needs a Keras model or a runner")
        self.path = path
        self.manifest = manifest
        self._model = model
        self.batch_size = batch_size
        self.device = device
        self._keras: dict[str, KerasRunner] = {}
        self._lock = threading.RLock()
        if runner is None:
            shape = slice_shape(model, manifest)
            runner = KerasRunner(
                model, manifest.output, input_shape=shape, batch_size=batch_size, device=device
            )
        self.runner = runner

    @property
    def model(self) -> Any:
        """The Keras network (imports TensorFlow and builds it on first use)."""
        with self._lock:
            if self._model is None:
                self._model = load_keras_model(self.path, self.manifest)
            return self._model

    @property
    def runtime(self) -> str:
        """What :meth:`embed` runs on: ``"litert"`` or ``"keras"``."""
        return self.runner.name

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
        return self.runner.input_shape

    @property
    def output_names(self) -> list[str]:
        """Names of the network's outputs (one name for a single-output network)."""
        return output_names(self.model, self.manifest)

    def _keras_runner(self, output: str) -> KerasRunner:
        """The Keras runner of one output (made on first use, then kept)."""
        with self._lock:
            runner = self._keras.get(output)
            if runner is None:
                if output not in self.output_names:
                    raise ValueError(
                        f"{self.model_id} has no output {output!r}; it has "
                        f"{', '.join(self.output_names)}"
                    )
                runner = self._keras[output] = KerasRunner(
                    self.model,
                    output,
                    input_shape=self.input_shape,
                    batch_size=self.batch_size,
                    device=self.device,
                )
            return runner

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
        if output == self.manifest.output:
            return self.runner.run(batch)
        return self._keras_runner(output).run(batch)

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
