"""Watermark clearing in the GUI: estimate a folder's watermark, clear whole folders, and
propose a text/logo mask on one picture.

* :class:`WatermarkDialog`: choose an input and an output folder; "Estimate" finds the mask
  the images share (:func:`engines.watermark.estimate_watermark_mask`) and previews it with
  the counts of images used and left out, and of those that show no mark; "Clear folder"
  fills that mask in every image (:func:`engines.batch.clear_folder`) with a progress bar
  and Cancel, writing nothing for the images in which the watermark is not found
  (:meth:`engines.watermark.WatermarkEstimate.shows_mark`) unless
  :data:`FILL_UNMARKED` is ticked (shown once there are such images). "Correct in editor"
  hands one image and the mask to the window, to touch the mask up by hand and then use
  :class:`FolderApplyDialog`.
* :class:`FolderApplyDialog`: "apply the current mask to a whole folder".
* :func:`propose_text_mask` and :class:`TextMaskController`: the single-image text/logo
  detector (:func:`engines.textdetect.detect_text_mask`) adds its proposal to a document's
  mask as one undo step ("Detect text"), for the user to correct with the brush.

The folder dialogs run on a worker of their own (:func:`app.compare.private_worker`), so
editing in the main window while a folder is cleared does not cancel it. The back end
refuses to write into the input folder or over an original; its message is shown as is.
"""

from __future__ import annotations

import html
import math
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.document import Document, Layer, Step
from app.model_dialogs import offer_download, readiness_word
from app.panels import engine_entries, readiness_text
from app.qimages import rgb_pixmap, scaled_rgb
from app.worker import FunctionTask, Progress, Worker, WorkerClient, private_worker, retire_worker
from engines import registry
from engines.base import Engine, InputError, Readiness
from engines.batch import BatchResult, clear_folder, note_lines
from engines.fileio import image_size, list_images, names_and_more, skipped_files_note
from engines.textdetect import detect_text_mask
from engines.watermark import (
    WatermarkEstimate,
    estimate_watermark_mask,
    left_out_note,
    preview_image,
    undecided_note,
)

PREVIEW_SIDE = 360  # px, the longest side of the mask preview
NO_ESTIMATE_SHOWN = "Estimate the watermark to see its mask here."  # the preview without one
FOLDER_ENGINE_PREFERENCE = ("lama", "migan", "patchmatch", "telea")
INPUT_RELATIVE = ("Type the input folder's full path (a relative path has no fixed place in "
                  "the editor), or use Browse…")
OUTPUT_RELATIVE = ("A relative output folder goes beside the input folder: type the input "
                   "folder's full path first, or use Browse…")
RUN_CANCELLED = "Cancelled. Images already written stay in the output folder."
ESTIMATE_CANCELLED = "Estimate cancelled; nothing was written."
SIZE_CHOICES = (("anchor", "Move the mask with its nearest corner or edge"),
                ("skip", "Skip them"))
FILL_UNMARKED = "Also fill the images in which the watermark is not found"
EngineFactory = Callable[..., Engine]
MarkCheck = Callable[[np.ndarray, tuple[int, int] | None], bool]


def default_folder_engine() -> str:
    """The first ready engine of :data:`FOLDER_ENGINE_PREFERENCE` (OpenCV Telea at worst)."""
    ready = {name for name, _t, readiness, _d in engine_entries()
             if readiness is Readiness.READY}
    return next((name for name in FOLDER_ENGINE_PREFERENCE if name in ready), "telea")


@dataclass
class FolderCount:
    """How far a folder run is: ``done`` of the ``total`` pictures of the input folder dealt
    with (written, failed or skipped); ``total`` is 0 until they are counted. Written by the
    worker thread, read by the GUI thread (each a plain int: no lock needed)."""

    done: int = 0
    total: int = 0


def _clear(images: Path, output: Path, mask: np.ndarray, engine: str, factory: EngineFactory,
           overwrite: bool, other_sizes: str, keep_metadata: bool, settings: dict[str, Any],
           count: FolderCount, cancel, progress,
           shows_mark: MarkCheck | None = None) -> BatchResult:
    """Runs on the worker: ``clear_folder`` with an engine made by ``factory``, released at
    the end; ``settings`` are the requests' (strategy, context, seed, device). ``count``
    follows the pictures done. ``shows_mark``: clear_folder's, to write nothing for the
    pictures without the watermark."""
    try:
        sources = list_images(images)  # listed once: the count is of what clear_folder does
    except OSError:  # clear_folder says what is wrong with the folder
        sources = []
    count.total = len(sources)

    def report(fraction: float, message: str) -> None:
        # clear_folder reports (index + part of this picture) / total, index + 1 once done
        count.done = min(count.total, math.floor(fraction * count.total + 1e-6))
        progress(fraction, message)

    instance = factory(engine)
    try:
        return clear_folder(sources or images, output, mask, instance, report, cancel, overwrite,
                            other_sizes=other_sizes, keep_metadata=keep_metadata,
                            request_settings=settings, shows_mark=shows_mark)
    finally:
        instance.release()


