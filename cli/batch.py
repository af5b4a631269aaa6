"""`batch --images DIR (--masks DIR | --mask FILE) -o DIR [--exemplar FILE ...]`: fill every
image of a folder."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from cli import EXIT_FAILED, EXIT_OK
from cli._common import (
    add_engine_arguments,
    add_metadata_argument,
    engine_options,
    folder_pictures,
    folder_progress,
    ignored_note,
    load_references,
    reference_names,
    request_settings,
    say_shrunk_references,
)
from engines import registry
from engines.base import Engine, Guidance, InpaintRequest, InputError
from engines.batch import (
    SIZE_POLICIES,
    BatchInterrupted,
    BatchResult,
    BatchStopped,
    Protected,
    clear_folder,
    note_lines,
    so_far,
)
from engines.fileio import (
    ImageMissingError,
    LoadedImage,
    count_noun,
    load_mask,
)

NAME = "batch"
HELP = "fill the masks of every image in a folder and write the results to another folder"
MASK_NAMES = ("{stem}.png", "{stem}_mask.png", "{stem}-mask.png", "{stem}.mask.png")
SKIPPED = "skipped: already in the output folder; --overwrite redoes them"
OTHER_SIZE = "skipped (another size than the mask; --other-sizes anchor fills them)"
# why files of the pictures' folder are not taken as pictures (cli._common.folder_pictures)
MASKS_LEFT_OUT = "masks, not pictures"
REFERENCES_LEFT_OUT = "reference photos (--exemplar), not pictures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", required=True, metavar="DIR",
                        help="folder of pictures: only those directly in it (subfolders are "
                             "not searched, links to folders neither; a link to a picture "
                             "counts); the summary names what was left out")
    masks = parser.add_mutually_exclusive_group(required=True)
    masks.add_argument("--masks", metavar="DIR",
                       help="folder of masks named like the pictures (photo.jpg -> photo.png, "
                            "photo_mask.png, photo-mask.png or photo.mask.png)")
    masks.add_argument("--mask", metavar="FILE",
                       help="one mask for every picture (a watermark in the same place)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="where results go, under the pictures' names (never the input "
                             "folder)")
    add_engine_arguments(parser)
    parser.add_argument("--exemplar", nargs="+", action="extend", metavar="FILE",
                        help="reference photos whose content may fill the holes of every "
                             "picture (read once for the whole folder): every file name up "
                             "to the next option is one; repeatable; a file named twice is "
                             "searched once; only fully opaque pixels are copied; never "
                             "replaced by a result, nor filled as a picture when in the "
                             "pictures' folder")
    parser.add_argument("--format", metavar=".EXT",
                        help="write this format instead of each input's own (e.g. .png keeps "
                             "every pixel outside the mask exact)")
    # None: not given ("skip"); refused with --masks, whose masks have their pictures' size
    parser.add_argument("--other-sizes", choices=SIZE_POLICIES,
                        help="with --mask: pictures of another size are skipped (default) or "
                             "get the mask anchored to the nearest corner, edge or centre")
    add_metadata_argument(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="compute every picture again and replace its result in the "
                             "output folder (without it, pictures whose result is already "
                             "there are skipped: run the same command again to finish an "
                             "interrupted run)")


def mask_file(image_path: Path, folder: Path) -> Path | None:
    """The mask file of ``image_path`` in ``folder`` (the first of :data:`MASK_NAMES` there,
    never the picture itself), or None."""
    for pattern in MASK_NAMES:
        candidate = folder / pattern.format(stem=image_path.stem)
        if candidate.is_file() and candidate.resolve() != image_path.resolve():
            return candidate
    return None


def mask_finder(folder: Path):
    """A function giving each picture its mask file's contents from ``folder``
    (:data:`engines.batch.MaskSource`): a mask of another size is refused as ``inpaint``
    refuses it (:func:`engines.fileio.other_size_reason`), saying when it is the size the
    picture is stored at, turned upright by its EXIF orientation."""
    if not folder.is_dir():
        raise ImageMissingError("no such folder", folder)

    def find(image_path: Path, loaded: LoadedImage) -> np.ndarray:
        candidate = mask_file(image_path, folder)
        if candidate is not None:
            return load_mask(candidate, loaded.shape)  # names the size stored, if turned
        raise ImageMissingError(f"no mask for it in {folder} (looked for "
                                f"{MASK_NAMES[0].format(stem=image_path.stem)} and similar)",
                                image_path)

    return find


def masks_in_use(files: list[Path], mask: Path | None, masks: Path | None) -> list[Path]:
    """The mask files the pictures among ``files`` use: ``mask`` (one file for all), or
    each one's file in the ``masks`` folder (:func:`mask_file`; none while that folder is
    missing, which :func:`mask_finder` reports)."""
    if mask is not None:
        return [mask]
    if masks is None or not masks.is_dir():
        return []
    return [found for found in (mask_file(p, masks) for p in files) if found is not None]


def protected_files(masks: Iterable[Path], references: Iterable[str]) -> dict[str, Protected]:
    """The files no result may replace, whatever ``--overwrite`` says, as the refusal names
    them (:class:`engines.batch.Protected`): the mask files in use and the reference photos
    (``--exemplar``, as named)."""
    protected = {str(path): Protected(f"a mask file in use ({path})", "masks")
                 for path in masks}
    for path in references:
        protected.setdefault(path, Protected(f"the reference photo --exemplar {path}",
                                             "reference photos"))
    return protected


def shrunk_once(paths: list[str]) -> Callable[[Path, InpaintRequest, Engine], None]:
    """A folder run's ``before_fill`` (:data:`engines.batch.BeforeFill`) saying once, at the
    first picture whose fill searches a reference photo (``paths``, as named) shrunk, which
    and why, in ``inpaint``'s words (:func:`cli._common.say_shrunk_references`), naming
    that picture; nothing is worked out for the pictures after it."""
    said = not paths

    def before_fill(picture: Path, request: InpaintRequest, engine: Engine) -> None:
        nonlocal said
        if not said:
            said = say_shrunk_references(request, engine, paths, picture)

    return before_fill


def print_failures(result: BatchResult) -> None:
    """The pictures that failed under their own heading, ``1 failed:``, then one ``  name:
    reason`` line each; nothing when none failed."""
    if not result.failed:
        return
    print(f"{len(result.failed)} failed:")
    for path, reason in result.failed:
        print(f"  {path.name}: {reason}")


def print_skipped(result: BatchResult) -> None:
    """Say which pictures were skipped, and why: results already in the output folder (a
    count) and pictures of another size than the mask (``  big.png 320x240, the mask
    160x120``, one line each, ending ``(turned upright by its EXIF orientation; stored as
    160x120)`` where that explains it: :attr:`engines.batch.OtherSize.turned`). Neither is a
    failure."""
    if result.skipped:
        print(f"{len(result.skipped)} {SKIPPED}")
    if result.other_size:
        print(f"{len(result.other_size)} {OTHER_SIZE}:")
        for entry in result.other_size:
            (width, height), (mask_width, mask_height) = entry.size, entry.mask_size
            turned = f" ({entry.turned})" if entry.turned else ""
            print(f"  {entry.path.name} {width}x{height}, the mask "
                  f"{mask_width}x{mask_height}{turned}")


def print_outcome(result: BatchResult, notes: Iterable[str] | None = None, *,
                  skips: bool = True) -> None:
    """What a folder run printed under its summary line, each group under its own heading
    and in this order: the pictures that failed (:func:`print_failures`), those skipped
    (:func:`print_skipped`; not with ``skips=False``, for a stopped run whose message counts
    them), then one ``note: ...`` line per note on the results written (``notes``; by
    default :func:`engines.batch.note_lines`: guidance a picture's fill could not follow,
    what reading a picture converted (16 bits, only its first frame...), transparency
    flattened onto white, the metadata of a result written as BMP or GIF, a grey colour
    profile a colour result left out, each as ``inpaint`` says it). Skips and notes are no
    failure: they change no exit code."""
    print_failures(result)
    if skips:
        print_skipped(result)
    for line in note_lines(result) if notes is None else notes:
        print(f"note: {line}")


def _interrupted(stop: BatchInterrupted, overwrite: bool) -> KeyboardInterrupt:
    """The interrupt to raise after Ctrl+C stopped a folder run: its message says how far the
    run got and how to finish it (printed by :func:`cli.main`, exit code 130).

    After a run with ``overwrite``, the results an earlier run left for the pictures not
    redone (:attr:`~engines.batch.BatchInterrupted.earlier`) are listed on stdout, one name
    a line: a run without ``--overwrite`` would keep them, so the advice is to run the same
    command again (every picture is redone) or to delete those files first."""
    print_outcome(stop.result, skips=False)
    again = ("run the same command without --overwrite to finish the rest" if overwrite else
             "run the same command again to finish the rest: the results already there are "
             "skipped")
    if stop.earlier:
        count, noun = len(stop.earlier), stop.result.noun
        _print_earlier(stop.earlier, noun)
        listed, those = ((f"the {noun} listed above is", "that file") if count == 1 else
                         (f"the {count} {noun}s listed above are", f"those {count} files"))
        again = (f"{listed} still from before this run: run the same command again to redo "
                 f"every picture, or delete {those} and run it without --overwrite to finish "
                 "only the rest")
    return KeyboardInterrupt(f"interrupted: {so_far(stop.result, stop.not_done)}; {again}")


def _print_earlier(earlier: tuple[Path, ...], noun: str) -> None:
    """List on stdout, one name a line, the results an earlier run left for the pictures a
    stopped ``--overwrite`` run did not redo (:attr:`~engines.batch.BatchInterrupted.earlier`,
    :attr:`~engines.batch.BatchStopped.earlier`)."""
    count = len(earlier)
    print(f"{count_noun(count, noun)} in {earlier[0].parent} "
          f"{'is' if count == 1 else 'are'} still from before this run (not redone):")
    for path in earlier:
        print(f"  {path.name}")


def _stopped(stop: BatchStopped) -> int:
    """Say why a folder run stopped part way and what it did (with ``--overwrite``, also
    which results are still an earlier run's); returns the exit code."""
    print_outcome(stop.result, skips=False)
    if stop.earlier:
        _print_earlier(stop.earlier, stop.result.noun)
    print(f"error: {stop}", file=sys.stderr)
    return EXIT_FAILED


def run_to_end(clear: Callable[[], BatchResult], close: Callable[[], None],
               overwrite: bool) -> BatchResult | int:
    """``clear()``'s result (a :func:`engines.batch.clear_folder` run). A run stopped part
    way first calls ``close()``, so that the progress bar ends before the message: Ctrl+C is
    raised again, saying how to finish (:func:`_interrupted`), and a stop for lack of room
    is said and its exit code returned (:func:`_stopped`)."""
    try:
        return clear()
    except BatchInterrupted as stop:
        close()
        raise _interrupted(stop, overwrite) from None
    except BatchStopped as stop:
        close()
        return _stopped(stop)


def run(args: argparse.Namespace) -> int:
    registry.engine_class(args.engine)  # an unknown name fails before any work
    options = engine_options(args)
    settings = request_settings(args)  # a --context the strategy ignores is refused here
    if args.other_sizes is not None and args.masks:  # and an --other-sizes --masks ignores
        raise InputError("--other-sizes applies to --mask (one mask for every picture), not "
                         "--masks: each mask there must be its picture's size")
    mask_path, masks = (Path(args.mask) if args.mask else None,
                        Path(args.masks) if args.masks else None)
    in_use: list[Path] = []  # the mask files, found once: no result may replace one

    def leave_out(files: list[Path]) -> dict[str, list[Path]]:
        in_use.extend(masks_in_use(files, mask_path, masks))
        return {MASKS_LEFT_OUT: in_use,
                REFERENCES_LEFT_OUT: [Path(path) for path in args.exemplar or ()]}

    sources = folder_pictures(  # a mask file or a reference photo there is not a picture
        args.images, args.output, "results", used_folders=[masks] if masks else [],
        leave_out=leave_out)
    mask = load_mask(mask_path) if mask_path else mask_finder(masks)
    references = load_references(args.exemplar, args.engine, options)  # once for the folder
    if references:
        settings["exemplars"] = tuple(references.values())
    unused, users = registry.unused_guidance(  # said once, not per picture
        args.engine, {Guidance.EXEMPLARS} if references else set())
    with contextlib.ExitStack() as closing:  # a folder refused before any work shows no bar
        progress = folder_progress(closing, len(sources), args.engine)
        result = run_to_end(lambda: clear_folder(
            sources, args.output, mask, args.engine, progress, overwrite=args.overwrite,
            request_settings=settings, engine_options=options,
            output_format=args.format, other_sizes=args.other_sizes or "skip",
            keep_metadata=not args.strip_metadata,
            protected=protected_files(in_use, references),
            reference_names=reference_names(references),
            before_fill=shrunk_once(list(references))), closing.close, args.overwrite)
        if not isinstance(result, BatchResult):
            return result  # stopped for lack of room: its exit code
    print(f"{len(result.written)} written to {args.output}, {len(result.failed)} failed")
    print_outcome(result, [  # a result's metadata a BMP or GIF dropped: in note_lines
        *([ignored_note(args, unused, users)] if unused and result.written else []),
        *note_lines(result)])
    return EXIT_OK if result.ok else EXIT_FAILED
