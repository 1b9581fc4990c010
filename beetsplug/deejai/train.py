"""``beet deejai train``: Track2Vec from the user's playlists, histories and albums, then ears
trained to hear it (a head on the stored slice vectors of the base model).

Steps (each reported on stderr):

1. read the sources (:mod:`deejai_model.learn.sentences`) and match their entries to library items:
   path, then MusicBrainz recording id, then normalised artist + title; albums of the library
   are added as weaker sentences when asked, or by default when fewer than
   ``train.min_playlists`` playlists/sessions matched;
2. embed, with the base model, items that have no slices of it yet (progress, resumable);
3. train Track2Vec and save it as data (``deejai.track2vec`` path, default
   ``<library folder>/deejai.track2vec.{npz,json}``), keyed by stable track keys;
4. train the head from the stored base slices (early stopping, checkpoints beside the output:
   Ctrl-C and run again resumes);
5. write the bundle (``--output``, default ``<library folder>/deejai-ears``) and derive every
   item's vectors for the new model from the stored base slices, without decoding.

Then ``deejai.model: <bundle>`` selects the trained ears.
"""

from __future__ import annotations

import dataclasses
import optparse
import os
import sys
import time
from typing import TYPE_CHECKING

from beets import ui, util
from beets.ui import UserError

from .creativity import item_key
from .labels import playlist_dirs as _default_playlist_dirs

if TYPE_CHECKING:
    from .config import TrainSettings
    from .session import LibrarySession


def catalogue_of(items) -> object:
    """A :class:`deejai_model.learn.sentences.Catalogue` of library items."""
    from deejai_model.learn.sentences import Catalogue, CatalogueTrack

    return Catalogue(
        CatalogueTrack(
            id=item.id,
            path=os.fsdecode(util.normpath(item.path)),
            mbid=item.mb_trackid or None,
            artist=item.artist or item.albumartist or None,
            title=item.title or None,
            album=f"album:{item.album_id}" if item.album_id else None,
            identity=item_key(item),
        )
        for item in items
    )


def parser() -> optparse.OptionParser:
    """Options of ``beet deejai train``."""
    parser = ui.CommonOptionsParser(
        prog="beet deejai train",
        usage="%prog [--playlists PATH...] [--history FILE...] [--albums|--no-albums] "
        "[--million-playlists DIR] [--epochs N] [--head|--speccy] [-O DIR]",
    )
    parser.add_option(
        "--playlists", action="append", default=[], help="M3U/M3U8 file or folder (repeatable)"
    )
    parser.add_option(
        "--history",
        action="append",
        default=[],
        help="ListenBrainz JSON, Last.fm CSV or Spotify extended history JSON (repeatable)",
    )
    parser.add_option("--albums", dest="albums", action="store_true", help="use albums too")
    parser.add_option("--no-albums", dest="albums", action="store_false", help="never albums")
    parser.add_option("--million-playlists", dest="million", help="Million Playlist Dataset folder")
    parser.add_option("--epochs", type="int", help="most head epochs [train.epochs]")
    parser.add_option(
        "--head",
        dest="kind",
        action="store_const",
        const="head",
        default="head",
        help="train a small head on the stored slice vectors (the default; no decoding)",
    )
    parser.add_option(
        "--speccy",
        dest="kind",
        action="store_const",
        const="speccy",
        help="train Deej-A.I.'s Speccy from mel slices instead (decodes again; slow on a CPU)",
    )
    parser.add_option(
        "--speccy-weights", help="--speccy: start from this speccy_model file or Speccy bundle"
    )
    parser.add_option("-O", "--output", help="bundle directory [<library folder>/deejai-ears]")
    return parser


