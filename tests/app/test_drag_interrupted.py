"""A brush drag whose left-button release never comes, or must not be waited for (a pan
started over it, a tool key, a mask command, Space, the focus lost, the release lost): the
stroke so far is kept as one undoable step, no step stays open, nothing raises, and moves
with the left button up never paint."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QFocusEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from app import maskops
from app.document import Layer
from app.window import SAMPLE_IMAGE


@pytest.fixture
def editor(window):
    """The window with the sample open, the mask brush at 5 px, no fill after a stroke;
    ``window.finished`` records the layers of the canvas's editFinished."""
    assert window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    window.ask_pixels = lambda *args, **kwargs: 5
    window.select_tool("mask")
    window.tool_settings.radius["mask"] = 5
    window.finished = []
    window.canvas.editFinished.connect(window.finished.append)
    return window


def _at(canvas, x: float, y: float) -> QPoint:
    """The canvas position of image pixel (x, y)."""
    return QPoint(round(x * canvas.zoom + canvas.offset.x()),
                  round(y * canvas.zoom + canvas.offset.y()))


def _send(canvas, kind, pos: QPoint, button, buttons) -> None:
    """A mouse event with an explicit button state (QTest's keeps its own)."""
    pos = QPointF(pos)
    QApplication.sendEvent(canvas, QMouseEvent(kind, pos, canvas.mapToGlobal(pos), button,
                                               buttons, Qt.NoModifier))


def _start_stroke(qtbot, canvas) -> np.ndarray:
    """Press at (100, 100) and drag to (200, 100) with the left button, which stays held;
    returns the mask painted so far (a copy)."""
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 100, 100))
    qtbot.mouseMove(canvas, _at(canvas, 150, 100))
    qtbot.mouseMove(canvas, _at(canvas, 200, 100))
    stroke = canvas.document.mask.copy()
    assert canvas.document.in_step and stroke[100, 100:200].all() and not stroke[300].any()
    return stroke


def _hover(canvas, y: int = 300) -> None:
    """Moves along row ``y`` with no button held."""
    for x in range(120, 420, 20):
        _send(canvas, QMouseEvent.MouseMove, _at(canvas, x, y), Qt.NoButton, Qt.NoButton)


def _stroke_undoable(window, stroke: np.ndarray) -> None:
    """The stroke is the last step, closed: Undo is offered and brings the empty mask."""
    doc = window.document
    assert not doc.in_step and doc.undo_label() == "Mask brush"
    assert window.actions["undo"].isEnabled()
    assert np.array_equal(doc.mask, stroke)
    window.undo()
    assert not doc.mask.any()


def test_a_pan_started_mid_drag_ends_the_stroke_and_hover_never_paints(qtbot, editor):
    canvas = editor.canvas
    stroke = _start_stroke(qtbot, canvas)
    pos = _at(canvas, 200, 100)
    _send(canvas, QMouseEvent.MouseButtonPress, pos, Qt.MiddleButton,
          Qt.LeftButton | Qt.MiddleButton)
    assert not editor.document.in_step and editor.finished == ["mask"]
    _send(canvas, QMouseEvent.MouseMove, pos + QPoint(30, 40), Qt.NoButton,
          Qt.LeftButton | Qt.MiddleButton)  # pans, paints nothing
    _send(canvas, QMouseEvent.MouseButtonRelease, pos + QPoint(30, 40), Qt.LeftButton,
          Qt.MiddleButton)
    _send(canvas, QMouseEvent.MouseButtonRelease, pos + QPoint(30, 40), Qt.MiddleButton,
          Qt.NoButton)
    _hover(canvas)
    assert editor.finished == ["mask"]
    _stroke_undoable(editor, stroke)


@pytest.mark.parametrize(("key", "tool"), [(Qt.Key_H, "pan"), (Qt.Key_E, "mask-eraser"),
                                           (Qt.Key_P, "sketch")])
def test_a_tool_key_mid_drag_ends_the_stroke(qtbot, editor, key, tool):
    canvas = editor.canvas
    stroke = _start_stroke(qtbot, canvas)
    qtbot.keyClick(canvas, key)
    assert canvas.tool.name == tool and not editor.document.in_step
    assert editor.finished == ["mask"]
    qtbot.mouseMove(canvas, _at(canvas, 250, 120))  # still held: the new tool does nothing
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 250, 120))
    assert not editor.document.layer(Layer.SKETCH).any()
    _hover(canvas)
    assert editor.finished == ["mask"]
    _stroke_undoable(editor, stroke)


@pytest.mark.parametrize(("keys", "label", "expected"), [
    ((Qt.Key_D, Qt.ControlModifier), "Clear mask", lambda stroke: np.zeros_like(stroke)),
    ((Qt.Key_I, Qt.ControlModifier), "Invert mask", maskops.invert),
    ((Qt.Key_BracketRight, Qt.ControlModifier), "Grow mask 5px",
     lambda stroke: maskops.grow(stroke, 5)),
])
def test_a_mask_command_mid_drag_takes_the_stroke_so_far(qtbot, editor, keys, label, expected):
    """The shortcut ends the drag (its stroke one step), then works on the mask with that
    stroke; an exception in the command would fail the test (pytest-qt)."""
    canvas, doc = editor.canvas, editor.document
    stroke = _start_stroke(qtbot, canvas)
    qtbot.keyClick(canvas, *keys)
    assert not doc.in_step and doc.undo_label() == label
    assert np.array_equal(doc.mask, expected(stroke))
    qtbot.mouseMove(canvas, _at(canvas, 250, 300))  # still held: paints nothing
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 250, 300))
    _hover(canvas)
    assert np.array_equal(doc.mask, expected(stroke)) and not doc.in_step
    editor.undo()
    _stroke_undoable(editor, stroke)


