"""The semantic-map session: compute on the worker, one undo step, label edits become the
hole, import/export of indexed PNGs, parsers that are not ready."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from PIL import Image

from app import semantic
from app.document import Document, Layer
from app.semantic import SemanticController, engine_for_labels, label_set_for, palette_for
from app.tools import LabelBrush, LabelFill, LabelPicker, ToolSettings
from app.worker import Worker
from engines.base import UNLABELLED
from engines.segmentation.labelmap import label_set_name, load_label_png, save_label_png

REGIONS_TITLE = "Colour regions (no download)"
FAST = {"working_size": 256}  # the regions parser on a smaller working picture


@pytest.fixture(name="setup")
def setup_fixture(qtbot, photo, model_cache):
    worker = Worker()
    controller = SemanticController(worker)
    document = Document(photo)
    controller.set_document(document)
    yield controller, document
    worker.shutdown()


@pytest.fixture
def parse_calls(monkeypatch):
    """Records (thread, returned map) of every parse the controller runs."""
    calls = []
    original = semantic._parse

    def spy(parser, image, cancel, progress):
        labels = original(parser, image, cancel, progress)
        calls.append((threading.current_thread(), labels))
        return labels

    monkeypatch.setattr(semantic, "_parse", spy)
    return calls


def _compute(qtbot, controller, parser="regions", **options):
    with qtbot.waitSignal(controller.busyChanged, timeout=60000,
                          check_params_cb=lambda busy: not busy):
        task_id = controller.compute_map(parser, **(options or FAST))
    assert task_id is not None


@pytest.fixture
def computed(qtbot, setup):
    controller, document = setup
    _compute(qtbot, controller)
    return controller, document


def test_compute_map_runs_on_the_worker_and_is_one_undo_step(qtbot, setup, parse_calls):
    controller, document = setup
    progress, label_sets = [], []
    controller.progressChanged.connect(lambda f, text: progress.append((f, text)))
    controller.labelSetChanged.connect(label_sets.append)
    _compute(qtbot, controller)
    [(thread, labels)] = parse_calls
    assert thread is not threading.main_thread()
    assert progress[0] == (0.0, f"{REGIONS_TITLE}: starting")
    assert any(text == f"{REGIONS_TITLE}: finding colour regions" for _, text in progress)
    assert progress[-1][0] == -1.0
    assert labels.shape == (427, 640) and labels.dtype == np.uint8
    assert np.array_equal(document.layer(Layer.LABELS), labels)
    assert (labels != UNLABELLED).all() and len(np.unique(labels)) > 1
    assert document.label_set == "regions" and label_sets[-1].name == "regions"
    assert controller.label_set is label_sets[-1]
    assert np.array_equal(document.computed_labels, labels)
    assert document.computed_labels is not document.layer(Layer.LABELS)
    assert not document.mask.any()  # a new map is not a label edit
    assert document.undo_label() == f"Compute map ({REGIONS_TITLE})"
    document.undo()
    assert (document.layer(Layer.LABELS) == UNLABELLED).all()
    assert not document.can_undo()
    document.redo()
    assert np.array_equal(document.layer(Layer.LABELS), labels)


def test_recomputing_replaces_the_map_without_making_a_hole(qtbot, computed):
    controller, document = computed
    first = document.layer(Layer.LABELS).copy()
    _compute(qtbot, controller, working_size=160, max_regions=4)
    assert not np.array_equal(document.layer(Layer.LABELS), first)
    assert np.array_equal(document.computed_labels, document.layer(Layer.LABELS))
    assert not document.mask.any()  # a new map is not an edit of the old one


def test_undoing_a_map_brings_back_the_previous_label_set(qtbot, computed, tmp_path):
    controller, document = computed
    regions = controller.label_set
    unnamed = tmp_path / "plain.png"
    cv2.imwrite(str(unnamed), np.full((427, 640), 2, np.uint8))  # names no label set
    controller.label_set = None  # as if the picture had no set: the file's ids are kept
    assert controller.import_labels(unnamed)
    assert document.label_set is None and controller.label_set is None
    emitted = []
    controller.labelSetChanged.connect(emitted.append)
    document.undo()  # the computed map and its set come back
    assert emitted == [regions] and controller.label_set is regions
    assert document.label_set == "regions"
    document.undo()  # before any map
    assert emitted == [regions, None] and controller.label_set is None
    assert document.computed_labels is None
    document.redo()
    assert emitted[-1] is regions and np.array_equal(document.computed_labels,
                                                     document.layer(Layer.LABELS))


def test_counts_follow_the_label_layer(qtbot, computed):
    controller, document = computed
    with qtbot.waitSignal(controller.countsChanged, timeout=5000) as counted:
        document.undo()
    assert counted.args[0][UNLABELLED] == 427 * 640 and counted.args[0][:255].sum() == 0
    with qtbot.waitSignal(controller.countsChanged, timeout=5000) as counted:
        document.redo()
    expected = np.bincount(document.layer(Layer.LABELS).ravel(), minlength=256)
    assert np.array_equal(counted.args[0], expected)


def test_a_parser_without_weights_says_how_to_get_them_in_the_editor(qtbot, setup):
    controller, document = setup
    errors, busy = [], []
    controller.error.connect(errors.append)
    controller.busyChanged.connect(busy.append)
    assert controller.compute_map("scene") is None
    assert errors == ["Scene parsing (DeepLab v2, COCO-Stuff) cannot compute the map, as its "
                      "weights are not installed: download them in File → Models… (or Import "
                      "file… with a copy you have)"]  # no command line: see test_weights_wording
    assert busy == [] and not controller.worker.busy
    assert not document.has_layer(Layer.LABELS) and not document.can_undo()


def test_an_unknown_parser_lists_the_valid_ones(setup):
    controller, _ = setup
    errors = []
    controller.error.connect(errors.append)
    assert controller.compute_map("sceen") is None
    assert "'scene'" in errors[0] and "regions" in errors[0]


def test_a_newer_request_supersedes_the_older(qtbot, setup, parse_calls):
    controller, document = setup
    controller.compute_map("regions", working_size=256, max_regions=3)
    _compute(qtbot, controller, working_size=192, max_regions=6)
    qtbot.wait(200)  # let a late signal of the first run arrive, if any
    assert np.array_equal(document.layer(Layer.LABELS), parse_calls[-1][1])
    document.undo()
    assert not document.can_undo()  # exactly one step was stored


def _edit_at_each_start(controller, document, times: int) -> list[int]:
    """Apply a small edit to the picture as each of the next ``times`` runs starts (on the
    GUI thread, before their results can arrive); returns the list of runs started."""
    started = []

    def on_progress(fraction: float, text: str) -> None:
        if fraction == 0.0 and text.endswith("starting"):
            started.append(1)
            if len(started) <= times:
                changed = document.image.copy()
                changed[:10] = (changed[:10].astype(int) + 50) % 256
                document.apply_result(changed, used_mask=np.zeros_like(document.mask))

    controller.progressChanged.connect(on_progress)
    return started


def test_a_map_for_a_picture_that_changed_meanwhile_is_computed_again(qtbot, setup,
                                                                      parse_calls):
    controller, document = setup
    messages = []
    controller.message.connect(messages.append)
    started = _edit_at_each_start(controller, document, times=1)
    controller.compute_map("regions", **FAST)
    qtbot.waitUntil(lambda: document.has_layer(Layer.LABELS), timeout=60000)
    assert len(started) == 2 and len(parse_calls) == 2
    assert "The picture changed while the map was computed; computing it again" in messages
    assert np.array_equal(document.layer(Layer.LABELS), parse_calls[-1][1])
    assert document.undo_label().startswith("Compute map")


def test_a_picture_that_keeps_changing_gets_no_map_and_is_told(qtbot, setup):
    controller, document = setup
    messages = []
    controller.message.connect(messages.append)
    started = _edit_at_each_start(controller, document, times=99)
    controller.compute_map("regions", **FAST)
    qtbot.waitUntil(lambda: bool(messages) and "compute it again" in messages[-1],
                    timeout=60000)
    assert len(started) == controller.max_attempts
    assert not document.has_layer(Layer.LABELS) and document.computed_labels is None


def test_a_map_that_finishes_during_a_stroke_waits_for_its_end(qtbot, setup):
    controller, document = setup
    controller.compute_map("regions", **FAST)
    document.begin_step("Mask brush")
    qtbot.waitUntil(lambda: not controller.busy, timeout=60000)
    qtbot.wait(250)
    assert not document.has_layer(Layer.LABELS)
    document.paint_segment(Layer.MASK, (10, 10), (30, 10), 3, 255)
    document.end_step()
    qtbot.waitUntil(lambda: document.computed_labels is not None, timeout=5000)
    assert document.undo_label() == f"Compute map ({REGIONS_TITLE})"
    assert np.array_equal(document.layer(Layer.LABELS), document.computed_labels)


def _distance_to(changed: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest changed pixel."""
    return cv2.distanceTransform(np.where(changed, 0, 255).astype(np.uint8), cv2.DIST_L2,
                                 cv2.DIST_MASK_PRECISE)


