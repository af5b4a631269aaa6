"""What the neural engines share: weights resolution, the model slot, tensors in and out.

A neural engine subclasses :class:`NeuralEngine`, names its checkpoint in ``weights_id``,
implements :meth:`NeuralEngine.load_network` (build the network, load the checkpoint through
:func:`engines.weights.load_checkpoint`) and :meth:`Engine.inpaint_region` using
:meth:`NeuralEngine.network`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from engines import weights
from engines.base import Engine, Readiness, Status
from engines.device import MODEL_SLOT, pick_device


class NeuralEngine(Engine):
    """Base of the engines that run a torch network on downloaded weights.

    Class attributes:
        weights_id: the :class:`~engines.weights.WeightSpec` id of the checkpoint.
        half_safe: whether the network may run in float16 on CUDA.

    Options:
        weights_path: use this checkpoint file instead of the cached one (tests, experts).
        device: ``auto`` (default), ``cpu``, ``cuda`` or ``mps``.
        network: an already built network to run instead of loading one (tests).
    """

    weights_id: ClassVar[str] = ""
    half_safe: ClassVar[bool] = False
    script_options = frozenset({"weights_path", "device", "network"})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.weights_id:
            cls.weights = (cls.weights_id,)

    def checkpoint_path(self) -> Path:
        """The checkpoint file to load: the ``weights_path`` option, else the cached file."""
        explicit = self.options.get("weights_path")
        if explicit:
            return Path(explicit)
        return weights.require(self.weights_id)

    def status(self) -> Status:
        if self.options.get("network") is not None or self.options.get("weights_path") \
                or weights.is_present(self.weights_id):
            return Status(Readiness.READY)
        spec = weights.get_spec(self.weights_id)
        how = (f"run `python main.py models download {spec.id}`" if spec.urls
               else spec.manual or f"import it with `python main.py models import {spec.id} FILE`")
        return Status(Readiness.NEEDS_DOWNLOAD, f"weights {spec.id} not installed; {how}")

    def device(self, preference: str | None = None):
        """The torch device for this run (``preference`` overrides the engine option)."""
        return pick_device(preference or self.options.get("device", "auto"))

    def create_network(self) -> Any:
        """The network architecture with random weights, in eval mode, on the CPU."""
        raise NotImplementedError

    def load_weights(self, network: Any, path: Path) -> None:
        """Load the checkpoint at ``path`` into ``network`` (strict: every tensor must match).

        Use :func:`engines.weights.load_checkpoint` so no pickled code runs; convert the
        upstream layout (prefixes, ``{"G": ...}``, Lightning ``state_dict``) here.
        """
        raise NotImplementedError

    def load_network(self, path: Path, device) -> Any:
        """Build the network, load ``path`` into it, move it to ``device`` in eval mode.

        Engines with an alternative source (a TorchScript file) override this.
        """
        network = self.create_network()
        self.load_weights(network, path)
        return network.to(device).eval()

    def network(self, device) -> Any:
        """The loaded network on ``device``, shared through the process-wide model slot.

        The ``network`` option (an already built module) bypasses loading, for benchmarks.
        """
        given = self.options.get("network")
        if given is not None:
            return given.to(device).eval()
        path = self.checkpoint_path()
        key = (type(self).__name__, str(path.resolve()), str(device))
        return MODEL_SLOT.get(key, lambda: self.load_network(path, device))

    def release(self) -> None:
        if MODEL_SLOT.key and MODEL_SLOT.key[0] == type(self).__name__:
            MODEL_SLOT.clear()


def image_to_tensor(image: np.ndarray, device, low: float = 0.0, high: float = 1.0):
    """``(H, W, 3)`` uint8 RGB to a ``(1, 3, H, W)`` float32 tensor scaled to [low, high]."""
    import torch

    pixels = np.ascontiguousarray(image)
    if not pixels.flags.writeable:  # a read-only view (request snapshots): torch warns
        pixels = pixels.copy()
    tensor = torch.from_numpy(pixels).to(device)
    tensor = tensor.permute(2, 0, 1).unsqueeze(0).float() / 255.0
    return tensor * (high - low) + low


def mask_to_tensor(hole: np.ndarray, device):
    """Boolean or uint8 ``(H, W)`` hole to a ``(1, 1, H, W)`` float32 tensor, 1 = hole."""
    import torch

    array = (hole >= 128) if hole.dtype == np.uint8 else hole.astype(bool)
    return torch.from_numpy(array.astype(np.float32)).to(device)[None, None]


def tensor_to_image(tensor, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """``(1, 3, H, W)`` tensor in [low, high] to ``(H, W, 3)`` uint8 RGB (rounded, clipped)."""
    array = ((tensor.detach().float() - low) / (high - low)).clamp(0, 1)[0]
    array = (array.permute(1, 2, 0) * 255.0).round().to("cpu").numpy()
    return np.ascontiguousarray(array.astype(np.uint8))


def pad_to_multiple(array: np.ndarray, multiple: int, mode: str = "symmetric") -> np.ndarray:
    """Pad ``(H, W[, C])`` at the bottom/right so H and W are multiples of ``multiple``."""
    height, width = array.shape[:2]
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    if not pad_h and not pad_w:
        return array
    padding = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, padding, mode=mode)
