"""Helpers shared by the CLI commands: options, requests from files, the checks of folder
runs, progress bars."""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engines import registry
from engines.base import (
    CROP_MARGIN_RANGE,
    MIN_CROP_CONTEXT,
    SEED_RANGE,
    Engine,
    Guidance,
    InpaintRequest,
    InputError,
    Stage,
    Strategy,
    one_line,
    parse_option_text,
)
from engines.batch import check_output_folder
from engines.fileio import (
    IMAGE_SUFFIXES,
    ImageFileError,
    count_noun,
    empty_layer_problem,
    is_link_loop,
    join_words,
    list_images_and_note,
    load_mask,
    load_reference,
    read_file_bytes,
    refuse_read_only,
)
from engines.guidance import reference_patch_size, reference_pixels, reference_problem
from engines.region import shrunk_references_note

DEFAULT_CONTEXT = InpaintRequest.crop_margin  # --context not given: the request's default


def ranged(kind: type, minimum: float, maximum: float | None = None,
           above: bool = False):
    """An argparse ``type`` reading a ``kind`` (int or float) from ``minimum`` (excluded with
    ``above``) to ``maximum`` (None: no upper bound); NaN and infinities are refused."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        low_ok = value > minimum if above else value >= minimum
        if not math.isfinite(value) or not low_ok or (maximum is not None and value > maximum):
            limit = f"more than {minimum}" if above else f"at least {minimum}"
            if maximum is not None:
                limit = (f"{limit} and at most {maximum}" if above
                         else f"from {minimum} to {maximum}")
            raise argparse.ArgumentTypeError(f"{text} is out of range; it must be {limit}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def add_old_name(parser: argparse.ArgumentParser, old: str, action: argparse.Action) -> None:
    """Take ``old``, an earlier spelling of ``action``'s option, as that option (the same
    destination, type, choices and checks; an error names ``old`` as typed), left out of
    ``--help``, the usage line and abbreviations (it is taken typed in full); the option's
    own help says the old name (appended here). Given with the new name, it is refused
    (:class:`cli._parsing.CommandParser`)."""
    parser.add_argument(old, dest=action.dest, type=action.type, choices=action.choices,
                        metavar=action.metavar, default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    action.help += f"; {old} is its old name"


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """--device: where the networks run (``args.device``)."""
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")


def add_engine_arguments(parser: argparse.ArgumentParser, default_engine: str = "patchmatch",
                         margin_is_context: bool = True) -> None:
    """--engine, --strategy, --context (``args.context``), --device, --seed, --option: what
    an inpainting engine is and how it sees the picture, with the meaning the editor's
    engine panel gives them. ``margin_is_context``: also take ``--margin``, the old name of
    --context (not where --margin has another meaning: ``watermark``'s mask growth)."""
    parser.add_argument("--engine", default=default_engine,
                        help=f"engine name (default: {default_engine}; `engines` lists them)")
    parser.add_argument("--strategy", choices=[s.value for s in Strategy], default="crop",
                        help="crop: around the hole with context (default); resize: whole "
                             "image scaled to the engine's size; original: full resolution")
    low, high = CROP_MARGIN_RANGE
    # None: not given (request_settings() uses the default, and refuses it given with
    # another strategy, which would ignore it)
    context = parser.add_argument(
        "--context", type=ranged(int, low, high), metavar="PX",
        help=f"context around the hole with --strategy crop, {low} to {high} (default "
             f"{DEFAULT_CONTEXT}; at least {MIN_CROP_CONTEXT} px are kept)")
    if margin_is_context:
        add_old_name(parser, "--margin", context)
    add_device_argument(parser)
    parser.add_argument("--seed", type=ranged(int, *SEED_RANGE), default=0,
                        help="random seed (default 0)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="an engine option, repeatable: e.g. quality=best (PatchMatch), "
                             "half=true (DeepFill: bfloat16 on CPUs with native support), "
                             "local=false (DeepFill: compute the whole frame, not only what "
                             "reaches the hole), source=torchscript (LaMa, MI-GAN); neural "
                             "engines: working_size=PX, seam_feather=PX (colour blend at the "
                             "hole's edge), weights_path=FILE; an option the engine does not "
                             "take is refused; `engines -v` lists each engine's options")


def request_settings(args: argparse.Namespace) -> dict[str, object]:
    """The :class:`InpaintRequest` fields :func:`add_engine_arguments` sets, by field name
    (``strategy``, ``crop_margin``, ``seed``, ``device``): every request of a run gets them.
    Raises :class:`InputError` when ``--context`` is given with a strategy that ignores it
    (as ``segment`` refuses an option of another parser): call it before any work."""
    strategy = Strategy(args.strategy)
    if args.context is not None and strategy is not Strategy.CROP:
        raise InputError(f"--context applies to --strategy {Strategy.CROP.value}, not "
                         f"{strategy.value}")
    context = DEFAULT_CONTEXT if args.context is None else args.context
    return {"strategy": strategy, "crop_margin": context, "seed": args.seed,
            "device": args.device}


PARSER_NAMES = ("face (BiSeNet, 19 face parts), scene (DeepLab v2, 182 COCO-Stuff classes), "
                "scene-lite (SegFormer, 150 ADE20K classes) or regions (colour regions, no "
                "download; the default)")


def add_parser_argument(parser: argparse.ArgumentParser, purpose: str,
                        old_name: str | None = None) -> None:
    """--parser NAME (``args.parser``, default ``regions``): the segmentation parser that
    labels the pictures, ``purpose`` saying what for; ``old_name``: an earlier spelling
    still taken (:func:`add_old_name`)."""
    action = parser.add_argument("--parser", default="regions", metavar="NAME",
                                 help=f"{purpose}: {PARSER_NAMES}")
    if old_name:
        add_old_name(parser, old_name, action)


def add_metadata_argument(parser: argparse.ArgumentParser) -> None:
    """--strip-metadata (results keep their input's metadata by default; stripped, a
    colour profile's pixels are converted to sRGB:
    :meth:`engines.fileio.ImageMetadata.stripped`)."""
    parser.add_argument("--strip-metadata", action="store_true",
                        help="write results without the input's colour profile, EXIF, XMP and "
                             "IPTC (date, camera, GPS, caption, keywords, copyright); an "
                             "input with a colour profile (Adobe RGB, Display P3) is "
                             "converted to sRGB, so it looks the same; by default they are "
                             "kept, except thumbnails, which would still show what was "
                             "removed")


def engine_options(args: argparse.Namespace) -> dict[str, object]:
    """``--option KEY=VALUE`` pairs as a dict of values: with ``args.engine``, parsed and
    checked against that engine's options (:meth:`Engine.parse_options`: an unknown key or
    a value out of range raises :class:`InputError` before any work); without, true/false,
    integers and decimals are parsed. A key given twice with different values is refused,
    as any option given twice is (:class:`cli._parsing.CommandParser`)."""
    texts: dict[str, str] = {}
    for item in args.option:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--option {item!r}: write it as KEY=VALUE")
        if texts.get(key, text) != text:
            raise InputError(f"--option {key} given twice ({key}={texts[key]} and "
                             f"{key}={text}); give it once")
        texts[key] = text
    engine = getattr(args, "engine", None)
    if engine is None:
        return {key: parse_option_text(text) for key, text in texts.items()}
    return registry.engine_class(engine).parse_options(texts)


def link_loop(path: str | os.PathLike) -> Path | None:
    """The part of ``path`` (itself, or the first folder on the way) that is a symbolic link
    loop (or a chain of links too long to follow: :func:`engines.fileio.is_link_loop`), or
    None when the system can follow every link on the way (a missing file is no loop)."""
    if not is_link_loop(path):
        return None
    path = Path(path)
    return next((part for part in [*reversed(path.parents), path] if is_link_loop(part)),
                path)


def refuse_link_loops(named: Iterable[tuple[str, str | os.PathLike | None]]) -> None:
    """Raise :class:`InputError` before any work, in one line naming the path as given (and
    its option: ``("-o", "out.png")``; ``""`` for a positional argument), for the first
    path of ``named`` that is, or goes through, a symbolic link loop (:func:`link_loop`),
    which no file is behind. None (an option not given) is passed over."""
    for option, value in named:
        if value is None:
            continue
        part = link_loop(value)
        if part is None:
            continue
        named_as = f"{option} {value}" if option else str(value)
        if part == Path(value):
            raise InputError(f"{named_as} is a symbolic link loop: it leads back to itself, "
                             "to no file or folder")
        raise InputError(f"{named_as}: {part} is a symbolic link loop: it leads back to "
                         "itself, to no folder")


def refuse_output_link(value: str | os.PathLike, option: str) -> None:
    """Raise :class:`InputError` (one line naming ``option``) when the output path ``value``
    is a symbolic link (even a broken one, or a loop), with or without ``--overwrite``:
    writing there would replace the file it points to (another photo, maybe), as folder runs
    never do."""
    path = Path(value)
    refuse_link_loops([(option, value)])
    if not path.is_symlink():
        return
    try:
        target = os.readlink(path)
    except OSError:
        target = "somewhere else"
    raise InputError(f"{option} {value} is a link (to {target}): name the file itself or "
                     "another name; results are never written through links")


def check_output_file(value: str | os.PathLike, option: str, overwrite: bool,
                      formats: tuple[str, ...] = IMAGE_SUFFIXES,
                      originals: Iterable[str | os.PathLike] = (),
                      created: str | os.PathLike | None = None) -> Path:
    """``value`` as a path if a result can be written there; otherwise raise
    :class:`InputError` (one line naming ``option``) before any work: a folder, a symbolic
    link (:func:`refuse_output_link`: never written through, whatever ``overwrite`` says),
    an extension not in ``formats``, one of the ``originals`` (never replaced, whatever
    ``overwrite`` says; one that is a symbolic link loop is refused, naming it), an existing
    file without ``overwrite``, or a missing or unwritable folder
    (:func:`engines.batch.check_output_folder`; ``created``: a folder the command creates,
    and checks, itself)."""
    path = Path(value)
    if path.is_dir():
        raise InputError(f"{option} {value} is a folder; give a file name")
    refuse_output_link(value, option)
    if path.suffix.lower() not in formats:
        raise InputError(f"{option} {value}: cannot write "
                         f"{path.suffix or 'files without an extension'}; use one of "
                         f"{', '.join(formats)}")
    originals = list(originals)
    refuse_link_loops(("", p) for p in originals)
    if path.resolve() in {Path(p).resolve() for p in originals}:
        raise InputError(f"{option} {value} is one of the input files; choose another "
                         f"name: the originals are never replaced")
    if path.exists() and not overwrite:
        raise InputError(f"{option} {value} already exists; add --overwrite to replace it")
    try:
        refuse_read_only(path)
    except ImageFileError:
        raise InputError(f"{option} {value} is read-only; choose another name or make it "
                         "writable first") from None
    folder = path.parent
    if created is not None and folder.resolve() == Path(created).resolve():
        return path
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise InputError(f"{option}: the folder {folder} {what}")
    check_output_folder(folder)  # a probe file: root and read-only mounts answer truly
    return path


def folder_pictures(images: str | os.PathLike, output: str | os.PathLike, results: str, *,
                    used_folders: Sequence[str | os.PathLike] = (),
                    leave_out: Callable[[list[Path]],
                                        Mapping[str | tuple[str, str], Iterable[Path]]]
                    | None = None) -> list[Path]:
    """The pictures of the folder ``images`` (:func:`engines.fileio.list_images`: those
    directly in it) for a run writing its ``results`` (a plural noun: "label maps") into the
    folder ``output`` (``-o``), after saying on stderr what else the folder holds
    (:func:`engines.fileio.skipped_files_note`; ``output`` and ``used_folders``, the run's
    own folders, are not mentioned).

    ``leave_out`` gives, from the folder's picture files, those this run does not take as
    pictures by why, in the order said, each why one text or a pair said of one file and
    of several (``batch``: ``{("it is a mask, not a picture to fill", "they are masks, not
    pictures to fill"): the mask files in use, ...}``), each said as ``1 file left out: it
    is a mask...`` or ``2 files left out: they are masks...`` (a file given under two whys
    counts under the first).

    Raises before any work (nothing created or written): ``ImageMissingError`` or
    ``NotAFolderError`` naming ``images`` when it is missing or a file; :class:`InputError`
    when it holds no pictures (naming what it holds instead), when ``output`` is a file, a
    picture's name (a missing path ending in a picture's extension), the input folder itself
    (the originals are never replaced; an output folder inside it is fine: subfolders are
    not searched), or a folder that cannot be made or written
    (:func:`engines.batch.check_output_folder`)."""
    refuse_link_loops([("", images), ("-o", output)])  # named, not "no such folder"
    images, output = Path(images), Path(output)
    files, skipped = list_images_and_note(images, used_folders=[output, *used_folders])
    pictures, notes = files, [skipped]
    for why, paths in (leave_out(files) if leave_out else {}).items():
        out = {Path(path).resolve() for path in paths}
        kept = [path for path in pictures if path.resolve() not in out]
        if len(kept) < len(pictures):
            count = len(pictures) - len(kept)
            worded = why if isinstance(why, str) else why[0 if count == 1 else 1]
            notes.append(f"{count_noun(count, 'file')} left out: {worded}")
        pictures = kept
    said = "; ".join(note for note in notes if note)
    if not pictures:
        kinds = ", ".join(suffix[1:] for suffix in IMAGE_SUFFIXES)
        raise InputError(f"{images} holds no pictures ({kinds})" + (f"; {said}" if said else ""))
    where = f"give the folder the {results} go into"
    if output.exists() and not output.is_dir():
        raise InputError(f"-o {output} is a file; {where}")
    if not output.exists() and output.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"-o {output} names a picture, but {images} is a folder: {where} "
                         "(one per picture, named after it)")
    if output.resolve() == images.resolve():
        raise InputError(f"-o {output} is the input folder; choose another folder: the "
                         f"originals are never replaced, and {results} there would be taken "
                         "for pictures")
    check_output_folder(output)  # a probe file: root and read-only mounts answer truly
    if said:
        print(one_line(said), file=sys.stderr)
    return pictures


