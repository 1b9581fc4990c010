"""``beet deejai mix``: render seeds, a journey or a playlist into one continuous audio file.

What is mixed:

- ``SEED...``: exactly these, in order (queries or files); ``--tracks FILE`` adds the lines of
  a text file or M3U (a path, relative to the file's folder, or a query per line);
- ``--between N``: N generated tracks between each consecutive pair (a journey per leg);
- ``--journey`` (``A B``, ``--via C``) and ``--playlist`` (``SEED... -n K``): what
  ``beet deejai journey`` / ``playlist`` would print.

The rendering itself is :func:`deejai_model.mix.render_mix`; this module turns beets items
into :class:`~deejai_model.mix.MixTrack` and reports progress and failures the beets way.
"""

from __future__ import annotations

import optparse
import os
import sys
from typing import TYPE_CHECKING

from beets import ui
from beets.ui import UserError

if TYPE_CHECKING:
    from beets.library import Item

    from deejai_model.mix import MixOptions, MixTrack

    from .commands import Actions

USAGE = (
    "%prog [options] SEED...  -o MIX.mp3\n\n"
    "Each SEED is a query or a file. Mixes exactly the seeds in order, or with --between N a\n"
    "journey of N tracks between each pair, with --journey (A B [--via C]) a journey, with\n"
    "--playlist a continued playlist. The extension of -o picks the format: "
    "mp3, m4a, ogg, opus, flac, wav."
)


def _parser(n_default_help: str) -> optparse.OptionParser:
    parser = optparse.OptionParser(prog="beet deejai mix", usage=USAGE)
    parser.add_option("-o", "--output", help="the mix file to write (its extension: the format)")
    parser.add_option("--tracks", metavar="FILE", help="more seeds: a text file or M3U, one a line")
    parser.add_option(
        "--between", type="int", default=0, metavar="N", help="N journey tracks between each pair"
    )
    parser.add_option("--journey", action="store_true", help="mix a journey from A to B")
    parser.add_option("--via", action="append", default=[], help="a journey waypoint (repeatable)")
    parser.add_option("--playlist", action="store_true", help="mix a playlist continued from SEEDs")
    parser.add_option("-n", "--count", dest="n", type="int", help=n_default_help)
    parser.add_option(
        "--excerpt",
        type="float",
        metavar="SECONDS",
        help="use this much of each track: the part that sounds most like its neighbours",
    )
    parser.add_option("--crossfade", type="float", metavar="SECONDS", help="[config mix.crossfade]")
    parser.add_option("--loudness", type="float", metavar="LUFS", help="[config mix.loudness]")
    parser.add_option(
        "--beat-align",
        action="store_true",
        default=None,
        help="line up the beats at each join where both tracks have a clear, compatible beat "
        "[config mix.beat_align]",
    )
    parser.add_option("--dry-run", action="store_true", help="print the tracklist, write nothing")
    parser.add_option("--strict", action="store_true", help="stop at a track that cannot be read")
    return parser


