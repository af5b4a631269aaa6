"""The fill session: from "run" to a preview to an applied, undoable result.

:class:`FillController` snapshots the document into a request, submits it to the
:class:`~app.worker.Worker`, turns each stage that comes back into a preview (coarse first,
refined last), and applies the final result as one undo step, clearing only the mask the
run used. Results computed for an older picture (the user applied or undid something while
the engine ran) are dropped. It owns no widgets; the window connects its signals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.document import Document
from app.worker import InpaintTask, Progress, Worker
from engines import registry
from engines.base import Stage, Strategy
from engines.region import Box, mask_bbox


@dataclass
class FillSettings:
    """What the user chose for the next run."""

    engine: str = "telea"
    engine_options: dict[str, Any] = field(default_factory=dict)
    strategy: Strategy = Strategy.CROP
    crop_margin: int = 128
    seed: int = 0
    device: str = "auto"
    auto_run: bool = True
    auto_apply: bool = True


@dataclass
class _Run:
    task_id: int
    image_version: int
    used_mask: np.ndarray
    box: Box
    engine_title: str
    final: Stage | None = None


class FillController(QObject):
    """Runs fills for one document on a worker and manages the preview.

    Signals:
        previewChanged(object, object, str): (full-size image or None, Box or None, label).
        progressChanged(float, str): fraction in [0, 1] (-1 when idle) and a message.
        busyChanged(bool): whether a run is in progress.
        message(str): something to tell the user in passing.
        error(str): a run failed; one line for the user.
        applied(): a result was committed to the document.
    """

    previewChanged = Signal(object, object, str)
    progressChanged = Signal(float, str)
    busyChanged = Signal(bool)
    message = Signal(str)
    error = Signal(str)
    applied = Signal()

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.settings = FillSettings()
        self.document: Document | None = None
        self._run: _Run | None = None
        self._pending: _Run | None = None  # a finished run waiting to be applied
        worker.emitted.connect(self._on_emitted)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)

    # ----------------------------------------------------------------- public
    def set_document(self, document: Document | None) -> None:
        self.cancel()
        self.discard()
        self.document = document

    @property
    def busy(self) -> bool:
        return self._run is not None

    @property
    def has_result(self) -> bool:
        return self._pending is not None

    def run(self) -> int | None:
        """Start a fill of the current mask; returns the task id (None if nothing to do)."""
        doc = self.document
        if doc is None:
            return None
        box = mask_bbox(doc.mask)
        if box is None:
            self.message.emit("Paint over what should be removed first (brush: B)")
            return None
        s = self.settings
        request = doc.build_request(strategy=s.strategy, crop_margin=s.crop_margin,
                                    seed=s.seed, device=s.device)
        engine_class = registry.engine_class(s.engine)
        title = engine_class.title or engine_class.name
        task = InpaintTask(title=title, engine=s.engine, engine_options=dict(s.engine_options),
                           request=request)
        self._pending = None
        self._run = _Run(task.id, doc.image_version, request.mask, box, title)
        self.worker.submit(task)
        self.busyChanged.emit(True)
        self.progressChanged.emit(0.0, f"{title}: starting")
        return task.id

    def cancel(self) -> None:
        """Stop the running fill (Esc). The last stage shown stays as a preview."""
        if self._run is not None:
            self.worker.cancel()

    def discard(self) -> None:
        """Drop the preview (and a result waiting to be applied)."""
        self._pending = None
        if self.document is not None:
            self.document.set_preview(None)
        self.previewChanged.emit(None, None, "")

    def apply(self) -> bool:
        """Commit the finished result as one undoable step; returns whether it did."""
        run, doc = self._pending, self.document
        if run is None or doc is None or run.final is None:
            return False
        self._pending = None
        if run.image_version != doc.image_version:
            self.discard()
            self.message.emit("The picture changed while the engine ran; run the fill again")
            return False
        doc.apply_result(run.final.image, f"Fill ({run.engine_title})", used_mask=run.used_mask,
                         within=run.box)
        self.previewChanged.emit(None, None, "")
        self.applied.emit()
        self.message.emit(f"Applied {run.engine_title}; Ctrl+Z undoes it")
        return True

    def _apply_when_idle(self) -> None:
        """Apply now, or as soon as the brush drag in progress ends (a step is open)."""
        if self._pending is None:
            return
        if self.document is not None and self.document.in_step:
            QTimer.singleShot(30, self._apply_when_idle)
            return
        self.apply()

    # ---------------------------------------------------------------- signals
    def _current(self, task_id: int) -> _Run | None:
        run = self._run
        return run if run is not None and run.task_id == task_id else None

    def _on_emitted(self, task_id: int, payload: object) -> None:
        run = self._current(task_id)
        if run is None:
            return
        if isinstance(payload, Stage):
            if self.document is not None and run.image_version != self.document.image_version:
                return
            label = f"{run.engine_title}: {payload.name}"
            if self.document is not None:
                self.document.set_preview(payload.image, payload.name)
            self.previewChanged.emit(payload.image, run.box, label)
            self.progressChanged.emit(payload.progress, label)
        elif isinstance(payload, Progress):
            self.progressChanged.emit(payload.fraction, payload.message)

    def _on_finished(self, task_id: int, result: object) -> None:
        run = self._current(task_id)
        if run is None:
            return
        self._run = None
        self.busyChanged.emit(False)
        self.progressChanged.emit(-1.0, "")
        if not isinstance(result, Stage):
            return
        run.final = result
        self._pending = run
        if self.settings.auto_apply:
            self._apply_when_idle()
        else:
            self.message.emit("Enter applies the result, Esc discards it")

    def _on_failed(self, task_id: int, message: str) -> None:
        if self._current(task_id) is None:
            return
        self._run = None
        self.busyChanged.emit(False)
        self.progressChanged.emit(-1.0, "")
        self.discard()
        self.error.emit(message)

    def _on_cancelled(self, task_id: int) -> None:
        if self._current(task_id) is None:
            return
        self._run = None
        self.busyChanged.emit(False)
        self.progressChanged.emit(-1.0, "")
        self.message.emit("Cancelled")
