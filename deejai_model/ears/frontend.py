"""Mel front ends: from decoded audio to the model-ready arrays of one network.

Two kinds, named by a bundle manifest's ``frontend`` dict; :data:`MUSICNN` and :data:`SPECCY`
are the one definition of each (sample rate, FFT, hop, mel bands, slice frames):

``musicnn``
    librosa's mel power spectrogram, transposed to (frames, mels), then ``log10(10000 * x +
    1)``; batch shape ``(n, slice_frames, n_mels)``.
``speccy``
    Deej-A.I.'s input: mel over the audio (fmax sr/2, librosa defaults otherwise), cut into
    non-overlapping slices from frame 0 (the partial last one dropped); each slice on its own
    goes through ``power_to_db(ref=max, top_db=80)`` and min-max scaling to [0, 1] (a constant
    slice gives 0). Batch shape ``(n, n_mels, slice_frames, 1)``, row 0 the lowest mel band.

A slice spans ``slice_frames * hop_length`` samples (``slice_samples``): a clip of exactly that
length gives ``slice_frames + 1`` centred frames, of which the first ``slice_frames`` are one
slice. The mel spectrograms are librosa's, computed in numpy by :mod:`deejai_model.ears.melspec`
(librosa itself is not imported). Which excerpts of a track to listen to is
:mod:`deejai_model.ears.excerpts`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

KINDS = ("musicnn", "speccy")
_AMIN = 1e-10
_TOP_DB = 80.0


@dataclass(frozen=True, kw_only=True)
class FrontEnd:
    """A mel front end and its slice geometry.

    Attributes
    ----------
    kind : str
        ``"musicnn"`` or ``"speccy"``.
    sample_rate : int
        Rate, in Hz, the audio must be decoded at.
    n_fft : int
        FFT window length in samples.
    hop_length : int
        Samples between two spectrogram frames.
    n_mels : int
        Mel bands.
    slice_frames : int
        Spectrogram frames in one model input.
    """

    kind: str
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    slice_frames: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown front end kind {self.kind!r} (expected one of {KINDS})")
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels", "slice_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"front end {name} must be a positive integer, not {value!r}")

    @classmethod
    def from_manifest(cls, d: Mapping[str, Any]) -> FrontEnd:
        """Build a front end from a bundle manifest's ``frontend`` dict.

        Parameters
        ----------
        d : mapping
            ``{"kind", "sample_rate", "n_fft", "hop_length", "n_mels", "slice_frames"}``;
            other keys are ignored.

        Returns
        -------
        FrontEnd

        Raises
        ------
        ValueError
            A key is missing or a value is invalid.
        """
        names = ("kind", "sample_rate", "n_fft", "hop_length", "n_mels", "slice_frames")
        missing = [name for name in names if name not in d]
        if missing:
            raise ValueError(f"front end lacks {', '.join(missing)}")
        return cls(**{name: d[name] for name in names})

    def to_manifest(self) -> dict[str, Any]:
        """This front end as a bundle manifest's ``frontend`` dict (inverse of
        :meth:`from_manifest`)."""
        return asdict(self)

    @property
    def slice_samples(self) -> int:
        """Samples (at ``sample_rate``) that one slice spans: ``slice_frames * hop_length``."""
        return self.slice_frames * self.hop_length

    @property
    def min_samples(self) -> int:
        """Fewest samples that still fill one slice's frames (``(slice_frames - 1) * hop``);
        shorter audio is zero-padded to a slice."""
        return (self.slice_frames - 1) * self.hop_length

    @property
    def slice_seconds(self) -> float:
        """Seconds one slice spans (musicnn 2.992 s, speccy 5.0155 s)."""
        return self.slice_samples / self.sample_rate

    def slices(self, audio: np.ndarray) -> tuple[np.ndarray, bool]:
        """Turn decoded audio into a model-ready batch of non-overlapping slices.

        Parameters
        ----------
        audio : np.ndarray
            1-D mono samples at ``sample_rate`` (one excerpt or a whole track).

        Returns
        -------
        batch : np.ndarray
            float32, ``(n, slice_frames, n_mels)`` for musicnn, ``(n, n_mels, slice_frames, 1)``
            for speccy; slices cut from frame 0, a partial last slice dropped, n >= 1.
        padded : bool
            True when the audio was shorter than one slice and was zero-padded to one.
        """
        audio, padded = self._fit(np.asarray(audio, dtype=np.float32).reshape(-1))
        mel = self._mel(audio)  # (n_mels, frames)
        n = mel.shape[-1] // self.slice_frames
        mel = mel[:, : n * self.slice_frames]
        cut = mel.reshape(self.n_mels, n, self.slice_frames).transpose(1, 0, 2)
        return self._finish(cut), padded

    def batch_from_excerpts(
        self, excerpts: Sequence[np.ndarray], duration: float | None = None
    ) -> tuple[np.ndarray, bool]:
        """One slice per excerpt, stacked into one batch.

        Parameters
        ----------
        excerpts : sequence of np.ndarray
            1-D mono excerpts at ``sample_rate``, normally ``slice_samples`` long each (as
            :func:`deejai_model.ears.audio.decode_excerpts` returns them for
            ``length=slice_seconds``); a shorter one is zero-padded, a longer one cut.
        duration : float, optional
            The track's length in seconds. ``decode_excerpts`` zero-pads an excerpt that runs
            past the end of the file, so only this tells that a track is shorter than one slice.

        Returns
        -------
        batch : np.ndarray
            float32, one slice per excerpt, shaped as :meth:`slices` returns.
        padded : bool
            True when any excerpt was shorter than one slice, or ``duration`` is.
        """
        if len(excerpts) == 0:
            raise ValueError("no excerpts")
        fitted = [self._fit(np.asarray(e, dtype=np.float32).reshape(-1)) for e in excerpts]
        padded = any(p for _, p in fitted)
        if duration is not None and duration < self.slice_seconds:
            padded = True
        n = self.slice_samples
        stack = np.stack([np.pad(a[:n], (0, max(0, n - a.size))) for a, _ in fitted])
        mel = self._mel(stack)[:, :, : self.slice_frames]  # (k, n_mels, slice_frames)
        return self._finish(mel), padded

    # -- internals -------------------------------------------------------------------

    def _fit(self, audio: np.ndarray) -> tuple[np.ndarray, bool]:
        """Zero-pad audio too short for one full slice of frames."""
        need = self.min_samples  # 1 + n // hop >= slice_frames
        if audio.size >= need:
            return audio, False
        return np.pad(audio, (0, self.slice_samples - audio.size)), True

    def _mel(self, y: np.ndarray) -> np.ndarray:
        """Power mel spectrogram, (..., n_mels, frames), float32.

        librosa's defaults (fmax ``sample_rate / 2``, Slaney filters), computed by
        :mod:`deejai_model.ears.melspec` in numpy: librosa's own would import scipy and numba
        (~0.22 GB) into every embedding process.
        """
        from deejai_model.ears.melspec import melspectrogram

        return melspectrogram(
            y, self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels
        )

    def _finish(self, mel: np.ndarray) -> np.ndarray:
        """Per-kind scaling of mel slices shaped (n, n_mels, slice_frames)."""
        if self.kind == "musicnn":
            out = np.log10(10000.0 * mel.transpose(0, 2, 1) + 1.0)
            return np.ascontiguousarray(out, dtype=np.float32)
        return _speccy_scale(mel)[..., np.newaxis]


#: musicnn's front end (and VGG's): 16 kHz, 512-point FFT, hop 256, 96 mel bands, slices of 187
#: frames (2.992 s).
MUSICNN = FrontEnd(
    kind="musicnn", sample_rate=16000, n_fft=512, hop_length=256, n_mels=96, slice_frames=187
)
#: Deej-A.I.'s Speccy front end: 22.05 kHz, 2048-point FFT, hop 512, 96 mel bands, slices of
#: 216 frames (5.0155 s).
SPECCY = FrontEnd(
    kind="speccy", sample_rate=22050, n_fft=2048, hop_length=512, n_mels=96, slice_frames=216
)


def _speccy_scale(mel: np.ndarray) -> np.ndarray:
    """``power_to_db(ref=max, top_db=80)`` then min-max to [0, 1], each slice on its own.

    Equal to ``librosa.power_to_db(s, ref=np.max)`` per slice ``s`` of ``mel`` (n, bands, frames).
    """
    mel = mel.astype(np.float64)
    db = 10.0 * np.log10(np.maximum(_AMIN, mel))
    peak = np.max(mel, axis=(1, 2), keepdims=True)
    db -= 10.0 * np.log10(np.maximum(_AMIN, peak))
    db = np.maximum(db, db.max(axis=(1, 2), keepdims=True) - _TOP_DB)
    low = db.min(axis=(1, 2), keepdims=True)
    high = db.max(axis=(1, 2), keepdims=True)
    scale = high - low
    out = np.where(scale > 0, (db - low) / np.where(scale > 0, scale, 1.0), 0.0)
    return out.astype(np.float32)