def test_clear_sketch_mid_pen_stroke_takes_the_stroke_so_far(qtbot, editor):
    canvas, doc = editor.canvas, editor.document
    editor.select_tool("sketch")
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 100, 100))
    qtbot.mouseMove(canvas, _at(canvas, 200, 100))
    sketch = doc.layer(Layer.SKETCH).copy()
    assert sketch.any()
    qtbot.keyClick(canvas, Qt.Key_P, Qt.ControlModifier | Qt.ShiftModifier)
    assert not doc.in_step and doc.undo_label() == "Clear sketch"
    assert not doc.layer(Layer.SKETCH).any() and editor.finished == ["sketch"]
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 200, 100))
    editor.undo()
    assert doc.undo_label() == "Sketch pen"
    assert np.array_equal(doc.layer(Layer.SKETCH), sketch)


def test_a_plain_move_never_paints(qtbot, editor):
    canvas, doc = editor.canvas, editor.document
    _hover(canvas)
    for x in range(100, 300, 25):
        qtbot.mouseMove(canvas, _at(canvas, x, 200))
    assert not doc.mask.any() and not doc.in_step and doc.undo_label() is None
    assert editor.finished == []


def test_a_lost_release_ends_the_stroke_at_the_next_move(qtbot, editor):
    """The release went elsewhere: the first move with the left button up ends the drag
    where it was (no segment drawn to the pointer) and paints nothing."""
    canvas = editor.canvas
    pos = _at(canvas, 100, 100)
    _send(canvas, QMouseEvent.MouseButtonPress, pos, Qt.LeftButton, Qt.LeftButton)
    _send(canvas, QMouseEvent.MouseMove, _at(canvas, 200, 100), Qt.NoButton, Qt.LeftButton)
    stroke = editor.document.mask.copy()
    _hover(canvas)
    assert editor.finished == ["mask"]
    _stroke_undoable(editor, stroke)


def test_losing_the_focus_mid_drag_ends_the_stroke(qtbot, editor):
    canvas = editor.canvas
    stroke = _start_stroke(qtbot, canvas)
    QApplication.sendEvent(canvas, QFocusEvent(QFocusEvent.FocusOut, Qt.ActiveWindowFocusReason))
    assert not editor.document.in_step and editor.finished == ["mask"]
    qtbot.mouseMove(canvas, _at(canvas, 250, 300))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 250, 300))
    _stroke_undoable(editor, stroke)


def test_space_mid_drag_ends_the_stroke_and_the_held_button_pans(qtbot, editor):
    canvas = editor.canvas
    canvas.zoom_by(3.0)  # room to pan
    stroke = _start_stroke(qtbot, canvas)
    offset = QPointF(canvas.offset)
    qtbot.keyPress(canvas, Qt.Key_Space)
    assert not editor.document.in_step and editor.finished == ["mask"]
    to = _at(canvas, 200, 100) + QPoint(-40, -30)
    qtbot.mouseMove(canvas, to)
    assert canvas.offset == offset + QPointF(-40, -30)  # the view moved ...
    assert np.array_equal(editor.document.mask, stroke)  # ... and nothing was painted
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=to)
    qtbot.keyRelease(canvas, Qt.Key_Space)
    _hover(canvas, y=150)
    _stroke_undoable(editor, stroke)


def test_undo_mid_drag_undoes_the_stroke_so_far(qtbot, editor):
    canvas, doc = editor.canvas, editor.document
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 100, 400))  # an earlier stroke
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 100, 400))
    before = doc.mask.copy()
    _start_stroke(qtbot, canvas)
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)
    assert not doc.in_step and doc.redo_label() == "Mask brush"
    assert np.array_equal(doc.mask, before) and before.any()
    qtbot.mouseMove(canvas, _at(canvas, 300, 100))  # the button still held: nothing painted
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 300, 100))
    assert np.array_equal(doc.mask, before) and not doc.in_step


def test_redo_mid_drag_keeps_the_new_stroke(qtbot, editor):
    canvas = editor.canvas
    stroke = _start_stroke(qtbot, canvas)
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 200, 100))
    editor.undo()
    assert not editor.document.mask.any() and editor.document.can_redo()
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 100, 300))
    qtbot.mouseMove(canvas, _at(canvas, 200, 300))
    assert not editor.actions["redo"].isEnabled()  # mid-stroke: the stroke would drop it
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    doc = editor.document
    assert doc.in_step and canvas.dragging  # Redo off: the stroke goes on
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 200, 300))
    assert not doc.in_step and not doc.can_redo()  # the new stroke dropped the redo
    assert doc.mask[300, 100:200].all() and not np.array_equal(doc.mask, stroke)
