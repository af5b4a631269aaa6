"""`batch --images DIR (--masks DIR | --mask FILE) -o DIR [--sketch PATH ...] [--exemplar FILE
...]`: fill every image of a folder, with guidance files for every picture or each its own."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cli import EXIT_FAILED, EXIT_OK
from cli._common import (
    add_engine_arguments,
    add_metadata_argument,
    engine_options,
    folder_pictures,
    folder_progress,
    ignored_note,
    load_labels,
    load_layer,
    load_references,
    one_line,
    reference_names,
    refuse_link_loops,
    request_settings,
)
from cli._errors import BUG_HINT, debug_traceback, is_bug
from engines import registry
from engines.base import Engine, Guidance, InpaintRequest, InputError
from engines.batch import (
    GUIDANCE_WITHOUT,
    SIZE_POLICIES,
    BatchInterrupted,
    BatchResult,
    BatchStopped,
    GuidanceSource,
    PictureNote,
    Protected,
    clear_folder,
    note_lines,
    so_far,
)
from engines.fileio import (
    COLOUR_STROKES_FORMAT,
    IMAGE_SUFFIXES,
    ImageMissingError,
    LoadedImage,
    count_noun,
    empty_layer_problem,
    join_words,
    load_colour_strokes,
    load_mask,
    names_and_more,
    quoted_name,
)
from engines.region import shrunk_references_note

NAME = "batch"
HELP = "fill the masks of every image in a folder and write the results to another folder"


def file_names(word: str) -> tuple[str, ...]:
    """How a folder names the file of a picture's ``word`` ("mask", "sketch"...), in the
    order looked for: ``photo.jpg`` -> ``photo.png``, ``photo_{word}.png``,
    ``photo-{word}.png``, ``photo.{word}.png`` (``{stem}`` stands for the picture's)."""
    return ("{stem}.png", f"{{stem}}_{word}.png", f"{{stem}}-{word}.png",
            f"{{stem}}.{word}.png")


MASK_NAMES = file_names("mask")
SKIPPED = "skipped: already in the output folder; --overwrite redoes them"
OTHER_SIZE = "skipped (another size than the mask; --other-sizes anchor fills them)"
OTHER_SIZE_GUIDANCE = ("skipped (another size than the guidance files for every picture; "
                       "--other-sizes anchor fills them)")
# why files of the pictures' folder are not taken as pictures, said of one file and of
# several (cli._common.folder_pictures): "1 file left out: it is a mask, not a picture..."
MASKS_LEFT_OUT = ("it is a mask, not a picture to fill", "they are masks, not pictures to fill")
_GUIDANCE_FLAGS = "(--sketch, --color, --labels, --include, --exclude)"
GUIDANCE_LEFT_OUT = (f"it is a guidance file {_GUIDANCE_FLAGS}, not a picture to fill",
                     f"they are guidance files {_GUIDANCE_FLAGS}, not pictures to fill")
REFERENCES_LEFT_OUT = ("it is a reference photo (--exemplar), not a picture to fill",
                       "they are reference photos (--exemplar), not pictures to fill")


class GuidanceOption(NamedTuple):
    """A guidance option of ``batch``, as ``inpaint`` has it for one picture."""

    dest: str  # the option without its dashes, its args attribute and its files' word
    kind: Guidance
    field: str  # the InpaintRequest field it fills
    what: str  # the layer, as inpaint's messages name it (cli._common.load_layer)

    @property
    def without(self) -> str:
        """What a picture without a file in the folder is filled without, in the engine's
        words for it (:data:`engines.batch.GUIDANCE_WITHOUT`)."""
        return GUIDANCE_WITHOUT[self.field]


GUIDANCE_OPTIONS = (
    GuidanceOption("sketch", Guidance.SKETCH, "sketch", "sketch"),
    GuidanceOption("color", Guidance.COLOR, "color", "colour strokes"),
    GuidanceOption("labels", Guidance.LABELS, "labels", "label map"),
    GuidanceOption("include", Guidance.SAMPLING, "sample_include", "include area"),
    GuidanceOption("exclude", Guidance.SAMPLING, "sample_exclude", "exclude area"),
)


class GuidanceFolder(NamedTuple):
    """A guidance option given a folder of files named like the pictures."""

    option: GuidanceOption
    folder: Path
    plain: bool  # photo.png counts too: the folder is no other option's (shared_folders)

    @property
    def flag(self) -> str:
        return f"--{self.option.dest}"


# each picture's files in the guidance folders: picture -> {folder entry: its file there}
FoundGuidance = dict[Path, dict[GuidanceFolder, Path]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", required=True, metavar="DIR",
                        help="folder of pictures: only those directly in it (subfolders are "
                             "not searched, links to folders neither; a link to a picture "
                             "counts); the summary names what was left out")
    masks = parser.add_mutually_exclusive_group(required=True)
    masks.add_argument("--masks", metavar="DIR",
                       help="folder of masks named like the pictures (photo.jpg -> photo.png, "
                            "photo_mask.png, photo-mask.png or photo.mask.png; what follows "
                            "the picture's name in any case: photo_MASK.PNG too)")
    masks.add_argument("--mask", metavar="FILE",
                       help="one mask for every picture (a watermark in the same place)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="where results go, under the pictures' names (never the input "
                             "folder)")
    add_engine_arguments(parser)
    guidance = parser.add_argument_group(
        "guidance (as inpaint's, for every picture)",
        "Each PATH is one file for every picture (read once; with --mask it must be the "
        "mask's size, and pictures of another size follow --other-sizes with it), or a "
        "folder of files named like the pictures: photo.jpg -> photo_WORD.png, "
        "photo-WORD.png or photo.WORD.png, WORD being the option's name (sketch, color, "
        "labels, include, exclude), or plain photo.png where that folder is no other "
        "option's. In a folder shared with --images, --masks or another guidance option, "
        "only the names with the WORD count (plain photo.png is the mask there, or a "
        "picture), so photo_mask.png and photo_sketch.png may sit side by side; a file that "
        "would be both a mask and guidance, or guidance of two kinds, is refused before any "
        "work. Guidance files are never taken as pictures nor replaced by a result. A "
        "picture with no file in a folder is filled without that guidance, and the summary "
        "says which; one whose file is unreadable or of another size fails alone.")
    guidance.add_argument("--sketch", metavar="PATH",
                          help="structure lines to follow inside the hole (white = line)")
    guidance.add_argument("--color", "--colour", dest="color", metavar="PATH",
                          help="colour hints: the fill takes the colour of the strokes "
                               f"painted in the hole; each file is {COLOUR_STROKES_FORMAT}")
    guidance.add_argument("--labels", metavar="PATH",
                          help="edited label maps (indexed PNG of class ids)")
    guidance.add_argument("--include", metavar="PATH",
                          help="sampling area: only these pixels are sources (white)")
    guidance.add_argument("--exclude", metavar="PATH",
                          help="sampling area: never use these pixels (white)")
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
                        help="with --mask or a guidance FILE for every picture: pictures of "
                             "another size are skipped (default) or get the mask and that "
                             "guidance anchored to the nearest corner, edge or centre (moved "
                             "together, by where the mask is)")
    add_metadata_argument(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="compute every picture again and replace its result in the "
                             "output folder (without it, pictures whose result is already "
                             "there are skipped: run the same command again to finish an "
                             "interrupted run)")


