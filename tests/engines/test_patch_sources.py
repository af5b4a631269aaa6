"""Sources are patches, not pixels, for an engine that copies patches (Guided PatchMatch's
*Patch size*, :func:`engines.region.source_patch`): a label whose only pixels outside the
hole are too thin for one patch is said in the fill's note with that reason
(:func:`engines.region.unsourced_labels`, :func:`engines.guidance.source_notes`), and a
crop box that keeps only a strip of allowed pixels too thin for one patch is widened to the
whole picture where that holds one (:func:`engines.region._sources_outside`). An engine
without a patch size keeps the per-pixel rule."""

from __future__ import annotations

import numpy as np
import pytest

from engines import region as region_module
from engines.base import (
    Cancelled,
    CancelToken,
    Engine,
    Guidance,
    InpaintRequest,
    RegionStage,
)
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.guidance import patch_centres, source_notes
from engines.region import Box, LabelSources, plan_boxes, source_patch, unsourced_labels
from tests.engines.test_exclude_widens_crop import EXCLUDED, check_fill

# ------------------------------------------------------------------ labels on a ring
SIZE = 80
HOLE = (slice(30, 50), slice(30, 50))
RING, OTHER = 0, 1
GREEN, BLUE, RED = (40, 170, 90), (30, 30, 220), (220, 30, 30)


def _ring_request(width: int, exemplar: bool = True, exclude_far: bool = False,
                  **settings) -> InpaintRequest:
    """A green picture labelled :data:`OTHER`, a blue ring ``width`` px wide around the
    hole labelled :data:`RING`, the hole labelled :data:`RING`; a red reference photo.
    ``exclude_far``: a blue block far from the hole also labelled :data:`RING`, excluded."""
    image = np.full((SIZE, SIZE, 3), GREEN, np.uint8)
    labels = np.full((SIZE, SIZE), OTHER, np.uint8)
    ring = (slice(30 - width, 50 + width), slice(30 - width, 50 + width))
    image[ring] = BLUE
    labels[ring] = RING
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[HOLE] = 255
    exclude = None
    if exclude_far:
        image[:20, :20] = BLUE
        labels[:20, :20] = RING
        exclude = np.zeros((SIZE, SIZE), np.uint8)
        exclude[:20, :20] = 255
    exemplars = (np.full((20, 20, 3), RED, np.uint8),) if exemplar else ()
    return InpaintRequest(image, mask, labels=labels, exemplars=exemplars,
                          sample_exclude=exclude, seed=1, **settings)


def _engine(**options) -> PatchMatchEngine:
    return PatchMatchEngine(quality="fast", previews=False, **options)


class PixelCopier(Engine):
    """An engine that copies sources by labels and a sampling area, without patches."""

    name = "pixel-copier"
    guidance = frozenset({Guidance.LABELS, Guidance.SAMPLING})
    copies_sources = True

    def inpaint_region(self, region, cancel):
        yield RegionStage("refined", region.image.copy(), 1.0, final=True)


def test_the_patch_side_is_the_engines_option_else_the_requests_else_none():
    request = _ring_request(2, options={"patch_size": 5})
    assert source_patch(request, PatchMatchEngine()) == 5
    assert source_patch(request, PatchMatchEngine(patch_size=9)) == 9
    assert source_patch(_ring_request(2), PatchMatchEngine()) == 7
    assert source_patch(request, PixelCopier()) is None
    # a value the engine refuses when it runs: the per-pixel rule meanwhile, no crash
    assert source_patch(_ring_request(2, options={"patch_size": "x"}), _engine()) is None


def test_a_label_on_a_ring_too_thin_for_a_patch_is_said_and_the_reference_fills_it():
    request = _ring_request(2)
    engine = _engine()
    assert unsourced_labels(request, engine) == LabelSources((RING,), (), False, (RING,), 3)
    assert source_notes(request, engine, ["red.png"]) == [
        "the fill did not follow the label id 0: no patch of the patch size (7x7) fits on "
        "the pixels outside the hole that carry it (a 3x3 one would), so its part of the "
        "hole was filled from the reference photos only"]
    result = list(engine.run(request))[-1].image
    hole = request.mask == 255
    assert (result[hole] == RED).all()  # what the note says: the reference served it
    assert np.array_equal(result[~hole], request.image[~hole])


def test_a_label_with_room_for_a_patch_gets_no_note_and_is_followed():
    request = _ring_request(8)  # 7x7 patches fit on the ring
    engine = _engine()
    assert unsourced_labels(request, engine) == LabelSources()
    assert source_notes(request, engine, ["red.png"]) == []
    result = list(engine.run(request))[-1].image
    assert (result[request.mask == 255] == BLUE).all()