# what to do instead of giving a layer file refused as empty, by the layer
_EMPTY_LAYER_ADVICE = {"sketch": "; leave --sketch out to fill without lines"}


def load_layer(path: str | None, shape: tuple[int, int] | None,
               what: str) -> np.ndarray | None:
    """The binary layer file at ``path`` (white = set), ``(H, W)`` uint8, checked against
    the image ``shape`` (any size with None), or None without ``path``. ``what`` names the
    layer as the editor does ("mask", "sketch", "include area", "exclude area"); one holding
    nothing it needs is refused as the editor refuses it
    (:func:`engines.fileio.empty_layer_problem`)."""
    if path is None:
        return None
    layer = load_mask(path, shape, what)
    problem = empty_layer_problem(layer, str(path), what)  # as given, as a 0-byte file is
    if problem:
        raise InputError(problem + _EMPTY_LAYER_ADVICE.get(what, ""))
    return layer


def load_labels(path: str | None,
                shape: tuple[int, int] | None) -> tuple[np.ndarray | None, str | None]:
    """``(labels, label set name)`` of the label map file at ``path``, from one read of it:
    the ``(H, W)`` uint8 class ids of an indexed PNG (or a grey PNG of ids), checked to be
    the picture's ``shape`` ``(H, W)`` (None: not checked, as for a file for every picture
    of a folder), and the label set the file names (None: none);
    ``(None, None)`` without ``path``. Raises
    :class:`~engines.segmentation.labelmap.LabelMapError`, or
    :class:`~engines.fileio.ImageFileError` when the file cannot be read (saying why as for
    the other guidance files: ``"is a folder, not an image"``)."""
    if path is None:
        return None, None
    from engines.segmentation.labelmap import (
        decode_label_png,
        label_set_name,
        require_label_size,
    )

    name = Path(path).name
    data = read_file_bytes(path)
    labels = decode_label_png(data, name=name)
    if shape is not None:
        require_label_size(labels, shape, name)
    return labels, label_set_name(io.BytesIO(data))  # Pillow reads a file object too


