"""Switching between the photo and a face crop, or to another picture, keeps what belongs to
each: entering a face asks before it drops the photo's fill, text detection follows the
document shown, a failed Open keeps the face edit, leaving a face shows the photo as it was
shown, and the faces panel shows a face run's failure."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from app import faces, watermark_dialogs
from app.document import Layer
from app.window import MainWindow
from engines import registry
from engines.base import Engine, InputError, Readiness, RegionStage, Status
from engines.fileio import save_image

pytestmark = pytest.mark.timeout(120)

BOX = (40, 20, 90, 80)  # a face box in the 96x128 picture
HOLE = (slice(36, 60), slice(48, 80))


@pytest.fixture
def window(qtbot, tmp_path, textured, model_cache):
    """A shown window on a small textured picture, no fill after each stroke; ``asked``
    lists the questions' titles, answered with ``answer`` (False at first)."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    window.asked, window.answer = [], False
    window.confirm = lambda title, text: window.asked.append(title) or window.answer
    window.show_error = lambda text: None  # never a message box
    assert window.open_path(save_image(tmp_path / "picture.png", textured))
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.auto_apply.setChecked(False)
    yield window
    window.worker.shutdown()


def paint_hole(document) -> None:
    mask = np.zeros((document.height, document.width), np.uint8)
    mask[HOLE] = 255
    document.replace_layer(Layer.MASK, mask, "Mask brush")


@pytest.fixture
def gated_engine(monkeypatch):
    """Engine "gated" (title "Gated"): a coarse stage at once, the refined one after the
    returned event is set (stops when cancelled)."""
    gate = threading.Event()

    class Gated(Engine):
        name = "gated"
        title = "Gated"

        def inpaint_region(self, region, cancel):
            yield RegionStage("coarse", np.full_like(region.image, 10), 0.5)
            while not gate.wait(0.02):
                cancel.raise_if_cancelled()
            yield RegionStage("refined", np.full_like(region.image, 20), 1.0, final=True)

    monkeypatch.setitem(registry._ENGINES, "gated", Gated)
    yield gate
    gate.set()


@pytest.fixture
def gated_text(monkeypatch):
    """Text detection that finds a band across the picture once the returned event is
    set."""
    release = threading.Event()

    def detect(image):
        release.wait(20)
        found = np.zeros(image.shape[:2], np.uint8)
        found[4:12, :] = 255
        return found

    monkeypatch.setattr(watermark_dialogs, "detect_text_mask", detect)
    yield release
    release.set()


