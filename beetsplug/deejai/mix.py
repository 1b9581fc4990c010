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

from beets import ui, util
from beets.ui import UserError

if TYPE_CHECKING:
    from beets.library import Item

    from deejai_model.mix import MixOptions, MixTrack

    from .session import LibrarySession

USAGE = (
    "%prog [options] SEED...  -o MIX.mp3\n\n"
    "Each SEED is a query or a file. Mixes exactly the seeds in order, or with --between N a\n"
    "journey of N tracks between each pair, with --journey (A B [--via C]) a journey, with\n"
    "--playlist a continued playlist. The extension of -o picks the format: "
    "mp3, m4a, ogg, opus, flac, wav."
)


def parser() -> optparse.OptionParser:
    """Options of ``beet deejai mix``."""
    parser = ui.CommonOptionsParser(prog="beet deejai mix", usage=USAGE)
    parser.add_option("-o", "--output", help="the mix file to write (its extension: the format)")
    parser.add_option("--tracks", metavar="FILE", help="more seeds: a text file or M3U, one a line")
    parser.add_option(
        "--between", type="int", default=0, metavar="N", help="N journey tracks between each pair"
    )
    parser.add_option("--journey", action="store_true", help="mix a journey from A to B")
    parser.add_option("--via", action="append", default=[], help="a journey waypoint (repeatable)")
    parser.add_option("--playlist", action="store_true", help="mix a playlist continued from SEEDs")
    parser.add_option(
        "-n",
        "--count",
        dest="n",
        type="int",
        help="journey: tracks per leg [8]; playlist: tracks added [20]",
    )
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
    folder = os.path.dirname(os.fsdecode(util.normpath(path)))
    seeds = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        candidate = os.path.join(folder, os.path.expanduser(line))
        seeds.append(candidate if os.path.isfile(candidate) else line)
    return seeds


