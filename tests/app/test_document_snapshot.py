"""Requests share the document's layers without a copy (copy on write): a request keeps the
pixels it was built with whatever the document does next, and the document's edits land."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from app import document as document_module
from app.controller import given_guidance
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, TILE, Document, Layer
from app.tools import LabelFill, ToolSettings
from engines.base import UNLABELLED, Guidance
from engines.region import mask_bbox

_FIELDS = ("image", "mask", "sketch", "color", "labels", "sample_include", "sample_exclude")


def _doc(height=300, width=400, seed=0) -> Document:
    rng = np.random.default_rng(seed)
    return Document(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _guided_doc() -> Document:
    """A document with a hole and every guidance layer drawn near it."""
    doc = _doc()
    with doc.step("hole"):
        doc.paint_segment(Layer.MASK, (150, 120), (220, 160), 12, 255)
    with doc.step("line"):
        doc.paint_segment(Layer.SKETCH, (140, 110), (230, 170), 2, 255)
    with doc.step("colour"):
        doc.paint_segment(Layer.COLOR, (160, 140), (200, 140), 4, (200, 10, 10, 255))
    labels = np.full((300, 400), 4, np.uint8)
    labels[:, 200:] = 9
    doc.replace_layer(Layer.LABELS, labels, "labels")
    sampling = np.zeros((300, 400), np.uint8)
    sampling[:40] = SAMPLE_EXCLUDE
    sampling[260:] = SAMPLE_INCLUDE
    doc.replace_layer(Layer.SAMPLING, sampling, "sampling")
    return doc


def _copies(request) -> dict[str, np.ndarray]:
    return {name: getattr(request, name).copy() for name in _FIELDS}


def _unchanged(request, copies: dict[str, np.ndarray]) -> bool:
    return all(np.array_equal(getattr(request, name), copies[name]) for name in _FIELDS)


def test_a_request_keeps_its_pixels_through_strokes_fills_undo_and_redo():
    doc = _guided_doc()
    request = doc.build_request()
    kept = _copies(request)
    assert all(not getattr(request, name).flags.writeable for name in _FIELDS)
    with doc.step("more mask"):
        doc.paint_segment(Layer.MASK, (20, 280), (100, 280), 10, 255)
    with doc.step("more lines"):
        doc.paint_segment(Layer.SKETCH, (20, 280), (380, 20), 3, 255)
    with doc.step("relabel"):
        doc.paint_segment(Layer.LABELS, (10, 150), (390, 150), 6, 2)
    result = doc.image.copy()
    result[100:200, 100:250] = 7
    doc.apply_result(result, used_mask=request.mask)
    doc.clear_layer(Layer.COLOR, "Clear colour")
    doc.replace_layer(Layer.SAMPLING, np.zeros((300, 400), np.uint8), "no sampling")
    assert (doc.image[100:200, 100:250] == 7).all()  # the edits landed in the document
    assert doc.mask[120, 150] == 0 and request.mask[120, 150] == 255  # the hole filled
    assert doc.mask[280, 60] == 255  # the stroke painted after the request stays
    assert not doc.layer(Layer.COLOR).any()
    assert _unchanged(request, kept)
    for _ in range(6):
        doc.undo()
    assert _unchanged(request, kept)
    assert all(np.array_equal(doc.layer(Layer(name)), kept[name])
               for name in ("image", "mask", "sketch", "color", "labels"))
    for _ in range(6):
        doc.redo()
    assert (doc.image[100:200, 100:250] == 7).all() and _unchanged(request, kept)
    doc.settle()


def test_requests_built_without_an_edit_between_them_share_the_same_pixels():
    doc = _guided_doc()
    first, second = doc.build_request(), doc.build_request(seed=3)
    assert all(np.shares_memory(getattr(first, name), getattr(second, name))
               for name in ("image", "mask", "sketch", "color", "labels"))
    with doc.step("stroke"):
        doc.paint_segment(Layer.MASK, (10, 10), (30, 10), 5, 255)
    third = doc.build_request()
    assert np.shares_memory(third.image, first.image)  # the picture was not written
    assert not np.shares_memory(third.mask, first.mask)
    assert third.mask[10, 20] == 255 and first.mask[10, 20] == 0


def test_the_document_writes_to_its_own_copy_once_a_request_shares_a_layer():
    doc = _doc()
    request = doc.build_request()
    assert np.shares_memory(doc.mask, request.mask)
    with doc.step("hole"):
        doc.paint_segment(Layer.MASK, (50, 50), (60, 50), 5, 255)
    assert not np.shares_memory(doc.mask, request.mask)
    assert doc.mask[50, 55] == 255 and not request.mask.any()


def test_an_edit_while_the_layer_is_still_being_copied_waits_for_the_copy(monkeypatch):
    gate = threading.Event()
    copier = ThreadPoolExecutor(max_workers=1)
    copier.submit(gate.wait)  # the copies queue behind this until the gate opens
    monkeypatch.setattr(document_module, "_LAYER_COPIER", copier)
    doc = _doc()
    with doc.step("hole"):
        doc.paint_segment(Layer.MASK, (50, 50), (90, 50), 8, 255)
    request = doc.build_request()
    kept = request.mask.copy()
    threading.Timer(0.2, gate.set).start()
    with doc.step("more"):
        doc.paint_segment(Layer.MASK, (50, 120), (90, 120), 8, 255)
    assert gate.is_set() and np.array_equal(request.mask, kept)
    assert doc.mask[120, 70] == 255 and doc.mask[50, 70] == 255
    copier.shutdown()


def test_a_tile_still_being_compressed_stays_exact_after_a_request_shares_its_layer():
    doc = _doc()
    with doc.step("first"):  # its compression job reads the layer's tile later
        doc.paint_segment(Layer.MASK, (10, 10), (TILE - 20, 10), 6, 255)
    after_first = doc.mask.copy()
    request = doc.build_request()
    with doc.step("second"):  # the same tile again, in the document's own copy
        doc.paint_segment(Layer.MASK, (10, 40), (TILE - 20, 40), 6, 255)
    after_second = doc.mask.copy()
    doc.settle()
    doc.undo()
    assert np.array_equal(doc.mask, after_first)
    doc.undo()
    assert not doc.mask.any()
    doc.redo()
    doc.redo()
    assert np.array_equal(doc.mask, after_second)
    assert np.array_equal(request.mask, after_first)


def test_a_cancelled_step_restores_the_document_not_the_request():
    doc = _doc()
    doc.begin_step("drag")
    doc.paint_segment(Layer.SKETCH, (10, 10), (200, 10), 3, 255)
    request = doc.build_request()  # a fill started during the drag
    kept = request.sketch.copy()
    doc.paint_segment(Layer.SKETCH, (10, 100), (200, 100), 3, 255)
    doc.cancel_step()
    assert not doc.layer(Layer.SKETCH).any()
    assert np.array_equal(request.sketch, kept) and kept[10, 100] == 255


def test_the_label_bucket_after_a_request_fills_the_document_only():
    doc = _doc(100, 120)
    labels = np.full((100, 120), 3, np.uint8)
    labels[:, 60:] = 5
    doc.replace_layer(Layer.LABELS, labels, "labels")
    request = doc.build_request()
    settings = ToolSettings()
    settings.label = 7
    fill = LabelFill(settings)
    fill.press(doc, (5, 5))
    assert fill.release(doc, (5, 5))
    assert (doc.layer(Layer.LABELS)[:, :60] == 7).all()
    assert np.array_equal(request.labels, labels)


def test_requests_carry_the_same_layers_as_before():
    doc = _guided_doc()
    request = doc.build_request(seed=2)
    sampling = doc.layer(Layer.SAMPLING)
    assert np.array_equal(request.sample_include,
                          np.where(sampling == SAMPLE_INCLUDE, 255, 0).astype(np.uint8))
    assert np.array_equal(request.sample_exclude,
                          np.where(sampling == SAMPLE_EXCLUDE, 255, 0).astype(np.uint8))
    for name in ("image", "mask", "sketch", "color", "labels"):
        assert np.array_equal(getattr(request, name), doc.layer(Layer(name)))
    blank = _doc()
    blank.layer(Layer.SKETCH)
    blank.layer(Layer.COLOR)
    blank.layer(Layer.LABELS)  # all unlabelled
    blank.layer(Layer.SAMPLING)
    empty = blank.build_request()
    assert all(getattr(empty, name) is None for name in _FIELDS[2:])
    only_include = np.zeros((300, 400), np.uint8)
    only_include[5, 5] = SAMPLE_INCLUDE
    blank.replace_layer(Layer.SAMPLING, only_include, "include")
    colour = np.zeros((300, 400, 4), np.uint8)
    colour[7, 9, 0] = 1  # a byte set with alpha 0 (the colour eraser's leftovers) counts
    blank.replace_layer(Layer.COLOR, colour, "colour")
    labelled = np.full((300, 400), UNLABELLED, np.uint8)
    labelled[299, 399] = 0
    blank.replace_layer(Layer.LABELS, labelled, "labels")
    some = blank.build_request()
    assert some.sample_exclude is None and some.sample_include[5, 5] == 255
    assert some.color is not None and some.labels is not None


@pytest.mark.parametrize("seed", range(6))
def test_the_hole_box_is_the_bounding_box_of_the_mask_at_128_or_more(seed):
    rng = np.random.default_rng(seed)
    doc = _doc(157, 211, seed)
    assert doc.hole_box() is None  # no mask layer yet
    mask = np.zeros((157, 211), np.uint8)
    for _ in range(seed):  # feathered specks: some under 128, which are not hole
        y, x = rng.integers(0, 157), rng.integers(0, 211)
        mask[y:y + 3, x:x + 4] = rng.integers(1, 256)
    doc.replace_layer(Layer.MASK, mask, "mask")
    assert doc.hole_box() == mask_bbox(mask)


def test_given_guidance_finds_none_in_a_request_without_guidance_and_the_rest_as_before():
    doc = _doc()
    with doc.step("hole"):
        doc.paint_segment(Layer.MASK, (150, 120), (220, 160), 12, 255)
    bare = doc.build_request()
    assert given_guidance(doc, bare) == set() == bare.guidance_given(doc.computed_labels)
    guided = _guided_doc()
    request = guided.build_request()
    given = given_guidance(guided, request)
    assert given == request.guidance_given(guided.computed_labels)
    assert {Guidance.SKETCH, Guidance.COLOR, Guidance.LABELS} <= given
