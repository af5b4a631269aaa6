"""The "regions" parser on flat graphics (charts, logos): one region per connected flat
colour area, and photos left on the superpixel path with the maps they had."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from engines.base import Cancelled, CancelToken
from engines.segmentation import regions

BARS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
BACKGROUND = (245, 245, 240)


def bar_chart() -> tuple[np.ndarray, list[np.ndarray]]:
    """A 640x480 chart of 5 flat bars (antialiased edges, sub-pixel positions) on a flat
    background, and each bar's mask of pixels certainly inside it (its edges left out)."""
    image = np.full((480, 640, 3), BACKGROUND, np.uint8)
    inside = []
    for k, (colour, height) in enumerate(zip(BARS, (300, 220, 380, 150, 260))):
        left, top = 60 + k * 110, 440 - height
        corners = np.array([[left, 440], [left + 80.5, 440], [left + 80.5, top + 0.25],
                            [left, top + 0.25]]) * 4
        cv2.fillPoly(image, [corners.astype(np.int32)], colour, cv2.LINE_AA, shift=2)
        mask = np.zeros((480, 640), bool)
        mask[top + 2:438, left + 2:left + 79] = True
        inside.append(mask)
    return image, inside


def jpeg(image: np.ndarray, quality: int = 85) -> np.ndarray:
    ok, data_ = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(data_, cv2.IMREAD_COLOR)[..., ::-1])


def assert_regions_follow(labels: np.ndarray, inside: list[np.ndarray], margin: int = 3,
                          outer: list[np.ndarray] | None = None) -> None:
    """One region per mask holding all of it, each region within its ``outer`` mask (by
    default the mask itself) grown by ``margin`` px (edge pixels may go either side; JPEG's
    ringing widens the edges), the rest one region."""
    if outer is None:
        outer = inside
        if margin > 3:  # JPEG: the masks' rims are edge pixels too
            inside = [cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
                      for m in inside]
    size = 2 * margin + 1
    ids = [int(np.bincount(labels[mask]).argmax()) for mask in inside]
    for region, mask in zip(ids, inside):
        assert (labels[mask] == region).all()
    assert len(set(ids)) == len(ids)
    for region, mask in zip(ids, outer):
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)
        assert not (labels == region)[~grown].any()
    outside = ~np.logical_or.reduce([cv2.dilate(m.astype(np.uint8), np.ones((size, size), np.uint8))
                                     .astype(bool) for m in outer])
    assert len(np.unique(labels[outside])) == 1
    assert labels[outside][0] == 0  # the background, the largest
    assert int(labels.max()) + 1 == len(inside) + 1


def test_a_bar_chart_gives_its_bars_and_background():
    image, inside = bar_chart()
    assert regions.flat_palette(image) is not None
    assert_regions_follow(regions.region_map(image), inside)


def test_the_same_chart_as_jpeg_gives_the_same_regions():
    image, inside = bar_chart()
    labels = regions.region_map(jpeg(image))
    assert_regions_follow(labels, inside, margin=5)
    assert (labels == regions.region_map(image))[np.logical_or.reduce(inside)].all()


def test_a_large_chart_keeps_exact_boundaries_at_full_size():
    """The map is made at full size: each bar's region is the whole bar to within 2 px of its
    edges, not the working size's 3-4 px steps."""
    image, inside = bar_chart()
    size = (1920, 1440)  # 3 x: each pixel of the chart is 3 x 3 here
    big = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)

    def scaled(mask: np.ndarray) -> np.ndarray:
        return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)

    # A bar at 640 x 480: its inside mask and the 2 px rim around it (the pixels it covers
    # more than half; those it covers less, 20-25 %, lie outside). Scaled, its edges lie
    # within 1 px of the bar's, so a margin of 3 px leaves 2 px for the edge pixels; JPEG's
    # halved chroma smears the colours 1 px further.
    bars = [scaled(cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8))) for m in inside]
    cores = [cv2.erode(bar, np.ones((7, 7), np.uint8)).astype(bool) for bar in bars]
    outer = [bar.astype(bool) for bar in bars]
    assert_regions_follow(regions.region_map(big), cores, margin=3, outer=outer)
    assert_regions_follow(regions.region_map(jpeg(big)), cores, margin=4, outer=outer)


