"""DeepFill v2: gated convolutions with contextual attention (Yu et al., ICCV 2019).

The network is nipponjo/deepfillv2-pytorch's ``Generator`` (``model/networks.py``), rebuilt
so its ``state_dict()`` has exactly the upstream names and shapes. Two checkpoint layouts load:

* ``states_pt_*.pth`` (fine-tuned for ``networks.py``): ``{"G": state_dict}`` with keys
  ``stage1.*`` / ``stage2.*``; ``stage2.contextual_attention.fuse_weight`` may be absent.
* ``states_tf_*.pth`` (the official TensorFlow weights converted, for ``networks_tf.py``):
  flat names ``conv1.*``, ``xconv*``, ``pmconv*``, ``allconv*``. These are *not* the same
  weights and ``networks_tf.py`` computes differently (TensorFlow "SAME" padding, which pads
  stride-2 convolutions only at the bottom/right; TensorFlow nearest downscaling in the
  attention; no score fusing), so loading one switches the network to that computation.

Input contract (both): ``x = cat([img * (1 - m), ones, ones * m])`` ``(N, 5, H, W)`` with
``img`` RGB in [-1, 1], ``m`` ``(N, 1, H, W)`` 1 = hole, H and W multiples of 8. Returns the
coarse and refined images, RGB in [-1, 1] (tanh), for the whole frame; upstream composites
``img * (1 - m) + refined * m``.

The network's modules are in :mod:`engines.neural.deepfill_v2_network` (torch), imported when
a network is built; their names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engines import plugins, weights
from engines.base import CancelToken, OptionSpec, Readiness, Region, RegionStage, Status
from engines.device import reduced_precision
from engines.neural.common import NeuralEngine, image_to_tensor, pad_to_multiple, tensor_to_image
from engines.region import Box
from engines.registry import register

if TYPE_CHECKING:
    import torch
    from torch import nn

    from engines.neural.deepfill_v2_network import DeepFillV2

NETWORK_MODULE = "engines.neural.deepfill_v2_network"
# the network's names, importable from here too; the module (torch) loads at first use
__getattr__ = plugins.lazy_attributes(__name__, NETWORK_MODULE, (
    "GatedConv", "UpConv", "DownBlock", "UpBlock", "CoarseNet", "RefineNet", "refine_on_box",
    "DeepFillV2"))

FUSE_KEY = "stage2.contextual_attention.fuse_weight"
PAD_MULTIPLE = 8

_HOME = "https://github.com/nipponjo/deepfillv2-pytorch"
_DRIVE = "https://drive.google.com/uc?export=download&id="
_LICENSE = "CC BY-NC 4.0 (derived from the official DeepFill v2 release; non-commercial use)"
_CONTRACT = ("{'G': generator state dict}; input cat(img*(1-m), ones, m), img RGB in [-1, 1], "
             "m 1 = hole, H and W multiples of 8; returns (coarse, refined), tanh [-1, 1]")


def _spec(weights_id: str, engine: str, title: str, filename: str, drive_id: str) -> None:
    weights.register_spec(weights.WeightSpec(
        id=weights_id, engine=engine, title=title, filename=filename,
        urls=(_DRIVE + drive_id,), size=16_250_000, license=_LICENSE, homepage=_HOME,
        format="generator_dict", contract=_CONTRACT,
        extra={"params": 4_052_487},
        check_contents=weights.network_check(
            lambda path, device: load_deepfill_v2(_generator(), path, own=(weights_id,)))))


def _generator() -> DeepFillV2:
    """A DeepFill v2 generator with random weights, on the CPU (imports torch)."""
    from engines.neural.deepfill_v2_network import DeepFillV2

    return DeepFillV2()


_spec("deepfill2-places2", "deepfill2", "DeepFill v2 Places2 (PyTorch fine-tune)",
      "states_pt_places2.pth", "1L63oBNVgz7xSb_3hGbUdkYW1IuRgMkCa")
_spec("deepfill2-celebahq", "deepfill2-face", "DeepFill v2 CelebA-HQ (PyTorch fine-tune)",
      "states_pt_celebahq.pth", "17oJ1dJ9O3hkl2pnl8l2PtNVf2WhSDtB7")
_spec("deepfill2-places2-tf", "deepfill2", "DeepFill v2 Places2 (official TF weights)",
      "states_tf_places2.pth", "1tvdQRmkphJK7FYveNAKSMWC6K09hJoyt")
_spec("deepfill2-celebahq-tf", "deepfill2-face", "DeepFill v2 CelebA-HQ (official TF weights)",
      "states_tf_celebahq.pth", "1fTQVSKWwWcKYnmeemxKWImhVtFQpESmm")


# --------------------------------------------------------------------------- checkpoints


def _tf_name_pairs() -> list[tuple[str, str]]:
    """``(states_pt module path, states_tf module name)`` for every layer, in network order."""
    pairs = [("stage1.conv1", "conv1"),
             ("stage1.down_block1.conv1_downsample", "conv2_downsample"),
             ("stage1.down_block1.conv2", "conv3"),
             ("stage1.down_block2.conv1_downsample", "conv4_downsample"),
             ("stage1.down_block2.conv2", "conv5")]
    tf_bottleneck = ["conv6", "conv7_atrous", "conv8_atrous", "conv9_atrous", "conv10_atrous",
                     "conv11", "conv12"]
    pairs += [(f"stage1.conv_bn{i}", name) for i, name in enumerate(tf_bottleneck, start=1)]
    pairs += [("stage1.up_block1.conv1_upsample", "conv13_upsample"),
              ("stage1.up_block1.conv2", "conv14"),
              ("stage1.up_block2.conv1_upsample", "conv15_upsample"),
              ("stage1.up_block2.conv2", "conv16"),
              ("stage1.conv_to_rgb", "conv17")]
    for pt_branch, tf_branch in (("conv_", "xconv"), ("ca_", "pmconv")):
        pairs += [(f"stage2.{pt_branch}conv1", f"{tf_branch}1"),
                  (f"stage2.{pt_branch}down_block1.conv1_downsample",
                   f"{tf_branch}2_downsample"),
                  (f"stage2.{pt_branch}down_block1.conv2", f"{tf_branch}3"),
                  (f"stage2.{pt_branch}down_block2.conv1_downsample",
                   f"{tf_branch}4_downsample"),
                  (f"stage2.{pt_branch}down_block2.conv2", f"{tf_branch}5")]
    pairs += [("stage2.conv_conv_bn1", "xconv6")]
    pairs += [(f"stage2.conv_conv_bn{i}", f"xconv{i + 5}_atrous") for i in range(2, 6)]
    pairs += [("stage2.ca_conv_bn1", "pmconv6"), ("stage2.ca_conv_bn4", "pmconv9"),
              ("stage2.ca_conv_bn5", "pmconv10"), ("stage2.conv_bn6", "allconv11"),
              ("stage2.conv_bn7", "allconv12"),
              ("stage2.up_block1.conv1_upsample", "allconv13_upsample"),
              ("stage2.up_block1.conv2", "allconv14"),
              ("stage2.up_block2.conv1_upsample", "allconv15_upsample"),
              ("stage2.up_block2.conv2", "allconv16"),
              ("stage2.conv_to_rgb", "allconv17")]
    return pairs


_TF_PAIRS = _tf_name_pairs()
TF_TO_PT = {tf: pt for pt, tf in _TF_PAIRS}


def pt_to_tf_name(name: str) -> str:
    """The ``states_tf`` name of a ``states_pt`` tensor name (itself when it has none)."""
    for pt, tf in _TF_PAIRS:
        if name.startswith(pt + "."):
            return tf + name[len(pt):]
    return name


def is_tf_layout(state: Mapping[str, Any]) -> bool:
    """Whether a generator state dict uses the ``states_tf`` names (upstream ``test.py``'s test)."""
    return "stage1.conv1.conv.weight" not in state and "conv1.conv.weight" in state


def tf_to_pt_names(state: Mapping[str, Any]) -> dict[str, Any]:
    """Rename a ``states_tf`` state dict to the ``states_pt`` names (same tensors)."""
    renamed = {}
    for name, value in state.items():
        head, _, rest = name.partition(".")
        if head not in TF_TO_PT:
            raise weights.WeightsCorruptError(
                f"unexpected tensor {name!r} in a DeepFill v2 (TF layout) checkpoint")
        renamed[f"{TF_TO_PT[head]}.{rest}"] = value
    return renamed


def load_state_strict(module: nn.Module, state: Mapping[str, Any], source: str,
                      file_name: Callable[[str], str] = str, *, own: Iterable[str]) -> None:
    """``module.load_state_dict(state, strict=True)`` with an error that names the tensors.

    Raises :class:`~engines.weights.WeightsCorruptError` listing missing, unexpected and
    wrongly shaped tensors (at most five of each), each named by ``file_name(name)`` (the
    name the checkpoint file uses, when the loader renamed it); ``own``: the ids of the
    checkpoints loaded into ``module`` (:func:`~engines.weights.mismatch_error`).
    """
    import torch

    expected = module.state_dict()
    problems = []
    missing = [file_name(name) for name in expected if name not in state]
    unexpected = [file_name(name) for name in state if name not in expected]
    wrong = [f"{file_name(name)} is {tuple(getattr(state[name], 'shape', ()))}, expected "
             f"{tuple(tensor.shape)}"
             for name, tensor in expected.items()
             if name in state and (not isinstance(state[name], torch.Tensor)
                                   or state[name].shape != tensor.shape)]
    for label, names in (("missing", missing), ("unexpected", unexpected), ("shape", wrong)):
        if names:
            more = f" (+{len(names) - 5} more)" if len(names) > 5 else ""
            problems.append(f"{label}: {', '.join(names[:5])}{more}")
    if problems:
        raise weights.mismatch_error(source, type(module).__name__, "; ".join(problems),
                                     own=own)
    module.load_state_dict(state, strict=True)


def generator_state(checkpoint: Any, source: str) -> Mapping[str, Any]:
    """The generator state dict of a nipponjo checkpoint (``{"G": ...}``, or the bare dict)."""
    import torch

    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("G"), Mapping):
        return checkpoint["G"]
    if isinstance(checkpoint, Mapping) and checkpoint and all(
            isinstance(value, torch.Tensor) for value in checkpoint.values()):
        return checkpoint
    raise weights.WeightsCorruptError(f"{source} is not a DeepFill v2 checkpoint "
                                      "(expected a dict with key 'G')")


