"""LaMa big (Suvorov et al. 2022): large-mask inpainting with fast Fourier convolutions.

Weights, either of:

* ``lama-big``: the official ``big-lama.zip`` (advimman/lama, Apache-2.0); the cache keeps its
  ``big-lama/models/best.ckpt``, a PyTorch Lightning checkpoint whose ``state_dict`` holds the
  generator under ``generator.*`` (``discriminator.*``, ``loss_*`` and the rest are ignored).
  The ``weights_path`` option also takes the whole zip or the unzipped ``big-lama`` folder; then
  ``config.yaml`` is checked against the architecture built here.
* ``lama-big-torchscript``: IOPaint's TorchScript ``big-lama.pt`` of the same network, whose
  ``forward(image, mask)`` already composes the result.

Pre- and post-processing as upstream ``bin/predict.py``: image RGB ``/ 255`` in [0, 1],
mask binary with 1 = hole, both padded at the bottom/right to a multiple of 8 with numpy
``symmetric`` padding, generator input ``cat(image * (1 - mask), mask)``, sigmoid output
composed as ``mask * prediction + (1 - mask) * image``, cropped, then
``clip(x * 255, 0, 255).astype(uint8)`` (truncation, not rounding). Always float32: FFTs in
float16 are not safe.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import cv2
import numpy as np
import yaml

from engines.base import CancelToken, Region, RegionStage
from engines.neural.common import image_to_tensor
from engines.neural.lama_config import BIG_LAMA
from engines.neural.sources import DualSourceEngine, load_exact, read_lightning_checkpoint
from engines.registry import register
from engines.weights import (
    WeightsCorruptError,
    WeightSpec,
    mismatch_error,
    network_check,
    register_spec,
)

if TYPE_CHECKING:
    from engines.neural.lama_network import LamaInpainter

HOMEPAGE = "https://github.com/advimman/lama"
CONTRACT = ("image RGB in [0, 1] and mask (1 = hole) padded to a multiple of 8; generator input "
            "cat(image * (1 - mask), mask); output sigmoid RGB in [0, 1]")
CHECKPOINT_MEMBER = "models/best.ckpt"
NETWORK = "the LaMa big generator"  # as errors name the network

register_spec(WeightSpec(
    id="lama-big",
    engine="lama",
    title="LaMa big (official)",
    filename="best.ckpt",
    urls=("https://huggingface.co/smartywu/big-lama/resolve/main/big-lama.zip",),
    archive_member="big-lama/" + CHECKPOINT_MEMBER,
    license="Apache-2.0",
    homepage=HOMEPAGE,
    format="lightning",
    contract=CONTRACT,
    extra={"generator_prefix": "generator.", "parameters": "51.06M (with BatchNorm buffers)"},
    check_contents=network_check(
        lambda path, device: LamaEngine().load_weights(_generator(), path)),
))

register_spec(WeightSpec(
    id="lama-big-torchscript",
    engine="lama",
    title="LaMa big (TorchScript, IOPaint)",
    filename="big-lama.pt",
    urls=("https://github.com/Sanster/models/releases/download/add_big_lama/big-lama.pt",),
    size=197_000_000,
    md5="e3aa4aaa15225a33ec84f9f4bc47e500",
    license="Apache-2.0",
    homepage="https://github.com/Sanster/IOPaint",
    format="torchscript",
    contract="forward(image [1,3,H,W] RGB in [0, 1], mask [1,1,H,W] 1 = hole) returns the "
             "composed result in [0, 1]; H, W multiples of 8",
))


def _generator() -> LamaInpainter:
    """Big LaMa's generator with random weights, on the CPU (imports torch)."""
    from engines.neural.lama_network import LamaInpainter

    return LamaInpainter(BIG_LAMA)


# The generator section of big-lama's config.yaml; values that change the network.
EXPECTED_GENERATOR = {
    "kind": "ffc_resnet",
    "input_nc": BIG_LAMA.input_nc,
    "output_nc": BIG_LAMA.output_nc,
    "ngf": BIG_LAMA.ngf,
    "n_downsampling": BIG_LAMA.n_downsampling,
    "n_blocks": BIG_LAMA.n_blocks,
    "add_out_act": "sigmoid",
    "init_conv_kwargs": {"ratio_gin": 0, "ratio_gout": 0, "enable_lfu": False},
    "downsample_conv_kwargs": {"ratio_gin": 0, "ratio_gout": 0, "enable_lfu": False},
    "resnet_conv_kwargs": {"ratio_gin": BIG_LAMA.resnet_ratio,
                           "ratio_gout": BIG_LAMA.resnet_ratio, "enable_lfu": False},
}
# Upstream defaults of required values: a config may leave these out.
OMITTABLE = {"ngf": 64, "n_downsampling": 3}
# Upstream constructor defaults of other settings: accepted when a config spells them out.
DEFAULT_SETTINGS = {
    "padding_type": "reflect",
    "max_features": BIG_LAMA.max_features,
    "out_ffc": False,
    "spatial_transform_layers": None,
    "fft_norm": "ortho",
    "gated": False,
    "use_se": False,
    "spatial_scale_factor": None,
    "spectral_pos_encoding": False,
    "ffc3d": False,
}
_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")


