"""Undo and redo of large steps: a step's tiles are written by several threads at once, and
the side the next undo (redo) writes is decompressed ahead on a background thread after each
undo (redo). Every layer comes back exact whichever way a tile was at hand, listeners hear
every tile changed, and the tiles held uncompressed stay bounded. The thresholds are lowered
here so that a small picture takes the paths a 20 MP one takes."""

from __future__ import annotations

import math
import os
import sys
import threading
import zlib

import numpy as np
import pytest

from app import document as document_module
from app.canvas import Canvas
from app.document import TILE, Document, Layer
from app.viewcache import ViewCache
from engines.region import Box

HEIGHT, WIDTH = 700, 900
LAYERS = (Layer.IMAGE, Layer.MASK, Layer.SKETCH, Layer.COLOR, Layer.LABELS, Layer.SAMPLING)


@pytest.fixture
def large(monkeypatch):
    """Every step counts as large: written in parts, its next side decompressed ahead."""
    monkeypatch.setattr(document_module, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(document_module, "AHEAD_MIN_BYTES", 0)


@pytest.fixture
def decompressed(monkeypatch):
    """The names of the threads that call ``zlib.decompress`` (a list, cleared at will)."""
    threads = []
    decompress = zlib.decompress

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return decompress(*args, **kwargs)

    monkeypatch.setattr(zlib, "decompress", spy)
    return threads


def _document() -> Document:
    """A picture with every layer drawn on, its hole over most of it (Import mask last)."""
    rng = np.random.default_rng(11)
    doc = Document(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8))
    with doc.step("Sketch"):
        doc.paint_segment(Layer.SKETCH, (50, 100), (850, 600), 6, 255)
    with doc.step("Colour"):
        doc.paint_segment(Layer.COLOR, (850, 100), (50, 600), 12, (200, 40, 10, 255))
    with doc.step("Include"):
        doc.paint_segment(Layer.SAMPLING, (20, 20), (20, 680), 15, document_module.SAMPLE_INCLUDE)
    labels = (np.arange(WIDTH)[None, :] // 150 + np.arange(HEIGHT)[:, None] // 200)
    doc.replace_layer(Layer.LABELS, labels.astype(np.uint8), "Labels")
    hole = np.zeros((HEIGHT, WIDTH), np.uint8)
    hole[30:HEIGHT - 40, 60:WIDTH - 20] = 255
    doc.replace_layer(Layer.MASK, hole, "Import mask")
    return doc


def _fill(doc: Document):
    """A fill of the hole, applied as the window applies one (the mask, sketch lines and
    colour strokes in the hole cleared in the same step)."""
    result = np.roll(doc.image, (37, 51), axis=(0, 1))
    return doc.apply_result(result, used_mask=doc.mask.copy(), within=doc.hole_box())


def _state(doc: Document) -> tuple[np.ndarray, ...]:
    return tuple(doc.layer(layer).copy() for layer in LAYERS)


def _assert_state(doc: Document, expected: tuple[np.ndarray, ...]) -> None:
    for layer, pixels in zip(LAYERS, expected):
        assert np.array_equal(doc.layer(layer), pixels), layer


def _raw_bytes(doc: Document) -> int:
    """Bytes of undo tiles held uncompressed, once all are compressed (each array once)."""
    arrays = {id(raw): raw.nbytes for step in (*doc._undo, *doc._redo)
              for diff in step.diffs for raw in (diff.raw_old, diff.raw_new) if raw is not None}
    return sum(arrays.values())


def _side_bytes(step) -> int:
    return sum(math.prod(diff.shape) for diff in step.diffs)


def test_a_fill_written_in_parts_by_several_threads_comes_back_exact(large, monkeypatch):
    doc = _document()
    before = _state(doc)
    step = _fill(doc)
    assert {Layer.IMAGE, Layer.MASK, Layer.SKETCH, Layer.COLOR} <= step.layers
    after = _state(doc)
    doc.settle()
    writers = []
    write = Document._write_tiles
    monkeypatch.setattr(Document, "_write_tiles", lambda self, diffs, *args: writers.append(
        (threading.current_thread().name, len(diffs))) or write(self, diffs, *args))
    for move, expected in ((doc.undo, before), (doc.redo, after)) * 2:
        writers.clear()
        move()
        _assert_state(doc, expected)
        assert sum(count for _, count in writers) == len(step.diffs)  # each tile once
        assert len(writers) > 1
    # an older step (decompressed, not kept at hand) the same
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (100, 100), (300, 200), 20, 255)
    stroked = _state(doc)
    doc.settle()
    for move, expected in ((doc.undo, after), (doc.undo, before), (doc.undo, None),
                           (doc.redo, before), (doc.redo, after), (doc.redo, stroked)):
        move()
        if expected is not None:
            _assert_state(doc, expected)


