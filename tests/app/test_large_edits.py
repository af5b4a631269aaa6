"""Large edits without GUI-thread stalls: closing a step leaves the compression of its undo
tiles to a background job (copy on write while it waits), a fill touches only the tiles it
changes, a computed map arrives read-only and counted from the worker, and overlays are
composited in bands. Undo and redo stay exact throughout."""

from __future__ import annotations

import math
import threading
import tracemalloc
import zlib

import numpy as np
import pytest

from app import document as document_module
from app import semantic
from app import viewcache as viewcache_module
from app.document import TILE, Document, Layer
from app.viewcache import ViewCache
from engines.base import UNLABELLED
from engines.region import Box
from tests.app.test_semantic import setup_fixture  # noqa: F401 - the fixture "setup"


def _picture(height=600, width=800, seed=5) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _labels(height, width, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 6, (height // 50 + 1, width // 50 + 1)).astype(np.uint8).repeat(
        50, axis=0).repeat(50, axis=1)[:height, :width].copy()


@pytest.fixture
def held_compressor():
    """Holds the undo compressor's thread until the returned event is set (set at the end
    in any case), so that tests can edit while compression is pending."""
    # earlier tests' jobs end first: their compression would count as this test's
    document_module._COMPRESSOR.submit(lambda: None).result(timeout=60)
    gate = threading.Event()
    document_module._COMPRESSOR.submit(gate.wait)
    yield gate
    gate.set()


@pytest.fixture
def compress_threads(monkeypatch):
    """The names of the threads that call ``zlib.compress``."""
    threads = []
    compress = zlib.compress

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return compress(*args, **kwargs)

    monkeypatch.setattr(zlib, "compress", spy)
    return threads


def _state(doc: Document) -> tuple[np.ndarray, ...]:
    return tuple(doc.layer(layer).copy() for layer in (Layer.IMAGE, Layer.MASK, Layer.LABELS))


def _assert_state(doc: Document, expected: tuple[np.ndarray, ...]) -> None:
    for layer, pixels in zip((Layer.IMAGE, Layer.MASK, Layer.LABELS), expected):
        assert np.array_equal(doc.layer(layer), pixels), layer


def test_closing_a_step_leaves_its_compression_to_another_thread(held_compressor,
                                                                 compress_threads):
    doc = Document(_picture())
    labels = _labels(600, 800, 1)
    labels.flags.writeable = False  # kept as the computed map without a copy
    doc.layer(Layer.LABELS)  # created before measuring
    tracemalloc.start()
    try:
        step = doc.replace_label_map(labels, "regions", "Compute map")  # 12 tiles change
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.25 * labels.nbytes  # the old tiles' backup: no copies of the new ones
    assert step is not None and len(step.diffs) == 12  # known at once, for the menu...
    assert compress_threads == []  # ...while compressing waits for the background job
    raw = 2 * 600 * 800
    assert doc.history_bytes == raw + labels.nbytes  # counted raw until compressed
    held_compressor.set()
    doc.settle()
    assert compress_threads and set(compress_threads) != {threading.main_thread().name}
    assert all(name.startswith("undo-compress") for name in compress_threads)
    assert doc.history_bytes < raw + labels.nbytes
    # freed, but the backups of the last step, which an undo writes as they are
    assert all(d.raw_old is not None and d.raw_new is None for d in step.diffs)
    doc.undo()
    assert (doc.layer(Layer.LABELS) == UNLABELLED).all() and doc.computed_labels is None
    doc.redo()
    assert np.array_equal(doc.layer(Layer.LABELS), labels)
    with doc.step("Mask brush"):  # another step: the map's tiles are all freed
        doc.paint_segment(Layer.MASK, (10, 10), (20, 10), 5, 255)
    assert all(d.raw_old is None and d.raw_new is None for d in step.diffs)


def test_edits_while_compression_is_pending_keep_undo_and_redo_exact(held_compressor):
    doc = Document(_picture())
    states = [_state(doc)]
    doc.replace_label_map(_labels(600, 800, 1), "regions", "Compute map")
    states.append(_state(doc))
    with doc.step("Label brush"):  # over tiles whose new pixels the job has yet to copy
        doc.paint_segment(Layer.LABELS, (10, 10), (700, 500), 40, 3)
    states.append(_state(doc))
    doc.begin_step("Cancelled stroke")  # touched, written, then restored
    doc.paint_segment(Layer.LABELS, (100, 500), (600, 40), 60, 4)
    doc.cancel_step()
    _assert_state(doc, states[-1])
    doc.replace_label_map(_labels(600, 800, 2), "regions", "Compute map")
    states.append(_state(doc))
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (300, 100), (300, 500), 50, 255)
    states.append(_state(doc))
    result = doc.image.copy()
    result[doc.mask > 0] = (10, 200, 30)
    doc.apply_result(result, used_mask=doc.mask.copy(), within=Box(0, 0, 600, 800))
    states.append(_state(doc))
    threading.Timer(0.2, held_compressor.set).start()  # undo waits for the job meanwhile
    for expected in reversed(states[:-1]):
        doc.undo()
        _assert_state(doc, expected)
    assert not doc.can_undo()
    for expected in states[1:]:
        doc.redo()
        _assert_state(doc, expected)


