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
    # a float picture's samples outside 0..1 are converted too (beyond the table: see
    # the tests below); a NaN pixel is kept as it was
    floats = _float_photo()
    loaded = load_image(_write(tmp_path / "in.tif", floats, icc))
    bare = _read(save_result(tmp_path / "bare.tif", loaded.rgb, loaded, keep_metadata=False))
    assert (bare[:80] != floats[:80]).mean() > 0.5  # the photo is converted
    assert np.allclose(bare[80:90, :40], 2.0, atol=1e-6)  # white above 1.0 stays so
    assert (bare[90:, :40, 0] < 0).all() and (bare[90:, :40] != floats[90:, :40]).any(axis=2).all()
    assert np.isnan(bare[95, 100, 0]) and np.array_equal(bare[95, 100, 1:], (0.5, 0.5))


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


# ------------------------------------------------ table profiles beyond 0..1 (QA38 F2)


def _noisy_float_picture() -> np.ndarray:
    """float32 RGB, 60x80, with grain of sigma 1e-4 (a float camera's or merge's noise)
    about colours at the edges of 0..1: saturated greens at G = 1.0 (rows 0-19), near
    white (20-29), near black (30-39), and a gradient (40-59), so that about a third of
    the pixels have a sample just outside 0..1."""
    y, x = np.mgrid[0:60, 0:80]
    gradient = np.stack([x / 79, y / 59, (x + y) / 138], -1)
    picture = gradient.copy()
    picture[:20] = (0.05, 1.0, 0.0)
    picture[:20, :, 2] = 0.05 + gradient[:20, :, 0] * 0.2
    picture[20:30] = 1.0
    picture[20:30, :, 2] = 1 - gradient[20:30, :, 0] * 0.1
    picture[30:40] = gradient[30:40] * 0.002
    noise = np.random.default_rng(1).normal(0, 1e-4, picture.shape)
    return (picture + noise).astype(np.float32)


def _outside(samples: np.ndarray) -> np.ndarray:
    """Pixels with a sample outside 0..1 (or NaN)."""
    return ~((samples >= 0) & (samples <= 1)).all(axis=-1)


def test_float_noise_about_0_and_1_converts_as_its_neighbours_through_a_table(tmp_path):
    """QA audit 38, F2: pixels with a sample a hair outside 0..1 were left unconverted,
    20-55 levels from their neighbours; now they convert with them, and as the same
    colour space's matrix profile converts them."""
    picture = _noisy_float_picture()
    outside = _outside(picture)
    assert 0.2 < outside.mean() < 0.5
    loaded = load_image(_write(tmp_path / "in.tif", picture, _table_profile()))
    bare = _read(save_result(tmp_path / "bare.tif", loaded.rgb, loaded, keep_metadata=False))
    assert bare.dtype == np.float32 and np.isfinite(bare).all()
    greens = outside[:20]  # converted, not written as they were (white stays white)
    assert (bare[:20][greens] != picture[:20][greens]).any(axis=1).all()
    written = deep_samples.to_8bit(bare).astype(int)
    for axis in (0, 1):  # neighbours alike in the file are alike converted
        source, levels = np.swapaxes(picture, 0, axis), np.swapaxes(written, 0, axis)
        alike = np.abs(source[1:] - source[:-1]).max(axis=2) < 0.002
        assert alike.sum() > 1000
        assert np.abs(levels[1:] - levels[:-1]).max(axis=2)[alike].max() <= 2
    # as the matrix profile with the same primaries and gamma converts them, as closely as
    # the pixels within 0..1 (the table is of LittleCMS's 8-bit conversion, clipped to
    # sRGB's gamut, so up to 10-17 levels off at the gamut's edge)
    matrix = deep_samples.in_srgb(picture, deep_srgb_conversion(wide_gamut_profile()))
    off = np.abs(written - deep_samples.to_8bit(matrix).astype(int)).max(axis=2)
    assert off[outside].max() <= off[~outside].max() and off[outside].mean() < 1
    assert off[20:40][outside[20:40]].max() <= 1  # near white and black: within a level