def _resolve(value: Any, root: dict, depth: int = 0) -> Any:
    """Resolve OmegaConf references ``${a.b.c}`` (whole-value ones) against ``root``."""
    if isinstance(value, dict):
        return {key: _resolve(item, root, depth) for key, item in value.items()}
    if isinstance(value, str) and depth < 8:
        match = _REFERENCE.match(value)
        if match:
            target: Any = root
            for part in match.group(1).split("."):
                if not isinstance(target, dict) or part not in target:
                    return value
                target = target[part]
            return _resolve(target, root, depth + 1)
    return value


def _compare(actual: dict, expected: dict, prefix: str, problems: list[str]) -> None:
    for key, value in actual.items():
        name = f"{prefix}{key}"
        if key in expected:
            wanted = expected[key]
            if isinstance(wanted, dict):
                if not isinstance(value, dict):
                    problems.append(f"{name} is {value!r}")
                else:
                    _compare(value, wanted, name + ".", problems)
            elif value != wanted:
                problems.append(f"{name} is {value!r}, expected {wanted!r}")
        elif key not in DEFAULT_SETTINGS or value != DEFAULT_SETTINGS[key]:
            problems.append(f"{name}: {value!r} is not supported")
    for key, wanted in expected.items():
        if key not in actual and OMITTABLE.get(key, ...) != wanted:
            problems.append(f"{prefix}{key} is missing")


def check_config(text: str, what: str) -> None:
    """Check a LaMa ``config.yaml`` describes the big-lama generator and input built here.

    Raises :class:`~engines.weights.WeightsCorruptError` listing every difference.
    """
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())  # PyYAML's spans lines: one line, all of it
        raise WeightsCorruptError(f"{what} is not valid YAML ({detail})") from None
    if not isinstance(config, dict) or not isinstance(config.get("generator"), dict):
        raise WeightsCorruptError(f"{what} has no generator section")
    problems: list[str] = []
    _compare(_resolve(config["generator"], config), EXPECTED_GENERATOR, "generator.", problems)
    training = _resolve(config.get("training_model") or {}, config)
    if training.get("concat_mask", True) is not True:
        problems.append("training_model.concat_mask must be true")
    if training.get("add_noise_kwargs") is not None:
        problems.append("training_model.add_noise_kwargs is not supported")
    if problems:
        raise WeightsCorruptError(f"{what} is not the big-lama configuration this engine "
                                  f"implements: {'; '.join(problems)}")


def generator_state(checkpoint: Any, what: str, *, path: Path | None = None,
                    own: Iterable[str] | None = None) -> dict[str, Any]:
    """The ``generator.*`` tensors of a Lightning checkpoint (or of a plain state dict, with or
    without the ``generator.`` prefix); everything else is dropped. When it holds none: with
    ``path``, the file it was read from, :func:`~engines.weights.mismatch_error` (``own``: the
    ids of the checkpoints loaded, as it takes them), which names another model's installed
    checkpoint given here as that checkpoint; without, a
    :class:`~engines.weights.WeightsCorruptError` naming ``what``."""
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        state = checkpoint if isinstance(checkpoint, dict) else {}
    kept = {name: value for name, value in state.items()
            if isinstance(name, str) and name.startswith("generator.")}
    if not kept:
        kept = {"generator." + name: value for name, value in state.items()
                if isinstance(name, str) and name.startswith("model.")}
    if not kept:
        found = ", ".join(str(name) for name in list(state)[:5]) or "nothing"
        lacking = f"no 'generator.*' tensors; found {found}"
        if path is not None:
            raise mismatch_error(path, NETWORK, lacking, own=own)
        raise WeightsCorruptError(f"{what} holds no LaMa generator weights ({lacking})")
    return kept


