"""`segment IMAGE -o LABELS.png --model MODEL`: label every pixel and save an indexed PNG;
`segment FOLDER -o OUTFOLDER`: the same for every picture of a folder, one map each."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np

from cli import EXIT_FAILED, EXIT_OK
from cli._common import (
    StageBar,
    check_output_file,
    folder_progress,
    ranged,
)
from cli.batch import print_failures, print_skipped, run_to_end
from engines.base import EngineError, InputError
from engines.batch import WORK_SHARE, BatchResult, check_output_folder, label_folder
from engines.device import require_device
from engines.fileio import (
    IMAGE_SUFFIXES,
    ImageFileError,
    count_noun,
    list_images,
    load_image,
    skipped_files_note,
)

NAME = "segment"
HELP = ("label every pixel of IMAGE, or of every picture of a FOLDER (face parts, scene "
        "classes or colour regions), and write indexed PNGs whose pixel values are the class "
        "ids")
# engines.segmentation.regions.MAX_REGIONS (importing that module here would load numba
# for every command)
MAX_REGIONS = 254


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE",
                        help="the picture, or a folder of pictures: only those directly in "
                             "it (subfolders are not searched, links to folders neither; a "
                             "link to a picture counts); what was left out is named")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="LABELS.png, the label map to write (indexed PNG: pixel value = "
                             "class id, 255 = unlabelled); for a folder, the folder the maps "
                             "go into "
                             "(created if missing, never the input folder), each named after "
                             "its picture with .png: photo.jpg -> OUTPUT/photo.png")
    parser.add_argument("--model", default="regions", metavar="MODEL",
                        help="face (BiSeNet, 19 face parts), scene (DeepLab v2, 182 COCO-Stuff "
                             "classes), scene-lite (SegFormer, 150 ADE20K classes) or regions "
                             "(colour regions, no download; the default)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
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
    for key, (value, model) in given.items():
        if value is None:
            continue
        if args.model != model:
            flag = "--regions" if key == "max_regions" else f"--{key}"
            raise InputError(f"{flag} applies to --model {model}, not {args.model}")
        options[key] = value
    return options


def _summary(labels: np.ndarray, names: tuple[str, ...], shown: int = 5) -> str:
    counts = np.bincount(labels.ravel(), minlength=256)
    present = [int(i) for i in np.argsort(-counts) if counts[i]]
    parts = [f"{names[i] if i < len(names) else 'unlabelled'} {100 * counts[i] / labels.size:.0f}%"
             for i in present[:shown]]
    more = f", +{len(present) - shown} more" if len(present) > shown else ""
    noun = "class" if len(present) == 1 else "classes"
    return f"{len(present)} {noun} ({', '.join(parts)}{more})"


def _ready_parser(args: argparse.Namespace):
    """The parser ``--model`` names with its options, ready to run; raises before any work
    (an unknown name, an accelerator missing, weights missing or damaged)."""
    from engines.segmentation.base import create_parser

    require_device(args.device)  # an accelerator asked for by name must exist
    try:
        parser = create_parser(args.model, **_options(args))
    except KeyError as exc:
        raise InputError(exc.args[0]) from None
    status = parser.status()
    if not status.ready:
        raise EngineError(f"--model {args.model}: {status.detail}")
    return parser


def run(args: argparse.Namespace) -> int:
    if Path(args.image).is_dir():
        return _run_folder(args)
    from engines.segmentation.labelmap import save_label_png

    output = Path(args.output)
    if output.suffix.lower() != ".png" and not output.is_dir():
        raise ImageFileError(f"{output.name}: label maps are written as .png")
    check_output_file(output, "-o", args.overwrite, formats=(".png",), originals=[args.image])
    parser = _ready_parser(args)
    loaded = load_image(args.image)
    with StageBar(total=100, desc=f"{args.model} {Path(args.image).name}", unit="%",
                  bar_format=StageBar.PERCENT_FORMAT) as bar:
        def progress(fraction: float, text: str) -> None:
            bar.show(round(100 * WORK_SHARE * fraction), text)

        labels = parser.parse(loaded.rgb, progress=progress)
        bar.show(round(100 * WORK_SHARE), f"writing {output.name}")
        # the picture's own notes (its depth, how it is saved) do not concern its label map
        save_label_png(output, labels, parser.label_set, overwrite=args.overwrite)
        bar.show(100, "written")
    if args.model == "face" and not labels.any():
        print("note: no face was found; every pixel is background")
    print(f"wrote {output}: {labels.shape[1]}x{labels.shape[0]}, "
          f"{_summary(labels, parser.label_set.names)}")
    return EXIT_OK


def _folder_pictures(images: Path, output: Path) -> list[Path]:
    """The pictures of the folder ``images``, after saying what else it holds (stderr);
    raises :class:`InputError` before any work when there are none or when the label maps
    cannot go into ``output`` (a file, a picture's name, the input folder, not writable)."""
    pictures = list_images(images)
    skipped = skipped_files_note(images, used_folders=[output])
    if not pictures:
        kinds = ", ".join(suffix[1:] for suffix in IMAGE_SUFFIXES)
        raise InputError(f"{images} holds no pictures ({kinds})"
                         + (f"; {skipped}" if skipped else ""))
    if output.exists() and not output.is_dir():
        raise InputError(f"-o {output} is a file; for a folder of pictures give the folder "
                         "the label maps go into")
    if not output.exists() and output.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"-o {output} names a picture, but {images} is a folder: give the "
                         "folder the label maps go into (one per picture, named after it)")
    if output.resolve() == images.resolve():
        raise InputError("-o is the folder of the pictures; choose another folder: the label "
                         "maps would be taken for pictures, and the originals are never "
                         "replaced")
    check_output_folder(output)
    if skipped:
        print(skipped, file=sys.stderr)
    return pictures


def _run_folder(args: argparse.Namespace) -> int:
    """``segment FOLDER -o OUTFOLDER``: one label map per picture
    (:func:`engines.batch.label_folder`); Ctrl+C (exit 130) and SIGTERM (exit 143) stop the
    run saying what was written and kept."""
    images, output = Path(args.image), Path(args.output)
    pictures = _folder_pictures(images, output)
    parser = _ready_parser(args)
    with contextlib.ExitStack() as closing:  # Ctrl+C and SIGTERM: cli.main says them
        progress = folder_progress(closing, len(pictures), args.model)
        result = run_to_end(lambda: label_folder(pictures, output, parser, progress,
                                                 overwrite=args.overwrite),
                            closing.close, args.overwrite)
        if not isinstance(result, BatchResult):
            return result  # stopped for lack of room: its exit code
    print(f"{count_noun(len(result.written), 'label map')} written to {output}, "
          f"{len(result.failed)} failed")
    print_skipped(result)
    print_failures(result)
    return EXIT_OK if result.ok else EXIT_FAILED
