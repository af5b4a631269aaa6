"""Requests share the document's layers without a copy (copy on write): a request keeps the
pixels it was built with whatever the document does next, and the document's edits land."""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from app import document as document_module
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


def _gated_copier(monkeypatch) -> tuple[threading.Event, ThreadPoolExecutor]:
    """``(gate, copier)``: the layer copier replaced with ``copier``, whose copies queue
    until ``gate`` is set."""
    gate = threading.Event()
    copier = ThreadPoolExecutor(max_workers=1)
    copier.submit(gate.wait)  # the copies queue behind this until the gate opens
    monkeypatch.setattr(document_module, "_LAYER_COPIER", copier)
    return gate, copier


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
    gate, copier = _gated_copier(monkeypatch)
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


def test_the_guidance_given_is_found_in_the_completed_request_only_where_drawn():
    doc = _doc()
    with doc.step("hole"):
        doc.paint_segment(Layer.MASK, (150, 120), (220, 160), 12, 255)
    bare = doc.build_request()
    assert bare.guidance_given(doc.computed_labels) == set()
    guided = _guided_doc()
    snapshot = guided.snapshot()
    given = snapshot.complete().guidance_given(guided.computed_labels)
    assert given == {Guidance.SKETCH, Guidance.COLOR, Guidance.LABELS, Guidance.SAMPLING}
    # the sampling areas are the completed request's alone
    assert snapshot.request.guidance_given(guided.computed_labels) == given - {
        Guidance.SAMPLING}


def _areas(sampling: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.where(sampling == kind, 255, 0).astype(np.uint8)
                 for kind in (SAMPLE_INCLUDE, SAMPLE_EXCLUDE))


def test_the_snapshot_shares_the_sampling_layer_and_makes_no_area_of_it(monkeypatch):
    doc = _guided_doc()
    made = []
    area_of = document_module._area_of
    monkeypatch.setattr(document_module, "_area_of",
                        lambda sampling, kind: made.append(kind) or area_of(sampling, kind))
    snapshot = doc.snapshot(seed=5)
    assert made == []  # the GUI thread's part builds nothing of the picture's size
    request = snapshot.request
    assert request.sample_include is None and request.sample_exclude is None
    assert request.seed == 5
    assert np.shares_memory(snapshot.sampling, doc.layer(Layer.SAMPLING))
    assert not snapshot.sampling.flags.writeable
    include, exclude = _areas(doc.layer(Layer.SAMPLING))
    complete = snapshot.complete()
    assert sorted(made) == [SAMPLE_INCLUDE, SAMPLE_EXCLUDE]
    assert np.array_equal(complete.sample_include, include)
    assert np.array_equal(complete.sample_exclude, exclude)
    assert complete.image is request.image and complete.seed == 5
    blank = _doc()
    blank.layer(Layer.SAMPLING)  # all 0: no sampling area
    assert blank.snapshot().sampling is None


def test_a_write_right_after_the_snapshot_changes_the_document_not_the_areas(monkeypatch):
    gate, copier = _gated_copier(monkeypatch)
    doc = _guided_doc()
    before = _areas(doc.layer(Layer.SAMPLING))
    snapshot = doc.snapshot()
    threading.Timer(0.1, gate.set).start()
    everywhere = np.full((300, 400), 255, np.uint8)
    doc.replace_sampling_area(SAMPLE_EXCLUDE, everywhere, "Exclude all")  # waits for its copy
    assert (doc.layer(Layer.SAMPLING) == SAMPLE_EXCLUDE).all()
    complete = snapshot.complete()  # as the worker makes them, after the write
    assert np.array_equal(complete.sample_include, before[0])
    assert np.array_equal(complete.sample_exclude, before[1])
    copier.shutdown()


def _copier_idle() -> None:
    """Wait until the layer copier has run every copy submitted so far, done-callbacks
    included (one thread: a job submitted now runs after them)."""
    document_module._LAYER_COPIER.submit(lambda: None).result()


@pytest.mark.parametrize("layer", [Layer.SKETCH, Layer.SAMPLING, Layer.IMAGE])
def test_a_layer_is_held_once_again_when_no_request_holds_it_any_more(layer):
    doc = _guided_doc()
    doc.settle()  # the steps' compression jobs have copied their tiles out of the layers
    array = weakref.ref(doc.layer(layer))  # not held here: that would keep it shared
    first, second = doc.snapshot(), doc.build_request(seed=1)  # share the same array
    held = first.sampling if layer is Layer.SAMPLING else getattr(first.request, layer.value)
    corner = held[:5, :5]  # an array made from a request's view holds it as well
    del held
    copy = weakref.ref(doc._shared[layer].result())  # the copy for the document's next write
    _copier_idle()
    del first
    _copier_idle()
    assert layer in doc._shared and copy() is not None  # the second still holds it
    del second
    _copier_idle()
    assert layer in doc._shared and copy() is not None  # and the corner taken from the first
    del corner
    _copier_idle()
    assert layer not in doc._shared and copy() is None  # the copy is freed
    assert doc.layer(layer) is array()
    with doc.step("stroke"):  # written in place now: no request holds it
        doc.paint_segment(layer, (10, 10), (40, 10), 3, 1 if layer is not Layer.IMAGE
                          else (1, 2, 3))
    assert doc.layer(layer) is array() and doc.layer(layer)[10, 20].min() == 1


def test_a_request_gone_before_its_copy_is_done_lets_the_layer_go_once_it_is(monkeypatch):
    gate, copier = _gated_copier(monkeypatch)
    doc = _doc()
    with doc.step("hole"):
        doc.paint_segment(Layer.MASK, (50, 50), (90, 50), 8, 255)
    doc.settle()
    request = doc.build_request()
    copying = doc._shared[Layer.MASK]
    del request
    assert Layer.MASK in doc._shared and not copying.done()
    gate.set()
    copying.result()
    copier.submit(lambda: None).result()  # after the copy's done-callbacks
    assert not doc._shared
    copier.shutdown()


def test_a_released_layer_is_shared_afresh_by_the_next_request():
    doc = _doc()
    with doc.step("hole"):
        doc.paint_segment(Layer.MASK, (50, 50), (90, 50), 8, 255)
    doc.settle()
    doc.build_request()  # dropped at once
    _copier_idle()
    assert not doc._shared
    request = doc.build_request()
    kept = request.mask.copy()
    with doc.step("more"):
        doc.paint_segment(Layer.MASK, (50, 120), (90, 120), 8, 255)
    assert np.array_equal(request.mask, kept) and doc.mask[120, 70] == 255
    assert not np.shares_memory(request.mask, doc.mask)