def test_the_engines_patch_size_decides():
    # a patch may reach over other labels, not into the hole: on a ring w px wide, patches
    # up to (2w + 1)x(2w + 1) fit (centred on its outer pixels)
    request = _ring_request(2)
    assert source_notes(request, _engine(patch_size=3), ["red.png"]) == []
    note, = source_notes(request, _engine(patch_size=5), ["red.png"])
    assert "no patch of the patch size (5x5) fits" in note
    assert source_notes(_ring_request(4), _engine(), ["red.png"]) == []
    note, = source_notes(_ring_request(4, options={"patch_size": 9}), _engine(), ["red.png"])
    assert "no patch of the patch size (9x9) fits" in note


@pytest.mark.parametrize(("width", "patch_size", "named"), [(2, 7, 3), (4, 11, 7), (4, 9, 7)])
def test_the_note_names_the_largest_patch_size_that_follows_the_label(width, patch_size,
                                                                      named):
    """The size the note names is the one to set: at it the label is followed (the hole
    takes the ring's blue, no note), at the next size up it is not (the red reference,
    which counts as any label, fills it)."""
    request = _ring_request(width, options={"patch_size": patch_size})
    note, = source_notes(request, _engine(), ["red.png"])
    assert f"(a {named}x{named} one would)" in note
    hole = request.mask == 255
    for size, followed in ((named, True), (named + 2, False)):
        settled = request.evolve(options={"patch_size": size})
        assert (source_notes(settled, _engine(), ["red.png"]) == []) is followed
        result = list(_engine().run(settled))[-1].image
        assert (result[hole] == (BLUE if followed else RED)).all()
        assert np.array_equal(result[~hole], request.image[~hole])


def test_no_size_is_named_when_not_even_a_3x3_patch_fits():
    request = _ring_request(1, exemplar=False)  # a 1 px ring: every 3x3 patch reaches the hole
    found = unsourced_labels(request, _engine())
    assert found.unfitted == (RING,) and found.fits_at is None
    note, = source_notes(request, _engine(), [])
    assert "fits on the pixels outside the hole that carry it, so" in note


def test_without_a_reference_the_note_says_any_pixel():
    note, = source_notes(_ring_request(2, exemplar=False), _engine(), [])
    assert note.endswith("carry it (a 3x3 one would), so its part of the hole was filled from "
                         "any pixel")


def test_pixels_of_the_label_the_sampling_area_leaves_out_are_not_blamed():
    """The label's pixels far off, where patches fit, are excluded; the ring is allowed."""
    request = _ring_request(2, exclude_far=True)
    found = unsourced_labels(request, _engine())
    assert found == LabelSources((RING,), (), False, (RING,), 3)
    note, = source_notes(request, _engine(), ["red.png"])
    assert ("no patch of the patch size (7x7) fits on the pixels outside the hole that "
            "carry it and may be copied (a 3x3 one would), so its part") in note


def test_an_engine_without_a_patch_size_counts_single_pixels():
    request = _ring_request(2)
    assert unsourced_labels(request, PixelCopier()) == LabelSources()
    assert source_notes(request, PixelCopier(), ["red.png"]) == []


def test_labels_read_in_small_bands_give_the_same_note_and_can_be_cancelled(monkeypatch):
    expected = source_notes(_ring_request(2), _engine(), ["red.png"])
    assert source_notes(_ring_request(8), _engine(), ["red.png"]) == []
    monkeypatch.setattr(region_module, "BAND_PIXELS", SIZE * 2)  # 2 rows a band
    assert source_notes(_ring_request(2), _engine(), ["red.png"]) == expected
    assert source_notes(_ring_request(8), _engine(), ["red.png"]) == []
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        unsourced_labels(_ring_request(2), _engine(), cancel)


