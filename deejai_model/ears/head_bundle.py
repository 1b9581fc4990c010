"""A head bundle: a small head on another bundle's slice vectors, run in numpy.

A head (trained by :mod:`deejai_model.learn.head`) is a normal bundle with ``architecture:
"head"`` and a ``base`` entry naming the base bundle's model id and path.
:func:`deejai_model.ears.bundle.load_bundle` loads the base with the runtime asked for and
returns a :class:`HeadBundle`, which embeds audio as ``head(base(slices))`` and applies the
head alone to stored base slice vectors (:meth:`HeadBundle.apply`), so a library embedded with
the base model switches without decoding anything again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deejai_model.ears.keras_runner import DEFAULT_BATCH_SIZE
from deejai_model.ears.loaded_bundle import Bundle
from deejai_model.ears.manifest import Manifest
from deejai_model.ears.networks.head import NORM_EPSILON
from deejai_model.ears.shipped import BUNDLES_DIR, bundle_by_id, manifest_model_id
from deejai_model.ears.weights import read_npz
from deejai_model.errors import BundleError


class HeadNetwork:
    """The head's inference in numpy, from its weights (no TensorFlow, whatever runs the base).

    Standardise with the stored mean and variance, Dense + ReLU, Dense (Dropout is training
    only): the same arithmetic as :func:`deejai_model.ears.networks.head.build_head` at inference.

    Parameters
    ----------
    arrays : mapping of str to np.ndarray
        The bundle's weights by Keras variable path (``head_norm/moving_mean`` (input_dim,),
        ``head_norm/moving_variance`` (input_dim,), ``head_hidden/kernel`` (input_dim,
        hidden), ``head_hidden/bias`` (hidden,), ``head_out/kernel`` (hidden, dim),
        ``head_out/bias`` (dim,)).
    """

    def __init__(self, arrays: dict[str, np.ndarray]):
        try:
            mean = arrays["head_norm/moving_mean"]
            variance = arrays["head_norm/moving_variance"]
            self.hidden_kernel = arrays["head_hidden/kernel"].astype(np.float32)
            self.hidden_bias = arrays["head_hidden/bias"].astype(np.float32)
            self.out_kernel = arrays["head_out/kernel"].astype(np.float32)
            self.out_bias = arrays["head_out/bias"].astype(np.float32)
        except KeyError as exc:
            raise ValueError(f"head weights lack {exc.args[0]}") from None
        self.mean = mean.astype(np.float32)
        self.scale = (1.0 / np.sqrt(variance.astype(np.float64) + NORM_EPSILON)).astype(np.float32)
        n_in, hidden = self.hidden_kernel.shape
        if self.mean.shape != (n_in,) or self.scale.shape != (n_in,):
            raise ValueError(f"head_norm has {self.mean.shape}, the hidden kernel {n_in} inputs")
        if self.out_kernel.shape[0] != hidden or self.hidden_bias.shape != (hidden,):
            raise ValueError(f"head layers do not fit: hidden {hidden}, {self.out_kernel.shape}")
        if self.out_bias.shape != self.out_kernel.shape[1:]:
            raise ValueError(f"head_out/bias {self.out_bias.shape} does not fit the kernel")

    @property
    def input_dim(self) -> int:
        """Width of the base slice vectors it takes."""
        return int(self.hidden_kernel.shape[0])

    @property
    def dim(self) -> int:
        """Width of the vectors it returns."""
        return int(self.out_kernel.shape[1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Head vectors, shape (n, dim) float32, of base slice vectors ``x`` (n, input_dim)."""
        hidden = ((x - self.mean) * self.scale) @ self.hidden_kernel + self.hidden_bias
        np.maximum(hidden, 0.0, out=hidden)
        return (hidden @ self.out_kernel + self.out_bias).astype(np.float32, copy=False)


