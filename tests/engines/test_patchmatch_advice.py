"""What Guided PatchMatch advises when no patch fits the pixels it may copy from (QA audit 25
F6): a smaller patch size only where a 3x3 patch (the smallest) fits those pixels, a wider
sampling area where the sampling area is what leaves no patch, some context unmasked only
where a smaller hole could leave one, OpenCV Telea where no patch size or sampling area
helps; a reference photo always. A picture under 32 pixels and three patches on a side is filled with
smaller patches instead (tests/engines/test_patchmatch_tiny_patches.py), so the refusals
here are made on larger ones."""

from __future__ import annotations

import numpy as np
import pytest

from engines.base import EngineError, InpaintRequest
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.registry import create

LEAD = ("fits in the picture where copies may come from (outside the hole and the sampling "
        "area's limits), so Guided PatchMatch has nothing to copy; ")
NO_PATCH = "no patch, not even a 3x3 one (the smallest), " + LEAD


def _picture(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(height * 100 + width).integers(
        0, 255, (height, width, 3), dtype=np.uint8)


def _refusal(request: InpaintRequest, patch_size: int) -> str:
    with pytest.raises(EngineError) as raised:
        list(PatchMatchEngine(patch_size=patch_size).run(request))
    return str(raised.value)


def _centre_hole(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[height // 2, width // 2] = 255
    return mask


@pytest.mark.parametrize("patch_size", [7, 3])
def test_a_thin_include_area_asks_for_a_wider_sampling_area(patch_size):
    mask = np.zeros((48, 64), np.uint8)
    mask[20:28, 28:36] = 255
    include = np.zeros((48, 64), np.uint8)
    include[10:12, 27:37] = 255  # 2 pixels high: no patch size fits it
    message = _refusal(InpaintRequest(_picture(48, 64), mask, sample_include=include),
                       patch_size)
    assert message == NO_PATCH + "widen the sampling area or add a reference photo"


def _border_known(side: int, width: int) -> np.ndarray:
    """A ``side`` x ``side`` mask: all hole but a border ``width`` pixels wide."""
    mask = np.full((side, side), 255, np.uint8)
    mask[:width] = mask[-width:] = mask[:, :width] = mask[:, -width:] = 0
    return mask


def test_a_picture_masked_but_for_a_thin_border_is_pointed_at_telea():
    # a 9x9 picture (three 3x3 patches) known on a 1-pixel border: no patch fits there
    request = InpaintRequest(_picture(9, 9), _border_known(9, 1))
    assert _refusal(request, 3) == (
        NO_PATCH + "unmask some context, fill it with OpenCV Telea or add a reference photo")
    filled = list(create("telea").run(request))[-1].image  # which fills it
    assert filled.shape == (9, 9, 3)


def test_a_smaller_patch_size_is_advised_where_a_3x3_patch_fits():
    mask = np.full((48, 48), 255, np.uint8)
    mask[:3] = 0  # a 3-pixel strip known: a smaller hole or patch would do
    assert _refusal(InpaintRequest(_picture(48, 48), mask), 7) == (
        "no 7x7 patch " + LEAD + "choose a smaller patch size, unmask some context or add a "
        "reference photo")


def test_an_include_area_3_pixels_high_asks_for_either():
    mask = np.zeros((48, 64), np.uint8)
    mask[20:28, 28:36] = 255
    include = np.zeros((48, 64), np.uint8)
    include[10:13, 27:37] = 255  # a 3x3 patch fits it, a 7x7 one fits outside it
    message = _refusal(InpaintRequest(_picture(48, 64), mask, sample_include=include), 7)
    assert message == ("no 7x7 patch " + LEAD + "choose a smaller patch size, widen the "
                       "sampling area or add a reference photo")


def test_a_wider_sampling_area_and_a_smaller_size_where_only_3x3_fits_around():
    mask = np.full((48, 48), 255, np.uint8)
    mask[:4] = 0  # 4 known rows: 3x3 patches fit, 7x7 ones do not
    include = np.zeros((48, 48), np.uint8)
    include[:2] = 255  # the include area keeps 2 of them
    message = _refusal(InpaintRequest(_picture(48, 48), mask, sample_include=include), 7)
    assert message == NO_PATCH + ("widen the sampling area and choose a smaller patch size "
                                  "or add a reference photo")


def test_no_source_left_by_the_sampling_area():
    mask = np.zeros((48, 48), np.uint8)
    mask[16:32, 16:32] = 255
    exclude = np.full((48, 48), 255, np.uint8)
    message = _refusal(InpaintRequest(_picture(48, 48), mask, sample_exclude=exclude), 7)
    assert message == ("no source left for Guided PatchMatch: the hole and the sampling area "
                       "(an excluded area, or the outside of an include area) leave no pixel "
                       "to copy; widen the sampling area or add a reference photo")
    tiny = InpaintRequest(_picture(3, 3), _centre_hole(3, 3),
                          sample_exclude=np.full((3, 3), 255, np.uint8))
    assert _refusal(tiny, 3).endswith("leave no pixel to copy; widen the sampling area or "
                                      "add a reference photo")


def test_a_reference_too_small_too():
    reference = _picture(2, 2)
    request = InpaintRequest(_picture(9, 9), _border_known(9, 1), exemplars=(reference,))
    message = _refusal(request, 3)
    assert message.startswith("no patch, not even a 3x3 one (the smallest), fits")
    assert "the reference photo given is too small" in message
    assert message.endswith("; unmask some context, fill it with OpenCV Telea or add a "
                            "larger, opaque reference photo")
    assert "smaller patch size" not in message
