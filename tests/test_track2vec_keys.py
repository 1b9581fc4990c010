"""A Track2Vec model trained before the keys became track identities (``mbid:``/``item:``,
:func:`beetsplug.deejai.creativity.item_key`) is refused in one line that says to train again,
never used quietly with most of its words lost."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import A_MAJOR, chord, write_audio
from beets.library import Item
from beets.ui import UserError
from conftest import SR

from deejai_model.learn.sentences import track_key
from deejai_model.learn.track2vec import Track2Vec


def _library(env, folder) -> list[Item]:
    items = []
    for n, title in enumerate(["Living Caves", "Crystal World", "Desert Glass"]):
        path = write_audio(
            folder / f"t{n}.flac", chord(4.0, SR, freqs=[f * 1.2**n for f in A_MAJOR]), SR
        )
        item = Item.from_path(str(path))
        item.artist, item.title = "NeonCorridor", title
        item.add(env.lib)
        items.append(item)
    env.run_command("deejai", "embed")
    return items


def _save(base, keys) -> None:
    rng = np.random.default_rng(0)
    Track2Vec(keys, rng.normal(size=(len(keys), 8)).astype(np.float32)).save(base)


def test_an_old_key_track2vec_is_refused_with_train_again(env, tmp_path):
    from beetsplug.deejai.creativity import item_key

    items = _library(env, tmp_path)
    base = tmp_path / "old.track2vec"
    env.config["deejai"]["track2vec"] = str(base)
    _save(base, [track_key(None, item.artist, item.title) for item in items])
    with pytest.raises(UserError) as raised:
        env.run_output("deejai", "similar", f"id:{items[0].id}", "-n", "2", "--creativity", "0.5")
    message = str(raised.value)
    assert "\n" not in message and "run `beet deejai train` again" in message, message
    assert f"{base}.json" in message and "3 of its 3 tracks" in message, message

    _save(base, [item_key(item) for item in items])  # trained again: used
    out, _ = env.run_output(
        "deejai", "similar", f"id:{items[0].id}", "-n", "2", "--creativity", "0.5"
    )
    assert len(out.splitlines()) == 2, out
