"""Raster operations on masks and layers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app import maskops
from engines.base import Cancelled, CancelToken
from engines.fileio import mask_from_pixels


def _square(size=64, lo=24, hi=40) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[lo:hi, lo:hi] = 255
    return mask


def test_grow_and_shrink_move_the_edge_by_the_given_pixels():
    mask = _square()
    grown = maskops.grow(mask, 3)
    assert grown[21, 32] == 255 and grown[20, 32] == 0
    shrunk = maskops.shrink(mask, 3)
    assert shrunk[27, 32] == 255 and shrunk[26, 32] == 0
    assert np.array_equal(maskops.grow(mask, 0), mask)


def test_feather_keeps_the_hole_and_ramps_outward():
    mask = _square()
    soft = maskops.feather(mask, 6)
    assert (soft[mask == 255] == 255).all()
    ramp = soft[32, 40:48]
    assert (np.diff(ramp.astype(int)) <= 0).all() and ramp[0] > 0 and soft[32, 50] == 0


def test_invert_swaps_hole_and_known():
    mask = _square()
    assert np.array_equal(maskops.invert(maskops.invert(mask)), mask)
    assert maskops.invert(mask)[0, 0] == 255


def test_draw_segment_is_hard_edged_and_reports_its_box():
    layer = np.zeros((100, 100), np.uint8)
    box = maskops.draw_segment(layer, (20, 50), (80, 50), 5, 255)
    assert set(np.unique(layer)) == {0, 255}
    assert layer[50, 20:81].all() and layer[44, 50] == 0 and layer[50, 12] == 0
    ys, xs = np.nonzero(layer)
    assert box.top <= ys.min() and box.bottom > ys.max()
    assert box.left <= xs.min() and box.right > xs.max()


def test_draw_segment_off_image_returns_none():
    layer = np.zeros((10, 10), np.uint8)
    assert maskops.draw_segment(layer, (-50, -50), (-40, -40), 3, 255) is None
    assert not layer.any()


def test_mask_from_rgba_uses_alpha_when_transparent_else_luminance():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere, but only the top row is opaque
    rgba[0, :, 3] = 255
    assert mask_from_pixels(rgba)[0].all() and not mask_from_pixels(rgba)[1:].any()
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[2:] = 255
    assert mask_from_pixels(rgb)[2:].all() and not mask_from_pixels(rgb)[:2].any()


# Grow and shrink: a pixel takes the largest (grow) or smallest (shrink) value within the
# radius of it, Euclidean (dx² + dy² <= r²); the work is limited to the hole's box.

def _brute(mask: np.ndarray, radius: int, reduce) -> np.ndarray:
    """``reduce`` (max or min) of the pixels within ``radius`` of each pixel, inside the
    picture only: pixel by pixel, as the reference."""
    height, width = mask.shape
    ys, xs = np.mgrid[:height, :width]
    out = np.empty_like(mask)
    for y in range(height):
        for x in range(width):
            out[y, x] = reduce(mask[(ys - y) ** 2 + (xs - x) ** 2 <= radius * radius])
    return out


def _disc(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)


METHODS = [None, "distance", "segments"]


@pytest.mark.parametrize("method", METHODS)
def test_grow_reaches_exactly_the_pixels_within_the_radius(method):
    mask = np.zeros((31, 31), np.uint8)
    mask[15, 15] = 255
    grown = maskops.grow(mask, 5, method=method)
    ys, xs = np.mgrid[-15:16, -15:16]
    assert np.array_equal(grown == 255, ys ** 2 + xs ** 2 <= 25)
    assert grown[15 + 3, 15 + 4] == 255 and grown[15 + 5, 15] == 255  # at 5 exactly
    assert grown[15 + 4, 15 + 4] == 0 and grown[15 + 5, 15 + 1] == 0  # 5.66 and 5.10 away
    assert set(np.unique(grown)) == {0, 255}


@pytest.mark.parametrize("method", METHODS)
def test_shrink_keeps_the_pixels_farther_than_the_radius_from_a_known_one(method):
    mask = _square()  # rows and columns 24..39
    shrunk = maskops.shrink(mask, 3, method=method)
    expected = np.zeros_like(mask)
    expected[27:37, 27:37] = 255
    assert np.array_equal(shrunk, expected)
    assert not maskops.shrink(mask, 8, method=method).any()  # 16 px wide: nothing is left


@pytest.mark.parametrize("method", METHODS)
def test_the_picture_edge_does_not_limit_shrink_nor_feed_grow(method):
    mask = np.zeros((30, 40), np.uint8)
    mask[:, :10] = 255  # a hole along the left edge, known from column 10
    shrunk = maskops.shrink(mask, 3, method=method)
    assert shrunk[:, :7].all() and not shrunk[:, 7:].any()  # the top, bottom, left edge stay
    full = np.full((20, 20), 255, np.uint8)
    assert np.array_equal(maskops.shrink(full, 5, method=method), full)
    corner = np.zeros((20, 20), np.uint8)
    corner[0, 0] = 255
    grown = maskops.grow(corner, 4, method=method)
    assert np.array_equal(grown[:5, :5] == 255, _disc(4)[4:, 4:] == 1) and not grown[5:].any()


@pytest.mark.parametrize("method", METHODS)
def test_soft_values_move_with_the_edge_and_no_new_value_appears(method):
    mask = np.zeros((40, 60), np.uint8)
    mask[15:25, 20:30] = 255
    mask[15:25, 30:34] = [192, 128, 64, 32]  # a soft edge on the right
    grown = maskops.grow(mask, 4, method=method)
    assert list(grown[20, 30:39]) == [255, 255, 255, 255, 192, 128, 64, 32, 0]
    shrunk = maskops.shrink(mask, 2, method=method)
    assert list(shrunk[20, 20:34]) == [0, 0, 255, 255, 255, 255, 255, 255, 192, 128, 64, 32, 0, 0]
    assert set(np.unique(grown)) <= set(np.unique(mask))
    assert set(np.unique(shrunk)) <= set(np.unique(mask))
    assert (maskops.grow(mask, 4) >= 128).sum() > (mask >= 128).sum()  # the hole grew


@pytest.mark.parametrize("method", METHODS)
def test_grow_and_shrink_match_the_pixel_by_pixel_reference(method):
    rng = np.random.default_rng(7)
    for trial in range(12):
        height, width = (int(n) for n in rng.integers(6, 26, 2))
        if trial % 3 == 0:  # scattered hole pixels
            mask = np.where(rng.random((height, width)) < 0.06, 255, 0).astype(np.uint8)
        elif trial % 3 == 1:  # soft values everywhere
            mask = rng.choice(np.array([0, 0, 0, 1, 60, 128, 200, 254, 255], np.uint8),
                              (height, width))
        else:  # a block against an edge or a corner
            mask = np.zeros((height, width), np.uint8)
            mask[int(rng.integers(0, height)):, :int(rng.integers(1, width))] = 255
        for radius in (1, 2, 3, 6, 30):  # 30: more than the picture
            assert np.array_equal(maskops.grow(mask, radius, method=method),
                                  _brute(mask, radius, np.max)), (trial, radius)
            assert np.array_equal(maskops.shrink(mask, radius, method=method),
                                  _brute(mask, radius, np.min)), (trial, radius)


@pytest.mark.parametrize("method", METHODS)
def test_working_in_the_holes_box_gives_the_whole_picture_result(method):
    """A small hole anywhere in a larger picture (inside, at an edge, in a corner), radii
    that reach past the picture's edge or stay far from it: the same as a disc over the
    whole picture (cv2's default borders: outside neither feeds grow nor limits shrink)."""
    rng = np.random.default_rng(3)
    for top, left in ((60, 80), (0, 90), (110, 0), (0, 0), (112, 148), (40, 150)):
        mask = np.zeros((120, 160), np.uint8)
        part = mask[top:top + 14, left:left + 14]
        part[...] = np.where(rng.random(part.shape) < 0.5, 255,
                             rng.choice(np.array([0, 100, 200], np.uint8), part.shape))
        for radius in (2, 9, 25):
            disc = _disc(radius)
            assert np.array_equal(maskops.grow(mask, radius, method=method),
                                  cv2.dilate(mask, disc)), (top, left, radius)
            assert np.array_equal(maskops.shrink(mask, radius, method=method),
                                  cv2.erode(mask, disc)), (top, left, radius)


@pytest.mark.parametrize("operation", [maskops.grow, maskops.shrink])
def test_an_empty_mask_and_zero_pixels_give_a_new_array(operation):
    empty = np.zeros((30, 40), np.uint8)
    result = operation(empty, 7)
    assert not result.any() and result.shape == empty.shape and result is not empty
    mask = _square()
    same = operation(mask, 0)
    assert np.array_equal(same, mask) and same is not mask
    assert result.dtype == np.uint8 and operation(mask, 3).dtype == np.uint8


def test_the_exact_disc_is_cv2s_ellipse_less_its_pixels_beyond_the_radius():
    """What changed from cv2's elliptical kernel: it also holds pixels up to half a pixel
    beyond the radius, so grow reaches a few edge pixels less and shrink keeps a few more;
    nothing inside the radius differs."""
    mask = np.zeros((120, 120), np.uint8)
    mask[40:80, 50:70] = 255
    ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (41, 41))
    grown, old = maskops.grow(mask, 20), cv2.dilate(mask, ellipse)
    assert not (grown & ~old).any() and (old & ~grown).any()
    outside = cv2.distanceTransform(255 - mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    only_old = (old > 0) & (grown == 0)
    assert (outside[only_old] > 20).all() and (outside[only_old] <= 20.5).all()


class _CancelAfter(CancelToken):
    """A token that cancels itself at its ``checks``-th check, counting the checks."""

    def __init__(self, checks: int | None) -> None:
        super().__init__()
        self.checks = 0
        self._at = checks

    def raise_if_cancelled(self) -> None:
        self.checks += 1
        if self._at is not None and self.checks >= self._at:
            self.cancel()
        super().raise_if_cancelled()


def _soft_hole() -> np.ndarray:
    mask = np.zeros((120, 140), np.uint8)
    cv2.circle(mask, (70, 60), 25, 255, -1)
    return maskops.feather(mask, 12)  # a dozen or so distinct values


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("operation", [maskops.grow, maskops.shrink])
def test_a_cancelled_token_stops_grow_and_shrink_and_leaves_the_mask(operation, method):
    mask = _soft_hole()
    before = mask.copy()
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        operation(mask, 40, method=method, cancel=token)
    assert np.array_equal(mask, before)


@pytest.mark.parametrize("method", ["distance", "segments"])
@pytest.mark.parametrize("operation", [maskops.grow, maskops.shrink])
def test_cancelling_midway_stops_between_levels_or_half_widths(operation, method):
    mask = _soft_hole()
    before = mask.copy()
    # the segments check at each of a 40 px disc's 81 rows; the soft mask has many levels
    counted = _CancelAfter(None)
    expected = operation(mask, 40, method=method)
    assert np.array_equal(operation(mask, 40, method=method, cancel=counted), expected)
    assert counted.checks >= 3  # checked more than once, so cancelling can stop it midway
    token = _CancelAfter(2)
    with pytest.raises(Cancelled):
        operation(mask, 40, method=method, cancel=token)
    assert token.checks == 2  # stopped at the check that saw the cancel, not at the end
    assert np.array_equal(mask, before)


@pytest.mark.parametrize("radius", [1, 5, 31, 32, 33, 70])
def test_the_row_segments_equal_one_dilation_by_the_whole_disc(radius):
    rng = np.random.default_rng(radius)
    for shape in ((7, 9), (50, 13), (120, 90)):
        layer = ((rng.random(shape) < 0.05) * rng.integers(1, 256, shape)).astype(np.uint8)
        whole = cv2.dilate(layer, _disc(radius), borderType=cv2.BORDER_CONSTANT,
                           borderValue=0)
        assert np.array_equal(maskops._dilated(layer, radius, "segments", CancelToken()),
                              whole)
        assert np.array_equal(maskops._dilated(layer, radius, "distance"), whole)
