"""`inpaint IMAGE MASK -o OUTPUT`: fill one image's mask with an engine."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli._common import (
    add_engine_arguments,
    add_metadata_argument,
    build_request,
    check_output_file,
    engine_options,
    ignored_note,
    load_labels,
    load_layer,
    load_references,
    one_line,
    reference_names,
    refuse_link_loops,
    request_settings,
    run_with_bar,
    say_shrunk_references,
)
from engines import registry
from engines.base import Engine, Guidance, InpaintRequest, InputError
from engines.device import require_device
from engines.fileio import (
    COLOUR_STROKES_FORMAT,
    dropped_metadata_note,
    load_colour_strokes,
    load_image,
    picture_notes,
    profile_note,
    save_result,
)
from engines.guidance import fill_notes

NAME = "inpaint"
HELP = "fill the white area of MASK in IMAGE and write the result to OUTPUT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # the picture and the mask are checked by run(): --exemplar takes every file name after
    # it, and written before them it leaves them missing, which run() can explain
    # IMAGE, MASK and OUTPUT are named so in the usage, the help and every message
    parser.usage = ("%(prog)s [-h] IMAGE MASK -o OUTPUT [--engine ENGINE] [options] "
                    "[--exemplar FILE [FILE ...]]")
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="the picture to fill")
    parser.add_argument("mask", nargs="?", metavar="MASK",
                        help="mask PNG, the size of IMAGE: white (or opaque) = fill")
    # required, but checked by run() too: a missing one is named with IMAGE and MASK
    parser.add_argument("-o", "--output", metavar="OUTPUT",
                        help="the result file (format by extension)")
    add_engine_arguments(parser)
    parser.add_argument("--sketch", help="structure lines to follow inside the hole (white = line)")
    parser.add_argument("--color", "--colour", dest="color", metavar="FILE",
                        help="colour hints: the fill takes the colour of the strokes "
                             f"painted in the hole; FILE is {COLOUR_STROKES_FORMAT} (as the "
                             "editor's File > Export Colour Strokes writes it)")
    parser.add_argument("--labels", help="edited label map (indexed PNG of class ids)")
    parser.add_argument("--include", help="sampling area: only these pixels are sources (white)")
    parser.add_argument("--exclude", help="sampling area: never use these pixels (white)")
    parser.add_argument("--exemplar", nargs="+", action="extend", metavar="FILE",
                        help="reference photos whose content may fill the hole: every "
                             "file name up to the next option is one, so write it after "
                             "the picture and the mask; repeatable; a file named twice is "
                             "searched once; only fully opaque pixels are copied")
    add_metadata_argument(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace OUTPUT if it exists (never one of the input files: "
                             "IMAGE, MASK, the guidance or the exemplars)")


def _named_inputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Every file the run reads, with the option naming it (``""``: IMAGE and MASK)."""
    named = [("", args.image), ("", args.mask), ("--sketch", args.sketch),
             ("--color", args.color), ("--labels", args.labels), ("--include", args.include),
             ("--exclude", args.exclude), *(("--exemplar", path) for path in args.exemplar or ())]
    return [(option, path) for option, path in named if path is not None]


def _input_files(args: argparse.Namespace) -> list[str]:
    """Every file the run reads: results never replace one of them."""
    return [path for _, path in _named_inputs(args)]


# what the command line gives for each kind of guidance an engine may require
_GUIDANCE_OPTIONS = {
    Guidance.LABELS: (lambda args: args.labels, "a label map: give --labels FILE (make one "
                      "with `python main.py segment IMAGE -o FILE`, edit it if you like)"),
    Guidance.SKETCH: (lambda args: args.sketch, "a sketch: give --sketch FILE"),
    Guidance.COLOR: (lambda args: args.color, "colour strokes: give --color FILE"),
    Guidance.SAMPLING: (lambda args: args.include or args.exclude,
                        "a sampling area: give --include FILE or --exclude FILE"),
    Guidance.EXEMPLARS: (lambda args: args.exemplar, "reference photos: give --exemplar FILE"),
}


def _require_guidance(engine: Engine, args: argparse.Namespace) -> None:
    """Raise :class:`InputError` if ``engine`` needs guidance the command line did not give."""
    for kind in sorted(engine.required_guidance):
        given, what = _GUIDANCE_OPTIONS.get(
            kind, (lambda args: None, f"{kind.value} guidance, which only the editor gives"))
        if not given(args):
            raise InputError(f"the {args.engine} engine needs {what}")


