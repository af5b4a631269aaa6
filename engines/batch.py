"""Folder runs, Qt-free: filling masks in every image of a folder (watermark clearing, batch
runs) and labelling every image of a folder (:func:`label_folder`).

:func:`clear_folder` runs one engine over many images, with one mask for all of them or one
per image, and writes each result under the same name into another folder. The originals are
never replaced, each output is written atomically, and a failing image is recorded and
skipped rather than stopping the run. Both runs share :func:`run_pictures`, the loop that
does what the rest of this docstring says.
Images of another size than the mask are filled with the mask moved onto them, or left alone
and listed apart (:attr:`BatchResult.other_size`): that is the user's choice, not a failure.
So are, when asked (a watermark's clearing), the pictures that do not carry what the mask is
of (:attr:`BatchResult.unmarked`).
A result already in the output folder is kept and its picture skipped without any work (unless
told to overwrite), so a run stopped part way finishes when run again. The run stops at the
first result that cannot be written for lack of room (disk full, quota, read-only), which
every later picture would meet too (:class:`BatchStopped`); Ctrl+C is raised as
:class:`BatchInterrupted`: both say what was done.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from engines import registry
from engines.base import (
    UNLABELLED,
    CancelToken,
    Engine,
    EngineError,
    Guidance,
    InpaintRequest,
    InputError,
    message_line,
)
from engines.device import require_device
from engines.fileio import (
    IMAGE_SUFFIXES,
    ImageExistsError,
    LoadedImage,
    count_noun,
    dropped_metadata_note,
    join_words,
    link_in_the_way,
    list_images,
    load_image,
    names_and_more,
    picture_notes,
    profile_note,
    save_result,
    turned_size_note,
)
from engines.guidance import fill_notes
from engines.neural.common import NeuralEngine
from engines.segmentation.base import Parser
from engines.segmentation.labelmap import save_label_png
from engines.segmentation.neural import NeuralParser
from engines.watermark import anchored_shift, shifted

ProgressCallback = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)
# (image file, the picture as read) -> its mask: a mask file is checked against the
# picture's ``shape``, which names the size its file stores (engines.fileio.load_mask)
MaskSource = Callable[[Path, LoadedImage], np.ndarray]
# (image file, the picture as read) -> (its request's guidance fields read from its own
# files, notes on the guidance it lacks, best as PictureNote): clear_folder's ``guidance``
GuidanceSource = Callable[[Path, LoadedImage], tuple[Mapping[str, Any], Sequence[str]]]
WORK_SHARE = 0.9  # of a picture's progress, the computing; the rest is writing its result
SIZE_POLICIES = ("skip", "anchor")
# what a single image may fail with without stopping the batch (Cancelled is not among them)
_PER_IMAGE_ERRORS = (OSError, ValueError, RuntimeError, MemoryError, EngineError, cv2.error)
# write errors every later result would meet too: the run stops at the first (errno -> advice)
_NO_ROOM = {getattr(errno, name): advice for name, advice in (
    ("ENOSPC", "free some space"), ("EDQUOT", "free some space"),
    ("EROFS", "make the folder writable")) if hasattr(errno, name)}


class OtherSize(NamedTuple):
    """A picture left alone because its size is not its mask's (``other_sizes="skip"``)."""

    path: Path
    size: tuple[int, int]  # (width, height) of the picture
    mask_size: tuple[int, int]  # (width, height) of the mask
    # why, when the picture's EXIF orientation turned it from the mask's size, which its
    # file stores: "turned upright by its EXIF orientation; stored as 200x150"
    # (engines.fileio.turned_size_note); None otherwise
    turned: str | None = None
    # the file of that other size, for every picture: the mask, or guidance files given
    # for every picture while the masks are each picture's own (clear_folder's fixed_names)
    what: str = "the mask"


class Unmarked(NamedTuple):
    """A picture left alone, nothing written for it, because it does not carry what its
    mask is of (:func:`clear_folder`'s ``shows_mark``: a watermark not found in it)."""

    path: Path


class PictureNote(str):
    """A note on a picture rather than on its result (the guidance it was filled
    without): :attr:`BatchResult.notes` holds it with the picture, and :func:`note_lines`
    names the pictures (``"2 pictures (b.jpg, c.jpg): ..."``), not their results."""

    __slots__ = ()


class Protected(NamedTuple):
    """A file no result of :func:`clear_folder` may replace (its ``protected``), as the
    refusal names it: ``"p1.png would replace {what}; choose another output folder: {kind}
    are never replaced"``."""

    what: str  # the file, with an article: "a mask file in use (masks/p1.png)"
    kind: str  # such files, in the plural: "masks", "reference photos"


# (picture, its request, the engine) just before that picture's fill (clear_folder's
# before_fill): a caller's own word on the request, such as the reference photos searched
# shrunk (engines.region.shrunk_references_note)
BeforeFill = Callable[[Path, InpaintRequest, Engine], None]
PictureReport = Callable[..., None]  # (fraction of this picture in [0, 1), step="")
# (picture, its result's path, report) -> None once the result is written, a note on the
# result written (what its writing left out) or a sequence of them, or OtherSize or
# Unmarked for a picture left alone
PictureWork = Callable[[Path, Path, PictureReport],
                       OtherSize | Unmarked | str | Sequence[str] | None]
# (picture as read, (H, W, 3) uint8 RGB; the shift its mask moved by onto it, None at the
# mask's size) -> whether it carries what the mask is of: clear_folder's ``shows_mark``
MarkCheck = Callable[[np.ndarray, tuple[int, int] | None], bool]


