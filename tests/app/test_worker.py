"""The background worker: off the GUI thread, stages in order, responsive GUI, cancel,
newest-wins, errors as messages."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from app.document import SAMPLE_EXCLUDE, Snapshot
from app.worker import EngineCache, FillNotes, FunctionTask, InpaintTask, Progress, Worker
from engines.base import (
    CancelToken,
    Engine,
    EngineError,
    Guidance,
    InpaintRequest,
    Region,
    RegionStage,
)


class SlowEngine(Engine):
    """Yields a coarse stage, then works ``steps`` x ``delay`` seconds, then the refined one."""

    name = "slow"
    title = "Slow test engine"
    script_options = frozenset({"steps", "delay"})
    threads: ClassVar[list[int]] = []
    steps_done: ClassVar[list[int]] = []

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        SlowEngine.threads.append(threading.get_ident())
        coarse = region.image.copy()
        coarse[region.hole] = 100
        yield RegionStage("coarse", coarse, 0.1)
        steps = int(self.options.get("steps", 10))
        for i in range(steps):
            cancel.raise_if_cancelled()
            time.sleep(float(self.options.get("delay", 0.02)))
            SlowEngine.steps_done.append(i)
        refined = region.image.copy()
        refined[region.hole] = 200
        yield RegionStage("refined", refined, 1.0, final=True)


class BrokenEngine(Engine):
    name = "broken"

    def inpaint_region(self, region, cancel):
        raise EngineError("the weights file is damaged")
        yield  # pragma: no cover


class RaisingEngine(Engine):
    """A plugin's bug: an exception no engine should raise."""

    name, title = "raising", "Raising test engine"

    def inpaint_region(self, region, cancel):
        yield RegionStage("coarse", region.image.copy(), 0.5)
        raise ZeroDivisionError("plugin bug: division by zero in step 2")


class StuckEngine(Engine):
    """Sets :attr:`inside`, then waits for :attr:`gate` without looking at its cancel
    token."""

    name, title = "stuck", "Stuck test engine"
    inside: ClassVar[threading.Event] = threading.Event()
    gate: ClassVar[threading.Event] = threading.Event()

    def inpaint_region(self, region, cancel):
        StuckEngine.inside.set()
        StuckEngine.gate.wait(20)
        yield RegionStage("refined", region.image.copy(), 1.0, final=True)


def _factory(name, **options):
    return {"slow": SlowEngine, "broken": BrokenEngine, "raising": RaisingEngine,
            "stuck": StuckEngine}[name](**options)


@pytest.fixture
def worker(qtbot):
    worker = Worker(EngineCache(_factory))
    yield worker
    worker.shutdown()


@pytest.fixture
def request_() -> InpaintRequest:
    image = np.full((40, 40, 3), 50, np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 10:20] = 255
    return InpaintRequest(image=image, mask=mask)


def _collect(worker):
    events = []
    worker.started.connect(lambda i, t: events.append(("started", i, t)))
    worker.emitted.connect(lambda i, p: events.append(("emitted", i, p)))
    worker.finished.connect(lambda i, r: events.append(("finished", i, r)))
    worker.failed.connect(lambda i, m: events.append(("failed", i, m)))
    worker.cancelled.connect(lambda i: events.append(("cancelled", i)))
    return events


def test_runs_off_the_gui_thread_and_emits_coarse_before_refined(qtbot, worker, request_):
    SlowEngine.threads.clear()
    events = _collect(worker)
    task = InpaintTask(engine="slow", engine_options={"steps": 2}, request=request_)
    with qtbot.waitSignal(worker.finished, timeout=10000):
        worker.submit(task)
    assert SlowEngine.threads and SlowEngine.threads[0] != threading.get_ident()
    emitted = [p for kind, i, *p in events if kind == "emitted" for p in p]
    *stages, notes = emitted
    assert [s.name for s in stages] == ["coarse", "refined"]
    assert not stages[0].final and stages[1].final
    assert (stages[0].image[15, 15] == 100).all() and (stages[1].image[15, 15] == 200).all()
    assert notes == FillNotes(frozenset(), "")  # after the last stage: no guidance given
    assert events[-1][0] == "finished" and events[-1][2] is stages[-1]


