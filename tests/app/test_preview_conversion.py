"""A large preview stage is converted for display on a helper thread: the GUI thread only
swaps the finished patches in, what shows is the engine's stage, and a stage that arrives
after the preview was cleared (or another document shown) never shows."""

from __future__ import annotations

import threading

import numpy as np

from app import canvas as canvas_module
from app.canvas import Canvas
from app.document import Document, Layer
from app.viewcache import ViewCache
from engines.region import Box


def _setup(qtbot, monkeypatch) -> tuple[Canvas, Document, np.ndarray, Box]:
    """A canvas on a document with two holes, every stage sent to the helper thread, and a
    stage that differs from the picture in the holes only."""
    monkeypatch.setattr(canvas_module, "BACKGROUND_PREVIEW_PIXELS", 0)
    canvas = Canvas()
    qtbot.addWidget(canvas)
    picture = np.random.default_rng(7).integers(0, 256, (500, 700, 3), dtype=np.uint8)
    document = Document(picture)
    canvas.set_document(document)
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (150, 120), (150, 120), 20, 255)
        document.paint_segment(Layer.MASK, (560, 380), (560, 380), 20, 255)
    stage = picture.copy()
    stage[document.mask > 0] = np.random.default_rng(8).integers(
        0, 256, (int((document.mask > 0).sum()), 3), dtype=np.uint8)
    return canvas, document, stage, Box(90, 120, 410, 590)


def _prepared_on(monkeypatch, gate: threading.Event | None = None) -> list[threading.Thread]:
    """Record the thread of every ViewCache.prepare_preview (held until ``gate`` is set)."""
    threads = []
    prepare = ViewCache.prepare_preview

    def spy(self, *args):
        threads.append(threading.current_thread())
        if gate is not None:
            gate.wait(10)
        return prepare(self, *args)

    monkeypatch.setattr(ViewCache, "prepare_preview", spy)
    return threads


def test_a_large_stage_is_converted_off_the_gui_thread_and_shows_the_engines_pixels(
        qtbot, monkeypatch):
    canvas, document, stage, box = _setup(qtbot, monkeypatch)
    threads = _prepared_on(monkeypatch)
    canvas.set_preview(stage, box, "Telea: refined")
    canvas.sync_view()
    qtbot.waitUntil(lambda: canvas.view.preview_box is not None, timeout=5000)
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert np.array_equal(canvas.view.preview_levels[0][..., 2::-1], stage[box.slices])
    reference = ViewCache(document)  # the same stage converted here, all of its box
    reference.set_preview(stage, box)
    for shown, expected in zip(canvas.view.preview_levels, reference.preview_levels,
                               strict=True):
        assert np.array_equal(shown, expected)
    assert canvas.stage_label == "Telea: refined"


def test_a_stage_converted_after_the_preview_was_cleared_is_dropped(qtbot, monkeypatch):
    canvas, _document, stage, box = _setup(qtbot, monkeypatch)
    gate = threading.Event()
    _prepared_on(monkeypatch, gate)
    canvas.set_preview(stage, box, "Telea: coarse")
    canvas.sync_view()  # the conversion starts, and waits at the gate
    canvas.set_preview(None, None)  # the run ended (discarded) meanwhile
    canvas.sync_view()
    gate.set()
    qtbot.wait(200)
    qtbot.waitUntil(lambda: not canvas._converting, timeout=5000)
    assert canvas.view.preview_box is None and canvas.view.preview_levels == []
    assert canvas.stage_label == ""


def test_stages_that_arrive_while_one_converts_show_as_the_latest(qtbot, monkeypatch):
    canvas, document, stage, box = _setup(qtbot, monkeypatch)
    gate = threading.Event()
    threads = _prepared_on(monkeypatch, gate)
    canvas.set_preview(stage, box, "stage 1")
    canvas.sync_view()
    qtbot.waitUntil(lambda: len(threads) == 1, timeout=5000)  # held at the gate
    later = [stage.copy() for _ in range(3)]
    for value, image in zip((10, 20, 30), later):
        image[document.mask > 0] = value
        canvas.set_preview(image, box, f"stage {value}")
        canvas.sync_view()  # waits: one conversion at a time
    qtbot.wait(50)
    assert len(threads) == 1
    gate.set()
    qtbot.waitUntil(lambda: canvas.stage_label == "stage 30", timeout=5000)
    assert len(threads) == 2  # the first, then only the latest of those waiting
    assert np.array_equal(canvas.view.preview_levels[0][..., 2::-1], later[-1][box.slices])


def test_a_small_stage_is_still_shown_at_once_on_the_gui_thread(qtbot, monkeypatch):
    canvas, _document, stage, box = _setup(qtbot, monkeypatch)
    monkeypatch.setattr(canvas_module, "BACKGROUND_PREVIEW_PIXELS", 1 << 20)
    threads = _prepared_on(monkeypatch)
    canvas.set_preview(stage, box, "Telea: refined")
    canvas.sync_view()
    assert threads == [threading.main_thread()]
    assert np.array_equal(canvas.view.preview_levels[0][..., 2::-1], stage[box.slices])
