"""Guidance an engine follows but could not follow in a fill is said
(:func:`engines.guidance.source_notes`): a reference photo too small for the patch size, and
labels given to the hole that no pixel the fill may copy from carries (which then constrain
nothing, :func:`engines.region.unsourced_labels`). A hole label whose sources the sampling
area leaves out near the hole, but not further away, widens the fill's region instead."""

from __future__ import annotations

import numpy as np
import pytest

from engines import region as region_module
from engines.base import (
    Cancelled,
    CancelToken,
    Engine,
    EngineError,
    Guidance,
    InpaintRequest,
    RegionStage,
)
from engines.classical.opencv import TeleaEngine
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.guidance import left_out_references, source_notes
from engines.region import LabelSources, plan_boxes, unsourced_labels

HEIGHT, WIDTH = 80, 120
HOLE = (slice(30, 50), slice(50, 70))
SKY, GRASS, ORPHAN = 2, 5, 200
NAMES = ("wall", "building", "sky", "floor", "tree", "grass")


def _request(labels=None, exclude=None, include=None, exemplars=(), **settings):
    rng = np.random.default_rng(3)
    image = rng.integers(60, 120, (HEIGHT, WIDTH, 3)).astype(np.uint8)
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[HOLE] = 255
    return InpaintRequest(image, mask, labels=labels, sample_exclude=exclude,
                          sample_include=include, exemplars=exemplars, **settings)


def _labels(hole: int) -> np.ndarray:
    """Sky above row 20, grass below, the hole given ``hole``."""
    labels = np.full((HEIGHT, WIDTH), GRASS, np.uint8)
    labels[:20] = SKY
    labels[HOLE] = hole
    return labels


def _area(rows: slice) -> np.ndarray:
    area = np.zeros((HEIGHT, WIDTH), np.uint8)
    area[rows] = 255
    return area


def _tiny(side: int = 12, colour=(255, 0, 0)) -> np.ndarray:
    return np.full((side, side, 3), colour, np.uint8)


# ---------------------------------------------------------------- reference photos
def test_a_reference_too_small_for_the_patch_size_is_named_with_the_option():
    request = _request(exemplars=(np.zeros((40, 40, 3), np.uint8), _tiny()))
    assert source_notes(request, PatchMatchEngine(patch_size=31), ["big.png", "tiny.png"]) \
        == ["the fill left out tiny.png at Patch size 31: it is 12x12 pixels, too small for "
            "one 31x31 patch, so nothing can be copied from it"]
    # at the default (7) both give a patch; an engine that takes no reference says nothing
    assert source_notes(request, PatchMatchEngine(), ["big.png", "tiny.png"]) == []
    assert source_notes(request, TeleaEngine(), ["big.png", "tiny.png"]) == []


def test_the_patch_size_is_the_engines_else_the_requests():
    request = _request(exemplars=(_tiny(),), options={"patch_size": 13})
    assert left_out_references(request, PatchMatchEngine())[0][0] == 0
    assert left_out_references(request, PatchMatchEngine(patch_size=11)) == []


def test_a_cut_out_without_an_opaque_patch_is_named_with_why():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[:20, :20] = (255, 0, 0, 255)  # opaque room for 19x19 patches, not 21x21
    request = _request(exemplars=(rgba,))
    assert source_notes(request, PatchMatchEngine(patch_size=19), ["cut.png"]) == []
    note, = source_notes(request, PatchMatchEngine(patch_size=21), ["cut.png"])
    assert note.startswith("the fill left out cut.png at Patch size 21: it has no fully "
                           "opaque 21x21 area")


@pytest.mark.parametrize("patch_size", [7, 31])
def test_the_note_says_what_the_fill_did_with_the_reference(patch_size):
    # everything but the hole excluded: a red reference is the only source where it fits
    request = _request(exemplars=(_tiny(),))
    request = request.evolve(sample_exclude=np.where(request.hole, 0, 255).astype(np.uint8))
    engine = PatchMatchEngine(patch_size=patch_size, quality="fast", previews=False)
    left_out = bool(source_notes(request, engine, ["red.png"]))
    assert left_out == (patch_size == 31)
    if left_out:  # no source at all is left: the engine says so itself
        with pytest.raises(EngineError, match="no 31x31 patch fits"):
            list(engine.run(request))
    else:
        filled = list(engine.run(request))[-1].image[HOLE]
        assert (filled == (255, 0, 0)).all()


# ------------------------------------------------------------------------- labels
def test_a_hole_label_whose_every_pixel_is_excluded_is_named():
    request = _request(_labels(SKY), exclude=_area(slice(0, 20)))
    assert unsourced_labels(request, PatchMatchEngine()) == LabelSources((SKY,), (SKY,), False)
    assert source_notes(request, PatchMatchEngine(), [], lambda: NAMES) == [
        'the fill did not follow the label "sky": the sampling area leaves out every pixel '
        "outside the hole that carries it, so its part of the hole was filled from any pixel"]


def test_an_include_area_without_the_label_counts_as_leaving_it_out():
    request = _request(_labels(SKY), include=_area(slice(40, None)))
    assert unsourced_labels(request, PatchMatchEngine()) == LabelSources((SKY,), (SKY,), False)


