"""benchmarks.quality's by-corpus verdict: ahead beyond the paired interval, behind nowhere."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality import Result, corpus_rows, wins_everywhere  # noqa: E402

CORPORA = ["dev"] * 60 + ["val"] * 60


def result(name: str, dev: float, val: float, seed: int) -> Result:
    """Per-query P@5 drawn around the given means (0.2 steps, like 5 neighbours)."""
    rng = np.random.default_rng(seed)
    p5 = np.concatenate([rng.binomial(5, dev, 60), rng.binomial(5, val, 60)]) / 5.0
    return Result(name, p5.copy(), p5, [])


def test_wins_only_when_ahead_somewhere_and_behind_nowhere():
    base = result("base", 0.5, 0.3, seed=0)
    better_val = Result("val+", base.p1, base.p5 + np.r_[np.zeros(60), np.full(60, 0.2)], [])
    worse_dev = Result("dev-", base.p1, base.p5 + np.r_[np.full(60, -0.2), np.full(60, 0.2)], [])
    noise = result("noise", 0.5, 0.3, seed=1)
    assert wins_everywhere(better_val, base, CORPORA)
    assert not wins_everywhere(worse_dev, base, CORPORA)  # ahead on val, behind on dev
    assert not wins_everywhere(base, base, CORPORA)  # equal is not ahead
    assert not wins_everywhere(noise, base, CORPORA)  # same means: within the interval


def test_corpus_rows_report_each_corpus_then_all():
    base = result("base", 0.5, 0.3, seed=0)
    header, rows = corpus_rows([base], base, CORPORA)
    assert header[1:4] == ["dev P@1", "dev P@5", "dev dP@5 [95% CI]"]
    assert header[-3:] == ["all P@1", "all P@5", "all dP@5 [95% CI]"]
    assert rows[0][2] == f"{base.p5[:60].mean():.3f}"
    assert rows[0][5] == f"{base.p5[60:].mean():.3f}"
    assert rows[0][3].startswith("+0.000")


def test_slice_matching_scores_best_matching_slices():
    from benchmarks.quality import slice_match_similarity

    rng = np.random.default_rng(0)
    pool = rng.normal(size=(6, 16))
    bags = [pool[[0, 1]], pool[[1, 2, 3]], pool[[4, 5]], np.zeros((0, 16))]
    similarity = slice_match_similarity(bags)
    assert similarity.shape == (4, 4)
    assert np.allclose(np.diag(similarity)[:3], 1.0)  # every slice finds itself
    assert np.allclose(similarity, similarity.T)
    assert similarity[0, 1] > similarity[0, 2]  # tracks 0 and 1 share slice 1
    assert np.array_equal(similarity[3], np.zeros(4))  # no slices: no similarity


def test_adaptation_settings_from_the_pooling_name():
    from benchmarks.quality import adaptation_settings
    from deejai_model import adapt

    assert adaptation_settings("trackda") == (adapt.DEFAULT_DIMS, adapt.DEFAULT_SHRINK)
    assert adaptation_settings("trackda128s1.0") == (128, 1.0)
