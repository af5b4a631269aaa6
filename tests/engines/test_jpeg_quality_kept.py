"""A JPEG saved again as JPEG keeps its original's quality (estimated from its quantisation
tables, as ImageMagick does) and chroma subsampling, so a q50 photo does not double in size
and a q100 one does not lose quality; other originals are written at 95, and a quality
asked for explicitly wins."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from engines.fileio import (
    DEFAULT_QUALITY,
    ImageMetadata,
    SourceFormat,
    encode_image,
    estimate_jpeg_quality,
    load_image,
    save_image,
    save_result,
)
from tests.photos import phone_exif

_SUBSAMPLINGS = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}  # Pillow's get_sampling numbers


def _photo(height: int = 192, width: int = 256, seed: int = 0) -> np.ndarray:
    """Smooth shading with texture and edges, as a photo has: JPEG's quality shows in it."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    texture = rng.normal(0, 12, (height, width, 3))
    rgb = np.dstack([120 + 80 * np.sin(x / 23) + 0.2 * y,
                     100 + 60 * np.cos(y / 17) + 40 * (x > width / 2),
                     90 + 0.4 * x + 30 * np.sin((x + y) / 9)]) + texture
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _hole(shape: tuple[int, ...]) -> np.ndarray:
    hole = np.zeros(shape[:2], bool)
    hole[80:112, 100:140] = True
    return hole


def _written(path, quality: int, subsampling: str, exif: bool) -> None:
    options = {"exif": phone_exif(_photo(), orientation=1).tobytes()} if exif else {}
    Image.fromarray(_photo()).save(path, "JPEG", quality=quality,
                                   subsampling=subsampling, **options)


def _storage(path) -> tuple[int | None, int]:
    """The quality estimated from a file's tables and its subsampling, as Pillow reads them."""
    with Image.open(path) as picture:
        return (estimate_jpeg_quality(picture.quantization),
                JpegImagePlugin.get_sampling(picture))


def _edited(rgb: np.ndarray) -> np.ndarray:
    edited = rgb.copy()
    edited[_hole(rgb.shape)] = (200, 30, 30)
    return edited


@pytest.mark.parametrize("exif", [False, True], ids=["opencv", "pillow"])  # the encoders
@pytest.mark.parametrize("subsampling", ["4:2:0", "4:4:4"])
@pytest.mark.parametrize("quality", [50, 75, 95, 100])
def test_a_jpeg_is_saved_at_its_quality_and_subsampling(tmp_path, quality, subsampling,
                                                        exif):
    original = tmp_path / "photo.jpg"
    _written(original, quality, subsampling, exif)
    loaded = load_image(original)
    assert loaded.metadata.source.jpeg_quality == quality
    assert loaded.metadata.source.jpeg_subsampling == subsampling
    assert bool(loaded.metadata) is exif  # with EXIF Pillow writes it, without OpenCV
    saved = save_result(tmp_path / "out.jpg", _edited(loaded.rgb), loaded)
    estimated, sampling = _storage(saved)
    assert abs(estimated - quality) <= 1
    assert sampling == _SUBSAMPLINGS[subsampling]
    # and again: saving the saved file keeps them, save after save
    again = load_image(saved)
    assert again.metadata.source.jpeg_quality == estimated
    assert again.metadata.source.jpeg_subsampling == subsampling


@pytest.mark.parametrize("keep_metadata", [True, False])
def test_a_low_quality_jpeg_keeps_its_size(tmp_path, keep_metadata):
    original = tmp_path / "photo.jpg"
    _written(original, 50, "4:2:0", exif=True)
    loaded = load_image(original)
    saved = save_result(tmp_path / "out.jpg", _edited(loaded.rgb), loaded,
                        keep_metadata=keep_metadata)
    at_95 = save_image(tmp_path / "at95.jpg", _edited(loaded.rgb), quality=95)
    assert saved.stat().st_size < 1.3 * original.stat().st_size
    assert at_95.stat().st_size > 1.5 * original.stat().st_size  # what was written before