def build_request(settings: dict[str, object], image: np.ndarray, mask: np.ndarray,
                  sketch: np.ndarray | None = None, labels: np.ndarray | None = None,
                  include: np.ndarray | None = None, exclude: np.ndarray | None = None,
                  exemplars: tuple[np.ndarray, ...] = (),
                  label_set: str | None = None,
                  color: np.ndarray | None = None,
                  alpha: np.ndarray | None = None) -> InpaintRequest:
    """The request of one picture, with the run's ``settings`` (:func:`request_settings`);
    ``alpha``: the picture's transparency (:attr:`engines.fileio.LoadedImage.alpha`), whose
    fully transparent pixels the fill neither copies nor continues."""
    return InpaintRequest(image=image, mask=mask, sketch=sketch, color=color, labels=labels,
                          label_set=label_set, sample_include=include, sample_exclude=exclude,
                          exemplars=exemplars, alpha=alpha, **settings)


def unique_paths(paths: list[str] | None,
                 on_repeat: Callable[[str], None] | None = None) -> list[str]:
    """``paths`` without the repeats of a file (the same resolved path), in order;
    ``on_repeat`` is called with each repeat left out."""
    unique: dict[Path, str] = {}
    for path in paths or ():
        resolved = Path(path).resolve()
        if resolved in unique and on_repeat is not None:
            on_repeat(path)
        unique.setdefault(resolved, path)
    return list(unique.values())


