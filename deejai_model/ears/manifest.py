"""A model bundle's manifest: what the network is, how to hear for it, and which weights.

This module reads and validates ``manifest.json`` and makes the model id; it imports neither
numpy nor a network, so the plugin can use it on every command (see :mod:`.shipped`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deejai_model.errors import BundleError

MANIFEST_FILE = "manifest.json"
#: The format new bundles are written in (one ``weights.npz`` of their own).
FORMAT = 1
#: The format whose weights are cut from other files (``weights.sources``), so that shipped
#: bundles that hold the same arrays store them once.
SHARED_FORMAT = 2
FORMATS = (FORMAT, SHARED_FORMAT)
SOURCE_KEYS = {"bundle": str, "file": str, "prefix": str, "strip": bool}
ARCHITECTURES = ("musicnn", "speccy", "head", "fused", "vgg")
FRONTEND_KEYS = {
    "kind": str,
    "sample_rate": int,
    "n_fft": int,
    "hop_length": int,
    "n_mels": int,
    "slice_frames": int,
}

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
RUNTIME_KEYS = ("kind", "file", "sha256", "weights_sha256")


@dataclass(frozen=True)
class Manifest:
    """The contents of a bundle's ``manifest.json``.

    Attributes
    ----------
    name, version : str
        Identify the model; with the weights' hash they make :attr:`model_id`.
    architecture : {"musicnn", "speccy", "head", "fused", "vgg"}
        Which builder in :mod:`deejai_model.ears.networks` makes the network.
    architecture_params : dict
        Keyword arguments of that builder.
    output : str
        The network output that is the embedding (``"penultimate"``); for a network with
        several named outputs, the name of one of them.
    dim : int
        Size of the embedding.
    frontend : dict
        How to compute the network's input: ``kind``, ``sample_rate`` (Hz), ``n_fft`` and
        ``hop_length`` (samples), ``n_mels``, ``slice_frames`` (frames per slice), plus any
        keys the front end of that ``kind`` defines.
    weights : dict
        Format 1: ``{"file": "weights.npz", "sha256": <hex digest of that file>}``.
        Format 2: ``{"sha256": <hex digest of the weights file the bundle was made with>,
        "sources": [{"bundle"?: <a sibling bundle folder>, "file": <.npz file name>,
        "prefix": <the keys taken start with it>, "strip": <drop the prefix from them>},
        ...]}``: the arrays are cut from those files, and written again as that weights file
        (``weights.write_npz`` is byte-reproducible) they must hash to ``sha256``, which the
        model id is still made of.
    license, source : str
        The weights' licence (SPDX id or name) and where they come from.
    labels : list of str or None
        Names of the tag outputs, for networks that have a ``"taggram"`` output.
    base : dict or None
        For ``architecture: "head"`` (:mod:`deejai_model.learn.head`): ``{"model_id", "path"}`` of
        the bundle whose slice vectors the head reads (``path`` relative to this bundle).
    runtime : dict or None
        The ``output`` converted for a light runtime: ``{"kind": "litert", "file":
        "model.tflite", "sha256": <hex digest of that file>, "weights_sha256": <the
        weights' sha256 it was converted from>}``; ``None`` when the bundle has none.
    format : int
        Manifest format version (1).
    """

    name: str
    version: str
    architecture: str
    architecture_params: dict[str, Any]
    output: str
    dim: int
    frontend: dict[str, Any]
    weights: dict[str, str]
    license: str
    source: str
    labels: list[str] | None = None
    base: dict[str, str] | None = None
    runtime: dict[str, str] | None = None
    format: int = FORMAT

    @property
    def parts(self) -> tuple[int, ...]:
        """Sizes of the blocks the embedding is made of, pooled one by one
        (``deejai_model.vectors.pooling.Pooler.parts``): a fused network's parts' dims, else
        ``()``."""
        if self.architecture != "fused":
            return ()
        return tuple(int(part["dim"]) for part in self.architecture_params["parts"])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, require_sha256: bool = True) -> Manifest:
        """Validate a parsed manifest and make a :class:`Manifest` of it.

        Parameters
        ----------
        data : mapping
            The JSON object of ``manifest.json``.
        require_sha256 : bool
            Whether ``weights.sha256`` must be present (not when saving a new bundle).

        Raises
        ------
        BundleError
            If a key is missing, unknown or of the wrong type or value.
        """
        if not isinstance(data, Mapping):
            raise BundleError(f"manifest must be a JSON object, not {type(data).__name__}")
        fields_ = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - set(fields_))
        if unknown:
            raise BundleError(f"manifest has unknown key(s): {', '.join(unknown)}")
        required = [n for n in fields_ if n not in ("labels", "base", "runtime", "format")]
        missing = [n for n in required if n not in data]
        if "format" not in data:
            missing.insert(0, "format")
        if missing:
            raise BundleError(f"manifest lacks key(s): {', '.join(missing)}")

        def check(key: str, value: Any, kind: type | tuple[type, ...]) -> None:
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                names = (
                    kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
                )
                raise BundleError(
                    f"manifest {key} must be {names}, not {type(value).__name__} ({value!r})"
                )

        if data["format"] not in FORMATS or isinstance(data["format"], bool):
            raise BundleError(
                f"manifest format {data['format']!r} is not supported "
                f"(this version reads formats {', '.join(map(str, FORMATS))})"
            )
        for key in ("name", "version", "architecture", "output", "license", "source"):
            check(key, data[key], str)
            if not data[key]:
                raise BundleError(f"manifest {key} is empty")
        if data["architecture"] not in ARCHITECTURES:
            raise BundleError(
                f"manifest architecture {data['architecture']!r} is not one of "
                f"{', '.join(ARCHITECTURES)}"
            )
        check("architecture_params", data["architecture_params"], dict)
        check("dim", data["dim"], int)
        if data["dim"] <= 0:
            raise BundleError(f"manifest dim must be positive, not {data['dim']}")

        frontend = data["frontend"]
        check("frontend", frontend, dict)
        missing = [k for k in FRONTEND_KEYS if k not in frontend]
        if missing:
            raise BundleError(f"manifest frontend lacks key(s): {', '.join(missing)}")
        for key, kind in FRONTEND_KEYS.items():
            check(f"frontend.{key}", frontend[key], kind)
            if kind is int and frontend[key] <= 0:
                raise BundleError(f"manifest frontend.{key} must be positive, not {frontend[key]}")

        weights = data["weights"]
        check("weights", weights, dict)
        shared = data["format"] == SHARED_FORMAT
        unknown = sorted(set(weights) - ({"sources", "sha256"} if shared else {"file", "sha256"}))
        if unknown:
            raise BundleError(f"manifest weights has unknown key(s): {', '.join(unknown)}")
        if shared:
            _check_sources(weights.get("sources"), check)
        else:
            if "file" not in weights:
                raise BundleError("manifest weights lacks key: file")
            _check_file_name("weights.file", weights["file"], check)
        if "sha256" in weights:
            _check_sha256("weights.sha256", weights["sha256"], check)
        elif require_sha256 or shared:
            raise BundleError("manifest weights lacks key: sha256")

        labels = data.get("labels")
        if labels is not None:
            check("labels", labels, list)
            if not all(isinstance(label, str) for label in labels):
                raise BundleError("manifest labels must be a list of strings")

        base = data.get("base")
        if data["architecture"] == "head":
            check("base", base, dict)
            if not isinstance(base.get("model_id"), str) or not base["model_id"]:
                raise BundleError("manifest base.model_id must name the base model")
        elif base is not None:
            raise BundleError("manifest base is only for architecture 'head'")
        if data["architecture"] == "fused":
            from deejai_model.ears.networks.fused import check_parts

            parts = data["architecture_params"].get("parts")
            try:
                check_parts(parts)
            except ValueError as exc:
                raise BundleError(f"manifest architecture_params.parts: {exc}") from exc
            total = sum(part["dim"] for part in parts)
            if total != data["dim"]:
                raise BundleError(f"manifest dim is {data['dim']} but the parts give {total}")

        runtime = data.get("runtime")
        if runtime is not None:
            check("runtime", runtime, dict)
            unknown = sorted(set(runtime) - set(RUNTIME_KEYS))
            if unknown:
                raise BundleError(f"manifest runtime has unknown key(s): {', '.join(unknown)}")
            missing = [k for k in RUNTIME_KEYS if k not in runtime]
            if missing:
                raise BundleError(f"manifest runtime lacks key(s): {', '.join(missing)}")
            for key in RUNTIME_KEYS:
                check(f"runtime.{key}", runtime[key], str)
            if runtime["kind"] != "litert":
                raise BundleError(f"manifest runtime.kind {runtime['kind']!r} is not 'litert'")
            if (
                os.path.basename(runtime["file"]) != runtime["file"]
                or not runtime["file"].endswith(".tflite")
                or runtime["file"] == ".tflite"
            ):
                raise BundleError(
                    f"manifest runtime.file must be a plain .tflite file name, "
                    f"not {runtime['file']!r}"
                )
            for key in ("sha256", "weights_sha256"):
                if not _SHA256.match(runtime[key]):
                    raise BundleError(
                        f"manifest runtime.{key} is not 64 lowercase hex digits: {runtime[key]!r}"
                    )

        return cls(
            name=data["name"],
            version=data["version"],
            architecture=data["architecture"],
            architecture_params=dict(data["architecture_params"]),
            output=data["output"],
            dim=data["dim"],
            frontend=dict(frontend),
            weights=dict(weights),
            license=data["license"],
            source=data["source"],
            labels=list(labels) if labels is not None else None,
            base=dict(base) if base is not None else None,
            runtime=dict(runtime) if runtime is not None else None,
            format=data["format"],
        )

    @classmethod
    def from_json(cls, text: str, *, require_sha256: bool = True) -> Manifest:
        """Parse and validate ``manifest.json`` text (see :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BundleError(f"manifest is not valid JSON: {exc}") from exc
        return cls.from_dict(data, require_sha256=require_sha256)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as a JSON-ready dict (``labels``, ``runtime`` left out when ``None``)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        out = {"format": out.pop("format"), **out}
        for optional in ("labels", "base", "runtime"):
            if out[optional] is None:
                del out[optional]
        return out

    @property
    def model_id(self) -> str:
        """``"<name>@<version>:<sha256[:12]>"``: what a vector made by these weights records."""
        return format_model_id(self.name, self.version, self.weights["sha256"])

    def to_json(self) -> str:
        """The manifest as indented JSON text ending in a newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _check_sha256(key: str, value: Any, check: Callable[[str, Any, Any], None]) -> None:
    check(key, value, str)
    if not _SHA256.match(value):
        raise BundleError(f"manifest {key} is not 64 lowercase hex digits: {value!r}")


def _check_file_name(key: str, value: Any, check: Callable[[str, Any, Any], None]) -> None:
    check(key, value, str)
    if (
        not value
        or os.path.basename(value) != value
        or value in (".", "..")
        or not value.endswith(".npz")
    ):
        raise BundleError(f"manifest {key} must be a plain .npz file name, not {value!r}")


def _check_sources(sources: Any, check: Callable[[str, Any, Any], None]) -> None:
    """Validate format 2's ``weights.sources`` (see :class:`Manifest`)."""
    check("weights.sources", sources, list)
    if not sources:
        raise BundleError("manifest weights.sources is empty")
    for i, source in enumerate(sources):
        key = f"weights.sources[{i}]"
        check(key, source, dict)
        unknown = sorted(set(source) - set(SOURCE_KEYS))
        if unknown:
            raise BundleError(f"manifest {key} has unknown key(s): {', '.join(unknown)}")
        missing = [k for k in SOURCE_KEYS if k != "bundle" and k not in source]
        if missing:
            raise BundleError(f"manifest {key} lacks key(s): {', '.join(missing)}")
        for name, kind in SOURCE_KEYS.items():
            if name in source:
                check(f"{key}.{name}", source[name], kind)
        _check_file_name(f"{key}.file", source["file"], check)
        folder = source.get("bundle")
        if folder is not None and (
            not folder or os.path.basename(folder) != folder or folder in (".", "..")
        ):
            raise BundleError(f"manifest {key}.bundle must be a plain folder name, not {folder!r}")


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def format_model_id(name: str, version: str, weights_sha256: str) -> str:
    """The one model-id formula: ``"<name>@<version>:<sha256[:12]>"``.

    A vector records the model id of the weights that made it (not the runtime that ran them),
    and vectors of different model ids never mix.
    """
    return f"{name}@{version}:{weights_sha256[:12]}"


def read_manifest(bundle_dir: str | os.PathLike, *, require_sha256: bool = True) -> Manifest:
    """The validated :class:`Manifest` of the bundle in ``bundle_dir``.

    Raises
    ------
    BundleError
        When the folder holds no manifest, or one that is not valid (the message starts with
        the manifest's path).
    """
    path = Path(bundle_dir) / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BundleError(f"{bundle_dir}: no {MANIFEST_FILE} (not a bundle)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: cannot read the manifest: {exc}") from exc
    try:
        return Manifest.from_json(text, require_sha256=require_sha256)
    except BundleError as exc:
        raise BundleError(f"{path}: {exc}") from exc