def read_track_file(path: str) -> list[str]:
    """The seeds a ``--tracks`` file lists: one a line; ``#`` lines (M3U tags) are skipped.

    A line naming an existing file (absolute, or relative to the list's folder, as in M3U)
    becomes that path; any other line is a beets query.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise UserError(f"deejai mix: cannot read {path}: {error.strerror}") from error
    text = raw.decode("utf-8-sig", errors="surrogateescape")
    folder = os.path.dirname(os.path.abspath(path))
    seeds = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        candidate = os.path.join(folder, os.path.expanduser(line))
        seeds.append(candidate if os.path.isfile(candidate) else line)
    return seeds


def mix_options(actions: Actions, opts) -> MixOptions:
    """The sound settings: config ``deejai.mix``, overridden by the command line."""
    from deejai_model.mix import MixOptions

    view = actions.plugin.config["mix"]
    crossfade = view["crossfade"].as_number() if opts.crossfade is None else opts.crossfade
    if crossfade < 0:
        raise UserError("deejai mix: --crossfade must be >= 0")
    loudness = view["loudness"].as_number() if opts.loudness is None else opts.loudness
    return MixOptions(
        sample_rate=int(view["sample_rate"].get(int)),
        target_lufs=float(loudness),
        ceiling_dbtp=float(view["ceiling"].as_number()),
        crossfade=float(crossfade),
        kbps=int(view["bitrate"].get(int)) or None,
        beat_align=bool(view["beat_align"].get(bool) if opts.beat_align is None else True),
    )


def _item_track(item: Item) -> MixTrack:
    from deejai_model.mix import MixTrack

    return MixTrack(os.fsdecode(item.path), item.artist or "", item.title or "")


def _file_track(path: str) -> MixTrack:
    """A file outside the library, named by its tags (or its file name when it has none)."""
    from mediafile import FileTypeError, MediaFile, UnreadableFileError

    from deejai_model.mix import MixTrack

    artist = title = ""
    try:
        tags = MediaFile(path)
        artist, title = tags.artist or "", tags.title or ""
    except (FileTypeError, UnreadableFileError, OSError):
        pass  # not a tagged audio file: the render says what is wrong with it
    title = title or os.path.splitext(os.path.basename(path))[0]
    return MixTrack(os.path.abspath(path), artist, title)


def chosen_tracks(actions: Actions, opts, words: list[str]) -> tuple[list[MixTrack], list]:
    """The tracks to mix, in order, and their library items (None for outside files)."""
    seeds_text: list[str] = list(words)
    if opts.tracks:
        seeds_text += read_track_file(opts.tracks)
    if opts.journey:
        if len(seeds_text) != 2:
            raise UserError("deejai mix --journey: two seeds are needed: A B")
        seeds = [actions.seed(seeds_text[0]), *(actions.seed(v) for v in opts.via)]
        seeds.append(actions.seed(seeds_text[1]))
        keys = actions.journey_ids(seeds, 8 if opts.n is None else opts.n)
    elif opts.playlist:
        if not seeds_text:
            raise UserError("deejai mix --playlist: at least one seed is needed")
        seeds = [actions.seed(w) for w in seeds_text]
        keys = [s.key for s in seeds]
        keys += actions.playlist_ids(seeds, 20 if opts.n is None else opts.n)
    elif opts.between:
        if len(seeds_text) < 2:
            raise UserError("deejai mix --between: two seeds or more are needed")
        seeds = [actions.seed(w) for w in seeds_text]
        keys = actions.journey_ids(seeds, opts.between)
    else:
        if not seeds_text:
            raise UserError("deejai mix: the tracks to mix are needed (SEED... or --tracks FILE)")
        found = [actions.lookup(w) for w in seeds_text]
        return (
            [_file_track(f) if isinstance(f, str) else _item_track(f) for f in found],
            [None if isinstance(f, str) else f for f in found],
        )
    outside = {s.key: s.label for s in seeds if s.item is None}
    tracks, items = [], []
    for key in keys:
        if key in outside:
            tracks.append(_file_track(outside[key]))
            items.append(None)
        else:
            item = actions.lib.get_item(int(key))
            tracks.append(_item_track(item))
            items.append(item)
    return tracks, items


def _slice_seconds(bundle_path: str) -> float:
    """Seconds one slice of the bundle spans (from its manifest; nothing heavy is loaded)."""
    import json

    from deejai_model.ears.frontend import FrontEnd

    with open(os.path.join(bundle_path, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    return FrontEnd.from_manifest(manifest["frontend"]).slice_seconds


def with_excerpts(actions: Actions, tracks: list[MixTrack], items: list, length: float) -> list:
    """``tracks`` cut to ``length`` seconds each, where they sound most like their neighbours."""
    import dataclasses

    from deejai_model.ears.audio import probe_duration
    from deejai_model.errors import AudioError
    from deejai_model.mix.excerpt import SliceTimes, excerpt_offsets

    if length <= 0:
        raise UserError("deejai mix: --excerpt must be > 0 seconds")
    from .upgrade import shipped_bundle

    model = actions.plugin.model()
    model_id = actions.query_model_id()  # the index's model (an earlier default's, maybe)
    # whose manifest gives the slice length: the current bundle's if an earlier one is gone
    bundle_path = model.path if model_id == model.model_id else shipped_bundle(model_id)
    ids = [item.id for item in items if item is not None]
    stored = actions.store.slice_times(model_id, ids) if ids else {}
    index = actions.index() if stored else None
    times: list[SliceTimes | None] = []
    durations: list[float] = []
    for track, item in zip(tracks, items, strict=True):
        row = stored.get(item.id) if item is not None else None
        if row is None:
            times.append(None)
            try:
                durations.append(probe_duration(track.path))
            except AudioError:
                durations.append(0.0)  # the render reports it
            continue
        starts, slices, duration = row
        times.append(SliceTimes(starts, index.pooler.project(slices), float(duration)))
        durations.append(float(duration))
    offsets = excerpt_offsets(times, length, _slice_seconds(bundle_path or model.path), durations)
    return [
        dataclasses.replace(t, offset=offset, duration=length)
        for t, offset in zip(tracks, offsets, strict=True)
    ]


def mix_command(actions: Actions, args: list[str]) -> None:
    """Run ``beet deejai mix ARGS``."""
    from deejai_model.mix import plan_mix, render_mix
    from deejai_model.mix.encode import output_format
    from deejai_model.mix.render import MixError, side_paths
    from deejai_model.mix.tracklist import clock

    from .importer import Progress

    parser = _parser("journey: tracks per leg [8]; playlist: tracks added [20]")
    opts, words = parser.parse_args(args)
    if not opts.dry_run:
        if not opts.output:
            raise UserError("deejai mix: -o MIX.mp3 is needed (or --dry-run)")
        opts.output = os.path.abspath(os.path.expanduser(opts.output))
        try:
            output_format(opts.output)
        except ValueError as error:
            raise UserError(f"deejai mix: {error}") from error
        if not os.path.isdir(os.path.dirname(opts.output)):
            raise UserError(f"deejai mix: no such folder: {os.path.dirname(opts.output)}")
    options = mix_options(actions, opts)
    tracks, items = chosen_tracks(actions, opts, words)
    if opts.excerpt is not None:
        tracks = with_excerpts(actions, tracks, items, opts.excerpt)

    meter = Progress(len(tracks))
    log = actions.log

    def failed(error) -> None:
        log.warning("mix: leaving out {}", error)  # the logger says "deejai: "
        meter.step()

    def placed(_entry) -> None:
        meter.step()

    on_error = None if opts.strict else failed
    try:
        if opts.dry_run:
            result = plan_mix(tracks, options, on_error, placed)
        else:
            result = render_mix(tracks, opts.output, options, on_error, placed)
    except MixError as error:
        raise UserError(f"deejai mix: {error}") from error
    except KeyboardInterrupt:
        raise UserError("deejai mix: interrupted; nothing was written") from None
    finally:
        meter.close()
    for entry in result.entries:
        ui.print_(f"{clock(entry.start):>7}  {entry.track.label}")
    summary = f"deejai mix: {len(result.entries)} tracks, {clock(result.duration)}" + (
        f", {len(result.skipped)} left out" if result.skipped else ""
    )
    if opts.dry_run:
        print(summary + " (dry run: nothing written)", file=sys.stderr)
    else:
        cue, text = side_paths(opts.output)
        print(f"{summary}: wrote {opts.output} ({cue}, {text})", file=sys.stderr)
