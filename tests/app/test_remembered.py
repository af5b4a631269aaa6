"""What the editor remembers for its next session, driven through the window: Open Recent,
the folders its file dialogs start in, the brush sizes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app import preferences
from app.document import Layer
from app.window import SAMPLE_IMAGE, SAVE_DELAY_MS, MainWindow
from engines.fileio import save_image
from tests.app.test_recent_missing import wait_for_recent_checks
from tests.app.test_window import shown_window


def _window(qtbot, restore: bool = False) -> MainWindow:
    window = shown_window(qtbot, restore=restore)
    window.confirm = lambda title, text: False  # never block on a question
    return window


def _close(window: MainWindow) -> None:
    assert window.close()


@pytest.fixture
def window(qtbot):
    window = _window(qtbot)
    yield window
    window.worker.shutdown()


def _picture(path: Path, value: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(path, np.full((24, 32, 3), value, np.uint8))
    return path


def _drop(window: MainWindow, path: Path) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    centre = QPointF(window.width() / 2, window.height() / 2)
    for event in (QDragEnterEvent(centre.toPoint(), Qt.CopyAction, data, Qt.LeftButton,
                                  Qt.NoModifier),
                  QDropEvent(centre, Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)):
        QApplication.sendEvent(window, event)


def _entries(window: MainWindow) -> list[tuple[str, str, bool]]:
    """(text, status tip, enabled) of each entry in Open Recent, as when the menu opens."""
    window.recent_menu.aboutToShow.emit()
    return _shown(window)


def _shown(window: MainWindow) -> list[tuple[str, str, bool]]:
    """(text, status tip, enabled) of each entry of Open Recent as it is now."""
    clear = (window.actions["clear_recent"], window.actions["clear_missing"])
    return [(a.text(), a.statusTip(), a.isEnabled()) for a in window.recent_menu.actions()
            if not a.isSeparator() and a not in clear]


def _entry(window: MainWindow, name: str):
    window.recent_menu.aboutToShow.emit()
    [action] = [a for a in window.recent_menu.actions() if a.text().endswith(f" {name}")]
    return action


def test_open_recent_lists_the_last_pictures_and_the_next_window_opens_them(qtbot, tmp_path):
    first = _window(qtbot)
    a, b, c = (_picture(tmp_path / f"{name}.png") for name in ("a", "b", "c"))
    assert first.open_path(a) and first.open_path(b) and first.open_path(a)
    _drop(first, c)  # dropped pictures count too
    assert first.document.path == str(c)
    assert first.open_path(SAMPLE_IMAGE)  # the bundled sample is never listed
    assert _entries(first) == [("&1  c.png", str(c), True), ("&2  a.png", str(a), True),
                               ("&3  b.png", str(b), True)]
    assert first.recent_menu.title() == "Open Re&cent"
    assert first.recent_menu.menuAction() in first.menuBar().actions()[0].menu().actions()
    assert _entry(first, "c.png").toolTip() == str(c)
    _close(first)

    second = _window(qtbot, restore=True)
    try:
        assert [text for text, _, _ in _entries(second)] == ["&1  c.png", "&2  a.png",
                                                             "&3  b.png"]
        _entry(second, "b.png").trigger()
        assert second.document.path == str(b)
        assert [text for text, _, _ in _entries(second)] == ["&1  b.png", "&2  c.png",
                                                             "&3  a.png"]
    finally:
        second.worker.shutdown()


def test_open_recent_keeps_the_last_ten_and_clear_recent_empties_it(qtbot, window, tmp_path):
    pictures = [_picture(tmp_path / f"p{i:02d}.png", value=10 * i) for i in range(11)]
    for picture in pictures:
        assert window.open_path(picture)
    entries = _entries(window)
    assert [text for text, _, _ in entries] == (
        [f"&{n}  p{10 - n + 1:02d}.png" for n in range(1, 10)] + ["1&0  p01.png"])
    assert window.actions["clear_recent"].isEnabled()
    window.actions["clear_recent"].trigger()
    assert preferences.load_recent() == []
    assert _entries(window) == [("No Recent Pictures", "", False)]
    assert not window.actions["clear_recent"].isEnabled()


def test_a_recent_picture_that_is_gone_is_marked_and_choosing_it_says_so(qtbot, window,
                                                                         tmp_path):
    a, b = _picture(tmp_path / "a.png"), _picture(tmp_path / "b.png")
    assert window.open_path(a) and window.open_path(b)
    chosen = _entry(window, "a.png")  # the menu shown while the file was still there
    a.unlink()
    asked = []
    window.confirm = lambda title, text: asked.append(text) or True  # remove it: yes
    chosen.trigger()
    assert window.document.path == str(b)  # nothing else happened to the picture
    assert window.last_error == ""
    assert not [w for w in QApplication.topLevelWidgets()
                if isinstance(w, QMessageBox) and w.isVisible()]
    assert len(asked) == 1 and "Remove it from Open Recent?" in asked[0]
    assert "a.png is no longer at" in window.statusBar().currentMessage()
    assert preferences.load_recent() == [str(b)]

    b.unlink()  # gone before the menu opens: shown, then marked with the reason (choosable)
    _entries(window)
    qtbot.waitUntil(lambda: _shown(window) == [("&1  b.png  (missing)",
                                                f"{b} (no longer there)", True)])


def test_open_recent_does_not_wait_for_a_drive_that_hangs(qtbot, window, tmp_path,
                                                          monkeypatch):
    a, b = _picture(tmp_path / "a.png"), _picture(tmp_path / "b.png")
    assert window.open_path(a) and window.open_path(b)
    wait_for_recent_checks(window)
    a.unlink()
    release = threading.Event()
    is_file = Path.is_file

    def hanging(path):  # a stale network mount: the check of a.png blocks
        if path == a:
            release.wait(10)
        return is_file(path)

    monkeypatch.setattr(Path, "is_file", hanging)
    started = time.monotonic()
    entries = _entries(window)
    assert time.monotonic() - started < 5  # the menu opened while the check hangs
    assert entries == [("&1  b.png", str(b), True), ("&2  a.png", str(a), True)]
    release.set()
    qtbot.waitUntil(lambda: _shown(window) == [("&1  b.png", str(b), True),
                                               ("&2  a.png  (missing)",
                                                f"{a} (no longer there)", True)])


def test_a_damaged_settings_file_still_starts_the_editor(qtbot, tmp_path, monkeypatch):
    ini = tmp_path / "damaged.ini"
    ini.write_text("[files]\nrecent=/a.png, 3, {broken\n[folders]\nopen=@Variant(\\0\\0\\0)\n"
                   "save=7\n[tools]\nbrush_radius=[1, 2\n", encoding="utf-8")
    monkeypatch.setenv(preferences.CONFIG_ENV, str(ini))
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args: asked.append(args[2]) or ("", "")))
    window = _window(qtbot, restore=True)
    try:
        assert _entries(window) == [("No Recent Pictures", "", False)]
        assert window.tool_settings.radius["mask"] == 24.0
        assert not window.open_path()
        assert asked == [""]
    finally:
        window.worker.shutdown()


def test_the_open_dialog_starts_in_the_last_opened_pictures_folder(qtbot, tmp_path,
                                                                   monkeypatch):
    asked = []
    answer = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(
        lambda parent, title, folder, filters: asked.append(folder) or (answer[-1], "")))
    holiday = _picture(tmp_path / "holiday" / "beach.png")
    first = _window(qtbot)
    answer.append(str(holiday))
    assert first.open_path()
    assert asked == [""]  # nothing remembered: the dialog's own default
    _close(first)

    second = _window(qtbot, restore=True)
    try:
        answer.append("")
        assert not second.open_path()
        assert asked[-1] == str(holiday.parent)
        holiday.unlink()
        holiday.parent.rmdir()  # a remembered folder that is gone: the default again
        assert not second.open_path()
        assert asked[-1] == ""
    finally:
        second.worker.shutdown()


def test_save_and_export_dialogs_start_in_the_last_folder_saved_into(qtbot, window, tmp_path,
                                                                     monkeypatch):
    offered = []
    answer = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(
        lambda parent, title, suggestion, filters: offered.append(suggestion)
        or (answer.pop(0), "")))
    photo = _picture(tmp_path / "photos" / "photo.png", 50)
    assert window.open_path(photo)
    # a hole to export (an empty mask says so and asks for no file); saved below
    window.document.replace_layer(Layer.MASK, np.full((24, 32), 255, np.uint8), "mask")
    out = tmp_path / "edited"
    out.mkdir()
    answer.append(str(out / "photo_v1.png"))
    assert window.save_as()
    assert offered[-1] == str(photo.with_name("photo_inpainted.png"))  # next to it at first
    answer.append("")
    window.export_mask()
    assert offered[-1] == str(out / "photo_mask.png")

    other = _picture(tmp_path / "photos" / "other.png", 60)
    assert window.open_path(other)
    _picture(out / "other_inpainted.png", 70)  # taken: the suggestion is a free name
    answer.append("")
    assert not window.save_as()
    assert offered[-1] == str(out / "other_inpainted-2.png")
    assert (cv2.imread(str(other)) == 60).all()  # the original untouched
    answer.append("")
    # a label map to export (without one, Export Label Map says so and asks for no file)
    window.document.replace_label_map(np.full((24, 32), 3, np.uint8), None, "map")
    window.export_labels()
    assert offered[-1] == str(out / "other_labels.png")

    for name in ("photo_v1.png", "other_inpainted.png"):
        (out / name).unlink()
    out.rmdir()  # gone: next to the picture, as before
    answer.append("")
    window.save_as()
    assert offered[-1] == str(other.with_name("other_inpainted.png"))


def test_each_import_dialog_remembers_its_own_folder(qtbot, tmp_path, monkeypatch):
    asked: dict[str, list[str]] = {}
    answers: dict[str, str] = {}

    def ask(parent, title, folder, filters):
        asked.setdefault(title, []).append(folder)
        return answers.get(title, ""), ""

    def ask_many(parent, title, folder, filters):
        asked.setdefault(title, []).append(folder)
        return ([answers[title]] if title in answers else []), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(ask))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(ask_many))
    photo = _picture(tmp_path / "photos" / "photo.png")
    (tmp_path / "maps").mkdir()
    cv2.imwrite(str(tmp_path / "maps" / "map.png"), np.full((24, 32), 3, np.uint8))
    mask = np.zeros((24, 32), np.uint8)
    mask[4:9, 4:9] = 255
    (tmp_path / "masks").mkdir()
    cv2.imwrite(str(tmp_path / "masks" / "hole.png"), mask)
    reference = _picture(tmp_path / "refs" / "view.png", 120)
    answers.update({"Import Label Map": str(tmp_path / "maps" / "map.png"),
                    "Import Mask": str(tmp_path / "masks" / "hole.png"),
                    "Add Reference Photos": str(reference)})
    first = _window(qtbot)
    first.engine_panel.auto_run.setChecked(False)  # no fill after the mask is imported
    assert first.open_path(photo)
    assert first.import_labels() and first.import_mask() and first.add_references() == 1
    assert asked == {"Import Label Map": [""], "Import Mask": [""],
                     "Add Reference Photos": [""]}
    first.document.mark_saved()  # closing asks nothing
    _close(first)

    second = _window(qtbot, restore=True)
    try:
        answers.clear()
        assert second.open_path(photo)
        second.import_labels()
        second.import_mask()
        second.add_references()
        assert asked == {"Import Label Map": ["", str(tmp_path / "maps")],
                         "Import Mask": ["", str(tmp_path / "masks")],
                         "Add Reference Photos": ["", str(tmp_path / "refs")]}
    finally:
        second.worker.shutdown()


def test_brush_sizes_are_kept_and_the_sketch_eraser_has_its_own(qtbot, tmp_path):
    first = _window(qtbot)
    first.select_tool("mask")
    first.size_box.setValue(30)
    first.select_tool("sketch")
    first.canvas.change_brush_size(2.0)
    first.select_tool("sketch-eraser")
    assert first.size_box.value() == 24  # its own size, not the mask brush's 30
    first.size_box.setValue(10)
    first.select_tool("color")
    first.size_box.setValue(40)
    first.select_tool("sample-include")
    first.size_box.setValue(120)
    first.select_tool("label")
    first.size_box.setValue(14)
    radius = first.tool_settings.radius
    assert radius["mask"] == 15.0 and radius["sketch-eraser"] == 5.0
    first.select_tool("mask")
    _close(first)

    second = _window(qtbot, restore=True)
    try:
        assert second.tool_settings.radius == {
            "mask": 15.0, "sketch": 3.0, "sketch-eraser": 5.0, "color": 20.0,
            "labels": 7.0, "sampling": 60.0}
        assert second.canvas.tool.name == "mask" and second.size_box.value() == 30
        second.select_tool("sketch-eraser")
        assert second.size_box.value() == 10
    finally:
        second.worker.shutdown()


def test_changed_settings_are_written_soon_without_closing(qtbot):
    window = _window(qtbot, restore=True)
    try:
        defaults = dict(window.tool_settings.radius)
        window.select_tool("mask")
        window.size_box.setValue(64)
        window.engine_panel.select_engine("ns")
        # written shortly after the change, while the window stays open (a crash keeps them)
        qtbot.waitUntil(lambda: preferences.load_brush_sizes(defaults)["mask"] == 32.0,
                        timeout=5000)
        assert preferences.load_fill_settings().engine == "ns"
    finally:
        window.worker.shutdown()


def test_a_window_that_never_read_the_preferences_does_not_write_them(qtbot):
    preferences.store().setValue("tools/brush_radius", json.dumps({"mask": 11.0}))
    window = _window(qtbot)  # restore_preferences not called
    try:
        window.select_tool("mask")
        window.size_box.setValue(80)
        qtbot.wait(SAVE_DELAY_MS + 300)  # past the moment a restored window would write
        assert preferences.load_brush_sizes({"mask": 24.0})["mask"] == 11.0
    finally:
        window.worker.shutdown()
