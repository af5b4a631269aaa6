"""`segment IMAGE -o LABELS.png --parser NAME`: label every pixel and save an indexed PNG;
`segment FOLDER -o OUTFOLDER`: the same for every picture of a folder, one map each."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cli import EXIT_FAILED, EXIT_OK
from cli._common import (
    StageBar,
    add_device_argument,
    add_parser_argument,
    check_output_file,
    folder_pictures,
    folder_progress,
    one_line,
    ranged,
    refuse_link_loops,
)
from cli.batch import (
    file_names,
    folder_names,
    named_file,
    print_bug_hint,
    print_outcome,
    run_to_end,
)
from engines.base import UNLABELLED, EngineCrashed, EngineError, InputError
from engines.batch import (
    WORK_SHARE,
    BatchInterrupted,
    BatchResult,
    BatchStopped,
    label_folder,
    label_map_path,
    note_lines,
)
from engines.device import require_device
from engines.fileio import ImageFileError, count_noun, list_images, load_image
from engines.segmentation.labels import MAX_REGIONS

NAME = "segment"
HELP = ("label every pixel of IMAGE, or of every picture of a FOLDER (face parts, scene "
        "classes or colour regions), and write indexed PNGs whose pixel values are the class "
        "ids")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE_OR_FOLDER",
                        help="the picture, or a folder of pictures: only those directly in "
                             "it (subfolders are not searched, links to folders neither; a "
                             "link to a picture counts); what was left out is named")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="LABELS.png, the label map to write (indexed PNG: pixel value = "
                             "class id, 255 = unlabelled); for a folder, the folder the maps "
                             "go into "
                             "(created if missing, never the input folder), each named after "
                             "its picture with .png: photo.jpg -> OUTPUT/photo.png")
    add_parser_argument(parser, "what labels the pixels", old_name="--model")
    add_device_argument(parser)
    parser.add_argument("--variant", choices=("b0", "b1", "b2", "b3", "b4", "b5"),
                        help="scene-lite: SegFormer size, b0 (fastest) to b5 (default b2)")
    parser.add_argument("--detector", choices=("resnet50", "mobilenet"),
                        help="face: RetinaFace backbone (default resnet50)")
    parser.add_argument("--regions", type=ranged(int, 1, MAX_REGIONS), metavar="N",
                        help=f"regions: at most N regions, 1 to {MAX_REGIONS} (default 24)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace LABELS.png if it exists; for a folder, label again the "
                             "pictures whose map is already in the output folder and replace "
                             "it (without it they are skipped: run the same command again to "
                             "finish an interrupted run)")


def _options(args: argparse.Namespace) -> dict:
    given = {"variant": (args.variant, "scene-lite"), "detector": (args.detector, "face"),
             "max_regions": (args.regions, "regions")}
    options = {"device": args.device}
    for key, (value, name) in given.items():
        if value is None:
            continue
        if args.parser != name:
            flag = "--regions" if key == "max_regions" else f"--{key}"
            raise InputError(f"{flag} applies to --parser {name}, not {args.parser}")
        options[key] = value
    return options


def _summary(labels: np.ndarray, names: tuple[str, ...], noun: str = "class",
             shown: int = 5) -> str:
    """``17 labels (region 0 71%, region 3 9%, ..., +12 more)``: how many ids ``labels``
    holds, called ``noun`` (:func:`_noun`), and the ``shown`` largest with their shares.
    Unlabelled pixels (:data:`~engines.base.UNLABELLED`) are no label, as in the editor's
    "N labels found": not counted, their share said last (``2 classes (sky 60%, sea 30%;
    10% unlabelled)``)."""
    counts = np.bincount(labels.ravel(), minlength=256)
    unlabelled = int(counts[UNLABELLED])
    counts[UNLABELLED] = 0
    present = [int(i) for i in np.argsort(-counts) if counts[i]]
    parts = [f"{names[i] if i < len(names) else f'id {i}'} {_share(counts[i], labels.size)}"
             for i in present[:shown]]  # an id its label set leaves unnamed: by number
    more = f", +{len(present) - shown} more" if len(present) > shown else ""
    rest = f"{_share(unlabelled, labels.size)} unlabelled" if unlabelled else ""
    plural = noun + ("es" if noun.endswith("s") else "s")
    listed = "; ".join(filter(None, (", ".join(parts) + more, rest)))
    return f"{len(present)} {noun if len(present) == 1 else plural} ({listed})"


def _share(count: int, total: int) -> str:
    """``count`` of ``total`` pixels as a whole percentage, ``"<1%"`` for a share that
    rounds to 0 but is not none."""
    share = 100 * count / total
    return "<1%" if 0 < share < 0.5 else f"{share:.0f}%"


def _noun(label_set: str) -> str:
    """What ``segment`` calls the ids of a map of the label set named ``label_set``:
    "label" for the colour regions (numbered, with no meaning; the editor says "17 labels
    found"), "class" for a parser whose ids are named classes (face parts, scene classes)."""
    return "label" if label_set == "regions" else "class"


def _parser(args: argparse.Namespace):
    """The parser ``--parser`` names with its options; raises before any work (an unknown
    name, an accelerator missing). Its readiness is checked by the caller, under
    :func:`_naming_the_parser`."""
    from engines.segmentation.base import create_parser

    require_device(args.device)  # an accelerator asked for by name must exist
    try:
        return create_parser(args.parser, **_options(args))
    except KeyError as exc:
        raise InputError(exc.args[0]) from None


@contextlib.contextmanager
def _naming_the_parser(args: argparse.Namespace) -> Iterator[None]:
    """An :class:`EngineError` raised in the block (a parser that is not ready: weights
    missing or damaged) is raised again saying ``--parser NAME:`` first."""
    try:
        yield
    except EngineCrashed:
        raise
    except EngineError as exc:
        raise EngineError(f"--parser {args.parser}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    refuse_link_loops([("", args.image), ("-o", args.output)])  # named, not taken for a bug
    if Path(args.image).is_dir():
        return _run_folder(args)
    from engines.segmentation.labelmap import save_label_png

    output = Path(args.output)
    if output.suffix.lower() != ".png" and not output.is_dir():
        raise ImageFileError(f"{output.name}: label maps are written as .png")
    check_output_file(output, "-o", args.overwrite, formats=(".png",), originals=[args.image])
    parser = _parser(args)
    with _naming_the_parser(args):
        parser.require_ready()  # missing weights are named before the picture is read
    loaded = load_image(args.image)
    with StageBar(total=100, desc=f"{args.parser} {Path(args.image).name}", unit="%",
                  bar_format=StageBar.PERCENT_FORMAT) as bar:
        def progress(fraction: float, text: str) -> None:
            bar.show(round(100 * WORK_SHARE * fraction), text)

        labels = parser.run(loaded.rgb, progress=progress)  # a bug: named after the parser
        bar.show(round(100 * WORK_SHARE), f"writing {output.name}")
        # the picture's own notes (its depth, how it is saved) do not concern its label map
        save_label_png(output, labels, parser.label_set, overwrite=args.overwrite)
        bar.show(100, "written")
    for note in (parser.map_note(labels), _taken_as_mask_note(Path(args.image), output)):
        if note:
            print(one_line(f"note: {note}"))
    print(one_line(f"wrote {output}: {labels.shape[1]}x{labels.shape[0]}, "
                   f"{_summary(labels, parser.label_set.names, _noun(parser.label_set.name))}"))
    return EXIT_OK


def _taken_as_mask_note(image: Path, output: Path) -> str | None:
    """Why the label map ``output``, just written, is named badly: ``batch --masks`` on its
    folder would take it as the mask of a picture there (the one :func:`cli.batch.named_file`
    finds, ``photo.jpg`` -> ``photo.png``, ``photo_mask.png``...): its own picture
    ``image`` beside it, or another one (``segment photo.jpg -o other.png`` beside
    ``other.jpg``), with a name to give it instead (``photo_labels.png``, as ``batch
    --labels`` names label maps). None when no picture there would take it (another file
    there taken first). The map is kept: the user chose its name."""
    folder = output.parent
    names = folder_names(folder)  # read once for every picture's lookup
    taker = next((picture for picture in _pictures_named_like(image, output)
                  if (mask := named_file(picture, folder, names=names)) is not None
                  and mask.resolve() == output.resolve()), None)
    if taker is None:
        return None
    other = file_names("labels")[1].format(stem=image.stem)
    where = "this folder" if folder.resolve() == image.parent.resolve() else str(folder)
    return (f"batch --masks on {where} would take {output.name} as {taker.name}'s mask; "
            f"name the label map {other} to keep them apart")


def _pictures_named_like(image: Path, output: Path) -> Iterator[Path]:
    """The pictures in ``output``'s folder whose name ``output``'s begins with (the only ones
    that may take it as their mask), ``image`` first where it is there; never ``output``."""
    folder = output.parent
    if image.parent.resolve() == folder.resolve():
        yield image
    try:
        pictures = list_images(folder)
    except OSError:  # the map was written there: unreadable only in a race
        return
    key = unicodedata.normalize("NFC", output.name).casefold()
    for picture in pictures:
        if picture.resolve() in (image.resolve(), output.resolve()):
            continue
        if key.startswith(unicodedata.normalize("NFC", picture.stem).casefold()):
            yield picture


def _run_folder(args: argparse.Namespace) -> int:
    """``segment FOLDER -o OUTFOLDER``: one label map per picture
    (:func:`engines.batch.label_folder`); Ctrl+C (exit 130) and SIGTERM (exit 143) stop the
    run saying what was written and kept. The networks' loading, before the first picture,
    is said on a line of its own, so the bar's clock (and the time left it shows) starts
    with the pictures. The pictures without a face are listed one a line after the other
    notes (:func:`_print_no_face`), by a run stopped part way as by a finished one."""
    images, output = Path(args.image), Path(args.output)
    pictures = folder_pictures(images, output, "label maps")
    parser = _parser(args)  # label_folder checks that it is ready, before any work
    loading = getattr(parser, "loading", None)  # a network parser's
    with contextlib.ExitStack() as closing:  # Ctrl+C and SIGTERM: cli.main says them
        show = folder_progress(closing, len(pictures), args.parser)

        def progress(fraction: float, message: str) -> None:
            if message == loading:  # a picture's own step is "name: step"
                print(f"{args.parser}: {message}", file=sys.stderr, flush=True)
            else:
                show(fraction, message)

        stopped_no_face: set[Path] = set()  # of a run stopped part way, said after it

        def labelling() -> BatchResult:
            try:
                return label_folder(pictures, output, parser, progress,
                                    overwrite=args.overwrite)
            except (BatchInterrupted, BatchStopped) as stop:  # its notes said by run_to_end:
                found, stop.result = _no_face_notes(stop.result)  # those without a face
                stopped_no_face.update(found)  # are listed after, as a finished run does
                raise

        with _naming_the_parser(args):  # the errors that stop the run are the parser's
            try:
                result = run_to_end(labelling, closing.close, args.overwrite,
                                    debug=getattr(args, "debug", False))
            except KeyboardInterrupt:  # Ctrl+C: what was done is said, then this list
                _print_no_face(stopped_no_face, pictures, output)
                raise
        if not isinstance(result, BatchResult):
            _print_no_face(stopped_no_face, pictures, output)
            return result  # stopped for lack of room: its exit code
    print(f"{count_noun(len(result.written), 'label map')} written to {output}, "
          f"{len(result.failed)} failed")
    no_face, others = _no_face_notes(result)
    # the failed, the skipped, then the notes (the pictures without a face last: a list)
    print_outcome(result, note_lines(others), debug=getattr(args, "debug", False))
    _print_no_face(no_face, pictures, output)
    print_bug_hint(result, getattr(args, "debug", False))  # last, as a single run says it
    return EXIT_OK if result.ok else EXIT_FAILED


def _no_face_notes(result: BatchResult) -> tuple[set[Path], BatchResult]:
    """The maps of ``result`` in which the face parser found no face
    (:data:`engines.segmentation.face.NO_FACE`), and ``result`` with its other notes only
    (a plugin parser's :meth:`~engines.segmentation.base.Parser.map_note`)."""
    if not result.notes:
        return set(), result
    # imported here, once there are notes: imported at the top, it would register the face
    # parser before the others, changing the order parsers are listed in
    from engines.segmentation.face import NO_FACE

    return ({path for path, note in result.notes if note == NO_FACE},
            dataclasses.replace(result, notes=tuple(
                (path, note) for path, note in result.notes if note != NO_FACE)))


def _print_no_face(maps: set[Path], pictures: list[Path], output: Path) -> None:
    """Name the pictures whose label ``maps`` (:func:`_no_face_notes`) show no face, one a
    line under a count (``output``: the maps' folder). Their maps were written, all
    background: a re-run skips them and ``train semantic`` may use them, so this is a note,
    not a failure."""
    if not maps:
        return
    which = "their maps are" if len(maps) > 1 else "its map is"
    print(f"note: {count_noun(len(maps), 'picture')} had no face: {which} all background")
    for picture in pictures:
        if label_map_path(picture, output) in maps:
            print(f"  {picture.name}")
