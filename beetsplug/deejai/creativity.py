"""``--creativity`` of similar / journey / playlist: the index's audio vectors beside the
Track2Vec vectors that ``beet deejai train`` saved (see :mod:`deejai_model.lists.creativity`),
and the stable key each library item has in Track2Vec."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets.ui import UserError

if TYPE_CHECKING:
    from beets.library import Item, Library

    from .index import TrackIndex


def item_key(item: Item) -> str:
    """The Track2Vec key of a library item: its identity, never its tags alone.

    ``mbid:<recording id>`` when beets knows it (the same recording in two files is one
    word), else ``item:<item id>``: different files that share artist and title (a
    half-tagged library) stay different words.  Artist + title only match entries from
    outside the library (histories) to items: :mod:`deejai_model.learn.sentences`.
    """
    from deejai_model.learn.sentences import track_key

    if item.mb_trackid:
        return str(track_key(item.mb_trackid, None, None))
    return f"item:{item.id}"


#: Word prefixes of Track2Vec models trained before the keys were track identities
#: (:func:`item_key`): artist + title (``at:``) and, without a title, the path (``path:``).
OLD_KEY_PREFIXES = ("at:", "path:")


def check_key_scheme(t2v, base: str) -> None:
    """Refuse a Track2Vec model whose words are the old artist + title keys.

    Such a model finds no library item without a MusicBrainz id (their keys are now
    ``item:<id>``), so ``--creativity`` would quietly fall back to audio alone for them.

    Raises
    ------
    UserError
        One line: which file, why, and that ``beet deejai train`` must be run again.
    """
    old = sum(1 for key in t2v.keys if key.startswith(OLD_KEY_PREFIXES))
    if old:
        raise UserError(
            f"deejai: --creativity: {base}.json names {old} of its {len(t2v)} tracks by "
            "artist + title, as Track2Vec did before it keyed tracks by identity; "
            "run `beet deejai train` again"
        )


def blended_space(
    index: TrackIndex, creativity: float, outside: dict, *, lib: Library, track2vec_base: str, log
):
    """``(search, vectors_by_id, score_transform)`` ranking by the creativity blend.

    Parameters
    ----------
    index : TrackIndex
        The audio index of the query's model.
    creativity : float
        In [0, 1].
    outside : dict
        ``{negative key: (dim,) vector}`` of seeds that are files outside the library (audio
        only).
    lib : Library
        The library (each item's Track2Vec key).
    track2vec_base : str
        Where ``beet deejai train`` saved Track2Vec (base path, no extension).
    log : logger
        For one debug line.
    """
    from deejai_model.learn.track2vec import Track2Vec, Track2VecError
    from deejai_model.lists.creativity import JointSpace

    if not 0.0 <= creativity <= 1.0:
        raise UserError(f"deejai: --creativity must be between 0 and 1, not {creativity}")
    try:
        t2v = Track2Vec.load(track2vec_base)
    except Track2VecError as error:
        raise UserError(
            f"deejai: --creativity needs Track2Vec: {error} (run `beet deejai train`)"
        ) from error
    check_key_scheme(t2v, track2vec_base)
    audio = index.vectors_by_id(outside)
    keys = {item.id: item_key(item) for item in lib.items()}
    t2v_by_id = {}
    for item_id in audio:
        vector = t2v.vector(keys.get(item_id, ""))
        if vector is not None:
            t2v_by_id[item_id] = vector
    log.debug(
        "creativity {}: {} of {} items have Track2Vec vectors",
        creativity,
        len(t2v_by_id),
        len(audio),
    )
    space = JointSpace(audio, t2v_by_id, creativity)
    return space.search(), space.vectors_by_id(), space.score_transform()
