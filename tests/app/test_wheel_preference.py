"""The mouse wheel preference: a plain wheel zooms (the default) or scrolls the picture;
Ctrl+wheel zooms and a trackpad pans either way; the choice is stored (bad entries read as
Zoom) and made in the Preferences dialog."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QByteArray, QPoint, QPointF, Qt
from PySide6.QtGui import QInputDevice, QPointingDevice, QWheelEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from app import preferences
from app.canvas import WHEEL_LINE_PIXELS, WHEEL_ZOOM_BASE, Canvas, WheelMode
from app.controller import FillSettings
from app.document import Document
from app.preferences_dialog import PreferencesDialog

POINTER = QPointF(150, 100)
# a mouse, as X11 and some Windows drivers report a touchpad: angles only, no scroll phase
MOUSE = QPointingDevice("mouse", 4343, QInputDevice.DeviceType.Mouse,
                        QPointingDevice.PointerType.Generic,
                        QInputDevice.Capability.Position | QInputDevice.Capability.Scroll,
                        1, 3)
TOUCHPAD = QPointingDevice("touchpad", 4344, QInputDevice.DeviceType.TouchPad,
                           QPointingDevice.PointerType.Finger,
                           QInputDevice.Capability.Position, 2, 0)


@pytest.fixture
def canvas(qtbot) -> Canvas:
    """A 400x300 canvas showing an 800x600 picture at 100 %, its centre in the middle (room
    to pan every way)."""
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    picture = np.random.default_rng(5).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    canvas.set_document(Document(picture))
    canvas.actual_size()
    return canvas


def _wheel(canvas: Canvas, angle: tuple[int, int], modifiers=Qt.NoModifier,
           pixels: tuple[int, int] = (0, 0), phase=Qt.NoScrollPhase,
           device: QPointingDevice = MOUSE) -> None:
    event = QWheelEvent(POINTER, canvas.mapToGlobal(POINTER), QPoint(*pixels), QPoint(*angle),
                        Qt.NoButton, modifiers, phase, False, Qt.MouseEventNotSynthesized,
                        device)
    QApplication.sendEvent(canvas, event)


def _view(canvas: Canvas) -> tuple[float, float, float]:
    return canvas.zoom, canvas.offset.x(), canvas.offset.y()


def _line() -> float:
    """Screen px a wheel's eighth of a degree scrolls (a notch, 120, is the system's lines)."""
    return WHEEL_LINE_PIXELS * QApplication.wheelScrollLines() / 120


# -------------------------------------------------------------------------- the canvas
def test_in_zoom_mode_the_wheel_zooms_and_the_offset_keeps_the_pointers_point(canvas):
    assert canvas.wheel_mode is WheelMode.ZOOM  # the default
    before = canvas.image_point(POINTER)
    _wheel(canvas, (0, 120))
    zoom = WHEEL_ZOOM_BASE ** 120
    assert canvas.zoom == pytest.approx(zoom)
    assert canvas.offset.x() == pytest.approx(POINTER.x() - before[0] * zoom)
    assert canvas.offset.y() == pytest.approx(POINTER.y() - before[1] * zoom)
    _wheel(canvas, (0, -240))
    assert canvas.zoom == pytest.approx(WHEEL_ZOOM_BASE ** -120)
    assert canvas.image_point(POINTER) == pytest.approx(before, abs=1e-6)


def test_in_scroll_mode_the_wheel_pans_up_and_down_without_zooming(canvas):
    canvas.set_wheel_mode(WheelMode.SCROLL)
    zoom, x, y = _view(canvas)
    _wheel(canvas, (0, -120))  # turned towards the user: the picture moves up
    assert _view(canvas) == pytest.approx((zoom, x, y - 120 * _line()))
    _wheel(canvas, (0, 240))
    assert _view(canvas) == pytest.approx((zoom, x, y + 120 * _line()))


def test_in_scroll_mode_shift_wheel_pans_sideways(canvas):
    canvas.set_wheel_mode(WheelMode.SCROLL)
    zoom, x, y = _view(canvas)
    _wheel(canvas, (0, 120), Qt.ShiftModifier)
    assert _view(canvas) == pytest.approx((zoom, x + 120 * _line(), y))
    _wheel(canvas, (-120, 0), Qt.ShiftModifier)  # a system that turns Shift+wheel itself
    assert _view(canvas) == pytest.approx((zoom, x, y))


def test_in_scroll_mode_a_touchpad_passing_for_a_mouse_pans_diagonally(canvas):
    canvas.set_wheel_mode(WheelMode.SCROLL)
    zoom, x, y = _view(canvas)
    _wheel(canvas, (-60, 30))
    assert _view(canvas) == pytest.approx((zoom, x - 60 * _line(), y + 30 * _line()))


@pytest.mark.parametrize("mode", list(WheelMode))
def test_ctrl_wheel_zooms_around_the_pointer_in_both_modes(canvas, mode):
    canvas.set_wheel_mode(mode)
    before = canvas.image_point(POINTER)
    _wheel(canvas, (0, 120), Qt.ControlModifier)
    assert canvas.zoom == pytest.approx(WHEEL_ZOOM_BASE ** 120)
    assert canvas.image_point(POINTER) == pytest.approx(before, abs=1e-6)
    _wheel(canvas, (0, -240), Qt.ControlModifier)
    assert canvas.zoom == pytest.approx(WHEEL_ZOOM_BASE ** -120)


@pytest.mark.parametrize("mode", list(WheelMode))
def test_a_trackpad_known_as_such_pans_in_both_modes(canvas, mode):
    canvas.set_wheel_mode(mode)
    zoom, x, y = _view(canvas)
    _wheel(canvas, (-96, 64), pixels=(-12, 8), phase=Qt.ScrollUpdate)
    assert _view(canvas) == (zoom, x - 12, y + 8)
    _wheel(canvas, (0, -120), device=TOUCHPAD)
    assert _view(canvas) == pytest.approx((zoom, x - 12, y + 8 - 120 * _line()))


def test_in_zoom_mode_a_sideways_wheel_still_pans_across_only(canvas):
    zoom, x, y = _view(canvas)
    _wheel(canvas, (-120, 0))
    assert _view(canvas) == pytest.approx((zoom, x - 120 * _line(), y))


def test_the_mode_is_set_by_value_and_anything_else_is_refused(canvas):
    canvas.set_wheel_mode("scroll")
    assert canvas.wheel_mode is WheelMode.SCROLL
    with pytest.raises(ValueError):
        canvas.set_wheel_mode("sideways")
    assert canvas.wheel_mode is WheelMode.SCROLL


# ----------------------------------------------------------------------- the preference
def _remembered(mode: WheelMode = WheelMode.ZOOM,
                keep_metadata: bool = True) -> preferences.Remembered:
    """A window's remembered values: the defaults but for the wheel and the metadata."""
    return preferences.Remembered(FillSettings(), keep_metadata, {}, QByteArray(b"g"),
                                  QByteArray(b"s"), preferences.ViewSettings(), mode)


