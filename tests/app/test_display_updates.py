"""Display work kept off the GUI thread's critical path on large pictures: the canvas
renders coalesced updates, builds a large picture's pyramids on a worker thread, and the
document keeps no second copy of the picture as opened."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
from PySide6.QtCore import QPointF

from app import canvas as canvas_module
from app.canvas import Canvas
from app.document import Document, Layer
from app.viewcache import ViewCache
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
    assert document.changed_box() is None
    result = picture.copy()
    result[300:340, 500:520] = 0
    document.apply_result(result, used_mask=np.zeros((1000, 1200), np.uint8))
    assert document.changed_box() == Box(300, 500, 340, 520)
    as_opened = document.image.copy()
    for area, pixels in document.original_tiles(Box(0, 0, 1000, 1200)):
        as_opened[area.slices] = pixels
    assert np.array_equal(as_opened, picture)
    assert [area for area, _ in document.original_tiles(Box(0, 0, 100, 100))] == []
    document.undo()
    assert document.changed_box() is None
    document.redo()
    assert document.changed_box() == Box(300, 500, 340, 520)


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
