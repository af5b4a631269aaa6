"""Grey pictures on saving: 16-bit and floating-point grey+alpha files come back grey+alpha
at their depth (PNG colour type 4 at 16 bits, TIFF one grey sample and an alpha one), and a
colour profile that cannot describe what is written is left out with a note saying so
(:func:`engines.fileio.left_out_profile`)."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from engines import deep_samples
from engines.fileio import (
    ImageMetadata,
    decode_image,
    drops_metadata,
    left_out_profile,
    load_image,
    save_image,
    save_result,
)
from tests.photos import grey_profile, srgb_profile

H, W = 24, 32
HOLE = (slice(8, 16), slice(10, 22))
RED = (200, 40, 30)


def _grey_alpha16() -> tuple[np.ndarray, np.ndarray]:
    """16-bit grey samples (a gradient with grain, using the low bits) and alpha (a ramp
    with a transparent band), ``(H, W)`` uint16 each."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:H, 0:W]
    grey = np.clip(9000 + 1500 * x + 300 * y + rng.integers(-200, 200, (H, W)), 0, 65535)
    alpha = np.clip(20000 + 1400 * x, 0, 65535)
    alpha[:, :4] = 0
    return grey.astype(np.uint16), alpha.astype(np.uint16)


def _png_grey_alpha16(grey: np.ndarray, alpha: np.ndarray, icc: bytes | None = None) -> bytes:
    """A 16-bit grey+alpha PNG written here byte by byte (rows unfiltered), as other
    programs write them; with an iCCP chunk for ``icc``."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = np.dstack([grey, alpha]).astype(">u2").reshape(H, -1).view(np.uint8)
    lines = np.hstack([np.zeros((H, 1), np.uint8), rows]).tobytes()
    profile = b"" if icc is None else chunk(b"iCCP", b"grey\x00\x00" + zlib.compress(icc))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 16, 4, 0, 0, 0))
            + profile + chunk(b"IDAT", zlib.compress(lines)) + chunk(b"IEND", b""))


def _tiff_grey_alpha(samples: np.ndarray, icc: bytes | None = None, **options) -> bytes:
    """``(H, W, 2)`` grey+alpha as a TIFF (one grey sample, one unassociated alpha one)."""
    buffer = io.BytesIO()
    options.setdefault("extrasamples", ("unassalpha",))
    options.setdefault("photometric", "minisblack")
    tifffile.imwrite(buffer, samples, iccprofile=icc, **options)
    return buffer.getvalue()


def _write_source(path, kind: str, icc: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    grey, alpha = _grey_alpha16()
    if kind == "png":
        path.write_bytes(_png_grey_alpha16(grey, alpha, icc))
    else:
        path.write_bytes(_tiff_grey_alpha(np.dstack([grey, alpha]), icc, compression="zlib",
                                          predictor=True))
    return grey, alpha


def _stored_grey_alpha(path) -> tuple[np.ndarray, np.ndarray]:
    """The samples of a written grey+alpha PNG or TIFF, checking it is one: PNG colour type 4
    at 16 bits (decoded by libpng through OpenCV, which gives BGRA), TIFF one grey sample
    and an unassociated alpha one."""
    data = path.read_bytes()
    if path.suffix == ".png":
        assert data[12:16] == b"IHDR" and (data[24], data[25]) == (16, 4)  # depth, type
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert pixels.dtype == np.uint16 and pixels.shape == (H, W, 4)
        return pixels[..., 0], pixels[..., 3]
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        assert page.photometric == tifffile.PHOTOMETRIC.MINISBLACK
        assert tuple(page.extrasamples) == (tifffile.EXTRASAMPLE.UNASSALPHA,)
        samples = page.asarray()
    assert samples.shape == (H, W, 2)
    return samples[..., 0], samples[..., 1]


def _filled(loaded, colour=None) -> np.ndarray:
    """The picture with HOLE painted a grey level, or ``colour``."""
    result = loaded.rgb.copy()
    result[HOLE] = colour if colour is not None else (77, 77, 77)
    return result


# ----------------------------------------------------------------- grey+alpha at 16 bits
@pytest.mark.parametrize("kind", ["png", "tif"])
def test_a_16_bit_grey_alpha_file_opens_grey_with_its_alpha_and_depth(tmp_path, kind):
    grey, alpha = _write_source(tmp_path / f"la.{kind}", kind)
    loaded = load_image(tmp_path / f"la.{kind}")
    assert loaded.grey and loaded.source_depth == 16
    assert np.array_equal(loaded.deep_original[..., 0], grey)
    assert np.array_equal(loaded.deep_original[..., 3], alpha)
    assert np.array_equal(loaded.alpha, deep_samples.to_8bit(alpha))
    assert np.array_equal(loaded.rgb[..., 1], deep_samples.to_8bit(grey))


@pytest.mark.parametrize("kind", ["png", "tif"])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_16_bit_grey_alpha_file_is_saved_as_16_bit_grey_alpha(tmp_path, kind, suffix):
    grey, alpha = _write_source(tmp_path / f"la.{kind}", kind)
    loaded = load_image(tmp_path / f"la.{kind}")
    out = save_result(tmp_path / f"out{suffix}", _filled(loaded), loaded)
    stored, kept_alpha = _stored_grey_alpha(out)
    outside = np.ones((H, W), bool)
    outside[HOLE] = False
    assert np.array_equal(stored[outside], grey[outside])  # the low bits too
    assert np.array_equal(kept_alpha[outside], alpha[outside])
    assert (stored[HOLE] == 77 * 257).all()  # a filled pixel is its 8-bit values, scaled
    assert np.array_equal(kept_alpha[HOLE], deep_samples.to_8bit(alpha[HOLE]).astype(np.uint16) * 257)
    again = load_image(out)
    assert again.grey and again.source_depth == 16 and again.alpha is not None
    assert left_out_profile(loaded.metadata, _filled(loaded), suffix, loaded.grey) is None


def test_an_unchanged_16_bit_grey_alpha_png_is_written_again_sample_for_sample(tmp_path):
    grey, alpha = _write_source(tmp_path / "la.png", "png")
    loaded = load_image(tmp_path / "la.png")
    out = save_result(tmp_path / "out.png", loaded.rgb, loaded)
    stored, kept_alpha = _stored_grey_alpha(out)
    assert np.array_equal(stored, grey) and np.array_equal(kept_alpha, alpha)
    with Image.open(out) as saved:  # Pillow's own reading of it: no damaged chunk
        saved.load()


def test_a_16_bit_grey_alpha_file_keeps_its_grey_profile(tmp_path):
    icc = grey_profile()
    for kind in ("png", "tif"):
        _write_source(tmp_path / f"la.{kind}", kind, icc)
        loaded = load_image(tmp_path / f"la.{kind}")
        assert loaded.grey and loaded.metadata.icc_profile == icc
        out = save_result(tmp_path / f"out-{kind}.{kind}", _filled(loaded), loaded)
        _stored_grey_alpha(out)
        assert load_image(out).metadata.icc_profile == icc


def test_a_16_bit_grey_alpha_file_given_colour_is_saved_as_16_bit_rgba(tmp_path):
    grey, alpha = _write_source(tmp_path / "la.png", "png")
    loaded = load_image(tmp_path / "la.png")
    out = save_result(tmp_path / "out.png", _filled(loaded, RED), loaded)
    stored = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert stored.dtype == np.uint16 and stored.shape == (H, W, 4)
    assert (stored[HOLE][..., :3] == np.array(RED[::-1]) * 257).all()  # BGR
    assert np.array_equal(stored[:HOLE[0].start, :, 3], alpha[:HOLE[0].start])
    assert np.array_equal(stored[:HOLE[0].start, :, 1], grey[:HOLE[0].start])


def test_a_floating_point_grey_alpha_tiff_opens_and_is_saved_in_floating_point(tmp_path):
    rng = np.random.default_rng(8)
    samples = rng.random((H, W, 2)).astype(np.float32)
    samples[2, 3, 0] = 1.75  # above full scale: kept where unchanged
    (tmp_path / "la.tif").write_bytes(_tiff_grey_alpha(samples))
    loaded = load_image(tmp_path / "la.tif")
    assert loaded.grey and loaded.source_depth == 32 and loaded.alpha is not None
    out = save_result(tmp_path / "out.tif", _filled(loaded), loaded)
    stored = tifffile.imread(out)
    assert stored.dtype == np.float32 and stored.shape == (H, W, 2)
    outside = np.ones((H, W), bool)
    outside[HOLE] = False
    assert np.array_equal(stored[outside], samples[outside])
    assert np.allclose(stored[HOLE][..., 0], 77 / 255)
    as_png = save_result(tmp_path / "out.png", _filled(loaded), loaded)
    stored16, alpha16 = _stored_grey_alpha(as_png)
    assert np.array_equal(alpha16[outside], deep_samples.as_uint16(samples[..., 1])[outside])
    assert np.array_equal(stored16[outside], deep_samples.as_uint16(samples[..., 0])[outside])


def test_a_turned_16_bit_grey_alpha_tiff_opens_upright(tmp_path):
    grey, alpha = _grey_alpha16()
    data = _tiff_grey_alpha(np.dstack([grey, alpha]), extratags=[(0x0112, "H", 1, 6)])
    loaded = decode_image(data, "turned.tif")
    assert loaded.rgb.shape == (W, H, 3)  # orientation 6: turned 90 degrees clockwise
    assert np.array_equal(loaded.deep_original[..., 0], np.rot90(grey, -1))
    assert np.array_equal(loaded.deep_original[..., 3], np.rot90(alpha, -1))


def test_a_white_is_zero_grey_alpha_tiff_opens_black_at_zero(tmp_path):
    grey, alpha = _grey_alpha16()
    data = _tiff_grey_alpha(np.dstack([65535 - grey, alpha]), photometric="miniswhite")
    loaded = decode_image(data, "inverted.tif")
    assert np.array_equal(loaded.deep_original[..., 0], grey)
    assert np.array_equal(loaded.deep_original[..., 3], alpha)


def test_a_premultiplied_grey_alpha_tiff_is_made_straight(tmp_path):
    grey, alpha = _grey_alpha16()
    alpha[:, :4] = 65535  # no zero alpha, so every grey level survives the division
    premultiplied = np.rint(grey.astype(np.float64) * alpha / 65535).astype(np.uint16)
    data = _tiff_grey_alpha(np.dstack([premultiplied, alpha]), extrasamples=("assocalpha",))
    loaded = decode_image(data, "premultiplied.tif")
    assert np.abs(loaded.deep_original[..., 0].astype(int) - grey).max() <= 2
    assert any("premultiplied" in note for note in loaded.notes)


# ----------------------------------------------------------------- profiles left out
def _grey_with_profile(tmp_path, icc: bytes):
    grey = np.tile(np.linspace(30, 220, W).astype(np.uint8), (H, 1))
    Image.fromarray(grey, "L").save(tmp_path / "bw.png", icc_profile=icc)
    return grey, load_image(tmp_path / "bw.png")


def test_a_grey_profile_left_out_of_a_result_with_colour_is_said(tmp_path):
    grey, loaded = _grey_with_profile(tmp_path, grey_profile())
    coloured = _filled(loaded, RED)
    note = left_out_profile(loaded.metadata, coloured, ".png", loaded.grey)
    assert note is not None and note.startswith("the grey colour profile was left out: the "
                                                "picture has colour now")
    assert "saved as sRGB" in note
    out = save_result(tmp_path / "out.png", coloured, loaded)
    with Image.open(out) as saved:
        assert saved.mode == "RGB" and "icc_profile" not in saved.info
        stored = np.asarray(saved)
    outside = np.ones((H, W), bool)
    outside[HOLE] = False
    assert np.array_equal(stored[outside], np.dstack([grey] * 3)[outside])  # not converted
    assert (stored[HOLE] == RED).all()
    for suffix in (".jpg", ".tif"):
        assert left_out_profile(loaded.metadata, coloured, suffix, loaded.grey) == note


def test_a_grey_profile_left_out_by_a_format_written_in_colour_is_said(tmp_path):
    _, loaded = _grey_with_profile(tmp_path, grey_profile())
    still_grey = _filled(loaded)
    for suffix in (".webp", ".WEBP", ".avif"):
        note = left_out_profile(loaded.metadata, still_grey, suffix, loaded.grey)
        assert note is not None and f"{suffix.lower()} files are written in colour" in note
    with Image.open(save_result(tmp_path / "out.webp", still_grey, loaded)) as saved:
        assert "icc_profile" not in saved.info


def test_no_profile_note_where_the_profile_is_written_or_nothing_is(tmp_path):
    _, loaded = _grey_with_profile(tmp_path, grey_profile())
    still_grey = _filled(loaded)
    for suffix in (".png", ".jpg", ".tif", ".tiff"):  # written grey, with its profile
        assert left_out_profile(loaded.metadata, still_grey, suffix, loaded.grey) is None
    for suffix in (".bmp", ".gif"):  # no place for any metadata: drops_metadata says so
        assert left_out_profile(loaded.metadata, still_grey, suffix, loaded.grey) is None
        assert drops_metadata(loaded.metadata, suffix)
    rgb_picture = np.dstack([still_grey[..., 0], still_grey[..., 0], still_grey[..., 0] // 2])
    assert left_out_profile(ImageMetadata(icc_profile=srgb_profile()), rgb_picture,
                            ".png") is None
    assert left_out_profile(ImageMetadata(), _filled(loaded, RED), ".png", True) is None


def test_a_grey_profile_given_with_a_picture_not_said_grey_is_said_left_out(tmp_path):
    _, loaded = _grey_with_profile(tmp_path, grey_profile())
    note = left_out_profile(loaded.metadata, _filled(loaded), ".png")
    assert note is not None and "it is written in colour (RGB)" in note
    with Image.open(save_image(tmp_path / "plain.png", _filled(loaded),
                               metadata=loaded.metadata)) as saved:
        assert saved.mode == "RGB" and "icc_profile" not in saved.info


def test_an_rgb_profile_left_out_of_a_picture_saved_grey_is_said(tmp_path):
    _, loaded = _grey_with_profile(tmp_path, srgb_profile())
    assert loaded.grey and loaded.metadata.icc_profile == srgb_profile()
    note = left_out_profile(loaded.metadata, _filled(loaded), ".png", loaded.grey)
    assert note is not None and note.startswith("the RGB colour profile was left out")
    assert left_out_profile(loaded.metadata, _filled(loaded, RED), ".png", loaded.grey) is None
