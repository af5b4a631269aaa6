"""A fill of most of a large picture leaves the GUI thread no work of the picture's size in
one piece: applying it finds its backups made on the worker (only the writes are left),
its stages do not read the hole while the mask is as it was, and the display of a change
that large is rendered in bands across turns of the event loop, the fill's preview shown
until the picture under it is rendered (the old picture never flashes)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app import canvas as canvas_module
from app import controller as controller_module
from app import document as document_module
from app.canvas import Canvas
from app.controller import FillController
from app.document import Document, Layer, PreparedResult, Snapshot
from app.viewcache import ViewCache
from app.worker import Worker
from engines.region import Box
from tests.app.test_large_edits import held_compressor  # noqa: F401 - a fixture
from tests.app.test_window import thread_recorder


def _picture(height=700, width=900, seed=3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _holed(height=700, width=900) -> Document:
    """A document whose hole covers most of it (a rectangle, with a ragged brush stroke)."""
    document = Document(_picture(height, width))
    hole = np.zeros((height, width), np.uint8)
    hole[40:height - 50, 30:width - 60] = 255
    document.replace_layer(Layer.MASK, hole, "Import mask")
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (5, 5), (width - 5, height - 5), 9, 255)
    return document


def _filled(document: Document, value: int = 40) -> np.ndarray:
    result = document.image.copy()
    result[document.mask > 0] = value
    return result


def _prepared_elsewhere(snapshot: Snapshot, result: np.ndarray, box: Box) -> PreparedResult:
    """``snapshot.prepare_result`` run on another thread, as the worker runs it."""
    made = []
    thread = threading.Thread(target=lambda: made.append(snapshot.prepare_result(result, box)))
    thread.start()
    thread.join()
    return made[0]


def _states(document: Document) -> tuple[np.ndarray, np.ndarray]:
    return document.image.copy(), document.mask.copy()


def test_a_prepared_result_applies_the_same_step_with_no_copy_or_comparison(monkeypatch):
    document, twin = _holed(), _holed()
    box = document.hole_box()
    snapshot = document.snapshot()
    result = _filled(document)
    prepared = _prepared_elsewhere(snapshot, result, box)
    before = _states(document)
    compared = []
    same = document_module._same
    monkeypatch.setattr(document_module, "_same",
                        lambda old, new: compared.append(1) or same(old, new))
    step = document.apply_result(result, used_mask=snapshot.request.mask, within=box,
                                 prepared=prepared)
    assert not compared  # the worker compared the tiles
    backups = {**{(Layer.IMAGE, *key): old for key, (_, old) in prepared.image.items()},
               **{(Layer.MASK, *key): old for key, (_, old) in prepared.mask.items()}}
    # each backup is the worker's copy, not one made here
    assert {(d.layer, d.row, d.col): d.raw_old for d in step.diffs}.keys() == backups.keys()
    assert all(d.raw_old is backups[d.layer, d.row, d.col] for d in step.diffs)
    monkeypatch.setattr(document_module, "_same", same)
    # the same step as without it
    twin_step = twin.apply_result(result, used_mask=twin.snapshot().request.mask, within=box)
    assert [(d.layer, d.row, d.col) for d in step.diffs] \
        == [(d.layer, d.row, d.col) for d in twin_step.diffs]
    after = _states(document)
    assert np.array_equal(after[0], result) and not after[1].any()
    for doc in (document, twin):
        for move, expected in ((doc.undo, before), (doc.redo, after), (doc.undo, before)):
            move()
            assert all(np.array_equal(a, b) for a, b in zip(_states(doc), expected))
        doc.settle()


def test_a_large_prepared_result_brings_its_layers_whole_leaving_the_old_ones_as_they_were(
        monkeypatch, held_compressor):  # noqa: F811 - the fixture
    monkeypatch.setattr(document_module, "ADOPT_PIXELS", 0)  # every change counts as large
    document = _holed()
    brushed = _states(document)  # the brush step's job, held, reads the mask array later
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (100, 670), (300, 675), 8, 255)
    before = _states(document)
    box = document.hole_box()
    snapshot = document.snapshot()
    result = _filled(document)
    prepared = _prepared_elsewhere(snapshot, result, box)
    assert prepared.new_image is not None and prepared.new_mask is not None
    old_image, old_mask = document.image, document.mask
    document.apply_result(result, used_mask=snapshot.request.mask, within=box,
                          prepared=prepared)
    assert document.image is prepared.new_image and document.mask is prepared.new_mask
    assert np.array_equal(old_image, before[0]) and np.array_equal(old_mask, before[1])
    after = _states(document)
    assert np.array_equal(after[0][box.slices], result[box.slices]) and not after[1].any()
    held_compressor.set()
    document.settle()
    for move, expected in ((document.undo, before), (document.undo, brushed),
                           (document.redo, before), (document.redo, after)):
        move()
        assert all(np.array_equal(a, b) for a, b in zip(_states(document), expected))


def test_a_prepared_result_is_not_used_once_the_mask_or_picture_changed():
    for change in ("mask", "picture"):
        document = _holed()
        box = document.hole_box()
        snapshot = document.snapshot()
        result = _filled(document)
        prepared = _prepared_elsewhere(snapshot, result, box)
        with document.step("Mask brush"):  # painted while the engine ran
            if change == "mask":
                document.paint_segment(Layer.MASK, (880, 690), (890, 695), 6, 255)
            else:
                document.touch(Layer.IMAGE, Box(0, 0, 1, 1))
                document.image[0, 0] = 255 - document.image[0, 0]
        expected = _states(document)
        step = document.apply_result(result, used_mask=snapshot.request.mask, within=box,
                                     prepared=prepared)
        kept = {id(old) for _, old in (*prepared.image.values(), *prepared.mask.values())}
        assert not any(id(diff.raw_old) in kept for diff in step.diffs)  # backed up here
        image, mask = _states(document)
        used = snapshot.request.mask > 0
        assert np.array_equal(image[box.slices], result[box.slices])
        assert np.array_equal(mask[~used], expected[1][~used]) and not mask[used].any()
        document.undo()
        assert all(np.array_equal(a, b) for a, b in zip(_states(document), expected))
        document.settle()


@pytest.fixture
def fill(qtbot):
    """A fill controller (OpenCV Telea) on a document with a hole over most of it."""
    worker = Worker()
    controller = FillController(worker)
    document = _holed(400, 500)
    controller.set_document(document)
    controller.settings.engine = "telea"
    yield controller, document
    worker.shutdown()


def test_a_fill_prepares_its_apply_on_the_worker(qtbot, fill, monkeypatch):
    controller, document = fill
    threads, made = [], []
    prepare = thread_recorder(threads)(Snapshot.prepare_result)
    monkeypatch.setattr(Snapshot, "prepare_result",
                        lambda *args: made.append(prepare(*args)) or made[-1])
    before = _states(document)
    with qtbot.waitSignal(controller.applied, timeout=20000):
        controller.run()
    assert threads and threading.main_thread() not in threads
    step = document._undo[-1]
    image_tiles = {(d.row, d.col): d.raw_old for d in step.diffs if d.layer is Layer.IMAGE}
    assert image_tiles and all(old is made[-1].image[key][1]
                               for key, old in image_tiles.items())
    assert not document.mask.any()
    document.undo()
    assert all(np.array_equal(a, b) for a, b in zip(_states(document), before))


def test_the_stages_of_a_fill_do_not_read_the_hole_while_the_mask_is_as_it_was(
        qtbot, fill, monkeypatch):
    controller, document = fill
    controller.settings.auto_apply = False
    reads = []
    hole = controller_module._Run.hole
    monkeypatch.setattr(controller_module._Run, "hole",
                        lambda run: reads.append(1) or hole(run))
    with qtbot.waitSignal(controller.waitingChanged, timeout=20000):
        controller.run()
    assert controller.has_result and not reads  # its stages and the result
    with document.step("Mask brush"):  # more mask beside the hole: the fill still stands
        document.paint_segment(Layer.MASK, (480, 15), (490, 15), 4, 255)
    assert controller.drop_outdated() == "" and len(reads) == 1
    assert controller.drop_outdated() == "" and len(reads) == 1  # checked at this version
    with document.step("Eraser"):  # part of its hole taken back: dropped
        document.paint_segment(Layer.MASK, (200, 200), (200, 200), 10, 0)
    assert "mask changed" in controller.drop_outdated()
    assert not controller.has_result


def _canvas(qtbot, monkeypatch, pixels: int) -> tuple[Canvas, Document]:
    """A canvas on a 700x900 document with most of it a hole, rendering at most about
    ``pixels`` of changes per turn of the event loop, every stage converted off-thread."""
    monkeypatch.setattr(canvas_module, "SYNC_PIXELS", pixels)
    monkeypatch.setattr(canvas_module, "BACKGROUND_PREVIEW_PIXELS", 0)
    canvas = Canvas()
    qtbot.addWidget(canvas)
    document = _holed()
    canvas.set_document(document)
    canvas.sync_view()
    return canvas, document


def _rendered(monkeypatch) -> list[tuple[int, str, Box]]:
    """(turn, kind, box) of every box the view renders, the turn counted by each call of
    ``Canvas.sync_view``."""
    boxes, turn = [], [0]
    sync, update = Canvas.sync_view, ViewCache.update

    def counted_sync(self, *args):
        turn[0] += 1
        return sync(self, *args)

    def recorded(self, layer, box, *args, **kwargs):
        boxes.append((turn[0], "picture" if layer is Layer.IMAGE else "overlay", box))
        return update(self, layer, box, *args, **kwargs)

    monkeypatch.setattr(Canvas, "sync_view", counted_sync)
    monkeypatch.setattr(ViewCache, "update", recorded)
    return boxes


def _shown(view: ViewCache) -> np.ndarray:
    """Level 0 as it shows: the picture (RGB) with the preview's patches over it."""
    shown = view.levels[0].base[..., 2::-1].copy()
    if view.preview_visible():
        for buffer, placed in view.preview_patches(0):
            shown[placed.slices] = buffer[..., 2::-1]
    return shown