class HeadRunner:
    """What :meth:`Bundle.predict` runs for a head bundle's output: ``head(base(slices))``.

    Parameters
    ----------
    network : HeadNetwork
        The head.
    base : Bundle
        The base bundle, loaded with the runtime asked for.
    """

    def __init__(self, network: HeadNetwork, base: Bundle):
        self.network = network
        self.base = base

    @property
    def name(self) -> str:
        """What runs the base model (the head itself is numpy)."""
        return self.base.runtime

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One slice of the base model's input."""
        return self.base.input_shape

    def apply(self, base_vectors: np.ndarray) -> np.ndarray:
        """Head vectors of base slice vectors, 4096 rows at a time.

        Parameters
        ----------
        base_vectors : np.ndarray, shape (n, input_dim)

        Returns
        -------
        np.ndarray, shape (n, dim), float32
        """
        x = np.asarray(base_vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.network.input_dim:
            raise ValueError(f"base vectors must be (n, {self.network.input_dim}), not {x.shape}")
        if len(x) == 0:
            return np.zeros((0, self.network.dim), np.float32)
        return np.concatenate(
            [self.network(x[start : start + 4096]) for start in range(0, len(x), 4096)]
        )

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Head vectors of front-end slices: ``head(base(batch))``, shape (n, dim) float32."""
        return self.apply(self.base.embed(batch))


class HeadBundle(Bundle):
    """A head bundle, loaded with its base bundle (use
    :func:`deejai_model.ears.bundle.load_bundle`).

    :meth:`embed` takes the base model's input (front-end slices) and returns head vectors;
    :meth:`apply` takes base slice vectors.  Vectors record the head's own :attr:`model_id`.
    The head runs in numpy (:class:`HeadNetwork`), so a base on LiteRT never loads TensorFlow;
    :attr:`model` still builds the Keras head for whoever asks for it. :attr:`runtime` is
    what runs the base model.

    Parameters
    ----------
    path : pathlib.Path
        The head bundle's directory.
    manifest : Manifest
        Its manifest (``architecture: "head"``).
    network : HeadNetwork
        The head, from the bundle's weights (:func:`load_head_network`).
    base : Bundle
        The base bundle (:func:`resolve_base`).
    batch_size, device
        As :class:`Bundle`'s (for :attr:`model`'s other outputs).
    """

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        *,
        network: HeadNetwork,
        base: Bundle,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | None = "/CPU:0",
    ):
        super().__init__(
            path,
            manifest,
            runner=HeadRunner(network, base),
            batch_size=batch_size,
            device=device,
        )
        self.network = network
        self.base = base

    def apply(self, base_vectors: np.ndarray) -> np.ndarray:
        """Head vectors of base slice vectors (see :meth:`HeadRunner.apply`).

        Parameters
        ----------
        base_vectors : np.ndarray, shape (n, base_dim)

        Returns
        -------
        np.ndarray, shape (n, dim), float32
        """
        return self.runner.apply(base_vectors)


def resolve_base(manifest: Manifest, head_path: Path) -> Path:
    """The base bundle directory of a head manifest: its ``base.path`` (relative to the head),
    else the shipped bundle (the default first) whose model id matches.

    Raises
    ------
    BundleError
        No base bundle with the recorded model id is found.
    """
    base = manifest.base or {}
    want = base.get("model_id")
    looked = []
    if base.get("path"):
        candidate = (head_path / base["path"]).resolve()
        looked.append(str(candidate))
        try:
            if manifest_model_id(candidate) == want:
                return candidate
        except BundleError:
            pass
    shipped = bundle_by_id(want) if isinstance(want, str) else None
    if shipped is not None:
        return shipped
    looked.append(str(BUNDLES_DIR))
    raise BundleError(f"{head_path}: base model {want} not found (looked in {', '.join(looked)})")


def load_head_network(weights_path: Path, manifest: Manifest) -> HeadNetwork:
    """A head bundle's :class:`HeadNetwork`, checked against its manifest.

    Raises
    ------
    BundleError
        When the weights are not a head's, or it maps other widths than the manifest says
        (``architecture_params.input_dim`` -> ``dim``).
    """
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