@dataclass(frozen=True)
class BatchResult:
    """What :func:`clear_folder` did; every input is in exactly one of :attr:`written`,
    :attr:`failed`, :attr:`skipped`, :attr:`other_size` and :attr:`unmarked`.

    Attributes:
        written: the output files, in input order.
        failed: ``(input file, one-line reason)`` for every image that could not be done.
        skipped: the input files whose result was already in the output folder: kept, and
            the picture neither read nor filled (``overwrite`` was not given).
        other_size: the pictures of another size than the mask, left alone as asked
            (``other_sizes="skip"``); nothing written for them.
        notes: ``(output file, note)`` for results of :attr:`written` (``(picture, note)``
            for a :class:`PictureNote`: the guidance its fill went without) whose fill did not
            follow guidance its engine follows (a reference photo too small for the patch
            size, labels without a source: :func:`engines.guidance.source_notes`, starting
            "the fill"), whose picture's reading converted something (16 bits edited at 8,
            only the first frame of an animation: :attr:`engines.fileio.LoadedImage.notes`),
            that left out part of their original (transparency flattened onto white, the
            result's format having none: both by :func:`engines.fileio.picture_notes`, as
            ``inpaint`` says them; its colour profile, EXIF and XMP in a format that holds
            none: :func:`engines.fileio.dropped_metadata_note`; a grey colour profile a
            colour result cannot hold: :func:`engines.fileio.left_out_profile`; a wide-gamut
            one not kept, its colours converted to sRGB:
            :func:`engines.fileio.converted_profile_note`) or hold
            nothing found (:meth:`~engines.segmentation.base.Parser.map_note`, such as
            :data:`engines.segmentation.face.NO_FACE`), in input order (a picture's own in
            that order); :func:`note_lines` says them once per kind. None of them is a
            failure. (:func:`label_folder` adds no reading notes: as ``segment IMAGE``,
            it leaves out what concerns saving the picture, not its label map.)
        noun: what the run writes, in the singular (``"label map"`` for
            :func:`label_folder`), for the messages on it (:func:`so_far`).
        unmarked: the pictures left alone, nothing written for them, because they do not
            carry what the mask is of (``shows_mark``: no watermark found in them), in
            input order; no failure either.
        errors: the exception each picture of :attr:`failed` failed with, in the same order,
            for a caller to show its traceback (the command-line tool's ``--debug``); its
            frames' locals (the picture, its fill) are let go. Not compared.
    """

    written: tuple[Path, ...]
    failed: tuple[tuple[Path, str], ...]
    skipped: tuple[Path, ...] = ()
    other_size: tuple[OtherSize, ...] = ()
    notes: tuple[tuple[Path, str], ...] = ()
    noun: str = "result"
    unmarked: tuple[Path, ...] = ()
    errors: tuple[BaseException, ...] = dataclasses.field(default=(), compare=False,
                                                         repr=False)

    @property
    def ok(self) -> bool:
        """Nothing failed (results kept from an earlier run, pictures of another size
        skipped as asked and pictures without the watermark left alone are no failure)."""
        return not self.failed


class BatchStopped(EngineError):
    """A result could not be written for lack of room (disk full, quota, read-only folder),
    so :func:`clear_folder` stopped there, leaving no partial file. The message says what was
    written and what was not; ``result`` is what was done, ``not_done`` the pictures from
    the one that could not be written on. ``earlier``: as :attr:`BatchInterrupted.earlier`
    (in a run told to overwrite, the results an earlier run left for the pictures not
    redone)."""

    def __init__(self, message: str, result: BatchResult, not_done: tuple[Path, ...],
                 earlier: tuple[Path, ...] = ()) -> None:
        super().__init__(message)
        self.result, self.not_done, self.earlier = result, not_done, earlier


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl+C stopped :func:`clear_folder` (it is a :class:`KeyboardInterrupt`): ``result``
    is what was done before (those files stay, no partial file is left), ``not_done`` the
    pictures left. ``earlier``: in a run told to overwrite, the results of the pictures it
    did not redo (not done, or failed) that an earlier run left in the output folder, in
    input order: a run without overwriting would skip them, though they are not this run's.
    """

    def __init__(self, result: BatchResult, not_done: tuple[Path, ...],
                 earlier: tuple[Path, ...] = ()) -> None:
        super().__init__("interrupted")
        self.result, self.not_done, self.earlier = result, not_done, earlier


def note_lines(result: BatchResult, listed: int = 5) -> list[str]:
    """:attr:`BatchResult.notes` said once per note, naming its results (the first
    ``listed``): ``"photo.png: the grey colour profile was left out: ..."`` or ``"3 results
    (a.png, b.png, c.png): the grey colour profile ..."`` (the run's
    :attr:`~BatchResult.noun`), or for a :class:`PictureNote` its pictures (``"2 pictures
    (b.jpg, c.jpg): no sketch file ..."``); empty without notes."""
    by_note: dict[tuple[str, bool], list[Path]] = {}
    for path, note in result.notes:
        by_note.setdefault((note, isinstance(note, PictureNote)), []).append(path)
    lines = []
    for (note, on_picture), paths in by_note.items():
        if len(paths) == 1:
            lines.append(f"{paths[0].name}: {note}")
            continue
        lines.append(f"{count_noun(len(paths), 'picture' if on_picture else result.noun)} "
                     f"({names_and_more(paths, listed)}): {note}")
    return lines


def output_path(source: Path, output_dir: Path, name_suffix: str = "",
                output_format: str | None = None) -> Path:
    """Where the result for ``source`` goes: same stem (+ ``name_suffix``) and the same
    extension, as written (``IMG_1.JPG`` stays ``IMG_1.JPG``), unless ``output_format``
    (``".png"`` or ``"png"``, any case) names another format, whose extension is then
    written in lower case."""
    extension = source.suffix
    if output_format is not None:
        chosen = "." + output_format.lower().lstrip(".")
        if chosen != extension.lower():
            extension = chosen
    return output_dir / f"{source.stem}{name_suffix}{extension}"


def label_map_path(source: Path, output_dir: Path) -> Path:
    """Where the label map of ``source`` goes: ``<stem>.png`` in ``output_dir``, the
    extension always lower case (``UPPER.PNG`` -> ``UPPER.png``), the name ``train semantic
    --labels`` looks for."""
    return output_dir / f"{source.stem}.png"


def _inputs(images: str | os.PathLike | Sequence[str | os.PathLike], verb: str) -> list[Path]:
    """The picture files of ``images`` (a folder, listed by :func:`list_images`, or a
    sequence of files); raises :class:`InputError` when there are none (nothing to
    ``verb``)."""
    if isinstance(images, (str, os.PathLike)):
        sources = list_images(images)
    else:
        sources = [Path(p) for p in images]
    if not sources:
        where = f"the folder {Path(images).name}" if isinstance(images, (str, os.PathLike)) \
            else "the list given"
        raise InputError(f"{where} has no pictures to {verb}; nothing was written")
    return sources


def check_output_folder(output_dir: str | os.PathLike) -> None:
    """Raise :class:`InputError` unless results can be written into ``output_dir``: a folder
    where a file can be created, or a missing one whose nearest existing parent is such a
    folder (it would be created). Leaves nothing behind."""
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"the output folder {folder} is a file; give a folder")
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"cannot create the output folder {folder}: {existing} is a file")
    try:  # a probe, not os.access: read-only mounts, ACLs and root all answer truly
        handle, probe = tempfile.mkstemp(prefix=".write-test.", dir=existing)
    except OSError as exc:
        raise InputError(f"cannot write into {existing} ({exc.strerror or exc}); choose "
                         f"another output folder") from None
    os.close(handle)
    os.unlink(probe)


