"""DeepFill v1: generative inpainting with contextual attention (Yu et al., CVPR 2018).

The network is daa233/generative-inpainting-pytorch's ``Generator`` (``model/networks.py``,
``ngf`` 32), rebuilt so its ``state_dict()`` has exactly the upstream names and shapes. The
released checkpoint (trained on ImageNet at 256x256 for 430k iterations) is a plain state dict
with keys ``coarse_generator.*`` and ``fine_generator.*``.

Input contract: ``x = (img * 2 - 1) * (1 - m)`` ``(N, 3, H, W)``, ``img`` RGB in [0, 1], ``m``
``(N, 1, H, W)`` 1 = hole, H and W multiples of 8; the network appends the ones and mask
channels itself. Returns the coarse and refined images, RGB clamped to [-1, 1]; upstream's
``test_single.py`` composites ``refined * m + x * (1 - m)``. Upstream's third output, the
attention flow rendered as a colour image, is a visualisation and is not computed here.

The network's modules are in :mod:`engines.neural.deepfill_v1_network` (torch), imported when
a network is built; their names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from engines import plugins, weights
from engines.base import CancelToken, Region, RegionStage
from engines.neural.common import NeuralEngine
from engines.neural.deepfill_v2 import (
    LOCAL_OPTION_TYPES,
    PAD_MULTIPLE,
    PRECISION_OPTION,
    load_state_strict,
    run_two_stages,
)
from engines.registry import register

if TYPE_CHECKING:
    from engines.neural.deepfill_v1_network import DeepFillV1

NETWORK_MODULE = "engines.neural.deepfill_v1_network"
# the network's names, importable from here too; the module (torch) loads at first use
__getattr__ = plugins.lazy_attributes(__name__, NETWORK_MODULE, (
    "ConvBlock", "CoarseGenerator", "FineGenerator", "DeepFillV1"))

weights.register_spec(weights.WeightSpec(
    id="deepfill1-imagenet", engine="deepfill1", title="DeepFill v1 ImageNet (daa233)",
    filename="gen_00430000.pt",
    urls=("https://drive.google.com/uc?export=download&id=1qbfA5BP9yzdTFFmiOTvYARUYgW1zwBBK",),
    size=14_420_000, license="MIT",
    homepage="https://github.com/daa233/generative-inpainting-pytorch", format="state_dict",
    contract=("plain generator state dict (coarse_generator.*, fine_generator.*); input "
              "(img*2-1)*(1-m), img RGB in [0, 1], m 1 = hole, H and W multiples of 8; the "
              "network adds the ones and mask channels; outputs clamped to [-1, 1]"),
    extra={"params": 3_601_542},
    check_contents=weights.network_check(
        lambda path, device: load_deepfill_v1(_generator(), path,
                                              own=("deepfill1-imagenet",)))))


def _generator() -> DeepFillV1:
    """A DeepFill v1 generator with random weights, on the CPU (imports torch)."""
    from engines.neural.deepfill_v1_network import DeepFillV1

    return DeepFillV1()


def load_deepfill_v1(network: DeepFillV1, path: str | Path, *, own: Iterable[str]) -> None:
    """Load daa233's plain generator state dict into ``network`` (strict); ``own``: the ids
    of the checkpoints it loads (:func:`~engines.weights.mismatch_error`)."""
    path = Path(path)
    state = weights.load_checkpoint(path, "state_dict")
    if not isinstance(state, Mapping):
        raise weights.WeightsCorruptError(f"{path.absolute()} is not a state dict")
    load_state_strict(network, state, str(path.absolute()), own=own)


@register
class DeepFill1Engine(NeuralEngine):
    """DeepFill v1 on the daa233 ImageNet weights; a coarse stage, then the refined one.

    ``native_size`` is the training resolution, ``pad_multiple`` the size multiple the
    network needs (regions are padded to it).
    """

    name = "deepfill1"
    title = "DeepFill v1 (ImageNet)"
    description = ("Contextual attention copies matching background patches into the hole "
                   "(Yu et al. 2018); ImageNet weights.")
    weights_id = "deepfill1-imagenet"
    working_size = 512
    min_context = 256
    half_safe = True
    option_specs = (PRECISION_OPTION,)
    script_options = NeuralEngine.script_options | {"local"}  # see run_two_stages
    script_option_types = LOCAL_OPTION_TYPES
    native_size: ClassVar[int] = 256
    pad_multiple: ClassVar[int] = PAD_MULTIPLE

    def create_network(self) -> DeepFillV1:
        return _generator().eval()

    def load_weights(self, network: DeepFillV1, path: Path) -> None:
        load_deepfill_v1(network, path, own=self.weights)

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        yield from run_two_stages(self, region, cancel)
