"""Trained ears (a): a small head on a base model's slice vectors, trained to Track2Vec.

Training maps every slice vector of a track to the unit Track2Vec vector of that track with a
cosine loss (:func:`train_head`), on tracks split into training and held-out validation tracks,
with early stopping and a checkpoint after every epoch (an interrupted run resumes from it).
The result is a normal bundle (:func:`save_head_bundle`): ``architecture: "head"`` and a
``base`` entry naming the base bundle's model id and path.
:func:`deejai_model.ears.bundle.load_bundle`
returns a :class:`HeadBundle` for it, which embeds audio as ``head(base(slices))`` and applies
the head alone to stored base slice vectors (:meth:`HeadBundle.apply`), so a library embedded
with the base model switches without decoding anything again.

Reported as Deej-A.I. did: the mean validation cosine of the model beside that of the best
constant vector (upstream: 0.70 against 0.52).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deejai_model.ears.bundle import Bundle, Manifest, save_bundle
from deejai_model.files import make_public

ARCHITECTURE = "head"


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
        from deejai_model.ears.networks.head import NORM_EPSILON

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


class _HeadRunner:
    """What :meth:`Bundle.predict` runs for a head bundle's output: head(base(slices))."""

    def __init__(self, network: HeadNetwork, base: Bundle):
        self.network = network
        self.base = base

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.base.input_shape

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.network(self.base.embed(batch))


class HeadBundle(Bundle):
    """A head bundle, loaded with its base bundle (use
    :func:`deejai_model.ears.bundle.load_bundle`).

    :meth:`embed` takes the base model's input (front-end slices) and returns head vectors;
    :meth:`apply` takes base slice vectors.  Vectors record the head's own :attr:`model_id`.
    The head runs in numpy (:class:`HeadNetwork`), so a base on LiteRT never loads TensorFlow;
    :attr:`model` still builds the Keras head for whoever asks for it.
    """

    def __init__(self, path: Path, manifest: Manifest, network: HeadNetwork, base: Bundle, **kw):
        super().__init__(path, manifest, runner=_HeadRunner(network, base), **kw)
        self.network = network
        self.base = base

    @property
    def runtime(self) -> str:
        """What runs the base model (the head itself is numpy)."""
        return self.base.runtime

    @property
    def vector_shape(self) -> tuple[int, ...]:
        """One base slice vector (what :meth:`apply` takes)."""
        return (self.network.input_dim,)

    def apply(self, base_vectors: np.ndarray) -> np.ndarray:
        """Head vectors of base slice vectors.

        Parameters
        ----------
        base_vectors : np.ndarray, shape (n, base_dim)

        Returns
        -------
        np.ndarray, shape (n, dim), float32
        """
        x = np.asarray(base_vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[1:] != self.vector_shape:
            raise ValueError(f"base vectors must be (n, {self.vector_shape[0]}), not {x.shape}")
        if len(x) == 0:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(
            [self.network(x[start : start + 4096]) for start in range(0, len(x), 4096)]
        )

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """Head vectors of front-end slices: ``head(base(batch))``, shape (n, dim)."""
        return self.apply(self.base.embed(batch))


def resolve_base(manifest: Manifest, head_path: Path) -> Path:
    """The base bundle directory of a head manifest: its ``base.path`` (relative to the head),
    else the shipped bundle (the default first) whose model id matches.

    Raises
    ------
    BundleError
        No base bundle with the recorded model id is found.
    """
    from deejai_model.ears.bundle import BundleError
    from deejai_model.ears.shipped import BUNDLES_DIR, bundle_by_id, manifest_model_id

    base = manifest.base or {}
    want = base.get("model_id")
    looked = []
    if base.get("path"):
        candidate = (head_path / base["path"]).resolve()
        looked.append(str(candidate))
        try:
            if manifest_model_id(candidate) == want:
                return candidate
        except (OSError, ValueError, KeyError, TypeError):
            pass
    shipped = bundle_by_id(want) if isinstance(want, str) else None
    if shipped is not None:
        return shipped
    looked.append(str(BUNDLES_DIR))
    raise BundleError(f"{head_path}: base model {want} not found (looked in {', '.join(looked)})")


# --------------------------------------------------------------------------- training


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


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def split_tracks(n: int, validation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation tracks (at least one of each when ``n >= 2``)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, int(round(n * validation))), n - 1) if n >= 2 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _stack(slices: Sequence[np.ndarray], targets: np.ndarray, rows: np.ndarray):
    x = np.concatenate([slices[i] for i in rows]).astype(np.float32)
    y = np.concatenate([np.repeat(targets[i][None], len(slices[i]), 0) for i in rows])
    return x, y.astype(np.float32)


