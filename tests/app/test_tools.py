"""Tools turn pointer events into single undo steps."""

from __future__ import annotations

import numpy as np

from app.document import Document, Layer
from app.tools import LabelFill, LabelPicker, MaskBrush, ToolSettings, make_tools
from engines.region import Box


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
    labels = np.full((100, 120), 255, np.uint8)
    labels[:, 60:] = 3
    doc.replace_layer(Layer.LABELS, labels, "labels")
    settings.label = 7
    fill = LabelFill(settings)
    fill.press(doc, (5, 5))
    assert fill.release(doc, (5, 5))
    assert (doc.layer(Layer.LABELS)[:, :60] == 7).all()
    assert (doc.layer(Layer.LABELS)[:, 60:] == 3).all()
    fill.press(doc, (5, 5))  # already 7: nothing changes
    assert not fill.release(doc, (5, 5))


def test_the_bucket_without_a_label_map_says_so_and_changes_nothing():
    doc, settings = _doc(), ToolSettings()
    said = []
    settings.on_message = said.append
    fill = LabelFill(settings)
    fill.press(doc, (5, 5))  # it would label, and so make a hole of, the whole picture
    assert not fill.release(doc, (5, 5))
    assert not doc.mask.any() and not doc.can_undo()
    assert "No label map yet" in said[0]


def test_a_brush_stamp_is_centred_on_the_pointer():
    doc, settings = _doc(), ToolSettings()
    settings.radius["mask"] = 0.5  # a one-pixel brush
    brush = MaskBrush(settings)
    brush.press(doc, (40.5, 30.5))  # the middle of pixel (40, 30)
    assert brush.release(doc, (40.5, 30.5))
    assert list(zip(*np.nonzero(doc.mask))) == [(30, 40)]
    brush.press(doc, (10.9, 70.1))  # anywhere in a pixel paints that pixel
    brush.release(doc, (10.9, 70.1))
    assert doc.mask[70, 10] == 255
    for radius in (1.5, 3.0, 12.0):  # thin (drawn exactly) and thick (by OpenCV) alike
        settings.radius["mask"] = radius
        doc.replace_layer(Layer.MASK, np.zeros((100, 120), np.uint8), "clear")
        brush.press(doc, (80.5, 50.5))
        brush.release(doc, (80.5, 50.5))
        rows, cols = np.nonzero(doc.mask)
        assert (rows.min() + rows.max()) / 2 == 50 and (cols.min() + cols.max()) / 2 == 80


def test_picker_makes_the_label_under_the_pointer_current():
    doc, settings = _doc(), ToolSettings()
    labels = doc.layer(Layer.LABELS).copy()
    labels[:, 60:] = 12
    doc.replace_layer(Layer.LABELS, labels, "labels")
    picked = []
    settings.on_label_picked = picked.append
    LabelPicker(settings).press(doc, (80, 40))
    assert settings.label == 12 and picked == [12]


def test_the_bucket_backs_up_only_the_box_of_the_area_it_fills(monkeypatch):
    doc, settings = Document(np.zeros((900, 1300, 3), np.uint8)), ToolSettings()
    labels = np.full((900, 1300), 2, np.uint8)
    labels[300:420, 500:560] = 5  # the area to fill, inside one 256 px tile row
    labels[350, 500:560] = 6  # ...cut in two by a line: only its upper part is reached
    doc.replace_label_map(labels, None, "Compute map")
    touched = []
    touch = Document.touch
    monkeypatch.setattr(Document, "touch",
                        lambda self, layer, box: touched.append((layer, box))
                        or touch(self, layer, box))
    settings.label = 9
    fill = LabelFill(settings)
    fill.press(doc, (520, 310))
    assert fill.release(doc, (520, 310))
    assert touched[0] == (Layer.LABELS, Box(300, 500, 350, 560))
    after = labels.copy()
    after[300:350, 500:560] = 9
    assert np.array_equal(doc.layer(Layer.LABELS), after)
    grown_hole = doc.mask.copy()
    assert grown_hole[300:350, 500:560].all() and not grown_hole[450:, :].any()
    step = doc.undo()
    label_tiles = {(d.row, d.col) for d in step.diffs if d.layer is Layer.LABELS}
    assert label_tiles == {(1, 1), (1, 2)}  # rows 256-511, columns 256-767
    assert np.array_equal(doc.layer(Layer.LABELS), labels) and not doc.mask.any()
    doc.redo()
    assert np.array_equal(doc.layer(Layer.LABELS), after)
    assert np.array_equal(doc.mask, grown_hole)