def _assert_hole_is_changed_area_grown_by_margin(document):
    changed = document.layer(Layer.LABELS) != document.computed_labels
    assert changed.any()
    distance = _distance_to(changed)
    hole = document.mask > 0
    margin = document.label_hole_margin
    assert hole[distance <= margin - 1].all()  # everything within the margin is hole
    assert not hole[distance > margin + 1].any()  # and nothing further away


def test_a_label_brush_stroke_makes_the_changed_area_plus_margin_the_hole(computed):
    _, document = computed
    computed_map = document.computed_labels.copy()
    settings = ToolSettings(label=200)
    settings.radius["labels"] = 10.0
    brush = LabelBrush(settings)
    brush.press(document, (150, 120))
    brush.move(document, (260, 140))
    assert brush.release(document, (330, 150))
    labels = document.layer(Layer.LABELS)
    assert np.array_equal(labels != computed_map, labels == 200)  # only the stroke changed
    assert (labels[140, 258:263] == 200).all()
    _assert_hole_is_changed_area_grown_by_margin(document)
    assert document.build_request().labels is not None
    assert document.undo_label() == "Label brush"
    document.undo()
    assert np.array_equal(document.layer(Layer.LABELS), computed_map)
    assert not document.mask.any()


def test_a_label_fill_makes_the_filled_region_plus_margin_the_hole(computed):
    _, document = computed
    computed_map = document.computed_labels.copy()
    x, y = 320, 60
    old = int(computed_map[y, x])
    settings = ToolSettings(label=201)
    LabelFill(settings).press(document, (x, y))
    labels = document.layer(Layer.LABELS)
    _, component = cv2.floodFill(computed_map.copy(), None, (x, y), 201, 0, 0, 8)[:2]
    assert np.array_equal(labels, component)
    assert (computed_map[labels == 201] == old).all()
    _assert_hole_is_changed_area_grown_by_margin(document)
    document.undo()
    assert np.array_equal(document.layer(Layer.LABELS), computed_map)
    assert not document.mask.any()