def test_a_snapshot_is_completed_on_the_worker_and_its_notes_follow_the_last_stage(
        qtbot, worker, request_):
    sampling = np.zeros((40, 40), np.uint8)
    sampling[:, 30:] = SAMPLE_EXCLUDE  # known pixels the fill may not copy
    sampling.flags.writeable = False
    reference = np.zeros((8, 8, 3), np.uint8)
    reference.flags.writeable = False
    snapshot = Snapshot(request_.evolve(exemplars=(reference,)), sampling)
    events = _collect(worker)
    task = InpaintTask(engine="slow", engine_options={"steps": 1}, request=snapshot)
    with qtbot.waitSignal(worker.finished, timeout=10000):
        worker.submit(task)
    *stages, notes = [p for kind, i, *p in events if kind == "emitted" for p in p]
    assert [s.name for s in stages] == ["coarse", "refined"]
    # the exclude area counts: it was made from the layer on the worker (the reference
    # photo, unnamed, is small enough to be searched whole: nothing said of it)
    assert notes == FillNotes(frozenset({Guidance.SAMPLING, Guidance.EXEMPLARS}), "")


def test_gui_keeps_processing_events_during_a_slow_run(qtbot, worker, request_):
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    task = InpaintTask(engine="slow", engine_options={"steps": 30, "delay": 0.02},
                       request=request_)
    with qtbot.waitSignal(worker.finished, timeout=20000):
        worker.submit(task)
    timer.stop()
    # the engine ran for >= 0.6 s; the GUI timer kept firing all along
    assert len(ticks) >= 20
    assert max(np.diff(ticks)) < 0.5  # never blocked for the length of the run


def test_cancel_stops_a_run(qtbot, worker, request_):
    SlowEngine.steps_done.clear()
    events = _collect(worker)
    task = InpaintTask(engine="slow", engine_options={"steps": 500, "delay": 0.01},
                       request=request_)
    with qtbot.waitSignal(worker.emitted, timeout=10000):
        worker.submit(task)
    with qtbot.waitSignal(worker.cancelled, timeout=10000):
        worker.cancel()
    done = len(SlowEngine.steps_done)
    assert done < 500
    time.sleep(0.1)
    assert len(SlowEngine.steps_done) == done  # nothing runs after the cancel
    assert not any(kind == "finished" for kind, *_ in events)


def test_a_new_run_supersedes_the_running_one(qtbot, worker, request_):
    events = _collect(worker)
    first = InpaintTask(engine="slow", engine_options={"steps": 500, "delay": 0.01},
                        request=request_)
    second = InpaintTask(engine="slow", engine_options={"steps": 1}, request=request_)
    with qtbot.waitSignal(worker.emitted, timeout=10000):
        worker.submit(first)
    with qtbot.waitSignal(worker.finished, timeout=10000) as blocker:
        worker.submit(second)
    assert blocker.args[0] == second.id
    assert ("cancelled", first.id) in events
    assert not any(kind == "finished" and i == first.id for kind, i, *_ in events)


def test_an_engine_error_becomes_a_message_and_the_worker_survives(qtbot, worker, request_):
    with qtbot.waitSignal(worker.failed, timeout=10000) as blocker:
        worker.submit(InpaintTask(engine="broken", request=request_))
    assert blocker.args[1] == "the weights file is damaged"
    with qtbot.waitSignal(worker.finished, timeout=10000):
        worker.submit(InpaintTask(engine="slow", engine_options={"steps": 1},
                                  request=request_))


def test_an_unexpected_engine_exception_is_named_after_the_engine(qtbot, worker, request_):
    task = InpaintTask(title="Raising test engine", engine="raising", request=request_)
    with qtbot.waitSignal(worker.failed, timeout=10000) as blocker:
        worker.submit(task)
    assert blocker.args == [task.id, "Raising test engine failed: ZeroDivisionError: plugin "
                                     "bug: division by zero in step 2"]


