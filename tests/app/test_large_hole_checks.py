"""The mask check of a fill running and apply_result's guidance and edited-pixel
bookkeeping, worked out around the hole and the lines drawn (bench/README, 2026-11-22):
the same pixels as a whole-picture pass."""

import cv2
import numpy as np
import pytest

from app.controller import _CHECK_ROWS, _unmasked
from app.document import Document, Layer
from engines.guidance import GUIDANCE_REACH, within_reach
from engines.region import Box


def _mask(shape, box, value=255):
    mask = np.zeros(shape, np.uint8)
    mask[box.slices] = value
    return mask


@pytest.mark.parametrize("row", [0, _CHECK_ROWS - 1, _CHECK_ROWS, 2 * _CHECK_ROWS + 7])
def test_a_pixel_unmasked_in_any_band_is_found(row):
    shape = (3 * _CHECK_ROWS, 300)
    rect = Box(0, 10, shape[0], 290)
    used = _mask(shape, rect)
    now = used.copy()
    assert not _unmasked(used, now, rect)
    now[row, 150] = 127  # below the hole's threshold: unmasked
    assert _unmasked(used, now, rect)
    now[row, 150] = 128
    assert not _unmasked(used, now, rect)


def test_more_mask_is_not_unmasking_and_outside_the_rect_is_not_read():
    shape = (600, 400)
    rect = Box(100, 50, 500, 350)
    used = _mask(shape, rect)
    now = used.copy()
    now[:50] = 255  # more mask painted
    assert not _unmasked(used, now, rect)
    used[20, 20] = 255  # a hole pixel outside the rect checked: not looked at
    assert not _unmasked(used, now, rect)
    faint = _mask(shape, rect, 100)  # faint values are no hole: nothing to lose
    assert not _unmasked(faint, np.zeros(shape, np.uint8), rect)


def _expected_lines(layer, hole, used=None):
    """Brute force: the drawn pixels of ``layer`` in or within reach of ``hole`` (> 0)."""
    box = Box.around(hole > 0)
    _, near = within_reach(hole[box.slices] > 0, box, hole.shape)
    grown = box.grown(GUIDANCE_REACH).clip(hole.shape)
    full = np.zeros(hole.shape, bool)
    full[grown.slices] = near
    drawn = (layer if layer.ndim == 2 else layer[..., 3]) > 0
    if used is not None:
        drawn &= (used if used.ndim == 2 else used[..., 3]) > 0
    return full & drawn


@pytest.mark.parametrize("used_mask", [True, False])
def test_apply_clears_the_guidance_drawn_for_a_large_hole_and_keeps_the_rest(used_mask):
    rng = np.random.default_rng(3)
    shape = (700, 900)
    image = rng.integers(0, 255, (*shape, 3), np.uint8)
    hole = _mask(shape, Box(40, 60, 600, 820))
    cv2.circle(hole, (880, 680), 9, 255, -1)  # a second hole in the corner
    sketch = np.zeros(shape, np.uint8)
    for y in range(0, 700, 37):  # lines across the hole, near it and far from it
        cv2.line(sketch, (0, y), (899, (y * 7) % 700), 255, 2)
    color = np.zeros((*shape, 4), np.uint8)
    cv2.line(color, (0, 650), (899, 20), (200, 10, 10, 255), 3)
    cv2.line(color, (0, 690), (899, 690), (9, 9, 9, 0), 3)  # RGB left, alpha 0: not drawn
    used_sketch = sketch.copy()
    sketch[300:320, :] = 255  # drawn while the engine ran: stays
    doc = Document(image)
    for layer, values in ((Layer.MASK, hole), (Layer.SKETCH, sketch), (Layer.COLOR, color)):
        doc.replace_layer(layer, values, "set")
    result = image.copy()
    result[hole > 0] = 7
    doc.apply_result(result, used_mask=hole if used_mask else None,
                     within=Box.around(hole > 0), used_sketch=used_sketch)
    lines = _expected_lines(sketch, hole, used_sketch)
    assert lines.any() and (sketch > 0).sum() > lines.sum()
    assert np.array_equal(doc.layer(Layer.SKETCH), np.where(lines, 0, sketch))
    strokes = _expected_lines(color, hole)
    assert np.array_equal(doc.layer(Layer.COLOR), np.where(strokes[..., None], 0, color))
    assert not doc.mask.any()