def mix_options(session: LibrarySession, opts: optparse.Values) -> MixOptions:
    """The sound settings: config ``deejai.mix``, overridden by the command line."""
    from deejai_model.mix import MixOptions

    config = session.settings.mix
    crossfade = config.crossfade if opts.crossfade is None else opts.crossfade
    if crossfade < 0:
        raise UserError("deejai mix: --crossfade must be >= 0")
    loudness = config.loudness if opts.loudness is None else opts.loudness
    beat_align = config.beat_align if opts.beat_align is None else True
    if beat_align:
        from deejai_model.extras import MissingExtraError, require_extra

        try:
            require_extra("beats", "deejai mix --beat-align")
        except MissingExtraError as error:
            raise UserError(str(error)) from None
    return MixOptions(
        sample_rate=config.sample_rate,
        target_lufs=float(loudness),
        ceiling_dbtp=config.ceiling,
        crossfade=float(crossfade),
        kbps=config.bitrate or None,
        beat_align=beat_align,
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
    return MixTrack(os.fsdecode(util.normpath(path)), artist, title)


def chosen_tracks(
    session: LibrarySession, opts: optparse.Values, words: list[str]
) -> tuple[list[MixTrack], list]:
    """The tracks to mix, in order, and their library items (None for outside files)."""
    seeds_text: list[str] = list(words)
    if opts.tracks:
        seeds_text += read_track_file(opts.tracks)
    if opts.journey:
        if len(seeds_text) != 2:
            raise UserError("deejai mix --journey: two seeds are needed: A B")
        seeds = [session.seed(seeds_text[0]), *(session.seed(v) for v in opts.via)]
        seeds.append(session.seed(seeds_text[1]))
        keys = session.journey_ids(seeds, 8 if opts.n is None else opts.n)
    elif opts.playlist:
        if not seeds_text:
            raise UserError("deejai mix --playlist: at least one seed is needed")
        seeds = [session.seed(w) for w in seeds_text]
        keys = [s.key for s in seeds]
        keys += session.playlist_ids(seeds, 20 if opts.n is None else opts.n)
    elif opts.between:
        if len(seeds_text) < 2:
            raise UserError("deejai mix --between: two seeds or more are needed")
        seeds = [session.seed(w) for w in seeds_text]
        keys = session.journey_ids(seeds, opts.between)
    else:
        if not seeds_text:
            raise UserError("deejai mix: the tracks to mix are needed (SEED... or --tracks FILE)")
        found = [session.lookup(w) for w in seeds_text]
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
            item = session.lib.get_item(int(key))
            tracks.append(_item_track(item))
            items.append(item)
    return tracks, items


def with_excerpts(
    session: LibrarySession, tracks: list[MixTrack], items: list, *, length: float
) -> list:
    """``tracks`` cut to ``length`` seconds each, where they sound most like their neighbours."""
    import dataclasses

    from deejai_model.ears.audio import probe_duration
    from deejai_model.ears.frontend import FrontEnd
    from deejai_model.errors import AudioError
    from deejai_model.mix.excerpt import SliceTimes, excerpt_offsets

    if length <= 0:
        raise UserError("deejai mix: --excerpt must be > 0 seconds")
    model_id = session.query_model_id()  # the index's model (an earlier default's, maybe)
    slice_seconds = FrontEnd.from_manifest(session.query_manifest().frontend).slice_seconds
    ids = [item.id for item in items if item is not None]
    stored = session.store.slice_times(model_id, ids) if ids else {}
    index = session.index() if stored else None
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
    offsets = excerpt_offsets(
        times,
        length=length,
        slice_seconds=slice_seconds,
        durations=durations,
    )
    return [
        dataclasses.replace(t, offset=offset, duration=length)
        for t, offset in zip(tracks, offsets, strict=True)
    ]


def run(session: LibrarySession, opts: optparse.Values, words: list[str]) -> None:
    """``beet deejai mix``: mix the chosen tracks into ``-o`` (or print them: ``--dry-run``)."""
    from deejai_model.mix import plan_mix, render_mix
    from deejai_model.mix.encode import output_format
    from deejai_model.mix.render import MixError, side_paths
    from deejai_model.mix.tracklist import clock

    from .importer import Progress

    if not opts.dry_run:
        if not opts.output:
            raise UserError("deejai mix: -o MIX.mp3 is needed (or --dry-run)")
        opts.output = os.fsdecode(util.normpath(opts.output))
        try:
            output_format(opts.output)
        except ValueError as error:
            raise UserError(f"deejai mix: {error}") from error
        from .checks import prepare_output_file  # missing folders made as for `-o` playlists

        opts.output = os.fsdecode(prepare_output_file("mix", opts.output, log=session.log))
    options = mix_options(session, opts)
    tracks, items = chosen_tracks(session, opts, words)
    if opts.excerpt is not None:
        tracks = with_excerpts(session, tracks, items, length=opts.excerpt)

    meter = Progress(len(tracks))
    log = session.log

    def failed(error) -> None:
        log.warning("mix: leaving out {}", error)  # the logger says "deejai: "
        meter.step()

    def placed(_entry) -> None:
        meter.step()

    on_error = None if opts.strict else failed
    try:
        if opts.dry_run:
            result = plan_mix(tracks, options, on_error=on_error, progress=placed)
        else:
            result = render_mix(
                tracks, opts.output, options=options, on_error=on_error, progress=placed
            )
    except MixError as error:
        raise UserError(f"deejai mix: {error}") from error
    except KeyboardInterrupt:
        raise UserError("deejai mix: interrupted; nothing was written") from None
    finally:
        meter.close()
    for entry in result.entries:
        ui.print_(f"{clock(entry.start):>7}  {entry.track.label}")
    count = len(result.entries)
    summary = f"deejai mix: {count} track{'' if count == 1 else 's'}, {clock(result.duration)}" + (
        f", {len(result.skipped)} left out" if result.skipped else ""
    )
    if opts.dry_run:
        print(summary + " (dry run: nothing written)", file=sys.stderr)
    else:
        cue, text = side_paths(opts.output)
        print(f"{summary}: wrote {opts.output} ({cue}, {text})", file=sys.stderr)
