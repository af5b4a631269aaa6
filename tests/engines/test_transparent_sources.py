"""A picture's own transparency (``InpaintRequest.alpha``): pixels with alpha 0 are neither
sources nor boundary colour for the fill, whatever colour is stored under them (often
black); semi-transparent ones (alpha 1 to 254) still are; nothing outside the hole changes,
the colour stored under transparent pixels included."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from engines.base import (
    CancelToken,
    Engine,
    InpaintRequest,
    InputError,
    Region,
    RegionStage,
    Strategy,
)
from engines.classical.opencv import TeleaEngine
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.region import Box, build_region, plan_boxes

DARK = 40  # a visible filled pixel whose every channel is below this is "near-black"
EDGE = 50  # columns left of this are fully transparent, black stored under them


def _picture(shape=(120, 160)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A warm textured picture whose columns left of :data:`EDGE` are transparent with black
    stored under them, its alpha, and a disc hole crossing that edge (as QA's repro)."""
    height, width = shape
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([150 + 30 * np.sin(x / 9.0), 110 + 25 * np.cos(y / 7.0),
                     90 + 0 * x], -1)
    image = np.clip(base + rng.normal(0, 8, base.shape), 60, 230).astype(np.uint8)
    image[:, :EDGE] = 0
    alpha = np.full(shape, 255, np.uint8)
    alpha[:, :EDGE] = 0
    mask = np.zeros(shape, np.uint8)
    mask[((y - 60) ** 2 + (x - EDGE - 12) ** 2) <= 22 ** 2] = 255
    return image, alpha, mask


def _final(engine: Engine, request: InpaintRequest) -> np.ndarray:
    return list(engine.run(request))[-1].image


@pytest.mark.parametrize("engine", [PatchMatchEngine, TeleaEngine])
def test_the_visible_fill_next_to_transparent_pixels_takes_no_black(engine):
    image, alpha, mask = _picture()
    result = _final(engine(), InpaintRequest(image, mask, alpha=alpha, seed=1))
    visible = (mask == 255) & (alpha == 255)
    assert visible.sum() > 500
    assert int((result[visible].max(axis=1) < DARK).sum()) == 0
    # nothing outside the hole changes, the black under transparent pixels included
    assert np.array_equal(result[mask == 0], image[mask == 0])
    assert (result[:, :EDGE][mask[:, :EDGE] == 0] == 0).all()


def test_without_alpha_the_stored_black_is_content():
    """The same picture given without its alpha: the black is picture content, and the fill
    next to it takes some (what alpha 0 prevents)."""
    image, _, mask = _picture()
    result = _final(TeleaEngine(), InpaintRequest(image, mask))
    visible = (mask == 255) & (np.arange(image.shape[1]) >= EDGE)[None, :]
    assert int((result[visible].max(axis=1) < DARK).sum()) > 0


def test_semi_transparent_pixels_are_still_sources():
    """Only alpha 0 is left out: a pixel at alpha 1 to 254 shows its colour, so the fill
    reads it as given (the same result as with no alpha at all)."""
    image, alpha, mask = _picture()
    alpha[:, :EDGE] = 128
    for engine in (PatchMatchEngine(), TeleaEngine()):
        with_alpha = _final(engine, InpaintRequest(image, mask, alpha=alpha, seed=2))
        without = _final(engine, InpaintRequest(image, mask, seed=2))
        assert np.array_equal(with_alpha, without)


class _Recorder(Engine):
    """Keeps the regions it is given; fills nothing (gives its input back)."""

    name = "recorder"
    working_size = None

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.regions: list[Region] = []

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        self.regions.append(region)
        yield RegionStage("refined", region.image.copy(), 1.0, final=True)


class _ScaledRecorder(_Recorder):
    name = "scaled-recorder"
    working_size = 64


@pytest.mark.parametrize("engine", [_Recorder, _ScaledRecorder])
def test_the_engine_sees_a_plausible_colour_under_transparent_pixels(engine):
    """Every engine's input copy (a network's, a diffusion's) has colours from the visible
    pixels under the transparent ones, at full size and scaled."""
    image, alpha, mask = _picture()
    recorder = engine()
    _final(recorder, InpaintRequest(image, mask, alpha=alpha, strategy=Strategy.RESIZE))
    (region,) = recorder.regions
    assert region.image.shape[1] < image.shape[1] or engine is _Recorder
    assert (region.image[~region.hole].max(axis=-1) >= DARK).all()
    if engine is _Recorder:  # the visible pixels are given as they are
        assert np.array_equal(region.image[:, EDGE:], image[:, EDGE:])


def test_transparent_pixels_join_the_excluded_area():
    image, alpha, mask = _picture()
    exclude = np.zeros_like(mask)
    exclude[:, -20:] = 255
    request = InpaintRequest(image, mask, alpha=alpha, sample_exclude=exclude)
    region = build_region(request, Box.frame(mask.shape), 1.0)
    expected = ((alpha == 0) & (mask < 128)) | (exclude == 255)
    assert np.array_equal(region.sample_exclude == 255, expected)
    # without transparent pixels outside the hole, the request's own layer is given
    opaque = InpaintRequest(image, mask, alpha=np.full_like(alpha, 255),
                            sample_exclude=exclude)
    assert np.array_equal(build_region(opaque, Box.frame(mask.shape), 1.0).sample_exclude,
                          exclude)


def test_transparent_hole_pixels_are_filled_too():
    image, alpha, mask = _picture()
    mask[50:70, 10:40] = 255  # a hole all in the transparent part, beside the disc
    for engine in (PatchMatchEngine(), TeleaEngine()):
        result = _final(engine, InpaintRequest(image, mask, alpha=alpha, seed=3))
        assert np.array_equal(result[mask == 0], image[mask == 0])
        assert (result[50:70, 10:40].max(axis=-1) >= DARK).all()


def test_a_crop_with_no_visible_context_takes_the_whole_picture():
    """A hole whose crop box holds only transparent known pixels is filled from the visible
    pixels elsewhere: the engine sees the whole picture."""
    image, alpha, _ = _picture((100, 400))
    alpha[:, :300] = 0
    image[:, :300] = 0
    mask = np.zeros(alpha.shape, np.uint8)
    mask[40:60, 20:40] = 255
    request = InpaintRequest(image, mask, alpha=alpha, crop_margin=8)
    assert plan_boxes(request, TeleaEngine()) == [(Box.frame(mask.shape), 1.0)]
    result = _final(TeleaEngine(), request)
    assert (result[40:60, 20:40].max(axis=-1) >= DARK).all()


@pytest.mark.parametrize("engine", [PatchMatchEngine, TeleaEngine])
def test_a_picture_transparent_everywhere_outside_the_hole_is_refused(engine):
    image, _, mask = _picture()
    alpha = np.zeros(mask.shape, np.uint8)
    alpha[mask == 255] = 255
    with pytest.raises(InputError, match=r"no source left.*fully transparent"):
        _final(engine(), InpaintRequest(image, mask, alpha=alpha))


def test_alpha_must_be_the_pictures_size():
    image, alpha, mask = _picture()
    with pytest.raises(InputError, match="alpha is"):
        InpaintRequest(image, mask, alpha=alpha[:, :-1])
