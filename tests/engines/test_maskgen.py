"""Synthetic masks: shapes, polarity, seeding, target ratios."""

from __future__ import annotations

import numpy as np
import pytest

from engines import maskgen


def _is_mask(mask: np.ndarray, shape) -> bool:
    return (mask.dtype == np.uint8 and mask.shape == shape
            and set(np.unique(mask).tolist()) <= {0, 255})


@pytest.mark.parametrize("ratio", [0.05, 0.10, 0.25, 0.40])
@pytest.mark.parametrize("shape", [(96, 128), (256, 256), (200, 120)])
def test_free_form_reaches_the_requested_ratio(ratio, shape):
    mask = maskgen.free_form_mask(*shape, np.random.default_rng(1), ratio=ratio)
    assert _is_mask(mask, shape)
    got = maskgen.hole_ratio(mask)
    assert ratio <= got < ratio + 0.06  # overshoots by at most about one segment


def test_free_form_is_seeded():
    a = maskgen.free_form_mask(128, 128, np.random.default_rng(5), ratio=0.2)
    b = maskgen.free_form_mask(128, 128, np.random.default_rng(5), ratio=0.2)
    c = maskgen.free_form_mask(128, 128, np.random.default_rng(6), ratio=0.2)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_free_form_without_ratio_draws_a_few_strokes():
    ratios = [maskgen.hole_ratio(maskgen.free_form_mask(256, 256, np.random.default_rng(s)))
              for s in range(20)]
    assert all(0.0 < r < 0.6 for r in ratios)
    assert len(set(ratios)) > 10


def test_brush_width_sets_the_stroke_thickness():
    import cv2

    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))

    def surviving(width):  # share of the hole left after eroding by a 11 px disk
        mask = maskgen.free_form_mask(256, 256, np.random.default_rng(2), ratio=0.1,
                                      max_width=width, min_width=width)
        return (cv2.erode(mask, disk) > 0).sum() / (mask > 0).sum()

    assert surviving(6) < 0.1  # 6 px strokes vanish but where they cross
    assert surviving(30) > 0.4


def test_rectangles_are_added():
    plain = maskgen.free_form_mask(128, 128, np.random.default_rng(3), max_strokes=2)
    boxed = maskgen.free_form_mask(128, 128, np.random.default_rng(3), max_strokes=2,
                                   rectangles=2)
    assert maskgen.hole_ratio(boxed) > maskgen.hole_ratio(plain)
    rect = maskgen.rectangle_mask(90, 120, np.random.default_rng(0))
    ys, xs = np.nonzero(rect)
    assert rect[ys.min():ys.max() + 1, xs.min():xs.max() + 1].all()  # one solid box
    assert 90 // 8 <= ys.max() - ys.min() + 1 <= 90 // 3


def test_centered_square():
    mask = maskgen.centered_square_mask(512, 640, 128)
    assert _is_mask(mask, (512, 640))
    ys, xs = np.nonzero(mask)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (192, 319, 256, 383)
    assert maskgen.centered_square_mask(64, 64, 128).all()  # clipped to the image


def test_text_mask_looks_like_a_watermark():
    mask = maskgen.text_mask(512, 512, np.random.default_rng(0))
    assert _is_mask(mask, (512, 512))
    assert 0.03 < maskgen.hole_ratio(mask) < 0.25
    rows = np.flatnonzero(mask.any(axis=1))
    assert rows.max() - rows.min() > 256  # several lines spread over the image
    import cv2

    depth = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 3).max()
    assert depth < 12  # thin strokes, not blobs


def test_invalid_ratio():
    with pytest.raises(ValueError):
        maskgen.free_form_mask(64, 64, ratio=1.5)
