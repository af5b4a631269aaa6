"""The semantic-guided two-stage network and its engine ("semantic", guided by label maps).

Stage 1, :class:`CoarseNet`: an encoder-decoder whose bottleneck holds *external spatial
attention* (:class:`ExternalSpatialAttention`: two learned key/value memories, one normalised
along H, one along W, linear in the number of pixels). It returns a coarse RGB fill and a
full-resolution feature map. Stage 2, :class:`FineNet`: an encoder and a decoder of SPADE
residual blocks (parameter-free instance norm, then a per-pixel scale and shift predicted from
the stage-1 features concatenated with the one-hot *edited* label map) producing the fine fill.

Conventions: images RGB in [-1, 1], ``(N, 3, H, W)``; masks ``(N, 1, H, W)`` with 1 = hole;
label maps ``(N, H, W)`` int64 class ids, 255 (or any id >= ``num_classes``) = unlabelled (an
all-zero one-hot vector); H and W multiples of 4. The network sees ``img * (1 - m)`` only.

No official weights exist: ``python main.py train semantic --images DIR`` trains a model
(:mod:`engines.neural.semantic_training`) and installs it as ``semantic-local``. A checkpoint is
a ``torch.save`` dict of plain types and tensors (loads with ``weights_only=True``):
``{"format": "inpaint-studio/semantic", "version": 1, "meta": {...}, "generator": state_dict}``
(training checkpoints add ``discriminator`` and optimiser states). ``meta`` holds the
architecture (``num_classes``, ``channels``, ``memory``) and ``label_set``, ``image_size``,
``step``.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engines import weights
from engines.base import (
    UNLABELLED,
    CancelToken,
    EngineError,
    Guidance,
    InputError,
    Readiness,
    Region,
    RegionStage,
    Status,
)
from engines.device import checkpoint_identity
from engines.neural.common import (
    NeuralEngine,
    image_to_tensor,
    mask_to_tensor,
    pad_to_multiple,
    tensor_to_image,
)
from engines.registry import register
from engines.weights import (
    WeightsCorruptError,
    WeightSpec,
    checkpoint_error,
    load_checkpoint,
    register_spec,
)

CHECKPOINT_FORMAT = "inpaint-studio/semantic"
CHECKPOINT_VERSION = 1
WEIGHTS_ID = "semantic-local"
TRAIN_HINT = "train one with `python main.py train semantic --images DIR`"
ARCHITECTURE_KEYS = ("num_classes", "channels", "memory")
# the label-set name a model trained on a folder of label maps records unless told another:
# their ids may index any set, so it is never compared with a map's
CUSTOM_LABEL_SET = "custom"
# the engine pads a region to at least this much each way: at 1/4 scale the instance norms
# then see at least 2x2 values per channel (a single value cannot be normalised)
MIN_SIDE = 8


class LabelMapNeededError(EngineError):
    """The engine was run without a label map (:attr:`Region.labels` None).

    ``str()`` is the message for either front end, the command line's advice included;
    ``engine`` is the engine's title and ``missing_guidance`` the kind of guidance missing
    (:attr:`Guidance.LABELS`), so that the editor can say it its own way.
    """

    missing_guidance: ClassVar[Guidance] = Guidance.LABELS

    def __init__(self, engine: str = "") -> None:
        super().__init__("this engine needs a label map: compute one first (Labels panel, "
                         "Compute map) or, on the command line, give --labels FILE made "
                         "with `python main.py segment`")
        self.engine = engine


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


def checkpoint_dict(network: SemanticInpaintNet, meta: Mapping[str, Any],
                    **extra: Any) -> dict[str, Any]:
    """The checkpoint of ``network``: a dict of plain types and tensors (CPU copies).

    ``meta`` adds facts of plain types (``label_set``, ``image_size``, ``step``...); the
    architecture is always recorded. ``extra`` entries (discriminator, optimiser states) are
    stored as given.
    """
    state = {name: tensor.detach().cpu().clone() for name, tensor in
             network.state_dict().items()}
    return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "meta": {**dict(meta), **network.architecture}, "generator": state, **extra}


@functools.lru_cache(maxsize=4)
def _trained_label_set(path: str, signature: Hashable) -> str | None:
    """The label set named in the checkpoint at ``path`` as it is in the version
    ``signature`` names (see :meth:`SemanticEngine.trained_label_set`)."""
    name = read_checkpoint(path)["meta"].get("label_set")
    return name if isinstance(name, str) and name and name != CUSTOM_LABEL_SET else None


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Open a semantic checkpoint safely (``weights_only``) and check its layout.

    Raises :class:`WeightsCorruptError` when it is not one.
    """
    path = Path(path)
    data = load_checkpoint(path)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        not_one = f"{path.name} is not a semantic-network checkpoint"
        raise checkpoint_error(path, f"{not_one} ({TRAIN_HINT})", not_one)
    if data.get("version") != CHECKPOINT_VERSION:
        raise checkpoint_error(path, f"{path.name} is a semantic checkpoint of version "
                                     f"{data.get('version')}; this build reads version "
                                     f"{CHECKPOINT_VERSION}")
    meta = data.get("meta")
    if not isinstance(meta, dict) or any(not isinstance(meta.get(k), int)
                                         for k in ARCHITECTURE_KEYS):
        raise checkpoint_error(path, f"{path.name} lacks the network description (meta)")
    return data


