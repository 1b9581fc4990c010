"""The quality benchmark: its by-corpus verdict (ahead beyond the paired interval, behind
nowhere), and its grid of variants, whose track vectors are the shipped pooler's."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import corpus_rows, wins_everywhere  # noqa: E402
from benchmarks.variants import Result  # noqa: E402

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
    header, rows = corpus_rows([base], base, corpora=CORPORA)
    assert header[1:4] == ["dev P@1", "dev P@5", "dev dP@5 [95% CI]"]
    assert header[-3:] == ["all P@1", "all P@5", "all dP@5 [95% CI]"]
    assert rows[0][2] == f"{base.p5[:60].mean():.3f}"
    assert rows[0][5] == f"{base.p5[60:].mean():.3f}"
    assert rows[0][3].startswith("+0.000")


def test_slice_matching_scores_best_matching_slices():
    from benchmarks.variants import slice_match_similarity

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
    from benchmarks.variants import adaptation_settings
    from deejai_model.vectors import adapt

    assert adaptation_settings("trackda") == (adapt.DEFAULT_DIMS, adapt.DEFAULT_SHRINK)
    assert adaptation_settings("trackda128s1.0") == (128, 1.0)


def cached_grid(tmp_path, slices, starts, timbre_rows=None):
    """An OursGrid over synthetic tracks, read from a cache laid out as quality.py writes it."""
    from benchmarks.common import Track, bundle_key, cache_file, save_ragged
    from benchmarks.variants import OursGrid

    tracks = [Track(f"/music/{i}.ogg", f"game{i % 3}", 60.0) for i in range(len(slices))]
    name = f"ours_{bundle_key('mtt')}_K8"
    paths = [t.path for t in tracks]
    save_ragged(cache_file(tmp_path, name), paths, slices, errors=np.array([""] * len(paths)))
    save_ragged(cache_file(tmp_path, name + "_starts"), paths, starts)
    if timbre_rows is not None:
        save_ragged(
            cache_file(tmp_path, "timbre-mel_K8"),
            paths,
            [r[None] for r in timbre_rows],
            errors=np.array([""] * len(paths)),
        )
    return OursGrid(tracks, str(tmp_path), models=["mtt"], k_values=[8])


def test_grid_levers_half_slices_and_timbre_fusion(tmp_path):
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 24))
    # 12 tracks of 3 games; a track's first 4 slices (in time) carry its game, the last 4 noise
    slices, starts = [], []
    for i in range(12):
        heard = centres[i % 3] + 0.3 * rng.normal(size=(4, 24))
        slices.append(np.concatenate([heard, rng.normal(size=(4, 24))]).astype(np.float32))
        starts.append(np.arange(8.0)[::-1].reshape(-1, 1))  # stored in reverse time order
    c = 20  # timbre rows: mean (c) + covariance (c * c); game-specific means
    timbre_rows = [
        np.concatenate([3.0 * centres[i % 3, :c] + 0.1 * rng.normal(size=c), np.eye(c).ravel()])
        for i in range(12)
    ]
    grid = cached_grid(tmp_path, slices, starts, timbre_rows)
    full = grid.unit_vectors("mtt", 8, "mean", how_norm="centre")
    halved = grid.unit_vectors("mtt", 8, "every2-mean", how_norm="centre")
    assert halved.shape == full.shape and not np.allclose(halved, full)
    # every other slice in time order: slices 7, 5, 3, 1 of each stored bag
    expected = grid.unit_vectors(
        "mtt", 8, "mean", how_norm="centre", slices=[s[[7, 5, 3, 1]] for s in slices]
    )
    assert np.allclose(halved, expected)
    fused = grid.unit_vectors("mtt", 8, "mean+tdiag0.5", how_norm="centre")
    assert fused.shape == (12, 24 + 2 * c)
    assert np.allclose(np.linalg.norm(fused, axis=1), 1.0)
    alone = grid.result(("mtt", 8, "mean+tdiag1.0", "centre", "none"))
    assert np.nanmean(alone.p1) == 1.0  # the timbre rows alone separate the games


def test_joined_models_halve_each_model_on_its_own(tmp_path):
    """every2- on ``mtt+msd``: each model keeps every other slice, then the two are joined."""
    from benchmarks.common import bundle_key, cache_file, save_ragged
    from benchmarks.variants import OursGrid

    rng = np.random.default_rng(5)
    slices = [rng.normal(size=(8, 24)).astype(np.float32) for _ in range(12)]
    starts = [np.arange(8.0).reshape(-1, 1) for _ in range(12)]
    grid = cached_grid(tmp_path, slices, starts)
    other = [rng.normal(size=(8, 10)).astype(np.float32) for _ in range(12)]
    name = f"ours_{bundle_key('msd')}_K8"
    paths = [t.path for t in grid.tracks]
    save_ragged(cache_file(tmp_path, name), paths, other, errors=np.array([""] * 12))
    save_ragged(cache_file(tmp_path, name + "_starts"), paths, starts)
    grid = OursGrid(grid.tracks, str(tmp_path), models=["mtt", "msd", "mtt+msd"], k_values=[8])
    fused = grid.unit_vectors("mtt+msd", 8, "every2-mean", how_norm="centre")
    parts = [grid.unit_vectors(m, 8, "every2-mean", how_norm="centre") for m in ("mtt", "msd")]
    assert fused.shape == (12, 34)
    assert np.allclose(fused, np.concatenate(parts, axis=1) / np.sqrt(2))
    assert not np.allclose(fused, grid.unit_vectors("mtt+msd", 8, "mean", how_norm="centre"))


def test_grid_vectors_are_what_the_shipped_pooler_gives_every_track(tmp_path):
    """The grid pools through the plugin's Pooler: a library track's vector is
    ``FittedPooler.transform`` of its slices, for every pooling the plugin can ship."""
    from benchmarks.variants import pooler
    from deejai_model.vectors.pooling import Pooler

    rng = np.random.default_rng(7)
    slices = [rng.normal(size=(8, 24)).astype(np.float32) for _ in range(60)]  # >= 50: adapts
    starts = [np.arange(8.0).reshape(-1, 1) for _ in range(60)]
    grid = cached_grid(tmp_path, slices, starts)
    shipped = {
        ("trackda-meanstd", "centre"): Pooler(adapt_dims=16),
        ("meanstd", "none"): Pooler(adapt=False, center=False),
        ("trackda-mean", "centre"): Pooler(kind="mean", adapt_dims=16),
        ("tfidf@0.05", "centre"): Pooler(kind="tfidf", adapt=False, epsilon=0.05),
    }
    for (how_pool, how_norm), want in shipped.items():
        how_pool = how_pool.replace("trackda-", "trackda16s0.3-")
        assert pooler(how_pool, how_norm) == want
        fitted = want.fit(slices)
        got = grid.unit_vectors("mtt", 8, how_pool, how_norm=how_norm)
        assert got.shape == (60, fitted.dim)
        for i in (0, 31, 59):
            assert np.allclose(got[i], fitted.transform(slices[i]), atol=1e-6), how_pool


def test_joined_models_are_pooled_block_by_block_like_a_fused_bundle(tmp_path):
    """``mtt+msd`` is a fused bundle's slice vectors to the grid: ``Pooler(parts=...)``."""
    from benchmarks.common import bundle_key, cache_file, save_ragged
    from benchmarks.variants import OursGrid
    from deejai_model.vectors.pooling import Pooler

    rng = np.random.default_rng(11)
    first = [rng.normal(size=(6, 24)).astype(np.float32) for _ in range(12)]
    second = [rng.normal(size=(6, 10)).astype(np.float32) for _ in range(12)]
    starts = [np.arange(6.0).reshape(-1, 1) for _ in range(12)]
    grid = cached_grid(tmp_path, first, starts)
    paths = [t.path for t in grid.tracks]
    name = f"ours_{bundle_key('msd')}_K8"
    save_ragged(cache_file(tmp_path, name), paths, second, errors=np.array([""] * 12))
    save_ragged(cache_file(tmp_path, name + "_starts"), paths, starts)
    grid = OursGrid(grid.tracks, str(tmp_path), models=["mtt+msd"], k_values=[8])
    joined = [np.concatenate(pair, axis=1) for pair in zip(first, second, strict=True)]
    _, want = Pooler(kind="mean", adapt=False, parts=(24, 10)).fit_transform(joined)
    assert np.allclose(grid.unit_vectors("mtt+msd", 8, "mean", how_norm="centre"), want, atol=1e-6)


