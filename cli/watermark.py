"""``watermark``: find the watermark a folder of images shares and clear it from all of them.

The mask is estimated from the images themselves (the median of their gradients, after Dekel
et al., CVPR 2017), so the folder should hold several images (10 or more work best) of the
same size carrying the same watermark at the same place. Results go to another folder under
the same names; the originals are never touched. A picture in which the estimated watermark is
not found (:meth:`engines.watermark.WatermarkEstimate.shows_mark`) gets no file in the output
folder and is named in the summary as not written, unless ``--unmarked fill`` asks to fill it
anyway.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from cli import EXIT_FAILED, EXIT_OK
from cli._common import (
    add_engine_arguments,
    add_metadata_argument,
    add_old_name,
    check_output_file,
    engine_options,
    folder_pictures,
    one_line,
    raise_kept_interrupt,
    ranged,
    refuse_link_loops,
    request_settings,
)
from cli.batch import print_bug_hint, print_outcome, run_to_end
from engines import registry
from engines.base import InputError
from engines.batch import SIZE_POLICIES, BatchResult, clear_folder
from engines.device import require_device
from engines.fileio import IMAGE_SUFFIXES, encode_image, names_and_more, write_atomic
from engines.watermark import (
    LEFT_OUT_SHOWN,
    MIN_IMAGES,
    WatermarkEstimate,
    estimate_watermark_mask,
    left_out_note,
    preview_image,
    undecided_note,
)

UNMARKED_POLICIES = ("skip", "fill")
NAME = "watermark"
HELP = "estimate the watermark shared by a folder of images and remove it from all of them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", required=True, metavar="DIR",
                        help="folder of images carrying the same watermark at the same place "
                             "(only those directly in it: subfolders are not searched, links "
                             "to folders neither; a link to a picture counts; the summary names "
                             "what was left out)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="folder for the cleared images (created if missing; must differ "
                             "from --images)")
    # the engine and how it sees each picture, as for `inpaint` and `batch`; --margin keeps
    # its old meaning here (see --grow)
    add_engine_arguments(parser, default_engine="telea", margin_is_context=False)
    parser.add_argument("--mask-out", metavar="MASK.png",
                        help="also save the estimated mask (white = watermark) as a PNG")
    parser.add_argument("--preview", metavar="PREVIEW.png",
                        help="also save a picture of the estimated watermark with the mask "
                             "outlined")
    parser.add_argument("--min-images", type=int, default=MIN_IMAGES, metavar="N",
                        help=f"refuse with fewer than N images of one size; N is at least 2 "
                             f"(default: {MIN_IMAGES})")
    grow = parser.add_argument("--grow", type=ranged(int, 0, 100), default=2, metavar="PX",
                               help="grow the mask by PX pixels around the watermark, 0 to 100 "
                                    "(default: 2)")
    add_old_name(parser, "--margin", grow)
    parser.add_argument("--other-sizes", choices=SIZE_POLICIES, default="skip",
                        help="images of another size than most: skip them (default) or "
                             "'anchor' the mask at the same distance from the nearest corner, "
                             "edge middle or centre")
    parser.add_argument("--unmarked", choices=UNMARKED_POLICIES, default="skip",
                        help="images in which the estimated watermark is not found: write "
                             "nothing for them in the output folder (default; the summary "
                             "names them), or 'fill' the mask in them all the same")
    add_metadata_argument(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results already in the output folder and the mask "
                             "and preview files (never the input images); without it, the "
                             "images whose result is there are skipped and a mask or preview "
                             "file already there is kept if it is the one this run makes, "
                             "else refused, so the same command finishes an interrupted run")


class _Bar:
    """A tqdm bar driven by ``(fraction, message)`` progress callbacks."""

    def __init__(self, description: str, total: int) -> None:
        self._bar = tqdm(total=total, desc=description, unit="img", file=sys.stderr,
                         dynamic_ncols=True, disable=None)
        self._total = total

    def __call__(self, fraction: float, message: str) -> None:
        raise_kept_interrupt()  # a Ctrl+C a library dropped stops the run here
        done = round(fraction * self._total)
        if done != self._bar.n:
            self._bar.update(done - self._bar.n)
        self._bar.set_postfix_str(message, refresh=False)

    def close(self) -> None:
        self._bar.close()


def _check_outputs(mask_out: str | None, preview: str | None, pictures: list[Path],
                   images: Path, output: Path) -> None:
    """Refuse before any work a mask or preview file that cannot be written, that would
    replace an input picture (never, whatever ``--overwrite`` says) or that would go into
    the ``images`` folder, where it would be taken for a picture to clear (and, run again,
    for an input). One already there is judged once the estimate says what it should hold
    (:func:`_save_side_files`)."""
    for option, value, formats in (("--mask-out", mask_out, (".png",)),
                                   ("--preview", preview, IMAGE_SUFFIXES)):
        if value is None:
            continue
        check_output_file(value, option, True, formats, originals=pictures, created=output)
        if Path(value).resolve().parent == images.resolve():
            raise InputError(f"{option} {value} would go into the pictures' folder {images}, "
                             "where it would be taken for a picture; write it elsewhere "
                             "(the output folder, say)")


def _same_contents(path: Path, data: bytes) -> bool:
    """Whether the file at ``path`` holds exactly ``data`` (False if it cannot be read)."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _save_side_files(files: list[tuple[str, str, Path, bytes]], output: Path,
                     overwrite: bool) -> None:
    """Write the mask and preview files: ``(option, what, path, encoded bytes)`` each.

    Without ``overwrite`` a file already there is kept when it holds these very bytes (the
    same command run again after an interrupted run), and refused, before anything is
    written, when it holds anything else (:class:`InputError` naming the option)."""
    kept = set()
    for option, what, path, data in files:
        if path.exists() and not overwrite:
            if not _same_contents(path, data):
                raise InputError(f"{option} {path} already exists and is not this run's "
                                 f"{what}; add --overwrite to replace it, or choose another "
                                 "name")
            kept.add(path)
    if files:
        output.mkdir(parents=True, exist_ok=True)  # they may go into it
    for _option, what, path, data in files:
        if path in kept:
            print(one_line(f"{what} already saved to {path}"))
        else:
            print(one_line(f"{what} saved to {write_atomic(path, data, overwrite)}"))


