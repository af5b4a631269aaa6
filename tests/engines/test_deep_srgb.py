"""Saving a deep (16-bit or floating-point) picture without its colour profile (QA audit 37,
F1): its own samples are converted to sRGB at their depth, so the file keeps its tonal
depth, not the 8-bit conversion times 257 that the status called "16 bits per channel"."""

from __future__ import annotations

import io
import struct

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from engines import deep_samples, fileio
from engines.fileio import deep_srgb_conversion, load_image, save_result
from engines.icc import shaper_matrix, tone_curve
from tests.conftest import SAMPLES
from tests.photos import (
    _curve,
    _description,
    _icc,
    _xyz,
    srgb_profile,
    wide_gamut_profile,
)

WIDE = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
# Adobe RGB (1998) to sRGB as published (both D65): RGB to XYZ, then XYZ to linear sRGB
_ADOBE_TO_XYZ = np.array([[0.5767309, 0.1855540, 0.1881852],
                          [0.2973769, 0.6273491, 0.0752741],
                          [0.0270343, 0.0706872, 0.9911085]])
_XYZ_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                         [-0.9692660, 1.8760108, 0.0415560],
                         [0.0556434, -0.2040259, 1.0572252]])


def _adobe_rgb_in_srgb(samples: np.ndarray) -> np.ndarray:
    """Adobe RGB values (1.0 = full scale, 0..1) in sRGB by the published formulas, in
    8-bit levels, clipped to sRGB's gamut: a reference independent of LittleCMS."""
    linear = np.power(samples, 563 / 256) @ (_XYZ_TO_SRGB @ _ADOBE_TO_XYZ).T
    return deep_samples.srgb_encoded(np.clip(linear, 0, 1)) * 255


def _adobe_rgb() -> bytes:
    with Image.open(SAMPLES / "rocket.jpg") as picture:
        return picture.info["icc_profile"]


