"""The face workflow: faces from a box, the crop document, auto-sketch as one undo step,
paste-back of the changed pixels only (one undo step, exact elsewhere), the box tool and the
panel."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from app import faces
from app.document import Document, Layer
from app.faces import (
    DETECTOR_WEIGHTS,
    FaceBoxTool,
    FacePanel,
    FaceSession,
    engine_for_faces,
    face_from_box,
    paste_weights,
    template_face_box,
)
from app.tools import ToolSettings
from app.viewcache import ViewCache
from app.worker import Worker
from engines import faces as geometry
from engines import registry, weights
from engines.base import Cancelled, CancelToken, InputError, Readiness, Status
from engines.fileio import ImageMetadata
from engines.segmentation.labels import bundled_label_set
from tests.photos import wide_gamut_profile

HEIGHT, WIDTH = 240, 320
TEMPLATE = template_face_box()
ASPECT = (TEMPLATE[3] - TEMPLATE[1]) / (TEMPLATE[2] - TEMPLATE[0])  # height / width
BOX = (110.0, 40.0, 210.0, 40.0 + 100.0 * ASPECT)  # the template's proportions


def photo() -> np.ndarray:
    """A smooth, textured 240x320 picture (every pixel distinct enough to notice changes)."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = np.stack([120 + 80 * np.sin(x / 23.0), 120 + 80 * np.cos(y / 19.0),
                     (x + y) / (HEIGHT + WIDTH) * 255], axis=-1)
    noise = cv2.GaussianBlur(rng.normal(0, 12, (HEIGHT, WIDTH, 3)).astype(np.float32), (0, 0), 1)
    return np.clip(np.rint(base + noise), 0, 255).astype(np.uint8)


@pytest.fixture
def session(qtbot, model_cache):
    worker = Worker()
    session = FaceSession(worker)
    document = Document(photo())
    session.set_document(document)
    yield session, document
    worker.shutdown()


def edit_crop(crop: Document, box: tuple[int, int, int, int], colour) -> np.ndarray:
    """Paint a rectangle (top, left, bottom, right) of the crop as a fill would (one step)."""
    result = crop.image.copy()
    top, left, bottom, right = box
    result[top:bottom, left:right] = colour
    crop.apply_result(result, "Fill")
    return result


# --- a face from a box ------------------------------------------------------------------------