FolderNames = dict[str, list[str]]  # a folder's entry names by their _name_key, sorted


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def _name_key(name: str) -> str:
    """What names are matched by: NFC (macOS and some zip tools write names in NFD, which
    look the same) and case-folded."""
    return _nfc(name).casefold()


def folder_names(folder: Path) -> FolderNames:
    """The names of the entries of ``folder`` by their :func:`_name_key`, each list sorted
    (read once for a run's lookups, :func:`named_file`); empty when it cannot be read."""
    try:
        listed = os.listdir(folder)
    except OSError:
        return {}
    names: FolderNames = {}
    for name in sorted(listed):
        names.setdefault(_name_key(name), []).append(name)
    return names


def named_file(image_path: Path, folder: Path, word: str = "mask",
               plain: bool = True, names: FolderNames | None = None) -> Path | None:
    """The ``word`` file ("mask", "sketch"...) of ``image_path`` in ``folder``: the first of
    :func:`file_names` there (without ``plain``, not the plain ``photo.png``), never the
    picture itself; or None. The picture's stem matches as written (NFC or NFD alike); what
    follows it (``_mask.png``) in any case: ``photo_MASK.PNG`` is found too, the exact name
    first where both are there. ``names``: the folder's :func:`folder_names`, read here
    when not given."""
    names = folder_names(folder) if names is None else names
    stem = _nfc(image_path.stem)
    for pattern in file_names(word)[0 if plain else 1:]:
        wanted = pattern.format(stem=image_path.stem)
        others = [folder / name for name in names.get(_name_key(wanted), ())
                  if name != wanted and _nfc(name).startswith(stem)]
        for candidate in (folder / wanted, *others):
            if candidate.is_file() and candidate.resolve() != image_path.resolve():
                return candidate
    return None


def find_masks(files: list[Path], masks: Path | None,
               names: FolderNames | None = None) -> dict[Path, Path]:
    """Each of ``files``' mask file in the ``masks`` folder (:func:`named_file`), looked up
    once for the run: what it may not replace (:func:`masks_in_use`) and what its pictures
    are filled with (:func:`mask_finder`); empty without that folder, or while it is
    missing (which :func:`mask_finder` reports). ``names``: the folder's
    :func:`folder_names`, read here when not given."""
    if masks is None or not masks.is_dir():
        return {}
    names = folder_names(masks) if names is None else names
    return {picture: found for picture in files
            if (found := named_file(picture, masks, names=names)) is not None}


