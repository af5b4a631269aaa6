"""What the network parsers share: weights resolution, strict loading, the model slot, and
turning low-resolution logits into a full-size label map without running out of memory.

A network parser subclasses :class:`NeuralParser`, lists its checkpoints in
:meth:`NeuralParser.required_weights` and builds its networks in
:meth:`NeuralParser.load_networks`; :meth:`NeuralParser.networks` keeps them loaded in the
process-wide model slot (all of a parser's networks under one key, so a parser that needs
two, like face detection plus face parsing, never evicts its own).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engines import weights
from engines.device import MODEL_SLOT, pick_device, slot_key
from engines.neural.interrupt import check_cancelled
from engines.segmentation.base import Parser

MAX_UPSAMPLE_ELEMENTS = 1 << 25  # floats per strip when upsampling logits (128 MiB)
# a scene parser's progress once its network has run; the rest is :func:`upsampled_argmax`,
# strip by strip (on a 50-megapixel photo it takes far longer than the network)
NETWORK_DONE = 0.3
UPSAMPLING = "labelling every pixel"


def load_strict(network: Any, state: dict, title: str, path: Path) -> None:
    """``network.load_state_dict(state, strict=True)``, with a one-line
    :class:`~engines.weights.WeightsCorruptError` naming what differs when it fails."""
    own = network.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = []
    for what, keys in (("missing", missing), ("unexpected", unexpected),
                       ("of another shape", reshaped)):
        if keys:
            problems.append(f"{len(keys)} tensors {what} (e.g. {keys[0]})")
    if problems:
        raise weights.mismatch_error(path, f"the {title} network", "; ".join(problems))
    network.load_state_dict(state, strict=True)


class NeuralParser(Parser):
    """Base of the parsers that run torch networks on cached weights.

    Options:
        device: ``auto`` (default), ``cpu``, ``cuda`` or ``mps``.
        weights_path: load the main checkpoint from this file instead of the cache.
    """

    def required_weights(self) -> tuple[str, ...]:
        """The checkpoint ids this parser needs with its current options."""
        return self.weights

    def overridden_weights(self) -> set[str]:
        """Ids whose file the options name explicitly (not looked up in the cache)."""
        return {self.required_weights()[0]} if self.options.get("weights_path") else set()

    def checkpoint_path(self, weights_id: str) -> Path:
        """The file to load for ``weights_id``: the ``weights_path`` option for the main
        checkpoint, else the cached file (:class:`~engines.weights.WeightsMissingError`)."""
        if weights_id in self.overridden_weights():
            return Path(self.options["weights_path"])
        return weights.require(weights_id)

    def checked_weights(self) -> list[str]:
        """The checkpoints :meth:`status` checks: those the options do not name explicitly."""
        return [i for i in self.required_weights() if i not in self.overridden_weights()]

    def device(self):
        """The torch device for this parser's ``device`` option."""
        return pick_device(self.options.get("device", "auto"))

    def load_networks(self, device) -> Any:
        """Build the parser's network(s), load their checkpoints, move them to ``device``."""
        raise NotImplementedError

    def networks(self, device) -> Any:
        """The loaded network(s) on ``device``, shared through the process-wide model slot;
        all loaded again when one of their checkpoint files was replaced since."""
        paths = [self.checkpoint_path(i) for i in self.required_weights()]
        key = slot_key(type(self).__name__, paths, device)  # a replaced file loads again
        return MODEL_SLOT.get(key, lambda: self.load_networks(device))

    def release(self) -> None:
        """Free the networks if this parser's are the ones loaded."""
        if MODEL_SLOT.key and MODEL_SLOT.key[0] == type(self).__name__:
            MODEL_SLOT.clear()


def image_tensor(image: np.ndarray, device, mean, std):
    """``(H, W, 3)`` uint8 RGB to a ``(1, 3, H, W)`` float32 tensor ``(x - mean) / std``,
    with ``mean`` and ``std`` per channel in the image's 0-255 (or other) scale."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(image)).to(device)
    tensor = tensor.permute(2, 0, 1).unsqueeze(0).float()
    mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return (tensor - mean) / std


def labelled_with_progress(logits, size: tuple[int, int],
                           report: Callable[[float, str], None]) -> np.ndarray:
    """:func:`upsampled_argmax` of a scene parser whose network has run: its progress told
    as ``report(fraction, UPSAMPLING)``, from :data:`NETWORK_DONE` to 1 strip by strip."""
    report(NETWORK_DONE, UPSAMPLING)
    return upsampled_argmax(logits, size, progress=lambda done: report(
        NETWORK_DONE + (1 - NETWORK_DONE) * done, UPSAMPLING))


def upsampled_argmax(logits, size: tuple[int, int],
                     max_elements: int = MAX_UPSAMPLE_ELEMENTS,
                     progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Class ids ``(H, W)`` uint8 of ``logits`` ``(1, C, h, w)`` upsampled bilinearly
    (``align_corners=False``) to ``size`` = ``(H, W)``.

    Equal to ``F.interpolate(logits, size, mode="bilinear").argmax(1)``, but computed in
    horizontal strips of at most ``max_elements`` values, so a 150-class map of a 24-megapixel
    photo needs no gigabytes of memory. ``progress(fraction)`` is called after each strip
    (the share of rows done, 1.0 after the last; once with 1.0 when one strip does it all).
    Within :func:`engines.neural.interrupt.cancel_checks` a cancelled run stops between
    strips (:class:`~engines.base.Cancelled`).
    """
    import torch
    import torch.nn.functional as F

    height, width = size
    channels = logits.shape[1]
    rows = max(1, min(height, max_elements // max(1, channels * width)))
    report = progress or (lambda fraction: None)
    if rows >= height:
        full = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)
        labels = full.argmax(1)[0].to(torch.uint8).cpu().numpy()
        report(1.0)
        return labels
    # grid_sample with align_corners=False and border padding samples exactly as
    # interpolate(bilinear, align_corners=False): source = (dest + 0.5) * in / out - 0.5
    device = logits.device
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width * 2 - 1
    result = np.empty((height, width), np.uint8)
    for top in range(0, height, rows):
        check_cancelled()
        bottom = min(height, top + rows)
        ys = (torch.arange(top, bottom, device=device, dtype=torch.float32) + 0.5) / height
        ys = ys * 2 - 1
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)[None]
        strip = F.grid_sample(logits, grid.to(logits.dtype), mode="bilinear",
                              padding_mode="border", align_corners=False)
        result[top:bottom] = strip.argmax(1)[0].to(torch.uint8).cpu().numpy()
        report(bottom / height)
    return result
