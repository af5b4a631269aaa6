"""Tools turn pointer events into single undo steps."""

from __future__ import annotations

import threading
import tracemalloc

import cv2
import numpy as np

from app import document as document_module
from app import tools
from app.document import Document, Layer
from app.tools import LabelFill, LabelPicker, MaskBrush, ToolSettings, make_tools
from engines.base import UNLABELLED
from engines.region import Box


def _doc() -> Document:
    return Document(np.zeros((100, 120, 3), np.uint8))


def test_every_tool_has_a_unique_name():
    tools = make_tools(ToolSettings())
    assert len(tools) == 13 and all(name == tool.name for name, tool in tools.items())


def test_brush_drag_is_one_step_and_reports_a_change():
    doc, settings = _doc(), ToolSettings()
    brush = MaskBrush(settings)
    brush.press(doc, (10, 10))
    brush.move(doc, (50, 10))
    assert brush.release(doc, (90, 10))
    assert doc.mask[10, 10:91].all() and doc.undo_label() == "Mask brush"
    doc.undo()
    assert not doc.mask.any() and not doc.can_undo()


def test_label_fill_reports_its_change_so_the_canvas_announces_it():
    doc, settings = _doc(), ToolSettings()
    labels = np.full((100, 120), 255, np.uint8)
    labels[:, 60:] = 3
    doc.replace_layer(Layer.LABELS, labels, "labels")
    settings.label = 7
    fill = LabelFill(settings)
    fill.press(doc, (5, 5))
    assert fill.release(doc, (5, 5))
    assert (doc.layer(Layer.LABELS)[:, :60] == 7).all()
    assert (doc.layer(Layer.LABELS)[:, 60:] == 3).all()
    fill.press(doc, (5, 5))  # already 7: nothing changes
    assert not fill.release(doc, (5, 5))


def test_the_bucket_without_a_label_map_says_so_and_changes_nothing():
    doc, settings = _doc(), ToolSettings()
    said = []
    settings.on_message = said.append
    fill = LabelFill(settings)
    fill.press(doc, (5, 5))  # it would label, and so make a hole of, the whole picture
    assert not fill.release(doc, (5, 5))
    assert not doc.mask.any() and not doc.can_undo()
    assert "No label map yet" in said[0]


def test_a_brush_stamp_is_centred_on_the_pointer():
    doc, settings = _doc(), ToolSettings()
    settings.radius["mask"] = 0.5  # a one-pixel brush
    brush = MaskBrush(settings)
    brush.press(doc, (40.5, 30.5))  # the middle of pixel (40, 30)
    assert brush.release(doc, (40.5, 30.5))
    assert list(zip(*np.nonzero(doc.mask))) == [(30, 40)]
    brush.press(doc, (10.9, 70.1))  # anywhere in a pixel paints that pixel
    brush.release(doc, (10.9, 70.1))
    assert doc.mask[70, 10] == 255
    for radius in (1.5, 3.0, 12.0):  # thin (drawn exactly) and thick (by OpenCV) alike
        settings.radius["mask"] = radius
        doc.replace_layer(Layer.MASK, np.zeros((100, 120), np.uint8), "clear")
        brush.press(doc, (80.5, 50.5))
        brush.release(doc, (80.5, 50.5))
        rows, cols = np.nonzero(doc.mask)
        assert (rows.min() + rows.max()) / 2 == 50 and (cols.min() + cols.max()) / 2 == 80


def test_picker_makes_the_label_under_the_pointer_current():
    doc, settings = _doc(), ToolSettings()
    labels = doc.layer(Layer.LABELS).copy()
    labels[:, 60:] = 12
    doc.replace_layer(Layer.LABELS, labels, "labels")
    picked = []
    settings.on_label_picked = picked.append
    LabelPicker(settings).press(doc, (80, 40))
    assert settings.label == 12 and picked == [12]


