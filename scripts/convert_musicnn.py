#!/usr/bin/env python
"""Convert a musicnn 0.1.0 TF1 checkpoint into a deejai_model bundle.

The checkpoint is read with ``tf.compat.v1.train.NewCheckpointReader`` (its ``.meta`` graph
does not import on TF 2.16+); its variables are renamed to the Keras model of
:func:`deejai_model.ears.networks.musicnn.build_musicnn` (``*_musicnn``) or
:func:`deejai_model.ears.networks.vgg.build_vgg` (``*_vgg``) and saved with
:func:`deejai_model.ears.weights.save_bundle`, with musicnn's ISC licence and a provenance note.

Usage::

    python scripts/convert_musicnn.py MTT_musicnn deejai_model/ears/bundles/musicnn_mtt
    python scripts/convert_musicnn.py MSD_musicnn deejai_model/ears/bundles/musicnn_msd \\
        --wheel-dir /tmp/whl
    python scripts/convert_musicnn.py MTT_vgg /tmp/vgg_mtt --embedding pool5

``--embedding`` picks a VGG bundle's embedding output (see
:mod:`deejai_model.ears.networks.vgg`); the bundle is named ``musicnn-vgg-mtt-<embedding>``.

Without ``--wheel-dir`` the wheel is fetched with ``pip download --no-deps musicnn==0.1.0``.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deejai_model.ears.bundle import load_bundle  # noqa: E402
from deejai_model.ears.frontend import MUSICNN  # noqa: E402
from deejai_model.ears.manifest import file_sha256  # noqa: E402
from deejai_model.ears.networks import musicnn, vgg  # noqa: E402
from deejai_model.ears.weights import save_bundle  # noqa: E402

WHEEL = "musicnn==0.1.0"
WHEEL_URL = "https://pypi.org/project/musicnn/0.1.0/"
MODELS = {
    # name: (bundle name, training data, labels attribute in musicnn/configuration.py)
    "MTT_musicnn": ("musicnn-mtt", "MagnaTagATune", "MTT_LABELS"),
    "MSD_musicnn": ("musicnn-msd", "the Million Song Dataset", "MSD_LABELS"),
    "MTT_vgg": ("musicnn-vgg-mtt", "MagnaTagATune", "MTT_LABELS"),
    "MSD_vgg": ("musicnn-vgg-msd", "the Million Song Dataset", "MSD_LABELS"),
}
ARCH_PARAMS = {
    "num_filt_midend": 64,
    "num_units_backend": 200,
    "num_classes": 50,
    "n_mels": 96,
    "n_frames": 187,
    "output": "both",
}
VGG_PARAMS = {"num_filters": 128, "num_classes": 50, "n_mels": 96, "n_frames": 187, "output": "all"}
VGG_DIMS = {"pool5": 256, "pool5_maxmean": 256, "pool4_maxmean": 256, "pool45": 512}
FRONTEND = MUSICNN.to_manifest()


def obtain_wheel(wheel_dir: Path | None, tmp: Path) -> tuple[Path, Path | None]:
    """Return (root of the unpacked wheel, the .whl file or None if given unpacked)."""
    if wheel_dir is None:
        wheel_dir = tmp / "download"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(wheel_dir),
                WHEEL,
            ],
            check=True,
        )
    if (wheel_dir / "musicnn" / "models.py").is_file():
        wheels = sorted(glob.glob(str(wheel_dir.parent / "musicnn-0.1.0-*.whl")))
        return wheel_dir, Path(wheels[0]) if wheels else None
    wheels = sorted(glob.glob(str(wheel_dir / "musicnn-0.1.0-*.whl")))
    if not wheels:
        raise SystemExit(f"{wheel_dir}: no musicnn-0.1.0 wheel and no unpacked musicnn/")
    root = tmp / "unpacked"
    with zipfile.ZipFile(wheels[0]) as zf:
        zf.extractall(root)
    return root, Path(wheels[0])


def read_checkpoint(checkpoint_dir: Path) -> dict:
    """All variables of a TF1 checkpoint by name (``conv2d/kernel``...)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(checkpoint_dir) + "/")
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def read_labels(root: Path, attribute: str) -> list[str]:
    """The tag names from the wheel's configuration.py, read as data (not imported)."""
    import ast

    tree = ast.parse((root / "musicnn" / "configuration.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == attribute for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise SystemExit(f"configuration.py has no {attribute}")


def network_description(model_name: str, embedding: str) -> dict:
    """How to build, name and describe the Keras port of one of the wheel's networks."""
    if model_name.endswith("_vgg"):
        if embedding not in VGG_DIMS:
            raise SystemExit(f"--embedding must be one of {', '.join(VGG_DIMS)} for {model_name}")
        return {
            "module": vgg,
            "architecture": "vgg",
            "params": VGG_PARAMS,
            "output": embedding,
            "dim": VGG_DIMS[embedding],
            "suffix": f"-{embedding}",
            "port": "`deejai_model.ears.networks.vgg.build_vgg` (kernels unchanged",
            "embedding_note": (
                f"`{embedding}` ({VGG_DIMS[embedding]}-d, see `deejai_model/ears/networks/vgg.py`: "
                "pooled outputs of the last two convolution blocks); the tag layer "
                "(`taggram`, sigmoid) is kept as a second output, labels in `manifest.json`."
            ),
        }
    if embedding != "penultimate":
        raise SystemExit(f"{model_name} has one embedding: penultimate")
    return {
        "module": musicnn,
        "architecture": "musicnn",
        "params": ARCH_PARAMS,
        "output": "penultimate",
        "dim": ARCH_PARAMS["num_units_backend"],
        "suffix": "",
        "port": "`deejai_model.ears.networks.musicnn.build_musicnn` (mid-end kernels\n"
        "  `(7, w, 1, 64)` squeezed to Conv1D `(7, w, 64)`",
        "embedding_note": (
            "`penultimate` (200-d), the batch-normalised 200-unit dense layer that musicnn's\n"
            "  `extractor()` returns as `features['penultimate']`; the tag layer (`taggram`, "
            "sigmoid) is\n  kept as a second output, labels in `manifest.json`."
        ),
    }


def convert(
    model_name: str, out_dir: Path, *, wheel_dir: Path | None, embedding: str | None = None
) -> None:
    base_name, dataset, labels_attr = MODELS[model_name]
    net = network_description(
        model_name, embedding or ("pool5" if model_name.endswith("_vgg") else "penultimate")
    )
    bundle_name = base_name + net["suffix"]
    names = net["module"].CHECKPOINT_NAMES
    with tempfile.TemporaryDirectory() as tmp:
        root, wheel_file = obtain_wheel(wheel_dir, Path(tmp))
        checkpoint_dir = root / "musicnn" / model_name
        variables = read_checkpoint(checkpoint_dir)
        labels = read_labels(root, labels_attr)
        license_text = (root / "musicnn-0.1.0.dist-info" / "LICENSE.md").read_text()
        data_sha = file_sha256(checkpoint_dir / ".data-00000-of-00001")
        wheel_sha = file_sha256(wheel_file) if wheel_file else "(given unpacked; not recorded)"

    weights = net["module"].checkpoint_to_keras_weights(variables)
    used = {n for n in variables if n.rpartition("/")[0] in names}
    skipped = sorted(set(variables) - used)
    if any("Adam" not in n and not n.startswith("beta") for n in skipped):
        raise SystemExit(f"unmapped checkpoint variables: {skipped}")

    build = net["module"].build_vgg if net["architecture"] == "vgg" else musicnn.build_musicnn
    model = build(**net["params"])
    paths = {v.path for v in model.weights}
    if paths != set(weights):
        raise SystemExit(f"weights and model differ: {sorted(paths ^ set(weights))}")
    for var in model.weights:
        var.assign(weights[var.path])

    manifest = {
        "format": 1,
        "name": bundle_name,
        "version": "0.1.0",
        "architecture": net["architecture"],
        "architecture_params": net["params"],
        "output": net["output"],
        "dim": net["dim"],
        "frontend": FRONTEND,
        "weights": {"file": "weights.npz"},
        "license": "ISC",
        "source": f"musicnn 0.1.0 (Pons & Serra 2019) {model_name} checkpoint, {WHEEL_URL}",
        "labels": labels,
    }
    provenance = f"""# Provenance of {bundle_name}

- Model: musicnn `{model_name}` by Jordi Pons and Xavier Serra (Music Technology Group,
  Universitat Pompeu Fabra), trained on {dataset} for 50-tag music auto-tagging.
  Paper: J. Pons, X. Serra, "musicnn: pre-trained convolutional neural networks for music
  audio tagging", ISMIR 2019 late-breaking/demo. Code: https://github.com/jordipons/musicnn
- Source: the PyPI wheel `musicnn-0.1.0-py3-none-any.whl` ({WHEEL_URL}),
  sha256 `{wheel_sha}`; checkpoint `musicnn/{model_name}/` in it,
  `.data-00000-of-00001` sha256 `{data_sha}`.
- Licence: ISC (the wheel's `LICENSE.md`, copied to `LICENSE` here).
- Conversion: `scripts/convert_musicnn.py {model_name} ...` read the TF1 checkpoint with
  `tf.compat.v1.train.NewCheckpointReader`, renamed its {len(used)} model variables to the
  Keras 3 port {net["port"]}; the {len(skipped)} optimiser variables,
  Adam slots and beta powers, dropped) and wrote them unchanged in float32 to `weights.npz`.
  Converted {datetime.date.today().isoformat()}.
- Embedding: {net["embedding_note"]}
- Input: 187 frames x 96 mel bands (3 s): librosa mel power spectrogram at 16 kHz,
  `n_fft=512`, `hop_length=256`, then `log10(10000 * x + 1)` (musicnn rounds the mel
  spectrogram to float16 first; computing in float32 avoids its overflow).
- Parity: `tests/test_musicnn_parity.py` runs the wheel's own `models.py` in TF1 graph mode
  with the original checkpoint and compares (max abs difference < 1e-4 required).
"""
    final = save_bundle(model, manifest, out_dir, license_text=license_text, provenance=provenance)
    bundle = load_bundle(out_dir)  # check that it loads and hashes as written
    print(
        f"wrote {out_dir}: {bundle.model_id} ({len(weights)} arrays, "
        f"sha256 {final.weights['sha256']})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("out_dir", type=Path, help="bundle directory to write")
    parser.add_argument(
        "--wheel-dir",
        type=Path,
        default=None,
        help="folder holding musicnn-0.1.0-*.whl or the unpacked wheel (default: pip download it)",
    )
    parser.add_argument(
        "--embedding",
        default=None,
        help="the embedding output: penultimate (musicnn); for *_vgg one of "
        f"{', '.join(VGG_DIMS)} (default pool5)",
    )
    args = parser.parse_args(argv)
    convert(args.model, args.out_dir, wheel_dir=args.wheel_dir, embedding=args.embedding)


if __name__ == "__main__":
    main()