def load_deepfill_v2(network: DeepFillV2, path: str | Path, *, own: Iterable[str]) -> None:
    """Load either checkpoint layout into ``network`` and select the matching computation;
    ``own``: the ids of the checkpoints it loads (:func:`~engines.weights.mismatch_error`)."""
    import torch

    path = Path(path)
    source = str(path.absolute())
    state = dict(generator_state(weights.load_checkpoint(path, "generator_dict"), source))
    tf_layout = is_tf_layout(state)
    if tf_layout:
        state = tf_to_pt_names(state)
    if FUSE_KEY not in state:  # older upstream versions had no such buffer: it is the identity
        state[FUSE_KEY] = torch.eye(3).view(1, 1, 3, 3)
    load_state_strict(network, state, source, pt_to_tf_name if tf_layout else str, own=own)
    network.tf_compat = tf_layout


# --------------------------------------------------------------------------- engines


# the engine option ``half`` (see engines.device.reduced_precision), as users choose it
PRECISION_OPTION = OptionSpec(
    "half", "Precision", None, "reduced precision is faster, within about one 8-bit level; "
    "auto: float16 on CUDA, float32 elsewhere; true: also bfloat16 on a CPU with native support",
    choices=((None, "auto (float16 on CUDA)"), (True, "reduced (bfloat16 on CPU too)"),
             (False, "full (float32)")))