def test_the_bucket_backs_up_only_the_box_of_the_area_it_fills(monkeypatch):
    doc, settings = Document(np.zeros((900, 1300, 3), np.uint8)), ToolSettings()
    labels = np.full((900, 1300), 2, np.uint8)
    labels[300:420, 500:560] = 5  # the area to fill, inside one 256 px tile row
    labels[350, 500:560] = 6  # ...cut in two by a line: only its upper part is reached
    doc.replace_label_map(labels, None, "Compute map")
    touched = []
    touch = Document.touch
    monkeypatch.setattr(Document, "touch",
                        lambda self, layer, box: touched.append((layer, box))
                        or touch(self, layer, box))
    settings.label = 9
    fill = LabelFill(settings)
    fill.press(doc, (520, 310))
    assert fill.release(doc, (520, 310))
    assert touched[0] == (Layer.LABELS, Box(300, 500, 350, 560))
    after = labels.copy()
    after[300:350, 500:560] = 9
    assert np.array_equal(doc.layer(Layer.LABELS), after)
    grown_hole = doc.mask.copy()
    assert grown_hole[300:350, 500:560].all() and not grown_hole[450:, :].any()
    step = doc.undo()
    label_tiles = {(d.row, d.col) for d in step.diffs if d.layer is Layer.LABELS}
    assert label_tiles == {(1, 1), (1, 2)}  # rows 256-511, columns 256-767
    assert np.array_equal(doc.layer(Layer.LABELS), labels) and not doc.mask.any()
    doc.redo()
    assert np.array_equal(doc.layer(Layer.LABELS), after)
    assert np.array_equal(doc.mask, grown_hole)


def _bucket_maps() -> list[np.ndarray]:
    """Label maps with regions of every kind: blocks touching the edges, one-pixel regions,
    regions meeting only at corners (not 4-connected), unlabelled (255) areas, one label in
    several separate parts, and noise."""
    rng = np.random.default_rng(11)
    maps = []
    blocks = rng.integers(0, 4, (6, 7)).astype(np.uint8)
    blocks[blocks == 3] = UNLABELLED
    maps.append(cv2.resize(blocks, (130, 97), interpolation=cv2.INTER_NEAREST))
    checker = (np.indices((60, 70)).sum(axis=0) % 2).astype(np.uint8)  # corners only
    maps.append(checker)
    noise = rng.choice(np.array([0, 1, 2, UNLABELLED], np.uint8), (80, 90), p=[.5, .3, .1, .1])
    maps.append(noise)
    ring = np.full((120, 150), 4, np.uint8)
    cv2.circle(ring, (75, 60), 40, 7, 5)  # a ring around its inside, same label outside
    ring[0, :] = UNLABELLED
    ring[:, -1] = 1
    maps.append(ring)
    return maps


def _flood_reference(labels: np.ndarray, seed: tuple[int, int], value: int) -> np.ndarray:
    """What the bucket should leave: the 8-connected area of equal labels around ``seed``
    set to ``value``, by OpenCV's plain flood fill of the whole map."""
    expected = labels.copy()
    cv2.floodFill(expected, None, seed, value, 0, 0, 8 | cv2.FLOODFILL_FIXED_RANGE)
    return expected


def test_the_bucket_joins_diagonal_pieces_and_shift_takes_the_whole_label():
    labels = np.zeros((40, 60), np.uint8)
    labels[5:10, 5:10] = 3
    labels[10:15, 10:15] = 3  # touches the first piece at a corner only
    labels[30:35, 40:50] = 3  # apart: only Shift+click reaches it
    labels[20, 20] = 7
    doc, settings = Document(np.zeros((40, 60, 3), np.uint8)), ToolSettings(label=5)
    doc.replace_label_map(labels, "test", "map")
    fill = LabelFill(settings)
    fill.press(doc, (6.5, 6.5))
    assert fill.release(doc, (6.5, 6.5))
    after = doc.layer(Layer.LABELS)
    assert (after[5:15, 5:15][labels[5:15, 5:15] == 3] == 5).all()  # both diagonal pieces
    assert (after[30:35, 40:50] == 3).all()
    doc.undo()
    settings.shift = True  # as the canvas sets it for a Shift+click
    fill.press(doc, (6.5, 6.5))
    assert fill.release(doc, (6.5, 6.5))
    after = doc.layer(Layer.LABELS)
    assert np.array_equal(after == 5, labels == 3)  # every pixel of label 3, nothing else
    assert doc.undo_label() == "Label fill"
    doc.undo()
    assert np.array_equal(doc.layer(Layer.LABELS), labels)


