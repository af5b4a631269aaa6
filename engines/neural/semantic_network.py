"""The semantic-guided two-stage network (:class:`SemanticInpaintNet`): the torch side of
:mod:`engines.neural.semantic`, which holds the engine, the checkpoint format and the
conventions, and imports this module when a network is built (the plugin walk leaves it out:
listing the engines imports no torch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engines.base import UNLABELLED


def _act() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class ExternalAxisAttention(nn.Module):
    """External attention normalised along one spatial axis.

    Each pixel's (projected) feature is compared with ``memory`` learned keys (a 1x1 conv,
    the external key matrix); the scores are soft-maxed along ``axis`` (2 = H: over each
    column, 3 = W: over each row), then L1-normalised over the memory slots, and read out
    through the learned value matrix. Cost is linear in H*W.
    """

    def __init__(self, channels: int, memory: int, axis: int) -> None:
        super().__init__()
        if axis not in (2, 3):
            raise ValueError("axis must be 2 (H) or 3 (W)")
        self.axis = axis
        self.query = nn.Conv2d(channels, channels, 1)
        self.keys = nn.Conv2d(channels, memory, 1, bias=False)
        self.values = nn.Conv2d(memory, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.keys(self.query(x)).softmax(dim=self.axis)
        scores = scores / (scores.sum(dim=1, keepdim=True) + 1e-9)
        return self.values(scores)


class ExternalSpatialAttention(nn.Module):
    """Residual sum of external attention along H and along W: ``x + proj(a_h(x) + a_w(x))``."""

    def __init__(self, channels: int, memory: int) -> None:
        super().__init__()
        self.along_h = ExternalAxisAttention(channels, memory, axis=2)
        self.along_w = ExternalAxisAttention(channels, memory, axis=3)
        self.project = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.along_h(x) + self.along_w(x))


class DilatedBlock(nn.Module):
    """Residual block of two 3x3 convolutions, the first dilated."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation), _act(),
            nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Encoder(nn.Module):
    """5x5 conv at full resolution, then two stride-2 3x3 convs: features at 1, 1/2, 1/4."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 5, padding=2), _act())
        self.down1 = nn.Sequential(nn.Conv2d(channels, 2 * channels, 3, 2, 1), _act())
        self.down2 = nn.Sequential(nn.Conv2d(2 * channels, 4 * channels, 3, 2, 1), _act())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        full = self.stem(x)
        half = self.down1(full)
        return full, half, self.down2(half)


class CoarseNet(nn.Module):
    """Stage 1: ``cat(img*(1-m), m)`` -> (coarse RGB in [-1, 1], ``channels`` features)."""

    def __init__(self, channels: int, memory: int) -> None:
        super().__init__()
        wide = 4 * channels
        self.encoder = Encoder(4, channels)
        self.middle = nn.Sequential(DilatedBlock(wide, 2), DilatedBlock(wide, 4),
                                    ExternalSpatialAttention(wide, memory))
        self.up_half = nn.Sequential(nn.Conv2d(wide, 2 * channels, 3, padding=1), _act())
        self.up_full = nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1), _act())
        self.to_rgb = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        full, half, quarter = self.encoder(x)
        y = self.middle(quarter)
        y = self.up_half(F.interpolate(y, scale_factor=2.0, mode="nearest")) + half
        features = self.up_full(F.interpolate(y, scale_factor=2.0, mode="nearest")) + full
        return torch.tanh(self.to_rgb(features)), features


class SPADE(nn.Module):
    """Spatially adaptive normalisation: ``IN(x) * (1 + gamma(c)) + beta(c)``, with the
    instance norm parameter-free and gamma, beta predicted by convs from the condition ``c``
    (already at ``x``'s resolution)."""

    def __init__(self, channels: int, cond_channels: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(cond_channels, hidden, 3, padding=1),
                                    nn.ReLU(inplace=True))
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shared = self.shared(cond)
        return self.norm(x) * (1 + self.gamma(shared)) + self.beta(shared)


class SPADEBlock(nn.Module):
    """SPADE residual block (Park et al. 2019): two SPADE-ReLU-conv steps and a learned
    shortcut (SPADE + 1x1 conv) when the channel count changes."""

    def __init__(self, fin: int, fout: int, cond_channels: int, hidden: int) -> None:
        super().__init__()
        middle = min(fin, fout)
        self.norm_0 = SPADE(fin, cond_channels, hidden)
        self.conv_0 = nn.Conv2d(fin, middle, 3, padding=1)
        self.norm_1 = SPADE(middle, cond_channels, hidden)
        self.conv_1 = nn.Conv2d(middle, fout, 3, padding=1)
        self.learned_shortcut = fin != fout
        if self.learned_shortcut:
            self.norm_s = SPADE(fin, cond_channels, hidden)
            self.conv_s = nn.Conv2d(fin, fout, 1, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, cond)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, cond), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, cond), 0.2))
        return shortcut + dx


