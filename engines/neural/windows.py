"""Run a convolutional network only on the part of each layer that reaches a box of its output.

A pixel of a convolutional network's output depends on a bounded neighbourhood of every earlier
layer (its receptive field). The inpainting engines keep the output only inside the hole
(upstream composites ``image * (1 - m) + output * m``), so everything a layer computes outside
the neighbourhood of the hole is wasted. Planning backwards from the box the caller keeps, each
:class:`Step` (a convolution, a nearest 2x upsampling) names the box of its input it reads;
running forwards, it computes exactly its own box from that input box, padding with zeros only
where the feature map really ends. The result equals the full computation cropped to the box,
up to the float rounding of a differently blocked convolution.

Boxes are :class:`~engines.region.Box` windows on one feature map; a tensor "covering" a box is
``(N, C, box.height, box.width)``. Sizes are ``(height, width)`` of the whole map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from engines.region import Box

Size = tuple[int, int]


def paste(tensor: torch.Tensor, box: Box, size: Size, fill: float = 0.0) -> torch.Tensor:
    """A ``size`` map holding ``tensor`` (covering ``box``) and ``fill`` elsewhere."""
    whole = tensor.new_full((*tensor.shape[:-2], *size), fill)
    whole[..., box.top:box.bottom, box.left:box.right] = tensor
    return whole


class Step(Protocol):
    """One spatial operation of a network, able to run on a window."""

    def out_size(self, size: Size) -> Size:
        """Output map size for an input map of ``size``."""

    def input_box(self, out_box: Box, size: Size) -> Box:
        """The input box (clipped to the ``size`` map) that ``out_box`` of the output reads."""

    def input_mask(self, out_mask: torch.Tensor, size: Size) -> torch.Tensor:
        """Which inputs (``(N, 1, H, W)`` float, 1 = read) the true outputs of ``out_mask``
        read; needed by :func:`plan_mask` only."""

    def forward_box(self, x: torch.Tensor, x_box: Box, out_box: Box, size: Size) -> torch.Tensor:
        """``out_box`` of the output, from ``x`` covering ``x_box`` of the ``size`` input map."""


def _conv_span(low: int, high: int, stride: int, extent: int, before: int) -> tuple[int, int]:
    """Input rows ``[low', high')`` read by output rows ``[low, high)`` (unclipped)."""
    return stride * low - before, stride * (high - 1) - before + extent


@dataclass(frozen=True)
class ConvGeometry:
    """A square ``conv2d``'s kernel, stride and dilation. The zero padding before each axis,
    ``before = (top, left)``, is given per call (TensorFlow's "SAME" depends on the map size);
    the padding after follows from the output box."""

    kernel: int
    stride: int
    dilation: int

    def extent(self) -> int:
        return self.dilation * (self.kernel - 1) + 1

    def out_size(self, size: Size, before: tuple[int, int], after: tuple[int, int]) -> Size:
        return tuple((length + pad_a + pad_b - self.extent()) // self.stride + 1
                     for length, pad_a, pad_b in zip(size, before, after, strict=True))

    def _reads(self, out_box: Box, before: tuple[int, int]) -> Box:
        """The input rows and columns ``out_box`` reads, padding included (unclipped)."""
        top, bottom = _conv_span(out_box.top, out_box.bottom, self.stride, self.extent(),
                                 before[0])
        left, right = _conv_span(out_box.left, out_box.right, self.stride, self.extent(),
                                 before[1])
        return Box(top, left, bottom, right)

    def input_box(self, out_box: Box, before: tuple[int, int], size: Size) -> Box:
        return self._reads(out_box, before).clip(size)

    def input_mask(self, out_mask: torch.Tensor, before: tuple[int, int]) -> torch.Tensor:
        """Which inputs some true output of ``out_mask`` ``(N, 1, H, W)`` float reads (every
        tap of the kernel's extent: a superset for dilated kernels). Stride 1 only."""
        if self.stride != 1:
            raise NotImplementedError("input masks are planned for stride-1 convolutions only")
        extent = self.extent()
        padded = F.pad(out_mask, (extent - 1 - before[1], before[1],
                                  extent - 1 - before[0], before[0]))
        return F.max_pool2d(padded, extent, stride=1)

    def forward_box(self, x: torch.Tensor, x_box: Box, out_box: Box, before: tuple[int, int],
                    size: Size, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """``conv2d`` restricted to ``out_box``: the input it reads, zero-padded where the
        ``size`` map ends, convolved without padding."""
        read = self._reads(out_box, before)
        inside = read.clip(size)
        part = inside.crop(x, x_box)
        left, right = inside.left - read.left, read.right - inside.right
        top, bottom = inside.top - read.top, read.bottom - inside.bottom
        if left == right and top == bottom:  # the convolution pads by itself (no copy)
            return F.conv2d(part, weight, bias, self.stride, (top, left), self.dilation)
        return F.conv2d(F.pad(part, (left, right, top, bottom)), weight, bias, self.stride, 0,
                        self.dilation)


class NearestUpsample2x:
    """Nearest-neighbour 2x upsampling (``F.interpolate(scale_factor=2, mode="nearest")``)."""

    def out_size(self, size: Size) -> Size:
        return 2 * size[0], 2 * size[1]

    def input_box(self, out_box: Box, size: Size) -> Box:
        return Box(out_box.top // 2, out_box.left // 2, (out_box.bottom - 1) // 2 + 1,
                   (out_box.right - 1) // 2 + 1)

    def input_mask(self, out_mask: torch.Tensor, size: Size) -> torch.Tensor:
        return F.max_pool2d(out_mask, 2, stride=2)

    def forward_box(self, x: torch.Tensor, x_box: Box, out_box: Box, size: Size) -> torch.Tensor:
        read = self.input_box(out_box, size)
        up = F.interpolate(read.crop(x, x_box), scale_factor=2, mode="nearest",
                           recompute_scale_factor=False)
        covered = Box(2 * read.top, 2 * read.left, 2 * read.bottom, 2 * read.right)
        return out_box.crop(up, covered)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest", recompute_scale_factor=False)


NEAREST_2X = NearestUpsample2x()


def sizes_through(steps: Sequence[Step], size: Size) -> list[Size]:
    """The map size before each step and after the last: ``len(steps) + 1`` sizes."""
    sizes = [size]
    for step in steps:
        sizes.append(step.out_size(sizes[-1]))
    return sizes


def plan(steps: Sequence[Step], size: Size, out_box: Box) -> list[Box]:
    """The box each step's input must cover so the last step yields ``out_box``.

    Returns ``len(steps) + 1`` boxes: the input box of each step, then ``out_box``.
    """
    sizes = sizes_through(steps, size)
    boxes = [out_box]
    for step, step_size in zip(reversed(steps), reversed(sizes[:-1]), strict=True):
        boxes.append(step.input_box(boxes[-1], step_size))
    return boxes[::-1]


def plan_mask(steps: Sequence[Step], size: Size, out_mask: torch.Tensor) -> torch.Tensor:
    """What each step's input must hold so the last step yields the true pixels of
    ``out_mask`` ``(N, 1, H, W)`` (float, 1 = wanted): the wanted inputs of the first step,
    same layout. Steps need ``input_mask(out_mask, size)`` (stride-1 convolutions and
    upsamplings have it)."""
    sizes = sizes_through(steps, size)
    for step, step_size in zip(reversed(steps), reversed(sizes[:-1]), strict=True):
        out_mask = step.input_mask(out_mask, step_size)
    return out_mask


def run_steps(steps: Sequence[Step], x: torch.Tensor, x_box: Box, size: Size,
              out_box: Box) -> torch.Tensor:
    """Apply ``steps`` in order to ``x`` (covering ``x_box`` of a ``size`` map), computing
    only what ``out_box`` of the result needs; returns the tensor covering ``out_box``."""
    sizes = sizes_through(steps, size)
    boxes = plan(steps, size, out_box)
    if not x_box.contains(boxes[0]):
        raise ValueError(f"the input covers {x_box}, the steps read {boxes[0]}")
    for step, step_size, target in zip(steps, sizes[:-1], boxes[1:], strict=True):
        x = step.forward_box(x, x_box, target, step_size)
        x_box = target
    return x