def read_big_lama(path: Path, own: Iterable[str] | None = None
                  ) -> tuple[dict[str, Any], str | None]:
    """The generator state dict and the config text (None if not at hand) from ``path``: the
    ``best.ckpt`` file, the ``big-lama.zip`` archive or the unzipped ``big-lama`` folder. A
    checkpoint file holding no generator (another model's, say) is refused by
    :func:`generator_state` through :func:`~engines.weights.mismatch_error` (``own``: as it
    takes them)."""
    if path.is_dir():
        root = path / "big-lama" if (path / "big-lama").is_dir() else path
        checkpoint = root / CHECKPOINT_MEMBER
        if not checkpoint.is_file():
            raise WeightsCorruptError(f"{path} has no {CHECKPOINT_MEMBER}: not a big-lama folder")
        config = root / "config.yaml"
        text = config.read_text(encoding="utf-8") if config.is_file() else None
        return generator_state(read_lightning_checkpoint(checkpoint), checkpoint.name,
                               path=checkpoint, own=own), text
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [name for name in archive.namelist() if name.endswith(CHECKPOINT_MEMBER)]
            if members:
                member = members[0]
                config_member = member[:-len(CHECKPOINT_MEMBER)] + "config.yaml"
                text = (archive.read(config_member).decode("utf-8")
                        if config_member in archive.namelist() else None)
                with tempfile.TemporaryDirectory(prefix="big-lama-") as folder:
                    extracted = Path(archive.extract(member, folder))
                    checkpoint = read_lightning_checkpoint(extracted)
                return generator_state(checkpoint, f"{path.name}:{member}"), text
    return generator_state(read_lightning_checkpoint(path), path.name, path=path, own=own), None


def pad_symmetric(array: np.ndarray, multiple: int, minimum: int) -> np.ndarray:
    """Pad ``(H, W[, C])`` at the bottom/right (numpy ``symmetric``, as upstream) to multiples
    of ``multiple`` and at least ``minimum``."""
    height, width = array.shape[:2]
    target_h = max(-(-height // multiple) * multiple, minimum)
    target_w = max(-(-width // multiple) * multiple, minimum)
    padding = [(0, target_h - height), (0, target_w - width)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, padding, mode="symmetric")


@register
class LamaEngine(DualSourceEngine):
    """LaMa big on the official checkpoint (or IOPaint's TorchScript export).

    Works at any size: the region is padded to a multiple of ``pad_multiple``; regions longer
    than ``working_size`` are scaled down first. Stages: "coarse" (the network on the region
    scaled to at most ``coarse_size``, or half size, upscaled) then "refined" (full size).

    Options: ``source`` (``auto``, ``native``, ``torchscript``), ``weights_path``, ``device``.
    """

    name = "lama"
    title = "LaMa (big)"
    description = ("Fourier-convolution network for large holes and repetitive structure; "
                   "official big-lama weights.")
    weights_id = "lama-big"
    alternative_id = "lama-big-torchscript"
    half_safe = False
    working_size = 1024
    native_size: ClassVar[int | None] = None  # any size; trained on 256x256 crops
    pad_multiple: ClassVar[int] = 8
    min_input: ClassVar[int] = 16  # the 1/8 bottleneck must be >= 2 px for reflect padding
    coarse_size: ClassVar[int] = 256

    def create_network(self) -> LamaInpainter:
        return _generator().eval()

    def load_weights(self, network: LamaInpainter, path: Path) -> None:
        state, config = read_big_lama(path, own=self.weights)
        if config is not None:
            check_config(config, f"{path.name} config.yaml")
        load_exact(network, state, path, NETWORK, own=self.weights)

    def predict(self, network: Any, image: np.ndarray, hole: np.ndarray, device) -> np.ndarray:
        """Fill ``hole`` (bool ``(h, w)``) in ``image`` (RGB uint8); RGB uint8 ``(h, w, 3)``."""
        import torch

        height, width = hole.shape
        padded_image = pad_symmetric(image, self.pad_multiple, self.min_input)
        padded_hole = pad_symmetric(hole, self.pad_multiple, self.min_input)
        image_tensor = image_to_tensor(padded_image, device)
        mask_tensor = torch.from_numpy(padded_hole.astype(np.float32)).to(device)[None, None]
        with torch.inference_mode():
            result = network(image_tensor, mask_tensor)
        result = result[0, :, :height, :width].permute(1, 2, 0).float().cpu().numpy()
        return np.ascontiguousarray(np.clip(result * 255, 0, 255).astype(np.uint8))

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        device = self.device(None if region.device == "auto" else region.device)
        network = self.network(device)
        hole = region.hole
        height, width = hole.shape
        longest = max(height, width)
        scale = min(self.coarse_size, longest // 2) / longest
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        small_image = cv2.resize(region.image, small, interpolation=cv2.INTER_AREA)
        small_hole = cv2.resize(hole.view(np.uint8) * 255, small,
                                interpolation=cv2.INTER_AREA) > 0
        coarse = self.predict(network, small_image, small_hole, device)
        coarse = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        share = small[0] * small[1] / (small[0] * small[1] + width * height)
        yield RegionStage("coarse", coarse, share)
        cancel.raise_if_cancelled()
        refined = self.predict(network, region.image, hole, device)
        yield RegionStage("refined", refined, 1.0, final=True)