def test_the_wheel_mode_is_zoom_until_scroll_is_stored_and_is_then_back(canvas):
    assert preferences.load_wheel_mode() is WheelMode.ZOOM
    preferences.SettingsWriter(_remembered()).write(_remembered(WheelMode.SCROLL))
    assert preferences.write_problem() == ""
    canvas.set_wheel_mode(preferences.load_wheel_mode())  # as the next window starts
    zoom, x, y = _view(canvas)
    _wheel(canvas, (0, -120))
    assert _view(canvas) == pytest.approx((zoom, x, y - 120 * _line()))


def test_a_window_that_left_the_wheel_alone_keeps_anothers_choice():
    preferences.SettingsWriter(_remembered()).write(_remembered(WheelMode.SCROLL))
    preferences.SettingsWriter(_remembered()).write(_remembered(keep_metadata=False))
    assert preferences.load_wheel_mode() is WheelMode.SCROLL
    assert preferences.load_keep_metadata() is False


def _hand_edit(line: str) -> None:
    """Write the settings file (the tests' INI) as a user would, with ``line`` in its [view]
    section."""
    Path(os.environ[preferences.CONFIG_ENV]).write_text(f"[view]\n{line}\n", encoding="utf-8")


@pytest.mark.parametrize("line", ["wheel=scroll", "wheel=Scroll", "wheel= SCROLL "])
def test_a_hand_edited_scroll_is_read(line):
    _hand_edit(line)
    assert preferences.load_wheel_mode() is WheelMode.SCROLL