def _check_outputs(sources: list[Path], targets: list[Path], output_dir: Path,
                   name_suffix: str,
                   protected: Mapping[str | os.PathLike, Protected] | None = None,
                   label_maps: bool = False) -> None:
    """Raise :class:`InputError` when a result in ``targets`` (one per picture of
    ``sources``, same index) would replace an original (or the output folder is the input
    folder without a ``name_suffix``), one of the ``protected`` files (worded as its
    :class:`Protected` says), or another picture's result."""
    originals = {p.resolve() for p in sources}
    folders = {p.parent.resolve() for p in sources}
    if output_dir.resolve() in folders and not name_suffix:
        raise InputError(f"the output folder {output_dir} is the input folder; choose another "
                         f"folder: the originals are never replaced")
    clashes = [t for t in targets if t.resolve() in originals]
    if clashes:
        raise InputError(f"{clashes[0].name} would replace an original image; choose another "
                         f"output folder")
    guarded: dict[Path, Protected] = {}
    for path, kind in (protected or {}).items():
        guarded.setdefault(Path(path).resolve(), kind)  # a file named twice: its first kind
    for target in targets:
        kept = guarded.get(target.resolve())
        if kept is not None:
            raise InputError(f"{target.name} would replace {kept.what}; choose another output "
                             f"folder: {kept.kind} are never replaced")
    sharing: dict[Path, list[Path]] = {}
    for source, target in zip(sources, targets):
        # x.PNG and x.png are one file where names ignore case (Windows, macOS); a link
        # at a result's name is not followed (the run refuses to write through it)
        key = target.parent.resolve() / target.name
        sharing.setdefault(key.with_suffix(key.suffix.lower()), []).append(source)
    groups = [(target, names) for target, names in sharing.items() if len(names) > 1]
    if groups:
        raise InputError(_same_output_message(groups, label_maps=label_maps))


def _same_output_message(groups: Sequence[tuple[Path, Sequence[Path]]], shown: int = 3,
                         label_maps: bool = False) -> str:
    """Why pictures sharing an output name are refused, naming them: ``"same.jpg, same.png
    and same.webp would all be written to same.png, ..."`` (the first ``shown`` groups).
    ``label_maps``: the outputs are label maps, always PNG whatever the picture's format, so
    the advice is not to keep each picture's own format but to rename them or put them in
    separate folders."""
    described = []
    for target, sources in groups[:shown]:
        names = [p.name for p in sources]
        described.append(f"{join_words(names)} would {'all ' if len(names) > 2 else ''}be "
                         f"written to {target.name}")
    more = f" (and {len(groups) - shown} more such groups)" if len(groups) > shown else ""
    own_formats = all(len({p.suffix.lower() for p in sources}) == len(sources)
                      for _, sources in groups)
    if label_maps:
        return (f"{'; '.join(described)}{more}, one label map replacing another (label maps "
                "are always PNG); rename them, or put them in separate folders")
    fix = "keep each picture's own format, or rename them" if own_formats else "rename them"
    return f"{'; '.join(described)}{more}, one result replacing another; {fix}"


def _mask_for(mask: np.ndarray, image: np.ndarray,
              other_sizes: str) -> tuple[np.ndarray, tuple[int, int] | None] | None:
    """``(mask for image, the shift it moved by)``: ``mask`` as is (shift None) when the
    sizes match, else moved onto it (``"anchor"``: by the shift
    :func:`engines.watermark.anchored_shift` gives its box, as
    :func:`engines.watermark.place_mask` moves it), or None (``"skip"``). Raises
    :class:`InputError` if the moved mask misses the image."""
    height, width = image.shape[:2]
    if mask.shape == (height, width):
        return mask, None
    if other_sizes == "skip":
        return None
    shift = anchored_shift(mask >= 128, (width, height))
    placed = None if shift is None else shifted(mask, shift, (width, height))
    if placed is None or not (placed >= 128).any():
        raise InputError(f"the mask falls outside this {width}x{height} image")
    return placed, shift