def _turns(boxes) -> dict[int, int]:
    pixels: dict[int, int] = {}
    for turn, _kind, box in boxes:
        pixels[turn] = pixels.get(turn, 0) + box.height * box.width
    return pixels


def test_an_applied_fill_is_rendered_in_bands_its_preview_shown_until_then(
        qtbot, monkeypatch):
    budget = 64 * 900 * 2  # two bands of the coarsest level's grid a turn
    canvas, document = _canvas(qtbot, monkeypatch, budget)
    result = _filled(document)
    box = document.hole_box()
    canvas.set_preview(result, box, "Telea: refined")
    qtbot.waitUntil(lambda: canvas.view.preview_box is not None, timeout=5000)
    qtbot.waitUntil(lambda: not canvas._pending_boxes[False], timeout=5000)
    boxes = _rendered(monkeypatch)
    seen = []

    def look() -> None:  # what shows, at every turn
        seen.append(np.array_equal(_shown(canvas.view), result))

    document.apply_result(result, used_mask=document.mask.copy(), within=box)
    canvas.set_preview(None, None)
    while canvas._pending_boxes[True] or canvas._pending_boxes[False] \
            or canvas._pending_preview is not None:
        canvas._sync_timer.stop()
        canvas.sync_view(canvas_module.SYNC_PIXELS)  # one turn of the event loop
        look()
    turns = _turns(boxes)
    assert len(turns) > 3 and max(turns.values()) <= budget
    assert all(seen)  # the fill shows at every turn, never the picture before it
    assert canvas.view.preview_box is None and canvas.stage_label == ""
    reference = ViewCache(document)  # the same pixels as rendering it all at once
    for level, expected in zip(canvas.view.levels, reference.levels, strict=True):
        assert np.array_equal(level.base, expected.base)
        assert np.array_equal(level.overlay, expected.overlay)


def test_a_large_preview_hides_the_mask_in_bands_across_turns(qtbot, monkeypatch):
    budget = 64 * 900
    canvas, document = _canvas(qtbot, monkeypatch, budget)
    boxes = _rendered(monkeypatch)
    result = _filled(document)
    box = document.hole_box()
    canvas.set_preview(result, box, "Telea: coarse")
    qtbot.waitUntil(lambda: canvas.view.preview_box is not None
                    and not canvas._pending_boxes[False], timeout=5000)
    turns = _turns(boxes)
    assert len(turns) > 3 and max(turns.values()) <= budget
    reference = ViewCache(document)
    reference.set_preview(result, box)
    for level, expected in zip(canvas.view.levels, reference.levels, strict=True):
        assert np.array_equal(level.overlay, expected.overlay)
