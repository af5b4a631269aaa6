"""Undo history stores, for each tile a step changes, only the pixels in the bounding box of
what changed (both sides): a small edit on a noisy picture costs about its own pixels, not
the tiles it touches twice over; and every layer still comes back exact, whichever way a
side is at hand (the full tile, box-shaped, decompressed here or ahead, written in parts)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app import document as document_module
from app.document import TILE, Document, Layer, _changed_box
from engines.region import Box

SIZE = 1024
LAYERS = (Layer.IMAGE, Layer.MASK, Layer.SKETCH, Layer.COLOR, Layer.LABELS, Layer.SAMPLING)
ZLIB_OVERHEAD = 64  # bytes at most that zlib adds to one side of one tile (noise: stored)


def _noisy(seed: int = 5) -> Document:
    rng = np.random.default_rng(seed)
    return Document(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))


def _state(doc: Document) -> tuple[np.ndarray, ...]:
    return tuple(doc.layer(layer).copy() for layer in LAYERS)


def _assert_state(doc: Document, expected: tuple[np.ndarray, ...]) -> None:
    for layer, pixels in zip(LAYERS, expected):
        assert np.array_equal(doc.layer(layer), pixels), layer


def _fill(doc: Document, box: Box, seed: int, label: str = "Fill"):
    """Through the step API, as a fill's paste does: new noise in ``box`` of the image, and
    the mask set there."""
    rng = np.random.default_rng(seed)
    doc.begin_step(label)
    doc.touch(Layer.IMAGE, box)
    doc.touch(Layer.MASK, box)
    doc.layer(Layer.IMAGE)[box.slices] = rng.integers(0, 256, (box.height, box.width, 3),
                                                      dtype=np.uint8)
    doc.layer(Layer.MASK)[box.slices] = 255
    return doc.end_step()


def _box_bytes(boxes: list[Box], channels: int) -> int:
    return sum(box.height * box.width for box in boxes) * channels


@pytest.fixture
def large(monkeypatch):
    """Every step counts as large: written in parts, its next side decompressed ahead."""
    monkeypatch.setattr(document_module, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(document_module, "AHEAD_MIN_BYTES", 0)


def test_a_small_edit_on_a_noisy_picture_stores_the_pixels_it_changed_not_its_tiles():
    doc = _noisy()
    before = _state(doc)
    hole = Box(TILE - 20, TILE - 20, TILE + 20, TILE + 20)  # over the corner of 4 tiles
    step = _fill(doc, hole, seed=1)
    after = _state(doc)
    doc.settle()
    assert len(step.diffs) == 8  # 4 tiles of the image, 4 of the mask
    for diff in step.diffs:
        assert diff.box_shape[:2] == (20, 20)
    # each side: the hole's pixels (noise: not compressible) and zlib's few bytes per tile
    sides = _box_bytes([hole], 3) + _box_bytes([hole], 1)
    assert doc.history_bytes <= 2 * sides + 2 * len(step.diffs) * ZLIB_OVERHEAD
    assert doc.history_bytes < TILE * TILE * 3  # less than one side of one tile
    doc.undo()
    _assert_state(doc, before)
    doc.redo()
    _assert_state(doc, after)
    doc.undo()
    _assert_state(doc, before)


def test_changes_in_two_far_corners_of_a_tile_take_the_box_around_both():
    doc = _noisy()
    before = _state(doc)
    doc.begin_step("Two corners")
    for box in (Box(2, 3, 6, 9), Box(TILE - 5, TILE - 7, TILE - 1, TILE - 2)):
        doc.touch(Layer.IMAGE, box)
        doc.layer(Layer.IMAGE)[box.slices] = 255 - doc.layer(Layer.IMAGE)[box.slices]
    step = doc.end_step()
    after = _state(doc)
    doc.settle()
    (diff,) = step.diffs
    assert diff.box == (slice(2, TILE - 1), slice(3, TILE - 2))
    for _ in range(2):
        doc.undo()
        _assert_state(doc, before)
        doc.redo()
        _assert_state(doc, after)


def test_a_tile_that_ends_up_as_it_was_has_an_empty_box_and_round_trips():
    doc = _noisy()
    before = _state(doc)
    doc.begin_step("Written back")
    doc.touch(Layer.IMAGE, Box(10, 10, 20, 20))
    doc.touch(Layer.IMAGE, Box(10, TILE + 10, 20, TILE + 20))
    doc.layer(Layer.IMAGE)[10:20, 10:20] = 0  # changed
    # written with what it held, and known to differ (as a prepared result's tiles are)
    doc.layer(Layer.IMAGE)[10:20, TILE + 10:TILE + 20] = before[0][10:20, TILE + 10:TILE + 20]
    doc._differing.add((Layer.IMAGE, 0, 1))
    step = doc.end_step()
    after = _state(doc)
    doc.settle()
    unchanged = next(diff for diff in step.diffs if diff.col == 1)
    assert math.prod(unchanged.box_shape) == 0
    for _ in range(2):
        doc.undo()
        _assert_state(doc, before)
        doc.redo()
        _assert_state(doc, after)


@pytest.mark.parametrize("how", ["as is", "large"])
def test_going_back_and_forth_over_several_steps_stays_exact(how, request):
    if how == "large":
        request.getfixturevalue("large")
    doc = _noisy()
    states = [_state(doc)]
    _fill(doc, Box(TILE - 20, TILE - 20, TILE + 20, TILE + 20), seed=1)
    states.append(_state(doc))
    _fill(doc, Box(TILE - 30, TILE - 40, TILE + 50, TILE + 10), seed=2)  # over the first
    states.append(_state(doc))
    with doc.step("Sketch"):
        doc.paint_segment(Layer.SKETCH, (30, 900), (1000, 40), 5, 255)
    states.append(_state(doc))
    _fill(doc, Box(100, 300, 900, 1000), seed=3)  # a large one, most tiles whole
    states.append(_state(doc))
    with doc.step("Colour"):
        doc.paint_segment(Layer.COLOR, (500, 10), (510, 1010), 7, (10, 200, 30, 255))
    states.append(_state(doc))
    top = len(states) - 1
    at = top
    for settle in (False, True):
        # all the way back, then forth, then back and forth by twos and threes
        for target in (0, top, 2, 4, 1, top, 3, 0, top):
            while at != target:
                if at > target:
                    doc.undo()
                    at -= 1
                else:
                    doc.redo()
                    at += 1
                _assert_state(doc, states[at])
                if settle:
                    doc.settle()  # the side the next move writes decompressed ahead
                    _assert_state(doc, states[at])


def test_the_side_decompressed_ahead_is_box_shaped(large):
    doc = _noisy()
    before = _state(doc)
    fill = _fill(doc, Box(TILE - 20, TILE - 20, TILE + 20, TILE + 20), seed=1)
    with doc.step("Sketch"):
        doc.paint_segment(Layer.SKETCH, (700, 700), (900, 900), 5, 255)
    doc.settle()
    assert all(diff.raw_old is None for diff in fill.diffs)
    doc.undo()  # the stroke: the fill's old side decompressed meanwhile
    doc.settle()
    assert all(diff.raw_old.shape == diff.box_shape for diff in fill.diffs)
    doc.undo()
    _assert_state(doc, before)


def test_the_changed_box_of_two_tiles():
    rng = np.random.default_rng(0)
    for shape in ((TILE, TILE, 3), (TILE, 37, 4), (5, 2), (1, 1, 3)):
        old = rng.integers(0, 256, shape, dtype=np.uint8)
        assert _changed_box(old, old.copy()) == (slice(0, 0), slice(0, 0))
        for _ in range(20):
            new = old.copy()
            at = tuple(rng.integers(0, size) for size in shape)
            new[at] ^= 1 + rng.integers(0, 255)
            other = tuple(rng.integers(0, size) for size in shape)
            new[other] ^= 1 + rng.integers(0, 255)
            rows, cols = _changed_box(old, new)
            assert (rows.start, rows.stop) == (min(at[0], other[0]), max(at[0], other[0]) + 1)
            assert (cols.start, cols.stop) == (min(at[1], other[1]), max(at[1], other[1]) + 1)
