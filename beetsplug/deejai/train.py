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

from beets import config as beets_config
from beets import ui
from beets.ui import UserError

if TYPE_CHECKING:
    from beets.library import Item, Library

    from .store import VectorStore


def track2vec_base(plugin, lib: Library) -> str:
    """Where Track2Vec is saved and read: ``deejai.track2vec``, or beside the library."""
    configured = plugin.config["track2vec"].get(str)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    return os.path.join(plugin.index_dir(lib), "deejai.track2vec")


def item_key(item: Item) -> str:
    """The stable Track2Vec key of a library item (MBID, else artist + title, else path)."""
    from deejai_model.learn.sentences import track_key

    return track_key(item.mb_trackid or None, item.artist or item.albumartist, item.title) or (
        "path:" + os.path.abspath(os.fsdecode(item.path))
    )


def catalogue_of(items) -> object:
    """A :class:`deejai_model.learn.sentences.Catalogue` of library items."""
    from deejai_model.learn.sentences import Catalogue, CatalogueTrack

    return Catalogue(
        CatalogueTrack(
            id=item.id,
            path=os.path.abspath(os.fsdecode(item.path)),
            mbid=item.mb_trackid or None,
            artist=item.artist or item.albumartist or None,
            title=item.title or None,
            album=f"album:{item.album_id}" if item.album_id else None,
        )
        for item in items
    )


def _config_list(view) -> list[str]:
    value = view.get()
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _default_playlist_dirs() -> list[str]:
    """The playlist and smartplaylist plugins' ``playlist_dir``, where set and existing (not
    their default ``.``, which would search the current folder)."""
    import confuse

    found = []
    for plugin in ("playlist", "smartplaylist"):
        try:
            if beets_config[plugin]["playlist_dir"].get() in (None, "", "."):
                continue
            folder = beets_config[plugin]["playlist_dir"].as_filename()
        except confuse.ConfigError:  # not configured
            continue
        if os.path.isdir(folder) and folder not in found:
            found.append(folder)
    return found


