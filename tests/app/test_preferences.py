"""Preferences: fill settings, window layout, overlays and the labels panel's parser survive a
restart; bad entries fall back; a window writes only what it changed; a write that fails is
said."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray

from app import preferences
from app.controller import FillSettings
from app.document import Layer
from app.panels import OverlayPanel
from app.viewcache import OverlayStyle
from app.window import SAMPLE_IMAGE, MainWindow
from engines.base import Strategy
from engines.segmentation import base as parsers
from tests.app.test_parser_problems import Stripes
from tests.app.test_window import shown_window


def _values(fill: FillSettings | None = None, keep_metadata: bool = True,
            brush_sizes: dict[str, float] | None = None,
            view: preferences.ViewSettings | None = None) -> preferences.Remembered:
    """A window's remembered values: the defaults unless given."""
    return preferences.Remembered(fill or FillSettings(), keep_metadata, brush_sizes or {},
                                  QByteArray(b"geometry"), QByteArray(b"state"),
                                  view or preferences.ViewSettings.of("regions", OverlayStyle()))


def _writer() -> preferences.SettingsWriter:
    """The writer of a window that started with the defaults."""
    return preferences.SettingsWriter(_values())


def test_fill_settings_round_trip():
    chosen = FillSettings(engine="telea", engine_options={
        "telea": {"radius": 9}, "patchmatch": {"patch_size": 11, "quality": "best"},
        "deepfill2": {"half": False}}, strategy=Strategy.RESIZE, crop_margin=64, seed=5,
        device="cpu", auto_run=False, auto_apply=False)
    _writer().write(_values(chosen))
    assert preferences.load_fill_settings() == chosen
    assert preferences.write_problem() == ""


def test_nothing_stored_gives_the_defaults():
    assert preferences.load_fill_settings() == FillSettings()


def test_entries_that_no_longer_fit_fall_back_to_defaults():
    preferences.store().setValue("fill/settings", json.dumps({
        "engine": "an-engine-that-is-gone",
        "engine_options": {"an-engine-that-is-gone": {"x": 1},
                           "patchmatch": {"patch_size": 8, "quality": "ultra",
                                          "sketch_strength": 2.5, "unknown": 1},
                           "telea": "not a dict"},
        "strategy": "sideways", "crop_margin": "wide", "seed": -3, "device": "tpu",
        "auto_run": "yes"}))
    loaded = preferences.load_fill_settings()
    assert loaded.engine == FillSettings().engine
    assert loaded.engine_options == {"patchmatch": {"sketch_strength": 2.5}}
    assert loaded.strategy is Strategy.CROP and loaded.crop_margin == 128
    assert loaded.seed == 0 and loaded.device == "auto" and loaded.auto_run is True


@pytest.mark.parametrize(("key", "damaged"), [("crop_margin", -5), ("crop_margin", 5000),
                                             ("seed", 2**40)])
def test_numbers_out_of_range_give_the_default_not_the_nearest_limit(key, damaged):
    record = {"crop_margin": 64, "seed": 7}
    expected = dict(record, **{key: getattr(FillSettings(), key)})
    preferences.store().setValue("fill/settings", json.dumps(dict(record, **{key: damaged})))
    loaded = preferences.load_fill_settings()
    assert {"crop_margin": loaded.crop_margin, "seed": loaded.seed} == expected


def test_a_damaged_entry_gives_the_defaults():
    preferences.store().setValue("fill/settings", "{not json")
    assert preferences.load_fill_settings() == FillSettings()
    preferences.store().setValue("fill/settings", "[1, 2]")
    assert preferences.load_fill_settings() == FillSettings()


@pytest.mark.parametrize("value", [["telea"], {"name": "telea"}, None, 2.5, True])
def test_entries_of_the_wrong_type_give_the_defaults(value):
    for key in ("engine", "strategy", "crop_margin", "seed", "device", "auto_run",
                "auto_apply", "engine_options"):
        preferences.store().setValue("fill/settings", json.dumps({key: value}))
        assert preferences.load_fill_settings() == FillSettings(), key
    preferences.store().setValue("fill/settings", json.dumps(
        {"engine_options": {"patchmatch": {"patch_size": value, "quality": value,
                                           "keep_grain": value}}}))
    loaded = preferences.load_fill_settings()
    assert loaded.engine_options in ({}, {"patchmatch": {"keep_grain": True}}), value


