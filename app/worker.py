"""One background thread that runs engines and parsers off the GUI thread.

The GUI builds an immutable task (an engine name plus an :class:`InpaintRequest` snapshot, or
a parser plus an image) and :meth:`Worker.submit`\\ s it. The newest task wins: submitting
cancels the running one and replaces any task still waiting. Results come back as Qt signals,
queued to the GUI thread, each tagged with the task id so stale ones can be ignored. An
exception inside a task becomes a ``failed`` signal with a one-line message (an unexpected
one, a bug, named after the engine, :class:`~engines.base.EngineCrashed`, or else the task:
"OpenCV Telea failed: ZeroDivisionError: ..."; its traceback goes to stderr; a failure for
the weights or the label map a task needs is said in the GUI's words,
:func:`~app.model_dialogs.weights_error_text`); the thread survives and the program never
dies of an engine error.

Tasks run one at a time: a cancelled task that does not stop (an engine that never checks
its cancel token) holds up the next one, and the clients say so ("Waiting for ... to stop").
"""

from __future__ import annotations

import atexit
import itertools
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from app.document import Snapshot
from app.model_dialogs import weights_error_text
from cli._errors import describe_error
from engines import registry
from engines.base import (
    Cancelled,
    CancelToken,
    Engine,
    EngineCrashed,
    Guidance,
    InpaintRequest,
    Stage,
)
from engines.guidance import fill_notes, reference_names_for
from engines.region import Box, shrunk_references_note

Emit = Callable[[Any], None]
_ids = itertools.count(1)
# a cancelled task still running this long after a run was started or cancelled is named in
# the progress text: the new run waits for it (the worker runs one task at a time)
STOPPING_NOTICE_MS = 400


@dataclass
class Progress:
    """An intermediate report from a task: ``fraction`` in [0, 1] and what is happening."""

    fraction: float
    message: str = ""


@dataclass
class Task:
    """Background work: :meth:`run` calls ``emit`` for intermediate results and returns the
    final one. ``id`` is unique; ``title`` names the work for the status bar."""

    title: str = "working"
    id: int = field(default_factory=lambda: next(_ids))

    def run(self, cancel: CancelToken, emit: Emit, engines: EngineCache) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class FillNotes:
    """What an :class:`InpaintTask` emits after its engine's last stage, worked out on the
    worker from the request as the engine ran it (the sampling areas of a
    :class:`~app.document.Snapshot` exist only there): ``given``, the kinds of guidance that
    can change its fill (:meth:`InpaintRequest.guidance_given`); ``shrunk``, the sentence
    naming the reference photos the engine searched shrunk
    (:func:`engines.region.shrunk_references_note`), or ""; ``sources``, the sentences on
    guidance the engine follows but could not follow in this fill (a reference photo left
    out, labels without a source: :func:`engines.guidance.source_notes`), each starting with
    a capital."""

    given: frozenset[Guidance]
    shrunk: str = ""
    sources: tuple[str, ...] = ()


@dataclass
class InpaintTask(Task):
    """Run ``engine`` on ``request``; emits every :class:`Stage`, then :class:`FillNotes`,
    and returns the final stage.

    ``request`` may be a :class:`~app.document.Snapshot`, completed here first (its sampling
    areas are made on this thread, not the GUI's). For the notes: ``unedited_labels``, the
    ``(H, W)`` uint8 label map as a parser computed it (None: none; a label map counts as
    guidance only where the user edited it), and ``reference_names``, a name for each of the
    request's exemplars, in order ("a reference photo" for those it does not name).
    ``apply_within``: for a Snapshot, the box the result will be applied within
    (:meth:`~app.document.Document.apply_result`); then, after the notes, it also emits the
    :class:`~app.document.PreparedResult` of the final stage (if there is one), made here so
    that applying a large fill leaves the GUI thread only the writes.
    """

    engine: str = "telea"
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    request: InpaintRequest | Snapshot | None = None
    unedited_labels: np.ndarray | None = None
    reference_names: tuple[str, ...] = ()
    apply_within: Box | None = None

    def run(self, cancel: CancelToken, emit: Emit, engines: EngineCache) -> Stage | None:
        engine = engines.get(self.engine, self.engine_options)
        request = self.request
        if isinstance(request, Snapshot):
            request = request.complete()
        last = None
        for stage in engine.run(request, cancel):
            emit(stage)
            last = stage
        if last is not None:
            names = reference_names_for(request, self.reference_names)
            sources = fill_notes(request, engine, self.reference_names, cancel,
                                 self.unedited_labels)
            emit(FillNotes(frozenset(request.guidance_given(self.unedited_labels)),
                           shrunk_references_note(request, engine, names),
                           tuple(note[:1].upper() + note[1:] for note in sources)))
            if self.apply_within is not None and isinstance(self.request, Snapshot):
                prepared = self.request.prepare_result(last.image, self.apply_within)
                if prepared is not None:
                    emit(prepared)
        return last


