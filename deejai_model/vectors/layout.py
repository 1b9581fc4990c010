"""A 2-D layout of track vectors that keeps neighbours near (the DJ page's map), and how well
a layout keeps them.

The layout is t-SNE (scikit-learn's Barnes-Hut ``TSNE``, PCA-initialised, so it is
deterministic for a seed) on the unit track vectors; ``"pca"`` (the first two principal axes,
numpy only) is the fallback for libraries too small for t-SNE and the floor it is measured
against.  ``docs/dj-page.md`` has the figures that chose t-SNE: the share of each track's 10
true nearest neighbours kept among its 10 nearest on the map, and trustworthiness
(Venna and Kaski; :func:`trustworthiness`).

scikit-learn is imported only when a t-SNE layout is computed.
"""

from __future__ import annotations

import numpy as np

from deejai_model.vectors.norms import unit_rows

#: Layout methods, best first.
METHODS = ("tsne", "pca")
#: The method the plugin uses.
DEFAULT_METHOD = "tsne"
#: Fewer tracks than this are laid out by PCA (t-SNE needs a perplexity below n / 3).
MIN_TSNE = 12
#: Above this many tracks t-SNE lays out a random sample of this size, and every other track
#: is placed among its nearest sampled tracks (:func:`place_by_neighbours`): a 50k library
#: costs what a 20k one does.
TSNE_SAMPLE = 20000


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The first two principal components of the rows: ``(n, d) -> (n, 2)`` float64."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    if x.shape[0] < 2:
        return np.zeros((x.shape[0], 2))
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    out = x @ vt[:2].T
    if out.shape[1] < 2:
        out = np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    return out


def tsne_2d(vectors: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """Barnes-Hut t-SNE of the unit rows (euclidean on unit rows ranks as cosine does).

    Parameters
    ----------
    vectors : np.ndarray
        ``(n, d)`` track vectors, ``n >= MIN_TSNE``.
    seed : int
        Random state (the layout is the same for the same vectors and seed).
    perplexity : float
        Effective number of neighbours, capped at ``(n - 1) / 3``.

    Returns
    -------
    np.ndarray
        ``(n, 2)`` float64 coordinates (arbitrary units).
    """
    from sklearn.manifold import TSNE

    x = unit_rows(np.asarray(vectors), np.float32)
    n = x.shape[0]
    tsne = TSNE(
        n_components=2,
        perplexity=min(perplexity, (n - 1) / 3.0),
        init="pca",
        learning_rate="auto",
        random_state=seed,
        method="barnes_hut",
    )
    return np.asarray(tsne.fit_transform(x), dtype=np.float64)


def place_by_neighbours(
    vectors: np.ndarray, anchors: np.ndarray, anchor_xy: np.ndarray, *, k: int = 3
) -> np.ndarray:
    """Map positions of tracks from laid-out ones: the cosine-weighted mean position of each
    track's ``k`` nearest anchors.

    Parameters
    ----------
    vectors : np.ndarray
        ``(n, d)`` tracks to place.
    anchors : np.ndarray
        ``(m, d)`` tracks already laid out, ``m >= k``.
    anchor_xy : np.ndarray
        ``(m, 2)`` their positions.
    k : int
        Anchors per track.

    Returns
    -------
    np.ndarray
        ``(n, 2)`` float64 positions.
    """
    x = unit_rows(np.asarray(vectors), np.float32)
    a = unit_rows(np.asarray(anchors), np.float32)
    xy = np.asarray(anchor_xy, dtype=np.float64)
    out = np.empty((x.shape[0], 2))
    for lo in range(0, x.shape[0], 2048):
        sims = x[lo : lo + 2048] @ a.T
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        weights = np.clip(np.take_along_axis(sims, near, axis=1), 1e-6, None).astype(np.float64)
        out[lo : lo + 2048] = (weights[:, :, None] * xy[near]).sum(axis=1) / weights.sum(
            axis=1, keepdims=True
        )
    return out


def layout_2d(
    vectors: np.ndarray,
    *,
    method: str = DEFAULT_METHOD,
    seed: int = 0,
    sample: int = TSNE_SAMPLE,
) -> np.ndarray:
    """Map coordinates of track vectors, scaled into the unit square.

    Parameters
    ----------
    vectors : np.ndarray
        ``(n, d)`` track vectors.
    method : str
        One of :data:`METHODS`; t-SNE falls back to PCA below :data:`MIN_TSNE` tracks.
    seed : int
        Random state of t-SNE (and of its sample).
    sample : int
        Most tracks t-SNE lays out itself; above it, a random sample of this size is laid out
        and the other tracks are placed by :func:`place_by_neighbours`.

    Returns
    -------
    np.ndarray
        ``(n, 2)`` float32 in ``[0, 1]``, the aspect ratio kept (the longer side spans 0..1,
        the shorter one is centred).
    """
    if method not in METHODS:
        raise ValueError(f"unknown layout {method!r} (one of {', '.join(METHODS)})")
    x = np.asarray(vectors)
    if x.ndim != 2:
        raise ValueError(f"vectors must be (n, d), not {x.shape}")
    if x.shape[0] == 0:
        return np.zeros((0, 2), np.float32)
    if method == "tsne" and x.shape[0] > max(sample, MIN_TSNE - 1) >= MIN_TSNE:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(x.shape[0], size=sample, replace=False))
        laid = tsne_2d(x[chosen], seed=seed)
        xy = place_by_neighbours(x, x[chosen], laid)
        xy[chosen] = laid
    elif method == "tsne" and x.shape[0] >= MIN_TSNE:
        xy = tsne_2d(x, seed=seed)
    else:
        xy = pca_2d(x)
    return unit_square(xy)


