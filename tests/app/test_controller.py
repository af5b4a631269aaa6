"""The fill controller: preview stages, apply as one undo step, stale results dropped."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from app.controller import FillController
from app.document import Document, Layer
from app.worker import Worker
from engines import registry
from engines.base import Engine, RegionStage
from tests.engines.test_plugins import MISBEHAVING, plugin_folder_fixture, write_plugin  # noqa: F401


@pytest.fixture
def setup(qtbot, photo):
    worker = Worker()
    controller = FillController(worker)
    document = Document(photo)
    controller.set_document(document)
    controller.settings.engine = "telea"
    yield controller, document
    worker.shutdown()


def _paint(document, p0=(200, 100), p1=(200, 380), radius=8):
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, p0, p1, radius, 255)


def test_a_run_previews_coarse_then_refined_and_applies_one_step(qtbot, setup):
    controller, document = setup
    original = document.image.copy()
    _paint(document)
    mask = document.mask.copy()
    previews = []
    controller.previewChanged.connect(lambda image, box, label: previews.append(label))
    with qtbot.waitSignal(controller.applied, timeout=20000):
        controller.run()
    assert previews[:2] == ["OpenCV Telea: coarse", "OpenCV Telea: refined"]
    assert np.array_equal(document.image[mask == 0], original[mask == 0])
    assert (document.image[mask > 0] != original[mask > 0]).any()
    assert not document.mask.any()
    document.undo()
    assert np.array_equal(document.image, original) and np.array_equal(document.mask, mask)


def test_without_auto_apply_the_result_waits_for_enter(qtbot, setup):
    controller, document = setup
    controller.settings.auto_apply = False
    original = document.image.copy()
    _paint(document)
    with qtbot.waitSignal(controller.busyChanged, timeout=20000,
                          check_params_cb=lambda busy: not busy):
        controller.run()
    assert controller.has_result and np.array_equal(document.image, original)
    assert controller.apply() and not np.array_equal(document.image, original)


def test_results_for_an_older_picture_are_dropped(qtbot, setup):
    controller, document = setup
    controller.settings.auto_apply = False
    _paint(document)
    with qtbot.waitSignal(controller.busyChanged, timeout=20000,
                          check_params_cb=lambda busy: not busy):
        controller.run()
    changed = document.image.copy()
    changed[0, 0] = 0 if changed[0, 0, 0] else 255
    document.apply_result(changed, used_mask=np.zeros_like(document.mask))
    messages = []
    controller.message.connect(messages.append)
    assert not controller.apply()
    assert "changed" in messages[-1]


def test_an_empty_mask_says_what_to_do(qtbot, setup):
    controller, _ = setup
    messages = []
    controller.message.connect(messages.append)
    assert controller.run() is None
    assert "Paint over" in messages[-1]


def test_engine_errors_reach_the_user(qtbot, setup):
    controller, document = setup
    controller.settings.engine = "telea"
    controller.settings.engine_options = {"telea": {"radius": "not a number"}}
    _paint(document)
    with qtbot.waitSignal(controller.error, timeout=20000) as blocker:
        controller.run()
    assert blocker.args[0]
    assert not controller.busy


def test_guidance_the_engine_ignores_is_said_with_who_would_follow_it(qtbot, setup):
    controller, document = setup
    _paint(document)
    with document.step("Sketch"):
        document.paint_segment(Layer.SKETCH, (150, 200), (250, 200), 2, 255)
    with qtbot.waitSignal(controller.message, timeout=20000,
                          check_params_cb=lambda text: text.startswith("Applied")) as said:
        controller.run()
    assert "OpenCV Telea ignored the sketch" in said.args[0]
    assert "Guided PatchMatch follows it" in said.args[0]
    document.undo()
    controller.settings.engine = "patchmatch"  # follows the sketch: nothing to say
    with qtbot.waitSignal(controller.message, timeout=60000,
                          check_params_cb=lambda text: text.startswith("Applied")) as said:
        controller.run()
    assert "ignored" not in said.args[0]


def test_a_label_map_counts_as_guidance_only_once_edited(photo):
    from app.controller import ignored_guidance_note
    from engines.base import Guidance

    document = Document(photo)
    labels = np.zeros(document.mask.shape, np.uint8)
    labels[:, 300:] = 1
    document.replace_label_map(labels, "regions", "Compute map")
    _paint(document, (100, 100), (100, 150))  # the hole the edit is for
    computed = document.computed_labels
    assert Guidance.LABELS not in document.build_request().guidance_given(computed)
    with document.step("Label brush", derive_hole=False):
        document.paint_segment(Layer.LABELS, (100, 100), (100, 150), 6, 1)
    given = document.build_request().guidance_given(computed)
    assert Guidance.LABELS in given
    note = ignored_guidance_note("telea", given | {Guidance.SAMPLING})
    assert note.startswith("OpenCV Telea ignored the label edits and the sampling area; ")
    assert note.endswith("follows them")


def test_the_seam_blend_reaches_the_fill_without_rebuilding_the_engine(qtbot, setup,
                                                                      monkeypatch):
    class Tinted(Engine):
        """A network-like engine: works at 128 px and does not keep the known pixels."""

        name, working_size = "tinted", 128
        script_options = frozenset({"half"})

        def inpaint_region(self, region, cancel):
            yield RegionStage("final", np.clip(region.image.astype(int) + 40, 0, 255)
                              .astype(np.uint8), 1.0, final=True)

    monkeypatch.setitem(registry._ENGINES, "tinted", Tinted)
    controller, document = setup
    controller.settings.engine = "tinted"
    built = []
    factory = controller.worker.engines._factory
    monkeypatch.setattr(controller.worker.engines, "_factory",
                        lambda name, **options: built.append(options) or factory(name, **options))
    original = document.image.copy()
    _paint(document)
    hole = document.mask > 0
    results = []
    for feather in (0.0, 12.0):
        controller.settings.engine_options = {"tinted": {"half": True, "seam_feather": feather}}
        with qtbot.waitSignal(controller.applied, timeout=20000):
            controller.run()
        results.append(document.image.copy())
        document.undo()
        assert np.array_equal(document.image, original)
    assert built == [{"half": True}]  # one engine, built once
    assert np.array_equal(results[0][~hole], results[1][~hole])
    assert not np.array_equal(results[0][hole], results[1][hole])  # the blend applied


def test_auto_apply_waits_for_a_brush_drag_in_progress(qtbot, setup):
    controller, document = setup
    _paint(document)
    with qtbot.waitSignal(controller.busyChanged, timeout=20000,
                          check_params_cb=lambda busy: not busy):
        controller.run()
        document.begin_step("Mask brush")  # still dragging when the result arrives
        document.paint_segment(Layer.MASK, (500, 50), (510, 60), 5, 255)
    qtbot.wait(100)
    assert controller.has_result and document.in_step
    with qtbot.waitSignal(controller.applied, timeout=5000):
        document.end_step()
    assert document.mask[55, 505] == 255  # the stroke painted meanwhile survives


@pytest.fixture
def gated(monkeypatch, setup):
    """An engine that shows a coarse stage, then waits for the returned event before its
    refined one, paying no heed to cancelling (as a result already on its way)."""
    gate = threading.Event()

    class Gated(Engine):
        name = "gated"

        def inpaint_region(self, region, cancel):
            yield RegionStage("coarse", np.full_like(region.image, 10), 0.5)
            gate.wait(20)
            yield RegionStage("refined", np.full_like(region.image, 20), 1.0, final=True)

    monkeypatch.setitem(registry._ENGINES, "gated", Gated)
    setup[0].settings.engine = "gated"
    yield gate
    gate.set()


def test_a_fill_whose_stroke_was_undone_meanwhile_is_dropped(qtbot, setup, gated):
    controller, document = setup
    original = document.image.copy()
    _paint(document)
    messages = []
    controller.message.connect(messages.append)
    with qtbot.waitSignal(controller.previewChanged, timeout=20000,
                          check_params_cb=lambda image, box, label: image is not None):
        controller.run()
    document.undo()  # the stroke: the user changed their mind
    with qtbot.waitSignal(controller.busyChanged, timeout=20000,
                          check_params_cb=lambda busy: not busy):
        gated.set()
    qtbot.wait(50)
    assert np.array_equal(document.image, original)
    assert document.can_redo() and document.redo_label() == "Mask brush"  # history kept
    assert not controller.has_result and document.preview is None
    assert "The mask changed while the engine ran; its fill was dropped" in messages


def test_painting_more_mask_during_a_fill_keeps_its_result(qtbot, setup, gated):
    controller, document = setup
    original = document.image.copy()
    _paint(document)
    used = document.mask.copy()
    with qtbot.waitSignal(controller.previewChanged, timeout=20000,
                          check_params_cb=lambda image, box, label: image is not None):
        controller.run()
    _paint(document, (400, 100), (400, 300))  # another stroke, for the next fill
    with qtbot.waitSignal(controller.applied, timeout=20000):
        gated.set()
    assert (document.image[used > 0] != original[used > 0]).any(axis=1).mean() > 0.9
    assert not document.mask[used > 0].any() and document.mask[200, 400] == 255


def test_a_result_on_its_way_never_lands_in_the_next_picture(qtbot, setup, photo):
    controller, document = setup
    _paint(document)
    controller.run()
    while controller.worker.busy:  # finished; its signals wait in the event queue
        time.sleep(0.01)
    following = Document(photo)  # the same size and mask: only its identity differs
    _paint(following)
    controller.set_document(following)
    qtbot.wait(200)
    assert np.array_equal(following.image, photo) and following.undo_label() == "Mask brush"
    assert np.array_equal(document.image, photo) and not controller.has_result
    assert not controller.busy


def _applied_message(qtbot, controller) -> str:
    with qtbot.waitSignal(controller.message, timeout=20000,
                          check_params_cb=lambda text: text.startswith("Applied")) as said:
        controller.run()
    return said.args[0]


def test_a_sketch_drawn_for_another_hole_is_not_said_to_be_ignored(qtbot, setup):
    controller, document = setup  # OpenCV Telea, which takes no sketch
    _paint(document)  # a hole along x = 200
    with document.step("Sketch"):
        document.paint_segment(Layer.SKETCH, (150, 200), (250, 200), 2, 255)
    assert "ignored the sketch" in _applied_message(qtbot, controller)
    # the lines inside that hole went with the fill; those beside it stay, far from the next
    _paint(document, (500, 100), (500, 300))
    assert document.layer(Layer.SKETCH).any()
    assert "ignored" not in _applied_message(qtbot, controller)


def test_label_edits_for_another_hole_are_not_said_to_be_ignored(qtbot, setup):
    controller, document = setup
    labels = np.zeros(document.mask.shape, np.uint8)
    labels[:, 320:] = 1
    document.replace_label_map(labels, "regions", "Compute map")
    with document.step("Label brush", derive_hole=False):  # an edit on the left...
        document.paint_segment(Layer.LABELS, (60, 60), (60, 120), 6, 1)
    _paint(document, (560, 200), (600, 200))  # ...and a hole far to the right
    assert "ignored" not in _applied_message(qtbot, controller)
    _paint(document, (60, 60), (60, 120))  # a hole over the edit
    assert "OpenCV Telea ignored the label edits" in _applied_message(qtbot, controller)


def test_stages_that_queue_up_reach_the_canvas_as_the_latest_only(qtbot, setup, monkeypatch):
    from app.canvas import Canvas
    from app.viewcache import ViewCache

    class Burst(Engine):
        """Three stages at once, faster than a busy window shows them."""

        name = "burst"

        def inpaint_region(self, region, cancel):
            for value in (10, 20, 30):
                yield RegionStage(f"stage {value}", np.full_like(region.image, value),
                                  value / 30, final=value == 30)

    monkeypatch.setitem(registry._ENGINES, "burst", Burst)
    controller, document = setup
    controller.settings.engine, controller.settings.auto_apply = "burst", False
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.set_document(document)
    controller.previewChanged.connect(canvas.set_preview)
    stages = []
    controller.previewChanged.connect(lambda image, box, label: stages.append((label, image)))
    shown = []
    set_preview = ViewCache.set_preview
    monkeypatch.setattr(ViewCache, "set_preview", lambda self, image, box, dirty=None:
                        shown.append(image) or set_preview(self, image, box, dirty))
    _paint(document)
    controller.run()
    while controller.worker.busy:  # the GUI thread is busy: every stage waits in the queue
        time.sleep(0.01)
    with qtbot.waitSignal(controller.busyChanged, timeout=20000,
                          check_params_cb=lambda busy: not busy):
        pass
    qtbot.wait(50)
    assert [label for label, _ in stages] == ["burst: stage 10", "burst: stage 20",
                                              "burst: stage 30"]
    latest = stages[-1][1]
    assert len(shown) == 1 and shown[0] is latest  # only the latest was drawn
    box = canvas.view.preview_box
    assert np.array_equal(canvas.view.preview_levels[0][..., 2::-1], latest[box.slices])
    assert not np.array_equal(latest, stages[1][1])  # the stages do differ
    assert canvas.stage_label == "burst: stage 30"


@pytest.fixture
def misbehaving(plugin_folder):
    """The module of misbehaving plugin engines (:data:`MISBEHAVING`), loaded through the
    plugin folder; qa-stuck's gate is opened at the end."""
    write_plugin(plugin_folder, "qa_misbehaving", MISBEHAVING)
    module = sys.modules[registry.engine_class("qa-stuck").__module__]
    yield module
    module.GATE.set()


