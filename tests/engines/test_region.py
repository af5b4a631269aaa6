"""Region strategies, box planning and the paste-back."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from engines import registry
from engines.base import (
    MIN_CROP_CONTEXT,
    CancelToken,
    Engine,
    EngineError,
    Guidance,
    InpaintRequest,
    InputError,
    Region,
    RegionStage,
    Strategy,
)
from engines.region import Box, crop_boxes, mask_bbox, paste_hole, plan_boxes, seam_correction


class RecordingEngine(Engine):
    """Fills the hole with a flat colour and records the regions it was given."""

    name = "recording"
    working_size = 64

    def __init__(self, **options):
        super().__init__(**options)
        self.regions: list[Region] = []

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        self.regions.append(region)
        out = region.image.copy()
        out[region.hole] = (10, 200, 30)
        yield RegionStage("coarse", out, 0.5)
        yield RegionStage("refined", out, 1.0, final=True)


def _image(h=200, w=300) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _two_holes(h=200, w=300) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    mask[20:40, 30:50] = 255
    mask[150:170, 240:280] = 255
    return mask


@pytest.mark.parametrize("strategy", list(Strategy))
def test_pixels_outside_the_mask_are_byte_identical(strategy):
    image, mask = _image(), _two_holes()
    request = InpaintRequest(image=image, mask=mask, strategy=strategy, crop_margin=16)
    stages = list(RecordingEngine().run(request))
    assert stages[-1].final and not any(s.final for s in stages[:-1])
    for stage in stages:
        assert np.array_equal(stage.image[mask == 0], image[mask == 0])
    assert (stages[-1].image[mask > 0] != image[mask > 0]).any(axis=-1).mean() > 0.9


def test_crop_strategy_runs_one_box_per_separate_hole_with_context():
    request = InpaintRequest(image=_image(), mask=_two_holes(), crop_margin=10)
    engine = RecordingEngine()
    list(engine.run(request))
    assert len(engine.regions) == 2
    first = engine.regions[0]
    assert first.image.shape[:2] == (64, 64)  # the 20x20 hole + margins, grown to min_context


class GuidedRecordingEngine(RecordingEngine):
    """Copies pixels from where the labels and the sampling area say, as PatchMatch."""

    name = "guided-recording"
    guidance = frozenset({Guidance.LABELS, Guidance.SAMPLING})
    copies_sources = True


class LabelNetworkEngine(RecordingEngine):
    """Reads the label map inside its region and generates pixels, as the semantic net."""

    name = "label-network"
    guidance = frozenset({Guidance.LABELS})


def test_crop_widens_to_the_whole_picture_when_guidance_names_sources_outside_it():
    image, mask = _image(), np.zeros((200, 300), np.uint8)
    mask[150:170, 250:270] = 255
    labels = np.ones((200, 300), np.uint8)
    labels[:, :20] = 3  # a strip of label 3, far from the hole
    labels[150:170, 250:270] = 3  # the hole repainted as label 3
    shapes = {}
    for case, layers in {
        "labels": {"labels": labels},
        "labels offered nearby": {"labels": np.ones((200, 300), np.uint8)},
        "include far away": {"sample_include": (labels == 3).astype(np.uint8) * 255},
        "include nearby": {"sample_include": np.full((200, 300), 255, np.uint8)},
    }.items():
        engine = GuidedRecordingEngine()
        list(engine.run(InpaintRequest(image=image, mask=mask, crop_margin=10, **layers)))
        shapes[case] = engine.regions[0].image.shape[:2]
    whole = (43, 64)  # the whole 300x200 picture at the engine's working size
    assert shapes["labels"] == shapes["include far away"] == whole
    assert shapes["labels offered nearby"] == shapes["include nearby"] == (64, 64)
    # an engine that ignores labels, or only reads the map around the hole, keeps its crop
    for kept in (RecordingEngine(), LabelNetworkEngine()):
        list(kept.run(InpaintRequest(image=image, mask=mask, crop_margin=10, labels=labels)))
        assert kept.regions[0].image.shape[:2] == (64, 64)


def test_crop_boxes_merge_when_context_overlaps():
    mask = np.zeros((100, 100), np.uint8)
    mask[10:20, 10:20] = 255
    mask[10:20, 60:70] = 255
    assert len(crop_boxes(mask, margin=2)) == 2
    assert len(crop_boxes(mask, margin=25)) == 1


@pytest.mark.parametrize("engine_name", ["telea", "patchmatch"])
def test_a_zero_margin_still_keeps_context_to_fill_a_rectangular_hole(engine_name):
    mask = np.zeros((100, 100), np.uint8)
    mask[40:60, 30:70] = 255
    (box,) = crop_boxes(mask, margin=0)
    assert box == Box(40 - MIN_CROP_CONTEXT, 30 - MIN_CROP_CONTEXT, 60 + MIN_CROP_CONTEXT,
                      70 + MIN_CROP_CONTEXT)
    image = np.full((100, 100, 3), 90, np.uint8)
    image[:, 50:] = 200
    request = InpaintRequest(image=image, mask=mask, crop_margin=0)
    *_, final = registry.create(engine_name).run(request)
    hole = mask > 0
    assert np.array_equal(final.image[~hole], image[~hole])
    assert np.abs(final.image[hole].astype(int) - image[hole]).mean() < 40


def test_crop_boxes_stay_inside_the_image_and_borrow_context():
    mask = np.zeros((100, 100), np.uint8)
    mask[0:5, 0:5] = 255
    (box,) = crop_boxes(mask, margin=20)
    assert box == Box(0, 0, 45, 45)


def test_resize_strategy_scales_to_the_working_size():
    request = InpaintRequest(image=_image(), mask=_two_holes(), strategy=Strategy.RESIZE)
    engine = RecordingEngine()
    list(engine.run(request))
    (region,) = engine.regions
    assert max(region.image.shape[:2]) == 64 and region.scale == pytest.approx(64 / 300)
    assert region.hole.any()


def test_original_strategy_sees_full_resolution():
    engine = RecordingEngine()
    list(engine.run(InpaintRequest(image=_image(), mask=_two_holes(),
                                   strategy=Strategy.ORIGINAL)))
    assert engine.regions[0].image.shape == (200, 300, 3) and engine.regions[0].scale == 1.0


def test_working_size_option_overrides_the_engine():
    request = InpaintRequest(image=_image(), mask=_two_holes(), strategy=Strategy.RESIZE,
                             options={"working_size": 150})
    boxes = plan_boxes(request, RecordingEngine())
    assert boxes[0][1] == pytest.approx(0.5)


def test_region_options_set_on_the_engine_apply_and_the_request_wins():
    """The editor and ``--option`` set them on the engine; scripts may pass them per request."""
    request = InpaintRequest(image=_image(), mask=_two_holes(), strategy=Strategy.RESIZE)
    assert plan_boxes(request, RecordingEngine(working_size=192))[0][1] == pytest.approx(0.64)
    overridden = request.evolve(options={"working_size": 60})
    assert plan_boxes(overridden, RecordingEngine(working_size=192))[0][1] == \
        pytest.approx(0.2)
    specs = {spec.key: spec for spec in RecordingEngine.user_options()}
    assert specs["working_size"].default == 64 and specs["seam_feather"].default == 6.0


def test_the_seam_blend_option_shifts_the_fill_to_meet_the_picture():
    class Flat(Engine):
        name, working_size = "flat", 512

        def inpaint_region(self, region, cancel):
            out = np.full_like(region.image, 200)  # known pixels not kept: a seam to hide
            yield RegionStage("final", out, 1.0, final=True)

    image = np.full((80, 80, 3), 100, np.uint8)
    mask = np.zeros((80, 80), np.uint8)
    mask[30:50, 30:50] = 255
    request = InpaintRequest(image=image, mask=mask)
    off = list(Flat(seam_feather=0.0).run(request))[-1].image
    blended = list(Flat(seam_feather=8.0).run(request))[-1].image
    assert (off[mask > 0] == 200).all()
    assert blended[30, 40, 0] < 150  # the hole's edge takes the picture's colour
    assert np.array_equal(blended[mask == 0], image[mask == 0])


def test_guidance_layers_are_cut_and_scaled_with_the_image():
    image, mask = _image(), _two_holes()
    sketch = np.zeros_like(mask)
    sketch[30, :] = 255
    labels = np.full_like(mask, 3)
    labels[:, 150:] = 4
    request = InpaintRequest(image=image, mask=mask, sketch=sketch, labels=labels,
                             strategy=Strategy.RESIZE)
    engine = RecordingEngine()
    list(engine.run(request))
    region = engine.regions[0]
    assert region.sketch.any() and set(np.unique(region.labels)) == {3, 4}


def test_empty_mask_is_refused():
    with pytest.raises(InputError, match="empty"):
        list(RecordingEngine().run(InpaintRequest(image=_image(),
                                                  mask=np.zeros((200, 300), np.uint8))))


def test_cancel_stops_between_stages():
    token = CancelToken()
    run = RecordingEngine().run(InpaintRequest(image=_image(), mask=_two_holes()), token)
    next(run)
    token.cancel()
    from engines.base import Cancelled

    with pytest.raises(Cancelled):
        list(run)


def test_mismatched_layers_are_refused_with_both_sizes():
    with pytest.raises(InputError, match="mask is 10x10 but the image is 300x200"):
        InpaintRequest(image=_image(), mask=np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        InpaintRequest(image=_image(), mask=np.zeros((200, 300), np.float32))
    with pytest.raises(InputError, match="RGB"):
        InpaintRequest(image=np.zeros((5, 5, 4), np.uint8), mask=np.zeros((5, 5), np.uint8))


def test_paste_hole_changes_only_masked_pixels_and_blends_a_feathered_edge():
    original = np.full((50, 50, 3), 100, np.uint8)
    result = np.full((50, 50, 3), 200, np.uint8)
    mask = np.zeros((50, 50), np.uint8)
    mask[20:30, 20:30] = 255
    mask[20:30, 30] = 128
    out = paste_hole(original, result, mask, feather=0)
    assert (out[mask == 0] == 100).all()
    assert (out[20:30, 20:30] == 200).all()
    assert (out[20:30, 30] == 150).all()  # half-way blend at mask 128


def test_seam_correction_matches_a_shifted_result_to_its_surroundings():
    original = np.full((60, 60, 3), 120, np.uint8)
    result = np.full((60, 60, 3), 140, np.uint8)  # the engine shifted every colour by +20
    mask = np.zeros((60, 60), np.uint8)
    mask[25:35, 25:35] = 255
    out = paste_hole(original, result, mask, feather=6)
    edge = out[25, 30].astype(int)
    centre = out[30, 30].astype(int)
    assert abs(edge[0] - 120) < abs(centre[0] - 120) + 1
    assert abs(edge[0] - 120) <= 6  # the seam is hidden
    exact = seam_correction(original, original, mask >= 128, 6)
    assert not exact.any()  # an engine that keeps the known pixels gets no correction


def test_mask_bbox():
    mask = np.zeros((10, 20), np.uint8)
    assert mask_bbox(mask) is None
    mask[2:4, 5:9] = 255
    assert mask_bbox(mask) == Box(2, 5, 4, 9)


class ShiftedEngine(Engine):
    """Returns the picture brightened by 20 everywhere: a seam unless corrected."""

    name = "shifted"

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        out = np.clip(region.image.astype(int) + 20, 0, 255).astype(np.uint8)
        yield RegionStage("coarse", out, 0.5)
        yield RegionStage("refined", out, 1.0, final=True)


def test_only_the_final_stage_gets_the_seam_correction():
    image = np.full((80, 80, 3), 100, np.uint8)
    mask = np.zeros((80, 80), np.uint8)
    mask[30:50, 30:50] = 255
    coarse, final = list(ShiftedEngine().run(InpaintRequest(image=image, mask=mask)))
    assert coarse.image[30, 40, 0] == 120  # the preview is pasted as the engine gave it
    assert abs(int(final.image[30, 40, 0]) - 100) <= 4  # the result meets its surroundings


def test_stages_are_pasted_over_the_previous_ones_at_masked_pixels_only():
    class TwoColours(Engine):
        name = "two colours"

        def inpaint_region(self, region, cancel):
            for k, colour in enumerate(((250, 0, 0), (0, 250, 0))):
                out = np.zeros_like(region.image)  # outside the hole: anything
                out[region.hole] = colour
                yield RegionStage(str(k), out, 0.5 * (k + 1), final=k == 1)

    image = _image()
    mask = _two_holes()
    mask[60:70, 100:110] = 64  # a feathered patch: blended, a quarter of the way
    request = InpaintRequest(image=image, mask=mask, options={"seam_feather": 0})
    first, second = list(TwoColours().run(request))
    for stage, colour in ((first, (250, 0, 0)), (second, (0, 250, 0))):
        np.testing.assert_array_equal(stage.image[mask == 0], image[mask == 0])
        assert (stage.image[mask == 255] == colour).all()
    assert not np.shares_memory(first.image, second.image)
    np.testing.assert_array_equal(second.image[60:70, 100:110],
                                  np.rint(image[60:70, 100:110] * (1 - 64 / 255)).astype(np.uint8))


class TintingEngine(RecordingEngine):
    """A network that tints what it fills (as MI-GAN may do on a black-and-white photo)."""

    name = "tinting"

    def inpaint_region(self, region, cancel):
        tinted = region.image.astype(np.int16) + np.array([60, -20, 0], np.int16)
        yield RegionStage("final", np.clip(tinted, 0, 255).astype(np.uint8), 1.0, final=True)


def test_the_fill_of_a_black_and_white_photo_stays_grey():
    grey = np.repeat(_image()[..., :1], 3, axis=2)
    mask = _two_holes()
    final = list(TintingEngine().run(InpaintRequest(image=grey, mask=mask)))[-1].image
    assert np.array_equal(final[..., 0], final[..., 1]) and np.array_equal(final[..., 1],
                                                                           final[..., 2])
    assert np.array_equal(final[mask == 0], grey[mask == 0])
    assert (final[mask > 0] != grey[mask > 0]).any()  # it was filled
    colour = _image()  # a colour photo keeps what the engine gives
    final = list(TintingEngine().run(InpaintRequest(image=colour, mask=mask)))[-1].image
    assert (final[mask > 0][:, 0] != final[mask > 0][:, 1]).any()


def test_many_small_holes_are_filled_in_few_passes_at_full_resolution():
    image = _image(800, 1200)
    mask = np.zeros((800, 1200), np.uint8)
    for y in range(40, 800, 100):  # 8 x 12 dust specks of 5x5 px, apart
        for x in range(40, 1200, 100):
            mask[y:y + 5, x:x + 5] = 255
    engine = RecordingEngine(working_size=256)
    stages = list(engine.run(InpaintRequest(image=image, mask=mask, crop_margin=16)))
    assert 1 < len(engine.regions) <= 24  # not 96: specks share a pass...
    for region in engine.regions:  # ...each within the working size, so never scaled
        assert max(region.image.shape[:2]) <= 256
    boxes = [box for box, _ in plan_boxes(InpaintRequest(image=image, mask=mask,
                                                         crop_margin=16), engine)]
    assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    final = stages[-1].image
    assert (final[mask > 0] == (10, 200, 30)).all()
    assert np.array_equal(final[mask == 0], image[mask == 0])
    opencv_like = type("AnySize", (RecordingEngine,), {"working_size": None})()
    list(opencv_like.run(InpaintRequest(image=image, mask=mask, crop_margin=16)))
    assert len(opencv_like.regions) == 96  # no working size: one box per hole, as before


class HandsBack(Engine):
    """An engine that yields (or, not a generator, returns) whatever ``make(region)``
    gives: the mistakes plugin authors make."""

    name, title = "hands-back", "Hands back"
    script_options = frozenset({"make", "generator"})

    def inpaint_region(self, region: Region, cancel: CancelToken):
        made = self.options["make"](region)
        if not self.options.get("generator", True):
            return made
        return iter(made)


def _refined(image) -> list[RegionStage]:
    return [RegionStage("refined", image, 1.0, final=True)]


@pytest.mark.parametrize("make, generator, said", [
    (lambda r: _refined(r.image.astype(np.float32) / 255), True,
     "Hands back (hands-back) returned float32 values; engines must return uint8 RGB "
     "(H, W, 3) of the region's size"),
    (lambda r: _refined(r.image.astype(np.int64)), True, "returned int64 values"),
    (lambda r: _refined(r.image[..., 0].copy()), True,
     "returned an image of shape (200, 300) for a region of shape (200, 300, 3)"),
    (lambda r: _refined(r.image[::2, ::2].copy()), True,
     "returned an image of shape (100, 150, 3) for a region of shape (200, 300, 3)"),
    (lambda r: _refined(r.image.tolist()), True, "returned a list as its 'refined' image"),
    (lambda r: [r.image.copy()], True,
     "Hands back (hands-back) yielded a uint8 array of shape (200, 300, 3); inpaint_region "
     "must yield RegionStage results"),
    (lambda r: r.image.copy(), False,
     "Hands back (hands-back): inpaint_region returned a uint8 array of shape (200, 300, 3) "
     "instead of yielding RegionStage results"),
    (lambda r: None, False, "inpaint_region returned None instead of yielding"),
    (lambda r: [RegionStage("coarse", r.image.copy(), 0.5)], True,
     "Hands back (hands-back) ended without a final stage"),
    (lambda r: [], True, "ended without a final stage"),
])
def test_what_an_engine_hands_back_is_checked_and_refused_naming_it(make, generator, said):
    image, mask = _image(), _two_holes()
    request = InpaintRequest(image=image, mask=mask, strategy=Strategy.ORIGINAL)
    before = image.copy()
    with pytest.raises(EngineError) as raised:
        list(HandsBack(make=make, generator=generator).run(request))
    assert said in str(raised.value)
    assert np.array_equal(image, before)


def test_a_strided_read_only_stage_image_is_accepted():
    """The check reads the array's type, dtype and shape only: any uint8 (h, w, 3) view
    passes as it is."""
    image, mask = _image(), _two_holes()
    request = InpaintRequest(image=image, mask=mask, strategy=Strategy.ORIGINAL)

    def strided(region):
        wide = np.zeros((region.image.shape[0], region.image.shape[1] * 2, 3), np.uint8)
        view = wide[:, ::2]
        view[:] = region.image
        view[region.hole] = 9
        view.flags.writeable = False
        return _refined(view)

    final = list(HandsBack(make=strided).run(request))[-1]
    assert (final.image[mask > 0] == 9).all()
