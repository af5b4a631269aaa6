"""LaMa's generator: the FFC ResNet of "Resolution-robust Large Mask Inpainting with Fourier
Convolutions" (Suvorov et al., WACV 2022), as configured for the official big-lama checkpoint.

Re-implemented from advimman/lama (``saicinpainting/training/modules/ffc.py``,
``configs/training/big-lama.yaml``) with the same module names and positions, so the official
state dict loads strictly and the forward pass computes the same numbers:

* every fast Fourier convolution (FFC) splits its channels into a local part and a global
  part (``ratio_gin``/``ratio_gout`` of the channels); local<->local, local->global and
  global->local paths are ordinary convolutions with ``padding_mode="reflect"`` and no bias,
  the global->global path is a :class:`SpectralTransform`;
* the spectral transform halves the channels with a 1x1 conv + BatchNorm + ReLU, applies a
  :class:`FourierUnit` (``torch.fft.rfftn`` over H and W with ``norm="ortho"``, real and
  imaginary parts interleaved per channel, 1x1 conv + BatchNorm + ReLU, ``irfftn`` back to
  the input size), adds its input and restores the channels with a 1x1 conv;
* BatchNorm runs in eval mode (running statistics), activations are ReLU, the output is a
  sigmoid.

Big LaMa: input 4 channels, ngf 64, 3 stride-2 downsamplings, 18 residual FFC blocks with 75 %
global channels at the 512-channel bottleneck, 3 transposed-conv upsamplings, 51.06M
parameters; no local Fourier unit (``enable_lfu: false``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engines.neural.lama_config import BIG_LAMA, FFCGeneratorConfig

Branches = tuple[torch.Tensor, torch.Tensor | None]
"""An FFC activation: (local part, global part or None when the layer has no global part)."""


class FourierUnit(nn.Module):
    """A 1x1 convolution in the 2-D real Fourier domain (global receptive field).

    ``(N, C, H, W)`` -> ``rfftn`` over (H, W), norm "ortho" -> ``(N, 2C, H, W//2+1)`` with
    channels ordered ``c0.real, c0.imag, c1.real, ...`` -> conv, BatchNorm, ReLU ->
    ``irfftn`` with output size (H, W) -> ``(N, C, H, W)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_layer = nn.Conv2d(channels * 2, channels * 2, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(channels * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        spectrum = torch.fft.rfftn(x, dim=(-2, -1), norm="ortho")
        stacked = torch.stack((spectrum.real, spectrum.imag), dim=-1)  # N, C, H, W', 2
        stacked = stacked.permute(0, 1, 4, 2, 3).reshape(batch, -1, height, spectrum.shape[-1])
        stacked = F.relu(self.bn(self.conv_layer(stacked)))
        stacked = stacked.view(batch, -1, 2, height, spectrum.shape[-1]).permute(0, 1, 3, 4, 2)
        spectrum = torch.complex(stacked[..., 0].contiguous(), stacked[..., 1].contiguous())
        return torch.fft.irfftn(spectrum, s=(height, width), dim=(-2, -1), norm="ortho")


class SpectralTransform(nn.Module):
    """The global->global path of an FFC (stride 1, no local Fourier unit)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        half = out_channels // 2
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, half, kernel_size=1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
        )
        self.fu = FourierUnit(half)
        self.conv2 = nn.Conv2d(half, out_channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(x + self.fu(x))


class FFC(nn.Module):
    """Fast Fourier convolution: four paths between the local and global channel groups.

    A path whose input or output group is empty does not exist (upstream: ``nn.Identity``
    on a zero tensor), so the local output is ``convl2l(x_l) + convg2l(x_g)`` and the global
    output ``convl2g(x_l) + convg2g(x_g)``, each over the paths present.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 ratio_gin: float, ratio_gout: float, stride: int = 1, padding: int = 0,
                 dilation: int = 1) -> None:
        super().__init__()
        in_g = int(in_channels * ratio_gin)
        in_l = in_channels - in_g
        out_g = int(out_channels * ratio_gout)
        out_l = out_channels - out_g

        def conv(inputs: int, outputs: int) -> nn.Conv2d | None:
            if not inputs or not outputs:
                return None
            return nn.Conv2d(inputs, outputs, kernel_size, stride, padding, dilation,
                             bias=False, padding_mode="reflect")

        if in_g and stride != 1:
            raise ValueError("a strided FFC with global input channels is not part of LaMa")
        self.convl2l = conv(in_l, out_l)
        self.convl2g = conv(in_l, out_g)
        self.convg2l = conv(in_g, out_l)
        self.convg2g = SpectralTransform(in_g, out_g) if in_g and out_g else None
        self.out_local = out_l
        self.out_global = out_g

    def forward(self, x: Branches) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        x_l, x_g = x
        out_l = out_g = None
        if self.out_local:
            out_l = _sum(self.convl2l, x_l, self.convg2l, x_g)
        if self.out_global:
            out_g = _sum(self.convl2g, x_l, self.convg2g, x_g)
        return out_l, out_g


def _sum(from_local: nn.Module | None, x_l: torch.Tensor, from_global: nn.Module | None,
         x_g: torch.Tensor | None) -> torch.Tensor:
    parts = []
    if from_local is not None:
        parts.append(from_local(x_l))
    if from_global is not None:
        parts.append(from_global(x_g))
    return parts[0] if len(parts) == 1 else parts[0] + parts[1]


class FFCBnAct(nn.Module):
    """FFC, then BatchNorm and ReLU on each non-empty branch (upstream ``FFC_BN_ACT``).

    Takes a tensor (all local) or a (local, global) pair; returns a pair.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 ratio_gin: float, ratio_gout: float, stride: int = 1, padding: int = 0,
                 dilation: int = 1) -> None:
        super().__init__()
        self.ffc = FFC(in_channels, out_channels, kernel_size, ratio_gin, ratio_gout, stride,
                       padding, dilation)
        self.bn_l = nn.BatchNorm2d(self.ffc.out_local) if self.ffc.out_local else None
        self.bn_g = nn.BatchNorm2d(self.ffc.out_global) if self.ffc.out_global else None

    def forward(self, x: torch.Tensor | Branches) -> Branches:
        if isinstance(x, torch.Tensor):
            x = (x, None)
        x_l, x_g = self.ffc(x)
        if self.bn_l is not None:
            x_l = F.relu(self.bn_l(x_l))
        if self.bn_g is not None:
            x_g = F.relu(self.bn_g(x_g))
        return x_l, x_g


class FFCResnetBlock(nn.Module):
    """Two 3x3 FFC+BN+ReLU layers and a residual connection on each branch (no ReLU after)."""

    def __init__(self, dim: int, ratio: float) -> None:
        super().__init__()
        self.conv1 = FFCBnAct(dim, dim, 3, ratio, ratio, padding=1)
        self.conv2 = FFCBnAct(dim, dim, 3, ratio, ratio, padding=1)

    def forward(self, x: Branches) -> Branches:
        x_l, x_g = self.conv2(self.conv1(x))
        id_l, id_g = x
        return id_l + x_l, id_g + x_g


class ConcatBranches(nn.Module):
    """(local, global) -> one tensor, local channels first (upstream ``ConcatTupleLayer``)."""

    def forward(self, x: Branches) -> torch.Tensor:
        x_l, x_g = x
        return x_l if x_g is None else torch.cat((x_l, x_g), dim=1)


class FFCResNetGenerator(nn.Module):
    """LaMa's generator; ``self.model`` has the upstream layer positions (0 .. 35 for big LaMa).

    Input ``(N, input_nc, H, W)`` with H and W multiples of ``2**n_downsampling`` (and at
    least twice that, for the reflect padding at the bottleneck); output ``(N, output_nc,
    H, W)`` after a sigmoid, in [0, 1].
    """

    def __init__(self, config: FFCGeneratorConfig = BIG_LAMA) -> None:
        super().__init__()
        self.config = config
        ngf, cap = config.ngf, config.max_features
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            FFCBnAct(config.input_nc, ngf, kernel_size=7, ratio_gin=0, ratio_gout=0),
        ]
        for i in range(config.n_downsampling):
            ratio_gout = config.resnet_ratio if i == config.n_downsampling - 1 else 0
            layers.append(FFCBnAct(min(cap, ngf * 2 ** i), min(cap, ngf * 2 ** (i + 1)),
                                   kernel_size=3, ratio_gin=0, ratio_gout=ratio_gout, stride=2,
                                   padding=1))
        bottleneck = min(cap, ngf * 2 ** config.n_downsampling)
        layers += [FFCResnetBlock(bottleneck, config.resnet_ratio)
                   for _ in range(config.n_blocks)]
        layers.append(ConcatBranches())
        for i in range(config.n_downsampling):
            channels = ngf * 2 ** (config.n_downsampling - i)
            layers += [
                nn.ConvTranspose2d(min(cap, channels), min(cap, channels // 2), kernel_size=3,
                                   stride=2, padding=1, output_padding=1),
                nn.BatchNorm2d(min(cap, channels // 2)),
                nn.ReLU(inplace=True),
            ]
        layers += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, config.output_nc, kernel_size=7),
            nn.Sigmoid(),
        ]
        self.model = nn.Sequential(*layers)

    @property
    def size_multiple(self) -> int:
        """H and W of the input must be multiples of this."""
        return 2 ** self.config.n_downsampling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LamaInpainter(nn.Module):
    """The generator with LaMa's input and output composition (upstream
    ``DefaultInpaintingTrainingModule.forward``), so ``state_dict()`` keys carry the
    ``generator.`` prefix of the official Lightning checkpoint.

    ``forward(image, mask)``: image ``(N, 3, H, W)`` RGB in [0, 1], mask ``(N, 1, H, W)``
    with 1 = hole, 0 = known; the generator sees ``cat(image * (1 - mask), mask)`` and the
    result ``mask * prediction + (1 - mask) * image`` is returned, RGB in [0, 1]. This is
    also the signature of the TorchScript ``big-lama.pt``.
    """

    def __init__(self, config: FFCGeneratorConfig = BIG_LAMA) -> None:
        super().__init__()
        self.generator = FFCResNetGenerator(config)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        masked = image * (1 - mask)
        prediction = self.generator(torch.cat([masked, mask], dim=1))
        return mask * prediction + (1 - mask) * image
