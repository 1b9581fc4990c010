"""Configuration of the deejai plugin: defaults and a typed, validated view of them.

Nothing here imports numpy, TensorFlow or the model library: reading the configuration must stay
cheap because every ``beet`` command loads the plugin.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import confuse

if TYPE_CHECKING:
    from deejai_model.vectors.pooling import Pooler

#: Defaults of ``deejai.train`` (documented in docs/plugin.md).
TRAIN_DEFAULTS: dict[str, object] = {
    "playlists": [],  # M3U files/folders (default: playlist/smartplaylist plugins' playlist_dir)
    "history": [],  # listening-history exports
    "million_playlists": "",  # a Million Playlist Dataset folder
    "albums": "auto",  # yes | no | auto (albums when fewer than min_playlists sentences matched)
    "min_playlists": 20,
    "output": "",  # bundle directory; default <library folder>/deejai-ears
    "dim": 100,  # Track2Vec (upstream: CBOW, 100, window 2; see docs/plugin.md for the rest)
    "window": 2,
    "min_count": 1,  # upstream 10 (for 240k playlists)
    "word2vec_epochs": "auto",  # auto: 15 (upstream) .. 200 passes, more for small corpora
    "sample": 0.0,  # upstream 1e-3 (in a small library every track is "frequent")
    "epochs": 200,  # most head epochs (early stopping ends sooner)
}


#: Defaults of the ``deejai:`` section of the beets configuration (documented in docs/plugin.md).
DEFAULTS: dict[str, object] = {
    "model": "",  # bundle directory or shipped bundle name; empty = the shipped default
    "pooling": "meanstd",  # slice vectors -> track vector: "meanstd" | "mean" | "tfidf"
    "epsilon": 0.001,  # TF-IDF: two slices are "the same word" below this cosine distance
    "near_duplicate": 0.001,  # lists: a track this close (cosine distance) to one in it is skipped
    "auto": True,  # embed items as they are imported
    "max_slices": 8,  # slices per track, spread over it (0: every slice, as upstream)
    "workers": 2,  # decoding threads
    "batch_size": 64,  # slices gathered from several tracks per run of the network (Embedder)
    "index_trees": 50,  # Annoy trees
    "exact_below": 5000,  # libraries up to this size are searched exactly (brute force)
    "search_k": 0,  # Annoy: nodes inspected per query (0: max(10000, items / 10))
    "adapt": True,  # learn a label-free projection from the library's own slices (adapt.py)
    "adapt_dims": 64,  # directions the projection keeps
    "learn_from_library": True,  # albums/playlists/plays supervise the ears (docs/learned-ears.md)
    "contrastive_head": False,  # a non-linear head learned from the slices (docs/learned-ears.md)
    "normalize": "center",  # "center": subtract the library mean before cosine | "none"
    "hubness": "none",  # "csls": penalise hubs by their neighbourhood radius | "none"
    "hubness_k": 10,  # neighbours that define an item's CSLS radius
    "playlist_dir": None,  # where a relative ``-o FILE`` goes (None: playlist.playlist_dir, ".")
    "relative_to": "playlist",  # M3U paths: "playlist" (its folder) | "library" | "absolute" | dir
    "commit_every": 8,  # embed: commit after this many tracks
    "track2vec": "",  # Track2Vec files (base path); empty = <library folder>/deejai.track2vec
    "dask": "",  # embed on the Dask scheduler at this address (docs/cluster.md); empty = here
    "path_map": [],  # embed --dask: "LOCAL=WORKER" folder prefixes where workers see the files
    "train": TRAIN_DEFAULTS,  # `beet deejai train` (train.py)
    "lists": {  # how lists listen back (docs/lists.md)
        "artist_gap": 2,  # no artist twice among any N consecutive tracks: 2 = not in a row
        "album_max": 3,  # at most 3 tracks of one album in a list (0: off)
        "album_window": 20,  # the radio and the DJ page count the album cap over this many
        "same_title": True,  # the same artist's same title (a remaster, a live take): once
        "anchor": 0.5,  # continuation: share of each query that stays on the seed (0..1)
        "vary": 3,  # radio / DJ page: draw each pick among this many of the best (1: the best)
        "skip_weight": 0.1,  # cosine an always-skipped track loses (mpdstats' skip_count)
        "record_plays": True,  # radio / DJ page write play_count, skip_count, last_played
    },
    "mix": {  # ``beet deejai mix`` (docs/plugin.md, "mix")
        "crossfade": 6.0,  # seconds of each equal-power crossfade (0: gapless cut)
        "loudness": -14.0,  # LUFS (EBU R128 integrated) each track is brought to
        "ceiling": -1.0,  # dBTP: the mix's look-ahead true-peak limiter level
        "bitrate": 0,  # kb/s of a lossy output (0: the format's default)
        "sample_rate": 44100,  # Hz of the mix
        "beat_align": False,  # line up beats at joins (librosa); measured in docs/benchmarks.md
    },
}

#: The pooling kinds (``deejai_model.vectors.pooling.POOLINGS``, repeated here so that reading the
#: configuration imports nothing heavy; a test checks that the two agree).
POOLINGS = ("meanstd", "mean", "tfidf")
NORMALIZATIONS = ("center", "none")
HUBNESS = ("csls", "none")


@dataclass(frozen=True)
class TrainSettings:
    """``deejai.train`` (:data:`TRAIN_DEFAULTS`), validated.

    ``albums`` is True, False or None (``auto``: any value but yes or no); ``word2vec_epochs``
    None means ``auto``; the paths (``playlists``, ``history``, ``million_playlists``,
    ``output``) are absolute (read as beets reads paths), ``million_playlists`` and ``output``
    ``""`` when unset.
    """

    playlists: tuple[str, ...]
    history: tuple[str, ...]
    million_playlists: str
    albums: bool | None
    min_playlists: int
    output: str
    dim: int
    window: int
    min_count: int
    word2vec_epochs: int | None
    sample: float
    epochs: int

    @classmethod
    def from_view(cls, view: confuse.ConfigView) -> TrainSettings:
        """Read and validate the ``deejai.train`` view (raises :class:`confuse.ConfigError`)."""
        albums = view["albums"].get()
        albums = bool(albums) if albums in (True, False) else None  # anything else: auto
        epochs = view["word2vec_epochs"].get()
        if epochs in ("auto", None):
            epochs = None
        else:
            epochs = _whole_number(epochs)
            if epochs is None:
                raise confuse.ConfigValueError(
                    "deejai.train.word2vec_epochs must be a whole number or auto, not "
                    f"{view['word2vec_epochs'].get()!r}"
                )
        return cls(
            playlists=_path_list(view["playlists"]),
            history=_path_list(view["history"]),
            million_playlists=_filename(view["million_playlists"]),
            albums=albums,
            min_playlists=view["min_playlists"].get(int),
            output=_filename(view["output"]),
            dim=view["dim"].get(int),
            window=view["window"].get(int),
            min_count=view["min_count"].get(int),
            word2vec_epochs=epochs,
            sample=float(view["sample"].as_number()),
            epochs=view["epochs"].get(int),
        )


@dataclass(frozen=True)
class MixSettings:
    """``deejai.mix``, validated: the sound of ``beet deejai mix`` (docs/plugin.md, "mix").

    Attributes
    ----------
    crossfade : float
        Seconds of each equal-power crossfade (>= 0).
    loudness : float
        LUFS each track is brought to.
    ceiling : float
        dBTP: the highest true peak.
    bitrate : int
        kb/s of a lossy output (0: the format's default).
    sample_rate : int
        Hz of the mix.
    beat_align : bool
        Line up beats at the joins.
    """

    crossfade: float
    loudness: float
    ceiling: float
    bitrate: int
    sample_rate: int
    beat_align: bool

    @classmethod
    def from_view(cls, view: confuse.ConfigView) -> MixSettings:
        """Read and validate the ``deejai.mix`` view (raises :class:`confuse.ConfigError`)."""
        crossfade = float(view["crossfade"].as_number())
        if crossfade < 0:
            raise confuse.ConfigValueError("deejai.mix.crossfade must be >= 0")
        sample_rate = view["sample_rate"].get(int)
        if sample_rate <= 0:
            raise confuse.ConfigValueError("deejai.mix.sample_rate must be > 0")
        return cls(
            crossfade=crossfade,
            loudness=float(view["loudness"].as_number()),
            ceiling=float(view["ceiling"].as_number()),
            bitrate=max(0, view["bitrate"].get(int)),
            sample_rate=sample_rate,
            beat_align=view["beat_align"].get(bool),
        )


@dataclass(frozen=True)
class ListSettings:
    """``deejai.lists``, validated: how lists listen back (docs/lists.md).

    Attributes
    ----------
    artist_gap : int
        No artist twice among any ``artist_gap`` consecutive tracks (0 or 1: off).
    album_max : int
        At most this many tracks of one album in a list (0: off).
    album_window : int
        The radio and the DJ page count ``album_max`` over their last this many tracks.
    same_title : bool
        The same artist's same title counts as a repeat.
    anchor : float
        0..1: share of each continuation query that stays on the seed ("stay" 1, "wander" 0).
    vary : int
        The radio and the DJ page draw each pick among this many of the best (1: always the
        best; ``playlist`` stays reproducible: always the best).
    skip_weight : float
        Cosine an always-skipped track loses (>= 0).
    record_plays : bool
        The radio and the DJ page record plays and skips as mpdstats does.
    """

    artist_gap: int
    album_max: int
    album_window: int
    same_title: bool
    anchor: float
    vary: int
    skip_weight: float
    record_plays: bool

    @classmethod
    def from_view(cls, view: confuse.ConfigView) -> ListSettings:
        """Read and validate the ``deejai.lists`` view (raises :class:`confuse.ConfigError`)."""
        numbers = {}
        for key in ("artist_gap", "album_max", "album_window", "vary"):
            number = _whole_number(view[key].get())
            if number is None:
                raise confuse.ConfigValueError(f"deejai.lists.{key} must be a whole number >= 0")
            numbers[key] = number
        anchor = float(view["anchor"].as_number())
        if not 0.0 <= anchor <= 1.0:
            raise confuse.ConfigValueError(f"deejai.lists.anchor must be in [0, 1], not {anchor}")
        skip_weight = float(view["skip_weight"].as_number())
        if skip_weight < 0:
            raise confuse.ConfigValueError("deejai.lists.skip_weight must be >= 0")
        return cls(
            artist_gap=numbers["artist_gap"],
            album_max=numbers["album_max"],
            album_window=max(1, numbers["album_window"]),
            same_title=view["same_title"].get(bool),
            anchor=anchor,
            vary=max(1, numbers["vary"]),
            skip_weight=skip_weight,
            record_plays=view["record_plays"].get(bool),
        )


@dataclass(frozen=True)
class Settings:
    """The plugin's configuration, validated: every ``deejai:`` key is read here, once.

    Attributes mirror :data:`DEFAULTS`; ``model`` is an absolute path (a shipped bundle's name
    is resolved to its directory) or ``""``, and so is ``track2vec``.  The nested sections
    :attr:`train` and :attr:`mix` are read and checked when first used (then kept): a mistake
    in one stops only the action that uses it (``train``, ``mix``), not ``ls`` or ``embed``.
    """

    model: str
    pooling: str
    epsilon: float
    near_duplicate: float
    auto: bool
    max_slices: int
    workers: int
    batch_size: int
    index_trees: int
    exact_below: int
    search_k: int
    adapt: bool
    adapt_dims: int
    learn_from_library: bool
    contrastive_head: bool
    normalize: str
    hubness: str
    hubness_k: int
    playlist_dir: str
    relative_to: str
    commit_every: int
    track2vec: str
    #: ``embed`` on this Dask scheduler (``""``: here) and the ``LOCAL=WORKER`` path prefixes
    dask: str
    path_map: tuple[str, ...]
    #: the ``deejai`` view, for the sections read on first use (not compared: two settings
    #: are equal when their top-level values are)
    _view: confuse.ConfigView = field(compare=False, repr=False)

    @classmethod
    def from_view(cls, view: confuse.ConfigView) -> Settings:
        """Read and validate the ``deejai`` configuration view.

        Raises
        ------
        confuse.ConfigError
            When a value has the wrong type or is not one of the allowed choices.
        """
        model = _model_dir(view["model"])
        epsilon = float(view["epsilon"].as_number())
        if not 0.0 < epsilon < 2.0:
            raise confuse.ConfigValueError(f"deejai.epsilon must be in (0, 2), got {epsilon}")
        near_duplicate = float(view["near_duplicate"].as_number())
        if not 0.0 <= near_duplicate < 2.0:
            raise confuse.ConfigValueError(
                f"deejai.near_duplicate must be in [0, 2), got {near_duplicate}"
            )
        max_slices = view["max_slices"].get(int)
        if max_slices < 0:
            raise confuse.ConfigValueError("deejai.max_slices must be >= 0")
        return cls(
            model=model,
            pooling=view["pooling"].as_choice(POOLINGS),
            epsilon=epsilon,
            near_duplicate=near_duplicate,
            auto=view["auto"].get(bool),
            max_slices=max_slices,
            workers=max(1, view["workers"].get(int)),
            batch_size=max(1, view["batch_size"].get(int)),
            index_trees=max(1, view["index_trees"].get(int)),
            exact_below=max(0, view["exact_below"].get(int)),
            search_k=view["search_k"].get(int),
            normalize=view["normalize"].as_choice(NORMALIZATIONS),
            hubness=view["hubness"].as_choice(HUBNESS),
            hubness_k=max(1, view["hubness_k"].get(int)),
            playlist_dir=_playlist_dir(view),
            relative_to=view["relative_to"].get(str),
            commit_every=max(1, view["commit_every"].get(int)),
            adapt=view["adapt"].get(bool),
            adapt_dims=max(1, view["adapt_dims"].get(int)),
            learn_from_library=view["learn_from_library"].get(bool),
            contrastive_head=view["contrastive_head"].get(bool),
            track2vec=_filename(view["track2vec"]),
            dask=view["dask"].get(str),
            path_map=tuple(view["path_map"].as_str_seq()),
            _view=view,
        )

    @cached_property
    def train(self) -> TrainSettings:
        """``deejai.train``, read and checked on first use (raises
        :class:`confuse.ConfigError`)."""
        return TrainSettings.from_view(self._view["train"])

    @cached_property
    def lists(self) -> ListSettings:
        """``deejai.lists``, read and checked on first use (raises :class:`confuse.ConfigError`)."""
        return ListSettings.from_view(self._view["lists"])

    @cached_property
    def mix(self) -> MixSettings:
        """``deejai.mix``, read and checked on first use (raises :class:`confuse.ConfigError`)."""
        return MixSettings.from_view(self._view["mix"])

    def pooler(self) -> Pooler:
        """The :class:`deejai_model.vectors.pooling.Pooler` these settings configure (imports
        numpy)."""
        from deejai_model.vectors.pooling import Pooler

        return Pooler(
            kind=self.pooling,
            adapt=self.adapt,
            adapt_dims=self.adapt_dims,
            epsilon=self.epsilon,
            center=self.normalize == "center",
            supervise=self.learn_from_library,
            contrast=self.contrastive_head,
        )

    def index_signature(self) -> dict[str, object]:
        """The settings an index depends on: a change in any of them forces a rebuild."""
        return {
            "pooler": self.pooler().settings(),
            "hubness": self.hubness,
            "hubness_k": self.hubness_k,
            "index_trees": self.index_trees,
        }


def shipped_bundle_dir(name: str) -> str | None:
    """The directory of the bundle shipped with ``deejai_model`` under ``name`` (e.g.
    ``musicnn_fused_light``) when ``name`` is a plain name (no folder) of a shipped bundle."""
    if not name or os.sep in name or name.startswith("."):
        return None
    from deejai_model.ears.shipped import bundle_by_name  # cheap: JSON and paths only

    found = bundle_by_name(name)
    return os.fspath(found) if found is not None else None


def _model_dir(view: confuse.ConfigView) -> str:
    """``deejai.model`` resolved once, as beets resolves paths (:func:`_filename`): that path
    when it exists, else the shipped bundle of that name, else the path (``""``: unset)."""
    name = view.get(str) or ""
    if not name:
        return ""
    resolved = view.as_filename()
    if os.path.exists(resolved):
        return resolved
    return shipped_bundle_dir(name) or resolved


def _whole_number(value: object) -> int | None:
    """``value`` as an int >= 0 when it is a whole number (``30``, ``30.0``, ``"30"``), else
    None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        return None
    return number if number >= 0 else None


def _filename(view: confuse.ConfigView) -> str:
    """A path setting read as beets reads paths (:meth:`confuse.ConfigView.as_filename`): ``~``
    expanded; a relative path from a configuration file (``config.yaml``, or ``-c FILE``: not
    that file's folder) taken from beets' configuration directory (``$BEETSDIR``, else that of
    ``beet config -p``), one set without a file from the current folder.  ``""`` when empty."""
    return view.as_filename() if view.get() else ""


def _path_list(view: confuse.ConfigView) -> tuple[str, ...]:
    """A setting that is one path or a list of them, each read as :func:`_filename` reads one
    (empty: ``()``)."""
    value = view.get()
    if not value:
        return ()
    if isinstance(value, str):
        return (view.as_filename(),)
    return tuple(element.as_filename() for element in view.sequence())


def _playlist_dir(view: confuse.ConfigView) -> str:
    """``deejai.playlist_dir``; unset: the ``playlist`` plugin's ``playlist_dir``, else ``"."``.

    Relative paths are read as beets reads them (:meth:`confuse.ConfigView.as_filename`).
    """
    for candidate in (view["playlist_dir"], view.root()["playlist"]["playlist_dir"]):
        if candidate.exists() and candidate.get() is not None:
            return candidate.as_filename()
    return "."
