"""A 16-bit (or floating-point) picture whose result is written in a format that holds no
more than 8 bits per channel is told so plainly (QA24 F8): "the .jpg result is 8 bits per
channel (JPEG holds no more)", after the note on reading it and before the flattening note
(:func:`engines.fileio.picture_notes`, which ``inpaint`` prints and folder runs note)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile

from engines.fileio import load_image, picture_notes, save_result

DEEP = "16-bit image, edited at 8 bits per channel; saving it as PNG or TIFF keeps 16 bits"


@pytest.fixture
def deep_png(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 65536, (30, 40, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), pixels)
    return tmp_path / "deep.png"


@pytest.mark.parametrize("suffix, name", [(".jpg", "JPEG"), (".JPEG", "JPEG"),
                                          (".webp", "WebP"), (".bmp", "BMP"), (".gif", "GIF")])
def test_a_16_bit_pictures_8_bit_result_is_named_8_bit(deep_png, suffix, name):
    loaded = load_image(deep_png)
    assert loaded.notes == (DEEP,)
    assert picture_notes(loaded, suffix) == [
        DEEP, f"the {suffix.lower()} result is 8 bits per channel ({name} holds no more)"]


def test_the_jpeg_written_is_indeed_8_bit(deep_png, tmp_path):
    loaded = load_image(deep_png)
    saved = save_result(tmp_path / "out.jpg", loaded.rgb, loaded)
    assert cv2.imread(str(saved), cv2.IMREAD_UNCHANGED).dtype == np.uint8
    assert picture_notes(loaded, ".jpg")[-1] == ("the .jpg result is 8 bits per channel "
                                                "(JPEG holds no more)")


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_formats_that_could_hold_more_say_they_are_written_at_8_bits_here(deep_png, suffix):
    assert picture_notes(load_image(deep_png), suffix)[-1] == (
        f"the {suffix} result is 8 bits per channel ({suffix} files are written at 8 bits "
        "here)")


@pytest.mark.parametrize("suffix", [".png", ".tif", ".TIFF"])
def test_a_result_that_keeps_the_depth_gets_no_such_note(deep_png, suffix):
    assert picture_notes(load_image(deep_png), suffix) == [DEEP]


def test_an_8_bit_picture_gets_no_depth_note(tmp_path):
    cv2.imwrite(str(tmp_path / "plain.png"), np.zeros((10, 10, 3), np.uint8))
    assert picture_notes(load_image(tmp_path / "plain.png"), ".jpg") == []


def test_a_floating_point_picture_as_jpeg_is_named_8_bit_but_as_png_not(tmp_path):
    hdr = np.random.default_rng(3).random((20, 30, 3)).astype(np.float32)
    tifffile.imwrite(tmp_path / "hdr.tif", hdr, photometric="rgb")
    loaded = load_image(tmp_path / "hdr.tif")
    assert picture_notes(loaded, ".jpg")[-1] == ("the .jpg result is 8 bits per channel "
                                                "(JPEG holds no more)")
    assert picture_notes(loaded, ".png") == list(loaded.notes)  # 16 bits: said on reading