def test_threads_writing_a_fill_decompress_it_when_nothing_is_at_hand(large, monkeypatch,
                                                                     decompressed):
    monkeypatch.setattr(document_module, "AHEAD_MIN_BYTES", 1 << 40)  # nothing ahead
    doc = _document()
    before = _state(doc)
    _fill(doc)
    after = _state(doc)
    with doc.step("Mask brush"):  # the fill is no longer the step at hand
        doc.paint_segment(Layer.MASK, (100, 100), (300, 200), 20, 255)
    doc.settle()
    doc.undo()
    decompressed.clear()
    doc.undo()  # the fill's old side, compressed only: decompressed while written
    _assert_state(doc, before)
    # decompressed by the writers (which thread takes which part depends on timing)
    assert decompressed and not any(name.startswith("undo-ahead") for name in decompressed)
    doc.undo()
    doc.redo()  # the fill's new side is no longer kept at hand
    decompressed.clear()
    doc.redo()
    _assert_state(doc, after)
    # decompressed by the writers (which thread takes which part depends on timing)
    assert decompressed and not any(name.startswith("undo-ahead") for name in decompressed)


def test_the_side_the_next_undo_writes_is_decompressed_ahead(large, decompressed):
    doc = _document()
    before = _state(doc)
    fill = _fill(doc)
    after = _state(doc)
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (100, 100), (300, 200), 20, 255)
    doc.settle()
    assert all(diff.raw_old is None for diff in fill.diffs)  # compressed only
    decompressed.clear()
    doc.undo()  # the stroke: the fill's old side is decompressed meanwhile...
    doc.settle()
    assert decompressed and all(name.startswith("undo-ahead") for name in decompressed)
    assert all(diff.raw_old is not None for diff in fill.diffs)
    assert _raw_bytes(doc) <= _side_bytes(fill) + 2 * HEIGHT * WIDTH  # and the stroke's
    decompressed.clear()
    doc.undo()  # ...so that undoing the fill decompresses none of it here
    _assert_state(doc, before)
    assert threading.main_thread().name not in decompressed
    doc.undo()  # the mask import, and redone: the fill's new side, no longer kept at
    doc.redo()  # hand, is decompressed ahead for a redo
    doc.settle()
    assert all(diff.raw_new is not None for diff in fill.diffs)
    decompressed.clear()
    doc.redo()
    _assert_state(doc, after)
    assert threading.main_thread().name not in decompressed


def test_what_was_decompressed_ahead_is_dropped_by_the_next_edit_or_move(large):
    doc = _document()
    fill = _fill(doc)
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (100, 100), (300, 200), 20, 255)
    doc.settle()
    doc.undo()
    doc.settle()
    assert all(diff.raw_old is not None for diff in fill.diffs)
    doc.redo()  # nothing to redo next: the fill's side is dropped
    doc.settle()
    assert all(diff.raw_old is None and diff.raw_new is None for diff in fill.diffs)
    doc.undo()
    doc.settle()
    assert all(diff.raw_old is not None for diff in fill.diffs)
    with doc.step("Sketch"):  # a new step: dropped too
        doc.paint_segment(Layer.SKETCH, (10, 10), (40, 10), 3, 255)
    doc.settle()
    assert all(diff.raw_old is None and diff.raw_new is None for diff in fill.diffs)


def test_at_most_the_cap_is_decompressed_ahead_and_the_rest_when_needed(large, monkeypatch):
    doc = _document()
    before = _state(doc)
    fill = _fill(doc)
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (100, 100), (300, 200), 20, 255)
    doc.settle()
    cap = 5 * TILE * TILE * 3
    monkeypatch.setattr(document_module, "AHEAD_MAX_BYTES", cap)
    doc.undo()
    doc.settle()
    held = sum(diff.raw_old.nbytes for diff in fill.diffs if diff.raw_old is not None)
    assert 0 < held < cap + TILE * TILE * 3 and held < _side_bytes(fill)
    doc.undo()
    _assert_state(doc, before)


