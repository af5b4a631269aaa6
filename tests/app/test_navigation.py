"""Canvas navigation: the picture drawn at the screen's real resolution, wheel, trackpad and
pinch handled as in common image editors, and a view that never loses the picture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import qimage2ndarray
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import (
    QImage,
    QInputDevice,
    QNativeGestureEvent,
    QPointingDevice,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication

from app.canvas import MAX_ZOOM, VISIBLE_MARGIN, Canvas
from app.document import Document
from app.window import SAMPLE_IMAGE
from tests.app.test_window import shown_window


def _checker(height: int, width: int) -> np.ndarray:
    """A 1-px black and white checkerboard: any blur or coarser level turns it grey."""
    board = np.zeros((height, width, 3), np.uint8)
    board[np.indices((height, width)).sum(0) % 2 == 0] = 255
    return board


@pytest.fixture
def canvas(qtbot) -> Canvas:
    """A 400x300 canvas showing a random 800x600 picture at 100 %, its centre in the middle."""
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    picture = np.random.default_rng(3).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    canvas.set_document(Document(picture))
    canvas.actual_size()
    return canvas


def _wheel(canvas: Canvas, pos: QPointF, angle=(0, 0), pixels=(0, 0),
           modifiers=Qt.NoModifier, phase=Qt.NoScrollPhase,
           device: QPointingDevice | None = None) -> None:
    event = QWheelEvent(pos, canvas.mapToGlobal(pos), QPoint(*pixels), QPoint(*angle),
                        Qt.NoButton, modifiers, phase, False, Qt.MouseEventNotSynthesized,
                        device or QPointingDevice.primaryPointingDevice())
    QApplication.sendEvent(canvas, event)


def _pinch(canvas: Canvas, pos: QPointF, value: float) -> None:
    event = QNativeGestureEvent(Qt.ZoomNativeGesture, QPointingDevice.primaryPointingDevice(),
                                2, pos, pos, canvas.mapToGlobal(pos), value, QPointF(0, 0))
    QApplication.sendEvent(canvas, event)


def _view(canvas: Canvas) -> tuple[float, float, float]:
    return canvas.zoom, canvas.offset.x(), canvas.offset.y()


def _shown_part(canvas: Canvas) -> tuple[float, float]:
    """How many screen px of the picture lie inside the widget, across and down."""
    x0, y0 = canvas.offset.x(), canvas.offset.y()
    x1 = x0 + canvas.document.width * canvas.zoom
    y1 = y0 + canvas.document.height * canvas.zoom
    return (min(x1, canvas.width()) - max(x0, 0.0), min(y1, canvas.height()) - max(y0, 0.0))


# ------------------------------------------------------------------------ high DPI
def _render_at(canvas: Canvas, ratio: float) -> np.ndarray:
    """The canvas painted into an image of ``ratio`` device px per logical px (as a screen
    of that device pixel ratio shows it), grey levels (H, W)."""
    shot = QImage(canvas.width() * ratio, canvas.height() * ratio, QImage.Format_RGB32)
    shot.setDevicePixelRatio(ratio)
    canvas.render(shot)
    return qimage2ndarray.rgb_view(shot)[..., 0].astype(int)


@pytest.mark.parametrize("zoom", [0.5, 1.0, 3.0])
def test_a_2x_screen_gets_every_device_pixel_from_the_picture_unblurred(qtbot, zoom):
    """At 50 % on a 2x screen one image px is one device px (the full picture, not the
    half-resolution level); at 100 % and above each image px covers whole device px without
    smoothing; either way every device px shows the image px the view transform maps it to."""
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(200, 150)
    board = _checker(400, 500)
    canvas.set_document(Document(board))
    canvas.actual_size()  # no longer fitted: the resize on painting keeps the view
    canvas.zoom, canvas.offset = zoom, QPointF(-20.3, -10.1)  # covers the widget
    shown = _render_at(canvas, 2)
    ys, xs = np.mgrid[40:260, 40:360]  # device px, away from the widget's border
    ix = np.floor(((xs + 0.5) / 2 - canvas.offset.x()) / zoom).astype(int)
    iy = np.floor(((ys + 0.5) / 2 - canvas.offset.y()) / zoom).astype(int)
    assert np.array_equal(shown[ys, xs], board[iy, ix, 0].astype(int))


def test_a_1x_screen_still_draws_a_reduced_level_smoothed_below_100_percent(qtbot):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(200, 150)
    canvas.set_document(Document(_checker(400, 500)))
    canvas.actual_size()  # no longer fitted: the resize on painting keeps the view
    canvas.zoom, canvas.offset = 0.5, QPointF(-20.3, -10.1)
    shown = _render_at(canvas, 1)[20:130, 20:180]
    assert np.abs(shown - 127).max() <= 2  # the 2x level: each px the mean of a 2x2 block


def test_on_a_real_2x_screen_the_picture_is_crisp_and_the_brush_lands_under_the_pointer(
        tmp_path):
    """With QT_SCALE_FACTOR=2 (which needs an application of its own): the grab at 50 %
    keeps the 1-px checkerboard, and a click paints the mask where the pointer is."""
    script = tmp_path / "hidpi.py"
    script.write_text(
        "import numpy as np\n"
        "from PySide6.QtCore import QPoint, QPointF, Qt\n"
        "from PySide6.QtTest import QTest\n"
        "from PySide6.QtWidgets import QApplication\n"
        "import qimage2ndarray  # (after PySide6: it follows the binding loaded)\n"
        "from app.canvas import Canvas\n"
        "from app.document import Document\n"
        "from app.tools import MaskBrush, ToolSettings\n"
        "app = QApplication([])\n"
        "canvas = Canvas()\n"
        "canvas.resize(200, 150)\n"
        "board = np.zeros((400, 500, 3), np.uint8)\n"
        "board[np.indices((400, 500)).sum(0) % 2 == 0] = 255\n"
        "document = Document(board)\n"
        "canvas.set_document(document)\n"
        "canvas.set_tool(MaskBrush(ToolSettings()))\n"
        "canvas.show()\n"
        "QTest.qWaitForWindowExposed(canvas)\n"
        "canvas._set_zoom(0.5, QPointF(100, 75))\n"
        "shot = qimage2ndarray.rgb_view(canvas.grab().toImage())[..., 0].astype(int)\n"
        "print('ratio', canvas.devicePixelRatioF())\n"
        "print('std', shot[100:200, 100:300].std())\n"
        "x, y = canvas.image_point(QPointF(120, 80))\n"
        "QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(120, 80))\n"
        "ys, xs = np.nonzero(document.mask)\n"
        "print('miss', abs(xs.mean() - x), abs(ys.mean() - y))\n")
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                           "QT_SCALE_FACTOR": "2", "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert float(lines["ratio"]) == 2.0
    assert float(lines["std"]) > 120  # black and white device px, not a grey level
    assert max(float(v) for v in lines["miss"].split()) <= 1.0


# ------------------------------------------------------------------- wheel and pinch
def test_a_mouse_wheel_zooms_around_the_pointer(canvas):
    pointer = QPointF(150, 100)
    before = canvas.image_point(pointer)
    _wheel(canvas, pointer, angle=(0, 120))
    assert canvas.zoom > 1.0
    assert canvas.image_point(pointer) == pytest.approx(before, abs=1e-6)
    _wheel(canvas, pointer, angle=(0, -240))
    assert canvas.zoom < 1.0
    assert canvas.image_point(pointer) == pytest.approx(before, abs=1e-6)


def test_a_sideways_wheel_and_shift_wheel_pan_across_without_zooming(canvas):
    zoom, x, y = _view(canvas)
    _wheel(canvas, QPointF(150, 100), angle=(-120, 0))  # tilt right: the picture moves left
    assert canvas.zoom == zoom and canvas.offset.y() == y and canvas.offset.x() < x
    zoom, x, y = _view(canvas)
    _wheel(canvas, QPointF(150, 100), angle=(0, 120), modifiers=Qt.ShiftModifier)
    assert canvas.zoom == zoom and canvas.offset.y() == y and canvas.offset.x() > x
    zoom, x, y = _view(canvas)  # a system that turns Shift+wheel sideways itself
    _wheel(canvas, QPointF(150, 100), angle=(-120, 0), modifiers=Qt.ShiftModifier)
    assert canvas.zoom == zoom and canvas.offset.y() == y and canvas.offset.x() < x


def test_a_trackpad_scroll_pans_both_ways_by_its_pixels(canvas):
    zoom, x, y = _view(canvas)
    _wheel(canvas, QPointF(150, 100), angle=(-96, 64), pixels=(-12, 8),
           phase=Qt.ScrollUpdate)
    assert _view(canvas) == (zoom, x - 12, y + 8)
    # a pixel delta without a phase (some systems), and a phase without a pixel delta
    _wheel(canvas, QPointF(150, 100), angle=(0, -40), pixels=(0, -5))
    assert _view(canvas) == (zoom, x - 12, y + 3)
    _wheel(canvas, QPointF(150, 100), angle=(0, -120), phase=Qt.ScrollUpdate)
    assert canvas.zoom == zoom and canvas.offset.x() == x - 12 and canvas.offset.y() < y + 3
    view = _view(canvas)
    _wheel(canvas, QPointF(150, 100), phase=Qt.ScrollEnd)  # no distance: nothing moves
    assert _view(canvas) == view


def test_a_touchpad_that_reports_only_angles_pans_too(canvas):
    """(X11 reports a touchpad's scrolling as angles, without phases or pixels.)"""
    touchpad = QPointingDevice("touchpad", 4242, QInputDevice.DeviceType.TouchPad,
                               QPointingDevice.PointerType.Finger,
                               QInputDevice.Capability.Position, 2, 0)
    zoom, x, y = _view(canvas)
    _wheel(canvas, QPointF(150, 100), angle=(0, -120), device=touchpad)
    assert canvas.zoom == zoom and canvas.offset.x() == x and canvas.offset.y() < y
    _wheel(canvas, QPointF(150, 100), angle=(0, 120), modifiers=Qt.ControlModifier,
           device=touchpad)
    assert canvas.zoom > zoom


@pytest.mark.parametrize("trackpad", [False, True])
def test_ctrl_wheel_and_ctrl_trackpad_zoom_around_the_pointer(canvas, trackpad):
    pointer = QPointF(250, 180)
    before = canvas.image_point(pointer)
    _wheel(canvas, pointer, angle=(0, 120), pixels=(0, 15) if trackpad else (0, 0),
           modifiers=Qt.ControlModifier,
           phase=Qt.ScrollUpdate if trackpad else Qt.NoScrollPhase)
    assert canvas.zoom > 1.0
    assert canvas.image_point(pointer) == pytest.approx(before, abs=1e-6)


def test_a_pinch_zooms_around_the_fingers_within_the_limits(canvas):
    zooms = []
    canvas.zoomChanged.connect(zooms.append)
    fingers = QPointF(120, 200)
    before = canvas.image_point(fingers)
    _pinch(canvas, fingers, 0.5)
    assert canvas.zoom == pytest.approx(1.5) and zooms == [canvas.zoom]
    assert canvas.image_point(fingers) == pytest.approx(before, abs=1e-6)
    _pinch(canvas, fingers, -0.2)
    assert canvas.zoom == pytest.approx(1.2) and zooms == [pytest.approx(1.5), canvas.zoom]
    for _ in range(20):
        _pinch(canvas, fingers, 1.0)
    assert canvas.zoom == MAX_ZOOM


# ------------------------------------------------------------------ keeping the picture
def test_panning_keeps_part_of_the_picture_in_the_widget(canvas):
    for dx, dy in ((5000, 0), (-9000, 0), (0, 5000), (0, -9000), (7000, -7000)):
        canvas.pan_by(dx, dy)
        across, down = _shown_part(canvas)
        assert across == pytest.approx(VISIBLE_MARGIN) or down == pytest.approx(VISIBLE_MARGIN)
        assert across >= VISIBLE_MARGIN - 1e-6 and down >= VISIBLE_MARGIN - 1e-6
    canvas.pan_by(-20, 30)  # back towards the widget: moves freely again
    assert min(_shown_part(canvas)) > VISIBLE_MARGIN


def test_a_drag_or_a_trackpad_cannot_throw_the_picture_out(qtbot, canvas):
    qtbot.mousePress(canvas, Qt.MiddleButton, pos=QPoint(200, 150))
    for x in range(200, 2000, 200):
        qtbot.mouseMove(canvas, QPoint(x, 150))
    qtbot.mouseRelease(canvas, Qt.MiddleButton, pos=QPoint(1800, 150))
    assert _shown_part(canvas)[0] == pytest.approx(VISIBLE_MARGIN)
    for _ in range(50):
        _wheel(canvas, QPointF(100, 100), angle=(0, -800), pixels=(0, -100),
               phase=Qt.ScrollUpdate)
    assert _shown_part(canvas) == pytest.approx((VISIBLE_MARGIN, VISIBLE_MARGIN))


def test_a_picture_smaller_than_the_margin_stays_whole_and_fit_centres_again(qtbot):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.set_document(Document(np.zeros((30, 40, 3), np.uint8)))
    canvas.actual_size()
    canvas.pan_by(-1000, 1000)
    assert _shown_part(canvas) == pytest.approx((40, 30))  # all of it, in a corner
    assert (canvas.offset.x(), canvas.offset.y()) == pytest.approx((0, 270))
    canvas.fit()
    shown = 40 * canvas.zoom, 30 * canvas.zoom
    assert (canvas.offset.x(), canvas.offset.y()) == pytest.approx(
        ((400 - shown[0]) / 2, (300 - shown[1]) / 2))


def test_zooming_out_and_shrinking_the_widget_keep_the_picture_too(qtbot, canvas):
    canvas.pan_by(-10_000, -10_000)  # the picture's bottom right corner, top left
    canvas.zoom_by(0.5, QPointF(0, 0))  # would leave 32 px of it on each axis
    assert _shown_part(canvas) == pytest.approx((VISIBLE_MARGIN, VISIBLE_MARGIN))
    canvas.actual_size()
    canvas.pan_by(10_000, 10_000)  # the picture's top left corner, bottom right
    canvas.resize(250, 180)
    canvas.show()  # (a hidden widget gets its resize event when shown)
    qtbot.waitExposed(canvas)
    assert canvas.zoom == 1.0
    assert _shown_part(canvas) == pytest.approx((VISIBLE_MARGIN, VISIBLE_MARGIN))


# ----------------------------------------------------------------------- status bar
def test_the_zoom_label_follows_every_way_of_zooming(qtbot):
    window = shown_window(qtbot)
    try:
        window.open_path(SAMPLE_IMAGE)
        canvas = window.canvas

        def label_follows() -> bool:
            return window.zoom_label.text() == f"{canvas.zoom * 100:.0f} %"

        zoom = canvas.zoom
        for gesture in (
                lambda: _pinch(canvas, QPointF(200, 200), 0.5),
                lambda: _wheel(canvas, QPointF(200, 200), angle=(0, 360)),
                lambda: _wheel(canvas, QPointF(200, 200), angle=(0, -120), pixels=(0, -40),
                               modifiers=Qt.ControlModifier, phase=Qt.ScrollUpdate),
                window.actions["actual_size"].trigger,
                window.actions["zoom_out"].trigger,
                window.actions["fit"].trigger):
            gesture()
            assert canvas.zoom != zoom and label_follows()
            zoom = canvas.zoom
        _wheel(canvas, QPointF(200, 200), angle=(0, -120), pixels=(0, -40),
               phase=Qt.ScrollUpdate)  # a trackpad pan: the zoom and its label stay
        assert canvas.zoom == zoom and label_follows()
    finally:
        window.worker.shutdown()


def test_on_a_2x_screen_the_picture_lands_at_its_logical_place(qtbot):
    """The picture covers twice its logical rectangle in device px; the background the rest."""
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(200, 150)
    canvas.set_document(Document(np.full((20, 30, 3), 255, np.uint8)))
    canvas.actual_size()  # no longer fitted: the resize on painting keeps the view
    canvas.zoom, canvas.offset = 1.0, QPointF(50, 40)
    shown = _render_at(canvas, 2)
    assert (shown[80:120, 100:160] == 255).all()
    assert (shown[:78] != 255).all() and (shown[:, :98] != 255).all()
