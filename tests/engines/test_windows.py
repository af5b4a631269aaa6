"""Windowed computation: every step computes exactly its box of the whole result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engines.neural.windows import NEAREST_2X, ConvGeometry, paste, plan, plan_mask, run_steps
from engines.region import Box


class PlainConv:
    """A test step: ``conv2d`` with a fixed padding rule, full frame or windowed."""

    def __init__(self, kernel: int, stride: int, dilation: int, before: tuple[int, int],
                 after: tuple[int, int], seed: int, channels: tuple[int, int] = (2, 3)) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(channels[1], channels[0], kernel, kernel, generator=generator,
                                  dtype=torch.float64)
        self.bias = torch.randn(channels[1], generator=generator, dtype=torch.float64)
        self.geometry = ConvGeometry(kernel, stride, dilation)
        self.before, self.after = before, after

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (top, left), (bottom, right) = self.before, self.after
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, self.bias,
                        self.geometry.stride, 0, self.geometry.dilation)

    def out_size(self, size):
        return self.geometry.out_size(size, self.before, self.after)

    def input_box(self, out_box, size):
        return self.geometry.input_box(out_box, self.before, size)

    def input_mask(self, out_mask, size):
        return self.geometry.input_mask(out_mask, self.before)

    def forward_box(self, x, x_box, out_box, size):
        return self.geometry.forward_box(x, x_box, out_box, self.before, size, self.weight,
                                         self.bias)


CONVS = {  # kernel, stride, dilation, padding before, padding after
    "3x3": (3, 1, 1, (1, 1), (1, 1)),
    "5x5": (5, 1, 1, (2, 2), (2, 2)),
    "dilated 4": (3, 1, 4, (4, 4), (4, 4)),
    "stride 2": (3, 2, 1, (1, 1), (1, 1)),
    "stride 2, TF SAME": (3, 2, 1, (0, 0), (1, 1)),
}


def boxes_on(size, count: int, seed: int):
    """Random boxes, plus ones touching each edge of the map and the whole map."""
    rng = np.random.default_rng(seed)
    height, width = size
    yield Box.frame(size)
    yield Box(0, 0, 3, width)
    yield Box(height - 2, width - 5, height, width)
    for _ in range(count):
        top, bottom = sorted(rng.choice(height + 1, 2, replace=False))
        left, right = sorted(rng.choice(width + 1, 2, replace=False))
        yield Box(int(top), int(left), int(bottom), int(right))


@pytest.mark.parametrize("name", CONVS)
def test_convolution_on_a_box_equals_the_whole_convolution_cropped(name):
    step = PlainConv(*CONVS[name], seed=1)
    x = torch.randn(1, 2, 22, 26, dtype=torch.float64)
    size = (22, 26)
    whole = step(x)
    assert tuple(whole.shape[-2:]) == step.out_size(size)
    for box in boxes_on(step.out_size(size), 20, seed=2):
        needed = step.input_box(box, size)
        assert Box.frame(size).contains(needed)
        # from exactly the input box it asks for, and from a larger one
        local = step.forward_box(needed.crop(x, Box.frame(size)), needed, box, size)
        torch.testing.assert_close(local, box.crop(whole, Box.frame(whole.shape[-2:])),
                                   atol=1e-12, rtol=0)
        torch.testing.assert_close(step.forward_box(x, Box.frame(size), box, size), local,
                                   atol=1e-12, rtol=0)


def test_nearest_upsampling_on_a_box():
    x = torch.randn(1, 2, 7, 9, dtype=torch.float64)
    whole = NEAREST_2X(x)
    for box in boxes_on((14, 18), 20, seed=3):
        local = NEAREST_2X.forward_box(x, Box.frame((7, 9)), box, (7, 9))
        assert torch.equal(local, box.crop(whole, Box.frame((14, 18))))


def test_a_chain_computes_only_the_planned_boxes_and_equals_the_whole():
    steps = [NEAREST_2X if name == "up" else PlainConv(*CONVS[name], seed=i, channels=(2, 2))
             for i, name in enumerate(["5x5", "stride 2, TF SAME", "dilated 4", "up", "3x3"])]
    x = torch.randn(1, 2, 40, 36, dtype=torch.float64)
    whole = x
    for step in steps:
        whole = step(whole)
    frame = Box.frame((40, 36))
    out = Box(top=11, left=4, bottom=19, right=30)
    boxes = plan(steps, (40, 36), out)
    assert boxes[-1] == out and boxes[0].height < 40  # less than the whole input is read
    local = run_steps(steps, boxes[0].crop(x, frame), boxes[0], (40, 36), out)
    torch.testing.assert_close(local, out.crop(whole, frame), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="the steps read"):
        run_steps(steps, x[..., 1:, :], Box(1, 0, 40, 36), (40, 36), Box(0, 0, 4, 4))


def test_box_helpers():
    mask = np.zeros((10, 12), bool)
    assert Box.around(mask) is None
    mask[2:5, 7] = True
    mask[8, 3] = True
    box = Box.around(mask)
    assert box == Box(top=2, left=3, bottom=9, right=8) and (box.height, box.width) == (7, 5)
    assert Box(-3, 5, 4, 20).clip((10, 12)) == Box(0, 5, 4, 12)
    assert Box.frame((10, 12)).contains(box) and not box.contains(Box.frame((10, 12)))
    tensor = torch.arange(120.0).view(1, 1, 10, 12)
    assert torch.equal(box.crop(tensor, Box.frame((10, 12))), tensor[..., 2:9, 3:8])
    pasted = paste(box.crop(tensor, Box.frame((10, 12))), box, (10, 12), fill=-1.0)
    assert torch.equal(pasted[..., 2:9, 3:8], tensor[..., 2:9, 3:8])
    assert (pasted < 0).sum() == 120 - 35
    with pytest.raises(ValueError, match="not inside"):
        Box.frame((10, 12)).crop(tensor[..., 1:, :], Box(1, 0, 10, 12))


@pytest.mark.parametrize("name", ["3x3", "5x5", "dilated 4", "up"])
def test_planned_masks_hold_every_input_a_wanted_output_reads(name):
    """Changing the inputs outside the planned mask leaves every wanted output unchanged,
    and the mask is far smaller than the map for a sparse wish."""
    step = NEAREST_2X if name == "up" else PlainConv(*CONVS[name], seed=4, channels=(2, 2))
    size = (20, 24)
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(1, 2, *size, generator=generator, dtype=torch.float64)
    out_size = step.out_size(size)
    wanted = torch.zeros(1, 1, *out_size, dtype=torch.float64)
    wanted[..., 3, 5] = wanted[..., -2, -7] = wanted[..., 9, 0] = 1
    read = plan_mask([step], size, wanted)
    assert read.shape[-2:] == size and 0 < read.sum() < 0.5 * read.numel()
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
    changed = step(x + noise * (1 - read)) - step(x)
    assert changed[..., wanted[0, 0] > 0].abs().max() == 0
    assert changed.abs().max() > 0  # the other outputs did read the changed inputs
