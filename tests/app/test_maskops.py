"""Raster operations on masks and layers."""

from __future__ import annotations

import numpy as np

from app import maskops
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
