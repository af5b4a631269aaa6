"""The semantic-map session: compute, import and export the label layer of a document.

:class:`SemanticController` runs a parser (:mod:`engines.segmentation`) on the shared
:class:`~app.worker.Worker`, so the GUI thread never waits on it, and stores the finished map
as one undoable step (:meth:`Document.replace_label_map`, with the label set's name and the
computed map, so the new map itself is not taken for a label edit: only later edits become
the hole). Undoing it brings back the previous label set too. Results of a superseded run,
or computed for a picture that has changed since, are dropped. It owns no widgets (its one
question, :meth:`SemanticController.ask_import_choice`, is a modal box over its parent); the
window connects its signals.

Helpers for the window: :func:`parser_entries` (the parser picker), :func:`download_needed`
(the weights to offer before Compute map), :func:`label_set_for` (a document's label set
name back to a :class:`LabelSet`), :func:`palette_for` (the canvas palette) and
:func:`engine_for_labels` (which engine fills a label edit). A broken parser (a plugin's
property or method raising) is listed as unavailable and said, never raised: one line,
:func:`parser_failed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.document import Document, Layer
from app.model_dialogs import MAP_SITUATION, weights_needed_message
from app.viewcache import default_palette
from app.worker import FunctionTask, Progress, Worker, WorkerClient
from engines import registry
from engines.base import (
    UNLABELLED,
    CancelToken,
    EngineError,
    Guidance,
    InputError,
    Readiness,
    exception_line,
)
from engines.fileio import count_noun
from engines.region import Box
from engines.segmentation.base import (
    LabelSet,
    ProgressCallback,
    create_parser,
    find_label_set,
    label_set_of,
    parser_names,
)
from engines.segmentation.labelmap import (
    LabelMapError,
    check_label_ids,
    label_set_name,
    load_label_png,
    palette_table,
    save_label_png,
)

UNNAMED_SET = "unnamed"  # the label set written for a map painted without one
LABEL_ENGINE_PREFERENCE = ("semantic", "patchmatch")  # best first, among engines taking labels

# what exporting a label map says without one
NO_LABEL_MAP = "There is no label map to export: compute or import one first"

# An imported map of the current label set (or of none) that changes more than this share of
# the picture is asked about before it is taken as a label edit (the changed pixels, grown,
# filled). A repaint changes a region or a few: a quarter of the picture is already more than
# that, its grown hole a third or more, which leaves a fill little to copy from; a map that
# changes this much is far more often another segmentation of the photo (another tool's, or
# one whose label-set name was lost) than an edit of this one. One that changes every pixel is
# never taken as an edit (a hole over the whole picture cannot be filled).
ASK_EDIT_SHARE = 0.25


class ImportChoice(Enum):
    """The answer to :meth:`SemanticController.ask_import_choice`."""

    NEW_MAP = "new map"  # the map replaces the one shown as a new map: no hole
    FILL = "fill"  # a label edit: the changed pixels join the hole
    CANCEL = "cancel"  # not imported


def parser_failed(title: str, exc: BaseException) -> str:
    """``"<title> failed: Type: message"``: a parser raised where none should (created, asked
    its status or its label set): a bug, often a plugin's."""
    return f"{title} failed: {exception_line(exc)}"


def parser_state(name: str) -> tuple[str, Readiness, str]:
    """(title, readiness, detail) of parser ``name``. A broken one (it raises when created,
    asked its status or its label set) is UNAVAILABLE, the detail :func:`parser_failed`."""
    title = name
    try:
        parser = create_parser(name)
        title = parser.title or name
        status = parser.status()
        label_set_of(parser)
    except Exception as exc:  # a broken parser must not break the picker
        return title, Readiness.UNAVAILABLE, parser_failed(title, exc)
    return title, status.readiness, status.detail


def parser_entries() -> list[tuple[str, str, Readiness, str]]:
    """(name, title, readiness, detail) for every registered parser."""
    return [parser_entry(name) for name in parser_names()]


