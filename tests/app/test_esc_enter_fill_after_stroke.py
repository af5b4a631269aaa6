"""Esc and Enter right after a stroke with *Fill after each stroke* on, before its fill starts
(the auto-run timer): Esc stops that fill too (it never starts, nothing is filled or shown,
and the status bar says it was cancelled), Enter starts it now and applies it when done;
Enter with nothing to apply says so and how to get a fill."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.controller import cancelled_message
from app.document import Layer
from engines import registry
from engines.base import CancelToken, Engine, Region, RegionStage
from engines.fileio import save_image
from tests.app.test_window import shown_window

pytestmark = pytest.mark.timeout(120)

H, W = 48, 64
PICTURE = 90  # the picture's grey
FILLED = 200  # the fill's grey
HOLE = (slice(16, 32), slice(12, 52))  # inside the hole painted here


class CountingFill(Engine):
    """Fills the hole with :data:`FILLED` grey; counts its calls."""

    name = "qa-counting-fill"
    title = "Counting fill"
    calls = 0

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        type(self).calls += 1
        image = region.image.copy()
        image[region.hole] = FILLED
        yield RegionStage("refined", image, 1.0, final=True)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, model_cache):
    """A shown window on a plain grey picture, filling with :class:`CountingFill`, with
    *Fill after each stroke* on."""
    monkeypatch.setitem(registry._ENGINES, CountingFill.name, CountingFill)
    monkeypatch.setattr(CountingFill, "calls", 0)
    window = shown_window(qtbot, (900, 600))
    window.confirm = lambda title, text: True
    window.ask_stop_runs = lambda text: True  # closing with a fill running: stop it
    errors: list[str] = []
    window.show_error = errors.append
    window.errors = errors
    assert window.open_path(save_image(tmp_path / "grey.png",
                                       np.full((H, W, 3), PICTURE, np.uint8)))
    window.engine_panel.auto_run.setChecked(True)
    window.engine_panel.auto_apply.setChecked(False)
    assert window.engine_panel.select_engine(CountingFill.name)
    yield window
    window.worker.shutdown()


def paint_hole(qtbot, window) -> None:
    """A mask brush drag across the picture, as the user makes it; the fill after it is
    then about to start."""
    window.select_tool("mask")
    window.tool_settings.radius["mask"] = 12
    canvas = window.canvas
    screen = [QPoint(round(x * canvas.zoom + canvas.offset.x()),
                     round(24 * canvas.zoom + canvas.offset.y())) for x in (8, 32, 56)]
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, screen[0])
    for point in screen[1:]:
        QTest.mouseMove(canvas, point)
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, screen[-1])
    assert window.document.undo_label() == "Mask brush"
    assert (window.document.mask[HOLE] >= 128).all()
    assert window._run_timer.isActive()


def status(window) -> str:
    return window.statusBar().currentMessage()


@pytest.mark.parametrize("auto_apply", [False, True])
def test_esc_right_after_a_stroke_stops_the_fill_about_to_start(qtbot, window, auto_apply):
    window.engine_panel.auto_apply.setChecked(auto_apply)
    previews: list[object] = []
    window.controller.previewChanged.connect(
        lambda image, box, label: image is not None and previews.append(label))
    paint_hole(qtbot, window)
    before = window.document.image.copy()
    QTest.keyClick(window.canvas, Qt.Key_Escape)
    assert not window._run_timer.isActive()
    assert status(window) == cancelled_message("Counting fill")
    assert status(window) == "Cancelled Counting fill: nothing was filled"
    qtbot.wait(window._run_timer.interval() + 300)  # past when the fill would have started
    assert CountingFill.calls == 0
    assert not window.controller.busy and not window.controller.has_result
    assert previews == []
    assert np.array_equal(window.document.image, before)
    assert window.document.undo_label() == "Mask brush"  # the stroke stays
    assert (window.document.mask[HOLE] >= 128).all()
    assert status(window) == "Cancelled Counting fill: nothing was filled"
    assert window.errors == []


def test_the_engine_panels_cancel_stops_it_too(qtbot, window):
    paint_hole(qtbot, window)
    window.engine_panel.cancelRequested.emit()
    assert not window._run_timer.isActive()
    assert status(window) == "Cancelled Counting fill: nothing was filled"
    qtbot.wait(window._run_timer.interval() + 300)
    assert CountingFill.calls == 0 and not window.controller.has_result


def test_f_after_esc_fills_again(qtbot, window):
    paint_hole(qtbot, window)
    QTest.keyClick(window.canvas, Qt.Key_Escape)
    window.actions["fill"].trigger()
    qtbot.waitUntil(lambda: window.controller.has_result, timeout=30000)
    assert CountingFill.calls == 1


def test_enter_right_after_a_stroke_starts_its_fill_and_applies_it(qtbot, window):
    paint_hole(qtbot, window)
    QTest.keyClick(window.canvas, Qt.Key_Return)
    assert not window._run_timer.isActive()
    qtbot.waitUntil(lambda: window.document.undo_label() == "Fill (Counting fill)",
                    timeout=30000)
    assert CountingFill.calls == 1
    assert (window.document.image[HOLE] == FILLED).all()
    assert not window.controller.has_result
    assert status(window) == "Applied Counting fill; Ctrl+Z undoes it"


def test_enter_with_nothing_to_apply_says_so(qtbot, window):
    window.engine_panel.auto_run.setChecked(False)
    before = window.document.image.copy()
    QTest.keyClick(window.canvas, Qt.Key_Return)
    assert status(window) == "Nothing to apply: fill first (F)"
    window.statusBar().clearMessage()
    window.engine_panel.applyRequested.emit()  # the Engine panel's Apply
    assert status(window) == "Nothing to apply: fill first (F)"
    assert np.array_equal(window.document.image, before) and not window.document.can_undo()
    # a fill waiting for Enter is applied, saying so, not that there is nothing
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (20, 24), (44, 24), 6, 255)
    window.actions["fill"].trigger()
    qtbot.waitUntil(lambda: window.controller.has_result, timeout=30000)
    QTest.keyClick(window.canvas, Qt.Key_Return)
    assert status(window) == "Applied Counting fill; Ctrl+Z undoes it"
    assert window.document.undo_label() == "Fill (Counting fill)"


def test_enter_with_no_picture_says_to_open_one(qtbot, model_cache):
    window = shown_window(qtbot, size=None)
    try:
        assert window.apply_result() is False
        assert status(window) == "Nothing to apply: open a picture first (Ctrl+O)"
    finally:
        window.worker.shutdown()