def test_saving_keeps_metadata_until_the_user_says_otherwise():
    assert preferences.load_keep_metadata()
    writer = _writer()
    writer.write(_values(keep_metadata=False))
    assert not preferences.load_keep_metadata()
    writer.write(_values(keep_metadata=True))
    assert preferences.load_keep_metadata()


def test_the_next_window_starts_where_the_last_one_closed(qtbot):
    first = shown_window(qtbot, (760, 540))
    first.engine_panel.select_engine("telea")
    first.engine_panel.options.fields["radius"].setValue(12)
    first.engine_panel.margin.setValue(200)
    first.actions["keep_metadata"].setChecked(False)
    size = (first.width(), first.height())
    assert first.close()

    second = shown_window(qtbot, size=None, restore=True)
    try:
        assert second.controller.settings.engine == "telea"
        assert second.controller.settings.options_for("telea") == {"radius": 12}
        assert second.controller.settings.crop_margin == 200
        assert second.engine_panel.engine.currentData() == "telea"
        assert second.engine_panel.options.fields["radius"].value() == 12
        assert second.engine_panel.margin.value() == 200
        assert (second.width(), second.height()) == size
        assert not second.keep_metadata
    finally:
        second.worker.shutdown()


def test_recent_pictures_newest_first_resolved_without_duplicates_at_most_ten(tmp_path):
    pictures = [tmp_path / f"p{i}.png" for i in range(12)]
    for picture in pictures:
        preferences.add_recent(picture)
    assert preferences.load_recent() == [str(p) for p in pictures[:1:-1]]  # p11 .. p2
    # the same file by another spelling moves to the front, listed once, resolved
    (tmp_path / "sub").mkdir()
    listed = preferences.add_recent(tmp_path / "sub" / ".." / "p5.png")
    assert listed == preferences.load_recent()
    assert listed[0] == str(pictures[5]) and listed.count(str(pictures[5])) == 1
    assert len(listed) == preferences.RECENT_LIMIT
    preferences.remove_recent(str(pictures[5]))
    assert str(pictures[5]) not in preferences.load_recent()
    preferences.clear_recent()
    assert preferences.load_recent() == []


@pytest.mark.parametrize("stored", ["{not json", "[1, 2", json.dumps({"a": "/x.png"}),
                                    json.dumps("/x.png"), "", ["/x.png", "/y.png"], 7])
def test_a_damaged_recent_list_is_empty(stored):
    preferences.store().setValue("files/recent", stored)
    assert preferences.load_recent() == []


def test_recent_entries_that_are_not_absolute_paths_are_dropped(tmp_path):
    good = str(tmp_path / "a.png")
    preferences.store().setValue("files/recent", json.dumps(
        [good, 3, None, "relative.png", ["/nested.png"], good, str(tmp_path / "b.png")]))
    assert preferences.load_recent() == [good, str(tmp_path / "b.png")]


def test_a_remembered_folder_that_is_gone_or_damaged_is_forgotten(tmp_path):
    assert preferences.load_folder("open") is None
    folder = tmp_path / "photos"
    folder.mkdir()
    preferences.save_folder("open", folder / ".." / "photos")
    assert preferences.load_folder("open") == folder
    assert preferences.load_folder("save") is None  # each dialog its own
    folder.rmdir()
    assert preferences.load_folder("open") is None
    for damaged in ("relative/folder", 12, ["/tmp"], ""):
        preferences.store().setValue("folders/open", damaged)
        assert preferences.load_folder("open") is None, damaged