def logo() -> tuple[np.ndarray, list[np.ndarray]]:
    """A flat red disc and 4 flat blue bars (text-ish) on white, and the masks of their insides."""
    image = np.full((400, 600, 3), 255, np.uint8)
    cv2.circle(image, (150 * 4 + 1, 200 * 4 + 2), 110 * 4, (220, 30, 40), -1, cv2.LINE_AA, 2)
    yy, xx = np.mgrid[:400, :600]
    inside = [(yy - 200.5) ** 2 + (xx - 150.25) ** 2 <= 108 ** 2]
    for k in range(4):
        corners = np.add([[300, 170], [350, 170], [350, 230], [300, 230]], (70 * k, 0))
        cv2.fillPoly(image, [corners * 4 + 1], (30, 60, 200), cv2.LINE_AA, shift=2)
        mask = np.zeros((400, 600), bool)
        mask[172:229, 302 + 70 * k:349 + 70 * k] = True
        inside.append(mask)
    return image, inside


def test_a_logo_gives_its_disc_its_bars_and_background():
    image, inside = logo()
    assert_regions_follow(regions.region_map(image), inside)
    assert_regions_follow(regions.region_map(jpeg(image)), inside, margin=5)


def test_many_small_pieces_of_one_colour_are_one_region_and_max_regions_holds():
    image = np.full((300, 400, 3), 255, np.uint8)
    cv2.rectangle(image, (20, 20), (200, 150), (200, 40, 40), -1)
    for k in range(30):  # "text": 30 small dark glyph-like marks
        x, y = 20 + (k % 10) * 36, 200 + (k // 10) * 30
        cv2.rectangle(image, (x, y), (x + 10, y + 14), (20, 20, 20), -1)
    labels = regions.region_map(image)
    assert int(labels.max()) + 1 == 3  # white, the red block, the marks together
    marks = np.zeros(labels.shape, bool)
    marks[200:275, 20:385] = (image[200:275, 20:385] == 20).all(axis=2)
    assert len(np.unique(labels[marks])) == 1
    assert int(regions.region_map(image, max_regions=2).max()) + 1 == 2
    assert int(regions.region_map(image, max_regions=1).max()) == 0


def superpixel_path(photo: np.ndarray) -> np.ndarray:
    """The parser's photo path, called step by step (as region_map ran before flat graphics)."""
    superpixels, lab, scale = regions.working_superpixels(photo)
    labels, means = regions._merge_superpixels(superpixels, lab, 24, 8.0, 0.002)
    if labels.shape != photo.shape[:2]:
        labels = cv2.resize(labels, photo.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        labels = regions._snap_boundaries(photo, labels, means, int(np.ceil(1.0 / scale)))
    return labels


def test_photos_are_not_flat_and_keep_their_maps():
    for photo in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket()):
        small, _ = regions._shrink(photo, 512)
        assert regions.flat_palette(small) is None
        assert np.array_equal(regions.region_map(photo), superpixel_path(photo))


def test_a_flat_picture_reports_progress_step_by_step_and_stops_when_cancelled():
    image, _ = bar_chart()
    seen: list[tuple[float, str]] = []
    regions.RegionParser().parse(image, progress=lambda f, text: seen.append((f, text)))
    flat = [f for f, text in seen if text == "finding flat colour areas"]
    assert len(flat) >= 5  # each full-size step, each colour's areas
    assert flat == sorted(flat) and flat[0] >= 0.4 and flat[-1] < 1.0
    assert seen[-1] == (1.0, "6 labels")
    token = CancelToken()
    calls: list[float] = []

    def cancel_in_the_flat_path(fraction: float, text: str) -> None:
        calls.append(fraction)
        if len(calls) == 3:  # after the first full-size step
            token.cancel()
    with pytest.raises(Cancelled):
        regions.RegionParser().parse(image, cancel=token, progress=cancel_in_the_flat_path)
    assert calls == [f for f, _ in seen[:3]]  # stopped at the next step
