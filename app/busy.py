"""Waiting for a slow call (encoding a 16-bit TIFF, decoding a 50-megapixel photo) without
freezing the window.

:func:`wait_for` runs the call on a worker thread and returns its answer to the caller as if
it had run in place, so command code stays linear. Meanwhile the event loop goes on painting
and running timers, but holds back the user's input until the call is over, so nothing can
change under it and no command can start twice; a busy dialog names the work when it takes
longer than a moment. Work that checks a :class:`~engines.base.CancelToken` can be given one:
its dialog then has a Cancel button.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QProgressDialog, QPushButton, QWidget

from engines.base import CancelToken

T = TypeVar("T")
SHOW_AFTER_MS = 400  # quicker calls show no dialog


class _Finished(QObject):
    finished = Signal()


class _BusyDialog(QProgressDialog):
    """The busy dialog. While ``holding``, closing it (its title bar's button) cancels
    instead, and it stays up: the work has not returned yet."""

    holding = False

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.holding:
            event.ignore()
            self.canceled.emit()
        else:
            super().closeEvent(event)


CANCELLING = "Cancelling..."


def wait_for(parent: QWidget, label: str, work: Callable[[], T],
             show_after_ms: int = SHOW_AFTER_MS, cancel: CancelToken | None = None) -> T:
    """Run ``work()`` on a worker thread and return its result, or raise its exception.

    Must be called on the GUI thread. ``work`` must not touch widgets. While it runs, the
    event loop processes everything but user input (which is delivered afterwards), the
    cursor shows that the program is busy and, after ``show_after_ms``, a dialog titled by
    ``label`` ("Saving photo.tif...") appears over ``parent``.

    Without ``cancel`` the dialog has no Cancel button: the work cannot be interrupted. With
    it, the dialog has one (Esc too), which cancels ``cancel`` and shows
    :data:`CANCELLING` until the work returns; ``work`` is expected to check the token and
    raise :class:`~engines.base.Cancelled`, which is raised to the caller like any other
    exception (work that finishes anyway returns its result). Once that dialog shows, the
    user's input goes to it alone: it is application-modal, so input meant for other windows
    is refused then, not delivered afterwards.
    """
    outcome: dict[str, object] = {}
    finished = _Finished()
    loop = QEventLoop()

    def done() -> None:
        outcome["done"] = True
        loop.quit()

    finished.finished.connect(done, Qt.QueuedConnection)

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # re-raised on the GUI thread
            outcome["error"] = exc
        finally:
            finished.finished.emit()

    dialog = _BusyDialog(label, "", 0, 0, parent)
    dialog.setWindowTitle("Inpaint Studio")
    if cancel is None:
        dialog.setCancelButton(None)  # the work cannot be interrupted half-written
        dialog.setWindowModality(Qt.WindowModal)
    else:
        dialog.setCancelButtonText("Cancel")  # Esc too (QProgressDialog's shortcut)
        # once shown, it takes the user's input (to cancel), so no other window may
        dialog.setWindowModality(Qt.ApplicationModal)
        dialog.holding = True

        def cancelling() -> None:
            if not dialog.holding:  # closed as the work returned: nothing to cancel
                return
            cancel.cancel()
            dialog.setLabelText(CANCELLING)
            button = dialog.findChild(QPushButton)
            if button is not None:
                button.setEnabled(False)
            dialog.show()  # QProgressDialog hid itself when cancelled (before this slot)

        dialog.canceled.connect(cancelling)
    dialog.reset()  # hidden until the timer says otherwise
    reveal = QTimer(singleShot=True, interval=show_after_ms)
    reveal.timeout.connect(dialog.show)
    if cancel is not None:  # the loop starts again, taking input (see below)
        reveal.timeout.connect(loop.quit)
    thread = threading.Thread(target=run, name="wait-for", daemon=True)
    QGuiApplication.setOverrideCursor(Qt.BusyCursor)
    try:
        reveal.start()
        thread.start()
        loop.exec(QEventLoop.ExcludeUserInputEvents)
        while "done" not in outcome:  # a cancellable dialog shown: the user can click it
            loop.exec()
        thread.join()
    finally:
        reveal.stop()
        dialog.holding = False
        QGuiApplication.restoreOverrideCursor()
        dialog.close()
        dialog.deleteLater()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