@pytest.mark.parametrize("line", ["wheel=sideways", "wheel=", "wheel=1", "wheel=zoom, scroll",
                                  "wheel=@Invalid()", "wheel=true"])
def test_a_bad_hand_edited_value_falls_back_to_zoom(line):
    _hand_edit(line)
    assert preferences.load_wheel_mode() is WheelMode.ZOOM


# --------------------------------------------------------------------------- the dialog
def test_the_dialog_shows_the_mode_and_applies_a_change_at_once(qtbot, canvas):
    canvas.set_wheel_mode(WheelMode.ZOOM)
    dialog = PreferencesDialog(canvas.wheel_mode)
    qtbot.addWidget(dialog)
    dialog.wheelModeChanged.connect(canvas.set_wheel_mode)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.wheel.currentText() == "Zoom" and dialog.wheel_mode is WheelMode.ZOOM
    assert [dialog.wheel.itemText(i) for i in range(dialog.wheel.count())] == ["Zoom", "Scroll"]
    assert "Ctrl+wheel" in dialog.wheel.toolTip()
    dialog.wheel.setFocus()
    with qtbot.waitSignal(dialog.wheelModeChanged) as changed:
        qtbot.keyClick(dialog.wheel, Qt.Key_Down)
    assert changed.args == [WheelMode.SCROLL] and canvas.wheel_mode is WheelMode.SCROLL
    zoom, x, y = _view(canvas)
    _wheel(canvas, (0, -120))
    assert _view(canvas) == pytest.approx((zoom, x, y - 120 * _line()))
    with qtbot.waitSignal(dialog.wheelModeChanged) as changed:
        qtbot.keyClick(dialog.wheel, Qt.Key_Up)
    assert changed.args == [WheelMode.ZOOM] and canvas.wheel_mode is WheelMode.ZOOM


def test_the_dialog_opens_on_scroll_and_closes_with_its_button(qtbot):
    dialog = PreferencesDialog("scroll")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.wheel.currentText() == "Scroll" and dialog.wheel_mode is WheelMode.SCROLL
    close = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Close)
    with qtbot.waitSignal(dialog.rejected):
        close.click()
    assert not dialog.isVisible()


def test_the_window_restores_the_mode_and_its_edit_menu_changes_and_stores_it(qtbot):
    from app.window import MainWindow

    _hand_edit("wheel=scroll")
    window = MainWindow()
    qtbot.addWidget(window)
    window.restore_preferences()
    assert window.canvas.wheel_mode is WheelMode.SCROLL
    edit_menu = next(action.menu() for action in window.menuBar().actions()
                     if action.text() == "&Edit")
    assert window.actions["preferences"] in edit_menu.actions()
    window.actions["preferences"].trigger()
    dialog = window.findChild(PreferencesDialog)
    assert dialog is not None and dialog.wheel_mode is WheelMode.SCROLL
    dialog.wheel.setCurrentIndex(dialog.wheel.findText("Zoom"))
    assert window.canvas.wheel_mode is WheelMode.ZOOM
    window.save_preferences()
    assert preferences.load_wheel_mode() is WheelMode.ZOOM