def test_the_pixels_a_result_wrote_to_are_marked_over_a_float_original():
    rng = np.random.default_rng(4)
    shape = (600, 700)
    image = rng.integers(0, 255, (*shape, 3), np.uint8)
    doc = Document(image, deep_original=image.astype(np.float32) / 255)
    hole = _mask(shape, Box(30, 20, 580, 680))
    doc.replace_layer(Layer.MASK, hole, "set")
    result = image.copy()
    result[hole > 0] = rng.integers(0, 255, (int((hole > 0).sum()), 3), np.uint8)
    result[100:110, 100:110] = image[100:110, 100:110]  # left as it was, in the hole
    for channel in range(3):  # one channel changed, outside the hole
        result[5, 5 + channel, channel] ^= 1
    doc.apply_result(result, used_mask=hole, within=Box(0, 0, *shape))
    expected = (image != result).any(axis=2) | (hole > 0)
    assert np.array_equal(doc.edited_pixels, expected)
    assert doc.edited_pixels[100, 100] and doc.edited_pixels[5, 5:8].all()
    doc.undo()  # kept after undo
    assert np.array_equal(doc.edited_pixels, expected)


@pytest.fixture
def fill(qtbot):
    """A fill controller (OpenCV Telea, a single final stage) on a document with a hole,
    recording each previewChanged as (stage image or None, label, display_skipped)."""
    from app.controller import FillController
    from app.worker import Worker

    worker = Worker()
    controller = FillController(worker)
    document = Document(np.random.default_rng(5).integers(0, 256, (300, 400, 3), np.uint8))
    document.replace_layer(Layer.MASK, _mask((300, 400), Box(50, 60, 250, 330)), "Import mask")
    controller.set_document(document)
    controller.settings.engine = "telea"
    shown = []
    controller.previewChanged.connect(
        lambda image, box, label: shown.append((image, label, controller.display_skipped)))
    yield controller, document, shown
    worker.shutdown()


COARSE, REFINED = "OpenCV Telea: coarse", "OpenCV Telea: refined"


def _stages(shown):
    return [(label, skipped) for image, label, skipped in shown if image is not None]


def test_a_final_stage_applied_at_once_is_announced_as_not_to_display(qtbot, fill):
    controller, document, shown = fill
    with qtbot.waitSignal(controller.applied, timeout=20000):
        controller.run()
    assert _stages(shown) == [(COARSE, False), (REFINED, True)]
    assert shown[-1][0] is None and not controller.display_skipped
    assert document.undo_label() == "Fill (OpenCV Telea)"


def test_a_final_stage_waiting_for_enter_is_displayed(qtbot, fill):
    controller, document, shown = fill
    controller.settings.auto_apply = False
    with qtbot.waitSignal(controller.waitingChanged, timeout=20000):
        controller.run()
    assert _stages(shown) == [(COARSE, False), (REFINED, False)]
    assert controller.has_result and document.undo_label() == "Import mask"


def test_a_final_stage_not_applied_at_once_after_all_is_displayed_then(qtbot, fill):
    controller, document, shown = fill

    def drag_begins(image, box, label) -> None:  # a brush drag begins as the stage arrives
        if label == REFINED and not document.in_step:
            document.begin_step("Mask brush")

    controller.previewChanged.connect(drag_begins)
    with qtbot.waitSignal(controller.waitingChanged, timeout=20000):
        controller.run()
    # the result waits for the drag's end: its stage is displayed meanwhile
    assert _stages(shown) == [(COARSE, False), (REFINED, True), (REFINED, False)]
    assert shown[-1][0] is controller._pending.final.image
    with qtbot.waitSignal(controller.applied, timeout=5000):
        document.end_step()
    assert document.undo_label() == "Fill (OpenCV Telea)"


def test_the_window_does_not_hand_the_canvas_a_stage_applied_at_once(qtbot, window):
    window.set_document(Document(np.full((120, 160, 3), 90, np.uint8)))
    window.document.replace_layer(Layer.MASK, _mask(window.document.mask.shape,
                                                    Box(10, 10, 60, 80)), "Import mask")
    window.controller.settings.engine = "telea"
    handed = []
    set_preview = window.canvas.set_preview
    window.canvas.set_preview = lambda image, box, label="": (
        handed.append((image is not None, label)), set_preview(image, box, label))
    with qtbot.waitSignal(window.controller.applied, timeout=20000):
        window.fill()
    assert (True, COARSE) in handed and (True, REFINED) not in handed
    window.controller.settings.auto_apply = False
    window.document.replace_layer(Layer.MASK, _mask(window.document.mask.shape,
                                                    Box(10, 10, 60, 80)), "Import mask")
    with qtbot.waitSignal(window.controller.waitingChanged, timeout=20000):
        window.fill()
    assert (True, REFINED) in handed
