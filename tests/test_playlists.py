"""Playlists on clustered synthetic vectors, with the exact brute-force search."""

from __future__ import annotations

import numpy as np
import pytest

from deejai_model.lists.playlists import (
    NOISE_REFERENCE_DIM,
    BruteForceSearch,
    CslsTransform,
    continue_playlist,
    csls_scores,
    hubness_radii,
    journey,
    similar,
    slerp,
)

N_CLUSTERS, PER_CLUSTER, DIM = 5, 20, 32


def unit(v):
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def library():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((N_CLUSTERS, DIM)) * 3
    vectors = np.concatenate([c + rng.standard_normal((PER_CLUSTER, DIM)) for c in centers]).astype(
        np.float32
    )
    vectors *= rng.uniform(0.5, 5.0, size=(len(vectors), 1)).astype(np.float32)  # scale-free
    ids = [f"t{i}" for i in range(len(vectors))]
    cluster = {t: i // PER_CLUSTER for i, t in enumerate(ids)}
    return ids, vectors, dict(zip(ids, vectors, strict=True)), cluster


class SpySearch:
    """Wraps a search and records every call."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = []

    def nearest(self, query, k):
        self.calls.append((np.array(query, dtype=np.float64), k))
        return self.inner.nearest(query, k)


def cosine(a, b):
    return float(unit(np.asarray(a, np.float64)) @ unit(np.asarray(b, np.float64)))


def test_brute_force_search_is_sorted_exact_and_capped(library):
    ids, vectors, _, _ = library
    search = BruteForceSearch(ids, vectors)
    q = vectors[7] + 0.5
    got_ids, dist = search.nearest(q, 10)
    expected = np.array([1 - cosine(v, q) for v in vectors])
    order = np.argsort(expected, kind="stable")[:10]
    assert list(got_ids) == [ids[i] for i in order]
    np.testing.assert_allclose(dist, expected[order], atol=1e-6)
    assert np.all(np.diff(dist) >= 0)
    all_ids, _ = search.nearest(q, 10_000)
    assert len(all_ids) == len(ids) and len(search.nearest(q, 0)[0]) == 0
    with pytest.raises(ValueError):
        search.nearest(np.ones(DIM + 1), 3)


def test_similar_finds_same_cluster(library):
    ids, vectors, _, cluster = library
    search = BruteForceSearch(ids, vectors)
    for i in range(0, len(ids), 7):
        result = similar(search, vectors[i], n=5, exclude=[ids[i]])
        assert len(result) == 5 and ids[i] not in [r.id for r in result]
        assert all(cluster[r.id] == cluster[ids[i]] for r in result)
        assert [r.distance for r in result] == sorted(r.distance for r in result)
    assert len(similar(search, vectors[0], n=1000)) == len(ids)


def test_journey_goes_from_a_to_b_without_repeats(library):
    ids, vectors, by_id, cluster = library
    search = BruteForceSearch(ids, vectors)
    a, b = ids[3], ids[3 * PER_CLUSTER + 4]
    n = 8
    path = journey(search, by_id, waypoints=[a, b], n_per_leg=n)
    assert path[0] == a and path[-1] == b and len(path) == n + 2
    assert len(set(path)) == len(path)
    dist_to_b = np.array([1 - cosine(by_id[t], by_id[b]) for t in path])
    # decreasing on average: negative trend, and the second half is closer than the first
    assert np.polyfit(np.arange(len(path)), dist_to_b, 1)[0] < 0
    assert dist_to_b[len(path) // 2 :].mean() < dist_to_b[: len(path) // 2].mean()
    assert cluster[path[1]] == cluster[a] and cluster[path[-2]] == cluster[b]


def test_journey_with_several_waypoints_puts_them_at_leg_ends(library):
    ids, vectors, by_id, _ = library
    search = BruteForceSearch(ids, vectors)
    waypoints = [ids[0], ids[25], ids[50], ids[99]]
    n = 4
    path = journey(search, by_id, waypoints=waypoints, n_per_leg=n)
    assert len(path) == len(waypoints) + n * (len(waypoints) - 1)
    assert [path[i * (n + 1)] for i in range(len(waypoints))] == waypoints
    assert len(set(path)) == len(path)


def test_journey_skips_near_duplicates_and_asks_for_more(library):
    ids, vectors, by_id, _ = library
    rng = np.random.default_rng(1)
    ends = [ids[0], ids[60]]
    x = journey(BruteForceSearch(ids, vectors), by_id, waypoints=ends, n_per_leg=6)[
        1
    ]  # the first pick
    # five near-copies of it, different lengths, cosine distance ~5e-7 to it
    scale = 1e-3 * np.linalg.norm(by_id[x]) / np.sqrt(DIM)
    copies = {f"dup{i}": by_id[x] * (1 + i) + scale * rng.standard_normal(DIM) for i in range(5)}
    by_id2 = {**by_id, **copies}
    search = SpySearch(BruteForceSearch(list(by_id2), np.stack(list(by_id2.values()))))
    path = journey(search, by_id2, waypoints=ends, n_per_leg=6, near_duplicate=0.001)
    assert len(path) == 8 and len(set(path)) == 8
    assert len((set(copies) | {x}) & set(path)) == 1
    units = np.stack([unit(by_id2[t].astype(np.float64)) for t in path])
    cos = units @ units.T
    np.fill_diagonal(cos, 0)
    assert cos.max() <= 1 - 0.001

    # the skipped copies used up the first candidates: the search was asked for more
    def doubled(calls):
        ks = [k for _, k in calls]
        return any(b == 2 * a and a > 2 for a, b in zip(ks, ks[1:], strict=False))

    assert doubled(search.calls)
    control = SpySearch(BruteForceSearch(ids, vectors))
    journey(control, by_id, waypoints=ends, n_per_leg=6)
    assert not doubled(control.calls)
    # continuation from x: the copies are skipped, unless near_duplicate is tiny
    strict = continue_playlist(search, by_id2, seeds=[x], n=3, lookback=1, near_duplicate=0.001)
    assert not set(strict) & set(copies)
    loose = continue_playlist(search, by_id2, seeds=[x], n=3, lookback=1, near_duplicate=1e-8)
    assert set(loose) <= set(copies)


def test_continuation_lookback_query(library):
    ids, vectors, by_id, _ = library
    search = BruteForceSearch(ids, vectors)
    seeds = [ids[1], ids[30], ids[70]]
    for lookback, used in ((1, seeds[-1:]), (2, seeds[-2:]), (0, seeds)):
        q = sum(unit(by_id[s].astype(np.float64)) for s in used)
        cos = np.array([cosine(v, q) for v in vectors])
        cos[[ids.index(s) for s in seeds]] = -np.inf
        first = continue_playlist(search, by_id, seeds=seeds, n=1, lookback=lookback)
        assert first == [ids[int(np.argmax(cos))]]


def test_continuation_is_reproducible_and_noise_adds_diversity(library):
    ids, vectors, by_id, cluster = library
    search = BruteForceSearch(ids, vectors)
    a = continue_playlist(search, by_id, seeds=[ids[2]], n=12, noise=1.0, rng=42)
    b = continue_playlist(
        search, by_id, seeds=[ids[2]], n=12, noise=1.0, rng=np.random.default_rng(42)
    )
    assert a == b and len(a) == 12 and len(set(a)) == 12 and ids[2] not in a

    def clusters_visited(noise):
        return np.mean(
            [
                len(
                    {
                        cluster[t]
                        for t in continue_playlist(
                            search, by_id, seeds=[ids[s]], n=12, lookback=1, noise=noise, rng=s
                        )
                    }
                )
                for s in range(0, 100, 10)
            ]
        )

    calm, drunk = clusters_visited(0.0), clusters_visited(3.0)
    assert calm == 1.0  # 12 steps stay inside a cluster of 20
    assert drunk > calm + 0.5


def test_noise_scale_is_relative_to_query_length(library):
    ids, vectors, by_id, _ = library
    spy = SpySearch(BruteForceSearch(ids, vectors))
    for noise in (0.25, 1.0):
        spy.calls.clear()
        picks = continue_playlist(spy, by_id, seeds=ids[:3], n=40, lookback=0, noise=noise, rng=0)
        assert len(spy.calls) == len(picks) == 40  # one search call per pick here
        seen = list(ids[:3])
        ratios = []
        for (query, _), pick in zip(spy.calls, picks, strict=True):
            clean = sum(unit(by_id[t].astype(np.float64)) for t in seen)
            ratios.append(np.linalg.norm(query - clean) / np.linalg.norm(clean))
            seen.append(pick)
        # per component noise * |query| / sqrt(128): a vector of length noise * |query| *
        # sqrt(dim / 128), which moves every dot product with a unit vector by the same amount
        # whatever the dimension
        expected = noise * np.sqrt(DIM / NOISE_REFERENCE_DIM)
        assert expected * 0.85 < np.mean(ratios) < expected * 1.15


@pytest.mark.parametrize("size", [1, 2, 3])
def test_tiny_libraries_return_what_exists(size):
    rng = np.random.default_rng(size)
    ids = list(range(size))
    vectors = rng.standard_normal((size, 4)).astype(np.float32)
    by_id = dict(zip(ids, vectors, strict=True))
    search = BruteForceSearch(ids, vectors)
    assert [r.id for r in similar(search, vectors[0], n=5, exclude=[0])] == [
        i for i in search.nearest(vectors[0], 5)[0] if i != 0
    ]
    path = journey(search, by_id, waypoints=[0, size - 1], n_per_leg=5)
    assert path[0] == 0 and path[-1] == size - 1 and len(path) == (size if size > 1 else 2)
    more = continue_playlist(search, by_id, seeds=[0], n=5, noise=0.5, rng=1)
    assert sorted(more) == list(range(1, size))
    assert journey(search, by_id, waypoints=[0], n_per_leg=3) == [0]
    radii = hubness_radii(vectors, k=5)
    assert radii.shape == (size,) and np.all(np.isfinite(radii))
    transform = CslsTransform(ids, radii, k=5)
    assert len(similar(search, vectors[0], n=5, score_transform=transform)) == size


def test_slerp_endpoints_and_unit_length():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    np.testing.assert_allclose(slerp(a, b, 0.0), unit(a), atol=1e-12)
    np.testing.assert_allclose(slerp(a, b, 1.0), unit(b), atol=1e-12)
    mid = slerp(a, b, 0.5)
    assert abs(np.linalg.norm(mid) - 1) < 1e-12
    assert abs(cosine(mid, a) - cosine(mid, b)) < 1e-12
    np.testing.assert_allclose(slerp(a, 2 * a, 0.3), unit(a), atol=1e-12)


def test_hubness_radii_and_csls_reranking(library):
    ids, vectors, _, _ = library
    k = 5
    radii = hubness_radii(vectors, k=k, block=7)
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = units.astype(np.float64) @ units.T.astype(np.float64)
    np.fill_diagonal(sims, -np.inf)
    np.testing.assert_allclose(radii, np.sort(sims, axis=1)[:, -k:].mean(axis=1), atol=1e-5)
    np.testing.assert_allclose(
        csls_scores(np.array([0.5, 0.2]), 0.1, np.array([0.3, 0.0])), [0.6, 0.3]
    )

    search = BruteForceSearch(ids, vectors)
    transform = CslsTransform(ids, radii, k=k)
    q = vectors[11] + vectors[47]  # between two clusters
    pool = 30
    got = [r.id for r in similar(search, q, n=10, score_transform=transform, pool=pool)]
    cand_ids, dist = search.nearest(q, pool)
    cos = 1 - dist
    r_q = cos[:k].mean()
    scores = 2 * cos - r_q - radii[[ids.index(c) for c in cand_ids]]
    expected = [cand_ids[i] for i in np.argsort(-scores, kind="stable")[:10]]
    assert got == expected
    plain = [r.id for r in similar(search, q, n=10)]
    assert got != plain  # the correction does change the ranking here