def mask_finder(folder: Path, found: Mapping[Path, Path]):
    """A function giving each picture its mask file's contents from ``folder``, as
    ``found`` has them (:func:`find_masks`; :data:`engines.batch.MaskSource`): a mask of
    another size is refused as ``inpaint`` refuses it
    (:func:`engines.fileio.other_size_reason`), saying when it is the size the picture is
    stored at, turned upright by its EXIF orientation."""
    if not folder.is_dir():
        raise ImageMissingError("no such folder", folder)

    listed: list[FolderNames] = []  # the folder's names, read at the first picture without

    def find(image_path: Path, loaded: LoadedImage) -> np.ndarray:
        candidate = found.get(image_path)
        if candidate is not None:
            layer = load_mask(candidate, loaded.shape)  # names the size stored, if turned
            problem = empty_layer_problem(layer, str(candidate), "mask")
            if problem:  # said as inpaint and batch --mask say it, not as the editor does
                raise InputError(problem)
            return layer
        if not listed:
            listed.append(folder_names(folder))
        # in the pictures' own folder photo.png is the picture itself: its mask's first name
        own = folder.resolve() == image_path.parent.resolve()
        first = MASK_NAMES[1 if own else 0].format(stem=image_path.stem)
        looked_for = f"looked for {first} and similar"
        miss = near_miss(image_path, folder, "mask", listed[0])
        raise ImageMissingError(f"no mask for it in {folder} ({looked_for}"
                                f"{'; ' + miss if miss else ''})", image_path)

    return find


def near_miss(image_path: Path, folder: Path, word: str, names: FolderNames) -> str | None:
    """Why a file of ``folder`` named almost as :func:`named_file` looks for (``names``: the
    folder's :func:`folder_names`) was not taken as ``image_path``'s ``word`` file, and the
    name to give it, said of the first such file: another extension than ``.png``
    (``photo_mask.jpg``), the picture's stem in another case (``Photo.jpg`` beside
    ``photo_mask.png``), or both; or that such a name is a folder or a link to nothing. A
    plain ``photo.*`` counts only in another folder than the picture's, where it is no other
    picture. None when there is none."""
    found = near_miss_file(image_path, folder, word, names)
    return None if found is None else found[1]


def near_miss_file(image_path: Path, folder: Path, word: str,
                   names: FolderNames) -> tuple[str, str] | None:
    """:func:`near_miss`'s file name and its sentence, or None."""
    return next(near_miss_files(image_path, folder, word, names), None)


_COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


def _wanted(image_path: Path, word: str) -> dict[str, str]:
    """The :func:`file_names` of ``image_path``'s ``word`` file without their ``.png``, by
    :func:`_name_key`: each pattern by the base a near miss's name is matched by."""
    return {_name_key(pattern.format(stem=image_path.stem)[:-len(".png")]): pattern
            for pattern in file_names(word)}


def _bases(key: str) -> Iterator[tuple[str, int, bool]]:
    """The bases a name (``key``, :func:`_name_key`) may be a file name for, each with how
    many extensions it drops and whether whitespace was dropped too: the name without its
    extension, then, while the extension dropped last is an image's, without that one too
    (``photo_mask.png.png.png`` -> ``photo_mask.png.png``, ``photo_mask.png``,
    ``photo_mask``: named where extensions are hidden, once or more). Whitespace around the
    whole name is dropped first (`` photo_mask.png``, ``photo_mask.png ``: a space typed or
    pasted with it). A base ending in whitespace is given as it is, then without it
    (``photo_mask .png.png`` -> ``photo_mask .png``, ``photo_mask ``, ``photo_mask``: a space
    typed before the extension), which the bases after it drop too."""
    trimmed = key.strip()
    base, count, spaced = os.path.splitext(trimmed)[0], 1, trimmed != key
    while True:
        yield base, count, spaced
        if base != base.rstrip():
            base, spaced = base.rstrip(), True
            yield base, count, spaced
        inner, extension = os.path.splitext(base)
        if extension not in IMAGE_SUFFIXES:
            return
        base, count = inner, count + 1


def _last_extensions(name: str, count: int) -> str:
    """The last ``count`` extensions of ``name`` as written (``.PNG.png``)."""
    extensions = ""
    for _ in range(count):
        name, extension = os.path.splitext(name)
        extensions = extension + extensions
    return extensions


def _whitespace_in(name: str, count: int) -> str:
    """Where :func:`_bases` dropped whitespace in ``name`` (its ``spaced`` case, with
    ``count`` extensions), said for :func:`near_miss_files`: ``"it has a space before its
    extension"`` (``photo_mask .png``), ``"... between its extensions"``
    (``photo_mask.png .png``), ``"... before its name"`` (`` photo_mask.png``), ``"... after
    its extension"`` (``photo_mask.png ``), listed as a sentence lists them; spaces, or
    whitespace of another kind, said so."""
    core = name.strip()
    leading, trailing = name[:len(name) - len(name.lstrip())], name[len(name.rstrip()):]
    extensions = _last_extensions(core, count)
    stem = core[:len(core) - len(extensions)]
    inner = stem[len(stem.rstrip()):] + extensions  # from the first whitespace dropped there
    plural = "s" if count > 1 else ""
    places = [where for where, found in (
        ("before its name", leading),
        (f"before its extension{plural}", inner[:1].isspace()),
        ("between its extensions", not inner[:1].isspace()
         and any(character.isspace() for character in inner)),
        (f"after its extension{plural}", trailing)) if found]
    blank = "".join(character for character in leading + inner + trailing
                    if character.isspace())
    what = "a space" if blank == " " else "spaces" if not blank.strip(" ") else "whitespace"
    return f"it has {what} {join_words(places)}"