@pytest.mark.parametrize("side", [None, 3, 7, 31])
@pytest.mark.parametrize("band_rows", [1, 3, 50])
def test_the_banded_patch_centres_are_the_whole_boxs(monkeypatch, side, band_rows):
    rng = np.random.default_rng(side or 0)
    mask = np.where(rng.random((60, 70)) < 0.03, 255, 0).astype(np.uint8)
    exclude = np.zeros((60, 70), np.uint8)
    exclude[rng.random((60, 70)) < 0.01] = 255
    request = InpaintRequest(np.zeros((60, 70, 3), np.uint8), mask, sample_exclude=exclude)
    box = Box(5, 3, 58, 66)
    allowed = region_module._allowed_sources(request, PixelCopier(), box, False)
    expected = allowed if side is None else patch_centres(allowed, side).view(bool)
    monkeypatch.setattr(region_module, "BAND_PIXELS", box.width * band_rows)
    bands = list(region_module._source_bands(request, PixelCopier(), box, False, side,
                                             CancelToken()))
    assert len(bands) == -(-box.height // band_rows)
    got = np.concatenate([centres for _, centres in bands])
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------ a crop box with a strip too thin
H, W = 120, 400
FAR = 360  # the 40 columns from here on are allowed, far from the hole
CROP_HOLE = (slice(50, 70), slice(60, 80))


def _strip_picture(ring: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A magenta picture, green with noise in a ``ring`` px ring around the hole and in
    the far strip; the hole; the exclude area (everything but the ring and the strip)."""
    image = np.empty((H, W, 3), np.uint8)
    image[:] = EXCLUDED
    green = np.clip(np.array(GREEN) + np.random.default_rng(0).integers(-12, 13, (H, W, 3)),
                    0, 255).astype(np.uint8)
    allowed = np.zeros((H, W), bool)
    allowed[50 - ring:70 + ring, 60 - ring:80 + ring] = True
    allowed[:, FAR:] = True
    image[allowed] = green[allowed]
    mask = np.zeros((H, W), np.uint8)
    mask[CROP_HOLE] = 255
    allowed[CROP_HOLE] = False
    exclude = np.where(allowed | (mask > 0), 0, 255).astype(np.uint8)
    return image, mask, exclude


def test_a_crop_that_keeps_only_a_thin_ring_of_allowed_pixels_widens():
    image, mask, exclude = _strip_picture(3)
    request = InpaintRequest(image, mask, sample_exclude=exclude, crop_margin=16, seed=1)
    engine = _engine()
    assert plan_boxes(request, engine) == [(Box.frame((H, W)), 1.0)]
    check_fill(list(engine.run(request))[-1].image, image, mask)


def test_a_thin_visible_ring_in_a_transparent_picture_widens():
    image, mask, exclude = _strip_picture(3)
    alpha = np.where(exclude > 0, 0, 255).astype(np.uint8)  # the same shape, transparent
    image[exclude > 0] = 0  # black stored under the transparent pixels
    request = InpaintRequest(image, mask, alpha=alpha, crop_margin=16, seed=1)
    engine = _engine()
    assert plan_boxes(request, engine) == [(Box.frame((H, W)), 1.0)]
    check_fill(list(engine.run(request))[-1].image, image, mask, forbidden=(0, 0, 0))


def test_an_include_area_of_a_thin_ring_and_a_far_strip_widens():
    image, mask, exclude = _strip_picture(3)
    include = np.where(exclude > 0, 0, 255).astype(np.uint8)
    request = InpaintRequest(image, mask, sample_include=include, crop_margin=16, seed=1)
    engine = _engine()
    assert plan_boxes(request, engine) == [(Box.frame((H, W)), 1.0)]
    check_fill(list(engine.run(request))[-1].image, image, mask)


def test_a_crop_that_holds_an_allowed_patch_is_kept():
    image, mask, exclude = _strip_picture(7)  # a 7x7 patch fits on the ring
    request = InpaintRequest(image, mask, sample_exclude=exclude, crop_margin=16, seed=1)
    engine = _engine()
    plan = plan_boxes(request, engine)
    assert len(plan) == 1 and plan[0][0].right < FAR
    check_fill(list(engine.run(request))[-1].image, image, mask)
    # the same ring is too thin for the engine's patches at 9
    assert plan_boxes(request, _engine(patch_size=9)) == [(Box.frame((H, W)), 1.0)]


def test_an_engine_without_a_patch_size_keeps_the_crop_on_a_thin_ring():
    image, mask, exclude = _strip_picture(3)
    request = InpaintRequest(image, mask, sample_exclude=exclude, crop_margin=16, seed=1)
    plan = plan_boxes(request, PixelCopier())
    assert len(plan) == 1 and plan[0][0].right < FAR


def test_the_crop_is_widened_the_same_in_small_bands(monkeypatch):
    image, mask, exclude = _strip_picture(3)
    request = InpaintRequest(image, mask, sample_exclude=exclude, crop_margin=16, seed=1)
    monkeypatch.setattr(region_module, "BAND_PIXELS", W * 2)
    assert plan_boxes(request, _engine()) == [(Box.frame((H, W)), 1.0)]
    kept = _strip_picture(7)
    request = InpaintRequest(kept[0], kept[1], sample_exclude=kept[2], crop_margin=16)
    assert plan_boxes(request, _engine())[0][0].right < FAR
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        plan_boxes(request, _engine(), cancel)
