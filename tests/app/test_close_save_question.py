"""Closing (or opening another picture) with changes to the picture not saved asks Save /
Don't Save / Cancel, as a desktop editor does: Save writes the file as File → Save does
(Save As, never the original, when it has no name yet) and goes on only once it is written;
guidance no file keeps is then asked about on its own. In a face edit, see
tests/app/test_face_close_save.py."""

from __future__ import annotations

import types

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.document import Layer
from engines.fileio import load_image, save_image
from engines.region import Box
from tests.app.conftest import ASK_SAVE_CHANGES

QUESTION = "The picture has changes that are not saved. Save the picture first?"


@pytest.fixture
def edited(window, tmp_path):
    """The editor on photo.png (tmp_path) with a black bar painted into the picture (a
    fill's change, not saved); every question recorded; Save As answered in out.png."""
    source = tmp_path / "photo.png"
    save_image(source, np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8))
    assert window.open_path(source)
    doc = window.document
    with doc.step("fill"):
        doc.touch(Layer.IMAGE, Box(10, 10, 20, 50))
        doc.image[10:20, 10:50] = 0
    assert doc.picture_modified
    window.asked = []
    window.confirm = lambda title, text: window.asked.append(("confirm", text)) or False
    window.save_paths = [str(tmp_path / "out.png")]
    window.ask_save_path = lambda *args: window.save_paths.pop(0) if window.save_paths else ""
    return window


def answer(window, choice: str) -> None:
    window.ask_save_changes = lambda title, text: window.asked.append((title, text)) or choice


@pytest.mark.parametrize(("choice", "closes"), [("save", True), ("discard", True),
                                                 ("cancel", False)])
def test_each_answer_does_what_it_says(edited, tmp_path, choice, closes):
    answer(edited, choice)
    assert edited.close() is closes
    assert edited.asked == [("Unsaved changes", QUESTION)]
    written = tmp_path / "out.png"
    assert written.exists() is (choice == "save")
    if choice == "save":  # the picture as edited, saved under a new name: the original kept
        assert (load_image(written).rgb[10:20, 10:50] == 0).all()
        assert not (load_image(tmp_path / "photo.png").rgb[10:20, 10:50] == 0).all()
    if not closes:
        assert edited.isVisible() and edited.document.picture_modified


def test_save_abandoned_in_its_dialog_keeps_the_window_and_the_changes(edited, tmp_path):
    answer(edited, "save")
    edited.save_paths = []  # Save As cancelled
    assert not edited.close()
    assert edited.isVisible() and edited.document.picture_modified
    assert sorted(tmp_path.glob("*.png")) == [tmp_path / "photo.png"]


def test_guidance_is_still_asked_about_once_the_picture_is_saved(edited):
    answer(edited, "save")
    doc = edited.document
    with doc.step("stroke"):
        doc.paint_segment(Layer.SKETCH, (5, 40), (60, 40), 2, 255)
    assert not edited.close()  # the sketch question answered No
    assert edited.asked == [
        ("Unsaved changes", "The picture has changes that are not saved. The sketch is not "
         "kept either (File → Export Sketch… keeps it). Save the picture first?"),
        ("confirm", "The sketch you drew is not saved with the picture: export it (File → "
         "Export Sketch…) to keep it. Discard it?")]
    assert not doc.picture_modified and edited.save_path is not None  # saved all the same


def test_opening_another_picture_asks_the_same(edited, tmp_path):
    other = tmp_path / "other.png"
    save_image(other, np.zeros((30, 40, 3), np.uint8))
    answer(edited, "save")
    assert edited.open_path(other)
    assert edited.asked == [("Unsaved changes", QUESTION)]
    assert (tmp_path / "out.png").exists() and edited.document.shape == (30, 40)


@pytest.mark.parametrize(("button", "expected"), [(QMessageBox.Save, "save"),
                                                  (QMessageBox.Discard, "discard"),
                                                  (QMessageBox.Cancel, "cancel"),
                                                  (None, "cancel")])
def test_the_box_has_save_dont_save_and_cancel(qtbot, window, button, expected):
    seen = {}

    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press)
            return
        seen["buttons"] = sorted(b.text() for b in box.buttons())
        seen["default"] = box.defaultButton().text()
        if button is None:  # Esc
            box.reject()
        else:
            box.button(button).click()

    QTimer.singleShot(0, press)
    real = types.MethodType(ASK_SAVE_CHANGES, window)
    assert real("Unsaved changes", QUESTION) == expected
    assert seen["buttons"] == ["Cancel", "Don't Save", "Save"] and seen["default"] == "Save"


def test_a_fill_waiting_for_enter_is_named_and_saving_applies_it(qtbot, edited, tmp_path):
    """QA audit 33, F2: Save applies a fill shown as File → Save does; the question says
    so. Don't Save drops both."""
    doc = edited.document
    with doc.step("mask"):
        doc.paint_segment(Layer.MASK, (55, 40), (70, 40), 3, 255)
    c = edited.controller
    c.settings.engine, c.settings.auto_apply = "telea", False
    assert c.run() is not None
    qtbot.waitUntil(lambda: c.has_result, timeout=30000)
    answer(edited, "save")
    assert edited.close()
    assert edited.asked == [("Unsaved changes", "The picture has changes that are not saved. "
                             "The fill shown is not applied yet: saving applies it, as File → "
                             "Save does. Save the picture first?")]
    saved = load_image(tmp_path / "out.png").rgb
    original = load_image(tmp_path / "photo.png").rgb
    assert (saved[10:20, 10:50] == 0).all()  # the earlier change
    assert not np.array_equal(saved[35:46, 50:76], original[35:46, 50:76])  # the fill, applied
