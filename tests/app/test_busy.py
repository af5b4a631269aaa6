"""wait_for: slow calls run off the GUI thread while the window keeps painting."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QProgressDialog, QWidget

import app.file_commands
from app.busy import wait_for
from engines.fileio import load_image, save_image


class _Watcher:
    """Counts event-loop turns on a timer and notes the busy dialogs visible meanwhile."""

    def __init__(self, parent: QWidget) -> None:
        self.ticks = 0
        self.labels: set[str] = set()
        self._parent = parent
        self._timer = QTimer(interval=20)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        self.ticks += 1
        for dialog in self._parent.findChildren(QProgressDialog):
            if dialog.isVisible():
                self.labels.add(dialog.labelText())

    def stop(self) -> None:
        self._timer.stop()


def test_the_work_runs_on_another_thread_and_its_result_comes_back(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    assert wait_for(parent, "Working...", threading.get_ident) != threading.get_ident()


def test_the_works_exception_is_raised_to_the_caller(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    error = OSError("disk full")

    def fail():
        raise error

    with pytest.raises(OSError) as caught:
        wait_for(parent, "Working...", fail)
    assert caught.value is error


def test_the_event_loop_runs_and_a_dialog_names_slow_work(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    watcher = _Watcher(parent)
    assert wait_for(parent, "Saving big.tif...", lambda: time.sleep(0.8) or 7,
                    show_after_ms=100) == 7
    watcher.stop()
    assert watcher.ticks >= 10  # the loop went on while the work ran
    assert watcher.labels == {"Saving big.tif..."}
    assert not any(d.isVisible() for d in parent.findChildren(QProgressDialog))
    quick = _Watcher(parent)
    wait_for(parent, "Quick...", lambda: None, show_after_ms=400)
    quick.stop()
    assert not quick.labels  # no dialog flashes up for quick work


def test_saving_a_picture_leaves_the_window_painting(tmp_path, window, monkeypatch):
    save_image(tmp_path / "photo.png", np.full((60, 80, 3), 90, np.uint8))
    assert window.open_path(tmp_path / "photo.png")

    def slow_save(*args, **kwargs):
        assert threading.current_thread() is not threading.main_thread()
        time.sleep(0.8)
        return save_image(*args, **kwargs)

    monkeypatch.setattr(app.file_commands, "save_image", slow_save)
    watcher = _Watcher(window)
    assert window.save_as(tmp_path / "out.png")
    watcher.stop()
    assert watcher.ticks >= 10 and watcher.labels == {"Saving out.png..."}
    assert (load_image(tmp_path / "out.png").rgb == 90).all()
    assert not window.document.modified
