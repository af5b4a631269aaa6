"""Dialogs for network weights: a download/import progress dialog and the model manager.

:class:`DownloadDialog` (and :class:`ImportDialog`) run :func:`engines.download.download`
(:func:`engines.download.import_file`) on a daemon Python thread, show bytes, total and speed,
and cancel through a :class:`~engines.base.CancelToken` (a cancelled download keeps its partial
file; the next download resumes it). :func:`cancel_transfers` and :func:`wait_for_transfers`
stop every running one when the program closes. They show no message boxes: results come
back as signals and the window decides what to say. :class:`ModelManagerDialog` lists every
checkpoint with its size, licence and state, with Download, Import file..., Remove and Open
folder (Download replaces a damaged file; Import file... asks before replacing one that is
installed and sound; Delete removes).
:func:`offer_download` is the engine picker's (and Fill's, and the Faces panel's) "this needs
weights: download now?"; :func:`weights_advice` and :func:`weights_needed_message` say, in the
GUI's words, what a declined download leaves missing and how to install it in File → Models…
(the status bar after choosing an engine, filling or computing a map, the Engine and Labels
panels), :func:`training_advice` what an engine to train lacks, :func:`not_ready_advice`
either of them for an engine that is not ready, :func:`weights_error_text`
(:func:`gui_error_text`) what a run that failed for its weights, for want of a label map,
because its engine was not ready after all, or on a device this machine lacks, lacks (from the error's fields: the window, the
Compare cards, the Faces panel and the download dialogs say it so). None of them shows a
command of ``python main.py``. A
checkpoint with no download address whose engine runs a downloadable TorchScript export as
well (MI-GAN 512) is offered and advised as that export (:func:`downloadable_alternative`,
:func:`unmet`).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cli._errors import describe_error
from engines import download, weights
from engines.base import (
    Cancelled,
    CancelToken,
    Engine,
    EngineError,
    EngineNotReadyError,
    Guidance,
    Readiness,
)
from engines.device import DeviceUnavailableError
from engines.fileio import join_words
from engines.weights import InstallState, format_size

Job = Callable[[weights.ProgressCallback, CancelToken, Callable[[str], None]], Path]
"""``job(progress, cancel, waiting) -> installed path``: one download or import;
``waiting(message)`` says it waits for another process holding the same checkpoint."""

PROGRESS_INTERVAL_S = 0.1  # the most often the worker reports bytes to the GUI
_REMOVABLE = (InstallState.INSTALLED, InstallState.PARTIAL, InstallState.DAMAGED)


class _TransferWorker(QObject):
    """Runs jobs one after another on a daemon Python thread; every outcome is a signal.

    The object lives in the GUI thread, so the signals its thread emits are queued to the
    receivers there. A daemon thread, not a QThread: a job may still run when the program
    ends (downloads stop at once when cancelled, but a job blocked elsewhere, in a file
    system that hangs, say, cannot), where a QThread destroyed while running aborts the
    process. Running workers are kept in :data:`_running` until their thread ends, so they
    outlive a deleted dialog. Progress is throttled (:class:`_ProgressThrottle`).
    """

    began = Signal(str, int)  # weights id, index in the queue
    progress = Signal(str, object, object)  # weights id, bytes done, bytes total or None
    succeeded = Signal(str, str)  # weights id, installed path
    failed = Signal(str, str)  # weights id, one-line message
    cancelled = Signal(str)  # weights id
    waiting = Signal(str, str)  # weights id, why (another process holds the checkpoint)
    done = Signal()

    def __init__(self, jobs: Sequence[tuple[str, Job]], cancel: CancelToken) -> None:
        super().__init__()
        self._jobs = list(jobs)
        self._cancel = cancel
        self._thread = threading.Thread(target=self._run, name="transfer", daemon=True)

    def start(self) -> None:
        _running.add(self)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.cancel()

    def join(self, timeout_ms: int | None = None) -> bool:
        """Wait up to ``timeout_ms`` (None: no limit) for the thread; whether it ended."""
        if self._thread is not threading.current_thread():
            self._thread.join(None if timeout_ms is None else timeout_ms / 1000)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._run_jobs()
        except RuntimeError:
            if shiboken6.isValid(self):
                raise
            # the Qt side went away (the program is ending) while a job still ran
        finally:
            _running.discard(self)

    def _run_jobs(self) -> None:
        try:
            for index, (weights_id, job) in enumerate(self._jobs):
                if self._cancel.cancelled:
                    self.cancelled.emit(weights_id)
                    return
                self.began.emit(weights_id, index)
                reporter = _ProgressThrottle(
                    lambda done, total, weights_id=weights_id: self._report(
                        weights_id, done, total), PROGRESS_INTERVAL_S)
                try:
                    path = job(reporter, self._cancel,
                               lambda message, weights_id=weights_id: self.waiting.emit(
                                   weights_id, message))
                except Cancelled:
                    self.cancelled.emit(weights_id)
                    return
                except Exception as exc:  # reported, never left to kill the thread silently
                    self.failed.emit(weights_id, gui_error_text(exc))
                    continue
                finally:
                    reporter.close()
                self.succeeded.emit(weights_id, str(path))
        finally:
            self.done.emit()

    def _report(self, weights_id: str, done: int, total: int | None) -> None:
        """Emit ``progress`` (from the job's thread or the throttle's timer) unless the Qt
        side went away (the program is ending)."""
        if shiboken6.isValid(self):
            self.progress.emit(weights_id, done, total)


class _ProgressThrottle:
    """A progress callback that passes reports to ``emit`` at most every ``interval``
    seconds (the last one of a transfer, ``done >= total``, at once), and never loses the
    latest: one held back is sent by a timer when the interval has passed, so a burst
    followed by a stall still shows the bytes that arrived. :meth:`close` (the job ended)
    drops a held-back report."""

    def __init__(self, emit: Callable[[int, int | None], None], interval: float) -> None:
        self._emit = emit
        self._interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._held: tuple[int, int | None] | None = None
        self._timer: threading.Timer | None = None
        self._closed = False

    def __call__(self, done: int, total: int | None) -> None:
        with self._lock:
            if self._closed:
                return
            now = time.monotonic()
            wait = self._last + self._interval - now
            if wait > 0 and (total is None or done < total):
                self._held = (done, total)
                if self._timer is None:
                    self._timer = threading.Timer(wait, self._send_held)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._send(done, total, now)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._held = None
            if self._timer is not None:
                self._timer.cancel()

    def _send_held(self) -> None:
        with self._lock:
            self._timer = None
            if self._held is not None and not self._closed:
                self._send(*self._held, time.monotonic())

    def _send(self, done: int, total: int | None, now: float) -> None:
        """Emit (the lock held: reports keep their order)."""
        self._last = now
        self._held = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._emit(done, total)


_running: set[_TransferWorker] = set()


def cancel_transfers() -> None:
    """Cancel every running download and import (closing the program)."""
    for worker in list(_running):
        worker.cancel()


def wait_for_transfers(timeout_ms: int) -> bool:
    """Wait up to ``timeout_ms`` in all for the running transfers to end; whether they all
    did. One that outlives the wait (stuck in a blocked read) never holds the program open."""
    deadline = time.monotonic() + timeout_ms / 1000
    for worker in list(_running):
        worker.join(max(0, round((deadline - time.monotonic()) * 1000)))
    return not _running


class _Speed:
    """Bytes per second over the last few seconds."""

    WINDOW_S = 4.0

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def reset(self) -> None:
        self._samples.clear()

    def add(self, done: int) -> float | None:
        now = time.monotonic()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.WINDOW_S:
            self._samples.popleft()
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        return (last - first) / (end - start) if end - start >= 0.25 else None


class TransferDialog(QDialog):
    """Runs a queue of downloads or imports on a worker thread with a progress bar.

    Call :meth:`start` (then ``open()`` or ``exec()``). Cancel (or Esc, or closing the
    window) cancels, as does deleting the dialog; the dialog closes once the worker stopped.
    When every job succeeded the dialog accepts (``finished(QDialog.Accepted)``); when one
    failed it stays open until closed (``finished(QDialog.Rejected)``), its heading saying
    what was installed and what failed and why, by title (:meth:`_outcome_text`), its bar
    the share of the queue installed; when cancelled it rejects.

    Signals:
        succeeded(str, str): a checkpoint is installed (weights id, path).
        failed(str, str): a job failed (weights id, one-line message).
        cancelled(str): the job for this weights id was cancelled (a partial download is kept).
        completed(bool): the queue ended; True when every job succeeded.
    """

    succeeded = Signal(str, str)
    failed = Signal(str, str)
    cancelled = Signal(str)
    completed = Signal(bool)

    verb = "Working on"

    def __init__(self, jobs: Sequence[tuple[str, Job]], title: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self._jobs = list(jobs)
        self._token = CancelToken()
        self._worker: _TransferWorker | None = None
        self._started = False
        self._speed = _Speed()
        self._was_cancelled = False
        self._cancelled_id: str | None = None
        self.paths: dict[str, Path] = {}
        self.errors: dict[str, str] = {}

        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.detail = QLabel(" ")
        self.detail.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.detail.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.bar)
        layout.addWidget(self.detail)
        layout.addWidget(self.buttons)
        self.destroyed.connect(self._token.cancel)
        if self._jobs:
            self._show_job(self._jobs[0][0], 0)

    @property
    def running(self) -> bool:
        return self._worker is not None

    @property
    def cancel_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.Cancel) or \
            self.buttons.button(QDialogButtonBox.Close)

    def start(self) -> None:
        """Begin the queue on a worker thread (once)."""
        if self._started:
            return
        self._started = True
        worker = _TransferWorker(self._jobs, self._token)
        worker.began.connect(self._show_job)
        worker.progress.connect(self._show_progress)
        worker.waiting.connect(self._show_waiting)
        worker.succeeded.connect(self._job_succeeded)
        worker.failed.connect(self._job_failed)
        worker.cancelled.connect(self._job_cancelled)
        worker.done.connect(self._queue_done)
        self._worker = worker
        worker.start()

    def cancel(self) -> None:
        """Ask the worker to stop after the current chunk; the dialog closes when it has."""
        if self._worker is None:
            return
        self._token.cancel()
        self.cancel_button.setEnabled(False)
        self.detail.setText("Cancelling…")

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Block until the worker thread ended (for shutdown and tests)."""
        return self._worker.join(timeout_ms) if self._worker is not None else True

    def reject(self) -> None:
        if self._worker is not None:
            self.cancel()  # closes in _queue_done once the worker stopped
            return
        super().reject()

    def closeEvent(self, event) -> None:
        if self._worker is not None:
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)

    # --- worker reports (GUI thread) --------------------------------------------------------

    def _show_job(self, weights_id: str, index: int) -> None:
        spec = weights.get_spec(weights_id)
        count = f" ({index + 1} of {len(self._jobs)})" if len(self._jobs) > 1 else ""
        self.heading.setText(f"{self.verb} <b>{spec.title}</b> weights ({spec.id}){count}")
        self._speed.reset()
        self.bar.setRange(0, 0)  # busy until the size is known

    def _show_progress(self, weights_id: str, done: int, total: int | None) -> None:
        speed = self._speed.add(done)
        parts = [format_size(done) + (f" of {format_size(total)}" if total else "")]
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(min(1000, int(1000 * done / total)))
        if speed:
            parts.append(f"{format_size(int(speed))}/s")
            if total and done < total:
                parts.append(f"about {_duration((total - done) / speed)} left")
        self.detail.setText(" · ".join(parts))

    def _show_waiting(self, weights_id: str, message: str) -> None:
        self.detail.setText(message[:1].upper() + message[1:] + "…")

    def _job_succeeded(self, weights_id: str, path: str) -> None:
        self.paths[weights_id] = Path(path)
        self.succeeded.emit(weights_id, path)

    def _job_failed(self, weights_id: str, message: str) -> None:
        self.errors[weights_id] = message
        self.failed.emit(weights_id, message)

    def _job_cancelled(self, weights_id: str) -> None:
        self._was_cancelled, self._cancelled_id = True, weights_id
        self.cancelled.emit(weights_id)

    def _queue_done(self) -> None:
        if self._worker is not None:
            self._worker.join()  # done is its last signal: the thread is ending
        self._worker = None
        ok = not self.errors and not self._was_cancelled
        self.completed.emit(ok)
        if ok:
            self.accept()
        elif self._was_cancelled and not self.errors:
            super().reject()
        else:
            self.bar.setRange(0, len(self._jobs))
            self.bar.setValue(len(self.paths))  # the share installed: 0 when none was
            self.heading.setText(self._outcome_text())
            self.detail.setText(self._failure_advice())
            self.buttons.setStandardButtons(QDialogButtonBox.Close)

    def _outcome_text(self) -> str:
        """The heading after a queue with failures, models named by title: ``"Failed:
        Missing net: <why>"``; with some installed ``"1 of 3 installed (Good net); failed:
        Missing net: <why>"``; several failures one a line after ``"2 failed:"``; a job
        cancelled on the way is named on the first line (``"Slow net cancelled"``)."""
        failures = [f"{_title(weights_id)}: {message}"
                    for weights_id, message in self.errors.items()]
        first = []
        if self.paths:
            installed = join_words([_title(weights_id) for weights_id in self.paths])
            first.append(f"{len(self.paths)} of {len(self._jobs)} installed ({installed})")
        if self._cancelled_id is not None:
            first.append(f"{_title(self._cancelled_id)} cancelled")
        failed = "failed" if len(failures) == 1 else f"{len(failures)} failed"
        first.append(failed if first else failed[:1].upper() + failed[1:])
        separator = " " if len(failures) == 1 else "\n"
        return "; ".join(first) + ":" + separator + "\n".join(failures)

    def _failure_advice(self) -> str:
        """What to do after the failures in :attr:`errors` (shown under them)."""
        return ""