# what a guidance layer's pixels hold, by request field: what anchoring finds and moves
# (the labelled, painted or set pixels), and what a moved layer holds where nothing lands
_LAYER_FILL = {"labels": UNLABELLED, "color": (0, 0, 0, 0)}
# what a fill without each guidance layer goes without, by request field, in the words of
# every note and refusal on it: this module's and the CLI's (cli.batch.GuidanceOption.without)
GUIDANCE_WITHOUT = {"sketch": "a sketch", "color": "colour strokes", "labels": "a label map",
                    "sample_include": "an include area", "sample_exclude": "an exclude area"}
# each guidance layer's kind, by request field
_LAYER_KIND = {"sketch": Guidance.SKETCH, "color": Guidance.COLOR, "labels": Guidance.LABELS,
               "sample_include": Guidance.SAMPLING, "sample_exclude": Guidance.SAMPLING}


def _layer_content(field: str, layer: np.ndarray) -> np.ndarray:
    """The pixels of the guidance ``layer`` (a request ``field``) that hold something."""
    if field == "labels":
        return layer != UNLABELLED
    if field == "color":
        return layer[..., 3] > 0
    return layer >= 128


def _guidance_for(layers: Mapping[str, np.ndarray], image: np.ndarray, other_sizes: str,
                  shift: tuple[int, int] | None = None) -> dict[str, np.ndarray] | None:
    """The guidance ``layers`` given for every picture (request field -> layer, all of one
    size) for ``image``: as they are when the sizes match, else None (``"skip"``) or moved
    onto it (``"anchor"``) as :func:`_mask_for` moves the mask: by ``shift``, the one the
    mask for every picture (of their size) moved by, or without one by the shift
    :func:`engines.watermark.anchored_shift` gives the box of what the layers hold, so
    that a mask and its guidance move together. Parts falling outside are dropped."""
    if not layers:
        return {}
    height, width = image.shape[:2]
    shape = next(iter(layers.values())).shape[:2]
    if shape == (height, width):
        return dict(layers)
    if other_sizes == "skip":
        return None
    if shift is None:
        held = np.logical_or.reduce([_layer_content(field, layer)
                                     for field, layer in layers.items()])
        shift = anchored_shift(held, (width, height)) or (0, 0)  # nothing held: stays
    return {field: shifted(layer, shift, (width, height), _LAYER_FILL.get(field, 0))
            for field, layer in layers.items()}


def _off_the_picture(moved: dict[str, np.ndarray], held: Sequence[str],
                     names: Mapping[str, str], engine: Engine, image: np.ndarray,
                     by_mask: bool) -> list[PictureNote]:
    """Drop from ``moved`` (the guidance for every picture moved onto ``image``:
    :func:`_guidance_for`) the layers among ``held`` (those holding something before) that
    hold nothing now, having landed wholly off the picture, and return a note for each of
    them ``engine`` follows: the fill goes without it (named by ``names``; ``by_mask``:
    moved with the mask). Raises :class:`InputError`, failing the picture, when such a
    layer is an include area ``engine`` follows (nothing would be left to sample from) or
    guidance ``engine`` cannot fill without."""
    height, width = image.shape[:2]
    how = "once moved with the mask" if by_mask else "once anchored"
    notes = []
    for field in held:
        if _layer_content(field, moved[field]).any():
            continue
        del moved[field]
        kind, without = _LAYER_KIND[field], GUIDANCE_WITHOUT[field]
        if kind not in engine.guidance:
            continue  # nothing followed is lost (the run says what the engine ignores)
        name = names.get(field, field)
        if field == "sample_include":
            raise InputError(f"{name} lies wholly off this {width}x{height} picture {how}, "
                             "so it leaves no pixel to sample from; give this picture its "
                             "own include area (a folder of files named like the pictures)")
        if kind in engine.required_guidance:
            raise InputError(f"{name} lies wholly off this {width}x{height} picture {how}, "
                             f"and {engine.title or engine.name} cannot fill without "
                             f"{without}")
        notes.append(PictureNote(f"{name} lies wholly off the picture {how}: filled "
                                 f"without {without}"))
    return notes


def _check_fixed_sizes(layers: Mapping[str, np.ndarray], names: Mapping[str, str],
                       mask: np.ndarray | None, mask_name: str) -> None:
    """Raise :class:`InputError` unless the guidance ``layers`` for every picture (and the
    ``mask`` for every picture, when there is one) are all one size, naming the first file
    of another size and the first one's (by ``names`` and ``mask_name``)."""
    if not layers:
        return
    sizes = [(names.get(field, field), _size(layer)) for field, layer in layers.items()]
    if mask is not None:
        sizes.insert(0, (mask_name, _size(mask)))
    first, (w0, h0) = sizes[0]
    for other, (w1, h1) in sizes[1:]:
        if (w1, h1) != (w0, h0):
            raise InputError(f"{other} is {w1}x{h1} but {first} is {w0}x{h0}; the files "
                             "for every picture must be one size")


def prepare_engine(engine: Engine, device: str = "auto",
                   given: frozenset[Guidance] | set[Guidance] = frozenset()) -> None:
    """Get ``engine`` ready to fill a folder on ``device`` (a request's ``device``), or raise
    before any work: :class:`InputError` if it needs guidance the run does not give
    (:attr:`~engines.base.Engine.required_guidance` not among ``given``, the kinds the
    run's guidance files give), :class:`EngineError` for an accelerator named but missing,
    an engine not ready, or a network that does not load (damaged checkpoint). A neural
    engine's network is loaded here, once for every picture (it stays in the model slot for
    the runs)."""
    title = engine.title or engine.name
    if engine.required_guidance - set(given):
        needed = " and ".join(sorted(kind.value for kind in engine.required_guidance))
        raise InputError(f"{title} cannot fill a folder: it needs each picture's {needed}, "
                         f"which this run does not give (no guidance file of that kind); give "
                         f"them, or fill the pictures one at a time")
    device = device or "auto"
    require_device(device)
    engine.require_ready()
    if isinstance(engine, NeuralEngine):  # the device and the slot key its runs will use
        engine.network(engine.device(None if device == "auto" else device))


