"""Small things the editor says and shows: Save As refuses a format it cannot write before
asking about transparency, and its title then names the file Ctrl+S writes; Mask → Invert and
Clear say what they did; Edit → Preferences has the platform's shortcut; a hand-edited
decimal engine option is used as its field shows it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from app import preferences
from app.document import Layer
from app.engine_options import DECIMALS
from app.preferences_dialog import PreferencesDialog
from engines.base import OptionSpec
from engines.fileio import IMAGE_SUFFIXES, load_image, save_image

H, W = 30, 40


@pytest.fixture
def opened(window, tmp_path):
    """The shared window on a partly transparent 40x30 PNG; questions and errors recorded
    in ``window.questions`` / ``window.errors`` (every question answered Yes)."""
    rgb = np.full((H, W, 3), 150, np.uint8)
    alpha = np.full((H, W), 255, np.uint8)
    alpha[:, :10] = 0
    assert window.open_path(save_image(tmp_path / "photo.png", rgb, alpha))
    window.engine_panel.auto_run.setChecked(False)
    window.questions, window.errors = [], []
    window.confirm = lambda title, text: window.questions.append(title) or True
    window.show_error = window.errors.append
    return window


def test_an_unknown_format_is_refused_before_any_question_about_transparency(opened,
                                                                             tmp_path):
    target = tmp_path / "d.xyz"
    assert not opened.save_as(target)
    assert opened.questions == []
    assert opened.errors == ["d.xyz: cannot write .xyz files; use one of "
                             + ", ".join(IMAGE_SUFFIXES)]
    assert not target.exists() and opened.save_path is None
    assert opened.save_as(tmp_path / "d.jpg")  # a format without transparency still asks
    assert opened.questions == ["Save without transparency?"]


def test_after_save_as_the_title_names_the_file_ctrl_s_writes(opened, tmp_path):
    assert opened.windowTitle() == "photo.png[*] — Inpaint Studio"
    target = tmp_path / "out.tiff"
    assert opened.save_as(target)
    assert opened.windowTitle() == "out.tiff[*] — Inpaint Studio"
    opened.document.replace_layer(Layer.MASK, np.full((H, W), 255, np.uint8), "Mask")
    opened.document.apply_result(np.zeros((H, W, 3), np.uint8), "Fill",
                                 used_mask=opened.document.mask)
    assert opened.save()  # Ctrl+S: the file the title names
    assert load_image(target).rgb.max() == 0
    assert opened.windowTitle() == "out.tiff[*] — Inpaint Studio"
    assert opened.open_path(tmp_path / "photo.png")  # another picture: its own name again
    assert opened.windowTitle() == "photo.png[*] — Inpaint Studio"


def test_a_failed_save_as_keeps_the_title(opened, tmp_path):
    assert not opened.save_as(tmp_path / "missing" / "out.png")
    assert opened.windowTitle() == "photo.png[*] — Inpaint Studio"


def test_invert_and_clear_say_what_they_did(qtbot, opened):
    document = opened.document
    opened.invert_mask()
    assert document.mask.all()
    assert opened.statusBar().currentMessage() == (
        "Inverted the mask: the hole is now what was kept")
    opened.clear_mask()
    assert not document.mask.any()
    assert opened.statusBar().currentMessage() == "Cleared the mask; Ctrl+Z brings it back"
    opened.clear_mask()  # nothing left: said as before
    assert opened.statusBar().currentMessage() == "The mask is empty: nothing to clear"


def test_preferences_open_with_the_platforms_key(qtbot, opened):
    action = opened.actions["preferences"]
    standard = [key.toString() for key in QKeySequence.keyBindings(QKeySequence.Preferences)]
    bound = [key.toString() for key in action.shortcuts()]
    assert bound == (standard or ["Ctrl+,"])
    opened.activateWindow()
    opened.canvas.setFocus()
    qtbot.waitUntil(opened.canvas.hasFocus, timeout=5000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Comma, Qt.ControlModifier)
    qtbot.waitUntil(lambda: opened.findChild(PreferencesDialog) is not None, timeout=5000)
    dialog = opened.findChild(PreferencesDialog)
    dialog.close()


def _store_options(options: dict) -> None:
    Path(os.environ[preferences.CONFIG_ENV]).write_text(
        "[fill]\nsettings=" + json.dumps(json.dumps({"engine": "patchmatch",
                                                     "engine_options": options})) + "\n",
        encoding="utf-8")


def test_a_hand_edited_decimal_option_is_used_as_its_field_shows_it(window):
    _store_options({"patchmatch": {"colour_strength": 0.333, "sketch_strength": 0.5}})
    settings = preferences.load_fill_settings()
    assert settings.engine_options == {"patchmatch": {"colour_strength": 0.33,
                                                      "sketch_strength": 0.5}}
    window.restore_preferences()
    field = window.engine_panel.options.fields["colour_strength"]
    assert field.decimals() == DECIMALS and field.value() == 0.33
    assert window._remembered().fill.engine_options["patchmatch"]["colour_strength"] == 0.33


def test_a_decimal_option_rounded_out_of_its_range_is_dropped():
    spec = OptionSpec("strength", "Strength", 0.5, minimum=0.013, maximum=1.0, step=0.1)
    assert preferences._valid_options((spec,), {"strength": 0.0131}) == {}  # shown as 0.01
    assert preferences._valid_options((spec,), {"strength": 0.456}) == {"strength": 0.46}
    assert preferences._valid_options((spec,), {"strength": 1}) == {"strength": 1}
