"""From audio files to per-slice vectors: decode in parallel, run the network in batches.

The pipeline for one track is:

1. decode the excerpts that hold music and turn them into the model's input
   (:func:`deejai_model.ears.excerpts.listen`, the one excerpt planner, and
   :class:`deejai_model.ears.frontend.FrontEnd`);
2. run the network on slices of several tracks at once (``bundle.embed``).

Step 1 runs in a thread pool (PyAV and the FFTs release the GIL), step 2 in the calling thread
through one compiled TensorFlow function, so decoding of the next tracks overlaps inference.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

import numpy as np

from deejai_model.ears.excerpts import HeardSlices, listen
from deejai_model.ears.frontend import FrontEnd
from deejai_model.errors import AudioError, UndecodableAudioError
from deejai_model.interrupt import deferred_sigint

__all__ = ["TrackSlices", "Embedder", "DEFAULT_MAX_SLICES"]

#: Default number of slices per track: enough for the mean to settle, few enough to decode fast.
DEFAULT_MAX_SLICES = 8


@dataclass
class TrackSlices:
    """Per-slice vectors of one track, and where they came from.

    Attributes
    ----------
    path : str
        The audio file.
    vectors : np.ndarray, shape (n_slices, dim), float32
        One vector per slice, as the network outputs it (not normalised).
    starts : np.ndarray, shape (n_slices,), float32
        Start time of each slice in seconds from the beginning of the track.
    duration : float
        Duration of the track in seconds.
    padded : bool
        True when the track was shorter than one slice and its only slice was zero-padded.
    model_id : str
        :attr:`~deejai_model.ears.loaded_bundle.Bundle.model_id` of the network that made the
        vectors.
    """

    path: str
    vectors: np.ndarray
    starts: np.ndarray
    duration: float
    padded: bool
    model_id: str


class Embedder:
    """Turns audio files into :class:`TrackSlices` with one model bundle.

    Parameters
    ----------
    bundle : deejai_model.ears.loaded_bundle.Bundle
        The loaded model (see :func:`deejai_model.ears.bundle.load_bundle`).
    max_slices : int
        Slices per track, spread evenly over it (``0``: every non-overlapping slice from the start,
        as upstream Deej-A.I. does; slow on long tracks).
    workers : int
        Threads that decode and compute spectrograms while the network runs.
    batch_size : int
        Slices the network sees at once (slices of several tracks are batched together).
    """

    def __init__(
        self,
        bundle,
        max_slices: int = DEFAULT_MAX_SLICES,
        *,
        workers: int = 2,
        batch_size: int = 64,
    ):
        if max_slices < 0:
            raise ValueError(f"max_slices must be >= 0, got {max_slices}")
        self.bundle = bundle
        self.max_slices = int(max_slices)
        self.workers = max(1, int(workers))
        self.batch_size = max(1, int(batch_size))
        self.frontend = FrontEnd.from_manifest(bundle.manifest.frontend)

    # -- one track, without the network ---------------------------------------------------
    def prepare(self, path: str | os.PathLike) -> HeardSlices:
        """Decode the slices of one file that hold music and build the network's input.

        Raises
        ------
        deejai_model.errors.AudioError
            When the file cannot be decoded, is empty or silent.
        """
        return listen(path, self.frontend, max_slices=self.max_slices)

    def _prepare_or_error(self, path: str | os.PathLike) -> HeardSlices | AudioError:
        try:
            return self.prepare(path)
        except AudioError as error:
            return error
        except Exception as error:  # a decoder bug must not stop a library-wide run
            return UndecodableAudioError(path, f"{type(error).__name__}: {error}")

    # -- public API ------------------------------------------------------------------------
    def embed_path(self, path: str | os.PathLike) -> TrackSlices:
        """Embed one file.

        Raises
        ------
        deejai_model.errors.AudioError
            With a one-line ``"<path>: <reason>"`` message.
        """
        prepared = self.prepare(path)
        return self._finish([prepared], self._network(prepared.batch))[0]

    def embed_paths(
        self, paths: Iterable[str | os.PathLike]
    ) -> Iterator[tuple[str, TrackSlices | AudioError]]:
        """Embed many files, decoding in parallel; yields ``(path, result)`` in input order.

        A file that fails yields its :class:`~deejai_model.errors.AudioError` instead of a
        result, and the run goes on. Results are yielded as soon as their batch has run, so a
        caller can store them as they come (and an interrupted run loses at most one batch).
        """
        paths = [os.fspath(p) for p in paths]
        queue: list[HeardSlices | AudioError] = []
        queued_slices = 0
        lookahead = 4 * self.workers  # bounded: a huge library must not sit decoded in memory
        with ThreadPoolExecutor(self.workers, thread_name_prefix="deejai-decode") as pool:
            futures: deque = deque()
            try:
                remaining = iter(paths)
                for path in islice(remaining, lookahead):
                    futures.append(pool.submit(self._prepare_or_error, path))
                while futures:
                    item = futures.popleft().result()
                    for path in islice(remaining, 1):
                        futures.append(pool.submit(self._prepare_or_error, path))
                    queue.append(item)
                    if isinstance(item, HeardSlices):
                        queued_slices += len(item.batch)
                    if queued_slices >= self.batch_size or queued_slices == 0:
                        yield from self._flush(queue)
                        queue, queued_slices = [], 0
                yield from self._flush(queue)
            finally:  # a caller that stops early (Ctrl-C, break) does not wait for decodes
                for future in futures:
                    future.cancel()

    # -- internals ---------------------------------------------------------------------------
    def _flush(
        self, queue: list[HeardSlices | AudioError]
    ) -> Iterator[tuple[str, TrackSlices | AudioError]]:
        """Run the network on the queued tracks and yield every queued entry in order."""
        prepared = [item for item in queue if isinstance(item, HeardSlices)]
        finished = iter([])
        if prepared:
            vectors = self._network(np.concatenate([p.batch for p in prepared]))
            finished = iter(self._finish(prepared, vectors))
        for item in queue:
            if isinstance(item, AudioError):
                yield item.path, item
            else:
                track = next(finished)
                yield track.path, track

    def _network(self, batch: np.ndarray) -> np.ndarray:
        """``bundle.embed(batch)``, (n, ...) -> (n, dim), with Ctrl-C raised after it returns.

        SIGINT is deferred while the network runs in C++ (TensorFlow, LiteRT), so it cannot be
        swallowed there; a press is raised once the batch is done (see :mod:`.interrupt`).
        """
        with deferred_sigint():
            return self.bundle.embed(batch)

    def _finish(self, prepared: list[HeardSlices], vectors: np.ndarray) -> list[TrackSlices]:
        out = []
        offset = 0
        for p in prepared:
            n = len(p.batch)
            out.append(
                TrackSlices(
                    path=p.path,
                    vectors=np.ascontiguousarray(vectors[offset : offset + n], dtype=np.float32),
                    starts=p.starts,
                    duration=p.duration,
                    padded=p.padded,
                    model_id=self.bundle.model_id,
                )
            )
            offset += n
        return out
