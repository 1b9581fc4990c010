"""The model bundles shipped in ``deejai_model/ears/bundles``: where they are and which is which.

Read from the manifests alone (JSON), so this never imports numpy or a network: the plugin uses
it on every ``beet`` command.
"""

from __future__ import annotations

import os
from pathlib import Path

from deejai_model.ears.manifest import MANIFEST_FILE, read_manifest
from deejai_model.errors import BundleError

#: The folder of the shipped bundles.
BUNDLES_DIR = Path(__file__).resolve().parent / "bundles"

#: The bundle that ships as the default ears (a folder under :data:`BUNDLES_DIR`).
DEFAULT_BUNDLE = "musicnn_fused"


def manifest_model_id(bundle_path: str | os.PathLike) -> str:
    """``"<name>@<version>:<sha256[:12]>"`` of a bundle, read from its ``manifest.json`` only.

    Raises
    ------
    BundleError
        When the directory holds no valid manifest.
    """
    return read_manifest(bundle_path).model_id


def bundle_by_name(name: str) -> Path | None:
    """The shipped bundle folder called ``name`` (e.g. ``musicnn_fused_light``), or None."""
    directory = BUNDLES_DIR / name
    return directory if (directory / MANIFEST_FILE).is_file() else None


def bundle_by_id(model_id: str) -> Path | None:
    """The shipped bundle whose manifest makes ``model_id`` (the default first), or None (a
    model that no longer ships, or not one of ours)."""
    folders = [BUNDLES_DIR / DEFAULT_BUNDLE]
    folders += sorted(p for p in BUNDLES_DIR.iterdir() if p.is_dir() and p.name != DEFAULT_BUNDLE)
    for folder in folders:
        try:
            if manifest_model_id(folder) == model_id:
                return folder
        except BundleError:
            continue
    return None


def default_bundle_path() -> Path:
    """The bundle that ships as the default ears (``musicnn_fused``: MTT, MSD and VGG)."""
    return BUNDLES_DIR / DEFAULT_BUNDLE
