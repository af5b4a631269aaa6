"""A fill with a sampling layer: starting it shares the layer and makes nothing of the
picture's size on the GUI thread; the worker makes the include and exclude areas, which the
engine receives, and PatchMatch still never copies excluded pixels; once the fill is over,
the document holds each layer once again."""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pytest

from app import document as document_module
from app.controller import FillController
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Document, Layer
from app.worker import Worker
from engines import registry
from engines.base import Engine, Guidance, RegionStage, Strategy

HOLE = (slice(24, 40), slice(16, 32))


@pytest.fixture
def controller(qtbot):
    worker = Worker()
    controller = FillController(worker)
    yield controller
    worker.shutdown()


def _document() -> Document:
    """64x96: a green left half with a hole inside it, grey elsewhere, both noisy."""
    rng = np.random.default_rng(2)
    image = np.full((64, 96, 3), 128, np.uint8)
    image[:, :48] = (20, 210, 20)
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    document = Document(image)
    mask = np.zeros((64, 96), np.uint8)
    mask[HOLE] = 255
    document.replace_layer(Layer.MASK, mask, "hole")
    return document


def _sampling() -> np.ndarray:
    """Exclude the green half (but the hole), include the grey half's bottom rows."""
    sampling = np.zeros((64, 96), np.uint8)
    sampling[:, :48] = SAMPLE_EXCLUDE
    sampling[HOLE] = 0
    sampling[56:, 48:] = SAMPLE_INCLUDE
    return sampling


def _finish(qtbot, controller: FillController) -> None:
    with qtbot.waitSignal(controller.busyChanged, timeout=60000,
                          check_params_cb=lambda busy: not busy):
        controller.run()


def test_the_worker_makes_the_sampling_areas_the_engine_receives(qtbot, controller,
                                                                 monkeypatch):
    received = {}

    class Recording(Engine):
        name = "recording"
        guidance = frozenset({Guidance.SAMPLING})

        def inpaint_region(self, region, cancel):
            received["include"] = region.sample_include
            received["exclude"] = region.sample_exclude
            yield RegionStage("refined", region.image.copy(), 1.0, final=True)

    monkeypatch.setitem(registry._ENGINES, "recording", Recording)
    threads = []
    area_of = document_module._area_of
    monkeypatch.setattr(document_module, "_area_of", lambda sampling, kind: (
        threads.append(threading.get_ident()) or area_of(sampling, kind)))
    tasks = []
    submit = controller.worker.submit
    monkeypatch.setattr(controller.worker, "submit", lambda task: tasks.append(task)
                        or submit(task))
    document = _document()
    sampling = _sampling()
    document.replace_layer(Layer.SAMPLING, sampling, "sampling")
    controller.set_document(document)
    controller.settings.engine = "recording"
    controller.settings.strategy = Strategy.ORIGINAL  # the engine sees the whole picture
    controller.settings.auto_apply = False
    _finish(qtbot, controller)
    assert len(threads) == 2 and threading.get_ident() not in threads  # made on the worker
    snapshot = tasks[0].request  # what the GUI thread handed over: the layer, shared
    assert snapshot.request.sample_include is None and snapshot.request.sample_exclude is None
    assert np.shares_memory(snapshot.sampling, document.layer(Layer.SAMPLING))
    for kind, name in ((SAMPLE_INCLUDE, "include"), (SAMPLE_EXCLUDE, "exclude")):
        assert np.array_equal(received[name], np.where(sampling == kind, 255, 0))


@pytest.mark.parametrize("excluded", [False, True])
def test_patchmatch_started_by_the_controller_never_copies_excluded_pixels(qtbot, controller,
                                                                          excluded):
    document = _document()
    if excluded:
        document.replace_layer(Layer.SAMPLING, _sampling(), "sampling")
    controller.set_document(document)
    controller.settings.engine = "patchmatch"
    with qtbot.waitSignal(controller.applied, timeout=60000):
        controller.run()
    filled = document.image[HOLE].reshape(-1, 3).astype(int)
    greenness = filled[:, 1] - filled[:, [0, 2]].max(axis=1)
    if excluded:
        assert (greenness < 40).all()
    else:  # the green around the hole is what it copies otherwise
        assert (greenness > 100).mean() > 0.9


def test_an_engine_that_ignores_the_sampling_area_is_said_to(qtbot, controller):
    document = _document()
    document.replace_layer(Layer.SAMPLING, _sampling(), "sampling")
    controller.set_document(document)
    controller.settings.engine = "telea"
    with qtbot.waitSignal(controller.message, timeout=20000,
                          check_params_cb=lambda text: text.startswith("Applied")) as said:
        controller.run()
    assert said.args[0].endswith("OpenCV Telea ignored the sampling area; Guided PatchMatch "
                                 "follows it")


@pytest.mark.parametrize("end", ["discard", "apply"])
def test_once_the_fill_is_over_each_layer_is_held_once(qtbot, controller, end):
    document = _document()
    document.replace_layer(Layer.SAMPLING, _sampling(), "sampling")
    with document.step("line"):
        document.paint_segment(Layer.SKETCH, (70, 10), (90, 60), 2, 255)  # not for the hole
    document.settle()
    layers = (Layer.IMAGE, Layer.MASK, Layer.SKETCH, Layer.SAMPLING)
    arrays = {layer: weakref.ref(document.layer(layer)) for layer in layers}
    controller.set_document(document)
    controller.settings.engine = "telea"
    controller.settings.auto_apply = False
    _finish(qtbot, controller)
    assert controller.has_result and set(document._shared) == set(layers)  # the run holds them
    copies = {layer: weakref.ref(document._shared[layer].result()) for layer in layers}
    getattr(controller, end)()
    qtbot.waitUntil(lambda: not document._shared, timeout=5000)
    written = {Layer.IMAGE, Layer.MASK} if end == "apply" else set()
    for layer in layers:  # the copy took the place of a layer written, else it was dropped
        kept, dropped = (copies, arrays) if layer in written else (arrays, copies)
        assert document.layer(layer) is kept[layer]()
        qtbot.waitUntil(lambda layer=layer, dropped=dropped: dropped[layer]() is None,
                        timeout=5000)