def near_miss_files(image_path: Path, folder: Path, word: str, names: FolderNames,
                    doubled_only: bool = False) -> Iterator[tuple[str, str]]:
    """Every file :func:`near_miss` could name, each with its sentence, in ``names``' order
    (:func:`near_miss` says the first): a name whose extension came twice or more
    (``photo_mask.png.png.png``), or with whitespace before its extensions
    (``photo_mask .png``, ``photo_mask .png.png``) or around it (`` photo_mask.png``), is
    matched without them all (:func:`_bases`); the sentence quotes a name that whitespace
    begins or ends (:func:`engines.fileio.quoted_name`). With ``doubled_only``, only those
    (no photo's name)."""
    patterns = file_names(word)
    wanted = _wanted(image_path, word)
    own_folder = folder.resolve() == image_path.parent.resolve()
    for key, listed in names.items():
        extension = os.path.splitext(key.strip())[1]
        pattern, count, spaced = next(((wanted[base], count, spaced)
                                       for base, count, spaced in _bases(key)
                                       if base in wanted), (None, 0, False))
        if pattern is None or (pattern == patterns[0] and own_folder):
            continue  # photo.png beside Photo.jpg: another picture
        if doubled_only and count < 2 and not spaced:
            continue
        for name in listed:
            entry = folder / name
            if entry.resolve() == image_path.resolve():
                continue
            if not entry.is_file():  # said, where a user sees the very name listed
                what = "a folder" if entry.is_dir() else \
                    "a link to nothing" if entry.is_symlink() else None
                if what is not None:
                    yield name, (f"{quoted_name(name)} is there, but it is {what}, not a "
                                 f"{word} file")
                continue
            # the extensions as the user sees them (.PNG.png), not case-folded
            why = ([f"its name ends in {_COUNT_WORDS.get(count, str(count))} extensions "
                    f"({_last_extensions(name, count)})"] if count > 1 else [])
            if spaced:
                why.append(_whitespace_in(name, count))
            if extension != ".png":
                blurs = " (a JPEG blurs their edges)" if extension in (".jpg", ".jpeg") else ""
                why.append(f"{word} files are read from .png files only{blurs}")
            if not _nfc(name.lstrip()).startswith(_nfc(image_path.stem)):
                why.append("its name differs from the picture's in case")
            if why:
                proper = pattern.format(stem=image_path.stem)
                action = "save it as" if extension != ".png" else "rename it"
                yield name, (f"{quoted_name(name)} is there, but {' and '.join(why)}: "
                             f"{action} {proper}")


def near_miss_masks(files: list[Path], masks: Path | None, found: Mapping[Path, Path],
                    names: FolderNames | None = None) -> list[Path]:
    """The files of ``masks`` named almost as the mask of a picture of ``files``
    (:func:`near_miss_files`), when ``masks`` is the pictures' own folder: such a file is
    its picture's mask saved wrongly, not another picture to fill. For a picture without
    its mask there (``found``: :func:`find_masks`), any near miss (``photo_mask.jpg``,
    ``photo_mask.png.png``: its failure names the first); for one with it, only a name whose
    extension came twice or more (``photo_mask.png.png``, no photo's name): a
    ``photo-mask.jpg`` beside ``photo_mask.png`` may be a photo, and fails by name as one
    without a mask. A file with a mask of its own is a picture all the same. ``names``: the
    folder's :func:`folder_names`, read here when not given."""
    if masks is None or not masks.is_dir() or not files \
            or masks.resolve() != files[0].parent.resolve():
        return []
    names = folder_names(masks) if names is None else names
    by_base: dict[str, list[str]] = {}  # each name under its bases: one pass over the folder
    for key in names:
        for base, *_ in _bases(key):
            by_base.setdefault(base, []).append(key)
    filled = {picture.resolve() for picture in found}  # a file with a mask is a picture
    near: dict[Path, None] = {}  # in order, each once
    for picture in files:
        keys = {key for base in _wanted(picture, "mask") for key in by_base.get(base, ())}
        if not keys:
            continue
        for name, _ in near_miss_files(picture, masks, "mask",
                                       {key: names[key] for key in sorted(keys)},
                                       doubled_only=picture in found):
            entry = masks / name
            if entry.is_file() and entry.resolve() not in filled:
                near[entry] = None
    return list(near)


def near_misses_left_out(near: Sequence[Path]) -> tuple[str, str]:
    """Why the files ``near`` (:func:`near_miss_masks`, those of them that are picture files:
    the others are said as skipped) are left out of the pictures, said of one and of
    several, naming them (the other masks left out are the ones found; a name that
    whitespace begins or ends in quotes, :func:`engines.fileio.quoted_name`)."""
    names = names_and_more(near, 5, lambda path: quoted_name(path.name))
    return (f"it is named as a picture's mask saved wrongly ({names}), not a picture to fill",
            f"they are named as pictures' masks saved wrongly ({names}), not pictures to fill")


def masks_in_use(mask: Path | None, found: Mapping[Path, Path]) -> list[Path]:
    """The mask files the pictures use: ``mask`` (one file for all), or each one's file in
    the ``--masks`` folder, as ``found`` has them (:func:`find_masks`), in their order."""
    if mask is not None:
        return [mask]
    return list(found.values())


