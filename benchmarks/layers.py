"""Per-slice features of more than one musicnn layer, and slices shorter than 3 s.

Extends :mod:`benchmarks.quality` (its P@k, bootstrap, leave-one-game-out and by-corpus tables
are used as they are): a model name there of the form ``<net>.<feature>@<frames>`` picks a
layer of the musicnn network ``<net>`` (``mtt``, ``msd``) heard through slices of ``<frames>``
spectrogram frames (187 = 3 s, the shipped bundles; 94 = 1.5 s; 63 = 1 s), e.g.
``mtt.pool@94``. Features (:data:`FEATURES`):

``pen``
    the 200-d penultimate layer (what the plugin uses);
``pool``
    the back end's pooled vector: max and mean over the slice's frames of the 753 mid-end
    channels, batch-normalised (1506-d, the input of the penultimate dense layer);
``max`` / ``mean``
    musicnn extractor's raw ``max_pool`` / ``mean_pool`` (753-d each);
``tags``
    the 50 tag probabilities.

Two features joined by ``+`` (``mtt.pen+pool@94``) are fused at the track level as the models
are in ``fused``: each part pooled and normalised on its own, unit vectors concatenated /
sqrt(parts). ``fused.<feature>@<frames>`` fuses the MTT and MSD networks alike.

One network pass (Keras, ``n_frames=None``, ``output="features"``) per (net, frames, K) gives
every feature; they are cached in ``--cache`` as ``layers_<bundle key>_F<frames>_K<k>_<feature>``
(ragged ``.npz``, no pickles; the ``layers_`` prefix keeps them apart from the plugin-path
caches of :func:`benchmarks.quality.ours_slices`). The shipped bundles are not changed: the
front end is the bundle's with another ``slice_frames``.

Usage (from the repository root)::

    nice python -m benchmarks.quality \\
        --labels /work/corpus/dev/labels.tsv,/work/corpus/val/labels.tsv --systems ours \\
        --cache /work/cache --models mtt,mtt.pool@187,mtt.pen@94 --k 8,16 \\
        --pools meanstd,trackda-meanstd,every2-trackda-meanstd --norms centre --hubs none

Filling the cache alone (one network pass per net, frames and K)::

    nice python -m benchmarks.layers --labels ... --cache /work/cache --nets mtt \\
        --frames 187,94,63 --k 8,16,24
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file (python benchmarks/x.py): import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    DEFAULT_CACHE,
    Track,
    align,
    cache_file,
    load_ragged,
    markdown_table,
    read_labels,
    save_ragged,
)

#: Feature short name -> key of ``build_musicnn(output="features")``'s dict.
FEATURES = {
    "pen": "penultimate",
    "pool": "pool_bn",
    "max": "max_pool",
    "mean": "mean_pool",
    "tags": "taggram",
}
#: Slice length of the shipped bundles (frames) and the plugin's slices per track.
DEFAULT_FRAMES, DEFAULT_K = 187, 8
NETS = ("mtt", "msd")


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- names


def is_layer_model(model: str) -> bool:
    """Whether ``model`` names a layer variant (``<net>.<feature>@<frames>``)."""
    return "@" in model


def parse(model: str) -> tuple[str, list[str], int]:
    """``mtt.pen+pool@94`` -> ``("mtt", ["pen", "pool"], 94)``.

    Raises
    ------
    ValueError
        On an unknown net or feature, or a malformed name.
    """
    try:
        head, frames_text = model.split("@")
        net, features_text = head.split(".", 1)
        frames = int(frames_text)
    except ValueError:
        raise ValueError(f"layer model {model!r} is not <net>.<feature>@<frames>") from None
    features = features_text.split("+")
    unknown = [f for f in features if f not in FEATURES]
    if net not in NETS + ("fused",) or unknown or frames <= 0:
        raise ValueError(
            f"layer model {model!r}: net must be one of {NETS + ('fused',)}, features of "
            f"{tuple(FEATURES)}, frames positive"
        )
    return net, features, frames


def parts(model: str) -> list[str]:
    """Single-layer, single-net names a model is fused from (itself when it is one)."""
    if not is_layer_model(model):
        return [model]
    net, features, frames = parse(model)
    nets = list(NETS) if net == "fused" else [net]
    return [f"{n}.{f}@{frames}" for n in nets for f in features]


def network_work(model: str, k: int, every2: bool = False) -> float:
    """Network work per track relative to the plugin default (187 frames x 8 slices, one net).

    The network's cost is linear in frames (every layer before the pooling is a convolution
    over time), so work = nets x frames x slices / (187 x 8). ``every2`` halves the slices.
    Plain names (``mtt``, ``msd``, ``fused``) are 187-frame slices.
    """
    slices = (k or 0) / (2 if every2 else 1)
    if not is_layer_model(model):
        nets = 2 if model == "fused" else 1
        return nets * DEFAULT_FRAMES * slices / (DEFAULT_FRAMES * DEFAULT_K)
    net, _, frames = parse(model)
    nets = 2 if net == "fused" else 1
    return nets * frames * slices / (DEFAULT_FRAMES * DEFAULT_K)


# --------------------------------------------------------------------------- extraction


def _features_network(net: str):
    """The Keras musicnn of a shipped bundle, any input length, every feature as output."""
    from benchmarks.quality import bundle_dir
    from deejai_model.ears.bundle import Manifest, _assign_weights, _import_tf
    from deejai_model.ears.networks.musicnn import build_musicnn

    tf = _import_tf()
    directory = bundle_dir(net)
    manifest = Manifest.from_json((directory / "manifest.json").read_text(encoding="utf-8"))
    params = dict(manifest.architecture_params, n_frames=None, output="features")
    model = build_musicnn(**params)
    _assign_weights(model, directory / manifest.weights["file"])
    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def _cache_names(net: str, frames: int, k: int) -> dict[str, str]:
    from benchmarks.quality import bundle_key

    stem = f"layers_{bundle_key(net)}_F{frames}_K{k}"
    names = {f: f"{stem}_{f}" for f in FEATURES}
    names["starts"] = f"{stem}_starts"
    return names


def extract(
    tracks: Sequence[Track], net: str, frames: int, k: int, cache_dir: str, chunk: int = 8
) -> None:
    """Fill the cache of every feature of ``net`` over ``frames``-frame slices, K per track.

    Slices are planned and cut as the plugin does (:class:`deejai_model.ears.embed.Embedder`,
    evenly spread, silent ones dropped), with the bundle's front end set to ``frames``
    frames per slice. Tracks already cached are skipped; the cache is written every ``chunk``
    x 8 tracks (each file written under a temp name, then renamed).
    """
    names = _cache_names(net, frames, k)
    store: dict[str, dict[str, np.ndarray | None]] = {n: {} for n in names}
    errors: dict[str, str] = {}
    if cache_file(cache_dir, names["starts"]).exists():
        for key, name in names.items():
            paths, arrays, meta = load_ragged(cache_file(cache_dir, name))
            store[key] = dict(zip(paths, arrays, strict=True))
            if key == "starts":
                errors = dict(zip(paths, [str(e) for e in meta["errors"]], strict=True))
    todo = [t.path for t in tracks if t.path not in store["starts"]]
    if not todo:
        return
    embedder = _embedder(net, frames, k)
    network = _features_network(net)
    log(f"{net} {frames} frames K={k}: {len(todo)} tracks to embed")

    def prepare(path: str):
        try:
            return embedder.prepare(path)
        except Exception as exc:  # noqa: BLE001 - a failed track is reported, not fatal
            return exc

    def save() -> None:
        keys = list(store["starts"])
        for key, name in names.items():
            meta = {"errors": np.array([errors[p] for p in keys])} if key == "starts" else {}
            save_ragged(cache_file(cache_dir, name), keys, [store[key][p] for p in keys], **meta)

    done = 0
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for prepared_path, prepared in zip(todo, pool.map(prepare, todo), strict=True):
            if isinstance(prepared, Exception):
                for key in names:
                    store[key][prepared_path] = None
                errors[prepared_path] = str(prepared)
                log(f"failed: {prepared}")
            else:
                out = network(prepared.batch)
                for short, key in FEATURES.items():
                    store[short][prepared_path] = np.asarray(out[key], dtype=np.float32)
                store["starts"][prepared_path] = prepared.starts.reshape(-1, 1)
                errors[prepared_path] = ""
            done += 1
            if done % (8 * chunk) == 0 or done == len(todo):
                save()
                log(f"{net} {frames} frames K={k}: {done}/{len(todo)}")


def _embedder(net: str, frames: int, k: int):
    """An Embedder planning and cutting K slices of ``frames`` frames with ``net``'s front end
    (only the manifest is read: no network is built)."""
    from benchmarks.quality import bundle_dir
    from deejai_model.ears.bundle import Manifest
    from deejai_model.ears.embed import Embedder
    from deejai_model.ears.frontend import FrontEnd

    manifest = Manifest.from_json((bundle_dir(net) / "manifest.json").read_text(encoding="utf-8"))

    class _Shim:  # what Embedder reads from a bundle: its manifest
        pass

    shim = _Shim()
    shim.manifest = manifest
    embedder = Embedder(shim, max_slices=k, workers=1)
    embedder.frontend = dataclasses.replace(
        FrontEnd.from_manifest(manifest.frontend), slice_frames=frames
    )
    return embedder


def cpu_per_track(
    tracks: Sequence[Track], net: str, pairs: Sequence[tuple[int, int]]
) -> list[list]:
    """CPU seconds per track to prepare (decode + mel) and to run the network (Keras,
    every feature), per (frames, K), over the same files in one process.

    Returns
    -------
    list of table rows: frames, K, seconds heard, network work, prepare s, network s, total s,
    total relative to the first pair.
    """
    network = _features_network(net)
    rows, first = [], None
    for frames, k in pairs:
        embedder = _embedder(net, frames, k)
        network(np.zeros((k, frames, 96), np.float32))  # trace outside the timing
        prep = net_cpu = 0.0
        done = 0
        for track in tracks:
            t0 = time.process_time()
            try:
                prepared = embedder.prepare(track.path)
            except Exception:  # noqa: BLE001 - failed tracks are left out of the timing
                continue
            t1 = time.process_time()
            network(prepared.batch)
            t2 = time.process_time()
            prep, net_cpu, done = prep + t1 - t0, net_cpu + t2 - t1, done + 1
        total = (prep + net_cpu) / max(done, 1)
        first = first or total
        rows.append(
            [
                frames,
                k,
                f"{frames * k * 256 / 16000:.1f}",
                f"{network_work(f'{net}.pen@{frames}', k):.2f}x",
                f"{prep / max(done, 1):.3f}",
                f"{net_cpu / max(done, 1):.3f}",
                f"{total:.3f}",
                f"{total / first:.2f}x",
            ]
        )
        log(f"timed {frames} frames K={k} over {done} tracks")
    return rows


def layer_slices(
    tracks: Sequence[Track], model: str, k: int, cache_dir: str
) -> tuple[list[np.ndarray | None], list[np.ndarray | None], list[str]]:
    """Per-slice vectors of one single-layer model (``mtt.pool@94``), as
    :func:`benchmarks.quality.ours_slices` returns them (vectors, starts, failures)."""
    net, features, frames = parse(model)
    if len(features) != 1 or net == "fused":
        raise ValueError(f"{model!r} is fused: load its parts ({parts(model)})")
    extract(tracks, net, frames, k, cache_dir)
    names = _cache_names(net, frames, k)
    paths, arrays, _ = load_ragged(cache_file(cache_dir, names[features[0]]))
    start_paths, starts, meta = load_ragged(cache_file(cache_dir, names["starts"]))
    errors = dict(zip(start_paths, [str(e) for e in meta["errors"]], strict=True))
    vectors = align(tracks, paths, arrays)
    failed = [
        f"{t.path}: {errors.get(t.path, 'missing')}"
        for t, v in zip(tracks, vectors, strict=True)
        if v is None
    ]
    return vectors, align(tracks, start_paths, starts), failed


def main(argv: Sequence[str] | None = None) -> int:
    """Fill the feature cache for a grid of nets, slice lengths and K."""
    parser = argparse.ArgumentParser(description="cache musicnn features per slice")
    parser.add_argument("--labels", required=True, help="comma-separated labels.tsv files")
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--nets", default="mtt")
    parser.add_argument("--frames", default="187,94,63")
    parser.add_argument("--k", default="8,16,24")
    parser.add_argument(
        "--pairs", default="", help="frames:k pairs instead of the grid, e.g. 187:8,94:16"
    )
    parser.add_argument(
        "--time",
        type=int,
        default=0,
        help="instead of caching: CPU per track of the first N tracks of each labels file, "
        "per frames:k pair (a Markdown table on stdout)",
    )
    args = parser.parse_args(argv)
    if args.pairs:
        pairs = [tuple(int(x) for x in p.split(":")) for p in args.pairs.split(",")]
    else:
        pairs = [(int(f), int(k)) for f in args.frames.split(",") for k in args.k.split(",")]
    if args.time:
        tracks = [t for labels in args.labels.split(",") for t in read_labels(labels, args.time)]
        rows = cpu_per_track(tracks, args.nets.split(",")[0], pairs)
        header = ["frames", "K", "s heard", "network work", "prepare s", "network s"]
        print(markdown_table(header + ["total CPU s/track", "vs first"], rows))
        return 0
    tracks = [t for labels in args.labels.split(",") for t in read_labels(labels)]
    for net in args.nets.split(","):
        for frames, k in pairs:
            started = time.process_time()
            extract(tracks, net, frames, k, args.cache)
            log(f"{net} {frames} frames K={k}: {time.process_time() - started:.0f} CPU s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