# --- entering a face with the photo's fill waiting or running ------------------------------
def test_entering_a_face_asks_before_dropping_a_fill_waiting_for_enter(qtbot, window):
    photo = window.document
    original = photo.image.copy()
    window.engine_panel.select_engine("telea")
    paint_hole(photo)
    with qtbot.waitSignal(window.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        window.controller.run()
    assert window.controller.has_result

    window._on_face_box(BOX)  # "No": the photo and its fill stay
    assert window.asked == ["Fill not applied"]
    assert window.faces.edit is None and window.document is photo
    assert window.controller.has_result and photo.preview is not None
    assert window.controller.apply()  # Enter still applies it
    assert (photo.image[HOLE] != original[HOLE]).any()

    paint_hole(photo)
    with qtbot.waitSignal(window.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        window.controller.run()
    window.asked.clear()
    window.answer = True
    window.face_panel.faceChosen.emit(0)  # Edit face in the panel: the same question
    assert window.asked == ["Fill not applied"] and window.faces.edit is not None
    assert not window.controller.has_result and photo.preview is None


def test_entering_a_face_asks_before_stopping_a_running_fill(qtbot, window, gated_engine):
    photo = window.document
    original = photo.image.copy()
    window.controller.settings.engine = "gated"
    paint_hole(photo)
    with qtbot.waitSignal(window.controller.previewChanged, timeout=30000):
        window.controller.run()
    assert window.controller.busy

    window._on_face_box(BOX)  # "No": the fill goes on and arrives
    assert window.asked == ["Fill running"] and window.faces.edit is None
    with qtbot.waitSignal(window.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        gated_engine.set()
    assert window.controller.has_result and window.controller.apply()
    assert (photo.image[HOLE] != original[HOLE]).any(axis=2).all()

    gated_engine.clear()
    paint_hole(photo)
    window.controller.run()
    window.asked.clear()
    window.answer = True
    window._on_face_box(BOX)  # "Yes": stopped, the face shown
    assert window.asked == ["Fill running"] and window.document is window.faces.edit.document
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=30000)
    assert not window.controller.has_result and photo.undo_label() == "Mask brush"


def test_entering_a_face_without_a_fill_asks_nothing(window):
    window._on_face_box(BOX)
    assert window.asked == [] and window.faces.edit is not None


# --- text detection follows the document shown ---------------------------------------------
def test_text_detection_started_on_the_photo_stops_when_a_face_is_entered(
        qtbot, window, gated_text):
    photo = window.document
    window.detect_text()
    assert window.text_masks.busy
    window._on_face_box(BOX)
    crop = window.document
    gated_text.set()
    qtbot.waitUntil(lambda: not window.text_masks.busy, timeout=30000)
    qtbot.wait(100)
    assert not photo.mask.any() and not crop.mask.any()
    assert photo.undo_label() is None
    assert "proposed" not in window.statusBar().currentMessage()


def test_text_detection_started_in_a_face_stops_when_it_is_left(qtbot, window, gated_text):
    photo = window.document
    window._on_face_box(BOX)
    crop = window.document
    window.detect_text()
    window.leave_face(ask=False)
    gated_text.set()
    qtbot.waitUntil(lambda: not window.text_masks.busy, timeout=30000)
    qtbot.wait(100)
    assert window.document is photo and not photo.mask.any() and not crop.mask.any()
    assert "proposed" not in window.statusBar().currentMessage()


def test_text_detection_stops_when_another_picture_is_opened(
        qtbot, window, gated_text, tmp_path):
    old = window.document
    window.detect_text()
    assert window.open_path(save_image(tmp_path / "other.png",
                                       np.full((50, 70, 3), 90, np.uint8)))
    new = window.document
    gated_text.set()
    qtbot.waitUntil(lambda: not window.text_masks.busy, timeout=30000)
    qtbot.wait(100)
    assert not old.mask.any() and not new.mask.any()
    assert "proposed" not in window.statusBar().currentMessage()
    # on the picture shown it still lands
    with qtbot.waitSignal(window.text_masks.proposed, timeout=30000):
        window.detect_text()
    assert new.mask[4:12, :].all() and not new.mask[12:].any()


# --- Open while in a face edit -------------------------------------------------------------
def test_a_failed_open_keeps_the_face_edit(window, tmp_path):
    photo = window.document
    window.engine_panel.select_engine("telea")
    window._on_face_box(BOX)
    crop = window.document
    with crop.step("Sketch pen"):  # face work (a mask stroke alone would not be asked about)
        crop.paint_segment(Layer.SKETCH, (200, 300), (320, 300), 20, 255)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot a picture")
    window.answer = True
    assert not window.open_path(broken)
    assert window.asked == ["Unsaved changes"]
    assert window.faces.edit is not None and window.document is crop
    assert window.face_panel.editing and crop.layer(Layer.SKETCH).any()
    assert window.windowTitle().startswith("Face in")

    window.asked.clear()
    assert window.open_path(save_image(tmp_path / "other.png",
                                       np.full((50, 70, 3), 90, np.uint8)))
    assert window.asked == ["Unsaved changes"]  # once
    assert window.faces.edit is None and window.document is not photo
    assert window.document.width == 70 and not window.face_panel.editing
    assert window.actions["save"].isEnabled()
    assert window.controller.settings.engine == "telea"  # the photo's, not the face's


# --- leaving a face shows the photo as it was ----------------------------------------------
def test_leaving_a_face_restores_the_photos_zoom_centre_tool_and_engine(window):
    canvas = window.canvas
    window.engine_panel.select_engine("telea")
    canvas.zoom_by(3.0)
    canvas.pan_by(-40, -25)
    window.select_tool("label")
    zoom = canvas.zoom
    centre = canvas.image_point(QPointF(canvas.width() / 2, canvas.height() / 2))
    window._on_face_box(BOX)
    assert canvas.tool.name == "sketch" and window.controller.settings.engine != "telea"
    canvas.zoom_by(0.5)  # the face's own view
    window.leave_face(ask=False)
    assert canvas.zoom == pytest.approx(zoom)
    x, y = canvas.image_point(QPointF(canvas.width() / 2, canvas.height() / 2))
    assert abs(x - centre[0]) * zoom < 2 and abs(y - centre[1]) * zoom < 2
    assert canvas.tool.name == "label" and window.actions["tool_label"].isChecked()
    assert window.controller.settings.engine == "telea"


def test_a_fitted_photo_stays_fitted_after_a_face(qtbot, window):
    canvas = window.canvas
    fitted = (canvas.zoom, canvas.offset)
    window._on_face_box(BOX)
    window.leave_face(ask=False)
    assert (canvas.zoom, canvas.offset) == fitted
    window.resize(700, 500)  # a fitted picture is fitted again
    qtbot.waitUntil(lambda: canvas.zoom < fitted[0], timeout=5000)
    assert canvas.fitted
    window._on_face_box(BOX)
    window.resize(900, 650)  # while the face shows: the photo comes back fitted to this size
    qtbot.waitUntil(lambda: canvas.width() > 500, timeout=5000)
    window.leave_face(ask=False)
    assert canvas.fitted
    width, height = window.document.width, window.document.height
    assert canvas.zoom == pytest.approx(min(canvas.width() / width,
                                            canvas.height() / height) * 0.98)


# --- the faces panel says what failed ------------------------------------------------------
class BrokenParser:
    """A face parser whose checkpoint turns out not to fit when it is loaded."""

    def status(self):
        return Status(Readiness.READY)

    def parse_crop(self, crop):
        raise InputError("the face parser's file does not fit its network")


def test_a_failed_auto_sketch_is_shown_in_the_faces_panel(qtbot, window, monkeypatch):
    monkeypatch.setattr(faces, "face_parser", BrokenParser)
    window._on_face_box(BOX)
    assert window.face_panel.status.text().startswith("Editing the face")
    with qtbot.waitSignal(window.faces.error, timeout=30000):
        window.faces.auto_sketch(use_parser=True)
    assert "does not fit its network" in window.face_panel.status.text()
