"""The engine options form: fields from each engine's OptionSpec list, only changed values kept."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from app.engine_options import EngineOptionsForm
from engines.base import OptionSpec


@pytest.fixture
def form(qtbot):
    form = EngineOptionsForm()
    qtbot.addWidget(form)
    form.show_engine("patchmatch")
    return form


def test_fields_follow_the_engines_specs_and_show_defaults(form):
    assert list(form.fields) == ["quality", "patch_size", "sketch_strength", "colour_strength",
                                 "keep_grain"]
    quality, size, strength, colour, grain = form.fields.values()
    assert isinstance(quality, QComboBox) and quality.currentData() == "normal"
    assert isinstance(size, QSpinBox) and size.value() == 7 and size.singleStep() == 2
    assert isinstance(strength, QDoubleSpinBox) and strength.value() == 1.0
    assert isinstance(colour, QDoubleSpinBox) and colour.value() == 1.0
    assert isinstance(grain, QCheckBox) and not grain.isChecked()
    assert form.values == {} and not form.defaults_button.isEnabled()
    assert form.none_label.isHidden()
    form.show_engine("lama")  # the options every engine with a working size has
    assert list(form.fields) == ["working_size", "seam_feather"]
    size, seam = form.fields.values()
    assert isinstance(size, QSpinBox) and size.value() == 1024 and size.singleStep() == 64
    assert isinstance(seam, QDoubleSpinBox) and seam.value() == 6.0
    form.show_engine(None)
    assert form.fields == {} and not form.none_label.isHidden()
    assert form.defaults_button.isHidden()


def test_changed_values_are_kept_per_engine_and_defaults_dropped(qtbot, form):
    with qtbot.waitSignal(form.changed):
        form.fields["quality"].setCurrentIndex(2)
    form.fields["patch_size"].setValue(11)
    assert form.values == {"patchmatch": {"quality": "best", "patch_size": 11}}
    assert form.defaults_button.isEnabled()
    form.show_engine("telea")
    form.fields["radius"].setValue(9)
    form.show_engine("patchmatch")  # coming back shows what was set
    assert form.fields["patch_size"].value() == 11
    assert form.fields["quality"].currentData() == "best"
    form.fields["patch_size"].setValue(7)  # the default again: not stored
    assert form.values == {"patchmatch": {"quality": "best"}, "telea": {"radius": 9}}
    with qtbot.waitSignal(form.changed):
        form.defaults_button.click()
    assert form.values == {"telea": {"radius": 9}}
    assert form.fields["quality"].currentData() == "normal"


def test_a_typed_even_patch_size_moves_to_the_odd_grid(form):
    form.fields["patch_size"].setValue(14)
    assert form.fields["patch_size"].value() == 15
    assert form.values["patchmatch"]["patch_size"] == form.fields["patch_size"].value()


def test_a_choice_whose_default_is_none_stores_the_others(form):
    form.show_engine("deepfill2")
    field = form.fields["half"]
    assert isinstance(field, QComboBox) and field.currentData() is None
    field.setCurrentIndex(2)
    assert form.values == {"deepfill2": {"half": False}}
    field.setCurrentIndex(0)
    assert form.values == {}


def test_check_boxes_for_boolean_options(qtbot, monkeypatch):
    from engines import registry

    spec = OptionSpec("fast", "Fast", False)
    monkeypatch.setattr(registry.engine_class("telea"), "option_specs", (spec,))
    form = EngineOptionsForm()
    qtbot.addWidget(form)
    form.show_engine("telea")
    box = form.fields["fast"]
    assert isinstance(box, QCheckBox) and not box.isChecked()
    box.setChecked(True)
    assert form.values == {"telea": {"fast": True}}
