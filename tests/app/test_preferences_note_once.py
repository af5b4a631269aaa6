"""A preference not understood is said at the start that finds it, then what is used
instead is stored in its place: the next start says nothing, and the file holds the default
(values dropped inside a record are replaced there, the rest of the record kept; a damaged
whole entry is rewritten). A settings file that cannot be written says only what it did."""

from __future__ import annotations

import json
import os
from pathlib import Path

from app import preferences
from app.canvas import WheelMode
from app.controller import FillSettings
from tests.app.test_window import shown_window


def _ini(text: str) -> None:
    Path(os.environ[preferences.CONFIG_ENV]).write_text(text, encoding="utf-8")


def _start(qtbot) -> tuple[str, str]:
    """Start the window on the stored preferences and close it; what it noted, and what its
    status bar said at start."""
    window = shown_window(qtbot, restore=True)
    try:
        return window.preferences_note, window.statusBar().currentMessage()
    finally:
        window.confirm = lambda *args: True
        window.close()
        window.worker.shutdown()


def _fill_record() -> dict:
    return json.loads(preferences.store().value("fill/settings"))


def test_a_bad_value_is_said_on_the_first_start_only_and_the_default_stored(qtbot):
    record = {"engine": "telea", "seed": -3, "crop_margin": 64,
              "engine_options": {"telea": {"radius": 900},
                                 "qa-plugin-not-loaded": {"strength": 7}}}
    _ini(f"[fill]\nsettings={json.dumps(json.dumps(record))}\n")
    note, said = _start(qtbot)
    assert note.startswith("Preferences not understood, reset to their defaults: ")
    assert "Seed (-3 is not a whole number" in note and "OpenCV Telea option Radius (900 is" in note and said == note
    stored = _fill_record()
    assert stored["seed"] == FillSettings().seed == 0  # the default, in place of -3
    assert "radius" not in stored["engine_options"]["telea"]  # its default: none stored
    # what was understood stays, an engine not registered keeps its options for its return
    assert stored["engine"] == "telea" and stored["crop_margin"] == 64
    assert stored["engine_options"]["qa-plugin-not-loaded"] == {"strength": 7}

    assert _start(qtbot) == ("", "")
    assert _start(qtbot) == ("", "")
    assert _fill_record() == stored


def test_damaged_whole_entries_are_said_once_and_rewritten(qtbot):
    _ini("[fill]\nsettings=@ByteArray(\n[view]\nwheel=sideways\n"
         '[files]\nrecent="[[[oops"\n')
    note, _said = _start(qtbot)
    assert "fill settings" in note and "mouse wheel ('sideways')" in note
    assert "recent pictures" in note
    assert preferences.load_fill_settings() == FillSettings()
    assert _fill_record()["seed"] == FillSettings().seed  # the window's whole record
    assert preferences.store().value("view/wheel") == WheelMode.ZOOM.value
    assert preferences.store().value("files/recent") is None  # removed: no recent pictures
    assert preferences.not_understood() == ""

    assert _start(qtbot) == ("", "")


def test_a_settings_path_that_cannot_be_written_says_only_what_it_did(qtbot, tmp_path,
                                                                      monkeypatch):
    folder = tmp_path / "settings"
    folder.mkdir()
    monkeypatch.setenv(preferences.CONFIG_ENV, str(folder))
    monkeypatch.setattr(preferences, "_problem", "")
    window = shown_window(qtbot, restore=True)
    try:
        assert window.preferences_note == "" and window.statusBar().currentMessage() == ""
        assert preferences.write_problem() == ""  # nothing was tried at start
    finally:
        window.worker.shutdown()
    assert list(folder.iterdir()) == []


def test_a_note_whose_reset_cannot_be_written_is_still_said_alone(qtbot, monkeypatch):
    """The store takes no write (as a read-only file): the start says the note only; the
    failure is said by the first save, as before."""
    _ini('[view]\nwheel=sideways\n')
    failed = []

    def commit(settings):
        failed.append(settings.fileName())
        monkeypatch.setattr(preferences, "_problem", "Settings cannot be saved to it")
    monkeypatch.setattr(preferences, "_commit", commit)
    window = shown_window(qtbot, restore=True)
    try:
        assert "mouse wheel ('sideways')" in window.preferences_note
        assert window.statusBar().currentMessage() == window.preferences_note
        assert failed  # the reset was tried
    finally:
        window.worker.shutdown()


def test_a_window_layout_qt_cannot_restore_is_said_once_and_replaced(qtbot):
    # bytes the reader takes, but not a layout Qt wrote: restoreState/restoreGeometry refuse
    _ini("[window]\nstate=@ByteArray(xx)\ngeometry=@ByteArray(yy)\n")
    note, said = _start(qtbot)
    assert "panel layout" in note and "window size and place" in note and said == note
    stored_state = preferences.store().value("window/state")
    stored_geometry = preferences.store().value("window/geometry")
    assert bytes(stored_state) != b"xx" and bytes(stored_geometry) != b"yy"
    probe = shown_window(qtbot)
    try:  # the window's own layout was stored in their place: Qt takes it back
        assert probe.restoreState(stored_state) and probe.restoreGeometry(stored_geometry)
    finally:
        probe.worker.shutdown()
    assert _start(qtbot) == ("", "")


def test_a_layout_the_window_restores_is_not_named(qtbot):
    first = shown_window(qtbot)
    try:
        preferences.store().setValue("window/state", first.saveState())
        preferences.store().setValue("window/geometry", first.saveGeometry())
    finally:
        first.worker.shutdown()
    assert _start(qtbot) == ("", "")
