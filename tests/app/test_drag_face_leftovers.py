"""Leftovers of the interrupted drags and of face editing: Ctrl+Z mid first stroke undoes
it, Fill and imports by path mid-drag take the stroke so far as a step of its own, an
interrupted face-box drag hides its preview, a fill applied on the photo rebuilds the face
thumbnails it covers, leaving or pasting back a face drops the pending fill after a stroke,
and Paste back after Esc does not ask about the fill being cancelled."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import QApplication

from app.document import Layer
from app.faces import face_from_box
from tests.app.test_drag_interrupted import (
    _at,
    _start_stroke,
    editor,  # noqa: F401 - a fixture
)
from tests.app.test_face_paste_fixes import BOX, CROP_HOLE, EARLIER, in_photo, paint_crop_hole
from tests.app.test_face_switching import gated_engine  # noqa: F401 - a fixture

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def asked(editor):  # noqa: F811
    """The questions asked, by title (all answered No); no error box; closing stops what
    runs (set now: the widgets are closed before the fixtures end)."""
    titles: list[str] = []
    editor.confirm = lambda title, text: titles.append(title) or False
    editor.show_error = lambda text: None
    editor.ask_stop_runs = lambda *args, **kwargs: True
    return titles


def _fill_and_wait(qtbot, window, start) -> None:
    with qtbot.waitSignal(window.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        start()


# --- 1: Ctrl+Z mid the first stroke ----------------------------------------------------
def test_ctrl_z_mid_the_first_stroke_undoes_it(qtbot, editor):  # noqa: F811
    canvas, doc, undo = editor.canvas, editor.document, editor.actions["undo"]
    assert not doc.can_undo() and not undo.isEnabled()
    _start_stroke(qtbot, canvas)
    assert undo.isEnabled()  # the stroke's step is open
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)
    assert not doc.in_step and not doc.mask.any()
    assert doc.redo_label() == "Mask brush" and not doc.can_undo()
    assert not undo.isEnabled() and editor.actions["redo"].isEnabled()
    qtbot.mouseMove(canvas, _at(canvas, 300, 100))  # the button still held: nothing painted
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 300, 100))
    assert not doc.mask.any() and not doc.in_step and not undo.isEnabled()


def test_a_drag_that_changes_nothing_leaves_undo_off(qtbot, editor):  # noqa: F811
    """The label brush without a label map paints nothing: no step, Undo stays off."""
    canvas, undo = editor.canvas, editor.actions["undo"]
    editor.select_tool("label")
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 100, 100))
    qtbot.mouseMove(canvas, _at(canvas, 200, 100))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 200, 100))
    assert not editor.document.can_undo() and not undo.isEnabled()


# --- 2: Fill and imports by path mid-drag -----------------------------------------------
def test_fill_mid_drag_fills_the_stroke_so_far_as_a_step_of_its_own(qtbot, editor):  # noqa: F811
    canvas, doc = editor.canvas, editor.document
    editor.engine_panel.auto_apply.setChecked(False)
    editor.engine_panel.select_engine("telea")
    stroke = _start_stroke(qtbot, canvas)
    _fill_and_wait(qtbot, editor, lambda: qtbot.keyClick(canvas, Qt.Key_F))
    assert not doc.in_step and doc.undo_label() == "Mask brush"
    assert editor.controller.has_result
    qtbot.mouseMove(canvas, _at(canvas, 300, 300))  # still held: paints nothing
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 300, 300))
    assert np.array_equal(doc.mask, stroke)
    assert editor.controller.apply()
    assert doc.undo_label().startswith("Fill") and not doc.mask.any()
    editor.undo()
    assert np.array_equal(doc.mask, stroke) and doc.undo_label() == "Mask brush"
    editor.undo()
    assert not doc.mask.any() and not doc.can_undo()


def test_fill_mid_drag_with_fill_after_each_stroke_starts_one_fill(qtbot, editor):  # noqa: F811
    """The stroke ended by F would start the fill after a stroke too: F's fill replaces it."""
    canvas = editor.canvas
    editor.engine_panel.auto_apply.setChecked(False)
    editor.engine_panel.select_engine("telea")
    editor.engine_panel.auto_run.setChecked(True)
    started = []
    editor.controller.busyChanged.connect(lambda busy: busy and started.append(busy))
    _start_stroke(qtbot, canvas)
    qtbot.keyClick(canvas, Qt.Key_F)
    assert not editor.document.in_step and not editor._run_timer.isActive()
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 200, 100))
    qtbot.waitUntil(lambda: editor.controller.has_result, timeout=30000)
    qtbot.wait(300)  # past the timer's 120 ms
    assert started == [True] and editor.controller.has_result