def test_a_label_no_other_pixel_carries_is_named_by_id_without_names():
    request = _request(_labels(ORPHAN))
    assert source_notes(request, PatchMatchEngine(), []) == [
        "the fill did not follow the label id 200: no pixel outside the hole carries it, so "
        "its part of the hole was filled from any pixel"]
    # a set that does not name the id: the id
    assert "label id 200:" in source_notes(request, PatchMatchEngine(), [], lambda: NAMES)[0]


def test_two_labels_are_named_each_with_its_reason():
    labels = _labels(SKY)
    labels[30:40, 50:70] = ORPHAN
    note, = source_notes(_request(labels, exclude=_area(slice(0, 20))), PatchMatchEngine(),
                         [], lambda: NAMES)
    assert note == (
        'the fill did not follow the labels "sky" and id 200: the sampling area leaves out '
        'every pixel outside the hole that carries "sky" and no pixel outside the hole '
        "carries id 200, so their part of the hole was filled from any pixel")


def test_the_note_says_when_unlabelled_pixels_or_references_are_the_sources():
    labels = _labels(ORPHAN)
    labels[70:] = 255  # unlabelled: PatchMatch lets any label copy from them
    assert unsourced_labels(_request(labels), PatchMatchEngine()).unlabelled
    assert source_notes(_request(labels), PatchMatchEngine(), [])[0].endswith(
        "filled from the unlabelled pixels only")
    with_reference = _request(_labels(ORPHAN), exemplars=(_tiny(),))
    assert source_notes(with_reference, PatchMatchEngine(), ["red.png"])[0].endswith(
        "filled from the reference photos only")
    # a reference left out is no source
    assert source_notes(with_reference, PatchMatchEngine(patch_size=31), ["red.png"])[1] \
        .endswith("filled from any pixel")


def test_labels_with_a_source_say_nothing_and_plan_no_boxes(monkeypatch):
    def no_plan(*args, **kwargs):
        raise AssertionError("the engine's boxes were planned")

    monkeypatch.setattr(region_module, "plan_boxes", no_plan)
    labels = _labels(GRASS)
    for request in (_request(labels), _request(labels, exclude=_area(slice(0, 20))),
                    _request(None, exclude=_area(slice(0, 20)))):
        assert source_notes(request, PatchMatchEngine(), []) == []


def test_a_label_with_sources_only_far_away_says_nothing():
    labels = np.full((200, 300), GRASS, np.uint8)
    labels[:, :20] = SKY  # far from the hole: the engine sees the whole picture for them
    labels[150:170, 250:270] = SKY
    mask = np.zeros((200, 300), np.uint8)
    mask[150:170, 250:270] = 255
    request = InpaintRequest(np.zeros((200, 300, 3), np.uint8), mask, labels=labels,
                             crop_margin=10)
    assert plan_boxes(request, PatchMatchEngine())[0][0].width == 300
    assert source_notes(request, PatchMatchEngine(), []) == []


def test_a_label_the_parser_gave_the_hole_is_no_guidance():
    computed = _labels(ORPHAN)  # the hole over the one object of its kind
    request = _request(computed)
    assert source_notes(request, PatchMatchEngine(), [], unedited_labels=computed) == []
    edited = computed.copy()
    edited[HOLE] = 201
    assert unsourced_labels(_request(edited), PatchMatchEngine(),
                            unedited_labels=computed).labels == (201,)
    with pytest.raises(ValueError, match="does not match"):
        unsourced_labels(request, PatchMatchEngine(), unedited_labels=computed[:10])


def test_engines_that_do_not_copy_by_labels_say_nothing():
    class ReadsLabels(Engine):  # a network reading the map, as the semantic one
        name = "reads-labels"
        guidance = frozenset({Guidance.LABELS})

        def inpaint_region(self, region, cancel):
            yield RegionStage("refined", region.image.copy(), 1.0, final=True)

    request = _request(_labels(ORPHAN))
    assert source_notes(request, ReadsLabels(), []) == []
    assert source_notes(request, TeleaEngine(), []) == []


def test_the_labels_are_read_in_bands_that_can_be_cancelled(monkeypatch):
    monkeypatch.setattr(region_module, "BAND_PIXELS", WIDTH * 4)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        unsourced_labels(_request(_labels(ORPHAN)), PatchMatchEngine(), cancel)


# ------------------------------------------- sources the sampling area leaves out nearby
def test_a_hole_label_excluded_near_the_hole_is_copied_from_further_away():
    height, width = 200, 300
    image = np.full((height, width, 3), 128, np.uint8)
    labels = np.full((height, width), GRASS, np.uint8)
    image[:, :20] = (30, 30, 220)  # far away: blue, labelled sky
    labels[:, :20] = SKY
    image[100:200, 200:300] = (220, 30, 30)  # around the hole: red, labelled sky, excluded
    labels[100:200, 200:300] = SKY
    exclude = np.zeros((height, width), np.uint8)
    exclude[100:200, 200:300] = 255
    mask = np.zeros((height, width), np.uint8)
    mask[150:170, 250:270] = 255
    exclude[mask > 0] = 0
    request = InpaintRequest(image, mask, labels=labels, sample_exclude=exclude,
                             crop_margin=10)
    engine = PatchMatchEngine(quality="fast", previews=False)
    assert plan_boxes(request, engine)[0][0].width == width  # the whole picture
    assert source_notes(request, engine, []) == []
    result = list(engine.run(request))[-1].image
    filled = result[mask > 0].astype(int)
    assert (filled[:, 2] > 150).all() and (filled[:, 0] < 80).all()  # blue, not red
    assert np.array_equal(result[mask == 0], image[mask == 0])
