"""The canvas's scroll bars: shown only while part of the picture is out of view, showing
the visible part within the range a pan may reach, moving the view when used, following every
zoom, pan, fit and resize, and never feeding a move back to the canvas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QPointingDevice, QWheelEvent
from PySide6.QtWidgets import QAbstractSlider, QApplication, QScrollBar, QStyle, QStyleOptionSlider

from app.canvas import VISIBLE_MARGIN, Canvas
from app.canvas_view import CanvasView
from app.document import Document
from app.tools import MaskBrush, ToolSettings
from app.window import SAMPLE_IMAGE
from tests.app.test_window import shown_window

PICTURE = (600, 800)  # height, width


@pytest.fixture
def view(qtbot) -> CanvasView:
    """A 400x300 view, shown, of an 800x600 picture (fitted: no bars)."""
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    picture = np.random.default_rng(5).integers(0, 256, (*PICTURE, 3), dtype=np.uint8)
    view.canvas.set_document(Document(picture))
    return view


def _wheel(canvas: Canvas, pos: QPointF, angle=(0, 0), pixels=(0, 0),
           modifiers=Qt.NoModifier, phase=Qt.NoScrollPhase) -> None:
    event = QWheelEvent(pos, canvas.mapToGlobal(pos), QPoint(*pixels), QPoint(*angle),
                        Qt.NoButton, modifiers, phase, False, Qt.MouseEventNotSynthesized,
                        QPointingDevice.primaryPointingDevice())
    QApplication.sendEvent(canvas, event)


def _shown(view: CanvasView) -> tuple[bool, bool]:
    return view.across.isVisible(), view.down.isVisible()


def _shown_part(canvas: Canvas) -> tuple[float, float]:
    """How many screen px of the picture lie inside the canvas, across and down."""
    x0, y0 = canvas.offset.x(), canvas.offset.y()
    x1 = x0 + canvas.document.width * canvas.zoom
    y1 = y0 + canvas.document.height * canvas.zoom
    return (min(x1, canvas.width()) - max(x0, 0.0), min(y1, canvas.height()) - max(y0, 0.0))


def _assert_bars_match_the_view(view: CanvasView) -> None:
    """Each bar: value = picture px left of (above) the view, page = the view's size, range =
    every whole px a pan may reach (VISIBLE_MARGIN px of the picture left in view)."""
    canvas = view.canvas
    height, width = PICTURE
    for bar, offset, picture, size in (
            (view.across, canvas.offset.x(), width * canvas.zoom, canvas.width()),
            (view.down, canvas.offset.y(), height * canvas.zoom, canvas.height())):
        assert bar.value() == round(-offset)
        assert bar.pageStep() == size
        assert bar.minimum() == math.ceil(VISIBLE_MARGIN - size)
        assert bar.maximum() == math.floor(picture - VISIBLE_MARGIN)
    left, top = canvas.image_point(QPointF(0, 0))
    right, bottom = canvas.image_point(QPointF(canvas.width(), canvas.height()))
    assert view.across.value() == pytest.approx(left * canvas.zoom, abs=0.5)
    assert view.across.value() + view.across.pageStep() == pytest.approx(right * canvas.zoom,
                                                                         abs=0.5)
    assert view.down.value() == pytest.approx(top * canvas.zoom, abs=0.5)
    assert view.down.value() + view.down.pageStep() == pytest.approx(bottom * canvas.zoom,
                                                                       abs=0.5)


# ------------------------------------------------------------------ shown as needed
def test_no_bars_while_the_picture_fits_both_when_zoomed_in(view):
    canvas = view.canvas
    assert _shown(view) == (False, False) and canvas.size() == view.size()
    canvas.actual_size()
    assert _shown(view) == (True, True)
    assert (canvas.width(), canvas.height()) == (400 - view.down.width(),
                                                 300 - view.across.height())
    _assert_bars_match_the_view(view)
    canvas.fit()  # fitted to the whole view again, not to the room the bars left
    assert _shown(view) == (False, False) and canvas.size() == view.size()
    assert canvas.zoom == pytest.approx(min(400 / 800, 300 / 600) * 0.98)


def test_a_wide_picture_gets_only_the_horizontal_bar(qtbot, view):
    view.canvas.set_document(Document(np.zeros((100, 2000, 3), np.uint8)))
    view.canvas.actual_size()
    assert _shown(view) == (True, False)
    assert view.canvas.height() == 300 - view.across.height() and view.canvas.width() == 400


def _wide(view: CanvasView) -> None:
    """Show an 800x400 picture instead, fitted: 392x196 px in the 400x300 view."""
    view.canvas.set_document(Document(np.zeros((400, 800, 3), np.uint8)))


def test_a_fitting_picture_panned_partly_out_shows_a_bar_until_back(view):
    canvas = view.canvas
    canvas.pan_by(-120, 0)  # 392x294 px: the bar leaves too little room down
    assert _shown(view) == (True, True)
    _assert_bars_match_the_view(view)
    canvas.pan_by(120, 0)  # the whole picture in the whole view again
    assert _shown(view) == (False, False)
    _wide(view)
    canvas.pan_by(-120, 0)  # 392x196 px: room enough down
    assert _shown(view) == (True, False)
    canvas.pan_by(0, 60)  # out at the bottom too
    assert _shown(view) == (True, True)
    canvas.pan_by(120, -60)
    assert _shown(view) == (False, False)


def test_no_document_no_bars(view):
    view.canvas.actual_size()
    view.canvas.set_document(None)
    assert _shown(view) == (False, False) and view.canvas.size() == view.size()


def test_resizing_the_view_shows_hides_and_resizes_the_bars(qtbot, view):
    canvas = view.canvas
    canvas.actual_size()
    offset = QPointF(canvas.offset)
    view.resize(380, 290)  # smaller: the picture stays where it was
    assert canvas.offset == offset and _shown(view) == (True, True)
    view.resize(700, 500)  # larger, too small still: the picture fills the room gained
    assert _shown(view) == (True, True)
    assert canvas.offset.x() + 800 == canvas.width() and canvas.offset.y() + 600 == (
        canvas.height())
    _assert_bars_match_the_view(view)
    view.resize(1000, 800)  # room for all of it: all of it comes into view, the bars go
    assert _shown(view) == (False, False) and canvas.size() == view.size()
    assert _shown_part(canvas) == (800, 600)
    canvas.set_offset(QPointF(10, 10))
    assert _shown(view) == (False, False) and canvas.size() == view.size()
    view.resize(500, 700)  # too narrow only
    assert _shown(view) == (True, False)
    _assert_bars_match_the_view(view)
    assert view.across.width() == 500


def test_a_panned_picture_comes_into_view_as_the_view_grows(view):
    canvas = view.canvas
    canvas.actual_size()
    canvas.set_offset(QPointF(-600, -500))  # its bottom right corner in view, up left
    assert _shown_part(canvas) == (200, 100)
    view.resize(600, 400)  # the room gained is filled: 400x300 px in view now
    assert _shown_part(canvas) == (canvas.width(), canvas.height())
    assert _shown(view) == (True, True)
    _assert_bars_match_the_view(view)
    canvas.set_offset(QPointF(-300, -200))
    view.resize(900, 700)  # room for all of it: no bars
    assert _shown_part(canvas) == (800, 600) and _shown(view) == (False, False)
    assert (canvas.offset.x(), canvas.offset.y()) == (0, 0)  # moved no further than that


def test_zooming_about_the_centre_keeps_it_as_the_bars_come_and_go(view):
    canvas = view.canvas

    def centre() -> tuple[float, float]:
        return canvas.image_point(QPointF(canvas.width() / 2, canvas.height() / 2))

    before = centre()
    canvas.actual_size()  # Ctrl+1: the bars appear and take 14 px or so from the view
    assert _shown(view) == (True, True)
    assert centre() == pytest.approx(before, abs=0.5)
    canvas.zoom_by(0.4)  # out: the picture fits, the bars go
    assert _shown(view) == (False, False)
    assert centre() == pytest.approx(before, abs=0.5)
    canvas.zoom_by(3.0)
    assert _shown(view) == (True, True) and centre() == pytest.approx(before, abs=0.5)
    pointer = QPointF(50, 40)  # about the pointer: the point under it stays, bars or not
    canvas.fit()
    under = canvas.image_point(pointer)
    _wheel(canvas, pointer, angle=(0, 600))
    assert _shown(view) == (True, True)
    assert canvas.image_point(pointer) == pytest.approx(under, abs=1e-6)


# ------------------------------------------------------------------ showing the view
def test_the_bars_follow_wheel_pans_and_zooms_and_keep_the_offset_exact(view):
    canvas = view.canvas
    canvas.actual_size()
    before = view.across.value(), view.down.value()
    _wheel(canvas, QPointF(150, 100), angle=(-96, 64), pixels=(-12, 8), phase=Qt.ScrollUpdate)
    assert (view.across.value(), view.down.value()) == (before[0] + 12, before[1] - 8)
    _assert_bars_match_the_view(view)
    pointer = QPointF(123, 77)
    under = canvas.image_point(pointer)
    _wheel(canvas, pointer, angle=(0, 100))  # a zoom to an offset of fractional px
    assert canvas.zoom > 1.0 and canvas.offset.x() != round(canvas.offset.x())
    assert canvas.image_point(pointer) == pytest.approx(under, abs=1e-9)  # not rounded
    _assert_bars_match_the_view(view)


# ------------------------------------------------------------------------ using them
def test_moving_a_bar_moves_the_view_and_the_brush_lands_where_shown(qtbot, view):
    canvas = view.canvas
    canvas.actual_size()
    canvas.zoom_by(2.0)
    view.across.setValue(700)
    view.down.setValue(450)
    assert (canvas.offset.x(), canvas.offset.y()) == (-700, -450)
    view.down.triggerAction(QAbstractSlider.SliderPageStepSub)
    assert canvas.offset.y() == -450 + canvas.height()
    view.across.triggerAction(QAbstractSlider.SliderSingleStepAdd)
    assert canvas.offset.x() < -700
    _assert_bars_match_the_view(view)
    settings = ToolSettings()
    settings.radius["mask"] = 2.0
    canvas.set_tool(MaskBrush(settings))
    click = QPoint(120, 80)
    qtbot.mouseClick(canvas, Qt.LeftButton, pos=click)
    ys, xs = np.nonzero(canvas.document.mask)
    assert xs.mean() == pytest.approx((click.x() + view.across.value()) / 2.0, abs=0.75)
    assert ys.mean() == pytest.approx((click.y() + view.down.value()) / 2.0, abs=0.75)


def _press_slider(bar: QScrollBar) -> QPointF:
    option = QStyleOptionSlider()
    bar.initStyleOption(option)
    handle = bar.style().subControlRect(QStyle.CC_ScrollBar, option,
                                        QStyle.SC_ScrollBarSlider, bar)
    start = QPointF(handle.center())
    _mouse(bar, QEvent.MouseButtonPress, start, Qt.LeftButton)
    return start


def _mouse(bar: QScrollBar, kind: QEvent.Type, pos: QPointF, buttons) -> None:
    event = QMouseEvent(kind, pos, bar.mapToGlobal(pos), Qt.LeftButton, buttons,
                        Qt.NoModifier)
    QApplication.sendEvent(bar, event)


def test_dragging_a_slider_pans_and_its_bar_stays_until_let_go(view):
    canvas = view.canvas
    _wide(view)
    canvas.pan_by(-150, 0)  # the fitted picture partly out on the left
    assert _shown(view) == (True, False)
    start = _press_slider(view.across)
    assert view.across.isSliderDown()
    moves = []
    for x in range(1, 200, 20):  # to the left: the picture back in view, then out right
        _mouse(view.across, QEvent.MouseMove, start - QPointF(x, 0), Qt.LeftButton)
        moves.append(canvas.offset.x())
        assert view.across.isVisible()  # held: it stays, whether needed or not
        assert canvas.offset.x() == -view.across.value()
    assert moves == sorted(moves) and moves[-1] > moves[0]
    canvas.set_offset(QPointF((400 - canvas.document.width * canvas.zoom) / 2,
                              canvas.offset.y()))  # (the whole picture in view)
    assert view.across.isVisible()
    _mouse(view.across, QEvent.MouseButtonRelease, start - QPointF(200, 0), Qt.NoButton)
    assert _shown(view) == (False, False)


def test_the_bars_cannot_take_the_picture_further_than_a_pan(view):
    canvas = view.canvas
    canvas.actual_size()
    for across, down in ((10**6, 10**6), (-10**6, -10**6)):
        view.across.setValue(across)
        view.down.setValue(down)
        assert _shown_part(canvas) == pytest.approx((VISIBLE_MARGIN, VISIBLE_MARGIN), abs=1)
        assert min(_shown_part(canvas)) >= VISIBLE_MARGIN
    canvas.pan_by(10**5, 10**5)  # a pan's farthest is the bars' end too
    assert (view.across.value(), view.down.value()) == (view.across.minimum(),
                                                        view.down.minimum())
    canvas.pan_by(-10**5, -10**5)
    assert (view.across.value(), view.down.value()) == (view.across.maximum(),
                                                        view.down.maximum())


def test_no_feedback_between_the_bars_and_the_canvas(view):
    canvas = view.canvas
    canvas.actual_size()
    changes, across, down = [], [], []
    canvas.viewChanged.connect(lambda: changes.append(1))
    view.across.valueChanged.connect(across.append)
    view.down.valueChanged.connect(down.append)
    view.across.setValue(view.across.value() + 37)
    assert (len(changes), across, down) == (1, [view.across.value()], [])
    canvas.pan_by(-5, 9)
    canvas.zoom_by(1.37, QPointF(51, 33))
    assert (len(changes), len(across), down) == (3, 1, [])  # the bars followed silently
    _assert_bars_match_the_view(view)


# --------------------------------------------------------------------------- window
def test_the_window_shows_the_canvas_with_its_bars(qtbot):
    window = shown_window(qtbot)
    try:
        window.open_path(SAMPLE_IMAGE)
        view = window.centralWidget()
        assert isinstance(view, CanvasView) and view.canvas is window.canvas
        assert _shown(view) == (False, False)
        for _ in range(3):
            window.actions["zoom_in"].trigger()
        assert _shown(view) == (True, True)
        window.actions["fit"].trigger()
        assert _shown(view) == (False, False)
    finally:
        window.worker.shutdown()
