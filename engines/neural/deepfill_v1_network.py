"""The DeepFill v1 generator (daa233/generative-inpainting-pytorch's ``Generator``): the torch
side of :mod:`engines.neural.deepfill_v1`, which holds the engine, the checkpoint and the
input contract, and imports this module when a network is built (the plugin walk leaves it
out: listing the engines imports no torch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engines.neural.contextual_attention import ContextualAttention
from engines.neural.deepfill_v2_network import refine_on_box
from engines.neural.interrupt import check_cancelled
from engines.neural.windows import NEAREST_2X, ConvGeometry, Size, Step, paste, run_steps
from engines.region import Box


class ConvBlock(nn.Module):
    """Convolution then ELU / ReLU / nothing (upstream ``gen_conv`` / ``Conv2dBlock``); also a
    :class:`~engines.neural.windows.Step`."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int = 1,
                 padding: int = 0, rate: int = 1, activation: str | None = "elu") -> None:
        super().__init__()
        self.activation = activation
        self.conv = nn.Conv2d(in_channels, out_channels, ksize, stride, padding, dilation=rate)
        self.geometry = ConvGeometry(ksize, stride, rate)

    def _activate(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation == "elu":
            return F.elu(x, inplace=True)  # in place, as upstream's nn.ELU(inplace=True)
        if self.activation == "relu":
            return F.relu(x, inplace=True)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._activate(self.conv(x))

    def out_size(self, size: Size) -> Size:
        pad = self.conv.padding
        return self.geometry.out_size(size, pad, pad)

    def input_mask(self, out_mask: torch.Tensor, size: Size) -> torch.Tensor:
        return self.geometry.input_mask(out_mask, self.conv.padding)

    def input_box(self, out_box: Box, size: Size) -> Box:
        return self.geometry.input_box(out_box, self.conv.padding, size)

    def forward_box(self, x: torch.Tensor, x_box: Box, out_box: Box, size: Size) -> torch.Tensor:
        check_cancelled()  # the passes call this, not the module: no cancel hook runs
        return self._activate(self.geometry.forward_box(x, x_box, out_box, self.conv.padding,
                                                        size, self.conv.weight,
                                                        self.conv.bias))


def _named_steps(owner: nn.Module, names: tuple[str, ...]) -> list[Step]:
    """``owner``'s layers by attribute name, ``"up"`` standing for a nearest 2x upsampling."""
    return [NEAREST_2X if name == "up" else getattr(owner, name) for name in names]


def _atrous(owner: nn.Module, prefix: str, channels: int) -> None:
    for index, rate in zip(range(7, 11), (2, 4, 8, 16), strict=True):
        setattr(owner, f"{prefix}{index}_atrous",
                ConvBlock(channels, channels, 3, 1, rate, rate=rate))


def _with_guides(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``cat([x, ones, mask])``: the 5-channel input both upstream generators build."""
    return torch.cat([x, torch.ones_like(x[:, 0:1]), mask], dim=1)


class CoarseGenerator(nn.Module):
    """Stage 1: ``(x, mask)`` to a coarse ``(N, 3, H, W)`` image clamped to [-1, 1]."""

    def __init__(self, cnum: int = 32) -> None:
        super().__init__()
        self.conv1 = ConvBlock(5, cnum, 5, 1, 2)
        self.conv2_downsample = ConvBlock(cnum, 2 * cnum, 3, 2, 1)
        self.conv3 = ConvBlock(2 * cnum, 2 * cnum, 3, 1, 1)
        self.conv4_downsample = ConvBlock(2 * cnum, 4 * cnum, 3, 2, 1)
        self.conv5 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1)
        self.conv6 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1)
        _atrous(self, "conv", 4 * cnum)
        self.conv11 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1)
        self.conv12 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1)
        self.conv13 = ConvBlock(4 * cnum, 2 * cnum, 3, 1, 1)
        self.conv14 = ConvBlock(2 * cnum, 2 * cnum, 3, 1, 1)
        self.conv15 = ConvBlock(2 * cnum, cnum, 3, 1, 1)
        self.conv16 = ConvBlock(cnum, cnum // 2, 3, 1, 1)
        self.conv17 = ConvBlock(cnum // 2, 3, 3, 1, 1, activation=None)

    def steps(self) -> list[Step]:
        """Every spatial operation in forward order, from the 5-channel input."""
        names = ("conv1", "conv2_downsample", "conv3", "conv4_downsample", "conv5", "conv6",
                 "conv7_atrous", "conv8_atrous", "conv9_atrous", "conv10_atrous", "conv11",
                 "conv12", "up", "conv13", "conv14", "up", "conv15", "conv16", "conv17")
        return _named_steps(self, names)

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                box: Box | None = None) -> torch.Tensor:
        """The whole ``(N, 3, H, W)`` output, or only ``box`` of it, computing only what that
        box reads."""
        size = tuple(x.shape[-2:])
        frame = Box.frame(size)
        out = run_steps(self.steps(), _with_guides(x, mask), frame, size, box or frame)
        return torch.clamp(out, -1.0, 1.0)


class FineGenerator(nn.Module):
    """Stage 2: a dilated-conv branch and a contextual-attention branch on the coarse
    composite, merged and decoded to ``(N, 3, H, W)`` clamped to [-1, 1]."""

    def __init__(self, cnum: int = 32) -> None:
        super().__init__()
        self.conv1 = ConvBlock(5, cnum, 5, 1, 2)
        self.conv2_downsample = ConvBlock(cnum, cnum, 3, 2, 1)
        self.conv3 = ConvBlock(cnum, 2 * cnum, 3, 1, 1)
        self.conv4_downsample = ConvBlock(2 * cnum, 2 * cnum, 3, 2, 1)
        self.conv5 = ConvBlock(2 * cnum, 4 * cnum, 3, 1, 1)
        self.conv6 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1)
        _atrous(self, "conv", 4 * cnum)
        self.pmconv1 = ConvBlock(5, cnum, 5, 1, 2)
        self.pmconv2_downsample = ConvBlock(cnum, cnum, 3, 2, 1)
        self.pmconv3 = ConvBlock(cnum, 2 * cnum, 3, 1, 1)
        self.pmconv4_downsample = ConvBlock(2 * cnum, 4 * cnum, 3, 2, 1)
        self.pmconv5 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1)
        self.pmconv6 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1, activation="relu")
        self.contextual_attention = ContextualAttention(fuse_buffer=False, eps_inside=True)
        self.pmconv9 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1)
        self.pmconv10 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1)
        self.allconv11 = ConvBlock(8 * cnum, 4 * cnum, 3, 1, 1)
        self.allconv12 = ConvBlock(4 * cnum, 4 * cnum, 3, 1, 1)
        self.allconv13 = ConvBlock(4 * cnum, 2 * cnum, 3, 1, 1)
        self.allconv14 = ConvBlock(2 * cnum, 2 * cnum, 3, 1, 1)
        self.allconv15 = ConvBlock(2 * cnum, cnum, 3, 1, 1)
        self.allconv16 = ConvBlock(cnum, cnum // 2, 3, 1, 1)
        self.allconv17 = ConvBlock(cnum // 2, 3, 3, 1, 1, activation=None)

    def hallucination_steps(self) -> list[Step]:
        return _named_steps(self, ("conv1", "conv2_downsample", "conv3", "conv4_downsample",
                                   "conv5", "conv6", "conv7_atrous", "conv8_atrous",
                                   "conv9_atrous", "conv10_atrous"))

    def attention_input_steps(self) -> list[Step]:
        return _named_steps(self, ("pmconv1", "pmconv2_downsample", "pmconv3",
                                   "pmconv4_downsample", "pmconv5", "pmconv6"))

    def attention_output_steps(self) -> list[Step]:
        return _named_steps(self, ("pmconv9", "pmconv10"))

    def merged_steps(self) -> list[Step]:
        return _named_steps(self, ("allconv11", "allconv12", "up", "allconv13", "allconv14",
                                   "up", "allconv15", "allconv16", "allconv17"))

    def forward(self, xin: torch.Tensor, coarse: torch.Tensor, mask: torch.Tensor,
                box: Box | None = None) -> torch.Tensor:
        """The whole ``(N, 3, H, W)`` output, or only ``box`` of it (see
        :func:`~engines.neural.deepfill_v2_network.refine_on_box`)."""
        xnow = _with_guides(coarse * mask + xin * (1.0 - mask), mask)
        return torch.clamp(refine_on_box(self, xnow, mask, box), -1.0, 1.0)


class DeepFillV1(nn.Module):
    """The DeepFill v1 generator; ``forward(x, mask)`` returns ``(coarse, refined)``."""

    def __init__(self, cnum: int = 32) -> None:
        super().__init__()
        self.coarse_generator = CoarseGenerator(cnum)
        self.fine_generator = FineGenerator(cnum)

    def coarse_stage(self, image: torch.Tensor, mask: torch.Tensor,
                     box: Box | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Upstream's input and stage 1: ``image`` RGB [-1, 1], ``mask`` 1 = hole; returns
        ``(x, coarse)`` with ``x = image * (1 - mask)``.

        ``box``: compute ``coarse`` on this box only (it must hold every hole pixel); zero
        outside it.
        """
        x = image * (1.0 - mask)
        if box is None:
            return x, self.coarse_generator(x, mask)
        return x, paste(self.coarse_generator(x, mask, box), box, tuple(x.shape[-2:]))

    def refine(self, x: torch.Tensor, coarse: torch.Tensor, mask: torch.Tensor,
               box: Box | None = None) -> torch.Tensor:
        """Stage 2; ``box`` as in :meth:`coarse_stage`."""
        if box is None:
            return self.fine_generator(x, coarse, mask)
        return paste(self.fine_generator(x, coarse, mask, box), box, tuple(x.shape[-2:]))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        coarse = self.coarse_generator(x, mask)
        return coarse, self.fine_generator(x, coarse, mask)
