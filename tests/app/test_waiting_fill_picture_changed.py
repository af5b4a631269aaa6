"""A fill waiting for Enter ("Apply results automatically" off) is dropped as soon as the
picture under it changes (a face edit pasted back, any step that writes the picture): its
preview leaves the canvas at once and the status bar says why, in the words Enter and Save
use, rather than it staying shown until Enter or Save drops it. Undo and redo stay coherent:
the fill dropped never comes back, undo and redo move the picture's own steps."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.document import Layer
from app.faces import changed_pixels, paste_region, paste_weights
from app.window import DISCARDED_FILL, MainWindow
from engines.faces import align_face
from tests.app.test_waiting_result import (
    HOLE,
    apply_with_enter,
    focus_canvas,
    open_with_hole,
)

pytestmark = pytest.mark.timeout(120)

OUTDATED = "The picture changed while the engine ran; run the fill again"
FACE = (slice(4, 24), slice(90, 120))  # away from the hole


@pytest.fixture
def waiting(window, qtbot, tmp_path, textured) -> MainWindow:
    """The shared window on a textured picture with :data:`HOLE` filled by OpenCV Telea,
    shown and waiting for Enter; the canvas has the focus."""
    open_with_hole(window, tmp_path, textured)
    window._update_actions()
    focus_canvas(qtbot, window)
    with qtbot.waitSignal(window.controller.waitingChanged, timeout=60000):
        qtbot.keyClick(window.canvas, Qt.Key_F)
    qtbot.waitUntil(lambda: window.canvas.stage_label != "", timeout=5000)
    assert window.controller.has_result and window.document.preview is not None
    return window


def paste_face(window: MainWindow) -> np.ndarray:
    """Paste an edited face crop back into the photo as the face paste-back does
    (:meth:`FaceSession.paste_back`: one "Face edit" step written with ``apply_result``);
    returns the picture after it."""
    document = window.document
    aligned = align_face(document.image, _landmarks())
    crop = aligned.crop.copy()
    crop[200:300, 200:300] = 0  # the face edited
    pasted = paste_region(document.image, crop, aligned,
                          paste_weights(changed_pixels(crop, aligned.crop)))
    assert pasted is not None
    patch, box = pasted
    result = document.image.copy()
    result[box.slices] = patch
    document.apply_result(result, "Face edit", used_mask=np.zeros_like(document.mask),
                          within=box)
    window._update_actions()  # as the window does once a face is pasted
    return result


def _landmarks() -> np.ndarray:
    """Five landmarks (eyes, nose, mouth corners) of a small upright face in :data:`FACE`."""
    return np.array([[96, 10], [112, 10], [104, 15], [98, 20], [110, 20]], np.float32)


def paint_picture(window: MainWindow) -> np.ndarray:
    """A stroke written into the picture itself inside one step, each segment announced to
    the document's listeners as it is drawn (as a brush drag does); returns the picture."""
    document = window.document
    with document.step("Picture brush"):
        document.paint_segment(Layer.IMAGE, (95, 8), (115, 8), 3, (0, 0, 0))
        # inside the open step the stroke has not counted yet: the fill still waits
        assert window.controller.has_result
        document.paint_segment(Layer.IMAGE, (95, 16), (115, 16), 3, (0, 0, 0))
    window._update_actions()
    return document.image.copy()


def assert_dropped(qtbot, window: MainWindow) -> None:
    """The fill waiting is gone: nothing waits and the document holds no preview at once,
    the status bar says why, nothing is left for redo, and the canvas no longer shows it
    (at the next turn of the event loop, as the canvas takes previews)."""
    assert not window.controller.has_result and window.document.preview is None
    assert window.statusBar().currentMessage() == OUTDATED
    assert window.controller.restorable == ""
    qtbot.waitUntil(lambda: window.canvas.stage_label == "", timeout=5000)
    assert window.canvas.view.preview_box is None


@pytest.mark.parametrize("change", [paste_face, paint_picture], ids=["face paste", "stroke"])
def test_a_change_of_the_picture_drops_the_waiting_fill_at_once(qtbot, waiting, change):
    window = waiting
    before = window.document.image.copy()
    changed = change(window)
    assert not np.array_equal(changed, before)
    assert_dropped(qtbot, window)
    label = window.document.undo_label()
    assert window.actions["undo"].text() == f"&Undo {label}"  # no fill preview named

    focus_canvas(qtbot, window)
    qtbot.keyClick(window.canvas, Qt.Key_Return)  # nothing waits: nothing is applied
    assert window.document.undo_label() == label
    assert np.array_equal(window.document.image, changed)
    assert window.document.mask[HOLE].all()  # the hole is left to fill again


def test_undo_and_redo_of_the_face_paste_bring_no_dropped_fill_back(qtbot, waiting):
    window = waiting
    before = window.document.image.copy()
    pasted = paste_face(window)
    assert_dropped(qtbot, window)

    window.actions["undo"].trigger()  # the paste-back itself, not a fill
    assert np.array_equal(window.document.image, before)
    assert window.statusBar().currentMessage() == "Undid Face edit"
    assert not window.controller.has_result and window.document.preview is None
    assert window.canvas.stage_label == ""
    assert window.actions["redo"].text() == "&Redo Face edit"

    window.actions["redo"].trigger()
    assert np.array_equal(window.document.image, pasted)
    assert window.statusBar().currentMessage() == "Redid Face edit"
    assert not window.controller.has_result and window.canvas.stage_label == ""
    assert window.document.undo_label() == "Face edit"

    # a new fill of the same hole waits and applies as usual
    focus_canvas(qtbot, window)
    with qtbot.waitSignal(window.controller.waitingChanged, timeout=60000):
        qtbot.keyClick(window.canvas, Qt.Key_F)
    apply_with_enter(qtbot, window)
    assert window.document.undo_label() == "Fill (OpenCV Telea)"
    assert not window.document.mask[HOLE].any()


def test_a_fill_discarded_by_undo_is_not_brought_back_after_a_face_paste(qtbot, waiting):
    window = waiting
    window.actions["undo"].trigger()  # Ctrl+Z discards the fill, redo could bring it back
    assert window.statusBar().currentMessage() == DISCARDED_FILL
    assert window.controller.restorable == "Fill (OpenCV Telea)"
    pasted = paste_face(window)
    assert window.controller.restorable == ""  # its picture is gone
    assert not window.actions["redo"].isEnabled()
    window.redo()
    assert not window.controller.has_result and window.document.preview is None
    assert np.array_equal(window.document.image, pasted)
    assert window.document.undo_label() == "Face edit"