def _as_shown(rgb: np.ndarray, icc: bytes) -> np.ndarray:
    """``rgb`` (8-bit) as the editor shows it and 8-bit saving converts it (LittleCMS)."""
    converted = ImageCms.profileToProfile(
        Image.fromarray(rgb), ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    return np.asarray(converted).astype(int)


def _deep_photo(size: tuple[int, int] = (160, 240)) -> np.ndarray:
    """16-bit RGB: a crop of the bundled photo with detail below 8 bits (grain under one
    8-bit level), as a 16-bit scan or raw conversion has."""
    with Image.open(SAMPLES / "rocket.jpg") as picture:
        rgb = np.asarray(picture.convert("RGB"))[100:100 + size[0], 200:200 + size[1]]
    grain = np.random.default_rng(0).integers(0, 200, rgb.shape).astype(np.uint16)
    return rgb.astype(np.uint16) * 257 + grain


def _write(path, samples: np.ndarray, icc: bytes | None):
    encode = deep_samples.encode_png16 if path.suffix == ".png" else \
        deep_samples.encode_deep_tiff
    path.write_bytes(encode(samples, icc))
    return path


def _read(path) -> np.ndarray:
    """The samples of a saved file as stored (RGB, uint16 or float)."""
    if path.suffix == ".tif":
        return tifffile.imread(path)
    samples = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(samples, cv2.COLOR_BGRA2RGBA if samples.shape[2] == 4
                        else cv2.COLOR_BGR2RGB)


def _distinct(samples: np.ndarray) -> int:
    return len(np.unique(samples))


def _para(function: int, *parameters: float) -> bytes:
    """An ICC parametric curve ('para') of the given type."""
    return (b"para" + bytes(4) + struct.pack(">H", function) + bytes(2)
            + b"".join(struct.pack(">i", round(value * 65536)) for value in parameters))


def _table_curve(gamma: float, count: int = 1024) -> bytes:
    """An ICC sampled curve ('curv' with a table) of a gamma."""
    table = np.rint(np.linspace(0, 1, count) ** gamma * 65535).astype(">u2")
    return b"curv" + bytes(4) + struct.pack(">I", count) + table.tobytes()


def _profile(name: str, colorants, curves: list[bytes], more=()) -> bytes:
    return _icc(b"RGB ", [(b"desc", _description(name)), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
                          *((tag, _xyz(*xyz)) for tag, xyz in
                            zip((b"rXYZ", b"gXYZ", b"bXYZ"), colorants)),
                          *zip((b"rTRC", b"gTRC", b"bTRC"), curves), *more])


def _a2b0(colorants, gamma: float = 2.2, swapped: bool = False) -> bytes:
    """A lut16 (mft2) A2B0 tag from RGB to the XYZ connection space: per-channel input
    tables of ``gamma``, a 2x2x2 colour table holding the colorants' sums (exact for a
    matrix), identity output tables; red and green exchanged if ``swapped``."""
    matrix = np.array(colorants).T
    if swapped:
        matrix = matrix[:, [1, 0, 2]]
    corners = [matrix @ (red, green, blue) for red in (0, 1) for green in (0, 1)
               for blue in (0, 1)]
    clut = np.clip(np.rint(np.array(corners) * 32768), 0, 65535).astype(">u2")  # u1.15 XYZ
    curve = np.rint(np.linspace(0, 1, 256) ** gamma * 65535).astype(">u2")
    identity = np.array([0, 65535], ">u2")
    eye = b"".join(struct.pack(">i", 65536 if index % 4 == 0 else 0) for index in range(9))
    return (b"mft2" + bytes(4) + bytes([3, 3, 2, 0]) + eye + struct.pack(">HH", 256, 2)
            + curve.tobytes() * 3 + clut.tobytes() + identity.tobytes() * 3)


def _table_profile() -> bytes:
    """A profile with colour tables only (A2B0), no colorants or tone curves: the wide
    gamut of :func:`wide_gamut_profile` the way printer and camera profiles are built."""
    return _icc(b"RGB ", [(b"desc", _description("Wide Table RGB")),
                          (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"A2B0", _a2b0(WIDE))])


def _lattice_16(step: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """8-bit colours 0, ``step``, ..., 255 on each axis: ``(N, 3)`` uint8, and the same at
    16 bits (times 257)."""
    colours = fileio._lattice(step)
    return colours, colours.astype(np.uint16) * 257


# ------------------------------------------------------------------- 16-bit files


@pytest.mark.parametrize("icc", [_adobe_rgb(), wide_gamut_profile()],
                         ids=["Adobe RGB", "wide test"])
@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_a_16_bit_picture_saved_without_its_profile_keeps_its_tonal_depth(tmp_path, icc, ext):
    deep = _deep_photo()
    loaded = load_image(_write(tmp_path / f"in{ext}", deep, icc))
    kept = _read(save_result(tmp_path / f"kept{ext}", loaded.rgb, loaded))
    bare = _read(save_result(tmp_path / f"bare{ext}", loaded.rgb, loaded, keep_metadata=False))
    assert bare.dtype == np.uint16 and np.array_equal(kept, deep)
    # the bug: 267 distinct values, 100 % of them an 8-bit level times 257
    assert _distinct(bare) >= 0.9 * _distinct(kept)
    assert (bare % 257 == 0).mean() < 0.05  # the 8-bit levels: black, white, and by chance
    # reduced to 8 bits, what the 8-bit conversion gives, within a level but where that
    # bends so sharply that the samples' own detail moves it by more (a few pixels)
    off = np.abs(deep_samples.to_8bit(bare).astype(int) - _as_shown(loaded.rgb, icc))
    assert (off.max(axis=2) <= 1).mean() > 0.95 and off.max() <= 5
    with Image.open(tmp_path / f"bare{ext}") as picture:
        assert "icc_profile" not in picture.info


def test_the_16_bit_conversion_is_adobe_rgbs_as_published(tmp_path):
    """Against the published Adobe RGB (1998) to sRGB formulas, the written 16-bit samples
    are within a tenth of an 8-bit level; the 8-bit conversion of their rounding is not
    (several levels where the conversion bends sharply): the deep one is the more exact."""
    deep = _deep_photo()
    loaded = load_image(_write(tmp_path / "in.png", deep, _adobe_rgb()))
    bare = _read(save_result(tmp_path / "bare.png", loaded.rgb, loaded, keep_metadata=False))
    published = _adobe_rgb_in_srgb(deep / 65535.0)
    assert np.abs(bare / 257.0 - published).max() < 0.1
    assert np.abs(_as_shown(loaded.rgb, _adobe_rgb()) - published).max() > 1


def test_every_8_bit_colour_at_16_bits_converts_as_littlecms_converts_it_at_8():
    colours, deep = _lattice_16(step=3)
    for icc in (_adobe_rgb(), wide_gamut_profile()):
        conversion = deep_srgb_conversion(icc)
        assert isinstance(conversion, deep_samples.ShaperMatrix)
        transform = fileio.srgb_conversion(icc)[0]
        off = np.abs(conversion(deep) / 257.0 - fileio._converted(colours, transform))
        assert off.max() < 0.9  # its rounding (0.5) and LittleCMS's fixed point


def test_a_filled_16_bit_picture_gets_the_8_bit_conversion_where_filled(tmp_path):
    deep = _deep_photo()
    icc = _adobe_rgb()
    loaded = load_image(_write(tmp_path / "in.tif", deep, icc))
    edited = loaded.rgb.copy()
    hole = np.zeros(edited.shape[:2], bool)
    hole[40:70, 60:120] = True
    edited[hole] = (40, 200, 60)
    bare = _read(save_result(tmp_path / "bare.tif", edited, loaded, keep_metadata=False,
                             edited=hole))
    shown = _as_shown(edited, icc)
    assert np.array_equal(bare[hole], (shown[hole] * 257).astype(np.uint16))
    outside = bare[~hole]
    assert (outside % 257 == 0).mean() < 0.05
    assert np.abs(deep_samples.to_8bit(outside).astype(int) - shown[~hole]).max() <= 5


def test_transparency_is_kept_as_it_was(tmp_path):
    deep = _deep_photo((40, 60))
    alpha = np.tile(np.linspace(0, 65535, 60).astype(np.uint16), (40, 1))
    loaded = load_image(_write(tmp_path / "in.png", np.dstack([deep, alpha]), _adobe_rgb()))
    bare = _read(save_result(tmp_path / "bare.png", loaded.rgb, loaded, keep_metadata=False))
    assert bare.shape == (40, 60, 4) and np.array_equal(bare[..., 3], alpha)
    assert (bare[..., :3] % 257 == 0).mean() < 0.05


@pytest.mark.parametrize("icc", [None, srgb_profile()], ids=["no profile", "sRGB"])
@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_an_srgb_or_profile_less_deep_picture_is_written_as_it_was(tmp_path, icc, ext):
    deep = _deep_photo((50, 70))
    loaded = load_image(_write(tmp_path / f"in{ext}", deep, icc))
    assert deep_srgb_conversion(icc) is None
    bare = _read(save_result(tmp_path / f"bare{ext}", loaded.rgb, loaded,
                             keep_metadata=False))
    assert bare.dtype == np.uint16 and np.array_equal(bare, deep)


# ------------------------------------------------------------------- floating point


def _float_photo() -> np.ndarray:
    """float32 RGB, 1.0 at full scale: the photo's colours (finer than 8 bits) in rows
    0-79; a white highlight at 2.0, a saturated orange rising from 0.5 to 2.0 across 1.0,
    a colour below black and a NaN in rows 80-99."""
    picture = (_deep_photo((100, 120)) / np.float32(65535)).astype(np.float32)
    picture[80:90, :40] = 2.0
    picture[80:90, 40:] = (0.3, 0.15, 0.05)
    picture[80:90, 40:, 0] = np.linspace(0.5, 2.0, 80, dtype=np.float32)
    picture[90:, :40] = (-0.02, 0.3, 0.3)
    picture[95, 100] = (np.nan, 0.5, 0.5)
    return picture


def test_a_floating_point_tiff_is_converted_at_its_depth_unclipped(tmp_path):
    picture = _float_photo()
    icc = _adobe_rgb()
    loaded = load_image(_write(tmp_path / "in.tif", picture, icc))
    kept = _read(save_result(tmp_path / "kept.tif", loaded.rgb, loaded))
    bare = _read(save_result(tmp_path / "bare.tif", loaded.rgb, loaded, keep_metadata=False))
    assert bare.dtype == np.float32 and np.array_equal(kept, picture, equal_nan=True)
    photo = bare[:80]
    assert _distinct(photo) >= 0.9 * _distinct(kept[:80])
    # in range: the published conversion, unbounded (a colour outside sRGB's gamut keeps a
    # value outside 0..1, which the file can hold), and within a level of the 8-bit one but
    # where the conversion bends sharply
    published = _adobe_rgb_in_srgb(picture[:80].astype(np.float64))
    assert np.abs(np.clip(photo, 0, 1) * 255 - published).max() < 0.1
    assert ((photo < 0) | (photo > 1)).any()
    off = np.abs(deep_samples.to_8bit(photo).astype(int) - _as_shown(loaded.rgb, icc)[:80])
    assert (off.max(axis=2) <= 1).mean() > 0.95
    # over range: a white highlight at 2.0 stays white and as bright (Adobe RGB's curve and
    # sRGB's differ above 1.0 as below): not clipped to 1.0
    highlight = bare[80:90, :40]
    assert np.ptp(highlight) < 1e-4 and 1.9 < highlight.min() < 2.0
    # the orange ramp goes on smoothly through 1.0, where the file's values leave 0..1
    red = bare[85, 40:, 0]
    steps = np.diff(red.astype(np.float64))
    assert (steps > 0).all() and steps.max() < 1.5 * np.median(steps)
    assert red[-1] > 2.0  # more saturated in sRGB's numbers, and over range
    # below black: kept below black, not clipped to 0
    assert (bare[90:, :40, 0] < 0).all()
    # a NaN pixel is kept as it was
    assert np.isnan(bare[95, 100, 0]) and np.array_equal(bare[95, 100, 1:], (0.5, 0.5))


def test_a_floating_point_picture_saved_as_png_is_16_bit_converted(tmp_path):
    picture = _float_photo()
    loaded = load_image(_write(tmp_path / "in.tif", picture, _adobe_rgb()))
    bare = _read(save_result(tmp_path / "bare.png", loaded.rgb, loaded, keep_metadata=False))
    assert bare.dtype == np.uint16
    assert (bare[:80] % 257 == 0).mean() < 0.05
    assert (bare[80:90, :40] == 65535).all()  # PNG clips the highlight to white


def test_a_floating_point_picture_without_a_profile_is_written_as_it_was(tmp_path):
    picture = _float_photo()
    loaded = load_image(_write(tmp_path / "in.tif", picture, None))
    bare = _read(save_result(tmp_path / "bare.tif", loaded.rgb, loaded, keep_metadata=False))
    assert np.array_equal(bare, picture, equal_nan=True)


# ------------------------------------------------------------------- profiles


@pytest.mark.parametrize("curves", [
    [_curve(2.2)] * 3,
    [_curve(1.8), _curve(2.2), _curve(2.6)],
    [_para(0, 2.2)] * 3,
    [_para(3, 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)] * 3,  # Display P3's
    [_para(4, 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045, 0, 0)] * 3,
    [_table_curve(1.8)] * 3,
], ids=["gamma", "three gammas", "para 0", "para 3", "para 4", "table"])
def test_matrix_profiles_are_converted_by_their_own_curves_and_matrix(curves):
    """Their tone curves read as LittleCMS reads them: the 16-bit conversion agrees with
    LittleCMS's 8-bit one on every 8-bit colour of a lattice within its rounding."""
    p3 = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
    icc = _profile("Test", p3, curves)
    conversion = deep_srgb_conversion(icc)
    assert isinstance(conversion, deep_samples.ShaperMatrix)
    colours, deep = _lattice_16(step=3)
    expected = fileio._converted(colours, fileio.srgb_conversion(icc)[0])
    assert np.abs(conversion(deep) / 257.0 - expected).max() < 0.9


def test_tone_curves_go_on_beyond_0_and_1():
    values = np.array([-0.5, -0.01, 0.0, 0.02, 0.5, 1.0, 1.5])
    gamma = tone_curve(_curve(2.0))(values)
    assert np.allclose(gamma, [-0.25, -0.0001, 0, 0.0004, 0.25, 1, 2.25], atol=2e-3)
    srgb = tone_curve(_para(3, 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    def power(value):
        return ((value + 0.055) / 1.055) ** 2.4
    assert np.allclose(srgb(values), [-power(0.5), -0.01 / 12.92, 0, 0.02 / 12.92, power(0.5),
                                      1, power(1.5)], atol=1e-4)
    # type 2, with an offset at 0: mirrored about its value there
    offset = tone_curve(_para(2, 1.0, 1.0, 0.0, 0.1))(np.array([-0.2, 0.0, 0.2]))
    assert np.allclose(offset, [-0.1, 0.1, 0.3], atol=1e-4)
    table = tone_curve(_table_curve(1.0, 5))(np.array([-0.5, 0.5, 2.0]))
    assert np.allclose(table, [-0.5, 0.5, 2.0], atol=1e-4)
    with pytest.raises(ValueError):
        tone_curve(b"sf32" + bytes(12))


def test_a_table_profile_is_converted_through_a_table_of_littlecms_conversions(tmp_path):
    icc = _table_profile()
    conversion = deep_srgb_conversion(icc)
    assert isinstance(conversion, deep_samples.ColourTable)
    colours, deep = _lattice_16(step=5)
    off = np.abs(conversion(deep) / 257.0 - fileio._converted(
        colours, fileio.srgb_conversion(icc)[0])).max(axis=1)
    assert (off <= 1).mean() > 0.98 and off.mean() < 0.3
    photo = _deep_photo()
    loaded = load_image(_write(tmp_path / "in.png", photo, icc))
    kept = _read(save_result(tmp_path / "kept.png", loaded.rgb, loaded))
    bare = _read(save_result(tmp_path / "bare.png", loaded.rgb, loaded, keep_metadata=False))
    assert _distinct(bare) >= 0.9 * _distinct(kept)
    # a float picture's samples outside 0..1 have no table: kept as they were
    floats = _float_photo()
    loaded = load_image(_write(tmp_path / "in.tif", floats, icc))
    bare = _read(save_result(tmp_path / "bare.tif", loaded.rgb, loaded, keep_metadata=False))
    assert np.array_equal(bare[80:90, :40], floats[80:90, :40])
    assert (bare[:80] != floats[:80]).mean() > 0.5  # the photo is converted


def test_curves_and_matrix_that_littlecms_does_not_use_are_not_used():
    """A profile whose colour table (which LittleCMS prefers) differs from its colorants
    and curves: those would convert otherwise than the editor shows, so a table is made."""
    icc = _profile("Mixed", WIDE, [_curve(2.2)] * 3, [(b"A2B0", _a2b0(WIDE, swapped=True))])
    assert shaper_matrix(icc) is not None
    assert isinstance(deep_srgb_conversion(icc), deep_samples.ColourTable)


def test_restore_depth_compares_with_the_colours_shown():
    original = np.full((2, 3, 3), 1000, np.uint16)
    rgb = np.full((2, 3, 3), 9, np.uint8)
    rgb[0, 0] = 10
    shown = np.full((2, 3, 3), 9, np.uint8)
    restored = deep_samples.restore_depth(rgb, None, original, shown=shown)
    assert np.array_equal(restored[0, 0], (2570, 2570, 2570))  # changed: times 257
    assert (restored.reshape(-1, 3)[1:] == 1000).all()  # unchanged: the original's
    with pytest.raises(ValueError):
        deep_samples.restore_depth(rgb, None, original, shown=shown[:1])
