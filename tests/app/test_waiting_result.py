"""A finished fill waiting for Enter ("Apply results automatically" off) is not dropped by
the commands run beside it: Detect Text (Ctrl+T), Compare (Ctrl+K), Esc typed in a text field.
Driven by the keys a person presses."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app import compare, watermark_dialogs
from app.compare import CompareDialog
from app.document import Layer
from app.window import MainWindow
from engines.fileio import save_image

pytestmark = pytest.mark.timeout(120)

HOLE = (slice(36, 60), slice(48, 80))  # the fill's hole in the 96x128 picture
TEXT = (slice(6, 20), slice(8, 40))  # where the text detector "finds" text


def open_with_hole(window: MainWindow, folder, textured: np.ndarray) -> None:
    """Open ``textured`` (saved in ``folder``) in ``window`` with :data:`HOLE` painted as
    the step "Mask brush", filling with OpenCV Telea, neither after each stroke nor applying
    by itself."""
    assert window.open_path(save_image(folder / "picture.png", textured))
    panel = window.engine_panel
    panel.auto_run.setChecked(False)
    panel.auto_apply.setChecked(False)
    assert panel.select_engine("telea")
    mask = np.zeros(textured.shape[:2], np.uint8)
    mask[HOLE] = 255
    window.document.replace_layer(Layer.MASK, mask, "Mask brush")


@pytest.fixture
def window(qtbot, tmp_path, textured):
    """A shown window on a small textured picture, with a hole filled by OpenCV Telea and
    shown, not applied; the canvas has the focus."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    window.confirm = lambda title, text: False  # never block on a question
    open_with_hole(window, tmp_path, textured)
    focus_canvas(qtbot, window)
    with qtbot.waitSignal(window.controller.busyChanged, timeout=60000,
                          check_params_cb=lambda busy: not busy):
        qtbot.keyClick(window.canvas, Qt.Key_F)
    assert window.controller.has_result and window.document.image.tobytes() == \
        textured.tobytes()  # shown, not applied
    yield window
    window.worker.shutdown()


def focus_canvas(qtbot, window: MainWindow) -> None:
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)


def apply_with_enter(qtbot, window: MainWindow) -> None:
    focus_canvas(qtbot, window)
    with qtbot.waitSignal(window.controller.applied, timeout=5000):
        qtbot.keyClick(window.canvas, Qt.Key_Return)


def assert_filled_in_the_hole_only(before: np.ndarray, after: np.ndarray) -> None:
    hole = np.zeros(before.shape[:2], bool)
    hole[HOLE] = True
    assert np.array_equal(after[~hole], before[~hole])
    assert (after[hole] != before[hole]).any()


def test_detect_text_keeps_the_fill_waiting_and_enter_applies_it(qtbot, window, monkeypatch):
    proposal = np.zeros(window.document.mask.shape, np.uint8)
    proposal[TEXT] = 255
    monkeypatch.setattr(watermark_dialogs, "detect_text_mask", lambda image: proposal)
    before = window.document.image.copy()
    with qtbot.waitSignal(window.text_masks.proposed, timeout=30000) as proposed:
        qtbot.keyClick(window.canvas, Qt.Key_T, Qt.ControlModifier)
    assert proposed.args[0] is not None and window.document.mask[TEXT].all()
    assert window.controller.has_result  # the proposal did not drop the fill
    assert "Enter applies it" in window.statusBar().currentMessage()

    apply_with_enter(qtbot, window)
    assert_filled_in_the_hole_only(before, window.document.image)
    mask = window.document.mask
    assert not mask[HOLE].any() and mask[TEXT].all()  # the text is left to fill next
    assert window.document.undo_label() == "Fill (OpenCV Telea)"


def test_compare_keeps_the_fill_waiting_until_another_result_is_chosen(qtbot, window,
                                                                       monkeypatch):
    monkeypatch.setattr(compare, "ready_engines", lambda: ["telea", "ns"])
    before = window.document.image.copy()

    def compare_by_keyboard() -> CompareDialog:
        qtbot.keyClick(window.canvas, Qt.Key_K, Qt.ControlModifier)
        shown = [d for d in window.findChildren(CompareDialog) if d.isVisible()]
        assert len(shown) == 1  # (the one closed before may not be deleted yet)
        dialog = shown[0]
        qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
        return dialog

    dialog = compare_by_keyboard()
    assert set(dialog.results) == {"telea", "ns"} and window.controller.has_result
    with qtbot.waitSignal(dialog.finished, timeout=5000):
        qtbot.keyClick(dialog, Qt.Key_Escape)  # closed without a choice
    assert window.controller.has_result
    apply_with_enter(qtbot, window)
    assert_filled_in_the_hole_only(before, window.document.image)
    assert window.document.undo_label() == "Fill (OpenCV Telea)"

    window.actions["undo"].trigger()  # the hole again; fill it anew, then compare
    assert np.array_equal(window.document.image, before)
    with qtbot.waitSignal(window.controller.busyChanged, timeout=60000,
                          check_params_cb=lambda busy: not busy):
        qtbot.keyClick(window.canvas, Qt.Key_F)
    dialog = compare_by_keyboard()
    assert window.controller.has_result
    assert dialog.choose("ns")  # the chosen result replaces the fill waiting
    assert not window.controller.has_result
    assert np.array_equal(window.document.image, dialog.results["ns"])
    assert_filled_in_the_hole_only(before, window.document.image)
    steps = window.document.undo_label()
    assert steps == "Fill (OpenCV Navier-Stokes)"
    focus_canvas(qtbot, window)
    qtbot.keyClick(window.canvas, Qt.Key_Return)  # nothing is left to apply
    assert window.document.undo_label() == steps


def test_esc_in_a_text_field_acts_on_the_field_not_on_the_fill(qtbot, window):
    search = window.legend.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus, timeout=5000)
    qtbot.keyClicks(search, "sky")
    qtbot.keyClick(search, Qt.Key_Escape)  # clears the search
    assert search.text() == "" and search.hasFocus() and window.controller.has_result
    qtbot.keyClick(search, Qt.Key_Escape)  # leaves the empty field
    assert window.canvas.hasFocus() and window.controller.has_result

    box = window.size_box
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=5000)
    value = box.value()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Escape)  # leaves the size box
    assert window.canvas.hasFocus() and window.controller.has_result
    assert box.value() == value

    qtbot.keyClick(window.canvas, Qt.Key_Escape)  # on the canvas, Esc discards
    assert not window.controller.has_result


def test_a_computed_label_map_keeps_the_fill_waiting(qtbot, window):
    before = window.document.image.copy()
    with qtbot.waitSignal(window.semantic.labelsReplaced, timeout=60000):
        assert window.semantic.compute_map("regions") is not None  # no download needed
    assert window.document.layer(Layer.LABELS).any() or window.document.computed_labels \
        is not None
    assert window.controller.has_result  # a new map makes no hole: the fill stays
    apply_with_enter(qtbot, window)
    assert_filled_in_the_hole_only(before, window.document.image)
    assert window.document.undo_label() == "Fill (OpenCV Telea)"