# the script option ``local`` of the DeepFill engines (see run_two_stages) and its type
LOCAL_OPTION_TYPES = MappingProxyType({**NeuralEngine.script_option_types, "local": bool})


def run_two_stages(engine: NeuralEngine, region: Region,
                   cancel: CancelToken) -> Iterator[RegionStage]:
    """DeepFill inference on a region: yield the coarse composite, then the refined one.

    The engine's network provides ``coarse_stage(image, mask)`` and ``refine(x, coarse, mask,
    query_box)``. The region is padded (mirrored, mask included, so no hole content leaks into
    the padding) to a multiple of 8 where upstream's scripts crop, so no pixel is lost; an
    aligned region gives exactly upstream's input. Each yielded image is the region with its
    hole pixels replaced by the network output (upstream's composite), rounded to uint8.

    Each layer computes only what reaches the hole's bounding box (the hole pixels are those
    of the whole computation); the option ``local=False`` computes the whole frame. Options
    (``half``, ``local``) are the engine's, else the request's (:meth:`Engine.engine_option`).
    """
    import torch

    device = engine.device(None if region.device == "auto" else region.device)
    net = engine.network(device)
    height, width = region.hole.shape
    hole = pad_to_multiple(region.hole, PAD_MULTIPLE)
    image = image_to_tensor(pad_to_multiple(region.image, PAD_MULTIPLE), device, -1.0, 1.0)
    mask = torch.from_numpy(hole.astype(np.float32)).to(device)[None, None]
    half = engine.engine_option(region, "half")  # None (auto), True or False: PRECISION_OPTION

    def precision():  # reduced-precision convolutions; the attention keeps float32 itself
        return reduced_precision(device, half, engine.half_safe)

    def compose(output: torch.Tensor) -> np.ndarray:
        pixels = tensor_to_image(output[..., :height, :width], -1.0, 1.0)
        return np.where(region.hole[..., None], pixels, region.image)

    # only what reaches the hole is computed (same hole pixels); local=false: the whole frame
    box = Box.around(hole) if engine.engine_option(region, "local", True) else None
    with torch.inference_mode(), precision():
        x, coarse = net.coarse_stage(image, mask, box)
    yield RegionStage("coarse", compose(coarse), 0.4)
    cancel.raise_if_cancelled()
    with torch.inference_mode(), precision():
        refined = net.refine(x, coarse, mask, box)
    yield RegionStage("refined", compose(refined), 1.0, final=True)