def _already_there(target: Path, overwrite: bool) -> bool:
    """Whether ``target`` holds a result to keep, so its picture is skipped: a non-empty file
    (results are written whole or not at all), unless ``overwrite``. Raises
    :class:`ImageExistsError`, with or without ``overwrite``, for a link of that name
    (dangling or not: a result is never written through one, which could put it outside
    the output folder; :func:`engines.fileio.link_in_the_way`) or a folder, and without
    ``overwrite`` for an empty file, never taken for a result."""
    in_the_way = link_in_the_way(target)
    if in_the_way is None and target.is_dir():
        in_the_way = "a folder of that name is in the way; move it"
    if in_the_way is not None:
        raise ImageExistsError(in_the_way, target, errno.EEXIST)
    if overwrite or not target.exists():
        return False
    if target.stat().st_size == 0:
        raise ImageExistsError("an empty file is in the way, not a result; remove it or "
                               "overwrite", target, errno.EEXIST)
    return True


def so_far(result: BatchResult, not_done: Sequence[Path]) -> str:
    """How far a stopped run got, e.g. ``"4 results written and kept, 26 pictures not done,
    2 already there, 1 skipped (another size), 1 not written (no watermark found), 1
    failed"`` (the last four only when there are some), naming what it writes by its
    :attr:`~BatchResult.noun` (``"4 label maps written and kept, ..."``)."""
    parts = [f"{count_noun(len(result.written), result.noun)} written and kept",
             f"{count_noun(len(not_done), 'picture')} not done"]
    if result.skipped:
        parts.append(f"{len(result.skipped)} already there")
    if result.other_size:
        parts.append(f"{len(result.other_size)} skipped (another size)")
    if result.unmarked:
        parts.append(f"{len(result.unmarked)} not written (no watermark found)")
    if result.failed:
        parts.append(f"{len(result.failed)} failed")
    return ", ".join(parts)


def _stop_message(exc: OSError, target: Path, output_dir: Path, result: BatchResult,
                  not_done: Sequence[Path], overwrite: bool) -> str:
    again = ("run again" if overwrite else
             f"run again: the {result.noun}s already there are skipped")
    return (f"stopped: cannot write {target.name} into {output_dir} ({os.strerror(exc.errno)}); "
            f"{so_far(result, not_done)}; {_NO_ROOM[exc.errno]} and {again}")


def _final_image(engine: Engine, request: InpaintRequest, cancel: CancelToken,
                 report: Callable[[float], None]) -> np.ndarray:
    """The final stage's image of ``engine`` on ``request``, its stages reported as
    ``report(fraction)`` up to :data:`WORK_SHARE` (the rest is the picture's writing). An
    engine's bug comes as :class:`~engines.base.EngineCrashed` (an :class:`EngineError`
    naming the engine), so the picture is listed as failed with it."""
    result = None
    for stage in engine.run(request, cancel):
        report(WORK_SHARE * stage.progress)
        result = stage.image
        if stage.final:
            break
    if result is None:
        raise EngineError(f"{engine.name} returned no result")
    return result