def _title(weights_id: str) -> str:
    """The title a dialog names checkpoint ``weights_id`` by (its id if it is unknown)."""
    try:
        return weights.get_spec(weights_id).title
    except KeyError:
        return weights_id


class DownloadDialog(TransferDialog):
    """Downloads the checkpoints ``weights_ids`` one after another (see
    :class:`TransferDialog` for the signals); ``force`` downloads installed ones again."""

    verb = "Downloading"

    def __init__(self, weights_ids: Sequence[str] | str, parent: QWidget | None = None,
                 force: bool = False) -> None:
        ids = [weights_ids] if isinstance(weights_ids, str) else list(weights_ids)

        def job(weights_id: str) -> Job:
            return lambda progress, cancel, waiting: download.download(
                weights_id, progress, cancel, force=force, waiting=waiting)

        super().__init__([(weights_id, job(weights_id)) for weights_id in ids],
                         "Downloading weights", parent)

    def _failure_advice(self) -> str:
        """Advice on the failed downloads only, named by title once others were installed
        or kept partly: a kept partial file resumes, the others can be tried again later;
        or import a file."""
        kept = [weights_id for weights_id in self.errors
                if weights.installation(weights_id).partial_bytes]
        others = [_title(weights_id) for weights_id in self.errors if weights_id not in kept]
        again = (f"The partial download of {join_words([_title(k) for k in kept])} is kept: "
                 "downloading again resumes it. " if kept else "")
        if others:
            again += (f"Try downloading {join_words(others)} again later. "
                      if kept or self.paths else "Try again later. ")
        return again + "Or import a file you downloaded yourself from the model manager."


