"""`segment IMAGE -o LABELS.png --model MODEL`: label every pixel and save an indexed PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cli._common import StageBar, check_output_file
from engines.base import EngineError, InputError
from engines.device import require_device
from engines.fileio import ImageFileError, load_image

NAME = "segment"
HELP = ("label every pixel of IMAGE (face parts, scene classes or colour regions) and write "
        "an indexed PNG whose pixel values are the class ids")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="the picture")
    parser.add_argument("-o", "--output", required=True, metavar="LABELS.png",
                        help="label map to write (indexed PNG: pixel value = class id, "
                             "255 = unlabelled)")
    parser.add_argument("--model", default="regions", metavar="MODEL",
                        help="face (BiSeNet, 19 face parts), scene (DeepLab v2, 182 COCO-Stuff "
                             "classes), scene-lite (SegFormer, 150 ADE20K classes) or regions "
                             "(colour regions, no download; the default)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    parser.add_argument("--variant", choices=("b0", "b1", "b2", "b3", "b4", "b5"),
                        help="scene-lite: SegFormer size, b0 (fastest) to b5 (default b2)")
    parser.add_argument("--detector", choices=("resnet50", "mobilenet"),
                        help="face: RetinaFace backbone (default resnet50)")
    parser.add_argument("--regions", type=int, metavar="N",
                        help="regions: at most N regions (default 24, at most 254)")
    parser.add_argument("--overwrite", action="store_true", help="replace LABELS.png if it exists")


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


def run(args: argparse.Namespace) -> int:
    from engines.segmentation.base import create_parser
    from engines.segmentation.labelmap import save_label_png

    output = Path(args.output)
    if output.suffix.lower() != ".png" and not output.is_dir():
        raise ImageFileError(f"{output.name}: label maps are written as .png")
    check_output_file(output, "-o", args.overwrite, formats=(".png",), originals=[args.image])
    require_device(args.device)  # an accelerator asked for by name must exist
    try:
        parser = create_parser(args.model, **_options(args))
    except KeyError as exc:
        raise InputError(exc.args[0]) from None
    status = parser.status()
    if not status.ready:
        raise EngineError(f"--model {args.model}: {status.detail}")
    loaded = load_image(args.image)
    with StageBar(total=100, desc=f"{args.model} {Path(args.image).name}", unit="%",
                  bar_format=StageBar.PERCENT_FORMAT) as bar:
        def progress(fraction: float, text: str) -> None:
            bar.show(round(100 * fraction), text)

        labels = parser.parse(loaded.rgb, progress=progress)
    # the picture's own notes (its depth, how it is saved) do not concern its label map
    save_label_png(output, labels, parser.label_set, overwrite=args.overwrite)
    if args.model == "face" and not labels.any():
        print("note: no face was found; every pixel is background")
    print(f"wrote {output}: {labels.shape[1]}x{labels.shape[0]}, "
          f"{_summary(labels, parser.label_set.names)}")
    return 0
