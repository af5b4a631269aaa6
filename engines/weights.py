"""Checkpoints described as data, where they live on disk, and how they are loaded safely.

Each module that needs weights declares its :class:`WeightSpec` objects at import time with
:func:`register_spec` (next to the network that uses them), so adding an engine stays a
one-file change. The cache folder is the platform's user cache dir
(``~/.cache/inpaint-studio/models`` on Linux) unless ``INPAINT_STUDIO_MODELS`` names another.

Downloading, resuming, verifying and importing files is :mod:`engines.download`'s job;
this module only knows where a verified file is expected and how to open it.
"""

from __future__ import annotations

import difflib
import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.base import EngineError

CACHE_ENV = "INPAINT_STUDIO_MODELS"


@dataclass(frozen=True)
class WeightSpec:
    """Where a checkpoint comes from and what it must be.

    Attributes:
        id: stable identifier used by the CLI and the cache (``"lama-big"``).
        engine: the engine (or parser) that uses it.
        title: human name.
        filename: name of the verified file in the cache folder.
        urls: download addresses, tried in order (mirrors); Google Drive ``uc?id=`` links are
            handled. Empty when the file can only be imported by hand (see ``manual``).
        size: expected size in bytes of the downloaded file (approximate unless ``sha256`` or
            ``md5`` pins it); used for progress and to reject obviously wrong files.
        sha256, md5: hex digests of the downloaded file, when the upstream publishes one.
        archive_member: for a zip download, the path inside the zip of the file to keep.
        license: licence of the weights.
        homepage: the upstream project.
        format: ``"lightning"``, ``"state_dict"``, ``"generator_dict"`` (``{"G": ...}``),
            ``"torchscript"`` or ``"safetensors"``.
        contract: input contract in a sentence (ranges, channel order, mask polarity).
        manual: how to get the file by hand when there is no direct URL.
        extra: free-form facts for the loader.
    """

    id: str
    engine: str
    title: str
    filename: str
    urls: tuple[str, ...] = ()
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    archive_member: str | None = None
    license: str = ""
    homepage: str = ""
    format: str = "state_dict"
    contract: str = ""
    manual: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class UnknownWeightsError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class WeightsMissingError(EngineError):
    """The checkpoint is not in the cache; the message says how to get it."""


class WeightsCorruptError(EngineError):
    """The file in the cache is not the checkpoint it should be."""


_SPECS: dict[str, WeightSpec] = {}
_SPEC_PACKAGES = ("engines.classical", "engines.neural", "engines.segmentation")
_discovered = False


def register_spec(spec: WeightSpec) -> WeightSpec:
    """Add ``spec`` to the catalogue (idempotent for an identical spec)."""
    existing = _SPECS.get(spec.id)
    if existing is not None and existing != spec:
        raise ValueError(f"weights id {spec.id!r} is already registered differently")
    _SPECS[spec.id] = spec
    return spec


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    for package_name in _SPEC_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)
    _discovered = True


def all_specs() -> list[WeightSpec]:
    """Every known checkpoint, sorted by id."""
    _discover()
    return sorted(_SPECS.values(), key=lambda s: s.id)


def get_spec(weights_id: str) -> WeightSpec:
    """The spec for ``weights_id``; :class:`UnknownWeightsError` lists the valid ids."""
    if weights_id not in _SPECS:
        _discover()
    try:
        return _SPECS[weights_id]
    except KeyError:
        close = difflib.get_close_matches(weights_id, _SPECS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownWeightsError(f"unknown model {weights_id!r}.{hint} Known: "
                                  f"{', '.join(sorted(_SPECS))}") from None


def cache_dir() -> Path:
    """The folder holding verified checkpoints (created on demand by writers)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("inpaint-studio", appauthor=False)) / "models"


def local_path(weights_id: str) -> Path:
    """Where the verified file for ``weights_id`` lives (it may not exist yet)."""
    spec = get_spec(weights_id)
    return cache_dir() / spec.id / spec.filename


def is_present(weights_id: str) -> bool:
    """Whether the checkpoint is in the cache."""
    return local_path(weights_id).is_file()


def require(weights_id: str) -> Path:
    """The cached file for ``weights_id``, or :class:`WeightsMissingError` saying what to do."""
    path = local_path(weights_id)
    if path.is_file():
        return path
    spec = get_spec(weights_id)
    how = (f"download it with `python main.py models download {spec.id}`" if spec.urls
           else spec.manual or "import it with `python main.py models import ID FILE`")
    raise WeightsMissingError(f"{spec.title} weights are not installed: {how}, or import a "
                              f"file you have with `python main.py models import {spec.id} FILE`")


def load_checkpoint(path: str | os.PathLike, format: str = "state_dict") -> Any:
    """Open a checkpoint without running pickled code.

    ``torch.load(..., weights_only=True)`` for pickles (state dicts, Lightning checkpoints,
    ``{"G": ...}`` dicts), ``torch.jit.load`` for TorchScript, safetensors for ``.safetensors``.
    Tensors land on the CPU. Raises :class:`WeightsCorruptError` for an unreadable file.
    """
    import torch

    path = Path(path)
    try:
        if format == "torchscript":
            return torch.jit.load(str(path), map_location="cpu")
        if format == "safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsMissingError(f"{path}: no such file") from None
    except Exception as exc:  # torch raises many types for bad files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsCorruptError(f"{path.name} is not a readable {format} checkpoint "
                                  f"({first_line[:200]})") from None