def clear_folder(images: str | os.PathLike | Sequence[str | os.PathLike],
                 output_dir: str | os.PathLike, mask: np.ndarray | MaskSource,
                 engine: str | Engine = "telea",
                 progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None,
                 overwrite: bool = False, *,
                 engine_options: Mapping[str, Any] | None = None,
                 request_settings: Mapping[str, Any] | None = None,
                 name_suffix: str = "", output_format: str | None = None,
                 other_sizes: str = "skip", keep_metadata: bool = True,
                 protected: Mapping[str | os.PathLike, Protected] | None = None,
                 reference_names: Sequence[str] = (),
                 before_fill: BeforeFill | None = None,
                 guidance: GuidanceSource | None = None,
                 fixed_guidance: Mapping[str, np.ndarray] | None = None,
                 fixed_names: Mapping[str, str] | None = None,
                 mask_name: str = "the mask",
                 guidance_given: frozenset[Guidance] | set[Guidance] = frozenset(),
                 shows_mark: MarkCheck | None = None
                 ) -> BatchResult:
    """Fill ``mask`` in every image and write the results into ``output_dir``.

    Args:
        images: a folder (its image files, by name) or a sequence of image files.
        output_dir: where results go (created if missing), each under its input's name plus
            ``name_suffix``; it must differ from the input folder unless a suffix is given.
            An output path that would replace an input is always refused.
        mask: ``(H, W)`` uint8, 255 = pixels to fill, for every image (e.g. a watermark
            estimate's mask); or a function ``mask(image_file, loaded)`` giving each image's
            own mask from the picture as read (:class:`~engines.fileio.LoadedImage`: its
            ``rgb``, and its ``shape`` to check a mask file against, which names the size
            a photo turned upright by its EXIF orientation is stored at); an image whose
            mask cannot be had is recorded as failed.
        engine: a registered engine name (created, and released at the end) or an engine
            instance (left loaded for the caller).
        progress: called as ``progress(fraction, message)`` during and after each image.
        cancel: checked between images and inside the engine; raises
            :class:`~engines.base.Cancelled` (files already written stay).
        overwrite: compute every picture again and replace its result in ``output_dir``
            (never an input). Without it a result already there (a non-empty file under the
            output name) is kept and its picture skipped unread (:attr:`BatchResult.skipped`).
        engine_options: options for :func:`engines.registry.create` when ``engine`` is a name.
        request_settings: :class:`InpaintRequest` fields for every image (``strategy``,
            ``crop_margin``, ``seed``, ``device``, ``options``...).
        output_format: an extension (``".png"`` or ``"png"``) to write instead of each
            input's own; JPEG inputs re-encoded as JPEG change slightly everywhere (lossy),
            PNG keeps every pixel outside the mask exact. A transparent picture written to a
            format without transparency (JPEG, BMP) is flattened onto white and noted
            (:attr:`BatchResult.notes`, :func:`engines.fileio.flattened_note`), as is what
            reading a picture converted (:func:`engines.fileio.picture_notes`).
        other_sizes: for images whose size differs from the mask: ``"skip"`` (left alone and
            listed in :attr:`BatchResult.other_size`, not as failed, saying when the
            picture's EXIF orientation explains it: :attr:`OtherSize.turned`) or
            ``"anchor"`` (the mask is moved to keep its distance to the nearest corner, edge
            middle or centre, see :func:`engines.watermark.place_mask`).
        keep_metadata: write each input's colour profile and EXIF tags into its result
            (:class:`engines.fileio.ImageMetadata`: never the EXIF thumbnail). A grey
            profile a colour result cannot hold is left out and noted, as is all of it in a
            result of a format that holds none (BMP, GIF:
            :func:`engines.fileio.dropped_metadata_note`), whether chosen by
            ``output_format`` or its picture's own
            (:attr:`BatchResult.notes`).
        protected: other files no result may replace, whatever ``overwrite`` says (the
            mask files in use, reference photos), each with how the refusal names it
            (:class:`Protected`); a file named twice is named as first given.
        reference_names: a name for each reference photo ``request_settings`` gives
            (``exemplars``), in order, for the notes on guidance a picture's fill could not
            follow (:attr:`BatchResult.notes`); "a reference photo" for those it does not
            name.
        before_fill: called as ``before_fill(picture, request, engine)`` with each
            picture's request just before its fill (:data:`BeforeFill`), for a caller's
            own word on it; what it raises stops the run as the fill's own error would.
        guidance: a function ``guidance(image_file, loaded)`` giving each picture's own
            guidance (:data:`GuidanceSource`: request fields read from its files, checked
            against ``loaded.shape``, and notes on the guidance it has no file for, which
            join :attr:`BatchResult.notes`); what it raises fails that picture only.
        fixed_guidance: guidance layers for every picture, by request field (``sketch``,
            ``color``, ``labels``, ``sample_include``, ``sample_exclude``), all of one size,
            the mask's when ``mask`` is one array (read once by the caller; a label map's
            set goes in ``request_settings``). Pictures of another size follow
            ``other_sizes``: skipped, or the layers moved onto them by the mask's shift
            (:func:`_guidance_for`). A layer landing wholly off a picture is left out of
            its fill, with a :class:`PictureNote` when the engine follows it; an include
            area the engine follows, or guidance it cannot fill without, fails that
            picture instead (:func:`_off_the_picture`).
        fixed_names: how messages name each layer of ``fixed_guidance``, by field (its
            file: ``"--sketch lines.png"``; by default the field), and ``mask_name`` the
            mask when it is one array: in the refusal of layers of different sizes, and in
            :attr:`OtherSize.what` (the layers, joined) when the masks are each picture's
            own.
        guidance_given: the kinds of guidance ``guidance`` and ``fixed_guidance`` give, for
            an engine requiring some (:func:`prepare_engine`).
        shows_mark: ``shows_mark(picture, shift)`` (:data:`MarkCheck`), asked of each
            picture read and given its mask (after ``other_sizes``), with its pixels and the
            shift its mask moved by (None at the mask's size): whether it carries what the
            mask is of (a watermark:
            :meth:`engines.watermark.WatermarkEstimate.shows_mark`). A picture that does
            not is left alone, nothing written, and listed in :attr:`BatchResult.unmarked`
            (no failure); without it every picture is filled.

    Returns a :class:`BatchResult`. Raises before any work (nothing created, the output
    folder included) :class:`InputError` for an empty or malformed mask, an unsafe or
    unwritable output folder, an unknown size policy or an engine needing guidance a folder
    run does not give, and :class:`EngineError` if the engine cannot run (see
    :func:`prepare_engine`: a missing accelerator, weights not installed or damaged).
    Problems of one picture (unreadable, no or damaged mask, an anchored mask that misses
    it) are recorded in :attr:`BatchResult.failed`, naming the file at fault when it is not
    the picture.
    Raises :class:`BatchStopped` at the first result that cannot be written for lack of room
    (the pictures after it are not tried) and :class:`BatchInterrupted` for Ctrl+C.
    """
    cancel = cancel or CancelToken()
    if other_sizes not in SIZE_POLICIES:
        raise InputError(f"other_sizes must be one of {', '.join(SIZE_POLICIES)}")
    if not callable(mask):
        if mask.dtype != np.uint8 or mask.ndim != 2:
            raise InputError(f"the mask must be (H, W) uint8, got {mask.dtype} {mask.shape}")
        if not (mask >= 128).any():
            raise InputError("the mask is empty (no white pixels)")
    fixed_guidance = dict(fixed_guidance or {})
    fixed_names = dict(fixed_names or {})
    _check_fixed_sizes(fixed_guidance, fixed_names, None if callable(mask) else mask,
                       mask_name)
    fixed_what = join_words([fixed_names.get(field, field) for field in fixed_guidance])
    held = [field for field, layer in fixed_guidance.items()  # what can land off a picture
            if _layer_content(field, layer).any()]
    if output_format is not None:
        output_format = "." + output_format.lower().lstrip(".")  # "png" means ".png"
        if output_format not in IMAGE_SUFFIXES:
            raise InputError(f"cannot write {output_format}; use one of "
                             f"{', '.join(IMAGE_SUFFIXES)}")
    sources = _inputs(images, "fill")
    output_dir = Path(output_dir)
    targets = [output_path(p, output_dir, name_suffix, output_format) for p in sources]
    _check_outputs(sources, targets, output_dir, name_suffix, protected)
    check_output_folder(output_dir)
    settings = dict(request_settings or {})
    owned = isinstance(engine, str)
    if owned:
        engine = registry.create(engine, **dict(engine_options or {}))

    def prepare() -> None:
        prepare_engine(engine, settings.get("device", "auto"), guidance_given)
        if "labels" in fixed_guidance:  # a label map of a set the model was not trained on
            engine.check_label_set(settings.get("label_set"))

    def fill(source: Path, target: Path,
             report: PictureReport) -> OtherSize | Unmarked | list[str]:
        loaded = load_image(source)
        image = loaded.rgb
        image_mask = mask(source, loaded) if callable(mask) else mask
        placing = _mask_for(image_mask, image, other_sizes)
        if placing is None:
            mask_size = _size(image_mask)
            return OtherSize(source, _size(image), mask_size,
                             turned_size_note(*mask_size, loaded.shape))
        placed, shift = placing
        if shows_mark is not None and not shows_mark(image, shift):
            return Unmarked(source)
        fixed = _guidance_for(fixed_guidance, image, other_sizes, shift)
        if fixed is None:  # masks of their own: the guidance for every picture is not its size
            size = _size(next(iter(fixed_guidance.values())))
            return OtherSize(source, _size(image), size,
                             turned_size_note(*size, loaded.shape), fixed_what)
        off = (_off_the_picture(fixed, held, fixed_names, engine, image, shift is not None)
               if held and next(iter(fixed_guidance.values())).shape[:2] != image.shape[:2]
               else [])
        own, lacking = guidance(source, loaded) if guidance is not None else ({}, ())
        request = InpaintRequest(image, placed, **{**settings, **fixed, **own},
                                 alpha=loaded.alpha)
        if before_fill is not None:
            before_fill(source, request, engine)
        result = _final_image(engine, request, cancel, report)
        notes = fill_notes(request, engine, reference_names, cancel)
        save_result(target, result, loaded, overwrite, keep_metadata, edited=request.hole,
                    follow_links=False)
        written = loaded.metadata if keep_metadata else loaded.metadata.stripped()
        dropped = dropped_metadata_note(written, target.suffix)  # none stripped
        profile = profile_note(written, result, target.suffix, loaded.grey)
        # the guidance it went without, then in inpaint's order: the fill's, the picture's
        # own, its metadata not kept
        return [*off, *lacking, *notes, *picture_notes(loaded, target.suffix),
                *filter(None, [dropped, profile])]

    try:
        return run_pictures(sources, targets, fill, progress, cancel, overwrite,
                            prepare=prepare)
    finally:
        if owned:
            engine.release()


