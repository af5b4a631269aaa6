"""Comparing engines: results side by side, choosing one (a button, or Enter for the current
result), reasons for engines that cannot run, stopping and closing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QScrollArea

from app import compare
from app.compare import CompareDialog, hole_area, ready_engines
from app.document import Document, Layer
from engines import registry
from engines.base import CancelToken, Engine, EngineError, Region, RegionStage

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def request_(textured, square_mask):
    document = Document(textured)
    document.replace_layer(Layer.MASK, square_mask, "mask")
    return document.build_request()


class BrokenEngine(Engine):
    name = "broken"

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        raise EngineError("the weights file is damaged")
        yield  # pragma: no cover


class SlowEngine(Engine):
    name = "slow"
    threads: ClassVar[list[threading.Thread]] = []

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        SlowEngine.threads.append(threading.current_thread())
        for _ in range(200):
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        yield RegionStage("refined", region.image, 1.0, final=True)


def factory(name: str, **options) -> Engine:
    if name == "broken":
        return BrokenEngine()
    if name == "slow":
        return SlowEngine()
    return registry.create(name, **options)


def run(qtbot, dialog: CompareDialog) -> None:
    with qtbot.waitSignal(dialog.completed, timeout=60000):
        assert dialog.start() is not None


def final_image(name: str, request) -> np.ndarray:
    return list(registry.create(name).run(request))[-1].image


def test_two_engines_are_shown_side_by_side(qtbot, request_):
    dialog = CompareDialog(request_, ["telea", "ns"])
    qtbot.addWidget(dialog)
    run(qtbot, dialog)
    assert set(dialog.results) == {"telea", "ns"} and not dialog.reasons
    for name in ("telea", "ns"):
        result = dialog.results[name]
        assert np.array_equal(result, final_image(name, request_))
        assert np.array_equal(result[~request_.hole], request_.image[~request_.hole])
        assert dialog.times[name] >= 0
        card = dialog.cards[name]
        assert card.use_button.isEnabled() and card.info.text().endswith(" s")
        area = hole_area(request_.mask)
        assert (card.picture.pixmap().width(), card.picture.pixmap().height()) == (area.width,
                                                                                   area.height)
    assert not np.array_equal(dialog.results["telea"], dialog.results["ns"])
    grid = dialog.cards["telea"].parentWidget().layout()
    positions = [grid.getItemPosition(grid.indexOf(dialog.cards[n]))[:2] for n in ("telea", "ns")]
    assert positions == [(0, 1), (0, 2)]  # beside the input card, in order
    assert "2 of 2 engines gave a result" in dialog.heading.text()


def test_the_dialog_opens_large_enough_for_every_card(qtbot, monkeypatch):
    monkeypatch.setattr(compare, "THUMBNAIL", 160)  # three columns within the test screen
    image = np.full((300, 400, 3), 120, np.uint8)
    mask = np.zeros((300, 400), np.uint8)
    mask[40:260, 60:340] = 255
    document = Document(image)
    document.replace_layer(Layer.MASK, mask, "mask")
    dialog = CompareDialog(document.build_request(), ["telea", "ns", "patchmatch"])
    qtbot.addWidget(dialog)
    area = hole_area(mask)
    thumbnail = (160, round(160 * area.height / area.width))
    for card in dialog.cards.values():  # room kept for the pictures still to come
        assert (card.picture.minimumWidth(), card.picture.minimumHeight()) == thumbnail
    dialog.show()
    qtbot.waitExposed(dialog)
    run(qtbot, dialog)
    for card in dialog.cards.values():  # the second row too, buttons included
        button = card.use_button
        assert button.visibleRegion().boundingRect().size() == button.size()
    assert dialog.findChild(QScrollArea).verticalScrollBar().maximum() == 0


def test_choosing_one_emits_it(qtbot, request_):
    dialog = CompareDialog(request_, ["telea", "ns"])
    qtbot.addWidget(dialog)
    run(qtbot, dialog)
    with qtbot.waitSignal(dialog.chosen) as chosen:
        dialog.cards["ns"].use_button.click()
    name, image = chosen.args
    assert name == "ns" and image is dialog.results["ns"]
    assert dialog.result() == QDialog.Accepted
    assert not dialog.choose("missing")


def test_each_use_button_names_its_engine(qtbot, request_):
    dialog = CompareDialog(request_, ["telea", "ns"])
    qtbot.addWidget(dialog)
    run(qtbot, dialog)
    for name in ("telea", "ns"):
        title = registry.engine_class(name).title
        button = dialog.cards[name].use_button
        assert button.text() == f"Use {title}"  # what the focus shows
        assert button.accessibleName() == f"Use the {title} result"  # what is read aloud
    with qtbot.waitSignal(dialog.chosen) as chosen:  # Space on the focused button
        qtbot.keyClick(dialog.cards["ns"].use_button, Qt.Key_Space)
    assert chosen.args[0] == "ns"


def test_engines_that_cannot_run_show_their_reason(qtbot, request_, model_cache):
    dialog = CompareDialog(request_, ["lama", "broken", "no-such-engine", "telea"],
                           factory=factory)
    qtbot.addWidget(dialog)
    run(qtbot, dialog)
    assert set(dialog.results) == {"telea"}
    assert "not installed" in dialog.reasons["lama"]
    assert dialog.reasons["broken"] == "the weights file is damaged"
    assert "unknown engine 'no-such-engine'" in dialog.reasons["no-such-engine"]
    for name in ("lama", "broken", "no-such-engine"):
        card = dialog.cards[name]
        assert card.info.text() == dialog.reasons[name] and not card.use_button.isEnabled()
        assert card.picture.text() == "no result"


def test_stop_keeps_finished_results_and_skips_the_rest(qtbot, request_):
    dialog = CompareDialog(request_, ["telea", "slow", "ns"], factory=factory)
    qtbot.addWidget(dialog)
    SlowEngine.threads.clear()
    dialog.start()
    qtbot.waitUntil(lambda: bool(SlowEngine.threads), timeout=30000)
    assert SlowEngine.threads[0] is not threading.main_thread()
    with qtbot.waitSignal(dialog.completed, timeout=30000):
        dialog.cancel()
    assert set(dialog.results) == {"telea"} and not dialog.running
    assert dialog.cards["ns"].info.text() == "not run"
    closed = []
    dialog.finished.connect(closed.append)
    dialog.reject()
    assert closed == [QDialog.Rejected]


def test_closing_while_running_stops_first(qtbot, request_):
    dialog = CompareDialog(request_, ["slow"], factory=factory)
    qtbot.addWidget(dialog)
    SlowEngine.threads.clear()
    closed = []
    dialog.finished.connect(closed.append)
    dialog.start()
    qtbot.waitUntil(lambda: bool(SlowEngine.threads), timeout=30000)
    dialog.reject()
    assert not closed and dialog.running
    qtbot.waitUntil(lambda: bool(closed), timeout=30000)
    assert closed == [QDialog.Rejected] and not dialog.results


def test_default_engines_are_the_ready_ones(qtbot, request_, model_cache):
    names = ready_engines()
    assert {"telea", "ns", "patchmatch"} <= set(names) and "lama" not in names
    dialog = CompareDialog(request_)
    qtbot.addWidget(dialog)
    assert dialog.names == tuple(names) and set(dialog.cards) == set(names)


def _shown(qtbot, dialog: CompareDialog) -> None:
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()


def test_enter_uses_the_current_result_wherever_the_focus_is(qtbot, request_):
    dialog = CompareDialog(request_, ["telea", "ns"])
    qtbot.addWidget(dialog)
    _shown(qtbot, dialog)
    run(qtbot, dialog)
    # the first result to arrive is current: framed, its button the default
    assert dialog.current == "telea" and dialog.cards["telea"].use_button.isDefault()
    assert not dialog.cards["ns"].use_button.isDefault()
    assert f"Enter uses {registry.engine_class('telea').title} (framed)" in dialog.heading.text()
    scroll = dialog.findChild(QScrollArea)
    for focus in (scroll, dialog.buttons.button(QDialogButtonBox.Close)):
        _shown(qtbot, dialog)  # (again, after the first Enter closed it)
        focus.setFocus()
        with qtbot.waitSignal(dialog.chosen) as chosen:  # no button of a result focused
            qtbot.keyClick(focus, Qt.Key_Return)
        assert chosen.args[0] == "telea" and dialog.result() == QDialog.Accepted
        assert not dialog.isVisible()


def test_a_clicked_card_becomes_the_current_result(qtbot, request_):
    dialog = CompareDialog(request_, ["telea", "ns"])
    qtbot.addWidget(dialog)
    _shown(qtbot, dialog)
    run(qtbot, dialog)
    qtbot.mouseClick(dialog.cards["ns"].picture, Qt.LeftButton)
    assert dialog.current == "ns" and dialog.cards["ns"].use_button.isDefault()
    assert not dialog.cards["telea"].use_button.isDefault()
    assert f"Enter uses {registry.engine_class('ns').title} (framed)" in dialog.heading.text()
    dialog.findChild(QScrollArea).setFocus()
    with qtbot.waitSignal(dialog.chosen) as chosen:
        qtbot.keyClick(dialog.findChild(QScrollArea), Qt.Key_Enter, Qt.KeypadModifier)
    assert chosen.args[0] == "ns"


def test_enter_on_a_focused_use_button_takes_that_result(qtbot, request_):
    dialog = CompareDialog(request_, ["telea", "ns"])
    qtbot.addWidget(dialog)
    _shown(qtbot, dialog)
    run(qtbot, dialog)
    assert dialog.current == "telea"
    button = dialog.cards["ns"].use_button
    button.setFocus()
    with qtbot.waitSignal(dialog.chosen) as chosen:
        qtbot.keyClick(button, Qt.Key_Return)
    assert chosen.args[0] == "ns"


def test_enter_before_any_result_does_nothing_and_esc_closes(qtbot, request_):
    dialog = CompareDialog(request_, ["broken"], factory=factory)
    qtbot.addWidget(dialog)
    _shown(qtbot, dialog)
    run(qtbot, dialog)
    assert dialog.current is None and not dialog.set_current("broken")
    chosen, closed = [], []
    dialog.chosen.connect(lambda *args: chosen.append(args))
    dialog.finished.connect(closed.append)
    label = dialog.cards["broken"].info  # selectable text: it takes clicks, not keys
    label.setFocus()
    qtbot.keyClick(label, Qt.Key_Return)
    assert not chosen and not closed and dialog.isVisible()
    qtbot.keyClick(label, Qt.Key_Escape)
    assert closed == [QDialog.Rejected] and not dialog.isVisible()


def test_the_heading_says_what_is_happening_before_any_result(qtbot, request_):
    """Before a result is framed the heading tells the state: nothing ready, waiting to
    start, running, or every engine failed."""
    nothing = CompareDialog(request_, [])
    qtbot.addWidget(nothing)
    assert nothing.heading.text().startswith("No engine is ready to compare")
    dialog = CompareDialog(request_, ["broken", "slow"], factory=factory)
    qtbot.addWidget(dialog)
    assert dialog.heading.text() == "2 engines will fill the same hole one after another."
    assert dialog.start() is not None
    assert dialog.heading.text().startswith("Running 1 of 2")
    with qtbot.waitSignal(dialog.completed, timeout=60000):
        dialog.cancel()
    failed = CompareDialog(request_, ["broken"], factory=factory)
    qtbot.addWidget(failed)
    run(qtbot, failed)
    assert failed.heading.text().startswith("0 of 1 engines gave a result")