def test_an_undo_while_the_side_is_decompressed_ahead_stays_exact(large, monkeypatch):
    """The job decompressing ahead is held after some tiles; undo takes what it has held,
    decompresses the rest, and the job, let go, holds nothing more."""
    doc = _document()
    before = _state(doc)
    fill = _fill(doc)
    after = _state(doc)
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (100, 100), (300, 200), 20, 255)
    doc.settle()
    gate, entered = threading.Event(), threading.Semaphore(0)
    decompress = zlib.decompress
    calls = []

    def held(data, *args, **kwargs):
        if threading.current_thread().name.startswith("undo-ahead") and not gate.is_set():
            calls.append(1)
            if len(calls) == 4:  # the job, at its fourth tile
                entered.release()
                assert gate.wait(30)
        return decompress(data, *args, **kwargs)

    monkeypatch.setattr(zlib, "decompress", held)
    monkeypatch.setattr(document_module, "PARALLEL_BYTES", 1 << 40)  # written here only
    try:
        doc.undo()  # the stroke; the fill's old side decompressed ahead, then held
        job = doc._ahead_job
        assert entered.acquire(timeout=30)
        assert sum(diff.raw_old is not None for diff in fill.diffs) == 3
        doc.undo()
        _assert_state(doc, before)
    finally:
        gate.set()
    job.result(timeout=30)
    doc.settle()
    assert all(diff.raw_old is None for diff in fill.diffs)  # the job held nothing more
    _assert_state(doc, before)
    doc.redo()
    _assert_state(doc, after)


def test_listeners_hear_every_tile_a_move_writes_and_the_view_follows(qtbot, large):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    doc = _document()
    canvas.set_document(doc)
    fill = _fill(doc)
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (100, 100), (300, 200), 20, 255)
    canvas.sync_view()
    doc.settle()
    heard: list[tuple[Layer, Box]] = []
    doc.add_listener(lambda layer, box: heard.append((layer, box)))
    for move in (doc.undo, doc.undo, doc.redo, doc.undo, doc.redo, doc.redo):
        heard.clear()
        step = move()
        for diff in step.diffs:
            tile = doc._tile_box(diff.row, diff.col)
            assert any(layer is diff.layer and box.top <= tile.top and box.left <= tile.left
                       and box.bottom >= tile.bottom and box.right >= tile.right
                       for layer, box in heard), (diff.layer, tile)
        if step is fill:  # one rectangle per layer at most per run of tiles, not per tile
            assert len(heard) < len(step.diffs) / 4
        canvas.sync_view()
        fresh = ViewCache(doc, canvas.style)
        for shown, expected in zip(canvas.view.levels, fresh.levels):
            assert np.array_equal(shown.base, expected.base)
            assert np.array_equal(shown.overlay, expected.overlay)


def test_the_window_undoes_a_large_fill_with_its_title_and_actions_right_at_once(
        qtbot, window, tmp_path, large):
    from engines.fileio import save_image

    source = tmp_path / "photo.png"
    save_image(source, np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3),
                                                         dtype=np.uint8))
    assert window.open_path(source)
    window.engine_panel.auto_run.setChecked(False)
    doc = window.document
    opened = doc.image.copy()
    hole = np.zeros((HEIGHT, WIDTH), np.uint8)
    hole[30:HEIGHT - 40, 60:WIDTH - 20] = 255
    doc.replace_layer(Layer.MASK, hole, "Import mask")
    window.document.mark_saved()
    _fill(doc)
    filled = doc.image.copy()
    window._update_actions()
    with doc.step("Mask brush"):
        doc.paint_segment(Layer.MASK, (100, 100), (300, 200), 20, 255)
    window._update_actions()
    assert window.isWindowModified()
    window.actions["undo"].trigger()  # the stroke, then the fill, at once
    window.actions["undo"].trigger()
    assert np.array_equal(doc.image, opened) and np.array_equal(doc.mask, hole)
    assert not window.isWindowModified()  # as saved
    assert window.actions["undo"].isEnabled() and window.actions["redo"].isEnabled()
    window.actions["redo"].trigger()
    assert np.array_equal(doc.image, filled) and window.isWindowModified()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority: Linux")
def test_decompressing_ahead_runs_at_the_lowest_priority_and_the_gui_thread_does_not():
    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert document_module._AHEAD.submit(priority).result(timeout=30) == 19
    assert document_module._UNPACKER.submit(priority).result(timeout=30) == priority()
