"""The editor's file commands: open and save pictures, masks, label maps, sketches, colour
strokes and sampling areas in and out, reference photos, and whether saving keeps the photo's
metadata.

:class:`FileCommands` is a mixin of :class:`app.window.MainWindow`. It works through the
window's document, controllers and panels, and asks the user only through the window's
question methods (``ask_open_path``, ``ask_open_paths``, ``ask_save_path``, ``confirm``,
``show_error``), which tests answer without a person. Every failure to read or write is
shown as one message and leaves the document as it was.

The dialogs start in remembered folders (:mod:`app.preferences`): Open in the last opened
picture's, Save As and the exports in the last folder saved into (next to the picture when
none is remembered), each import in its own last folder.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from app import preferences
from app.busy import wait_for
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Document, Layer
from app.references import thumbnail_pixels
from app.semantic import NO_LABEL_MAP
from engines import registry
from engines.base import Guidance, InputError
from engines.deep_samples import written_depth
from engines.fileio import (
    DEFAULT_QUALITY,
    IMAGE_SUFFIXES,
    ImageFileError,
    count_noun,
    drops_metadata,
    empty_layer_problem,
    frame_count,
    image_size,
    join_words,
    kept_jpeg_quality,
    kept_storage,
    load_colour_strokes,
    load_image,
    load_mask,
    load_reference,
    loses_transparency,
    profile_note,
    save_colour_strokes,
    save_image,
    save_mask,
    suggest_output_path,
)
from engines.guidance import reference_patch_option, reference_patch_size, reference_pixels
from engines.region import REFERENCE_PIXELS_PER_REGION, reference_size


def _read_reference(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A reference photo's pixels as requests carry them (RGB, or RGBA when partly
    transparent: :func:`engines.guidance.reference_pixels`), read-only, and its thumbnail.
    Qt-free, for a worker thread. A file cut short or damaged is refused
    (:func:`engines.fileio.load_reference`)."""
    loaded = load_reference(path)
    pixels = reference_pixels(loaded.rgb, loaded.alpha)
    pixels.flags.writeable = False  # freshly decoded: the document need not copy it
    return pixels, thumbnail_pixels(loaded.rgb)


def large_reference_note(name: str, shape: tuple[int, ...],
                         picture_size: tuple[int, int]) -> str:
    """What a fill on a picture of ``picture_size`` ``(w, h)`` does with a reference photo of
    ``shape`` ``(h, w, ...)`` named ``name`` that it may search shrunk
    (:func:`engines.region.reference_size`, at full scale: from the smallest area filled
    to the whole picture), else "" (it is always searched as it is)."""
    height, width = shape[:2]
    least = reference_size(shape, (1, 1), 1.0)  # a fill of a speck: the floor
    most = reference_size(shape, picture_size, 1.0)  # a fill of the whole picture

    def text(size: tuple[int, int]) -> str:
        return f"{size[0]}×{size[1]}"

    if least == (width, height):
        return ""
    said = f"{name} ({width}×{height}) is large: "
    if most == least:
        return said + f"a fill searches it shrunk to {text(least)}, to stay quick"
    if most != (width, height):
        return (said + f"a fill searches it shrunk, to between {text(least)} and "
                f"{text(most)} depending on the area filled, to stay quick")
    under = height * width / REFERENCE_PIXELS_PER_REGION / 1e6
    return (said + f"a fill of an area under {under:.3g} megapixels searches it shrunk "
            f"(to {text(least)} at the least), to stay quick")


IMAGE_FILTER = "Images ({})".format(" ".join(f"*{ext}" for ext in IMAGE_SUFFIXES))


@dataclass(frozen=True)
class _GuideFile:
    """A guidance layer as a file holds it, as the CLI reads it: the binary ones (--sketch,
    --include, --exclude) as a PNG, white = on the line / in the area, the colour strokes
    (--color) as an RGBA PNG (:func:`engines.fileio.load_colour_strokes`)."""

    title: str  # what dialogs call it: "Include Area"
    what: str  # what messages call it: "include area"
    suffix: str  # of the file name suggested for it: "_include"
    layer: Layer  # the document's layer that holds it
    plural: bool = False  # ``what`` is a plural noun ("colour strokes")


_GUIDE_FILES = {
    "sketch": _GuideFile("Sketch", "sketch", "_sketch", Layer.SKETCH),
    "include": _GuideFile("Include Area", "include area", "_include", Layer.SAMPLING),
    "exclude": _GuideFile("Exclude Area", "exclude area", "_exclude", Layer.SAMPLING),
    "color": _GuideFile("Colour Strokes", "colour strokes", "_colour_strokes", Layer.COLOR,
                        plural=True),
}
_SAMPLING_KINDS = {"include": SAMPLE_INCLUDE, "exclude": SAMPLE_EXCLUDE}
# what the questions call each kind of guidance not kept (Document.unkept_guidance), whether
# that is a plural noun, and the File menu entry that keeps it (a submenu's entry in full)
_UNKEPT_GUIDANCE = {
    "sketch": ("sketch", False, "Export Sketch…"),
    "color": ("colour strokes", True, "Export Colour Strokes…"),
    "include": ("include area", False, "Export Sampling Area → Include Area…"),
    "exclude": ("exclude area", False, "Export Sampling Area → Exclude Area…"),
    "labels": ("label edits", True, "Export Label Map…"),
}


