"""The reference photos panel: Delete and Backspace remove the selected photos, and "Remove
all" asks first when two or more are listed (QA audit 21, finding 5)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.document import Reference
from app.references import ReferencePanel
from tests.app.test_window import shown_window


def _photos(count: int) -> list[Reference]:
    return [Reference(f"photo{i}.png", np.full((40, 60, 3), 40 * i, np.uint8))
            for i in range(count)]


@pytest.fixture
def panel(qtbot):
    panel = ReferencePanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.mark.parametrize("key", [Qt.Key_Delete, Qt.Key_Backspace])
def test_delete_and_backspace_in_the_list_remove_the_selected_photos(panel, key):
    panel.show_references(_photos(3), engine_uses_them=True)
    removed = []
    panel.removeRequested.connect(removed.append)
    panel.list.setFocus()
    QTest.keyClick(panel.list, key)  # nothing selected: nothing asked for
    assert removed == []
    panel.list.item(2).setSelected(True)
    panel.list.item(0).setSelected(True)
    QTest.keyClick(panel.list, key)
    assert removed == [[0, 2]]
    QTest.keyClick(panel.list, key, Qt.ControlModifier)  # another key: not a removal
    assert removed == [[0, 2]]


@pytest.mark.parametrize("answer", [True, False])
def test_remove_all_asks_first_when_two_or_more_are_listed(panel, answer):
    panel.show_references(_photos(2), engine_uses_them=True)
    asked, cleared = [], []
    panel.confirm_clear = lambda count: asked.append(count) or answer
    panel.clearRequested.connect(lambda: cleared.append(True))
    panel.clear_button.click()
    assert asked == [2]
    assert cleared == ([True] if answer else [])


def test_remove_all_of_one_photo_does_not_ask(panel):
    panel.show_references(_photos(1), engine_uses_them=True)
    asked, cleared = [], []
    panel.confirm_clear = lambda count: asked.append(count) or False
    panel.clearRequested.connect(lambda: cleared.append(True))
    panel.clear_button.click()
    assert asked == [] and cleared == [True]


def test_the_question_says_how_many_and_that_it_cannot_be_undone(panel, qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    seen = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append((box.text(), box.defaultButton().text(), box.escapeButton().text()))
        box.escapeButton().click()

    QTimer.singleShot(20, answer)
    assert not panel.confirm_clear(3)
    assert seen == [("Remove all 3 reference photos? This cannot be undone.", "Cancel",
                     "Cancel")]


def test_in_the_window_delete_removes_and_remove_all_keeps_them_when_declined(qtbot,
                                                                              tmp_path):
    from engines.fileio import save_image

    window = shown_window(qtbot)
    try:
        window.engine_panel.auto_run.setChecked(False)
        rng = np.random.default_rng(3)
        for name in ("photo.png", "a.png", "b.png", "c.png"):
            save_image(tmp_path / name, rng.integers(0, 255, (64, 64, 3), np.uint8))
        assert window.open_path(tmp_path / "photo.png")
        assert window.add_references([tmp_path / "a.png", tmp_path / "b.png",
                                      tmp_path / "c.png"]) == 3
        panel = window.reference_panel
        panel.list.item(1).setSelected(True)
        panel.list.setFocus()  # reached with Tab: a click leaves the focus on the canvas
        QTest.keyClick(panel.list, Qt.Key_Delete)
        assert [r.name for r in window.document.references] == ["a.png", "c.png"]
        panel.confirm_clear = lambda count: False
        panel.clear_button.click()
        assert [r.name for r in window.document.references] == ["a.png", "c.png"]
        panel.confirm_clear = lambda count: True
        panel.clear_button.click()
        assert window.document.references == () and panel.list.count() == 0
    finally:
        window.worker.shutdown()
