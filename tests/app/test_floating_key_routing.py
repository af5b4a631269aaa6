"""Return, Enter and Esc in the fields of a dock panel or toolbar floated out of the window
act on the field, as they do docked, not on the fill waiting for Enter; on the canvas they
still apply or discard it (QA audit 21, finding 1: a floated panel or toolbar is a window of
its own to Qt)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLineEdit,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.window import MainWindow
from tests.app.test_waiting_result import focus_canvas, open_with_hole

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def window(qtbot, tmp_path, textured):
    """A shown window with a hole filled by OpenCV Telea, the fill shown and waiting for
    Enter (not applied)."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    window.confirm = lambda title, text: False  # never block on a question
    open_with_hole(window, tmp_path, textured)
    with qtbot.waitSignal(window.controller.busyChanged, timeout=60000,
                          check_params_cb=lambda busy: not busy):
        window.controller.run()
    assert window.controller.has_result
    yield window
    window.worker.shutdown()


def _tools_bar(window: MainWindow) -> QToolBar:
    return next(bar for bar in window.findChildren(QToolBar) if bar.isAncestorOf(window.size_box))


def _float(qtbot, window: MainWindow, holder: str) -> QWidget:
    """Float the panel or toolbar ``holder`` ("labels_dock", "engine_dock" or "tools")
    out of the window, as dragging it out does; the window it now is."""
    if holder == "tools":
        bar = _tools_bar(window)
        bar.setWindowFlags(Qt.Tool | Qt.FramelessWindowHint)  # what Qt makes a floated bar
        bar.show()
        floated = bar
    else:
        floated = window.docks[holder]
        floated.setFloating(True)
    qtbot.waitUntil(lambda: floated.isWindow() and floated.isVisible(), timeout=5000)
    assert floated.parentWidget() is window and not window.isAncestorOf(floated)
    return floated


def _focus(qtbot, field: QWidget) -> None:
    field.window().activateWindow()
    field.setFocus(Qt.OtherFocusReason)
    qtbot.waitUntil(field.hasFocus, timeout=5000)


FIELDS = {  # the field, and the panel or toolbar it is in
    "legend search": (lambda w: w.legend.search, "labels_dock"),
    "engine spin box": (lambda w: w.engine_panel.margin, "engine_dock"),
    "brush size box": (lambda w: w.size_box, "tools"),
}


@pytest.mark.parametrize("floating", [False, True], ids=["docked", "floated"])
@pytest.mark.parametrize("name", list(FIELDS))
@pytest.mark.parametrize("key", [Qt.Key_Return, Qt.Key_Enter], ids=["Return", "Enter"])
def test_return_in_a_field_is_the_fields_not_apply(qtbot, window, name, floating, key):
    field_of, holder = FIELDS[name]
    field = field_of(window)
    if floating:
        _float(qtbot, window, holder)
    before = window.document.image.copy()
    steps = window.document.undo_label()
    _focus(qtbot, field)
    modifier = Qt.KeypadModifier if key == Qt.Key_Enter else Qt.NoModifier
    if name == "legend search":
        with qtbot.waitSignal(field.returnPressed, timeout=5000):  # the search takes it
            qtbot.keyClick(field, key, modifier)
    else:
        field.lineEdit().selectAll()
        typed = "30" if field.minimum() <= 30 <= field.maximum() else str(field.minimum())
        qtbot.keyClicks(field, typed)
        qtbot.keyClick(field, key, modifier)
        assert field.value() == int(typed)  # the box took its value
    assert window.controller.has_result  # still waiting, not applied
    assert window.document.undo_label() == steps
    assert window.document.image.tobytes() == before.tobytes()

    focus_canvas(qtbot, window)
    with qtbot.waitSignal(window.controller.applied, timeout=5000):
        qtbot.keyClick(window.canvas, key, modifier)  # on the canvas, Return applies
    assert not window.controller.has_result


@pytest.mark.parametrize("floating", [False, True], ids=["docked", "floated"])
@pytest.mark.parametrize("name", list(FIELDS))
def test_esc_in_a_field_is_the_fields_not_discard(qtbot, window, name, floating):
    field_of, holder = FIELDS[name]
    field = field_of(window)
    if floating:
        _float(qtbot, window, holder)
    _focus(qtbot, field)
    if name == "legend search":
        qtbot.keyClicks(field, "sky")
        qtbot.keyClick(field, Qt.Key_Escape)  # clears the search, stays in it
        assert field.text() == "" and field.hasFocus() and window.controller.has_result
    else:
        value = field.value()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Escape)  # leaves the field...
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)  # ...for the canvas, window and all
    assert window.isActiveWindow() and window.controller.has_result
    if name != "legend search":
        assert field.value() == value

    qtbot.keyClick(window.canvas, Qt.Key_Escape)  # on the canvas, Esc discards
    assert not window.controller.has_result


def test_a_control_added_to_a_floated_panel_takes_the_focus_from_tab_only(qtbot, window):
    """A button of a floated panel is kept from taking the focus from a click, as docked
    (``Space`` would press it instead of panning): Tab reaches it."""
    _float(qtbot, window, "engine_dock")
    late = QPushButton("Late", window.engine_panel)
    late.show()  # polished now, in the floated panel
    assert late.focusPolicy() == Qt.TabFocus


def test_esc_in_a_field_of_the_windows_dialog_is_the_dialogs(qtbot, window):
    """The window's dialogs are not its panels: Esc in a dialog's field closes the dialog."""
    dialog = QDialog(window)
    field = QLineEdit(dialog)
    QVBoxLayout(dialog).addWidget(field)
    dialog.show()
    qtbot.waitExposed(dialog)
    _focus(qtbot, field)
    with qtbot.waitSignal(dialog.rejected, timeout=5000):
        qtbot.keyClick(field, Qt.Key_Escape)
    assert window.controller.has_result
