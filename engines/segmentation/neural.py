"""What the network parsers share: weights resolution, strict loading, the model slot, and
turning low-resolution logits into a full-size label map without running out of memory.

A network parser subclasses :class:`NeuralParser`, lists its checkpoints in
:meth:`NeuralParser.required_weights` and builds its networks in
:meth:`NeuralParser.load_networks`; :meth:`NeuralParser.networks` keeps them loaded in the
process-wide model slot (all of a parser's networks under one key, so a parser that needs
two, like face detection plus face parsing, never evicts its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from engines import weights
from engines.device import MODEL_SLOT, pick_device, slot_key
from engines.neural.interrupt import check_cancelled
from engines.segmentation.base import Parser, ProgressCallback

MAX_UPSAMPLE_ELEMENTS = 1 << 25  # floats per strip when upsampling logits (128 MiB)
# of a parse's progress, loading the networks when they are not loaded yet
LOADING_SHARE = 0.2
UPSAMPLING = "labelling every pixel"


def load_strict(network: Any, state: dict, title: str, path: Path, *,
                own: Iterable[str]) -> None:
    """``network.load_state_dict(state, strict=True)``, with a one-line
    :class:`~engines.weights.WeightsCorruptError` naming what differs when it fails.

    ``title``: the loaded checkpoint's; ``own``: the ids of the checkpoints loaded into
    ``network`` (:func:`~engines.weights.mismatch_error`)."""
    expected = network.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [k for k in expected
                if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = []
    for what, keys in (("missing", missing), ("unexpected", unexpected),
                       ("of another shape", reshaped)):
        if keys:
            problems.append(f"{len(keys)} tensors {what} (e.g. {keys[0]})")
    if problems:
        raise weights.mismatch_error(path, f"the {title} network", "; ".join(problems),
                                     own=own)
    network.load_state_dict(state, strict=True)


class NeuralParser(Parser):
    """Base of the parsers that run torch networks on cached weights.

    Options:
        device: ``auto`` (default), ``cpu``, ``cuda`` or ``mps``.
        weights_path: load the main checkpoint from this file instead of the cache.
    """

    loading: ClassVar[str] = "loading the network"  # the step shown while they load

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

    def networks(self, device, on_load: Callable[[], None] | None = None) -> Any:
        """The loaded network(s) on ``device``, shared through the process-wide model slot;
        all loaded again when one of their checkpoint files was replaced since.
        ``on_load()`` is called before a load starts (not when the slot holds them)."""
        paths = [self.checkpoint_path(i) for i in self.required_weights()]
        key = slot_key(type(self).__name__, paths, device)  # a replaced file loads again

        def load() -> Any:
            if on_load is not None:
                on_load()
            return self.load_networks(device)

        return MODEL_SLOT.get(key, load)

    def networks_with_progress(self, device, progress: ProgressCallback) -> tuple[Any, float]:
        """:meth:`networks`, calling ``progress(0.0, self.loading)`` only when they load (not
        when the model slot holds them already: a folder run loads them once, before its
        first picture), and the fraction of a parse done once they are there:
        :data:`LOADING_SHARE` after a load, else 0."""
        loaded = False

        def loading() -> None:
            nonlocal loaded
            loaded = True
            progress(0.0, self.loading)

        networks = self.networks(device, on_load=loading)
        return networks, LOADING_SHARE if loaded else 0.0

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


def network_done(start: float, size: tuple[int, int], network_megapixels: float) -> float:
    """Where a scene parse's progress stands once its network has run, the network starting
    at ``start``: the rest up to 1 is shared between the network and the labelling of the
    picture's ``size`` = ``(H, W)`` pixels (:func:`upsampled_argmax`) by their cost. The
    network's input has a fixed size, so its cost is one figure, ``network_megapixels``: the
    millions of pixels whose labelling takes as long (each parser's, measured on a CPU); the
    labelling's cost grows with the picture's pixels. So the network is most of the work on
    a small picture and little of it on a 50-megapixel photo, and a folder run's time left
    does not jump when the network ends."""
    megapixels = size[0] * size[1] / 1e6
    return start + (1 - start) * network_megapixels / (network_megapixels + megapixels)


def labelled_with_progress(logits, size: tuple[int, int], report: ProgressCallback,
                           done: float) -> np.ndarray:
    """:func:`upsampled_argmax` of a scene parser whose network has run, the parse being
    ``done`` (:func:`network_done`): its progress told as ``report(fraction, UPSAMPLING)``,
    from ``done`` to 1 strip by strip."""
    report(done, UPSAMPLING)
    return upsampled_argmax(logits, size, progress=lambda part: report(
        done + (1 - done) * part, UPSAMPLING))


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
