"""``--strip-metadata`` on a picture with a colour profile that is not sRGB (the bundled
Adobe RGB sample): ``inpaint`` and ``batch`` write it converted to sRGB, so that the result,
without its profile, looks as the original does; without the option, the profile and the
numbers are kept."""

from __future__ import annotations

import io
import shutil

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

import main
from engines import deep_samples
from engines.fileio import load_image, save_mask
from tests.conftest import SAMPLES


def _as_shown(rgb: np.ndarray, icc: bytes) -> np.ndarray:
    """``rgb`` in the colour space of ``icc`` as a colour-managed viewer shows it (sRGB)."""
    converted = ImageCms.profileToProfile(
        Image.fromarray(rgb), ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    return np.asarray(converted).astype(int)


@pytest.fixture
def rocket(tmp_path):
    """``(picture, mask, hole, original as shown)``: the Adobe RGB sample in a folder of its
    own, a small hole in it, and its pixels as a colour-managed viewer shows them."""
    images = tmp_path / "in"
    images.mkdir()
    picture = images / "rocket.jpg"
    shutil.copyfile(SAMPLES / "rocket.jpg", picture)
    loaded = load_image(picture)
    hole = np.zeros(loaded.rgb.shape[:2], np.uint8)
    hole[200:220, 300:330] = 255
    mask = save_mask(tmp_path / "mask.png", hole)
    return picture, mask, hole > 0, _as_shown(loaded.rgb, loaded.metadata.icc_profile)


def _stored(path) -> tuple[np.ndarray, bytes | None]:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB")).astype(int), picture.info.get("icc_profile")


def _off_by_more_than_10(stored: np.ndarray, shown: np.ndarray, hole: np.ndarray) -> float:
    """The share of the pixels outside ``hole`` that a viewer shows more than 10 levels off."""
    return float((np.abs(stored - shown).max(axis=2) > 10)[~hole].mean())


def test_inpaint_strip_metadata_converts_the_colours_to_srgb(rocket, tmp_path, capsys):
    picture, mask, hole, shown = rocket
    for strip in (False, True):
        out = tmp_path / f"out_{strip}.png"
        assert main.main(["inpaint", str(picture), str(mask), "-o", str(out), "--engine", "telea",
                          *(["--strip-metadata"] if strip else [])]) == 0
        stored, profile = _stored(out)
        if strip:
            assert profile is None
            assert np.abs(stored - shown)[~hole].max() == 0  # as the original looks
        else:
            assert profile == load_image(picture).metadata.icc_profile
            assert _off_by_more_than_10(_as_shown(stored.astype(np.uint8), profile), shown,
                                        hole) == 0
    assert "error" not in capsys.readouterr().err


def test_batch_strip_metadata_converts_the_colours_to_srgb(rocket, tmp_path, capsys):
    picture, mask, hole, shown = rocket
    out = tmp_path / "out"
    assert main.main(["batch", "--images", str(picture.parent), "--mask", str(mask), "-o",
                      str(out), "--engine", "telea", "--format", "png",
                      "--strip-metadata"]) == 0
    stored, profile = _stored(out / "rocket.png")
    assert profile is None
    assert np.abs(stored - shown)[~hole].max() == 0


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_inpaint_strip_metadata_keeps_16_bits_of_a_16_bit_picture(rocket, tmp_path, capsys,
                                                                   ext):
    """QA audit 37, F1: the 16-bit result of a picture converted to sRGB held only its 8-bit
    conversion times 257 (267 distinct values), while it was said to keep 16 bits."""
    picture, mask, hole, _shown = rocket
    loaded = load_image(picture)
    grain = np.random.default_rng(0).integers(0, 200, loaded.rgb.shape).astype(np.uint16)
    deep = loaded.rgb.astype(np.uint16) * 257 + grain
    encode = deep_samples.encode_png16 if ext == ".png" else deep_samples.encode_deep_tiff
    source = tmp_path / f"deep{ext}"
    source.write_bytes(encode(deep, loaded.metadata.icc_profile))
    written = {}
    for strip in (False, True):
        out = tmp_path / f"out_{strip}{ext}"
        assert main.main(["inpaint", str(source), str(mask), "-o", str(out), "--engine",
                          "telea", *(["--strip-metadata"] if strip else [])]) == 0
        written[strip] = tifffile.imread(out) if ext == ".tif" else \
            cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    said = capsys.readouterr()
    bare = written[True][~hole]
    assert bare.dtype == np.uint16
    assert len(np.unique(bare)) >= 0.9 * len(np.unique(written[False][~hole]))
    assert (bare % 257 == 0).mean() < 0.05
    told = said.out + said.err
    assert "keeps 16 bits" in told and "converted to sRGB from its Adobe RGB (1998)" in told
