"""Display work kept off the GUI thread's critical path on large pictures: the canvas
renders coalesced updates (no pixel twice), builds a large picture's pyramids on a worker
thread, and the document keeps no second copy of the picture as opened."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from app import canvas as canvas_module
from app.canvas import Canvas
from app.document import Document, Layer
from app.viewcache import ViewCache, add_box
from engines.region import Box


def _picture(height=600, width=800) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_a_new_label_map_and_its_palette_are_composited_once(qtbot, monkeypatch):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    document = Document(_picture())
    canvas.set_document(document)
    rendered, based = [], []
    render, base = ViewCache._render_overlay, ViewCache._render_base
    monkeypatch.setattr(ViewCache, "_render_overlay",
                        lambda self, box: rendered.append(box) or render(self, box))
    monkeypatch.setattr(ViewCache, "_render_base",
                        lambda self, box: based.append(box) or base(self, box))
    labels = np.zeros((600, 800), np.uint8)
    labels[:, 400:] = 1
    document.replace_label_map(labels, None, "Compute map")  # the layer changes...
    canvas.style.palette = canvas.style.palette[::-1].copy()  # ...then its colours
    canvas.refresh_overlays()
    qtbot.wait(20)
    assert rendered == [Box(0, 0, 600, 800)] and based == []
    colours = canvas.view.levels[0].overlay
    assert (colours[10, 10] != colours[10, 700]).any() and colours[10, 10, 3] > 0


def test_changes_waiting_for_the_view_are_rendered_before_painting(qtbot):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    document = Document(np.zeros((300, 400, 3), np.uint8))
    canvas.set_document(document)
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (200, 150), (200, 150), 20, 255)
    shot = canvas.grab().toImage()  # painting takes the change first
    centre = canvas.offset + QPointF(200, 150) * canvas.zoom
    assert shot.pixelColor(centre.toPoint()).red() > 60


def test_a_large_picture_gets_its_display_built_off_the_gui_thread(qtbot, monkeypatch):
    monkeypatch.setattr(canvas_module, "BACKGROUND_VIEW_PIXELS", 1000)
    built_on = []
    build = ViewCache.__init__

    def spy(self, *args, **kwargs):
        built_on.append(threading.current_thread())
        build(self, *args, **kwargs)

    monkeypatch.setattr(ViewCache, "__init__", spy)
    canvas = Canvas()
    qtbot.addWidget(canvas)
    picture = _picture(120, 160)
    canvas.set_document(Document(picture))
    assert built_on and built_on[0] is not threading.main_thread()
    assert np.array_equal(canvas.view.levels[0].base[..., 2::-1], picture)


def test_the_picture_as_opened_is_kept_without_a_second_copy():
    picture = _picture(1000, 1200)
    tracemalloc.start()
    try:
        document = Document(picture)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * picture.nbytes  # the picture being edited, not also its original

    def as_opened() -> np.ndarray:
        """The picture rebuilt from the kept original tiles alone."""
        pixels = document.image.copy()
        for area, tile in document.original_tiles(Box(0, 0, 1000, 1200)):
            pixels[area.slices] = tile
        return pixels

    assert document.original_tiles(Box(0, 0, 1000, 1200)) == []
    result = picture.copy()
    result[300:340, 500:520] = 0
    document.apply_result(result, used_mask=np.zeros((1000, 1200), np.uint8))
    assert np.array_equal(as_opened(), picture)
    assert [area for area, _ in document.original_tiles(Box(0, 0, 100, 100))] == []
    document.undo()
    assert np.array_equal(document.image, picture) and np.array_equal(as_opened(), picture)
    document.redo()
    assert np.array_equal(document.image, result) and np.array_equal(as_opened(), picture)


def test_the_canvas_paints_the_preview_over_the_hole_only(qtbot):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    picture = np.full((600, 800, 3), 100, np.uint8)
    document = Document(picture)
    canvas.set_document(document)
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (200, 200), (200, 200), 40, 255)
        document.paint_segment(Layer.MASK, (600, 400), (600, 400), 40, 255)
    result = picture.copy()
    result[document.mask > 0] = (0, 250, 0)
    result[document.mask == 0] = (250, 0, 0)  # breaks the rule on purpose: must not show
    canvas.set_preview(result, Box(160, 160, 441, 641), "Telea: refined")
    for zoom in (canvas.fit, canvas.actual_size):
        zoom()
        if zoom == canvas.actual_size:
            canvas.offset = QPointF(-400, -250)  # (600, 400) in the middle
        shot = canvas.grab().toImage()
        for (x, y), colour in (((600, 400), (0, 250, 0)), ((500, 420), (100, 100, 100))):
            point = (canvas.offset + QPointF(x, y) * canvas.zoom).toPoint()
            shown = shot.pixelColor(point)
            assert abs(shown.red() - colour[0]) < 20 and abs(shown.green() - colour[1]) < 20
    assert canvas.stage_label == "Telea: refined"


@pytest.fixture
def composited(monkeypatch):
    """Counts, per picture pixel, how often the overlay is composited there (call it with
    the picture's shape first)."""
    counts = []
    render = ViewCache._render_overlay

    def counted(self, box):
        counts[0][box.slices] += 1
        render(self, box)

    def start(shape):
        counts[:] = [np.zeros(shape, int)]
        monkeypatch.setattr(ViewCache, "_render_overlay", counted)
        return counts[0]

    return start


def test_a_box_that_joins_two_waiting_boxes_merges_them_all():
    boxes = []
    for box in (Box(0, 0, 100, 100), Box(0, 200, 100, 300), Box(0, 50, 100, 250)):
        add_box(boxes, box)
    assert boxes == [Box(0, 0, 100, 300)]
    add_box(boxes, Box(50, 250, 150, 350))  # half in: only the rest is added, in pieces
    covered = np.zeros((200, 400), int)
    for box in boxes:
        covered[box.slices] += 1
    assert covered.max() == 1
    assert covered[:100, :300].all() and covered[50:150, 250:350].all()
    assert covered.sum() == 100 * 300 + 100 * 100 - 50 * 50


def test_an_undone_fill_composites_each_overlay_pixel_once(qtbot, composited):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    document = Document(_picture(700, 900))
    canvas.set_document(document)
    with document.step("Mask brush"):  # an L: along the top, then down the right
        document.paint_segment(Layer.MASK, (60, 100), (700, 100), 30, 255)
        document.paint_segment(Layer.MASK, (700, 100), (700, 450), 30, 255)
    with document.step("Sketch pen"):  # a line drawn in the hole's right arm only
        document.paint_segment(Layer.SKETCH, (700, 120), (700, 440), 2, 255)
    result = document.image.copy()
    result[document.mask > 0] = (20, 90, 200)
    document.apply_result(result, used_mask=document.mask.copy())  # clears the line too
    canvas.sync_view()
    counts = composited((700, 900))
    document.undo()  # the mask's tiles and the sketch's tiles, joined each their own way
    canvas.sync_view()
    assert counts.max() == 1
    assert counts[document.mask > 0].all() and counts[document.layer(Layer.SKETCH) > 0].all()
    shown = canvas.view.levels[0].overlay.copy()
    canvas.view.refresh_overlay()
    assert np.array_equal(shown, canvas.view.levels[0].overlay)


def test_a_preview_cleared_with_a_mask_change_composites_the_mask_once(qtbot, composited):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    document = Document(_picture())
    canvas.set_document(document)
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (150, 200), (650, 300), 40, 255)
    result = document.image.copy()
    result[document.mask > 0] = (20, 90, 200)
    canvas.set_preview(result, Box(150, 100, 350, 700), "Telea: refined")
    canvas.sync_view()
    counts = composited((600, 800))
    canvas.set_preview(None, None)  # the fill dropped (a new stroke over its hole)...
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (300, 240), (500, 260), 60, 255)
    canvas.sync_view()  # ...and the mask shown again: once, with the stroke's box
    assert counts.max() == 1 and counts[document.mask > 0].all()
    shown = canvas.view.levels[0].overlay.copy()
    canvas.view.refresh_overlay()
    assert np.array_equal(shown, canvas.view.levels[0].overlay)
