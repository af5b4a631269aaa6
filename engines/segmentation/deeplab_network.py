"""DeepLab v2 ResNet-101 with multi-scale inputs (kazuto1011/deeplab-pytorch ``libs/models``):
the torch side of :mod:`engines.segmentation.deeplab`, which holds the parser, the weights and
the preprocessing, and imports this module when a network is built (the plugin walk leaves it
out: listing the parsers imports no torch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engines.segmentation.deeplab import ATROUS_RATES, N_BLOCKS, N_CLASSES, SCALES


class ConvBnReLU(nn.Sequential):
    """Convolution (no bias), batch norm and an optional ReLU (``_ConvBnReLU`` upstream)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int, padding: int,
                 dilation: int, relu: bool = True) -> None:
        super().__init__()
        self.add_module("conv", nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding,
                                          dilation, bias=False))
        self.add_module("bn", nn.BatchNorm2d(out_ch, eps=1e-5))
        if relu:
            self.add_module("relu", nn.ReLU())


class Bottleneck(nn.Module):
    """MSRA ResNet bottleneck: the stride is on the first 1x1 convolution."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, dilation: int,
                 downsample: bool) -> None:
        super().__init__()
        mid_ch = out_ch // 4
        self.reduce = ConvBnReLU(in_ch, mid_ch, 1, stride, 0, 1)
        self.conv3x3 = ConvBnReLU(mid_ch, mid_ch, 3, 1, dilation, dilation)
        self.increase = ConvBnReLU(mid_ch, out_ch, 1, 1, 0, 1, relu=False)
        self.shortcut = ConvBnReLU(in_ch, out_ch, 1, stride, 0, 1, relu=False) \
            if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.increase(self.conv3x3(self.reduce(x)))
        return F.relu(h + (self.shortcut(x) if self.shortcut is not None else x))


class ResLayer(nn.Sequential):
    """``n_layers`` bottlenecks ``block1``..``blockN``; the first one projects the input."""

    def __init__(self, n_layers: int, in_ch: int, out_ch: int, stride: int,
                 dilation: int) -> None:
        super().__init__()
        for i in range(n_layers):
            self.add_module(f"block{i + 1}", Bottleneck(
                in_ch if i == 0 else out_ch, out_ch, stride if i == 0 else 1, dilation, i == 0))


class Stem(nn.Sequential):
    """7x7/2 convolution and a 3x3/2 max pool (ceil mode), as the Caffe ResNet."""

    def __init__(self, out_ch: int) -> None:
        super().__init__()
        self.add_module("conv1", ConvBnReLU(3, out_ch, 7, 2, 3, 1))
        self.add_module("pool", nn.MaxPool2d(3, 2, 1, ceil_mode=True))


class ASPP(nn.Module):
    """DeepLab v2 atrous spatial pyramid: parallel dilated 3x3 classifiers, summed."""

    def __init__(self, in_ch: int, out_ch: int, rates: tuple[int, ...]) -> None:
        super().__init__()
        for i, rate in enumerate(rates):
            self.add_module(f"c{i}", nn.Conv2d(in_ch, out_ch, 3, 1, padding=rate,
                                               dilation=rate, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(stage(x) for stage in self.children())


class DeepLabV2(nn.Sequential):
    """Dilated ResNet (output stride 8) and the ASPP classifier: logits at 1/8 scale."""

    def __init__(self, n_classes: int = N_CLASSES, n_blocks: tuple[int, ...] = N_BLOCKS,
                 atrous_rates: tuple[int, ...] = ATROUS_RATES) -> None:
        super().__init__()
        ch = [64 * 2 ** p for p in range(6)]
        self.add_module("layer1", Stem(ch[0]))
        self.add_module("layer2", ResLayer(n_blocks[0], ch[0], ch[2], 1, 1))
        self.add_module("layer3", ResLayer(n_blocks[1], ch[2], ch[3], 2, 1))
        self.add_module("layer4", ResLayer(n_blocks[2], ch[3], ch[4], 1, 2))
        self.add_module("layer5", ResLayer(n_blocks[3], ch[4], ch[5], 1, 4))
        self.add_module("aspp", ASPP(ch[5], n_classes, atrous_rates))


class MultiScale(nn.Module):
    """Runs ``base`` on the input and on copies scaled by ``scales``; in eval mode returns the
    pixel-wise maximum of the logits, all upsampled to the full-scale logits' size
    (``MSC`` upstream)."""

    def __init__(self, base: nn.Module, scales: tuple[float, ...] = SCALES) -> None:
        super().__init__()
        self.base = base
        self.scales = tuple(scales)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.base(x)
        size = logits.shape[2:]
        pyramid = [logits]
        for scale in self.scales:
            scaled = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
            pyramid.append(F.interpolate(self.base(scaled), size=size, mode="bilinear",
                                         align_corners=False))
        return torch.max(torch.stack(pyramid), dim=0)[0]
