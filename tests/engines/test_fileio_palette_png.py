"""A palette PNG (or a 1-, 2- or 4-bit grey one) is saved as PNG as it was stored: on its own
palette with its transparency and bit depth, untouched pixels exactly, filled ones taking the
nearest of its colours (engines.fileio._encode_png_on_palette), and a note says so."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from engines.fileio import load_image, save_image, save_result

SAMPLE = "resources/samples/astronaut.jpg"
HOLE = (slice(100, 180), slice(150, 260))
FILL = (200, 30, 160)  # a colour far from the palette's


def _png(picture: Image.Image, path, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", **options)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _ihdr(data: bytes) -> tuple[int, int]:
    """(bit depth, colour type) of a PNG."""
    return data[24], data[25]


def _filled(loaded) -> np.ndarray:
    rgb = loaded.rgb.copy()
    rgb[HOLE] = FILL
    return rgb


def _untouched(shape) -> np.ndarray:
    keep = np.ones(shape, bool)
    keep[HOLE] = False
    return keep


@pytest.fixture
def palette_png(tmp_path):
    picture = Image.open(SAMPLE).convert("RGB").quantize(64)
    _png(picture, tmp_path / "palette.png")
    return tmp_path / "palette.png"


@pytest.fixture
def transparent_palette_png(tmp_path):
    picture = Image.open(SAMPLE).convert("RGB").quantize(64)
    indices = np.array(picture)
    indices[:, :40] = 0  # entry 0 fully transparent, entry 1 half
    picture = Image.fromarray(indices, "P")
    picture.putpalette(Image.open(SAMPLE).convert("RGB").quantize(64).getpalette()[:64 * 3])
    _png(picture, tmp_path / "trns.png", transparency=bytes([0, 128]))
    return tmp_path / "trns.png"


def test_a_palette_png_is_saved_on_its_palette(palette_png, tmp_path):
    loaded = load_image(palette_png)
    assert any("palette image (64 colours)" in note and "nearest of its colours" in note
               and "TIFF" in note for note in loaded.notes)
    out = save_result(tmp_path / "out.png", _filled(loaded), loaded)
    data = out.read_bytes()
    assert _ihdr(data) == (8, 3)
    before, after = Image.open(palette_png), Image.open(out)
    assert after.mode == "P" and after.getpalette() == before.getpalette()
    keep = _untouched(loaded.rgb.shape[:2])
    assert np.array_equal(np.array(after)[keep], np.array(before)[keep])  # by entry
    again = load_image(out)
    assert np.array_equal(again.rgb[keep], loaded.rgb[keep])  # and by colour
    palette = {tuple(c) for c in np.array(before.getpalette()).reshape(-1, 3)}
    assert {tuple(c) for c in again.rgb[HOLE].reshape(-1, 3)} <= palette


def test_filled_pixels_take_the_nearest_palette_colour(palette_png, tmp_path):
    loaded = load_image(palette_png)
    out = save_result(tmp_path / "out.png", _filled(loaded), loaded)
    colours = np.array(Image.open(palette_png).getpalette()).reshape(-1, 3)
    nearest = colours[np.argmin(((colours - np.array(FILL)) ** 2).sum(axis=1))]
    assert (load_image(out).rgb[HOLE] == nearest).all()


def test_a_palette_png_keeps_its_transparency(transparent_palette_png, tmp_path):
    loaded = load_image(transparent_palette_png)
    assert loaded.alpha is not None
    out = save_result(tmp_path / "out.png", _filled(loaded), loaded)
    data = out.read_bytes()
    assert _ihdr(data) == (8, 3)
    assert Image.open(out).info["transparency"] == bytes([0, 128])
    again = load_image(out)
    assert np.array_equal(again.alpha, loaded.alpha)
    keep = _untouched(loaded.rgb.shape[:2])
    assert np.array_equal(np.array(Image.open(out))[keep],
                          np.array(Image.open(transparent_palette_png))[keep])


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_a_low_bit_grey_png_keeps_its_depth(tmp_path, bits):
    grey = np.array(Image.open(SAMPLE).convert("L"))
    count = 1 << bits
    shades = (np.arange(count) * 255 // (count - 1)).astype(np.uint8)
    stored = shades[(grey.astype(np.int32) * count) // 256]
    _png(Image.fromarray(stored, "L"), tmp_path / "low.png", bits=bits)
    assert _ihdr((tmp_path / "low.png").read_bytes()) == (bits, 0)
    loaded = load_image(tmp_path / "low.png")
    assert any(f"{bits}-bit grey image" in note for note in loaded.notes)
    out = save_result(tmp_path / "out.png", _filled(loaded), loaded)
    assert _ihdr(out.read_bytes()) == (bits, 0)
    again = load_image(out)
    keep = _untouched(loaded.rgb.shape[:2])
    assert np.array_equal(again.rgb[keep], loaded.rgb[keep])
    assert set(np.unique(again.rgb[HOLE])) <= set(shades.tolist())


def test_a_bilevel_png_stays_one_bit(tmp_path):
    bilevel = np.array(Image.open(SAMPLE).convert("L")) > 128
    _png(Image.fromarray(bilevel), tmp_path / "bw.png")
    loaded = load_image(tmp_path / "bw.png")
    out = save_result(tmp_path / "out.png", _filled(loaded), loaded)
    assert _ihdr(out.read_bytes()) == (1, 0) and Image.open(out).mode == "1"
    assert set(np.unique(load_image(out).rgb)) <= {0, 255}


def test_a_truecolour_png_is_unaffected(tmp_path):
    rgb = np.array(Image.open(SAMPLE).convert("RGB"))
    save_image(tmp_path / "rgb.png", rgb)
    loaded = load_image(tmp_path / "rgb.png")
    assert loaded.metadata.source.png_bits is None
    assert not any("palette" in note for note in loaded.notes)
    out = save_result(tmp_path / "out.png", _filled(loaded), loaded)
    assert _ihdr(out.read_bytes()) == (8, 2)
    assert np.array_equal(load_image(out).rgb, _filled(loaded))


def test_a_palette_png_saved_in_another_format_keeps_every_filled_pixel(palette_png,
                                                                       tmp_path):
    loaded = load_image(palette_png)
    out = save_result(tmp_path / "out.tif", _filled(loaded), loaded)
    assert np.array_equal(load_image(out).rgb, _filled(loaded))