def network_from_checkpoint(data: Mapping[str, Any], name: str = "checkpoint",
                            path: str | Path | None = None) -> SemanticInpaintNet:
    """Build the network a checkpoint (from :func:`read_checkpoint`) describes and load it
    strictly; CPU, eval mode. Raises :class:`WeightsCorruptError` naming the file ``name``;
    given the file's ``path``, its fields name an installed file's checkpoint
    (:func:`~engines.weights.checkpoint_error`)."""
    meta = data["meta"]
    network = SemanticInpaintNet(**{k: meta[k] for k in ARCHITECTURE_KEYS})
    try:
        network.load_state_dict(data["generator"], strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
        message = f"{name} does not fit the semantic network ({first})"
        raise (WeightsCorruptError(message) if path is None
               else checkpoint_error(path, message)) from None
    return network.eval()


register_spec(WeightSpec(
    id=WEIGHTS_ID,
    engine="semantic",
    title="Semantic-guided two-stage network (trained locally)",
    filename="semantic.pt",
    license="yours: trained on your own images",
    format="state_dict",
    contract="img RGB in [-1,1] masked img*(1-m), m 1 = hole, label ids one-hot "
             "(num_classes in the checkpoint's meta); H, W multiples of 4; outputs tanh",
    manual=TRAIN_HINT,
    extra={"state_dict_key": "generator", "meta_key": "meta"},
    check_contents=lambda path: network_from_checkpoint(read_checkpoint(path), path.name,
                                                        path),
))


def padded_input(array: np.ndarray) -> np.ndarray:
    """``(H, W[, C])`` padded at the bottom and right (symmetric) to multiples of 4 of at least
    :data:`MIN_SIDE` each way; ``array`` itself when it is already so."""
    height, width = array.shape[:2]
    grow = [(0, max(0, MIN_SIDE - height)), (0, max(0, MIN_SIDE - width))]
    if grow[0][1] or grow[1][1]:
        array = np.pad(array, grow + [(0, 0)] * (array.ndim - 2), mode="symmetric")
    return pad_to_multiple(array, 4)


@register
class SemanticEngine(NeuralEngine):
    """The two-stage network steered by the edited label map.

    Stages: ``coarse`` (stage 1, ignores the labels), then ``refined`` (stage 2, follows them).
    Needs ``region.labels`` whose ids index the label set the model was trained on (requests
    carry no label-set name: callers that know the map's check it first with
    :meth:`check_label_set`). A region
    is padded to multiples of 4 of at least :data:`MIN_SIDE` pixels each way, so pictures of
    any size down to 1x1 work.
    """

    name = "semantic"
    title = "Semantic-guided network"
    description = ("Two-stage network that paints the hole after your edited label map "
                   "(coarse autoencoder, then a SPADE decoder); train it on your photos first.")
    guidance = frozenset({Guidance.LABELS})
    required_guidance = guidance
    weights_id = WEIGHTS_ID
    working_size = 256  # the default training crop size
    min_context = 64

    def status(self) -> Status:
        if self.options.get("network") is not None or self.options.get("weights_path"):
            return Status(Readiness.READY)
        entry = weights.installation(self.weights_id)
        if entry.state is weights.InstallState.INSTALLED:
            return Status(Readiness.READY)
        if entry.state is weights.InstallState.DAMAGED:  # path, why, how to replace it
            return Status(Readiness.NEEDS_TRAINING,
                          weights.damaged_message(entry.spec, entry.path, entry.problem))
        return Status(Readiness.NEEDS_TRAINING,
                      f"no semantic model yet: {TRAIN_HINT} (or import one with "
                      f"`python main.py models import {WEIGHTS_ID} FILE`)")

    def trained_label_set(self) -> str | None:
        """The name of the label set the model was trained on (its checkpoint's ``meta``), or
        None when unknown: a ``network`` option, a checkpoint naming none, or
        :data:`CUSTOM_LABEL_SET`. Reads the checkpoint (its weights must be there) once per
        file version (:func:`engines.device.checkpoint_identity`)."""
        if self.options.get("network") is not None:
            return None
        return _trained_label_set(*checkpoint_identity(self.checkpoint_path()))

    def check_label_set(self, label_set: str | None) -> None:
        """Raise :class:`InputError` naming both sets when a label map of the set named
        ``label_set`` (None: unknown, nothing checked) is not of the set the model was trained
        on (:meth:`trained_label_set`): its ids would mean other classes to the model."""
        trained = self.trained_label_set() if label_set else None
        if trained is not None and label_set != trained:
            raise InputError(f"the label map's ids are of the label set {label_set!r} but the "
                             f"semantic model was trained on {trained!r}; label the picture "
                             f"with the parser the model was trained with")

    def load_network(self, path: Path, device) -> SemanticInpaintNet:
        network = network_from_checkpoint(read_checkpoint(path), path.name, path)
        return network.to(device).eval()

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        if region.labels is None:
            raise LabelMapNeededError(self.title)
        device = self.device(None if region.device == "auto" else region.device)
        network = self.network(device)
        labels = region.labels
        unknown = labels[(labels >= network.num_classes) & (labels != UNLABELLED)]
        if unknown.size:
            raise EngineError(f"the label map uses class {int(unknown.max())} but the semantic "
                              f"model knows {network.num_classes} classes; compute the labels "
                              "with the parser it was trained with")
        height, width = labels.shape
        image = image_to_tensor(padded_input(region.image), device, -1.0, 1.0)
        mask = mask_to_tensor(padded_input(region.hole), device)
        ids = torch.from_numpy(padded_input(labels).astype(np.int64))[None].to(device)
        with torch.inference_mode():
            coarse, features = network.stage1(image, mask)
        yield RegionStage("coarse", tensor_to_image(coarse, -1.0, 1.0)[:height, :width], 0.4)
        cancel.raise_if_cancelled()
        with torch.inference_mode():
            fine = network.stage2(image, mask, coarse, features, ids)
        yield RegionStage("refined", tensor_to_image(fine, -1.0, 1.0)[:height, :width], 1.0,
                          final=True)
