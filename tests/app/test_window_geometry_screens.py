"""A whole window geometry saved on a screen that is not there now (a monitor no longer
attached, a place off every screen, a screen's number that is gone, a desktop of another
width) is no damage: nothing is named, and the window opens on a screen there is, its place
moved onto it or, where Qt refuses a screen of another width, at its default size. A
geometry of a version Qt does not read is still named once. (Qt offscreen: one screen,
800x800.)"""

from __future__ import annotations

import struct

import pytest
from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QApplication

from app import preferences
from tests.app.test_window import shown_window
from tests.app.test_window_geometry_damaged import _saved_geometry, restore_then


def _placed(saved: bytes, rect: tuple[int, int, int, int], screen: int | None = None,
            screen_width: int | None = None) -> bytes:
    """``saved`` with every rectangle at ``rect`` (left, top, right, bottom) and, when
    given, the screen's number (offset 40) and width (offset 46)."""
    data = bytearray(saved)
    for at in (8, 24, 50):
        data[at:at + 16] = struct.pack(">4i", *rect)
    if screen is not None:
        data[40:44] = struct.pack(">i", screen)
    if screen_width is not None:
        data[46:50] = struct.pack(">i", screen_width)
    return bytes(data)


def _started(qtbot) -> tuple[str, tuple[int, int], bool]:
    """Start the window on the stored preferences and close it: what it noted, its size
    and whether its middle is on a screen."""
    window = shown_window(qtbot, size=None, restore=True)
    try:
        on_screen = QApplication.screenAt(window.frameGeometry().center()) is not None
        return window.preferences_note, (window.width(), window.height()), on_screen
    finally:
        window.confirm = lambda *args: True
        window.close()
        window.worker.shutdown()


@pytest.mark.parametrize("place", [
    # 1000x700 on a second, 1920 wide monitor right of this one
    dict(rect=(2000, 100, 2999, 799), screen=1, screen_width=1920),
    dict(rect=(2000, 100, 2999, 799), screen=0, screen_width=1920),
    # a 7680x4320 desktop
    dict(rect=(3840, 0, 3840 + 7679, 4319), screen=0, screen_width=11520),
], ids=["second-monitor", "second-monitor-as-screen-0", "huge-desktop"])
def test_a_geometry_from_a_screen_of_another_width_is_not_named(qtbot, place):
    saved = _saved_geometry(qtbot)
    _note, default, _on = _started(qtbot)
    preferences.store().setValue("window/geometry", QByteArray(_placed(saved, **place)))

    note, size, on_screen = _started(qtbot)  # Qt refuses it: the default size, unnamed
    assert note == "" and size == default and on_screen
    note, _size, on_screen = _started(qtbot)  # (the window's own, stored at its close)
    assert note == "" and on_screen


@pytest.mark.parametrize("place", [
    dict(rect=(-20000, -20000, -20000 + 599, -20000 + 499)),  # off every screen
    dict(rect=(2000, 100, 2599, 599)),  # right of this screen, of the same width
    dict(rect=(100, 100, 699, 599), screen=3),  # a screen's number that is gone
], ids=["far-off", "right-of-the-screen", "screen-gone"])
def test_a_geometry_off_the_screens_is_moved_onto_one_unnamed(qtbot, place):
    saved = _saved_geometry(qtbot)
    preferences.store().setValue("window/geometry", QByteArray(_placed(saved, **place)))

    note, size, on_screen = _started(qtbot)
    assert note == "" and size == (600, 500) and on_screen


def test_a_window_left_off_the_screens_is_centred_on_the_primary_one(qtbot, monkeypatch):
    """Should ``restoreGeometry`` leave the window on no screen, it is centred on the
    primary screen."""
    saved = _saved_geometry(qtbot)
    restore_then(monkeypatch, lambda window: window.move(50000, 50000))
    preferences.store().setValue("window/geometry",
                                 QByteArray(_placed(saved, (100, 100, 699, 599))))
    window = shown_window(qtbot, size=None, restore=True)
    try:
        middle = window.frameGeometry().center()
        assert window.preferences_note == "" and (window.width(), window.height()) == (600, 500)
        assert (QApplication.primaryScreen().availableGeometry().center() - middle
                ).manhattanLength() <= 8  # the frame, known once shown
    finally:
        window.confirm = lambda *args: True
        window.close()
        window.worker.shutdown()


def test_a_geometry_of_a_version_qt_does_not_read_is_named_once(qtbot):
    saved = _saved_geometry(qtbot)
    _note, default, _on = _started(qtbot)
    later = saved[:4] + struct.pack(">H", 4) + saved[6:]
    preferences.store().setValue("window/geometry", QByteArray(later))

    note, size, on_screen = _started(qtbot)
    assert note.count("window size and place") == 1 and size == default and on_screen
    assert _started(qtbot)[0] == ""
