"""An excluded area (or a picture's fully transparent pixels beside one) that leaves a crop
box around the hole no pixel to copy from widens the crop to the whole picture, as an
include area does, where the picture holds allowed sources further off
(:func:`engines.region._sources_outside`); excluded pixels are never copied."""

from __future__ import annotations

import numpy as np
import pytest

from engines.base import InpaintRequest, NoSourceError
from engines.classical.opencv import TeleaEngine
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.region import Box, plan_boxes

H, W = 120, 400
EXCLUDED = (255, 0, 255)  # the colour of every excluded pixel: never a source
ALLOWED = (40, 170, 90)  # about the colour of the allowed pixels, far from the hole
FAR = 300  # columns from here on are allowed


def _picture() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A picture excluded (magenta) left of :data:`FAR` and green with noise right of it,
    a hole near its left edge, and the exclude area."""
    image = np.empty((H, W, 3), np.uint8)
    image[:] = EXCLUDED
    noise = np.random.default_rng(0).integers(-12, 13, (H, W - FAR, 3))
    image[:, FAR:] = np.clip(np.array(ALLOWED) + noise, 0, 255)
    mask = np.zeros((H, W), np.uint8)
    mask[50:70, 30:50] = 255
    exclude = np.zeros((H, W), np.uint8)
    exclude[:, :FAR] = 255
    return image, mask, exclude


def check_fill(result: np.ndarray, image: np.ndarray, mask: np.ndarray,
               forbidden=EXCLUDED) -> None:
    """Nothing outside the hole changed, no hole pixel is ``forbidden``'s colour, and every
    one is close to :data:`ALLOWED`: copied from the allowed pixels only."""
    hole = mask == 255
    assert np.array_equal(result[~hole], image[~hole])  # nothing outside the hole changes
    filled = result[hole].astype(int)
    assert not (filled == forbidden).all(axis=1).any()
    assert (np.abs(filled - ALLOWED) <= 16).all()  # copied from the allowed pixels only


def test_an_exclude_area_over_the_crop_widens_it_and_is_never_copied():
    image, mask, exclude = _picture()
    request = InpaintRequest(image, mask, sample_exclude=exclude, crop_margin=16, seed=1)
    engine = PatchMatchEngine()
    assert plan_boxes(request, engine) == [(Box.frame((H, W)), 1.0)]
    check_fill(list(engine.run(request))[-1].image, image, mask)


def test_an_exclude_area_and_transparent_pixels_over_the_crop_widen_it():
    """The user's exclude area covers part of the crop's context, fully transparent pixels
    the rest: the crop widens and neither is copied."""
    image, mask, _ = _picture()
    exclude = np.zeros((H, W), np.uint8)
    exclude[:, :150] = 255
    alpha = np.full((H, W), 255, np.uint8)
    alpha[:, 150:FAR] = 0
    image[:, 150:FAR] = 0  # black stored under the transparent pixels
    request = InpaintRequest(image, mask, sample_exclude=exclude, alpha=alpha, crop_margin=16,
                             seed=1)
    engine = PatchMatchEngine()
    assert plan_boxes(request, engine) == [(Box.frame((H, W)), 1.0)]
    result = list(engine.run(request))[-1].image
    check_fill(result, image, mask)
    assert (result[mask == 255].max(axis=-1) >= 40).all()  # no black either


def test_an_include_area_whose_crop_part_is_excluded_widens_it():
    """An include area over the crop and the far pixels, the crop's part excluded too."""
    image, mask, exclude = _picture()
    include = np.full((H, W), 255, np.uint8)
    include[:, 100:FAR] = 0
    request = InpaintRequest(image, mask, sample_exclude=exclude, sample_include=include,
                             crop_margin=16, seed=1)
    engine = PatchMatchEngine()
    assert plan_boxes(request, engine) == [(Box.frame((H, W)), 1.0)]
    check_fill(list(engine.run(request))[-1].image, image, mask)


def test_a_crop_with_allowed_sources_is_kept():
    image, mask, exclude = _picture()
    exclude[:, :20] = 0  # allowed columns inside the crop box (columns 8 on), 7x7 patches fit
    request = InpaintRequest(image, mask, sample_exclude=exclude, crop_margin=16, seed=1)
    plan = plan_boxes(request, PatchMatchEngine())
    assert len(plan) == 1 and plan[0][0].right < FAR


def test_no_allowed_source_anywhere_keeps_the_crop_and_is_refused():
    image, mask, _ = _picture()
    exclude = np.full((H, W), 255, np.uint8)
    request = InpaintRequest(image, mask, sample_exclude=exclude, crop_margin=16, seed=1)
    engine = PatchMatchEngine()
    assert plan_boxes(request, engine)[0][0].right < W
    with pytest.raises(NoSourceError, match=r"^no source left for Guided PatchMatch: the "
                       r"hole and the sampling area .* widen the sampling area or add a "
                       r"reference photo$"):
        list(engine.run(request))


def test_an_engine_that_ignores_the_sampling_area_keeps_the_crop():
    image, mask, exclude = _picture()
    request = InpaintRequest(image, mask, sample_exclude=exclude, crop_margin=16)
    assert plan_boxes(request, TeleaEngine())[0][0].right < FAR