def parser_entry(name: str) -> tuple[str, str, Readiness, str]:
    """(name, title, readiness, detail) of parser ``name`` (:func:`parser_state`)."""
    return (name, *parser_state(name))


def download_needed(name: str) -> tuple[tuple[str, ...], str]:
    """``(ids, message)``: the weights ids to download before parser ``name`` (default
    options) can run, those its status checks (:meth:`Parser.checked_weights`) when it is
    :attr:`Readiness.NEEDS_DOWNLOAD`, and what the status bar says when their download is
    declined (:func:`weights_missing_message`); ``((), "")`` when ready, unknown, broken or
    not ready for another reason (:meth:`SemanticController.compute_map` says why)."""
    if name not in parser_names():
        return (), ""
    title, readiness, detail = parser_state(name)
    if readiness is not Readiness.NEEDS_DOWNLOAD:
        return (), ""
    ids = weights_to_download(name, readiness)
    return ids, weights_missing_message(title, ids) or detail or f"{title} needs a download"


def weights_to_download(name: str, readiness: Readiness) -> tuple[str, ...]:
    """The weights ids parser ``name`` (default options), in the state ``readiness`` (as
    :func:`parser_state` or :func:`parser_entries` found it), needs installed: those its
    status checks (:meth:`~engines.segmentation.neural.NeuralParser.checked_weights`) when
    it needs a download; () otherwise, or when the parser broke since its state was asked
    (its detail then says what it says). Asks nothing of its state again."""
    if readiness is not Readiness.NEEDS_DOWNLOAD:
        return ()
    try:
        return tuple(create_parser(name).checked_weights())
    except Exception:  # a plugin's parser: any failure is its detail's to say
        return ()


def weights_missing_message(title: str, weights_ids) -> str:
    """What the window says when parser ``title`` cannot compute a map because some of
    ``weights_ids`` are missing or damaged, in the GUI's words (how to get them in File →
    Models…, as choosing an engine says it; no command line); "" when none is."""
    return weights_needed_message(title, weights_ids, MAP_SITUATION)


def label_set_for(name: str | None, problems: list[str] | None = None) -> LabelSet | None:
    """The :class:`LabelSet` called ``name`` among the registered parsers' sets, else None
    (:func:`engines.segmentation.base.find_label_set`). A broken parser is passed over,
    never stopping the search; :func:`parser_failed` of each is appended to ``problems``
    when given."""
    return find_label_set(name, None if problems is None else (
        lambda title, exc: problems.append(parser_failed(title, exc))))


def palette_for(label_set: LabelSet | None) -> np.ndarray:
    """``(256, 3)`` uint8 RGB colours of ids 0..255 for the canvas overlay: the set's
    palette, or the generic default palette when there is no set."""
    return palette_table(label_set) if label_set is not None else default_palette(256)


def engine_for_labels(current: str, label_set: str | None = None) -> str | None:
    """The engine to fill a label edit with: ``current`` if it takes
    :attr:`Guidance.LABELS`, is ready and takes maps of ``label_set`` (the document's; a
    model trained on another set does not), else the first such engine
    (:data:`LABEL_ENGINE_PREFERENCE` first, then registry order); None if there is none."""
    def takes_labels_and_ready(name: str) -> bool:
        cls = registry.engine_class(name)
        if Guidance.LABELS not in cls.guidance:
            return False
        engine = cls()
        if not engine.status().ready:
            return False
        try:
            engine.check_label_set(label_set)
        except InputError:
            return False
        return True

    names = registry.names()
    if current in names and takes_labels_and_ready(current):
        return current
    ordered = [n for n in LABEL_ENGINE_PREFERENCE if n in names]
    ordered += [n for n in names if n not in ordered]
    return next((n for n in ordered if takes_labels_and_ready(n)), None)


def _unnamed_label_set() -> LabelSet:
    """Ids 0..254 named by number, in the canvas's default colours (for export)."""
    return LabelSet(UNNAMED_SET, tuple(f"label {i}" for i in range(255)),
                    default_palette(256)[:255])


