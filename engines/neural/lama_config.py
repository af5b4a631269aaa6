"""The architecture settings of LaMa's generator (:class:`FFCGeneratorConfig`), and big-lama's.

Torch-free, so that :mod:`engines.neural.lama` checks a checkpoint's ``config.yaml`` against
them without importing the network (:mod:`engines.neural.lama_network`, which builds from
them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FFCGeneratorConfig:
    """The ``generator`` section of a LaMa training config that changes the architecture.

    ``resnet_ratio`` is ``resnet_conv_kwargs.ratio_gin`` (= ``ratio_gout``): the fraction of
    global channels in the residual blocks; the first convolution and all but the last
    downsampling are purely local (``ratio 0``), as in big-lama.yaml.
    """

    input_nc: int = 4
    output_nc: int = 3
    ngf: int = 64
    n_downsampling: int = 3
    n_blocks: int = 18
    resnet_ratio: float = 0.75
    max_features: int = 1024


BIG_LAMA = FFCGeneratorConfig()
