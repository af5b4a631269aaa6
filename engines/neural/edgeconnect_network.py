"""EdgeConnect's two generators (knazeri/edge-connect ``src/networks.py``): the torch side of
:mod:`engines.neural.edgeconnect`, which holds the engines, the preprocessing and the
checkpoints, and imports this module when a network is built (the plugin walk leaves it out:
listing the engines imports no torch).
"""

from __future__ import annotations

import torch
from torch import nn


def _spectral(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap with the hook-based spectral norm (keys ``weight_orig``, ``weight_u``,
    ``weight_v``), as upstream does; the parametrization API would rename the keys."""
    return nn.utils.spectral_norm(module) if enabled else module


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, track_running_stats=False)


class ResnetBlock(nn.Module):
    """Residual block: reflect-pad, 3x3 conv with dilation, IN, ReLU, reflect-pad, 3x3 conv, IN.

    With spectral norm the convolutions have no bias (as upstream); no ReLU after the sum.
    """

    def __init__(self, dim: int, dilation: int = 2, use_spectral_norm: bool = False) -> None:
        super().__init__()
        bias = not use_spectral_norm
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(dilation),
            _spectral(nn.Conv2d(dim, dim, 3, dilation=dilation, bias=bias), use_spectral_norm),
            _norm(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            _spectral(nn.Conv2d(dim, dim, 3, bias=bias), use_spectral_norm),
            _norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class _Generator(nn.Module):
    """Shared encoder (3 convs, /4), 8 dilated residual blocks, decoder (2 transposed convs)."""

    def __init__(self, in_channels: int, out_channels: int, spectral: bool,
                 residual_blocks: int = 8) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3),
            _spectral(nn.Conv2d(in_channels, 64, 7), spectral), _norm(64), nn.ReLU(True),
            _spectral(nn.Conv2d(64, 128, 4, stride=2, padding=1), spectral), _norm(128),
            nn.ReLU(True),
            _spectral(nn.Conv2d(128, 256, 4, stride=2, padding=1), spectral), _norm(256),
            nn.ReLU(True),
        )
        self.middle = nn.Sequential(*(ResnetBlock(256, 2, use_spectral_norm=spectral)
                                      for _ in range(residual_blocks)))
        self.decoder = nn.Sequential(
            _spectral(nn.ConvTranspose2d(256, 128, 4, stride=2, padding=1), spectral),
            _norm(128), nn.ReLU(True),
            _spectral(nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), spectral),
            _norm(64), nn.ReLU(True),
            nn.ReflectionPad2d(3),
            nn.Conv2d(64, out_channels, 7),
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.middle(self.encoder(x)))


class EdgeGenerator(_Generator):
    """Edge completion: ``(N, 3, H, W)`` = [masked grey, masked edges, mask] -> ``(N, 1, H, W)``
    edge probability in [0, 1] (sigmoid). H and W must be multiples of 4."""

    def __init__(self, residual_blocks: int = 8) -> None:
        super().__init__(3, 1, spectral=True, residual_blocks=residual_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


class InpaintGenerator(_Generator):
    """Image completion: ``(N, 4, H, W)`` = [masked RGB in [0, 1], edges] -> ``(N, 3, H, W)``
    RGB in [0, 1] (``(tanh + 1) / 2``). H and W must be multiples of 4."""

    def __init__(self, residual_blocks: int = 8) -> None:
        super().__init__(4, 3, spectral=False, residual_blocks=residual_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(self.logits(x)) + 1) / 2


class EdgeConnectNetwork(nn.Module):
    """Both generators; ``state_dict()`` keys are ``edge.*`` and ``inpaint.*``.

    :meth:`forward` takes ``images`` ``(N, 3, H, W)`` RGB in [0, 1], ``gray`` ``(N, 1, H, W)``
    in [0, 1], ``edges`` ``(N, 1, H, W)`` Canny edges of the known area (0/1), ``masks``
    ``(N, 1, H, W)`` with 1 = hole, and optional ``sketch`` ``(N, 1, H, W)`` (1 = user line).
    It returns ``(completed_edges, output)``: edges in [0, 1] and the raw inpainting output
    RGB in [0, 1] (known pixels are not composited here).
    """

    def __init__(self) -> None:
        super().__init__()
        self.edge = EdgeGenerator()
        self.inpaint = InpaintGenerator()

    def complete_edges(self, gray, edges, masks, sketch=None):
        inputs = torch.cat((gray * (1 - masks) + masks, edges * (1 - masks), masks), dim=1)
        completed = self.edge(inputs) * masks + edges * (1 - masks)
        if sketch is not None:
            completed = torch.maximum(completed, sketch * masks)
        return completed

    def paint(self, images, completed_edges, masks):
        return self.inpaint(torch.cat((images * (1 - masks) + masks, completed_edges), dim=1))

    def forward(self, images, gray, edges, masks, sketch=None):
        completed = self.complete_edges(gray, edges, masks, sketch)
        return completed, self.paint(images, completed, masks)
