"""Grow and shrink on soft (feathered) masks: the disc's row segments give, bit for bit, the
flat dilation / erosion by the exact disc (dx² + dy² <= r²) over the whole picture, with
cv2's default borders (outside neither feeds grow nor limits shrink)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app import maskops
from engines.base import Cancelled, CancelToken
from engines.region import Box

RADII = [1, 2, 7, 8, 30, 31]


def _disc(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)


def _feathered(shape=(110, 150), centre=(80, 50), radius=18, feather=12) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.circle(mask, centre, radius, 255, -1)
    return maskops.feather(mask, feather)


def _random_values(shape=(90, 120), seed=5) -> np.ndarray:
    """Random values in a block inside the picture, zero around it."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    mask[30:60, 40:85] = rng.integers(0, 256, (30, 45))
    return mask


def _touching_borders(shape=(80, 100), seed=9) -> np.ndarray:
    """Soft values against the top-left corner and along the bottom and right edges."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    mask[:25, :30] = rng.integers(1, 256, (25, 30))
    mask[-6:, 20:70] = rng.integers(0, 200, (6, 50))
    mask[10:50, -4:] = 255
    mask[12:20, -10:-4] = [30, 60, 90, 120, 150, 180]
    return mask


def _soft_everywhere(shape=(60, 70), seed=11) -> np.ndarray:
    """Random values over the whole picture, few of them zero."""
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


MASKS = {"feathered": _feathered, "random values": _random_values,
         "touching the borders": _touching_borders, "soft everywhere": _soft_everywhere}


@pytest.mark.parametrize("method", [None, "segments", "distance"])
@pytest.mark.parametrize("radius", RADII)
@pytest.mark.parametrize("name", list(MASKS))
def test_soft_grow_and_shrink_equal_the_exact_disc_over_the_whole_picture(name, radius,
                                                                         method):
    mask = MASKS[name]()
    assert len(np.unique(mask)) > 10  # soft: many distinct values
    disc = _disc(radius)
    before = mask.copy()
    grown = maskops.grow(mask, radius, method=method)
    assert grown.dtype == np.uint8
    assert np.array_equal(grown, cv2.dilate(mask, disc))
    assert np.array_equal(maskops.shrink(mask, radius, method=method), cv2.erode(mask, disc))
    assert np.array_equal(mask, before)


def test_the_default_picks_the_row_segments_for_a_feathered_mask():
    """Hundreds of values: the segments are chosen at any radius; a hard mask takes the
    distance transform at large radii (the result is the same either way)."""
    assert maskops._segments_are_cheaper(210, 500)
    assert maskops._segments_are_cheaper(1, 10)
    assert not maskops._segments_are_cheaper(1, 200)


@pytest.mark.parametrize("operation", [maskops.grow, maskops.shrink])
def test_cancelling_a_soft_grow_or_shrink_stops_at_the_next_half_width(operation):
    mask = _feathered(feather=20)
    before = mask.copy()
    checks: list[int] = []

    class CancelAt(CancelToken):
        def raise_if_cancelled(self) -> None:
            checks.append(1)
            if len(checks) == 5:
                self.cancel()
            super().raise_if_cancelled()

    token = CancelAt()
    with pytest.raises(Cancelled):
        operation(mask, 40, cancel=token)  # the default method: segments
    assert len(checks) == 5 and np.array_equal(mask, before)
    cancelled = CancelToken()
    cancelled.cancel()
    with pytest.raises(Cancelled):
        operation(mask, 40, method="segments", cancel=cancelled)


def test_a_narrow_layer_against_a_wide_disc():
    """Rows narrower than the disc's steps (the clamped, indexed widening)."""
    rng = np.random.default_rng(2)
    for shape in ((40, 3), (3, 40), (1, 1), (25, 6)):
        layer = rng.integers(0, 256, shape).astype(np.uint8)
        for radius in (1, 4, 9, 30):
            expected = cv2.dilate(layer, _disc(radius), borderType=cv2.BORDER_CONSTANT,
                                  borderValue=0)
            assert np.array_equal(maskops._dilated(layer, radius, "segments"), expected)


def test_box_at_least_bounds_the_pixels_at_or_above_the_level():
    mask = np.zeros((50, 60), np.uint8)
    assert maskops.box_at_least(mask, 1) is None
    mask[10, 20] = 100
    mask[30:33, 5] = 200
    assert maskops.box_at_least(mask, 1) == Box(10, 5, 33, 21)
    assert maskops.box_at_least(mask, 101) == Box(30, 5, 33, 6)
    assert maskops.box_at_least(mask, 201) is None
    assert maskops.box_at_least(mask, 1) == Box.around(mask > 0)


@pytest.mark.parametrize("method", ["distance", "segments", None])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1)])
def test_tiny_pictures_grow_and_shrink_at_any_radius(shape, method):
    """OpenCV 5 refuses some calls on a 1x1 array; the result is still the exact disc."""
    for mask in (np.full(shape, 255, np.uint8), np.zeros(shape, np.uint8)):
        mask.flat[0] = 255
        for radius in (1, 5, 100):
            disc = _disc(radius)
            assert np.array_equal(maskops.grow(mask, radius, method=method),
                                  cv2.dilate(mask, disc))
            assert np.array_equal(maskops.shrink(mask, radius, method=method),
                                  cv2.erode(mask, disc))
