"""Settings reach the disk while the editor runs: a panel moved or the window resized is
written soon after, without closing (a crash keeps it); two editors sharing the settings keep
each other's changes; settings that cannot be written are said once."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app import preferences
from app.window import MainWindow
from tests.app.test_window import shown_window

WRITE_WAIT_MS = 10000  # the write comes SAVE_DELAY_MS after the change; a shared CPU is slow


def _window(qtbot, size: tuple[int, int] | None = (1000, 700)) -> MainWindow:
    window = shown_window(qtbot, size=size, restore=True)
    window.confirm = lambda title, text: False  # never block on a question
    return window


@pytest.fixture
def window(qtbot):
    window = _window(qtbot)
    yield window
    window.worker.shutdown()


def test_a_moved_and_a_floated_panel_are_written_without_closing(qtbot, window):
    stored = preferences.load_window()[1]
    window.addDockWidget(Qt.LeftDockWidgetArea, window.docks["overlay_dock"])
    window.docks["references_dock"].setFloating(True)
    # any write from now on holds both changes; the window is never closed (a crash)
    qtbot.waitUntil(lambda: preferences.load_window()[1] != stored, timeout=WRITE_WAIT_MS)

    after_crash = _window(qtbot, size=None)
    try:
        assert after_crash.dockWidgetArea(after_crash.docks["overlay_dock"]) \
            == Qt.LeftDockWidgetArea
        assert after_crash.docks["references_dock"].isFloating()
    finally:
        after_crash.worker.shutdown()


def test_a_resized_window_and_panel_are_written_without_closing(qtbot, window):
    stored = preferences.load_window()
    window.resize(760, 540)  # within the offscreen screen (800 x 600): restored as it is
    qtbot.waitUntil(lambda: preferences.load_window() != stored, timeout=WRITE_WAIT_MS)
    stored = preferences.load_window()
    engine_dock = window.docks["engine_dock"]
    width = engine_dock.width()
    window.resizeDocks([engine_dock], [width + 40], Qt.Horizontal)  # as a separator drag
    qtbot.waitUntil(lambda: preferences.load_window() != stored, timeout=WRITE_WAIT_MS)
    assert engine_dock.width() != width

    after_crash = _window(qtbot, size=None)
    try:
        assert (after_crash.width(), after_crash.height()) == (760, 540)
        assert after_crash.docks["engine_dock"].width() == engine_dock.width()
    finally:
        after_crash.worker.shutdown()


def test_a_brush_size_changed_in_one_editor_keeps_the_engine_chosen_in_the_other(qtbot):
    first, second = _window(qtbot), _window(qtbot)  # sharing one settings file
    try:
        first.engine_panel.select_engine("telea")
        qtbot.waitUntil(lambda: preferences.load_fill_settings().engine == "telea",
                        timeout=WRITE_WAIT_MS)
        second.select_tool("mask")
        second.size_box.setValue(61)
        qtbot.waitUntil(lambda: preferences.load_brush_sizes({"mask": 0.0})["mask"] == 30.5,
                        timeout=WRITE_WAIT_MS)
        assert preferences.load_fill_settings().engine == "telea"
        assert first.close() and second.close()  # the one that did not choose it last
        assert preferences.load_fill_settings().engine == "telea"
        assert preferences.load_brush_sizes({"mask": 0.0})["mask"] == 30.5
    finally:
        first.worker.shutdown()
        second.worker.shutdown()


def test_settings_that_cannot_be_written_are_said_once(qtbot, tmp_path, monkeypatch):
    folder = tmp_path / "settings"
    folder.mkdir()  # the settings path is a folder: nothing can be written there
    monkeypatch.setenv(preferences.CONFIG_ENV, str(folder))
    window = _window(qtbot)
    said = []
    window.statusBar().messageChanged.connect(
        lambda text: said.append(text) if text.startswith("Settings cannot") else None)
    try:
        for margin in (64, 65, 66):  # one write after each
            with qtbot.waitSignal(window._save_timer.timeout, timeout=WRITE_WAIT_MS):
                window.engine_panel.margin.setValue(margin)
        assert said == [f"Settings cannot be saved to {folder}: it is a folder; they will be "
                        "lost at exit"]
        assert window.close()
        assert len(said) == 1
    finally:
        window.worker.shutdown()
