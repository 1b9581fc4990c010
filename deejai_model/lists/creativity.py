"""The "creativity" blend of deej-ai.online: what it sounds like vs what people put with it.

For two tracks that both have a Track2Vec vector the score is::

    creativity * cos(audio) + (1 - creativity) * cos(track2vec)

and for a track outside the Track2Vec vocabulary it is ``cos(audio)`` alone.

:class:`JointSpace` makes this work with every function of :mod:`deejai_model.lists.playlists`
unchanged: each track gets the joint vector ``[sqrt(c) * audio, sqrt(1 - c) * track2vec]``
(unit parts; the Track2Vec part is zero outside the vocabulary).  A query built from tracks
(a seed, a sum of the last tracks, a point between two waypoints) is then the same
combination in both parts, so :class:`CreativityScores` splits it back into an audio query
and a Track2Vec query and scores each candidate with :func:`blend_scores`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np

from deejai_model.lists.playlists import BruteForceSearch
from deejai_model.vectors.norms import unit_rows, unit_vector

#: The audio part keeps this weight at ``creativity = 0``, so that a query still carries an
#: audio direction for tracks outside the vocabulary.
MIN_AUDIO_WEIGHT = 1e-6


def blend_scores(
    audio_cos: np.ndarray, t2v_cos: np.ndarray, *, has_t2v: np.ndarray, creativity: float
) -> np.ndarray:
    """``creativity * audio_cos + (1 - creativity) * t2v_cos`` where ``has_t2v``, else
    ``audio_cos``.

    Parameters
    ----------
    audio_cos, t2v_cos : np.ndarray, shape (n,)
        Cosines of the candidates to the query in each space.
    has_t2v : np.ndarray of bool, shape (n,)
        Whether both the query and the candidate have a Track2Vec vector.
    creativity : float
        In [0, 1]; 1 = audio alone.
    """
    if not 0.0 <= creativity <= 1.0:
        raise ValueError(f"creativity must be in [0, 1], not {creativity}")
    audio_cos = np.asarray(audio_cos, dtype=np.float64)
    blended = creativity * audio_cos + (1.0 - creativity) * np.asarray(t2v_cos, dtype=np.float64)
    return np.where(np.asarray(has_t2v, dtype=bool), blended, audio_cos)


class CreativityScores:
    """Score transform for :mod:`deejai_model.lists.playlists` over a :class:`JointSpace`."""

    def __init__(self, space: JointSpace):
        self.space = space

    def __call__(self, query: np.ndarray, ids: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        s = self.space
        q_audio = unit_vector(query[: s.audio_dim])
        q_t2v = np.asarray(query[s.audio_dim :], dtype=np.float64)
        query_has_t2v = np.linalg.norm(q_t2v) > 1e-9
        q_t2v = unit_vector(q_t2v)
        rows = np.array([s.row[i] for i in ids], dtype=np.int64)
        audio_cos = s.audio[rows] @ q_audio
        t2v_cos = s.t2v[rows] @ q_t2v
        has = s.has_t2v[rows] & query_has_t2v
        return blend_scores(audio_cos, t2v_cos, has_t2v=has, creativity=s.creativity)


class JointSpace:
    """Tracks' audio and Track2Vec vectors side by side, searchable with the blend.

    Parameters
    ----------
    audio_by_id : mapping id -> (audio_dim,) array
        Every track's audio vector (normalised here).
    t2v_by_id : mapping id -> (t2v_dim,) array
        Track2Vec vectors of the tracks in the vocabulary (others are left out).
    creativity : float
        In [0, 1].
    """

    def __init__(
        self,
        audio_by_id: Mapping[Hashable, np.ndarray],
        t2v_by_id: Mapping[Hashable, np.ndarray],
        creativity: float,
    ):
        if not 0.0 <= creativity <= 1.0:
            raise ValueError(f"creativity must be in [0, 1], not {creativity}")
        self.creativity = float(creativity)
        self.ids = list(audio_by_id)
        self.row = {track: i for i, track in enumerate(self.ids)}
        self.audio = unit_rows(np.stack([audio_by_id[i] for i in self.ids]), np.float64)
        self.audio_dim = self.audio.shape[1]
        t2v_dim = len(next(iter(t2v_by_id.values()))) if t2v_by_id else 1
        self.t2v = np.zeros((len(self.ids), t2v_dim))
        self.has_t2v = np.zeros(len(self.ids), dtype=bool)
        for track, vector in t2v_by_id.items():
            if track in self.row:
                self.t2v[self.row[track]] = vector
                self.has_t2v[self.row[track]] = True
        self.t2v = unit_rows(self.t2v, np.float64)
        wa = np.sqrt(max(self.creativity, MIN_AUDIO_WEIGHT))
        wt = np.sqrt(1.0 - self.creativity)
        self.joint = np.hstack([wa * self.audio, wt * self.t2v]).astype(np.float32)

    def vectors_by_id(self) -> dict[Hashable, np.ndarray]:
        """Joint vector of every track."""
        return {track: self.joint[i] for i, track in enumerate(self.ids)}

    def search(self) -> BruteForceSearch:
        """Exact search over the joint vectors (its cosines are the blend where both tracks
        have Track2Vec vectors; :meth:`score_transform` makes the rest exact)."""
        return BruteForceSearch(self.ids, self.joint)

    def score_transform(self) -> CreativityScores:
        """Re-scores candidates with :func:`blend_scores`."""
        return CreativityScores(self)