def _parser() -> optparse.OptionParser:
    parser = optparse.OptionParser(
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


def run_train(actions, args: list[str]) -> None:
    """The ``train`` action (``actions``: :class:`beetsplug.deejai.commands.Actions`)."""
    from deejai_model.learn.head import HeadParams, save_head_bundle
    from deejai_model.learn.train import fit, gather_sentences

    opts, rest = _parser().parse_args(args)
    if rest:
        raise UserError(f"deejai train: unexpected argument(s): {' '.join(rest)}")
    plugin, lib, log = actions.plugin, actions.lib, actions.log
    conf = plugin.config["train"]
    store = actions.store
    items = list(lib.items())
    if not items:
        raise UserError("deejai train: the library is empty")

    # 1. sentences -----------------------------------------------------------------------
    albums = opts.albums
    if albums is None and conf["albums"].get() in (True, False):
        albums = conf["albums"].get()
    found = gather_sentences(
        catalogue_of(items),
        opts.playlists or _config_list(conf["playlists"]) or _default_playlist_dirs(),
        opts.history or _config_list(conf["history"]),
        opts.million or conf["million_playlists"].get(str) or None,
        albums,
        conf["min_playlists"].get(int),
        warn=lambda line: log.warning("{}", line),
    )
    _say(f"deejai: {found.line()}")
    if not found.keys:
        raise UserError(
            "deejai train: no sentence of two matched tracks or more "
            "(give --playlists/--history, or use --albums)"
        )

    if opts.kind == "speccy":
        _train_speccy(actions, opts, found, items)
        return

    # 2. base slices ---------------------------------------------------------------------
    base_handle = _base_handle(plugin)
    base_id = base_handle.model_id
    have = set(store.item_ids(base_id))
    missing = [item for item in items if item.id not in have]
    if missing:
        from .importer import embed_items

        _say(f"deejai: embedding {len(missing)} items with the base model {base_id} first")
        summary = embed_items(missing, store, base_handle, base_handle.settings, log, progress=True)
        _say(summary.line())
        if summary.interrupted:
            raise UserError("deejai train: interrupted while embedding; run it again to resume")

    # 3. Track2Vec and the head ------------------------------------------------------------
    t2v_params = _track2vec_params(conf)
    output = _output(opts, plugin, lib, "deejai-ears")
    head_params = HeadParams(epochs=opts.epochs or conf["epochs"].get(int))
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
            store.slices(base_id),
            {item.id: item_key(item) for item in items},
            t2v_params,
            head_params,
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
    t2v_base = track2vec_base(plugin, lib)
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

    head = load_bundle(output)
    done = apply_head(store, head, base_id)
    ui.print_(
        f"deejai: trained ears {head.model_id} in {output} "
        f"(validation cosine {head_report.val_cosine:.3f}, constant "
        f"{head_report.constant_cosine:.3f}); {done} items got vectors from their stored "
        f"slices. Use them with `deejai: model: {output}`"
    )


def _track2vec_params(conf):
    from deejai_model.learn.track2vec import Track2VecParams

    epochs = conf["word2vec_epochs"].get()
    return Track2VecParams(
        dim=conf["dim"].get(int),
        window=conf["window"].get(int),
        min_count=conf["min_count"].get(int),
        epochs=None if epochs in ("auto", None) else int(epochs),
        sample=float(conf["sample"].as_number()),
    )


def _output(opts, plugin, lib, default: str) -> str:
    output = opts.output or plugin.config["train"]["output"].get(str)
    output = output or os.path.join(plugin.index_dir(lib), default)
    return os.path.abspath(os.path.expanduser(output))


def _train_speccy(actions, opts, found, items) -> None:
    """``train --speccy``: decode the items in Track2Vec's vocabulary, train Speccy."""
    from deejai_model.errors import BundleError
    from deejai_model.learn.head import HeadParams
    from deejai_model.learn.train import fit_speccy
    from deejai_model.learn.train_speccy import save_speccy_bundle

    plugin, lib, log = actions.plugin, actions.lib, actions.log
    conf = plugin.config["train"]
    output = _output(opts, plugin, lib, "deejai-speccy")
    params = HeadParams(
        epochs=opts.epochs or conf["epochs"].get(int),
        learning_rate=1e-4,
        batch_size=32,
        patience=5,
    )
    _say("deejai: training Track2Vec, then Speccy from mel slices (decodes every track)")
    try:
        t2v, model, report, ids = fit_speccy(
            found.keys,
            {item.id: os.fsdecode(item.path) for item in items},
            {item.id: item_key(item) for item in items},
            _track2vec_params(conf),
            params,
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
    t2v_base = track2vec_base(plugin, lib)
    t2v.save(t2v_base)
    save_speccy_bundle(
        model, output, time.strftime("%Y%m%d%H%M%S", time.gmtime()), {"report": vars(report)}
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


def _base_handle(plugin):
    """A model handle of the base model: the configured one, or the base of a configured head."""
    import json

    from .importer import ModelHandle

    handle = plugin.model()
    try:
        with open(os.path.join(handle.path, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        raise UserError(f"deejai: cannot read the model {handle.path}: {error}") from error
    if manifest.get("architecture") != "head":
        return handle
    from pathlib import Path

    from deejai_model.ears.bundle import Manifest
    from deejai_model.learn.head import resolve_base

    base_path = resolve_base(Manifest.from_dict(manifest), Path(handle.path))
    return ModelHandle(dataclasses.replace(plugin.settings, model=os.fspath(base_path)))


def apply_head(store: VectorStore, head, base_id: str, item_ids=None) -> int:
    """Store ``head``'s rows for items that have ``base_id`` slices, computed from those slices
    (no decoding); items whose head row is current (same file mtime) are left alone.

    Returns
    -------
    int
        Items written.
    """
    current = store.embedded_state(head.model_id, item_ids)
    todo = [r for r in store.rows(base_id, item_ids) if current.get(r.item_id) != r.mtime]
    done = 0
    for start in range(0, len(todo), 256):
        batch = [
            dataclasses.replace(row, slices=head.apply(row.slices))
            for row in todo[start : start + 256]
        ]
        done += store.put(head.model_id, batch)
    return done


def apply_stored(actions, items, force: bool = False) -> int:
    """Before ``beet deejai embed`` with a trained head configured: give ``items`` the head's
    vectors from their stored base slices, so only items without base slices are decoded
    (not with ``--force``, which decodes everything again).

    Returns the number of items written (0 when the configured model is not a head).
    """
    handle = actions.plugin.model()
    if force or not items:  # --force: decode everything again
        return 0
    base = _base_handle(actions.plugin)
    if base is handle:
        return 0
    store = actions.store
    head = handle.bundle()
    done = apply_head(store, head, base.model_id, [item.id for item in items])
    if done:
        actions.log.info("{} items got {} vectors from stored slices", done, handle.model_id)
    return done