def test_a_step_closed_after_another_one_pending_hands_its_copies_over(held_compressor):
    doc = Document(_picture(300, 300))
    with doc.step("first"):
        doc.paint_segment(Layer.MASK, (20, 20), (280, 280), 30, 255)
    after_first = doc.mask.copy()
    with doc.step("second"):  # the same tiles again, before the first step is compressed
        doc.paint_segment(Layer.MASK, (20, 280), (280, 20), 30, 128)
    after_second = doc.mask.copy()
    held_compressor.set()
    doc.settle()
    doc.undo()
    assert np.array_equal(doc.mask, after_first)  # the first step's own new pixels
    doc.undo()
    assert not doc.mask.any()
    doc.redo()
    assert np.array_equal(doc.mask, after_first)
    doc.redo()
    assert np.array_equal(doc.mask, after_second)


def test_a_fill_touches_and_announces_only_the_tiles_it_changes():
    doc = Document(_picture(1000, 1200))
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (40, 40), (60, 50), 12, 255)
        doc.paint_segment(Layer.MASK, (1150, 950), (1160, 960), 12, 255)
    before = _state(doc)
    result = doc.image.copy()
    result[doc.mask > 0] = (0, 255, 0)
    heard = []
    doc.add_listener(lambda layer, box: heard.append((layer, box)))
    step = doc.apply_result(result, used_mask=doc.mask.copy(), within=Box(0, 0, 1000, 1200))
    image_tiles = {(d.row, d.col) for d in step.diffs if d.layer is Layer.IMAGE}
    assert image_tiles == {(0, 0), (3, 4)}  # not the 20 tiles of the box
    assert {(d.row, d.col) for d in step.diffs if d.layer is Layer.MASK} == image_tiles
    for layer in (Layer.IMAGE, Layer.MASK):
        boxes = [box for kind, box in heard if kind is layer]
        assert sorted(boxes, key=lambda b: b.top) == [Box(0, 0, TILE, TILE),
                                                      Box(768, 1024, 1000, 1200)]
    assert np.array_equal(doc.image, result) and not doc.mask.any()
    after = _state(doc)
    for move, expected in ((doc.undo, before), (doc.redo, after)):  # they announce the same
        heard.clear()
        move()
        _assert_state(doc, expected)
        for layer in (Layer.IMAGE, Layer.MASK):
            boxes = [box for kind, box in heard if kind is layer]
            assert sorted(boxes, key=lambda b: b.top) == [Box(0, 0, TILE, TILE),
                                                          Box(768, 1024, 1000, 1200)]