class FineNet(nn.Module):
    """Stage 2: ``cat(composite, m)`` and the condition ``cat(features, one-hot labels)`` ->
    fine RGB in [-1, 1]. The condition is average-pooled to each decoder scale."""

    def __init__(self, channels: int, cond_channels: int) -> None:
        super().__init__()
        wide, hidden = 4 * channels, channels
        self.encoder = Encoder(4, channels)
        self.middle = nn.Sequential(DilatedBlock(wide, 2), DilatedBlock(wide, 4))
        self.block_quarter = SPADEBlock(wide, 2 * channels, cond_channels, hidden)
        self.block_half = SPADEBlock(2 * channels, channels, cond_channels, hidden)
        self.block_full = SPADEBlock(channels, channels, cond_channels, hidden)
        self.to_rgb = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        full, half, quarter = self.encoder(x)
        y = self.block_quarter(self.middle(quarter), F.avg_pool2d(cond, 4))
        y = F.interpolate(y, scale_factor=2.0, mode="nearest") + half
        y = self.block_half(y, F.avg_pool2d(cond, 2))
        y = F.interpolate(y, scale_factor=2.0, mode="nearest") + full
        y = self.block_full(y, cond)
        return torch.tanh(self.to_rgb(F.leaky_relu(y, 0.2)))


class SemanticInpaintNet(nn.Module):
    """Both stages. ``forward(image, mask, labels) -> (coarse, fine)``.

    Args:
        num_classes: label ids ``0 .. num_classes-1`` get a one-hot channel each.
        channels: base width (the stage-1 feature map has this many channels).
        memory: number of slots of each external key/value memory.

    ``image`` ``(N, 3, H, W)`` RGB in [-1, 1] (hole content ignored), ``mask`` ``(N, 1, H, W)``
    1 = hole, ``labels`` ``(N, H, W)`` int64 ids (>= ``num_classes`` = unlabelled); H and W
    multiples of 4. Returns coarse and fine RGB in [-1, 1]; neither is composited with the
    known pixels (stage 2 sees ``coarse*m + image*(1-m)``).
    """

    def __init__(self, num_classes: int, channels: int = 32, memory: int = 64) -> None:
        super().__init__()
        if num_classes < 1 or num_classes > UNLABELLED:
            raise ValueError(f"num_classes must be in 1..{UNLABELLED}, got {num_classes}")
        self.num_classes = num_classes
        self.channels = channels
        self.memory = memory
        self.coarse = CoarseNet(channels, memory)
        self.fine = FineNet(channels, channels + num_classes)

    @property
    def architecture(self) -> dict[str, int]:
        return {"num_classes": self.num_classes, "channels": self.channels,
                "memory": self.memory}

    def one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        """``(N, H, W)`` ids -> ``(N, num_classes, H, W)`` float one-hot; unlabelled -> 0."""
        clipped = labels.clamp(0, self.num_classes)
        planes = F.one_hot(clipped, self.num_classes + 1)[..., :self.num_classes]
        return planes.permute(0, 3, 1, 2).float()

    def stage1(self, image: torch.Tensor,
               mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(coarse RGB in [-1, 1], features) from the masked image; labels play no part."""
        if image.shape[-1] % 4 or image.shape[-2] % 4:
            raise ValueError(f"H and W must be multiples of 4, got {tuple(image.shape[-2:])}")
        return self.coarse(torch.cat((image * (1 - mask), mask), dim=1))

    def stage2(self, image: torch.Tensor, mask: torch.Tensor, coarse: torch.Tensor,
               features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The fine RGB in [-1, 1] from stage 1's output and the label map."""
        composite = coarse * mask + image * (1 - mask)
        cond = torch.cat((features, self.one_hot(labels)), dim=1)
        return self.fine(torch.cat((composite, mask), dim=1), cond)

    def forward(self, image: torch.Tensor, mask: torch.Tensor,
                labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        coarse, features = self.stage1(image, mask)
        return coarse, self.stage2(image, mask, coarse, features, labels)