def _note_repeated_exemplar(path: str) -> None:
    print(f"note: --exemplar {path} names a file given before; it is searched once",
          file=sys.stderr)


def load_exemplars(paths: list[str] | None, patch_size: int) -> dict[str, np.ndarray]:
    """The reference photos at ``paths`` as requests carry them (RGB, or RGBA when partly
    transparent: :func:`engines.guidance.reference_pixels`), by the path each was named by,
    in order. A file named twice (the same resolved path) is read once, under its first
    name, with a note on stderr; one without room for a single ``patch_size`` patch of fully
    opaque pixels (:func:`engines.guidance.reference_problem`) raises :class:`InputError`
    naming it; one cut short or damaged, :class:`ImageFileError`
    (:func:`engines.fileio.load_reference`)."""
    exemplars: dict[str, np.ndarray] = {}
    for path in unique_paths(paths, _note_repeated_exemplar):
        loaded = load_reference(path)
        pixels = reference_pixels(loaded.rgb, loaded.alpha)
        problem = reference_problem(pixels, patch_size)
        if problem is not None:
            smaller = "" if reference_problem(pixels, 3) else " or choose smaller " \
                f"patches (--option patch_size=N, now {patch_size})"
            raise InputError(f"--exemplar {path} {problem}; leave it out{smaller}")
        exemplars[path] = pixels
    return exemplars