@pytest.mark.parametrize("what", ["mask", "sketch", "labels"])
def test_an_import_by_path_mid_drag_ends_the_stroke_first(qtbot, editor, tmp_path,  # noqa: F811
                                                          what):
    canvas, doc = editor.canvas, editor.document
    stroke = _start_stroke(qtbot, canvas)
    area = np.zeros((doc.height, doc.width), np.uint8)
    if what == "labels":
        area[:] = 12
        area[:, : doc.width // 3] = 4
    else:
        area[300:340, 300:400] = 255
    path = tmp_path / f"{what}.png"
    cv2.imwrite(str(path), area)
    imports = {"mask": editor.import_mask, "sketch": editor.import_sketch,
               "labels": editor.import_labels}
    assert imports[what](path)
    assert not doc.in_step
    qtbot.mouseMove(canvas, _at(canvas, 250, 200))  # still held: paints nothing
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 250, 200))
    assert np.array_equal(doc.mask, area if what == "mask" else stroke)
    if what == "sketch":
        assert np.array_equal(doc.layer(Layer.SKETCH), area)
    editor.undo()  # the import
    assert np.array_equal(doc.mask, stroke) and doc.undo_label() == "Mask brush"
    editor.undo()
    assert not doc.mask.any() and not doc.can_undo()


# --- 3: an interrupted face-box drag ----------------------------------------------------
@pytest.mark.parametrize("how", ["tool key", "focus lost"])
def test_an_interrupted_face_box_drag_hides_its_preview(qtbot, editor, how):  # noqa: F811
    canvas, preview = editor.canvas, editor.face_panel.preview
    editor.select_tool("face-box")
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 250, 100))
    qtbot.mouseMove(canvas, _at(canvas, 330, 200))
    assert not preview.isHidden()
    if how == "tool key":
        qtbot.keyClick(canvas, Qt.Key_H)
    else:
        QApplication.sendEvent(canvas, QFocusEvent(QFocusEvent.FocusOut,
                                                   Qt.ActiveWindowFocusReason))
    assert preview.isHidden()
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 330, 200))
    assert preview.isHidden() and editor.faces.edit is None


# --- 4: a fill applied on the photo and the face thumbnails ------------------------------
def _icon(window, row: int):
    return window.face_panel.faces.item(row).icon()


def test_a_fill_applied_on_the_photo_rebuilds_the_thumbnails_it_covers(qtbot, editor):  # noqa: F811
    doc = editor.document
    editor.engine_panel.auto_apply.setChecked(False)
    editor.engine_panel.select_engine("telea")
    editor.faces.add_box((100, 100, 180, 200))
    editor.faces.add_box((520, 300, 600, 400))  # other tiles of the picture
    before = _icon(editor, 0).pixmap(96, 96).toImage()
    far = _icon(editor, 1).cacheKey()
    mask = np.zeros((doc.height, doc.width), np.uint8)
    mask[130:170, 120:160] = 255  # over the first face's middle
    doc.replace_layer(Layer.MASK, mask, "Mask brush")
    _fill_and_wait(qtbot, editor, editor.fill)
    with qtbot.waitSignal(editor.controller.applied, timeout=5000):
        assert editor.controller.apply()
    assert _icon(editor, 0).pixmap(96, 96).toImage() != before
    assert _icon(editor, 1).cacheKey() == far  # it shows nothing that changed


# --- 5: the pending fill after a stroke, leaving or pasting back the face ----------------
@pytest.mark.parametrize("how", ["leave", "paste back"])
def test_leaving_the_face_drops_the_pending_fill_after_a_stroke(qtbot, editor, asked,  # noqa: F811
                                                                how):
    """Unstopped, the timer fired on the photo shown again: a fill of the photo's hole
    started there."""
    photo = editor.document
    editor.engine_panel.select_engine("telea")
    editor.engine_panel.auto_run.setChecked(True)
    mask = np.zeros((photo.height, photo.width), np.uint8)
    mask[300:340, 300:400] = 255
    photo.replace_layer(Layer.MASK, mask, "Mask brush")  # a hole in the photo
    assert editor.enter_face(face_from_box(BOX))
    crop, canvas = editor.document, editor.canvas
    if how == "paste back":
        changed = crop.image.copy()
        changed[EARLIER] = (0, 255, 0)
        crop.apply_result(changed, "Fill")
    editor.select_tool("mask")
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 200, 300))
    qtbot.mouseMove(canvas, _at(canvas, 300, 300))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 300, 300))
    assert crop.mask.any() and editor._run_timer.isActive()
    started = []
    editor.controller.busyChanged.connect(lambda busy: busy and started.append(busy))
    assert editor.leave_face(ask=False) if how == "leave" else editor.paste_face_back()
    assert editor.document is photo and not editor._run_timer.isActive()
    qtbot.wait(300)  # past the timer's 120 ms
    assert started == [] and not editor.controller.busy and photo.preview is None
    assert asked == []


