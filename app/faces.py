"""The face workflow: find a face, edit its aligned crop, paste the edit back.

:class:`FaceSession` owns the geometry and the documents, no widgets:

1. faces come from the detector (RetinaFace, on the session's worker, when its weights are
   installed) or from a box the user draws (:func:`face_from_box` places the five landmarks
   at the proportions of an upright face, so alignment works on a fresh machine too);
2. :meth:`FaceSession.enter` cuts the face out as an aligned 512x512 crop
   (:func:`engines.faces.align_face`) and returns a :class:`FaceEdit` whose ``document`` the
   window shows instead of the photo (the photo is the edit's ``parent``);
3. :meth:`FaceSession.auto_sketch` draws the face's structure lines into the crop's sketch
   layer as one undo step: from the face parser's map of the crop (on the worker, when its
   weights are installed) and the landmarks, or from the landmarks alone;
4. the user bends lines, paints the hole and fills with :func:`engine_for_faces`;
5. :meth:`FaceSession.paste_back` warps back only the crop pixels that changed (grown and
   feathered so no seam shows) and commits them to the photo as one undo step; every other
   pixel of the photo keeps its exact value.

:class:`FacePanel` is the dock's widgets; :class:`FaceBoxTool` is the canvas tool that draws
a face box (or picks a detected face with a click). The window wires them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.document import Document, Layer, Step
from app.model_dialogs import offer_download, weights_needed_message
from app.qimages import rgb_pixmap
from app.tools import Point, Tool, ToolSettings
from app.worker import FunctionTask, Worker, WorkerClient
from engines import faces as geometry
from engines import registry, weights
from engines.base import CancelToken, InputError, Readiness, Status
from engines.faces import FACE_SIZE, AlignedFace, Face
from engines.neural.interrupt import cancel_checks
from engines.region import Box
from engines.segmentation.base import create_parser
from engines.sketch import auto_sketch

DETECTOR = "resnet50"
DETECTOR_WEIGHTS = geometry.detector_spec(DETECTOR).id
PARSER_WEIGHTS = "face-bisenet"
FACE_WEIGHTS = (DETECTOR_WEIGHTS, PARSER_WEIGHTS)
FACE_ENGINE_PREFERENCE = ("edgeconnect-face", "patchmatch")  # sketch-guided, best first

# Where the five landmarks sit in a detector-like face box of an upright face: the eyes
# are 44% of the box's width apart, centred, on the line 40% down; the mouth corners on the
# line 78% down (the box spans mid-forehead to chin and cheek to cheek, as RetinaFace's do).
EYE_SPAN, EYE_LINE, MOUTH_LINE = 0.44, 0.40, 0.78
MIN_BOX_SIDE = 8  # px: a smaller box (or a click) picks a face instead

SKETCH_THICKNESS = 2  # px in the 512 crop, about the sketch pen's default width
# what the Faces panel says while the last face pasted back is in the photo (not undone)
PASTED_MESSAGE = "Face edit pasted into the photo; Ctrl+Z there undoes it"
PASTE_GROW = 4  # px in the crop: changed pixels are pasted with this margin at full weight
PASTE_FEATHER = 8  # px in the crop: then the weight falls to 0 over this distance
THUMBNAIL = 96


def engine_for_faces() -> str:
    """The engine for face fills: the first ready sketch-guided engine of
    :data:`FACE_ENGINE_PREFERENCE` (EdgeConnect CelebA when installed, else guided
    PatchMatch, which needs no download)."""
    names = registry.names()
    for name in FACE_ENGINE_PREFERENCE:
        if name in names and registry.create(name).status().ready:
            return name
    return "patchmatch"


def template_face_box(size: int = FACE_SIZE) -> np.ndarray:
    """``(x0, y0, x1, y1)`` float64 of the face box that :func:`face_from_box` aligns onto
    the template of a ``size`` crop (see :data:`EYE_SPAN`)."""
    template = geometry.face_template(size)
    centre_x = (template[0, 0] + template[1, 0]) / 2
    eyes_y = (template[0, 1] + template[1, 1]) / 2
    mouth_y = (template[3, 1] + template[4, 1]) / 2
    width = (template[1, 0] - template[0, 0]) / EYE_SPAN
    height = (mouth_y - eyes_y) / (MOUTH_LINE - EYE_LINE)
    top = eyes_y - EYE_LINE * height
    return np.array([centre_x - width / 2, top, centre_x + width / 2, top + height])


def face_from_box(box: Sequence[float], score: float = 1.0) -> Face:
    """A :class:`Face` for an upright face inside ``box`` = ``(x0, y0, x1, y1)`` image
    pixels (any corner order); ``score`` is recorded as given.

    The five landmarks are the template's, moved so :func:`template_face_box` lands on
    ``box``: exactly for a box of its proportions (height 1.21 x width); for other
    proportions the template box is scaled uniformly (the geometric mean of the two
    scales) about the box's centre. Uniform scaling keeps the landmarks a similarity of the
    template: stretched landmarks make the alignment's robust fit (LMEDS) pick a subset of
    points and return a rotated crop.

    Raises :class:`InputError` for a box narrower or lower than :data:`MIN_BOX_SIDE`.
    """
    x0, x1 = sorted((float(box[0]), float(box[2])))
    y0, y1 = sorted((float(box[1]), float(box[3])))
    if not np.isfinite([x0, y0, x1, y1]).all() or min(x1 - x0, y1 - y0) < MIN_BOX_SIDE:
        raise InputError(f"a face box must be at least {MIN_BOX_SIDE} px wide and high")
    reference = template_face_box()
    scale = np.sqrt((x1 - x0) / (reference[2] - reference[0])
                    * (y1 - y0) / (reference[3] - reference[1]))
    centre = (reference[:2] + reference[2:]) / 2
    landmarks = (geometry.face_template() - centre) * scale + ((x0 + x1) / 2, (y0 + y1) / 2)
    return Face((x0, y0, x1, y1), landmarks.astype(np.float32), float(score))


def _sub_alignment(aligned: AlignedFace, box: Box) -> AlignedFace:
    """``aligned`` re-expressed for the part ``box`` of its image (an integer shift: the
    resampling, and so every pasted value, is unchanged)."""
    shift = np.array([box.left, box.top], np.float64)
    matrix = aligned.matrix.copy()
    matrix[:, 2] += aligned.matrix[:, :2] @ shift
    inverse = aligned.inverse.copy()
    inverse[:, 2] -= shift
    return AlignedFace(aligned.crop, matrix, inverse, (box.height, box.width))


def changed_pixels(crop: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """``(S, S)`` bool: where two crops differ in any channel."""
    return (crop != baseline).any(axis=2)


def paste_weights(changed: np.ndarray, grow: int = PASTE_GROW,
                  feather: int = PASTE_FEATHER) -> np.ndarray:
    """``(S, S)`` uint8 paste mask of the crop: 255 on ``changed`` pixels and ``grow`` px
    around them, then falling smoothly to 0 over ``feather`` more pixels."""
    core = (np.asarray(changed) > 0).astype(np.uint8) * np.uint8(255)
    if grow > 0:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        core = cv2.dilate(core, disc)
    if feather <= 0:
        return core
    # 1 inside the core, falling linearly to 0 at ``feather`` px from it, then smoothed
    distance = cv2.distanceTransform(255 - core, cv2.DIST_L2, 5)
    ramp = np.clip(1.0 - distance / (feather + 1), 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: no visible edge at either end
    return np.maximum(core, np.rint(255 * ramp).astype(np.uint8))


def paste_region(image: np.ndarray, crop: np.ndarray, aligned: AlignedFace,
                 mask: np.ndarray) -> tuple[np.ndarray, Box] | None:
    """:func:`engines.faces.paste_back` of ``crop`` with the crop-space ``mask``, computed
    only on the part of ``image`` the mask reaches.

    Returns ``(patch, box)``: the pasted pixels of ``image[box.slices]``; None when the mask
    is empty or lands outside the image. Equal to the full-image paste-back on that box.
    """
    points = cv2.findNonZero(mask)
    if points is None:
        return None
    x, y, w, h = cv2.boundingRect(points)
    corners = np.array([[x - 1, y - 1], [x + w, y - 1], [x - 1, y + h], [x + w, y + h]],
                       np.float64)
    mapped = aligned.to_image(corners)
    height, width = image.shape[:2]
    left = max(0, int(np.floor(mapped[:, 0].min())) - 2)
    top = max(0, int(np.floor(mapped[:, 1].min())) - 2)
    right = min(width, int(np.ceil(mapped[:, 0].max())) + 3)
    bottom = min(height, int(np.ceil(mapped[:, 1].max())) + 3)
    if right <= left or bottom <= top:
        return None
    box = Box(top, left, bottom, right)
    part = np.ascontiguousarray(image[box.slices])
    return geometry.paste_back(part, crop, _sub_alignment(aligned, box), mask), box


def face_parser():
    """The face parser used on aligned crops only (it needs no detector weights)."""
    return create_parser("face", faces=[])


def detector_problem() -> str:
    """What stops face detection, in the GUI's words (no command line, no path): ``"Face
    detection cannot start, as its weights are not installed: download them in File →
    Models… (…)"``, or, for a damaged detector file, ``"… as its weights file is damaged:
    replace it in File → Models… (…)"`` (:func:`~app.model_dialogs.weights_needed_message`);
    "" when the detector is installed and sound."""
    return weights_needed_message("Face detection", (DETECTOR_WEIGHTS,), DETECTION_SITUATION)


def parser_problem(status: Status, weights_ids: Sequence[str]) -> str:
    """What stops the face parser (whose ``status`` is not ready; ``weights_ids`` the
    checkpoints it checks) from drawing Auto-sketch's lines, in the GUI's words: for weights
    missing or damaged, ``"The face parser cannot draw the face's lines, as its weights are
    not installed: download them in File → Models… (…)"``; else (a plugin's undeclared
    checkpoint) its status detail."""
    if status.readiness is Readiness.NEEDS_DOWNLOAD:  # its detail would name commands
        return (weights_needed_message("The face parser", weights_ids, SKETCH_SITUATION)
                or "The face parser needs its weights: download them in File → Models…")
    return status.detail or f"The face parser is not ready ({status.readiness.value})"


DETECTION_SITUATION = "cannot start, as"  # "Face detection cannot start, as its weights ..."
SKETCH_SITUATION = "cannot draw the face's lines, as"  # the face parser's weights are missing


def detect(image: np.ndarray, cancel: CancelToken) -> list[Face]:
    """Runs on the worker: the faces RetinaFace finds in ``image``, most confident first;
    raises :class:`~engines.base.Cancelled` at the network's next layer once ``cancel`` is
    cancelled."""
    with cancel_checks(cancel):
        return geometry.detect_faces(image, DETECTOR)


def parsed_sketch(crop: np.ndarray, landmarks: np.ndarray, parser, cancel: CancelToken,
                  progress: Callable[[float, str], None]) -> np.ndarray:
    """Runs on the worker: structure lines of an aligned crop from the parser's map of it
    and the landmarks (in crop pixels). Returns ``(S, S)`` uint8, 255 on a line."""
    progress(0.0, "parsing the face")
    with cancel_checks(cancel):
        labels = parser.parse_crop(crop)
    cancel.raise_if_cancelled()
    progress(0.8, "drawing the lines")
    return auto_sketch(crop.shape, labels, parser.label_set.names, landmarks,
                       SKETCH_THICKNESS)


@dataclass(eq=False)
class FaceEdit:
    """A face being edited.

    Attributes:
        face: the face in the photo.
        aligned: its aligned crop and the transforms between crop and photo.
        document: the crop (``FACE_SIZE`` square) the user edits.
        parent: the photo the crop came from.
        baseline: the crop's pixels as last pasted back (at first the fresh crop).
        parent_version: the photo's ``image_version`` the baseline belongs to.
    """

    face: Face
    aligned: AlignedFace
    document: Document
    parent: Document
    baseline: np.ndarray
    parent_version: int

    def landmarks_in_crop(self) -> np.ndarray:
        """The face's five landmarks in crop pixels, ``(5, 2)`` float64."""
        return self.aligned.to_crop(self.face.landmarks)


