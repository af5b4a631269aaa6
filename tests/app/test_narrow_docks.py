"""Narrow docks and a narrow window: list entries too long for their panel are cut with an
ellipsis (file names in their middle) and whole in their tooltips; a status message is cut
in the middle of its file paths first, so that the words after them stay in sight."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

from app.document import Reference
from app.elision import elided_message, path_spans
from app.faces import FacePanel
from app.references import ReferencePanel
from engines.segmentation.base import LabelSet

LONG_NAME = "a very long reference photo name from the camera card IMG_20230812_0001.jpg"


def _narrow(qtbot, panel, width: int = 150):
    qtbot.addWidget(panel)
    panel.resize(width, 400)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def _fits(view, item) -> bool:
    """Whether ``item`` is laid out within the width ``view`` shows (not cut by its edge)."""
    rect = view.visualItemRect(item)
    return rect.left() >= 0 and rect.right() < view.viewport().width()


def test_a_long_reference_name_is_cut_in_its_middle_and_whole_in_its_tooltip(qtbot):
    panel = _narrow(qtbot, ReferencePanel())
    reference = Reference(LONG_NAME, np.full((60, 90, 3), 120, np.uint8))
    panel.show_references([reference], engine_uses_them=True)
    item = panel.list.item(0)
    assert panel.list.textElideMode() == Qt.ElideMiddle  # the extension stays
    assert _fits(panel.list, item)
    assert LONG_NAME in item.toolTip() and item.text() == LONG_NAME


def test_a_long_face_caption_is_cut_and_whole_in_its_tooltip(qtbot):
    panel = _narrow(qtbot, FacePanel())
    caption = "Face 1 (a caption far longer than a thumbnail is wide)"
    panel.set_faces([(caption, np.full((96, 96, 3), 90, np.uint8))])
    item = panel.faces.item(0)
    assert panel.faces.textElideMode() == Qt.ElideRight
    assert _fits(panel.faces, item) and item.toolTip() == caption


def test_the_legend_names_are_elided_and_whole_in_their_tooltips(legend):
    names = ("sky", "a label name far too long for a narrow dock to show whole")
    legend.set_label_set(LabelSet("long", names, np.array([[0, 0, 255], [0, 255, 0]],
                                                          np.uint8)))
    legend.resize(150, 480)
    assert legend.labels.textElideMode() == Qt.ElideRight
    tips = {legend.labels.topLevelItem(row).toolTip(1)
            for row in range(legend.labels.topLevelItemCount())}
    assert set(names) <= tips


def test_paths_are_found_with_spaces_drives_and_the_sentence_around_them():
    text = ('Saved /home/me/My Photos/IMG 1.png; cannot open C:\\Users\\me\\a.tif: denied '
            '(see ~/notes.txt). Tools / Brush and/or "/a b/c.png", /srv/x.png at 16 bits '
            'per channel, \\\\server\\share\\y.jpg.')
    assert [text[start:end] for start, end in path_spans(text)] == [
        "/home/me/My Photos/IMG 1.png", "C:\\Users\\me\\a.tif", "~/notes.txt", "/a b/c.png",
        "/srv/x.png", "\\\\server\\share\\y.jpg"]
    assert path_spans("Colour regions (no download): 20 labels found") == []


def test_a_message_that_fits_is_whole_and_one_without_paths_is_cut_at_its_end(qtbot):
    metrics = QFontMetrics(QApplication.font())
    text = "Colour regions (no download): 20 labels found. Paint with the label brush"
    assert elided_message(text, metrics, metrics.horizontalAdvance(text)) == text
    cut = elided_message(text, metrics, 150)
    assert cut.endswith("…") and text.startswith(cut[:-1])


def test_a_long_path_message_keeps_its_last_words_in_a_narrow_window(qtbot, window, tmp_path):
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640, timeout=2000)
    path = (tmp_path / "Holiday photos of the summer" / "Two weeks at the seaside in 2023"
            / "IMG_0001.png")
    message = f"Cannot save {path}: disk full"
    bar = window.statusBar()
    bar.showMessage(message, 5000)
    shown = bar.shown_message()
    assert bar.toolTip() == message and bar.currentMessage() == message
    # the folders cut in their middle: the file name and the reason stay
    assert shown.startswith("Cannot save /") and shown.endswith("/IMG_0001.png: disk full")
    assert "…" in shown and str(path) not in shown
    assert bar.fontMetrics().horizontalAdvance(shown) <= bar._message_rect().width()