def test_an_engines_crash_prints_its_traceback_and_is_named_once(qtbot, worker, request_,
                                                                  capsys):
    """The engine names itself (EngineCrashed); a task running it inside another one (a
    function task, a comparison) does not add its own name to that."""
    def run_inside(cancel, progress):
        return list(RaisingEngine().run(request_, cancel))

    task = FunctionTask(title="Compare engines", function=run_inside)
    with qtbot.waitSignal(worker.failed, timeout=10000) as blocker:
        worker.submit(task)
    assert blocker.args == [task.id, "Raising test engine failed: ZeroDivisionError: plugin "
                                     "bug: division by zero in step 2"]
    err = capsys.readouterr().err
    assert "ZeroDivisionError: plugin bug: division by zero in step 2" in err  # the cause
    assert "Traceback (most recent call last)" in err and "in inpaint_region" in err


def test_a_bug_of_a_task_is_named_after_the_task(qtbot, worker, capsys):
    def detect(cancel, progress):
        return {}["boxes"]

    task = FunctionTask(title="Detect faces", function=detect)
    with qtbot.waitSignal(worker.failed, timeout=10000) as blocker:
        worker.submit(task)
    assert blocker.args == [task.id, "Detect faces failed: KeyError: 'boxes'"]
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_a_cancelled_task_that_does_not_stop_is_said_to_be_stopping(qtbot, worker, request_):
    StuckEngine.inside.clear()
    StuckEngine.gate.clear()
    events = _collect(worker)
    stuck = InpaintTask(title="Stuck test engine", engine="stuck", request=request_)
    worker.submit(stuck)
    assert StuckEngine.inside.wait(10)
    assert worker.stopping() is None  # running, not cancelled
    worker.cancel()
    assert worker.stopping() == (stuck.id, "Stuck test engine")
    following = InpaintTask(engine="slow", engine_options={"steps": 1}, request=request_)
    worker.submit(following)
    qtbot.wait(200)
    assert worker.stopping() == (stuck.id, "Stuck test engine")  # the next one waits
    assert ("started", following.id, following.title) not in events
    with qtbot.waitSignal(worker.finished, timeout=10000):
        StuckEngine.gate.set()
    assert worker.stopping() is None
    assert ("cancelled", stuck.id) in events


def test_esc_on_a_run_waiting_behind_a_stopping_task_says_nothing_and_raises_nothing(
        qtbot, worker):
    """F, Esc, F, Esc quickly: the second Esc drops the waiting run at once; the notice
    due later about a task still stopping must find no run of this client, not fail."""
    from types import SimpleNamespace

    from PySide6.QtWidgets import QApplication

    from app.worker import STOPPING_NOTICE_MS, WorkerClient

    release = threading.Event()

    def slow_to_stop(cancel, progress):
        release.wait(10)
        cancel.raise_if_cancelled()

    client = WorkerClient(worker)
    messages, failures = [], []
    client.progressChanged.connect(lambda fraction, text: messages.append(text))
    original_hook = sys.excepthook
    sys.excepthook = lambda kind, error, trace: failures.append(error)
    try:
        first = FunctionTask(title="slow", function=slow_to_stop)
        client._start(first, SimpleNamespace(task_id=first.id))
        qtbot.wait(50)
        client.cancel()  # Esc: the slow task is stopping
        second = FunctionTask(title="second", function=slow_to_stop)
        client._start(second, SimpleNamespace(task_id=second.id))  # F: it waits
        client.cancel()  # Esc: the waiting run is dropped
        assert client._run is None
        qtbot.wait(STOPPING_NOTICE_MS + 300)
        QApplication.processEvents()
    finally:
        release.set()
        sys.excepthook = original_hook
    assert failures == []
    assert not any("Waiting for" in text for text in messages[-2:])