def test_applying_a_fill_makes_no_temporary_the_size_of_its_box(held_compressor):
    doc = Document(_picture(2000, 2000))
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (100, 100), (120, 100), 10, 255)
        doc.paint_segment(Layer.MASK, (1900, 1900), (1880, 1900), 10, 255)
    result = doc.image.copy()
    result[doc.mask > 0] = 0
    used = doc.mask.copy()
    tracemalloc.start()  # the compressor is held: only this thread's work is counted
    try:
        doc.apply_result(result, used_mask=used, within=Box(0, 0, 2000, 2000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 2 image and 2 mask tiles backed up (0.5 MB); a bool map of the box alone is 4 MB
    assert peak < 1_500_000


def test_the_whole_mask_is_cleared_without_a_used_mask_and_undone_exactly():
    doc = Document(_picture(600, 800))
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (50, 50), (750, 550), 20, 255)
    before = _state(doc)
    result = doc.image.copy()
    result[100:120, 100:120] = 0
    doc.apply_result(result, within=Box(90, 90, 130, 130))  # the mask reaches past it
    assert not doc.mask.any()
    doc.undo()
    _assert_state(doc, before)


def test_a_computed_map_arrives_read_only_and_counted_from_the_worker(qtbot, setup,
                                                                       monkeypatch):
    controller, document = setup
    ready, counted_on = [], []
    ready_map, histogram = semantic._ready_map, semantic.label_histogram

    def ready_spy(labels):
        ready.append(ready_map(labels))
        return ready[-1]

    def histogram_spy(labels):
        counted_on.append(threading.current_thread())
        return histogram(labels)

    monkeypatch.setattr(semantic, "_ready_map", ready_spy)
    monkeypatch.setattr(semantic, "label_histogram", histogram_spy)
    counts = []
    controller.countsChanged.connect(counts.append)
    with qtbot.waitSignal(controller.labelsReplaced, timeout=60000):
        controller.compute_map("regions", working_size=256)
    [computed] = ready
    labels = document.layer(Layer.LABELS)
    assert np.shares_memory(document.computed_labels, computed.labels)  # kept, not copied
    assert not document.computed_labels.flags.writeable
    assert not np.shares_memory(labels, computed.labels)  # the layer stays editable
    assert np.array_equal(labels, computed.labels)
    assert counted_on and threading.main_thread() not in counted_on
    assert np.array_equal(counts[-1], np.bincount(labels.ravel(), minlength=256))
    qtbot.wait(controller.counts_delay_ms + 50)
    assert threading.main_thread() not in counted_on  # not counted again on the GUI thread
    document.undo()
    assert (document.layer(Layer.LABELS) == UNLABELLED).all()
    document.redo()
    assert np.array_equal(document.layer(Layer.LABELS), computed.labels)


def _overlay_document() -> Document:
    doc = Document(_picture(500, 700))
    doc.replace_label_map(_labels(500, 700, 3), "regions", "Compute map")
    with doc.step("strokes"):
        doc.paint_segment(Layer.MASK, (50, 60), (650, 420), 35, 255)
        doc.paint_segment(Layer.SKETCH, (50, 400), (650, 30), 3, 255)
        doc.paint_segment(Layer.COLOR, (300, 20), (320, 480), 25, (200, 30, 60, 255))
        doc.paint_segment(Layer.SAMPLING, (600, 50), (620, 450), 30, 1)
    return doc


def test_overlays_composited_in_bands_equal_one_pass(monkeypatch):
    doc = _overlay_document()
    preview = doc.image.copy()
    preview[doc.mask > 0] = 0
    shown = []
    for band_pixels in (10 ** 9, 7 * 700 + 3):  # one band; bands of 7 rows
        monkeypatch.setattr(viewcache_module, "OVERLAY_BAND_PIXELS", band_pixels)
        view = ViewCache(doc)
        view.set_preview(preview, Box(100, 100, 300, 500))  # hides the mask under it
        view.refresh_overlay()
        view.update(Layer.MASK, Box(13, 17, 411, 389))
        shown.append([level.overlay.copy() for level in view.levels])
    for one, banded in zip(*shown):
        assert np.array_equal(one, banded)
    assert shown[0][0][..., 3].any()


def test_overlays_of_a_large_picture_make_no_full_size_temporaries(monkeypatch):
    monkeypatch.setattr(viewcache_module, "OVERLAY_BAND_PIXELS", 50 * 700)
    doc = _overlay_document()
    view = ViewCache(doc)
    full = doc.height * doc.width * 4
    tracemalloc.start()
    try:
        view.refresh_overlay()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < full / 2  # bands of about OVERLAY_BAND_PIXELS, not the picture's size


class _SteppedCompressor:
    """Lets the undo compressor's ``zlib.compress`` calls through one at a time."""

    def __init__(self) -> None:
        self.compress = zlib.compress
        self.permits = threading.Semaphore(0)
        self.allowed = 0  # calls let through so far
        self.entered = 0  # calls the compressor thread has begun
        self.changed = threading.Condition()

    def __call__(self, data, level=-1):
        if threading.current_thread().name.startswith("undo-compress"):
            with self.changed:
                self.entered += 1
                self.changed.notify_all()
            assert self.permits.acquire(timeout=30)
        return self.compress(data, level)

    def allow(self, count: int) -> None:
        """Let ``count`` more calls through, then wait until the compressor thread waits in
        the next one."""
        self.allowed += count
        for _ in range(count):
            self.permits.release()
        with self.changed:
            assert self.changed.wait_for(lambda: self.entered > self.allowed, timeout=30)


@pytest.fixture
def stepped_compressor():
    """A :class:`_SteppedCompressor` that lets every call through when the test ends, so
    that a failed test leaves no job waiting (install it as ``zlib.compress``)."""
    stepped = _SteppedCompressor()
    yield stepped
    stepped.permits.release(1 << 20)


def _no_waiting(monkeypatch) -> None:
    """Fail where undo or redo would wait for a compression job."""
    data = document_module._TileDiff.data

    def checked_data(diff, old):
        assert diff.job is None or diff.job.done(), "waited for a compression job"
        return data(diff, old)

    def refused_wait(futures, *args, **kwargs):
        raise AssertionError("waited for the compression jobs")

    monkeypatch.setattr(document_module._TileDiff, "data", checked_data)
    monkeypatch.setattr(document_module, "wait", refused_wait)


def _assert_one_side_at_hand(step, old: bool) -> None:
    """``step``'s ``old`` (else new) side is at hand uncompressed; the other side, which the
    layers hold, only where its compression is pending."""
    for diff in step.diffs:
        assert diff.raw(old) is not None, "the side kept is not at hand"
        assert diff.raw(not old) is None or diff.packed(not old) is None, "both sides held"


@pytest.mark.parametrize("stage", ["copied", "olds done", "half the news"])
def test_undo_and_redo_right_after_a_fill_neither_wait_nor_decompress(
        stage, monkeypatch, stepped_compressor):
    doc = Document(_picture(600, 800))
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (100, 100), (700, 500), 40, 255)
    before = _state(doc)
    result = doc.image.copy()
    result[doc.mask > 0] = (30, 160, 90)
    doc.settle()
    stepped = stepped_compressor
    monkeypatch.setattr(zlib, "compress", stepped)
    step = doc.apply_result(result, used_mask=doc.mask.copy())
    after = _state(doc)
    tiles = len(step.diffs)  # the job copies every new side, compresses the olds, the news
    stepped.allow({"copied": 0, "olds done": tiles, "half the news": tiles + tiles // 2}[
        stage])
    with monkeypatch.context() as waits:
        _no_waiting(waits)
        waits.setattr(zlib, "decompress", lambda data: pytest.fail("decompressed"))
        for move, expected in ((doc.undo, before), (doc.redo, after), (doc.undo, before),
                               (doc.redo, after), (doc.undo, before)):
            move()
            _assert_state(doc, expected)
            _assert_one_side_at_hand(step, old=expected is after)
        stepped.permits.release(1 << 20)  # every call from now on
    doc.settle()
    _assert_one_side_at_hand(step, old=False)
    doc.redo()
    _assert_state(doc, after)
    doc.undo()
    _assert_state(doc, before)
    with doc.step("Mask brush"):  # a new step: what undo and redo kept at hand is freed
        doc.paint_segment(Layer.MASK, (10, 10), (20, 10), 5, 255)
    assert all(d.raw_old is None and d.raw_new is None for d in step.diffs)


