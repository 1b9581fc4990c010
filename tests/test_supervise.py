"""The library supervision: albums / playlists / sessions teach the pooler what belongs
together; cold tracks are transformed without refitting; no labels, no change."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest

from deejai_model.vectors.pooling import FittedPooler, Pooler
from deejai_model.vectors.supervise import fit_label_projection, usable_classes

DIM = 12
STYLES = 4


def _library(rng: np.random.Generator, n_tracks: int = 120) -> tuple[list[np.ndarray], np.ndarray]:
    """Tracks whose style (4 of them) shows only in 3 weak directions, drowned by a strong
    per-track nuisance in the other 9: ``(slices per track, style per track)``."""
    styles = np.arange(n_tracks) % STYLES
    centres = np.zeros((STYLES, DIM))
    centres[:, :3] = rng.normal(size=(STYLES, 3))
    tracks = []
    for style in styles:
        nuisance = np.zeros(DIM)
        nuisance[3:] = 2.5 * rng.normal(size=DIM - 3)
        base = centres[style] + nuisance + 4.0  # a common offset, as real slices have
        tracks.append((base + 0.2 * rng.normal(size=(4, DIM))).astype(np.float32))
    return tracks, styles


def _albums(styles: np.ndarray, known: np.ndarray, size: int = 10) -> list[list[int]]:
    """Albums of ``size`` known tracks of one style each."""
    albums = []
    for style in range(STYLES):
        rows = [int(i) for i in np.flatnonzero((styles == style) & known)]
        albums += [rows[j : j + size] for j in range(0, len(rows), size)]
    return albums


def _precision_at_5(vectors: np.ndarray, styles: np.ndarray, queries: np.ndarray) -> float:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    hits = [np.mean(styles[np.argsort(-sims[q])[:5]] == styles[q]) for q in np.flatnonzero(queries)]
    return float(np.mean(hits))


@pytest.mark.parametrize(
    "plain",
    [Pooler(kind="mean", adapt=False), Pooler(adapt_dims=DIM, adapt_min_tracks=50)],
    ids=["mean", "shipped-meanstd-adapted"],
)
def test_albums_lift_the_cold_tracks(plain: Pooler) -> None:
    rng = np.random.default_rng(0)
    tracks, styles = _library(rng)
    known = rng.random(len(tracks)) < 0.5
    supervised = dataclasses.replace(plain, supervise=True, supervise_dims=3, supervise_shrink=0.1)
    _, before = plain.fit_transform(tracks)
    fitted, after = supervised.fit_transform(tracks, labels=_albums(styles, known))
    assert fitted.n_classes == sum(len(a) >= 3 for a in _albums(styles, known))
    cold = ~known
    assert _precision_at_5(after, styles, cold) > _precision_at_5(before, styles, cold) + 0.1


def test_a_cold_track_is_transformed_without_refitting_and_the_state_is_data() -> None:
    rng = np.random.default_rng(1)
    tracks, styles = _library(rng)
    known = np.arange(len(tracks)) < 80
    pooler = Pooler(adapt_dims=8, supervise=True, supervise_dims=3, parts=(6, 6))
    fitted, vectors = pooler.fit_transform(tracks, labels=_albums(styles, known))
    assert fitted.n_classes > 0 and all(p.supervision is not None for p in fitted.parts)
    np.testing.assert_allclose(fitted.transform(tracks[100]), vectors[100], atol=1e-5)
    meta, arrays = fitted.to_data()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        again = FittedPooler.from_data(json.loads(json.dumps(meta)), dict(loaded))
    assert again.n_classes == fitted.n_classes
    np.testing.assert_allclose(again.transform_many(tracks), vectors, atol=1e-5)
    assert Pooler(**meta["settings"]) == pooler


def test_with_labels_refits_only_the_supervision() -> None:
    rng = np.random.default_rng(2)
    tracks, styles = _library(rng)
    labels = _albums(styles, np.arange(len(tracks)) < 60)
    settings = Pooler(adapt_dims=8, supervise=True, supervise_shrink=0.5)
    _, direct = settings.fit_transform(tracks, labels=labels)
    base = dataclasses.replace(settings, supervise=False).fit(tracks)
    refit, vectors = base.with_labels(tracks, labels, settings=settings)
    np.testing.assert_allclose(vectors, direct, atol=1e-5)
    np.testing.assert_array_equal(refit.projection, base.projection)
    with pytest.raises(ValueError, match="supervise"):
        base.with_labels(tracks, labels, settings=dataclasses.replace(settings, adapt_dims=4))


def test_without_enough_labels_nothing_changes() -> None:
    rng = np.random.default_rng(3)
    tracks, styles = _library(rng, 60)
    plain = Pooler(adapt_dims=8)
    supervised = dataclasses.replace(plain, supervise=True)
    _, expected = plain.fit_transform(tracks)
    one_track_albums = [[i] for i in range(20)] + [[20, 21]]  # below MIN_MEMBERS each
    for labels in (None, [], one_track_albums, [list(range(0, 40, 4))]):  # last: one class
        fitted, vectors = supervised.fit_transform(tracks, labels=labels)
        np.testing.assert_array_equal(vectors, expected)
        assert fitted.n_classes == 0 and fitted.supervision is None
    small = dataclasses.replace(supervised, adapt_min_tracks=61)  # too small a library
    _, vectors = small.fit_transform(tracks, labels=[list(range(0, 40, 4)), list(range(1, 40, 4))])
    np.testing.assert_array_equal(
        vectors, dataclasses.replace(plain, adapt_min_tracks=61).fit_transform(tracks)[1]
    )
    assert "supervise" not in plain.settings()  # indexes saved before this read the same


def test_classes_keep_members_with_slices_and_refuse_strangers() -> None:
    has = np.array([True, True, False, True, True])
    kept = usable_classes([[0, 1, 2, 3], [1, 2, 2], [3, 4, 4, 0]], has)
    assert [k.tolist() for k in kept] == [[0, 1, 3], [0, 3, 4]]
    with pytest.raises(ValueError, match="outside"):
        usable_classes([[0, 5]], has)
    with pytest.raises(ValueError, match="shrink"):
        fit_label_projection(np.eye(3), kept, shrink=0.0)
    with pytest.raises(ValueError, match="supervise_shrink"):
        Pooler(supervise=True, supervise_shrink=-1.0)
    with pytest.raises(ValueError, match="supervise_blend"):
        Pooler(supervise=True, supervise_blend=0.0)


def test_the_blend_keeps_the_pooled_vector_beside_the_discriminant() -> None:
    rng = np.random.default_rng(4)
    tracks, styles = _library(rng)
    labels = _albums(styles, np.arange(len(tracks)) < 80)
    plain = Pooler(kind="mean", adapt=False, center=False)
    _, pooled = plain.fit_transform(tracks)
    alone = dataclasses.replace(plain, supervise=True, supervise_dims=3, supervise_blend=1.0)
    both = dataclasses.replace(alone, supervise_blend=0.5)
    assert alone.fit(tracks, labels=labels).supervision.shape == (DIM, 3)
    fitted, vectors = both.fit_transform(tracks, labels=labels)
    assert fitted.supervision.shape == (DIM, DIM + 3)
    # the first DIM columns are the pooled vector, scaled: same direction as without labels
    head = vectors[:, :DIM] / np.linalg.norm(vectors[:, :DIM], axis=1, keepdims=True)
    np.testing.assert_allclose(head, pooled, atol=1e-5)