def guidance_words(guidance: Sequence[str]) -> tuple[str, bool, list[str]]:
    """What ``guidance`` (kinds of :data:`app.document.GUIDANCE`) is called ("sketch and
    label edits", the two sampling areas named as one), whether that is plural, and the
    File menu entries that keep it, each once."""
    names = [_UNKEPT_GUIDANCE[kind][0] for kind in guidance]
    if "include" in guidance and "exclude" in guidance:  # one name for the two areas
        names[list(guidance).index("include")] = "include and exclude areas"
        names.remove("exclude area")
    plural = len(guidance) > 1 or any(_UNKEPT_GUIDANCE[kind][1] for kind in guidance)
    commands = list(dict.fromkeys(_UNKEPT_GUIDANCE[kind][2] for kind in guidance))
    return join_words(names), plural, commands


def discard_question(picture: bool, guidance: Sequence[str],
                     face: Sequence[str] | None = None, save: bool = False,
                     pending_fill: bool = False) -> str | None:
    """What closing the picture asks when its pixels have changes not saved (``picture``)
    and the guidance ``guidance`` (kinds of :data:`app.document.GUIDANCE`) holds work no
    file keeps, naming what would be lost and how to keep it; None when nothing would be.
    ``save``: the question is answered Save / Don't Save / Cancel, so it ends "Save the
    picture first?" instead of "Discard them?"; with ``pending_fill`` (a fill shown, waiting
    for Enter) it says that saving applies it, or, asking about guidance alone, that the
    fill is not applied (it goes with them).

    In a face edit, ``face`` names the face's work not pasted back ("changed pixels", "its
    sketch", "a fill not applied"; empty when none): the question then says the face's work
    apart from the photo's, and the photo's guidance is exported after leaving the face
    (File's exports act on the face crop meanwhile). There ``save`` means pasting the face
    back (applying its fill shown first) and saving the photo."""
    if not picture and not guidance and not face:
        return None
    what, plural, commands = guidance_words(guidance)
    are, them = ("are", "them") if plural else ("is", "it")
    keep = "File → " + " / ".join(commands)
    keeps = "keep" if len(commands) > 1 else "keeps"
    if face is None:
        if not picture:
            text = (f"The {what} you drew {are} not saved with the picture: export {them} "
                    f"({keep}) to keep {them}.")
            if pending_fill:  # discarded with them
                return text + " The fill shown is not applied yet (Enter applies it). " \
                    "Discard them?"
            return text + f" Discard {them}?"
        text = "The picture has changes that are not saved."
        if guidance:
            text += f" The {what} {are} not kept either ({keep} {keeps} {them})."
        if save and pending_fill:
            text += (" The fill shown is not applied yet: saving applies it, as File → Save "
                     "does.")
        return text + (" Save the picture first?" if save else " Discard them?")
    said = []
    if face:
        said.append(f"The face has changes that are not pasted back ({join_words(face)}).")
    if picture:
        said.append("The photo has changes that are not saved.")
    if guidance:
        said.append(f"The photo's {what} {are} not kept{' either' if said else ''} (leave "
                    f"the face, then {keep} {keeps} {them}).")
    if save:
        apply = "Apply the fill shown, paste" if "a fill not applied" in face else "Paste"
        first = f"{apply} the face back and save the photo first?" if face \
            else "Save the photo first?"
        return " ".join([*said, first])
    alone = not face and not picture and not plural
    return " ".join(said) + (" Discard it?" if alone else " Discard them?")


def _start_folder(purpose: str) -> str:
    """Where an open dialog for ``purpose`` starts: its remembered folder, or "" (the
    dialog's own default) when none is remembered or it is gone."""
    folder = preferences.load_folder(purpose)
    return str(folder) if folder is not None else ""


def _typed_name_problem(path: str | os.PathLike, verb: str) -> str | None:
    """Why the name typed for a file to write, ``path``'s last part as given, names no file,
    for an error message starting "Not ``verb``": a name of only dots and spaces (``"...."``,
    ``"  "``: nothing is left of it once the trailing ones are dropped,
    :func:`_completed_name`), only an image extension (``".png"``, ``".JPG."``, and
    ``".png.png"`` as a dialog may hand back ``".png"`` with its filter's suffix added:
    completed, it would be the hidden file ``.png.png``; :func:`_name_before_extensions`),
    or none at all (a path ending in a separator, a folder's). None when it names a file,
    a hidden one too (``".hidden"``, ``".notes.png"``)."""
    name = os.path.basename(os.fspath(path))
    if not name:
        return f"Not {verb}: {os.fspath(path)} names a folder, not a file; type a file name"
    if not name.strip(". "):
        return (f'Not {verb}: "{name}" cannot be a file name (it has only dots and spaces); '
                "type another name")
    stem, extension = _name_before_extensions(name.rstrip(". "))
    if extension and not stem.strip(". "):
        return (f'Not {verb}: "{name}" is only an extension, with no name before it (it '
                f'would make a hidden file); type a name before it, such as '
                f'"picture{extension}"')
    return None


def _link_problem(path: str | os.PathLike) -> str | None:
    """Why nothing is written at ``path`` when its last part is a symbolic link (a broken
    one too): writing would replace the file it points to, which may be another photo.
    None when ``path`` is no link."""
    try:
        target = os.readlink(path)
    except OSError:  # not a link, or missing
        return None
    name = Path(path).name
    if not os.path.exists(path):
        return f"{name} is a link to {target}, which does not exist: choose another name"
    return f"{name} is a link to {target}: choose the file itself or another name"


def _exists_problem(path: Path, overwrite: bool) -> str | None:
    """Why nothing is written at ``path`` when a file is there and replacing it was not
    asked for (``overwrite``): the editor's words (the dialogs ask before replacing a
    file; there is no setting to allow it). None when it may be written."""
    if overwrite or not path.exists():
        return None
    return f"{path}: already exists; choose another name"