@dataclass
class _Run:
    task_id: int
    kind: str  # "detect" or "sketch"
    document: Document  # the photo (detect) or the crop (sketch)
    image_version: int


class FaceSession(WorkerClient):
    """Detection, the face crop being edited, auto-sketch and paste-back for one photo.

    Signals:
        facesChanged(object): the list of :class:`Face` (detected and drawn) changed.
        faceEntered(object): a :class:`FaceEdit` began; show its ``document``.
        faceLeft(object): the edit ended; show this photo (:class:`Document`) again.
        pasted(object): the edit was committed to the photo as this :class:`Step`.
        editChanged(bool): whether the crop has changes not pasted back yet.
        sketched(object): auto-sketch added this :class:`Step` to the crop.
        progressChanged, busyChanged, message, error: see :class:`~app.worker.WorkerClient`.
    """

    facesChanged = Signal(object)
    faceEntered = Signal(object)
    faceLeft = Signal(object)
    pasted = Signal(object)
    editChanged = Signal(bool)
    sketched = Signal(object)

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(worker, parent)
        self.document: Document | None = None  # the photo
        self.faces: list[Face] = []
        self.edit: FaceEdit | None = None
        self._drawn: set[Face] = set()
        self._dirty = False
        self.pasted_step: Step | None = None  # the photo's step of the last paste-back

    # ------------------------------------------------------------------ photo
    def set_document(self, document: Document | None) -> None:
        """Follow a newly opened photo: leaves any face edit (unpasted changes are dropped:
        ask first) and forgets the faces, and says "" (:attr:`message`): nothing said of the
        last photo's faces still holds. Not for the crop: the window shows the crop while
        the session keeps the photo."""
        self.cancel()
        self._forget()
        if self.edit is not None:
            self._close_edit()
        self.document = document
        self.pasted_step = None
        self.faces, self._drawn = [], set()
        self.facesChanged.emit([])
        self.message.emit("")

    @staticmethod
    def detector_ready() -> bool:
        return weights.is_present(DETECTOR_WEIGHTS)

    @staticmethod
    def parser_ready() -> bool:
        return face_parser().status().ready

    def detect(self) -> int | None:
        """Find the photo's faces on the worker; returns the task id, or None when it cannot
        start (no photo, a face being edited, detector weights missing: said by signal)."""
        doc = self.document
        if doc is None:
            self.message.emit("Open a photo first")
            return None
        if self.edit is not None:
            self.message.emit("Leave the face first")
            return None
        if not self.detector_ready():
            problem = detector_problem() or "Face detection cannot start"
            self.error.emit(f"{problem}; or Use a box and drag a box from mid-forehead to the "
                            "chin")
            return None
        image = doc.image.copy()  # the photo may change on the GUI thread meanwhile
        task = FunctionTask(title="Detect faces",
                            function=lambda cancel, progress: detect(image, cancel))
        return self._submit(task, "detect", doc)

    def add_box(self, box: Sequence[float]) -> Face | None:
        """Add a face drawn as ``box`` (x0, y0, x1, y1) to the list; None if too small."""
        if self.document is None:
            return None
        try:
            face = face_from_box(box)
        except InputError as exc:
            self.message.emit(str(exc))
            return None
        self.faces.append(face)
        self._drawn.add(face)
        self.facesChanged.emit(list(self.faces))
        return face

    def is_drawn(self, face: Face) -> bool:
        """Whether ``face`` came from a box rather than the detector."""
        return face in self._drawn

    def face_at(self, point: tuple[float, float]) -> Face | None:
        """The listed face whose box holds ``point`` (nearest centre first)."""
        return geometry.pick_face(self.faces, point)

    def thumbnails(self, size: int = THUMBNAIL) -> list[tuple[str, np.ndarray]]:
        """(caption, ``(size, size, 3)`` aligned thumbnail) of every listed face."""
        if self.document is None:
            return []
        entries = []
        for index, face in enumerate(self.faces, start=1):
            how = "box" if self.is_drawn(face) else f"{face.score:.0%}"
            crop = geometry.align_face(self.document.image, face.landmarks, size).crop
            entries.append((f"Face {index} ({how})", crop))
        return entries

    def thumbnails_within(self, box: Box, size: int = THUMBNAIL) -> dict[int, np.ndarray]:
        """``{index: (size, size, 3) thumbnail}`` of the listed faces whose thumbnail shows
        part of the photo's ``box`` (image px), as :meth:`thumbnails` makes them; the others
        are not rebuilt (a change inside ``box`` leaves them as they are)."""
        if self.document is None:
            return {}
        image = self.document.image
        corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
        entries = {}
        for index, face in enumerate(self.faces):
            try:
                matrix = geometry.alignment_matrix(face.landmarks, size)
            except InputError:
                continue
            inverse = cv2.invertAffineTransform(matrix)
            mapped = corners @ inverse[:, :2].T + inverse[:, 2]
            # one pixel more on every side: bilinear sampling reads the next pixel too
            seen = Box(int(np.floor(mapped[:, 1].min())) - 1,
                       int(np.floor(mapped[:, 0].min())) - 1,
                       int(np.ceil(mapped[:, 1].max())) + 2,
                       int(np.ceil(mapped[:, 0].max())) + 2)
            if seen.overlaps(box):
                entries[index] = geometry.align_face(image, face.landmarks, size).crop
        return entries

    def box_preview(self, box: Sequence[float], size: int = THUMBNAIL) -> np.ndarray | None:
        """The aligned crop a face box would give, ``(size, size, 3)``; None if too small."""
        if self.document is None:
            return None
        try:
            face = face_from_box(box)
        except InputError:
            return None
        return geometry.align_face(self.document.image, face.landmarks, size).crop

    # ------------------------------------------------------------------ the crop
    def enter(self, face: Face | int) -> FaceEdit | None:
        """Cut ``face`` (or the listed face at this index) out as an aligned crop and start
        editing it; any current edit is left without pasting. Returns the edit."""
        doc = self.document
        if doc is None:
            return None
        if isinstance(face, int):
            face = self.faces[face]
        if self.edit is not None:
            self._close_edit()
        try:
            aligned = geometry.align_face(doc.image, face.landmarks)
        except InputError as exc:
            self.error.emit(str(exc))
            return None
        crop = Document(aligned.crop, metadata=doc.metadata)  # shown in the photo's colours
        crop.references = doc.references  # the photo's reference photos serve the face too
        self.edit = FaceEdit(face, aligned, crop, doc, aligned.crop.copy(), doc.image_version)
        crop.add_listener(self._on_crop_change)
        self._dirty = False
        self.faceEntered.emit(self.edit)
        self.message.emit("Editing the face: Auto-sketch draws its lines; bend them, paint the "
                          "hole over what should change, fill, then Paste back")
        return self.edit

    @property
    def has_unpasted_changes(self) -> bool:
        edit = self.edit
        return edit is not None and bool(changed_pixels(edit.document.image,
                                                        edit.baseline).any())

    def landmark_sketch(self) -> np.ndarray | None:
        """Lines from the landmarks alone, ``(S, S)`` uint8 (None without an edit)."""
        edit = self.edit
        if edit is None:
            return None
        return auto_sketch(edit.document.image.shape, landmarks=edit.landmarks_in_crop(),
                           thickness=SKETCH_THICKNESS)

    def auto_sketch(self, use_parser: bool | None = None) -> int | None:
        """Draw the face's structure lines into the crop's sketch layer (one undo step,
        "Auto-sketch"; lines already there are kept).

        With the face parser (``use_parser``; default: when its weights are installed) the
        crop is parsed on the worker and the task id is returned; the lines arrive later
        (:attr:`sketched`). Without it, the landmarks' lines are added at once and None is
        returned.
        """
        edit = self.edit
        if edit is None:
            self.message.emit("Open a face first")
            return None
        if use_parser is None:
            use_parser = self.parser_ready()
        if not use_parser:
            if edit.document.in_step:
                self.message.emit("Finish the stroke first")
                return None
            self._store_sketch(edit.document, self.landmark_sketch(),
                               "Auto-sketch: eye and mouth marks from the landmarks "
                               "(Download face models installs the face parser, for the full "
                               "outline, brows, nose and lips)")
            return None
        parser = face_parser()
        status = parser.status()
        if not status.ready:
            self.error.emit(parser_problem(status, parser.checked_weights()))
            return None
        crop, landmarks = edit.document.image.copy(), edit.landmarks_in_crop()
        task = FunctionTask(title="Auto-sketch",
                            function=lambda cancel, progress: parsed_sketch(
                                crop, landmarks, parser, cancel, progress))
        return self._submit(task, "sketch", edit.document)

    def paste_back(self) -> Step | None:
        """Commit the crop's changes to the photo as one undo step ("Face edit").

        Only the crop pixels that changed since the last paste (grown by
        :data:`PASTE_GROW` and feathered over :data:`PASTE_FEATHER`) are warped back; the
        photo's other pixels keep their exact values, and its mask is left as it is.
        Returns the step, or None when nothing changed or the photo changed meanwhile.
        """
        edit = self.edit
        if edit is None:
            return None
        if edit.parent.image_version != edit.parent_version:
            self.error.emit("The photo changed since this face was opened: leave the face and "
                            "open it again")
            return None
        if edit.document.in_step or edit.parent.in_step:
            self.message.emit("Finish the stroke first")
            return None
        crop = edit.document.image
        changed = changed_pixels(crop, edit.baseline)
        pasted = paste_region(edit.parent.image, crop, edit.aligned,
                              paste_weights(changed)) if changed.any() else None
        if pasted is None:
            self.message.emit("Nothing to paste back: the face is unchanged")
            return None
        patch, box = pasted
        result = edit.parent.image.copy()
        result[box.slices] = patch
        keep_mask = np.zeros((edit.parent.height, edit.parent.width), np.uint8)
        step = edit.parent.apply_result(result, "Face edit", used_mask=keep_mask, within=box)
        edit.baseline = crop.copy()
        edit.parent_version = edit.parent.image_version
        self._set_dirty(False)
        self.pasted_step = step
        self.pasted.emit(step)
        self.message.emit(PASTED_MESSAGE)
        return step

    def leave(self) -> Document | None:
        """End the face edit (unpasted changes are dropped: ask first); returns the photo."""
        if self.edit is None:
            return None
        if self._run is not None and self._run.kind == "sketch":
            self.cancel()
        parent = self.edit.parent
        self._close_edit()
        self.faceLeft.emit(parent)
        return parent

    # --------------------------------------------------------------- internal
    def _close_edit(self) -> None:
        # reference photos added or removed during the edit belong to the photo
        self.edit.parent.references = self.edit.document.references
        self.edit.document.remove_listener(self._on_crop_change)
        self.edit = None
        self._set_dirty(False)

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self._dirty:
            self._dirty = dirty
            self.editChanged.emit(dirty)

    def _on_crop_change(self, layer: Layer, box: Box) -> None:
        if layer is Layer.IMAGE:
            self._set_dirty(self.has_unpasted_changes)

    def _store_sketch(self, crop: Document, lines: np.ndarray, done: str) -> Step | None:
        merged = np.maximum(crop.layer(Layer.SKETCH), lines)
        step = crop.replace_layer(Layer.SKETCH, merged, "Auto-sketch")
        self.message.emit(done if step is not None else "Auto-sketch found no new lines")
        self.sketched.emit(step)
        return step

    def _submit(self, task: FunctionTask, kind: str, document: Document) -> int:
        return self._start(task, _Run(task.id, kind, document, document.image_version))

    def _result(self, run: _Run, result: object) -> None:
        self._deliver_when_idle(run, result)

    def _target_document(self, run: _Run) -> Document | None:
        if run.kind == "detect":
            return self.document
        return self.edit.document if self.edit is not None else None

    def _deliver(self, run: _Run, result: object) -> None:
        """Use a finished detection or sketch (once no brush drag is open on its document)."""
        if run.kind == "detect":
            self.faces = list(result) + [f for f in self.faces if f in self._drawn]
            self.facesChanged.emit(list(self.faces))
            count = len(result)
            self.message.emit(f"{count} face{'s' if count != 1 else ''} found" if count else
                              "No face found: Use a box and drag one from mid-forehead to "
                              "the chin")
        else:
            self._store_sketch(run.document, result,
                               "Auto-sketch: the face's lines are in the sketch layer; bend "
                               "them with the sketch pen and eraser")

    def _cancelled(self, run: _Run) -> None:
        self.message.emit("Cancelled")