class DeepFillV2Engine(NeuralEngine):
    """Shared body of the DeepFill v2 variants; subclasses name the weights.

    Either checkpoint layout works: the engine uses ``weights_id`` (``states_pt``) when it is
    installed, else ``tf_weights_id`` (``states_tf``).

    Class attributes: ``native_size`` is the training resolution, ``pad_multiple`` the size
    multiple the network needs (regions are padded to it).
    """

    tf_weights_id: ClassVar[str] = ""
    native_size: ClassVar[int] = 256
    pad_multiple: ClassVar[int] = PAD_MULTIPLE
    half_safe = True
    min_context = 256
    option_specs = (PRECISION_OPTION,)
    script_options = NeuralEngine.script_options | {"local"}
    script_option_types = LOCAL_OPTION_TYPES

    def _installed(self) -> str | None:
        for weights_id in (self.weights_id, self.tf_weights_id):
            if weights.is_present(weights_id):
                return weights_id
        return None

    def checkpoint_path(self) -> Path:
        """The ``weights_path`` option, else the installed layout's file; raises
        :class:`~engines.weights.WeightsCorruptError` when the only files are damaged
        (:func:`~engines.weights.damaged_error`: its fields name them), else
        :class:`~engines.weights.WeightsMissingError` for ``weights_id``."""
        if self.options.get("weights_path"):
            return super().checkpoint_path()
        installed = self._installed()
        if installed is None:
            damaged = weights.damaged_error((self.weights_id, self.tf_weights_id))
            if damaged is not None:
                raise damaged
        return weights.require(installed or self.weights_id)

    def status(self) -> Status:
        """Ready with either layout installed (or an override option); else the damaged
        files (path, why, how to replace them) or how to download ``weights_id``."""
        if self._installed() is not None:
            return Status(Readiness.READY)
        status = super().status()
        if status.ready:
            return status
        damaged = weights.damaged_problem((self.weights_id, self.tf_weights_id))
        return Status(Readiness.NEEDS_DOWNLOAD, damaged) if damaged else status

    def create_network(self) -> DeepFillV2:
        return _generator().eval()

    def load_weights(self, network: DeepFillV2, path: Path) -> None:
        load_deepfill_v2(network, path, own=(self.weights_id, self.tf_weights_id))

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        yield from run_two_stages(self, region, cancel)


@register
class DeepFill2Engine(DeepFillV2Engine):
    name = "deepfill2"
    title = "DeepFill v2 (Places2)"
    description = ("Gated convolutions with contextual attention, trained on Places2 scenes; "
                   "large free-form holes.")
    weights_id = "deepfill2-places2"
    tf_weights_id = "deepfill2-places2-tf"
    working_size = 512


@register
class DeepFill2FaceEngine(DeepFillV2Engine):
    name = "deepfill2-face"
    title = "DeepFill v2 (faces)"
    description = "DeepFill v2 trained on CelebA-HQ faces; best on a whole face near 256 px."
    weights_id = "deepfill2-celebahq"
    tf_weights_id = "deepfill2-celebahq-tf"
    working_size = 256