def test_a_png_saved_as_jpeg_is_written_at_95(tmp_path):
    Image.fromarray(_photo()).save(tmp_path / "photo.png")
    loaded = load_image(tmp_path / "photo.png")
    assert loaded.metadata.source.jpeg_quality is None
    saved = save_result(tmp_path / "out.jpg", _edited(loaded.rgb), loaded)
    assert _storage(saved) == (DEFAULT_QUALITY, _SUBSAMPLINGS["4:2:0"])  # encoder defaults


@pytest.mark.parametrize("exif", [False, True], ids=["opencv", "pillow"])
def test_an_explicit_quality_wins_the_subsampling_stays(tmp_path, exif):
    _written(tmp_path / "photo.jpg", 90, "4:4:4", exif)
    loaded = load_image(tmp_path / "photo.jpg")
    saved = save_image(tmp_path / "out.jpg", loaded.rgb, quality=60, metadata=loaded.metadata)
    assert _storage(saved) == (60, _SUBSAMPLINGS["4:4:4"])


def test_a_jpeg_saved_in_another_format_is_unchanged(tmp_path):
    _written(tmp_path / "photo.jpg", 50, "4:4:4", exif=False)
    loaded = load_image(tmp_path / "photo.jpg")
    for suffix in (".webp", ".png"):
        assert encode_image(loaded.rgb, suffix, metadata=loaded.metadata) == \
            encode_image(loaded.rgb, suffix, quality=95)


@pytest.mark.parametrize("quality", range(10, 101, 5))
def test_the_estimate_is_the_quality_pillow_wrote(quality):
    buffer = io.BytesIO()
    Image.fromarray(_photo(64, 64)).save(buffer, "JPEG", quality=quality)
    assert abs(_storage(buffer)[0] - quality) <= 1
    grey = io.BytesIO()  # one table, luminance only
    Image.fromarray(_photo(64, 64)[..., 1]).save(grey, "JPEG", quality=quality)
    assert abs(_storage(grey)[0] - quality) <= 1


def test_tables_that_give_no_estimate_mean_95(tmp_path):
    assert estimate_jpeg_quality(None) is None
    assert estimate_jpeg_quality({}) is None  # no luminance table
    assert estimate_jpeg_quality({0: [2] * 63}) is None  # short
    assert estimate_jpeg_quality({0: [0] * 64}) is None  # a zero step is no table
    unknown = ImageMetadata(source=SourceFormat(jpeg_quality=None))
    assert encode_image(_photo(), ".jpg", metadata=unknown) == \
        encode_image(_photo(), ".jpg", quality=95)


def test_pixels_outside_the_hole_change_less_at_the_original_quality(tmp_path):
    _written(tmp_path / "photo.jpg", 75, "4:2:0", exif=False)
    loaded = load_image(tmp_path / "photo.jpg")
    edited = _edited(loaded.rgb)
    kept = load_image(save_result(tmp_path / "kept.jpg", edited, loaded)).rgb
    at_95 = load_image(save_image(tmp_path / "at95.jpg", edited, quality=95,
                                  metadata=loaded.metadata)).rgb
    outside = ~_hole(edited.shape)
    original = loaded.rgb.astype(int)
    kept_change = np.abs(kept.astype(int) - original)[outside].mean()
    at_95_change = np.abs(at_95.astype(int) - original)[outside].mean()
    assert kept_change < at_95_change


@pytest.mark.parametrize("orientation, kept", [(1, "4:2:2"), (3, "4:2:2"), (6, "4:4:4"),
                                               (8, "4:4:4")])
def test_a_sideways_4_2_2_jpeg_is_kept_as_4_4_4_upright(tmp_path, orientation, kept):
    """Stored sideways (EXIF 5-8), a 4:2:2 JPEG's halved chroma columns are rows once turned
    upright; written as 4:2:2 again it would lose colour detail both ways."""
    original = tmp_path / "portrait.jpg"
    Image.fromarray(_photo()).save(original, "JPEG", quality=90, subsampling="4:2:2",
                                   exif=phone_exif(_photo(), orientation).tobytes())
    loaded = load_image(original)
    assert loaded.orientation == orientation
    assert loaded.metadata.source.jpeg_subsampling == kept
    saved = save_result(tmp_path / "out.jpg", _edited(loaded.rgb), loaded)
    assert _storage(saved)[1] == _SUBSAMPLINGS[kept]
