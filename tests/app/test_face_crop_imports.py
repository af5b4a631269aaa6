"""Imports in a face edit, whose layers are the face crop's: each dialog's title names the
crop (as the exports' do), a photo-sized file is refused saying the face being edited is the
crop's size (not "the image", which the user reads as the photo), and what was imported is
said to be the crop's."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import SAMPLE_EXCLUDE, Layer
from engines.fileio import save_image, save_mask

H, W = 90, 120


@pytest.fixture
def face_window(window, tmp_path):
    """The shared window on a 120x90 photo, editing a face cut from it; errors collected in
    ``window.errors``."""
    errors: list[str] = []
    window.show_error = errors.append
    window.errors = errors
    grey = np.random.default_rng(5).integers(90, 130, (H, W)).astype(np.uint8)
    assert window.open_path(save_image(tmp_path / "photo.png",
                                       np.repeat(grey[..., None], 3, axis=2)))
    window.engine_panel.auto_run.setChecked(False)
    window.faces.enter(window.faces.add_box((60, 20, 110, 80)))
    return window


IMPORTS = [  # (command, dialog title, what the messages call it, the verb for it)
    (lambda window, path: window.import_mask(path), "Mask", "mask", "is"),
    (lambda window, path: window.import_sketch(path), "Sketch", "sketch", "is"),
    (lambda window, path: window.import_sampling_area("include", path), "Include Area",
     "include area", "is"),
    (lambda window, path: window.import_sampling_area("exclude", path), "Exclude Area",
     "exclude area", "is"),
    (lambda window, path: window.import_colour_strokes(path), "Colour Strokes",
     "colour strokes", "are"),
]


@pytest.mark.parametrize("command, title, what, verb", IMPORTS)
def test_a_photo_sized_file_is_refused_naming_the_face_crop(face_window, tmp_path, command,
                                                            title, what, verb):
    window = face_window
    crop = window.document
    size = f"{crop.width}x{crop.height}"
    photo_sized = save_image(tmp_path / "photo_sized.png", np.full((H, W, 3), 255, np.uint8))
    assert not command(window, photo_sized)
    assert window.errors == [
        f"{photo_sized}: the {what} {verb} {W}x{H} but the face being edited is {size} (face "
        "1's crop, not the photo); a photo-sized file is imported after pasting the face "
        "back or leaving it"]
    asked = []
    window.ask_open_path = lambda title, filters, folder: asked.append(title) or ""
    assert not command(window, None)
    assert asked == [f"Import {title} (face 1's {crop.width}×{crop.height} crop, not the "
                     "photo)"]


def test_a_crop_sized_file_is_imported_into_the_crop_and_said_so(face_window, tmp_path):
    window = face_window
    crop = window.document
    area = np.zeros((crop.height, crop.width), np.uint8)
    area[100:200, 50:300] = 255
    assert window.import_sampling_area("exclude", save_mask(tmp_path / "area.png", area))
    assert np.array_equal(crop.sampling_area(SAMPLE_EXCLUDE), area)
    assert window.statusBar().currentMessage() == (
        "Imported the exclude area from area.png into face 1's crop")
    assert window.import_mask(save_mask(tmp_path / "hole.png", area))
    assert np.array_equal(crop.layer(Layer.MASK), area)
    assert window.errors == []


def test_outside_a_face_edit_the_titles_and_messages_stay_plain(window, tmp_path):
    errors: list[str] = []
    window.show_error = errors.append
    assert window.open_path(save_image(tmp_path / "photo.png", np.full((H, W, 3), 99,
                                                                        np.uint8)))
    asked = []
    window.ask_open_path = lambda title, filters, folder: asked.append(title) or ""
    assert not window.import_mask() and not window.import_sketch()
    assert asked == ["Import Mask", "Import Sketch"]
    other = save_mask(tmp_path / "small.png", np.full((10, 10), 255, np.uint8))
    assert not window.import_sketch(other)
    assert errors == [f"{other}: the sketch is 10x10 but the image is {W}x{H}; they must be "
                      "the same size"]