def load_references(paths: list[str] | None, engine: str,
                    options: Mapping[str, object]) -> dict[str, np.ndarray]:
    """The ``--exemplar`` photos at ``paths`` for fills by the engine named ``engine`` with
    ``options`` (its parsed ``--option`` values), read once each: :func:`load_exemplars` at
    the patch side that engine copies (:func:`engines.guidance.reference_patch_size`), by
    the path each was named by, a file named twice once, read-only (requests take them
    without copying them: a 108 MP photo is 324 MB). Raises before any work, naming the
    file, for one that cannot be read or gives no patch."""
    exemplars = load_exemplars(paths, reference_patch_size(engine, options))
    for pixels in exemplars.values():
        pixels.flags.writeable = False
    return exemplars


def reference_names(paths: Iterable[str]) -> list[str]:
    """The names the notes on reference photos give them: ``--exemplar PATH``, as named."""
    return [f"--exemplar {path}" for path in paths]


def say_shrunk_references(request: InpaintRequest, engine: Engine, paths: Sequence[str],
                          picture: Path | None = None) -> bool:
    """Say on stderr, as a ``note:`` line, which reference photos ``engine`` searches
    shrunk in its fill of ``request`` (far larger than the region filled:
    :func:`engines.region.shrunk_references_note`, as the editor says it), ``paths`` being
    the request's reference photos as named (:func:`load_references`); a folder run names
    the ``picture`` first (``note: photo.png: --exemplar ...``). Written above a progress
    bar under way, if any. Returns whether there was something to say."""
    note = shrunk_references_note(request, engine, reference_names(paths))
    if note:
        tqdm.write(f"note: {picture.name + ': ' if picture else ''}{note}", file=sys.stderr)
    return bool(note)


# the options giving each kind of guidance, in the order of the help
_GUIDANCE_FLAGS = {Guidance.SKETCH: ("--sketch",), Guidance.COLOR: ("--color",),
                   Guidance.LABELS: ("--labels",), Guidance.SAMPLING: ("--include", "--exclude"),
                   Guidance.EXEMPLARS: ("--exemplar",)}


def ignored_note(args: argparse.Namespace, unused: list[str], users: list[str]) -> str:
    """The note on the guidance ``args.engine`` ignores (``unused``, :class:`Guidance`
    values, and ``users``, the engines that follow it all, the best first:
    :func:`engines.registry.unused_guidance`), naming the options as given (those a
    command does not have count as not given): ``"telea ignored --sketch and --exemplar;
    patchmatch follows them (edgeconnect too)"``."""
    flags = [flag for kind, options in _GUIDANCE_FLAGS.items() if kind.value in unused
             for flag in options if getattr(args, flag[2:], None) is not None]
    note = f"{args.engine} ignored {join_words(flags)}"
    if not users:
        return note
    one = len(flags) == 1 and (flags != ["--exemplar"] or len(set(args.exemplar)) == 1)
    too = f" ({join_words(users[1:])} too)" if len(users) > 1 else ""
    return f"{note}; {users[0]} follows {'it' if one else 'them'}{too}"


