"""The seam's colour offset computed in tiles around the hole's ring (large regions) gives the
values of the whole-region computation, so pasting gives the same bytes.

``SEAM_WHOLE_PIXELS`` is set to 0 so that small test regions take the tiled path; the
reference below is the whole-region computation written out plainly.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engines import region
from engines.base import Cancelled, CancelToken
from engines.region import paste_hole, seam_correction


def reference_offset(original: np.ndarray, result: np.ndarray, hole: np.ndarray,
                     feather: float) -> np.ndarray:
    """The seam's offset over the whole region, as the editor computed it before tiling."""
    hole_u8 = hole.astype(np.uint8)
    if feather <= 0 or not hole_u8.any():
        return np.zeros(original.shape, np.float32)
    width = max(1, round(feather))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    ring = cv2.dilate(hole_u8, kernel) & ~hole_u8 & 1
    difference = (original.astype(np.float32) - result.astype(np.float32)) * ring[..., None]
    sigma = max(1.0, feather)
    numerator = cv2.GaussianBlur(difference, (0, 0), sigma)
    denominator = cv2.GaussianBlur(ring.astype(np.float32), (0, 0), sigma)
    offset = numerator / np.maximum(denominator, 1e-3)[..., None]
    distance = cv2.distanceTransform(hole_u8, cv2.DIST_L2, 3)
    fade = np.exp(-((distance / feather) ** 2)) * (denominator > 1e-3)
    return (offset * (fade * hole_u8)[..., None]).astype(np.float32)


def reference_paste(original: np.ndarray, result: np.ndarray, mask: np.ndarray,
                    feather: float) -> np.ndarray:
    """``paste_hole`` over the whole region at once."""
    filled = result.astype(np.float32) + reference_offset(original, result, mask >= 128, feather)
    alpha = mask.astype(np.float32)[..., None] / 255.0
    blended = original * (1.0 - alpha) + filled * alpha
    pasted = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return np.where(mask[..., None] > 0, pasted, original)


def _mask(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A uint8 mask (255 = hole) of one of the shapes the tiles must handle."""
    height, width = shape
    mask = np.zeros(shape, np.uint8)
    if kind == "strokes":  # several pieces, some crossing the region's edges
        for _ in range(4):
            ends = rng.integers(-20, [width + 20, height + 20], (2, 2))
            cv2.line(mask, tuple(map(int, ends[0])), tuple(map(int, ends[1])), 255,
                     int(rng.integers(1, 14)))
    elif kind == "edges":  # holes on each edge and in two corners
        mask[:7, 30:90] = mask[-5:, 10:50] = mask[40:70, :4] = mask[20:60, -9:] = 255
        mask[:12, :12] = mask[-15:, -15:] = 255
    elif kind == "almost all":  # a few known pixels left
        mask[:] = 255
        mask[height // 2 - 3:height // 2 + 3, width // 3:width // 3 + 5] = 0
        mask[:, -2:] = 0
    elif kind == "spots":  # many small pieces, a feathered edge
        for _ in range(25):
            centre = tuple(map(int, rng.integers(0, [width, height])))
            cv2.circle(mask, centre, int(rng.integers(1, 9)), 255, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 1.5)
    return mask


KINDS = ("strokes", "edges", "almost all", "spots")
FEATHERS = (0.0, 0.4, 1.0, 2.5, 6.0, 9.3)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("feather", FEATHERS)
def test_tiled_seam_equals_the_whole_region(monkeypatch, kind, feather):
    """Random pictures whose fill differs on the ring: the tiled offset equals the whole
    region's, the pastes are the same bytes, and nothing outside the mask changes."""
    rng = np.random.default_rng(len(kind) * 100 + round(feather * 10))
    shape = (int(rng.integers(150, 260)), int(rng.integers(150, 330)))
    original = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    shift = rng.integers(-40, 41, (*shape, 3))
    result = np.clip(original.astype(int) + shift, 0, 255).astype(np.uint8)
    mask = _mask(kind, shape, rng)
    assert mask.any()
    monkeypatch.setattr(region, "SEAM_WHOLE_PIXELS", 0)
    offset = seam_correction(original, result, mask >= 128, feather)
    expected = reference_offset(original, result, mask >= 128, feather)
    np.testing.assert_array_equal(offset, expected)
    pasted = paste_hole(original, result, mask, feather)
    np.testing.assert_array_equal(pasted, reference_paste(original, result, mask, feather))
    np.testing.assert_array_equal(pasted[mask == 0], original[mask == 0])


def test_a_thin_stroke_is_computed_in_small_windows(monkeypatch):
    """A diagonal stroke across a large region: several tiles, whose windows together hold
    far fewer pixels than the region, and the result of the whole-region computation."""
    rng = np.random.default_rng(3)
    shape = (900, 1400)
    original = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    result = np.clip(original.astype(int) + 20, 0, 255).astype(np.uint8)
    mask = np.zeros(shape, np.uint8)
    cv2.line(mask, (40, 30), (1380, 870), 255, 12)
    windows = []
    compute = region._seam_offset

    def recording(original, result, hole, feather, cancel=None):
        windows.append(hole.shape)
        return compute(original, result, hole, feather, cancel)

    monkeypatch.setattr(region, "_seam_offset", recording)
    pasted = paste_hole(original, result, mask, 6.0)
    assert len(windows) > 5
    assert sum(h * w for h, w in windows) < 0.4 * mask.size
    np.testing.assert_array_equal(pasted, reference_paste(original, result, mask, 6.0))


def test_a_small_region_is_computed_whole(monkeypatch):
    """Regions up to SEAM_WHOLE_PIXELS take one pass over the whole region, no tiles."""
    def no_tiles(*args):
        raise AssertionError("a small region was tiled")

    monkeypatch.setattr(region, "_seam_tiles", no_tiles)
    original = np.full((512, 512, 3), 100, np.uint8)
    result = original + 20
    mask = np.zeros((512, 512), np.uint8)
    mask[200:300, 150:400] = 255
    pasted = paste_hole(original, result, mask, 6.0)
    np.testing.assert_array_equal(pasted, reference_paste(original, result, mask, 6.0))


class CancelAfter(CancelToken):
    """A token that cancels itself at its ``after``-th look, and counts the looks."""

    def __init__(self, after: int | None) -> None:
        super().__init__()
        self.after, self.looks = after, 0

    def raise_if_cancelled(self) -> None:
        self.looks += 1
        if self.looks == self.after:
            self.cancel()
        super().raise_if_cancelled()


def test_a_cancel_between_tiles_and_passes_stops_the_paste(monkeypatch):
    """Every look at the token during a tiled paste is a place where a cancel stops it."""
    monkeypatch.setattr(region, "SEAM_WHOLE_PIXELS", 0)
    rng = np.random.default_rng(5)
    original = rng.integers(0, 256, (200, 260, 3), dtype=np.uint8)
    result = np.clip(original.astype(int) - 30, 0, 255).astype(np.uint8)
    mask = _mask("strokes", (200, 260), rng)
    whole = CancelAfter(None)
    out = original.copy()
    region._paste_into(out, original, result, mask, 2.5, whole)
    np.testing.assert_array_equal(out, reference_paste(original, result, mask, 2.5))
    assert whole.looks > 8  # the tiles and each one's passes
    for after in range(1, whole.looks + 1):
        with pytest.raises(Cancelled):
            region._paste_into(original.copy(), original, result, mask, 2.5, CancelAfter(after))
