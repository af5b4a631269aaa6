"""MI-GAN's generator ("MI-GAN: A Simple Baseline for Image Inpainting on Mobile Devices",
Sargsyan et al., ICCV 2023), the inference form the authors ship as plain state dicts.

Re-implemented from Picsart-AI-Research/MI-GAN ``lib/model_zoo/migan_inference.py`` (the
version with ``filter_const`` buffers) with the same module names, so ``migan_512_places2.pt``,
``migan_256_places2.pt`` and ``migan_256_ffhq.pt`` load strictly and compute the same numbers:

* an encoder from the input resolution down to 4x4 and a synthesis network back up, joined by
  skip connections at every resolution (encoder feature added after each synthesis ``conv1``);
* every convolution is separable: a 3x3 depthwise conv with bias, the activation, an optional
  [1, 3, 3, 1] blur + stride-2 downsampling, a 1x1 conv without bias, an optional upsampling
  (zero insertion by ``nearest`` x2 times a fixed ``[[1, 0], [0, 0]]`` pattern, zero padding
  (2, 1, 2, 1), then the 4x4 [1, 3, 3, 1] filter with gain 4), an optional constant noise
  ``noise_const * noise_strength``, and the activation again;
* the activation is leaky ReLU (slope 0.2) times sqrt(2), clamped to [-256, 256];
* the image is built StyleGAN2-style: each synthesis block adds its ``torgb`` output to the
  upsampled image of the previous block.

Channels: ``min(32768 // resolution, 512)`` per resolution. The noise and the upsampling
pattern are buffers of fixed size, so the network runs at its native resolution only.
Input ``(N, 4, R, R)`` = ``cat(known - 0.5, image * known)`` with ``known`` 1 on known pixels
and 0 in the hole (the opposite of the usual hole mask) and the image RGB in [-1, 1]; output
``(N, 3, R, R)`` RGB, roughly in [-1, 1] (not clamped by the network).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

RESOLUTIONS = (256, 512)
CHANNEL_BASE = 32768
CHANNEL_MAX = 512
ACT_SLOPE = 0.2
ACT_GAIN = math.sqrt(2)
ACT_CLAMP = 256.0


def channels_at(resolution: int) -> int:
    """Feature channels of the blocks working at ``resolution``."""
    return min(CHANNEL_BASE // resolution, CHANNEL_MAX)


def activation(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (0.2) with gain sqrt(2), clamped to +-256 (upstream ``lrelu_agc``).

    In place, like upstream: ``x`` must be a fresh intermediate result."""
    return F.leaky_relu(x, ACT_SLOPE, inplace=True).mul_(ACT_GAIN).clamp_(-ACT_CLAMP, ACT_CLAMP)


