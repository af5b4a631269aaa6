"""Scene parsing with DeepLab v2 (ResNet-101, multi-scale inputs) on COCO-Stuff 164k.

The network reproduces kazuto1011/deeplab-pytorch (``libs/models``: ``resnet.py``,
``deeplabv2.py``, ``msc.py``) module for module, so the released
``deeplabv2_resnet101_msc-cocostuff164k-100000.pth`` (a plain state dict, keys ``base.*``)
loads strictly. Inference follows its ``demo.py``:

* the photo, in **BGR** order, is resized (``cv2.resize``, bilinear, on uint8) so its longer
  side is 513, then converted to float and the per-channel mean (B 104.008, G 116.669,
  R 122.675) is subtracted; no division by 255;
* the network runs at scales 1, 0.5 and 0.75 of that input; each gives logits at 1/8 of its
  size, the two smaller are upsampled to the full-scale logits (bilinear) and the pixel-wise
  maximum is taken;
* the logits are upsampled bilinearly (here straight to the photo's own size; upstream stops
  at the 513 input) and the argmax is the COCO-Stuff class (182 ids,
  ``resources/labels/cocostuff182.tsv``).

A very elongated photo (beyond about 33:1 at the long side 513) gives a resized side under
:data:`MIN_SIDE` (16) pixels, too thin for the half-scale pass (at 1 pixel it vanishes). Such
an input is padded at the bottom and right with the mean colour (0 after the subtraction), as
upstream's training pads its crops, and the logits of the padding are cut off (at the input's
resolution) before the upsampling to the photo. Inputs of at least :data:`MIN_SIDE` pixels
each way are processed exactly as described above, with no padding.

The network's modules are in :mod:`engines.segmentation.deeplab_network` (torch), imported
when a network is built; their names are importable from here too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import cv2
import numpy as np

from engines import plugins, weights
from engines.base import CancelToken, InputError
from engines.faces import check_image
from engines.neural.interrupt import cancel_checks
from engines.segmentation.base import LabelSet, ProgressCallback, register_parser
from engines.segmentation.labels import bundled_label_set
from engines.segmentation.neural import (
    NeuralParser,
    labelled_with_progress,
    load_strict,
    network_done,
)
from engines.weights import WeightSpec, network_check, register_spec

if TYPE_CHECKING:
    import torch
    from torch import nn

    from engines.segmentation.deeplab_network import MultiScale

MEAN_BGR = (104.008, 116.669, 122.675)
LONG_SIDE = 513
SCALES = (0.5, 0.75)
N_BLOCKS = (3, 4, 23, 3)
ATROUS_RATES = (6, 12, 18, 24)
N_CLASSES = 182
OUTPUT_STRIDE = 8
# the smallest input side whose smallest scaled copy still spans one output cell
MIN_SIDE = math.ceil(OUTPUT_STRIDE / min(SCALES))
# the network's pass at LONG_SIDE costs about the labelling of this many million pixels
# (:func:`engines.segmentation.neural.network_done`; measured on a CPU, a 4:3 photo)
NETWORK_MEGAPIXELS = 2.5
PARSING = "parsing the scene"

NETWORK_MODULE = "engines.segmentation.deeplab_network"
# the network's names, importable from here too; the module (torch) loads at first use
__getattr__ = plugins.lazy_attributes(__name__, NETWORK_MODULE, (
    "ConvBnReLU", "Bottleneck", "ResLayer", "Stem", "ASPP", "DeepLabV2", "MultiScale"))

SPEC = register_spec(WeightSpec(
    id="deeplab2-cocostuff164k", engine="scene",
    title="DeepLab v2 ResNet-101 COCO-Stuff 164k",
    filename="deeplabv2_resnet101_msc-cocostuff164k-100000.pth",
    urls=("https://github.com/kazuto1011/deeplab-pytorch/releases/download/v1.0/"
          "deeplabv2_resnet101_msc-cocostuff164k-100000.pth",),
    size=224_400_000, license="MIT (code and weights; COCO-Stuff annotations CC BY 4.0)",
    homepage="https://github.com/kazuto1011/deeplab-pytorch", format="state_dict",
    contract="BGR float 0-255 minus mean (104.008, 116.669, 122.675), long side 513; logits "
             "of 182 COCO-Stuff classes at 1/8 scale, max over scales 1, 0.5, 0.75",
    check_contents=network_check(lambda path, device: _network_from(path)),
))


@contextmanager
def scale_passes(network: nn.Module, done: Callable[[float], None]) -> Iterator[None]:
    """While the block runs, ``done(share)`` after each pass of ``network`` (a
    :class:`MultiScale`) at one of its scales: ``share`` of its work done so far, each pass
    costing its pixels (1 for the full scale, 0.25 for 0.5...), 1.0 after the last. Another
    network (a stand-in) reports nothing."""
    from engines.segmentation.deeplab_network import MultiScale

    if not isinstance(network, MultiScale):
        yield
        return
    costs = [1.0] + [scale * scale for scale in network.scales]
    passes = 0

    def passed(*_) -> None:
        nonlocal passes
        passes += 1
        done(sum(costs[:passes]) / sum(costs))

    hook = network.base.register_forward_hook(passed)
    try:
        yield
    finally:
        hook.remove()


def build_network(n_classes: int = N_CLASSES) -> MultiScale:
    """``DeepLabV2_ResNet101_MSC`` with random weights, on the CPU, in eval mode."""
    from engines.segmentation.deeplab_network import DeepLabV2, MultiScale

    return MultiScale(DeepLabV2(n_classes, N_BLOCKS, ATROUS_RATES), SCALES).eval()


def _network_from(path: Path) -> MultiScale:
    """:func:`build_network` on torch's default device, loaded strictly from ``path``: what
    :meth:`SceneParser.load_networks` moves to its device, and what the import check runs on
    ``meta`` (:func:`~engines.weights.network_check`). Raises
    :class:`~engines.weights.WeightsCorruptError` for a file that is no state dict, and
    :class:`~engines.weights.CheckpointMismatchError` naming the tensors that differ."""
    state = weights.load_checkpoint(path, SPEC.format)
    if not isinstance(state, dict):  # fields: an installed file's checkpoint and path
        raise weights.checkpoint_error(path, f"{path.name} is not a state dict")
    network = build_network()
    load_strict(network, state, SPEC.title, path, own=(SPEC.id,))
    return network


def preprocess(image: np.ndarray, long_side: int = LONG_SIDE) -> np.ndarray:
    """The network input for ``image`` (``(H, W, 3)`` uint8 RGB): ``(3, h, w)`` float32 BGR
    minus :data:`MEAN_BGR`, resized so that ``max(h, w)`` is ``long_side`` (see the module
    docstring; upscales small images too, as upstream). A side that would round to 0 pixels
    is kept at 1."""
    bgr = np.ascontiguousarray(image[..., ::-1])
    height, width = bgr.shape[:2]
    scale = long_side / max(height, width)
    if round(height * scale) >= 1 and round(width * scale) >= 1:
        resized = cv2.resize(bgr, dsize=None, fx=scale, fy=scale)
    else:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = cv2.resize(bgr, dsize=size)
    pixels = resized.astype(np.float32) - np.array(MEAN_BGR, np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def pad_input(pixels: np.ndarray, min_side: int = MIN_SIDE) -> np.ndarray:
    """``pixels`` (``(3, h, w)``, from :func:`preprocess`) padded at the bottom and right with
    zeros (the mean colour) to at least ``min_side`` each way; ``pixels`` itself when it is
    already that large."""
    height, width = pixels.shape[1:]
    if height >= min_side and width >= min_side:
        return pixels
    return np.pad(pixels, ((0, 0), (0, max(0, min_side - height)),
                           (0, max(0, min_side - width))))


def content_logits(logits: torch.Tensor, padded: tuple[int, int],
                   content: tuple[int, int]) -> torch.Tensor:
    """The part of ``logits`` (``(1, C, h, w)``, of an input of size ``padded``) that covers
    the top-left ``content`` of that input: upsampled to ``padded`` and cropped; ``logits``
    itself when nothing was padded."""
    if tuple(padded) == tuple(content):
        return logits
    import torch.nn.functional as F

    full = F.interpolate(logits, size=tuple(padded), mode="bilinear", align_corners=False)
    return full[:, :, :content[0], :content[1]]


@register_parser
class SceneParser(NeuralParser):
    """182 COCO-Stuff classes (things and stuff: sky, grass, wall, person, car...).

    Options (besides ``device`` and ``weights_path``):
        long_side: input size, 513 as trained (smaller is faster and coarser).
    """

    name = "scene"
    title = "Scene parsing (DeepLab v2, COCO-Stuff)"
    loading = "loading DeepLab v2"
    weights: ClassVar[tuple[str, ...]] = (SPEC.id,)

    @property
    def label_set(self) -> LabelSet:
        return bundled_label_set("cocostuff182", "cocostuff182")

    def load_networks(self, device) -> Any:
        return _network_from(self.checkpoint_path(SPEC.id)).to(device).eval()

    def parse(self, image: np.ndarray, cancel: CancelToken | None = None,
              progress: ProgressCallback | None = None) -> np.ndarray:
        import torch

        check_image(image)
        if image.size == 0:
            raise InputError(f"the image is empty ({image.shape[1]}x{image.shape[0]})")
        long_side = int(self.options.get("long_side", LONG_SIDE))
        if long_side < 1:
            raise InputError(f"option long_side must be at least 1, got {long_side}")
        cancel = cancel or CancelToken()
        report = progress or (lambda fraction, text: None)
        device = self.device()
        network, start = self.networks_with_progress(device, report)
        cancel.raise_if_cancelled()
        report(start, PARSING)
        pixels = preprocess(image, long_side)
        padded = pad_input(pixels)
        done = network_done(start, image.shape[:2],
                            NETWORK_MEGAPIXELS * (long_side / LONG_SIDE) ** 2)
        with torch.no_grad(), cancel_checks(cancel):  # stops part-way
            with scale_passes(network, lambda share: report(start + (done - start) * share,
                                                            PARSING)):
                logits = network(torch.from_numpy(padded)[None].to(device))
            cancel.raise_if_cancelled()
            logits = content_logits(logits.float(), padded.shape[1:], pixels.shape[1:])
            labels = labelled_with_progress(logits, image.shape[:2], report, done)
        report(1.0, "done")
        return labels
