"""MI-GAN (Sargsyan et al., ICCV 2023): a small, fast GAN inpainter at a fixed square size.

Weights (MIT, Picsart-AI-Research/MI-GAN):

* ``migan-512-places2``, ``migan-256-places2``, ``migan-256-ffhq``: the authors' plain state
  dicts, only in their Google Drive folder (no direct link): the user downloads the file and
  imports it with ``python main.py models import ID FILE``. State dicts from the older
  upstream code (``upsample.insert_zeros.weight`` instead of the ``filter_const`` buffers,
  numerically the same operation) are converted on load.
* ``migan-traced``: IOPaint's ``migan_traced.pt``, a ``torch.jit.trace`` of the 512 generator
  (the authors' ``export_inference_model.py`` output), downloadable directly.

Pre- and post-processing as the authors' ``scripts/demo.py`` and ONNX pipeline: the region is
resized directly to the native square (aspect ratio not kept; IOPaint pads to a square
instead), image RGB ``x * 2 / 255 - 1`` in [-1, 1], **mask polarity inverted**: ``known`` is 1
on known pixels and 0 in the hole, input ``cat(known - 0.5, image * known)``; output
``((y * 0.5 + 0.5).clamp(0, 1) * 255)`` truncated to uint8, resized back (bicubic). Runs in
float16 on CUDA for the native network (the TorchScript file stays float32).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import cv2
import numpy as np

from engines import weights
from engines.base import CancelToken, Region, RegionStage
from engines.neural.common import image_to_tensor, mask_to_tensor
from engines.neural.sources import DualSourceEngine, load_exact, network_dtype
from engines.registry import register
from engines.weights import WeightSpec, register_spec

if TYPE_CHECKING:
    from engines.neural.migan_network import MiganGenerator

HOMEPAGE = "https://github.com/Picsart-AI-Research/MI-GAN"
DRIVE_FOLDER = "https://drive.google.com/drive/folders/1xNtvN2lto0p5yFKOEEg9RioMjGrYM74w"
LICENSE = "MIT"


def _contract(resolution: int) -> str:
    return (f"{resolution}x{resolution} input cat(known - 0.5, image * known), image RGB in "
            "[-1, 1], known = 1 on known pixels (inverted mask); output RGB in [-1, 1]")


def _generator(resolution: int) -> MiganGenerator:
    """The MI-GAN generator of ``resolution`` with random weights, on the CPU (imports
    torch)."""
    from engines.neural.migan_network import MiganGenerator

    return MiganGenerator(resolution)


def _state_dict_spec(weights_id: str, engine: str, filename: str, title: str,
                     resolution: int, size: int) -> WeightSpec:
    """A spec for one of the authors' state dicts (size: parameters and buffers in float32).

    An imported file must load into the generator of that resolution: the 512 file is
    refused as a 256 model, and the other way round, before it is installed.
    """
    return register_spec(WeightSpec(
        id=weights_id,
        engine=engine,
        title=title,
        filename=filename,
        size=size,
        license=LICENSE,
        homepage=HOMEPAGE,
        format="state_dict",
        contract=_contract(resolution),
        check_contents=lambda path: load_state_dict(_generator(resolution), path, resolution,
                                                    own=(weights_id,)),
        manual=(f"download {filename} from the MI-GAN authors' Google Drive folder "
                f"{DRIVE_FOLDER}"),
    ))


_state_dict_spec("migan-512-places2", "migan", "migan_512_places2.pt", "MI-GAN 512 (Places2)",
                 512, 29_500_000)
_state_dict_spec("migan-256-places2", "migan-256", "migan_256_places2.pt",
                 "MI-GAN 256 (Places2)", 256, 25_200_000)
_state_dict_spec("migan-256-ffhq", "migan-ffhq", "migan_256_ffhq.pt", "MI-GAN 256 (FFHQ faces)",
                 256, 25_200_000)
register_spec(WeightSpec(
    id="migan-traced",
    engine="migan",
    title="MI-GAN 512 (Places2, TorchScript, IOPaint)",
    filename="migan_traced.pt",
    urls=("https://github.com/Sanster/models/releases/download/migan/migan_traced.pt",),
    size=26_000_000,
    md5="76eb3b1a71c400ee3290524f7a11b89c",
    license=LICENSE,
    homepage="https://github.com/Sanster/IOPaint",
    format="torchscript",
    contract=_contract(512),
))


def upgrade_legacy_upsampling(state: Mapping[str, Any], network: MiganGenerator
                              ) -> dict[str, Any]:
    """Convert the older upstream layout: ``*.upsample.insert_zeros.weight`` (a stride-2
    transposed conv with kernel ``[[1, 0], [0, 0]]``) becomes the equivalent
    ``*.upsample.filter_const`` buffer. Other tensors are left as they are."""
    import torch

    upgraded = dict(state)
    expected = network.state_dict()
    for name, buffer in expected.items():
        if not name.endswith(".filter_const") or name in upgraded:
            continue
        legacy = name[:-len("filter_const")] + "insert_zeros.weight"
        kernel = upgraded.get(legacy)
        if not isinstance(kernel, torch.Tensor) or kernel.shape[1:] != (1, 2, 2):
            continue
        pattern = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).expand_as(kernel)
        if torch.equal(kernel.float(), pattern):
            del upgraded[legacy]
            upgraded[name] = buffer.clone()
    return upgraded


def load_state_dict(network: MiganGenerator, path: Path, resolution: int, *,
                    own: Iterable[str]) -> None:
    """Load the authors' state dict at ``path`` into ``network``, every tensor name and shape
    matching (older files' upsampling kernels converted); raises WeightsCorruptError (its
    fields naming an installed file's checkpoint: :func:`~engines.weights.checkpoint_error`).
    ``own``: the ids of the checkpoints it loads (:func:`~engines.weights.mismatch_error`)."""
    state = weights.load_checkpoint(path, "state_dict")
    what = f"{path.name} (MI-GAN {resolution})"
    if not isinstance(state, Mapping):
        raise weights.checkpoint_error(path, f"{what} is not a state dict",
                                       f"{path.name} is not a state dict")
    load_exact(network, upgrade_legacy_upsampling(state, network), path,
               f"the MI-GAN {resolution} generator", own=own)


def telea_preview(image: np.ndarray, hole: np.ndarray, factor: int = 4) -> np.ndarray:
    """A quick fill of ``hole`` (bool) in ``image`` (RGB uint8): OpenCV Telea at 1/``factor``
    resolution, upscaled. Returns RGB uint8 of the same shape."""
    height, width = hole.shape
    small = (max(1, width // factor), max(1, height // factor))
    small_image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.view(np.uint8) * 255, small, interpolation=cv2.INTER_AREA)
    filled = cv2.inpaint(small_image, np.where(small_hole > 0, 255, 0).astype(np.uint8), 3,
                         cv2.INPAINT_TELEA)
    return cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)


@register
class MiganEngine(DualSourceEngine):
    """MI-GAN 512 trained on Places2 (scenes); the TorchScript export is the alternative.

    The region (at most ``working_size``) is resized to the native square, filled and resized
    back. Stages: "coarse" (OpenCV Telea at quarter resolution, instant) then "refined".

    Options: ``source`` (``auto``, ``native``, ``torchscript``), ``weights_path``, ``device``.
    """

    name = "migan"
    title = "MI-GAN 512 (Places2)"
    description = "Small, fast GAN for scenes at 512x512; good for medium holes on any device."
    weights_id = "migan-512-places2"
    alternative_id = "migan-traced"
    half_safe = True
    resolution: ClassVar[int] = 512
    working_size = 512
    native_size: ClassVar[int | None] = 512
    pad_multiple: ClassVar[int] = 512  # fixed square: the region is resized to it

    def create_network(self) -> MiganGenerator:
        return _generator(self.resolution).eval()

    def load_weights(self, network: MiganGenerator, path: Path) -> None:
        load_state_dict(network, path, self.resolution, own=self.weights)

    def predict(self, network: Any, image: np.ndarray, hole: np.ndarray, device) -> np.ndarray:
        """Fill ``hole`` (bool ``(h, w)``) in ``image`` (RGB uint8); RGB uint8 ``(h, w, 3)``
        with the known pixels of ``image`` and the network's output in the hole."""
        import torch

        size = self.resolution
        height, width = hole.shape
        native = (height, width) == (size, size)
        square_image, square_hole = image, hole
        if not native:
            shrink = height > size or width > size
            square_image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA
                                      if shrink else cv2.INTER_CUBIC)
            square_hole = cv2.resize(hole.view(np.uint8) * 255, (size, size),
                                     interpolation=cv2.INTER_AREA if shrink
                                     else cv2.INTER_LINEAR) > 0
        rgb = image_to_tensor(square_image, device, -1.0, 1.0)
        known = 1.0 - mask_to_tensor(square_hole, device)
        model_input = torch.cat([known - 0.5, rgb * known], dim=1)
        with torch.inference_mode():
            output = network(model_input.to(network_dtype(network)))
        output = ((output.float() * 0.5 + 0.5).clamp(0, 1) * 255).to(torch.uint8)
        result = np.ascontiguousarray(output[0].permute(1, 2, 0).cpu().numpy())
        if not native:
            result = cv2.resize(result, (width, height), interpolation=cv2.INTER_CUBIC)
        return np.where(hole[..., None], result, image)

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        hole = region.hole
        yield RegionStage("coarse", telea_preview(region.image, hole), 0.1)
        cancel.raise_if_cancelled()
        device = self.device(None if region.device == "auto" else region.device)
        network = self.network(device)
        cancel.raise_if_cancelled()
        yield RegionStage("refined", self.predict(network, region.image, hole, device), 1.0,
                          final=True)


@register
class Migan256Engine(MiganEngine):
    """MI-GAN 256 trained on Places2: faster, for small holes in scenes."""

    name = "migan-256"
    title = "MI-GAN 256 (Places2)"
    description = "MI-GAN at 256x256 for scenes; fastest, for small holes."
    weights_id = "migan-256-places2"
    alternative_id = None
    resolution = 256
    working_size = 256
    native_size = 256
    pad_multiple = 256


@register
class MiganFfhqEngine(Migan256Engine):
    """MI-GAN 256 trained on FFHQ: aligned face close-ups."""

    name = "migan-ffhq"
    title = "MI-GAN 256 (faces)"
    description = "MI-GAN at 256x256 trained on FFHQ faces; for face close-ups."
    weights_id = "migan-256-ffhq"
