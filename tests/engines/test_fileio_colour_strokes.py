"""Colour-strokes files (`inpaint --color`, the editor's colour-stroke import and export):
an RGBA PNG, opaque where a stroke is painted, read back exactly; files that cannot be colour
strokes are refused with the reason."""

from __future__ import annotations

import os
import stat

import cv2
import numpy as np
import pytest

from engines import fileio
from engines.fileio import (
    ImageExistsError,
    ImageFileError,
    load_colour_strokes,
    save_colour_strokes,
    save_image,
    save_mask,
)

H, W = 30, 40


def _strokes() -> np.ndarray:
    """A red stroke, a half-transparent blue one, nothing elsewhere."""
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[5:9, 4:30] = (230, 20, 20, 255)
    rgba[15:25, 10:14] = (10, 40, 220, 128)
    return rgba


def test_strokes_round_trip_through_an_rgba_png(tmp_path):
    rgba = _strokes()
    path = save_colour_strokes(tmp_path / "strokes.png", rgba)
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # what other programs see
    assert stored.shape == (H, W, 4)
    assert np.array_equal(stored[..., [2, 1, 0, 3]], rgba)
    assert np.array_equal(load_colour_strokes(path, (H, W)), rgba)


def test_colour_under_transparent_pixels_is_neither_written_nor_read(tmp_path):
    rgba = _strokes()
    rgba[0:3, :, :3] = 200  # leftovers of an eraser in another program: alpha 0
    save_colour_strokes(tmp_path / "strokes.png", rgba)
    stored = cv2.imread(str(tmp_path / "strokes.png"), cv2.IMREAD_UNCHANGED)
    assert not stored[0:3].any()
    cv2.imwrite(str(tmp_path / "painted.png"), rgba[..., [2, 1, 0, 3]])  # written elsewhere
    loaded = load_colour_strokes(tmp_path / "painted.png")
    assert not loaded[0:3].any()
    assert np.array_equal(loaded[3:], _strokes()[3:])


def test_an_existing_file_is_replaced_only_when_allowed(tmp_path):
    path = tmp_path / "strokes.png"
    path.write_bytes(b"keep me")
    with pytest.raises(ImageExistsError):
        save_colour_strokes(path, _strokes())
    assert path.read_bytes() == b"keep me"
    save_colour_strokes(path, _strokes(), overwrite=True)
    assert np.array_equal(load_colour_strokes(path), _strokes())
    assert [p.name for p in tmp_path.iterdir()] == ["strokes.png"]  # no temporary left


def test_a_read_only_file_is_never_replaced(tmp_path):
    path = save_colour_strokes(tmp_path / "strokes.png", _strokes())
    before = path.read_bytes()
    os.chmod(path, stat.S_IRUSR)
    try:
        with pytest.raises(ImageFileError, match="read-only"):
            save_colour_strokes(path, np.zeros((H, W, 4), np.uint8), overwrite=True)
    finally:
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    assert path.read_bytes() == before


def test_strokes_are_saved_as_png_only(tmp_path):
    with pytest.raises(ImageFileError) as error:
        save_colour_strokes(tmp_path / "strokes.jpg", _strokes())
    assert str(error.value) == (f"{tmp_path / 'strokes.jpg'}: colour strokes are saved as "
                                "PNG, not .jpg")
    assert not (tmp_path / "strokes.jpg").exists()


def test_only_rgba_arrays_are_written(tmp_path):
    with pytest.raises(ValueError, match=r"\(H, W, 4\) uint8 RGBA"):
        save_colour_strokes(tmp_path / "strokes.png", np.zeros((H, W, 3), np.uint8))
    assert not (tmp_path / "strokes.png").exists()


def test_a_file_of_another_size_is_refused_from_its_header(tmp_path, monkeypatch):
    save_colour_strokes(tmp_path / "small.png", np.full((20, 25, 4), 255, np.uint8))
    decoded = []
    monkeypatch.setattr(fileio, "_decode",
                        lambda *args, **kwargs: decoded.append(args) or None)
    with pytest.raises(ImageFileError) as error:
        load_colour_strokes(tmp_path / "small.png", (H, W))
    assert str(error.value) == (f"{tmp_path / 'small.png'}: the colour strokes are 25x20 but "
                                f"the image is {W}x{H}; they must be the same size")
    assert decoded == []


@pytest.mark.parametrize("write", [
    lambda path: save_image(path, np.full((H, W, 3), 90, np.uint8)),  # RGB: no alpha channel
    lambda path: save_mask(path, np.full((H, W), 255, np.uint8)),  # a grey mask
    # RGBA, but every pixel opaque: a picture, not strokes
    lambda path: cv2.imwrite(str(path), np.full((H, W, 4), 255, np.uint8)),
])
def test_a_file_without_transparency_is_refused_saying_what_is_expected(tmp_path, write):
    write(tmp_path / "opaque.png")
    with pytest.raises(ImageFileError) as error:
        load_colour_strokes(tmp_path / "opaque.png", (H, W))
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'opaque.png'}: has no transparency")
    assert "a PNG with transparency" in message and "painted strokes opaque" in message


def test_a_fully_transparent_file_holds_no_strokes(tmp_path):
    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros((H, W, 4), np.uint8))
    with pytest.raises(ImageFileError, match="holds no colour strokes"):
        load_colour_strokes(tmp_path / "empty.png", (H, W))


def test_other_formats_with_transparency_are_read(tmp_path):
    rgba = _strokes()
    save_image(tmp_path / "strokes.tif", rgba[..., :3], rgba[..., 3])
    assert np.array_equal(load_colour_strokes(tmp_path / "strokes.tif", (H, W)), rgba)


@pytest.mark.parametrize("content, reason", [
    (b"", "an empty file (0 bytes)"),
    (b"\x89PNG\r\n\x1a\n broken", "not an image file, or the file is damaged"),
])
def test_an_unreadable_file_is_one_clear_error(tmp_path, content, reason):
    (tmp_path / "broken.png").write_bytes(content)
    with pytest.raises(ImageFileError) as error:
        load_colour_strokes(tmp_path / "broken.png", (H, W))
    assert str(error.value).startswith(f"{tmp_path / 'broken.png'}: ")
    assert reason in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ImageFileError, match="no such file"):
        load_colour_strokes(tmp_path / "gone.png", (H, W))


def test_a_cut_short_file_is_refused(tmp_path):
    rng = np.random.default_rng(3)
    rgba = rng.integers(1, 255, (200, 200, 4)).astype(np.uint8)
    save_colour_strokes(tmp_path / "whole.png", rgba)
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
    with pytest.raises(ImageFileError, match="cut short"):
        load_colour_strokes(tmp_path / "cut.png", (200, 200))