def _parse(parser, image: np.ndarray, cancel: CancelToken,
           progress: ProgressCallback) -> np.ndarray:
    """Runs on the worker thread: the parser's map, checked against the image and against
    its label set (ids it does not have are refused, as the CLI's ``segment`` refuses them:
    the legend could not name them, nor a saved map hold them)."""
    labels = parser.run(image, cancel, progress)  # a bug: EngineCrashed, naming the parser
    if labels.shape != image.shape[:2] or labels.dtype != np.uint8:
        raise EngineError(f"{parser.title} returned a {labels.dtype} map of shape "
                          f"{labels.shape} for a {image.shape[1]}x{image.shape[0]} picture")
    try:
        check_label_ids(labels, parser.label_set)
    except LabelMapError as exc:
        raise EngineError(f"{parser.title or parser.name}: {exc}") from None
    return labels


@dataclass(frozen=True)
class _ComputedMap:
    """A parser's map made ready on the worker thread: ``labels`` ``(H, W)`` uint8, a
    read-only array of its own (the document keeps it as the computed map without a copy),
    and ``counts``, its :func:`label_histogram`."""

    labels: np.ndarray
    counts: np.ndarray


def _ready_map(labels: np.ndarray) -> _ComputedMap:
    """Runs on the worker thread: a read-only copy of ``labels`` (the parser may keep its
    array) and its counts, so that the GUI thread neither copies nor counts a large map."""
    labels = np.array(labels, np.uint8)
    labels.flags.writeable = False
    return _ComputedMap(labels, label_histogram(labels))


@dataclass
class _MapRun:
    task_id: int
    document: Document
    image_version: int
    title: str
    label_set: LabelSet
    parser_name: str
    options: dict
    attempt: int  # 1, then 2... when computed again because the picture changed meanwhile


def label_histogram(labels: np.ndarray) -> np.ndarray:
    """``(256,)`` int64 pixel count of each id in the ``(H, W)`` uint8 ``labels``.

    OpenCV's histogram: about 10x faster than ``np.bincount`` on a large map, which matters
    because the legend recounts after every label edit. Its float32 counts are exact up to
    2**24 pixels per id; beyond, within a few pixels (zero stays zero).
    """
    counts = cv2.calcHist([np.ascontiguousarray(labels)], [0], None, [256], [0, 256])
    return np.rint(counts.ravel()).astype(np.int64)


