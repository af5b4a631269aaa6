"""The window on small screens, its brush size limits, status bar, tooltips and help key
(QA audit 11)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QCheckBox,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QSlider,
    QStyle,
    QToolBar,
    QToolButton,
)

from app.shortcuts import ShortcutsDialog, keys_for
from app.tools import MAX_RADIUS, MIN_RADIUS
from app.window import SAMPLE_IMAGE, MainWindow, default_size, plain_text
from tests.app.test_window import shown_window

LONG_MESSAGE = ("Colour regions (no download): 20 labels found. Paint with the label brush to "
                "change the layout; the changed area is filled to follow it")


def test_the_window_fits_640x480_with_every_panel_and_leaves_the_canvas_room(qtbot, window):
    window.open_path(SAMPLE_IMAGE)
    for dock in window.docks.values():
        dock.show()
    qtbot.wait(50)
    smallest = window.minimumSizeHint()
    assert smallest.width() <= 640 and smallest.height() <= 480, smallest
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640 and window.height() == 480, timeout=2000)
    assert window.canvas.width() >= 640 * 0.4  # a canvas still worth painting on
    window.resize(1000, 700)
    qtbot.waitUntil(lambda: window.width() == 1000, timeout=2000)
    assert window.canvas.width() >= 1000 / 2


def test_the_labels_panel_shrinks_by_itself(qtbot, window):
    legend = window.legend
    assert legend.minimumSizeHint().width() <= 280
    assert legend.present_only.y() > legend.search.y()  # a row of its own
    legend.current_text.setText("12 a label name far too long for a narrow dock to show")
    assert legend.current_text.minimumSizeHint().width() < 40
    assert legend.current_text.toolTip() == legend.current_text.text()


def test_the_first_size_fits_the_screen(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    available = window.screen().availableGeometry().size()
    assert window.width() <= available.width() and window.height() <= available.height()
    assert default_size(QSize(4000, 3000)) == QSize(1280, 860)
    assert default_size(QSize(1024, 700)) == QSize(1024, 700)
    window.worker.shutdown()


@pytest.mark.parametrize("key, limit", [(Qt.Key_BracketRight, MAX_RADIUS),
                                        (Qt.Key_BracketLeft, MIN_RADIUS)])
def test_the_bracket_keys_stop_at_the_brush_limits(qtbot, window, key, limit):
    window.open_path(SAMPLE_IMAGE)
    window.select_tool("mask")
    window.size_box.setValue(max(1, round(2 * limit)))  # as typed into the size box
    assert window.tool_settings.radius["mask"] == limit
    window.canvas.setFocus()
    seen = []
    for _ in range(3):
        qtbot.keyClick(window.canvas, key)
        seen.append(window.tool_settings.radius["mask"])
        assert window.size_box.value() == max(1, round(seen[-1] * 2))
    assert seen == [limit] * 3
    window.tool_settings.radius["mask"] = 999.0 if limit == MAX_RADIUS else 0.6
    qtbot.keyClick(window.canvas, key)
    assert window.tool_settings.radius["mask"] == limit  # clamped after the step
    assert window.size_box.maximum() == round(2 * MAX_RADIUS)


def test_a_long_message_is_cut_with_an_ellipsis_and_whole_in_the_tooltip(qtbot, window):
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640, timeout=2000)
    bar = window.statusBar()
    bar.showMessage(LONG_MESSAGE, 5000)
    assert bar.currentMessage() == LONG_MESSAGE
    assert bar.toolTip() == LONG_MESSAGE
    shown = bar.shown_message()
    assert shown.endswith("…") and LONG_MESSAGE.startswith(shown[:-1])
    assert bar.fontMetrics().horizontalAdvance(shown) < window.width() - 200
    window.resize(1600, 480)  # room again: shown whole
    qtbot.waitUntil(lambda: bar.shown_message() == LONG_MESSAGE, timeout=2000)
    bar.showMessage("Short", 5000)
    assert bar.shown_message() == "Short" and bar.toolTip() == "Short"
    bar.clearMessage()
    assert bar.currentMessage() == "" and bar.toolTip() == ""


def test_a_message_times_out(qtbot, window):
    bar = window.statusBar()
    bar.showMessage(LONG_MESSAGE, 50)
    qtbot.waitUntil(lambda: bar.currentMessage() == "", timeout=2000)
    assert bar.shown_message() == "" and bar.toolTip() == ""


def test_a_refused_export_replaces_the_saved_message(qtbot, window, tmp_path):
    window.open_path(SAMPLE_IMAGE)
    labels = window.document.layer("labels").copy()
    labels[:] = 3
    window.document.replace_label_map(labels, None, "map")
    target = tmp_path / "labels.png"
    assert window.export_labels(target)
    assert "saved" in window.statusBar().currentMessage()
    assert not window.export_labels(target)  # exists: not overwritten
    assert "already exists" in window.statusBar().currentMessage()
    for box in window.findChildren(QMessageBox):
        box.close()


def _explained(widget, text: str) -> bool:
    """A tooltip that says more than the visible text, or (a check box) its own text."""
    tip = widget.toolTip().strip()
    if isinstance(widget, (QCheckBox, QRadioButton)) and text:
        return True
    return bool(tip) and tip != text


def test_every_button_and_slider_of_the_panels_and_toolbars_is_explained(window):
    unexplained = []
    places = [(dock.windowTitle(), dock.widget()) for dock in window.docks.values()]
    places += [(bar.windowTitle(), bar) for bar in window.findChildren(QToolBar)]
    for place, root in places:
        for widget in root.findChildren(QAbstractButton) + root.findChildren(QSlider):
            if widget.objectName().startswith("qt_") \
                    or isinstance(widget.parent(), (QLineEdit, QAbstractSpinBox)):
                continue  # Qt's own (toolbar extension, a field's clear button)
            text = plain_text(widget.text()) if isinstance(widget, QAbstractButton) else ""
            if isinstance(widget, QToolButton) and widget.toolButtonStyle() \
                    == Qt.ToolButtonIconOnly:
                text = ""  # its text is not shown: the tooltip is all there is
                if not widget.toolTip() or widget.toolTip() == plain_text(
                        widget.defaultAction().text()):
                    unexplained.append(f"{place}: {widget.toolTip()!r} only names it")
                    continue
            if not _explained(widget, text):
                unexplained.append(f"{place}: {type(widget).__name__} {text!r}")
    assert unexplained == []
    assert window.legend.labels.toolTip()


def test_f1_shows_the_keyboard_shortcuts(qtbot, window):
    assert keys_for("shortcuts") == "F1"
    action = window.actions["shortcuts"]
    assert [key.toString() for key in action.shortcuts()] == ["F1"]
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key_F1)
    boxes = window.findChildren(ShortcutsDialog)
    assert len(boxes) == 1 and boxes[0].windowTitle() == "Keyboard Shortcuts"
    table = boxes[0].table
    assert "F1" in [table.item(row, 1).text() for row in range(table.rowCount())]
    boxes[0].close()


def test_the_panels_start_wide_enough_for_the_parser_and_engine_names(qtbot):
    """The panels shrink for small windows, but a window with room starts them wide enough
    to read the parser's name ("Colour regions (no download)") uncut."""
    from app.window import DOCK_WIDTH

    window = shown_window(qtbot, size=(1200, 780))
    try:
        dock = window.docks["engine_dock"]
        qtbot.waitUntil(lambda: dock.width() >= DOCK_WIDTH - 2, timeout=2000)
        parser = window.legend.parser
        qtbot.waitUntil(lambda: parser.width() >= DOCK_WIDTH // 2, timeout=2000)
        shown = parser.style().subControlRect(
            QStyle.CC_ComboBox, _combo_option(parser), QStyle.SC_ComboBoxEditField, parser)
        assert shown.width() >= parser.fontMetrics().horizontalAdvance(parser.currentText())
    finally:
        window.worker.shutdown()


def _combo_option(combo):
    from PySide6.QtWidgets import QStyleOptionComboBox

    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    return option
