"""The "regions" parser on pictures with grain (audit 21, finding 7): per-pixel noise on one
side of a strong edge must not let a region leak across it, and a weak edge under the same
grain must still merge."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from engines.segmentation import regions
from engines.segmentation.base import create_parser

SKY, LAWN = (90, 140, 220), (82, 152, 82)


def noisy_halves(top: tuple[int, int, int], bottom: tuple[int, int, int], noise: float,
                 size: tuple[int, int] = (240, 320), noisy_top: bool = False,
                 seed: int = 0) -> np.ndarray:
    """``top`` over ``bottom`` (RGB), split at the middle row; the bottom (and the top too if
    ``noisy_top``) gets Gaussian RGB noise of std ``noise``."""
    height, width = size
    image = np.zeros((height, width, 3), np.float64)
    image[:height // 2] = top
    image[height // 2:] = bottom
    rng = np.random.default_rng(seed)
    rows = slice(0, height) if noisy_top else slice(height // 2, height)
    image[rows] += rng.normal(0, noise, image[rows].shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def edge_rows(labels: np.ndarray) -> np.ndarray:
    """Per column, the first row off the top row's region (the picture's height if none)."""
    off = labels != labels[0]
    return np.where(off.any(axis=0), off.argmax(axis=0), labels.shape[0])


@pytest.mark.parametrize("noise", [10, 20, 30])
def test_a_flat_sky_over_a_noisy_lawn_keeps_the_horizon(noise):
    image = noisy_halves(SKY, LAWN, noise)
    labels = create_parser("regions").parse(image)
    sky = np.bincount(labels[:120].ravel()).argmax()
    assert (labels[0] == sky).all()
    assert (np.abs(edge_rows(labels) - 120) <= 3).mean() >= 0.95
    lawn = np.bincount(labels[120:].ravel()).argmax()
    assert lawn != sky and (labels[124:] == lawn).mean() > 0.98  # the lawn is one region


def test_grain_on_both_sides_keeps_the_horizon_too():
    image = noisy_halves(SKY, LAWN, 20, noisy_top=True, seed=3)
    labels = regions.region_map(image)
    assert (np.abs(edge_rows(labels) - 120) <= 3).mean() >= 0.95


def test_a_large_noisy_picture_keeps_its_horizon_after_the_boundaries_are_sharpened():
    image = noisy_halves(SKY, LAWN, 20, size=(900, 1200), seed=1)
    labels = regions.region_map(image, working_size=384)
    assert labels.shape == (900, 1200)
    assert (np.abs(edge_rows(labels) - 450) <= 3).mean() >= 0.95


@pytest.mark.parametrize("noise", [2, 20])
def test_a_weak_edge_still_merges_under_grain(noise):
    """Two greens about 3 Lab units apart (under the merging threshold of 8) are one region,
    with faint or strong grain: the smoothing does not split what the merging would join.
    (Without any grain the two are lossless flat graphics, whose exact colours stay apart:
    test_regions_exact.)"""
    image = noisy_halves((84, 150, 84), (80, 156, 80), noise, noisy_top=True, seed=2)
    labels = regions.region_map(image)
    assert (labels == np.bincount(labels.ravel()).argmax()).mean() > 0.98


def test_the_noise_level_is_measured_where_the_grain_is():
    for noise in (5, 10, 20):
        image = noisy_halves(SKY, LAWN, noise, seed=noise)
        lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        true_std = lab[120:].reshape(-1, 3).std(axis=0).mean()
        assert abs(regions.noise_level(lab) - true_std) < 0.15 * true_std
    clean = cv2.cvtColor(noisy_halves(SKY, LAWN, 0).astype(np.float32) / 255.0,
                         cv2.COLOR_RGB2Lab)
    assert regions.noise_level(clean) < 0.1  # a sharp edge alone is not grain
    tiny = np.zeros((8, 10, 3), np.float32)
    assert regions.noise_level(tiny) == 0.0  # smaller than a block: measured as one


def test_grain_is_smoothed_and_a_clean_photo_is_left_alone():
    lab = cv2.cvtColor(noisy_halves(SKY, LAWN, 20).astype(np.float32) / 255.0,
                       cv2.COLOR_RGB2Lab)
    smoothed = regions.smooth_grain(lab)
    assert smoothed.shape == lab.shape and smoothed.dtype == np.float32
    assert smoothed[130:].std(axis=(0, 1)).max() < 0.3 * lab[130:].std(axis=(0, 1)).max()
    # the horizon (about 100 Lab units) stays sharp: the rows beside it keep their colours
    assert np.abs(smoothed[118] - lab[118]).max() < 3.0
    assert np.linalg.norm(smoothed[121].mean(axis=0) - lab[120:].reshape(-1, 3).mean(axis=0)) < 3
    photo = cv2.cvtColor(data.astronaut().astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    assert regions.smooth_grain(photo) is photo


def test_with_grain_each_superpixel_is_one_connected_piece_of_a_fair_size():
    from skimage.measure import label

    superpixels, lab, scale = regions.working_superpixels(noisy_halves(SKY, LAWN, 30))
    assert scale == 1.0 and lab.shape == (240, 320, 3)
    count = int(superpixels.max()) + 1
    assert set(np.unique(superpixels).tolist()) == set(range(count))
    assert label(superpixels, background=-1, connectivity=1).max() == count
    assert count <= 2 * 600  # SLIC's stray pieces were joined to their neighbours
    # and none straddles the horizon by more than a couple of rows
    top = np.bincount(superpixels[:118].ravel(), minlength=count)
    bottom = np.bincount(superpixels[122:].ravel(), minlength=count)
    assert not ((top > 0) & (bottom > 0)).any()


def test_small_pieces_join_the_neighbour_nearest_in_colour():
    pieces = np.array([[0, 0, 1, 2, 2],
                       [0, 0, 1, 2, 2]])
    lab = np.zeros((2, 5, 3), np.float32)
    lab[:, 2:] = (50, 0, 0)  # piece 1 has piece 2's colour
    lab[:, 2, 0] = 48
    joined = regions._absorb_pieces(pieces, lab, smallest=3)
    np.testing.assert_array_equal(joined, [[0, 0, 1, 1, 1], [0, 0, 1, 1, 1]])