def unit_square(xy: np.ndarray) -> np.ndarray:
    """Scale ``(n, 2)`` points into ``[0, 1]``, keeping their aspect ratio; float32."""
    xy = np.asarray(xy, dtype=np.float64)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float(np.max(hi - lo))
    if span <= 0:
        return np.full(xy.shape, 0.5, np.float32)
    out = (xy - lo) / span
    out += (1.0 - (hi - lo) / span) / 2.0
    return out.astype(np.float32)


def _high_neighbours(vectors: np.ndarray, k: int, block: int = 1024):
    """Yield ``(rows, cosine (b, n))`` blocks of the unit rows' similarities (self at -inf)."""
    x = unit_rows(np.asarray(vectors), np.float32)
    for lo in range(0, x.shape[0], block):
        sims = x[lo : lo + block] @ x.T
        sims[np.arange(sims.shape[0]), np.arange(lo, lo + sims.shape[0])] = -np.inf
        yield lo, sims


def _low_neighbours(coords: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """``(n, k)`` indices of each point's ``k`` nearest other points on the map, nearest
    first (squared distances in blocks of ``block`` rows: no ``(n, n)`` matrix)."""
    xy = np.asarray(coords, dtype=np.float64)
    n = xy.shape[0]
    squares = (xy**2).sum(axis=1)
    out = np.empty((n, k), np.int64)
    for lo in range(0, n, block):
        rows = np.arange(lo, min(lo + block, n))
        d2 = squares[rows, None] - 2.0 * xy[rows] @ xy.T + squares[None, :]
        d2[np.arange(len(rows)), rows] = np.inf  # not the point itself
        near = np.argpartition(d2, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d2, near, axis=1), axis=1, kind="stable")
        out[rows] = np.take_along_axis(near, order, axis=1)
    return out


def kept_per_track(vectors: np.ndarray, coords: np.ndarray, k: int = 10) -> np.ndarray:
    """``(n,)`` share of each track's ``k`` nearest tracks (cosine) that are among its ``k``
    nearest on the map (1.0: its neighbourhood kept whole).

    Parameters
    ----------
    vectors : np.ndarray
        ``(n, d)`` track vectors, ``n > k``.
    coords : np.ndarray
        ``(n, 2)`` map coordinates.
    k : int
        Neighbourhood size.
    """
    low = _low_neighbours(coords, k)
    kept = np.zeros(len(low))
    for lo, sims in _high_neighbours(vectors, k):
        high = np.argpartition(-sims, k, axis=1)[:, :k]
        for r, row in enumerate(high):
            kept[lo + r] = len(set(row.tolist()) & set(low[lo + r].tolist())) / k
    return kept


def neighbours_kept(vectors: np.ndarray, coords: np.ndarray, k: int = 10) -> float:
    """The mean of :func:`kept_per_track`: the share of true ``k``-NN the map keeps."""
    return float(kept_per_track(vectors, coords, k).mean())


def trustworthiness(vectors: np.ndarray, coords: np.ndarray, k: int = 10) -> float:
    """Trustworthiness of a map (Venna and Kaski 2001), cosine in the track space.

    ``1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in U_i} (r(i, j) - k)``, where ``U_i`` are the
    map's ``k`` nearest neighbours of ``i`` that are not among its true ``k`` nearest, and
    ``r(i, j)`` is ``j``'s rank among ``i``'s true neighbours.  Equal to scikit-learn's
    ``sklearn.manifold.trustworthiness(..., metric="cosine")``, computed in blocks so that 10k
    tracks need no ``(n, n)`` matrix.
    """
    low = _low_neighbours(coords, k)
    n = low.shape[0]
    if not k < n / 2:
        raise ValueError(f"k must be below n / 2 (n={n}, k={k})")
    penalty = 0.0
    for lo, sims in _high_neighbours(vectors, k):
        for r in range(sims.shape[0]):
            row = sims[r]
            for j in low[lo + r]:
                rank = int(np.count_nonzero(row > row[j])) + 1  # 1 = the nearest
                if rank > k:
                    penalty += rank - k
    return 1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * penalty
