"""A folder run notes what reading each picture converted, in `inpaint`'s words and order
(:func:`engines.fileio.picture_notes`, in :attr:`engines.batch.BatchResult.notes`); a mask
source gets the picture as read, whose shape names the size a turned photo is stored at;
a picture listed apart for its size says when its EXIF orientation explains it
(:attr:`engines.batch.OtherSize.turned`, :func:`engines.fileio.turned_size_note`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from engines.batch import OtherSize, clear_folder, label_folder, note_lines
from engines.fileio import (
    ImageShape,
    LoadedImage,
    load_image,
    other_size_reason,
    picture_notes,
    turned_size_note,
)
from engines.segmentation.regions import RegionParser
from tests.photos import phone_exif, write_jpeg

HEIGHT, WIDTH = 60, 80
DEEP = "16-bit image, edited at 8 bits per channel; saving it as PNG or TIFF keeps 16 bits"
TURNED = "turned upright by its EXIF orientation; stored as 60x80"


def _hole(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[15:35, 20:45] = 255
    return mask


def _deep_cutout(path: Path) -> None:
    """A 16-bit RGBA PNG whose right half is half-transparent."""
    pixels = np.random.default_rng(0).integers(0, 65535, (HEIGHT, WIDTH, 4), np.uint16)
    pixels[..., 3] = 65535
    pixels[:, WIDTH // 2:, 3] = 30000
    cv2.imwrite(str(path), pixels)


def _turned_jpeg(path: Path) -> None:
    """Stored 60 wide and 80 high, shown 80x60 (EXIF orientation 6)."""
    stored = np.random.default_rng(1).integers(0, 255, (WIDTH, HEIGHT, 3), np.uint8)
    write_jpeg(path, stored, phone_exif(stored, orientation=6))


def test_picture_notes_are_the_readings_then_the_flattening(tmp_path):
    _deep_cutout(tmp_path / "cutout.png")
    loaded = load_image(tmp_path / "cutout.png")
    assert loaded.notes == (DEEP,)
    assert picture_notes(loaded, ".JPG") == [
        DEEP, "the .jpg result is 8 bits per channel (JPEG holds no more)",
        ".jpg files have no transparency; the transparent parts were flattened onto white"]
    assert picture_notes(loaded, ".png") == [DEEP]  # the transparency is kept
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "plain.png")
    assert picture_notes(load_image(tmp_path / "plain.png"), ".jpg") == []


def test_a_folder_runs_notes_on_a_result_are_its_pictures_in_inpaints_order(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    _deep_cutout(folder / "cutout.png")
    Image.fromarray(np.full((HEIGHT, WIDTH, 3), 90, np.uint8)).save(folder / "plain.png")
    out = tmp_path / "out"
    result = clear_folder(folder, out, _hole(), "telea", output_format=".jpg")
    assert result.ok
    expected = picture_notes(load_image(folder / "cutout.png"), ".jpg")
    assert result.notes == tuple((out / "cutout.jpg", note) for note in expected)
    assert note_lines(result) == [f"cutout.jpg: {note}" for note in expected]


def test_a_mask_source_gets_the_picture_as_read(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    _turned_jpeg(folder / "turned.jpg")
    given: list[LoadedImage] = []

    def mask(path: Path, loaded: LoadedImage) -> np.ndarray:
        given.append(loaded)
        return _hole()

    result = clear_folder(folder, tmp_path / "out", mask, "telea")
    assert result.ok
    [loaded] = given
    assert isinstance(loaded, LoadedImage) and loaded.rgb.shape == (HEIGHT, WIDTH, 3)
    assert loaded.shape == (HEIGHT, WIDTH) and loaded.shape.stored == (WIDTH, HEIGHT)


def test_a_picture_left_apart_says_when_its_turning_explains_its_size(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    _turned_jpeg(folder / "turned.jpg")
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(folder / "small.png")
    result = clear_folder(folder, tmp_path / "out", _hole(WIDTH, HEIGHT), "telea")
    assert result.ok and not result.written
    assert result.other_size == (
        OtherSize(folder / "small.png", (40, 30), (HEIGHT, WIDTH)),
        OtherSize(folder / "turned.jpg", (WIDTH, HEIGHT), (HEIGHT, WIDTH), TURNED))
    assert result.other_size[0].turned is None


def test_turned_size_note_only_where_the_stored_size_explains_it():
    turned = ImageShape(HEIGHT, WIDTH, stored=(WIDTH, HEIGHT))
    assert turned_size_note(HEIGHT, WIDTH, turned) == TURNED  # 60 wide, 80 high
    assert turned_size_note(50, 70, turned) is None  # yet another size
    assert turned_size_note(HEIGHT, WIDTH, (HEIGHT, WIDTH)) is None  # a plain tuple
    assert turned_size_note(HEIGHT, WIDTH, ImageShape(HEIGHT, WIDTH)) is None  # upright
    assert other_size_reason("mask", HEIGHT, WIDTH, turned) == (
        f"the mask is 60x80 but the image is 80x60 ({TURNED}): draw the mask on the upright "
        "picture")


def test_label_maps_carry_no_notes_on_saving_the_picture(tmp_path):
    """As `segment IMAGE`, a folder's label maps leave out what concerns saving the picture
    (its depth): the picture is not saved."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    _deep_cutout(folder / "deep.png")
    result = label_folder(folder, tmp_path / "maps", RegionParser())
    assert result.ok and result.written == (tmp_path / "maps" / "deep.png",)
    assert result.notes == ()
