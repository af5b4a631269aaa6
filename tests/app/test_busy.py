"""wait_for: slow calls run off the GUI thread while the window keeps painting."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QProgressDialog, QPushButton, QWidget

import app.file_commands
from app.busy import wait_for
from engines.base import Cancelled, CancelToken
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


class _Canceller:
    """Once a busy dialog shows over ``parent``, notes its state, then does ``act(dialog)``
    (click its Cancel button, press Esc, close it) and notes what the dialog shows after."""

    def __init__(self, parent: QWidget, act) -> None:
        self.before: dict[str, object] = {}
        self.after: dict[str, object] = {}
        self.seen_cancelling = threading.Event()  # the work may return once this is set
        self._parent = parent
        self._act = act
        self._timer = QTimer(interval=20)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    @staticmethod
    def _state(dialog: QProgressDialog) -> dict[str, object]:
        button = dialog.findChild(QPushButton)
        return {"label": dialog.labelText(), "visible": dialog.isVisible(),
                "button": button is not None and button.isVisible(),
                "enabled": button is not None and button.isEnabled()}

    def _tick(self) -> None:
        shown = [d for d in self._parent.findChildren(QProgressDialog) if d.isVisible()]
        if not shown:
            return
        if not self.before:
            self.before = self._state(shown[0])
            self._act(shown[0])
        elif not self.after:
            self.after = self._state(shown[0])
            self.seen_cancelling.set()
            self._timer.stop()

    def stop(self) -> None:
        self._timer.stop()


def _waiting_on(token: CancelToken, canceller: _Canceller):
    """Work that runs until ``token`` is cancelled (10 s at most, a safety net only), then
    until the dialog was seen saying so, and raises Cancelled; or returns "finished"."""

    def work():
        deadline = time.monotonic() + 10
        while not token.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        canceller.seen_cancelling.wait(10)
        token.raise_if_cancelled()
        return "finished"

    return work


def _click_cancel(dialog: QProgressDialog) -> None:
    dialog.findChild(QPushButton).click()


@pytest.mark.parametrize("act", [
    _click_cancel,
    lambda dialog: QTest.keyClick(dialog, Qt.Key_Escape),
    lambda dialog: dialog.close(),  # the title bar's close button
], ids=["cancel button", "escape", "close"])
def test_with_a_token_the_dialog_cancels_the_work_and_says_so(qtbot, act):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    token = CancelToken()
    canceller = _Canceller(parent, act)
    with pytest.raises(Cancelled):
        wait_for(parent, "Growing...", _waiting_on(token, canceller), show_after_ms=50,
                 cancel=token)
    canceller.stop()
    assert token.cancelled
    assert canceller.before == {"label": "Growing...", "visible": True, "button": True,
                                "enabled": True}
    # still up (the work has not returned), saying so, its button no longer offered
    assert canceller.after == {"label": "Cancelling...", "visible": True, "button": True,
                               "enabled": False}
    assert not any(d.isVisible() for d in parent.findChildren(QProgressDialog))


def test_a_token_that_is_not_cancelled_changes_nothing(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    token = CancelToken()
    watcher = _Watcher(parent)
    assert wait_for(parent, "Growing...", lambda: time.sleep(0.3) or 7, show_after_ms=50,
                    cancel=token) == 7
    watcher.stop()
    assert watcher.labels == {"Growing..."} and not token.cancelled
    assert not any(d.isVisible() for d in parent.findChildren(QProgressDialog))


def test_without_a_token_the_dialog_has_no_cancel_button(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    seen = []

    def look():
        seen.extend([d.findChild(QPushButton) is not None and d.findChild(QPushButton)
                     .isVisible() for d in parent.findChildren(QProgressDialog)
                     if d.isVisible()])

    timer = QTimer(interval=20)
    timer.timeout.connect(look)
    timer.start()
    assert wait_for(parent, "Saving...", lambda: time.sleep(0.4) or 3,
                    show_after_ms=50) == 3
    timer.stop()
    assert seen and not any(seen)  # the dialog showed, never with a button
