"""What starting the editor (``main.py PICTURE --mask MASK --engine NAME``) says in its
window: a mask that cannot be taken leaves the picture to open, with an error naming the
mask; an unknown engine is said in the status bar, not only on stderr; stored preferences
that could not be read are named once, and survive the picture's own status message."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from app import launch, preferences
from app.controller import FillSettings
from app.document import Layer
from engines import registry
from engines.fileio import save_image, save_mask

H, W = 40, 60


@pytest.fixture
def start(qtbot, monkeypatch):
    """``start(image, mask, engine)``: the window :func:`launch.open_window` shows, its
    errors collected in ``window.errors`` (no message box) and its worker shut down
    afterwards."""
    monkeypatch.setattr(launch, "warm_up_in_background", lambda: None)
    errors: list[str] = []
    monkeypatch.setattr("app.window.MainWindow.show_error",
                        lambda window, text: (setattr(window, "last_error", text),
                                              errors.append(text)))
    windows = []

    def opened(*args, **kwargs):
        window = launch.open_window(*args, **kwargs)
        qtbot.addWidget(window)
        window.errors = errors
        windows.append(window)
        return window

    yield opened
    for window in windows:
        window.worker.shutdown()


def _picture(tmp_path) -> Path:
    return save_image(tmp_path / "photo.png", np.full((H, W, 3), 120, np.uint8))


def _ini(text: str) -> None:
    Path(os.environ[preferences.CONFIG_ENV]).write_text(text, encoding="utf-8")


def test_a_mask_of_another_size_opens_the_picture_without_it_and_says_why(
        start, tmp_path, capsys):
    wrong = save_mask(tmp_path / "wrong.png", np.full((30, 30), 255, np.uint8))
    window = start(str(_picture(tmp_path)), str(wrong))
    assert window.document is not None and window.document.image.shape == (H, W, 3)
    assert window.windowTitle() == "photo.png[*] — Inpaint Studio"
    assert not window.document.mask.any() and not window.document.modified
    assert window.errors == [f"Opened photo.png without a mask: the mask wrong.png was not "
                             f"loaded ({wrong}: the mask is 30x30 but the image is {W}x{H}; "
                             "they must be the same size)"]
    assert "warning: Opened photo.png without a mask" in capsys.readouterr().err


def test_a_good_mask_opens_with_the_picture(start, tmp_path):
    hole = np.zeros((H, W), np.uint8)
    hole[10:20, 10:30] = 255
    window = start(str(_picture(tmp_path)), str(save_mask(tmp_path / "hole.png", hole)))
    assert np.array_equal(window.document.layer(Layer.MASK), hole)
    assert window.errors == [] and not window.document.modified


def test_a_picture_that_cannot_be_read_opens_nothing(start, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    window = start(str(broken), None)
    assert window.document is None and len(window.errors) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_an_unknown_engine_is_said_in_the_window(start, tmp_path, capsys):
    window = start(str(_picture(tmp_path)), None, "bogus")
    engine = window.controller.settings.engine
    assert engine == FillSettings().engine
    title = registry.engine_class(engine).title
    assert window.statusBar().currentMessage() == f"Unknown engine 'bogus'; filling with {title}"
    assert "warning: unknown engine 'bogus'" in capsys.readouterr().err


def test_preferences_not_understood_are_named_after_the_pictures_message(start, tmp_path):
    _ini("[view]\nwheel=sideways\n[files]\nkeep_metadata=maybe\n")
    window = start(str(_picture(tmp_path)), None, "bogus")
    message = window.statusBar().currentMessage()
    assert message.startswith(
        "Preferences not understood, reset to their defaults: keep photo metadata ('maybe'), "
        f"mouse wheel ('sideways') (in {os.environ[preferences.CONFIG_ENV]}). Unknown engine "
        "'bogus'")
    assert window.preferences_note in message


@pytest.mark.parametrize("text, named", [
    ("[view]\nwheel=sideways\n", "mouse wheel ('sideways')"),
    ("[view]\nwheel=1\n", "mouse wheel ('1')"),
    ("[view]\nwheel=scroll, zoom\n", "mouse wheel ('scroll, zoom')"),
    ('[fill]\nsettings="{not json"\n', "fill settings ('{not json')"),
    ("[tools]\nbrush_radius=[1]\n", "brush sizes ('[1]')"),
    ('[view]\nsettings="' + "[" * 5000 + "]" * 5000 + '"\n', "overlays and labels parser"),
    ('[fill]\nsettings="{\\"engine\\": \\"gone\\", \\"seed\\": -5}"\n',  # a record, partly kept
     'Engine ("gone" is not an engine available here; Guided PatchMatch is used), '
     "Seed (-5 is not a whole number from 0 to 2147483647; 0 is used)"),
])
def test_each_entry_not_understood_is_named(text, named):
    _ini(text)
    assert preferences.not_understood() == (
        f"Preferences not understood, reset to their defaults: {named} "
        f"(in {os.environ[preferences.CONFIG_ENV]})")


@pytest.mark.parametrize("text", [
    "",  # nothing stored
    "[view]\nwheel= Scroll \n[files]\nkeep_metadata=off\n",
    # the options of an engine not registered (a plugin not loaded), an option no longer
    # offered: kept stored for their return, no damage
    '[fill]\nsettings="{\\"engine_options\\": {\\"gone\\": {\\"x\\": 1}, '
    '\\"telea\\": {\\"no_longer\\": 1}}}"\n',
    "[folders]\nopen=/no/such/folder\n",  # a folder that is gone is no damage
])
def test_entries_read_as_stored_are_not_named(text):
    _ini(text)
    assert preferences.not_understood() == ""


def test_restoring_the_preferences_shows_the_note(qtbot):
    from tests.app.test_window import shown_window

    _ini("[view]\nwheel=sideways\n")
    window = shown_window(qtbot, restore=True)
    try:
        assert window.statusBar().currentMessage() == window.preferences_note
        assert "mouse wheel ('sideways')" in window.preferences_note
    finally:
        window.worker.shutdown()