def _weights(model: Any) -> dict[str, np.ndarray]:
    return {v.path: np.asarray(v.numpy()) for v in model.weights}


def _set_weights(model: Any, arrays: dict[str, np.ndarray]) -> None:
    for v in model.weights:
        v.assign(arrays[v.path])


def _save_checkpoint(folder: Path, name: str, model: Any, state: dict) -> None:
    """``<name>.npz`` (weights by variable path) then ``<name>.json`` (state), each atomically."""
    from deejai_model.ears.bundle import write_npz

    for suffix, write in (
        (".npz", lambda p: write_npz(_weights(model), p)),
        (".json", lambda p: Path(p).write_text(json.dumps(state), encoding="utf-8")),
    ):
        fd, tmp = tempfile.mkstemp(prefix=".deejai-", suffix=suffix, dir=folder)
        os.close(fd)
        write(tmp)
        make_public(tmp)
        os.replace(tmp, folder / (name + suffix))


def _load_checkpoint(folder: Path, name: str) -> tuple[dict[str, np.ndarray], dict] | None:
    try:
        state = json.loads((folder / (name + ".json")).read_text(encoding="utf-8"))
        with np.load(folder / (name + ".npz"), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
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
    from deejai_model.ears.bundle import _import_tf
    from deejai_model.ears.networks.head import build_head

    params = params or HeadParams()
    _import_tf()
    import keras

    width = int(np.shape(slices[0])[1]) if len(slices) else 0
    keras.utils.set_random_seed(params.seed)  # before the weights are drawn: same seed, same head
    model = build_head(width, int(np.shape(targets)[1]), params.hidden, params.dropout)

    def standardise(x_train: np.ndarray) -> None:
        norm = model.get_layer("head_norm")
        norm.moving_mean.assign(x_train.mean(axis=0))
        norm.moving_variance.assign(x_train.var(axis=0))

    report = fit_to_track2vec(
        model, slices, targets, params, checkpoint_dir, progress, prepare=standardise
    )
    return model, report


def fit_to_track2vec(
    model: Any,
    inputs: Sequence[np.ndarray],
    targets: np.ndarray,
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
    targets = _unit(np.asarray(targets, dtype=np.float32))
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
            _set_weights(model, last[0])
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
                    _weights(model),
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
        _set_weights(model, checkpoints.best_weights)

    predicted = []
    for start in range(0, len(x_val), 256):
        predicted.append(np.asarray(model(x_val[start : start + 256], training=False)))
    predicted = _unit(np.concatenate(predicted))
    constant = _unit(y_train.mean(axis=0))
    return HeadReport(
        val_cosine=float(np.mean(np.sum(predicted * y_val, axis=1))),
        constant_cosine=float(np.mean(y_val @ constant)),
        train_tracks=len(train_rows),
        val_tracks=len(val_rows),
        epochs=checkpoints.epoch,
        resumed_from=start_epoch,
    )


def write_bundle_dir(model: Any, manifest: dict, directory: Path, provenance: str) -> Manifest:
    """:func:`deejai_model.ears.bundle.save_bundle` into a temporary sibling folder, then renamed
    into place (an existing bundle there is replaced whole, never left half-written)."""
    import shutil

    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".deejai-", dir=directory.parent))
    try:
        written = save_bundle(model, manifest, tmp, provenance=provenance)
        make_public(tmp, directory=True)  # mkdtemp makes it private; a bundle is not
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def save_head_bundle(
    model: Any,
    base: Bundle,
    directory: str | os.PathLike,
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
    written = write_bundle_dir(model, manifest, directory, provenance)
    return written
