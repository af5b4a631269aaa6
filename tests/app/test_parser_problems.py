"""Parsers that cannot do their part in the editor: one whose label set raises is listed as
unavailable and said (never raised) while the others and imports go on; one whose weights are
missing is shown as needing a download and Compute map offers it; ids its label set does not
have are refused with the CLI's message."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from app.document import Layer
from app.window import SAMPLE_IMAGE, MainWindow
from engines.base import Readiness, Status
from engines.segmentation import base as parsers
from engines.segmentation.base import LabelSet, Parser
from engines.segmentation.labelmap import LabelMapError, encode_label_png, save_label_png

pytestmark = pytest.mark.timeout(120)
STRIPES = LabelSet("qa-stripes", ("even", "odd"), np.array([[255, 0, 0], [0, 0, 255]], np.uint8))
BROKEN = "QA bad set failed: RuntimeError: label set file missing"
NOT_INSTALLED = "QA needs weights: weights qa-stripes-w not installed"  # names the parser


class Stripes(Parser):
    name = "qa-stripes"
    title = "QA stripes"

    @property
    def label_set(self) -> LabelSet:
        return STRIPES

    def parse(self, image, cancel=None, progress=None) -> np.ndarray:
        height, width = image.shape[:2]
        return ((np.arange(height)[:, None] // 8) % 2).repeat(width, 1).astype(np.uint8)


class BadLabelSet(Stripes):
    name = "qa-bad-set"
    title = "QA bad set"

    @property
    def label_set(self) -> LabelSet:
        raise RuntimeError("label set file missing")


class OutOfSet(Stripes):
    name = "qa-out-of-set"
    title = "QA out of set"

    def parse(self, image, cancel=None, progress=None) -> np.ndarray:
        return np.full(image.shape[:2], 7, np.uint8)


class NeedsWeights(Stripes):
    """Not ready until :attr:`installed` (stands in for weights not downloaded yet)."""

    name = "qa-needs-weights"
    title = "QA needs weights"
    weights = ("qa-stripes-w",)
    installed: ClassVar[bool] = False

    def status(self) -> Status:
        return Status(Readiness.READY) if NeedsWeights.installed else \
            Status(Readiness.NEEDS_DOWNLOAD, NOT_INSTALLED)


@pytest.fixture
def window(qtbot, monkeypatch):
    parsers.parser_names()  # the real parsers first; the broken one before the good ones
    for cls in (BadLabelSet, Stripes, OutOfSet, NeedsWeights):
        monkeypatch.setitem(parsers._PARSERS, cls.name, cls)
    monkeypatch.setattr(NeedsWeights, "installed", False)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.confirm = lambda title, text: False
    assert window.open_path(SAMPLE_IMAGE)
    yield window
    window.worker.shutdown()


def compute(qtbot, window, name: str) -> None:
    """Press Compute map with parser ``name`` and wait for the run to end."""
    assert window.legend.select_parser(name)
    with qtbot.waitSignal(window.semantic.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        window.legend.compute_button.click()


def entry(window, name: str) -> str:
    return window.legend.parser.itemText(window.legend.parser.findData(name))


def test_a_parser_whose_label_set_raises_is_listed_unavailable_and_said(qtbot, window):
    assert window.legend.select_parser("qa-bad-set")
    window.legend.compute_button.click()  # raised out of the slot before
    assert window.last_error == BROKEN
    assert window.statusBar().currentMessage() == f"Error: {BROKEN}"
    assert not window.semantic.busy
    assert entry(window, "qa-bad-set") == "QA bad set (unavailable)"  # greyed, and why
    assert window.legend.parser_readiness("qa-bad-set") == (Readiness.UNAVAILABLE, BROKEN)
    compute(qtbot, window, "qa-stripes")  # the others still work
    assert window.document.label_set == "qa-stripes"
    assert set(np.unique(window.document.layer(Layer.LABELS))) == {0, 1}


def test_imports_pass_over_a_parser_whose_label_set_raises(qtbot, window, tmp_path):
    stripes = Stripes().parse(window.document.image)
    save_label_png(tmp_path / "stripes.png", stripes, STRIPES)
    assert window.semantic.import_labels(tmp_path / "stripes.png")  # raised before
    assert window.document.label_set == "qa-stripes"
    assert window.legend.label_set is STRIPES
    gone = LabelSet("qa-gone", ("a", "b", "c"), np.zeros((3, 3), np.uint8))
    save_label_png(tmp_path / "gone.png", stripes * 2, gone)
    messages = []
    window.semantic.message.connect(messages.append)
    assert window.semantic.import_labels(tmp_path / "gone.png")
    assert messages == ["Label map imported from gone.png: it names the label set 'qa-gone', "
                        f"which no parser here uses, so its ids are kept; {BROKEN}"]
    assert set(np.unique(window.document.layer(Layer.LABELS))) == {0, 2}


def test_a_parser_needing_weights_shows_so_and_compute_map_offers_them(qtbot, window):
    legend = window.legend
    assert entry(window, "qa-needs-weights") == "QA needs weights (needs download)"
    assert legend.parser_readiness("qa-needs-weights") == (
        Readiness.NEEDS_DOWNLOAD, NOT_INSTALLED)
    offered = []
    window.offer_download = lambda ids: offered.append(tuple(ids)) or False  # declined
    assert legend.select_parser("qa-needs-weights")
    legend.compute_button.click()
    assert offered == [("qa-stripes-w",)] and not window.semantic.busy
    assert window.statusBar().currentMessage() == NOT_INSTALLED
    assert not window.document.has_layer(Layer.LABELS)

    def install(ids) -> bool:
        offered.append(tuple(ids))
        NeedsWeights.installed = True
        return True

    window.offer_download = install
    with qtbot.waitSignal(window.semantic.labelsReplaced, timeout=30000):
        legend.compute_button.click()
    assert offered[1:] == [("qa-stripes-w",)]
    assert entry(window, "qa-needs-weights") == "QA needs weights"  # the panel is refreshed
    assert window.document.label_set == "qa-stripes"
    offered.clear()
    compute(qtbot, window, "qa-needs-weights")  # installed: nothing more to offer
    assert not offered


def test_ids_its_label_set_lacks_are_refused_as_the_cli_refuses_them(qtbot, window):
    compute(qtbot, window, "qa-out-of-set")
    with pytest.raises(LabelMapError) as refused:  # what `segment` says for such a map
        encode_label_png(np.full((2, 2), 7, np.uint8), STRIPES)
    assert window.last_error == f"QA out of set: {refused.value}"
    assert "has ids 7, which the label set 'qa-stripes' (ids 0-1) does not have" \
        in window.last_error
    assert not window.document.has_layer(Layer.LABELS)
