"""The label bucket (G) on the canvas: a click fills the clicked piece of a label (its
diagonal neighbours included), a Shift+click every pixel of that label, as a parser's
region in many pieces (sky seen through a lattice) asks."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.document import Layer
from engines.fileio import save_image
from tests.app.test_window import _screen, shown_window


def test_shift_click_with_the_bucket_repaints_every_piece_of_the_label(qtbot, tmp_path):
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    window.engine_panel.auto_run.setChecked(False)
    try:
        assert window.open_path(save_image(tmp_path / "p.png",
                                           np.full((60, 80, 3), 90, np.uint8)))
        labels = np.zeros((60, 80), np.uint8)
        labels[5:15, 5:15] = 4
        labels[40:50, 50:70] = 4  # a second piece of the same label
        window.document.replace_label_map(labels, None, "map")
        window.tool_settings.label = 9
        window.select_tool("fill")
        canvas = window.canvas
        pos = _screen(canvas, 7.5, 7.5)
        qtbot.mouseClick(canvas, Qt.LeftButton, pos=pos)
        after = window.document.layer(Layer.LABELS)
        assert (after[5:15, 5:15] == 9).all() and (after[40:50, 50:70] == 4).all()
        window.undo()
        qtbot.mouseClick(canvas, Qt.LeftButton, Qt.ShiftModifier, pos=pos)
        after = window.document.layer(Layer.LABELS)
        assert np.array_equal(after == 9, labels == 4)  # both pieces, nothing else
        window.undo()
        qtbot.mouseClick(canvas, Qt.LeftButton, pos=pos)  # Shift released: one piece again
        after = window.document.layer(Layer.LABELS)
        assert (after[5:15, 5:15] == 9).all() and (after[40:50, 50:70] == 4).all()
    finally:
        window.worker.shutdown()
