"""The contrastive head: trained on a library's own slices (slices of one track together, of
others apart), deterministic, saved as data, applied to cold tracks without refitting."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest

from deejai_model.vectors.contrastive import ContrastiveHead, pair_loss, train_head
from deejai_model.vectors.norms import unit_rows
from deejai_model.vectors.pooling import FittedPooler, Pooler

DIM = 16


def _tracks(rng: np.random.Generator, n_tracks: int = 120, n_slices: int = 6) -> list[np.ndarray]:
    """Tracks told apart by 4 weak directions, each slice drowned by strong noise in the other
    12 (noise that changes from slice to slice: what a head should learn to ignore)."""
    tracks = []
    for _ in range(n_tracks):
        identity = np.zeros(DIM)
        identity[:4] = rng.normal(size=4)
        noise = np.zeros((n_slices, DIM))
        noise[:, 4:] = 2.0 * rng.normal(size=(n_slices, DIM - 4))
        tracks.append((identity + noise).astype(np.float32))
    return tracks


def _separation(slices_per_track: list[np.ndarray]) -> float:
    """Mean cosine of two slices of one track minus that of slices of different tracks."""
    units = [unit_rows(np.asarray(s, np.float64)) for s in slices_per_track]
    same = np.mean([(u @ u.T)[np.triu_indices(len(u), 1)].mean() for u in units])
    stacked = np.concatenate(units)
    owner = np.repeat(np.arange(len(units)), [len(u) for u in units])
    other = owner[:, None] != owner[None, :]
    return float(same - (stacked @ stacked.T)[other].mean())


def test_the_trained_head_pulls_slices_of_one_track_together():
    tracks = _tracks(np.random.default_rng(0))
    head = train_head(tracks, steps=150, batch=64, hidden=32, temperature=0.2)
    assert head is not None
    mapped = head.apply_many(tracks)
    assert [m.shape for m in mapped] == [t.shape for t in tracks]
    before, after = _separation(tracks), _separation(mapped)
    assert after > before + 0.1, (before, after)
    # and on tracks it never saw (a cold import): the head generalises, it did not memorise
    unseen = _tracks(np.random.default_rng(1), n_tracks=40)
    assert _separation(head.apply_many(unseen)) > _separation(unseen) + 0.1
    assert pair_loss(head, unseen) < pair_loss(None, unseen)


def test_an_untrained_head_is_the_identity_up_to_scale():
    tracks = _tracks(np.random.default_rng(2), n_tracks=10)
    head = train_head(tracks, steps=1, learning_rate=0.0)
    x = tracks[0]
    np.testing.assert_allclose(head.apply(x), x * head.scale, rtol=1e-6)


def test_training_is_deterministic_with_its_seed():
    tracks = _tracks(np.random.default_rng(3), n_tracks=60)
    a = train_head(tracks, steps=20, batch=32, hidden=16)
    b = train_head(tracks, steps=20, batch=32, hidden=16)
    c = train_head(tracks, steps=20, batch=32, hidden=16, seed=1)
    for name, array in a.to_arrays().items():
        np.testing.assert_array_equal(array, b.to_arrays()[name])
    assert not np.array_equal(a.w1, c.w1)
    # and so is the pooler that trains it with the index (its seed is a setting)
    settings = Pooler(adapt_dims=8, contrast=True, contrast_steps=10)
    first, second = settings.fit_transform(tracks)[1], settings.fit_transform(tracks)[1]
    np.testing.assert_array_equal(first, second)
    reseeded = dataclasses.replace(settings, contrast_seed=1).fit_transform(tracks)[1]
    assert not np.array_equal(first, reseeded)


def test_nothing_to_contrast_gives_no_head():
    one_slice = [np.ones((1, DIM), np.float32) for _ in range(30)]
    assert train_head(one_slice, steps=5) is None
    with pytest.raises(ValueError, match="temperature"):
        train_head(_tracks(np.random.default_rng(4), n_tracks=5), temperature=0.0)


def _saved_and_loaded(fitted: FittedPooler) -> FittedPooler:
    """Through JSON and ``.npz`` with pickles refused, as the index stores it."""
    meta, arrays = fitted.to_data()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return FittedPooler.from_data(json.loads(json.dumps(meta)), dict(loaded))


@pytest.mark.parametrize("parts", [(), (8, 8)])
def test_the_pooler_saves_its_head_and_transforms_cold_tracks_without_refitting(parts):
    rng = np.random.default_rng(5)
    library, cold = _tracks(rng, n_tracks=80), _tracks(rng, n_tracks=5)
    settings = Pooler(adapt_dims=8, parts=parts, contrast=True, contrast_steps=30)
    fitted, vectors = settings.fit_transform(library)
    heads = [p.head for p in fitted.parts] if parts else [fitted.head]
    assert all(isinstance(h, ContrastiveHead) for h in heads)
    # the library's own vectors are what transform gives them
    np.testing.assert_allclose(fitted.transform_many(library), vectors, atol=1e-5)
    loaded = _saved_and_loaded(fitted)
    assert loaded.pooler == settings
    np.testing.assert_array_equal(loaded.transform_many(cold), fitted.transform_many(cold))
    np.testing.assert_array_equal(loaded.project(cold[0]), fitted.project(cold[0]))
    # the head changes the vectors (it is not a no-op behind a flag)
    plain = dataclasses.replace(settings, contrast=False).fit(library)
    assert np.abs(plain.transform_many(cold) - fitted.transform_many(cold)).max() > 1e-3


def test_off_by_default_and_the_settings_read_as_before():
    assert Pooler().contrast is False
    assert not any(name.startswith("contrast") for name in Pooler().settings())
    tracks = _tracks(np.random.default_rng(6), n_tracks=60)
    meta, arrays = Pooler(adapt_dims=8).fit(tracks).to_data()
    assert "has_head" not in meta and not any(n.startswith("head_") for n in arrays)
    on = Pooler(contrast=True, contrast_steps=7, contrast_seed=3)
    assert Pooler(**on.settings()) == on


def test_a_small_library_learns_no_head_and_is_unchanged():
    tracks = _tracks(np.random.default_rng(7), n_tracks=20)  # under adapt_min_tracks
    fitted, vectors = Pooler(contrast=True, contrast_steps=5).fit_transform(tracks)
    assert fitted.head is None
    np.testing.assert_array_equal(vectors, Pooler().fit_transform(tracks)[1])


def test_the_head_keeps_the_library_supervision_working():
    rng = np.random.default_rng(8)
    tracks = _tracks(rng, n_tracks=90)
    albums = [list(range(i, i + 9)) for i in range(0, 90, 9)]
    settings = Pooler(adapt_dims=8, contrast=True, contrast_steps=20, supervise=True)
    fitted, vectors = settings.fit_transform(tracks, labels=albums)
    assert fitted.head is not None and fitted.supervision is not None
    np.testing.assert_allclose(_saved_and_loaded(fitted).transform_many(tracks), vectors, atol=1e-5)
