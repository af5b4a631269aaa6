"""Guidance counts in the whole crop an engine that follows it sees: ``crop_margin`` of
context grown to the engine's ``min_context`` (its smallest crop side) where that is wider,
and, on a pooled large picture, up to the far edge where a box borrows context there."""

from __future__ import annotations

import numpy as np
import pytest

from engines import registry
from engines.base import Guidance, InpaintRequest
from engines.guidance import _crop_side, _seen_boxes
from engines.region import Box, crop_boxes

H, W = 120, 400
HOLE = (slice(55, 65), slice(195, 205))  # 10x10


def _request(**layers) -> InpaintRequest:
    """A 10x10 hole and no margin: 16 px of context (MIN_CROP_CONTEXT), rows 39..81, while
    an engine whose crop is at least 64 px wide sees rows 28..92."""
    mask = np.zeros((H, W), np.uint8)
    mask[HOLE] = 255
    return InpaintRequest(np.zeros((H, W, 3), np.uint8), mask, crop_margin=0, **layers)


def _edited_labels(rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """(computed, edited): all 1; the edit takes label 1 (the hole's) away over ``rows``."""
    computed = np.ones((H, W), np.uint8)
    edited = computed.copy()
    edited[rows, 195:205] = 4
    return computed, edited


def _excluded(rows: slice) -> np.ndarray:
    area = np.zeros((H, W), np.uint8)
    area[rows, 195:205] = 255
    return area


@pytest.mark.parametrize("rows, given", [
    (slice(33, 37), True),  # beyond the 16 px of context, within the 64 px crop
    (slice(10, 20), False),  # beyond both: no engine reads it
    (slice(85, 90), True),  # below the hole, likewise
    (slice(100, 110), False),
])
def test_guidance_within_the_engines_smallest_crop_counts(rows, given):
    assert min(cls.min_context for cls in registry.engine_classes()
               if Guidance.LABELS in cls.guidance) == 64  # the case this covers
    computed, edited = _edited_labels(rows)
    assert (Guidance.LABELS in _request(labels=edited).guidance_given(computed)) is given
    request = _request(sample_exclude=_excluded(rows))
    assert (Guidance.SAMPLING in request.guidance_given()) is given


def test_the_crop_side_is_that_of_the_engines_following_the_guidance(monkeypatch):
    """Each kind of guidance is counted in the crop of the engines that follow it: a wider
    ``min_context`` of one of them widens it (and one of an engine that ignores the
    guidance does not)."""
    computed, edited = _edited_labels(slice(10, 20))
    exclude = _excluded(slice(10, 20))
    followers = [cls for cls in registry.engine_classes() if Guidance.LABELS in cls.guidance]
    others = [cls for cls in registry.engine_classes() if Guidance.LABELS not in cls.guidance
              and Guidance.SAMPLING not in cls.guidance]
    for cls in others:
        monkeypatch.setattr(cls, "min_context", 512)
    assert Guidance.LABELS not in _request(labels=edited).guidance_given(computed)

    semantic = next(cls for cls in followers if Guidance.SAMPLING not in cls.guidance)
    monkeypatch.setattr(semantic, "min_context", 256)  # follows labels, not sampling
    assert _crop_side(Guidance.LABELS) == 256
    assert Guidance.LABELS in _request(labels=edited).guidance_given(computed)
    assert Guidance.SAMPLING not in _request(sample_exclude=exclude).guidance_given()


def test_the_seen_boxes_are_the_engines_crop_boxes():
    mask = _request().mask
    request = _request()
    for side in (0, 64, 100, 256):
        assert _seen_boxes(request, min_side=side) == crop_boxes(mask, 0, side)


def test_on_a_pooled_picture_a_box_borrowing_at_the_far_edge_is_held():
    """2049 rows pooled by 2 make a pooled picture one row taller than the real one: the
    engine's box, shifted up to borrow its context at the bottom, starts a row higher than
    the pooled box would."""
    height, width = 2049, 2048
    mask = np.zeros((height, width), np.uint8)
    mask[2020:2030, 1000:1010] = 255
    request = InpaintRequest(np.zeros((height, width, 3), np.uint8), mask, crop_margin=32)
    (engine,) = crop_boxes(mask, 32)
    assert engine == Box(1975, 968, 2049, 1042)
    (seen,) = _seen_boxes(request)
    assert seen.contains(engine)
    computed = np.ones((height, width), np.uint8)
    edited = computed.copy()
    edited[1975, 1000:1010] = 4  # the engine's first row: a source of the hole's label lost
    assert Guidance.LABELS in request.evolve(labels=edited).guidance_given(computed)