@pytest.mark.parametrize("engine, said", [
    ("qa-float", "QA float output (qa-float) returned float32 values; engines must return "
                 "uint8 RGB (H, W, 3)"),
    ("qa-return", "QA returns an array (qa-return): inpaint_region returned a uint8 array"),
    ("qa-raises", "QA raises failed: ZeroDivisionError: plugin bug: division by zero in step 2"),
])
def test_a_plugin_engine_that_misbehaves_is_named_and_fills_nothing(qtbot, setup, misbehaving,
                                                                    engine, said):
    controller, document = setup
    controller.settings.engine = engine
    original = document.image.copy()
    _paint(document)
    with qtbot.waitSignal(controller.error, timeout=20000) as blocker:
        controller.run()
    assert blocker.args[0].startswith(said)
    qtbot.wait(50)
    assert np.array_equal(document.image, original) and document.undo_label() == "Mask brush"
    assert not controller.has_result and document.preview is None and not controller.busy


def test_a_fill_waiting_for_an_engine_that_ignores_cancel_says_so(qtbot, setup, misbehaving):
    controller, document = setup
    shown = []
    controller.progressChanged.connect(lambda fraction, text: shown.append(text))
    controller.settings.engine = "qa-stuck"
    original = document.image.copy()
    _paint(document)
    controller.run()
    assert misbehaving.INSIDE.wait(10)
    controller.cancel()  # Esc: the engine goes on regardless
    qtbot.waitUntil(lambda: "Stopping QA never cancels..." in shown, timeout=5000)
    assert controller.busy
    controller.settings.engine = "telea"
    controller.run()
    qtbot.waitUntil(lambda: "Waiting for QA never cancels to stop..." in shown, timeout=5000)
    assert np.array_equal(document.image, original)
    with qtbot.waitSignal(controller.applied, timeout=20000):
        misbehaving.GATE.set()
    waited = shown.index("Waiting for QA never cancels to stop...")
    assert "OpenCV Telea: starting" in shown[waited + 1:]  # said again once it could start
    assert (document.image != original).any() and document.undo_label() == "Fill (OpenCV Telea)"
