"""Two editor nits: a label tool used before any label map exists leaves the label overlay as
it is (it paints nothing and says so); mid-stroke the Undo entry names the stroke being
drawn, which Ctrl+Z then ends and undoes, and Redo is off (the stroke would drop what it
could redo)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.document import Layer
from tests.app.test_label_tools_without_map import NO_MAP_BRUSH
from tests.app.test_label_tools_without_map import window as window  # a fixture, used by name
from tests.app.test_window import _screen


def _undo_text(window) -> str:
    return window.actions["undo"].text().replace("&", "")


def test_a_label_brush_without_a_map_leaves_the_hidden_overlay_hidden(qtbot, window):
    check = window.overlay_panel.checks[Layer.LABELS]
    check.setChecked(False)
    window.select_tool("label")  # chosen: nothing to show yet
    assert not check.isChecked() and not window.canvas.style.visible[Layer.LABELS]
    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_screen(canvas, 30, 30))
    qtbot.mouseMove(canvas, _screen(canvas, 70, 30))
    assert _undo_text(window) == "Undo"  # no stroke was begun: nothing to undo
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_screen(canvas, 70, 50))
    assert not check.isChecked() and not window.canvas.style.visible[Layer.LABELS]
    assert window.statusBar().currentMessage() == NO_MAP_BRUSH
    doc = window.document
    assert not doc.mask.any() and not doc.can_undo() and not doc.modified
    window.select_tool("fill")  # the label bucket: the same
    qtbot.mouseClick(canvas, Qt.LeftButton, pos=_screen(canvas, 30, 30))
    assert not check.isChecked() and not doc.can_undo()
    assert window.statusBar().currentMessage() == NO_MAP_BRUSH.replace("brush", "bucket")


def test_a_label_brush_with_a_map_shows_the_hidden_overlay_as_before(qtbot, window):
    doc = window.document
    doc.replace_label_map(np.full((doc.height, doc.width), 3, np.uint8), None, "map")
    check = window.overlay_panel.checks[Layer.LABELS]
    check.setChecked(False)
    window.select_tool("label")
    assert check.isChecked() and window.canvas.style.visible[Layer.LABELS]
    assert window.statusBar().currentMessage().endswith("overlay shown: it was hidden "
                                                        "(Overlays panel)")


def test_mid_stroke_the_undo_entry_names_the_stroke_being_drawn(qtbot, window):
    canvas, doc = window.canvas, window.document
    window.select_tool("mask")
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_screen(canvas, 20, 20))
    qtbot.mouseMove(canvas, _screen(canvas, 40, 20))
    assert canvas.dragging  # the very first stroke: named, though no step is done yet
    assert _undo_text(window) == "Undo Mask brush"
    assert window.actions["undo"].toolTip().startswith("Undo Mask brush (")
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_screen(canvas, 40, 20))
    assert _undo_text(window) == "Undo Mask brush"
    window.select_tool("sketch")
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_screen(canvas, 20, 60))
    qtbot.mouseMove(canvas, _screen(canvas, 60, 60))
    assert _undo_text(window) == "Undo Sketch pen"  # not the mask stroke before it
    window.actions["undo"].trigger()  # Ctrl+Z mid-stroke: ends the stroke and undoes it
    assert not canvas.dragging and not doc.layer(Layer.SKETCH).any()
    assert doc.mask[20, 20:41].all()
    assert _undo_text(window) == "Undo Mask brush"
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_screen(canvas, 60, 60))
    assert not doc.layer(Layer.SKETCH).any() and _undo_text(window) == "Undo Mask brush"


def test_mid_stroke_redo_is_off_and_names_nothing(qtbot, window):
    canvas, doc = window.canvas, window.document
    window.select_tool("mask")
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_screen(canvas, 20, 20))
    qtbot.mouseMove(canvas, _screen(canvas, 40, 20))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_screen(canvas, 40, 20))
    window.actions["undo"].trigger()
    redo = window.actions["redo"]
    assert redo.isEnabled() and redo.text().replace("&", "") == "Redo Mask brush"
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_screen(canvas, 20, 60))
    qtbot.mouseMove(canvas, _screen(canvas, 60, 60))
    assert canvas.dragging and not redo.isEnabled()
    assert redo.text().replace("&", "") == "Redo"
    redo.trigger()  # a disabled entry does nothing: the stroke goes on
    assert canvas.dragging
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_screen(canvas, 60, 60))
    assert not doc.can_redo() and not redo.isEnabled()  # the stroke dropped the redo
    assert doc.mask[60, 20:61].all() and not doc.mask[20, 20:41].any()