def test_a_table_goes_on_beyond_0_and_1_with_the_excess_added():
    """Beyond the lattice a sample is looked up clamped to 0..1 and its excess added back;
    within 0..1 the interpolation is untouched. On a table of an affine map (which
    tetrahedral interpolation reproduces) both are exact."""
    size = 5
    mix = np.array([[0.8, 0.1, 0.05], [0.15, 0.7, 0.1], [0.05, 0.2, 0.85]])
    levels = np.linspace(0, 1, size)
    lattice = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1)
    table = deep_samples.ColourTable((lattice @ mix.T + 0.01).astype(np.float32))
    rng = np.random.default_rng(2)
    for dtype in (np.float32, np.float64):
        samples = rng.uniform(-0.3, 1.3, (4000, 3)).astype(dtype)
        samples[:5] = [(1.0, 1.0, 1.0), (1.00016, 1.0, 1.0), (-1e-4, 0.5, 0.5), (0, 0.5, 0.5),
                       (2.0, 2.0, 2.0)]
        converted = table(samples)
        assert converted.dtype == dtype
        clamped = np.clip(samples.astype(np.float64), 0, 1)
        expected = clamped @ mix.T + 0.01 + (samples - clamped)
        assert np.abs(converted - expected).max() < 1e-5
        assert np.abs(converted[1] - converted[0] - (0.00016, 0, 0)).max() < 1e-6
        assert np.abs(converted[2] - converted[3] - (-1e-4, 0, 0)).max() < 1e-6
        assert np.allclose(converted[4], mix.sum(axis=1) + 0.01 + 1.0, atol=1e-6)
        # the pixels within 0..1 convert alike alone, bit for bit
        inside = ~_outside(samples)
        assert 0.2 < inside.mean() < 0.6
        assert np.array_equal(converted[inside], table(samples[inside]))
    # 16-bit samples are within 0..1 by nature: converted clipped to 0..65535, as before
    white = np.clip(mix.sum(axis=1) + 0.01, 0, 1) * 65535
    assert np.abs(table(np.array([[0, 0, 0], [65535, 65535, 65535]], np.uint16))
                  - [[655.35] * 3, white]).max() <= 0.5


def test_highlights_through_a_table_profile_stay_above_1_as_through_its_matrix():
    picture = _float_photo()
    table = deep_samples.in_srgb(picture, deep_srgb_conversion(_table_profile()))
    matrix = deep_samples.in_srgb(picture, deep_srgb_conversion(wide_gamut_profile()))
    # the white highlight at 2.0: white, 2.0 (the matrix's curves: 1.94)
    highlight, matrix_highlight = table[80:90, :40], matrix[80:90, :40]
    assert np.ptp(highlight) < 1e-6 and 1.9 < highlight.min() <= 2.0
    assert np.abs(highlight - matrix_highlight).max() < 0.1
    # the orange ramp from 0.5 to 2.0 goes on through 1.0 without a jump and over range
    red = table[85, 40:, 0].astype(np.float64)
    steps = np.diff(red)
    assert (steps >= 0).all() and steps.max() < 1.5 * np.median(steps)
    assert red[-1] > 1.8 and abs(red[-1] - matrix[85, -1, 0]) < 0.3
    crossing = np.argmax(picture[85, 40:, 0] > 1)
    assert steps[crossing - 1] <= np.median(steps) * 1.01  # the excess from 1.0 on: slope 1
    assert np.ptp(table[85, 40:, 1:], axis=0).max() < 0.002  # green and blue: converted
    # below black: below black, as the matrix keeps it, the other channels converted
    assert (table[90:, :40, 0] < 0).all() and (matrix[90:, :40, 0] < 0).all()
    assert np.abs(table[90:, :40, 1:] - matrix[90:, :40, 1:]).max() < 0.003
    assert np.isnan(table[95, 100, 0]) and np.array_equal(table[95, 100, 1:], (0.5, 0.5))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("icc", [_adobe_rgb(), _table_profile()], ids=["matrix", "table"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_float_samples_convert_to_huge_finite_values(icc, dtype):
    """Samples far beyond any light (1e17 and up, to the float type's largest) neither
    overflow to inf nor become NaN: they stay huge, in order, and round to white."""
    conversion = deep_srgb_conversion(icc)
    largest = float(np.finfo(dtype).max)
    values = [1e3, 1e16, 1e17, 1e18, 1e20, 1e30, largest]
    neutral = np.array([[value] * 3 for value in values], dtype)
    coloured = np.array([[value, 0.5, 0.2] for value in values], dtype)
    negative = -neutral
    for samples in (neutral, coloured, negative):
        converted = conversion(samples)
        assert converted.dtype == dtype and np.isfinite(converted).all()
        assert (deep_samples.to_8bit(converted) == (0 if samples is negative else 255)).all(
            axis=0)[0]
    red = conversion(neutral)[:, 0].astype(np.float64)
    assert (np.diff(red) >= 0).all() and red[0] > 100
