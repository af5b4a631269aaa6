"""Training the semantic-guided two-stage network (:mod:`engines.neural.semantic`). Qt-free.

Data: an image folder and, optionally, a label folder of PNG class-id maps with the same file
stems (indexed or grey PNGs; 255 = unlabelled). Without one, a parser labels every image once
(:func:`engines.segmentation.base.create_parser`; one that is not ready is refused, never
replaced) and the maps are kept beside the checkpoint for the next run (each reused only for the
picture it was computed from: same name, size and modification time).

Each step takes random crops (scaled so the short side is 1 to 1.5 crop sizes, random flip),
DeepFill-v2 free-form masks (:func:`engines.maskgen.free_form_mask`, a third of them with a
rectangle), and optimises the losses of the paper: L1 on both stages (hole pixels weighted
6, known pixels 1), a VGG16 perceptual loss on the fine result when torchvision's VGG16 weights
are on disk (skipped otherwise), and LSGAN with a 70x70 PatchGAN (pix2pix, 3 layers) that sees
the composited result with the one-hot labels. Adam for both networks.

Checkpoints (see :func:`engines.neural.semantic.checkpoint_dict`) are written atomically
every ``save_every`` steps, at the end, and when a run is cancelled or interrupted
(:class:`TrainingInterrupted` says what was saved); :func:`install` puts the generator into the model cache as ``semantic-local``.
A run holds the lock of its checkpoint file throughout (:func:`output_lock`): a second run on
the same file is refused at once (:class:`OutputBusyError`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from engines import fileio, weights
from engines.base import (
    UNLABELLED,
    Cancelled,
    CancelToken,
    EngineCrashed,
    EngineError,
    InputError,
    exception_line,
)
from engines.device import free_accelerator_memory, pick_device
from engines.maskgen import free_form_mask
from engines.neural.common import is_gpu_out_of_memory, is_out_of_memory, release_frames
from engines.neural.semantic import (
    CUSTOM_LABEL_SET,
    WEIGHTS_ID,
    SemanticInpaintNet,
    checkpoint_dict,
    network_from_checkpoint,
    read_checkpoint,
)
from engines.segmentation.labelmap import LabelMapError, describe_mode

HOLE_WEIGHT = 6.0
VALID_WEIGHT = 1.0
DEFAULT_PARSER = "regions"
DEFAULT_CHANNELS = 32
BOX_PROBABILITY = 0.3  # share of training masks that add a rectangle to the strokes
VGG16_FILE = "vgg16-397923af.pth"  # torchvision's IMAGENET1K_V1 file name in the hub cache
VGG_LAYERS = (3, 8, 15)  # relu1_2, relu2_2, relu3_3 in torchvision's vgg16().features
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes:
        images: folder of training images (any size; RGB).
        labels: folder of label maps named like the images (``<stem>.png``), or None to
            compute them with ``parser``.
        parser: parser that labels the images when ``labels`` is None (one that is not
            ready is refused before any work).
        output: checkpoint file to write (and to resume from with ``resume``).
        steps: total optimisation steps (a resumed run continues up to this count).
        batch_size, size: crops per step and their side in pixels (a multiple of 4, >= 32);
            a step that needs more memory than the device has is refused before any work
            (:func:`step_memory`).
        channels: network width; None: :data:`DEFAULT_CHANNELS` for a new model, the
            checkpoint's when resuming (a different width given then is refused).
        memory: external-memory slots (new runs only; a resumed run keeps the checkpoint's).
        disc_channels: width of the PatchGAN's first layer (64 in pix2pix).
        num_classes: label ids the model distinguishes (larger ids count as unlabelled);
            default: the parser's label-set size, or the largest id in ``labels`` + 1.
        label_set: name of the label set the ids index (recorded in the checkpoint); default
            the parser's, or :data:`~engines.neural.semantic.CUSTOM_LABEL_SET` for a label
            folder.
        perceptual: use the VGG16 perceptual loss when its weights are available.
        resume: continue from the ``output`` checkpoint (refused when there is none).
        overwrite: start afresh over an existing ``output`` (without it or ``resume``, an
            existing ``output`` is refused before any work).
    """

    images: Path
    labels: Path | None = None
    parser: str = DEFAULT_PARSER
    output: Path = Path("semantic.pt")
    steps: int = 20000
    batch_size: int = 8
    size: int = 256
    channels: int | None = None
    memory: int = 64
    disc_channels: int = 64
    num_classes: int | None = None
    label_set: str | None = None
    device: str = "auto"
    lr: float = 2e-4
    adversarial_weight: float = 0.1
    perceptual_weight: float = 0.1
    perceptual: bool = True
    seed: int = 0
    save_every: int = 1000
    resume: bool = False
    overwrite: bool = False