class ImportDialog(TransferDialog):
    """Checks and installs ``source`` as the checkpoint ``weights_id`` (copied, or moved)."""

    verb = "Importing"

    def __init__(self, weights_id: str, source: str | Path, move: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__([(weights_id, lambda progress, cancel, waiting: download.import_file(
            weights_id, source, move=move, progress=progress, cancel=cancel,
            waiting=waiting))],
            "Importing weights", parent)
        self.source = Path(source)

    def _failure_advice(self) -> str:
        """Nothing was installed; an installed checkpoint is still there: choose the right
        file (no download advice: the user chose this file)."""
        kept = [weights.get_spec(weights_id).title for weights_id in self.errors
                if weights.installation(weights_id).state is InstallState.INSTALLED]
        unchanged = (f" The installed {' and '.join(kept)} file is unchanged." if kept
                     else "")
        return (f"{self.source.name} was not installed.{unchanged} Choose the file of this "
                "model (its details in Models say where to get it) and import it again.")


class ModelManagerDialog(QDialog):
    """Every known checkpoint with title, id, engine, size, licence and state.

    Buttons: Download (the selected downloadable ones), Import file..., Remove, Open folder.
    The table refreshes after each action.

    Signals:
        modelsChanged(): a checkpoint was installed or removed (refresh engine readiness).
    """

    COLUMNS = ("Model", "ID", "Engine", "Size", "Licence", "State")
    modelsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(940, 460)
        self.transfer: TransferDialog | None = None
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setTabKeyNavigation(False)  # Tab leaves for the buttons; arrows move
        self.table.installEventFilter(self)  # Delete removes the selected checkpoints
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.Stretch)  # long titles elide; tooltip has all
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.LinksAccessibleByMouse)
        self.details.setOpenExternalLinks(True)
        self.location = QLabel(f"Cache: {weights.cache_dir()} (set {weights.CACHE_ENV} to use "
                               "another folder)")
        self.location.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.download_button = QPushButton("&Download")
        self.import_button = QPushButton("&Import file…")
        self.remove_button = QPushButton("&Remove")
        self.folder_button = QPushButton("&Open folder")
        close = QPushButton("&Close")
        self.download_button.clicked.connect(self.download_selected)
        self.import_button.clicked.connect(self._import_clicked)
        self.remove_button.clicked.connect(self.remove_selected)
        self.folder_button.clicked.connect(self.open_folder)
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        for button in (self.download_button, self.import_button, self.remove_button,
                       self.folder_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.location)
        layout.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the catalogue and the cache; keeps the selection."""
        selected = set(self.selected_ids())
        self.table.setSortingEnabled(False)
        entries = weights.installations()
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            spec = entry.spec
            size = entry.size or spec.size
            approx = "" if entry.size or spec.sha256 or spec.md5 or not size else "~"
            state = "damaged" if entry.state is InstallState.DAMAGED else entry.label
            cells = (spec.title, spec.id, spec.engine, approx + format_size(size),
                     weights.short_license(spec.license) or "?", state)
            tip = _tooltip(entry)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, spec.id)
                item.setToolTip(tip)
                self.table.setItem(row, column, item)
        self.select(selected)
        self._selection_changed()

    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return [self.table.item(row, 1).data(Qt.UserRole) for row in rows]

    def select(self, weights_ids: Collection[str]) -> None:
        """Select the rows of ``weights_ids`` (and nothing else)."""
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.MultiSelection)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 1).data(Qt.UserRole) in weights_ids:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def download_selected(self) -> DownloadDialog | None:
        """Open a :class:`DownloadDialog` for the selected downloadable checkpoints that are
        missing or damaged (a damaged file is replaced)."""
        entries = [weights.installation(weights_id) for weights_id in self.selected_ids()]
        entries = [entry for entry in entries
                   if entry.spec.urls and entry.state is not InstallState.INSTALLED]
        if not entries:
            return None
        damaged = any(entry.state is InstallState.DAMAGED for entry in entries)
        return self._run(DownloadDialog([entry.spec.id for entry in entries], self,
                                        force=damaged))

    def import_from(self, weights_id: str, source: str | Path,
                    move: bool = False) -> ImportDialog:
        """Install ``source`` as ``weights_id`` through an :class:`ImportDialog`."""
        return self._run(ImportDialog(weights_id, source, move, self))

    def remove_selected(self) -> int:
        """Delete the selected checkpoints (after confirmation); bytes freed. One that is
        being downloaded or imported (here or by another program) is kept, and said so."""
        ids = [weights_id for weights_id in self.selected_ids()
               if weights.installation(weights_id).state in _REMOVABLE]
        if not ids or not self._confirm_remove(ids):
            return 0
        freed = 0
        busy: list[str] = []
        for weights_id in ids:
            try:
                freed += weights.remove(weights_id)
            except weights.CheckpointBusyError as exc:
                busy.append(str(exc))
        self.refresh()
        self.modelsChanged.emit()
        if busy:
            QMessageBox.warning(self, "Weights in use", "Not removed:<br>" + "<br>".join(busy))
        return freed

    def open_folder(self) -> bool:
        """Show the selected checkpoint's folder (or the cache) in the file manager; whether
        it could. A folder that cannot be created (a file in the way, no permission), or no
        file manager, is said in a message naming the folder and the reason."""
        ids = self.selected_ids()
        folder = weights.local_path(ids[0]).parent if ids else weights.cache_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            in_the_way = next((path for path in (folder, *folder.parents)
                               if path.exists() and not path.is_dir()), None)
            reason = (f"{in_the_way} is a file, not a folder" if in_the_way
                      else exc.strerror or str(exc))
            QMessageBox.warning(self, "Open folder",
                                f"Cannot open the model folder {folder}: it cannot be created "
                                f"({reason}). Set {weights.CACHE_ENV} to use another folder.")
            return False
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            QMessageBox.warning(self, "Open folder", f"No file manager could show {folder}.")
            return False
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table and event.type() == QEvent.KeyPress \
                and event.key() == Qt.Key_Delete and event.modifiers() == Qt.NoModifier:
            if self.remove_button.isEnabled():
                self.remove_selected()
            return True
        return super().eventFilter(watched, event)

    # --- internals --------------------------------------------------------------------------

    def _run(self, dialog: TransferDialog) -> TransferDialog:
        self.transfer = dialog
        dialog.completed.connect(lambda _ok: (self.refresh(), self.modelsChanged.emit()))
        dialog.setWindowModality(Qt.WindowModal)
        dialog.start()
        dialog.open()
        return dialog

    def _import_clicked(self) -> None:
        ids = self.selected_ids()
        if len(ids) != 1:
            self.details.setText("Select one model to import a file for.")
            return
        source = self._ask_import_file(ids[0])
        if source and self._confirm_replace(ids[0], source):
            self.import_from(ids[0], source)

    def _ask_import_file(self, weights_id: str) -> str:
        spec = weights.get_spec(weights_id)
        source, _ = QFileDialog.getOpenFileName(
            self, f"Import {spec.title} weights", str(Path.home()),
            "Checkpoints (*.pth *.pt *.ckpt *.safetensors *.bin *.zip);;All files (*)")
        return source

    def _confirm_replace(self, weights_id: str, source: str) -> bool:
        """Whether to import ``source`` as ``weights_id``: asked, No by default, when a
        checkpoint that passes the checks is installed; yes when none (or a damaged one) is."""
        entry = weights.installation(weights_id)
        if entry.state is not InstallState.INSTALLED:
            return True
        name = Path(source).name
        answer = QMessageBox.question(
            self, "Replace weights?",
            f"{entry.spec.title} is installed and works. Replace it with {name}? (If {name} "
            "is not this checkpoint, it is refused and the installed file is kept.)",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def _confirm_remove(self, weights_ids: list[str]) -> bool:
        answer = QMessageBox.question(self, "Remove weights",
                                      f"Delete the files of {', '.join(weights_ids)}? They can "
                                      "be downloaded or imported again later.")
        return answer == QMessageBox.Yes

    def _selection_changed(self) -> None:
        ids = self.selected_ids()
        entries = [weights.installation(weights_id) for weights_id in ids]
        self.download_button.setEnabled(any(
            entry.spec.urls and entry.state is not InstallState.INSTALLED for entry in entries))
        self.import_button.setEnabled(len(ids) == 1)
        self.remove_button.setEnabled(any(entry.state in _REMOVABLE for entry in entries))
        self.details.setText(_tooltip(entries[0]) if len(entries) == 1 else "")


def downloadable_alternative(weights_id: str) -> str | None:
    """The checkpoint an engine runs in place of ``weights_id`` when that one, which has no
    download address, is missing: the downloadable TorchScript export of a
    :class:`~engines.neural.sources.DualSourceEngine` whose own weights are ``weights_id``
    (MI-GAN 512's ``migan-traced``; the window always runs such an engine with
    ``source=auto``). None when there is none, and for a checkpoint with a download
    address."""
    if weights.get_spec(weights_id).urls:
        return None
    from engines import registry  # loads every engine module: only for a manual checkpoint
    from engines.neural.sources import DualSourceEngine

    for engine_class in registry.engine_classes():
        if issubclass(engine_class, DualSourceEngine) and engine_class.alternative_id \
                and engine_class.weights_id == weights_id \
                and weights.get_spec(engine_class.alternative_id).urls:
            return engine_class.alternative_id
    return None


def unmet(weights_ids: Sequence[str]) -> list[str]:
    """The ids among ``weights_ids`` whose checkpoint is missing or damaged
    (:func:`engines.weights.missing`) and whose :func:`downloadable_alternative`, if any,
    is not installed either: what stops an engine needing ``weights_ids`` from running."""
    needed = []
    for weights_id in weights.missing(weights_ids):
        alternative = downloadable_alternative(weights_id)
        if alternative is None or weights.missing([alternative]):
            needed.append(weights_id)
    return needed


MANUAL_IMPORT = "manual import"  # models list's word for a checkpoint with no download address


def readiness_word(readiness: Readiness, weights_ids: Sequence[str]) -> str:
    """The state an engine (or parser) list shows after the title of one that is not ready
    (``readiness``) and needs the checkpoints ``weights_ids``, in the words ``engines`` and
    ``models list`` use: ``"damaged"`` when a checkpoint that stops it (:func:`unmet`) is
    damaged; for :attr:`~engines.base.Readiness.NEEDS_DOWNLOAD`, ``"manual import"`` when
    none of those can be downloaded (no download address, nor a downloadable alternative for
    each: :func:`weights_advice` then says where to get them), else ``"needs download"``;
    any other readiness (or a checkpoint no module declares) as its value."""
    if readiness not in (Readiness.NEEDS_DOWNLOAD, Readiness.NEEDS_TRAINING):
        return readiness.value
    try:
        entries = [weights.installation(weights_id) for weights_id in unmet(weights_ids)]
        if any(entry.state is InstallState.DAMAGED for entry in entries):
            return InstallState.DAMAGED.value
        if readiness is Readiness.NEEDS_DOWNLOAD and entries \
                and not any(entry.spec.urls for entry in entries) \
                and not all(downloadable_alternative(entry.spec.id) for entry in entries):
            return MANUAL_IMPORT
    except weights.UnknownWeightsError:
        pass
    return readiness.value


def weights_advice(weights_ids: Sequence[str]) -> str:
    """What is wrong with the checkpoints ``weights_ids`` that are missing or damaged and how
    to install them in File → Models…, in the GUI's words (no command line, no path), of
    something called "it": ``"its weights are not installed: download them in File →
    Models… (or Import file… with a copy you have)"``; for weights with no download address
    whose engine runs a downloadable TorchScript export as well (MI-GAN 512), that export
    first (:data:`ALTERNATIVE_ADVICE`). "" when every one is installed and sound (or its
    alternative is), and when one is no checkpoint any module declares (a plugin's mistake:
    whoever asks then says what the engine's own status says)."""
    try:
        entries = [weights.installation(weights_id) for weights_id in unmet(weights_ids)]
    except weights.UnknownWeightsError:
        return ""
    if not entries:
        return ""
    specs = [entry.spec for entry in entries]
    if any(entry.state is InstallState.DAMAGED for entry in entries):
        return f"its weights file is damaged: {_replace_how(specs)}"
    return f"its weights are not installed: {_install_how(specs)}"


def _replace_how(specs: Sequence[weights.WeightSpec], pronoun: str = "it") -> str:
    """How to replace the damaged files of ``specs`` in File → Models… (``pronoun`` names
    them): Download, where each has a download address, or Import file…."""
    if all(spec.urls for spec in specs):
        return (f"replace {pronoun} in File → Models… (Download, or Import file… with a copy "
                "you have)")
    return f"replace {pronoun} in File → Models… (Import file… with a copy you have)"


def _install_how(specs: Sequence[weights.WeightSpec]) -> str:
    """How to install the checkpoints ``specs``, which are not installed, in File → Models…:
    download them; for ones with no download address, the TorchScript exports that do the
    same job (:data:`ALTERNATIVE_ADVICE`) where each has one, else where to get them."""
    if not specs or any(spec.urls for spec in specs):
        return "download them in File → Models… (or Import file… with a copy you have)"
    alternatives = [downloadable_alternative(spec.id) for spec in specs]
    if all(alternatives):
        return ALTERNATIVE_ADVICE.format(titles=" and ".join(
            weights.get_spec(alternative).title for alternative in alternatives))
    return "File → Models… says where to get them, then Import file… installs them"


ALTERNATIVE_ADVICE = ("download its TorchScript export, {titles}, in File → Models… (or get its "
                      "own weights as File → Models… says, then Import file… installs them)")


def weights_error_text(exc: BaseException) -> str:
    """What the window says of a run (a fill, a comparison, a map, a face detection, a
    download) that failed with ``exc``, when the failure is about weights or a label map,
    in the GUI's words (no command line, no path); "" for any other exception (then
    :func:`~cli._errors.describe_error`'s line holds). From the error's fields, never its
    message (the command-line tool's):

    * a checkpoint not installed (:class:`~engines.weights.WeightsMissingError`): ``"The
      LaMa big (official) weights are not installed: download them in File → Models… (or
      Import file… with a copy you have)"`` (as :func:`weights_advice` says how); for an
      engine to train, :data:`TRAINING_ADVICE` (``"Semantic-guided network cannot fill the
      hole, as it has no trained model yet. …"``);
    * an installed file that passed the quick checks but is not the checkpoint
      (:class:`~engines.weights.WeightsCorruptError` naming its path: it cannot be read,
      its digest differs, its tensors do not fit): ``"The LaMa big (official) weights file
      is damaged: {reason}; replace it in File → Models… (Download, or Import file… with a
      copy you have)"``, or for another checkpoint's file ``"The file installed as … is not
      that checkpoint: {reason}; replace it …"``;
    * any other weights error (a download or a file to import that fails its checks:
      nothing installed is at fault) its reason, without the command line's advice;
    * an engine run without the label map it needs (an error whose ``missing_guidance`` is
      :attr:`~engines.base.Guidance.LABELS`): ``"{engine} needs a label map:"``
      :data:`LABELS_ADVICE`;
    * an engine that was not ready after all (:class:`~engines.base.EngineNotReadyError`:
      its weights removed or damaged since the Engine panel said "Ready"), as the window
      says of one it knows is not ready: ``"LaMa (big) cannot fill the hole, as its weights
      are not installed: download them in File → Models… (…)"`` (:data:`FILL_SITUATION`;
      a parser's, :data:`MAP_SITUATION`), the advice :func:`not_ready_advice`'s; "" where
      that has none (another readiness, a checkpoint no module declares: the error's own
      line, the engine's words, holds);
    * a device this machine lacks (:class:`~engines.device.DeviceUnavailableError`: the
      Device setting is ``cuda`` or ``mps``), where to choose another: ``"CUDA was
      requested but no CUDA GPU is available; choose auto or cpu under Device in the
      Engine panel"`` (:data:`DEVICE_ADVICE`), not the command line's ``--device``.
    """
    if isinstance(exc, DeviceUnavailableError):
        return f"{_first_line(exc.reason)}; {DEVICE_ADVICE}"
    if isinstance(exc, EngineError) and getattr(exc, "missing_guidance", None) is \
            Guidance.LABELS:
        engine = getattr(exc, "engine", "") or "This engine"
        return f"{engine} needs a label map: {LABELS_ADVICE}"
    if isinstance(exc, EngineNotReadyError):
        return _not_ready_text(exc)
    if not isinstance(exc, weights.WeightsError):
        return ""
    try:
        specs = [weights.get_spec(weights_id) for weights_id in exc.weights_ids]
    except weights.UnknownWeightsError:
        specs = []
    if specs and isinstance(exc, weights.WeightsMissingError):
        return _missing_text(specs[0])  # the ones after it are alternatives to it
    if specs and isinstance(exc, weights.WeightsCorruptError) and exc.path is not None:
        reason = _first_line(exc.reason)
        if len(specs) > 1:
            return (f"The {' and '.join(spec.title for spec in specs)} weights files are "
                    f"damaged: {_replace_how(specs, 'them')}")
        if isinstance(exc, weights.CheckpointMismatchError):
            return (f"The file installed as {specs[0].title} is not that checkpoint: {reason}; "
                    f"{_replace_how(specs)}")
        return f"The {specs[0].title} weights file is damaged: {reason}; {_replace_how(specs)}"
    return _first_line(exc.reason) or describe_error(exc)[0]


DEVICE_ADVICE = "choose auto or cpu under Device in the Engine panel"

LABELS_ADVICE = ("compute one in the Labels panel (Compute map), or import one (File → "
                 "Import Label Map…)")


def gui_error_text(exc: BaseException) -> str:
    """One line on ``exc`` for the window: :func:`weights_error_text`, else
    :func:`~cli._errors.describe_error`'s."""
    return weights_error_text(exc) or describe_error(exc)[0]


def _not_ready_text(exc: EngineNotReadyError) -> str:
    """What :func:`weights_error_text` says of an engine (or parser) found not ready when
    it was run: ``"{title} {situation} {advice}"``; "" when :func:`not_ready_advice` has no
    advice for it."""
    if exc.status is None:
        return ""
    advice = _readiness_advice(exc.status.readiness, exc.name, exc.weights_ids)
    if not advice:
        return ""
    situation = MAP_SITUATION if exc.parser else FILL_SITUATION
    return f"{exc.title or exc.name or 'This engine'} {situation} {advice}"


def not_ready_advice(readiness: Readiness, engine: type[Engine]) -> str:
    """What ``engine`` (a class) lacks and how to get it, in the GUI's words, of something
    called "it": for weights missing or damaged, how to install them in File → Models…
    (:func:`weights_advice`); for no trained model, how to get one
    (:func:`training_advice`: no command line but the training command); "" for any other
    ``readiness`` (the engine's own detail says it)."""
    return _readiness_advice(readiness, engine.name, engine.weights)


def _readiness_advice(readiness: Readiness, name: str, weights_ids: Sequence[str]) -> str:
    """:func:`not_ready_advice` of the engine (or parser) called ``name`` that needs the
    checkpoints ``weights_ids``."""
    if readiness is Readiness.NEEDS_DOWNLOAD:
        return weights_advice(weights_ids)
    if readiness is Readiness.NEEDS_TRAINING:
        return training_advice(name, weights_ids)
    return ""


def _missing_text(spec: weights.WeightSpec) -> str:
    """What :func:`weights_error_text` says of ``spec``'s checkpoint that is not installed;
    for the model of an engine that needs training, the training advice."""
    engine = _engine_to_train(spec)
    if engine is not None:
        return (f"{engine.title or engine.name} {FILL_SITUATION} "
                f"{TRAINING_ADVICE.format(engine=engine.name)}")
    return f"The {spec.title} weights are not installed: {_install_how([spec])}"


def _engine_to_train(spec: weights.WeightSpec):
    """The engine class named by ``spec`` when it needs training now (its status says so),
    else None (a parser's checkpoint, an engine that needs a download, a broken plugin)."""
    from engines import registry

    try:
        engine_class = registry.engine_class(spec.engine)
        readiness = engine_class().status().readiness
    except Exception:  # not an engine's, or one that cannot say: no training advice
        return None
    return engine_class if readiness is Readiness.NEEDS_TRAINING else None


def _engine_trained_here(spec: weights.WeightSpec):
    """The engine class whose model ``spec`` is, when that model is trained with the
    command-line tool rather than downloaded: the engine that needs training now
    (:func:`_engine_to_train`), or, with a sound model installed (the engine ready), the
    engine ``spec`` is for when ``spec`` has no download address and its ``manual`` hint is
    that engine's training command (``python main.py train semantic``); else None."""
    from engines import registry

    if spec.urls:
        return None
    engine = _engine_to_train(spec)
    if engine is not None:
        return engine
    try:
        engine_class = registry.engine_class(spec.engine)
    except registry.UnknownEngineError:  # not an engine's (a parser's): no training
        return None
    return engine_class if f"`python main.py train {engine_class.name}" in spec.manual else None


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""


def training_advice(engine: str, weights_ids: Sequence[str]) -> str:
    """What engine ``engine`` (a name), which needs training, lacks and how to get it, in the
    GUI's words, of something called "it"; the window has no training, so it names the
    command-line tool's command (:data:`TRAINING_ADVICE`: ``"it has no trained model yet.
    The window has no training: train one … with the command-line tool's “train semantic”
    command …, or import a model file you have (File → Models…, Import file…)"``); another
    checkpoint's damaged file as :func:`weights_advice` says it; "" when the checkpoints
    ``weights_ids`` are installed and sound, and when one is no checkpoint any module
    declares (as :func:`weights_advice`). A damaged model file of the engine itself (no
    download address) is replaced by import or trained anew, as the Models table's tooltip
    and ``models list`` say (:data:`DAMAGED_MODEL_ADVICE`)."""
    try:
        needed = unmet(weights_ids)
        damaged = [entry.spec for entry in map(weights.installation, needed)
                   if entry.state is InstallState.DAMAGED]
    except weights.UnknownWeightsError:
        return ""
    if not needed:
        return ""
    if damaged and all(spec.engine == engine and not spec.urls for spec in damaged):
        return DAMAGED_MODEL_ADVICE.format(train=TRAIN_STEP.format(engine=engine))
    return weights_advice(weights_ids) if damaged else TRAINING_ADVICE.format(engine=engine)


TRAINING_ADVICE = ("it has no trained model yet. The window has no training: train one on a "
                   "folder of your photos with the command-line tool's “train {engine}” "
                   "command (it installs the model when done), or import a model file you "
                   "have (File → Models…, Import file…)")
# how a model of an engine that needs training is trained, in the GUI's words
TRAIN_STEP = ("train one with the command-line tool's “train {engine}” command (it installs the "
              "model when done)")
DAMAGED_MODEL_ADVICE = ("its model file is damaged: replace it in File → Models… (Import file… "
                        "with a model file you have), or Remove it there, then {train}")


def weights_needed_message(title: str, weights_ids: Sequence[str],
                           situation: str = "is selected, but") -> str:
    """``"{title} {situation} {weights_advice}"``: what the window's status bar says of
    engine (or parser) ``title`` while some of the checkpoints ``weights_ids`` it needs are
    missing or damaged (their download declined), in the GUI's words; by default of an
    engine chosen (``"LaMa is selected, but its weights are not installed: download them in
    File → Models… (…)"``), :data:`MAP_SITUATION` of a map not computed,
    :data:`FILL_SITUATION` of a fill not started. "" when every one is installed and
    sound."""
    advice = weights_advice(weights_ids)
    return f"{title} {situation} {advice}" if advice else ""


MAP_SITUATION = "cannot compute the map, as"  # a parser's weights are missing: no map
FILL_SITUATION = "cannot fill the hole, as"  # an engine's weights are missing: no fill
IMPORT_STEP = "File → Models… (select it, then Import file…)"  # where a file is installed


def offer_download(weights_ids: Sequence[str], parent: QWidget | None = None,
                   purpose: str = "this engine") -> bool:
    """Make sure the checkpoints ``weights_ids`` are installed, asking the user first.

    Returns True at once when nothing is missing (:func:`unmet`: a checkpoint whose
    :func:`downloadable_alternative` is installed counts as there); otherwise asks whether
    to download the missing or damaged ones (``"X and Y (about 200 MB) are needed for
    {purpose}. Download now?"``: their total size shown; a damaged file is replaced; a
    checkpoint with no download address whose engine runs a downloadable TorchScript export
    as well is replaced by that export, and the question says so) and runs a modal
    :class:`DownloadDialog`; True when everything is installed afterwards. ``purpose`` says
    what needs them (``"face detection"``). Checkpoints with no download address and no
    such alternative are explained in the GUI's words (where to get the file, then
    :data:`IMPORT_STEP`; no command line) and give False.
    """
    missing = unmet(weights_ids)
    if not missing:
        return True
    entries = [weights.installation(weights_id) for weights_id in missing]
    replaced = {entry.spec.id: alternative for entry in entries
                if (alternative := downloadable_alternative(entry.spec.id))}
    manual = [entry for entry in entries if not entry.spec.urls and entry.spec.id not in replaced]
    if manual:
        QMessageBox.information(parent, "Weights needed", "<br>".join(
            _linked(_manual_steps(entry)) for entry in manual))
        return False
    wanted = [replaced.get(weights_id, weights_id) for weights_id in missing]
    entries = [weights.installation(weights_id) for weights_id in wanted]
    specs = [entry.spec for entry in entries]
    damaged = {entry.spec.id: entry.problem for entry in entries
               if entry.state is InstallState.DAMAGED}
    total = sum(spec.size or 0 for spec in specs)
    named = [f"{spec.title} ({spec.license or 'licence unknown'})" for spec in specs]
    names = " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)
    size = f" (about {format_size(total)})" if total else ""
    instead = "".join(f" {weights.get_spec(own).title} itself has no download address; its "
                      "TorchScript export does the same job." for own in replaced)
    broken = "".join(f" The installed {weights.get_spec(weights_id).title} file is damaged "
                     f"({problem}): it will be replaced."
                     for weights_id, problem in damaged.items())
    verb = "are" if len(specs) > 1 else "is"
    answer = QMessageBox.question(parent, "Download weights?",
                                  f"{names}{size} {verb} needed for {purpose}.{instead}{broken} "
                                  "Download now?")
    if answer != QMessageBox.Yes:
        return False
    dialog = DownloadDialog(wanted, parent, force=bool(damaged))
    dialog.start()
    dialog.exec()
    return not unmet(weights_ids)


def _manual_steps(entry: weights.Installation) -> str:
    """How to install ``entry``'s checkpoint, which has no download address, in the GUI's
    words (rich text): ``"<b>Title</b> has no download address: {where_to_get}, then
    install the file in File → Models… (select it, then Import file…)."``; for a damaged
    file, that it is damaged, why, and that Import file… replaces it. For the model of an
    engine that is trained (:func:`_engine_trained_here`), training one with the
    command-line tool's command (:data:`TRAIN_STEP`) or importing a model file one has, as
    ``models list`` says (a damaged one is removed first)."""
    spec = entry.spec
    engine = _engine_trained_here(spec)
    if engine is not None:
        train = TRAIN_STEP.format(engine=engine.name)
        if entry.state is InstallState.DAMAGED:
            return (f"<b>{spec.title}</b>: the installed file is damaged ({entry.problem}), "
                    f"and it has no download address: Remove it in File → Models…, then "
                    f"{train}, or replace it with a model file you have in {IMPORT_STEP}.")
        return (f"<b>{spec.title}</b> has no download address: {train}, or install a model "
                f"file you have in {IMPORT_STEP}.")
    if entry.state is InstallState.DAMAGED:
        return (f"<b>{spec.title}</b>: the installed file is damaged ({entry.problem}), and it "
                f"has no download address: {where_to_get(spec)}, then replace it in "
                f"{IMPORT_STEP}.")
    return (f"<b>{spec.title}</b> has no download address: {where_to_get(spec)}, then install "
            f"the file in {IMPORT_STEP}.")


def where_to_get(spec: weights.WeightSpec) -> str:
    """Where to get ``spec``'s file by hand, in the GUI's words: its ``manual`` hint
    (``"download migan_512_places2.pt from the MI-GAN authors' Google Drive folder
    https://…"``); a hint that is a command gives way to training one, for the model of an
    engine that is trained (:func:`_engine_trained_here`: :data:`TRAIN_STEP`), else to the
    project page, else to "ask its authors for the file"."""
    hint = spec.manual
    if hint and "`" not in hint:
        return hint
    engine = _engine_trained_here(spec)
    if engine is not None:
        return TRAIN_STEP.format(engine=engine.name)
    if spec.homepage:
        return f"get it from its project page, {spec.homepage}"
    return "ask its authors for the file"


def _linked(text: str) -> str:
    """``text`` (rich text) with each web address made a link."""
    return re.sub(r"https?://[^\s<>\"]+[^\s<>\".,;)]",
                  lambda found: f'<a href="{found[0]}">{found[0]}</a>', text)


def _tooltip(entry: weights.Installation) -> str:
    """The Models table's tooltip for ``entry`` (rich text): its title, id, engine and
    state; the installed file and its size; for a damaged file, why it cannot be used, in
    :func:`engines.weights.damage`'s words (which say themselves whether it is another file,
    "a web page, not a checkpoint", or the checkpoint damaged, "a zip archive cut short"),
    and how to replace it: Download or Import file…, or, for the model of an engine that is
    trained (:func:`_engine_trained_here`), the command-line tool's training command, as
    ``models list`` says, or Import file…. With no download address, how to get it by hand
    (:func:`where_to_get`, as the "Weights needed" box says it; for a trained model, training
    one or Import file…)."""
    spec = entry.spec
    trained = _engine_trained_here(spec)  # a model trained here
    state = "damaged" if entry.state is InstallState.DAMAGED else entry.label
    lines = [f"<b>{spec.title}</b> ({spec.id}) for {spec.engine}: {state}"]
    if entry.state in (InstallState.INSTALLED, InstallState.DAMAGED):
        lines.append(f"File: {entry.path} ({format_size(entry.size)})")
    if entry.state is InstallState.DAMAGED:
        if spec.urls:
            again = "Download it again, or Remove it and Import file… with a copy you have"
        elif trained is None:
            again = "Remove it, then Import file… with a copy you have"
        else:
            again = (f"Remove it, then train one with the command-line tool's “train "
                     f"{trained.name}” command, or Import file… with a model file you have")
        lines.append(f"It cannot be used: {entry.problem}. {again}.")
    if spec.contract:
        lines.append(f"Input: {spec.contract}")
    if spec.license:
        lines.append(f"Licence: {spec.license}")
    if spec.homepage:
        lines.append(f'Project: <a href="{spec.homepage}">{spec.homepage}</a>')
    if not spec.urls:
        if trained is not None:
            if entry.state is not InstallState.DAMAGED:  # else said with the damage
                lines.append(f"Get it by hand: {TRAIN_STEP.format(engine=trained.name)}, or "
                             "Import file… with a model file you have")
        else:
            lines.append(f"Get it by hand: {_linked(where_to_get(spec))}; then Import file…")
        alternative = downloadable_alternative(spec.id)
        if alternative:
            lines.append(f"Or download {weights.get_spec(alternative).title}, its TorchScript "
                         "export: the engine runs it as well")
    return "<br>".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