def test_brush_sizes_round_trip_and_bad_entries_keep_the_defaults():
    defaults = {"mask": 24.0, "sketch": 1.5, "sketch-eraser": 12.0, "color": 8.0}
    assert preferences.load_brush_sizes(defaults) == defaults
    _writer().write(_values(brush_sizes={"mask": 40.0, "sketch": 2.5, "sketch-eraser": 6.0,
                                         "color": 9.0}))
    assert preferences.load_brush_sizes(defaults) == {
        "mask": 40.0, "sketch": 2.5, "sketch-eraser": 6.0, "color": 9.0}
    preferences.store().setValue("tools/brush_radius", json.dumps(
        {"mask": "big", "sketch": True, "sketch-eraser": 6.0, "color": -4, "gone": 3.0})
        .replace("-4", "NaN"))  # JSON as Python writes a NaN
    assert preferences.load_brush_sizes(defaults) == {
        "mask": 24.0, "sketch": 1.5, "sketch-eraser": 6.0, "color": 8.0}
    # out of range is damage: the default, not the nearest size allowed (1000 or 0.5)
    preferences.store().setValue("tools/brush_radius", json.dumps(
        {"mask": 0.01, "sketch": -4, "sketch-eraser": 1e9, "color": 1000.0}))
    assert preferences.load_brush_sizes(defaults) == {
        "mask": 24.0, "sketch": 1.5, "sketch-eraser": 12.0, "color": 1000.0}
    for damaged in ("{not json", json.dumps([1, 2]), ["a", "b"], 5):
        preferences.store().setValue("tools/brush_radius", damaged)
        assert preferences.load_brush_sizes(defaults) == defaults, damaged


def test_two_writers_keep_each_others_changes_and_the_later_change_of_one_value_wins():
    first, second = _writer(), _writer()  # two editors started on the same settings
    telea = FillSettings(engine="telea", engine_options={"patchmatch": {"quality": "best"}})
    first.write(_values(telea))
    second.write(_values(FillSettings(engine_options={"telea": {"radius": 9}}),
                         brush_sizes={"mask": 30.5}))
    loaded = preferences.load_fill_settings()
    assert loaded.engine == "telea"  # not put back to the default the second one still has
    assert loaded.engine_options == {"patchmatch": {"quality": "best"}, "telea": {"radius": 9}}
    assert preferences.load_brush_sizes({"mask": 24.0}) == {"mask": 30.5}
    first.write(_values(telea, brush_sizes={"sketch": 2.0}))
    assert preferences.load_brush_sizes({"mask": 24.0, "sketch": 1.5}) == {
        "mask": 30.5, "sketch": 2.0}
    second.write(_values(FillSettings(engine="ns", engine_options={"telea": {"radius": 9}}),
                         brush_sizes={"mask": 30.5}))
    loaded = preferences.load_fill_settings()
    assert loaded.engine == "ns"  # the same setting: the later change wins
    assert loaded.engine_options == {"patchmatch": {"quality": "best"}, "telea": {"radius": 9}}
    # an option set back to its default (left out) is dropped, the others' stay
    first.write(_values(FillSettings(engine="telea"), brush_sizes={"sketch": 2.0}))
    assert preferences.load_fill_settings().engine_options == {"telea": {"radius": 9}}


def test_a_writer_that_changed_nothing_writes_nothing(tmp_path):
    writer = _writer()
    writer.write(_values())
    assert not (tmp_path / "preferences.ini").exists()


def test_a_failed_write_is_said_and_tried_again_whole(tmp_path, monkeypatch):
    folder = tmp_path / "a folder"
    folder.mkdir()
    monkeypatch.setenv(preferences.CONFIG_ENV, str(folder))
    writer = _writer()
    writer.write(_values(FillSettings(crop_margin=64)))
    assert preferences.write_problem() == (
        f"Settings cannot be saved to {folder}: it is a folder; they will be lost at exit")
    monkeypatch.setenv(preferences.CONFIG_ENV, str(tmp_path / "preferences.ini"))
    writer.write(_values(FillSettings(crop_margin=64), keep_metadata=False))
    assert preferences.write_problem() == ""
    assert preferences.load_fill_settings().crop_margin == 64  # the change that failed
    assert not preferences.load_keep_metadata()