def test_the_default_variant_is_the_plugins_configuration():
    from beetsplug.deejai.config import DEFAULTS
    from benchmarks.variants import plugin_default, pooler
    from deejai_model.vectors.pooling import Pooler

    model, k, how_pool, how_norm, how_hub = plugin_default()
    assert (model, k, how_hub) == ("default", DEFAULTS["max_slices"], "none")
    assert pooler(how_pool, how_norm) == Pooler(
        kind=DEFAULTS["pooling"], adapt=DEFAULTS["adapt"], adapt_dims=DEFAULTS["adapt_dims"]
    )


def test_experiments_the_pooler_cannot_express_are_refused_by_it():
    import pytest

    from benchmarks.variants import pooler

    for how_pool, how_norm in [("tags", "centre"), ("every2-mean", "centre"), ("mean", "whiten")]:
        with pytest.raises(ValueError):
            pooler(how_pool, how_norm)


def test_quality_report_on_two_corpora_of_real_audio(tmp_path, capsys):
    """benchmarks.quality end to end with the shipped Embedder on generated music: joined
    models, every other slice, and each variant's network work beside the by-corpus table."""
    from audio_fixtures import music, write_audio

    from benchmarks import quality

    sr = 22050
    labels = []
    for corpus in ("dev", "val"):
        folder = tmp_path / corpus
        folder.mkdir()
        rows = ["path\tgroup\tseconds"]
        for i, (group, seed) in enumerate([("x", 1), ("x", 2), ("y", 3), ("y", 4)]):
            signal = music(16.0, sr, bpm=90 if group == "x" else 150, seed=seed)
            path = write_audio(folder / f"{corpus}{i}.wav", signal, sr)
            rows.append(f"{path.name}\t{corpus}-{group}\t16.0")  # relative to labels.tsv
        (folder / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        labels.append(str(folder / "labels.tsv"))

    quality.main(
        ["--labels", ",".join(labels), "--systems", "ours", "--cache", str(tmp_path / "cache")]
        + ["--models", "mtt,mtt+msd", "--k", "4", "--pools", "meanstd,every2-meanstd"]
        + ["--norms", "centre", "--hubs", "none"]
    )
    report = capsys.readouterr().out
    assert "| 8 | 0 |" in report  # 8 queries, none failed
    assert "## By corpus" in report and "network work" in report
    assert "mtt+msd K4 every2-meanstd centre none" in report
    for work in ("0.50x", "0.25x", "1.00x"):  # networks x slices heard / 8
        assert work in report
