"""Preferences damaged in ways no version of the editor writes (disk or sync damage, hand
edits): every entry falls back to its default and the editor still starts; a plain boolean
reads as INI users spell it; a saved layout that hid a panel does not lose it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app import preferences
from app.canvas import WheelMode
from app.controller import FillSettings
from tests.app.test_window import shown_window

JSON_KEYS = ("fill/settings", "tools/brush_radius", "view/settings", "files/recent")


def _ini(text: str) -> None:
    """Write the tests' own INI file (``preferences.CONFIG_ENV``) as a person would."""
    Path(os.environ[preferences.CONFIG_ENV]).write_text(text, encoding="utf-8")


def _loaded() -> tuple:
    """What each reader takes from the store now."""
    return (preferences.load_fill_settings(), preferences.load_brush_sizes({"mask": 24.0}),
            preferences.load_view_settings(), preferences.load_recent(),
            preferences.load_keep_metadata(), preferences.load_wheel_mode(),
            preferences.load_window(), preferences.load_folder("open"))


DEFAULTS = (FillSettings(), {"mask": 24.0}, preferences.ViewSettings(), [], True,
            WheelMode.ZOOM, (None, None), None)


@pytest.mark.parametrize("key", JSON_KEYS)
def test_json_nested_too_deep_to_parse_gives_the_default_and_the_window_starts(qtbot, key):
    section, name = key.split("/")
    _ini(f'[{section}]\n{name}="{"[" * 5000}{"]" * 5000}"\n')
    assert _loaded() == DEFAULTS
    window = shown_window(qtbot, restore=True)
    try:
        assert window.controller.settings.engine == FillSettings().engine
        window.tool_settings.radius["mask"] = 40.0  # a change is written over the damage
        window.save_preferences()
        assert preferences.write_problem() == ""
        assert preferences.load_brush_sizes({"mask": 24.0}) == {"mask": 40.0}
    finally:
        window.worker.shutdown()


@pytest.mark.parametrize("damage", [RecursionError, TypeError, OverflowError, MemoryError,
                                    ValueError])
def test_any_kind_of_damage_found_while_reading_gives_the_defaults(monkeypatch, damage):
    for key in JSON_KEYS:
        preferences.store().setValue(key, json.dumps({"a": 1}))

    def damaged(*args, **kwargs):
        raise damage("damaged")

    monkeypatch.setattr(json, "loads", damaged)
    assert _loaded() == DEFAULTS


@pytest.mark.parametrize(("spelling", "keep"), [
    ("true", True), ("1", True), ("yes", True), ("on", True), ("TRUE", True), ("Yes", True),
    ("On", True), ("false", False), ("0", False), ("no", False), ("off", False),
    ("False", False), ("NO", False), ("Off", False)])
def test_keep_metadata_reads_each_usual_boolean_spelling(spelling, keep):
    _ini(f"[files]\nkeep_metadata={spelling}\n")
    assert preferences.load_keep_metadata() is keep


@pytest.mark.parametrize("line", ["keep_metadata=maybe", "keep_metadata=2",
                                  "keep_metadata=", "keep_metadata=false, true",
                                  "keep_metadata=@Rect(1 2 3 4)"])
def test_keep_metadata_spelled_otherwise_keeps_the_default(line):
    _ini(f"[files]\n{line}\n")
    assert preferences.load_keep_metadata() is True


def test_keep_metadata_edited_to_off_is_what_the_window_takes(qtbot):
    _ini("[files]\nkeep_metadata=off\n")
    window = shown_window(qtbot, restore=True)
    try:
        assert not window.keep_metadata
        assert not window.actions["keep_metadata"].isChecked()
    finally:
        window.worker.shutdown()


def test_a_saved_layout_that_hid_panels_shows_them_again(qtbot):
    first = shown_window(qtbot)
    try:
        # no version of the editor hides a panel (they cannot be closed): a hand-made layout
        for name in ("engine_dock", "face_dock"):
            first.docks[name].hide()
        preferences.store().setValue("window/state", first.saveState())
    finally:
        first.worker.shutdown()
    second = shown_window(qtbot, restore=True)
    try:
        assert not any(dock.isHidden() for dock in second.docks.values())
        assert second.docks["engine_dock"].isVisible()
        assert second.engine_panel.isVisible()
        second.docks["face_dock"].raise_()  # a tab among the other panels again
        qtbot.waitUntil(second.face_panel.isVisible)
    finally:
        second.worker.shutdown()
