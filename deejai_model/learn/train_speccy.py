"""Trained ears (b): upstream's Speccy trained from mel slices to Track2Vec.

Slower than the head (:mod:`deejai_model.learn.head`): every track is decoded again at 22050 Hz,
Speccy's mel slices (96 x 216, ~5 s) are computed, and the 42.6 M-parameter network is trained
with the same loop (:func:`deejai_model.learn.head.fit_to_track2vec`: cosine loss, held-out tracks,
early stopping, resumable checkpoints).  It can start from random weights or from the original
``speccy_model`` file (Keras-2 HDF5) or a Speccy bundle.  The result is a plain Speccy bundle
that embeds audio on its own (selecting it re-embeds the library, which means decoding).

Memory: all training slices are held at once (83 KB each: 8 slices of 1000 tracks = 0.7 GB).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deejai_model.errors import AudioError
from deejai_model.learn.head import HeadParams, HeadReport, fit_to_track2vec


def speccy_slices(
    paths: Sequence[str], max_slices: int = 8, warn: Callable[[str], None] | None = None
) -> dict[str, np.ndarray]:
    """Speccy's model input ``(n, 96, 216, 1)`` for each file that decodes (others: one
    ``warn(line)`` each, left out)."""
    from deejai_model.ears.excerpts import listen
    from deejai_model.ears.frontend import SPECCY

    out = {}
    for path in paths:
        try:
            out[path] = listen(path, SPECCY, max_slices=max_slices).batch
        except AudioError as error:
            if warn is not None:
                warn(f"cannot decode {error}")
    return out


def initial_speccy(weights: str | os.PathLike | None) -> Any:
    """A Speccy network: random, or with the weights of a Speccy bundle directory or of the
    original Keras-2 ``speccy_model`` file."""
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.keras_runner import import_tensorflow
    from deejai_model.ears.networks.speccy import build_speccy
    from deejai_model.learn.convert_speccy import load_keras2_weights

    import_tensorflow()
    if weights is None:
        return build_speccy()
    if Path(weights).is_dir():
        bundle = load_bundle(weights)
        if bundle.manifest.architecture != "speccy":
            from deejai_model.errors import BundleError

            raise BundleError(f"{weights}: not a Speccy bundle ({bundle.manifest.architecture})")
        return bundle.model
    model = build_speccy()
    load_keras2_weights(model, weights)
    return model


def train_speccy(
    mel_slices: Sequence[np.ndarray],
    targets: np.ndarray,
    *,
    params: HeadParams | None = None,
    weights: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: Callable[[int, dict], None] | None = None,
) -> tuple[Any, HeadReport]:
    """Train Speccy from mel slices to each track's Track2Vec vector.

    Parameters
    ----------
    mel_slices : sequence of np.ndarray, each (n_slices_i, 96, 216, 1)
        From :func:`speccy_slices`.
    targets : np.ndarray, shape (n_tracks, 100)
        Track2Vec vectors (Speccy's output has 100 dimensions, as upstream's Track2Vec).
    weights : path, optional
        Start from a Speccy bundle or the original ``speccy_model`` file.

    Returns
    -------
    (keras.Model, HeadReport)
    """
    from deejai_model.ears.networks.speccy import EMBEDDING_DIM

    if np.shape(targets)[1] != EMBEDDING_DIM:
        raise ValueError(
            f"Speccy outputs {EMBEDDING_DIM} dimensions; Track2Vec has {np.shape(targets)[1]}"
        )
    import keras

    params = params or HeadParams(learning_rate=1e-4, batch_size=32, patience=5)
    keras.utils.set_random_seed(params.seed)  # before a random Speccy's weights are drawn
    model = initial_speccy(weights)
    report = fit_to_track2vec(
        model,
        mel_slices,
        targets,
        params=params,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
    )
    return model, report


def save_speccy_bundle(
    model: Any, directory: str | os.PathLike, *, version: str, extra: dict | None = None
) -> Any:
    """Write a trained Speccy as a bundle (written beside, then renamed into place)."""
    import json

    from deejai_model.ears.networks.speccy import speccy_manifest
    from deejai_model.learn.head import write_bundle_dir

    manifest = speccy_manifest(
        "deejai-speccy",
        version,
        license="as the user's training data",
        source="Speccy trained by deejai from the user's playlists",
    )
    text = "# Trained Speccy\n\n```json\n" + json.dumps(extra or {}, indent=2) + "\n```\n"
    return write_bundle_dir(model, manifest, Path(directory).resolve(), provenance=text)
