"""A DJ session: what was played, what comes next, and how the listener steers it.

Shared by the browser player (``beet deejai serve``) and the MPD radio (``beet deejai radio``).
It holds no audio and no library: only track ids, and it picks with the playlist functions of
:mod:`deejai_model.lists.playlists` (:func:`~.playlists.continue_playlist` for each next pick,
:func:`~.playlists.journey` for a journey, :func:`~.playlists.similar` for the neighbours a
"less like this" keeps out).

Steering, on top of "keep on" (``lookback``) and "drunk" (``noise``):

- *more like this* / *less like this*: the unit vectors of the liked tracks minus those of the
  disliked ones make a steering direction, which takes part in every next query with the
  weight of ``steer_weight`` times the tracks of the window (as much as all of them, by
  default);
- *less like this* also keeps the track and its ``avoid_neighbours`` nearest tracks out of the
  picks for the rest of the session;
- a skipped track stays out of the picks but no longer shapes the query.

This module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from deejai_model.lists.playlists import (
    DEFAULT_NEAR_DUPLICATE,
    NeighbourSearch,
    ScoreTransform,
    continue_playlist,
    journey,
    similar,
)
from deejai_model.lists.spacing import Spacer
from deejai_model.vectors.norms import unit_rows, unit_vector

#: The id of the steering direction inside the query window (never a track id).
STEER = ("deejai", "steer")
#: How many of the latest "more" / "less" verdicts make the steering direction.
STEER_MEMORY = 5


class _Vectors(Mapping):
    """The library's vectors plus the session's own (outside files, the steering direction)."""

    def __init__(self, library: Mapping, own: dict):
        self.library = library
        self.own = own

    def __getitem__(self, key: Hashable) -> np.ndarray:
        if key in self.own:
            return self.own[key]
        return self.library[key]

    def __contains__(self, key: object) -> bool:
        return key in self.own or key in self.library

    def __iter__(self) -> Iterator:
        yield from self.library
        yield from self.own

    def __len__(self) -> int:
        return len(self.library) + len(self.own)


class DjSession:
    """The state of one listening session.

    Parameters
    ----------
    search : NeighbourSearch
        The library's neighbour search.
    vectors_by_id : mapping
        Track id -> ``(dim,)`` vector of every library track.
    lookback : int
        "Keep on": how many of the latest played (and queued) tracks make the next query;
        0 = all of them.
    noise : float
        "Drunk": noise scale of :func:`~deejai_model.lists.playlists.continue_playlist` (0 = none).
    ahead : int
        How many tracks :attr:`queue` holds.
    avoid_neighbours : int
        How many nearest tracks of a "less like this" track are kept out with it.
    steer_weight : float
        Weight of the steering direction in a query, relative to the window: it enters as
        ``max(1, round(steer_weight * window length))`` unit vectors.
    near_duplicate : float
        Near-duplicate threshold (cosine distance; see
        :data:`~deejai_model.lists.playlists.DEFAULT_NEAR_DUPLICATE`).
    score_transform : ScoreTransform, optional
        Re-ranking of candidate pools (e.g. CSLS), as for the command-line playlists.
    rng : numpy Generator or int, optional
        Source of the noise.
    exclude : iterable of ids
        Tracks never picked (e.g. ones the player cannot reach).
    anchor_weight : float
        0..1: the share of every query that stays with the seeds of the last :meth:`start`
        (1 "stay" .. 0 "wander"; see :func:`~deejai_model.lists.playlists.continue_playlist`);
        the steering direction ("more / less like this") joins the seeds there, as much as
        they weigh, so the listener's verdicts move the station's home with it.
    vary : int
        Each pick is drawn among the best ``vary`` candidates (1: always the best).
    spacer : Spacer, optional
        Artist / album spacing over what was played, is queued and is picked.
    """

    def __init__(
        self,
        search: NeighbourSearch,
        vectors_by_id: Mapping[Hashable, np.ndarray],
        *,
        lookback: int = 3,
        noise: float = 0.0,
        ahead: int = 5,
        avoid_neighbours: int = 3,
        steer_weight: float = 1.0,
        near_duplicate: float = DEFAULT_NEAR_DUPLICATE,
        score_transform: ScoreTransform | None = None,
        rng: np.random.Generator | int | None = None,
        exclude: Iterable[Hashable] = (),
        anchor_weight: float = 0.0,
        vary: int = 1,
        spacer: Spacer | None = None,
    ):
        if lookback < 0 or noise < 0 or ahead < 0 or avoid_neighbours < 0:
            raise ValueError("lookback, noise, ahead and avoid_neighbours must be >= 0")
        self.search = search
        self._own: dict[Hashable, np.ndarray] = {}
        self.vectors = _Vectors(vectors_by_id, self._own)
        self.lookback = int(lookback)
        self.noise = float(noise)
        self.ahead = int(ahead)
        self.avoid_neighbours = int(avoid_neighbours)
        self.steer_weight = float(steer_weight)
        self.near_duplicate = near_duplicate
        self.score_transform = score_transform
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.played: list[Hashable] = []
        self.skipped: set[Hashable] = set()
        self.liked: list[Hashable] = []
        self.disliked: list[Hashable] = []
        self.avoided: set[Hashable] = set()
        self.queue: list[Hashable] = []
        self.never: set[Hashable] = set(exclude)
        if not 0.0 <= anchor_weight <= 1.0 or vary < 1:
            raise ValueError("anchor_weight must be in [0, 1] and vary >= 1")
        self.anchor_weight = float(anchor_weight)
        self.vary = int(vary)
        self.spacer = spacer
        self.anchor: np.ndarray | None = None
        #: Why each queued or played track was picked (``"seed"``, ``"journey step 2 of 5"``,
        #: ``"nearest to the last 3"``, ...), said by the code that picked it.
        self.why: dict[Hashable, str] = {}
        #: The planned route of the latest journey (ids, first to last), else empty.
        self.route: list[Hashable] = []
        self._outside = 0

    # -- starting ----------------------------------------------------------------------------
    def add_outside(self, vector: np.ndarray) -> Hashable:
        """Register the vector of a track outside the library; returns its (negative) id."""
        self._outside += 1
        key = -self._outside
        self._own[key] = np.asarray(vector, dtype=np.float32).reshape(-1)
        return key

    def start(self, seeds: Sequence[Hashable]) -> None:
        """Forget the session and start again from ``seeds`` (played, in order).

        Outside-file seeds (ids from :meth:`add_outside`) shape the picks but are not tracks to
        play.  A new start forgets the steering ("more" / "less") too.
        """
        seeds = list(seeds)
        if not seeds:
            raise ValueError("a session needs at least one seed")
        for seed in seeds:
            if seed not in self.vectors:
                raise KeyError(f"no vector for track {seed!r}")
        self._forget()
        self.played = seeds
        self.anchor = np.sum([unit_vector(self.vectors[s]) for s in seeds], axis=0)
        self.why.update({seed: "seed" for seed in seeds})
        self.refill()

    def _forget(self) -> None:
        self.played, self.queue, self.skipped = [], [], set()
        self.liked, self.disliked, self.avoided = [], [], set()
        self.why, self.route = {}, []

    def start_journey(self, waypoints: Sequence[Hashable], n_per_leg: int) -> None:
        """Start a journey: the first waypoint is played, the rest of the journey is queued.

        After the last waypoint the session keeps going as usual (a new start: the steering is
        forgotten).
        """
        path = journey(
            self.search,
            self.vectors,
            waypoints=list(waypoints),
            n_per_leg=n_per_leg,
            near_duplicate=self.near_duplicate,
            exclude=self.never - set(waypoints),
            score_transform=self.score_transform,
            spacer=self.spacer,
        )
        self._forget()
        self.anchor = None  # a journey goes somewhere else on purpose
        self.played = path[:1]
        self.queue = path[1:]
        self.route = list(path)
        steps = len(path) - 1
        self.why[path[0]] = "journey start"
        for step, track in enumerate(path[1:], 1):
            self.why[track] = f"journey step {step} of {steps}"
        self.refill()

    # -- what is playing and what comes next -----------------------------------------------
    @property
    def current(self) -> Hashable | None:
        """The track playing now (the latest played library track), or None."""
        for track in reversed(self.played):
            if track not in self._own:
                return track
        return None

    def picks(
        self, n: int, pending: Sequence[Hashable] = (), exclude: Iterable[Hashable] = ()
    ) -> list[Hashable]:
        """The next ``n`` picks after the played tracks and ``pending`` (tracks already queued).

        Each pick queries with the last ``lookback`` tracks of played (not skipped) + pending +
        picks so far, plus the steering direction, with the session's noise; it is never a
        track played, pending, avoided, picked before or in ``exclude`` (e.g. anywhere in a
        player's queue).
        """
        context = [t for t in self.played if t not in self.skipped] + list(pending)
        if not context:
            context = list(self.played[-1:])
        if not context:
            return []
        exclude = set(self.played) | set(pending) | set(exclude) | self.avoided | self.never
        steer = self._steer()
        anchor = self.anchor
        if anchor is not None and steer is not None:  # "more / less like this" moves home too
            anchor = unit_vector(anchor) + unit_vector(self._own[STEER])
        out: list[Hashable] = []
        for _ in range(n):
            recent = context + out
            window = recent[-self.lookback :] if self.lookback else recent
            seeds = list(window)
            if steer is not None:  # the direction weighs ``steer_weight`` of the window
                seeds += [steer] * max(1, int(round(self.steer_weight * len(window))))
            found = continue_playlist(
                self.search,
                self.vectors,
                seeds=seeds,
                n=1,
                lookback=0,
                noise=self.noise,
                rng=self.rng,
                near_duplicate=self.near_duplicate,
                exclude=exclude | set(out),
                score_transform=self.score_transform,
                spacer=self.spacer,
                before=recent[: len(recent) - len(window)],
                anchor=anchor,
                anchor_weight=self.anchor_weight,
                vary=self.vary,
            )
            if not found:
                break
            out.append(found[0])
            self.why[found[0]] = self._reason(len(window), steer is not None)
        return out

    def _reason(self, window: int, steered: bool) -> str:
        """Why a pick was made, in words: its query window, steering and noise."""
        words = [f"nearest to the last {window}" if window > 1 else "nearest to the last one"]
        if steered:
            words.append("steered by more / less like this")
        if self.noise > 0:
            words.append(f"drunk {self.noise:g}")
        return ", ".join(words)

    def refill(self) -> None:
        """Top :attr:`queue` up to ``ahead`` tracks (what is queued already stays)."""
        self.queue = [t for t in self.queue if t not in self.avoided or t in self.played]
        missing = self.ahead - len(self.queue)
        if missing > 0:
            self.queue += self.picks(missing, pending=self.queue)

    def remove(self, track: Hashable) -> None:
        """Take ``track`` out of the queue; it is not picked again this session (until a new
        start)."""
        if track not in self.queue:
            raise KeyError(f"track {track!r} is not queued")
        self.queue.remove(track)
        self.avoided.add(track)
        self.refill()

    def move(self, track: Hashable, position: int) -> None:
        """Move a queued track to ``position`` in the queue (0 = next; clipped to the queue)."""
        if track not in self.queue:
            raise KeyError(f"track {track!r} is not queued")
        self.queue.remove(track)
        self.queue.insert(max(0, min(int(position), len(self.queue))), track)

    def requeue(self) -> None:
        """Pick the whole queue again (after the controls or the steering changed)."""
        self.queue = []
        self.refill()

    def advance(self, skipped: bool = False) -> Hashable | None:
        """Move to the next track: the current one ends (or is ``skipped``); returns the new one.

        Returns None when the library has nothing left to play.
        """
        if skipped and self.current is not None:
            self.skipped.add(self.current)
        if not self.queue:
            self.refill()
        if not self.queue:
            return None
        track = self.queue.pop(0)
        self.played.append(track)
        self.refill()
        return track

    def record_played(self, track: Hashable, skipped: bool = False) -> None:
        """Note a track the player played on its own (the radio: MPD decides what plays)."""
        if track not in self.vectors:
            return
        if not self.played or self.played[-1] != track:
            self.played.append(track)
        if track in self.queue:
            self.queue.remove(track)
        if skipped:
            self.skipped.add(track)

    # -- controls and steering -------------------------------------------------------------
    def set_controls(self, lookback: int | None = None, noise: float | None = None) -> None:
        """Change "keep on" and/or "drunk"; the queue is picked again with them."""
        if lookback is not None:
            if lookback < 0:
                raise ValueError("lookback must be >= 0")
            self.lookback = int(lookback)
        if noise is not None:
            if noise < 0:
                raise ValueError("noise must be >= 0")
            self.noise = float(noise)
        self.requeue()

    def more_like(self, track: Hashable) -> None:
        """Steer the following picks towards ``track``."""
        self._verdict(track, self.liked, self.disliked)
        self.requeue()

    def less_like(self, track: Hashable) -> None:
        """Steer away from ``track``; it and its nearest tracks are no longer picked."""
        self._verdict(track, self.disliked, self.liked)
        near = similar(
            self.search,
            self.vectors[track],
            n=self.avoid_neighbours,
            exclude=[track],
            score_transform=self.score_transform,
        )
        self.avoided |= {track, *(n.id for n in near)}
        self.requeue()

    def _verdict(self, track: Hashable, into: list, other: list) -> None:
        if track not in self.vectors:
            raise KeyError(f"no vector for track {track!r}")
        if track in other:
            other.remove(track)
        if track in into:
            into.remove(track)
        into.append(track)
        del into[:-STEER_MEMORY]

    def _steer(self) -> Hashable | None:
        """Put the steering direction into the session's vectors; its id, or None if none."""
        if not self.liked and not self.disliked:
            self._own.pop(STEER, None)
            return None
        direction = np.zeros_like(unit_vector(self.vectors[(self.liked or self.disliked)[0]]))
        for track in self.liked:
            direction += unit_vector(self.vectors[track])
        for track in self.disliked:
            direction -= unit_vector(self.vectors[track])
        if not np.any(direction):
            self._own.pop(STEER, None)
            return None
        self._own[STEER] = direction.astype(np.float32)
        return STEER


def match_beginnings(
    clip_slices: np.ndarray, beginnings: Mapping[Hashable, np.ndarray], n: int = 5
) -> list[tuple[Hashable, float]]:
    """Library tracks whose beginnings sound most like a short clip (e.g. a microphone take).

    Parameters
    ----------
    clip_slices : np.ndarray
        ``(m, dim)`` slice vectors of the clip.
    beginnings : mapping
        Track id -> ``(k, dim)`` vectors of the track's first ``k`` slices.
    n : int
        How many tracks.

    Returns
    -------
    list of (id, cosine)
        Best first: the cosine of the clip's mean slice to the track's mean beginning slice.
    """
    clip = np.asarray(clip_slices, dtype=np.float64)
    if clip.ndim != 2 or clip.shape[0] == 0:
        raise ValueError("the clip needs at least one (dim,) slice vector")
    query = unit_vector(clip.mean(axis=0))
    keys = list(beginnings)
    if not keys:
        return []
    starts = unit_rows(
        np.stack([np.asarray(beginnings[k], np.float64).mean(axis=0) for k in keys]), np.float64
    )
    if starts.shape[1] != query.shape[0]:
        raise ValueError(f"clip has dim {query.shape[0]}, beginnings {starts.shape[1]}")
    cosines = starts @ query
    order = np.argsort(-cosines, kind="stable")[:n]
    return [(keys[i], float(cosines[i])) for i in order]