class FaceBoxTool(Tool):
    """Drag a box around a face, or click a listed face. Edits no layer.

    ``on_box(box)`` gets ``(x0, y0, x1, y1)`` at release; ``on_click(point)`` a click (a drag
    under :data:`MIN_BOX_SIDE`); ``on_drag(box)`` every move of a drag (for live feedback).
    """

    name, title = "face-box", "Face box"

    def __init__(self, settings: ToolSettings, on_box: Callable[[tuple], None],
                 on_click: Callable[[Point], None] | None = None,
                 on_drag: Callable[[tuple], None] | None = None) -> None:
        super().__init__(settings)
        self._on_box, self._on_click, self._on_drag = on_box, on_click, on_drag
        self._start: Point | None = None

    @staticmethod
    def _box(a: Point, b: Point) -> tuple[float, float, float, float]:
        return min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])

    def press(self, document: Document, point: Point) -> None:
        self._start = point

    def move(self, document: Document, point: Point) -> None:
        if self._start is not None and self._on_drag is not None:
            self._on_drag(self._box(self._start, point))

    def release(self, document: Document, point: Point) -> bool:
        start, self._start = self._start, None
        if start is None:
            return False
        box = self._box(start, point)
        if min(box[2] - box[0], box[3] - box[1]) < MIN_BOX_SIDE:
            if self._on_click is not None:
                self._on_click(point)
        else:
            self._on_box(box)
        return False


