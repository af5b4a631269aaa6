"""A stored window geometry that is not a whole ``saveGeometry`` (cut short, as a half-synced
or hand-edited INI leaves it, or a rectangle that is garbage) is not restored: Qt's
``restoreGeometry`` takes such bytes and squashes the window to its minimum size, so they are
checked first, as are rectangles smaller than the window's minimum size (zeroed bytes: no
geometry the window saved). The window keeps its own size, the entry is named once as not
understood and the window's geometry is stored in its place."""

from __future__ import annotations

import struct

import pytest
from PySide6.QtCore import QByteArray

from app import preferences
from tests.app.test_window import shown_window

NOTE_START = "Preferences not understood, reset to their defaults: "


def _saved_geometry(qtbot) -> bytes:
    """What ``saveGeometry`` gives for a window shown at 1000x700 (66 bytes in Qt 6)."""
    window = shown_window(qtbot)
    try:
        return bytes(window.saveGeometry())
    finally:
        window.worker.shutdown()


def _started(qtbot) -> tuple[str, tuple[int, int], tuple[int, int]]:
    """Start the window on the stored preferences, as a real start (no test resize), and
    close it: what it noted, its size and its minimum size."""
    window = shown_window(qtbot, size=None, restore=True)
    try:
        hint = window.minimumSizeHint()
        return (window.preferences_note, (window.width(), window.height()),
                (hint.width(), hint.height()))
    finally:
        window.confirm = lambda *args: True
        window.close()
        window.worker.shutdown()


def restore_then(monkeypatch, after) -> None:
    """Make the window's ``restoreGeometry`` do ``after(window)`` once Qt has restored: a
    bad outcome that offscreen Qt never gives, for ``MainWindow._restore_geometry``'s
    backstops."""
    from app.window import MainWindow
    restore = MainWindow.restoreGeometry

    def restoring(window, geometry):
        restored = restore(window, geometry)
        after(window)
        return restored
    monkeypatch.setattr(MainWindow, "restoreGeometry", restoring)


def _garbage_frame(saved: bytes) -> bytes:
    damaged = bytearray(saved)
    damaged[8:12] = b"\x7f\xff\xff\xff"  # the frame's left edge, far right of its right edge
    return bytes(damaged)


def _cut(length: int):
    return lambda saved: saved[:length]


def _rectangles(rect: tuple[int, int, int, int], at: tuple[int, ...] = (8, 24, 50)):
    """The damage that sets the rectangles at offsets ``at`` (frame 8, normal 24, Qt 6's
    geometry 50) to ``rect`` (left, top, right, bottom; right = left + width - 1)."""
    def damage(saved: bytes) -> bytes:
        damaged = bytearray(saved)
        for offset in at:
            damaged[offset:offset + 16] = struct.pack(">4i", *rect)
        return bytes(damaged)
    return damage


def _zeroed(start: int, end: int):
    return lambda saved: saved[:start] + bytes(end - start) + saved[end:]


@pytest.mark.parametrize("damage", [_cut(4), _cut(8), _cut(12), _cut(40), _cut(49),
                                    _cut(65), _garbage_frame, _zeroed(8, 66),
                                    _zeroed(50, 66), _zeroed(8, 40),
                                    _rectangles((10, 10, 19, 19), at=(50,)),
                                    _rectangles((5, 5, 5, 5), at=(24,))],
                         ids=["4", "8", "12", "40", "49", "65", "garbage-frame",
                              "all-rectangles-zeroed", "geometry-zeroed",
                              "frame-and-normal-zeroed", "geometry-10x10", "normal-1x1"])
def test_a_damaged_geometry_keeps_the_default_size_and_is_named_once(qtbot, damage):
    saved = _saved_geometry(qtbot)
    assert len(saved) == 66  # the layout the check knows (Qt 6: version 3.0)
    _note, default, _hint = _started(qtbot)  # nothing stored: the window's own size
    preferences.store().setValue("window/geometry", QByteArray(damage(saved)))

    note, size, hint = _started(qtbot)
    assert size == default and size != hint
    assert note.startswith(NOTE_START) and note.count("window size and place") == 1
    stored = bytes(preferences.store().value("window/geometry"))
    assert stored != damage(saved) and len(stored) == 66  # the window's own, in its place

    # the next start restores that whole geometry (Qt fits it to the screen): said no more
    note, size, hint = _started(qtbot)
    assert note == "" and size[0] > hint[0] and size[1] > hint[1]


