"""The systems we compare against: bliss, Musly, a log-mel baseline and a random-weights Speccy.

Each ``*_analyse`` function turns one audio file into what that system compares; the
``*_library`` functions run a whole track list (cached in ``--cache``) and return either
vectors plus the system's distance, or a distance matrix.

Peers' own defaults are kept: bliss compares its 23 features by euclidean distance (as its
README does), Musly "timbre" analyses whole files and normalises distances by mutual proximity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmarks.common import (
    Track,
    cache_file,
    cached_per_track,
    cosine_distances,
    euclidean_distances,
    log,
    zscore,
)
from deejai_model.files import replaced_atomically

LOGMEL_RATE = 22050
LOGMEL_FFT = 2048
LOGMEL_HOP = 512
LOGMEL_MELS = 96


# --------------------------------------------------------------------------- decoding


def decode_pyav(path: str, sample_rate: int = LOGMEL_RATE) -> np.ndarray:
    """Whole file to mono float32 at ``sample_rate`` Hz with PyAV, skipping undecodable packets.

    Parameters
    ----------
    path : str
        Audio file.
    sample_rate : int
        Output rate in Hz.

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    import av

    chunks: list[np.ndarray] = []
    with av.open(path) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(
            format="flt", layout="mono", rate=sample_rate, frame_size=sample_rate
        )
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except (av.error.InvalidDataError, av.error.ArgumentError):
                continue  # a corrupt packet: skip it, as the ffmpeg command line does
            for frame in frames:
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- bliss


def bliss_analyse(path: str) -> np.ndarray:
    """bliss-audio's 23-float analysis of one file (raises what bliss raises, panics included)."""
    from bliss_audio import Song

    return np.asarray(Song(path).analysis, dtype=np.float32)


# --------------------------------------------------------------------------- Musly


def musly_jukebox(method: str = "timbre"):
    """A fresh ``pymusly.MuslyJukebox`` for ``method``."""
    import pymusly

    return pymusly.MuslyJukebox(method)


def musly_analyse(jukebox, path: str, length: float = 0.0):
    """Musly track model of a file; ``length <= 0`` analyses the whole file."""
    return jukebox.track_from_audiofile(path, length)


def musly_distances(jukebox, models: Sequence[object | None]) -> np.ndarray:
    """Musly distance matrix over the tracks that have a model (others: inf rows and columns).

    The jukebox's style is set from these tracks, they are added, and each one is compared
    with all of them, so timbre distances get Musly's mutual-proximity normalisation over
    this collection.

    Returns
    -------
    ndarray, shape (n, n), float64
    """
    n = len(models)
    present = [(i, m) for i, m in enumerate(models) if m is not None]
    out = np.full((n, n), np.inf)
    if not present:
        return out
    jukebox.set_style([m for _, m in present])
    jukebox.add_tracks(present)
    for i, model in present:
        row = jukebox.compute_similarity((i, model), present)
        out[i, [j for j, _ in present]] = np.asarray(row, dtype=np.float64)
    return out


# --------------------------------------------------------------------------- log-mel baseline


def logmel_analyse(path: str) -> np.ndarray:
    """Mean and standard deviation over time of each of 96 log-mel bands (192 floats).

    Whole file, 22.05 kHz mono, n_fft 2048, hop 512, power in dB (ref 1, floor -100 dB).
    """
    import librosa

    audio = decode_pyav(path, LOGMEL_RATE)
    if audio.size < LOGMEL_FFT:
        raise ValueError(f"{path}: too short for a log-mel analysis")
    mel = librosa.feature.melspectrogram(
        y=audio, sr=LOGMEL_RATE, n_fft=LOGMEL_FFT, hop_length=LOGMEL_HOP, n_mels=LOGMEL_MELS
    )
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    return np.concatenate([db.mean(axis=1), db.std(axis=1)]).astype(np.float32)


# --------------------------------------------------------------------------- random Speccy


def speccy_random_model(seed: int = 0):
    """Deej-A.I.'s Speccy with seeded random weights (the architecture's own prior, no training)."""
    import keras

    from deejai_model.ears.networks.speccy import build_speccy

    keras.utils.set_random_seed(seed)
    return build_speccy()


def speccy_frontend():
    """The Speccy front end (22.05 kHz, 96 mels, 216-frame slices of 5.0 s)."""
    from deejai_model.ears.frontend import SPECCY

    return SPECCY