def test_the_picker_reports_the_computed_label(computed):
    _, document = computed
    picked = []
    settings = ToolSettings(on_label_picked=picked.append)
    LabelPicker(settings).press(document, (100, 300))
    assert picked == [int(document.computed_labels[300, 100])] and settings.label == picked[0]


def test_label_maps_round_trip_through_indexed_png(qtbot, setup, tmp_path):
    controller, document = setup
    regions = label_set_for("regions")
    labels = np.full((427, 640), UNLABELLED, np.uint8)
    labels[50:200, 100:300] = 3
    labels[200:, :320] = 0
    labels[300:, 500:] = 17
    source = tmp_path / "map.png"
    save_label_png(source, labels, regions)
    with qtbot.waitSignal(controller.labelSetChanged, timeout=2000) as changed:
        assert controller.import_labels(source)
    assert changed.args[0].name == "regions" and document.label_set == "regions"
    assert np.array_equal(document.layer(Layer.LABELS), labels)
    assert np.array_equal(document.computed_labels, labels)
    assert not document.mask.any()
    assert document.undo_label() == "Import label map (map.png)"

    target = tmp_path / "out.png"
    assert controller.export_labels(target)
    with Image.open(target) as picture:
        assert picture.mode == "P"
        palette = np.array(picture.getpalette()[:768], np.uint8).reshape(256, 3)
    assert np.array_equal(load_label_png(target), labels)
    assert label_set_name(target) == "regions"
    assert np.array_equal(palette[:255], palette_for(regions)[:255])

    errors = []
    controller.error.connect(errors.append)
    assert not controller.export_labels(target)  # exists, no overwrite
    assert errors
    assert controller.export_labels(target, overwrite=True)

    document.undo()
    assert (document.layer(Layer.LABELS) == UNLABELLED).all()


