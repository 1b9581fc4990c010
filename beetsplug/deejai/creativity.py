"""``--creativity`` of similar / journey / playlist: the index's audio vectors beside the
Track2Vec vectors that ``beet deejai train`` saved (see :mod:`deejai_model.lists.creativity`)."""

from __future__ import annotations

from beets.ui import UserError


def blended_space(actions, index, creativity: float, outside: dict):
    """``(search, vectors_by_id, score_transform)`` ranking by the creativity blend.

    Parameters
    ----------
    actions : beetsplug.deejai.commands.Actions
    index : TrackIndex
        The audio index of the configured model.
    creativity : float
        In [0, 1].
    outside : dict
        ``{negative key: vector}`` of seeds that are files outside the library (audio only).
    """
    from deejai_model.learn.track2vec import Track2Vec, Track2VecError
    from deejai_model.lists.creativity import JointSpace

    from .train import item_key, track2vec_base

    if not 0.0 <= creativity <= 1.0:
        raise UserError(f"deejai: --creativity must be between 0 and 1, not {creativity}")
    base = track2vec_base(actions.plugin, actions.lib)
    try:
        t2v = Track2Vec.load(base)
    except Track2VecError as error:
        raise UserError(
            f"deejai: --creativity needs Track2Vec: {error} (run `beet deejai train`)"
        ) from error
    audio = index.vectors_by_id(outside)
    keys = {item.id: item_key(item) for item in actions.lib.items()}
    t2v_by_id = {}
    for item_id in audio:
        vector = t2v.vector(keys.get(item_id, ""))
        if vector is not None:
            t2v_by_id[item_id] = vector
    actions.log.debug(
        "creativity {}: {} of {} items have Track2Vec vectors",
        creativity,
        len(t2v_by_id),
        len(audio),
    )
    space = JointSpace(audio, t2v_by_id, creativity)
    return space.search(), space.vectors_by_id(), space.score_transform()