class _PathEdit(QLineEdit):
    """A line edit that keeps Enter to itself: it ends the typing (``editingFinished``) and
    neither opens a file dialog nor presses the dialog's default button."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        super().keyPressEvent(event)
        if event.key() in (Qt.Key_Return, Qt.Key_Enter):
            event.accept()  # QLineEdit passes it on to the dialog


class FolderField(QWidget):
    """A folder path: a line edit and a Browse… button. Enter in the edit keeps the typed
    path; only a click (or Space on the focused button) opens the folder chooser.

    A relative path is taken from the folder ``anchor`` gives (when it gives a full path),
    never from the editor's working directory, which is no place the user chose (``/`` or
    the home folder when started from a desktop entry). Without one it stays relative, for
    the dialog to refuse, saying ``relative_hint``. The tooltip shows the full path.
    """

    changed = Signal(str)

    def __init__(self, placeholder: str, parent: QWidget | None = None,
                 anchor: Callable[[], Path | None] | None = None,
                 relative_hint: str = "Type the folder's full path, or use Browse…") -> None:
        super().__init__(parent)
        self._anchor = anchor
        self.relative_hint = relative_hint
        self.edit = _PathEdit()
        self.edit.setPlaceholderText(placeholder)
        self.browse = QPushButton("Browse…")
        self.browse.setAutoDefault(False)  # else Enter anywhere in the dialog may press it
        self.browse.clicked.connect(self._ask)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)
        self.edit.textChanged.connect(self.changed)
        self.edit.textChanged.connect(self.show_full_path)

    def path(self) -> Path | None:
        """The folder typed. Spaces around it are the name's own when a file or folder of
        that name exists (a folder called "in " is that folder, not "in"); otherwise they
        were typed or pasted by accident and dropped, as are line breaks and tabs, which
        are never part of a name typed here. A relative path is placed in the anchor's
        folder, its ``..`` taken as typed ("../out" is beside the anchor); still relative
        when there is no full anchor."""
        typed = self.edit.text().strip("\r\n\t")
        stripped = typed.strip()
        if not stripped:
            return None
        exact = self._placed(typed)
        if typed != stripped and exact.exists():
            return exact
        return self._placed(stripped)

    def set_path(self, path: str | Path) -> None:
        self.edit.setText(str(path))

    def show_full_path(self) -> None:
        """Tooltip: the full path of the folder typed, or :attr:`relative_hint`."""
        path = self.path()
        self.edit.setToolTip("" if path is None else str(path) if path.is_absolute()
                             else self.relative_hint)

    def _placed(self, text: str) -> Path:
        path = Path(text).expanduser()
        base = self._anchor() if self._anchor is not None and not path.is_absolute() else None
        if base is None or not base.is_absolute():
            return path
        return Path(os.path.normpath(base / path))

    def _ask(self) -> None:
        path = self.path()
        folder = QFileDialog.getExistingDirectory(self, self.edit.placeholderText(),
                                                  str(path) if path is not None else "")
        if folder:
            self.set_path(folder)


def _other_size_note(result: BatchResult, listed: int = 5) -> str:
    """``2 skipped, another size than the 160×120 mask: big.png 320×240, tiny.png 8×8 (…)``:
    the pictures left alone as "Other sizes: Skip them" asked (the first ``listed`` named)."""
    entries = result.other_size
    mask_width, mask_height = entries[0].mask_size  # the dialogs use one mask for all
    shown = ", ".join(f"{entry.path.name} {entry.size[0]}×{entry.size[1]}"
                      for entry in entries[:listed])
    more = f" and {len(entries) - listed} more" if len(entries) > listed else ""
    return (f"{len(entries)} skipped, another size than the {mask_width}×{mask_height} mask: "
            f"{shown}{more} (Other sizes: \"{dict(SIZE_CHOICES)['anchor']}\" fills them)")


def _unmarked_note(result: BatchResult, listed: int = 5) -> str:
    """``1 not written, the watermark was not found in it: rocket.jpg (…)``: the pictures
    a watermark's clearing did not fill, for which the output folder has no file (the
    first ``listed`` named)."""
    paths = result.unmarked
    where = "it" if len(paths) == 1 else "them"
    return (f"{len(paths)} not written, the watermark was not found in {where}: "
            f"{names_and_more(paths, listed)} (tick \"{FILL_UNMARKED}\" to fill {where})")


class FolderRunDialog(QDialog):
    """What both folder dialogs share: input and output folders, engine, options, a progress
    bar, a status line and Cancel/Close, with jobs run on a private worker.

    Signals:
        cleared(object): a folder run ended with this :class:`BatchResult`.
        modelsChanged(): weights were downloaded here (refresh readiness elsewhere).
    """

    cleared = Signal(object)
    modelsChanged = Signal()

    def __init__(self, title: str, engine: str | None = None, other_sizes: str = "skip",
                 parent: QWidget | None = None, factory: EngineFactory = registry.create,
                 request_settings: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(560)
        self.batch_result: BatchResult | None = None
        self._factory = factory
        # the editor's region strategy, context, seed and device, read when a run starts
        self._request_settings = request_settings or dict
        self._task_id: int | None = None
        self._on_result: Callable[[object], None] | None = None
        self._close_with: int | None = None
        self._count: FolderCount | None = None  # the pictures a folder run has done
        self._stop_asked = False  # the running job was cancelled, and ends soon
        self._cancelled_text = RUN_CANCELLED  # what a cancel of the running job shows
        self.worker: Worker | None = None  # exists while a job runs

        self.input = FolderField("Folder with the images", relative_hint=INPUT_RELATIVE)
        self.output = FolderField("Folder for the results (not the input folder)",
                                  anchor=self._input_parent, relative_hint=OUTPUT_RELATIVE)
        self.input.changed.connect(self.output.show_full_path)
        self.engine = QComboBox()
        self.show_readiness()
        index = self.engine.findData(engine or default_folder_engine())
        self.engine.setCurrentIndex(max(index, 0))
        self.other_sizes = QComboBox()
        for key, text in SIZE_CHOICES:
            self.other_sizes.addItem(text, key)
        self.other_sizes.setCurrentIndex(max(self.other_sizes.findData(other_sizes), 0))
        self.other_sizes.setToolTip("Images whose size differs from the mask's")
        self.overwrite = QCheckBox("Replace results already in the output folder")
        self.keep_metadata = QCheckBox("Keep each photo's metadata")
        self.keep_metadata.setChecked(True)
        self.keep_metadata.setToolTip("Results keep their original's colour profile, EXIF, XMP "
                                      "and IPTC (date, camera, GPS, caption, keywords, "
                                      "copyright), never a thumbnail")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.hide()
        self.status = QLabel(" ")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.cancel_button = self.buttons.addButton("Cancel", QDialogButtonBox.ActionRole)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.buttons.rejected.connect(self.reject)

        self.form = QFormLayout()
        self.form.addRow("Input folder", self.input)
        self.form.addRow("Output folder", self.output)
        self.form.addRow("Engine", self.engine)
        self.form.addRow("Other sizes", self.other_sizes)
        self.form.addRow("", self.overwrite)
        self.form.addRow("", self.keep_metadata)
        self.body = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addLayout(self.body, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    # ----------------------------------------------------------------- public
    @property
    def running(self) -> bool:
        return self._task_id is not None

    @property
    def stopping(self) -> bool:
        """Whether the running job was cancelled (it ends with the picture in hand)."""
        return self.running and self._stop_asked

    def run_summary(self) -> str:
        """The running job and how far it is, for a question: "A folder run is in progress
        (29 of 300 done)"; a job that counts no pictures (estimating) gives its share done."""
        count = self._count
        if count is not None and count.total:
            return f"A folder run is in progress ({count.done} of {count.total} done)"
        what = "A folder run" if count is not None else "A watermark estimate"
        return f"{what} is in progress ({self.bar.value() / 10:.0f} % done)"

    def wait_stopped(self, timeout_ms: int) -> bool:
        """After :meth:`cancel`, wait up to ``timeout_ms`` for the job's thread to end: the
        picture being written is finished (each result is written whole, or not at all).
        Whether it ended; a job that outlives the wait never holds the program open."""
        return self.worker is None or self.worker.shutdown(timeout_ms)

    def engine_name(self) -> str:
        return self.engine.currentData()

    def set_engine(self, name: str) -> bool:
        index = self.engine.findData(name)
        if index >= 0:
            self.engine.setCurrentIndex(index)
        return index >= 0

    def show_readiness(self) -> None:
        """List every engine, labelled with its readiness as the Engine panel says it
        (:func:`~app.model_dialogs.readiness_word`: "LaMa (big) (needs download)", "(damaged)",
        "(manual import)"), with what it lacks as the tooltip, in the Engine panel's words
        (:func:`readiness_text`); again after weights were installed."""
        for name, title, readiness, detail in engine_entries():
            index = self.engine.findData(name)
            if index < 0:
                self.engine.addItem(title, name)
                index = self.engine.count() - 1
            ready = readiness is Readiness.READY
            word = "" if ready else readiness_word(readiness,
                                                   registry.engine_class(name).weights)
            self.engine.setItemText(index, title if ready else f"{title} ({word})")
            self.engine.setItemData(
                index, None if ready else readiness_text(readiness, detail,
                                                          registry.engine_class(name)),
                Qt.ToolTipRole)

    def order_tabs(self, *actions: QWidget) -> None:
        """Tab goes through the form, then ``actions`` (the dialog's own buttons, in reading
        order), then Cancel and Close."""
        chain = [self.input.edit, self.input.browse, self.output.edit, self.output.browse,
                 self.engine, self.other_sizes, self.overwrite, self.keep_metadata, *actions,
                 self.cancel_button, self.buttons.button(QDialogButtonBox.Close)]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def clear_with(self, mask: np.ndarray, shows_mark: MarkCheck | None = None) -> int | None:
        """Fill ``mask`` in every image of the input folder, writing to the output folder;
        with ``shows_mark`` (:func:`engines.batch.clear_folder`'s), only in those that carry
        the watermark. An engine whose weights are missing offers their download first (as
        choosing it in the editor does); the run starts once they are installed."""
        images, output = self.input.path(), self.output.path()
        if images is None or output is None:
            self.status.setText("Choose an input folder and an output folder first.")
            return None
        if not self.full_paths(self.input, self.output) or not self.engine_ready():
            return None
        # read the widgets here: the job runs on the worker thread
        engine, factory = self.engine_name(), self._factory
        overwrite, other_sizes = self.overwrite.isChecked(), self.other_sizes.currentData()
        keep_metadata = self.keep_metadata.isChecked()
        settings = dict(self._request_settings())
        count = FolderCount()
        return self.run_job(
            f"Clearing with {self.engine.currentText()}",
            lambda cancel, progress: _clear(images, output, mask, engine, factory, overwrite,
                                             other_sizes, keep_metadata, settings, count,
                                             cancel, progress, shows_mark),
            self._show_cleared, count)

    def run_job(self, title: str, function, on_result: Callable[[object], None],
                count: FolderCount | None = None, cancelled: str = RUN_CANCELLED) -> int:
        """Run ``function(cancel, progress)`` on this dialog's worker; ``on_result`` gets
        what it returns (failures and cancellation go to the status line, ``cancelled``
        being what a cancel shows). ``count`` is the :class:`FolderCount` a folder run
        updates."""
        task = FunctionTask(title=title, function=function)
        self._count, self._stop_asked = count, False
        self._cancelled_text = cancelled
        self.worker = private_worker(self)
        self.worker.emitted.connect(self._on_emitted)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self._task_id, self._on_result = task.id, on_result
        self.worker.submit(task)
        self.bar.setValue(0)
        self.bar.show()
        self.status.setText(f"{title}…")
        self._set_running(True)
        return task.id

    def cancel(self) -> None:
        """Stop the running job (results already written stay)."""
        if self._task_id is not None and self.worker is not None:
            self.worker.cancel()
            self._stop_asked = True
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")

    def full_paths(self, *fields: FolderField) -> bool:
        """Whether each of ``fields`` holds a full path (or nothing); else the status line
        says how to give one (:attr:`FolderField.relative_hint`)."""
        for field in fields:
            path = field.path()
            if path is not None and not path.is_absolute():
                self.status.setText(field.relative_hint)
                return False
        return True

    def engine_ready(self) -> bool:
        """Whether the chosen engine, made as the run makes it, may start. One whose weights
        are missing or damaged offers their download, as choosing it in the editor does
        (:func:`~app.model_dialogs.offer_download`): True once they are installed, else
        the status line says what to do, in one wording for every engine. Other problems
        (an engine that needs training, an accelerator missing) are the run's to say."""
        name = self.engine_name()
        try:
            engine = self._factory(name)
            status, weights_ids = engine.status(), tuple(engine.weights)
        except Exception:  # bad options or a broken plugin: the run made next says it
            return True
        if status.readiness is not Readiness.NEEDS_DOWNLOAD:
            return True
        title = engine.title or name
        installed = offer_download(weights_ids, self, purpose=f"clearing a folder with {title}")
        self.show_readiness()  # a download may have installed some, even when cut short
        self.modelsChanged.emit()
        if not installed:
            self.status.setText(f"{title} needs its weights: run again to download them, or "
                                "get them in File → Models…")
        return installed

    def done(self, result: int) -> None:
        if self._task_id is not None:  # close once the worker has stopped
            self._close_with = result
            self.cancel()
            return
        super().done(result)

    # --------------------------------------------------------------- internal
    def _input_parent(self) -> Path | None:
        """Where a relative output folder goes: beside the input folder ("cleared" next to
        "photos"), never into the editor's working directory."""
        folder = self.input.path()
        return folder.parent if folder is not None else None

    def _set_running(self, running: bool) -> None:
        """Subclasses disable their own buttons too."""
        self.cancel_button.setEnabled(running)
        for widget in (self.input, self.output, self.engine, self.other_sizes, self.overwrite,
                       self.keep_metadata):
            widget.setEnabled(not running)

    def _show_cleared(self, result: BatchResult) -> None:
        self.batch_result = result
        output = self.output.path()
        text = f"Wrote {len(result.written)} image{'s' if len(result.written) != 1 else ''} " \
               f"to {output}"
        if result.failed:
            shown = "; ".join(f"{path.name}: {reason}" for path, reason in result.failed[:5])
            more = f" and {len(result.failed) - 5} more" if len(result.failed) > 5 else ""
            text += f". {len(result.failed)} failed: {shown}{more}"
        if result.other_size:
            text += f". {_other_size_note(result)}"
        if result.unmarked:
            text += f". {_unmarked_note(result)}"
        for line in note_lines(result):  # e.g. a grey colour profile a colour result left out
            text += f". Note: {line}"
        if result.skipped:
            text += (f". {len(result.skipped)} already in the output folder, kept (tick "
                     "\"Replace results already in the output folder\" to redo them)")
        folder = self.input.path()
        output = self.output.path()
        skipped = (skipped_files_note(folder, used_folders=[output] if output else [])
                   if folder else "")
        if skipped:  # it starts with the number of files
            text += f". {skipped}"
        self.status.setText(text)
        self.cleared.emit(result)

    def _end(self) -> Callable[[object], None] | None:
        """The job is over: back to idle; returns what should receive its result."""
        on_result = self._on_result
        self._task_id, self._on_result = None, None
        retire_worker(self.worker)  # idle now: its thread ends at once
        self.worker = None
        self.bar.hide()
        self._set_running(False)
        return on_result

    def _close_if_asked(self) -> None:
        """Close now if the user asked to while the job ran."""
        if self._close_with is not None:
            result, self._close_with = self._close_with, None
            self.done(result)

    def _on_emitted(self, task_id: int, payload: object) -> None:
        if task_id == self._task_id and isinstance(payload, Progress):
            self.bar.setValue(round(payload.fraction * 1000))
            if payload.message:
                self.status.setText(f"{payload.message} ({payload.fraction:.0%})")

    def _on_finished(self, task_id: int, result: object) -> None:
        if task_id == self._task_id:
            on_result = self._end()
            if on_result is not None:
                on_result(result)
            self._close_if_asked()

    def _on_failed(self, task_id: int, message: str) -> None:
        if task_id == self._task_id:
            self._end()
            self.status.setText(message)
            self._close_if_asked()

    def _on_cancelled(self, task_id: int) -> None:
        if task_id == self._task_id:
            self._end()
            self.status.setText(self._cancelled_text)
            self._close_if_asked()


