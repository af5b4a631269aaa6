"""The window from the keyboard and for screen readers: Tab reaches only what shows, the F1
list fits the screen and tells the keys as they are, every control has a name (QA audit 13)."""

from __future__ import annotations

import numpy as np
import pytest
import qimage2ndarray
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QScrollBar,
    QWidget,
)

from app.shortcuts import SHORTCUTS, ShortcutsDialog
from app.window import SAMPLE_IMAGE
from tests.app.test_window import shown_window

PANELS = ("overlay_dock", "face_dock", "references_dock")  # tabbed behind Labels at first


@pytest.fixture
def window(qtbot):
    window = shown_window(qtbot, (1280, 860))
    window.confirm = lambda title, text: False
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)
    yield window
    window.worker.shutdown()


def _tab_round(qtbot, window, presses: int = 90) -> list[QWidget]:
    """The widgets Tab visits from the canvas, in order, ``presses`` times."""
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)
    visited = []
    for _ in range(presses):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Tab)
        visited.append(QApplication.focusWidget())
    return visited


def _dock_of(window, widget: QWidget) -> str | None:
    return next((name for name, dock in window.docks.items() if dock.isAncestorOf(widget)),
                None)


def _panels_settled(window) -> bool:
    """Whether the widgets of every panel behind a tab take no focus and those shown do."""
    for dock in window.docks.values():
        hidden = dock.visibleRegion().isEmpty()
        if hidden != (dock.widget().focusPolicy() == Qt.NoFocus
                      and all(w.focusPolicy() == Qt.NoFocus
                              for w in dock.findChildren(QWidget))):
            return False
    return True


# -------------------------------------------------------------------- Tab and hidden panels
def test_tab_reaches_only_the_panels_shown_and_no_scroll_bar_or_header(qtbot, window):
    qtbot.waitUntil(lambda: _panels_settled(window), timeout=5000)
    visited = _tab_round(qtbot, window)
    unseen = [f"{_dock_of(window, w)}: {type(w).__name__}" for w in visited
              if _dock_of(window, w) and w.visibleRegion().isEmpty()]
    assert unseen == []
    assert not any(isinstance(w, (QScrollBar, QHeaderView)) for w in visited)
    reached = {_dock_of(window, w) for w in visited}
    assert {"engine_dock", "labels_dock"} <= reached and not reached & set(PANELS)
    assert window.legend.search in visited and window.legend.labels in visited

    window.docks["overlay_dock"].raise_()  # its tab chosen: Overlays shows, Labels hides
    qtbot.waitUntil(lambda: _panels_settled(window), timeout=5000)
    visited = _tab_round(qtbot, window)
    assert window.overlay_panel.checks[next(iter(window.overlay_panel.checks))] in visited
    assert window.legend.search not in visited and window.legend.labels not in visited
    # each gets its own policy back: a field takes clicks, a button the keyboard only
    window.docks["labels_dock"].raise_()
    qtbot.waitUntil(lambda: _panels_settled(window), timeout=5000)
    assert window.legend.search.focusPolicy() == Qt.StrongFocus
    assert window.legend.compute_button.focusPolicy() == Qt.TabFocus
    assert all(check.focusPolicy() == Qt.NoFocus
               for check in window.overlay_panel.checks.values())


def test_a_floated_panel_takes_the_keys_again(qtbot, window):
    dock = window.docks["references_dock"]
    qtbot.waitUntil(lambda: _panels_settled(window), timeout=5000)
    assert window.reference_panel.add_button.focusPolicy() == Qt.NoFocus
    dock.setFloating(True)
    qtbot.waitUntil(lambda: window.reference_panel.add_button.focusPolicy() == Qt.TabFocus,
                    timeout=5000)
    assert window.reference_panel.list.focusPolicy() == Qt.TabFocus


def test_the_focus_left_in_a_panel_that_hides_goes_back_to_the_canvas(qtbot, window):
    window.docks["overlay_dock"].raise_()
    qtbot.waitUntil(lambda: _panels_settled(window), timeout=5000)
    check = next(iter(window.overlay_panel.checks.values()))
    check.setFocus(Qt.TabFocusReason)
    qtbot.waitUntil(check.hasFocus, timeout=5000)
    window.docks["labels_dock"].raise_()  # a click on the Labels tab
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)
    was = check.isChecked()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Space)  # no unseen box toggled
    assert check.isChecked() == was


def test_a_widget_added_to_a_hidden_panel_takes_no_focus_until_it_shows(qtbot, window):
    qtbot.waitUntil(lambda: _panels_settled(window), timeout=5000)
    button = QPushButton("Late", window.overlay_panel)
    button.show()  # polished now, its panel behind the Labels tab
    assert button.focusPolicy() == Qt.NoFocus
    window.docks["overlay_dock"].raise_()
    qtbot.waitUntil(lambda: button.focusPolicy() == Qt.TabFocus, timeout=5000)