def test_a_label_map_of_another_size_is_refused(setup, tmp_path):
    controller, document = setup
    path = tmp_path / "small.png"
    save_label_png(path, np.zeros((10, 12), np.uint8), label_set_for("regions"))
    errors = []
    controller.error.connect(errors.append)
    assert not controller.import_labels(path)
    assert "12x10" in errors[0] and "640x427" in errors[0]
    assert not document.has_layer(Layer.LABELS) and not document.can_undo()


def test_nothing_to_export_says_so(setup, tmp_path):
    controller, _ = setup
    messages = []
    controller.message.connect(messages.append)
    assert not controller.export_labels(tmp_path / "none.png")
    assert "no label map" in messages[0] and not (tmp_path / "none.png").exists()


def test_a_document_label_set_name_resolves(qtbot, setup, photo):
    controller, _ = setup
    document = Document(photo)
    document.label_set = "face19"
    with qtbot.waitSignal(controller.labelSetChanged, timeout=2000) as changed:
        controller.set_document(document)
    assert changed.args[0].name == "face19" and len(changed.args[0]) == 19
    assert label_set_for("cocostuff182") is not None and label_set_for("nope") is None
    assert label_set_for(None) is None
    assert palette_for(None).shape == (256, 3)


def test_label_edits_are_filled_by_an_engine_that_takes_labels(model_cache):
    assert engine_for_labels("telea") == "patchmatch"  # semantic needs training here
    assert engine_for_labels("patchmatch") == "patchmatch"


def test_label_histogram_counts_each_id_as_bincount_does():
    from app.semantic import label_histogram

    labels = np.random.default_rng(3).integers(0, 256, (300, 417)).astype(np.uint8)
    labels[:, ::7] = 5  # a non-contiguous pattern and a dominant id
    view = labels[:, 1:]  # not contiguous
    assert np.array_equal(label_histogram(view), np.bincount(view.ravel(), minlength=256))
    assert label_histogram(view).dtype == np.int64


def test_the_parser_reads_the_picture_itself_read_only_not_a_copy(qtbot, setup, monkeypatch):
    controller, document = setup
    seen = []
    original = semantic._parse

    def spy(parser, image, cancel, progress):
        seen.append((np.shares_memory(image, document.image), image.flags.writeable))
        return original(parser, image, cancel, progress)

    monkeypatch.setattr(semantic, "_parse", spy)
    _compute(qtbot, controller)
    assert seen == [(True, False)]  # no copy on the GUI thread; the parser cannot write it
    assert document.image.flags.writeable  # the document's own array is untouched