# ------------------------------------------------------------- overlays and parser
FIRST_READY = "regions"  # the parser a window without preferences shows (no download needed)


def _overlays(window: MainWindow) -> dict[Layer, tuple[bool, bool, int]]:
    """Each overlay as shown: (check box ticked, the canvas style's visibility, slider)."""
    panel = window.overlay_panel
    return {layer: (panel.checks[layer].isChecked(), window.canvas.style.visible[layer],
                    panel.sliders[layer].value()) for layer in panel.checks}


def _opacities(window: MainWindow) -> dict[str, float]:
    """The overlay opacities the canvas draws with."""
    return {name: getattr(window.canvas.style, name) for name in preferences.OVERLAY_OPACITIES}


DEFAULT_OPACITIES = {name: getattr(OverlayStyle(), name) for name in preferences.OVERLAY_OPACITIES}


def test_overlays_and_the_parser_are_back_in_the_next_window(qtbot):
    first = shown_window(qtbot, restore=True)
    try:
        assert first.legend.current_parser() == FIRST_READY  # nothing stored yet
        panel = first.overlay_panel
        panel.checks[Layer.MASK].setChecked(False)
        panel.checks[Layer.SAMPLING].setChecked(False)
        panel.sliders[Layer.LABELS].setValue(80)
        panel.sliders[Layer.COLOR].setValue(0)
        assert first.legend.select_parser("scene")  # listed, its weights not installed
        shown = _overlays(first)
        assert first.close()
    finally:
        first.worker.shutdown()

    second = shown_window(qtbot, restore=True)
    try:
        assert _overlays(second) == shown
        assert shown[Layer.MASK][:2] == (False, False) and shown[Layer.SKETCH][:2] == (True, True)
        assert _opacities(second) == dict(DEFAULT_OPACITIES, label_opacity=0.8,
                                          color_opacity=0.0)
        assert second.overlay_panel.style is second.canvas.style
        # a parser that needs a download is still the one chosen; the panel says what it needs
        assert second.legend.current_parser() == "scene"
        assert second.legend.parser.currentData() == "scene"
        assert second.legend.status.isVisibleTo(second.legend)
        assert second.legend.status.text() == (
            "Its weights are not installed: download them in File → Models… (or Import file… "
            "with a copy you have)")
    finally:
        second.worker.shutdown()


def test_overlay_and_parser_changes_are_written_soon_without_closing(qtbot):
    window = shown_window(qtbot, restore=True)
    try:
        window.overlay_panel.checks[Layer.LABELS].click()  # the user unticks it
        qtbot.waitUntil(lambda: preferences.load_view_settings().overlays.get("labels") is False,
                        timeout=5000)
        window.overlay_panel.sliders[Layer.MASK].setValue(25)
        qtbot.waitUntil(
            lambda: preferences.load_view_settings().opacity.get("mask_opacity") == 0.25,
            timeout=5000)
        window.legend.parser.setCurrentIndex(window.legend.parser.findData("scene-lite"))
        qtbot.waitUntil(lambda: preferences.load_view_settings().parser == "scene-lite",
                        timeout=5000)
    finally:
        window.worker.shutdown()


