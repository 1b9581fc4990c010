"""Trained ears (a): a small head on a base model's slice vectors, trained to Track2Vec.

Training maps every slice vector of a track to the unit Track2Vec vector of that track with a
cosine loss (:func:`train_head`), on tracks split into training and held-out validation tracks,
with early stopping and a checkpoint after every epoch (an interrupted run resumes from it).
The result is a normal bundle (:func:`save_head_bundle`): ``architecture: "head"`` and a
``base`` entry naming the base bundle's model id and path.
:func:`deejai_model.ears.bundle.load_bundle` returns a
:class:`deejai_model.ears.head_bundle.HeadBundle` for it, which embeds audio as
``head(base(slices))`` and applies the head alone to stored base slice vectors, so a library
embedded with the base model switches without decoding anything again.

Reported as Deej-A.I. did: the mean validation cosine of the model beside that of the best
constant vector (upstream: 0.70 against 0.52).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deejai_model.ears.keras_runner import import_tensorflow
from deejai_model.ears.loaded_bundle import Bundle
from deejai_model.ears.manifest import Manifest
from deejai_model.ears.weights import (
    assign_weights,
    read_npz,
    save_bundle,
    weight_arrays,
    write_npz,
)
from deejai_model.files import replaced_atomically
from deejai_model.vectors.norms import unit_rows

ARCHITECTURE = "head"


@dataclass(frozen=True)
class HeadParams:
    """Training settings of the head.

    Attributes
    ----------
    hidden : int
        Hidden units.
    dropout : float
        Dropout rate.
    epochs : int
        Most epochs (early stopping usually ends sooner).
    patience : int
        Epochs without a better validation loss before stopping.
    batch_size : int
        Slices per step.
    learning_rate : float
        Adam's.
    validation : float
        Share of tracks held out for validation.
    seed : int
        Split and initialisation seed.
    """

    hidden: int = 256
    dropout: float = 0.3
    epochs: int = 200
    patience: int = 10
    batch_size: int = 128
    learning_rate: float = 3e-3
    validation: float = 0.2
    seed: int = 0


@dataclass
class HeadReport:
    """What training achieved (mean cosines over held-out validation slices)."""

    val_cosine: float
    constant_cosine: float
    train_tracks: int
    val_tracks: int
    epochs: int
    resumed_from: int = 0

    def line(self) -> str:
        return (
            f"validation cosine {self.val_cosine:.3f} (best constant vector "
            f"{self.constant_cosine:.3f}); {self.train_tracks} training / "
            f"{self.val_tracks} validation tracks, {self.epochs} epochs"
        )


def split_tracks(n: int, validation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation tracks (at least one of each when ``n >= 2``)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, int(round(n * validation))), n - 1) if n >= 2 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _stack(slices: Sequence[np.ndarray], targets: np.ndarray, rows: np.ndarray):
    x = np.concatenate([slices[i] for i in rows]).astype(np.float32)
    y = np.concatenate([np.repeat(targets[i][None], len(slices[i]), 0) for i in rows])
    return x, y.astype(np.float32)


def _save_checkpoint(folder: Path, name: str, model: Any, state: dict) -> None:
    """``<name>.npz`` (weights by variable path) then ``<name>.json`` (state), each atomically."""
    with replaced_atomically(os.fspath(folder / (name + ".npz")), suffix=".npz") as tmp:
        write_npz(weight_arrays(model), tmp)
    with replaced_atomically(os.fspath(folder / (name + ".json")), suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(state), encoding="utf-8")


def _load_checkpoint(folder: Path, name: str) -> tuple[dict[str, np.ndarray], dict] | None:
    try:
        state = json.loads((folder / (name + ".json")).read_text(encoding="utf-8"))
        arrays = read_npz(folder / (name + ".npz"))
    except (OSError, ValueError):
        return None
    return arrays, state


def data_fingerprint(slices: Sequence[np.ndarray], targets: np.ndarray, params: HeadParams) -> str:
    """Names a training run's data and settings: a checkpoint is resumed only when it matches."""
    digest = hashlib.sha256(json.dumps(asdict(params), sort_keys=True).encode())
    for s in slices:
        digest.update(np.ascontiguousarray(s, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(targets, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def train_head(
    slices: Sequence[np.ndarray],
    targets: np.ndarray,
    *,
    params: HeadParams | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: Callable[[int, dict], None] | None = None,
) -> tuple[Any, HeadReport]:
    """Train a head from base slice vectors to each track's Track2Vec vector.

    Parameters
    ----------
    slices : sequence of np.ndarray, each (n_slices_i, base_dim)
        Base slice vectors of each track.
    targets : np.ndarray, shape (n_tracks, dim)
        Track2Vec vector of each track (normalised here).
    params : HeadParams, optional
    checkpoint_dir : path, optional
        Where ``last``/``best`` checkpoints go; a ``last`` checkpoint of the same data and
        settings is resumed (after Ctrl-C), a different one is ignored and overwritten.
    progress : callable, optional
        ``progress(epoch, logs)`` after each epoch.

    Returns
    -------
    (keras.Model, HeadReport)
        The model with the weights of its best validation epoch.

    Raises
    ------
    ValueError
        Fewer than two tracks.
    """
    from deejai_model.ears.networks.head import build_head

    params = params or HeadParams()
    import_tensorflow()
    import keras

    width = int(np.shape(slices[0])[1]) if len(slices) else 0
    keras.utils.set_random_seed(params.seed)  # before the weights are drawn: same seed, same head
    model = build_head(
        width, int(np.shape(targets)[1]), hidden=params.hidden, dropout=params.dropout
    )

    def standardise(x_train: np.ndarray) -> None:
        norm = model.get_layer("head_norm")
        norm.moving_mean.assign(x_train.mean(axis=0))
        norm.moving_variance.assign(x_train.var(axis=0))

    report = fit_to_track2vec(
        model,
        slices,
        targets,
        params=params,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        prepare=standardise,
    )
    return model, report


def fit_to_track2vec(
    model: Any,
    inputs: Sequence[np.ndarray],
    targets: np.ndarray,
    *,
    params: HeadParams,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: Callable[[int, dict], None] | None = None,
    prepare: Callable[[np.ndarray], None] | None = None,
) -> HeadReport:
    """Fit any Keras model from per-slice inputs to their track's Track2Vec vector.

    The loop shared by the head and Speccy (:mod:`deejai_model.learn.train_speccy`): tracks split
    into training and validation (``params.validation``), cosine loss, Adam, early stopping on
    the validation loss (``params.patience``), ``last``/``best`` checkpoints in
    ``checkpoint_dir`` after every epoch (resumed when data and settings match).

    Parameters
    ----------
    model : keras.Model
        ``(n, *slice_shape) -> (n, dim)``; left with its best validation weights.
    inputs : sequence of np.ndarray, each (n_slices_i, *slice_shape)
        The slices of each track.
    targets : np.ndarray, shape (n_tracks, dim)
        Track2Vec vectors (normalised here).
    prepare : callable, optional
        ``prepare(x_train)`` before the first epoch of a fresh run (e.g. input statistics).

    Raises
    ------
    ValueError
        Fewer than two tracks.
    """
    import keras

    if len(inputs) < 2 or len(inputs) != len(targets):
        raise ValueError(f"need two tracks or more with targets, got {len(inputs)}")
    targets = unit_rows(targets)
    train_rows, val_rows = split_tracks(len(inputs), params.validation, params.seed)
    x_train, y_train = _stack(inputs, targets, train_rows)
    x_val, y_val = _stack(inputs, targets, val_rows)

    keras.utils.set_random_seed(params.seed)
    if prepare is not None:
        prepare(x_train)
    model.compile(
        optimizer=keras.optimizers.Adam(params.learning_rate),
        loss=keras.losses.CosineSimilarity(),
    )

    folder = Path(checkpoint_dir) if checkpoint_dir else None
    fingerprint = data_fingerprint(inputs, targets, params)
    start_epoch, best_loss, best_weights, waited = 0, np.inf, None, 0
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        last = _load_checkpoint(folder, "last")
        best = _load_checkpoint(folder, "best")
        if last and best and last[1].get("fingerprint") == fingerprint:
            assign_weights(model, last[0])
            start_epoch, waited = int(last[1]["epoch"]), int(last[1]["waited"])
            best_loss, best_weights = float(best[1]["val_loss"]), best[0]

    class Checkpoints(keras.callbacks.Callback):
        """Best weights, patience, and ``last``/``best`` checkpoints after every epoch."""

        def __init__(self):
            super().__init__()
            self.best_loss, self.best_weights, self.waited = best_loss, best_weights, waited
            self.epoch = start_epoch

        def on_epoch_end(self, epoch: int, logs=None) -> None:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            self.epoch = epoch + 1
            if logs["val_loss"] < self.best_loss - 1e-5:
                self.best_loss, self.best_weights, self.waited = (
                    logs["val_loss"],
                    weight_arrays(model),
                    0,
                )
                if folder is not None:
                    state = {"fingerprint": fingerprint, "val_loss": self.best_loss}
                    _save_checkpoint(folder, "best", model, state)
            else:
                self.waited += 1
            if folder is not None:
                state = {"fingerprint": fingerprint, "epoch": self.epoch, "waited": self.waited}
                _save_checkpoint(folder, "last", model, state)
            if progress is not None:
                progress(self.epoch, logs)
            if self.waited >= params.patience:
                self.model.stop_training = True

    checkpoints = Checkpoints()
    if waited < params.patience and start_epoch < params.epochs:
        model.fit(
            x_train,
            y_train,
            batch_size=params.batch_size,
            epochs=params.epochs,
            initial_epoch=start_epoch,
            shuffle=True,
            verbose=0,
            validation_data=(x_val, y_val),
            callbacks=[checkpoints],
        )
    if checkpoints.best_weights is not None:
        assign_weights(model, checkpoints.best_weights)

    predicted = []
    for start in range(0, len(x_val), 256):
        predicted.append(np.asarray(model(x_val[start : start + 256], training=False)))
    predicted = unit_rows(np.concatenate(predicted))
    constant = unit_rows(y_train.mean(axis=0, keepdims=True))[0]
    return HeadReport(
        val_cosine=float(np.mean(np.sum(predicted * y_val, axis=1))),
        constant_cosine=float(np.mean(y_val @ constant)),
        train_tracks=len(train_rows),
        val_tracks=len(val_rows),
        epochs=checkpoints.epoch,
        resumed_from=start_epoch,
    )


def write_bundle_dir(model: Any, manifest: dict, directory: Path, *, provenance: str) -> Manifest:
    """:func:`deejai_model.ears.weights.save_bundle` into a temporary sibling folder, then
    renamed into place (an existing bundle there is replaced whole, never left half-written)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(os.fspath(directory), directory=True) as tmp:
        written = save_bundle(model, manifest, tmp, provenance=provenance)
        if directory.exists():
            shutil.rmtree(directory)
    return written


def save_head_bundle(
    model: Any,
    base: Bundle,
    directory: str | os.PathLike,
    *,
    name: str = "deejai-head",
    version: str = "1",
    source: str = "trained by deejai from the user's playlists",
    extra: dict | None = None,
) -> Manifest:
    """Write the trained head as a bundle that names its base.

    Parameters
    ----------
    model : keras.Model
        From :func:`train_head`.
    base : Bundle
        The base bundle whose slice vectors the head reads.
    directory : path
        The new bundle directory (written to a temporary sibling, then renamed into place).
    extra : dict, optional
        Written to ``PROVENANCE.md`` as JSON (training report, Track2Vec fingerprint ...).
    """
    directory = Path(directory).resolve()
    base_path = Path(base.path).resolve()
    try:
        base_ref = os.path.relpath(base_path, directory)
    except ValueError:  # another drive (Windows)
        base_ref = str(base_path)
    manifest = {
        "name": name,
        "version": version,
        "architecture": ARCHITECTURE,
        "architecture_params": {
            "input_dim": int(model.inputs[0].shape[-1]),
            "dim": int(model.outputs[0].shape[-1]),
            "hidden": int(model.get_layer("head_hidden").units),
        },
        "output": "track2vec",
        "dim": int(model.outputs[0].shape[-1]),
        "frontend": dict(base.manifest.frontend),
        "weights": {"file": "weights.npz"},
        "license": base.manifest.license,
        "source": source,
        "base": {"model_id": base.model_id, "path": base_ref},
    }
    provenance = "# Trained head\n\n```json\n" + json.dumps(extra or {}, indent=2) + "\n```\n"
    written = write_bundle_dir(model, manifest, directory, provenance=provenance)
    return written
