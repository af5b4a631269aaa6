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

The network's modules are in :mod:`engines.neural.semantic_network` (torch), imported when a
network is built; their names are importable from here too.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engines import plugins, weights
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

if TYPE_CHECKING:
    from engines.neural.semantic_network import SemanticInpaintNet

NETWORK_MODULE = "engines.neural.semantic_network"
# the network's names, importable from here too; the module (torch) loads at first use
__getattr__ = plugins.lazy_attributes(__name__, NETWORK_MODULE, (
    "ExternalAxisAttention", "ExternalSpatialAttention", "DilatedBlock", "Encoder", "CoarseNet",
    "SPADE", "SPADEBlock", "FineNet", "SemanticInpaintNet"))

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
    from engines.neural.semantic_network import SemanticInpaintNet

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
        import torch

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