def test_a_clients_run_is_named_by_run_ended_after_going_idle_and_before_the_end_hooks(
        qtbot, worker):
    """runEnded is the base class's: said with :meth:`_ended_name`'s name once busyChanged
    and progressChanged said idle, before the hook of a result or an error; a client whose
    hook names no run never says it."""
    from types import SimpleNamespace

    from app.worker import WorkerClient

    events = []

    class Named(WorkerClient):
        def _ended_name(self, run):
            return run.name

        def _result(self, run, result):
            events.append(("result", result))

        def _failure(self, run, message):
            events.append(("failure", message))

    def crash(cancel, progress):
        raise ValueError("no")

    named, plain = Named(worker), WorkerClient(worker)
    named.busyChanged.connect(lambda busy: events.append(("busy", busy)))
    named.progressChanged.connect(lambda fraction, text: events.append(("progress", fraction)))
    named.runEnded.connect(lambda name: events.append(("ended", name)))
    plain.runEnded.connect(lambda name: events.append(("plain ended", name)))
    for name, function in (("telea", lambda cancel, progress: "done"), ("parser", crash)):
        task = FunctionTask(title=name, function=function)
        events.clear()
        with qtbot.waitSignal(named.busyChanged, timeout=10000,
                              check_params_cb=lambda busy: not busy):
            named._start(task, SimpleNamespace(task_id=task.id, name=name))
        assert events[-4:-1] == [("busy", False), ("progress", -1.0), ("ended", name)]
        assert events[-1][0] == ("result" if name == "telea" else "failure")
    task = FunctionTask(title="plain", function=lambda cancel, progress: "done")
    with qtbot.waitSignal(plain.busyChanged, timeout=10000,
                          check_params_cb=lambda busy: not busy):
        plain._start(task, SimpleNamespace(task_id=task.id))
    assert not any(kind == "plain ended" for kind, _ in events)


def test_unexpected_exceptions_are_reported_not_raised(qtbot, worker):
    def crash(cancel, progress):
        raise ZeroDivisionError("division by zero")

    with qtbot.waitSignal(worker.failed, timeout=10000) as blocker:
        worker.submit(FunctionTask(function=crash))
    assert "ZeroDivisionError" in blocker.args[1]


def test_function_tasks_report_progress(qtbot, worker):
    seen = []
    worker.emitted.connect(lambda i, p: seen.append(p))

    def work(cancel, progress):
        for i in range(3):
            progress(i / 3, f"step {i}")
        return "labels"

    with qtbot.waitSignal(worker.finished, timeout=10000) as blocker:
        worker.submit(FunctionTask(function=work))
    assert blocker.args[1] == "labels"
    assert [p.message for p in seen if isinstance(p, Progress)] == ["step 0", "step 1", "step 2"]


def test_engine_cache_reuses_and_releases():
    released = []

    class Tracked(SlowEngine):
        def release(self):
            released.append(self)

    cache = EngineCache(lambda name, **o: Tracked(**o))
    a = cache.get("x", {})
    assert cache.get("x", {}) is a
    b = cache.get("y", {})
    assert b is not a and released == [a]


def test_a_run_that_ignores_cancelling_neither_blocks_nor_crashes_the_exit(tmp_path):
    """A long library call cannot be cancelled: closing waits a little, then the program
    ends normally (a running QThread destroyed at exit would abort it)."""
    import subprocess
    import sys

    script = tmp_path / "late.py"
    script.write_text(
        "import sys, time\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from app.worker import FunctionTask, Worker\n"
        "app = QApplication([])\n"
        "worker = Worker()\n"
        "worker.submit(FunctionTask(function=lambda cancel, progress: time.sleep(60)))\n"
        "def close():\n"
        "    print('ended' if worker.shutdown(300) else 'still running', flush=True)\n"
        "    app.quit()\n"
        "QTimer.singleShot(300, close)\n"
        "sys.exit(app.exec())\n")
    started = time.monotonic()
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=50, env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                           "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr
    assert "still running" in done.stdout  # the sleep ignored the cancel...
    assert time.monotonic() - started < 40  # ...and did not hold the program open