def blur_kernel(gain: float) -> torch.Tensor:
    """The 4x4 filter ``outer([1, 3, 3, 1]) / 64 * gain`` (StyleGAN2's ``setup_filter``)."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = torch.outer(taps, taps)
    return kernel / kernel.sum() * gain


class Downsample2d(nn.Module):
    """Depthwise [1, 3, 3, 1] blur, stride 2, zero padding 1: ``(N, C, H, W) -> (N, C, H/2, W/2)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.filter = nn.Conv2d(channels, channels, kernel_size=4, stride=2, padding=1,
                                groups=channels, bias=False)
        with torch.no_grad():
            self.filter.weight.copy_(blur_kernel(1.0).expand_as(self.filter.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.filter(x)


class Upsample2d(nn.Module):
    """Zero-insertion x2 and a depthwise [1, 3, 3, 1] filter with gain 4, at a fixed output
    size ``resolution``: ``(N, C, R/2, R/2) -> (N, C, R, R)``."""

    def __init__(self, channels: int, resolution: int) -> None:
        super().__init__()
        pattern = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
        self.register_buffer("filter_const",
                             pattern.repeat(1, 1, resolution // 2, resolution // 2))
        self.filter = nn.Conv2d(channels, channels, kernel_size=4, groups=channels, bias=False)
        with torch.no_grad():
            self.filter.weight.copy_(blur_kernel(4.0).expand_as(self.filter.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest") * self.filter_const
        return self.filter(F.pad(x, (2, 1, 2, 1)))


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 (+bias), activation, [downsample], 1x1, [upsample], [+noise], activation."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int | None = None,
                 use_noise: bool = False, down: bool = False, up: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels, kernel_size=3, padding=1,
                               groups=in_channels)
        self.conv2 = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.downsample = Downsample2d(in_channels) if down else None
        self.upsample = Upsample2d(out_channels, resolution) if up else None
        self.use_noise = use_noise
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = activation(self.conv1(x))
        if self.downsample is not None:
            x = self.downsample(x)
        x = self.conv2(x)
        if self.upsample is not None:
            x = self.upsample(x)
        if self.use_noise:
            x = x.add_(self.noise_const * self.noise_strength)
        return activation(x)


class EncoderBlock(nn.Module):
    """``fromrgb`` (first block only), a separable conv whose output is the skip feature, and a
    separable conv that downsamples (except in the 4x4 block)."""

    def __init__(self, in_channels: int, out_channels: int, rgb_channels: int | None = None,
                 down: bool = True) -> None:
        super().__init__()
        self.fromrgb = nn.Conv2d(rgb_channels, in_channels, 1) if rgb_channels else None
        self.conv1 = SeparableConv2d(in_channels, in_channels)
        self.conv2 = SeparableConv2d(in_channels, out_channels, down=down)

    def forward(self, x: torch.Tensor | None, image: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fromrgb is not None:
            y = activation(self.fromrgb(image))
            x = y if x is None else x + y
        feature = self.conv1(x)
        return self.conv2(feature), feature


class Encoder(nn.Module):
    """Blocks ``b{R}`` .. ``b8`` (each halving the size) and ``b4``; returns the 4x4 features and
    the skip feature of every resolution."""

    def __init__(self, resolution: int, input_channels: int = 4) -> None:
        super().__init__()
        self.resolutions = [2 ** i for i in range(int(math.log2(resolution)), 1, -1)]
        for index, (res, next_res) in enumerate(zip(self.resolutions[:-1],
                                                    self.resolutions[1:])):
            block = EncoderBlock(channels_at(res), channels_at(next_res),
                                 rgb_channels=input_channels if index == 0 else None)
            setattr(self, f"b{res}", block)
        self.b4 = EncoderBlock(channels_at(4), channels_at(4), down=False)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        x = None
        features = {}
        for res in self.resolutions:
            x, features[res] = getattr(self, f"b{res}")(x, image)
        return x, features


class SynthesisBlockFirst(nn.Module):
    """The 4x4 block: conv, + skip feature, conv, ``torgb``."""

    def __init__(self, channels: int, rgb_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = SeparableConv2d(channels, channels)
        self.conv2 = SeparableConv2d(channels, channels, resolution=4)
        self.torgb = nn.Conv2d(channels, rgb_channels, 1)

    def forward(self, x: torch.Tensor, feature: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv2(self.conv1(x) + feature)
        return x, self.torgb(x)


class SynthesisBlock(nn.Module):
    """Upsampling conv with noise, + skip feature, conv with noise; the image so far is
    upsampled and the block's ``torgb`` output added to it."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int,
                 rgb_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = SeparableConv2d(in_channels, out_channels, resolution, use_noise=True,
                                     up=True)
        self.conv2 = SeparableConv2d(out_channels, out_channels, resolution, use_noise=True)
        self.torgb = nn.Conv2d(out_channels, rgb_channels, 1)
        self.upsample = Upsample2d(rgb_channels, resolution)

    def forward(self, x: torch.Tensor, feature: torch.Tensor, image: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv2(self.conv1(x) + feature)
        return x, self.upsample(image) + self.torgb(x)


class Synthesis(nn.Module):
    """Blocks ``b4`` .. ``b{R}``; returns the RGB image at the full resolution."""

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.resolutions = [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]
        self.b4 = SynthesisBlockFirst(channels_at(4))
        for res, next_res in zip(self.resolutions[:-1], self.resolutions[1:]):
            setattr(self, f"b{next_res}",
                    SynthesisBlock(channels_at(res), channels_at(next_res), next_res))

    def forward(self, x: torch.Tensor, features: dict[int, torch.Tensor]) -> torch.Tensor:
        x, image = self.b4(x, features[4])
        for res in self.resolutions[1:]:
            x, image = getattr(self, f"b{res}")(x, features[res], image)
        return image


class MiganGenerator(nn.Module):
    """MI-GAN at a fixed square ``resolution`` (a power of two; 256 or 512 for the released
    weights). See the module docstring for the input and output contract."""

    def __init__(self, resolution: int = 512) -> None:
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"MI-GAN resolution must be a power of two >= 8, got {resolution}")
        self.resolution = resolution
        self.synthesis = Synthesis(resolution)
        self.encoder = Encoder(resolution)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, features = self.encoder(x)
        return self.synthesis(x, features)
