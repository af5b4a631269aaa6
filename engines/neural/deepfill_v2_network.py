"""The DeepFill v2 generator (nipponjo/deepfillv2-pytorch's ``Generator``): the torch side of
:mod:`engines.neural.deepfill_v2`, which holds the engines, the checkpoint layouts and the
input contract, and imports this module when a network is built (the plugin walk leaves it
out: listing the engines imports no torch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engines.neural.contextual_attention import (
    ContextualAttention,
    queries_reaching,
    queries_reaching_mask,
)
from engines.neural.interrupt import check_cancelled
from engines.neural.windows import (
    NEAREST_2X,
    ConvGeometry,
    Size,
    Step,
    paste,
    plan,
    plan_mask,
    run_steps,
    sizes_through,
)
from engines.region import Box


def _tf_same_padding(size: tuple[int, int], ksize: int, stride: int,
                     rate: int) -> tuple[int, int, int, int]:
    """TensorFlow "SAME" padding ``(left, right, top, bottom)`` for an input ``size``."""
    pads = []
    for length in size:
        out = -(-length // stride)
        total = max((out - 1) * stride + (ksize - 1) * rate + 1 - length, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return left, right, top, bottom


class GatedConv(nn.Module):
    """Gated convolution (upstream ``GConv``): ``act(h) * sigmoid(g)`` where ``[h, g]`` is one
    convolution with twice the output channels; plain convolution when ``out_channels == 3``
    or ``activation`` is ``None``.

    Padding is ``rate * (ksize - 1) // 2`` on every side, or TensorFlow "SAME" padding when
    ``tf_same`` is set (``networks_tf``). Also a :class:`~engines.neural.windows.Step`.
    """

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int = 1,
                 rate: int = 1, activation: str | None = "elu") -> None:
        super().__init__()
        self.gated = not (out_channels == 3 or activation is None)
        self.out_channels = out_channels
        self.activation = activation
        self.tf_same = False
        self.conv = nn.Conv2d(in_channels, 2 * out_channels if self.gated else out_channels,
                              ksize, stride, padding=rate * (ksize - 1) // 2, dilation=rate)
        self.geometry = ConvGeometry(ksize, stride, rate)

    def _padding(self, size: Size) -> tuple[tuple[int, int], tuple[int, int]]:
        """Zero padding ``((top, left), (bottom, right))`` of an input map of ``size``."""
        if self.tf_same:
            left, right, top, bottom = _tf_same_padding(size, self.geometry.kernel,
                                                        self.geometry.stride,
                                                        self.geometry.dilation)
            return (top, left), (bottom, right)
        pad = self.conv.padding[0]
        return (pad, pad), (pad, pad)

    def _gate(self, x: torch.Tensor) -> torch.Tensor:
        if not self.gated:
            return x
        features, gate = torch.split(x, self.out_channels, dim=1)
        activation = F.elu if self.activation == "elu" else F.relu
        if torch.is_grad_enabled():
            return activation(features) * torch.sigmoid(gate)
        # inference: in place, sparing a large allocation per layer (same values)
        return activation(features, inplace=True).mul_(gate.sigmoid_())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = tuple(x.shape[-2:])
        frame = Box.frame(size)
        return self.forward_box(x, frame, Box.frame(self.out_size(size)), size)

    def out_size(self, size: Size) -> Size:
        return self.geometry.out_size(size, *self._padding(size))

    def input_mask(self, out_mask: torch.Tensor, size: Size) -> torch.Tensor:
        return self.geometry.input_mask(out_mask, self._padding(size)[0])

    def input_box(self, out_box: Box, size: Size) -> Box:
        return self.geometry.input_box(out_box, self._padding(size)[0], size)

    def forward_box(self, x: torch.Tensor, x_box: Box, out_box: Box, size: Size) -> torch.Tensor:
        check_cancelled()  # the passes call this, not the module: no cancel hook runs
        out = self.geometry.forward_box(x, x_box, out_box, self._padding(size)[0], size,
                                        self.conv.weight, self.conv.bias)
        return self._gate(out)


class UpConv(nn.Module):
    """Nearest 2x upsampling followed by a gated 3x3 convolution (upstream ``GDeConv``).

    The blocks hold the layers under upstream's names; the networks run their :meth:`steps`.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = GatedConv(in_channels, out_channels, 3)

    def steps(self) -> list[Step]:
        return [NEAREST_2X, self.conv]


class DownBlock(nn.Module):
    """Stride-2 gated conv then a gated conv (upstream ``GDownsamplingBlock``)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = out_channels if hidden is None else hidden
        self.conv1_downsample = GatedConv(in_channels, hidden, 3, 2)
        self.conv2 = GatedConv(hidden, out_channels, 3)

    def steps(self) -> list[Step]:
        return [self.conv1_downsample, self.conv2]


class UpBlock(nn.Module):
    """Upsampling gated conv then a gated conv (upstream ``GUpsamplingBlock``)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = out_channels if hidden is None else hidden
        self.conv1_upsample = UpConv(in_channels, hidden)
        self.conv2 = GatedConv(hidden, out_channels, 3)

    def steps(self) -> list[Step]:
        return [*self.conv1_upsample.steps(), self.conv2]