def _require_picture_mask_and_output(args: argparse.Namespace) -> None:
    """Raise :class:`InputError` when IMAGE, MASK or ``-o`` is missing, naming every one
    missing as the usage does, and when ``--exemplar`` written before them took IMAGE and
    MASK as reference photos, how to write it; when a file named is a symbolic link loop
    (:func:`cli._common.refuse_link_loops`); or when MASK is the picture's own file."""
    missing = [name.upper() for name in ("image", "mask") if getattr(args, name) is None]
    refuse_link_loops(_named_inputs(args))  # a loop is named, not taken for a bug
    if not missing and Path(args.image).resolve() == Path(args.mask).resolve():
        raise InputError(f"{args.mask}: the mask is the picture itself; give a mask file "
                         "(white = fill) of the same size")
    references = args.exemplar or []
    if missing and len(references) > len(missing):
        taken = len(references) - len(missing)
        positionals = [p for p in (args.image, args.mask) if p] + references[taken:]
        raise InputError(
            f"--exemplar takes every file name after it, so {' '.join(references)} were all "
            f"read as reference photos and {' and '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} missing; write --exemplar after IMAGE "
            f"and MASK (inpaint {' '.join(positionals)} -o {args.output or 'OUTPUT'} "
            f"--exemplar {' '.join(references[:taken])}), or end its list with another "
            "option")
    if args.output is None or (missing and not args.output):  # with both, -o "" is a folder
        missing.append("-o/--output")
    if missing:
        raise InputError(f"the following arguments are required: {', '.join(missing)}")


def _source_notes(engine: Engine, request: InpaintRequest, paths: list[str]) -> list[str]:
    """The notes on guidance ``engine`` follows but could not in this fill
    (:func:`engines.guidance.source_notes`, as the editor says them): reference photos left
    out (``paths``: as named, :func:`cli._common.load_references`), labels of the hole
    without a source, named as the label map's set names them."""
    return fill_notes(request, engine, reference_names(paths))


def run(args: argparse.Namespace) -> int:
    _require_picture_mask_and_output(args)
    settings = request_settings(args)  # a --context the strategy ignores is refused here
    output = check_output_file(args.output, "-o", args.overwrite, originals=_input_files(args))
    require_device(args.device)  # an accelerator asked for by name must exist
    engine = registry.create(args.engine, **engine_options(args))
    _require_guidance(engine, args)  # before the weights, the picture and the work
    engine.require_ready()  # missing weights are named before the picture is read
    loaded = load_image(args.image)
    shape = loaded.shape  # (H, W), naming the stored size of a photo turned upright
    # read in this order; the label set a label map names is the request's: an engine
    # trained on another set refuses the map (the semantic network)
    mask = load_layer(args.mask, shape, "mask")
    sketch = load_layer(args.sketch, shape, "sketch")
    labels, label_set = load_labels(args.labels, shape)
    if labels is not None:  # a map of a set the model was not trained on: before any bar
        engine.check_label_set(label_set)
    include = load_layer(args.include, shape, "include area")
    exclude = load_layer(args.exclude, shape, "exclude area")
    references = load_references(args.exemplar, args.engine, engine.options)
    colour = None if args.color is None else load_colour_strokes(args.color, shape)
    request = build_request(settings, loaded.rgb, mask, sketch=sketch, labels=labels,
                            include=include, exclude=exclude,
                            exemplars=tuple(references.values()), label_set=label_set,
                            color=colour, alpha=loaded.alpha)
    unused, users = registry.unused_guidance(args.engine, request.guidance_given())
    say_shrunk_references(request, engine, list(references))  # on stderr, before the bar
    final = run_with_bar(engine, request, f"{args.engine} {Path(args.image).name}")
    save_result(output, final.image, loaded, overwrite=args.overwrite,
                keep_metadata=not args.strip_metadata, edited=request.hole)
    if unused:  # with the other notes on the result
        print(one_line(f"note: {ignored_note(args, unused, users)}"))
    for note in _source_notes(engine, request, list(references)):
        print(one_line(f"note: {note}"))
    for note in picture_notes(loaded, output.suffix):  # as a folder run notes them
        print(one_line(f"note: {note}"))
    written = loaded.metadata.stripped() if args.strip_metadata else loaded.metadata
    dropped = dropped_metadata_note(written, output.suffix)  # none stripped
    if dropped is not None:  # as a folder run notes it
        print(one_line(f"note: {dropped}"))
    profile = profile_note(written, final.image, output.suffix, loaded.grey)
    if profile is not None:
        print(one_line(f"note: {profile}"))
    print(one_line(f"wrote {output}"))
    return 0
