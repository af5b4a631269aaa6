"""A grey PNG whose transparency is one shade (a ``tRNS`` key, as oxipng and pngcrush store
greyscale graphics with simple transparency), at 1, 2, 4, 8 or 16 bits: reading gives it an
alpha (0 where the sample is the key, as libpng reads it), and saving an edit as PNG writes
it at its depth with the same key, every pixel outside the hole with its own sample, the
transparent ones included (engines.fileio._png_grey_key, _encode_png_on_palette,
_encode_png_grey_key)."""

from __future__ import annotations

import io
import struct

import cv2
import numpy as np
import pytest
from PIL import Image

from engines.base import InpaintRequest
from engines.classical.opencv import TeleaEngine
from engines.fileio import load_image, load_mask, save_image, save_result

HEIGHT, WIDTH = 48, 64
EDGE = 16  # columns left of this hold the transparent shade
HOLE = (slice(14, 34), slice(10, 40))  # crosses the edge: transparent and visible pixels


def _levels(bits: int) -> tuple[np.ndarray, int]:
    """Samples of a ``bits``-deep grey picture (raw, 0 .. 2**bits - 1) whose columns left of
    :data:`EDGE` hold its dark transparent shade and the rest a bright texture that never
    does, and that shade (the key)."""
    full = (1 << bits) - 1
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    if bits == 1:
        samples, key = np.ones((HEIGHT, WIDTH), np.int64), 0
    else:
        key = full // 8 if bits > 2 else 0
        bright = (full + 1) // 2  # the upper half of the shades: never the key
        samples = bright + (x * 7 + y * 3) % (full - bright + 1)
    samples[:, :EDGE] = key
    return samples.astype(np.uint16 if bits == 16 else np.uint8), key