def guidance_options(args: argparse.Namespace, images: Path,
                     masks: Path | None) -> tuple[list[GuidanceFolder],
                                                  dict[GuidanceOption, Path]]:
    """The guidance options given: those naming a folder (:class:`GuidanceFolder`, whose
    plain ``photo.png`` counts only when the folder is no other option's: not ``images``,
    ``masks`` nor another guidance option's), and those naming one file for every picture
    (anything else: a missing path is read, and refused, as ``inpaint`` refuses it)."""
    given = [(option, Path(getattr(args, option.dest))) for option in GUIDANCE_OPTIONS
             if getattr(args, option.dest) is not None]
    folders = [(option, path) for option, path in given if path.is_dir()]
    shared = [images.resolve(), *([masks.resolve()] if masks else []),
              *(path.resolve() for _, path in folders)]
    return ([GuidanceFolder(option, path, shared.count(path.resolve()) == 1)
             for option, path in folders],
            {option: path for option, path in given if not path.is_dir()})


def find_guidance(files: list[Path], folders: Sequence[GuidanceFolder]) -> FoundGuidance:
    """Each of ``files``' guidance files in ``folders`` (:func:`named_file`), looked up
    once for the run: what it may not replace (:func:`guidance_in_use`) and what its
    pictures are filled with (:func:`guidance_finder`)."""
    found: FoundGuidance = {picture: {} for picture in files}
    for entry in folders:
        names = folder_names(entry.folder)
        for picture in files:
            path = named_file(picture, entry.folder, entry.option.dest, entry.plain,
                              names=names)
            if path is not None:
                found[picture][entry] = path
    return found


def guidance_in_use(files: list[Path], folders: Sequence[GuidanceFolder],
                    singles: Mapping[GuidanceOption, Path], masks: Iterable[Path],
                    found: FoundGuidance) -> dict[Path, str]:
    """The guidance files the pictures among ``files`` use, each with its option (the
    files for every picture, then each picture's in the folders, as ``found``:
    :func:`find_guidance`). Raises :class:`InputError` before any work for a file of a
    folder that would be both a mask in use (``masks``) and guidance, or guidance of two
    kinds."""
    used = {path: f"--{option.dest}" for option, path in singles.items()}
    roles = {path.resolve(): "a mask" for path in masks}
    for entry in folders:
        for picture in files:
            found_file = found.get(picture, {}).get(entry)
            if found_file is None:
                continue
            role = f"a {entry.option.dest} file ({entry.flag})"
            earlier = roles.setdefault(found_file.resolve(), role)
            if earlier != role:
                raise InputError(f"{found_file} would be both {earlier} and {role}; rename "
                                 "it: each file has one use (photo_mask.png, "
                                 "photo_sketch.png, photo_labels.png...)")
            used.setdefault(found_file, entry.flag)
    return used


def refuse_masks_as_guidance(singles: Mapping[GuidanceOption, Path],
                             masks: Iterable[Path]) -> None:
    """Raise :class:`InputError` before any work when a guidance file for every picture
    (``singles``) is also a mask in use (``masks``: the ``--mask`` file, or the ``--masks``
    folder's files the pictures use)."""
    in_use = {path.resolve() for path in masks}
    for option, path in singles.items():
        if path.resolve() in in_use:
            raise InputError(f"{path} would be both a mask and the {option.dest} file for "
                             f"every picture (--{option.dest}); each file has one use: give "
                             f"--{option.dest} a file of its own")


def read_guidance(option: GuidanceOption, path: Path,
                  shape: tuple[int, int] | None) -> dict[str, Any]:
    """The request fields of the ``option`` file at ``path``, read and checked as ``inpaint``
    reads it (against the picture's ``shape``; None: a file for every picture, whose size
    :func:`run` checks): a label map gives its set's name too."""
    if option.kind is Guidance.LABELS:
        labels, label_set = load_labels(str(path), shape)
        return {"labels": labels, "label_set": label_set}
    if option.kind is Guidance.COLOR:
        return {"color": load_colour_strokes(path, shape)}
    return {option.field: load_layer(str(path), shape, option.what)}


def lacking_note(entry: GuidanceFolder) -> PictureNote:
    """The note on a picture that has no file in the folder ``entry``: the same for every
    such picture, so that the summary says it once with their count, naming the pictures
    (:func:`engines.batch.note_lines`)."""
    return PictureNote(f"no {entry.option.dest} file in {entry.folder}: filled without "
                       f"{entry.option.without}")


def guidance_finder(folders: Sequence[GuidanceFolder],
                    found_files: FoundGuidance) -> GuidanceSource | None:
    """A function giving each picture its guidance from its files in ``folders``, as
    ``found_files`` has them (:func:`find_guidance`; :data:`engines.batch.GuidanceSource`),
    each read as ``inpaint`` reads it against the picture as read (a file of another size,
    unreadable or empty fails that picture), and a :func:`lacking_note` for each folder
    without its file; None without folders."""
    if not folders:
        return None

    def find(image_path: Path, loaded: LoadedImage) -> tuple[dict[str, Any], list[str]]:
        fields: dict[str, Any] = {}
        lacking: list[str] = []
        for entry in folders:
            found = found_files.get(image_path, {}).get(entry)
            if found is None:
                lacking.append(lacking_note(entry))
            else:
                fields.update(read_guidance(entry.option, found, loaded.shape))
        return fields, lacking

    return find


