"""Shrunk copies of huge reference photos are kept while the photo lives: a second fill of
the same size does not shrink it again, a copy cannot be altered, and fills are the same
with the kept copy as without."""

from __future__ import annotations

import gc

import cv2
import numpy as np
import pytest

from engines import region as region_module
from engines.base import InpaintRequest
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.region import Box, build_region


@pytest.fixture(autouse=True)
def small_floor(monkeypatch):
    """References above 100 pixels are shrunk to 4 times the region's pixels."""
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 100)


@pytest.fixture
def resizes(monkeypatch):
    """The shapes ``(h, w)`` of every array cv2.resize is asked to scale."""
    seen = []
    original = cv2.resize

    def counted(src, *args, **kwargs):
        seen.append(src.shape[:2])
        return original(src, *args, **kwargs)

    monkeypatch.setattr(cv2, "resize", counted)
    return seen


def _reference() -> np.ndarray:
    """A 300x400 RGBA photo with one transparent pixel, read-only as requests hold it (each
    call a new array with the same pixels)."""
    rgba = np.random.default_rng(5).integers(0, 256, (300, 400, 4)).astype(np.uint8)
    rgba[..., 3] = 255
    rgba[150, 200, 3] = 0
    rgba.flags.writeable = False
    return rgba


def _request(reference: np.ndarray) -> InpaintRequest:
    rng = np.random.default_rng(3)
    image = rng.integers(20, 60, (48, 64, 3)).astype(np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[18:30, 26:38] = 255
    return InpaintRequest(image, mask, sample_exclude=np.full((48, 64), 255, np.uint8),
                          exemplars=(reference,),
                          options={"backend": "numba", "patch_size": 5})


WHOLE, HALF = Box(0, 0, 48, 64), Box(0, 0, 24, 32)


def test_the_same_size_is_shrunk_once_and_another_size_again(resizes):
    reference = _reference()
    request = _request(reference)
    first = build_region(request, WHOLE, 1.0).exemplars[0]
    shrinks = resizes.count(reference.shape[:2])
    assert shrinks >= 1 and first.shape[0] * first.shape[1] < 300 * 400
    again = build_region(request, WHOLE, 1.0).exemplars[0]
    assert resizes.count(reference.shape[:2]) == shrinks  # not shrunk again
    assert again is first
    other = build_region(request, HALF, 1.0).exemplars[0]
    assert resizes.count(reference.shape[:2]) == 2 * shrinks
    assert other.shape != first.shape
    for kept in (first, other):  # equal to the photo shrunk afresh
        size = (kept.shape[1], kept.shape[0])
        assert np.array_equal(region_module._shrink_reference(reference, size), kept)


def test_a_kept_copy_is_read_only():
    shrunk = build_region(_request(_reference()), WHOLE, 1.0).exemplars[0]
    assert not shrunk.flags.writeable
    with pytest.raises(ValueError):
        shrunk[0, 0] = 0


def test_only_the_last_sizes_are_kept(resizes):
    reference = _reference()
    request = _request(reference)
    boxes = [Box(0, 0, 48, 64), Box(0, 0, 24, 32), Box(0, 0, 40, 40)]
    for box in boxes:
        build_region(request, box, 1.0)
    kept = region_module._shrunk_copies[id(reference)]
    assert len(kept) == region_module.REFERENCE_COPIES_KEPT == 2
    shrinks = resizes.count(reference.shape[:2])
    build_region(request, boxes[-1], 1.0)  # kept
    assert resizes.count(reference.shape[:2]) == shrinks
    build_region(request, boxes[0], 1.0)  # the oldest, let go
    assert resizes.count(reference.shape[:2]) > shrinks


def test_the_copies_go_when_the_reference_is_freed():
    reference = _reference()
    key = id(reference)
    request = _request(reference)
    region = build_region(request, WHOLE, 1.0)
    assert key in region_module._shrunk_copies
    del reference, request, region
    gc.collect()
    assert key not in region_module._shrunk_copies


def test_fills_are_the_same_with_the_kept_copy_and_without(resizes, monkeypatch):
    reference = _reference()
    request = _request(reference)
    first = list(PatchMatchEngine().run(request))[-1].image
    shrinks = resizes.count(reference.shape[:2])
    second = list(PatchMatchEngine().run(request))[-1].image
    assert resizes.count(reference.shape[:2]) == shrinks  # the kept copy was searched

    def uncached(pixels, size):
        same = size == (pixels.shape[1], pixels.shape[0])
        return pixels if same else region_module._shrink_reference(pixels, size)

    monkeypatch.setattr(region_module, "_scaled_reference", uncached)
    third = list(PatchMatchEngine().run(request))[-1].image
    assert resizes.count(reference.shape[:2]) == 2 * shrinks
    assert np.array_equal(first, second) and np.array_equal(first, third)