class StageBar(tqdm):
    """A tqdm bar whose ``bar_format`` may also show ``{stage}``, the text of the step under
    way (tqdm's own ``{postfix}`` starts with ", "), and ``{done}``, the whole units finished
    while ``n`` counts fractions of them. Move it with :meth:`show`."""

    PERCENT_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {stage}"

    stage = ""

    def show(self, n: float, stage: str) -> None:
        """Set the amount done (in units of ``total``) and the step's text, and redraw;
        first raise a Ctrl+C a library dropped (:func:`raise_kept_interrupt`)."""
        raise_kept_interrupt()
        self.n = n
        self.stage = stage
        self.refresh()

    @property
    def format_dict(self) -> dict:
        values = super().format_dict
        values.update(stage=one_line(self.stage), done=int(self.n),
                      prefix=one_line(values.get("prefix") or ""))
        return values


def folder_progress(closing: contextlib.ExitStack, total: int,
                    description: str) -> Callable[[float, str], None]:
    """A folder run's ``progress(fraction, message)`` callback driving a :class:`StageBar`
    over its ``total`` pictures (``3/8`` done, the time left, the message). The bar is made
    on the first report, so a run refused before any work shows none, and it is closed
    with ``closing``."""
    bar: StageBar | None = None

    def progress(fraction: float, message: str) -> None:
        nonlocal bar
        if bar is None:
            bar = closing.enter_context(StageBar(
                total=total, desc=description, unit="image",
                bar_format="{desc}: {done}/{total_fmt} |{bar}| {elapsed}<{remaining} "
                           "{stage}"))
        bar.show(fraction * total, message)

    return progress


def run_with_bar(engine, request: InpaintRequest, description: str, leave: bool = True) -> Stage:
    """Run ``engine`` on ``request`` with a tqdm bar over its stages; returns the final one.
    An engine's bug comes as :class:`~engines.base.EngineCrashed` naming it (which
    :func:`cli.main` reports as a bug)."""
    final = None
    with StageBar(total=100, desc=description, unit="%", leave=leave,
                  bar_format=StageBar.PERCENT_FORMAT) as bar:
        for stage in engine.run(request):
            bar.show(round(stage.progress * 100), stage.name)
            final = stage
    if final is None or not final.final:
        raise RuntimeError("the engine ended without a final result")
    return final


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (:func:`sigterm_stops_like_ctrl_c`): raised in the main thread like
    Ctrl+C, so a run stops as it does for Ctrl+C, saying what it kept."""


def _raise_terminated(_signum, _frame) -> None:
    raise Terminated("terminated")


@contextmanager
def sigterm_stops_like_ctrl_c() -> Iterator[None]:
    """While the block runs (in the main thread), SIGTERM raises :class:`Terminated`; the
    handler there before is restored after. Elsewhere (another thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# the Ctrl+C (or SIGTERM) a library dropped while interrupts_kept() ran, to be raised again
_KEPT: list[KeyboardInterrupt] = []


def _keep_dropped_interrupt(unraisable, previous) -> None:
    """``sys.unraisablehook`` while :func:`interrupts_kept` runs: a
    :class:`KeyboardInterrupt` nobody could catch is kept, silently, for
    :func:`raise_kept_interrupt`; anything else goes to ``previous``, the hook before."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _KEPT[:] = [unraisable.exc_value]
    else:
        previous(unraisable)


@contextmanager
def interrupts_kept() -> Iterator[None]:
    """While the block runs, Ctrl+C (or a SIGTERM, :func:`sigterm_stops_like_ctrl_c`) that
    lands in a callback called from C is not lost: Python raises it there, ctypes drops it
    with a traceback (numba's first compilation runs llvmlite's object-cache hook so, and a
    first run compiles for seconds), and the run would go on to the end. It is kept instead,
    unprinted, and raised again at the run's next progress report
    (:func:`raise_kept_interrupt`, from :meth:`StageBar.show`)."""
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: _keep_dropped_interrupt(unraisable, previous)
    try:
        yield
    finally:
        sys.unraisablehook = previous
        _KEPT.clear()


def raise_kept_interrupt() -> None:
    """Raise the interrupt :func:`interrupts_kept` kept, if any (once)."""
    if _KEPT:
        kept = _KEPT.pop()
        raise type(kept)(*kept.args)


def stopped_by_sigterm(stop: BaseException) -> bool:
    """Whether ``stop`` is, or was raised while handling or because of, a
    :class:`Terminated` (the interrupt a run re-raises with its own message)."""
    seen: set[int] = set()
    current: BaseException | None = stop
    while current is not None and id(current) not in seen:
        if isinstance(current, Terminated):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