def fixed_guidance(singles: Mapping[GuidanceOption, Path]
                   ) -> tuple[dict[str, Any], str | None, dict[str, str]]:
    """The guidance files for every picture, read once: ``(request fields, the label map's
    set or None, how messages name each field's file: "--sketch lines.png")``; their sizes
    are checked by :func:`engines.batch.clear_folder` (its ``fixed_names``)."""
    fields: dict[str, Any] = {}
    label_set = None
    for option, path in singles.items():
        read = read_guidance(option, path, None)
        label_set = read.pop("label_set", label_set)
        fields.update(read)
    return fields, label_set, {option.field: f"--{option.dest} {path}"
                               for option, path in singles.items()}


def refuse_output_among_inputs(output: Path, masks: Path | None,
                               folders: Sequence[GuidanceFolder]) -> None:
    """Raise :class:`InputError` before any work when the output folder is the ``masks``
    folder or a guidance folder: results are named like the pictures (``photo.png``), which
    the next run would take as their masks or guidance."""
    named = [("--masks", masks)] if masks is not None else []
    named += [(entry.flag, entry.folder) for entry in folders]
    for flag, folder in named:
        if folder.exists() and output.exists() and folder.resolve() == output.resolve():
            raise InputError(f"the output folder {output} is the {flag} folder: results are "
                             "named like the pictures (photo.png), which a later run would "
                             "read as their files there; choose another output folder")


def protected_files(masks: Iterable[Path], references: Iterable[str],
                    guidance: Mapping[Path, str] | None = None) -> dict[str, Protected]:
    """The files no result may replace, whatever ``--overwrite`` says, as the refusal names
    them (:class:`engines.batch.Protected`): the mask files in use, the guidance files in
    use (``guidance``: each with its option, :func:`guidance_in_use`) and the reference
    photos (``--exemplar``, as named)."""
    protected = {str(path): Protected(f"a mask file in use ({path})", "masks")
                 for path in masks}
    for path, flag in (guidance or {}).items():
        protected.setdefault(str(path), Protected(f"a guidance file in use ({flag} {path})",
                                                  "guidance files"))
    for path in references:
        protected.setdefault(path, Protected(f"the reference photo --exemplar {path}",
                                             "reference photos"))
    return protected


def shrunk_once(paths: list[str], notes: list[str]) -> Callable[[Path, InpaintRequest,
                                                                    Engine], None]:
    """A folder run's ``before_fill`` (:data:`engines.batch.BeforeFill`) adding to ``notes``
    once, at the first picture whose fill searches a reference photo (``paths``, as named)
    shrunk, which and why, in ``inpaint``'s words
    (:func:`engines.region.shrunk_references_note`), naming that picture (``"photo.png:
    --exemplar ..."``), for the summary; nothing is worked out for the pictures after it."""
    said = not paths

    def before_fill(picture: Path, request: InpaintRequest, engine: Engine) -> None:
        nonlocal said
        if not said:
            note = shrunk_references_note(request, engine, reference_names(paths))
            if note:
                notes.append(f"{picture.name}: {note}")
            said = bool(note)

    return before_fill


def print_failures(result: BatchResult, debug: bool = False) -> None:
    """The pictures that failed under their own heading, ``1 failed:``, then one ``  name:
    reason`` line each; nothing when none failed. With ``debug`` (``--debug``), then on
    stderr, for each in that order, ``name failed:`` and the traceback of the exception it
    failed with (:attr:`engines.batch.BatchResult.errors`), with its notes (where an
    out-of-memory happened: :func:`cli._errors.debug_traceback`)."""
    if not result.failed:
        return
    print(f"{len(result.failed)} failed:")
    for path, reason in result.failed:
        print(one_line(f"  {path.name}: {reason}"))
    if debug and result.errors:
        sys.stdout.flush()  # the list first, where both go to one terminal
        for (path, _), error in zip(result.failed, result.errors):
            print(one_line(f"{path.name} failed:"), file=sys.stderr)
            print(debug_traceback(error), end="", file=sys.stderr)


def print_bug_hint(result: BatchResult, debug: bool = False) -> None:
    """Without ``debug`` (``--debug``), :data:`~cli._errors.BUG_HINT` on stderr, once, when
    a picture of ``result`` failed from a bug (an engine's crash, any exception not
    user-facing: :func:`cli._errors.is_bug` on :attr:`engines.batch.BatchResult.errors`), as
    a single command says it; nothing after ordinary failures (a damaged picture). A folder
    run says it last (a stopped one after its error line, an interrupted one before it)."""
    if not debug and any(is_bug(error) for error in result.errors):
        sys.stdout.flush()  # after the lists, where both go to one terminal
        print(BUG_HINT, file=sys.stderr)


