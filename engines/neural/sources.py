"""Where the LaMa and MI-GAN engines get their network: the official weights loaded into our
implementation ("native"), or a TorchScript export of the same network ("torchscript").

Also: loading a state dict strictly with an error that names the offending tensors, and
reading Lightning checkpoints safely even when they pickle training-time objects.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from engines import weights
from engines.base import EngineError, Readiness, Status
from engines.neural.common import NeuralEngine
from engines.weights import WeightsMissingError

SOURCES = ("auto", "native", "torchscript")


def load_exact(network: Any, state: Mapping[str, Any], path: Path, what: str, *,
               own: Iterable[str]) -> None:
    """Load ``state`` (read from ``path``) into ``network`` requiring the same names and
    shapes, buffers included.

    Raises :func:`~engines.weights.mismatch_error` naming the file, the missing, unexpected
    or wrongly shaped tensors and, for an installed file, how to replace it (``what`` names
    the network: ``"the LaMa big generator"``; ``own``: the ids of the checkpoints loaded
    into it, as that function takes them).
    """
    import torch

    expected = network.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    not_tensors = [name for name in expected
                   if name in state and not isinstance(state[name], torch.Tensor)]
    wrong_shape = [f"{name} is {tuple(state[name].shape)}, expected "
                   f"{tuple(expected[name].shape)}"
                   for name in expected
                   if name in state and name not in not_tensors
                   and state[name].shape != expected[name].shape]
    problems = []
    for label, names in (("missing", missing), ("unexpected", unexpected),
                         ("not a tensor", not_tensors), ("wrong shape", wrong_shape)):
        if names:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4
                                            else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise weights.mismatch_error(path, what, "; ".join(problems), own=own)
    network.load_state_dict(dict(state), strict=True)


def is_torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip with ``*/code/`` or ``constants.pkl``)."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name or name.endswith("/constants.pkl")
                   for name in archive.namelist())


def network_dtype(network: Any):
    """The floating dtype of ``network``'s weights (inputs are cast to it)."""
    import torch

    for tensor in network.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def read_lightning_checkpoint(path: Path) -> Any:
    """Open a Lightning checkpoint without running pickled code (see
    :func:`engines.weights.load_checkpoint` for how training objects are neutralised)."""
    return weights.load_checkpoint(path, "lightning")


class DualSourceEngine(NeuralEngine):
    """A neural engine whose network comes from the official weights (``weights_id``, loaded
    into our implementation) or from a TorchScript export of it (``alternative_id``).

    Options:
        source: ``auto`` (default: the official weights when installed, else the
            TorchScript file), ``native`` or ``torchscript``.
        weights_path: a file (or folder) to load instead; its kind is detected from its
            content.
    """

    alternative_id: ClassVar[str | None] = None
    script_options = NeuralEngine.script_options | {"source"}
    script_option_types = MappingProxyType({**NeuralEngine.script_option_types, "source": str})
    construction_options = NeuralEngine.construction_options | {"source"}

    def source(self) -> str:
        """The ``source`` option, validated."""
        choice = str(self.options.get("source", "auto")).lower()
        if choice not in SOURCES:
            raise EngineError(f"unknown source {choice!r} for {self.name}; use "
                              f"{', '.join(SOURCES)}")
        if choice == "torchscript" and not self.alternative_id:
            raise EngineError(f"{self.title} has no TorchScript alternative; use source=native")
        return choice

    def candidate_ids(self) -> tuple[str, ...]:
        """The weights ids this engine may load, in order of preference."""
        choice = self.source()
        if choice == "native" or not self.alternative_id:
            return (self.weights_id,)
        if choice == "torchscript":
            return (self.alternative_id,)
        return (self.weights_id, self.alternative_id)

    def _how_to_install(self) -> str:
        """Ways to install the weights, direct downloads first; one with no download address
        by hand, in :func:`~engines.weights.by_hand_steps`'s words."""
        specs = sorted((weights.get_spec(weights_id) for weights_id in self.candidate_ids()),
                       key=lambda spec: not spec.urls)
        return ", or ".join(
            f"run `python main.py models download {spec.id}`" if spec.urls
            else weights.by_hand_steps(spec)
            for spec in specs)

    def status(self) -> Status:
        """Ready with an override option or any candidate installed; else NEEDS_DOWNLOAD
        saying, for damaged files, their paths, why and how to replace them, otherwise how
        to install one of the candidates."""
        if self.options.get("network") is not None or self.options.get("weights_path"):
            return Status(Readiness.READY)
        if any(weights.is_present(weights_id) for weights_id in self.candidate_ids()):
            return Status(Readiness.READY)
        damaged = weights.damaged_problem(self.candidate_ids())
        if damaged:
            return Status(Readiness.NEEDS_DOWNLOAD, damaged)
        return Status(Readiness.NEEDS_DOWNLOAD,
                      f"weights not installed: {self._how_to_install()}")

    def checkpoint_path(self) -> Path:
        """The ``weights_path`` option, else the first installed candidate; raises
        :class:`~engines.weights.WeightsCorruptError` when the only files are damaged, else
        :class:`~engines.weights.WeightsMissingError`, saying what to do."""
        explicit = self.options.get("weights_path")
        if explicit:
            return Path(explicit)
        for weights_id in self.candidate_ids():
            if weights.is_present(weights_id):
                return weights.local_path(weights_id)
        damaged = weights.damaged_error(self.candidate_ids())
        if damaged is not None:
            raise damaged
        raise WeightsMissingError(f"{self.title} weights are not installed: "
                                  f"{self._how_to_install()}", weights_ids=self.candidate_ids(),
                                  reason=f"{self.title} weights are not installed")

    def load_network(self, path: Path, device) -> Any:
        """A TorchScript file as it is (float32); otherwise our network with the official
        weights, in float16 on CUDA when ``half_safe``."""
        if is_torchscript(path):
            return weights.load_checkpoint(path, "torchscript").to(device).eval()
        network = super().load_network(path, device)
        if self.half_safe and device.type == "cuda":
            network = network.half()
        return network