@dataclass
class FunctionTask(Task):
    """Run ``function(cancel, progress)``; ``progress(fraction, message)`` emits Progress."""

    function: Callable[[CancelToken, Callable[[float, str], None]], Any] | None = None

    def run(self, cancel: CancelToken, emit: Emit, engines: EngineCache) -> Any:
        return self.function(cancel, lambda fraction, message="": emit(Progress(fraction,
                                                                                 message)))


class EngineCache:
    """Keeps the last engine instance so its loaded model is reused; switching releases it."""

    def __init__(self, factory: Callable[..., Engine] = registry.create) -> None:
        self._factory = factory
        self._key: tuple | None = None
        self._engine: Engine | None = None

    def get(self, name: str, options: Mapping[str, Any]) -> Engine:
        key = (name, tuple(sorted((k, repr(v)) for k, v in options.items())))
        if key != self._key or self._engine is None:
            engine = self._factory(name, **dict(options))
            if self._engine is not None:
                self._engine.release()
            self._engine, self._key = engine, key
        return self._engine


class Worker(QObject):
    """Runs :class:`Task` objects one at a time on a background thread; newest wins.

    Signals (all carry the task id first):
        started(int, str): the task began (title).
        emitted(int, object): an intermediate result (a Stage, a Progress, ...).
        finished(int, object): the task's result.
        failed(int, str): a one-line error message.
        cancelled(int): the task was cancelled or superseded.
        idle(): nothing is running or waiting.
    """

    started = Signal(int, str)
    emitted = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    idle = Signal()

    def __init__(self, engines: EngineCache | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engines = engines or EngineCache()
        self._condition = threading.Condition()
        self._pending: Task | None = None
        self._running: tuple[Task, CancelToken] | None = None
        self._stopping = False
        # a daemon Python thread, not a QThread: a task that ignores cancelling (one long
        # library call) may still run when the program ends, and a QThread destroyed while
        # running aborts the process; Qt queues the signals it emits to the GUI thread
        self._thread = threading.Thread(target=self._loop, name="worker", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        with self._condition:
            return self._pending is not None or self._running is not None

    def stopping(self) -> tuple[int, str] | None:
        """(id, title) of the task that still runs although it was cancelled (Esc, or a
        newer task submitted): the next task starts when it ends. None when there is none."""
        with self._condition:
            if self._running is None or not self._running[1].cancelled:
                return None
            return self._running[0].id, self._running[0].title

    def submit(self, task: Task) -> int:
        """Queue ``task``, cancelling the running task and dropping a waiting one."""
        with self._condition:
            dropped, self._pending = self._pending, task
            if self._running is not None:
                self._running[1].cancel()
            self._condition.notify_all()
        if dropped is not None:
            self.cancelled.emit(dropped.id)
        return task.id

    def cancel(self) -> None:
        """Cancel the running task and drop the waiting one (Esc)."""
        with self._condition:
            dropped, self._pending = self._pending, None
            if self._running is not None:
                self._running[1].cancel()
        if dropped is not None:
            self.cancelled.emit(dropped.id)

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop the thread (cancelling work) and wait up to ``timeout_ms`` for it; returns
        whether it ended. One that outlives the wait never holds the program open."""
        with self._condition:
            self._stopping = True
            self._pending = None
            if self._running is not None:
                self._running[1].cancel()
            self._condition.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_ms / 1000)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        try:
            self._serve()
        except RuntimeError:
            if shiboken6.isValid(self):
                raise
            # the Qt side went away (the program is ending) while a task still ran

    def _serve(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                task, self._pending = self._pending, None
                token = CancelToken()
                self._running = (task, token)
            self._run_one(task, token)
            del task, token  # a request that has ended is not held here until the next task
            with self._condition:
                self._running = None
                now_idle = self._pending is None
            if now_idle:
                self.idle.emit()

    def _run_one(self, task: Task, token: CancelToken) -> None:
        self.started.emit(task.id, task.title)

        def emit(payload: Any) -> None:
            token.raise_if_cancelled()
            self.emitted.emit(task.id, payload)

        try:
            result = task.run(token, emit, self.engines)
            token.raise_if_cancelled()
        except Cancelled:
            self.cancelled.emit(task.id)
        except Exception as exc:  # an engine error must never kill the program
            message, expected = describe_error(exc)
            if not expected:  # a bug: its traceback for the report, and whose it is
                traceback.print_exc(file=sys.stderr)
                if not isinstance(exc, EngineCrashed):  # which names its engine already
                    message = f"{task.title} failed: {message}"
            else:  # weights or a label map lacking: in the GUI's words, not the CLI's
                message = weights_error_text(exc) or message
            self.failed.emit(task.id, message)
        else:
            self.finished.emit(task.id, result)


_live_workers: set[Worker] = set()


def retire_worker(worker: Worker, timeout_ms: int = 10000) -> None:
    """Stop a :func:`private_worker`'s thread (cancelling its task, waiting up to
    ``timeout_ms`` for it) and let it go (once)."""
    if worker in _live_workers:
        _live_workers.discard(worker)
        worker.shutdown(timeout_ms)


def private_worker(owner: QObject) -> Worker:
    """A :class:`Worker` of ``owner``'s own, not the window's shared one (whose newest task
    wins, so a fill started in the editor would cancel a folder run or a comparison).

    Make one per run and :func:`retire_worker` it when the run ends, so an idle dialog holds
    no thread. Until then it is kept alive here, and shut down if ``owner`` is destroyed or
    the program exits first: a Worker deleted while its thread runs would take the program
    down.
    """
    worker = Worker()
    _live_workers.add(worker)
    owner.destroyed.connect(lambda *_: retire_worker(worker))
    return worker


@atexit.register
def _retire_all() -> None:
    for worker in list(_live_workers):
        retire_worker(worker)


class WorkerClient(QObject):
    """Base of the controllers that run one task at a time on a (shared) :class:`Worker`.

    :meth:`_start` submits a task together with a record of the run (anything with a
    ``task_id`` attribute); signals of other tasks, and of runs this client replaced, are
    ignored. Subclasses override the hooks :meth:`_stage` (an intermediate payload),
    :meth:`_result`, :meth:`_failure` and :meth:`_cancelled`; when the end hooks run, the
    client is already idle again, and :attr:`runEnded` has named the run if
    :meth:`_ended_name` names it.

    While a cancelled task that does not stop holds the worker, the progress message says
    so: "Waiting for <title> to stop..." for a run that has not started yet, "Stopping
    <title>..." for this client's own run after :meth:`cancel`.

    Signals:
        progressChanged(float, str): fraction done in [0, 1] (-1 when idle) and a message.
        busyChanged(bool): whether a run of this client is in progress.
        message(str): something to tell the user in passing.
        error(str): a run failed; one line for the user.
        runEnded(str): a run ended (finished, failed or cancelled), with the name
            :meth:`_ended_name` gives it (an engine's, a parser's), said after busyChanged
            and progressChanged and before the end hooks; never said by a client whose
            hook names no run.
    """

    progressChanged = Signal(float, str)
    busyChanged = Signal(bool)
    message = Signal(str)
    error = Signal(str)
    runEnded = Signal(str)

    stale_message = "The picture changed meanwhile; run it again"

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self._run: Any = None
        self._delivery: Any = None  # the run whose result waits to be used
        self._fraction = 0.0  # the fraction last shown
        self._start_message = ""
        self._waiting: Any = None  # the run said to wait for another task to stop
        self.progressChanged.connect(self._remember_fraction)
        worker.started.connect(self._on_started)
        worker.emitted.connect(self._on_emitted)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)

    @property
    def busy(self) -> bool:
        return self._run is not None

    @property
    def fraction(self) -> float:
        """The fraction done that :attr:`progressChanged` said last, in [0, 1] (0 when
        idle)."""
        return self._fraction

    def cancel(self) -> None:
        """Cancel this client's run (the worker's newest task is it while it runs)."""
        run = self._run
        if run is not None:
            self.worker.cancel()  # may end a waiting run at once (this client's _run is None)
            self._notice_stopping_soon(run)

    def _start(self, task: Task, run: Any, message: str | None = None) -> int:
        self._run = run
        self._delivery = None  # a result still waiting for an older run is dropped
        self.worker.submit(task)
        self._start_message = message or f"{task.title}: starting"
        self.busyChanged.emit(True)
        self.progressChanged.emit(0.0, self._start_message)
        self._notice_stopping_soon(run)
        return task.id

    def _notice_stopping_soon(self, run: Any) -> None:
        QTimer.singleShot(STOPPING_NOTICE_MS, self, lambda: self._notice_stopping(run))

    def _notice_stopping(self, run: Any) -> None:
        """If ``run`` is still this client's and a cancelled task still holds the worker,
        say which: the run waits for it, or (the run's own task) it is being stopped."""
        stopping = self.worker.stopping() if run is not None and self._run is run else None
        if stopping is None:
            return
        task_id, title = stopping
        if task_id == run.task_id:
            self.progressChanged.emit(self._fraction, f"Stopping {title}...")
        else:
            self._waiting = run
            self.progressChanged.emit(0.0, f"Waiting for {title} to stop...")

    def _remember_fraction(self, fraction: float, _message: str) -> None:
        self._fraction = max(fraction, 0.0)

    def _on_started(self, task_id: int, _title: str) -> None:
        run = self._mine(task_id)
        if run is not None and run is self._waiting:  # the task it waited for has ended
            self._waiting = None
            self.progressChanged.emit(0.0, self._start_message)

    def _forget(self) -> None:
        """Drop a finished result that is still waiting to be used (another document)."""
        self._delivery = None

    def _deliver_when_idle(self, run: Any, result: object) -> None:
        """Call :meth:`_deliver` with ``result`` once no brush drag is open on
        ``run.document``, unless meanwhile a newer run started, :meth:`_forget` was called,
        the document is no longer the one :meth:`_target_document` names, or its picture
        changed (then :meth:`_stale` is called). ``run`` has ``document`` and
        ``image_version`` attributes."""
        self._delivery = run

        def attempt() -> None:
            if self._delivery is not run:
                return
            self._delivery = None
            if run.document is not self._target_document(run):
                return
            if run.document.image_version != run.image_version:
                self._stale(run)
                return
            self._deliver(run, result)

        run.document.when_idle(attempt)

    def _stale(self, run: Any) -> None:
        """A result of ``run`` came for an older picture; by default :attr:`stale_message`
        is said."""
        self.message.emit(self.stale_message)

    def _target_document(self, run: Any) -> Any:
        """The document a result of ``run`` may still be used on (default: the run's own)."""
        return run.document

    def _deliver(self, run: Any, result: object) -> None:
        """Use a result handed over by :meth:`_deliver_when_idle`."""

    def _mine(self, task_id: int) -> Any:
        run = self._run
        return run if run is not None and run.task_id == task_id else None

    def _end(self, task_id: int) -> Any:
        run = self._mine(task_id)
        if run is not None:
            self._run = None
            self.busyChanged.emit(False)
            self.progressChanged.emit(-1.0, "")
            name = self._ended_name(run)
            if name is not None:
                self.runEnded.emit(name)
        return run

    def _on_emitted(self, task_id: int, payload: object) -> None:
        run = self._mine(task_id)
        if run is not None:
            self._stage(run, payload)

    def _on_finished(self, task_id: int, result: object) -> None:
        run = self._end(task_id)
        if run is not None:
            self._result(run, result)

    def _on_failed(self, task_id: int, message: str) -> None:
        run = self._end(task_id)
        if run is not None:
            self._failure(run, message)

    def _on_cancelled(self, task_id: int) -> None:
        run = self._end(task_id)
        if run is not None:
            self._cancelled(run)

    # ------------------------------------------------------------------ hooks
    def _ended_name(self, run: Any) -> str | None:
        """The name :attr:`runEnded` says when ``run`` ends; by default None (not said)."""
        return None

    def _stage(self, run: Any, payload: object) -> None:
        """An intermediate payload; by default a :class:`Progress` is passed on."""
        if isinstance(payload, Progress):
            self.progressChanged.emit(payload.fraction, payload.message)

    def _result(self, run: Any, result: object) -> None:
        """The run finished with ``result``."""

    def _failure(self, run: Any, message: str) -> None:
        """The run failed; by default the message goes to :attr:`error`."""
        self.error.emit(message)

    def _cancelled(self, run: Any) -> None:
        """The run was cancelled or superseded."""