def test_view_settings_round_trip_and_damaged_entries_are_left_out():
    assert preferences.load_view_settings() == preferences.ViewSettings()
    style = OverlayStyle()
    style.visible[Layer.SKETCH] = False
    style.sampling_opacity = 0.7
    chosen = preferences.ViewSettings.of("scene", style)
    _writer().write(_values(view=chosen))
    loaded = preferences.load_view_settings()  # only what differs from the defaults is written
    assert loaded == preferences.ViewSettings("scene", {"sketch": False},
                                              {"sampling_opacity": 0.7})
    restored = OverlayStyle()
    loaded.apply_to(restored)
    assert preferences.ViewSettings.of("scene", restored) == chosen

    preferences.store().setValue("view/settings", json.dumps({
        "parser": 5,
        "overlays": {"mask": "no", "sketch": False, "labels": 0, "image": False, "gone": True,
                     "color": None},
        "opacity": {"mask_opacity": 1.5, "label_opacity": 0.2, "palette": 0.3,
                    "color_opacity": float("nan"), "sampling_opacity": True,
                    "mask_rgb": 0.5}}))
    assert preferences.load_view_settings() == preferences.ViewSettings(
        None, {"sketch": False}, {"label_opacity": 0.2})
    for damaged in ("{not json", json.dumps([1, 2]), ["a", "b"], 5,
                    json.dumps({"parser": "", "overlays": [1], "opacity": "0.5"}),
                    json.dumps({"parser": ["scene"], "overlays": None, "opacity": {"x": 1}})):
        preferences.store().setValue("view/settings", damaged)
        assert preferences.load_view_settings() == preferences.ViewSettings(), damaged


def test_a_damaged_view_entry_gives_the_defaults_for_its_bad_values_in_the_window(qtbot):
    preferences.store().setValue("view/settings", json.dumps({
        "parser": {"name": "scene"}, "overlays": {"mask": "off", "sketch": False},
        "opacity": {"mask_opacity": -0.5, "label_opacity": 0.3, "color_opacity": "full"}}))
    window = shown_window(qtbot, restore=True)
    try:
        assert window.legend.current_parser() == FIRST_READY
        shown = _overlays(window)
        assert shown[Layer.MASK] == (True, True, 50) and shown[Layer.SKETCH][:2] == (False, False)
        assert shown[Layer.LABELS] == (True, True, 30)
        assert _opacities(window) == dict(DEFAULT_OPACITIES, label_opacity=0.3)
    finally:
        window.worker.shutdown()


def test_an_opacity_edited_to_a_fraction_of_a_percent_is_drawn_as_its_slider_shows_it(qtbot):
    ini = Path(os.environ[preferences.CONFIG_ENV])  # the tests' own INI file, edited by hand
    ini.write_text('[view]\nsettings="{\\"opacity\\": {\\"mask_opacity\\": 0.333, '
                   '\\"label_opacity\\": 0.456, \\"color_opacity\\": 1}}"\n')
    assert preferences.load_view_settings().opacity == {
        "mask_opacity": 0.33, "label_opacity": 0.46, "color_opacity": 1.0}
    window = shown_window(qtbot, restore=True)
    try:
        shown = _overlays(window)
        assert (shown[Layer.MASK][2], shown[Layer.LABELS][2]) == (33, 46)
        drawn = _opacities(window)
        for layer, name in ((Layer.MASK, "mask_opacity"), (Layer.LABELS, "label_opacity")):
            assert drawn[name] == window.overlay_panel.sliders[layer].value() / 100
    finally:
        window.worker.shutdown()


def test_a_parser_that_is_gone_falls_back_to_the_first_ready_and_stays_remembered(
        qtbot, monkeypatch):
    parsers.parser_names()  # the built-in parsers first
    monkeypatch.setitem(parsers._PARSERS, Stripes.name, Stripes)  # a plugin parser
    first = shown_window(qtbot, restore=True)
    try:
        assert first.legend.select_parser(Stripes.name)
        assert first.close()
    finally:
        first.worker.shutdown()
    assert preferences.load_view_settings().parser == Stripes.name

    monkeypatch.delitem(parsers._PARSERS, Stripes.name)  # its plugin file was removed
    second = shown_window(qtbot, restore=True)
    try:
        assert second.legend.parser.findData(Stripes.name) < 0
        assert second.legend.current_parser() == FIRST_READY
        assert second.close()
    finally:
        second.worker.shutdown()
    # the fallback was not the user's choice: once the plugin is back, so is its parser
    assert preferences.load_view_settings().parser == Stripes.name
    monkeypatch.setitem(parsers._PARSERS, Stripes.name, Stripes)
    third = shown_window(qtbot, restore=True)
    try:
        assert third.legend.current_parser() == Stripes.name
    finally:
        third.worker.shutdown()


