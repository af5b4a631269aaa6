"""Tools turn pointer events into single undo steps."""

from __future__ import annotations

import numpy as np

from app.document import Document, Layer
from app.tools import LabelFill, LabelPicker, MaskBrush, ToolSettings, make_tools


def _doc() -> Document:
    return Document(np.zeros((100, 120, 3), np.uint8))


def test_every_tool_has_a_unique_name():
    tools = make_tools(ToolSettings())
    assert len(tools) == 13 and all(name == tool.name for name, tool in tools.items())


def test_brush_drag_is_one_step_and_reports_a_change():
    doc, settings = _doc(), ToolSettings()
    brush = MaskBrush(settings)
    brush.press(doc, (10, 10))
    brush.move(doc, (50, 10))
    assert brush.release(doc, (90, 10))
    assert doc.mask[10, 10:91].all() and doc.undo_label() == "Mask brush"
    doc.undo()
    assert not doc.mask.any() and not doc.can_undo()


def test_label_fill_reports_its_change_so_the_canvas_announces_it():
    doc, settings = _doc(), ToolSettings()
    settings.label = 7
    fill = LabelFill(settings)
    fill.press(doc, (5, 5))
    assert fill.release(doc, (5, 5))
    assert (doc.layer(Layer.LABELS) == 7).all()
    fill.press(doc, (5, 5))  # already 7: nothing changes
    assert not fill.release(doc, (5, 5))


def test_picker_makes_the_label_under_the_pointer_current():
    doc, settings = _doc(), ToolSettings()
    labels = doc.layer(Layer.LABELS).copy()
    labels[:, 60:] = 12
    doc.replace_layer(Layer.LABELS, labels, "labels")
    picked = []
    settings.on_label_picked = picked.append
    LabelPicker(settings).press(doc, (80, 40))
    assert settings.label == 12 and picked == [12]