def _png_bytes(samples: np.ndarray, bits: int, key: int) -> bytes:
    """A grey PNG of ``samples`` at ``bits`` with the ``tRNS`` key ``key`` (as stored)."""
    buffer = io.BytesIO()
    if bits == 1:
        Image.fromarray(samples.astype(bool)).save(buffer, "PNG", transparency=key)
    elif bits == 16:
        Image.fromarray(samples).save(buffer, "PNG", transparency=key)
    else:
        shades = (samples.astype(np.int64) * 255 // ((1 << bits) - 1)).astype(np.uint8)
        Image.fromarray(shades, "L").save(buffer, "PNG", bits=bits, transparency=key)
    return buffer.getvalue()


def _write(path, bits: int):
    samples, key = _levels(bits)
    path.write_bytes(_png_bytes(samples, bits, key))
    return samples, key


def _chunks(data: bytes) -> dict[bytes, bytes]:
    chunks, offset = {}, 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        chunks.setdefault(kind, data[offset + 8:offset + 8 + length])
        offset += 12 + length
    return chunks


def _depth_type_key(data: bytes) -> tuple[int, int, bytes | None]:
    """(bit depth, colour type, tRNS chunk) of a PNG."""
    chunks = _chunks(data)
    return chunks[b"IHDR"][8], chunks[b"IHDR"][9], chunks.get(b"tRNS")


def _raw(data: bytes) -> np.ndarray:
    """A PNG's samples as libpng gives them (low depths scaled to 8 bits, 16 bits kept)."""
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def _outside() -> np.ndarray:
    keep = np.ones((HEIGHT, WIDTH), bool)
    keep[HOLE] = False
    return keep


BITS = [1, 2, 4, 8, 16]


@pytest.mark.parametrize("bits", BITS)
def test_the_key_is_read_as_alpha(tmp_path, bits):
    samples, key = _write(tmp_path / "key.png", bits)
    loaded = load_image(tmp_path / "key.png")
    assert loaded.grey
    assert loaded.alpha is not None
    assert np.array_equal(loaded.alpha, np.where(samples == key, 0, 255))
    assert (loaded.alpha[:, :EDGE] == 0).all() and (loaded.alpha[:, EDGE:] == 255).all()
    assert loaded.metadata.source.png_grey_bits == bits


@pytest.mark.parametrize("bits", BITS)
def test_an_edit_is_saved_with_its_depth_and_key(tmp_path, bits):
    _write(tmp_path / "key.png", bits)
    original = (tmp_path / "key.png").read_bytes()
    loaded = load_image(tmp_path / "key.png")
    rgb = loaded.rgb.copy()
    rgb[HOLE] = 255  # white: a shade of every depth, not the key
    out = save_result(tmp_path / "out.png", rgb, loaded, edited=_hole_mask())
    written = out.read_bytes()
    depth, colour_type, trns = _depth_type_key(written)
    assert (depth, colour_type) == (bits, 0)  # grey at its depth, no alpha channel
    assert trns == _chunks(original)[b"tRNS"]
    keep = _outside()
    assert np.array_equal(_raw(written)[keep], _raw(original)[keep])  # transparent ones too
    again = load_image(out)
    assert np.array_equal(again.alpha, loaded.alpha)
    assert (again.rgb[HOLE][loaded.alpha[HOLE] == 255] == 255).all()


def _hole_mask() -> np.ndarray:
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[HOLE] = True
    return hole


@pytest.mark.parametrize("bits", [8, 16])
def test_a_filled_pixel_of_the_key_shade_is_moved_one_level(tmp_path, bits):
    samples, key = _write(tmp_path / "key.png", bits)
    loaded = load_image(tmp_path / "key.png")
    rgb = loaded.rgb.copy()
    key_8bit = key if bits == 8 else round(key / 257)
    rgb[HOLE] = key_8bit  # opaque where the hole is visible: it must stay visible
    if bits == 16:  # a fill writes 8-bit levels: a key that is one of them collides
        key = key_8bit * 257
        samples[:, :EDGE] = key
        (tmp_path / "key.png").write_bytes(_png_bytes(samples, bits, key))
        loaded = load_image(tmp_path / "key.png")
    out = save_result(tmp_path / "out.png", rgb, loaded, edited=_hole_mask())
    written = _raw(out.read_bytes())
    assert loaded.alpha is not None
    visible = _hole_mask() & (loaded.alpha == 255)
    assert visible.any() and (written[visible] == key + 1).all()  # a dark key: one level up, towards mid-grey
    assert (written[_hole_mask() & (loaded.alpha == 0)] == key).all()
    again = load_image(out)
    assert np.array_equal(again.alpha, loaded.alpha)


def test_a_bright_key_is_left_downwards(tmp_path):
    samples = np.full((HEIGHT, WIDTH), 120, np.uint8)
    samples[:, :EDGE] = 250
    (tmp_path / "key.png").write_bytes(_png_bytes(samples, 8, 250))
    loaded = load_image(tmp_path / "key.png")
    rgb = loaded.rgb.copy()
    rgb[HOLE] = 250
    out = save_result(tmp_path / "out.png", rgb, loaded)
    assert _depth_type_key(out.read_bytes()) == (8, 0, b"\x00\xfa")
    visible = _hole_mask() & (loaded.alpha == 255)
    assert visible.any() and (_raw(out.read_bytes())[visible] == 249).all()


def test_a_colourful_fill_is_saved_with_an_alpha_channel(tmp_path):
    _write(tmp_path / "key.png", 8)
    loaded = load_image(tmp_path / "key.png")
    rgb = loaded.rgb.copy()
    rgb[HOLE] = (200, 40, 90)  # no longer grey: RGB, its transparency as alpha
    out = save_result(tmp_path / "out.png", rgb, loaded)
    assert _depth_type_key(out.read_bytes())[:2] == (8, 6)
    again = load_image(out)
    assert np.array_equal(again.alpha, loaded.alpha)
    assert np.array_equal(again.rgb[_outside()], loaded.rgb[_outside()])


def test_a_key_written_as_pillow_writes_it_is_read_as_libpng_reads_it(tmp_path):
    """Pillow writes a 4-bit picture's transparent shade 2 as its 8-bit value, 34: libpng
    cuts it to 4 bits (2), as Pillow itself reads it; saving keeps the chunk as it was."""
    shades = np.full((HEIGHT, WIDTH), 8 * 17, np.uint8)
    shades[:, :EDGE] = 2 * 17
    Image.fromarray(shades, "L").save(tmp_path / "key.png", bits=4, transparency=34)
    loaded = load_image(tmp_path / "key.png")
    assert np.array_equal(loaded.alpha, np.where(shades == 34, 0, 255))
    out = save_result(tmp_path / "out.png", loaded.rgb, loaded)
    assert _depth_type_key(out.read_bytes()) == (4, 0, b"\x00\x22")
    assert np.array_equal(np.asarray(Image.open(out).convert("RGBA"))[..., 3], loaded.alpha)


def test_a_key_no_pixel_has_gives_no_alpha(tmp_path):
    samples = np.full((HEIGHT, WIDTH), 120, np.uint8)
    (tmp_path / "key.png").write_bytes(_png_bytes(samples, 8, 7))
    assert load_image(tmp_path / "key.png").alpha is None


def test_a_grey_png_without_a_key_is_unaffected(tmp_path):
    samples, _ = _levels(8)
    Image.fromarray(samples, "L").save(tmp_path / "plain.png")
    loaded = load_image(tmp_path / "plain.png")
    assert loaded.alpha is None
    out = save_result(tmp_path / "out.png", loaded.rgb, loaded)
    assert _depth_type_key(out.read_bytes()) == (8, 0, None)


@pytest.mark.parametrize("bits", [4, 8, 16])
def test_the_key_shade_is_no_source_of_the_fill(tmp_path, bits):
    """Its transparent pixels are left out of the fill (as alpha 0 always is): the dark shade
    stored under them does not bleed into the visible fill."""
    _write(tmp_path / "key.png", bits)
    loaded = load_image(tmp_path / "key.png")
    mask = _hole_mask().astype(np.uint8) * 255
    result = list(TeleaEngine().run(InpaintRequest(loaded.rgb, mask, alpha=loaded.alpha)))
    image = result[-1].image
    visible = _hole_mask() & (loaded.alpha == 255)
    assert image[visible].min() >= 120  # its darkest: 128 (8 and 16 bits), 136 (4 bits)
    assert np.array_equal(image[~_hole_mask()], loaded.rgb[~_hole_mask()])


def test_the_notes_say_which_shades_a_fill_takes(tmp_path):
    _write(tmp_path / "one.png", 1)
    _write(tmp_path / "four.png", 4)
    assert any("filled pixels taking white, its one opaque shade" in note
               for note in load_image(tmp_path / "one.png").notes)
    assert any("the nearest of its shades but its transparent one" in note
               for note in load_image(tmp_path / "four.png").notes)


def test_a_mask_file_with_a_key_is_read_by_its_alpha(tmp_path):
    """As an RGBA mask is: opaque marks the hole, whatever shade the transparent part holds
    (white here, which by brightness would be the hole)."""
    samples = np.full((HEIGHT, WIDTH), 255, np.uint8)
    samples[HOLE] = 0  # black strokes on a transparent white ground
    (tmp_path / "mask.png").write_bytes(_png_bytes(samples, 8, 255))
    assert np.array_equal(load_mask(tmp_path / "mask.png") == 255, _hole_mask())


def test_saved_as_tiff_it_keeps_its_transparency(tmp_path):
    _write(tmp_path / "key.png", 8)
    loaded = load_image(tmp_path / "key.png")
    assert loaded.alpha is not None
    save_image(tmp_path / "out.tif", loaded.rgb, loaded.alpha, metadata=loaded.metadata,
               grey=loaded.grey)
    assert np.array_equal(load_image(tmp_path / "out.tif").alpha, loaded.alpha)