def print_skipped(result: BatchResult) -> None:
    """Say which pictures were skipped, and why: results already in the output folder (a
    count) and pictures of another size than the mask (``  big.png 320x240, the mask
    160x120``, one line each, ending ``(turned upright by its EXIF orientation; stored as
    160x120)`` where that explains it: :attr:`engines.batch.OtherSize.turned`). Neither is a
    failure."""
    if result.skipped:
        print(f"{len(result.skipped)} {SKIPPED}")
    if result.other_size:
        by_mask = all(entry.what == "the mask" for entry in result.other_size)
        print(f"{len(result.other_size)} {OTHER_SIZE if by_mask else OTHER_SIZE_GUIDANCE}:")
        for entry in result.other_size:
            (width, height), (mask_width, mask_height) = entry.size, entry.mask_size
            turned = f" ({entry.turned})" if entry.turned else ""
            print(one_line(f"  {entry.path.name} {width}x{height}, {entry.what} "
                           f"{mask_width}x{mask_height}{turned}"))


def print_outcome(result: BatchResult, notes: Iterable[str] | None = None, *,
                  skips: bool = True, debug: bool = False) -> None:
    """What a folder run printed under its summary line, each group under its own heading
    and in this order: the pictures that failed (:func:`print_failures`), those skipped
    (:func:`print_skipped`; not with ``skips=False``, for a stopped run whose message counts
    them), then one ``note: ...`` line per note on the results written (``notes``; by
    default :func:`engines.batch.note_lines`: guidance a picture's fill could not follow,
    what reading a picture converted (16 bits, only its first frame...), transparency
    flattened onto white, the metadata of a result written as BMP or GIF, a grey colour
    profile a colour result left out, each as ``inpaint`` says it). Skips and notes are no
    failure: they change no exit code. ``debug``: the failures' tracebacks too, on stderr
    (:func:`print_failures`)."""
    print_failures(result, debug)
    if skips:
        print_skipped(result)
    for line in note_lines(result) if notes is None else notes:
        print(one_line(f"note: {line}"))


def _interrupted(stop: BatchInterrupted, overwrite: bool,
                 notes: Iterable[str] | None = None,
                 more: Callable[[BatchResult], None] | None = None,
                 debug: bool = False) -> KeyboardInterrupt:
    """The interrupt to raise after Ctrl+C stopped a folder run: its message says how far the
    run got and how to finish it (printed by :func:`cli.main`, exit code 130), after what it
    did (:func:`print_outcome`, with ``notes``: by default the results'; then ``more`` of
    it, a command's own lists; ``debug``: the failures' tracebacks too).

    After a run with ``overwrite``, the results an earlier run left for the pictures not
    redone (:attr:`~engines.batch.BatchInterrupted.earlier`) are listed on stdout, one name
    a line: a run without ``--overwrite`` would keep them, so the advice is to run the same
    command again (every picture is redone) or to delete those files first."""
    print_outcome(stop.result, notes, skips=False, debug=debug)
    if more is not None:
        more(stop.result)
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
    print_bug_hint(stop.result, debug)
    return KeyboardInterrupt(f"interrupted: {so_far(stop.result, stop.not_done)}; {again}")


def _print_earlier(earlier: tuple[Path, ...], noun: str) -> None:
    """List on stdout, one name a line, the results an earlier run left for the pictures a
    stopped ``--overwrite`` run did not redo (:attr:`~engines.batch.BatchInterrupted.earlier`,
    :attr:`~engines.batch.BatchStopped.earlier`)."""
    count = len(earlier)
    print(f"{count_noun(count, noun)} in {earlier[0].parent} "
          f"{'is' if count == 1 else 'are'} still from before this run (not redone):")
    for path in earlier:
        print(one_line(f"  {path.name}"))


def _stopped(stop: BatchStopped, notes: Iterable[str] | None = None,
             more: Callable[[BatchResult], None] | None = None, debug: bool = False) -> int:
    """Say why a folder run stopped part way and what it did (with ``notes``: by default the
    results'; ``more`` of it; with ``--overwrite``, also which results are still an earlier
    run's; ``debug``: the failures' tracebacks too); returns the exit code."""
    print_outcome(stop.result, notes, skips=False, debug=debug)
    if more is not None:
        more(stop.result)
    if stop.earlier:
        _print_earlier(stop.earlier, stop.result.noun)
    print(f"error: {one_line(str(stop))}", file=sys.stderr)
    print_bug_hint(stop.result, debug)
    return EXIT_FAILED


def run_to_end(clear: Callable[[], BatchResult], close: Callable[[], None],
               overwrite: bool,
               notes: Callable[[BatchResult], Iterable[str]] | None = None,
               more: Callable[[BatchResult], None] | None = None,
               debug: bool = False) -> BatchResult | int:
    """``clear()``'s result (a :func:`engines.batch.clear_folder` run). A run stopped part
    way first calls ``close()``, so that the progress bar ends before the message: Ctrl+C is
    raised again, saying how to finish (:func:`_interrupted`), and a stop for lack of room
    is said and its exit code returned (:func:`_stopped`); either says the notes a finished
    run would say (``notes(what was done)``; by default the results',
    :func:`engines.batch.note_lines`), then ``more(what was done)``, what else the command
    says of a finished run (the watermark's pictures not written); with ``debug``
    (``--debug``), the tracebacks of the pictures that failed (:func:`print_failures`)."""
    try:
        return clear()
    except BatchInterrupted as stop:
        close()
        raise _interrupted(stop, overwrite, notes and notes(stop.result), more,
                           debug) from None
    except BatchStopped as stop:
        close()
        return _stopped(stop, notes and notes(stop.result), more, debug)


