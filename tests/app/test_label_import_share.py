"""An imported label map of the current set (or of none) that changes much of the picture is
asked about before its changes become a hole; one that changes every pixel is a new map; the
label-map messages (QA audit 21, findings 2 and 10)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.document import Document, Layer
from app.semantic import ASK_EDIT_SHARE, NO_LABEL_MAP, ImportChoice, SemanticController
from app.window import SAMPLE_IMAGE
from app.worker import Worker
from tests.app.test_label_import_edit import _write
from tests.app.test_label_import_edit import window as window  # a fixture, used by name


def _first_map(window, tmp_path) -> np.ndarray:
    """Open the sample and import a map of two labels (a new map: no hole)."""
    assert window.open_path(SAMPLE_IMAGE)
    doc = window.document
    first = np.full((doc.height, doc.width), 12, np.uint8)
    first[:, : doc.width // 3] = 4
    assert window.import_labels(_write(tmp_path / "map.png", first))
    assert not doc.mask.any()
    return first


def _changed_rows(first: np.ndarray, share: float) -> np.ndarray:
    """``first`` with its top rows, ``share`` of the picture, set to label 7."""
    edited = first.copy()
    edited[: round(share * first.shape[0])] = 7
    return edited


def _asked(window) -> list:
    asked = []

    def ask(name, changed, total):
        asked.append((name, changed, total))
        return window.answer

    window.semantic.ask_import_choice = ask
    return asked


def test_a_map_changing_less_than_the_share_is_an_edit_without_a_question(window, tmp_path):
    first = _first_map(window, tmp_path)
    asked = _asked(window)
    doc = window.document
    edited = _changed_rows(first, ASK_EDIT_SHARE - 0.05)
    assert window.import_labels(_write(tmp_path / "edited.png", edited))
    assert asked == []
    assert np.array_equal(doc.layer(Layer.LABELS), edited)
    assert np.array_equal(doc.computed_labels, first)
    assert doc.mask[: doc.height // 10].all() and not doc.mask[-10:].any()
    changed = int(np.count_nonzero(edited != first))
    assert (f"Label map imported: {changed} pixels changed; they will be filled"
            in window.statusBar().currentMessage())


@pytest.mark.parametrize("answer", list(ImportChoice))
def test_a_map_changing_much_of_the_picture_is_asked_about(window, tmp_path, answer):
    first = _first_map(window, tmp_path)
    asked = _asked(window)
    window.answer = answer
    doc = window.document
    edited = _changed_rows(first, 0.46)
    changed = int(np.count_nonzero(edited != first))
    before = doc.undo_label()
    imported = window.import_labels(_write(tmp_path / "other.png", edited))
    assert asked == [("other.png", changed, first.size)]
    said = window.statusBar().currentMessage()
    if answer is ImportChoice.CANCEL:
        assert not imported
        assert np.array_equal(doc.layer(Layer.LABELS), first) and not doc.mask.any()
        assert doc.undo_label() == before  # no step
        assert said == "Label map not imported from other.png"
        return
    assert imported
    assert np.array_equal(doc.layer(Layer.LABELS), edited)
    assert doc.undo_label() == "Import label map (other.png)"
    if answer is ImportChoice.NEW_MAP:
        assert not doc.mask.any()  # no hole
        assert np.array_equal(doc.computed_labels, edited)  # the new computed map
        assert said == "Label map imported from other.png as a new map (nothing to fill)"
    else:
        assert doc.mask[edited != first].all()  # the changed pixels are the hole
        assert np.array_equal(doc.computed_labels, first)  # the computed map stays
        assert f"Label map imported: {changed} pixels changed; they will be filled" in said
    doc.undo()  # one step: the map before, and no hole
    assert np.array_equal(doc.layer(Layer.LABELS), first) and not doc.mask.any()
    assert np.array_equal(doc.computed_labels, first)
    assert doc.undo_label() == before


def test_a_map_changing_every_pixel_is_a_new_map_without_a_question(window, tmp_path):
    first = _first_map(window, tmp_path)
    asked = _asked(window)
    window.answer = ImportChoice.FILL  # never asked
    doc = window.document
    other = np.where(first == 4, 9, 3).astype(np.uint8)
    assert window.import_labels(_write(tmp_path / "other.png", other))
    assert asked == []
    assert not doc.mask.any()
    assert np.array_equal(doc.layer(Layer.LABELS), other)
    assert np.array_equal(doc.computed_labels, other)
    assert window.statusBar().currentMessage() == (
        "Label map imported from other.png; it differs from the map shown everywhere, so it "
        "is a new map, not an edit to fill")
    doc.undo()
    assert np.array_equal(doc.layer(Layer.LABELS), first)


def test_the_question_defaults_to_a_new_map_and_names_the_changed_pixels(qtbot):
    controller = SemanticController(Worker())
    seen = []

    def answer(press: str) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, lambda: answer(press))
            return
        seen.append((box.text(), [button.text() for button in box.buttons()],
                     box.defaultButton().text(), box.escapeButton().text()))
        if press == "esc":
            box.escapeButton().click()
        else:
            next(b for b in box.buttons() if b.text() == press).click()

    try:
        for press, expected in (("Use as a new map", ImportChoice.NEW_MAP),
                                ("Fill the changed area", ImportChoice.FILL),
                                ("esc", ImportChoice.CANCEL)):
            QTimer.singleShot(20, lambda press=press: answer(press))
            assert controller.ask_import_choice("other.png", 35671, 76800) is expected
        text, buttons, default, escape = seen[0]
        assert text == ("other.png differs from the label map shown on 46 % of the picture "
                        "(35671 pixels).")
        assert sorted(buttons) == ["Cancel", "Fill the changed area",
                                   "Use as a new map"]
        assert default == "Use as a new map" and escape == "Cancel"
    finally:
        controller.worker.shutdown()


# ------------------------------------------------------------------------------ messages
def test_a_map_of_one_label_says_1_label(qtbot):
    worker = Worker()
    controller = SemanticController(worker)
    controller.set_document(Document(np.full((64, 96, 3), 120, np.uint8)))
    said = []
    controller.message.connect(said.append)
    try:
        with qtbot.waitSignal(controller.busyChanged, timeout=60000,
                              check_params_cb=lambda busy: not busy):
            assert controller.compute_map("regions") is not None
        assert int((np.unique(controller.document.layer(Layer.LABELS)) != 255).sum()) == 1
        assert said[-1].startswith("Colour regions (no download): 1 label found. Paint ")
    finally:
        worker.shutdown()


def test_exporting_without_a_map_says_to_compute_or_import_one(window):
    assert NO_LABEL_MAP == "There is no label map to export: compute or import one first"
    assert window.open_path(SAMPLE_IMAGE)
    asked = []
    window.ask_save_path = lambda *args: asked.append(args) or ""
    assert not window.export_labels()
    assert window.statusBar().currentMessage() == NO_LABEL_MAP and asked == []


def test_a_label_map_of_another_size_is_refused_naming_its_full_path(window, tmp_path):
    assert window.open_path(SAMPLE_IMAGE)
    doc = window.document
    path = _write(tmp_path / "labels_wrong.png", np.zeros((240, 300), np.uint8))
    said = []
    window.semantic.error.connect(said.append)
    assert not window.import_labels(path)
    assert said == [f"{path}: the label map is 300x240 but the image is "
                    f"{doc.width}x{doc.height}; they must be the same size"]
    assert not doc.can_undo()
