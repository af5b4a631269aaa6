"""16-bit pictures: opened, edited at 8 bits, saved at 16 bits with the original's precision
kept wherever the picture was not changed, and with the photo's profile and EXIF tags."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import tifffile
from PIL import ExifTags, Image

from engines.deep_samples import (
    as_uint16,
    encode_deep_tiff,
    encode_png16,
    restore_depth,
    to_8bit,
)
from engines.fileio import ImageFileError, encode_image, load_image, save_image
from tests.photos import phone_exif, wide_gamut_profile


def _deep_photo(height: int = 48, width: int = 64) -> np.ndarray:
    """``(H, W, 3)`` uint16 RGB whose samples are rarely multiples of 257, so that any
    trip through 8 bits shows."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(3)
    planes = [x * 1000 + 17, y * 1300 + 5, (x + y) * 500 + 3]
    noise = rng.integers(0, 200, (height, width, 3))
    return (np.stack(planes, -1) + noise).astype(np.uint16)


def _write_tiff16(path, pixels: np.ndarray, **options) -> None:
    tifffile.imwrite(path, pixels, photometric="rgb", metadata=None, **options)


def _read16(path) -> np.ndarray:
    """The saved file's samples as RGB(A) uint16, decoded by OpenCV (independent of ours)."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert pixels.dtype == np.uint16
    code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(pixels, code)


def test_to_8bit_rounds_to_the_nearest_level():
    samples = np.array([0, 128, 129, 257, 385, 386, 65535], np.uint16)
    assert to_8bit(samples).tolist() == [0, 0, 1, 1, 1, 2, 255]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_float_samples_round_to_full_scale_without_overflow(dtype):
    largest = np.finfo(dtype).max
    samples = np.array([-largest, -1e20, -0.5, 0.0, 0.5, 1.0, 2.0, 1e20, largest,
                        np.inf, -np.inf, np.nan], dtype)
    assert to_8bit(samples).tolist() == [0, 0, 0, 0, 128, 255, 255, 255, 255, 255, 0, 0]
    assert as_uint16(samples).tolist() == [0, 0, 0, 0, 32768, 65535, 65535, 65535, 65535,
                                           65535, 0, 0]


def test_restore_depth_keeps_unchanged_pixels_and_scales_changed_ones():
    original = _deep_photo(8, 10)
    edited = to_8bit(original)
    edited[2:4, 3:6] = (10, 200, 30)
    edited[6, 1, 0] += 1  # one channel of one pixel

    restored = restore_depth(edited, None, original)

    changed = np.zeros((8, 10), bool)
    changed[2:4, 3:6] = changed[6, 1] = True
    assert restored.dtype == np.uint16
    assert np.array_equal(restored[~changed], original[~changed])
    assert np.array_equal(restored[changed], edited[changed].astype(np.uint16) * 257)
    assert not np.array_equal(restored[~changed], edited[~changed].astype(np.uint16) * 257)


def test_restore_depth_handles_transparency():
    original = np.dstack([_deep_photo(6, 6), np.full((6, 6), 40000, np.uint16)])
    rgb, alpha = to_8bit(original[..., :3]), to_8bit(original[..., 3])
    alpha[0, 0] = 0  # made transparent: that pixel changed
    restored = restore_depth(rgb, alpha, original)
    assert restored.shape == (6, 6, 4)
    assert restored[0, 0, 3] == 0 and restored[0, 0, 0] == int(rgb[0, 0, 0]) * 257
    assert np.array_equal(restored[1:], original[1:])
    # transparency given to an opaque original: the RGB keeps its depth, alpha is 8-bit
    opaque = restore_depth(rgb, np.full((6, 6), 255, np.uint8), original[..., :3])
    assert np.array_equal(opaque[..., :3], original[..., :3])
    assert (opaque[..., 3] == 65535).all()


def test_restore_depth_refuses_an_original_of_another_size():
    with pytest.raises(ValueError, match="does not match"):
        restore_depth(np.zeros((4, 5, 3), np.uint8), None, np.zeros((5, 4, 3), np.uint16))
    with pytest.raises(ImageFileError, match="16-bit"):
        encode_image(np.zeros((4, 5, 3), np.uint8), ".png",
                     deep_original=np.zeros((5, 4, 3), np.uint16))


@pytest.mark.parametrize("source_ext, target_ext", [
    (".tif", ".tif"), (".tif", ".png"), (".png", ".tiff"), (".png", ".png")])
def test_an_edited_16_bit_picture_is_saved_at_16_bits(tmp_path, source_ext, target_ext):
    original = _deep_photo()
    source = tmp_path / f"deep{source_ext}"
    if source_ext == ".tif":
        _write_tiff16(source, original)
    else:
        cv2.imwrite(str(source), original[..., ::-1])
    loaded = load_image(source)
    assert loaded.source_depth == 16 and np.array_equal(loaded.deep_original, original)
    assert any("keeps 16 bits" in note for note in loaded.notes)
    edited = loaded.rgb.copy()
    edited[10:20, 30:50] = (250, 20, 20)

    saved = save_image(tmp_path / f"out{target_ext}", edited, deep_original=loaded.deep_original)

    samples = _read16(saved)
    outside = np.ones(edited.shape[:2], bool)
    outside[10:20, 30:50] = False
    assert np.array_equal(samples[outside], original[outside])  # every bit kept
    assert (samples[~outside] == (250 * 257, 20 * 257, 20 * 257)).all()
    reread = load_image(saved)
    assert reread.source_depth == 16 and np.array_equal(reread.rgb, edited)


def test_formats_without_16_bits_are_written_at_8(tmp_path):
    original = _deep_photo()
    _write_tiff16(tmp_path / "deep.tif", original)
    loaded = load_image(tmp_path / "deep.tif")
    for ext in (".jpg", ".webp", ".bmp"):
        saved = save_image(tmp_path / f"out{ext}", loaded.rgb, quality=100,
                           deep_original=loaded.deep_original)
        assert load_image(saved).source_depth == 8, ext
    assert np.array_equal(load_image(tmp_path / "out.bmp").rgb, loaded.rgb)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16_bit_files_keep_the_profile_and_every_exif_directory(tmp_path, ext):
    original = _deep_photo()
    exif = phone_exif(original[..., 0], orientation=1)
    exif[0x011A] = 300.0  # XResolution: the photo's, not the writer's default
    exif[0x0128] = 2  # inches
    icc = wide_gamut_profile()
    pixels = encode_png16(original, icc, exif.tobytes()) if ext == ".png" else \
        encode_deep_tiff(original, icc, exif.tobytes())
    (tmp_path / f"photo{ext}").write_bytes(pixels)

    with Image.open(tmp_path / f"photo{ext}") as result:
        assert result.info.get("icc_profile") == icc
        tags = result.getexif()
        assert tags[0x010F] == "PhoneMaker" and float(tags[0x011A]) == 300.0
        camera = tags.get_ifd(ExifTags.IFD.Exif)
        assert camera[0x9003] == "2024:06:01 12:00:00"
        assert (camera[0xA002], camera[0xA003]) == (64, 48)
        assert tags.get_ifd(ExifTags.IFD.GPSInfo)[2] == (48.0, 51.0, 24.0)
    assert np.array_equal(_read16(tmp_path / f"photo{ext}"), original)
    loaded = load_image(tmp_path / f"photo{ext}")
    assert loaded.metadata.icc_profile == icc and np.array_equal(loaded.deep_original, original)


def test_the_tiff_stays_valid_for_other_readers(tmp_path):
    """The directory appended for the EXIF tags is what every reader now starts from."""
    original = _deep_photo()
    alpha = np.linspace(0, 65535, original.shape[1], dtype=np.uint16)[None].repeat(48, 0)
    rgba = np.dstack([original, alpha])
    data = encode_deep_tiff(rgba, None, phone_exif(original[..., 0], orientation=1).tobytes())
    with tifffile.TiffFile(io.BytesIO(data)) as tiff:
        page = tiff.pages[0]
        assert len(tiff.pages) == 1
        assert page.tags["Make"].value == "PhoneMaker"
        assert tuple(page.tags["ExtraSamples"].value) == (2,)  # unassociated alpha
        assert np.array_equal(page.asarray(), rgba)


def test_16_bit_transparency_survives_a_round_trip(tmp_path):
    original = np.dstack([_deep_photo(), np.full((48, 64), 30000, np.uint16)])
    original[:, :5, 3] = 65535
    _write_tiff16(tmp_path / "cutout.tif", original, extrasamples=("unassalpha",))
    loaded = load_image(tmp_path / "cutout.tif")
    assert loaded.alpha is not None and loaded.deep_original.shape == (48, 64, 4)
    saved = save_image(tmp_path / "out.png", loaded.rgb, loaded.alpha,
                       deep_original=loaded.deep_original)
    assert np.array_equal(_read16(saved), original)


def test_opaque_16_bit_rgba_keeps_rgb_only(tmp_path):
    original = np.dstack([_deep_photo(), np.full((48, 64), 65535, np.uint16)])
    cv2.imwrite(str(tmp_path / "opaque.png"), original[..., [2, 1, 0, 3]])
    loaded = load_image(tmp_path / "opaque.png")
    assert loaded.alpha is None and loaded.deep_original.shape == (48, 64, 3)
    saved = save_image(tmp_path / "out.png", loaded.rgb, deep_original=loaded.deep_original)
    assert np.array_equal(_read16(saved), original[..., :3])


def test_a_16_bit_grey_picture_is_saved_as_16_bit_rgb(tmp_path):
    grey = _deep_photo()[..., 0]
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    loaded = load_image(tmp_path / "grey.png")
    saved = save_image(tmp_path / "out.tif", loaded.rgb, deep_original=loaded.deep_original)
    assert np.array_equal(_read16(saved), np.dstack([grey] * 3))



def test_a_turned_16_bit_photo_is_kept_upright(tmp_path):
    original = _deep_photo()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    (tmp_path / "turned.tif").write_bytes(encode_deep_tiff(original, None, exif.tobytes()))
    loaded = load_image(tmp_path / "turned.tif")
    upright = cv2.rotate(original, cv2.ROTATE_90_CLOCKWISE)
    assert loaded.rgb.shape == (64, 48, 3) and np.array_equal(loaded.deep_original, upright)
    saved = save_image(tmp_path / "out.tif", loaded.rgb, metadata=loaded.metadata,
                       deep_original=loaded.deep_original)
    assert np.array_equal(_read16(saved), upright)
    assert load_image(saved).rgb.shape == (64, 48, 3)  # not turned a second time


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_premultiplied_transparency_is_made_straight(tmp_path, dtype):
    """A TIFF with associated alpha stores colour x alpha; OpenCV leaves it so, which would
    darken every half-transparent pixel and save it darkened as straight alpha."""
    rng = np.random.default_rng(3)
    colour = rng.integers(2000, 65535, (16, 24, 3)).astype(np.float64)
    alpha = rng.integers(0, 65536, (16, 24)).astype(np.float64)
    alpha[0, :4] = 0
    alpha[1, :4] = 65535
    stored = np.dstack([colour * alpha[..., None] / 65535, alpha])
    if dtype == np.uint16:
        stored = np.rint(stored).astype(np.uint16)
    else:
        stored = (stored / 65535).astype(np.float32)
    tifffile.imwrite(tmp_path / "assoc.tif", stored, photometric="rgb",
                     extrasamples=("assocalpha",))

    loaded = load_image(tmp_path / "assoc.tif")

    visible = alpha >= 4096  # below, rounding of the stored colour dominates
    expected8 = np.rint(colour / 257)
    error = np.abs(loaded.rgb.astype(float) - expected8)[visible]
    assert error.max() <= 1
    assert (loaded.rgb[0, :4] == 0).all()  # fully transparent: no colour to recover
    assert np.array_equal(loaded.alpha, np.rint(alpha / 257).astype(np.uint8))
    assert any("premultiplied transparency" in note for note in loaded.notes)
    if dtype == np.uint16:
        assert np.array_equal(loaded.deep_original[1, :4, :3], colour[1, :4].astype(np.uint16))
        saved = save_image(tmp_path / "out.tif", loaded.rgb, loaded.alpha,
                           deep_original=loaded.deep_original)
        with tifffile.TiffFile(saved) as tiff:
            assert tiff.pages.first.extrasamples == (2,)  # unassociated
            written = tiff.asarray()
        assert np.array_equal(written, loaded.deep_original)


def test_a_floating_point_tiff_is_saved_in_floating_point(tmp_path):
    """HDR values above 1.0, negative ones and NaN stay wherever the picture was not edited;
    edited pixels are their 8-bit values over 255. As PNG, the picture is written at 16 bits."""
    rng = np.random.default_rng(5)
    hdr = (rng.random((30, 40, 3)) * 3.0).astype(np.float32)
    hdr[0, 0] = [np.nan, -0.25, 7.5]
    tifffile.imwrite(tmp_path / "hdr.tif", hdr, photometric="rgb")
    loaded = load_image(tmp_path / "hdr.tif")
    assert loaded.deep_original.dtype == np.float32
    assert any("saving it as TIFF keeps floating point" in note for note in loaded.notes)
    edited = loaded.rgb.copy()
    edited[10:20, 10:20] = [10, 200, 30]

    saved = save_image(tmp_path / "out.tif", edited, metadata=loaded.metadata,
                       deep_original=loaded.deep_original)

    written = tifffile.imread(saved)
    assert written.dtype == np.float32
    outside = np.ones((30, 40), bool)
    outside[10:20, 10:20] = False
    assert np.array_equal(written[outside], hdr[outside], equal_nan=True)
    assert np.allclose(written[10:20, 10:20], np.array([10, 200, 30]) / 255.0)
    png = save_image(tmp_path / "out.png", edited, deep_original=loaded.deep_original)
    as_png = load_image(png)
    assert as_png.deep_original.dtype == np.uint16
    assert np.array_equal(as_png.rgb, edited)


def test_restore_depth_in_floating_point_adds_opaque_alpha():
    original = np.full((2, 3, 3), 0.5, np.float64)
    original[0, 0] = 4.0  # over-range: shown as 255
    rgb = to_8bit(original)
    alpha = np.full((2, 3), 255, np.uint8)
    alpha[1, 2] = 0
    restored = restore_depth(rgb, alpha, original)
    assert restored.dtype == np.float64 and restored.shape == (2, 3, 4)
    assert restored[0, 0, 0] == 4.0 and (restored[0, :, 3] == 1.0).all()
    assert restored[1, 2, 3] == 0.0  # the changed alpha, from 8 bits
    assert to_8bit(np.array([np.nan, -1.0, 0.5, 2.0])).tolist() == [0, 0, 128, 255]


def test_over_range_float_samples_an_edit_wrote_over_are_not_brought_back():
    """White filled over a lamp brighter than 1.0 shows 255 where the lamp did: its 8-bit
    values match, but restoring them would bring the removed lamp back into the file."""
    original = np.full((1, 4, 3), 0.5, np.float32)
    original[0, 0] = 7.5  # the lamp, in the hole
    original[0, 1] = 3.0  # a bright sky outside the hole
    original[0, 2] = np.nan  # shown as 0, in the hole
    rgb = to_8bit(original)  # the fill happens to equal what was shown
    edited = np.array([[True, False, True, True]])

    restored = restore_depth(rgb, None, original, edited)

    assert (restored[0, 0] == 1.0).all()  # from the 8-bit fill, not the lamp
    assert (restored[0, 1] == 3.0).all()  # untouched: kept above 1.0
    assert (restored[0, 2] == 0.0).all()
    assert (restored[0, 3] == 0.5).all()  # in range: the original sample, as for 16 bits
    assert np.array_equal(restore_depth(rgb, None, original), original, equal_nan=True)