def _name_before_extensions(name: str) -> tuple[str, str]:
    """``name`` without the image extensions it ends in (any case, repeated ones too), and
    the first of them as typed: ``("", ".png")`` for ``".png.png"``, ``("photo", ".JPG")``
    for ``"photo.JPG"``, ``(".hidden", "")`` for ``".hidden"`` (no extension)."""
    extension = ""
    while True:
        base, dot, last = name.rpartition(".")
        if not dot or f".{last.lower()}" not in IMAGE_SUFFIXES:
            return name, extension
        name, extension = base, f".{last}"


def _completed_name(path: str | Path, suffix: str) -> Path:
    """The file a name typed in a save dialog stands for: trailing dots and spaces dropped
    from its name, as Windows drops them (``"x.png."`` -> ``x.png``, ``"k.jpg "`` ->
    ``k.jpg``), then ``suffix`` added when it has none (``"trailing."`` -> ``trailing.jpg``):
    Qt's dialog on Linux adds none. A name of only dots and spaces names no file: callers
    refuse it first (:func:`_typed_name_problem`)."""
    path = Path(path)
    name = path.name.rstrip(". ")
    if name and name != path.name:
        path = path.with_name(name)
    return path if path.suffix else path.with_name(path.name + suffix)


# the pictures shipped with the program (the editor opens one when given none)
SAMPLES_FOLDER = Path(__file__).resolve().parent.parent / "resources" / "samples"


def _in_save_folder(suggestion: Path) -> Path:
    """``suggestion``'s name in the folder last saved into. When no folder is remembered
    (or it is gone): ``suggestion`` itself, beside its picture, except beside a bundled
    sample (:data:`SAMPLES_FOLDER`: the program's own files, inside site-packages once
    installed), where it is the user's pictures folder (:func:`_pictures_folder`)."""
    folder = preferences.load_folder("save")
    if folder is not None:
        return folder / suggestion.name
    if suggestion.parent.resolve() == SAMPLES_FOLDER:
        return _pictures_folder() / suggestion.name
    return suggestion


def _pictures_folder() -> Path:
    """The user's pictures folder (platformdirs: ``~/Pictures``, XDG's where set), or the
    home folder when it does not exist."""
    pictures = Path(platformdirs.user_pictures_dir())
    return pictures if pictures.is_dir() else Path.home()


