"""`inpaint` and `batch` save a result as its original was stored: a lossless WebP lossless
(a ``VP8L`` chunk), a GIF on its own palette, so that every pixel outside the mask is the
original's, exactly."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image

from engines.fileio import load_image, save_mask
from tests.cli.test_cli import run_cli

HEIGHT, WIDTH = 60, 80


def _picture() -> np.ndarray:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.dstack([x * 255 // (WIDTH - 1), y * 255 // (HEIGHT - 1),
                      (x + y) * 3 % 256]).astype(np.uint8)


def _hole() -> np.ndarray:
    hole = np.zeros((HEIGHT, WIDTH), np.uint8)
    hole[20:35, 30:50] = 255
    return hole


def _write(path, kind: str) -> None:
    """The picture as a lossless or lossy WebP, or a GIF (Pillow's own palette)."""
    picture = Image.fromarray(_picture())
    if kind == "gif":
        picture.quantize(256).save(path)
    else:
        picture.save(path, lossless=kind == "lossless", quality=80)


def _image_chunk(path) -> bytes:
    data = path.read_bytes()
    offset = 12
    while offset + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, offset)
        if kind in (b"VP8 ", b"VP8L"):
            return kind
        offset += 8 + length + (length & 1)
    raise AssertionError("no image chunk")


def _gif_indices(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.array(picture)


@pytest.mark.parametrize("strip", [False, True])
def test_inpaint_keeps_a_lossless_webp_lossless(tmp_path, strip):
    _write(tmp_path / "shot.webp", "lossless")
    save_mask(tmp_path / "mask.png", _hole())
    out = tmp_path / "out.webp"
    assert run_cli("inpaint", tmp_path / "shot.webp", tmp_path / "mask.png", "-o", out,
                   "--engine", "telea", *(["--strip-metadata"] if strip else [])) == 0
    assert _image_chunk(out) == b"VP8L"
    outside = _hole() == 0
    result = load_image(out).rgb
    assert np.array_equal(result[outside], _picture()[outside])
    assert (result[~outside] != _picture()[~outside]).any()  # filled


def test_inpaint_keeps_a_lossy_webp_lossy(tmp_path):
    _write(tmp_path / "photo.webp", "lossy")
    save_mask(tmp_path / "mask.png", _hole())
    out = tmp_path / "out.webp"
    assert run_cli("inpaint", tmp_path / "photo.webp", tmp_path / "mask.png", "-o", out,
                   "--engine", "telea") == 0
    assert _image_chunk(out) == b"VP8 "


def test_inpaint_saves_a_gif_on_its_palette(tmp_path):
    _write(tmp_path / "logo.gif", "gif")
    save_mask(tmp_path / "mask.png", _hole())
    out = tmp_path / "out.gif"
    assert run_cli("inpaint", tmp_path / "logo.gif", tmp_path / "mask.png", "-o", out,
                   "--engine", "telea") == 0
    outside = _hole() == 0
    assert np.array_equal(_gif_indices(out)[outside],
                          _gif_indices(tmp_path / "logo.gif")[outside])
    with Image.open(out) as written, Image.open(tmp_path / "logo.gif") as original:
        assert written.getpalette() == original.getpalette()


def test_batch_saves_each_picture_as_it_was_stored(tmp_path, capsys):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    for name, kind in (("shot.webp", "lossless"), ("photo.webp", "lossy"),
                       ("logo.gif", "gif")):
        _write(images / name, kind)
        save_mask(masks / f"{name.split('.')[0]}.png", _hole())
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == 0
    assert "3 written" in capsys.readouterr().out
    outside = _hole() == 0
    assert _image_chunk(out / "shot.webp") == b"VP8L"
    assert np.array_equal(load_image(out / "shot.webp").rgb[outside], _picture()[outside])
    assert _image_chunk(out / "photo.webp") == b"VP8 "
    assert np.array_equal(_gif_indices(out / "logo.gif")[outside],
                          _gif_indices(images / "logo.gif")[outside])


# -------------------------------------------- a photo turned upright by its EXIF orientation
def _turned_photo(path) -> None:
    """A phone photo stored 80x60 with EXIF orientation 6: shown 60x80 (W x H)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(_picture()).save(path, exif=exif.tobytes(), quality=95)


@pytest.mark.parametrize("layer", ["mask", "--sketch", "--labels"])
def test_inpaint_says_a_layer_of_the_stored_size_misses_the_turn(tmp_path, capsys, layer):
    _turned_photo(tmp_path / "phone.jpg")
    stored = _hole()  # drawn on the photo as stored, 80x60
    save_mask(tmp_path / "stored.png", stored)
    upright = np.ascontiguousarray(np.rot90(stored, -1))
    save_mask(tmp_path / "upright.png", upright)
    mask = tmp_path / ("stored.png" if layer == "mask" else "upright.png")
    extra = [] if layer == "mask" else [layer, tmp_path / "stored.png"]
    out = tmp_path / "out.png"
    assert run_cli("inpaint", tmp_path / "phone.jpg", mask, "-o", out, "--engine",
                   "patchmatch" if layer == "--labels" else "telea", *extra) == 2
    what = {"mask": "mask", "--sketch": "sketch", "--labels": "label map"}[layer]
    verb = "is"
    err = capsys.readouterr().err
    assert (f"the {what} {verb} 80x60 but the image is 60x80 (turned upright by its EXIF "
            f"orientation; stored as 80x60): draw the {what} on the upright picture") in err
    assert not out.exists()