# ------------------------------------------------------------------------- the F1 list
def test_the_f1_list_fits_the_screen_and_scrolls(qtbot, window):
    qtbot.keyClick(window.canvas, Qt.Key_F1)
    dialogs = window.findChildren(ShortcutsDialog)
    assert len(dialogs) == 1
    dialog = dialogs[0]
    qtbot.waitExposed(dialog)
    free = window.screen().availableGeometry()
    assert dialog.width() <= 0.8 * free.width() + 1
    assert dialog.height() <= 0.8 * free.height() + 1
    table = dialog.table
    qtbot.waitUntil(lambda: table.viewport().height() > 0, timeout=5000)
    # every row can be reached: what does not show scrolls into view
    assert (table.viewport().height() + table.verticalScrollBar().maximum()
            >= table.verticalHeader().length())
    rows = [(table.item(row, 0).text(), table.item(row, 1).text())
            for row in range(table.rowCount())]
    assert rows == [(s.text, s.keys) for s in SHORTCUTS]
    assert QAccessible.queryAccessibleInterface(table).text(QAccessible.Name)


@pytest.mark.parametrize("key", [Qt.Key_Escape, Qt.Key_Return, Qt.Key_Enter, None])
def test_the_f1_list_closes_with_esc_enter_or_ok(qtbot, window, key):
    dialog = window.show_shortcuts()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.isActiveWindow() and dialog.focusWidget() is not None,
                    timeout=5000)
    if key is None:
        button = dialog.findChild(QPushButton)
        assert button.text().replace("&", "") == "OK"
        qtbot.mouseClick(button, Qt.LeftButton)
    else:
        qtbot.keyClick(QApplication.focusWidget(), key)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)


def test_the_f1_list_tells_the_keys_the_window_answers_to(window):
    apply = next(s for s in SHORTCUTS if s.action == "apply")
    assert apply.keys == "Enter"  # as the Apply button says; either Enter key works
    assert {k.toString() for k in window.actions["apply"].shortcuts()} == {"Return", "Enter"}
    assert window.engine_panel.apply_button.text() == "Apply (Enter)"
    listed = {s.action: s for s in SHORTCUTS}
    for name, action in window.actions.items():
        bound = {k.toString() for k in action.shortcuts()}
        if not bound:
            continue
        assert name in listed and not listed[name].direct, name  # a QAction, listed as one
        if name != "apply":
            assert bound == {QKeySequence(k).toString()
                             for k in listed[name].keys.split(" or ")}, name
    for shortcut in SHORTCUTS:
        if shortcut.direct:  # really handled by hand: no action of the window has the keys
            assert shortcut.action not in window.actions, shortcut.action
    assert window.actions["brush_smaller"].shortcut().toString() == "["
    assert window.actions["brush_larger"].shortcut().toString() == "]"


# --------------------------------------------------------------------- screen reader names
def _name(widget: QWidget) -> str:
    face = QAccessible.queryAccessibleInterface(widget)
    return face.text(QAccessible.Name).strip() if face else ""


def test_every_control_reached_by_keys_has_a_name_for_screen_readers(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    for dock in window.docks.values():  # every panel, the hidden ones shown in turn
        dock.raise_()
    nameless = []
    for widget in window.findChildren(QWidget):
        if (not widget.isVisibleTo(window) or isinstance(widget, QScrollBar)
                or widget.objectName() == "qt_spinbox_lineedit"):  # its spin box's part
            continue
        own = widget.property("inpaintStudioOwnFocusPolicy")  # its panel behind a tab
        policy = Qt.FocusPolicy(own) if own is not None else widget.focusPolicy()
        if policy & Qt.TabFocus and not _name(widget):
            nameless.append(f"{type(widget).__name__} in {type(widget.parent()).__name__}")
    assert nameless == []
    assert _name(window.size_box) == "Brush size"
    assert all(_name(slider).endswith("opacity")
               for slider in window.overlay_panel.sliders.values())
    assert _name(window.canvas) and window.canvas.accessibleDescription()
    assert isinstance(window.legend.search, QLineEdit) and _name(window.legend.search)


# ---------------------------------------------------------------------- canvas focus frame
def test_the_canvas_shows_a_frame_when_tab_brings_the_focus(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    canvas = window.canvas
    canvas.fit()
    middle = canvas.height() // 2

    def edge() -> np.ndarray:
        canvas.repaint()
        return qimage2ndarray.rgb_view(canvas.grab().toImage())[middle, 0].astype(int)

    plain = edge()  # the focus came from a click (the fixture): no frame
    window.legend.search.setFocus(Qt.TabFocusReason)
    qtbot.waitUntil(window.legend.search.hasFocus, timeout=5000)
    canvas.setFocus(Qt.TabFocusReason)
    qtbot.waitUntil(canvas.hasFocus, timeout=5000)
    framed = edge()
    highlight = canvas.palette().highlight().color()
    assert np.abs(framed - plain).max() > 20
    assert np.abs(framed - (highlight.red(), highlight.green(), highlight.blue())).max() < 60
    window.legend.search.setFocus(Qt.MouseFocusReason)
    qtbot.waitUntil(window.legend.search.hasFocus, timeout=5000)
    assert np.abs(edge() - plain).max() <= 2  # gone with the focus
    canvas.setFocus(Qt.MouseFocusReason)
    qtbot.waitUntil(canvas.hasFocus, timeout=5000)
    assert np.abs(edge() - plain).max() <= 2  # a click brings no frame
