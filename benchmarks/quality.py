"""Retrieval quality on a labelled corpus: ours (and its levers) against bliss, Musly and baselines.

For every system: P@1 and P@5 of same-group nearest neighbours (the query itself left out) with
bootstrap 95% intervals over queries, and P@1 per group. For ours, a grid of variants (model,
slices per track, pooling, normalisation, hubness reduction), chosen leave-one-group-out, and a
label-free check (two halves of one track should find each other first).

Usage, from the repository root::

    nice python -m benchmarks.quality --labels /work/corpus/labels.tsv \\
        --systems ours,bliss,musly,logmel,speccy-random --cache /work/cache

Several corpora at once (comma-separated labels files; each named by its folder, e.g. ``dev``
and ``val``) make one library of all their tracks: leave-one-game-out runs over every game, and
a "by corpus" section reports each corpus' queries on their own, with paired intervals against
the plugin default::

    nice python -m benchmarks.quality \\
        --labels /work/corpus/dev/labels.tsv,/work/corpus/val/labels.tsv

Prints Markdown. Per-slice vectors, peer analyses and distance matrices are cached in ``--cache``
(``.npz``, no pickles), so a second run only evaluates.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file (python benchmarks/x.py): import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import layers  # noqa: E402
from benchmarks.common import (  # noqa: E402
    DEFAULT_CACHE,
    DEFAULT_LABELS,
    Track,
    align,
    bootstrap_ci,
    cache_file,
    fmt_ci,
    hits_at_k,
    load_ragged,
    markdown_table,
    read_labels,
    save_ragged,
)

BUNDLES_DIR = Path(__file__).resolve().parent.parent / "deejai_model" / "bundles"
MODELS = {"mtt": "musicnn_mtt", "msd": "musicnn_msd"}
K_VALUES = (4, 8, 16, 32, 0)  # 0 = every slice of the whole track
POOLS = (
    "mean",
    "meanstd",
    "tfidf@0.001",
    "tfidf@p0.1",
    "tfidf@p1",
    "tfidf@p5",
    "tags",
    "trackda-mean",
    "trackda-meanstd",
)
TAG_K = (16,)
"""Slice counts at which the tag layer ("tags" pooling: mean tag probabilities) is computed."""
NORMS = ("none", "centre", "whiten")
HUBS = ("none", "csls5", "csls10", "csls20", "mp")
PLUGIN_DEFAULT = ("mtt", 8, "trackda-meanstd", "centre", "none")
"""The plugin's shipped configuration (beetsplug/deejai/config.py DEFAULTS)."""


