"""Training trained ears end to end, without beets: ``python -m deejai_model.learn.train``.

The steps shared with ``beet deejai train`` (:mod:`beetsplug.deejai.train`) live here:
:func:`gather_sentences` (sources matched to a catalogue, albums added when asked or when too
few playlists matched) and :func:`fit` (Track2Vec, then the head on base slice vectors).

From the command line, a folder of audio files is the catalogue (tags read with mediafile;
the folder a file is in is its album), embedded with the base bundle (cached beside the output,
so an interrupted run resumes), and the result is a head bundle::

    python -m deejai_model.learn.train MUSIC_DIR --playlists PLAYLISTS_DIR -O ears/
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deejai_model.files import replaced_atomically
from deejai_model.learn.sentences import Catalogue, CatalogueTrack, MatchReport, read_sources

AUDIO_EXTENSIONS = (".mp3", ".flac", ".ogg", ".opus", ".m4a", ".wav", ".aiff", ".wma", ".ape")


@dataclass
class Sentences:
    """Matched sentences as track keys, and how they were found."""

    keys: list[list[str]]
    report: MatchReport
    albums: int

    def line(self) -> str:
        return f"{self.report.line()}; {self.albums} album sentences"


def gather_sentences(
    catalogue: Catalogue,
    *,
    playlists: Sequence[str | os.PathLike] = (),
    histories: Sequence[str | os.PathLike] = (),
    million_playlists: str | os.PathLike | None = None,
    albums: bool | None = None,
    min_playlists: int = 20,
    warn: Callable[[str], None] | None = None,
) -> Sentences:
    """Read the sources, match them to ``catalogue`` and add album sentences.

    Parameters
    ----------
    albums : bool or None
        Add the catalogue's albums as sentences; None: only when fewer than
        ``min_playlists`` playlists/sessions matched.
    warn : callable, optional
        Gets one line per unreadable source.
    """
    report = MatchReport()
    sources = read_sources(
        playlists, histories, million_playlists=million_playlists, report=report, warn=warn
    )
    matched, report = catalogue.match_sentences(sources, report)
    if albums is None:
        albums = report.sentences < min_playlists
    album_sentences = catalogue.album_sentences() if albums else []
    keys = [[t.key for t in s] for s in matched + album_sentences]
    return Sentences(keys, report, len(album_sentences))


def fit(
    sentences: Sequence[Sequence[str]],
    *,
    slices_by_id: dict,
    key_by_id: dict,
    t2v_params=None,
    head_params=None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: Callable[[int, dict], None] | None = None,
):
    """Track2Vec from ``sentences``, then the head from the base slices of the tracks in its
    vocabulary.

    Parameters
    ----------
    sentences : sequence of sequence of str
        Track keys.
    slices_by_id : dict id -> (n_slices, base_dim) array
        Base slice vectors.
    key_by_id : dict id -> str
        Each track's key.
    t2v_params : Track2VecParams, optional
        ``epochs=None`` picks :func:`deejai_model.learn.track2vec.auto_epochs`.

    Returns
    -------
    (Track2Vec, keras.Model, HeadReport, list of ids trained on)

    Raises
    ------
    ValueError
        Empty vocabulary, or fewer than two embedded tracks in it.
    """
    from deejai_model.learn.head import train_head
    from deejai_model.learn.track2vec import train_track2vec

    t2v = train_track2vec(sentences, t2v_params)
    ids = [i for i in slices_by_id if key_by_id.get(i) in t2v and len(slices_by_id[i])]
    if len(ids) < 2:
        raise ValueError(
            f"only {len(ids)} embedded track(s) are in Track2Vec's vocabulary; 2 are needed"
        )
    model, report = train_head(
        [slices_by_id[i] for i in ids],
        np.stack([t2v.vector(key_by_id[i]) for i in ids]),
        params=head_params,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
    )
    return t2v, model, report, ids


def fit_speccy(
    sentences: Sequence[Sequence[str]],
    *,
    path_by_id: dict,
    key_by_id: dict,
    t2v_params=None,
    params=None,
    weights: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: Callable[[int, dict], None] | None = None,
    warn: Callable[[str], None] | None = None,
):
    """Track2Vec from ``sentences``, then Speccy from the mel slices of the tracks in its
    vocabulary (decoded here; see :mod:`deejai_model.learn.train_speccy`).

    Returns
    -------
    (Track2Vec, keras.Model, HeadReport, list of ids trained on)
    """
    from deejai_model.learn.track2vec import train_track2vec
    from deejai_model.learn.train_speccy import speccy_slices, train_speccy

    t2v = train_track2vec(sentences, t2v_params)
    wanted = [i for i in path_by_id if key_by_id.get(i) in t2v]
    mel = speccy_slices([path_by_id[i] for i in wanted], warn=warn)
    ids = [i for i in wanted if path_by_id[i] in mel]
    if len(ids) < 2:
        raise ValueError(f"only {len(ids)} decodable track(s) are in Track2Vec's vocabulary")
    model, report = train_speccy(
        [mel[path_by_id[i]] for i in ids],
        np.stack([t2v.vector(key_by_id[i]) for i in ids]),
        params=params,
        weights=weights,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
    )
    return t2v, model, report, ids


# --------------------------------------------------------------------------- command line


def folder_catalogue(folder: str | os.PathLike) -> Catalogue:
    """Audio files under ``folder`` (sorted), tags read with mediafile; album = parent folder."""
    from mediafile import MediaFile, UnreadableFileError

    tracks = []
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix.lower() not in AUDIO_EXTENSIONS or not path.is_file():
            continue
        artist = title = mbid = None
        try:
            tags = MediaFile(os.fspath(path))
            artist, title, mbid = tags.artist, tags.title, tags.mb_trackid
        except (UnreadableFileError, OSError) as error:
            print(
                f"deejai: {path}: tags unreadable ({error}); matched by path only", file=sys.stderr
            )
        resolved = os.path.abspath(path)
        tracks.append(
            CatalogueTrack(resolved, resolved, mbid, artist, title or path.stem, str(path.parent))
        )
    return Catalogue(tracks)


def embed_cached(paths: Sequence[str], bundle, *, cache: Path, max_slices: int = 8) -> dict:
    """Base slice vectors of ``paths``, kept in ``cache`` (``.npz``, no pickles) every few
    tracks, so an interrupted run embeds only what is missing.  Failed files are left out
    with one line each."""
    from deejai_model.ears.embed import Embedder

    done: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            names, data, offsets = z["paths"], z["data"], z["offsets"]
        done = {str(p): data[offsets[i] : offsets[i + 1]] for i, p in enumerate(names)}

    def save() -> None:
        keys = list(done)
        offsets = np.cumsum([0] + [len(done[k]) for k in keys])
        data = np.concatenate([done[k] for k in keys]) if keys else np.zeros((0, 1), np.float32)
        with replaced_atomically(os.fspath(cache), suffix=".npz") as tmp:
            np.savez(tmp, paths=np.array(keys, dtype=str), data=data, offsets=offsets)

    todo = [p for p in paths if p not in done]
    if todo:
        embedder = Embedder(bundle, max_slices=max_slices)
        print(f"deejai: embedding {len(todo)} files with {bundle.model_id}", file=sys.stderr)
        try:
            for n, (path, result) in enumerate(embedder.embed_paths(todo), 1):
                if isinstance(result, Exception):
                    print(f"deejai: cannot embed {result}", file=sys.stderr)
                else:
                    done[path] = result.vectors
                if n % 16 == 0 or n == len(todo):
                    save()
                    print(f"deejai: {n}/{len(todo)} files", file=sys.stderr)
        finally:
            save()
    return {p: done[p] for p in paths if p in done}


def main(argv: Sequence[str] | None = None) -> int:
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.shipped import default_bundle_path
    from deejai_model.errors import BundleError
    from deejai_model.learn.head import HeadParams, save_head_bundle
    from deejai_model.learn.track2vec import Track2VecParams

    parser = argparse.ArgumentParser(
        prog="python -m deejai_model.learn.train",
        description="Train ears from a folder of audio and playlists (no beets needed).",
    )
    parser.add_argument("music", help="folder of audio files (the catalogue)")
    parser.add_argument("-O", "--output", required=True, help="bundle directory to write")
    parser.add_argument("--playlists", action="append", default=[], help="M3U file or folder")
    parser.add_argument("--history", action="append", default=[], help="listening history")
    parser.add_argument("--million-playlists", help="Million Playlist Dataset folder")
    albums = parser.add_mutually_exclusive_group()
    albums.add_argument("--albums", dest="albums", action="store_true", default=None)
    albums.add_argument("--no-albums", dest="albums", action="store_false")
    parser.add_argument("--epochs", type=int, default=200, help="most head epochs")
    parser.add_argument("--min-count", type=int, default=1, help="Track2Vec min_count")
    parser.add_argument("--base", help="base bundle (default: the shipped musicnn)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--head", dest="kind", action="store_const", const="head", default="head")
    kind.add_argument("--speccy", dest="kind", action="store_const", const="speccy")
    parser.add_argument(
        "--speccy-weights", help="start Speccy from this speccy_model file or Speccy bundle"
    )
    args = parser.parse_args(argv)

    output = Path(args.output).resolve()
    catalogue = folder_catalogue(args.music)
    if not len(catalogue):
        parser.error(f"{args.music}: no audio files")
    found = gather_sentences(
        catalogue,
        playlists=args.playlists,
        histories=args.history,
        million_playlists=args.million_playlists,
        albums=args.albums,
        warn=lambda line: print(f"deejai: {line}", file=sys.stderr),
    )
    print(f"deejai: {found.line()}", file=sys.stderr)
    if not found.keys:
        parser.error("no sentence of two matched tracks or more (give playlists, or --albums)")
    output.parent.mkdir(parents=True, exist_ok=True)
    t2v_params = Track2VecParams(min_count=args.min_count, sample=0.0, epochs=None)
    keys = {t.id: t.key for t in catalogue.tracks}
    checkpoints = output.with_name(output.name + ".checkpoints")

    def progress(epoch: int, logs: dict) -> None:
        print(f"deejai: epoch {epoch}: validation cosine {-logs['val_loss']:.3f}", file=sys.stderr)

    try:
        if args.kind == "speccy":
            from deejai_model.learn.train_speccy import save_speccy_bundle

            t2v, model, report, ids = fit_speccy(
                found.keys,
                path_by_id={t.id: t.path for t in catalogue.tracks},
                key_by_id=keys,
                t2v_params=t2v_params,
                params=HeadParams(
                    epochs=args.epochs, learning_rate=1e-4, batch_size=32, patience=5
                ),
                weights=args.speccy_weights,
                checkpoint_dir=checkpoints,
                progress=progress,
                warn=lambda line: print(f"deejai: {line}", file=sys.stderr),
            )
            t2v.save(output.with_name(output.name + ".track2vec"))
            save_speccy_bundle(model, output, version="1", extra={"report": vars(report)})
            print(f"deejai: {report.line()}")
            print(f"deejai: wrote {output} (Speccy trained on {len(ids)} tracks)")
            return 0
        try:
            base = load_bundle(args.base or default_bundle_path())
        except BundleError as error:
            parser.error(str(error))
        cache = output.with_name(output.name + ".slices.npz")
        slices = embed_cached([t.path for t in catalogue.tracks], base, cache=cache)
        t2v, model, report, ids = fit(
            found.keys,
            slices_by_id=slices,
            key_by_id=keys,
            t2v_params=t2v_params,
            head_params=HeadParams(epochs=args.epochs),
            checkpoint_dir=checkpoints,
            progress=progress,
        )
    except KeyboardInterrupt:
        print("deejai: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except ValueError as error:
        print(f"deejai: {error}", file=sys.stderr)
        return 1
    t2v.save(output.with_name(output.name + ".track2vec"))
    save_head_bundle(model, base, output, name="deejai-ears", extra={"report": vars(report)})
    print(f"deejai: {report.line()}")
    print(f"deejai: wrote {output} (Track2Vec of {len(t2v)} tracks, head on {len(ids)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