class FacePanel(QWidget):
    """The face dock: find or draw faces, pick one, then sketch, paste back and leave.

    Signals:
        detectRequested(): find faces (the detector is installed; Detect faces offers its
            download first when it is not).
        boxRequested(): the user will draw a face box (select the box tool).
        faceChosen(int): edit the listed face at this index (double-click or Edit face).
        autoSketchRequested(), pasteRequested(), leaveRequested(): the edit's buttons.
        modelsChanged(): face weights were downloaded (refresh readiness elsewhere).
    """

    detectRequested = Signal()
    boxRequested = Signal()
    faceChosen = Signal(int)
    autoSketchRequested = Signal()
    pasteRequested = Signal()
    leaveRequested = Signal()
    modelsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editing = False
        self.busy = False
        self.has_changes = False
        self.fill_waiting = False  # a fill in the crop waits for Enter (Paste back applies it)
        self.detect_button = QPushButton("Detect faces")
        self.detect_button.setToolTip("Find the faces in the photo (RetinaFace)")
        self.box_button = QPushButton("Use a box")
        self.box_button.setToolTip("Drag a box from mid-forehead to the chin, cheek to cheek, "
                                   "around an upright face; a click picks a listed face")
        self.download_button = QPushButton("Download face models")
        self.download_button.setToolTip("RetinaFace detector and BiSeNet face parser "
                                        "(facexlib, MIT licence)")
        self.faces = QListWidget()
        self.faces.setViewMode(QListWidget.IconMode)
        self.faces.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.faces.setResizeMode(QListWidget.Adjust)
        self.faces.setMovement(QListWidget.Static)
        # one thumbnail wide: a caption too long is cut with an ellipsis (whole in its
        # tooltip) instead of running past a narrow dock's edge
        self.faces.setGridSize(QSize(THUMBNAIL + 16,
                                     THUMBNAIL + self.fontMetrics().height() + 16))
        self.faces.setTextElideMode(Qt.ElideRight)
        self.faces.setMinimumHeight(THUMBNAIL + 40)
        self.faces.setAccessibleName("Faces found")
        self.faces.setAccessibleDescription("Choose a face, then Edit face opens it as a "
                                            "picture of its own")
        self.edit_button = QPushButton("Edit face")
        self.edit_button.setToolTip("Open the selected face as a picture of its own (an aligned "
                                    "512×512 crop; double-clicking it does the same)")
        self.sketch_button = QPushButton("Auto-sketch")
        self.sketch_button.setToolTip("Draw the face's structure lines into the sketch layer")
        self.paste_button = QPushButton("Paste back")
        self.paste_button.setToolTip("Put the edited face back into the photo (one undo step; "
                                     "a fill waiting for Enter is applied first)")
        self.leave_button = QPushButton("Leave face")
        self.leave_button.setToolTip("Back to the whole photo")
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.hide()
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #b0b0b0;")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)

        find = QHBoxLayout()
        find.addWidget(self.detect_button)
        find.addWidget(self.box_button)
        edit = QHBoxLayout()
        edit.addWidget(self.sketch_button)
        edit.addWidget(self.paste_button)
        edit.addWidget(self.leave_button)
        layout = QVBoxLayout(self)
        layout.addLayout(find)
        layout.addWidget(self.download_button)
        layout.addWidget(self.hint)
        layout.addWidget(self.faces, 1)
        layout.addWidget(self.preview)
        layout.addWidget(self.edit_button)
        layout.addLayout(edit)
        layout.addWidget(self.status)

        self.detect_button.clicked.connect(self._on_detect)
        self.box_button.clicked.connect(self.boxRequested)
        self.download_button.clicked.connect(self.download_models)
        self.faces.itemDoubleClicked.connect(lambda _item: self._choose())
        self.faces.currentRowChanged.connect(lambda _row: self._update())
        self.edit_button.clicked.connect(self._choose)
        self.sketch_button.clicked.connect(self.autoSketchRequested)
        self.paste_button.clicked.connect(self.pasteRequested)
        self.leave_button.clicked.connect(self.leaveRequested)
        self.refresh_models()

    # ----------------------------------------------------------------- public
    def refresh_models(self) -> None:
        """Show what the installed face weights allow (after a download, at start)."""
        detector = FaceSession.detector_ready()
        parser = FaceSession.parser_ready()
        self.download_button.setVisible(not (detector and parser))
        notes = []
        if not detector:
            damaged = weights.installation(DETECTOR_WEIGHTS).state is \
                weights.InstallState.DAMAGED
            missing = ("The face detector's file is damaged (Download face models replaces it)"
                       if damaged else "No face detector installed")
            notes.append(f"{missing}: Use a box and drag it from mid-forehead to the chin "
                         "around an upright face (or download the face models).")
        if not parser:
            notes.append("Without the face parser, Auto-sketch draws only eye and mouth marks.")
        self.hint.setText(" ".join(notes))
        self.hint.setVisible(bool(notes))
        self._update()

    def download_models(self) -> bool:
        """Offer to download the missing face weights; True when all are installed."""
        ok = offer_download(FACE_WEIGHTS, self, purpose="face detection and Auto-sketch")
        self.refresh_models()
        self.modelsChanged.emit()
        return ok

    def set_faces(self, entries: Sequence[tuple[str, np.ndarray]]) -> None:
        """List faces as (caption, RGB thumbnail); the first one is selected."""
        self.faces.clear()
        for caption, thumbnail in entries:
            item = QListWidgetItem(QIcon(rgb_pixmap(thumbnail, THUMBNAIL)), caption)
            item.setToolTip(caption)
            self.faces.addItem(item)
        if entries:
            self.faces.setCurrentRow(0)
        self._update()

    def update_thumbnails(self, thumbnails: Mapping[int, np.ndarray]) -> None:
        """Show new RGB thumbnails for the listed faces at these rows (others, the captions
        and the selection stay as they are)."""
        for row, thumbnail in thumbnails.items():
            item = self.faces.item(row)
            if item is not None:
                item.setIcon(QIcon(rgb_pixmap(thumbnail, THUMBNAIL)))

    def show_box_preview(self, thumbnail: np.ndarray | None) -> None:
        """The crop a box being dragged would give (None hides it)."""
        if thumbnail is None:
            self.preview.hide()
            return
        self.preview.setPixmap(rgb_pixmap(thumbnail, THUMBNAIL))
        self.preview.show()

    def set_editing(self, editing: bool) -> None:
        """Face mode (a crop is shown) or photo mode."""
        self.editing = editing
        if not editing:
            self.has_changes = False
        self.preview.hide()
        self._update()

    def set_has_changes(self, changed: bool) -> None:
        self.has_changes = changed
        self._update()

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._update()

    def set_fill_waiting(self, waiting: bool) -> None:
        """Whether a finished fill waits for Enter (in a face crop, Paste back applies it
        first, so it is enabled)."""
        self.fill_waiting = waiting
        self._update()

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    # --------------------------------------------------------------- internal
    def _on_detect(self) -> None:
        """Detect, after offering the detector's download when it is missing."""
        if FaceSession.detector_ready() or self.download_models():
            self.detectRequested.emit()

    def _choose(self) -> None:
        row = self.faces.currentRow()
        if row >= 0 and not self.editing:
            self.faceChosen.emit(row)

    def _update(self) -> None:
        photo = not self.editing
        self.detect_button.setEnabled(photo and not self.busy)
        self.box_button.setEnabled(photo)
        self.faces.setEnabled(photo)
        self.edit_button.setEnabled(photo and self.faces.currentRow() >= 0)
        self.sketch_button.setEnabled(self.editing and not self.busy)
        self.paste_button.setEnabled(self.editing and (self.has_changes or self.fill_waiting))
        self.leave_button.setEnabled(self.editing)