@dataclass(frozen=True)
class TrainProgress:
    """A report from :func:`train`: ``phase`` is ``"labels"`` (image ``step`` of ``total``
    labelled; step 0 before the first, whose parse may take a while: numba compiles),
    ``"start"`` (once, when the data is ready: the networks are being built and step
    ``step + 1`` of ``total`` prepared; ``step`` is 0, or a resumed checkpoint's),
    ``"train"`` (step ``step`` of ``total`` done, with its ``losses``) or ``"notice"``
    (``message`` only; notices about the run as a whole come before ``"labels"``). A
    notice that a picture was left out because the parser failed on it from a bug carries
    that :class:`~engines.base.EngineCrashed` as ``error`` (whose traceback ``--debug``
    shows); None otherwise."""

    phase: str
    step: int = 0
    total: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    message: str = ""
    error: BaseException | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TrainResult:
    """What a finished run left: the checkpoint, its step, the per-step losses of this run,
    the label set and whether the perceptual loss was used."""

    checkpoint: Path
    step: int
    history: list[dict[str, float]]
    label_set: str
    num_classes: int
    perceptual: bool


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by ``KeyboardInterrupt`` (Ctrl+C, or a signal handler raising one, which
    is its ``__cause__``), after saving what it had.

    Attributes:
        checkpoint: the checkpoint file of the run.
        step: the step that file now holds, or None when there is none.
        saved: whether this run wrote it (False: interrupted before its first step; a resumed
            checkpoint is then left as it was, and a new run saved nothing).
    """

    def __init__(self, checkpoint: Path, step: int | None, saved: bool) -> None:
        self.checkpoint, self.step, self.saved = checkpoint, step, saved
        if saved:
            text = f"interrupted: saved {checkpoint.name} at step {step}"
        elif step is not None:
            text = f"interrupted before the first step: {checkpoint.name} is still at step {step}"
        else:
            text = "interrupted before the first step: nothing was saved"
        super().__init__(text)


class TrainingStopped(EngineError):
    """A run stopped by an error after it had done steps, and saved them first, as on a
    cancel: a label map changed while training ran, or a step ran out of memory. The message
    says why, then what was saved and how to go on (:func:`_saved_note`); the error that
    stopped it is its ``__cause__``. The work ran and was kept in part: the command line
    exits 1 for it, not 2 (refused before any result was written).

    Attributes:
        checkpoint: the checkpoint file written (``-o``, or the file beside it a run saved
            into: :class:`_Saver`).
        step: the step that file holds.
    """

    def __init__(self, message: str, checkpoint: Path, step: int) -> None:
        super().__init__(message)
        self.checkpoint, self.step = checkpoint, step


class OutputBusyError(InputError):
    """Another training run holds the lock of the checkpoint file (:func:`output_lock`)."""


ProgressFn = Callable[[TrainProgress], None]


# --- data ---------------------------------------------------------------------------------


class TrainingLabelMapError(LabelMapError):
    """A training label map that cannot be used: ``reason`` says why, after its name ("is
    cut short, ..."), as :func:`_label_map_named` names it (the message is both)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{_label_map_named(path)} {reason}")
        self.path, self.reason = path, reason


# why a label map whose data stops before its end is refused (as fileio words a picture's)
LABEL_MAP_CUT_SHORT = "is cut short, as an interrupted copy or download leaves it"
# why a pipe, socket or device in place of a label map is refused (as a folder there is)
SPECIAL_FILE = "is a special file (a pipe, socket or device), not a label map"


def _is_special(path: Path) -> bool:
    """Whether ``path`` (followed through links) is there but neither a file nor a folder:
    a pipe, a socket or a device."""
    return path.exists() and not path.is_file() and not path.is_dir()


def read_label_map(path: str | Path) -> np.ndarray:
    """A ``(H, W)`` uint8 class-id map from an indexed (``P``) or grey (``L``) PNG, decoded in
    full. :class:`TrainingLabelMapError` names it and says why when it cannot be: missing, a
    folder, a special file (:data:`SPECIAL_FILE`; never read: a pipe would wait), empty,
    not a PNG, cut short (:data:`LABEL_MAP_CUT_SHORT`, also when Pillow would decode it as
    far as it goes), damaged, or of another kind."""
    path = Path(path)
    if _is_special(path):  # reading a pipe would wait for a writer
        raise TrainingLabelMapError(path, SPECIAL_FILE)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TrainingLabelMapError(path, "is missing") from None
    except IsADirectoryError:
        raise TrainingLabelMapError(path, "is a folder, not a label map") from None
    except OSError as exc:
        raise TrainingLabelMapError(path, f"cannot be read: {exc.strerror or exc}") from None
    if not data:  # said as the pictures say it
        raise TrainingLabelMapError(path, f"is {fileio.EMPTY_FILE}")
    try:
        picture = Image.open(io.BytesIO(data))
    except (OSError, SyntaxError, ValueError):
        raise TrainingLabelMapError(path, "is not a readable PNG") from None
    with picture:
        _check_label_mode(path, picture.mode)
        if fileio.ends_early(data):
            raise TrainingLabelMapError(path, LABEL_MAP_CUT_SHORT)
        try:
            return np.array(picture, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError):
            raise TrainingLabelMapError(
                path, "is damaged: its image data cannot be decoded") from None


def _shown(path: Path) -> str:
    """The path of a label map or training picture ``path`` as a message shows it: with its
    folder's name ("labels/p0.png", "images/p0.png"), as a picture and its label map are
    often both p0.png; "./p0.png" when that folder is the current one (``--labels .``,
    ``--images .``, whose dot pathlib drops), the whole path under a root."""
    folder = path.parent
    if folder.name:
        return str(Path(folder.name, path.name))
    if folder == Path():
        return f"{os.curdir}{os.sep}{path.name}"
    return str(path)


def _label_map_named(path: Path) -> str:
    """How a message names the label map at ``path``: "the label map labels/p0.png", with its
    folder (:func:`_shown`)."""
    return f"the label map {_shown(path)}"


def _check_label_mode(path: Path, mode: str) -> None:
    if mode not in ("P", "L"):
        raise TrainingLabelMapError(path, "cannot be used: label maps must be indexed or 8-bit "
                                    f"grey PNGs of class ids, not {describe_mode(mode)} "
                                    "pictures")


def _check_label_file(path: Path, size: tuple[int, int], picture: str) -> np.ndarray:
    """The class ids of the label map at ``path``, decoded in full (:func:`read_label_map`),
    so that no run stops midway on one that cannot be; refused too when its
    ``(width, height)`` is not its picture's ``size``: training would stretch it. Each
    refusal names the label map with its folder (:func:`_label_map_named`)."""
    labels = read_label_map(path)
    if labels.shape != (size[1], size[0]):
        raise TrainingLabelMapError(path, _other_size(labels, picture, size)
                                    + "; a label map must match its picture's size")
    return labels