# --- 6: Paste back after Esc, the fill still stopping -------------------------------------
def test_paste_back_after_esc_asks_nothing_and_pastes_without_the_fill(
        qtbot, editor, asked, gated_engine):  # noqa: F811
    photo = editor.document
    original = photo.image.copy()
    assert editor.enter_face(face_from_box(BOX))
    crop = editor.document
    earlier = crop.image.copy()
    earlier[EARLIER] = (0, 255, 0)
    crop.apply_result(earlier, "Fill")  # a change to paste
    editor.controller.settings.engine = "gated"
    paint_crop_hole(crop)
    with qtbot.waitSignal(editor.controller.previewChanged, timeout=30000):
        editor.controller.run()
    changed, hole = in_photo(editor, *EARLIER), in_photo(editor, *CROP_HOLE)
    qtbot.keyClick(editor.canvas, Qt.Key_Escape)
    assert editor.controller.busy  # not stopped yet
    assert editor.face_panel.paste_button.isEnabled()
    editor.face_panel.paste_button.click()
    assert asked == []
    assert editor.faces.edit is None and editor.document is photo
    assert photo.undo_label() == "Face edit"
    qtbot.waitUntil(lambda: not editor.controller.busy, timeout=30000)
    gated_engine.set()
    qtbot.wait(100)
    assert not editor.controller.has_result and photo.preview is None
    assert (photo.image[changed] != original[changed]).any()  # the face's change
    assert np.array_equal(photo.image[hole], original[hole])  # nothing of the fill
    assert "Stopped" not in editor.statusBar().currentMessage()


def test_cancelling_is_false_for_a_fill_running(qtbot, editor, asked, gated_engine):  # noqa: F811
    editor.controller.settings.engine = "gated"
    doc = editor.document
    mask = np.zeros((doc.height, doc.width), np.uint8)
    mask[300:340, 300:400] = 255
    doc.replace_layer(Layer.MASK, mask, "Mask brush")
    with qtbot.waitSignal(editor.controller.previewChanged, timeout=30000):
        editor.controller.run()
    assert editor.controller.busy and not editor.controller.cancelling
    editor.controller.cancel()
    assert editor.controller.cancelling
    qtbot.waitUntil(lambda: not editor.controller.busy, timeout=30000)
    assert not editor.controller.cancelling



# --- the fill after a stroke: mid-drag, after undo, entering a face ------------------------
def _stroke(qtbot, canvas, y: int = 100) -> None:
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 100, y))
    qtbot.mouseMove(canvas, _at(canvas, 200, y))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 200, y))


def _count_starts(window) -> list[bool]:
    started: list[bool] = []
    window.controller.busyChanged.connect(lambda busy: busy and started.append(busy))
    return started


def test_the_fill_after_a_stroke_waits_for_a_drag_under_way(qtbot, editor):  # noqa: F811
    """The timer firing while the next stroke is drawn starts no fill on the open step;
    the fill runs once that stroke ends, on both strokes."""
    canvas, doc = editor.canvas, editor.document
    editor.engine_panel.auto_apply.setChecked(False)
    editor.engine_panel.select_engine("telea")
    editor.engine_panel.auto_run.setChecked(True)
    _stroke(qtbot, canvas)
    assert editor._run_timer.isActive()
    started = _count_starts(editor)
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 100, 300))
    qtbot.mouseMove(canvas, _at(canvas, 200, 300))
    qtbot.wait(300)  # the timer fires mid-drag
    assert started == [] and doc.in_step and not editor._run_timer.isActive()
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 200, 300))
    qtbot.waitUntil(lambda: editor.controller.has_result, timeout=30000)
    assert started == [True]
    hole = editor.controller._pending.request.mask
    assert hole[100, 150] and hole[300, 150]  # both strokes filled


def test_a_drag_that_paints_nothing_still_lets_the_held_fill_run(qtbot, editor):  # noqa: F811
    canvas = editor.canvas
    editor.engine_panel.auto_apply.setChecked(False)
    editor.engine_panel.select_engine("telea")
    editor.engine_panel.auto_run.setChecked(True)
    _stroke(qtbot, canvas)
    started = _count_starts(editor)
    editor.select_tool("label")  # without a label map: the drag paints nothing
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_at(canvas, 100, 300))
    qtbot.wait(300)
    assert started == []
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_at(canvas, 100, 300))
    qtbot.waitUntil(lambda: editor.controller.has_result, timeout=30000)
    assert started == [True]


def test_undoing_the_only_stroke_drops_the_fill_after_it(qtbot, editor):  # noqa: F811
    canvas = editor.canvas
    editor.engine_panel.select_engine("telea")
    editor.engine_panel.auto_run.setChecked(True)
    _stroke(qtbot, canvas)
    assert editor._run_timer.isActive()
    started = _count_starts(editor)
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)
    assert not editor.document.mask.any() and not editor._run_timer.isActive()
    qtbot.wait(300)
    assert started == [] and "Paint over" not in editor.statusBar().currentMessage()


def test_entering_a_face_drops_the_fill_after_a_stroke_on_the_photo(qtbot, editor,  # noqa: F811
                                                                   asked):
    editor.engine_panel.select_engine("telea")
    editor.engine_panel.auto_run.setChecked(True)
    _stroke(qtbot, editor.canvas, y=300)
    assert editor._run_timer.isActive()
    started = _count_starts(editor)
    assert editor.enter_face(face_from_box(BOX))
    assert not editor._run_timer.isActive()
    qtbot.wait(300)
    assert started == [] and not editor.controller.busy
