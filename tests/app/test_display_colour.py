"""Pictures with a colour profile are shown converted to sRGB; their pixels stay as they are."""

from __future__ import annotations

import numpy as np

from app.display_colour import display_transform
from app.document import Document
from app.viewcache import ViewCache
from engines.fileio import ImageMetadata
from engines.region import Box
from tests.photos import srgb_profile, wide_gamut_profile


def test_no_profile_srgb_or_an_unreadable_one_need_no_conversion():
    assert display_transform(None) is None
    assert display_transform(b"") is None
    assert display_transform(srgb_profile()) is None
    assert display_transform(b"not a profile" * 20) is None


def test_a_wide_gamut_profile_saturates_colours_and_keeps_greys():
    convert = display_transform(wide_gamut_profile())
    assert convert is not None and convert.description == "Wide Test RGB"
    colours = np.array([[[128, 128, 128], [30, 30, 30], [100, 150, 100], [0, 255, 0]]],
                       np.uint8)
    shown = convert(colours).astype(int)
    assert shown.shape == colours.shape
    for grey in shown[0, :2]:
        assert grey.max() - grey.min() <= 1  # greys stay grey
    red, green, _blue = shown[0, 2]
    assert green - red > (150 - 100) + 20  # the same numbers mean a more saturated green
    assert tuple(shown[0, 3]) == (0, 255, 0)  # out of sRGB's gamut: clipped to its edge


def test_large_pictures_are_converted_in_bands_with_the_same_result():
    convert = display_transform(wide_gamut_profile())
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (1100, 1000, 3), dtype=np.uint8)  # over a megapixel
    whole = convert(picture)
    rows = [convert(picture[i:i + 100]) for i in range(0, 1100, 100)]
    assert np.array_equal(whole, np.concatenate(rows))


def _bgr(view_buffer: np.ndarray) -> np.ndarray:
    return view_buffer[..., 2::-1]


def test_the_view_shows_converted_colours_and_leaves_the_pixels_alone():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    document = Document(image, metadata=ImageMetadata(icc_profile=wide_gamut_profile()))
    view = ViewCache(document)
    convert = display_transform(wide_gamut_profile())
    assert view.to_display is not None
    assert np.array_equal(_bgr(view.levels[0].base), convert(image))
    assert np.array_equal(document.image, image)

    result = np.full_like(image, 90)
    box = Box(50, 60, 150, 200)
    view.set_preview(result, box)
    expected = convert(result[box.slices])
    assert np.array_equal(_bgr(view.preview_levels[0]), expected)

    plain = ViewCache(Document(image))
    assert plain.to_display is None
    assert np.array_equal(_bgr(plain.levels[0].base), image)