def _other_size(labels: np.ndarray, picture: str, size: tuple[int, int]) -> str:
    """Why ``labels`` (``(H, W)``) do not fit the picture called ``picture`` of ``size``
    ``(width, height)``, after the label map's name: ``"is 80x72 but its picture p0.png is
    40x36"``."""
    return (f"is {labels.shape[1]}x{labels.shape[0]} but its picture {picture} is "
            f"{size[0]}x{size[1]}")


def write_label_map(path: Path, labels: np.ndarray) -> None:
    """Save a class-id map as a grey PNG, atomically."""
    fileio.write_atomic(path, fileio.encode_image(labels, ".png"), overwrite=True)


def random_crop(image: np.ndarray, labels: np.ndarray, size: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scale so the short side is 1-1.5x ``size`` (area for shrinking, linear for growing;
    labels nearest), crop ``size`` x ``size`` at random and flip half the time."""
    height, width = image.shape[:2]
    scale = size * rng.uniform(1.0, 1.5) / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    labels = cv2.resize(labels, (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    top, left = int(rng.integers(0, new_h - size + 1)), int(rng.integers(0, new_w - size + 1))
    image = image[top:top + size, left:left + size]
    labels = labels[top:top + size, left:left + size]
    if rng.random() < 0.5:
        image, labels = image[:, ::-1], labels[:, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(labels)


def _leave_out(notify: ProgressFn, picture: Path, why: Exception) -> None:
    """Say that the training picture at ``picture`` is left out of training, and why (it
    cannot be read, or the parser failed on it from a bug): named with its folder, as label
    maps are (:func:`_shown`: "left out images/p1.png: ..."), and a file error's reason
    only, as the notice names it already. A parser's bug (:class:`EngineCrashed`: "left out
    images/p2.png: QA parser failed: ZeroDivisionError: ...") goes with the notice as its
    ``error``, for ``--debug``'s traceback."""
    reason = why.strerror if isinstance(why, fileio.ImageFileError) and why.strerror else why
    notify(TrainProgress("notice", message=f"left out {_shown(picture)}: {reason}",
                         error=why if isinstance(why, EngineCrashed) else None))


def _none_readable(config: TrainConfig, count: int) -> InputError:
    """The refusal of a training folder none of whose ``count`` pictures can be read."""
    if count == 1:
        return InputError(f"the one image in {config.images} cannot be read")
    return InputError(f"none of the {count} images in {config.images} can be read")


def _none_labelled(config: TrainConfig, count: int, parser_title: str,
                   crashes: list[EngineCrashed]) -> EngineCrashed:
    """The error of a run none of whose ``count`` pictures could be labelled, the parser
    called ``parser_title`` having failed from a bug on ``crashes`` of them (the others
    cannot be read): a bug, naming the parser and what it raised the last time,
    from that failure (``--debug`` shows its traceback)."""
    last = crashes[-1]
    if count == 1:
        return EngineCrashed(f"the one image in {config.images} could not be labelled: {last}")
    cause = last.__cause__ if last.__cause__ is not None else last
    unreadable = count - len(crashes)
    which = (f"{parser_title} failed on every one of them" if not unreadable else
             f"{unreadable} cannot be read and {parser_title} failed on the other "
             f"{len(crashes)}")
    return EngineCrashed(f"none of the {count} images in {config.images} could be labelled: "
                         f"{which} (the last time: {exception_line(cause)})")


class TrainingSet:
    """Image paths with their label-map paths; :meth:`batch` draws random training crops."""

    def __init__(self, images: list[Path], labels: list[Path]) -> None:
        if not images:
            raise InputError("no training images")
        self.images = list(images)  # its own lists: unreadable pictures are dropped
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, rng: np.random.Generator, count: int, size: int,
              notify: ProgressFn | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(images (N,3,S,S) in [-1,1], masks (N,1,S,S) 1 = hole, labels (N,S,S) int64)``.

        A picture that cannot be read (its file went or was damaged after the set was
        built) is dropped from the set with a notice, and another drawn instead;
        :class:`InputError` when none is left. A label map that cannot be read any more, or
        that no longer has its picture's size, raises :class:`TrainingLabelMapError` (the
        set's label maps were all usable: see :func:`_check_label_file`).
        """
        images, masks, labels = [], [], []
        while len(images) < count:
            if not self.images:
                raise InputError("no training image can be read any more")
            index = int(rng.integers(0, len(self.images)))
            try:
                picture = fileio.read_training_rgb(self.images[index])
            except fileio.ImageFileError as exc:
                dropped = self.images.pop(index)
                self.labels.pop(index)
                if notify is not None:
                    _leave_out(notify, dropped, exc)
                continue
            label_map = read_label_map(self.labels[index])
            if label_map.shape != picture.shape[:2]:  # checked before: one of them changed
                raise TrainingLabelMapError(
                    self.labels[index],
                    _other_size(label_map, self.images[index].name,
                                (picture.shape[1], picture.shape[0]))
                    + " (the crop would stretch it)")
            image, label = random_crop(picture, label_map, size, rng)
            images.append(image)
            labels.append(label)
            rectangles = int(rng.random() < BOX_PROBABILITY)
            masks.append(free_form_mask(size, size, rng, rectangles=rectangles) >= 128)
        image_t = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
        mask_t = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]
        return image_t, mask_t, torch.from_numpy(np.stack(labels).astype(np.int64))


def _check_distinct_stems(images: list[Path]) -> None:
    """Label maps are named by the image's stem: two images may not share one."""
    seen: dict[str, Path] = {}
    for path in images:
        other = seen.setdefault(path.stem, path)
        if other is not path:
            raise InputError(f"{other.name} and {path.name} would share the label map "
                             f"{path.stem}.png: rename one of them")


def _label_folder_set(config: TrainConfig, folder: Path, images: list[Path],
                      notify: ProgressFn) -> tuple[TrainingSet, str, int]:
    """The pictures of ``images`` with their label maps in ``folder`` (same stem, .png).
    Unreadable pictures are left out first (said as without ``--labels``); then
    :class:`InputError` if a readable picture has no label map (or a folder or a special
    file in its place), or a label map cannot be decoded in full or does not fit its
    picture."""
    readable = []
    for image in images:
        try:
            size = fileio.image_size(image)
        except fileio.ImageFileError as exc:
            _leave_out(notify, image, exc)
            continue
        readable.append((image, folder / f"{image.stem}.png", size))
    if not readable:
        raise _none_readable(config, len(images))
    for _image, label, _size in readable:
        if label.is_dir():
            raise InputError(f"{_shown(label)} is a folder, not a label map")
        if _is_special(label):
            raise InputError(f"{_shown(label)} {SPECIAL_FILE}")
    absent = [label.name for _image, label, _size in readable if not label.is_file()]
    if absent:
        verb = "has" if len(absent) == 1 else "have"
        raise InputError(f"{fileio.count_noun(len(absent), 'image')} {verb} no label map in "
                         f"{folder} (expected e.g. {absent[0]})")
    largest = 0
    for image, label, size in readable:  # each decoded once, in full, before any step
        ids = _check_label_file(label, size, image.name)
        if config.num_classes is None:
            ids = np.unique(ids)
            ids = ids[ids != UNLABELLED]
            largest = max(largest, int(ids.max()) + 1 if ids.size else 0)
    images = [image for image, _label, _size in readable]
    labels = [label for _image, label, _size in readable]
    num_classes = config.num_classes if config.num_classes is not None else max(1, largest)
    return TrainingSet(images, labels), config.label_set or CUSTOM_LABEL_SET, num_classes


def _ready_parser(name: str):
    """The parser ``name``; :class:`EngineError` when it is unknown or not ready."""
    from engines.segmentation.base import create_parser

    try:
        parser = create_parser(name)
    except KeyError as exc:
        raise EngineError(str(exc.args[0]) if exc.args else f"unknown parser {name!r}") \
            from None
    try:  # never another parser instead: the model would learn its labels
        parser.require_ready()
    except EngineError as exc:
        raise EngineError(f"--parser {name}: {exc}") from None
    return parser


def _parsed_set(config: TrainConfig, images: list[Path], notify: ProgressFn,
                cancel: CancelToken) -> tuple[TrainingSet, str, int]:
    parser = _ready_parser(config.parser)
    label_set = parser.label_set
    folder = Path(config.output).with_name(f"{Path(config.output).stem}-labels-{parser.name}")
    folder.mkdir(parents=True, exist_ok=True)
    sources = _LabelSources(folder)
    readable, labels = [], []
    crashes: list[EngineCrashed] = []  # the parser's bugs, each leaving its picture out
    notify(TrainProgress("labels", 0, len(images)))  # before the first (which compiles)
    try:
        for index, path in enumerate(images):
            cancel.raise_if_cancelled()
            target = folder / f"{path.stem}.png"
            if not (target.is_file() and sources.made_from(target, path)):
                try:
                    picture = fileio.read_training_rgb(path)
                except fileio.ImageFileError as exc:  # one bad file does not end the run
                    _leave_out(notify, path, exc)
                    if readable:  # dealt with: the bar moves on (a last one, to its end)
                        notify(TrainProgress("labels", index + 1, len(images)))
                    continue
                try:
                    ids = parser.run(picture, cancel)
                except EngineCrashed as exc:  # a bug on one picture: named, and left out
                    _leave_out(notify, path, exc)
                    crashes.append(exc)
                    if readable:  # as for an unreadable one
                        notify(TrainProgress("labels", index + 1, len(images)))
                    continue
                write_label_map(target, ids)
                sources.record(target, path)
            readable.append(path)
            labels.append(target)
            notify(TrainProgress("labels", index + 1, len(images)))
    finally:  # also when cancelled: the maps written so far are reused next time
        sources.save()
    if not readable and crashes:
        raise _none_labelled(config, len(images), parser.title or parser.name, crashes) \
            from crashes[-1]
    if not readable:
        raise _none_readable(config, len(images))
    return (TrainingSet(readable, labels), label_set.name,
            config.num_classes or len(label_set))


class _LabelSources:
    """Which picture (name, size, modification time) each computed label map of a folder was
    made from, kept in ``sources.json`` there, so that a map is reused only for the very
    picture it was computed from (a picture replaced under the same name is labelled again).
    """

    FILE = "sources.json"

    def __init__(self, folder: Path) -> None:
        self.path = folder / self.FILE
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entries = {}
        self.entries: dict[str, list] = entries if isinstance(entries, dict) else {}
        self._changed = False

    @staticmethod
    def _identity(picture: Path) -> list:
        info = picture.stat()
        return [picture.name, info.st_size, info.st_mtime_ns]

    def made_from(self, label_map: Path, picture: Path) -> bool:
        return self.entries.get(label_map.name) == self._identity(picture)

    def record(self, label_map: Path, picture: Path) -> None:
        """Note that ``label_map`` was just computed from ``picture`` (see :meth:`save`)."""
        self.entries[label_map.name] = self._identity(picture)
        self._changed = True

    def save(self) -> None:
        """Write the record, atomically, when something was noted since it was read."""
        if self._changed:
            text = json.dumps(self.entries, indent=1, sort_keys=True)
            fileio.write_atomic(self.path, text.encode("utf-8"), overwrite=True)
            self._changed = False


def build_training_set(config: TrainConfig, notify: ProgressFn,
                       cancel: CancelToken) -> tuple[TrainingSet, str, int]:
    """The training set, its label-set name and class count (labels computed if needed)."""
    images = fileio.list_images(config.images)
    if not images:
        raise InputError(f"{config.images} holds no images")
    _check_distinct_stems(images)
    if config.labels is not None:
        return _label_folder_set(config, Path(config.labels), images, notify)
    return _parsed_set(config, images, notify, cancel)


# --- losses and the discriminator ---------------------------------------------------------


class PatchDiscriminator(nn.Module):
    """pix2pix's 70x70 PatchGAN (3 strided layers): ``(N, C, H, W)`` -> patch scores; plain
    outputs for LSGAN. Instance norm (batches are small)."""

    def __init__(self, in_channels: int, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1),
                                   nn.LeakyReLU(0.2, True)]
        channels = width
        for stride, factor in ((2, 2), (2, 4), (1, 8)):
            layers += [nn.Conv2d(channels, width * factor, 4, stride, 1),
                       nn.InstanceNorm2d(width * factor, affine=True), nn.LeakyReLU(0.2, True)]
            channels = width * factor
        layers.append(nn.Conv2d(channels, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def l1_loss(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``6 * mean(m |o - t|) + 1 * mean((1 - m) |o - t|)`` (m 1 = hole)."""
    difference = (output - target).abs()
    return HOLE_WEIGHT * (difference * mask).mean() + VALID_WEIGHT * (difference * (1 - mask)).mean()


def vgg16_weights_path() -> Path:
    """Where torchvision keeps its ImageNet VGG16 weights (the torch hub cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE


class PerceptualLoss(nn.Module):
    """Mean L1 distance of VGG16 relu1_2, relu2_2, relu3_3 features; inputs in [-1, 1]."""

    def __init__(self, weights_file: Path) -> None:
        super().__init__()
        from torchvision.models import vgg16

        network = vgg16()
        network.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True))
        self.features = network.features[:VGG_LAYERS[-1] + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = ((output + 1) / 2 - self.mean) / self.std
        y = ((target + 1) / 2 - self.mean) / self.std
        total = output.new_zeros(())
        for index, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if index in VGG_LAYERS:
                total = total + F.l1_loss(x, y)
        return total


def perceptual_weights(enabled: bool, notify: ProgressFn) -> Path | None:
    """The VGG16 weights of the perceptual loss when it is enabled and they are on disk, else
    None (noticed when enabled)."""
    if not enabled:
        return None
    path = vgg16_weights_path()
    if not path.is_file():
        notify(TrainProgress("notice", message=f"perceptual loss off: no VGG16 weights at "
                                               f"{path}"))
        return None
    return path


# --- checkpoints ----------------------------------------------------------------------------


def save_checkpoint(path: Path, data: dict[str, Any], overwrite: bool = True) -> None:
    """``torch.save`` ``data`` to ``path`` atomically (complete file or the old one); without
    ``overwrite``, :class:`~engines.fileio.ImageExistsError` when ``path`` exists (also when
    it appears while writing)."""
    buffer = io.BytesIO()
    torch.save(data, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    fileio.write_atomic(path, buffer.getvalue(), overwrite=overwrite)


def output_lock_path(output: Path) -> Path:
    """The lock file of the training runs writing ``output``: in the model cache's lock
    folder (:data:`engines.weights.LOCKS_FOLDER`, beside the checkpoints' own locks), named
    after a hash of ``output``'s real absolute path. Not beside ``output``: the lock library
    leaves its file in place when released (removing it would break the exclusion)."""
    key = os.path.normcase(os.path.realpath(os.path.abspath(output)))
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return weights.cache_dir() / weights.LOCKS_FOLDER / f"train-{digest}.lock"


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold, for a training run, the exclusive lock of its checkpoint file ``output``, across
    processes and threads (an OS file lock, as :func:`engines.weights.checkpoint_lock`'s,
    released even when the holder crashes); :class:`OutputBusyError` at once when another
    run holds it. Where the model cache cannot hold the lock file (:func:`output_lock_path`),
    it is the hidden ``.<name>.lock`` beside ``output``."""
    import filelock

    path = output_lock_path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(output).with_name(f".{Path(output).name}.lock")
        Path(output).parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise OutputBusyError(f"another training run is writing {output}; let it finish, or "
                              "give another -o") from None
    try:
        yield
    finally:
        lock.release()


def _beside(output: Path) -> Path:
    """The first free ``<stem>-2<suffix>``, ``<stem>-3<suffix>``... beside ``output``."""
    number = 2
    while (candidate := output.with_name(f"{output.stem}-{number}{output.suffix}")).exists() \
            or candidate.is_symlink():
        number += 1
    return candidate


class _Saver:
    """Writes the run's checkpoint. A new run (not resuming one, not ``overwrite``) never
    replaces a file: when one appeared at ``output`` since the run began (written by a program
    that took no lock), its first save goes to a free sibling (:func:`_beside`) instead, said
    by a notice, and every later save there: :attr:`path` is where the checkpoint is."""

    def __init__(self, output: Path, replace_existing: bool, notify: ProgressFn) -> None:
        self.path, self._claimed, self._notify = output, replace_existing, notify

    def save(self, data: dict[str, Any]) -> None:
        while not self._claimed:
            try:
                save_checkpoint(self.path, data, overwrite=False)
            except fileio.ImageExistsError:
                taken, self.path = self.path, _beside(self.path)
                self._notify(TrainProgress("notice", message=(
                    f"{taken.name} appeared while training and was left as it is; this run's "
                    f"checkpoint is {self.path}")))
                continue
            self._claimed = True
            return
        save_checkpoint(self.path, data)


def install(checkpoint: str | Path) -> Path:
    """Put the generator of a semantic checkpoint into the model cache as ``semantic-local``
    (through the model manager's import, atomically); its cached path.

    Discriminator and optimiser states are left out. Raises
    :class:`~engines.weights.WeightsCorruptError` for a file that is not a semantic checkpoint.
    """
    from engines.download import import_file

    data = read_checkpoint(checkpoint)
    network_from_checkpoint(data, Path(checkpoint).name)  # refuse a file that does not load
    exported = {key: data[key] for key in ("format", "version", "meta", "generator")}
    with tempfile.TemporaryDirectory(prefix="semantic-export-") as folder:
        temporary = Path(folder) / "semantic.pt"
        save_checkpoint(temporary, exported)
        return import_file(WEIGHTS_ID, temporary)


# --- the training loop --------------------------------------------------------------------


class _Trainer:
    """The networks, optimisers and one optimisation step."""

    def __init__(self, config: TrainConfig, num_classes: int, device,
                 perceptual: PerceptualLoss | None) -> None:
        self.config = config
        self.device = device
        channels = config.channels or DEFAULT_CHANNELS
        self.generator = SemanticInpaintNet(num_classes, channels, config.memory)
        self.discriminator = PatchDiscriminator(3 + num_classes, config.disc_channels)
        self.generator.to(device).train()
        self.discriminator.to(device).train()
        self.perceptual = perceptual.to(device) if perceptual is not None else None
        self.optimizer_g = torch.optim.Adam(self.generator.parameters(), config.lr, (0.5, 0.999))
        self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), config.lr,
                                            (0.5, 0.999))
        self.step = 0

    def load(self, data: dict[str, Any]) -> None:
        """Continue from a training checkpoint (same architecture)."""
        self.generator.load_state_dict(data["generator"])
        if "discriminator" in data:
            self.discriminator.load_state_dict(data["discriminator"])
            self.optimizer_g.load_state_dict(data["optimizer_g"])
            self.optimizer_d.load_state_dict(data["optimizer_d"])
        self.step = int(data["meta"].get("step", 0))

    def checkpoint(self, label_set: str) -> dict[str, Any]:
        meta = {"label_set": label_set, "image_size": self.config.size, "step": self.step}
        return checkpoint_dict(self.generator, meta,
                               discriminator=self.discriminator.state_dict(),
                               optimizer_g=self.optimizer_g.state_dict(),
                               optimizer_d=self.optimizer_d.state_dict())

    def train_step(self, image: torch.Tensor, mask: torch.Tensor,
                   labels: torch.Tensor) -> dict[str, float]:
        image, mask, labels = (t.to(self.device) for t in (image, mask, labels))
        coarse, fine = self.generator(image, mask, labels)
        composite = fine * mask + image * (1 - mask)
        condition = self.generator.one_hot(labels)

        real = self.discriminator(torch.cat((image, condition), 1))
        fake = self.discriminator(torch.cat((composite.detach(), condition), 1))
        loss_d = 0.5 * (F.mse_loss(real, torch.ones_like(real))
                        + F.mse_loss(fake, torch.zeros_like(fake)))
        self.optimizer_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizer_d.step()

        judged = self.discriminator(torch.cat((composite, condition), 1))
        loss_adv = 0.5 * F.mse_loss(judged, torch.ones_like(judged))
        loss_l1 = l1_loss(coarse, image, mask) + l1_loss(fine, image, mask)
        loss_g = loss_l1 + self.config.adversarial_weight * loss_adv
        losses = {"l1": loss_l1.item(), "adv": loss_adv.item(), "d": loss_d.item()}
        if self.perceptual is not None:
            loss_perceptual = self.perceptual(composite, image)
            loss_g = loss_g + self.config.perceptual_weight * loss_perceptual
            losses["perceptual"] = loss_perceptual.item()
        self.optimizer_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizer_g.step()
        self.step += 1
        return losses


class _HeldNotices:
    """A progress function that says the notices given to :meth:`hold` just before its first
    report (the run's notes come before its bars; a run refused before any work says none)."""

    def __init__(self, notify: ProgressFn) -> None:
        self._notify, self._held = notify, []

    def hold(self, report: TrainProgress) -> None:
        self._held.append(report)

    def __call__(self, report: TrainProgress) -> None:
        while self._held:
            self._notify(self._held.pop(0))
        self._notify(report)


# a lower bound of the bytes one training step holds per crop pixel (CPU, without the
# perceptual loss): about half of what was measured (peak RSS of one step, crops 128 to 384 px,
# batch 1 and 2: about 1,000 + 170 per channel + 25 per class, the PatchGAN at width 64), so
# that only a setting needing twice the device's memory or more is refused
STEP_BYTES_BASE, STEP_BYTES_PER_CHANNEL, STEP_BYTES_PER_CLASS = 500, 80, 12


def step_memory(config: TrainConfig, num_classes: int = 1) -> int:
    """A lower bound of the bytes one training step of ``config`` holds (its crops, the
    networks' activations and their gradients: :data:`STEP_BYTES_BASE` and the others, per
    crop pixel), for a network of ``config.channels`` (the default when None) telling
    ``num_classes`` classes apart."""
    channels = config.channels or DEFAULT_CHANNELS
    per_pixel = (STEP_BYTES_BASE + STEP_BYTES_PER_CHANNEL * channels
                 + STEP_BYTES_PER_CLASS * num_classes)
    return config.batch_size * config.size * config.size * per_pixel


def device_memory(device) -> int | None:
    """The bytes of memory ``device`` (a ``torch.device``) has in all: a CUDA GPU's own, else
    the computer's (an MPS GPU shares it); None where it cannot be told."""
    if device.type == "cuda":
        try:
            return int(torch.cuda.get_device_properties(device).total_memory)
        except (RuntimeError, AssertionError):
            return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return None


def _gigabytes(count: int) -> str:
    return f"{count / 2 ** 30:,.0f} GB" if count >= 2 ** 30 else f"{count / 2 ** 30:.1f} GB"


def _check_memory(config: TrainConfig, device, resuming: bool) -> None:
    """Refuse a ``batch_size`` or ``size`` (or a new model's ``channels``) whose step needs
    more memory than ``device`` has, even by :func:`step_memory`'s lower bound (the crops of
    a huge ``--size`` alone would not fit): it would end, after the labelling, in a failed
    allocation or in a process the system kills."""
    total = device_memory(device)
    needed = step_memory(config, config.num_classes or 1)
    if total is not None and needed > total:
        where = "the GPU" if device.type == "cuda" else "this computer"
        width = f" {config.channels or DEFAULT_CHANNELS} channels wide"
        lower = "--batch-size or --size" if resuming else "--batch-size, --size or --channels"
        crops = fileio.count_noun(config.batch_size, "crop")
        raise InputError(
            f"one training step of {crops} of {config.size}x{config.size} px on a "
            f"network{width} needs at least {_gigabytes(needed)} of memory, more than the "
            f"{_gigabytes(total)} {where} has; lower {lower}")


def is_training_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed: torch's and Python's
    (:func:`engines.neural.common.is_out_of_memory`), or OpenCV's (a crop resized)."""
    return is_out_of_memory(exc) or (isinstance(exc, cv2.error)
                                     and "insufficient memory" in str(exc).lower())


def _out_of_memory_message(config: TrainConfig, exc: BaseException, built: bool) -> str:
    """What a run that ran out of memory says: in a step (``built``: the networks are), or
    while the networks of ``config.channels`` were built."""
    where = "GPU" if is_gpu_out_of_memory(exc) else "computer"
    if not built:
        return (f"out of memory on the {where} building a network "
                f"{config.channels or DEFAULT_CHANNELS} channels wide: lower --channels")
    crops = fileio.count_noun(config.batch_size, "crop")
    return (f"out of memory on the {where} for a training step of {crops} of "
            f"{config.size}x{config.size} px: lower --batch-size or --size")


def _check(config: TrainConfig) -> None:
    if config.size < 32 or config.size % 4:
        raise InputError(f"--size must be a multiple of 4 and at least 32, got {config.size}")
    if config.steps < 1 or config.batch_size < 1:
        raise InputError("steps and batch size must be at least 1")
    if min(config.channels or 1, config.memory, config.disc_channels) < 1:
        raise InputError("channels and memory must be at least 1")
    if not (math.isfinite(config.lr) and config.lr > 0):
        raise InputError(f"the learning rate must be a positive number, got {config.lr}")
    if config.num_classes is not None and not 1 <= config.num_classes <= UNLABELLED:
        raise InputError(f"the number of classes must be from 1 to {UNLABELLED} (id "
                         f"{UNLABELLED} means unlabelled), got {config.num_classes}")
    if config.labels is not None and not Path(config.labels).is_dir():
        what = "is a file, not a folder" if Path(config.labels).exists() else "no such folder"
        raise InputError(f"label maps: {config.labels}: {what}")
    output = Path(config.output)
    if output.is_dir():
        raise InputError(f"{output} is a folder; give a checkpoint file name")


def _check_output(config: TrainConfig) -> None:
    """Refuse an existing checkpoint without ``resume`` or ``overwrite``, and ``resume``
    with no checkpoint to continue (a mistyped ``-o`` would start a new model and, installed,
    replace the one the user meant to go on with); asked under the run's lock: another run
    may be about to write it."""
    output = Path(config.output)
    if output.exists() and not (config.resume or config.overwrite):
        raise InputError(f"{output} already exists; resume it (--resume) or replace it "
                         f"(--overwrite)")
    if config.resume and not output.exists():
        raise InputError(f"--resume: there is no checkpoint at {output} to continue; check "
                         "the path, or leave --resume out to start a new model")


def _adopt_checkpoint(config: TrainConfig, previous: dict[str, Any], output: Path) -> None:
    """Take the architecture of the checkpoint being resumed into ``config``; refuse a width
    or class count given that differs from it, and a step count it has already reached."""
    meta = previous["meta"]
    if config.channels is not None and config.channels != meta["channels"]:
        raise InputError(f"{output.name} has {meta['channels']} channels, not "
                         f"{config.channels}; leave --channels out to resume it")
    config.channels, config.memory = meta["channels"], meta["memory"]
    config.num_classes = config.num_classes or meta["num_classes"]
    if config.num_classes != meta["num_classes"]:
        raise InputError(f"{output.name} was trained with {meta['num_classes']} classes, "
                         f"not {config.num_classes}")
    step = int(meta.get("step", 0))
    if config.steps <= step:
        raise InputError(f"{output.name} is already at step {step}; nothing to train "
                         f"(raise --steps)")


def train(config: TrainConfig, progress: ProgressFn | None = None,
          cancel: CancelToken | None = None) -> TrainResult:
    """Train (or, with ``config.resume``, continue training ``config.output``) the semantic
    network; returns where the checkpoint is and the losses.

    ``progress`` receives :class:`TrainProgress` reports; ``cancel`` is checked every step.
    A cancelled run saves its checkpoint (after its first step) before
    :class:`~engines.base.Cancelled` propagates; an interrupted one (``KeyboardInterrupt``,
    also while labelling) saves it too and raises :class:`TrainingInterrupted` saying what the
    file holds. Raises :class:`InputError` for bad settings or data, before any work: a
    ``resume`` with no checkpoint at ``config.output``, or with one already at
    ``config.steps``, a batch whose step cannot fit in the device's memory
    (:func:`step_memory`). Raises :class:`EngineError` when labels cannot be computed (an
    unknown parser, or one that is not ready; a picture the parser fails on from a bug is
    left out with a notice, and :class:`~engines.base.EngineCrashed` says when no picture
    could be labelled), and when the networks or a step run out of
    memory all the same (naming what to lower; a checkpoint is saved first, as on a cancel,
    when a step was done). A label map that cannot be read any more while training runs
    (damaged or removed) stops it with :class:`InputError` naming the file, the steps done
    saved the same way. A run that saved the steps it had done before stopping on either
    raises :class:`TrainingStopped` instead, saying so.

    The run holds :func:`output_lock` for ``config.output`` throughout, taken before any
    work: :class:`OutputBusyError` at once while another run holds it. A new run (neither
    ``resume`` with an existing file nor ``overwrite``) replaces no file that appeared at
    ``config.output`` meanwhile: it saves beside it (:class:`_Saver`; the result's
    ``checkpoint`` says where).
    """
    _check(config)
    with output_lock(Path(config.output)):
        _check_output(config)
        return _train(replace(config),  # resuming adopts the checkpoint's architecture
                      _HeldNotices(progress or (lambda _report: None)), cancel or CancelToken())


def _saved_note(saver: _Saver, output: Path, trainer: _Trainer, label_set: str) -> str:
    """Save the steps a run that stops on an error has done, as on a cancel; what its
    message adds to say so ("; saved m.pt at step 3 (--resume continues it)"). Saved beside
    ``output`` (a file appeared there meanwhile: :class:`_Saver`), it names the file written
    and the ``-o`` that continues it, as an interrupted run's message does ("; saved
    m-2.pt at step 3 (--resume with -o /runs/m-2.pt continues it)"): ``--resume`` alone
    would take up the file that appeared."""
    saver.save(trainer.checkpoint(label_set))
    if saver.path == output:
        return f"; saved {output.name} at step {trainer.step} (--resume continues it)"
    return (f"; saved {saver.path.name} at step {trainer.step} (--resume with -o {saver.path} "
            "continues it)")


def _train(config: TrainConfig, notify: _HeldNotices, cancel: CancelToken) -> TrainResult:
    """:func:`train`, under the lock of ``config.output`` (which it may change)."""
    output = Path(config.output)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = pick_device(config.device)

    previous = read_checkpoint(output) if config.resume else None  # _check_output: it is there
    if previous is not None:  # the checkpoint's architecture wins over the defaults
        _adopt_checkpoint(config, previous, output)
    _check_memory(config, device, previous is not None)  # before any notice
    if previous is not None:
        notify.hold(TrainProgress("notice", message=f"resuming {output.name} at step "
                                                    f"{int(previous['meta'].get('step', 0))}"))
    saver = _Saver(output, previous is not None or config.overwrite, notify)
    vgg16 = perceptual_weights(config.perceptual, notify.hold)
    history: list[dict[str, float]] = []
    trainer: _Trainer | None = None
    label_set = ""
    training = False  # once the data is ready, a lack of memory is the networks' or the steps'
    try:
        dataset, label_set, num_classes = build_training_set(config, notify, cancel)
        start = int(previous["meta"].get("step", 0)) if previous is not None else 0
        notify(TrainProgress("start", start, config.steps))
        training = True
        trainer = _Trainer(config, num_classes, device,
                           PerceptualLoss(vgg16) if vgg16 is not None else None)
        if previous is not None:
            trainer.load(previous)
            rng = np.random.default_rng([config.seed, trainer.step])
        while trainer.step < config.steps:
            cancel.raise_if_cancelled()
            losses = trainer.train_step(*dataset.batch(rng, config.batch_size, config.size,
                                                       notify))
            history.append(losses)
            notify(TrainProgress("train", trainer.step, config.steps, losses))
            if config.save_every and trainer.step % config.save_every == 0:
                saver.save(trainer.checkpoint(label_set))
    except (Cancelled, KeyboardInterrupt) as stop:
        if history and trainer is not None:
            saver.save(trainer.checkpoint(label_set))
        if isinstance(stop, Cancelled):
            raise
        if history and trainer is not None:
            raise TrainingInterrupted(saver.path, trainer.step, saved=True) from stop
        step = int(previous["meta"].get("step", 0)) if previous is not None else None
        raise TrainingInterrupted(output, step, saved=False) from stop
    except TrainingLabelMapError as exc:
        if not training:  # refused before any step, as the other label maps are
            raise
        message = f"{_label_map_named(exc.path)} changed while training ran: it {exc.reason}"
        if history and trainer is not None:  # the steps done are kept, as on a cancel
            raise TrainingStopped(message + _saved_note(saver, output, trainer, label_set),
                                  saver.path, trainer.step) from exc
        raise InputError(message) from exc
    except (MemoryError, RuntimeError, cv2.error) as exc:
        if not (training and is_training_out_of_memory(exc)):
            raise
        release_frames(exc)  # let go of the step's tensors first
        free_accelerator_memory()
        message = _out_of_memory_message(config, exc, built=trainer is not None)
        if history and trainer is not None:  # the steps done are kept, as on a cancel
            raise TrainingStopped(message + _saved_note(saver, output, trainer, label_set),
                                  saver.path, trainer.step) from exc
        raise EngineError(message) from exc
    saver.save(trainer.checkpoint(label_set))
    return TrainResult(saver.path, trainer.step, history, label_set, num_classes,
                       trainer.perceptual is not None)
