"""Track2Vec: word2vec with tracks as words and playlists (sessions, albums) as sentences.

Trained with gensim's :class:`~gensim.models.Word2Vec`; upstream Deej-A.I.'s settings are the
defaults (:class:`Track2VecParams`).  A trained model is saved as *data*:

``<name>.npz``
    ``vectors``: ``(n_tracks, dim) float32``, row ``i`` for ``keys[i]`` (read with
    ``allow_pickle=False``).
``<name>.json``
    ``{"format": 1, "keys": [...], "counts": [...], "params": {...}, "sentences": n,
    "vectors_sha256": ...}``.

gensim's own ``save`` pickles, so it is never used.  Words are the keys of the sentences'
tracks (:attr:`deejai_model.learn.sentences.CatalogueTrack.key`): the plugin's library items
are ``"mbid:<id>"`` or ``"item:<beets id>"``; tracks known only by tags are
``"at:<artist>\\t<title>"``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from deejai_model.files import replaced_atomically
from deejai_model.vectors.norms import unit_rows

FORMAT = 1


class Track2VecError(Exception):
    """A Track2Vec file that cannot be used; ``str()`` names the file and the reason."""


@dataclass(frozen=True)
class Track2VecParams:
    """Word2Vec settings (upstream Deej-A.I.'s values are the defaults).

    Attributes
    ----------
    dim : int
        Vector size (100).
    window : int
        Context tracks on each side (2).
    min_count : int
        Tracks seen fewer times are left out of the vocabulary (10 upstream, for 240k
        playlists; a personal library wants 1 or 2).
    epochs : int or None
        Passes over the sentences (15); None: :func:`auto_epochs` of the corpus size.
    negative : int
        Negative samples (5).
    sample : float
        Down-sampling threshold of frequent tracks (1e-3).
    sg : int
        0 = CBOW (upstream), 1 = skip-gram.
    seed : int
        Random seed (with one worker, training is reproducible).
    workers : int
        Training threads.
    """

    dim: int = 100
    window: int = 2
    min_count: int = 10
    epochs: int | None = 15
    negative: int = 5
    sample: float = 1e-3
    sg: int = 0
    seed: int = 1
    workers: int = 1


class Track2Vec:
    """Trained track vectors, keyed by stable track key.

    Parameters
    ----------
    keys : sequence of str
        The vocabulary.
    vectors : np.ndarray, shape (n, dim)
        Row ``i`` is the vector of ``keys[i]``.
    counts : sequence of int, optional
        How often each track occurred in the sentences.
    meta : dict, optional
        Training parameters and counts, saved with the vectors.
    """

    def __init__(
        self,
        keys: Sequence[str],
        vectors: np.ndarray,
        *,
        counts: Sequence[int] | None = None,
        meta: dict | None = None,
    ):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(keys):
            raise ValueError(f"{len(keys)} keys but vectors of shape {vectors.shape}")
        self.keys = list(keys)
        self.vectors = vectors
        self.counts = list(counts) if counts is not None else [0] * len(self.keys)
        self.meta = dict(meta or {})
        self.index = {key: i for i, key in enumerate(self.keys)}
        self.unit = unit_rows(vectors)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return key in self.index

    @property
    def dim(self) -> int:
        """Vector size."""
        return int(self.vectors.shape[1])

    @property
    def fingerprint(self) -> str:
        """SHA-256 (first 12 hex digits) of the vectors and keys: names this exact model."""
        digest = hashlib.sha256(np.ascontiguousarray(self.vectors).tobytes())
        digest.update("\n".join(self.keys).encode("utf-8"))
        return digest.hexdigest()[:12]

    def vector(self, key: str) -> np.ndarray | None:
        """The unit vector of ``key`` (None when not in the vocabulary)."""
        i = self.index.get(key)
        return None if i is None else self.unit[i]

    def similar(self, key: str, n: int = 10) -> list[tuple[str, float]]:
        """ "Tracks people put with this one": the ``n`` keys of highest cosine, best first.

        Raises
        ------
        KeyError
            ``key`` is not in the vocabulary.
        """
        i = self.index[key]
        cosines = self.unit @ self.unit[i]
        cosines[i] = -np.inf
        order = np.argsort(-cosines, kind="stable")[:n]
        return [(self.keys[j], float(cosines[j])) for j in order]

    # -- files -------------------------------------------------------------------------------
    def save(self, base: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``<base>.npz`` and ``<base>.json`` (each to a temporary name, then renamed;
        the JSON last, so a reader never sees new JSON with old vectors)."""
        base = Path(base)
        base.parent.mkdir(parents=True, exist_ok=True)
        npz, meta_path = base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
        data = {
            "format": FORMAT,
            **self.meta,
            "keys": self.keys,
            "counts": [int(c) for c in self.counts],
            "fingerprint": self.fingerprint,
        }
        with replaced_atomically(os.fspath(npz), suffix=".npz") as tmp:
            np.savez(tmp, vectors=self.vectors)
        with replaced_atomically(os.fspath(meta_path), suffix=".json") as tmp:
            Path(tmp).write_bytes(json.dumps(data, ensure_ascii=False).encode())
        return npz, meta_path

    @classmethod
    def load(cls, base: str | os.PathLike) -> Track2Vec:
        """Read what :meth:`save` wrote (``base`` with or without ``.npz``/``.json``).

        Raises
        ------
        Track2VecError
            Missing or inconsistent files.
        """
        base = Path(base)
        if base.suffix in (".npz", ".json"):
            base = base.with_suffix("")
        npz, meta_path = base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
        try:
            data = json.loads(meta_path.read_text(encoding="utf-8"))
            with np.load(npz, allow_pickle=False) as z:
                vectors = z["vectors"]
        except (OSError, ValueError, KeyError) as error:
            raise Track2VecError(f"{base}: cannot read Track2Vec files ({error})") from error
        if data.get("format") != FORMAT:
            raise Track2VecError(f"{meta_path}: format {data.get('format')!r} is not {FORMAT}")
        keys = data.pop("keys")
        counts = data.pop("counts", None)
        fingerprint = data.pop("fingerprint", None)
        data.pop("format")
        try:
            model = cls(keys, vectors, counts=counts, meta=data)
        except ValueError as error:
            raise Track2VecError(f"{base}: {error}") from error
        if fingerprint and model.fingerprint != fingerprint:
            raise Track2VecError(f"{base}: vectors do not match their JSON (mixed files)")
        return model


#: Word updates :func:`auto_epochs` aims for: small corpora need many passes to move the
#: vectors away from their shared random start (30 passes over 700 playlist entries leave every
#: pair of tracks at cosine ~0.99; 100+ separate them).
TARGET_WORD_UPDATES = 100_000


def auto_epochs(n_words: int, floor: int = 15, ceiling: int = 200) -> int:
    """Word2Vec epochs for a corpus of ``n_words`` entries: ``TARGET_WORD_UPDATES / n_words``
    clipped to ``[floor, ceiling]`` (upstream's 15 for large corpora)."""
    return int(min(ceiling, max(floor, round(TARGET_WORD_UPDATES / max(1, n_words)))))


def train_track2vec(
    sentences: Sequence[Sequence[str]], params: Track2VecParams | None = None
) -> Track2Vec:
    """Train Track2Vec on sentences of track keys.

    Parameters
    ----------
    sentences : sequence of sequence of str
        Each an ordered list of track keys (a playlist, a session, an album).
    params : Track2VecParams, optional
        Defaults: upstream's.

    Returns
    -------
    Track2Vec

    Raises
    ------
    ValueError
        No track occurs ``min_count`` times (the vocabulary would be empty).
    """
    from gensim.models import Word2Vec

    params = params or Track2VecParams()
    sentences = [list(s) for s in sentences if len(s) >= 2]
    counts: dict[str, int] = {}
    for sentence in sentences:
        for key in sentence:
            counts[key] = counts.get(key, 0) + 1
    if not any(c >= params.min_count for c in counts.values()):
        raise ValueError(
            f"no track occurs {params.min_count} times in {len(sentences)} sentences "
            "(lower min_count, or give more playlists)"
        )
    if params.epochs is None:
        params = replace(params, epochs=auto_epochs(sum(len(s) for s in sentences)))
    model = Word2Vec(
        sentences=sentences,
        vector_size=params.dim,
        window=params.window,
        min_count=params.min_count,
        sg=params.sg,
        negative=params.negative,
        sample=params.sample,
        epochs=params.epochs,
        seed=params.seed,
        workers=params.workers,
    )
    keys = list(model.wv.index_to_key)
    vectors = np.asarray(model.wv.vectors, dtype=np.float32)
    meta = {"params": asdict(params), "sentences": len(sentences)}
    return Track2Vec(keys, vectors, counts=[counts[k] for k in keys], meta=meta)