def test_box_landmarks_sit_where_an_upright_faces_features_are():
    x0, y0, x1, y1 = 40.0, 30.0, 140.0, 30.0 + 100.0 * ASPECT
    face = face_from_box((x1, y1, x0, y0))  # any corner order
    assert face.box == (x0, y0, x1, y1)
    width, height = x1 - x0, y1 - y0
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    assert left_eye[0] < nose[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    np.testing.assert_allclose(right_eye[0] - left_eye[0], 0.44 * width, rtol=1e-4)
    np.testing.assert_allclose((left_eye[0] + right_eye[0]) / 2, x0 + width / 2, atol=0.5)
    np.testing.assert_allclose([left_eye[1], right_eye[1]], y0 + 0.40 * height, atol=0.5)
    np.testing.assert_allclose([mouth_left[1], mouth_right[1]], y0 + 0.78 * height, atol=0.5)
    assert y0 + 0.40 * height < nose[1] < y0 + 0.78 * height
    with pytest.raises(InputError):
        face_from_box((10, 10, 14, 60))


def test_box_fallback_builds_a_usable_aligned_face():
    image = photo()
    face = face_from_box(BOX)
    # a dark dot on the photo where the box puts the left eye
    eye = face.landmarks[0]
    cv2.circle(image, (round(eye[0]), round(eye[1])), 2, (0, 0, 0), -1)
    aligned = geometry.align_face(image, face.landmarks)
    assert aligned.crop.shape == (512, 512, 3)
    # a box of the template's proportions lands exactly on the template's box
    corners = np.array([BOX[:2], BOX[2:]])
    np.testing.assert_allclose(aligned.to_crop(corners), TEMPLATE.reshape(2, 2), atol=0.5)
    np.testing.assert_allclose(aligned.to_crop(face.landmarks), geometry.face_template(),
                               atol=0.5)
    # the dot shows in the crop at the template's left eye
    dark = aligned.crop.max(axis=2) < 40
    ys, xs = np.nonzero(dark)
    assert xs.size > 50
    np.testing.assert_allclose([xs.mean(), ys.mean()], geometry.face_template()[0], atol=1.5)
    # a box of other proportions still gives an upright crop centred on the box
    for other in ((60, 40, 260, 160), (100, 20, 160, 220)):
        wide = geometry.align_face(image, face_from_box(other).landmarks)
        assert abs(wide.matrix[0, 1]) < 1e-3 and abs(wide.matrix[1, 0]) < 1e-3
        centre = wide.to_crop(np.array([[(other[0] + other[2]) / 2,
                                         (other[1] + other[3]) / 2]]))[0]
        np.testing.assert_allclose(centre, TEMPLATE.reshape(2, 2).mean(axis=0), atol=0.5)


# --- the session ----------------------------------------------------------------------------

def test_picking_a_face_gives_a_crop_document(qtbot, session):
    session, document = session
    listed = []
    session.facesChanged.connect(listed.append)
    face = session.add_box(BOX)
    assert listed[-1] == [face] and session.is_drawn(face)
    assert session.face_at((160, 100)) is face and session.face_at((5, 5)) is None
    [(caption, thumbnail)] = session.thumbnails()
    assert caption == "Face 1 (box)" and thumbnail.shape == (96, 96, 3)
    with qtbot.waitSignal(session.faceEntered) as entered:
        edit = session.enter(0)
    assert entered.args == [edit] and session.edit is edit
    assert edit.parent is document and edit.face is face
    assert isinstance(edit.document, Document) and edit.document is not document
    assert edit.document.image.shape == (512, 512, 3)
    assert np.array_equal(edit.document.image, edit.aligned.crop)
    assert np.array_equal(edit.aligned.crop,
                          geometry.align_face(document.image, face.landmarks).crop)
    assert not edit.document.can_undo() and not session.has_unpasted_changes
    with qtbot.waitSignal(session.faceLeft) as left:
        assert session.leave() is document
    assert left.args == [document] and session.edit is None


def test_the_face_crop_shares_the_photos_reference_photos(session):
    session, document = session
    first = document.add_reference(np.full((64, 64, 3), 90, np.uint8), "first.png")
    session.add_box(BOX)
    crop = session.enter(0).document
    assert crop.references == (first,)
    request = crop.build_request()
    assert len(request.exemplars) == 1 and np.array_equal(request.exemplars[0], first.rgb)
    second = crop.add_reference(np.full((64, 64, 3), 200, np.uint8), "second.png")
    crop.remove_references([0])
    assert session.leave() is document
    assert document.references == (second,)  # what the face edit changed stays with the photo


def test_the_face_crop_is_shown_in_the_photos_colours(session):
    session, document = session
    document.metadata = ImageMetadata(icc_profile=wide_gamut_profile())
    session.add_box(BOX)
    crop = session.enter(0).document
    assert crop.metadata == document.metadata
    assert ViewCache(crop).to_display is not None


def test_auto_sketch_from_landmarks_is_one_undo_step(session):
    session, _ = session
    session.add_box(BOX)
    edit = session.enter(0)
    crop = edit.document
    crop.begin_step("Sketch pen")  # a line the user drew before stays
    crop.paint_segment(Layer.SKETCH, (20, 20), (60, 20), 1.5, 255)
    crop.end_step()
    steps = []
    session.sketched.connect(steps.append)
    assert session.auto_sketch(use_parser=False) is None  # done at once
    assert len(steps) == 1 and steps[0] is not None
    assert crop.undo_label() == "Auto-sketch"
    sketch = crop.layer(Layer.SKETCH)
    assert (sketch[18:23, 25:55] == 255).any()
    # the mouth line joins the mouth corners (in crop pixels)
    mouth_left, mouth_right = edit.landmarks_in_crop()[3:5]
    for t in np.linspace(0.1, 0.9, 9):
        x, y = mouth_left + t * (mouth_right - mouth_left)
        assert sketch[round(y) - 2:round(y) + 3, round(x)].max() == 255
    # short eye marks at each eye; nothing far from the features
    for eye in edit.landmarks_in_crop()[:2]:
        assert sketch[round(eye[1]) - 2:round(eye[1]) + 3,
                      round(eye[0]) - 4:round(eye[0]) + 5].max() == 255
    assert not sketch[400:, :].any()
    crop.undo()
    assert crop.undo_label() == "Sketch pen"
    assert not crop.layer(Layer.SKETCH)[100:, :].any()


class FakeParser:
    """Stands in for the face parser: a skin oval with a mouth on background."""

    def __init__(self) -> None:
        self.label_set = bundled_label_set("face_parsing19", "face19")
        self.threads = []

    def status(self):
        return Status(Readiness.READY)

    def parse_crop(self, crop):
        self.threads.append(threading.current_thread())
        names = self.label_set.names
        labels = np.full(crop.shape[:2], names.index("background"), np.uint8)
        cv2.ellipse(labels, (256, 280), (130, 170), 0, 0, 360, names.index("skin"), -1)
        cv2.ellipse(labels, (256, 372), (50, 16), 0, 0, 360, names.index("u_lip"), -1)
        return labels


def test_auto_sketch_with_the_parser_runs_on_the_worker(qtbot, session, monkeypatch):
    session, _ = session
    parser = FakeParser()
    monkeypatch.setattr(faces, "face_parser", lambda: parser)
    assert session.parser_ready()
    session.add_box(BOX)
    crop = session.enter(0).document
    with qtbot.waitSignal(session.sketched, timeout=20000):
        assert session.auto_sketch() is not None  # a worker task
    assert parser.threads and parser.threads[0] is not threading.main_thread()
    assert crop.undo_label() == "Auto-sketch"
    sketch = crop.layer(Layer.SKETCH) > 0
    rows, cols = np.mgrid[0:512, 0:512]

    def near_ellipse(cx, cy, ax, ay):
        radius = np.sqrt(((cols - cx) / ax) ** 2 + ((rows - cy) / ay) ** 2)
        return np.abs(radius - 1) * min(ax, ay) <= 3

    face_outline = near_ellipse(256, 280, 130, 170)
    lips = near_ellipse(256, 372, 50, 16)
    assert (sketch & face_outline).sum() >= 0.7 * face_outline.sum() / 7  # a 1-2 px line
    assert (sketch & lips).sum() > 50
    assert not (sketch & ~(face_outline | lips)).any()


def test_detection_runs_on_the_worker_and_keeps_drawn_faces(qtbot, session, monkeypatch):
    session, _ = session
    errors = []
    session.error.connect(errors.append)
    assert session.detect() is None  # no detector weights in the test cache
    assert "Use a box" in errors[-1]
    drawn = session.add_box(BOX)
    found = [face_from_box((20, 20, 80, 100), 0.99)]
    threads = []

    def fake_detect(image, cancel):
        threads.append(threading.current_thread())
        return found

    monkeypatch.setattr(FaceSession, "detector_ready", staticmethod(lambda: True))
    monkeypatch.setattr(faces, "detect", fake_detect)
    with qtbot.waitSignal(session.facesChanged, timeout=20000) as changed:
        assert session.detect() is not None
    assert threads[0] is not threading.main_thread()
    assert changed.args == [[found[0], drawn]] and session.faces == [found[0], drawn]
    assert [c for c, _ in session.thumbnails()] == ["Face 1 (99%)", "Face 2 (box)"]


def test_paste_back_changes_only_the_edited_area_and_is_one_undo_step(qtbot, session):
    session, document = session
    original = document.image.copy()
    document.begin_step("Mask brush")  # the photo's mask is left alone
    document.paint_segment(Layer.MASK, (20, 200), (40, 200), 6, 255)
    document.end_step()
    mask_before = document.mask.copy()
    session.add_box(BOX)
    edit = session.enter(0)
    changes = []
    session.editChanged.connect(changes.append)
    edit_crop(edit.document, (330, 200, 380, 310), (250, 30, 30))  # "the mouth"
    assert changes == [True] and session.has_unpasted_changes
    with qtbot.waitSignal(session.pasted) as pasted:
        step = session.paste_back()
    assert step is not None and pasted.args == [step]
    assert document.undo_label() == "Face edit" and changes == [True, False]
    assert not session.has_unpasted_changes
    assert np.array_equal(document.mask, mask_before)
    image = document.image
    changed = (image != original).any(axis=2)
    # every changed pixel lies where the edited rectangle (grown by the paste margins) maps
    reach = np.zeros((512, 512), np.uint8)
    margin = faces.PASTE_GROW + faces.PASTE_FEATHER + 2
    reach[330 - margin:380 + margin, 200 - margin:310 + margin] = 255
    allowed = geometry.warp_to_image(reach, edit.aligned) > 0
    assert changed.any() and not (changed & ~allowed).any()
    # the edit arrived: the rectangle's middle is red in the photo
    centre = edit.aligned.to_image(np.array([[255.0, 355.0]]))[0]
    assert tuple(image[round(centre[1]), round(centre[0])]) == (250, 30, 30)
    # the same as pasting with the full-image back end and these weights
    weights = paste_weights(faces.changed_pixels(edit.document.image, edit.aligned.crop))
    expected = geometry.paste_back(original, edit.document.image, edit.aligned, weights)
    assert np.array_equal(image, expected)
    document.undo()
    assert np.array_equal(document.image, original)
    assert document.undo_label() == "Mask brush"


def test_an_edit_lands_at_the_inverse_position_within_one_pixel(session):
    session, document = session
    session.add_box(BOX)
    edit = session.enter(0)
    point = np.array([300.0, 210.0])  # crop pixels
    result = edit.document.image.copy()
    cv2.circle(result, (300, 210), 6, (255, 255, 255), -1)
    edit.document.apply_result(result, "Fill")
    before = document.image.copy()
    assert session.paste_back() is not None
    difference = np.abs(document.image.astype(int) - before.astype(int)).sum(axis=2)
    ys, xs = np.nonzero(difference > 60)
    weights = difference[ys, xs]
    found = np.array([np.sum(xs * weights), np.sum(ys * weights)]) / weights.sum()
    np.testing.assert_allclose(found, edit.aligned.to_image(point[None])[0], atol=1.0)


def test_paste_back_without_edits_changes_nothing(session):
    session, document = session
    original = document.image.copy()
    session.add_box(BOX)
    edit = session.enter(0)
    messages = []
    session.message.connect(messages.append)
    assert session.paste_back() is None
    assert "unchanged" in messages[-1]
    # an edit undone in the crop is no change either
    edit_crop(edit.document, (100, 100, 150, 150), (0, 0, 255))
    edit.document.undo()
    assert session.paste_back() is None
    assert np.array_equal(document.image, original) and not document.can_undo()


def test_a_second_paste_takes_only_the_new_changes(session):
    session, document = session
    session.add_box(BOX)
    edit = session.enter(0)
    edit_crop(edit.document, (100, 100, 140, 140), (0, 255, 0))
    session.paste_back()
    after_first = document.image.copy()
    edit_crop(edit.document, (400, 350, 440, 390), (0, 0, 255))
    session.paste_back()
    changed = (document.image != after_first).any(axis=2)
    first_area = geometry.warp_to_image(
        np.pad(np.full((60, 60), 255, np.uint8), ((90, 362), (90, 362))), edit.aligned) > 0
    assert changed.any() and not (changed & first_area).any()
    document.undo()
    assert np.array_equal(document.image, after_first)


def test_paste_back_refuses_when_the_photo_changed(session):
    session, document = session
    session.add_box(BOX)
    edit = session.enter(0)
    edit_crop(edit.document, (100, 100, 140, 140), (0, 255, 0))
    changed = document.image.copy()
    changed[0, 0] = 255 - changed[0, 0]
    document.apply_result(changed, "Fill")
    errors = []
    session.error.connect(errors.append)
    assert session.paste_back() is None and "photo changed" in errors[-1]


def test_paste_weights_cover_the_change_then_fade():
    changed = np.zeros((64, 64), bool)
    changed[30:34, 30:34] = True
    weights = paste_weights(changed, grow=2, feather=6)
    assert weights.dtype == np.uint8
    assert (weights[28:36, 30:34] == 255).all() and (weights[30:34, 28:36] == 255).all()
    assert weights[31, 38] < 255 and weights[31, 38] > weights[31, 40] > 0
    assert weights[31, 43:].max() == 0 and weights[:20].max() == 0


def test_engine_for_faces(monkeypatch, model_cache):
    assert engine_for_faces() == "patchmatch"  # EdgeConnect CelebA weights not installed
    monkeypatch.setattr(registry.engine_class("edgeconnect-face"), "status",
                        lambda self: Status(Readiness.READY))
    assert engine_for_faces() == "edgeconnect-face"


# --- the box tool and the panel ---------------------------------------------------------------

def test_face_box_tool_reports_boxes_and_clicks():
    boxes, clicks, drags = [], [], []
    tool = FaceBoxTool(ToolSettings(), boxes.append, clicks.append, drags.append)
    document = Document(photo())
    tool.press(document, (200.0, 150.0))
    tool.move(document, (150.0, 90.0))
    assert tool.release(document, (120.0, 60.0)) is False  # edits nothing
    assert drags == [(150.0, 90.0, 200.0, 150.0)] and boxes == [(120.0, 60.0, 200.0, 150.0)]
    tool.press(document, (50.0, 50.0))
    tool.release(document, (52.0, 51.0))
    assert clicks == [(52.0, 51.0)] and len(boxes) == 1
    assert not document.can_undo()


def test_a_damaged_detector_file_is_named_as_damaged_not_missing(qtbot, session):
    session, _ = session
    page = weights.local_path(DETECTOR_WEIGHTS)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_bytes(b"<!DOCTYPE html><html><body>Quota exceeded</body></html>")
    errors = []
    session.error.connect(errors.append)
    assert session.detect() is None
    [error] = errors
    assert error == ("Face detection cannot start, as its weights file is damaged: replace it "
                     "in File → Models… (Download, or Import file… with a copy you have); or "
                     "Use a box and drag a box from mid-forehead to the chin")
    panel = FacePanel()
    qtbot.addWidget(panel)
    assert panel.hint.text().startswith("The face detector's file is damaged")
    page.unlink()  # missing, not damaged: the usual advice
    panel.refresh_models()
    assert panel.hint.text().startswith("No face detector installed")


def test_panel_lists_faces_and_follows_the_mode(qtbot, session, monkeypatch):
    session, _ = session
    panel = FacePanel()
    qtbot.addWidget(panel)
    assert not panel.download_button.isHidden() and "Use a box" in panel.hint.text()
    session.add_box(BOX)
    session.add_box((20, 20, 80, 100))
    panel.set_faces(session.thumbnails())
    assert panel.faces.count() == 2 and panel.faces.item(1).text() == "Face 2 (box)"
    assert panel.edit_button.isEnabled() and not panel.paste_button.isEnabled()
    with qtbot.waitSignal(panel.faceChosen) as chosen:
        panel.faces.setCurrentRow(1)
        panel.edit_button.click()
    assert chosen.args == [1]
    panel.set_editing(True)
    assert not panel.detect_button.isEnabled() and panel.sketch_button.isEnabled()
    assert not panel.paste_button.isEnabled()
    panel.set_has_changes(True)
    with qtbot.waitSignal(panel.pasteRequested):
        panel.paste_button.click()
    with qtbot.waitSignal(panel.leaveRequested):
        panel.leave_button.click()
    panel.set_editing(False)
    assert panel.detect_button.isEnabled() and not panel.paste_button.isEnabled()
    asked, detects = [], []
    panel.detectRequested.connect(lambda: detects.append(1))
    monkeypatch.setattr(faces, "offer_download",
                        lambda ids, parent, purpose: asked.append(ids) or False)
    with qtbot.waitSignal(panel.modelsChanged):
        panel.download_button.click()
    assert asked == [faces.FACE_WEIGHTS]
    panel.detect_button.click()  # no detector: the download is offered, declined: no detection
    assert len(asked) == 2 and not detects
    monkeypatch.setattr(FaceSession, "detector_ready", staticmethod(lambda: True))
    panel.detect_button.click()
    assert len(asked) == 2 and detects == [1]
    panel.show_box_preview(session.box_preview((100, 40, 200, 160)))
    assert not panel.preview.isHidden() and session.box_preview((1, 1, 3, 3)) is None


def test_a_cancelled_detection_stops_inside_the_detector(monkeypatch):
    """The worker's detection runs the detector under the task's token: a network held by
    the model slot (which watches every layer) stops at its next layer once cancelled."""
    import torch

    from engines.device import ModelSlot

    slot = ModelSlot()
    layers = slot.get("detector", lambda: torch.nn.Sequential(torch.nn.Linear(3, 3)))

    def run_the_detector(image, detector):
        layers(torch.ones(1, 3))
        return []

    monkeypatch.setattr(geometry, "detect_faces", run_the_detector)
    cancel = CancelToken()
    assert faces.detect(np.zeros((8, 8, 3), np.uint8), cancel) == []
    cancel.cancel()
    with pytest.raises(Cancelled):
        faces.detect(np.zeros((8, 8, 3), np.uint8), cancel)