def test_the_check_takes_whole_geometries_of_each_version_and_refuses_the_rest(qtbot):
    saved = _saved_geometry(qtbot)

    def taken(data: bytes) -> bool:
        preferences.store().setValue("window/geometry", QByteArray(data))
        return preferences.load_window((1, 1))[0] is not None  # the layout, no floor

    def version(major: int, length: int) -> bytes:
        return saved[:4] + struct.pack(">H", major) + saved[6:length]

    assert taken(saved) and taken(saved + b"\0" * 8)  # a later minor version may add bytes
    assert taken(version(2, 50)) and taken(version(1, 46))  # as Qt 5 / Qt 4 wrote them
    assert not taken(version(2, 49)) and not taken(version(1, 45))
    assert taken(version(0, 46)) and not taken(version(0, 45))  # read by Qt as version 1
    # a later version adds to version 3's layout: left to Qt (which refuses one it does not
    # know), but not when it is shorter
    assert taken(version(4, 66)) and not taken(version(4, 65))
    assert not taken(b"\0" + saved[1:])  # not the magic
    normal = bytearray(saved)  # the normal geometry: left, top, right, bottom at 24..40
    left, top = struct.unpack(">2i", saved[24:32])
    normal[32:40] = struct.pack(">2i", left, top)
    assert taken(bytes(normal))  # 1x1 pixel: small, but a rectangle
    normal[32:40] = struct.pack(">2i", left - 1, top - 1)
    assert not taken(bytes(normal))  # no pixel
    far = bytearray(saved)
    far[50:66] = struct.pack(">4i", 2**30, 0, 2**30 + 100, 100)  # off beyond any screen
    assert not taken(bytes(far))


def test_a_rectangle_below_the_smallest_window_is_refused_one_at_it_taken(qtbot):
    """The window saves no geometry smaller than ``SMALLEST_WINDOW``: one a pixel narrower is
    damage (named once, the default size kept); one at that size is taken, unnoted."""
    saved = _saved_geometry(qtbot)
    _note, default, _hint = _started(qtbot)
    width, height = preferences.SMALLEST_WINDOW
    preferences.store().setValue("window/geometry",
                                 QByteArray(_rectangles((20, 30, 20 + width - 2,
                                                         30 + height - 1))(saved)))
    note, size, _hint = _started(qtbot)
    assert size == default and note.count("window size and place") == 1

    at_smallest = _rectangles((20, 30, 20 + width - 1, 30 + height - 1))(saved)
    preferences.store().setValue("window/geometry", QByteArray(at_smallest))
    note, _size, _hint = _started(qtbot)
    assert note == ""


def test_a_small_window_of_floating_panels_restores_as_it_was(qtbot):
    """QA audit 41, F1: with every panel floating the window can be smaller than the
    default layout's minimum size (474x428); its geometry, saved so, was taken as damage and
    reset, since the minimum was read before the panels' layout was restored. It restores
    as it was, unnoted."""
    from PySide6.QtWidgets import QDockWidget, QToolBar

    window = shown_window(qtbot)
    try:
        for dock in window.findChildren(QDockWidget):
            dock.setFloating(True)
        for bar in window.findChildren(QToolBar):
            bar.hide()
        qtbot.wait(50)
        window.resize(300, 260)
        qtbot.waitUntil(lambda: (window.width(), window.height()) == (300, 260), timeout=5000)
        preferences.store().setValue("window/geometry", window.saveGeometry())
        preferences.store().setValue("window/state", window.saveState())
    finally:
        window.confirm = lambda *args: True
        window.close()
        window.worker.shutdown()
    note, size, _hint = _started(qtbot)
    assert note == "" and size == (300, 260)


def test_a_window_qt_would_squash_gets_its_default_size(qtbot, monkeypatch):
    """Should ``restoreGeometry`` leave the window smaller than ``SMALLEST_WINDOW`` from a
    geometry the check took (a screen smaller than the window), the window keeps its
    default size rather than be squashed to its minimum."""
    saved = _saved_geometry(qtbot)
    _note, default, _hint = _started(qtbot)
    restore_then(monkeypatch, lambda window: window.resize(10, 10))
    preferences.store().setValue("window/geometry", QByteArray(saved))
    note, size, hint = _started(qtbot)
    assert note == "" and size == default and size != hint