def run(args: argparse.Namespace) -> int:
    refuse_link_loops([("--images", args.images), ("-o", args.output),
                       ("--mask-out", args.mask_out), ("--preview", args.preview)])
    images, output = Path(args.images), Path(args.output)
    options = engine_options(args)  # an unknown engine or option fails before any work
    settings = request_settings(args)  # so does a --context the strategy ignores
    pictures = folder_pictures(images, output, "cleared images")
    count = len(pictures)
    _check_outputs(args.mask_out, args.preview, pictures, images, output)
    if args.min_images < 2:
        raise InputError("--min-images must be at least 2")
    require_device(args.device)  # before the long estimate, not after it
    engine = registry.create(args.engine, **options)
    engine.require_ready()

    bar = _Bar("estimating", count)
    try:
        estimate = estimate_watermark_mask(pictures, bar, min_images=args.min_images,
                                           margin=args.grow)
    finally:
        bar.close()
    # one line, the first few named, in the words of a refused estimate
    left_out = left_out_note(estimate.skipped, LEFT_OUT_SHOWN)
    if left_out:
        print(left_out)
    if not estimate.found:
        raise InputError(f"no watermark found: nothing is shared by the {estimate.used} images "
                         f"(are they watermarked at the same place?)")
    x, y, w, h = estimate.box
    share = 100.0 * (estimate.mask >= 128).mean()
    print(one_line(f"watermark found, estimated from {estimate.used} images: {w}x{h} at "
                   f"({x}, {y}), {share:.1f}% of the image{_unmarked_in_estimate(estimate)}"))
    side_files = []  # encoded as save_mask and save_image write them
    if args.mask_out:
        side_files.append(("--mask-out", "mask", Path(args.mask_out),
                           encode_image(estimate.mask, ".png")))
    if args.preview:
        path = Path(args.preview)
        side_files.append(("--preview", "preview", path,
                           encode_image(preview_image(estimate), path.suffix)))
    _save_side_files(side_files, output, args.overwrite)

    bar = _Bar("clearing", count)
    try:
        result = run_to_end(lambda: clear_folder(
            pictures, output, estimate.mask, engine, bar, overwrite=args.overwrite,
            request_settings=settings, other_sizes=args.other_sizes,
            keep_metadata=not args.strip_metadata,
            shows_mark=estimate.shows_mark if args.unmarked == "skip" else None),
            bar.close, args.overwrite, more=print_unmarked,
            debug=getattr(args, "debug", False))
    finally:
        bar.close()
    if not isinstance(result, BatchResult):
        return result  # stopped for lack of room: its exit code
    print(f"{len(result.written)} written to {output}, {len(result.failed)} failed")
    print_outcome(result, debug=getattr(args, "debug", False))  # --debug: tracebacks
    print_unmarked(result)
    none_marked = bool(result.unmarked) and not result.written and not result.skipped
    if none_marked:
        print("error: the watermark was found in none of the images; nothing was written "
              "(--unmarked fill fills them all the same)", file=sys.stderr)
    print_bug_hint(result, getattr(args, "debug", False))  # last, as a single run says it
    return EXIT_FAILED if none_marked or not result.ok else EXIT_OK


def _unmarked_in_estimate(estimate: WatermarkEstimate) -> str:
    """``"; 1 of them shows no mark: rocket.jpg"``: the images the estimate was made from
    that do not carry it (:attr:`~engines.watermark.WatermarkEstimate.unmarked`, the first
    few named), for its line; when none is judged
    (:attr:`~engines.watermark.WatermarkEstimate.lacking`), how many seem to lack it and
    why that cannot be told (:func:`~engines.watermark.undecided_note`); "" for none, or
    when they were not judged (several groups)."""
    undecided = undecided_note(estimate)
    if undecided:
        return f"; {undecided}, so every image is filled"
    names = estimate.unmarked or ()
    if not names:
        return ""
    verb = "shows" if len(names) == 1 else "show"
    listed = names_and_more([Path(name) for name in names], LEFT_OUT_SHOWN)
    return f"; {len(names)} of them {verb} no mark: {listed}"


def print_unmarked(result: BatchResult) -> None:
    """The pictures for which nothing was written in the output folder because the
    watermark was not found in them (:attr:`engines.batch.BatchResult.unmarked`) under
    their own heading, one name a line; nothing when there are none. No failure."""
    if not result.unmarked:
        return
    count = len(result.unmarked)
    print(f"{count} not written (the watermark was not found in "
          f"{'it' if count == 1 else 'them'}; --unmarked fill fills them):")
    for path in result.unmarked:
        print(one_line(f"  {path.name}"))
