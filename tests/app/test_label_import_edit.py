"""A label map edited elsewhere and imported back is a label edit; which engine fills a label
edit; what the legend shows before and after a map (QA audit 11)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.document import Layer
from app.legend import NO_LABEL, PRESENT_ONLY_ABOVE
from app.window import SAMPLE_IMAGE
from engines import registry
from engines.base import Readiness, Status
from engines.segmentation.base import LabelSet
from tests.app.test_window import _drag, _screen, shown_window


@pytest.fixture
def window(qtbot):
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    window.engine_panel.auto_run.setChecked(False)
    yield window
    window.worker.shutdown()


def _write(path, labels: np.ndarray):
    cv2.imwrite(str(path), labels)  # a plain grey PNG of ids, naming no label set
    return path


def _two_labels(doc) -> np.ndarray:
    labels = np.full((doc.height, doc.width), 12, np.uint8)
    labels[:, : doc.width // 3] = 4
    return labels


def test_a_map_repainted_elsewhere_and_imported_back_is_filled_where_it_changed(
        qtbot, window, tmp_path):
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.select_engine("telea")  # follows no labels
    doc = window.document
    first = _two_labels(doc)
    assert window.import_labels(_write(tmp_path / "map.png", first))
    assert not doc.mask.any()  # a new map is no edit
    edited = first.copy()
    edited[50:100, 400:500] = 4  # repainted elsewhere: 5000 pixels
    assert window.import_labels(_write(tmp_path / "edited.png", edited))
    assert np.array_equal(doc.layer(Layer.LABELS), edited)
    assert np.array_equal(doc.computed_labels, first)  # the computed map stays
    assert doc.mask[50:100, 400:500].all()  # the changed area is the hole
    assert not doc.mask[300:, :].any() and not doc.mask[:, :300].any()
    message = window.statusBar().currentMessage()
    assert "Label map imported: 5000 pixels changed; they will be filled" in message
    assert window.controller.settings.engine == "patchmatch"
    assert "Engine set to Guided PatchMatch: it follows the label map" in message  # no fill yet
    window.undo()  # labels and hole together
    assert np.array_equal(doc.layer(Layer.LABELS), first) and not doc.mask.any()
    window.engine_panel.select_engine("telea")
    window.ask_stop_runs = lambda text: True  # closing may find the fill below running
    window.engine_panel.auto_run.setChecked(True)  # a fill starts: said as filling
    with qtbot.waitSignal(window.controller.waitingChanged, timeout=60000):
        assert window.import_labels(_write(tmp_path / "edited.png", edited))
        assert "Filling with Guided PatchMatch: it follows the label map" in \
            window.statusBar().currentMessage()
    window.controller.cancel()


def test_the_same_map_imported_again_changes_nothing(window, tmp_path):
    window.open_path(SAMPLE_IMAGE)
    path = _write(tmp_path / "map.png", _two_labels(window.document))
    assert window.import_labels(path)
    steps = window.document.undo_label()
    assert window.import_labels(path)
    assert window.document.undo_label() == steps and not window.document.mask.any()
    assert "nothing changed" in window.statusBar().currentMessage()


def test_a_map_without_labels_is_imported_with_a_remark(window, tmp_path):
    window.open_path(SAMPLE_IMAGE)
    doc = window.document
    assert window.import_labels(_write(tmp_path / "map.png", _two_labels(doc)))
    empty = np.full((doc.height, doc.width), 255, np.uint8)
    assert window.import_labels(_write(tmp_path / "empty.png", empty))
    assert "the map has no labels" in window.statusBar().currentMessage()
    assert not doc.mask.any()  # not an edit that would make the whole picture a hole
    assert (doc.layer(Layer.LABELS) == 255).all()


def test_a_label_edit_keeps_an_engine_that_follows_labels(qtbot, window, tmp_path,
                                                           monkeypatch):
    semantic = registry.engine_class("semantic")
    monkeypatch.setattr(semantic, "status", lambda self: Status(Readiness.READY))
    window.open_path(SAMPLE_IMAGE)
    doc = window.document
    assert window.import_labels(_write(tmp_path / "map.png", _two_labels(doc)))
    window.engine_panel.select_engine("patchmatch")
    window.choose_label(4)
    _drag(qtbot, window.canvas, [_screen(window.canvas, x, 200) for x in range(400, 520, 15)])
    assert doc.mask[200, 450] == 255
    assert window.controller.settings.engine == "patchmatch"  # it follows labels: kept
    assert "Filling with" not in window.statusBar().currentMessage()
    window.engine_panel.select_engine("telea")
    window.choose_label(12)
    _drag(qtbot, window.canvas, [_screen(window.canvas, x, 100) for x in range(50, 150, 15)])
    assert window.controller.settings.engine == "semantic"
    assert window.statusBar().currentMessage().startswith(
        f"Engine set to {semantic.title}: it follows the label map")


BIG = LabelSet("big", tuple(f"class {i}" for i in range(PRESENT_ONLY_ABOVE + 10)),
               np.zeros((PRESENT_ONLY_ABOVE + 10, 3), np.uint8))
SMALL = LabelSet("small", ("sky", "grass", "water"), np.zeros((3, 3), np.uint8))


def _counts(present: dict[int, int]) -> np.ndarray:
    counts = np.zeros(256, np.int64)
    for label_id, count in present.items():
        counts[label_id] = count
    return counts


def test_no_current_label_is_shown_before_a_map(legend):
    assert legend.current_text.text() == NO_LABEL
    legend.set_counts(_counts({255: 100}))  # a picture without a map
    assert legend.current_text.text() == NO_LABEL
    legend.set_counts(_counts({3: 40, 255: 60}))  # a map of no known set
    assert legend.current_text.text().startswith("0")
    legend.set_label_set(SMALL)
    assert legend.current_text.text() == "0 sky"


def test_present_only_is_on_for_a_large_set_once_a_map_exists(legend):
    legend.set_label_set(BIG)
    assert not legend.present_only.isChecked()  # no map counted yet
    legend.set_counts(_counts({3: 10, 7: 20, 255: 5}))
    assert legend.present_only.isChecked()
    assert legend.shown_ids() == [3, 7, 255]
    legend.present_only.click()  # the user's choice stays
    legend.set_counts(_counts({3: 10, 8: 25}))
    assert not legend.present_only.isChecked() and len(legend.shown_ids()) == len(BIG) + 1
    legend.set_label_set(SMALL)
    legend.set_counts(_counts({0: 10, 255: 5}))
    assert not legend.present_only.isChecked()  # a short list shows all
