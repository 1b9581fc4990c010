"""``beet deejai train`` end to end on a generated library with learnable playlists.

Playlists pair kinds of generated music that do not sound alike (chords with slow clicks,
noise bursts with fast clicks), and leave one track of each kind out of every playlist.  The
trained ears must put those cold tracks near their playlist partners much more often than the
untrained ears do; ``--creativity`` and ``deejai.model`` must use the result.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import DeejaiEnv, kind_of, make_music

PAIRS = {"chord": "A", "slowclicks": "A", "noise": "B", "fastclicks": "B"}
PER_KIND = 4
COLD = {f"{kind}-{PER_KIND}" for kind in PAIRS}  # in no playlist


def write_playlists(env: DeejaiEnv, folder: Path, n: int = 40, seed: int = 0) -> None:
    """``n`` M3U files, each five warm tracks of one pair; plus an unreadable one and a
    playlist entry that matches nothing."""
    rng = np.random.default_rng(seed)
    items = [i for i in env.lib.items() if i.title not in COLD]
    by_pair: dict[str, list] = {}
    for item in items:
        by_pair.setdefault(PAIRS[kind_of(item.title)], []).append(item)
    folder.mkdir()
    for i in range(n):
        pair = "AB"[i % 2]
        picks = rng.choice(len(by_pair[pair]), 5, replace=False)
        lines = ["#EXTM3U"]
        for j in picks:
            item = by_pair[pair][j]
            lines.append(f"#EXTINF:12,{item.artist} - {item.title}")
            lines.append(os.fsdecode(item.path))
        if i == 0:
            lines += ["#EXTINF:1,Nobody - Nothing", "/nowhere/nothing.mp3"]
        (folder / f"list{i:02d}.m3u8").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "broken.m3u").write_bytes(b"")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    music = make_music(tmp_path_factory.mktemp("music"), per_kind=PER_KIND, seconds=10.0)
    env = DeejaiEnv()
    env.setup_beets()
    try:
        env.config["deejai"]["auto"] = True
        env.import_music(music[0].parent.parent)
        lists = env.temp_path / "playlists"
        write_playlists(env, lists)
        out, logs = env.run_output(
            "deejai", "train", "--playlists", str(lists), "--no-albums", "--epochs", "150"
        )
        yield env, out, logs
    finally:
        env.teardown_beets()


def pair_precision(env: DeejaiEnv, model: str, n: int = 5, extra: tuple = ()) -> float:
    """Mean share of the ``n`` nearest items of each cold track that are of its pair."""
    env.config["deejai"]["model"] = model
    shares = []
    for title in sorted(COLD):
        out, _ = env.run_output("deejai", "similar", "-n", str(n), "-f", "$title", *extra, title)
        found = out.split()
        assert len(found) == n, out
        shares.append(np.mean([PAIRS[kind_of(t)] == PAIRS[kind_of(title)] for t in found]))
    return float(np.mean(shares))


def test_train_reports_matches_and_writes_a_bundle(trained):
    env, out, logs = trained
    output = Path(env.lib.path.decode() if isinstance(env.lib.path, bytes) else env.lib.path)
    ears = output.parent / "deejai-ears"
    assert (ears / "manifest.json").is_file() and (ears / "weights.npz").is_file()
    assert (output.parent / "deejai.track2vec.npz").is_file()
    assert f"deejai: model: {ears}" in out
    text = "\n".join(logs)
    assert "broken.m3u: no tracks in the playlist" in text


def test_trained_ears_beat_the_untrained_on_cold_tracks(trained):
    env, _, _ = trained
    ears = str(Path(os.fsdecode(env.lib.path)).parent / "deejai-ears")
    untrained = pair_precision(env, "")
    learned = pair_precision(env, ears)
    # untrained: mostly the other tracks of its kind, then others (0.6 of its pair for MTT,
    # 0.75 for the fused default); trained: its playlist partners, which sound different
    assert learned >= untrained + 0.1 and learned >= 0.85, (learned, untrained)


def test_creativity_zero_is_tracks_people_put_together(trained):
    env, _, _ = trained
    env.config["deejai"]["model"] = ""
    out, _ = env.run_output(
        "deejai", "similar", "-n", "5", "-f", "$title", "--creativity", "0", "chord-1"
    )
    found = out.split()
    # all of its playlists' pair; slow clicks, which sound nothing like chords, among them
    # (tracks in no playlist compete by their audio cosine alone)
    assert len(found) == 5 and all(PAIRS[kind_of(t)] == "A" for t in found), found
    with_t2v = sum(kind_of(t) == "slowclicks" for t in found)
    assert with_t2v >= 2, found
    out_audio, _ = env.run_output(
        "deejai", "similar", "-n", "5", "-f", "$title", "--creativity", "1", "chord-1"
    )
    assert sum(kind_of(t) == "slowclicks" for t in out_audio.split()) < with_t2v, out_audio


def test_embed_with_trained_ears_reuses_stored_slices(trained, capsys):
    env, _, _ = trained
    from beetsplug.deejai.store import VectorStore

    store = VectorStore(env.lib)
    with env.lib.transaction() as tx:
        models = [r[0] for r in tx.query("SELECT DISTINCT model_id FROM deejai_vectors")]
    heads = [m for m in models if m.startswith("deejai-ears@")]
    assert len(heads) == 1 and len(models) == 2
    ids = sorted(item.id for item in env.lib.items())
    assert store.item_ids(heads[0]) == ids  # train gave every item the head's vectors
    with env.lib.transaction() as tx:
        tx.mutate(
            "DELETE FROM deejai_vectors WHERE model_id = ? AND item_id IN (?, ?)",
            (heads[0], ids[0], ids[1]),
        )
    env.config["deejai"]["model"] = str(Path(os.fsdecode(env.lib.path)).parent / "deejai-ears")
    _, logs = env.run_output("deejai", "embed")
    assert any(f"2 items got {heads[0]} vectors from stored slices" in line for line in logs)
    n = len(ids)
    assert f"deejai: 0 embedded, {n} skipped, 0 failed" in capsys.readouterr().err  # no decoding
    assert store.item_ids(heads[0]) == ids


def test_creativity_query_imports_no_tensorflow_or_gensim(trained):
    env, _, _ = trained
    env.write_config()
    done = env.beet("deejai", "similar", "-n", "3", "--creativity", "0.5", "chord-1", probe=True)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 4  # three items, then the probe line
    assert done.stdout.strip().endswith("HEAVY="), done.stdout
    assert "gensim" not in done.stdout


def test_missing_track2vec_and_speccy_weights_are_clear_errors(trained, tmp_path):
    env, _, _ = trained
    env.config["deejai"]["track2vec"] = str(tmp_path / "none")
    from beets.ui import UserError

    with pytest.raises(UserError, match="--creativity needs Track2Vec: .*none"):
        env.run_output("deejai", "similar", "--creativity", "0.5", "chord-1")
    lists = env.temp_path / "playlists"
    with pytest.raises(UserError, match=r"deejai train: .*nowhere\.h5"):
        env.run_output(
            "deejai", "train", "--speccy", "--playlists", str(lists), "--no-albums",
            "--speccy-weights", str(tmp_path / "nowhere.h5"), "-O", str(tmp_path / "sp"),
        )  # fmt: skip
    env.config["deejai"]["track2vec"] = ""


def test_albums_alone_when_there_are_no_playlists(trained, capsys):
    """Nothing but a tagged library: albums become the sentences (train.albums: auto)."""
    env, _, _ = trained
    env.config["deejai"]["model"] = ""
    ears = env.temp_path / "album-ears"
    out, _ = env.run_output("deejai", "train", "-O", str(ears), "--epochs", "3")
    err = capsys.readouterr().err
    assert "0 sentences: 0 entries matched" in err and "; 4 album sentences" in err
    assert (ears / "manifest.json").is_file() and f"deejai: model: {ears}" in out
