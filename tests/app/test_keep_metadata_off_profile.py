"""*Keep Photo Metadata* off on a photo with an Adobe RGB profile: Save As writes it
converted to sRGB, as the editor showed it, and the status bar says so; a picture with no
profile keeps every pixel."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from app.display_colour import display_transform
from engines.fileio import save_image
from tests.app.test_window import shown_window
from tests.conftest import SAMPLES


@pytest.fixture
def window(qtbot):
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False  # never block on a question
    window.ask_stop_runs = lambda text: True
    window.errors = []
    window.show_error = window.errors.append
    window.actions["keep_metadata"].setChecked(False)
    yield window
    window.worker.shutdown()


def _stored(path) -> tuple[np.ndarray, bytes | None]:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB")), picture.info.get("icc_profile")


def test_turning_it_off_says_a_profile_is_converted(window):
    window.actions["keep_metadata"].setChecked(True)
    window.actions["keep_metadata"].trigger()  # as the menu does
    assert not window.keep_metadata
    assert window.statusBar().currentMessage().endswith(
        "; a picture with a colour profile is converted to sRGB, so it looks the same")


def test_save_as_without_metadata_writes_what_the_editor_shows(window, tmp_path):
    shutil.copyfile(SAMPLES / "rocket.jpg", tmp_path / "rocket.jpg")
    assert window.open_path(tmp_path / "rocket.jpg")
    doc = window.document
    shown = display_transform(doc.metadata.icc_profile)(doc.image)  # as the canvas shows it
    assert window.save_as(tmp_path / "bare.png")
    assert window.errors == []
    assert window.statusBar().currentMessage() == (
        f"Saved {tmp_path / 'bare.png'}; its colours were converted to sRGB from its Adobe RGB "
        "(1998) colour profile, which is not kept")
    stored, profile = _stored(tmp_path / "bare.png")
    assert profile is None and np.array_equal(stored, shown)
    assert doc.metadata.icc_profile is not None  # the document's own is kept: shown as ever


def test_a_picture_without_a_profile_is_saved_as_it_is(window, tmp_path):
    rgb = np.random.default_rng(4).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    assert window.open_path(save_image(tmp_path / "plain.png", rgb))
    assert window.save_as(tmp_path / "copy.png")
    assert window.statusBar().currentMessage() == f"Saved {tmp_path / 'copy.png'}"
    stored, profile = _stored(tmp_path / "copy.png")
    assert profile is None and np.array_equal(stored, rgb)


def test_the_menu_entry_says_a_profile_is_converted(window):
    assert "converted to sRGB" in window.actions["keep_metadata"].statusTip()


@pytest.mark.parametrize("keep", [True, False])
def test_save_as_bmp_converts_and_says_so_whatever_the_setting(window, tmp_path, keep):
    window.actions["keep_metadata"].setChecked(keep)
    shutil.copyfile(SAMPLES / "rocket.jpg", tmp_path / "rocket.jpg")
    assert window.open_path(tmp_path / "rocket.jpg")
    doc = window.document
    shown = display_transform(doc.metadata.icc_profile)(doc.image)
    assert window.save_as(tmp_path / "copy.bmp")
    assert window.errors == []
    dropped = " without the colour profile and EXIF (.bmp has no place for them)"
    assert window.statusBar().currentMessage() == (  # off, there was nothing to drop
        f"Saved {tmp_path / 'copy.bmp'}{dropped if keep else ''}; its colours were "
        "converted to sRGB from its Adobe RGB (1998) colour profile, which is not kept")
    stored, _profile = _stored(tmp_path / "copy.bmp")
    assert np.array_equal(stored, shown)