class FileCommands:
    """Open, save, import and export (mixed into the main window, see the module notes)."""

    # --------------------------------------------------------- open and save
    def open_path(self, path: str | Path | None = None, mask: str | Path | None = None) -> bool:
        """Open an image (asks for one when ``path`` is None) with the mask file ``mask``
        when given; returns whether the picture opened. A mask that cannot be read or is of
        another size is said in an error message, the picture opened without it. A file cut
        short opens with the part it lacks masked (pixels unknown, to fill), the mask
        file's area added to it (the status bar says so), and the mask overlay shown when
        it was switched off (saying so too)."""
        if path is None:
            path = self.ask_open_path("Open Image", IMAGE_FILTER, _start_folder("open"))
            if not path:
                return False
        # one question for the photo and the face edit, before anything is dropped; a face
        # edit ends only once the new picture has loaded (a failed Open keeps it)
        if not self.confirm_discard_changes():
            return False
        try:
            loaded = wait_for(self, f"Opening {Path(path).name}...",
                              lambda: load_image(path, cut_short_ok=True))
        except ImageFileError as exc:
            self.show_error(str(exc))
            return False
        document = Document(loaded.rgb, loaded.alpha, str(path), loaded.notes,
                            loaded.metadata, loaded.deep_original, loaded.grey,
                            shape=loaded.shape)  # layer files are checked against it
        missing = loaded.missing  # a file cut short: what it lacks is the hole
        if missing is not None:
            document.replace_layer(Layer.MASK, missing, "Mask the missing part")
            document.mark_saved()
        mask_problem = added = ""
        if mask is not None:  # a mask that cannot be taken leaves the picture to open
            shape = loaded.shape  # (H, W), naming a photo turned upright
            try:
                given = wait_for(self, f"Opening {Path(mask).name}...",
                                 lambda: load_mask(mask, shape))
            except ImageFileError as exc:
                mask_problem = str(exc)
            else:
                if missing is not None:  # the missing pixels are unknown: filled too
                    given = np.maximum(given, missing)
                    added = f"The mask from {Path(mask).name} is added to that hole"
                document.replace_layer(Layer.MASK, given, "Import mask")
            document.mark_saved()
        self.faces.set_document(document)  # ends a face edit, not showing the photo again
        self._end_face_mode()  # the photo's engine and tool
        self.set_document(document)
        self.remember_opened(Path(path))
        if added:
            self.say_also(added)
        if missing is not None and missing.any():  # a hole to see before filling it
            shown = self.overlay_panel.reveal(Layer.MASK)
            if shown:
                self.say_also(shown)
        if mask_problem:
            self.show_error(f"Opened {Path(path).name} without a mask: the mask "
                            f"{Path(mask).name} was not loaded ({mask_problem})")
        return True

    def _photo(self) -> Document | None:
        """The open photo's document: in a face edit, the photo the face was cut from."""
        return self.faces.edit.parent if self.faces.edit is not None else self.document

    def confirm_discard_changes(self, stopping: bool = False) -> bool:
        """Before the photo is dropped (closing, opening another): whether the user lets go
        of what would be lost, one question naming it (:func:`discard_question`): the
        picture's changes not saved, the guidance drawn that no file keeps (saving the
        picture keeps none of it; exporting does), in a face edit the face's work not pasted
        back (:meth:`face_work_lost`: not a mask stroke alone), else a fill shown, not
        applied. True when nothing would be lost. Changes a saved file would keep are asked
        Save / Don't Save / Cancel (:meth:`ask_save_changes`): Save saves as File → Save
        does, in a face edit after pasting the face back (:meth:`_paste_face_to_save`), and
        goes on only once the file is written. A face edit whose crop holds guidance no file
        keeps (its sketch, ...) is asked Yes / No: pasting back would drop that guidance.
        ``stopping``: the runs are being stopped (closing, agreed to): a fill running in the
        face is stopped before pasting back, not asked about again."""
        photo = self._photo()
        if photo is None:
            return True
        edit = self.faces.edit
        face = self.face_work_lost() if edit is not None else None
        if edit is None:
            savable = photo.picture_modified
        else:  # saving pastes the face back, which keeps its pixels, not its guidance
            savable = (photo.picture_modified or bool(face)) \
                and not edit.document.unkept_guidance()
        question = discard_question(photo.picture_modified, photo.unkept_guidance(), face,
                                    savable, pending_fill=self.controller.has_result)
        if question is not None and savable:
            answer = self.ask_save_changes("Unsaved changes", question)
            if answer == "save":
                # saved (Save As when it has no name yet): guidance no file keeps is still
                # asked about, on its own
                return self._paste_face_to_save(stopping) and self.save() \
                    and self.confirm_discard_changes(stopping)
            return answer == "discard"
        if question is not None:
            return self.confirm("Unsaved changes", question)
        if self.controller.has_result:  # a finished fill shown, not applied (Enter)
            return self.confirm("Fill not applied",
                                "The fill shown is not applied to the picture. Discard it?")
        return True

    def _paste_face_to_save(self, stopping: bool = False) -> bool:
        """Before the close question's Save: in a face edit, the face pasted back (a fill
        shown in it applied first) and the photo shown, or the face left when it has nothing
        to paste; whether the photo is shown now (True outside a face edit). A fill running
        in the face is asked about (:meth:`paste_face_back`), or with ``stopping`` stopped
        first: the face is pasted without it."""
        if self.faces.edit is None:
            return True
        if stopping and self.controller.busy:
            self.controller.cancel()
        if self.faces.has_unpasted_changes or self.controller.has_result:
            return self.paste_face_back()
        return self.leave_face(ask=False)

    def save(self) -> bool:
        """Save to the last save path, or ask for one (never the original by default)."""
        if self.document is None or not self._check_not_in_face():
            return False
        if self.save_path is None:
            return self.save_as()
        return self._write(self.save_path, overwrite=True)

    def save_as(self, path: str | Path | None = None, overwrite: bool = False) -> bool:
        """Save under ``path`` (asks when None; the dialog confirms replacing a file). A name
        typed without a suffix gets the original's (:func:`_completed_name`, trailing dots
        and spaces dropped), and replacing a file of the completed name is asked about. A
        name of only dots and spaces, or only an extension (``".png"``), is refused, saying
        so (:func:`_typed_name_problem`), before any question, and nothing is written; so
        is a name that is a symbolic link (:func:`_link_problem`: writing would replace the
        file it points to)."""
        if self.document is None or not self._check_not_in_face():
            return False
        if path is None:
            # a name no file has yet: never the original
            suggestion = suggest_output_path(
                _in_save_folder(Path(self.document.path or "untitled.png")))
            path = self.ask_save_path("Save Image", str(suggestion), IMAGE_FILTER)
            if not path:
                return False
            overwrite = True  # the native dialog already asked before replacing a file
        problem = _typed_name_problem(path, "saved")
        if problem is not None:  # refused before any question
            self.show_error(problem)
            return False
        typed = Path(path)
        # a name typed without a suffix: the original's kind
        path = _completed_name(typed, Path(self.document.path or "").suffix or ".png")
        problem = _link_problem(path)
        if problem is not None:  # refused before any question
            self.show_error(problem)
            return False
        # the dialog asked about the name as typed: ask about this one (the original is asked
        # about below)
        if path != typed and path.exists() and not self._is_open_picture(path):
            if not self.confirm("Replace?", f"{path.name} already exists. Replace it?"):
                return False
            overwrite = True
        if self._is_open_picture(path):
            question = f"{path.name} is the original picture. Replace it?"
            frames = frame_count(path)
            if frames > 1:
                what = "pages" if path.suffix.lower() in (".tif", ".tiff") else "frames"
                question = (f"{path.name} is the original picture. It has {frames} {what}: "
                            f"replacing it keeps only the first, the one edited here, and "
                            f"the other {frames - 1} are lost. Replace it?")
            if not self.confirm("Replace the original?", question):
                return False
        if self._write(path, overwrite):
            self.save_path = path
            self.show_title()  # Ctrl+S writes this file now
            preferences.save_folder("save", path.parent)
            return True
        return False

    def _is_open_picture(self, path: str | Path) -> bool:
        """Whether ``path`` is the file the open picture came from (links followed); in a
        face edit, the photo's."""
        picture = self._photo()
        original = picture.path if picture is not None else None
        if not original:
            return False
        try:
            return os.path.samefile(path, original)
        except OSError:  # one of them does not exist (any more)
            return Path(path).resolve() == Path(original).resolve()

    def _refuse_original(self, path: str | Path, what: str) -> bool:
        """Show an error and return True when ``path`` is the open picture's own file: a
        mask or a label map must never replace the photo."""
        if not self._is_open_picture(path):
            return False
        self.show_error(f"{Path(path).name} is the picture being edited: choose another name "
                        f"for the {what}")
        return True

    def _write(self, path: Path, overwrite: bool) -> bool:
        """Write the picture to ``path`` (replacing a file there only with ``overwrite``),
        saying what was written. Refused before any question: an extension the editor does
        not write, a file there without ``overwrite``, a symbolic link
        (:func:`_link_problem`; one made while writing is refused too)."""
        doc = self.document
        if path.suffix.lower() not in IMAGE_SUFFIXES:  # refused before any question
            self.show_error(f"{path.name}: cannot write {path.suffix.lower()} files; use one "
                            f"of {', '.join(IMAGE_SUFFIXES)}")
            return False
        problem = _link_problem(path) or _exists_problem(path, overwrite)
        if problem is not None:
            self.show_error(problem)
            return False
        if loses_transparency(doc.alpha, path.suffix) and not self.confirm(
                    "Save without transparency?",
                    f"{path.suffix.upper()[1:]} files have no transparency: the transparent "
                    "parts of the picture will be saved flattened onto white. Save anyway? "
                    "(PNG, WebP and TIFF keep transparency.)"):
            return False
        # a fill shown waiting for Enter is applied first: the file holds what the canvas
        # shows (unless the fill may no longer be used: it is dropped, saying why)
        dropped = self.controller.drop_outdated() if self.controller.has_result else ""
        applied = self.controller.has_result and self.controller.apply()
        # what is written is this moment's picture: a fill applied while the file is
        # being written leaves the document modified
        state, picture = doc.state, doc.layer_state(Layer.IMAGE)
        image, alpha = doc.image.copy(), None if doc.alpha is None else doc.alpha.copy()
        edited = None if doc.edited_pixels is None else doc.edited_pixels.copy()
        # without the photo's metadata, still the source's format (lossless WebP, palette)
        metadata = doc.metadata if self.keep_metadata else doc.metadata.stripped()
        try:
            wait_for(self, f"Saving {path.name}...", lambda: save_image(
                path, image, alpha, overwrite=overwrite, metadata=metadata,
                deep_original=doc.deep_original, edited=edited, grey=doc.grey,
                follow_links=False))
        except ImageFileError as exc:
            self.show_error(str(exc))
            return False
        doc.mark_saved(state, picture)  # the guidance is not in the file: still not kept
        self.show_modified()
        depth = ""
        if doc.deep_original is not None:
            kind = written_depth(doc.deep_original.dtype, path.suffix)
            if kind is None:
                depth = (f" at 8 bits per channel ({path.suffix.lower()} has no deeper form; "
                         "PNG and TIFF do)")
            else:
                depth = " at 16 bits per channel" if kind == "16-bit" else " in floating point"
        if path.suffix.lower() in (".jpg", ".jpeg"):
            kept = kept_jpeg_quality(metadata, path.suffix)
            depth += (f" at JPEG quality {kept}, the original's" if kept
                      else f" at JPEG quality {DEFAULT_QUALITY}")
        storage = kept_storage(metadata, path.suffix)
        if storage is not None:
            depth += f" {storage}, as the original"
        if drops_metadata(metadata, path.suffix):
            depth += (f" without the colour profile and EXIF ({path.suffix.lower()} has no "
                      "place for them)")
        profile = profile_note(metadata, image, path.suffix, doc.grey)
        said = f"{'Applied the fill shown and saved' if applied else 'Saved'} {path}{depth}"
        # the stages of a fill still running show on the canvas, but are not in the file
        running = "the fill still running is not in the file" if self.controller.busy else ""
        notes = [note for note in (profile, running) if note]
        said = "; ".join([said, *notes])
        if dropped:
            said += f". {dropped}"
        # a longer message is shown longer
        self.statusBar().showMessage(said, 12000 if notes or dropped else 8000 if applied
                                     else 6000)
        self._update_actions()
        return True

    @property
    def keep_metadata(self) -> bool:
        """Whether saved pictures (and folder results) keep their original's metadata."""
        return self.actions["keep_metadata"].isChecked()

    def _keep_metadata_toggled(self, checked: bool) -> None:
        self.statusBar().showMessage(
            "Saved pictures keep the original's colour profile, EXIF, XMP and IPTC" if checked
            else "Saved pictures carry no colour profile, EXIF, XMP or IPTC (date, camera, GPS, "
            "caption, keywords, copyright); a picture with a colour profile is converted to "
            "sRGB, so it looks the same", 6000)

    # -------------------------------------------------- masks and label maps
    def import_mask(self, path: str | Path | None = None) -> bool:
        """Replace the mask by a file's (white = hole), as one undo step. A brush drag under
        way ends first, its stroke a step of its own (:meth:`_end_drag_for`), as for every
        import. A file with no hole (no white pixels: the wrong file, likely) is refused in
        the CLI's words, as an empty sketch is, and the mask painted is kept."""
        if self.document is None or not self._end_drag_for():
            return False
        if path is None:
            path = self.ask_open_path(f"Import Mask{self._crop_title()}",
                                      "PNG masks (*.png);;" + IMAGE_FILTER,
                                      _start_folder("masks"))
            if not path:
                return False
        try:
            mask = self._read_layer(path, load_mask, "mask")
        except ImageFileError as exc:
            self.show_error(str(exc))
            return False
        problem = empty_layer_problem(mask, Path(path).name, "mask")
        if problem is not None:
            self.show_error(f"{problem}; to remove the mask, use Mask → Clear")
            return False
        self.document.replace_layer(Layer.MASK, mask, "Import mask")
        self._on_edit_finished(Layer.MASK.value)
        preferences.save_folder("masks", Path(path).parent)
        return True

    def export_mask(self, path: str | Path | None = None, overwrite: bool = False) -> bool:
        """Save the mask as a grey PNG, white = hole (what ``inpaint`` reads). An empty mask
        (no hole: no value >= 128) is not written: the status bar says so first, no file dialog, no
        question."""
        doc = self.document
        if doc is None:
            return False
        if doc.hole_box() is None:  # also faint values (< 128) only: no hole to fill
            self.statusBar().showMessage("The mask is empty: nothing to export", 6000)
            return False
        return self._export_png(doc.mask, path, overwrite, "Mask", "mask", "_mask")

    def import_labels(self, path: str | Path | None = None) -> bool:
        """Load a label map (indexed PNG of class ids) as the computed map, one undo step."""
        if self.document is None or not self._end_drag_for():
            return False
        if path is None:
            path = self.ask_open_path("Import Label Map", "Label maps (*.png)",
                                      _start_folder("labels"))
            if not path:
                return False
        doc = self.document
        if not self.semantic.import_labels(path):
            return False
        if self.document is doc:  # its label layer is the file's now: kept there
            doc.mark_kept("labels")
        preferences.save_folder("labels", Path(path).parent)
        return True

    def export_labels(self, path: str | Path | None = None, overwrite: bool = False) -> bool:
        """Save the label map as an indexed PNG whose pixel values are the class ids; a name
        typed without a suffix is completed as the other exports' are (:meth:`_export_name`:
        ``.png`` added, trailing dots and spaces dropped). Without a label map (none, or all
        unlabelled) the status bar says so first: no file dialog, no question."""
        if self.document is None:
            return False
        if not self.document.has_label_map():
            self.statusBar().showMessage(NO_LABEL_MAP, 8000)
            return False
        if path is None:
            path = self.ask_save_path(f"Export Label Map{self._crop_title()}",
                                      str(self._export_suggestion("_labels")), "PNG (*.png)")
            if not path:
                return False
            overwrite = True  # the dialog asked about the name it was given
        path = self._export_name(path, overwrite, "Export Label Map")
        if path is None or self._refuse_original(path, "label map"):
            return False
        point = self.document.kept_point("labels")
        if not self.semantic.export_labels(path, overwrite):
            return False
        self.document.mark_kept("labels", point)  # closing need not ask about the edits
        preferences.save_folder("save", Path(path).parent)
        return True

    # ----------------------------------------------- sketches and sampling areas
    def import_sketch(self, path: str | Path | None = None) -> bool:
        """Replace the sketch by a file's lines (white = line), as one undo step."""
        return self._import_guide("sketch", path)

    def export_sketch(self, path: str | Path | None = None, overwrite: bool = False) -> bool:
        """Save the sketch as a PNG, white = line (what ``inpaint --sketch`` reads)."""
        return self._export_guide("sketch", path, overwrite)

    def import_colour_strokes(self, path: str | Path | None = None) -> bool:
        """Replace the colour strokes by a file's (an RGBA PNG, opaque = painted), as one
        undo step."""
        return self._import_guide("color", path)

    def export_colour_strokes(self, path: str | Path | None = None,
                              overwrite: bool = False) -> bool:
        """Save the colour strokes as an RGBA PNG, transparent where none is painted (what
        ``inpaint --color`` reads)."""
        return self._export_guide("color", path, overwrite)

    def import_sampling_area(self, kind: str, path: str | Path | None = None) -> bool:
        """Replace the include or exclude area (``kind``) of the sampling layer by a file's
        white pixels, as one undo step; the other area is kept where the file is black."""
        return self._import_guide(kind, path)

    def export_sampling_area(self, kind: str, path: str | Path | None = None,
                             overwrite: bool = False) -> bool:
        """Save the include or exclude area (``kind``) as a PNG, white = in the area (what
        ``inpaint --include`` / ``--exclude`` read)."""
        return self._export_guide(kind, path, overwrite)

    def _import_guide(self, name: str, path: str | Path | None) -> bool:
        """Import the guidance layer ``name`` (a key of ``_GUIDE_FILES``): a file of another
        size, one that cannot be read, an empty include area (no pixel to copy from), an
        empty sketch, and colour strokes without transparency or without a stroke are one
        message and change nothing."""
        if self.document is None or not self._end_drag_for():
            return False
        guide = _GUIDE_FILES[name]
        what = guide.what
        if path is None:
            path = self.ask_open_path(f"Import {guide.title}{self._crop_title()}",
                                      "PNG (*.png);;" + IMAGE_FILTER, _start_folder("masks"))
            if not path:
                return False
        doc = self.document
        load = (load_colour_strokes if guide.layer is Layer.COLOR
                else functools.partial(load_mask, what=what))
        try:
            area = self._read_layer(path, load, what, guide.plural)
        except ImageFileError as exc:
            self.show_error(str(exc))
            return False
        # an empty include area or sketch: refused in the CLI's words, with the editor's advice
        problem = (empty_layer_problem(area, Path(path).name, what)
                   if guide.layer is not Layer.COLOR else None)
        if problem is not None:
            self.show_error(problem + ("; to remove the lines drawn, use Clear Sketch"
                                       if name == "sketch" else ""))
            return False
        layer = guide.layer
        if layer is Layer.SAMPLING:
            step = doc.replace_sampling_area(_SAMPLING_KINDS[name], area, f"Import {what}")
        else:
            step = doc.replace_layer(layer, area, f"Import {what}")
        crop = f" into {self._face_name()}'s crop" if self.faces.edit is not None else ""
        # said with what the edit did to a fill running (dropped it), not over it
        doc.mark_kept(name)  # the file holds it as it is now
        self._on_edit_finished(layer.value, f"Imported the {what} from {Path(path).name}{crop}"
                               if step is not None
                               else f"{Path(path).name} holds the {what} already shown")
        preferences.save_folder("masks", Path(path).parent)
        return True

    def _read_layer(self, path: str | Path, load: Callable[..., np.ndarray], what: str,
                    plural: bool = False) -> np.ndarray:
        """``load(path, (H, W))`` of the layer file at ``path`` for the document shown, run
        off the GUI thread (:func:`wait_for`). In a face edit a file that is not the crop's
        size is refused saying so (the layers are the crop's, not the photo's); ``what``
        (``plural``: a plural noun) names the layer. A file of another size is refused in the
        CLI's words (:func:`engines.fileio.other_size_reason`, through ``load``): one of the
        size a photo turned upright by its EXIF orientation is stored at says so
        (:attr:`Document.shape`). Raises :class:`ImageFileError`."""
        doc = self.document
        shape = doc.shape
        face = self._face_name() if self.faces.edit is not None else None

        def read() -> np.ndarray:
            if face is not None:
                width, height = image_size(path)
                if (height, width) != shape:
                    raise ImageFileError(
                        f"the {what} {'are' if plural else 'is'} {width}x{height} but the face "
                        f"being edited is {shape[1]}x{shape[0]} ({face}'s crop, not the photo); "
                        "a photo-sized file is imported after pasting the face back or "
                        "leaving it", path)
            return load(path, shape)

        return wait_for(self, f"Opening {Path(path).name}...", read)

    def _export_guide(self, name: str, path: str | Path | None, overwrite: bool) -> bool:
        """Export the guidance layer ``name`` (a key of ``_GUIDE_FILES``); an empty one is
        not written (the status bar says so), nor one over the picture being edited."""
        doc = self.document
        if doc is None:
            return False
        guide = _GUIDE_FILES[name]
        save = None
        if guide.layer is Layer.SAMPLING:
            pixels = doc.sampling_area(_SAMPLING_KINDS[name])
            drawn = pixels
        elif not doc.has_layer(guide.layer):
            pixels = drawn = None
        elif guide.layer is Layer.COLOR:  # a copy: a fill applied meanwhile may clear some
            pixels, save = doc.layer(Layer.COLOR).copy(), save_colour_strokes
            drawn = pixels[..., 3]
        else:
            pixels = np.where(doc.layer(guide.layer) >= 128, 255, 0).astype(np.uint8)
            drawn = pixels
        if drawn is None or not drawn.any():
            self.statusBar().showMessage(
                f"There are no {guide.what}: nothing to export" if guide.plural
                else f"The {guide.what} is empty: nothing to export", 6000)
            return False
        point = doc.kept_point(name)  # what is written, whatever changes meanwhile
        if not self._export_png(pixels, path, overwrite, guide.title, guide.what,
                                guide.suffix, save):
            return False
        doc.mark_kept(name, point)  # closing need not ask about it until it changes
        return True

    def _export_png(self, area: np.ndarray, path: str | Path | None, overwrite: bool,
                    title: str, what: str, suffix: str,
                    save: Callable[..., Path] | None = None) -> bool:
        """Write the ``(H, W)`` uint8 ``area`` (255 = in it) as a PNG at ``path`` (or
        whatever ``save(path, area, overwrite=...)`` writes of it: the colour strokes' RGBA),
        asked for when None (suggested by :meth:`_export_suggestion`), never over the
        picture being edited; ``title``/``what`` name it in the dialog and the messages,
        which say so when it is a face crop's layer."""
        save = save or functools.partial(save_mask, what=f"the {what}")
        if path is None:
            path = self.ask_save_path(f"Export {title}{self._crop_title()}",
                                      str(self._export_suggestion(suffix)), "PNG (*.png)")
            if not path:
                return False
            overwrite = True  # the dialog asked about the name it was given
        path = self._export_name(path, overwrite, f"Export {title}")
        if path is None or self._refuse_original(path, what):
            return False
        try:
            wait_for(self, f"Saving {Path(path).name}...",
                     lambda: save(path, area, overwrite=overwrite))
        except ImageFileError as exc:
            self.show_error(str(exc))
            return False
        crop = (f" of {self._face_name()}'s crop ({area.shape[1]}×{area.shape[0]}, not the "
                f"photo)" if self.faces.edit is not None else "")
        self.statusBar().showMessage(f"{title}{crop} saved to {path}", 6000)
        preferences.save_folder("save", Path(path).parent)
        return True

    def _export_name(self, path: str | Path, overwrite: bool, title: str) -> Path | None:
        """The file an export writes for the name ``path``: completed as a PNG, as the dialog
        offers (:func:`_completed_name`). When that changed the name and a file of the new
        name exists, the dialog (``overwrite``) asked about another name: this one is asked
        about (the question titled ``title``); None when the user keeps it. The picture
        being edited is not asked about (the caller refuses it). A name of only dots and
        spaces, or only an extension, is refused, the error saying so
        (:func:`_typed_name_problem`): None; so are a symbolic link (:func:`_link_problem`)
        and a file there without ``overwrite`` (:func:`_exists_problem`), before any
        question."""
        problem = _typed_name_problem(path, "exported")
        if problem is not None:
            self.show_error(problem)
            return None
        typed = Path(path)
        path = _completed_name(typed, ".png")
        # the picture being edited (a link to it too): the caller's refusal names it so
        problem = None if self._is_open_picture(path) else (
            _link_problem(path) or _exists_problem(path, overwrite))
        if problem is not None:
            self.show_error(problem)
            return None
        if (path != typed and overwrite and path.exists() and not self._is_open_picture(path)
                and not self.confirm(title, f"{path.name} already exists. Replace it?")):
            return None
        return path

    def _export_suggestion(self, suffix: str) -> Path:
        """The file name suggested for exporting a layer, in the last folder saved into: the
        picture's name + ``suffix`` (``photo_mask.png``); in a face edit, whose layers are
        the crop's, the photo's name + the face + ``suffix`` (``photo_face1_mask.png``)."""
        base = Path(self._photo().path or "untitled.png")
        face = "_" + self._face_name().replace(" ", "") if self.faces.edit is not None else ""
        return _in_save_folder(base.with_name(f"{base.stem}{face}{suffix}.png"))

    def _face_name(self) -> str:
        """``"face 2"``: the face being edited by its place in the face list, from 1
        (``"face"`` when it is not listed)."""
        faces = self.faces
        if faces.edit is None or faces.edit.face not in faces.faces:
            return "face"
        return f"face {faces.faces.index(faces.edit.face) + 1}"

    def _crop_title(self) -> str:
        """What an import or export dialog's title adds in a face edit: whose crop the layer
        is."""
        if self.faces.edit is None:
            return ""
        doc = self.document
        return f" ({self._face_name()}'s {doc.width}×{doc.height} crop, not the photo)"

    # ------------------------------------------------------ reference photos
    def add_references(self, paths: Sequence[str | Path] | None = None) -> int:
        """Add reference photos (asks for files when ``paths`` is None); returns how many.

        Each file is read and thumbnailed on a worker thread (:func:`wait_for`); the
        document then checks it on this thread (:meth:`Document.add_reference`). Files that
        cannot be read, or hold no fully opaque patch of the current patch size
        (:func:`engines.guidance.reference_problem`), are named in one message; the others
        are still added. A file already added (the same resolved path) is skipped, and the
        status bar says so, as it says when a large photo will be searched scaled down; so
        is the open picture's own file (:meth:`_is_open_picture`: a fill searches the
        picture already).
        """
        if self.document is None:
            return 0
        if paths is None:
            paths = self.ask_open_paths("Add Reference Photos", IMAGE_FILTER,
                                        _start_folder("references"))
        settings = self.controller.settings
        patch_size = reference_patch_size(settings.engine, settings.options_for(settings.engine))
        added, failures, notes = 0, [], []
        known = {r.path for r in self.document.references if r.path is not None}
        for path in paths:
            name, resolved = Path(path).name, Path(path).resolve()
            if resolved in known:
                notes.append(f"{name} is already a reference photo; not added again")
                continue
            if self._is_open_picture(path):
                notes.append(f"{name} is the picture being edited, which a fill searches "
                             "already; not added as a reference photo")
                continue
            try:
                pixels, thumbnail = wait_for(self, f"Opening {name}...",
                                             lambda path=path: _read_reference(path))
                reference = self.document.add_reference(pixels, name, resolved, patch_size)
            except (ImageFileError, InputError) as exc:
                failures.append(str(exc))
                continue
            self.reference_panel.keep_thumbnail(reference, thumbnail)
            known.add(resolved)
            added += 1
            preferences.save_folder("references", Path(path).parent)
            picture = self.document.image.shape
            note = large_reference_note(name, pixels.shape, (picture[1], picture[0]))
            if note:
                notes.append(note)
        self._show_references()
        if added:
            self.docks["references_dock"].raise_()
        if added or notes:
            said = [f"{count_noun(added, 'reference photo')} added"] if added else []
            self.statusBar().showMessage("; ".join(said + notes), 8000 if notes else 5000)
        if failures:
            self.show_error("Not added: " + "; ".join(failures))
        return added

    def remove_references(self, rows) -> None:
        """Forget the reference photos at ``rows`` of the panel; the status bar says how many
        ("Removed 2 reference photos"). A fill running, or waiting for Enter, that searched
        one of them is dropped at once, as after another guidance edit: with *Fill after
        each stroke* a new fill starts soon without them, quietly; otherwise the status bar
        also says why it was dropped."""
        if self.document is None:
            return
        count = len(self.document.references)
        rows = sorted({row for row in rows if 0 <= row < count})
        if not rows:
            return
        self.document.remove_references(rows)
        self._show_references()
        removed = f"Removed {count_noun(len(rows), 'reference photo')}"
        dropped = self.controller.drop_outdated()
        if dropped and self.controller.settings.auto_run and self.document.mask.any():
            self._run_timer.start()
            dropped = ""
        self.statusBar().showMessage(f"{removed}. {dropped}" if dropped else removed,
                                     8000 if dropped else 5000)

    def _show_references(self) -> None:
        """List the document's reference photos, saying whether the chosen engine uses them
        and which of them a fill leaves out at its patch size (the Patch size option:
        :func:`engines.guidance.reference_patch_option`, as :meth:`add_references` reads
        it). Listed again at each change of the engine panel's settings (the window
        connects its ``settingsChanged`` here)."""
        settings = self.controller.settings
        cls = registry.engine_class(settings.engine)
        self.reference_panel.show_references(
            self.document.references if self.document is not None else (),
            Guidance.EXEMPLARS in cls.guidance, cls.title,
            reference_patch_option(settings.engine, settings.options_for(settings.engine)))

    # --------------------------------------------------------- drag and drop
    def dragEnterEvent(self, event) -> None:
        """Take drags that carry a local file (web addresses are refused: nothing is
        downloaded)."""
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        """Open the first dropped file; say that the others were not opened."""
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        if self.open_path(paths[0]) and len(paths) > 1:
            others = len(paths) - 1
            note = (f"Opened {Path(paths[0]).name}; {others} other dropped "
                    f"file{'s' if others > 1 else ''} not opened: one picture is edited at a "
                    "time (reference photos are added from the References panel)")
            self.say_also(note)
