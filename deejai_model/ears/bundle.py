"""Model bundles: load a bundle directory with the runner chosen from :data:`RUNNERS`.

A bundle is a directory holding ``manifest.json`` (:mod:`.manifest`), ``weights.npz`` (one
array per Keras variable, keyed by the variable's path; :mod:`.weights`), ``LICENSE`` and
``PROVENANCE.md``, and may ship its embedding output converted to LiteRT (``model.tflite``, the
manifest's optional ``runtime`` entry; :mod:`.runtime`). :func:`load_bundle` checks the
weights' SHA-256 against the manifest, then hands the bundle to a runner, as beets' replaygain
hands a file to one of its backends:

- ``litert`` (:class:`~deejai_model.ears.runtime.LiteRtRunner`): the shipped flatbuffer,
  without TensorFlow;
- ``keras`` (:class:`~deejai_model.ears.keras_runner.KerasRunner`): the network rebuilt from
  code, its weights assigned by name, run on TensorFlow.

A head bundle (:mod:`.head_bundle`) loads its base bundle the same way and runs the head in
numpy on top. Nothing executable is ever read from disk, and TensorFlow is imported only when
the Keras runner runs: importing this module costs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from deejai_model.ears.head_bundle import HeadBundle, load_head_network, resolve_base
from deejai_model.ears.keras_runner import DEFAULT_BATCH_SIZE, KerasRunner
from deejai_model.ears.loaded_bundle import Bundle
from deejai_model.ears.manifest import Manifest, read_manifest
from deejai_model.ears.runtime import RUNTIMES, LiteRtRunner, litert_available
from deejai_model.ears.weights import verified_weights
from deejai_model.errors import BundleError

#: The runners :func:`load_bundle` chooses from, by the name its ``runtime`` takes; each is a
#: :class:`~deejai_model.ears.loaded_bundle.Runner`.
RUNNERS = {KerasRunner.name: KerasRunner, LiteRtRunner.name: LiteRtRunner}


def choose_runner(runtime: str, manifest: Manifest) -> type:
    """The runner of :data:`RUNNERS` that runs a bundle's embedding.

    Parameters
    ----------
    runtime : {"auto", "keras", "litert"}
        What was asked for (one of :data:`deejai_model.ears.runtime.RUNTIMES`): ``"auto"`` is
        LiteRT when the bundle ships a LiteRT model and ``ai_edge_litert`` is installed, else
        Keras.
    manifest : Manifest
        The bundle's manifest.
    """
    if runtime == "auto":
        lite = manifest.runtime is not None and litert_available()
        runtime = LiteRtRunner.name if lite else KerasRunner.name
    return RUNNERS[runtime]


def load_bundle(
    path: str | os.PathLike,
    *,
    batch_size: int | None = None,
    device: str | None = "/CPU:0",
    runtime: str = "auto",
    threads: int | None = None,
) -> Bundle:
    """Load a bundle directory: validate, check hashes, then load the chosen runner.

    Parameters
    ----------
    path : str or os.PathLike
        The bundle directory.
    batch_size : int or None
        Slices per call of the network in :meth:`Bundle.embed` (``None``: the runner's
        ``default_batch_size``, :data:`deejai_model.ears.keras_runner.DEFAULT_BATCH_SIZE`
        for Keras, :data:`deejai_model.ears.runtime.LITERT_BATCH_SIZE` for LiteRT).
    device : str or None
        TensorFlow device the Keras network runs on (``None``: TensorFlow's choice).
    runtime : {"auto", "keras", "litert"}
        What runs :meth:`Bundle.embed` (:func:`choose_runner`; TensorFlow is not imported
        for LiteRT). Both give the same vectors within 1e-4 (tested), so vectors keep one
        :attr:`Bundle.model_id`.
    threads : int or None
        LiteRT's CPU threads (``None``: every core).

    Returns
    -------
    Bundle
        A :class:`~deejai_model.ears.head_bundle.HeadBundle` for a head bundle.

    Raises
    ------
    BundleError
        If the manifest is missing or invalid, the weights or LiteRT model are missing, do
        not match the manifest's SHA-256, or do not fit the network; or ``runtime="litert"``
        for a bundle without a LiteRT model or without ``ai_edge_litert`` installed.
    ValueError
        If ``runtime`` is not one of :data:`deejai_model.ears.runtime.RUNTIMES`.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: not a bundle directory")
    manifest = read_manifest(path)

    # only what runs is hashed: the LiteRT runner checks its model file, the Keras network
    # (load_keras_model) and a head their weights file
    if manifest.architecture == "head":  # a small head on another bundle's slice vectors
        network = load_head_network(verified_weights(path, manifest), manifest)
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
            network=network,
            base=base,
            batch_size=batch_size or DEFAULT_BATCH_SIZE,
            device=device,
        )
    runner_class = choose_runner(runtime, manifest)
    size = batch_size or runner_class.default_batch_size
    runner = runner_class.load(path, manifest, batch_size=size, device=device, threads=threads)
    return Bundle(
        path,
        manifest,
        runner=runner,
        model=getattr(runner, "model", None),
        batch_size=size,
        device=device,
    )