class WatermarkDialog(FolderRunDialog):
    """Estimate the watermark a folder of images shares, preview it, clear the folder.

    Signals (besides ``cleared``):
        estimated(object): the :class:`WatermarkEstimate` of the input folder.
        correctRequested(str, object): open this image (path) with this mask to correct it.
    """

    estimated = Signal(object)
    correctRequested = Signal(str, object)

    def __init__(self, parent: QWidget | None = None, engine: str | None = None,
                 factory: EngineFactory = registry.create,
                 request_settings: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__("Clear a watermark from a folder", engine, "skip", parent, factory,
                         request_settings)
        self.estimate: WatermarkEstimate | None = None
        self._estimated_folder: Path | None = None
        self._used: frozenset[str] = frozenset()  # names of the pictures estimated from
        self._estimate_task: int | None = None  # the task id of the last estimate started
        self.estimate_button = QPushButton("Estimate")
        self.estimate_button.setToolTip("Find the marks the images share at the same place "
                                        "(needs 5 or more images of one size; 10+ is better)")
        self.clear_button = QPushButton("Clear folder")
        self.clear_button.setToolTip("Fill the estimated mask in every image and write the "
                                     "results to the output folder")
        self.correct_button = QPushButton("Correct in editor")
        self.correct_button.setToolTip("Open one of the images with this mask to touch it up "
                                       "by hand, then use Mask → Apply to Folder")
        self.preview = QLabel(NO_ESTIMATE_SHOWN)
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setMinimumHeight(PREVIEW_SIDE // 2)
        self.counts = QLabel(" ")
        self.counts.setWordWrap(True)
        self.counts.setTextFormat(Qt.PlainText)  # it names files
        self.fill_unmarked = QCheckBox(FILL_UNMARKED)
        self.fill_unmarked.setToolTip("Without it, nothing is written in the output folder for "
                                      "the images in which the estimated watermark is not "
                                      "found; the summary names them")
        self.fill_unmarked.hide()  # shown once an estimate or a run finds such images
        row = QHBoxLayout()
        row.addWidget(self.estimate_button)
        row.addStretch(1)
        row.addWidget(self.correct_button)
        row.addWidget(self.clear_button)
        self.body.addWidget(self.preview, 1)
        self.body.addWidget(self.counts)
        self.body.addWidget(self.fill_unmarked)
        self.body.addLayout(row)
        self.estimate_button.clicked.connect(self.run_estimate)
        self.clear_button.clicked.connect(self.run_clear)
        self.correct_button.clicked.connect(self.request_correction)
        self.input.changed.connect(self._input_changed)
        self.estimate_button.setDefault(True)  # Enter outside the folder fields estimates
        self.order_tabs(self.fill_unmarked, self.estimate_button, self.correct_button,
                        self.clear_button)
        self.cleared.connect(self._offer_fill_unmarked)
        self._update_buttons()

    def run_estimate(self) -> int | None:
        """Estimate the mask from the input folder on the worker."""
        folder = self.input.path()
        if folder is None:
            self.status.setText("Choose the folder of watermarked images first.")
            return None
        if not self.full_paths(self.input):
            return None
        self._estimate_task = self.run_job(
            "Estimating the watermark",
            lambda cancel, progress: _estimate(folder, cancel, progress),
            lambda result: self.show_estimate(result[0], folder, result[1]),
            cancelled=ESTIMATE_CANCELLED)
        return self._estimate_task

    def show_estimate(self, estimate: WatermarkEstimate, folder: Path,
                      used: tuple[str, ...]) -> None:
        """Show ``estimate`` (its preview and counts) and make it the mask to clear. ``used``
        names the pictures of ``folder`` it used, those *Correct in editor* may open."""
        self.estimate, self._estimated_folder = estimate, folder
        self._used = frozenset(used)
        self.fill_unmarked.setChecked(False)  # each estimate starts from leaving them
        self.fill_unmarked.setVisible(bool(estimate.found and estimate.unmarked))
        self.preview.setPixmap(rgb_pixmap(preview_image(estimate), PREVIEW_SIDE))
        width, height = estimate.size
        text = f"Estimated from {estimate.used} images of {width}×{height}"
        if estimate.skipped:
            text += f"; {len(estimate.skipped)} left out"
        # the pictures left out and why, in the words a refused estimate uses; as rich
        # text, so that a long list wraps (file names escaped)
        note = left_out_note(estimate.skipped)
        self.counts.setToolTip(f"<p>{html.escape(note)}</p>" if note else "")
        if estimate.found:
            x, y, w, h = estimate.box
            share = 100.0 * float((estimate.mask >= 128).mean())
            text += f". Watermark at x {x}, y {y}, {w}×{h} px ({share:.1f} % of the picture)."
            undecided = undecided_note(estimate)
            if undecided:  # a sentence of its own here: its first letter capitalised
                text += f" {undecided[:1].upper()}{undecided[1:]}: every image is filled."
            elif estimate.unmarked:
                names = names_and_more([Path(name) for name in estimate.unmarked], 5)
                verb = "shows" if len(estimate.unmarked) == 1 else "show"
                text += (f" {len(estimate.unmarked)} of them {verb} no mark: {names} (not "
                         "written when clearing, unless the box below is ticked).")
            self.status.setText("Check the red mask, then clear the folder.")
        else:
            text += ". No watermark found: the images share no marks at the same place."
            self.status.setText("Nothing to clear.")
        self.counts.setText(text)
        self._update_buttons()
        self.estimated.emit(estimate)

    def run_clear(self) -> int | None:
        """Clear the estimated mask from every image of the input folder that carries the
        watermark, or from all of them when :attr:`fill_unmarked` is ticked."""
        if self.estimate is None or not self.estimate.found:
            self.status.setText("Estimate the watermark first.")
            return None
        check = None if self.fill_unmarked.isChecked() else self.estimate.shows_mark
        return self.clear_with(self.estimate.mask, check)

    def _offer_fill_unmarked(self, result: BatchResult) -> None:
        """A run that wrote nothing for some images, the watermark not found in them, shows
        the box that fills them (the next run, with the results already there kept, fills only
        those)."""
        if result.unmarked:
            self.fill_unmarked.show()

    def request_correction(self) -> bool:
        """Ask the window to open, with the mask, the first picture the estimate used that
        is still in the folder at the mask's size (never one it left out: cut short,
        unreadable, of another size)."""
        if self.estimate is None or not self.estimate.found or self._estimated_folder is None:
            return False
        try:
            path = next((p for p in list_images(self._estimated_folder)
                         if p.name in self._used and _size_or_none(p) == self.estimate.size),
                        None)
        except OSError as exc:
            self.status.setText(str(exc))
            return False
        if path is None:
            self.status.setText("None of the pictures the estimate used is left in the folder "
                                "at the mask's size.")
            return False
        self.correctRequested.emit(str(path), self.estimate.mask)
        return True

    def _on_failed(self, task_id: int, message: str) -> None:
        """A refused estimate (too few readable pictures, say: the status line names those
        left out) takes away an earlier estimate whole, which no longer answers what was
        asked: its mask preview, counts and left-out list, and with its mask *Clear folder*
        and *Correct in editor* (nothing is cleared with a mask the dialog no longer shows
        the counts of); a failed folder run leaves them."""
        if task_id == self._task_id and task_id == self._estimate_task:
            self.estimate, self._estimated_folder, self._used = None, None, frozenset()
            self.preview.clear()
            self.preview.setText(NO_ESTIMATE_SHOWN)
            self.counts.setText(" ")
            self.counts.setToolTip("")
        super()._on_failed(task_id, message)  # ends the run: the buttons follow

    def _input_changed(self) -> None:
        if self.estimate is not None and self.input.path() != self._estimated_folder:
            self.status.setText("The input folder changed: estimate again, or clear it with the "
                                "mask shown.")

    def _set_running(self, running: bool) -> None:
        super()._set_running(running)
        self.fill_unmarked.setEnabled(not running)
        self._update_buttons(running)

    def _update_buttons(self, running: bool = False) -> None:
        found = self.estimate is not None and self.estimate.found
        self.estimate_button.setEnabled(not running)
        self.clear_button.setEnabled(found and not running)
        self.correct_button.setEnabled(found and not running)


def _estimate(folder: Path, cancel, progress) -> tuple[WatermarkEstimate, tuple[str, ...]]:
    """Runs on the worker: the estimate of ``folder``, and the names of the pictures it used
    (those listed before it, less those it left out)."""
    try:
        listed = list_images(folder)  # listed once: the estimate reads these
    except OSError:  # the estimate says what is wrong with the folder
        listed = []
    # the folder itself when empty, so the estimate says it has no pictures
    estimate = estimate_watermark_mask(listed or folder, progress, cancel)
    left_out = {name for name, _reason in estimate.skipped}
    return estimate, tuple(path.name for path in listed if path.name not in left_out)


def _size_or_none(path: Path) -> tuple[int, int] | None:
    try:
        return image_size(path)
    except OSError:
        return None


class FolderApplyDialog(FolderRunDialog):
    """Apply one mask to every image of a folder: a fixed ``mask`` array, or a
    :class:`Document`'s mask as it is when Apply is pressed.

    Following a document (the editor's, which stays usable beside this dialog), the preview
    and the "% to fill" summary follow its mask: redrawn once a stroke is over and the edits
    pause (:attr:`REFRESH_MS`), not on each brush segment, and again right before a run, so
    what they show is what runs. The dialog keeps to the document it was opened on, held
    weakly: ``shown()`` tells which document the editor shows, and while that is another
    (another picture opened, a face being edited) or the document is gone, Apply is off and
    the summary says why. Call :meth:`check_document` when what the editor shows may have
    changed. An empty mask turns Apply off too, saying so.
    """

    REFRESH_MS = 250  # after the last mask change, the preview and summary are redrawn

    def __init__(self, mask: np.ndarray | Document, engine: str | None = None,
                 parent: QWidget | None = None, factory: EngineFactory = registry.create,
                 request_settings: Callable[[], dict[str, Any]] | None = None,
                 shown: Callable[[], Document | None] | None = None) -> None:
        super().__init__("Apply the mask to a folder", engine, "skip", parent, factory,
                         request_settings)
        self._fixed: np.ndarray | None = None
        self._document: weakref.ref[Document] | None = None
        self._shown = shown
        self._drawn: tuple[int, int] | None = None  # (document id, mask version) shown
        self._reason: str | None = None  # why Apply is off, None when it can run
        self._left: str | None = None  # why the document could not be used when drawn
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(self.REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_when_idle)
        if isinstance(mask, Document):
            self._document = weakref.ref(mask)
            mask.add_listener(self._on_document_change)
            self.finished.connect(self._stop_following)
        else:
            self._fixed = np.array(mask, np.uint8)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignCenter)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.apply_button = QPushButton("Apply to folder")
        self.apply_button.clicked.connect(self.run_apply)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.apply_button)
        self.body.addWidget(self.preview, 1)
        self.body.addWidget(self.summary)
        self.body.addLayout(row)
        self.apply_button.setDefault(True)  # Enter outside the folder fields applies
        self.order_tabs(self.apply_button)
        self.refresh()

    @property
    def document(self) -> Document | None:
        """The document whose mask this dialog applies; None for a fixed mask, or once that
        document is gone."""
        return None if self._document is None else self._document()

    @property
    def mask(self) -> np.ndarray | None:
        """The mask Apply fills now: the fixed one, or the document's own array (read it,
        never write it); None once the document is gone."""
        if self._document is None:
            return self._fixed
        document = self._document()
        return None if document is None else document.mask

    def _elsewhere(self) -> str | None:
        """Why the document followed cannot be used now, or None."""
        if self._document is None:
            return None
        document = self._document()
        if document is None:
            return ("The picture this mask was painted on was closed. Close this dialog and "
                    "choose Mask → Apply to Folder… on the picture shown now.")
        if self._shown is not None and self._shown() is not document:
            return ("The editor shows another picture (or a face being edited) now, not the "
                    "one whose mask this dialog applies: Apply is off until that picture is "
                    "shown again. For the mask of the picture shown, close this dialog and "
                    "choose Mask → Apply to Folder… again.")
        return None

    def refresh(self) -> None:
        """Redraw the preview and the summary from the mask as it is now, and turn Apply on
        or off (saying why it is off)."""
        self._refresh_timer.stop()
        self._reason = self._left = self._elsewhere()
        mask = self.mask
        if mask is not None:
            document = self.document
            self._drawn = (None if document is None
                           else (id(document), document.layer_version(Layer.MASK)))
            small = scaled_rgb(mask, PREVIEW_SIDE // 2)  # area-averaged before the copies
            self.preview.setPixmap(rgb_pixmap(np.repeat(small[..., None], 3, axis=2)))
            height, width = mask.shape
            holes = int(np.count_nonzero(mask >= 128))
            text = (f"Mask of {width}×{height} px, {100.0 * holes / mask.size:.1f} % to fill. "
                    "Images of another size are skipped or get the mask moved with its nearest "
                    "corner (Other sizes).")
            if self._document is not None:
                text += " The editor's mask is used as it is when you apply."
            if self._reason is None and not holes:
                self._reason = ("The mask is empty: paint over what to remove in the editor "
                                "(or import a mask), then apply.")
        else:
            self.preview.clear()
            text = ""
        self.summary.setText(f"{text} {self._reason}".strip() if self._reason else text)
        self.apply_button.setToolTip(self._reason or "")
        self.apply_button.setEnabled(not self.running and self._reason is None)

    def check_document(self) -> None:
        """Refresh when the document followed was shown or left, is gone, or its mask
        changed since it was drawn (cheap: call it whenever what the editor shows may have
        changed); not during a stroke."""
        if self._document is None:
            return
        document = self.document
        edited = (document is not None and not document.in_step
                  and self._drawn != (id(document), document.layer_version(Layer.MASK)))
        if edited or self._elsewhere() != self._left:
            self.refresh()

    def _on_document_change(self, layer: Layer, box: object) -> None:
        if layer is Layer.MASK and shiboken6.isValid(self) and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _refresh_when_idle(self) -> None:
        """Redraw unless a stroke is still open (then look again later) or nothing changed."""
        document = self.document
        if document is not None and document.in_step:
            self._refresh_timer.start()
        else:
            self.check_document()

    def _stop_following(self) -> None:
        self._refresh_timer.stop()
        document = self.document
        if document is not None:
            document.remove_listener(self._on_document_change)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.ActivationChange and self.isActiveWindow():
            self.check_document()

    def run_apply(self) -> int | None:
        """Fill the mask as it is now (a copy: editing goes on during the run) in every image
        of the input folder; None when it cannot run (the status line says why)."""
        self.refresh()
        if self._reason is not None:
            self.status.setText(self._reason)
            return None
        return self.clear_with(np.array(self.mask, np.uint8))

    def _set_running(self, running: bool) -> None:
        super()._set_running(running)
        self.apply_button.setEnabled(not running and self._reason is None)


# --- one image: text and logo detection -------------------------------------------------------


def propose_text_mask(document: Document, proposal: np.ndarray | None = None) -> Step | None:
    """Add the text/logo detector's mask to ``document``'s mask as one undo step
    ("Detect text"). ``proposal`` is a mask already computed for this picture
    (:func:`detect_text_mask`; computed here, on the calling thread, when None). The user's
    own mask strokes are kept. Returns the step, or None when nothing new was found."""
    if proposal is None:
        proposal = detect_text_mask(document.image)
    if proposal.shape != (document.height, document.width):
        raise InputError(f"the proposal is {proposal.shape[1]}x{proposal.shape[0]} but the "
                         f"picture is {document.width}x{document.height}")
    merged = np.maximum(document.mask, proposal)
    return document.replace_layer(Layer.MASK, merged, "Detect text")


@dataclass
class _TextRun:
    task_id: int
    document: Document
    image_version: int


class TextMaskController(WorkerClient):
    """Runs the text/logo detector on its worker (the window gives it one of its own, so a
    fill does not cancel it) and stores its proposal with :func:`propose_text_mask`, unless
    the picture changed meanwhile.

    Signals:
        proposed(object): the step added (a :class:`Step`), or None when nothing was found.
        busyChanged, message, error: see :class:`~app.worker.WorkerClient`.
    """

    proposed = Signal(object)

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(worker, parent)

    def run(self, document: Document) -> int:
        """Detect text on a copy of ``document``'s picture; returns the task id."""
        image = document.image.copy()
        task = FunctionTask(title="Detect text",
                            function=lambda cancel, progress: detect_text_mask(image))
        return self._start(task, _TextRun(task.id, document, document.image_version))

    stale_message = "The picture changed while text was detected; detect again"

    def _result(self, run: _TextRun, result: object) -> None:
        self._deliver_when_idle(run, result)

    def _deliver(self, run: _TextRun, proposal: np.ndarray) -> None:
        """Store the proposal (once no brush drag is open on the document)."""
        step = propose_text_mask(run.document, proposal)
        self.message.emit("Text and logos proposed as the mask: correct it with the brush, "
                          "then fill" if step is not None else "No text or logo found")
        self.proposed.emit(step)

    def _cancelled(self, run: _TextRun) -> None:
        self.message.emit("Text detection was cancelled")
