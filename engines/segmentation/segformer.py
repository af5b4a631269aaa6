"""Lighter scene parsing: SegFormer (MiT encoder) trained on ADE20K, through
segmentation-models-pytorch.

The weights are the ``smp-hub/segformer-*-ade-160k`` models (the official SegFormer ADE20K
checkpoints converted by smp's maintainers). Only their ``model.safetensors`` comes through our
model cache; the architecture is built here with ``smp.Segformer`` from the facts smp's
``config.json`` holds (encoder ``mit_bN``, decoder channels, 150 classes), so nothing is fetched
from the Hugging Face hub at run time. Inference follows the preprocessing smp's conversion
script saved with the weights (``albumentations_config_eval.json``): resize to the training size (512, or 640 for B5),
normalise ``(x - mean) / std`` on 0-255 RGB with mean (123.675, 116.28, 103.53) and std
(58.395, 57.12, 57.375), argmax of the logits upsampled to the photo's size. Class names (not
shipped with the weights) are ``resources/labels/ade150.tsv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from engines import weights
from engines.base import CancelToken, InputError
from engines.neural.interrupt import cancel_checks
from engines.segmentation.base import LabelSet, ProgressCallback, register_parser
from engines.segmentation.labels import bundled_label_set
from engines.segmentation.neural import (
    NeuralParser,
    image_tensor,
    labelled_with_progress,
    load_strict,
    network_done,
)
from engines.weights import WeightSpec, network_check, register_spec

MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
N_CLASSES = 150
DEFAULT_VARIANT = "b2"
_HUB = "https://huggingface.co/smp-hub"
_SEGFORMER = "https://github.com/NVlabs/SegFormer"
_LICENSE = "NVIDIA Source Code License for SegFormer (non-commercial use)"

# variant: (hub repository, training size, decoder channels, download size in bytes)
VARIANTS = {
    "b0": ("segformer-b0-512x512-ade-160k", 512, 256, 15_000_000),
    "b1": ("segformer-b1-512x512-ade-160k", 512, 256, 54_900_000),
    "b2": ("segformer-b2-512x512-ade-160k", 512, 768, 109_900_000),
    "b3": ("segformer-b3-512x512-ade-160k", 512, 768, 189_000_000),
    "b4": ("segformer-b4-512x512-ade-160k", 512, 768, 257_000_000),
    "b5": ("segformer-b5-640x640-ade-160k", 640, 768, 339_000_000),
}
# variant: its network's pass costs about the labelling of this many million pixels
# (:func:`engines.segmentation.neural.network_done`; measured on a CPU)
NETWORK_MEGAPIXELS = {"b0": 0.4, "b1": 0.7, "b2": 2.3, "b3": 2.6, "b4": 2.8, "b5": 5.5}
SPECS = {
    variant: register_spec(WeightSpec(
        id=f"segformer-{variant}-ade", engine="scene-lite",
        title=f"SegFormer-{variant.upper()} ADE20K ({size}x{size})",
        filename=f"{repository}.safetensors",
        urls=(f"{_HUB}/{repository}/resolve/main/model.safetensors",),
        size=download_size, license=_LICENSE, homepage=f"{_HUB}/{repository}",
        format="safetensors",
        contract=f"RGB resized to {size}x{size}, (x - {MEAN}) / {STD} on 0-255; logits of the "
                 "150 ADE20K classes at the input size",
        extra={"encoder": f"mit_{variant}", "decoder_channels": channels, "input_size": size,
               "upstream": _SEGFORMER},
        # built on the CPU (smp's MiT encoder reads a tensor's value while it is built),
        # then moved to meta: loading copies nothing
        check_contents=network_check(lambda path, device, variant=variant: _network_from(
            variant, path, into="meta"), meta=False)))
    for variant, (repository, size, channels, download_size) in VARIANTS.items()
}


def build_network(variant: str = DEFAULT_VARIANT) -> Any:
    """``smp.Segformer`` for ``variant`` with random weights, on the CPU, in eval mode."""
    import segmentation_models_pytorch as smp

    spec = variant_spec(variant)
    return smp.Segformer(encoder_name=spec.extra["encoder"], encoder_weights=None,
                         in_channels=3, classes=N_CLASSES,
                         decoder_segmentation_channels=spec.extra["decoder_channels"]).eval()


def _network_from(variant: str, path: Path, into: Any = None) -> Any:
    """:func:`build_network` for ``variant``, moved to the device ``into`` (None: left on the
    CPU) and loaded strictly from ``path``: what :meth:`SceneLiteParser.load_networks` moves
    to its device, and what the import check runs moved to ``meta``
    (:func:`~engines.weights.network_check`). Raises
    :class:`~engines.weights.CheckpointMismatchError` naming the tensors that differ."""
    spec = variant_spec(variant)
    state = weights.load_checkpoint(path, spec.format)
    network = build_network(variant)
    if into is not None:
        network = network.to(into)
    load_strict(network, state, spec.title, path, own=(spec.id,))
    return network


def variant_spec(variant: str) -> WeightSpec:
    try:
        return SPECS[variant]
    except KeyError:
        raise InputError(f"unknown SegFormer variant {variant!r}; use "
                         f"{', '.join(SPECS)}") from None


def preprocess(image: np.ndarray, size: int, device) -> Any:
    """``(1, 3, size, size)`` float32 tensor of ``image`` (``(H, W, 3)`` uint8 RGB),
    resized bilinearly (as albumentations' ``Resize``) and normalised."""
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    return image_tensor(resized, device, MEAN, STD)


@register_parser
class SceneLiteParser(NeuralParser):
    """150 ADE20K classes (wall, building, sky, floor, tree...), faster than DeepLab.

    Options (besides ``device`` and ``weights_path``):
        variant: ``"b0"`` (fastest) .. ``"b5"``; default ``"b2"``.
    """

    name = "scene-lite"
    title = "Scene parsing (SegFormer, ADE20K)"
    loading = "loading SegFormer"
    weights: ClassVar[tuple[str, ...]] = (SPECS[DEFAULT_VARIANT].id,)

    @property
    def label_set(self) -> LabelSet:
        return bundled_label_set("ade150", "ade150")

    def _spec(self) -> WeightSpec:
        return variant_spec(self.options.get("variant", DEFAULT_VARIANT))

    def required_weights(self) -> tuple[str, ...]:
        return (self._spec().id,)

    def load_networks(self, device) -> Any:
        path = self.checkpoint_path(self._spec().id)
        variant = self.options.get("variant", DEFAULT_VARIANT)
        return _network_from(variant, path).to(device).eval()

    def parse(self, image: np.ndarray, cancel: CancelToken | None = None,
              progress: ProgressCallback | None = None) -> np.ndarray:
        import torch

        cancel = cancel or CancelToken()
        report = progress or (lambda fraction, text: None)
        device = self.device()
        network, start = self.networks_with_progress(device, report)
        cancel.raise_if_cancelled()
        report(start, "parsing the scene")
        tensor = preprocess(image, self._spec().extra["input_size"], device)
        variant = self.options.get("variant", DEFAULT_VARIANT)
        done = network_done(start, image.shape[:2], NETWORK_MEGAPIXELS[variant])
        with torch.no_grad(), cancel_checks(cancel):  # stops part-way
            logits = network(tensor)
            cancel.raise_if_cancelled()
            labels = labelled_with_progress(logits.float(), image.shape[:2], report, done)
        report(1.0, "done")
        return labels
