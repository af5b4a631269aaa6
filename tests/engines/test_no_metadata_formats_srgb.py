"""BMP and GIF hold no colour profile: a picture in a wide-gamut space (Adobe RGB) saved as
one, its metadata kept or not, is written converted to sRGB, so that it looks as the original
did, and the save says so (the editor's status, ``inpaint`` and ``batch``); an sRGB picture
keeps every number. PNG and the other formats keeping the profile are untouched."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image, ImageCms

import main
from engines.fileio import (
    ImageMetadata,
    converted_profile_note,
    encode_image,
    load_image,
    save_mask,
    save_result,
)
from tests.conftest import SAMPLES
from tests.photos import srgb_profile, wide_gamut_profile

CONVERTED = "its colours were converted to sRGB from its Adobe RGB (1998) colour profile"


def _as_shown(rgb: np.ndarray, icc: bytes) -> np.ndarray:
    """``rgb`` in the space of ``icc`` as a colour-managed viewer shows it (sRGB)."""
    converted = ImageCms.profileToProfile(
        Image.fromarray(rgb), ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    return np.asarray(converted).astype(int)


def _stored(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB")).astype(int)


def _few_colours(height: int = 40, width: int = 60) -> np.ndarray:
    """A picture of 6 flat colours: a GIF holds them exactly."""
    colours = np.array([[200, 30, 40], [20, 180, 60], [30, 40, 210], [240, 240, 20],
                        [128, 128, 128], [10, 200, 220]], np.uint8)
    index = (np.arange(width)[None, :] // 10 + np.zeros((height, 1), int)) % len(colours)
    return colours[index]


@pytest.mark.parametrize("ext", [".bmp", ".gif"])
@pytest.mark.parametrize("keep", [True, False], ids=["kept", "stripped"])
def test_a_wide_gamut_picture_saved_as_bmp_or_gif_looks_the_same(tmp_path, ext, keep):
    rgb = _few_colours()
    Image.fromarray(rgb).save(tmp_path / "wide.png", icc_profile=wide_gamut_profile())
    loaded = load_image(tmp_path / "wide.png")
    shown = _as_shown(rgb, wide_gamut_profile())
    assert np.abs(shown - rgb).max() > 10  # the numbers alone would look different
    saved = save_result(tmp_path / f"out{ext}", rgb, loaded, keep_metadata=keep)
    assert np.array_equal(_stored(saved), shown)
    metadata = loaded.metadata if keep else loaded.metadata.stripped()
    assert converted_profile_note(metadata, ext) == (
        "its colours were converted to sRGB from its Wide Test RGB colour profile, which is "
        "not kept")


@pytest.mark.parametrize("ext", [".bmp", ".gif"])
def test_an_srgb_picture_saved_as_bmp_or_gif_keeps_its_numbers(tmp_path, ext):
    rgb = _few_colours()
    Image.fromarray(rgb).save(tmp_path / "srgb.png", icc_profile=srgb_profile())
    loaded = load_image(tmp_path / "srgb.png")
    assert np.array_equal(_stored(save_result(tmp_path / f"out{ext}", rgb, loaded)), rgb)
    assert converted_profile_note(loaded.metadata, ext) is None


def test_formats_that_hold_the_profile_keep_numbers_and_profile():
    rgb = _few_colours()
    metadata = ImageMetadata(icc_profile=wide_gamut_profile())
    encoded = encode_image(rgb, ".png", metadata=metadata)
    with Image.open(io.BytesIO(encoded)) as picture:
        assert picture.info.get("icc_profile") == wide_gamut_profile()
        assert np.array_equal(np.asarray(picture.convert("RGB")), rgb)
    assert converted_profile_note(metadata, ".png") is None


@pytest.fixture
def rocket(tmp_path):
    """The bundled Adobe RGB sample in a folder of its own, and a mask with a small hole."""
    images = tmp_path / "in"
    images.mkdir()
    picture = images / "rocket.jpg"
    shutil.copyfile(SAMPLES / "rocket.jpg", picture)
    hole = np.zeros(load_image(picture).rgb.shape[:2], np.uint8)
    hole[200:220, 300:330] = 255
    return picture, save_mask(tmp_path / "mask.png", hole)


@pytest.mark.parametrize("ext, strip, said", [
    (".bmp", False, True), (".png", True, True), (".png", False, False)])
def test_inpaint_says_when_it_converted_the_colours(rocket, tmp_path, capsys, ext, strip,
                                                    said):
    picture, mask = rocket
    out = tmp_path / f"out{ext}"
    assert main.main(["inpaint", str(picture), str(mask), "-o", str(out), "--engine",
                      "telea", *(["--strip-metadata"] if strip else [])]) == 0
    assert (f"note: {CONVERTED}" in capsys.readouterr().out) is said


def test_batch_says_which_results_it_converted(rocket, tmp_path, capsys):
    picture, mask = rocket
    assert main.main(["batch", "--images", str(picture.parent), "--mask", str(mask), "-o",
                      str(tmp_path / "out"), "--engine", "telea", "--format", "gif"]) == 0
    assert f"rocket.gif: {CONVERTED}" in capsys.readouterr().out