def _dilated_stack(prefix: str, owner: nn.Module, channels: int, rates: tuple[int, ...],
                   first: int = 1) -> None:
    for index, rate in enumerate(rates, start=first):
        setattr(owner, f"{prefix}{index}", GatedConv(channels, channels, 3, rate=rate))


class CoarseNet(nn.Module):
    """Stage 1 (upstream ``CoarseGenerator``): ``(N, 5, H, W)`` input to ``(N, 3, H, W)`` tanh."""

    def __init__(self, in_channels: int = 5, cnum: int = 48) -> None:
        super().__init__()
        self.conv1 = GatedConv(in_channels, cnum // 2, 5)
        self.down_block1 = DownBlock(cnum // 2, cnum)
        self.down_block2 = DownBlock(cnum, 2 * cnum)
        _dilated_stack("conv_bn", self, 2 * cnum, (1, 2, 4, 8, 16, 1, 1))
        self.up_block1 = UpBlock(2 * cnum, cnum)
        self.up_block2 = UpBlock(cnum, cnum // 4, hidden=cnum // 2)
        self.conv_to_rgb = GatedConv(cnum // 4, 3, 3, activation=None)

    def steps(self) -> list[Step]:
        """Every spatial operation in forward order (the gating is inside each step)."""
        return [self.conv1, *self.down_block1.steps(), *self.down_block2.steps(),
                *(getattr(self, f"conv_bn{index}") for index in range(1, 8)),
                *self.up_block1.steps(), *self.up_block2.steps(), self.conv_to_rgb]

    def forward(self, x: torch.Tensor, box: Box | None = None) -> torch.Tensor:
        """The whole ``(N, 3, H, W)`` output, or only ``box`` of it:
        ``(N, 3, box.height, box.width)``, computing only what that box reads."""
        size = tuple(x.shape[-2:])
        frame = Box.frame(size)
        return torch.tanh(run_steps(self.steps(), x, frame, size, box or frame))


class RefineNet(nn.Module):
    """Stage 2 (upstream ``FineGenerator``): a dilated-conv branch and a contextual-attention
    branch on the coarse composite ``(N, 3, H, W)``, merged and decoded to ``(N, 3, H, W)`` tanh.
    """

    def __init__(self, cnum: int = 48) -> None:
        super().__init__()
        self.conv_conv1 = GatedConv(3, cnum // 2, 5)
        self.conv_down_block1 = DownBlock(cnum // 2, cnum, hidden=cnum // 2)
        self.conv_down_block2 = DownBlock(cnum, 2 * cnum, hidden=cnum)
        _dilated_stack("conv_conv_bn", self, 2 * cnum, (1, 2, 4, 8, 16))
        self.ca_conv1 = GatedConv(3, cnum // 2, 5)
        self.ca_down_block1 = DownBlock(cnum // 2, cnum, hidden=cnum // 2)
        self.ca_down_block2 = DownBlock(cnum, 2 * cnum)
        self.ca_conv_bn1 = GatedConv(2 * cnum, 2 * cnum, 3, activation="relu")
        self.contextual_attention = ContextualAttention(fuse_buffer=True, eps_inside=False)
        self.ca_conv_bn4 = GatedConv(2 * cnum, 2 * cnum, 3)
        self.ca_conv_bn5 = GatedConv(2 * cnum, 2 * cnum, 3)
        self.conv_bn6 = GatedConv(4 * cnum, 2 * cnum, 3)
        self.conv_bn7 = GatedConv(2 * cnum, 2 * cnum, 3)
        self.up_block1 = UpBlock(2 * cnum, cnum)
        self.up_block2 = UpBlock(cnum, cnum // 4, hidden=cnum // 2)
        self.conv_to_rgb = GatedConv(cnum // 4, 3, 3, activation=None)

    def hallucination_steps(self) -> list[Step]:
        """The dilated-conv branch, image to 1/4 resolution."""
        return [self.conv_conv1, *self.conv_down_block1.steps(),
                *self.conv_down_block2.steps(),
                *(getattr(self, f"conv_conv_bn{index}") for index in range(1, 6))]

    def attention_input_steps(self) -> list[Step]:
        """The attention branch before the attention, image to 1/4 resolution."""
        return [self.ca_conv1, *self.ca_down_block1.steps(), *self.ca_down_block2.steps(),
                self.ca_conv_bn1]

    def attention_output_steps(self) -> list[Step]:
        return [self.ca_conv_bn4, self.ca_conv_bn5]

    def merged_steps(self) -> list[Step]:
        """After the two branches are concatenated, 1/4 resolution to the image."""
        return [self.conv_bn6, self.conv_bn7, *self.up_block1.steps(), *self.up_block2.steps(),
                self.conv_to_rgb]

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                box: Box | None = None) -> torch.Tensor:
        """The whole ``(N, 3, H, W)`` output, or only ``box`` of it (see
        :func:`refine_on_box`); ``mask`` ``(N, 1, H, W)``, 1 = hole."""
        return torch.tanh(refine_on_box(self, x, mask, box))


def refine_on_box(net: nn.Module, x: torch.Tensor, mask: torch.Tensor,
                  box: Box | None) -> torch.Tensor:
    """A DeepFill refinement network's output before its final activation, on ``box``
    (``None``: the whole output, every attention query computed as upstream does).

    ``net`` has ``hallucination_steps()``, ``attention_input_steps()``,
    ``contextual_attention``, ``attention_output_steps()`` and ``merged_steps()`` (the
    branches' outputs concatenated, hallucination first). The attention reads its keys
    from the whole picture, so its branch runs everywhere up to the attention; the
    attention computes only the queries that reach ``box`` (given a box, only those that
    also reach a hole pixel of ``mask``), and the dilated branch and everything after the
    merge only what ``box`` reads.
    """
    size = tuple(x.shape[-2:])
    frame = Box.frame(size)
    hole_queries = box is not None
    box = box or frame
    hallucination, merged = net.hallucination_steps(), net.merged_steps()
    quarter = sizes_through(hallucination, size)[-1]
    merged_box = plan(merged, quarter, box)[0]
    attention_box = plan(net.attention_output_steps(), quarter, merged_box)[0]
    y = run_steps(net.attention_input_steps(), x, frame, size, Box.frame(quarter))
    query_mask = None
    if hole_queries:  # only the queries whose patches reach a hole pixel, not the whole box
        wanted = plan_mask(net.attention_output_steps(), quarter,
                           plan_mask(merged, quarter, (mask[:1] > 0).float()))
        query_mask = queries_reaching_mask(wanted)
    y = net.contextual_attention(y, y, mask, queries_reaching(attention_box, quarter),
                                 query_mask)
    y = run_steps(net.attention_output_steps(), attention_box.crop(y, Box.frame(quarter)),
                  attention_box, quarter, merged_box)
    hallucinated = run_steps(hallucination, x, frame, size, merged_box)
    return run_steps(merged, torch.cat([hallucinated, y], dim=1), merged_box, quarter, box)


class DeepFillV2(nn.Module):
    """The DeepFill v2 generator (upstream ``Generator(cnum_in=5, cnum=48)``).

    ``forward(x, mask)`` returns ``(coarse, refined)`` like upstream; :meth:`coarse_stage` and
    :meth:`refine` run the stages apart so a caller can show the coarse result first, and,
    given the box of the hole, compute only what reaches it (the same hole pixels; the rest of
    the frame is left zero). ``tf_compat`` selects the ``networks_tf`` computation (set by the
    loader for ``states_tf`` checkpoints).
    """

    def __init__(self, in_channels: int = 5, cnum: int = 48) -> None:
        super().__init__()
        self.stage1 = CoarseNet(in_channels, cnum)
        self.stage2 = RefineNet(cnum)
        self._tf_compat = False

    @property
    def tf_compat(self) -> bool:
        return self._tf_compat

    @tf_compat.setter
    def tf_compat(self, value: bool) -> None:
        self._tf_compat = bool(value)
        for module in self.modules():
            if isinstance(module, GatedConv):
                module.tf_same = self._tf_compat
        attention = self.stage2.contextual_attention
        attention.tf_compat = self._tf_compat
        attention.fuse = not self._tf_compat

    def coarse_stage(self, image: torch.Tensor, mask: torch.Tensor,
                     box: Box | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Upstream's input and stage 1: ``image`` RGB [-1, 1] ``(N, 3, H, W)``, ``mask``
        ``(N, 1, H, W)`` 1 = hole; returns ``(x, coarse)``, ``x`` the 5-channel input.

        ``box``: compute ``coarse`` on this box only (it must hold every hole pixel, see
        :meth:`~engines.region.Box.around`); zero outside it.
        """
        masked = image * (1.0 - mask)
        ones = torch.ones_like(masked[:, 0:1])
        x = torch.cat([masked, ones, ones * mask], dim=1)
        if box is None:
            return x, self.stage1(x)
        return x, paste(self.stage1(x, box), box, tuple(x.shape[-2:]))

    def refine(self, x: torch.Tensor, coarse: torch.Tensor, mask: torch.Tensor,
               box: Box | None = None) -> torch.Tensor:
        """Stage 2 on ``coarse * m + x[:, :3] * (1 - m)``; ``box`` as in :meth:`coarse_stage`."""
        composite = coarse * mask + x[:, 0:3] * (1.0 - mask)
        if box is None:
            return self.stage2(composite, mask)
        return paste(self.stage2(composite, mask, box), box, tuple(x.shape[-2:]))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        coarse = self.stage1(x)
        return coarse, self.refine(x, coarse, mask)
