"""Guided PatchMatch's no-patch refusals on a picture with transparency: where the user drew
no sampling area, the only limit on the sources is the fully transparent pixels
(:mod:`engines.region` adds them to the excluded area), so the refusal says those leave too
little to copy from and never advises widening a sampling area nobody drew
(:class:`engines.base.NoSourceError`); with a sampling area drawn it is the usual one."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from engines.base import (
    CancelToken,
    Engine,
    EngineError,
    InpaintRequest,
    NoSourceError,
    Region,
    RegionStage,
)
from engines.classical.opencv import TeleaEngine
from engines.classical.patchmatch.engine import PatchMatchEngine

VISIBLE = ("fits in the visible pixels outside the hole (fully transparent ones, alpha 0, are "
           "never copied), so Guided PatchMatch has nothing to copy; ")
SAMPLED = ("fits in the picture where copies may come from (outside the hole and the "
           "sampling area's limits), so Guided PatchMatch has nothing to copy; ")
NO_PATCH = "no patch, not even a 3x3 one (the smallest), "


def _strip(rows: int, shape=(64, 64)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A textured picture transparent (black stored) but for ``rows`` opaque rows from row
    30, its alpha, and an 8x8 hole over the middle of that strip."""
    image = np.random.default_rng(rows).integers(60, 230, (*shape, 3), dtype=np.uint8)
    alpha = np.zeros(shape, np.uint8)
    alpha[30:30 + rows] = 255
    image[alpha == 0] = 0
    mask = np.zeros(shape, np.uint8)
    mask[28:36, 28:36] = 255
    return image, alpha, mask


def _refusal(request: InpaintRequest, patch_size: int = 7) -> str:
    with pytest.raises(NoSourceError) as raised:
        list(PatchMatchEngine(patch_size=patch_size).run(request))
    return str(raised.value)


def test_a_strip_too_thin_for_the_patch_blames_the_transparent_pixels():
    image, alpha, mask = _strip(4)  # a 3x3 patch fits the 4 visible rows, a 7x7 one not
    request = InpaintRequest(image, mask, alpha=alpha, seed=1)
    message = _refusal(request)
    assert message == ("no 7x7 patch " + VISIBLE + "choose a smaller patch size or add a "
                       "reference photo")
    # the advice holds: a 3x3 patch fills it from the strip, nothing outside the hole changes
    filled = list(PatchMatchEngine(patch_size=3).run(request))[-1].image
    assert np.array_equal(filled[mask == 0], image[mask == 0])
    visible_hole = (mask == 255) & (alpha == 255)
    assert (filled[visible_hole].max(axis=-1) >= 40).all()  # no black stored under alpha 0


def test_a_strip_too_thin_for_any_patch_is_pointed_at_telea():
    image, alpha, mask = _strip(2)
    request = InpaintRequest(image, mask, alpha=alpha, seed=1)
    assert _refusal(request) == (NO_PATCH + VISIBLE + "fill it with OpenCV Telea or add a "
                                 "reference photo")
    filled = list(TeleaEngine().run(request))[-1].image
    assert np.array_equal(filled[mask == 0], image[mask == 0])


@pytest.mark.parametrize("layer", ["sample_include", "sample_exclude"])
def test_an_empty_sampling_layer_is_no_sampling_area(layer):
    image, alpha, mask = _strip(4)
    request = InpaintRequest(image, mask, alpha=alpha, seed=1,
                             **{layer: np.zeros(mask.shape, np.uint8)})
    assert "widen the sampling area" not in _refusal(request)
    assert _refusal(request).startswith("no 7x7 patch " + VISIBLE)


def test_a_too_small_reference_photo_is_named_with_the_transparent_pixels():
    image, alpha, mask = _strip(2)
    request = InpaintRequest(image, mask, alpha=alpha, seed=1,
                             exemplars=(np.full((2, 2, 3), 128, np.uint8),))
    assert _refusal(request) == (
        NO_PATCH + "fits in the visible pixels outside the hole (fully transparent ones, "
        "alpha 0, are never copied), and the reference photo given is too small (at the size "
        "searched) or too transparent to hold one (only fully opaque pixels are copied); "
        "fill it with OpenCV Telea or add a larger, opaque reference photo")


def test_a_drawn_exclude_area_keeps_the_sampling_area_advice():
    """10 visible rows, 6 of them excluded by the user: a wider sampling area would help."""
    image, alpha, mask = _strip(10)
    exclude = np.zeros(mask.shape, np.uint8)
    exclude[30:36] = 255
    message = _refusal(InpaintRequest(image, mask, alpha=alpha, sample_exclude=exclude,
                                      seed=1))
    assert message == ("no 7x7 patch " + SAMPLED + "choose a smaller patch size, widen the "
                       "sampling area or add a reference photo")


def test_without_transparency_the_sampling_area_is_blamed_as_before():
    image, _, mask = _strip(4)
    exclude = np.full(mask.shape, 255, np.uint8)
    exclude[30:34] = 0  # the same 4 rows allowed, by an exclude area this time
    message = _refusal(InpaintRequest(image, mask, sample_exclude=exclude, seed=1))
    assert message == ("no 7x7 patch " + SAMPLED + "choose a smaller patch size, widen the "
                       "sampling area or add a reference photo")


class _Refusing(Engine):
    """Copies sources and refuses every region with both of :class:`NoSourceError`'s
    messages."""

    name = "refusing"
    guidance = frozenset()
    copies_sources = True

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        raise NoSourceError("said of the sampling area", "said of the transparent pixels")
        yield  # a generator


@pytest.mark.parametrize(("transparent", "said"), [
    (True, "said of the transparent pixels"), (False, "said of the sampling area")])
def test_run_raises_the_message_that_fits_the_region(transparent, said):
    image, alpha, mask = _strip(4)
    request = InpaintRequest(image, mask, alpha=alpha if transparent else None)
    with pytest.raises(EngineError, match=f"^{said}$"):
        list(_Refusing().run(request))
