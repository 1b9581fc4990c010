"""Playlists from track vectors: similar tracks, journeys through waypoints, continuation.

Everything compares vectors by cosine. The neighbour search is behind a small protocol
(:class:`NeighbourSearch`) so the exact :class:`BruteForceSearch` here and an approximate
index (Annoy, in the beets plugin) are interchangeable. Track ids are opaque hashable
values (beets item ids, paths...).

Differences from upstream Deej-A.I. (on purpose):

- journeys blend a leg's two ends with weights that sum to 1 (spherical interpolation of
  the unit vectors), so each waypoint sits exactly at the end of its leg and no track
  repeats; upstream's weights sum to ``(n + 2) / n``;
- continuation sums *unit* vectors, and its noise has a scale that does not depend on the
  dimension (see :func:`continue_playlist`).

This module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol

import numpy as np

from deejai_model.lists.spacing import Spacer, space_ranked
from deejai_model.vectors.norms import unit_rows, unit_vector

__all__ = [
    "DEFAULT_HUBNESS_K",
    "DEFAULT_NEAR_DUPLICATE",
    "BruteForceSearch",
    "CslsTransform",
    "Neighbour",
    "NeighbourSearch",
    "ScoreTransform",
    "continue_playlist",
    "csls_scores",
    "hubness_radii",
    "journey",
    "similar",
    "slerp",
]

DEFAULT_NEAR_DUPLICATE = 0.001
"""Cosine distance under which a candidate is a near-duplicate of a track already in the list
(the same recording twice, say) and is skipped.  Not MP3ToVec's TF-IDF closeness
(:data:`deejai_model.vectors.mp3tovec.DEFAULT_EPSILON`), though the number is the same."""

DEFAULT_HUBNESS_K = 10
"""Neighbours that define a track's CSLS radius (:func:`hubness_radii`)."""

ScoreTransform = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``(query, candidate_ids, candidate_cosines) -> scores``, higher is better.

Applied to a pool of candidates from the search (sorted by cosine, best first) before the
pick; :class:`CslsTransform` is one (hubness correction)."""

#: How many candidates a spaced pick looks through for one that keeps the soft rules (artist
#: gap, album cap) before they give way (:class:`~deejai_model.lists.spacing.Spacer`).
SPACING_LOOKAHEAD = 200

#: The dimension "drunk" noise is calibrated on (:func:`continue_playlist`): the 128-d track
#: vectors of the first default (mean and spread of 64 adapted directions). Per component the
#: noise's scale is set against it, so a given ``noise`` moves the rankings by as much with the
#: 384-d track vectors of the three-network default as it did with those.
NOISE_REFERENCE_DIM = 128


class NeighbourSearch(Protocol):
    """Anything that finds the tracks nearest to a vector by cosine distance."""

    def nearest(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(ids, distances)`` of up to ``k`` tracks, cosine distance ascending.

        Cosine distance is ``1 - cos`` (0 = same direction, 2 = opposite). Fewer than ``k``
        results means there are no more tracks.
        """
        ...


class Neighbour(NamedTuple):
    """One result of :func:`similar`: a track id and its cosine distance to the query."""

    id: Hashable
    distance: float