def test_the_bucket_fills_the_connected_area_on_varied_maps(monkeypatch):
    monkeypatch.setattr(tools, "BAND_PIXELS", 256)  # many bands even on small maps
    rng = np.random.default_rng(4)
    kernel = (np.add.outer(np.arange(-3, 4) ** 2, np.arange(-3, 4) ** 2) <= 9).astype(
        np.uint8)  # the label hole's margin (3): the pixels within 3 of the change
    for labels in _bucket_maps():
        height, width = labels.shape
        seeds = [(0, 0), (width - 1, height - 1), (width - 1, 0)] + [
            (int(x), int(y)) for x, y in zip(rng.integers(0, width, 12),
                                             rng.integers(0, height, 12))]
        for seed in seeds:
            doc, settings = Document(np.zeros((height, width, 3), np.uint8)), ToolSettings()
            doc.replace_label_map(labels, "test", "map")
            doc.label_hole_margin = 3
            settings.label = int(rng.choice([0, 1, 5, UNLABELLED - 1]))
            fill = LabelFill(settings)
            heard = []
            doc.add_listener(lambda layer, box, heard=heard: heard.append((layer, box)))
            fill.press(doc, (seed[0] + 0.5, seed[1] + 0.5))
            changed = fill.release(doc, (seed[0] + 0.5, seed[1] + 0.5))
            expected = _flood_reference(labels, seed, settings.label)
            assert np.array_equal(doc.layer(Layer.LABELS), expected), seed
            assert changed == (labels[seed[1], seed[0]] != settings.label)
            hole = cv2.dilate((expected != labels).astype(np.uint8) * 255, kernel)
            assert np.array_equal(doc.mask, hole)
            if changed:
                # the area first, then the hole's parts, each inside the area grown by the
                # margin: the view merges them into one box to redraw
                area = Box.around(expected != labels)
                grown = Box(area.top - 3, area.left - 3, area.bottom + 3,
                            area.right + 3).clip((height, width))
                assert heard[0] == (Layer.LABELS, area)
                assert all(layer is Layer.MASK and grown.contains(box)
                           for layer, box in heard[1:])
                doc.undo()
                assert np.array_equal(doc.layer(Layer.LABELS), labels) and not doc.mask.any()
                doc.redo()
                assert np.array_equal(doc.layer(Layer.LABELS), expected)
                assert np.array_equal(doc.mask, hole)


def test_the_bucket_makes_no_temporary_the_size_of_the_picture(monkeypatch):
    monkeypatch.setattr(tools, "BAND_PIXELS", 1 << 16)
    height, width = 1600, 2000
    doc, settings = Document(np.zeros((height, width, 3), np.uint8)), ToolSettings()
    labels = np.zeros((height, width), np.uint8)
    labels[700:760, 900:980] = 3  # a small area far from the corner
    doc.replace_label_map(labels, "test", "map")
    settings.label = 2
    fill = LabelFill(settings)
    doc.layer(Layer.MASK)  # created before measuring
    doc.settle()
    gate = threading.Event()  # holds the undo compressor: only this thread's work counts
    document_module._COMPRESSOR.submit(gate.wait)
    tracemalloc.start()
    try:
        fill.press(doc, (920.5, 710.5))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gate.set()
    assert fill.release(doc, (920.5, 710.5))
    assert (doc.layer(Layer.LABELS)[700:760, 900:980] == 2).all()
    assert cv2.countNonZero(cv2.compare(doc.layer(Layer.LABELS), labels, cv2.CMP_NE)) == 4800
    # a few tiles backed up and grown into the hole; a flood fill mask of the whole
    # picture alone would be 3.2 MB
    assert peak < height * width / 4