def run_pictures(sources: Sequence[Path], targets: Sequence[Path], work: PictureWork,
                 progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, overwrite: bool = False, *,
                 prepare: Callable[[], None] | None = None,
                 noun: str = "result") -> BatchResult:
    """The loop of a folder run: ``work(source, target, report)`` for each picture of
    ``sources`` whose result ``target`` (same index) is not already there, in order.

    ``work`` reads the picture, computes and writes its result atomically (None, or a note
    on the result, or a sequence of them: :attr:`BatchResult.notes`, a :class:`PictureNote`
    kept with the picture), or leaves it alone as
    another size than its mask (an :class:`OtherSize`) or as not carrying what its mask is
    of (an :class:`Unmarked`); it reports its own
    progress as ``report(fraction, step="")``, ``fraction`` of this picture in [0, 1), the
    end being reported here once it returned. ``prepare`` (a network's loading, say) runs
    first and the targets' folder is created after it. ``progress(fraction, message)``
    gets the whole run's fraction, ``(index + part of this picture) / count`` (a picture
    counts as done only once its result is written or it is skipped or failed), and the
    picture's name (``"name: step"`` with a step). ``cancel`` is checked between pictures.
    ``noun`` is what ``work`` writes (:attr:`BatchResult.noun`).

    A target already there is kept and its picture skipped unread unless ``overwrite``
    (:func:`_already_there`); so is one written while its picture was worked on (another
    run into the same folder): the picture counts as skipped. What one picture may fail
    with (unreadable, damaged, an engine error; :data:`_PER_IMAGE_ERRORS`) is recorded in
    :attr:`BatchResult.failed` and the run goes on; a write that no room allows raises
    :class:`BatchStopped` and Ctrl+C (any :class:`KeyboardInterrupt`, a SIGTERM a caller
    turns into one included) :class:`BatchInterrupted`, both carrying what was done (and, with ``overwrite``, the
    results an earlier run left for the pictures not redone).
    """
    cancel = cancel or CancelToken()
    written: list[Path] = []
    failed: list[tuple[Path, str]] = []
    errors: list[BaseException] = []  # failed's exceptions
    skipped: list[Path] = []
    other_size: list[OtherSize] = []
    unmarked: list[Path] = []
    notes: list[tuple[Path, str]] = []
    total = max(len(sources), 1)

    def done() -> BatchResult:
        return BatchResult(tuple(written), tuple(failed), tuple(skipped), tuple(other_size),
                           tuple(notes), noun, tuple(unmarked), tuple(errors))

    def left() -> tuple[Path, ...]:  # pictures are done in order
        dealt_with = len(written) + len(failed) + len(skipped) + len(other_size) + len(unmarked)
        return tuple(sources[dealt_with:])

    def earlier() -> tuple[Path, ...]:  # the results from before of pictures not redone
        if not overwrite:
            return ()
        not_redone = {*left(), *(source for source, _ in failed)}
        return tuple(target for source, target in zip(sources, targets)
                     if source in not_redone and _holds_a_result(target))

    try:
        if prepare is not None:
            prepare()
        for folder in dict.fromkeys(target.parent for target in targets):
            folder.mkdir(parents=True, exist_ok=True)
        for index, (source, target) in enumerate(zip(sources, targets)):
            cancel.raise_if_cancelled()

            def report(fraction: float, step: str = "", index: int = index,
                       name: str = source.name) -> None:
                if progress is not None:
                    progress(min(1.0, (index + fraction) / total),
                             f"{name}: {step}" if step else name)

            try:
                if _already_there(target, overwrite):
                    skipped.append(source)
                else:
                    outcome = work(source, target, report)
                    if isinstance(outcome, OtherSize):
                        other_size.append(outcome)
                    elif isinstance(outcome, Unmarked):
                        unmarked.append(outcome.path)
                    else:
                        written.append(target)
                        said = [outcome] if isinstance(outcome, str) else outcome or ()
                        notes.extend((source if isinstance(note, PictureNote) else target,
                                      note) for note in said if note)
            except _PER_IMAGE_ERRORS as exc:
                if isinstance(exc, ImageExistsError) and not overwrite \
                        and _holds_a_result(target):
                    # written meanwhile (another run into the same folder): kept, as a
                    # result there at the start would have been
                    report(1.0)
                    skipped.append(source)
                    continue
                if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
                    so_far_result, rest = done(), left()
                    raise BatchStopped(_stop_message(exc, target, target.parent,
                                                     so_far_result, rest, overwrite),
                                       so_far_result, rest, earlier()) from exc
                reason = _reason(exc, source)
                # a Ctrl+C the callback raises here (one a library dropped, which may be why
                # this picture failed) leaves the picture not done rather than failed
                report(1.0)
                failed.append((source, reason))
                errors.append(_let_go_of_frames(exc))
                continue
            report(1.0)
    except KeyboardInterrupt as exc:
        raise BatchInterrupted(done(), left(), earlier()) from exc
    return done()


