"""The label tools without a label map: the brush, like the bucket, refuses to paint (a
stroke would be a hole with no map for the fill to follow) and says how to get one; the
eyedropper has nothing to pick and says so. A label map given as a folder is refused as the
other imports refuse one."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from app.document import Document, Layer
from app.tools import LabelBrush, LabelPicker, ToolSettings
from engines.base import UNLABELLED
from engines.fileio import save_image
from tests.app.test_window import shown_window

NO_MAP_BRUSH = ("No label map yet: compute one in the Labels panel or import one, then "
                "repaint it with the brush")


def _doc() -> Document:
    return Document(np.zeros((100, 120, 3), np.uint8))


def _drag(brush, doc, points) -> bool:
    brush.press(doc, points[0])
    for point in points[1:]:
        brush.move(doc, point)
    return brush.release(doc, points[-1])


@pytest.mark.parametrize("blank_layer", [False, True])
def test_the_label_brush_without_a_map_paints_nothing_and_says_why(blank_layer):
    doc, settings = _doc(), ToolSettings()
    if blank_layer:  # the layer made, all unlabelled: still no map
        doc.layer(Layer.LABELS)
    said = []
    settings.on_message = said.append
    settings.label = 0
    assert not _drag(LabelBrush(settings), doc, [(30, 30), (60, 30), (60, 80)])
    assert said == [NO_MAP_BRUSH]
    assert not doc.mask.any() and not doc.can_undo() and not doc.in_step
    assert not doc.has_layer(Layer.LABELS) or (doc.layer(Layer.LABELS) == UNLABELLED).all()


def test_the_label_brush_repaints_a_map_as_before():
    doc, settings = _doc(), ToolSettings()
    labels = np.full((100, 120), 3, np.uint8)
    doc.replace_label_map(labels, None, "map")
    said = []
    settings.on_message = said.append
    settings.label = 7
    assert _drag(LabelBrush(settings), doc, [(30, 30), (60, 30)])
    assert said == [] and doc.undo_label() == "Label brush"
    painted = doc.layer(Layer.LABELS)
    assert (painted[30, 30:61] == 7).all() and (painted[90] == 3).all()
    assert doc.mask[30, 45] == 255  # the relabelled area is the hole


def test_the_eyedropper_without_a_map_keeps_the_label_and_says_so():
    doc, settings = _doc(), ToolSettings()
    said, picked = [], []
    settings.on_message, settings.on_label_picked = said.append, picked.append
    settings.label = 4
    picker = LabelPicker(settings)
    picker.press(doc, (10, 10))
    doc.layer(Layer.LABELS)  # a blank layer: no map either
    picker.press(doc, (10, 10))
    assert settings.label == 4 and picked == []
    assert said == ["No label map yet: no label to pick; compute one in the Labels panel or "
                    "import one"] * 2


def test_the_eyedropper_still_picks_unlabelled_from_a_map():
    doc, settings = _doc(), ToolSettings()
    labels = np.full((100, 120), UNLABELLED, np.uint8)
    labels[:, 60:] = 12
    doc.replace_label_map(labels, None, "map")
    said, picked = [], []
    settings.on_message, settings.on_label_picked = said.append, picked.append
    picker = LabelPicker(settings)
    picker.press(doc, (10, 10))
    picker.press(doc, (80, 10))
    assert picked == [UNLABELLED, 12] and said == []


@pytest.fixture
def window(qtbot, tmp_path):
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False  # never block on a question
    window.engine_panel.auto_run.setChecked(False)
    save_image(tmp_path / "photo.png", np.full((80, 120, 3), 90, np.uint8))
    assert window.open_path(tmp_path / "photo.png")
    window.errors = []
    window.show_error = window.errors.append
    yield window
    window.worker.shutdown()


def _screen(canvas, x, y) -> QPoint:
    return QPoint(round(x * canvas.zoom + canvas.offset.x()),
                  round(y * canvas.zoom + canvas.offset.y()))


def test_a_label_stroke_in_the_editor_without_a_map_is_no_hole(qtbot, window):
    window.select_tool("label")
    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_screen(canvas, 30, 30))
    qtbot.mouseMove(canvas, _screen(canvas, 70, 30))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_screen(canvas, 70, 50))
    doc = window.document
    assert not doc.mask.any() and not doc.can_undo() and not doc.modified
    assert window.statusBar().currentMessage() == NO_MAP_BRUSH


def test_a_folder_imported_as_a_label_map_is_refused_as_the_other_imports_are(window,
                                                                           tmp_path):
    folder = tmp_path / "maps"
    folder.mkdir()
    assert not window.import_labels(folder)
    assert not window.import_sketch(folder)
    assert window.errors == [f"{folder}: is a folder, not an image"] * 2
    assert not window.document.can_undo()
    missing = tmp_path / "gone.png"
    assert not window.import_labels(missing)
    assert window.errors[-1] == f"{missing}: no such file"