def run(args: argparse.Namespace) -> int:
    refuse_link_loops([  # a path that is a link loop is named, not taken for a bug
        ("--images", args.images), ("--masks", args.masks), ("--mask", args.mask),
        ("-o", args.output), *((f"--{option.dest}", getattr(args, option.dest))
                               for option in GUIDANCE_OPTIONS),
        *(("--exemplar", path) for path in args.exemplar or ())])
    registry.engine_class(args.engine)  # an unknown name fails before any work
    options = engine_options(args)
    settings = request_settings(args)  # a --context the strategy ignores is refused here
    mask_path, masks = (Path(args.mask) if args.mask else None,
                        Path(args.masks) if args.masks else None)
    folders, singles = guidance_options(args, Path(args.images), masks)
    if args.other_sizes is not None and args.masks and not singles:  # and one it ignores
        raise InputError("--other-sizes applies to --mask (one mask for every picture), not "
                         "--masks: each mask there must be its picture's size")
    refuse_output_among_inputs(Path(args.output), masks, folders)
    debug = getattr(args, "debug", False)  # each failed picture's traceback, on stderr
    in_use: list[Path] = []  # the mask files, found once: no result may replace one
    found_masks: dict[Path, Path] = {}  # each picture's file in the --masks folder
    guidance_used: dict[Path, str] = {}  # the same for the guidance files
    found_guidance: FoundGuidance = {}  # each picture's files in the guidance folders

    def leave_out(files: list[Path]) -> dict[tuple[str, str], list[Path]]:
        names = folder_names(masks) if masks is not None else {}  # listed once for both
        found = find_masks(files, masks, names)
        found_masks.update(found)
        in_use.extend(masks_in_use(mask_path, found))
        near = near_miss_masks(files, masks, found, names)  # masks, saved wrongly
        in_use.extend(near)
        pictures = {path.resolve() for path in files}  # "p_mask.png " is said as skipped
        near = [path for path in near if path.resolve() in pictures]
        refuse_masks_as_guidance(singles, in_use)
        found_guidance.update(find_guidance(files, folders))
        guidance_used.update(guidance_in_use(files, folders, singles,
                                             [] if mask_path else in_use, found_guidance))
        return {near_misses_left_out(near): near, MASKS_LEFT_OUT: in_use,
                GUIDANCE_LEFT_OUT: list(guidance_used),
                REFERENCES_LEFT_OUT: [Path(path) for path in args.exemplar or ()]}

    sources = folder_pictures(  # a mask, guidance or reference file there is not a picture
        args.images, args.output, "results",
        used_folders=[*([masks] if masks else []), *(entry.folder for entry in folders)],
        leave_out=leave_out)
    mask = load_layer(mask_path, None, "mask") if mask_path else mask_finder(masks, found_masks)
    given = {option.kind for option in singles} | {entry.option.kind for entry in folders}
    unused, users = registry.unused_guidance(  # said once, not per picture
        args.engine, given | ({Guidance.EXEMPLARS} if args.exemplar else set()))
    fixed, label_set, fixed_names = fixed_guidance(  # once for the folder, as the mask; a
        {option: path for option, path in singles.items()  # file the engine ignores is
         if option.kind.value not in unused})  # not read, nor decides which sizes are filled
    if "labels" in fixed:
        settings["label_set"] = label_set
    references = load_references(args.exemplar, args.engine, options)  # once for the folder
    if references:
        settings["exemplars"] = tuple(references.values())
    shrunk: list[str] = []  # the reference photos searched shrunk, said with the notes

    def notes(done: BatchResult) -> list[str]:  # a stopped run's too
        return [*([ignored_note(args, unused, users)] if unused and done.written else []),
                *shrunk, *note_lines(done)]  # a result's metadata a BMP or GIF dropped too

    with contextlib.ExitStack() as closing:  # a folder refused before any work shows no bar
        progress = folder_progress(closing, len(sources), args.engine)
        result = run_to_end(lambda: clear_folder(
            sources, args.output, mask, args.engine, progress, overwrite=args.overwrite,
            request_settings=settings, engine_options=options,
            output_format=args.format, other_sizes=args.other_sizes or "skip",
            keep_metadata=not args.strip_metadata,
            protected=protected_files(in_use, references, guidance_used),
            reference_names=reference_names(references),
            before_fill=shrunk_once(list(references), shrunk),
            guidance=guidance_finder(  # guidance the engine ignores is not read per picture
                [entry for entry in folders if entry.option.kind.value not in unused],
                found_guidance),
            fixed_guidance=fixed, guidance_given=given, fixed_names=fixed_names,
            mask_name=f"the mask ({mask_path})"),
            closing.close, args.overwrite, notes, debug=debug)
        if not isinstance(result, BatchResult):
            return result  # stopped for lack of room: its exit code
    print(f"{len(result.written)} written to {args.output}, {len(result.failed)} failed")
    print_outcome(result, notes(result), debug=debug)
    print_bug_hint(result, debug)
    return EXIT_OK if result.ok else EXIT_FAILED