def test_two_windows_keep_each_others_overlay_and_parser_changes(qtbot):
    first = shown_window(qtbot, restore=True)
    second = shown_window(qtbot, restore=True)
    try:
        first.overlay_panel.checks[Layer.MASK].setChecked(False)
        first.overlay_panel.sliders[Layer.SAMPLING].setValue(90)
        first.save_preferences()
        second.legend.select_parser("scene")
        second.overlay_panel.sliders[Layer.LABELS].setValue(10)
        second.save_preferences()  # still shows the mask: that is no change of its own
        loaded = preferences.load_view_settings()
        assert loaded.parser == "scene" and loaded.overlays["mask"] is False
        assert loaded.opacity["sampling_opacity"] == 0.9 and loaded.opacity["label_opacity"] == 0.1
        first.overlay_panel.sliders[Layer.SAMPLING].setValue(40)  # the same value: later wins
        first.save_preferences()
        second.overlay_panel.sliders[Layer.SAMPLING].setValue(60)
        second.save_preferences()
        assert preferences.load_view_settings().opacity["sampling_opacity"] == 0.6
    finally:
        first.worker.shutdown()
        second.worker.shutdown()
    third = shown_window(qtbot, restore=True)
    try:
        assert third.legend.current_parser() == "scene"
        assert not third.overlay_panel.checks[Layer.MASK].isChecked()
        assert _opacities(third) == dict(DEFAULT_OPACITIES, sampling_opacity=0.6,
                                         label_opacity=0.1)
    finally:
        third.worker.shutdown()


def test_a_face_edit_remembers_the_photos_parser_and_overlays(qtbot):
    window = shown_window(qtbot, restore=True)
    window.confirm = lambda title, text: False
    try:
        assert window.open_path(SAMPLE_IMAGE)
        window.legend.select_parser("scene")
        window.overlay_panel.checks[Layer.SAMPLING].setChecked(False)
        photo_engine = window.controller.settings.engine
        faces = window.faces
        assert faces.enter(faces.add_box((250, 60, 330, 160))) is not None
        assert window.document is faces.edit.document  # the face crop is shown
        window.save_preferences()
        loaded = preferences.load_view_settings()
        assert loaded.parser == "scene" and loaded.overlays["sampling"] is False
        assert preferences.load_fill_settings().engine == photo_engine
        assert window.leave_face(ask=False)
        assert window.legend.current_parser() == "scene"
        assert not window.canvas.style.visible[Layer.SAMPLING]
    finally:
        window.worker.shutdown()


def test_the_overlay_panel_takes_a_styles_values_with_one_changed_signal(qtbot):
    style = OverlayStyle()
    panel = OverlayPanel(style)
    qtbot.addWidget(panel)
    wanted = OverlayStyle(mask_opacity=0.2, label_opacity=1.0)
    wanted.visible.update({Layer.MASK: False, Layer.COLOR: False})
    emitted = []
    panel.changed.connect(lambda: emitted.append(1))
    panel.load(wanted)
    assert emitted == [1]
    assert style.visible == wanted.visible and style.visible is not wanted.visible
    assert (style.mask_opacity, style.label_opacity) == (0.2, 1.0)
    assert not panel.checks[Layer.MASK].isChecked() and panel.checks[Layer.SKETCH].isChecked()
    assert panel.sliders[Layer.MASK].value() == 20 and panel.sliders[Layer.LABELS].value() == 100
    panel.load(wanted)  # nothing new
    assert emitted == [1]
    style.visible[Layer.SKETCH] = False  # the panel's own style, changed elsewhere
    style.sampling_opacity = 0.05
    panel.load(style)
    assert emitted == [1, 1]
    assert not panel.checks[Layer.SKETCH].isChecked() and panel.sliders[Layer.SAMPLING].value() == 5
    panel.checks[Layer.SKETCH].setChecked(True)  # the user's edits still reach the style
    assert style.visible[Layer.SKETCH] and emitted == [1, 1, 1]
