"""From audio files to per-slice vectors: decode in parallel, run the network in batches.

The pipeline for one track is:

1. probe its duration and plan ``K`` slice start times spread over it
   (:meth:`deejai_model.ears.frontend.FrontEnd.excerpt_starts`);
2. decode only those excerpts, by seeking (:func:`deejai_model.ears.audio.decode_excerpts`), or the
whole
   track when ``max_slices == 0`` (upstream Deej-A.I. behaviour: every slice);
3. turn them into the model's input (:meth:`FrontEnd.batch_from_excerpts`, :meth:`FrontEnd.slices`);
4. run the network on slices of several tracks at once
(:meth:`deejai_model.ears.bundle.Bundle.embed`).

Steps 1-3 run in a thread pool (PyAV and the FFTs release the GIL), step 4 in the calling thread
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

from deejai_model.errors import AudioError, SilentAudioError, UndecodableAudioError
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
        :attr:`deejai_model.ears.bundle.Bundle.model_id` of the network that made the vectors.
    """

    path: str
    vectors: np.ndarray
    starts: np.ndarray
    duration: float
    padded: bool
    model_id: str


@dataclass
class _Prepared:
    """Model input of one track, before the network runs."""

    path: str
    batch: np.ndarray
    starts: np.ndarray
    duration: float
    padded: bool


class Embedder:
    """Turns audio files into :class:`TrackSlices` with one model bundle.

    Parameters
    ----------
    bundle : deejai_model.ears.bundle.Bundle
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
        workers: int = 2,
        batch_size: int = 64,
    ):
        from deejai_model.ears.frontend import FrontEnd

        if max_slices < 0:
            raise ValueError(f"max_slices must be >= 0, got {max_slices}")
        self.bundle = bundle
        self.max_slices = int(max_slices)
        self.workers = max(1, int(workers))
        self.batch_size = max(1, int(batch_size))
        manifest = bundle.manifest
        frontend_spec = manifest["frontend"] if isinstance(manifest, dict) else manifest.frontend
        self.frontend = FrontEnd.from_manifest(frontend_spec)

    # -- one track, without the network ---------------------------------------------------
    def prepare(self, path: str | os.PathLike) -> _Prepared:
        """Decode the slices of one file and build the network's input.

        Raises
        ------
        deejai_model.errors.AudioError
            When the file cannot be decoded, is empty or silent.
        """
        from deejai_model.ears import audio

        path = os.fspath(path)
        fe = self.frontend
        duration = audio.probe_duration(path)
        if self.max_slices == 0:
            samples = audio.decode(path, fe.sample_rate)
            batch, padded = fe.slices(samples)
            keep, fallback = fe.heard_slices(samples, len(batch))  # no silent slices
            batch, padded = batch[keep], padded or fallback
            starts = keep.astype(np.float32) * np.float32(fe.slice_seconds)
        else:
            starts, excerpts, duration = self._listen(path, duration)
            keep, fallback = fe.heard_excerpts(excerpts)
            starts = starts[keep]
            batch, padded = fe.batch_from_excerpts([excerpts[i] for i in keep], duration=duration)
            padded = padded or fallback
        if len(batch) == 0:
            raise UndecodableAudioError(path, "no slices could be cut from the audio")
        return _Prepared(path, batch, starts[: len(batch)], float(duration), bool(padded))

    def _listen(self, path: str, duration: float) -> tuple[np.ndarray, list[np.ndarray], float]:
        """Plan excerpts over ``duration`` seconds and decode them, unpadded.

        When the music ends well before the declared ``duration`` (a truncated file, an MP3
        without a length header, a long silent outro), the excerpts are planned again over the
        part that was heard, so the slices spread over the music.

        Returns
        -------
        starts : np.ndarray, shape (k,), float32
            Start times in seconds.
        excerpts : list of np.ndarray
            The decoded excerpts (shorter or empty past the end of the audio).
        duration : float
            The duration in seconds: the declared one, or where the audio was found to end.
        """
        from deejai_model.ears import audio

        fe = self.frontend

        def decode(over: float) -> tuple[np.ndarray, list[np.ndarray]]:
            starts = np.asarray(fe.excerpt_starts(over, self.max_slices), dtype=np.float32)
            return starts, audio.decode_excerpts(
                path, fe.sample_rate, starts, fe.slice_seconds, pad=False
            )

        try:
            starts, excerpts = decode(duration)
        except SilentAudioError:  # silent, or every excerpt fell past a much earlier end
            end = audio.decode(path, fe.sample_rate).size / fe.sample_rate  # raises if silent
            if end >= duration - fe.slice_seconds:
                raise
            starts, excerpts = decode(end)
            return starts, excerpts, end
        heard = [
            i for i, e in enumerate(excerpts) if e.size and np.max(np.abs(e)) >= audio.SILENCE_PEAK
        ]
        last = heard[-1]  # decode_excerpts raised SilentAudioError when none was heard
        if last == len(excerpts) - 1:
            return starts, excerpts, duration
        # nothing heard after excerpt `last`: the music ends between it and the next one
        end = float(starts[last]) + excerpts[last].size / fe.sample_rate
        n = int(round(fe.slice_seconds * fe.sample_rate))
        past_end = excerpts[last].size < n or excerpts[-1].size == 0
        starts, excerpts = decode(end)
        return starts, excerpts, end if past_end else duration

    def _prepare_or_error(self, path: str | os.PathLike) -> _Prepared | AudioError:
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
        queue: list[_Prepared | AudioError] = []
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
                    if isinstance(item, _Prepared):
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
        self, queue: list[_Prepared | AudioError]
    ) -> Iterator[tuple[str, TrackSlices | AudioError]]:
        """Run the network on the queued tracks and yield every queued entry in order."""
        prepared = [item for item in queue if isinstance(item, _Prepared)]
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

    def _finish(self, prepared: list[_Prepared], vectors: np.ndarray) -> list[TrackSlices]:
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
