"""The whole job on real music: import the dev corpus with auto-embed, then ask `similar`.

Tracks of the same game should mostly find each other. The bar is a baseline computed here on
the same excerpts of the same files: the mean and spread of their log-mel bands (what a timbre
statistic without a network sees). Runs where the corpus exists or can be built (CI).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DeejaiEnv
from corpus import SKIP_REASON, corpus_dir, corpus_labels

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.slow,
    pytest.mark.skipif(corpus_dir() is None, reason=SKIP_REASON),
]

K = 5


def _precision(groups: list[str], neighbours: list[list[int]], k: int) -> float:
    hits = [np.mean([groups[j] == groups[i] for j in row[:k]]) for i, row in enumerate(neighbours)]
    return float(np.mean(hits))


def _logmel_baseline(paths: list[str]) -> list[list[int]]:
    """Neighbours by z-scored mean+std of log-mel bands over the same planned excerpts."""
    from deejai_model.ears import audio
    from deejai_model.ears.excerpts import excerpt_starts
    from deejai_model.ears.frontend import MUSICNN

    fe = MUSICNN
    features = []
    for path in paths:
        starts = excerpt_starts(fe, audio.probe_duration(path), 8)
        batch, _ = fe.batch_from_excerpts(
            audio.decode_excerpts(path, fe.sample_rate, starts=starts, length=fe.slice_seconds)
        )
        frames = batch.reshape(-1, batch.shape[-1])
        features.append(np.concatenate([frames.mean(axis=0), frames.std(axis=0)]))
    x = np.asarray(features)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :K].tolist()


@pytest.fixture(scope="module")
def corpus_library():
    env = DeejaiEnv()
    env.setup_beets()
    try:
        env.config["deejai"]["auto"] = True
        env.config["deejai"]["learn_from_library"] = False  # a game's folder is an album
        env.config["import"]["quiet"] = True
        # import the labelled files in place (no copy), tags as they are
        for folder in sorted({path.parent for path, _ in corpus_labels()}):
            env.setup_importer(import_dir=folder, autotag=False, copy=False)
            env.importer.run()
        yield env
    finally:
        env.teardown_beets()


def test_similar_finds_the_same_game(corpus_library) -> None:
    env = corpus_library
    labels = {str(path): group for path, group in corpus_labels()}
    items = [item for item in env.lib.items() if item.filepath.as_posix() in labels]
    assert len(items) >= 0.95 * len(labels), "most labelled files were imported and embedded"
    position = {item.id: i for i, item in enumerate(items)}
    groups = [labels[item.filepath.as_posix()] for item in items]

    neighbours = []
    for item in items:
        out, _ = env.run_output(  # the ranking itself: no artist / album spacing (docs/lists.md)
            "deejai",
            "similar",
            f"id:{item.id}",
            "-n",
            str(K + 5),
            "-f",
            "$id",
            "--artist-gap",
            "0",
            "--album-max",
            "0",
        )
        found = [position[int(line)] for line in out.split() if int(line) in position]
        assert item.id not in [items[j].id for j in found], "a track is not its own neighbour"
        neighbours.append(found[:K])

    ours_p1 = _precision(groups, neighbours, 1)
    ours_p5 = _precision(groups, neighbours, K)
    base = _logmel_baseline([item.filepath.as_posix() for item in items])
    base_p1, base_p5 = _precision(groups, base, 1), _precision(groups, base, K)
    print(f"P@1 {ours_p1:.3f} P@5 {ours_p5:.3f} (log-mel baseline {base_p1:.3f} / {base_p5:.3f})")
    assert ours_p5 > base_p5 + 0.05
    assert ours_p1 > base_p1
    chance = max(groups.count(g) for g in set(groups)) / len(groups)
    assert ours_p5 > 2 * chance