class BruteForceSearch:
    """Exact cosine search over all vectors (fine up to ~1e5 tracks).

    Parameters
    ----------
    ids : sequence
        One id per vector. An integer array (beets item ids) is kept as int64, so results
        come back as int64 arrays; any other ids as an object array.
    vectors : np.ndarray
        ``(n, dim)`` track vectors; they need not be normalised. An all-zero vector has
        cosine 0 to everything (distance 1).
    """

    def __init__(self, ids: Sequence[Hashable] | np.ndarray, vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(ids) != vectors.shape[0]:
            raise ValueError(f"need one (dim,) vector per id: {len(ids)} ids, {vectors.shape}")
        if isinstance(ids, np.ndarray) and ids.dtype.kind in "iu":
            self.ids = ids.astype(np.int64)
        else:
            self.ids = np.empty(len(ids), dtype=object)
            self.ids[:] = list(ids)
        self._units = unit_rows(vectors)

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """See :meth:`NeighbourSearch.nearest`; ties are broken by insertion order."""
        k = max(0, min(int(k), len(self.ids)))
        q = unit_vector(query).astype(np.float32)
        if q.shape[0] != self._units.shape[1]:
            raise ValueError(f"query has dim {q.shape[0]}, index {self._units.shape[1]}")
        dist = 1.0 - self._units @ q
        if k < len(dist):
            part = np.argpartition(dist, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
        else:
            part = np.arange(len(dist))
        order = part[np.lexsort((part, dist[part]))]
        return self.ids[order], dist[order].astype(np.float64)


def hubness_radii(vectors: np.ndarray, k: int = DEFAULT_HUBNESS_K, block: int = 2048) -> np.ndarray:
    """Mean cosine of each vector to its ``k`` nearest other vectors (CSLS's ``r``).

    Parameters
    ----------
    vectors : np.ndarray
        ``(n, dim)`` track vectors.
    k : int
        Neighbourhood size (capped at ``n - 1``).
    block : int
        Most rows per blocked product; fewer when ``n`` is large, so that one block holds
        at most 2**24 similarities (64 MiB).

    Returns
    -------
    np.ndarray
        ``(n,)`` float64; 0 when ``n < 2``.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    n = vectors.shape[0]
    k = min(k, n - 1)
    out = np.zeros(n)
    if k < 1:
        return out
    units = unit_rows(vectors)
    block = max(1, min(block, (1 << 24) // n))
    for a in range(0, n, block):
        sims = units[a : a + block] @ units.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + a] = -np.inf  # not its own neighbour
        top = np.partition(sims, n - k, axis=1)[:, n - k :]
        out[a : a + block] = top.mean(axis=1)
    return out


def csls_scores(
    cosines: np.ndarray, r_query: float | np.ndarray, r_items: np.ndarray
) -> np.ndarray:
    """Cross-domain similarity local scaling: ``2 cos(q, x) - r(q) - r(x)``.

    Hubs (tracks near everything) have a large ``r`` and are pushed down.

    Parameters
    ----------
    cosines : np.ndarray
        Cosines of the query to the candidates.
    r_query : float or np.ndarray
        Mean cosine of the query to its ``k`` nearest tracks.
    r_items : np.ndarray
        Mean cosine of each candidate to its ``k`` nearest tracks (:func:`hubness_radii`).

    Returns
    -------
    np.ndarray
        Scores, higher is better.
    """
    return 2.0 * np.asarray(cosines) - r_query - np.asarray(r_items)


class CslsTransform:
    """A :data:`ScoreTransform` applying :func:`csls_scores` to candidate pools.

    ``r(q)`` is taken as the mean cosine of the query to its first ``k`` candidates (the
    pool is sorted by cosine), which is exact when the pool is at least ``k`` long.

    Parameters
    ----------
    ids : sequence or np.ndarray
        Track ids of the library, of one sortable kind (item ids, paths...). Looked up by
        binary search, so no per-track dict is built; an array already sorted (as the
        plugin's index ids are) is used as it is.
    radii : np.ndarray
        ``(n,)`` :func:`hubness_radii` of the same tracks, same order.
    k : int
        The neighbourhood size the radii were computed with.

    Candidates that are not among ``ids`` (e.g. a file outside the library) get radius 0.
    """

    def __init__(
        self, ids: Sequence[Hashable] | np.ndarray, radii: np.ndarray, k: int = DEFAULT_HUBNESS_K
    ):
        ids = np.asarray(ids)
        radii = np.asarray(radii, dtype=np.float64)
        if ids.shape != radii.shape:
            raise ValueError(f"need one radius per id: {ids.shape} ids, {radii.shape} radii")
        if len(ids) > 1 and not np.all(ids[1:] > ids[:-1]):
            order = np.argsort(ids, kind="stable")
            ids, radii = ids[order], radii[order]
        self.ids, self.radii = ids, radii
        self.k = k

    def radii_of(self, ids: np.ndarray) -> np.ndarray:
        """Radius of each of ``ids``: ``(len(ids),)`` float64, 0 for unknown ids."""
        ids = np.asarray(ids)
        if not len(self.ids) or not len(ids):
            return np.zeros(len(ids))
        pos = np.clip(np.searchsorted(self.ids, ids), 0, len(self.ids) - 1)
        return np.where(self.ids[pos] == ids, self.radii[pos], 0.0)

    def __call__(self, query: np.ndarray, ids: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        r_query = float(np.mean(cosines[: self.k])) if len(cosines) else 0.0
        return csls_scores(cosines, r_query, self.radii_of(ids))


def _ranked(
    search: NeighbourSearch,
    query: np.ndarray,
    excluded: set,
    want: int,
    score_transform: ScoreTransform | None,
    pool: int,
) -> Iterable[tuple[Hashable, float]]:
    """Yield ``(id, distance)`` best first, skipping ``excluded``, asking for more as needed.

    The search is asked for ``k`` candidates; when they are used up (all excluded or
    consumed by the caller) it is asked again for twice as many, until it returns fewer
    than asked. With a score transform each fetched pool is re-ranked by its scores, so
    ``pool`` is how far down the cosine ranking the transform reaches at first.
    """
    k = max(want + len(excluded), pool if score_transform else 0, 1)
    yielded: set = set()
    while True:
        ids, dist = search.nearest(query, k)
        order = np.arange(len(ids))
        if score_transform is not None and len(ids):
            scores = np.asarray(score_transform(query, ids, 1.0 - np.asarray(dist)))
            order = np.lexsort((order, -scores))
        for pos in order:
            track = ids[pos]
            if track not in excluded and track not in yielded:
                yielded.add(track)
                yield track, float(dist[pos])
        if len(ids) < k:
            return
        k *= 2


def similar(
    search: NeighbourSearch,
    vector: np.ndarray,
    *,
    n: int,
    exclude: Iterable[Hashable] = (),
    score_transform: ScoreTransform | None = None,
    pool: int = 100,
    spacer: Spacer | None = None,
) -> list[Neighbour]:
    """The ``n`` tracks nearest to a vector.

    Parameters
    ----------
    search : NeighbourSearch
        The library.
    vector : np.ndarray
        ``(dim,)`` query (e.g. a track's vector, or the sum of several tracks' unit vectors).
    n : int
        How many tracks.
    exclude : iterable of ids
        Tracks never returned (e.g. the query track itself).
    score_transform : ScoreTransform, optional
        Re-ranks a pool of ``max(pool, n + len(exclude))`` candidates (e.g. CSLS).
    pool : int
        Candidate pool size when re-ranking.
    spacer : Spacer, optional
        Artist / album spacing and the same song twice
        (:func:`~deejai_model.lists.spacing.space_ranked` over the best ``n +
        SPACING_LOOKAHEAD`` candidates; the query track is not part of the list).

    Returns
    -------
    list of Neighbour
        ``(id, cosine distance)``, best first; fewer than ``n`` if the library is smaller.
    """
    out: list[Neighbour] = []
    if n <= 0:
        return out
    want = n if spacer is None else n + SPACING_LOOKAHEAD
    exclude = list(exclude)
    for track, dist in _ranked(search, vector, set(exclude), want, score_transform, pool):
        out.append(Neighbour(track, dist))
        if len(out) == want:
            break
    if spacer is not None:
        distance = dict(out)
        kept = space_ranked([t for t, _ in out], spacer, n=n)
        out = [Neighbour(t, distance[t]) for t in kept]
    return out


class _Playlist:
    """Ids (in order) and unit vectors of the tracks used so far, with the near-duplicate test
    and the spacing (:class:`~deejai_model.lists.spacing.Spacer`)."""

    def __init__(
        self,
        vectors_by_id: Mapping,
        near_duplicate: float,
        spacer: Spacer | None = None,
        before: Sequence[Hashable] = (),
    ):
        self.vectors_by_id = vectors_by_id
        self.threshold = near_duplicate
        self.spacer = spacer
        self.ids: set = set()
        self.order: list = list(before)  # what the spacing sees: earlier tracks, then these
        self.later: list = []  # tracks known to come later (a journey's waypoints): no repeats
        self.units: list[np.ndarray] = []

    def unit(self, track: Hashable) -> np.ndarray:
        try:
            return unit_vector(self.vectors_by_id[track])
        except KeyError:
            raise ValueError(f"no vector for track {track!r}") from None

    def add(self, track: Hashable) -> None:
        self.ids.add(track)
        self.order.append(track)
        self.units.append(self.unit(track))

    def near_duplicate(self, track: Hashable) -> bool:
        if not self.units:
            return False
        cos = np.stack(self.units) @ self.unit(track)
        return bool(np.max(cos) > 1.0 - self.threshold)

    def pick(
        self,
        search: NeighbourSearch,
        query: np.ndarray,
        exclude: set,
        score_transform: ScoreTransform | None,
        pool: int,
        *,
        vary: int = 1,
        rng: np.random.Generator | None = None,
        coming: tuple[Hashable, int] | None = None,
    ) -> Hashable | None:
        """Best candidate not used, not excluded, not a near-duplicate and kept by the spacing;
        None if none.

        With ``vary > 1``, one of the best ``vary`` such candidates, drawn by ``rng``.
        ``coming`` (``(id, places)``: a journey's next waypoint) is kept apart by the artist
        gap.  When no candidate among the first ``SPACING_LOOKAHEAD`` keeps the spacing's soft
        rules, the best one that keeps the album cap, else the best that is no repeat of a song
        (they give way).
        """
        skip = self.ids | exclude
        spacer = self.spacer
        allowed: list[Hashable] = []
        fallback = [None, None]  # keeps the album cap; keeps only the hard rule
        seen = 0
        for track, _ in _ranked(search, query, skip, vary, score_transform, pool):
            if track not in self.vectors_by_id or self.near_duplicate(track):
                continue
            if spacer is not None:
                if spacer.repeats(track, self.order) or spacer.repeats(track, self.later):
                    continue
                seen += 1
                if fallback[1] is None:
                    fallback[1] = track
                if not spacer.allows(track, self.order, coming=coming):
                    if fallback[0] is None and spacer.allows(track, self.order, relax_artist=True):
                        fallback[0] = track
                    if seen >= SPACING_LOOKAHEAD and not allowed:
                        break
                    continue
            allowed.append(track)
            if len(allowed) >= max(1, vary):
                break
        if not allowed:
            return fallback[0] if fallback[0] is not None else fallback[1]
        if len(allowed) == 1 or rng is None:
            return allowed[0]
        return allowed[int(rng.integers(len(allowed)))]


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between the unit vectors of ``a`` and ``b``.

    Parameters
    ----------
    a, b : np.ndarray
        ``(dim,)`` vectors (normalised here).
    t : float
        0 gives ``a``'s direction, 1 gives ``b``'s.

    Returns
    -------
    np.ndarray
        ``(dim,)`` unit vector (float64). Falls back to the normalised linear blend
        ``(1 - t) a + t b`` when the two are (nearly) parallel or opposite.
    """
    ua, ub = unit_vector(a), unit_vector(b)
    cos = float(np.clip(ua @ ub, -1.0, 1.0))
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:
        blend = (1.0 - t) * ua + t * ub
        return unit_vector(blend) if np.linalg.norm(blend) > 0 else ua
    return (np.sin((1.0 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)


def journey(
    search: NeighbourSearch,
    vectors_by_id: Mapping[Hashable, np.ndarray],
    *,
    waypoints: Sequence[Hashable],
    n_per_leg: int,
    near_duplicate: float = DEFAULT_NEAR_DUPLICATE,
    exclude: Iterable[Hashable] = (),
    score_transform: ScoreTransform | None = None,
    pool: int = 100,
    spacer: Spacer | None = None,
) -> list[Hashable]:
    """A playlist that travels from waypoint to waypoint.

    Between two consecutive waypoints ``A`` and ``B`` it places ``n_per_leg`` tracks: for
    step ``i = 1..n`` the target is ``slerp(A, B, i / (n + 1))`` and the pick is the
    nearest track to the target that is not a waypoint, not used yet, not excluded and not
    a near-duplicate (cosine > ``1 - near_duplicate``) of a track in the playlist so far.

    Parameters
    ----------
    search : NeighbourSearch
        The library.
    vectors_by_id : mapping
        Track id -> vector, for the waypoints and any candidate the search returns.
    waypoints : sequence of ids
        At least one. Each appears exactly at the end of its leg (a waypoint given twice
        appears twice).
    n_per_leg : int
        Tracks strictly between two waypoints.
    near_duplicate : float
        Near-duplicate threshold on cosine distance (:data:`DEFAULT_NEAR_DUPLICATE`).
    exclude : iterable of ids
        Tracks never picked (e.g. upstream skips tracks of 10 minutes or more).
    score_transform : ScoreTransform, optional
        Re-ranks each candidate pool (e.g. :class:`CslsTransform`).
    pool : int
        Candidate pool size when re-ranking.
    spacer : Spacer, optional
        Artist / album spacing of the picks (the waypoints are kept as given; no pick is
        another version of any waypoint, one still to come included).

    Returns
    -------
    list of ids
        ``W1, (n tracks), W2, (n tracks), ..., Wm``; a leg is shorter when the library runs
        out of tracks.
    """
    waypoints = list(waypoints)
    if not waypoints:
        return []
    playlist = _Playlist(vectors_by_id, near_duplicate, spacer)
    for w in waypoints:
        playlist.unit(w)  # fail early on a waypoint without a vector
    playlist.later = waypoints  # no other version of a waypoint on the way to it
    reserved = set(waypoints) | set(exclude)
    out = [waypoints[0]]
    playlist.add(waypoints[0])
    for a, b in zip(waypoints[:-1], waypoints[1:], strict=True):
        va, vb = vectors_by_id[a], vectors_by_id[b]
        for i in range(1, n_per_leg + 1):
            target = slerp(va, vb, i / (n_per_leg + 1))
            ahead = (b, n_per_leg + 1 - i)  # b comes this many places after this pick
            track = playlist.pick(search, target, reserved, score_transform, pool, coming=ahead)
            if track is None:
                break
            out.append(track)
            playlist.add(track)
        out.append(b)
        playlist.add(b)
    return out


def continue_playlist(
    search: NeighbourSearch,
    vectors_by_id: Mapping[Hashable, np.ndarray],
    *,
    seeds: Sequence[Hashable],
    n: int,
    lookback: int = 3,
    noise: float = 0.0,
    rng: np.random.Generator | int | None = None,
    near_duplicate: float = DEFAULT_NEAR_DUPLICATE,
    exclude: Iterable[Hashable] = (),
    score_transform: ScoreTransform | None = None,
    pool: int = 100,
    spacer: Spacer | None = None,
    before: Sequence[Hashable] = (),
    anchor: np.ndarray | None = None,
    anchor_weight: float = 0.0,
    vary: int = 1,
) -> list[Hashable]:
    """Extend a playlist by ``n`` tracks ("keep on" = ``lookback``, "drunk" = ``noise``).

    Each step queries with ``q`` = the sum of the unit vectors of the last ``lookback``
    tracks of the playlist so far (seeds and picks), plus gaussian noise, and picks the
    nearest track not in the playlist, not excluded and not a near-duplicate of one in it.

    With an ``anchor`` (the station's seed, say), every step's query is
    ``(1 - anchor_weight) * unit(window) + anchor_weight * unit(anchor)`` before the noise:
    the list keeps coming back to the anchor's neighbourhood (1 = "stay", 0 = "wander", as
    without an anchor).  With ``vary > 1`` each pick is drawn (by ``rng``) among the best
    ``vary`` candidates, so that the same start does not give the same chain every time.

    Parameters
    ----------
    search : NeighbourSearch
        The library.
    vectors_by_id : mapping
        Track id -> vector for the seeds and any candidate the search returns.
    seeds : sequence of ids
        The playlist so far (at least one track).
    n : int
        Tracks to add.
    lookback : int
        How many of the latest tracks make the query; 0 = the whole playlist so far.
    noise : float
        Noise scale, with the same effect on the ranking whatever the dimension: each component
        gets gaussian noise with ``sigma = noise * |q| / sqrt(NOISE_REFERENCE_DIM)``, so the
        noisy query's dot product with any unit track vector moves by ``noise * |q| / sqrt(128)``
        (one standard deviation) -- for 128-d track vectors, a noise vector of length about
        ``noise * |q|``. 0 = deterministic; 0.3 wanders a little; 1 = noise as large as the
        signal in 128 dimensions (upstream's ``sigma = noise * |q|`` per component makes its
        0.1 already about as large as the signal over 100 dimensions).
    rng : numpy Generator or int, optional
        Source of the noise; an int seeds a new generator. Same seed, same playlist.
    near_duplicate : float
        Near-duplicate threshold on cosine distance (:data:`DEFAULT_NEAR_DUPLICATE`).
    exclude : iterable of ids
        Tracks never picked.
    score_transform : ScoreTransform, optional
        Re-ranks each candidate pool (e.g. :class:`CslsTransform`).
    pool : int
        Candidate pool size when re-ranking.
    spacer : Spacer, optional
        Artist / album spacing and the same song twice, over ``before`` + seeds + picks.
    before : sequence of ids
        Earlier tracks of the list that count for the spacing only (not for the query).
    anchor : np.ndarray, optional
        ``(dim,)`` direction that keeps a weight in every step.
    anchor_weight : float
        0..1: the anchor's share of each query (0: no anchor).
    vary : int
        Draw each pick among the best ``vary`` candidates (1: the best, deterministic).

    Returns
    -------
    list of ids
        The new tracks only, in order (fewer than ``n`` if the library runs out).
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("continue_playlist needs at least one seed track")
    if lookback < 0 or noise < 0:
        raise ValueError("lookback and noise must be >= 0")
    if not 0.0 <= anchor_weight <= 1.0 or vary < 1:
        raise ValueError("anchor_weight must be in [0, 1] and vary >= 1")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    playlist = _Playlist(vectors_by_id, near_duplicate, spacer, before)
    for s in seeds:
        playlist.add(s)
    history = list(playlist.units)
    excluded = set(exclude)
    anchor_unit = unit_vector(anchor) if anchor is not None and anchor_weight > 0 else None
    added: list[Hashable] = []
    for _ in range(n):
        recent = history[-lookback:] if lookback else history
        query = np.sum(recent, axis=0)
        if anchor_unit is not None:
            query = (1.0 - anchor_weight) * unit_vector(query) + anchor_weight * anchor_unit
        if noise > 0:
            sigma = noise * np.linalg.norm(query) / np.sqrt(NOISE_REFERENCE_DIM)
            query = query + gen.normal(0.0, sigma, size=query.shape)
        track = playlist.pick(search, query, excluded, score_transform, pool, vary=vary, rng=gen)
        if track is None:
            break
        added.append(track)
        playlist.add(track)
        history.append(playlist.units[-1])
    return added