def speccy_random_analyse(model, frontend, path: str, *, max_slices: int = 16) -> np.ndarray:
    """Slice vectors (n_slices, 100) of one file under the random Speccy.

    ``max_slices`` excerpts are decoded at the front end's planned starts (0: every slice of
    the whole decoded file), as our Embedder does.
    """
    from deejai_model.ears.audio import decode, decode_excerpts, probe_duration
    from deejai_model.ears.excerpts import excerpt_starts

    if max_slices == 0:
        batch, _ = frontend.slices(decode(path, frontend.sample_rate))
    else:
        starts = excerpt_starts(frontend, probe_duration(path), max_slices)
        pieces = decode_excerpts(
            path, frontend.sample_rate, starts=starts, length=frontend.slice_seconds
        )
        batch, _ = frontend.batch_from_excerpts(pieces)
    return np.asarray(model.predict(batch, verbose=0, batch_size=32), dtype=np.float32)


# --------------------------------------------------------------------------- whole libraries


def _stack(arrays: Sequence[np.ndarray | None], dim: int) -> tuple[np.ndarray, np.ndarray]:
    valid = np.array([a is not None for a in arrays])
    x = np.zeros((len(arrays), dim))
    for i, a in enumerate(arrays):
        if a is not None:
            x[i] = a.reshape(-1)[:dim] if a.shape[0] == 1 else a.mean(axis=0)
    return x, valid


def bliss_library(tracks: Sequence[Track], cache_dir: str):
    """bliss: (euclidean distance matrix, valid mask, failures)."""
    arrays, failed = cached_per_track(tracks, cache_dir, name="bliss", analyse=bliss_analyse)
    x, valid = _stack(arrays, 23)
    return euclidean_distances(x), valid, failed


def logmel_library(tracks: Sequence[Track], cache_dir: str):
    """Log-mel mean+std, z-scored over the library, cosine: (distances, valid, failures)."""
    arrays, failed = cached_per_track(tracks, cache_dir, name="logmel96", analyse=logmel_analyse)
    x, valid = _stack(arrays, 2 * LOGMEL_MELS)
    x[valid] = zscore(x[valid])
    return cosine_distances(x), valid, failed


def speccy_random_library(tracks: Sequence[Track], cache_dir: str, max_slices: int = 16):
    """Random-weights Speccy, mean of slice vectors, centred, cosine.

    Returns (distances, valid, failures).
    """
    model = speccy_random_model()
    frontend = speccy_frontend()
    name = f"speccy-random_K{max_slices or 'all'}"
    arrays, failed = cached_per_track(
        tracks,
        cache_dir,
        name=name,
        analyse=lambda p: speccy_random_analyse(model, frontend, p, max_slices=max_slices),
    )
    dim = next(a.shape[1] for a in arrays if a is not None)
    x, valid = _stack(arrays, dim)
    x[valid] = x[valid] - x[valid].mean(axis=0)
    return cosine_distances(x), valid, failed


def musly_library(tracks: Sequence[Track], cache_dir: str, method: str = "timbre"):
    """Musly, whole files: (distance matrix, valid mask, failures), the matrix cached."""
    path = cache_file(cache_dir, f"musly-{method}_{len(tracks)}")
    keys = np.array([t.path for t in tracks])
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            if z["paths"].shape == keys.shape and (z["paths"] == keys).all():
                return z["distances"], z["valid"], [str(f) for f in z["failed"]]
    jukebox = musly_jukebox(method)
    models: list[object | None] = []
    failed: list[str] = []
    for number, track in enumerate(tracks, 1):
        try:
            models.append(musly_analyse(jukebox, track.path))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: B036
            models.append(None)
            failed.append(f"{track.path}: {type(exc).__name__}: {exc}")
            log(failed[-1])
        if number % 20 == 0:
            log(f"musly: {number}/{len(tracks)} analysed")
    distances = musly_distances(jukebox, models)
    valid = np.array([m is not None for m in models])
    with replaced_atomically(str(path), suffix=".npz") as tmp:
        np.savez(
            tmp,
            distances=distances,
            valid=valid,
            paths=keys,
            failed=np.array(failed if failed else [], dtype=str),
        )
    return distances, valid, failed