def run(session: LibrarySession, opts: optparse.Values, rest: list[str]) -> None:
    """``beet deejai train``: Track2Vec and the ears that hear it (see the module's steps)."""
    from deejai_model.extras import MissingExtraError, require_extra

    try:
        require_extra("train", "deejai train")
    except MissingExtraError as error:
        raise UserError(str(error)) from None
    from deejai_model.learn.head import HeadParams, save_head_bundle
    from deejai_model.learn.train import fit, gather_sentences

    if rest:
        raise UserError(f"deejai train: unexpected argument(s): {' '.join(rest)}")
    lib, log, store = session.lib, session.log, session.store
    conf = session.settings.train
    items = list(lib.items())
    if not items:
        raise UserError("deejai train: the library is empty")

    # 1. sentences -----------------------------------------------------------------------
    found = gather_sentences(
        catalogue_of(items),
        playlists=opts.playlists or list(conf.playlists) or _default_playlist_dirs(),
        histories=opts.history or list(conf.history),
        million_playlists=opts.million or conf.million_playlists or None,
        albums=conf.albums if opts.albums is None else opts.albums,
        min_playlists=conf.min_playlists,
        warn=lambda line: log.warning("{}", line),
    )
    _say(f"deejai: {found.line()}")
    for text in found.report.unmatched_entries:  # beet -v deejai train names each one
        log.debug("unmatched: {}", text)
    if found.report.unmatched and found.report.unmatched_entries:
        log.info(
            "{} entries matched no item (`beet -v deejai train` names them)", found.report.unmatched
        )
    if not found.keys:
        raise UserError(
            "deejai train: no sentence of two matched tracks or more "
            "(give --playlists/--history, or use --albums)"
        )

    if opts.kind == "speccy":
        _train_speccy(session, opts, found, items)
        return

    # 2. base slices ---------------------------------------------------------------------
    base_handle = session.model.base()
    base_id = base_handle.model_id
    have = set(store.item_ids(base_id))
    missing = [item for item in items if item.id not in have]
    if missing:
        from .importer import embed_items

        _say(f"deejai: embedding {len(missing)} items with the base model {base_id} first")
        summary = embed_items(
            missing,
            store,
            model=base_handle,
            settings=base_handle.settings,
            log=log,
            progress=True,
        )
        _say(summary.line())
        if summary.interrupted:
            raise UserError("deejai train: interrupted while embedding; run it again to resume")

    # 3. Track2Vec and the head ------------------------------------------------------------
    t2v_params = _track2vec_params(conf)
    output = _output(session, opts, "deejai-ears")
    head_params = HeadParams(epochs=opts.epochs or conf.epochs)
    _say(f"deejai: training Track2Vec, then the head (at most {head_params.epochs} epochs)")

    def progress(epoch: int, logs: dict) -> None:
        _say(
            f"deejai: epoch {epoch}/{head_params.epochs}: validation cosine "
            f"{-logs['val_loss']:.3f}",
            transient=True,
        )

    try:
        t2v, model, head_report, train_ids = fit(
            found.keys,
            slices_by_id=store.slices(base_id),
            key_by_id={item.id: item_key(item) for item in items},
            t2v_params=t2v_params,
            head_params=head_params,
            checkpoint_dir=output + ".checkpoints",
            progress=progress,
        )
    except KeyboardInterrupt:
        _say("")
        raise UserError(
            "deejai train: interrupted; run the same command again to resume from the last epoch"
        ) from None
    except ValueError as error:
        raise UserError(f"deejai train: {error}") from error
    _say("")
    t2v_base = session.track2vec_base
    t2v.save(t2v_base)
    _say(f"deejai: Track2Vec of {len(t2v)} tracks: {t2v_base}.npz")
    _say(f"deejai: head trained on {len(train_ids)} items: {head_report.line()}")

    # 5. the bundle, and the library's vectors for it --------------------------------------
    base_bundle = base_handle.bundle()
    provenance = {
        "report": dataclasses.asdict(head_report),
        "track2vec": {"fingerprint": t2v.fingerprint, "tracks": len(t2v), **t2v.meta},
        "sentences": {"matched": found.report.sentences, "albums": found.albums},
        "trained": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save_head_bundle(
        model,
        base_bundle,
        output,
        name="deejai-ears",
        version=time.strftime("%Y%m%d%H%M%S", time.gmtime()),
        extra=provenance,
    )
    from deejai_model.ears.bundle import load_bundle

    from .importer import apply_head

    head = load_bundle(output)
    done = apply_head(store, head, base_id)
    ui.print_(
        f"deejai: trained ears {head.model_id} in {output} "
        f"(validation cosine {head_report.val_cosine:.3f}, constant "
        f"{head_report.constant_cosine:.3f}); {done} items got vectors from their stored "
        f"slices. Use them with `deejai: model: {output}`"
    )


def _track2vec_params(conf: TrainSettings):
    from deejai_model.learn.track2vec import Track2VecParams

    return Track2VecParams(
        dim=conf.dim,
        window=conf.window,
        min_count=conf.min_count,
        epochs=conf.word2vec_epochs,
        sample=conf.sample,
    )


def _output(session: LibrarySession, opts: optparse.Values, default: str) -> str:
    """The bundle folder: ``-O``, else ``train.output``, else ``default`` beside the library."""
    if opts.output:
        return os.fsdecode(util.normpath(opts.output))
    return session.settings.train.output or os.path.join(session.index_dir, default)


def _train_speccy(session: LibrarySession, opts: optparse.Values, found, items) -> None:
    """``train --speccy``: decode the items in Track2Vec's vocabulary, train Speccy."""
    from deejai_model.errors import BundleError
    from deejai_model.learn.head import HeadParams
    from deejai_model.learn.train import fit_speccy
    from deejai_model.learn.train_speccy import save_speccy_bundle

    log, conf = session.log, session.settings.train
    output = _output(session, opts, "deejai-speccy")
    params = HeadParams(
        epochs=opts.epochs or conf.epochs,
        learning_rate=1e-4,
        batch_size=32,
        patience=5,
    )
    _say("deejai: training Track2Vec, then Speccy from mel slices (decodes every track)")
    try:
        t2v, model, report, ids = fit_speccy(
            found.keys,
            path_by_id={item.id: os.fsdecode(item.path) for item in items},
            key_by_id={item.id: item_key(item) for item in items},
            t2v_params=_track2vec_params(conf),
            params=params,
            weights=opts.speccy_weights,
            checkpoint_dir=output + ".checkpoints",
            progress=lambda e, logs: _say(
                f"deejai: epoch {e}/{params.epochs}: validation cosine {-logs['val_loss']:.3f}",
                transient=True,
            ),
            warn=lambda line: log.warning("{}", line),
        )
    except KeyboardInterrupt:
        _say("")
        raise UserError(
            "deejai train: interrupted; run the same command again to resume from the last epoch"
        ) from None
    except (ValueError, BundleError) as error:  # data; --speccy-weights
        raise UserError(f"deejai train: {error}") from error
    _say("")
    t2v.save(session.track2vec_base)
    save_speccy_bundle(
        model,
        output,
        version=time.strftime("%Y%m%d%H%M%S", time.gmtime()),
        extra={"report": vars(report)},
    )
    ui.print_(
        f"deejai: trained Speccy on {len(ids)} items in {output} ({report.line()}). Use it "
        f"with `deejai: model: {output}`, then `beet deejai embed` (decodes every file)"
    )


def _say(text: str, transient: bool = False) -> None:
    stream = sys.stderr
    if transient and stream.isatty():
        stream.write("\r" + text + "\x1b[K")
    elif text:
        stream.write(("\r" if stream.isatty() else "") + text + "\n")
    stream.flush()
