"""A value dropped inside a stored record (an engine option out of range or of the wrong type,
a seed below zero, an overlay opacity above one) is named at start-up in plain words: which
engine or setting, the value stored and what is used instead. Each entry is read once: the
note is what loading it found."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app import preferences
from app.engine_options import accepted_values, shown_value
from app.window import MainWindow
from engines.base import OptionSpec

pytestmark = pytest.mark.timeout(60)

RADIUS = "OpenCV Telea option Radius (900 is not a whole number from 1 to 50; 5 is used)"


def _ini(**records: dict) -> None:
    """Write the tests' INI file with JSON ``records`` by key ("fill/settings"), as stored."""
    sections: dict[str, list[str]] = {}
    for key, record in records.items():
        section, name = key.replace("__", "/").split("/")
        sections.setdefault(section, []).append(f"{name}={json.dumps(json.dumps(record))}")
    text = "".join(f"[{section}]\n" + "\n".join(lines) + "\n"
                   for section, lines in sections.items())
    Path(os.environ[preferences.CONFIG_ENV]).write_text(text, encoding="utf-8")


def _note(*named: str) -> str:
    return (f"Preferences not understood, reset to their defaults: {', '.join(named)} "
            f"(in {os.environ[preferences.CONFIG_ENV]})")


def _fill(record: dict) -> None:
    _ini(fill__settings=record)


def test_an_engine_option_out_of_range_is_named_with_its_engine_and_the_default_used():
    _fill({"engine": "telea", "engine_options": {"telea": {"radius": 900},
                                                 "ns": {"radius": 7}}})
    settings = preferences.load_fill_settings()
    assert settings.engine == "telea"
    assert settings.engine_options == {"ns": {"radius": 7}}  # Telea's radius: its default
    assert preferences.not_understood() == _note(RADIUS)


def test_options_of_the_wrong_type_are_named_each_in_its_fields_words():
    _fill({"engine_options": {"patchmatch": {"sketch_strength": "high", "quality": "ultra",
                                             "keep_grain": 1, "patch_size": 7}}})
    assert preferences.load_fill_settings().engine_options == {"patchmatch": {"patch_size": 7}}
    assert preferences.not_understood() == _note(
        'Guided PatchMatch option Sketch strength ("high" is not a number from 0 to 10; '
        "1 is used)",
        'Guided PatchMatch option Quality ("ultra" is not one of fast, normal or best '
        "(slower); normal is used)",
        "Guided PatchMatch option Keep grain (1 is not on or off; off is used)")


def test_the_engine_panels_own_settings_are_named_by_their_labels():
    _fill({"engine": "gone", "strategy": "tiles", "crop_margin": 128.5, "device": "tpu",
           "auto_apply": "yes", "seed": 3})
    settings = preferences.load_fill_settings()
    assert (settings.engine, settings.seed) == ("patchmatch", 3)  # the seed is taken
    assert preferences.not_understood() == _note(
        'Engine ("gone" is not an engine available here; Guided PatchMatch is used)',
        'Region ("tiles" is not one of crop, resize or original; crop is used)',
        "Context (128.5 is not a whole number from 0 to 2048; 128 is used)",
        'Device ("tpu" is not one of auto, cpu, cuda or mps; auto is used)',
        'Apply results automatically ("yes" is not on or off; on is used)')


def test_values_dropped_in_the_view_settings_and_brush_sizes_are_named():
    _ini(view__settings={"parser": "", "overlays": {"mask": "maybe", "gone": True},
                         "opacity": {"label_opacity": 1.5, "mask_opacity": 0.333}},
         tools__brush_radius={"mask": [40], "sketch": 12})
    assert preferences.load_view_settings().opacity == {"mask_opacity": 0.33}  # rounded
    assert preferences.load_brush_sizes({"mask": 24.0, "sketch": 3.0}) == {
        "mask": 24.0, "sketch": 12.0}
    assert preferences.not_understood() == _note(
        'mask brush size (the value stored is not a number from 0.5 to 1000; its default '
        "is used)",
        'labels parser ("" is not a parser\'s name; the first one ready is used)',
        'mask overlay shown ("maybe" is not on or off; on is used)',
        "label overlay opacity (1.5 is not a number from 0 to 1; 0.45 is used)")


def test_a_whole_entry_and_values_inside_another_are_named_together():
    _fill({"engine_options": {"telea": {"radius": 900}}})
    with open(os.environ[preferences.CONFIG_ENV], "a", encoding="utf-8") as ini:
        ini.write("[view]\nwheel=sideways\n")
    assert preferences.not_understood() == _note(RADIUS, "mouse wheel ('sideways')")


def test_the_window_names_the_dropped_option_at_start_up(qtbot):
    _fill({"engine": "telea", "engine_options": {"telea": {"radius": 900}}})
    window = MainWindow()
    qtbot.addWidget(window)
    try:
        window.restore_preferences()
        assert window.preferences_note == _note(RADIUS)
        assert window.statusBar().currentMessage() == window.preferences_note
        assert window.controller.settings.options_for("telea") == {}  # 5, the default
    finally:
        window.worker.shutdown()


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The keys of the checked entries parsed, in order."""
    calls: list[str] = []
    for key, (name, parse) in list(preferences._CHECKED.items()):
        def spy(value, dropped, key=key, parse=parse):
            calls.append(key)
            return parse(value, dropped)
        monkeypatch.setitem(preferences._CHECKED, key, (name, spy))
    return calls


def test_what_loading_found_is_said_without_parsing_again(parses):
    _fill({"engine_options": {"telea": {"radius": 900}}})
    preferences.load_fill_settings()
    assert parses == ["fill/settings"]
    parses.clear()
    assert preferences.not_understood() == _note(RADIUS)
    assert "fill/settings" not in parses  # noted when loaded
    assert preferences.not_understood() == _note(RADIUS)
    assert "fill/settings" not in parses


def test_an_entry_stored_anew_since_it_was_loaded_is_read_again(parses):
    _fill({"engine_options": {"telea": {"radius": 900}}})
    preferences.load_fill_settings()
    _fill({"engine_options": {"telea": {"radius": 9}}})  # another editor fixed it
    parses.clear()
    assert preferences.not_understood() == ""
    assert parses.count("fill/settings") == 1


def test_option_values_in_the_words_of_their_fields():
    quality = OptionSpec("quality", "Quality", "normal",
                         choices=(("fast", "Fast"), ("normal", "Normal"), ("best", "Best")))
    assert accepted_values(quality) == "one of Fast, Normal or Best"
    assert shown_value(quality, "best") == "Best"
    grain = OptionSpec("grain", "Grain", False)
    assert (accepted_values(grain), shown_value(grain, True)) == ("on or off", "on")
    patch = OptionSpec("patch", "Patch", 7, minimum=3, maximum=31, step=2)
    assert accepted_values(patch) == "a whole number from 3 to 31 in steps of 2"
    blend = OptionSpec("blend", "Blend", 6.0, minimum=0.0, maximum=32.0)
    assert accepted_values(blend) == "a number from 0 to 32"
    assert (shown_value(blend, 0.5), shown_value(blend, 0.333)) == ("0.5", "0.33")