class SemanticController(WorkerClient):
    """Computes, imports and exports the label map of one document.

    Signals:
        labelSetChanged(object): the document's :class:`LabelSet` (None: no named set),
            after a map was computed or imported, undone or redone, or another document was
            set.
        labelsReplaced(): a computed or imported map became the label layer (one undo step).
        labelsEdited(str): an imported map was taken as a label edit of the current one (see
            :meth:`import_labels`): the pixels it changed joined the hole; the text says so.
        countsChanged(object): ``(256,)`` int64 pixel count per id of the label layer, shortly
            after it changed (strokes, fills, undo, a new map).
        runEnded(str) (of the base class): computing a map with the parser of this name
            ended (finished, failed or cancelled), said before its result, error or
            message: its load may have checked the parser's weights files (confirmed one
            changed since it was verified, or refused a damaged one), so what shows that
            parser's readiness asks again.
        progressChanged, busyChanged, message, error: see :class:`~app.worker.WorkerClient`
            (errors: a parser not ready, a file not readable...).
    """

    labelSetChanged = Signal(object)
    labelsReplaced = Signal()
    labelsEdited = Signal(str)
    countsChanged = Signal(object)

    counts_delay_ms = 150  # strokes notify per segment: count once the layer settles

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(worker, parent)
        self.document: Document | None = None
        self.label_set: LabelSet | None = None
        self._seen_sets: dict[str, LabelSet] = {}  # by name: sets that no parser may name
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(self.counts_delay_ms)
        self._counts_timer.timeout.connect(self._emit_counts)

    # ----------------------------------------------------------------- public
    def set_document(self, document: Document | None) -> None:
        """Follow ``document``: its label set (by name) and its label layer's counts."""
        self.cancel()
        self._forget()
        if self.document is not None:
            self.document.remove_listener(self._on_document_change)
        self.document = document
        self.label_set = (self._label_set_named(document.label_set) if document is not None
                          else None)
        if document is not None:
            document.add_listener(self._on_document_change)
        self.labelSetChanged.emit(self.label_set)
        self._emit_counts()

    def compute_map(self, parser_name: str, **options) -> int | None:
        """Compute the label map with parser ``parser_name`` on the worker; returns the task
        id, or None when it cannot start (no document, unknown parser, weights missing: the
        reason goes to :attr:`error`, for missing weights in the GUI's words:
        :func:`weights_missing_message`). When the picture changes before the map arrives (a
        fill applied meanwhile), it is computed again, up to :attr:`max_attempts` times."""
        return self._compute(parser_name, options, attempt=1)

    def _compute(self, parser_name: str, options: dict, attempt: int) -> int | None:
        doc = self.document
        if doc is None:
            self.message.emit("Open a picture first")
            return None
        try:
            parser = create_parser(parser_name, **options)
        except KeyError as exc:
            self.error.emit(str(exc.args[0]))
            return None
        except Exception as exc:  # a broken parser (a plugin's bug): said, never raised
            self.error.emit(parser_failed(parser_name, exc))
            return None
        title = parser.title or parser_name
        try:
            status = parser.status()
            label_set = label_set_of(parser) if status.ready else None
            missing = (weights_missing_message(title, parser.checked_weights())
                       if status.readiness is Readiness.NEEDS_DOWNLOAD else "")
        except Exception as exc:  # likewise
            self.error.emit(parser_failed(title, exc))
            return None
        if not status.ready:
            self.error.emit(missing or status.detail or f"{title}: {status.readiness.value}")
            return None
        # no copy (a 24-megapixel one froze the window for 50-600 ms): a picture changed
        # while the parser reads it bumps image_version, and the map is computed again
        image = doc.image.view()
        image.flags.writeable = False
        task = FunctionTask(title=f"Compute map ({title})",
                            function=lambda cancel, progress: _ready_map(
                                _parse(parser, image, cancel, progress)))
        return self._start(task, _MapRun(task.id, doc, doc.image_version, title,
                                         label_set, parser_name, options, attempt),
                           f"{title}: starting")

    def label_counts(self) -> np.ndarray:
        """``(256,)`` int64 pixel count of each id in the label layer (all 255 when the
        document has none; zeros without a document)."""
        doc = self.document
        counts = np.zeros(256, np.int64)
        if doc is None:
            return counts
        if not doc.has_layer(Layer.LABELS):
            counts[UNLABELLED] = doc.height * doc.width
            return counts
        return label_histogram(doc.layer(Layer.LABELS))

    def import_labels(self, path: str | Path) -> bool:
        """Load a label map PNG (see :mod:`engines.segmentation.labelmap`), one undo step.
        Its label set is the one named in the file, else the current one. A file that cannot
        be read or is refused is named by its full path, as the other layers' files are.

        Over a map of the same label set (a map exported, repainted elsewhere and imported
        back), the pixels whose label differs are a label edit, as the label brush makes:
        the layer becomes the imported map, the computed map stays, and the changed pixels
        (grown as a brush edit's are) join the hole, so the fill follows the new layout
        (:attr:`labelsEdited`). When they are more than :data:`ASK_EDIT_SHARE` of the
        picture, :meth:`ask_import_choice` asks first (a new map, the default; a label edit;
        or not imported); when they are all of it, the map is a new map without asking.
        Otherwise (no map yet, another set, or a map without labels) it becomes the computed
        map, which makes no hole. Returns whether it was imported (failures go to
        :attr:`error`)."""
        doc = self.document
        if doc is None:
            return False
        path = Path(path)
        stored = label_set_name(path)
        broken: list[str] = []
        label_set = label_set_for(stored, broken)
        note = ""
        if stored and label_set is None and stored != UNNAMED_SET:
            # a broken parser may be the one whose set it names: say which failed
            note = (f": it names the label set {stored!r}, which no parser here uses, so its "
                    f"ids are kept{''.join(f'; {problem}' for problem in broken)}")
        label_set = label_set or (self.label_set if stored is None else None)
        try:  # named by its full path, as the other layers' files are; says an EXIF turn
            labels = load_label_png(path, doc.shape, label_set, name=str(path))
        except (LabelMapError, OSError) as exc:
            self.error.emit(str(exc))
            return False
        if doc.in_step:
            self.message.emit("Finish the stroke first")
            return False
        self.cancel()
        self._forget()
        step_label = f"Import label map ({path.name})"
        has_labels = bool((labels != UNLABELLED).any())
        if has_labels and self._edits_current_map(label_set):
            changed = int(np.count_nonzero(doc.layer(Layer.LABELS) != labels))
            if not changed:
                self.message.emit(f"{path.name} is the label map shown: nothing changed")
                return True
            choice = ImportChoice.FILL
            if changed == labels.size:
                choice = ImportChoice.NEW_MAP
                note += ("; it differs from the map shown everywhere, so it is a new map, "
                         "not an edit to fill")
            elif changed > ASK_EDIT_SHARE * labels.size:
                choice = self.ask_import_choice(path.name, changed, labels.size)
                if self.document is not doc or doc.in_step:  # changed while asked
                    choice = ImportChoice.CANCEL
                if choice is ImportChoice.NEW_MAP:
                    note += " as a new map (nothing to fill)"
            if choice is ImportChoice.CANCEL:
                self.message.emit(f"Label map not imported from {path.name}")
                return False
            if choice is ImportChoice.FILL:
                doc.replace_layer(Layer.LABELS, labels, step_label, derive_hole=True)
                self.labelsEdited.emit(f"Label map imported: {changed} pixels changed; they "
                                       "will be filled")
                return True
        if not has_labels:
            note += "; the map has no labels (all unlabelled)"
        labels.flags.writeable = False  # a new array: kept as the computed map, not copied
        self._store_map(doc, labels, label_set, step_label)
        self.message.emit(f"Label map imported from {path.name}{note}")
        return True

    def ask_import_choice(self, name: str, changed: int, total: int) -> ImportChoice:
        """Whether the label map file ``name``, which differs from the map shown on
        ``changed`` of the picture's ``total`` pixels (more than :data:`ASK_EDIT_SHARE`,
        not all), is a new map (the default, and Enter), a label edit whose changed pixels
        are filled, or not imported (Esc). A modal question over the controller's parent
        widget; tests replace this method to answer it."""
        parent = self.parent()
        box = QMessageBox(QMessageBox.Question, "Import Label Map",
                          f"{name} differs from the label map shown on "
                          f"{changed * 100 // total} % of the picture "
                          f"({count_noun(changed, 'pixel')}).",
                          QMessageBox.NoButton, parent if isinstance(parent, QWidget) else None)
        box.setInformativeText(
            "A map that changes this much is usually a new map of the picture (another "
            "segmentation) rather than a repaint of this one. As a new map it replaces the "
            "map shown and nothing is filled; as an edit the changed pixels, grown by a few, "
            "become the hole and are filled to follow it.")
        new_map = box.addButton("Use as a new map", QMessageBox.AcceptRole)
        fill = box.addButton("Fill the changed area", QMessageBox.DestructiveRole)
        cancel = box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(new_map)
        box.setEscapeButton(cancel)
        box.exec()
        clicked = box.clickedButton()
        box.deleteLater()
        return (ImportChoice.NEW_MAP if clicked is new_map
                else ImportChoice.FILL if clicked is fill else ImportChoice.CANCEL)

    def _edits_current_map(self, label_set: LabelSet | None) -> bool:
        """Whether a map of ``label_set`` imported now is an edit of the document's map:
        there is one (with labels) and it is of the same set."""
        doc = self.document
        name = label_set.name if label_set is not None else None
        return name == doc.label_set and doc.has_label_map()

    def export_labels(self, path: str | Path, overwrite: bool = False) -> bool:
        """Save the label layer as an indexed PNG whose pixel values are the ids and whose
        palette holds the label set's colours. Returns whether it was written."""
        doc = self.document
        if doc is None:
            return False
        if not doc.has_label_map():
            self.message.emit(NO_LABEL_MAP)
            return False
        try:
            written = save_label_png(path, doc.layer(Layer.LABELS),
                                     self.label_set or _unnamed_label_set(), overwrite)
        except (LabelMapError, OSError) as exc:
            self.error.emit(str(exc))
            return False
        self.message.emit(f"Label map saved to {written}")
        return True

    # --------------------------------------------------------------- internal
    def _store_map(self, doc: Document, labels: np.ndarray, label_set: LabelSet | None,
                   step_label: str) -> None:
        if label_set is not None:
            self._seen_sets[label_set.name] = label_set
        self.label_set = label_set  # first: the layer's change notice finds it current
        doc.replace_label_map(labels, label_set.name if label_set is not None else None,
                              step_label)
        self.labelSetChanged.emit(label_set)
        self.labelsReplaced.emit()

    def _follow_label_set(self) -> None:
        """Take the document's label set when it changed under us (undo/redo of a map)."""
        doc = self.document
        name = doc.label_set if doc is not None else None
        if name == (self.label_set.name if self.label_set is not None else None):
            return
        self.label_set = self._label_set_named(name)
        self.labelSetChanged.emit(self.label_set)

    def _label_set_named(self, name: str | None) -> LabelSet | None:
        return self._seen_sets.get(name) or label_set_for(name) if name else None

    def _emit_counts(self) -> None:
        self._counts_timer.stop()
        self.countsChanged.emit(self.label_counts())

    def _on_document_change(self, layer: Layer, box: Box) -> None:
        if layer is Layer.LABELS:
            self._follow_label_set()
            self._counts_timer.start()

    def _ended_name(self, run: _MapRun) -> str:
        return run.parser_name

    def _stage(self, run: _MapRun, payload: object) -> None:
        if isinstance(payload, Progress):
            self.progressChanged.emit(payload.fraction, f"{run.title}: {payload.message}"
                                      if payload.message else run.title)

    stale_message = "The picture changed while the map was computed; compute it again"
    max_attempts = 3

    def _stale(self, run: _MapRun) -> None:
        if run.attempt >= self.max_attempts:
            super()._stale(run)
            return
        self.message.emit("The picture changed while the map was computed; computing it "
                          "again")
        self._compute(run.parser_name, run.options, run.attempt + 1)

    def _result(self, run: _MapRun, result: object) -> None:
        self._deliver_when_idle(run, result)

    def _target_document(self, run: _MapRun) -> Document | None:
        return self.document

    def _deliver(self, run: _MapRun, computed: _ComputedMap) -> None:
        """Store the finished map (called once no brush drag is open on the document), and
        give its counts, counted on the worker, at once."""
        self._store_map(run.document, computed.labels, run.label_set,
                        f"Compute map ({run.title})")
        self._counts_timer.stop()  # the layer is the map: no need to count it again
        self.countsChanged.emit(computed.counts)
        present = computed.counts > 0
        present[UNLABELLED] = False
        count = int(present.sum())
        self.message.emit(f"{run.title}: {count_noun(count, 'label')} found. Paint with the "
                          "label brush to change the layout; the changed area is filled to "
                          "follow it")

    def _cancelled(self, run: _MapRun) -> None:
        self.message.emit("Computing the map was cancelled")
