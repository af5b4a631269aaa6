"""A picture's transparency (``InpaintRequest.alpha``) in the preparation of a region: the
colours spread under fully transparent known pixels (``visible_colours``) are made once
per box and serve both the engine's copy and the paste; a cancel is seen between the
bands of that work; a sampling area that allows only fully transparent pixels is refused
with a message that says so."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from engines import region
from engines.base import (
    Cancelled,
    CancelToken,
    Guidance,
    InpaintRequest,
    InputError,
    Region,
    RegionStage,
    Strategy,
)
from engines.classical.opencv import TeleaEngine
from engines.classical.patchmatch.engine import PatchMatchEngine
from tests.engines.test_region import RecordingEngine
from tests.engines.test_region_cancel import CancelsAtLook
from tests.engines.test_transparent_sources import DARK, EDGE, _picture


class _Flat(RecordingEngine):
    """Fills the hole with one flat colour at full size (so the seam's offset is measured
    against the picture around it); records the regions it is given."""

    name = "flat"
    working_size = None


class _ScaledFlat(_Flat):
    name = "flat-scaled"
    working_size = 64


class _Scribbling(_Flat):
    """:class:`_Flat` that also writes over every pixel of the image it was given."""

    name = "flat-scribbling"

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        stages = list(super().inpaint_region(region, cancel))
        region.image[:] = 7
        yield from stages


def _soft_request(strategy: Strategy) -> InpaintRequest:
    """:func:`_picture` with a soft-edged hole (partly masked pixels blend the picture in)."""
    image, alpha, mask = _picture()
    mask = cv2.GaussianBlur(mask, (0, 0), 2.0)
    return InpaintRequest(image, mask, alpha=alpha, strategy=strategy, crop_margin=8)


@pytest.fixture
def spread(monkeypatch) -> list[int]:
    """Counts ``visible_colours`` calls (one entry per call: the pixels it was asked to
    fill)."""
    calls: list[int] = []
    spreading = region.visible_colours

    def counted(image, fill, sources, cancel=None):
        calls.append(int(fill.sum()))
        return spreading(image, fill, sources, cancel)

    monkeypatch.setattr(region, "visible_colours", counted)
    return calls


_PREPARED = region._prepared_region


def _again(request, box, scale, cancel):
    """What the paste was given before: the region, and the engine's full-size picture made
    a second time (as ``_pasted_over`` did) where the box has fully transparent pixels."""
    built = _PREPARED(request, box, scale, cancel)[0]
    image, hidden = region._engine_image(request, box, cancel)
    return built, None if hidden is None else image


@pytest.mark.parametrize("strategy", [Strategy.RESIZE, Strategy.CROP])
@pytest.mark.parametrize("engine_type", [_ScaledFlat, _Flat, _Scribbling])
def test_the_visible_colours_are_spread_once_and_the_stages_are_those_made_twice(
        spread, monkeypatch, strategy, engine_type):
    """Every stage has the bytes of the run that spread the colours again for the paste;
    each box spreads them once (a scaled engine spread them twice), and an engine that
    writes over the image it was given at full size changes nothing."""
    request = _soft_request(strategy)
    fast = [s.image for s in engine_type().run(request)]
    boxes = len(region.plan_boxes(request, engine_type()))
    assert len(spread) == boxes
    spread.clear()
    monkeypatch.setattr(region, "_prepared_region", _again)
    slow = [s.image for s in engine_type().run(request)]
    assert len(spread) == 2 * boxes
    assert len(fast) == len(slow) == 2
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(a, b)
    if engine_type is _Scribbling:  # the paste is measured against the image as it was
        calm = [s.image for s in _Flat().run(request)]
        assert all(np.array_equal(a, b) for a, b in zip(fast, calm, strict=True))


def test_a_scaled_region_sees_the_spread_colours_and_the_paste_does_too(spread):
    """A scaled engine's copy has visible colours under the transparent pixels, and the
    partly masked transparent pixels of the result blend those, not the stored black."""
    request = _soft_request(Strategy.RESIZE)
    engine = _ScaledFlat()
    final = list(engine.run(request))[-1].image
    (built,) = engine.regions
    assert built.image.shape[1] < request.image.shape[1]
    assert (built.image[~built.hole].max(axis=-1) >= DARK).all()
    soft = (request.mask > 0) & (request.mask < 128) & (request.alpha == 0)
    assert soft.sum() > 20 and (final[soft].max(axis=-1) >= DARK).all()
    assert spread == [int(((request.alpha == 0) & (request.mask < 128)).sum())]


# --- the sampling area allows only fully transparent pixels ----------------------------------

TRANSPARENT_ONLY = (r"no source left for Guided PatchMatch: the sampling area allows only "
                    r"fully transparent pixels \(alpha 0\) outside the hole, and those are "
                    r"never copied; widen the sampling area over visible pixels or add a "
                    r"reference photo")


def _over_transparent() -> np.ndarray:
    """An include area over transparent columns only (left of :data:`EDGE`)."""
    include = np.zeros(_picture()[2].shape, np.uint8)
    include[:, :EDGE - 5] = 255
    return include


@pytest.mark.parametrize("strategy", [Strategy.CROP, Strategy.ORIGINAL])
def test_an_include_area_over_transparent_pixels_only_is_refused_naming_them(strategy):
    image, alpha, mask = _picture()
    request = InpaintRequest(image, mask, alpha=alpha, sample_include=_over_transparent(),
                             strategy=strategy, seed=1)
    with pytest.raises(InputError, match=TRANSPARENT_ONLY):
        list(PatchMatchEngine().run(request))


def test_an_exclude_area_over_every_visible_pixel_is_refused_naming_them():
    image, alpha, mask = _picture()
    request = InpaintRequest(image, mask, alpha=alpha, seed=1,
                             sample_exclude=255 - _over_transparent())
    with pytest.raises(InputError, match=TRANSPARENT_ONLY):
        list(PatchMatchEngine().run(request))


def test_the_same_area_over_semi_transparent_pixels_is_a_source():
    image, alpha, mask = _picture()
    alpha[:, :EDGE] = 1
    image[:, :EDGE] = (120, 130, 140)
    request = InpaintRequest(image, mask, alpha=alpha, sample_include=_over_transparent(),
                             seed=1)
    result = list(PatchMatchEngine().run(request))[-1].image
    assert np.array_equal(result[mask == 0], image[mask == 0])


def test_an_area_the_engine_does_not_follow_or_a_reference_photo_is_no_refusal():
    """Telea ignores the sampling area; PatchMatch with a reference photo copies from it."""
    image, alpha, mask = _picture()
    request = InpaintRequest(image, mask, alpha=alpha, sample_include=_over_transparent(),
                             seed=1)
    filled = list(TeleaEngine().run(request))[-1].image
    assert (filled[(mask == 255) & (alpha == 255)].max(axis=-1) >= DARK).all()
    reference = np.full((40, 40, 3), (90, 160, 200), np.uint8)
    copied = list(PatchMatchEngine().run(request.evolve(exemplars=(reference,))))[-1].image
    assert (np.abs(copied[mask == 255].astype(int) - (90, 160, 200)) <= 2).all()


def test_an_include_area_visible_only_far_from_the_hole_widens_the_crop():
    """An include area over transparent pixels near the hole and visible ones outside its
    crop box: the engine sees the whole picture and copies from the visible ones."""
    image, alpha, mask = _picture((120, 400))
    include = np.zeros(mask.shape, np.uint8)
    include[:, :EDGE - 5] = 255  # transparent, in the hole's crop box
    include[:, 330:] = 255  # visible, outside it
    image[:, 330:] = (30, 190, 70)
    request = InpaintRequest(image, mask, alpha=alpha, sample_include=include, seed=1,
                             crop_margin=8)
    engine = PatchMatchEngine()
    assert region.plan_boxes(request, engine) == [(region.Box.frame(mask.shape), 1.0)]
    result = list(engine.run(request))[-1].image
    assert (np.abs(result[mask == 255].astype(int) - (30, 190, 70)) <= 2).all()


# --- a cancel in the transparent pixels' preparation ------------------------------------------

H, W = 120, 160
BAND_ROWS = 8


class _Guided(_Flat):
    """:class:`_Flat` that follows the sampling area (its exclude area is read)."""

    name = "flat-guided"
    guidance = frozenset({Guidance.SAMPLING})


class _ScaledGuided(_Guided):
    name = "flat-guided-scaled"
    working_size = 40


def _looks(engine_type, request: InpaintRequest,
           monkeypatch) -> tuple[int, int]:
    """The token's looks when a box's region is cut (``_prepared_region``) and when the
    engine starts."""
    token = CancelsAtLook()
    at_build, at_engine = [], []
    building = region._prepared_region

    def built(request, box, scale, cancel):
        at_build.append(cancel.looks)
        return building(request, box, scale, cancel)

    class Noting(engine_type):
        def inpaint_region(self, region, cancel):
            at_engine.append(token.looks)
            yield from super().inpaint_region(region, cancel)

    monkeypatch.setattr(region, "_prepared_region", built)
    list(Noting().run(request, token))
    monkeypatch.setattr(region, "_prepared_region", building)
    return at_build[0], at_engine[0]


@pytest.mark.parametrize("engine_type", [_Guided, _ScaledGuided])
def test_a_cancel_while_transparent_pixels_are_prepared_stops_at_the_next_look(
        monkeypatch, spread, engine_type):
    """The maps of the transparent pixels, the spread of colours and the excluded area
    are made in bands with a look between two: more looks than without alpha, and a
    cancel at any look between the box's cut and the engine's start raises there, with no
    spreading begun after it and the engine never run."""
    monkeypatch.setattr(region, "BAND_PIXELS", BAND_ROWS * W)
    image, alpha, mask = _picture((H, W))
    exclude = np.zeros(mask.shape, np.uint8)
    exclude[:, -20:] = 255
    request = InpaintRequest(image, mask, alpha=alpha, sample_exclude=exclude,
                             strategy=Strategy.ORIGINAL)
    first, engine_at = _looks(engine_type, request, monkeypatch)
    plain_first, plain_at = _looks(engine_type, request.evolve(alpha=None), monkeypatch)
    bands = H // BAND_ROWS
    assert (engine_at - first) - (plain_at - plain_first) >= 2 * (bands - 1)
    started: list[int] = []  # the spreads begun when the cancel was seen
    for at in range(first + 1, engine_at + 1):
        spread.clear()
        started.clear()
        token = CancelsAtLook(at, when=lambda: started.append(len(spread)))
        engine = engine_type()
        with pytest.raises(Cancelled):
            list(engine.run(request, token))
        assert token.looks == at  # the look that saw the cancel was the last
        assert len(spread) == started[0]  # no spread begun after it
        assert engine.regions == []