def _let_go_of_frames(exc: BaseException) -> BaseException:
    """``exc``, kept for its traceback (:attr:`BatchResult.errors`), after letting go of what
    the frames of its chain (its causes and contexts) hold: the picture and its fill would
    otherwise stay in memory for the rest of the run. The tracebacks still say where."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)  # a frame still running is kept
        current = current.__cause__ or current.__context__
    return exc


def _holds_a_result(target: Path) -> bool:
    """Whether ``target`` is a file a run without overwriting keeps as its picture's result
    (:func:`_already_there`: a non-empty file, no link)."""
    try:
        return not target.is_symlink() and target.is_file() and target.stat().st_size > 0
    except OSError:
        return False


def label_folder(images: str | os.PathLike | Sequence[str | os.PathLike],
                 output_dir: str | os.PathLike, parser: Parser,
                 progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, overwrite: bool = False) -> BatchResult:
    """Label every picture with ``parser`` and write each label map into ``output_dir`` as
    an indexed PNG named after the picture (``photo.jpg`` -> ``photo.png``, ``UPPER.PNG`` ->
    ``UPPER.png``: :func:`label_map_path`; see
    :func:`engines.segmentation.labelmap.save_label_png`), atomically.

    ``images``: a folder (its image files, by name) or a sequence of image files. The run is
    :func:`run_pictures`' (results already there kept unless ``overwrite``, failed pictures
    listed, :class:`BatchStopped`, :class:`BatchInterrupted`); ``progress`` also names the
    parser's step and the writing. A neural parser's networks are loaded once, before the
    first picture (``progress(0.0, parser.loading)`` says it), and left loaded for the
    caller; a picture's step says loading only if they load again (a checkpoint replaced
    meanwhile). A map is written for every picture read, even one in which the parser
    finds nothing (a face parser's map of a picture without a face, all background: its
    note in :attr:`BatchResult.notes`, from :meth:`~engines.segmentation.base.Parser.map_note`,
    is :data:`engines.segmentation.face.NO_FACE`, no failure). Raises before any
    work (nothing created) :class:`InputError` for no pictures, pictures whose maps would
    share a name, an output folder that is the input folder or cannot be written, and
    :class:`EngineError` for a parser that is not ready (weights missing or damaged).
    """
    cancel = cancel or CancelToken()
    sources = _inputs(images, "label")
    output_dir = Path(output_dir)
    targets = [label_map_path(p, output_dir) for p in sources]
    _check_outputs(sources, targets, output_dir, "", label_maps=True)
    check_output_folder(output_dir)
    parser.require_ready()

    def prepare() -> None:  # a damaged checkpoint fails here, not once per picture
        if isinstance(parser, NeuralParser):
            parser.networks_with_progress(parser.device(),
                                          progress or (lambda fraction, step: None))

    def label(source: Path, target: Path, report: PictureReport) -> str | None:
        image = load_image(source).rgb
        labels = parser.run(image, cancel,
                            lambda fraction, step: report(WORK_SHARE * fraction, step))
        report(WORK_SHARE, "writing")
        save_label_png(target, labels, parser.label_set, overwrite)
        return parser.map_note(labels)

    return run_pictures(sources, targets, label, progress, cancel, overwrite, prepare=prepare,
                        noun="label map")


def _size(pixels: np.ndarray) -> tuple[int, int]:
    """(width, height) of an image or mask array."""
    return pixels.shape[1], pixels.shape[0]


def _reason(exc: BaseException, source: Path) -> str:
    """One line on why ``source`` failed; an error about another file (its mask, the output)
    names that file by its folder and name (``masks/photo.png: ...``)."""
    if isinstance(exc, OSError) and exc.strerror:
        culprit = Path(exc.filename) if isinstance(exc.filename, (str, os.PathLike)) else None
        if culprit is None or culprit.resolve() == source.resolve():
            return exc.strerror
        return f"{Path(culprit.parent.name, culprit.name).as_posix()}: {exc.strerror}"
    return message_line(exc)