def _peak_bytes(action) -> int:
    """The most memory (traced) that ``action()`` held at once."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_going_back_and_forth_over_a_fill_copies_into_no_new_memory(monkeypatch,
                                                                    stepped_compressor):
    doc = Document(_picture(768, 1024))
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (50, 100), (950, 650), 90, 255)
    result = doc.image.copy()
    result[doc.mask > 0] = (30, 160, 90)
    doc.settle()
    monkeypatch.setattr(zlib, "compress", stepped_compressor)
    step = doc.apply_result(result, used_mask=doc.mask.copy())
    side = sum(math.prod(d.shape) for d in step.diffs)  # bytes of one side of the fill
    assert side > 1_000_000
    stepped_compressor.allow(0)  # its job has copied the tiles, and compresses them now
    for move in (doc.undo, doc.redo):  # the job holds both sides: nothing is copied
        assert _peak_bytes(move) < side / 10
    stepped_compressor.permits.release(1 << 20)
    doc.settle()  # the old side kept at hand, the new one compressed only
    _assert_one_side_at_hand(step, old=True)
    decompressed = []
    decompress = zlib.decompress
    monkeypatch.setattr(zlib, "decompress",
                        lambda data: decompressed.append(1) or decompress(data))
    assert _peak_bytes(doc.undo) > side / 2  # copied, to be kept at hand for a redo...
    _assert_one_side_at_hand(step, old=False)
    for move, old in ((doc.redo, True), (doc.undo, False), (doc.redo, True)):
        # ...and from then on no new memory, but one spare array of each tile shape
        assert _peak_bytes(move) < side / 4
        _assert_one_side_at_hand(step, old=old)
    assert not decompressed


def test_an_undo_then_an_edit_while_the_job_waits_stay_exact(held_compressor, monkeypatch):
    doc = Document(_picture(500, 700))
    states = [_state(doc)]
    with doc.step("first"):
        doc.paint_segment(Layer.MASK, (20, 20), (680, 480), 30, 255)
    states.append(_state(doc))
    with doc.step("second"):  # over the first's tiles, whose new pixels it hands over
        doc.paint_segment(Layer.MASK, (20, 480), (680, 20), 30, 128)
        doc.paint_segment(Layer.LABELS, (100, 100), (600, 100), 20, 3)
    with monkeypatch.context() as waits:
        _no_waiting(waits)
        doc.undo()
        _assert_state(doc, states[1])
        with doc.step("third"):  # a new edit over the tiles the undo wrote
            doc.paint_segment(Layer.MASK, (350, 0), (350, 499), 50, 200)
        states.append(_state(doc))
        doc.undo()
        _assert_state(doc, states[1])
        doc.undo()
        _assert_state(doc, states[0])
        doc.redo()
        _assert_state(doc, states[1])
    held_compressor.set()
    doc.settle()
    doc.redo()
    _assert_state(doc, states[2])
    for expected in reversed(states[:-1]):
        doc.undo()
        _assert_state(doc, expected)


def test_labels_and_mask_composited_in_one_lookup_equal_one_after_the_other():
    height, width = 256, 300
    doc = Document(_picture(height, width))
    labels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], width, axis=1)
    mask = (np.arange(width) % 256).astype(np.uint8)[None].repeat(height, axis=0)
    doc.replace_layer(Layer.LABELS, labels, "labels")  # every label with every mask value
    doc.replace_layer(Layer.MASK, mask, "mask")
    view = ViewCache(doc)

    def expected(sampling: np.ndarray | None = None) -> np.ndarray:
        luts = view._luts()
        pixels = np.take(luts[Layer.LABELS], labels, axis=0)
        if sampling is not None:
            viewcache_module._over(pixels, np.take(luts[Layer.SAMPLING], sampling, axis=0))
        viewcache_module._over(pixels, np.take(luts[Layer.MASK], mask, axis=0))
        return pixels

    assert np.array_equal(view.levels[0].overlay, expected())
    view.style.label_opacity, view.style.mask_opacity = 0.8, 0.3  # new tables
    view.refresh_overlay()
    assert np.array_equal(view.levels[0].overlay, expected())
    sampling = np.zeros((height, width), np.uint8)
    sampling[100:140, 50:90] = 1  # drawn between the labels and the mask
    doc.replace_layer(Layer.SAMPLING, sampling, "sampling")
    view.refresh_overlay()
    assert np.array_equal(view.levels[0].overlay, expected(sampling))
