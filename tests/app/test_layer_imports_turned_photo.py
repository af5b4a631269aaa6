"""Layer imports on a photo its EXIF orientation turns upright: a layer file of the size the
photo is stored at is refused in the CLI's words (:func:`engines.fileio.other_size_reason`:
"turned upright by its EXIF orientation; stored as ..."), as opening it with a mask is; one
drawn on the upright picture is taken. The document keeps the picture's shape as loaded."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.document import Document, Layer
from engines.base import InputError
from engines.fileio import ImageShape, load_image, save_image, save_mask

# stored 80 wide and 60 high, EXIF orientation 6: shown 60 wide and 80 high
STORED_H, STORED_W = 60, 80


def _turned_photo(path):
    """A JPEG stored 80x60 (W x H) with EXIF orientation 6, so shown 60x80."""
    rng = np.random.default_rng(7)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rng.integers(0, 255, (STORED_H, STORED_W, 3)).astype(np.uint8)).save(
        path, exif=exif.tobytes(), quality=95)
    return path


def _area(height: int, width: int) -> np.ndarray:
    area = np.zeros((height, width), np.uint8)
    area[10:30, 15:40] = 255
    return area


def _strokes(height: int, width: int) -> np.ndarray:
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[10:30, 15:40] = (200, 30, 30, 255)
    return rgba


@pytest.fixture
def turned(window, tmp_path):
    """The window on the turned photo, errors collected in ``window.errors``."""
    window.errors = []
    window.show_error = window.errors.append
    window.engine_panel.auto_run.setChecked(False)
    assert window.open_path(_turned_photo(tmp_path / "phone.jpg"))
    return window


IMPORTS = [  # (command, what the messages call the layer, its verb, a file's pixels)
    (lambda window, path: window.import_mask(path), "mask", "is", _area),
    (lambda window, path: window.import_sketch(path), "sketch", "is", _area),
    (lambda window, path: window.import_sampling_area("include", path), "include area", "is",
     _area),
    (lambda window, path: window.import_sampling_area("exclude", path), "exclude area", "is",
     _area),
    (lambda window, path: window.import_colour_strokes(path), "colour strokes", "are",
     _strokes),
]


def test_the_document_keeps_the_shape_the_picture_was_loaded_with(turned):
    doc = turned.document
    assert (doc.height, doc.width) == (STORED_W, STORED_H)  # upright
    assert isinstance(doc.shape, ImageShape)
    assert doc.shape == (STORED_W, STORED_H) and doc.shape.stored == (STORED_H, STORED_W)


def test_a_document_made_from_pixels_is_stored_as_shown():
    doc = Document(np.zeros((5, 7, 3), np.uint8))
    assert doc.shape == (5, 7) and doc.shape.stored == (5, 7)
    with pytest.raises(InputError, match="does not match"):
        Document(np.zeros((5, 7, 3), np.uint8), shape=ImageShape(7, 5))


@pytest.mark.parametrize("command, what, verb, pixels", IMPORTS)
def test_a_layer_of_the_stored_size_is_refused_saying_the_photo_is_turned(
        turned, tmp_path, command, what, verb, pixels):
    window = turned
    stored = pixels(STORED_H, STORED_W)
    path = tmp_path / "stored.png"
    if stored.ndim == 3:
        save_image(path, stored[..., :3], stored[..., 3])
    else:
        save_mask(path, stored)
    before = window.document.state
    assert not command(window, path)
    assert window.errors == [
        f"{path}: the {what} {verb} {STORED_W}x{STORED_H} but the image is "
        f"{STORED_H}x{STORED_W} (turned upright by its EXIF orientation; stored as "
        f"{STORED_W}x{STORED_H}): draw the {what} on the upright picture"]
    assert window.document.state == before and not window.document.can_undo()


@pytest.mark.parametrize("command, what, verb, pixels", IMPORTS)
def test_a_layer_drawn_on_the_upright_picture_is_taken(turned, tmp_path, command, what, verb,
                                                        pixels):
    window = turned
    upright = np.ascontiguousarray(np.rot90(pixels(STORED_H, STORED_W), -1))
    path = tmp_path / "upright.png"
    if upright.ndim == 3:
        save_image(path, upright[..., :3], upright[..., 3])
    else:
        save_mask(path, upright)
    assert command(window, path)
    assert window.errors == [] and window.document.can_undo()


def test_another_size_still_says_they_must_be_the_same_size(turned, tmp_path):
    path = save_mask(tmp_path / "small.png", _area(40, 50))
    assert not turned.import_mask(path)
    assert turned.errors == [f"{path}: the mask is 50x40 but the image is {STORED_H}x"
                             f"{STORED_W}; they must be the same size"]


def test_the_import_says_what_opening_with_the_mask_says(turned, tmp_path):
    path = save_mask(tmp_path / "stored.png", _area(STORED_H, STORED_W))
    assert not turned.import_mask(path)
    imported = turned.errors[-1]
    assert turned.open_path(tmp_path / "phone.jpg", mask=path)
    assert turned.errors[-1] == (f"Opened phone.jpg without a mask: the mask stored.png was "
                                 f"not loaded ({imported})")
    assert not turned.document.mask.any()


def test_an_upright_photo_keeps_the_plain_message(window, tmp_path):
    window.errors = []
    window.show_error = window.errors.append
    save_image(tmp_path / "flat.png", np.zeros((STORED_W, STORED_H, 3), np.uint8))
    assert window.open_path(tmp_path / "flat.png")
    assert load_image(tmp_path / "flat.png").shape.stored == (STORED_W, STORED_H)
    path = save_mask(tmp_path / "stored.png", _area(STORED_H, STORED_W))
    assert not window.import_mask(path)
    assert window.errors == [f"{path}: the mask is {STORED_W}x{STORED_H} but the image is "
                             f"{STORED_H}x{STORED_W}; they must be the same size"]
    assert window.document.layer(Layer.MASK).shape == (STORED_W, STORED_H)


def test_a_label_map_of_the_stored_size_is_refused_saying_the_photo_is_turned(turned,
                                                                              tmp_path):
    from engines.segmentation.base import create_parser
    from engines.segmentation.labelmap import save_label_png

    face = create_parser("face").label_set
    labels = np.zeros((STORED_H, STORED_W), np.uint8)
    path = tmp_path / "labels.png"
    save_label_png(path, labels, face)
    said = []
    turned.semantic.error.connect(said.append)
    assert not turned.import_labels(path)
    assert said == [
        f"{path}: the label map is {STORED_W}x{STORED_H} but the image is "
        f"{STORED_H}x{STORED_W} (turned upright by its EXIF orientation; stored as "
        f"{STORED_W}x{STORED_H}): draw the label map on the upright picture"]
    assert not turned.document.can_undo()
    upright = save_label_png(tmp_path / "upright.png", np.ascontiguousarray(labels.T), face)
    assert turned.import_labels(upright)
    assert turned.document.can_undo()
