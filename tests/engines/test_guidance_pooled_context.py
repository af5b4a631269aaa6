"""On a large picture the region an engine sees is found on a pooled mask
(``guidance._seen_boxes``): it holds the engine's crop boxes and reaches only a few pixels
further, the smallest context (:data:`MIN_CROP_CONTEXT`) included, which is counted in
picture pixels, not pooled ones."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from engines.base import MIN_CROP_CONTEXT, Guidance, InpaintRequest
from engines.guidance import _seen_boxes
from engines.region import Box, crop_boxes


def _request(size: int, margin: int, labels: np.ndarray | None = None) -> InpaintRequest:
    mask = np.zeros((size, size), np.uint8)
    mask[1001:1041, 1001:1041] = 255
    mask[size - 30:size - 5, 3:50] = 255  # a box that borrows context at the corner
    return InpaintRequest(np.zeros((size, size, 3), np.uint8), mask, crop_margin=margin,
                          labels=labels)


@pytest.mark.parametrize("size, factor", [(2048, 2), (3072, 3)])  # 4 MP, 9 MP
@pytest.mark.parametrize("margin", [0, MIN_CROP_CONTEXT, 20, 40, 64, 128])
def test_the_seen_region_holds_the_engines_and_reaches_little_further(size, factor, margin):
    request = _request(size, margin)
    engines = crop_boxes(request.mask, margin)  # what the engine crops
    seen = _seen_boxes(request)
    assert len(seen) == len(engines)
    for box, engine in zip(seen, engines):
        assert box.union(engine) == box  # nothing the engine sees is left out
        beyond = (engine.top - box.top, engine.left - box.left, box.bottom - engine.bottom,
                  box.right - engine.right)
        assert max(beyond) <= 2 * factor, (box, engine)


@pytest.mark.parametrize("rows, given", [
    (slice(1045, 1050), True),  # within the engine's 16 px of context
    (slice(1060, 1066), False),  # beyond them: the engine never reads it
])
def test_the_smallest_context_is_counted_in_picture_pixels(rows, given):
    size = 2048  # pooled by 2 with a larger context
    computed = np.ones((size, size), np.uint8)
    edited = computed.copy()
    edited[rows, 1001:1041] = 4  # a source of the hole's label lost
    request = _request(size, MIN_CROP_CONTEXT, labels=edited)
    assert (Guidance.LABELS in request.guidance_given(computed)) is given


@pytest.mark.parametrize("seed", range(12))
def test_pooling_only_around_the_hole_finds_the_boxes_of_the_whole_pooled_mask(seed):
    """Only the blocks the hole's box meets are pooled: the boxes are those found on the
    whole mask max-pooled by the same factor (faint mask values count as hole)."""
    rng = np.random.default_rng(seed)
    height, width = (int(v) for v in rng.integers(2100, 3300, size=2))
    mask = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        y, x, r = (int(v) for v in (rng.integers(0, height), rng.integers(0, width),
                                     rng.integers(1, 40)))
        cv2.circle(mask, (x, y), r, int(rng.integers(1, 256)), -1)
    margin = int(rng.choice([40, 64, 128]))
    request = InpaintRequest(np.zeros((height, width, 3), np.uint8), mask, crop_margin=margin)
    factor = min(math.isqrt(mask.size // (1 << 20)), margin // MIN_CROP_CONTEXT)
    assert factor > 1
    min_side = int(rng.choice([0, 64, 256]))
    whole = _seen_boxes(request, Box.frame(mask.shape), min_side)  # the whole mask pooled
    assert _seen_boxes(request, min_side=min_side) == whole
    assert _seen_boxes(request, Box.around(mask > 0), min_side) == whole


@pytest.mark.parametrize("seed", range(16))
def test_the_seen_region_holds_the_engines_with_any_min_context_and_any_picture_size(seed):
    """Holes anywhere, at the far edges too, of pictures whose sides are no multiple of
    the pooling factor, and a crop side (``min_context``) that may outgrow the context: every
    box the engine crops lies in one seen box, which reaches at most four blocks further."""
    rng = np.random.default_rng(100 + seed)
    height, width = (int(v) for v in rng.integers(2100, 3300, size=2))
    mask = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        y = int(rng.choice([rng.integers(0, 60), rng.integers(0, height),
                            rng.integers(height - 60, height)]))
        x = int(rng.choice([rng.integers(0, 60), rng.integers(0, width),
                            rng.integers(width - 60, width)]))
        cv2.circle(mask, (x, y), int(rng.integers(1, 30)), 255, -1)
    margin = int(rng.choice([0, MIN_CROP_CONTEXT, 20, 40, 64, 128]))
    min_side = int(rng.choice([0, 64, 100, 256, 300]))
    request = InpaintRequest(np.zeros((height, width, 3), np.uint8), mask, crop_margin=margin)
    factor = max(1, min(math.isqrt(mask.size // (1 << 20)),
                        max(margin, MIN_CROP_CONTEXT) // MIN_CROP_CONTEXT))
    seen = _seen_boxes(request, min_side=min_side)
    for engine in crop_boxes(mask, margin, min_side):  # what the engine crops
        (box,) = [box for box in seen if box.contains(engine)]
        beyond = (engine.top - box.top, engine.left - box.left, box.bottom - engine.bottom,
                  box.right - engine.right)
        assert max(beyond) <= 4 * factor, (box, engine, factor)