def log(message: str) -> None:
    """Progress on stderr (stdout is the Markdown report)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- slice vectors


def bundle_dir(model: str) -> Path:
    """Bundle directory of a model short name (``mtt``, ``msd``) or a path."""
    return BUNDLES_DIR / MODELS[model] if model in MODELS else Path(model)


def bundle_key(model: str) -> str:
    """``<name>@<version>:<sha12>`` read from the manifest alone (no TensorFlow)."""
    from deejai_model.ears.shipped import manifest_model_id

    return manifest_model_id(bundle_dir(model))


def ours_slices(
    tracks: Sequence[Track], model: str, k: int, cache_dir: str, workers: int = 2
) -> tuple[list[np.ndarray | None], list[np.ndarray | None], list[str]]:
    """Per-slice vectors of every track, as the plugin computes them, cached per (model, K).

    Runs ``Embedder(load_bundle(...), max_slices=k, workers=workers).embed_paths(paths)`` on
    the tracks missing from the cache.

    Returns
    -------
    (vectors, starts, failures)
        ``vectors[i]``: ``(n_slices, dim)`` float32 or None when track ``i`` failed;
        ``starts[i]``: slice start times in seconds; failures as ``"path: reason"`` lines.
    """
    name = f"ours_{bundle_key(model)}_K{k or 'all'}"
    path = cache_file(cache_dir, name)
    vectors: dict[str, np.ndarray | None] = {}
    starts: dict[str, np.ndarray | None] = {}
    errors: dict[str, str] = {}
    if path.exists():
        paths, arrays, meta = load_ragged(path)
        vectors = dict(zip(paths, arrays, strict=True))
        _, start_arrays, _ = load_ragged(cache_file(cache_dir, name + "_starts"))
        starts = dict(zip(paths, start_arrays, strict=True))
        errors = dict(zip(paths, [str(e) for e in meta["errors"]], strict=True))
    todo = [t.path for t in tracks if t.path not in vectors]
    if todo:
        from deejai_model.ears.bundle import load_bundle
        from deejai_model.ears.embed import Embedder

        log(f"embedding {len(todo)} tracks with {model}, K={k or 'all'}")
        embedder = Embedder(load_bundle(bundle_dir(model)), max_slices=k, workers=workers)
        done = 0
        for track_path, result in embedder.embed_paths(todo):
            if isinstance(result, Exception):
                vectors[track_path], starts[track_path] = None, None
                errors[track_path] = str(result)
                log(f"failed: {result}")
            else:
                vectors[track_path] = result.vectors
                starts[track_path] = result.starts.reshape(-1, 1)
                errors[track_path] = ""
            done += 1
            if done % 40 == 0 or done == len(todo):
                keys = list(vectors)
                save_ragged(
                    path,
                    keys,
                    [vectors[p] for p in keys],
                    errors=np.array([errors[p] for p in keys]),
                )
                save_ragged(
                    cache_file(cache_dir, name + "_starts"), keys, [starts[p] for p in keys]
                )
                log(f"{model} K={k or 'all'}: {done}/{len(todo)}")
    keys = list(vectors)
    out_vectors = align(tracks, keys, [vectors[p] for p in keys])
    out_starts = align(tracks, keys, [starts[p] for p in keys])
    failed = [
        f"{t.path}: {errors.get(t.path, 'missing')}"
        for t, v in zip(tracks, out_vectors, strict=True)
        if v is None
    ]
    return out_vectors, out_starts, failed


def ours_tags(tracks: Sequence[Track], model: str, k: int, cache_dir: str) -> list | None:
    """Per-slice tag probabilities (the bundle's ``taggram`` output), or None if it has none."""
    name = f"ours-tags_{bundle_key(model)}_K{k or 'all'}"
    path = cache_file(cache_dir, name)
    if path.exists():
        paths, arrays, _ = load_ragged(path)
        return align(tracks, paths, arrays)
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder

    bundle = load_bundle(bundle_dir(model))
    if "taggram" not in bundle.output_names:
        return None
    embedder = Embedder(bundle, max_slices=k, workers=2)
    arrays: list[np.ndarray | None] = []
    for number, track in enumerate(tracks, 1):
        try:
            arrays.append(bundle.predict(embedder.prepare(track.path).batch, "taggram"))
        except Exception as exc:  # noqa: BLE001 - a failed track is reported, not fatal
            log(f"tags failed: {track.path}: {exc}")
            arrays.append(None)
        if number % 40 == 0:
            log(f"tags {model}: {number}/{len(tracks)}")
    save_ragged(path, [t.path for t in tracks], arrays)
    return arrays


def ours_timbre(tracks: Sequence[Track], k: int, cache_dir: str) -> list[np.ndarray | None]:
    """Per track, the Gaussian of :func:`benchmarks.timbre.gaussian` over the K mel slices
    the plugin cuts for the network: ``(1, c + c*c)`` rows (mean, then covariance), cached."""
    from benchmarks import peers, timbre
    from deejai_model.ears.bundle import load_bundle
    from deejai_model.ears.embed import Embedder

    embedder = Embedder(load_bundle(bundle_dir("mtt")), max_slices=k, workers=1)

    def analyse(path: str) -> np.ndarray:
        mean, covariance = timbre.gaussian(embedder.prepare(path).batch)
        return np.concatenate([mean, covariance.reshape(-1)])

    arrays, _ = peers._cached_per_track(tracks, cache_dir, f"timbre-mel_K{k}", analyse, log)
    return arrays


# --------------------------------------------------------------------------- the levers


def slice_epsilon(slices: Sequence[np.ndarray], percentile: float, sample: int = 4000) -> float:
    """A percentile (in %) of the cosine distances between distinct slices of the library.

    At most ``sample`` slices (a fixed random subset) are compared.
    """
    x = np.concatenate([s for s in slices if s is not None and len(s)])
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if len(x) > sample:
        x = x[np.random.default_rng(0).choice(len(x), sample, replace=False)]
    d = 1.0 - x @ x.T
    return float(np.percentile(d[np.triu_indices(len(x), 1)], percentile))


def adaptation_settings(head: str) -> tuple[int, float]:
    """``(dims, shrink)`` of the library adaptation named ``trackda`` (the plugin's settings,
    :data:`deejai_model.vectors.adapt.DEFAULT_DIMS` / ``DEFAULT_SHRINK``) or
    ``trackda<dims>s<shrink>``
    (e.g. ``trackda128s1.0``)."""
    from deejai_model.vectors import adapt

    if head == "trackda":
        return adapt.DEFAULT_DIMS, adapt.DEFAULT_SHRINK
    dims, shrink = head[len("trackda") :].split("s")
    return int(dims), float(shrink)


def slice_match_similarity(bags: Sequence[np.ndarray]) -> np.ndarray:
    """Track similarity from their best-matching slices.

    Slices are centred on the library's mean slice and scaled to unit length; for tracks a and
    b, ``s(a, b)`` is the mean over a's slices of their best cosine among b's slices, and the
    result is symmetrised: ``(s(a, b) + s(b, a)) / 2``. Tracks without slices get zero rows.

    Parameters
    ----------
    bags : sequence of np.ndarray, each (n_slices_i, dim)

    Returns
    -------
    np.ndarray, shape (n_tracks, n_tracks), float64
    """
    counts = np.array([len(b) for b in bags])
    x = np.concatenate([b for b in bags if len(b)]).astype(np.float64)
    x = x - x.mean(axis=0)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    present = np.flatnonzero(counts)
    offsets = np.concatenate([[0], np.cumsum(counts[present])[:-1]])
    cosine = x @ x.T
    best = np.maximum.reduceat(cosine, offsets, axis=1)  # (slices, present tracks)
    mean_best = np.add.reduceat(best, offsets, axis=0) / counts[present][:, None]
    similarity = np.zeros((len(bags), len(bags)))
    similarity[np.ix_(present, present)] = (mean_best + mean_best.T) / 2.0
    return similarity


def pool(slices: Sequence[np.ndarray | None], how: str) -> np.ndarray:
    """Track vectors (n, dim') from per-slice vectors; failed tracks get zero rows.

    ``mean`` / ``tfidf@<eps>``: deejai_model.vectors.mp3tovec (mean of unit slices, exact TF-IDF
    with a
    fixed epsilon); ``tfidf@p<q>``: epsilon = q-th percentile of the library's slice distances;
    ``meanstd``: mean and standard deviation of the unit slices, concatenated;
    ``trackda-<pooling>``: slices first projected by ``deejai_model.vectors.adapt`` (64 directions
    that
    separate tracks, learned from the library's own unlabelled slices), then ``<pooling>``.
    """
    from deejai_model.vectors import adapt, mp3tovec

    dim = next(s.shape[1] for s in slices if s is not None)
    bags = [s if s is not None else np.zeros((0, dim), np.float32) for s in slices]
    if how.startswith("trackda"):
        head, rest = how.split("-", 1)
        dims, shrink = adaptation_settings(head)
        projection = adapt.fit_track_projection(bags, dims=dims, shrink=shrink)
        return pool(adapt.project_slices(bags, projection), rest)
    if how == "mean":
        return mp3tovec.mean_vectors(bags).astype(np.float64)
    if how == "meanstd":
        return mp3tovec.meanstd_vectors(bags).astype(np.float64)
    if how.startswith("tfidf@p"):
        epsilon = slice_epsilon(bags, float(how[len("tfidf@p") :]))
        return mp3tovec.tfidf_vectors(bags, epsilon=epsilon).astype(np.float64)
    if how.startswith("tfidf@"):
        return mp3tovec.tfidf_vectors(bags, epsilon=float(how[len("tfidf@") :])).astype(np.float64)
    raise ValueError(f"unknown pooling {how!r}")


def normalise(x: np.ndarray, valid: np.ndarray, how: str, shrink: float = 0.1) -> np.ndarray:
    """Library-level normalisation of track vectors, statistics from the valid rows.

    ``none``; ``centre``: subtract the library mean; ``whiten``: centre, then ZCA-whiten with
    the covariance shrunk towards ``shrink * mean eigenvalue`` (the library has fewer tracks
    than dimensions, so plain whitening is singular). Rows are then scaled to unit length.
    """
    y = np.array(x, dtype=np.float64)
    if how in ("centre", "whiten"):
        y = y - y[valid].mean(axis=0)
    if how == "whiten":
        cov = np.cov(y[valid], rowvar=False)
        values, vecs = np.linalg.eigh(cov)
        values = np.maximum(values, 0.0) + shrink * max(values.mean(), 1e-12)
        y = y @ (vecs / np.sqrt(values)) @ vecs.T
    elif how != "none" and how != "centre":
        raise ValueError(f"unknown normalisation {how!r}")
    norms = np.linalg.norm(y, axis=1, keepdims=True)
    y = y / np.where(norms > 0, norms, 1.0)
    y[~valid] = 0.0
    return y


def csls_distances(unit: np.ndarray, k: int, valid: np.ndarray) -> np.ndarray:
    """CSLS as the plugin scores it (:func:`deejai_model.lists.playlists.csls_scores`), negated.

    ``r(x)``: mean cosine of ``x`` to its ``k`` nearest other valid items
    (:func:`deejai_model.lists.playlists.hubness_radii`).
    """
    from deejai_model.lists.playlists import csls_scores, hubness_radii

    radii = np.zeros(len(unit))
    radii[valid] = hubness_radii(unit[valid], k=k)
    return -csls_scores(unit @ unit.T, radii[:, None], radii[None, :])


def mutual_proximity(distances: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Gaussian mutual proximity (Schnitzer et al. 2012) as a distance in [0, 1].

    ``MP(x, y) = 1 - P(D_x > d) P(D_y > d)``, each item's distances to the others modelled as a
    normal distribution.
    """
    from scipy.stats import norm

    d = np.array(distances, dtype=np.float64)
    block = d[np.ix_(valid, valid)].copy()
    np.fill_diagonal(block, np.nan)
    mu = np.full(len(d), 0.0)
    sd = np.full(len(d), 1.0)
    mu[valid] = np.nanmean(block, axis=1)
    sd[valid] = np.maximum(np.nanstd(block, axis=1), 1e-12)
    p_x = norm.sf(d, loc=mu[:, None], scale=sd[:, None])
    p_y = norm.sf(d, loc=mu[None, :], scale=sd[None, :])
    return 1.0 - p_x * p_y


def reduce_hubs(unit: np.ndarray, valid: np.ndarray, how: str) -> np.ndarray:
    """Distance matrix from unit track vectors: cosine, then optional hubness reduction."""
    similarity = unit @ unit.T
    if how == "none":
        return 1.0 - similarity
    if how.startswith("csls"):
        return csls_distances(unit, int(how[4:]), valid)
    if how == "mp":
        return mutual_proximity(1.0 - similarity, valid)
    raise ValueError(f"unknown hubness reduction {how!r}")


# --------------------------------------------------------------------------- evaluation


@dataclass
class Result:
    """Per-query precision of one system on the whole corpus (NaN: not a query)."""

    name: str
    p1: np.ndarray
    p5: np.ndarray
    failed: list[str]


def evaluate(
    name: str, distances: np.ndarray, groups: Sequence[str], valid: np.ndarray, failed: list[str]
) -> Result:
    """P@1 and P@5 of every valid query, NaN for the others."""
    p1 = np.full(len(groups), np.nan)
    p5 = np.full(len(groups), np.nan)
    p1[valid] = hits_at_k(distances, groups, 1, valid)
    p5[valid] = hits_at_k(distances, groups, 5, valid)
    return Result(name, p1, p5, failed)


def summary_rows(results: Sequence[Result], groups: Sequence[str]) -> tuple[list, list]:
    """Rows of the systems table and of the per-group P@1 table."""
    names = sorted(set(groups))
    labels = np.asarray(groups)
    rows, per_group = [], []
    for r in results:
        ok = ~np.isnan(r.p1)
        rows.append([r.name, fmt_ci(r.p1[ok]), fmt_ci(r.p5[ok]), int(ok.sum()), len(r.failed)])
        per_group.append([r.name] + [f"{np.nanmean(r.p1[labels == g]):.2f}" for g in names])
    return rows, per_group


class OursGrid:
    """Every variant of our pipeline over one corpus, with memoised pooled vectors."""

    def __init__(
        self,
        tracks: Sequence[Track],
        cache_dir: str,
        models: Sequence[str],
        k_values: Sequence[int],
        layer_k: dict[int, list[int]] | None = None,
    ):
        """``layer_k``: slices per track of layer models by slice length in frames (e.g.
        ``{187: [8], 94: [16]}``); lengths it does not name use ``k_values``."""
        self.tracks = list(tracks)
        self.cache_dir = cache_dir
        self.groups = [t.group for t in tracks]
        self.slices: dict[tuple[str, int], list[np.ndarray | None]] = {}
        self.starts: dict[tuple[str, int], list[np.ndarray | None]] = {}
        self.failed: dict[tuple[str, int], list[str]] = {}
        self._pooled: dict[tuple, np.ndarray] = {}
        self.models = [m for m in models if m != "fused" and not layers.is_layer_model(m)]
        singles = list(dict.fromkeys(p for m in models if m != "fused" for p in layers.parts(m)))
        self.k_values = list(k_values)
        self.layer_k = dict(layer_k or {})
        for model in singles:
            for k in self.model_ks(model):
                self._load(model, k)

    def model_ks(self, model: str) -> list[int]:
        """Slices per track evaluated for ``model`` (layer models: by their slice length)."""
        if layers.is_layer_model(model):
            return list(self.layer_k.get(layers.parse(model)[2], self.k_values))
        return list(self.k_values)

    def _load(self, model: str, k: int) -> None:
        """Per-slice vectors of one single model at K slices per track, into the grid."""
        if layers.is_layer_model(model):
            vectors, starts, failed = layers.layer_slices(self.tracks, model, k, self.cache_dir)
        else:
            vectors, starts, failed = ours_slices(self.tracks, model, k, self.cache_dir)
        self.slices[model, k], self.starts[model, k] = vectors, starts
        self.failed[model, k] = failed

    def valid(self, model: str, k: int) -> np.ndarray:
        """Tracks with at least one slice vector under ``model`` (``fused``: under both)."""
        if model == "fused":
            return np.logical_and.reduce([self.valid(m, k) for m in self.models])
        if len(layers.parts(model)) > 1:
            return np.logical_and.reduce([self.valid(m, k) for m in layers.parts(model)])
        return np.array([s is not None and len(s) > 0 for s in self.slices[model, k]])

    def unit_vectors(
        self,
        model: str,
        k: int,
        how_pool: str,
        how_norm: str,
        slices: Sequence[np.ndarray | None] | None = None,
    ) -> np.ndarray:
        """Normalised unit track vectors (``fused``: both models' concatenated / sqrt 2).

        ``every2-<pool>``: ``<pool>`` over every other slice in time order (K/2 evenly spread
        slices, as a K/2 run would cut them up to the plan's offset).
        ``<pool>+tdiag<w>`` / ``<pool>+tcov<w>``: the ``<pool>`` vectors and the timbre
        statistic (:mod:`benchmarks.timbre`, z-scored) concatenated with weights sqrt(1-w)
        and sqrt(w), so that cosine similarity is ``(1-w) ours + w timbre``.
        A fused layer model (:func:`benchmarks.layers.parts`, e.g. ``mtt.pen+pool@94``): its
        parts' unit vectors concatenated / sqrt(parts), as ``fused`` is.
        """
        singles = self.models if model == "fused" else layers.parts(model)
        if slices is None and (
            len(layers.parts(model)) > 1 or (model == "fused" and "+t" not in how_pool)
        ):
            # fused before every2-: each part halves its own slices
            fused = [self.unit_vectors(m, k, how_pool, how_norm) for m in singles]
            return np.concatenate(fused, axis=1) / np.sqrt(len(fused))
        if how_pool.startswith("every2-") and slices is None:
            # half the slices (every other one in time order): K/2 without re-embedding
            halved = [
                s[np.argsort(st.reshape(-1), kind="stable")][::2] if s is not None else None
                for s, st in zip(self.slices[model, k], self.starts[model, k], strict=True)
            ]
            return self.unit_vectors(model, k, how_pool[len("every2-") :], how_norm, halved)
        if "+t" in how_pool and slices is None:
            base_pool, fuse = how_pool.split("+t")
            kind = "diag" if fuse.startswith("diag") else "cov"
            weight = float(fuse[len(kind) :])
            parts = [np.sqrt(1.0 - weight) * self.unit_vectors(model, k, base_pool, how_norm)]
            parts.append(np.sqrt(weight) * self.timbre_units(k, kind))
            return np.concatenate(parts, axis=1)
        key = (model, k, how_pool)
        if how_pool == "tags" and slices is None:
            if key not in self._pooled:
                tags = ours_tags(self.tracks, model, k, self.cache_dir)
                if tags is None:
                    raise ValueError(f"{model} has no tag layer")
                self._pooled[key] = np.stack(
                    [
                        t.mean(axis=0) if t is not None and len(t) else np.zeros(tags_dim(tags))
                        for t in tags
                    ]
                ).astype(np.float64)
            return normalise(self._pooled[key], self.valid(model, k), how_norm)
        if slices is None:
            if key not in self._pooled:
                self._pooled[key] = pool(self.slices[model, k], how_pool)
            pooled = self._pooled[key]
        else:
            pooled = pool(slices, how_pool)
        valid = np.array(
            [
                s is not None and len(s) > 0
                for s in (slices if slices is not None else self.slices[model, k])
            ]
        )
        return normalise(pooled, valid, how_norm)

    def timbre_units(self, k: int, kind: str) -> np.ndarray:
        """Z-scored unit timbre vectors (``diag`` or ``cov``) from the K-slice mel batches."""
        from benchmarks import timbre

        key = ("timbre", k, kind)
        if key not in self._pooled:
            stats = ours_timbre(self.tracks, k, self.cache_dir)
            c = timbre.DEFAULT_COEFFS
            dim = c + c * c
            rows = np.zeros((len(stats), len(timbre.timbre_vector(np.zeros(c), np.eye(c), kind))))
            valid = np.array([s is not None for s in stats])
            for i, s in enumerate(stats):
                if s is not None:
                    flat = s.reshape(dim)
                    rows[i] = timbre.timbre_vector(flat[:c], flat[c:].reshape(c, c), kind)
            self._pooled[key] = timbre.library_unit_vectors(rows, valid)
        return self._pooled[key]

    def distances(self, variant: tuple) -> tuple[np.ndarray, np.ndarray]:
        """(distance matrix, valid mask) of ``(model, k, pool, norm, hub)``.

        Pooling ``[trackda...-]slicemax``: no pooled vector; tracks compared by their
        best-matching slices (:func:`slice_match_similarity`), after the library adaptation's
        projection when prefixed; ``norm`` and ``hub`` do not apply (use ``centre``/``none``).
        """
        model, k, how_pool, how_norm, how_hub = variant
        valid = self.valid(model, k)
        if how_pool.endswith("slicemax"):
            from deejai_model.vectors import adapt

            dim = next(s.shape[1] for s in self.slices[model, k] if s is not None)
            bags = [
                s if s is not None else np.zeros((0, dim), np.float32)
                for s in self.slices[model, k]
            ]
            if how_pool.startswith("trackda"):
                dims, shrink = adaptation_settings(how_pool.split("-", 1)[0])
                projection = adapt.fit_track_projection(bags, dims=dims, shrink=shrink)
                bags = adapt.project_slices(bags, projection)
            else:
                bags = [
                    b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12) for b in bags
                ]
            return 1.0 - slice_match_similarity(bags), valid
        unit = self.unit_vectors(model, k, how_pool, how_norm)
        return reduce_hubs(unit, valid, how_hub), valid

    def result(self, variant: tuple) -> Result:
        """Per-query P@1/P@5 of a variant."""
        d, valid = self.distances(variant)
        model, k = variant[0], variant[1]
        singles = self.models if model == "fused" else layers.parts(model)
        failed = sorted({f for m in singles for f in self.failed[m, k]})
        return evaluate(variant_name(variant), d, self.groups, valid, failed)


def tags_dim(tags: Sequence[np.ndarray | None]) -> int:
    """Width of the tag vectors in a list that may hold None."""
    return next(t.shape[1] for t in tags if t is not None)


def variant_name(variant: tuple) -> str:
    """``mtt K16 mean centre none`` (K0 is written Kall)."""
    model, k, how_pool, how_norm, how_hub = variant
    return f"{model} K{k or 'all'} {how_pool} {how_norm} {how_hub}"


def logo(
    results: dict[tuple, Result], groups: Sequence[str]
) -> tuple[list, list, np.ndarray, np.ndarray]:
    """Leave-one-group-out choice of a variant.

    For each group g: the variant with the best P@5 over the queries of the other groups
    (ties: better P@1, then the earlier variant) is evaluated on g's queries.

    Returns
    -------
    (rows, chosen, p1, p5)
        Table rows, the chosen variant per group, and the held-out per-query P@1 / P@5 of all
        queries (each from the variant chosen without its group).
    """
    labels = np.asarray(groups)
    p1 = np.full(len(groups), np.nan)
    p5 = np.full(len(groups), np.nan)
    rows, chosen = [], []
    for g in sorted(set(groups)):
        train = labels != g
        best = max(
            results,
            key=lambda v: (np.nanmean(results[v].p5[train]), np.nanmean(results[v].p1[train])),
        )
        chosen.append(best)
        test = labels == g
        p1[test], p5[test] = results[best].p1[test], results[best].p5[test]
        rows.append(
            [
                g,
                int(test.sum()),
                variant_name(best),
                f"{np.nanmean(results[best].p5[train]):.3f}",
                f"{np.nanmean(p1[test]):.2f}",
                f"{np.nanmean(p5[test]):.2f}",
            ]
        )
    return rows, chosen, p1, p5


#: Columns of :func:`lever_rows`' tables.
LOGO_COLUMNS = [
    "held-out game",
    "queries",
    "chosen on the other games",
    "P@5 there",
    "P@1 held out",
    "P@5 held out",
]
"""Header of :func:`logo`'s rows."""

LEVER_COLUMNS = [
    "lever",
    "change",
    "P@1",
    "P@5",
    "dP@1",
    "dP@5",
    "dP@5 95% CI (paired)",
    "games helped/hurt/of",
]


def lever_rows(results: dict[tuple, Result], base: tuple, groups: Sequence[str]) -> list:
    """One lever changed at a time from ``base``: gains in P@1 / P@5 and games helped."""
    labels = np.asarray(groups)
    names = sorted(set(groups))
    ref = results[base]
    rows = []
    axes = ("model", "K", "pooling", "normalisation", "hubness")
    for axis, options in enumerate([sorted({v[i] for v in results}, key=str) for i in range(5)]):
        for option in options:
            variant = tuple(option if i == axis else base[i] for i in range(5))
            if variant == base or variant not in results:
                continue
            r = results[variant]
            d1 = np.nanmean(r.p1) - np.nanmean(ref.p1)
            d5 = np.nanmean(r.p5) - np.nanmean(ref.p5)
            helped = sum(
                np.nanmean(r.p5[labels == g]) > np.nanmean(ref.p5[labels == g]) for g in names
            )
            hurt = sum(
                np.nanmean(r.p5[labels == g]) < np.nanmean(ref.p5[labels == g]) for g in names
            )
            rows.append(
                [
                    axes[axis],
                    f"{base[axis] or 'all'} -> {option or 'all'}",
                    f"{np.nanmean(r.p1):.3f}",
                    f"{np.nanmean(r.p5):.3f}",
                    f"{d1:+.3f}",
                    f"{d5:+.3f}",
                    paired_ci(r.p5, ref.p5),
                    f"{helped}/{hurt}/{len(names)}",
                ]
            )
    return rows


def corpus_rows(
    results: Sequence[Result],
    base: Result,
    corpora: Sequence[str],
    work: dict[str, float] | None = None,
) -> tuple[list[str], list[list]]:
    """P@1 / P@5 of each result on each corpus' queries, and dP@5 against ``base`` (paired).

    ``work``: network work per track relative to the default, by result name; when given, a
    last column shows it (blank for results it does not name).

    Returns
    -------
    (header, rows)
        One row per result: P@1, P@5 and "dP@5 [95% CI]" for each corpus, then for all.
    """
    labels = np.asarray(corpora)
    parts = [(c, labels == c) for c in sorted(set(corpora))] + [("all", np.ones(len(labels), bool))]
    header = ["system / variant"]
    for name, _ in parts:
        header += [f"{name} P@1", f"{name} P@5", f"{name} dP@5 [95% CI]"]
    if work is not None:
        header.append("network work")
    rows = []
    for r in results:
        row = [r.name]
        for _, mask in parts:
            row += [
                f"{np.nanmean(r.p1[mask]):.3f}",
                f"{np.nanmean(r.p5[mask]):.3f}",
                f"{np.nanmean(r.p5[mask] - base.p5[mask]):+.3f} "
                + paired_ci(r.p5[mask], base.p5[mask]),
            ]
        if work is not None:
            row.append(f"{work[r.name]:.2f}x" if r.name in work else "")
        rows.append(row)
    return header, rows


def wins_everywhere(candidate: Result, base: Result, corpora: Sequence[str]) -> bool:
    """Whether ``candidate`` beats ``base`` in P@5 beyond the paired 95% interval on at least
    one corpus and is not behind (interval wholly below zero) on any."""
    labels = np.asarray(corpora)
    ahead = False
    for c in set(corpora):
        mask = (labels == c) & ~np.isnan(candidate.p5) & ~np.isnan(base.p5)
        _, low, high = bootstrap_ci(candidate.p5[mask] - base.p5[mask])
        if high < 0:
            return False
        ahead = ahead or low > 0
    return ahead


def not_behind(candidate: Result, base: Result, corpora: Sequence[str]) -> bool:
    """Whether ``candidate``'s paired P@5 interval against ``base`` reaches zero or above on
    every corpus (it is not behind beyond the interval on any)."""
    labels = np.asarray(corpora)
    for c in set(corpora):
        mask = (labels == c) & ~np.isnan(candidate.p5) & ~np.isnan(base.p5)
        _, _, high = bootstrap_ci(candidate.p5[mask] - base.p5[mask])
        if high < 0:
            return False
    return True


def variant_work(variant: tuple) -> float:
    """Network work per track of a variant relative to the plugin default
    (:func:`benchmarks.layers.network_work`; ``every2-`` poolings hear half the slices)."""
    model, k, how_pool = variant[0], variant[1], variant[2]
    return layers.network_work(model, k, every2=how_pool.startswith("every2-"))


def paired_ci(a: np.ndarray, b: np.ndarray) -> str:
    """Bootstrap 95% interval of mean(a - b) over the queries both systems answered."""
    both = ~np.isnan(a) & ~np.isnan(b)
    _, low, high = bootstrap_ci(a[both] - b[both])
    return f"[{low:+.3f}, {high:+.3f}]"


def twin_recall(grid: OursGrid, variant: tuple) -> tuple[float, int]:
    """Label-free check: recall@1 of a track's other half among all half-tracks.

    Each track's slices (in time order) are split into a first and a second half; the halves
    are pooled and normalised as separate tracks of a library of 2n halves, and each half
    queries all other halves. Tracks with fewer than 2 slices are left out.

    Returns
    -------
    (recall, n_halves)
    """
    model, k, how_pool, how_norm, how_hub = variant
    models = grid.models if model == "fused" else layers.parts(model)
    keep = None
    parts = []
    for m in models:
        slices = grid.slices[m, k]
        ok = np.array([s is not None and len(s) >= 2 for s in slices])
        keep = ok if keep is None else keep & ok
    for m in models:
        halves: list[np.ndarray] = []
        for s, st in zip(grid.slices[m, k], grid.starts[m, k], strict=True):
            if s is None or len(s) < 2:
                continue
            order = np.argsort(st.reshape(-1), kind="stable")
            s = s[order]
            halves.append(s[: len(s) // 2])
            halves.append(s[len(s) // 2 :])
        idx = np.flatnonzero(np.array([s is not None and len(s) >= 2 for s in grid.slices[m, k]]))
        pick = np.isin(idx, np.flatnonzero(keep))
        halves = [h for j, h in enumerate(halves) if pick[j // 2]]
        pooled = pool(halves, how_pool)
        parts.append(normalise(pooled, np.ones(len(halves), bool), how_norm))
    unit = np.concatenate(parts, axis=1) / np.sqrt(len(parts))
    d = reduce_hubs(unit, np.ones(len(unit), bool), how_hub)
    np.fill_diagonal(d, np.inf)
    nearest = np.argmin(d, axis=1)
    twins = np.arange(len(unit)) ^ 1
    return float((nearest == twins).mean()), len(unit)


# --------------------------------------------------------------------------- peers


def peer_result(system: str, tracks: Sequence[Track], cache_dir: str) -> Result:
    """Evaluate one peer or baseline system."""
    from benchmarks import peers

    groups = [t.group for t in tracks]
    table = {
        "bliss": ("bliss (23 features, euclidean)", peers.bliss_library),
        "musly": ("Musly timbre (whole tracks, mutual proximity)", peers.musly_library),
        "logmel": ("log-mel 96 mean+std, z-scored, cosine", peers.logmel_library),
        "speccy-random": (
            "Speccy, random weights, K=16, mean, centred, cosine",
            peers.speccy_random_library,
        ),
    }
    label, function = table[system]
    log(f"running {system}")
    distances, valid, failed = function(tracks, cache_dir)
    return evaluate(label, distances, groups, valid, failed)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; prints the Markdown report on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=DEFAULT_LABELS)
    parser.add_argument("--systems", default="ours,bliss,musly,logmel,speccy-random")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument(
        "--models", default="mtt,msd,fused", help="ours: bundles (mtt, msd, a path) and 'fused'"
    )
    parser.add_argument(
        "--k", default=",".join(str(k) for k in K_VALUES), help="ours: slices per track (0 = all)"
    )
    parser.add_argument("--pools", default=",".join(POOLS))
    parser.add_argument("--norms", default=",".join(NORMS))
    parser.add_argument("--hubs", default=",".join(HUBS))
    parser.add_argument(
        "--layer-k",
        default="",
        help="ours, layer models (benchmarks/layers.py): frames:K pairs, e.g. 187:8,94:16",
    )
    parser.add_argument("--limit", type=int, default=None, help="use only N tracks")
    args = parser.parse_args(argv)

    tracks, corpora = [], []
    for labels_file in args.labels.split(","):
        more = read_labels(labels_file, args.limit)
        tracks += more
        corpora += [Path(labels_file).resolve().parent.name] * len(more)
    groups = [t.group for t in tracks]
    systems = [s for s in args.systems.split(",") if s]
    started = time.time()
    out: list[str] = [
        f"Corpus: {args.labels}: {len(tracks)} tracks, {len(set(groups))} groups "
        f"({', '.join(f'{g} {groups.count(g)}' for g in sorted(set(groups)))})."
    ]
    results: list[Result] = []

    if "ours" in systems:
        models = args.models.split(",")
        k_values = [int(k) for k in args.k.split(",")]
        layer_k: dict[int, list[int]] = {}
        for pair in filter(None, args.layer_k.split(",")):
            frames, k = (int(x) for x in pair.split(":"))
            layer_k.setdefault(frames, []).append(k)
        grid = OursGrid(tracks, args.cache, models, k_values, layer_k)
        variants = [
            v
            for model in models
            for v in itertools.product(
                [model],
                grid.model_ks(model),
                args.pools.split(","),
                args.norms.split(","),
                args.hubs.split(","),
            )
            if v[2] != "tags" or v[1] in TAG_K
        ]
        log(f"evaluating {len(variants)} variants")
        all_results = {v: grid.result(v) for v in variants}
        default = PLUGIN_DEFAULT if PLUGIN_DEFAULT in all_results else variants[0]
        logo_rows, chosen, logo_p1, logo_p5 = logo(all_results, groups)
        votes = {v: chosen.count(v) for v in set(chosen)}
        overall = max(
            all_results,
            key=lambda v: (np.nanmean(all_results[v].p5), np.nanmean(all_results[v].p1)),
        )
        labels = np.asarray(groups)
        names = sorted(set(groups))

        def worst_game(v: tuple) -> float:
            return min(np.nanmean(all_results[v].p5[labels == g]) for g in names)

        robust = max(all_results, key=lambda v: (worst_game(v), np.nanmean(all_results[v].p5)))
        logo_result = Result("LOGO", logo_p1, logo_p5, [])
        by_corpus = [all_results[default], logo_result]
        by_corpus += [all_results[v] for v in all_results if v != default]
        results.append(all_results[default])
        results[-1].name = f"**ours, plugin default** ({variant_name(default)})"
        logo_result.name = "ours, leave-one-game-out choice (held-out)"
        results.append(logo_result)
        best = Result(
            f"ours, best variant in hindsight ({variant_name(overall)}; optimistic)",
            all_results[overall].p1,
            all_results[overall].p5,
            all_results[overall].failed,
        )
        results.append(best)
    for system in systems:
        if system != "ours":
            results.append(peer_result(system, tracks, args.cache))
            if "ours" in systems:
                by_corpus.append(results[-1])  # peers' rows beside ours, paired alike

    rows, per_group = summary_rows(results, groups)
    out.append("\n## Systems\n")
    out.append(
        markdown_table(["system", "P@1 [95% CI]", "P@5 [95% CI]", "queries", "failed"], rows)
    )
    out.append("\n## P@1 per game\n")
    out.append(markdown_table(["system"] + sorted(set(groups)), per_group))
    failures = [(r.name, f) for r in results for f in r.failed]
    if failures:
        out.append("\nFailed tracks (left out of that system's queries and neighbours):\n")
        out.extend(f"- {name}: {f.replace('`', '')}" for name, f in failures)

    if "ours" in systems and len(set(corpora)) > 1:
        out.append("\n## By corpus (queries of each corpus; one library of all tracks)\n")
        out.append(
            f"dP@5 against the plugin default ({variant_name(default)}), paired over the same "
            "queries, bootstrap 95% interval.\n"
        )
        work = {variant_name(v): variant_work(v) for v in all_results if v[1]}
        header, rows = corpus_rows(by_corpus, all_results[default], corpora, work)
        out.append(markdown_table(header, rows))
        winners = [r.name for r in by_corpus[1:] if wins_everywhere(r, by_corpus[0], corpora)]
        out.append(
            "\n- Ahead of the default beyond the interval on a corpus and not behind on any: "
            + ("; ".join(winners) if winners else "none")
            + "."
        )
        cheap = [
            f"{variant_name(v)} ({variant_work(v):.2f}x)"
            for v in all_results
            if v[1]
            and variant_work(v) <= 0.55
            and not_behind(all_results[v], by_corpus[0], corpora)
        ]
        out.append(
            "- At most ~half the default's network work (<= 0.55x) and not behind beyond the "
            "interval on any corpus: " + ("; ".join(cheap) if cheap else "none") + "."
        )

    if "ours" in systems:
        out.append("\n## Ours: leave-one-game-out choice of settings\n")
        out.append(
            "For each game, the variant with the best P@5 over the other games' queries "
            "(neighbours from the whole library), evaluated on that game's queries.\n"
        )
        out.append(markdown_table(LOGO_COLUMNS, logo_rows))
        p1m, p1l, p1h = bootstrap_ci(logo_p1)
        p5m, p5l, p5h = bootstrap_ci(logo_p5)
        out.append(
            f"\n- LOGO aggregate: P@1 {p1m:.2f} [{p1l:.2f}, {p1h:.2f}], "
            f"P@5 {p5m:.2f} [{p5l:.2f}, {p5h:.2f}] over {len(groups)} queries."
        )
        out.append(
            f"- LOGO minus plugin default, paired over queries: P@1 "
            f"{np.nanmean(logo_p1 - all_results[default].p1):+.3f} "
            f"{paired_ci(logo_p1, all_results[default].p1)}, P@5 "
            f"{np.nanmean(logo_p5 - all_results[default].p5):+.3f} "
            f"{paired_ci(logo_p5, all_results[default].p5)}."
        )
        out.append(
            "- Chosen most often: "
            + "; ".join(
                f"{variant_name(v)} ({n}x)" for v, n in sorted(votes.items(), key=lambda x: -x[1])
            )
        )
        out.append(
            f'- Best worst-game P@5 ("helps every game"): {variant_name(robust)} '
            f"(worst game {worst_game(robust):.2f}, overall P@1 "
            f"{np.nanmean(all_results[robust].p1):.3f} / P@5 "
            f"{np.nanmean(all_results[robust].p5):.3f})."
        )

        out.append(
            f"\n## Ours: one lever at a time from the plugin default ({variant_name(default)})\n"
        )
        out.append(
            f"Default: P@1 {np.nanmean(all_results[default].p1):.3f}, "
            f"P@5 {np.nanmean(all_results[default].p5):.3f}. "
            "Games helped/hurt counts P@5 per game.\n"
        )
        out.append(
            markdown_table(
                LEVER_COLUMNS,
                lever_rows(all_results, default, groups),
            )
        )
        if robust != default:
            out.append(f"\nSame, from the most robust variant ({variant_name(robust)}):\n")
            out.append(
                markdown_table(
                    LEVER_COLUMNS,
                    lever_rows(all_results, robust, groups),
                )
            )

        top = sorted(all_results, key=lambda v: -np.nanmean(all_results[v].p5))[:15]
        out.append("\n## Ours: top 15 variants by P@5 (in hindsight, all games)\n")
        out.append(
            markdown_table(
                ["variant", "P@1", "P@5", "worst-game P@5"],
                [
                    [
                        variant_name(v),
                        f"{np.nanmean(all_results[v].p1):.3f}",
                        f"{np.nanmean(all_results[v].p5):.3f}",
                        f"{worst_game(v):.2f}",
                    ]
                    for v in top
                ],
            )
        )

        twin_variants = list(
            dict.fromkeys(
                [default, robust, overall]
                + [
                    v
                    for v in variants
                    if v[1] == max(k_values, key=lambda k: k or 10**6)
                    and v[3] == "centre"
                    and v[4] == "none"
                ]
            )
        )
        twin_rows = []
        for v in twin_variants:
            if v[2] == "tags" or "+t" in v[2] or v[2].endswith("slicemax") or "every2" in v[2]:
                continue  # no pooled halves: tag layer, timbre fusion, slice matching
            recall, n = twin_recall(grid, v)
            twin_rows.append([variant_name(v), f"{recall:.3f}", n])
        out.append("\n## Label-free check: each half of a track finds its other half\n")
        out.append(
            "Slices of each track split into first and second half (time order), each half "
            "pooled as a separate track; recall@1 of the twin among all halves.\n"
        )
        out.append(markdown_table(["variant", "twin recall@1", "halves"], twin_rows))

    out.append(f"\n(evaluated in {time.time() - started:.0f} s)")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
