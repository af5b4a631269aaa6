"""Waiting for a slow call (encoding a 16-bit TIFF, decoding a 50-megapixel photo) without
freezing the window.

:func:`wait_for` runs the call on a worker thread and returns its answer to the caller as if
it had run in place, so command code stays linear. Meanwhile the event loop goes on painting
and running timers, but holds back the user's input until the call is over, so nothing can
change under it and no command can start twice; a busy dialog names the work when it takes
longer than a moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QProgressDialog, QWidget

T = TypeVar("T")
SHOW_AFTER_MS = 400  # quicker calls show no dialog


class _Finished(QObject):
    finished = Signal()


def wait_for(parent: QWidget, label: str, work: Callable[[], T],
             show_after_ms: int = SHOW_AFTER_MS) -> T:
    """Run ``work()`` on a worker thread and return its result, or raise its exception.

    Must be called on the GUI thread. ``work`` must not touch widgets. While it runs, the
    event loop processes everything but user input (which is delivered afterwards), the
    cursor shows that the program is busy and, after ``show_after_ms``, a dialog titled by
    ``label`` ("Saving photo.tif...") appears over ``parent``.
    """
    outcome: dict[str, object] = {}
    finished = _Finished()
    loop = QEventLoop()
    finished.finished.connect(loop.quit, Qt.QueuedConnection)

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # re-raised on the GUI thread
            outcome["error"] = exc
        finally:
            finished.finished.emit()

    dialog = QProgressDialog(label, "", 0, 0, parent)
    dialog.setWindowTitle("Inpaint Studio")
    dialog.setCancelButton(None)  # the work cannot be interrupted half-written
    dialog.setWindowModality(Qt.WindowModal)
    dialog.reset()  # hidden until the timer says otherwise
    reveal = QTimer(singleShot=True, interval=show_after_ms)
    reveal.timeout.connect(dialog.show)
    thread = threading.Thread(target=run, name="wait-for", daemon=True)
    QGuiApplication.setOverrideCursor(Qt.BusyCursor)
    try:
        reveal.start()
        thread.start()
        loop.exec(QEventLoop.ExcludeUserInputEvents)
        thread.join()
    finally:
        reveal.stop()
        QGuiApplication.restoreOverrideCursor()
        dialog.close()
        dialog.deleteLater()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
