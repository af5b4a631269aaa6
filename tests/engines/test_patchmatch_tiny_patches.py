"""Guided PatchMatch on a picture too small for its patch (QA audit 27, F2): a region under
32 pixels and three patches on a side, where no patch of that size has a source, is filled with the
largest smaller patch that has one, down to 1x1, and the fill's notes say so; a larger
region keeps the patch (refused as before where it has no source)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.base import EngineError, InpaintRequest
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.guidance import source_notes
from engines.region import build_region, fitted_patches, plan_boxes

GREEN, RED = (20, 90, 30), (200, 40, 40)


def _halves(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A picture green on its left half, red on its right one, and its labels (4, 12)."""
    picture = np.zeros((height, width, 3), np.uint8)
    labels = np.full((height, width), 12, np.uint8)
    picture[:, :width // 2], labels[:, :width // 2] = GREEN, 4
    picture[:, width // 2:] = RED
    return picture, labels


def _fitted(request: InpaintRequest, engine: PatchMatchEngine) -> list[int]:
    return [engine.fitted_patch(build_region(request, box, scale))
            for box, scale in plan_boxes(request, engine)]


def _cross(height: int, width: int, y: int, x: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    for dy, dx in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
        if 0 <= y + dy < height and 0 <= x + dx < width:
            mask[y + dy, x + dx] = 255
    return mask


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("pixel, labelled, used", [((1, 1), True, 1), ((3, 0), True, 1),
                                                   ((3, 0), False, 3)])
def test_a_4x4_label_edit_fills_with_the_largest_patch_that_has_a_source(backend, pixel,
                                                                         labelled, used):
    """Beside the corner one 3x3 patch is clear of the hole: centred on red, it serves an
    unlabelled fill, but not the hole's pixels still labelled green, so a label edit uses
    1x1 patches there. The note says how far the labels made it shrink: a hole in the
    middle has no 3x3 source even unlabelled, the corner's has one for no label."""
    if backend == "torch":
        pytest.importorskip("torch")
    picture, labels = _halves(4, 4)
    edited = labels.copy()
    edited[pixel] = 12  # a green pixel repainted as red
    mask = _cross(4, 4, *pixel)
    request = InpaintRequest(picture, mask, labels=edited if labelled else None, seed=3)
    engine = PatchMatchEngine(backend=backend)  # default patch size: 7
    assert _fitted(request, engine) == [used]
    filled = list(engine.run(request))[-1].image
    assert np.array_equal(filled[mask == 0], picture[mask == 0])
    if labelled:  # each hole pixel copied from a pixel of its label
        assert (filled[(mask > 0) & (edited == 12)] == RED).all()
        assert (filled[(mask > 0) & (edited == 4)] == GREEN).all()
    notes = source_notes(request, engine, [], unedited_labels=labels)
    source = ", and for 3x3 ones to have a source for each label of the hole" \
        if labelled and pixel == (3, 0) else ""
    assert notes == [f"the fill used {used}x{used} patches instead of the patch size (7x7): "
                     f"the picture is 4x4 pixels, too small for 7x7 patches to have a "
                     f"source{source}"]


def test_a_picture_1_pixel_high_fills_with_1x1_patches():
    picture, labels = _halves(1, 5)
    edited = labels.copy()
    edited[0, 1] = 12
    mask = np.zeros((1, 5), np.uint8)
    mask[0, 1] = 255
    request = InpaintRequest(picture, mask, labels=edited)
    engine = PatchMatchEngine(backend="numba")
    filled = list(engine.run(request))[-1].image
    assert tuple(filled[0, 1]) == RED
    assert np.array_equal(np.delete(filled, 1, axis=1), np.delete(picture, 1, axis=1))
    assert [used for _, used in fitted_patches(request, engine)] == [1]
    # without labels too: the area it copies from (5x1) holds no 3x3 patch, filled all the same
    plain = list(PatchMatchEngine(backend="numba", patch_size=3).run(
        InpaintRequest(picture, mask)))[-1].image
    assert tuple(plain[0, 1]) in (GREEN, RED)


def test_a_reference_photo_that_holds_the_patch_keeps_it():
    picture, _ = _halves(4, 4)
    reference = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    request = InpaintRequest(picture, _cross(4, 4, 1, 1), exemplars=(reference,))
    engine = PatchMatchEngine(backend="numba")
    assert _fitted(request, engine) == [7]  # sources of 7x7 patches in the reference
    assert fitted_patches(request, engine) == []
    assert source_notes(request, engine, ["ref.png"]) == []


def test_a_picture_under_three_patches_shrinks_where_its_hole_blocks_every_patch():
    # every 7x7 patch of a 10x10 picture covers its centre: 5x5 ones do not
    picture = np.random.default_rng(1).integers(0, 255, (10, 10, 3), dtype=np.uint8)
    mask = np.zeros((10, 10), np.uint8)
    mask[5, 5] = 255
    request = InpaintRequest(picture, mask)
    engine = PatchMatchEngine(backend="numba")
    assert _fitted(request, engine) == [5]
    filled = list(engine.run(request))[-1].image
    assert np.array_equal(filled[mask == 0], picture[mask == 0])


def test_a_region_of_three_patches_keeps_the_patch_and_is_refused_as_before():
    # a 21x21 picture masked but for a 3-pixel border: no 7x7 patch is free of the hole
    picture = np.random.default_rng(1).integers(0, 255, (21, 21, 3), dtype=np.uint8)
    mask = np.full((21, 21), 255, np.uint8)
    mask[:3] = mask[-3:] = mask[:, :3] = mask[:, -3:] = 0
    request = InpaintRequest(picture, mask)
    engine = PatchMatchEngine(backend="numba")
    assert _fitted(request, engine) == [7]
    assert fitted_patches(request, engine) == []
    with pytest.raises(EngineError, match=r"no 7x7 patch fits .*choose a smaller patch size"):
        list(engine.run(request))
    big = InpaintRequest(np.zeros((512, 512, 3), np.uint8), np.full((512, 512), 255, np.uint8))
    assert fitted_patches(big, engine) == []  # from the shapes alone


def test_a_refusal_left_never_points_a_labelled_fill_at_telea():
    # every known pixel excluded: nothing to copy at any patch size; the advice is made for
    # the 1x1 patches the fill would have used
    picture, labels = _halves(4, 4)
    request = InpaintRequest(picture, _cross(4, 4, 1, 1),
                             sample_exclude=np.full((4, 4), 255, np.uint8))
    engine = PatchMatchEngine(backend="numba")
    for given in (None, labels):
        with pytest.raises(EngineError) as refused:
            list(engine.run(request.evolve(labels=given)))
        assert str(refused.value) == (
            "no source left for Guided PatchMatch: the hole and the sampling area (an excluded "
            "area, or the outside of an include area) leave no pixel to copy; widen the "
            "sampling area or add a reference photo")
    whole = InpaintRequest(np.zeros((1, 1, 3), np.uint8), np.full((1, 1), 255, np.uint8),
                           labels=np.full((1, 1), 3, np.uint8))
    with pytest.raises(EngineError) as everything:
        list(engine.run(whole))
    assert str(everything.value).endswith("unmask some of the picture or add a reference photo")
    assert "Telea" not in str(everything.value)


@pytest.mark.parametrize("labelled", [False, True])
def test_telea_is_advised_only_to_an_unlabelled_fill(labelled):
    # a 9x9 picture (three 3x3 patches) masked but for a 1-pixel border: no 3x3 patch is
    # free of the hole, and no smaller patch size is offered there
    picture = np.random.default_rng(2).integers(0, 255, (9, 9, 3), dtype=np.uint8)
    mask = np.full((9, 9), 255, np.uint8)
    mask[0] = mask[-1] = mask[:, 0] = mask[:, -1] = 0
    labels = np.full((9, 9), 5, np.uint8) if labelled else None
    with pytest.raises(EngineError) as refused:
        list(PatchMatchEngine(backend="numba", patch_size=3).run(
            InpaintRequest(picture, mask, labels=labels)))
    advice = str(refused.value).split("; ")[-1]
    assert advice == ("unmask some context or add a reference photo" if labelled else
                      "unmask some context, fill it with OpenCV Telea or add a reference photo")


@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (3, 4)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("patch_size", [7, 5, 3])
def test_a_tiny_picture_with_a_centre_hole_fills_with_1x1_patches(shape, patch_size):
    # every 3x3 patch covers the centre pixel (refused, pointing at OpenCV Telea, before)
    picture = np.random.default_rng(4).integers(0, 255, (*shape, 3), dtype=np.uint8)
    mask = np.zeros(shape, np.uint8)
    mask[shape[0] // 2, shape[1] // 2] = 255
    request = InpaintRequest(picture, mask)
    engine = PatchMatchEngine(backend="numba", patch_size=patch_size)
    filled = list(engine.run(request))[-1].image
    assert np.array_equal(filled[mask == 0], picture[mask == 0])
    # a 1x1 patch copies one known pixel whole
    assert any((filled[mask > 0][0] == known).all() for known in picture[mask == 0])
    assert [used for _, used in fitted_patches(request, engine)] == [1]


def test_a_reference_the_smaller_patch_fits_is_not_called_left_out():
    """On a 4x4 picture a 5x5 reference holds the 5x5 patches the fill uses: the notes say
    the size used, and leave the reference in; a 2x2 one is left out at that size."""
    picture, _ = _halves(4, 4)
    reference = np.full((5, 5, 3), RED, np.uint8)
    request = InpaintRequest(picture, _cross(4, 4, 1, 1), exemplars=(reference,), seed=1)
    engine = PatchMatchEngine(backend="numba")
    assert source_notes(request, engine, ["red.png"]) == [
        "the fill used 5x5 patches instead of the patch size (7x7): the picture is 4x4 "
        "pixels, too small for 7x7 patches to have a source"]
    filled = list(engine.run(request))[-1].image
    assert (filled[_cross(4, 4, 1, 1) > 0] == RED).all()  # from the reference alone
    small = request.evolve(exemplars=(reference, np.full((2, 2, 3), RED, np.uint8)))
    notes = source_notes(small, engine, ["red.png", "tiny.png"])
    assert notes[1:] == ["the fill left out tiny.png at its 5x5 patches: it is 2x2 pixels, "
                         "too small for one 5x5 patch, so nothing can be copied from it"]


def test_a_label_only_pixels_near_the_hole_carry_is_followed_with_smaller_patches():
    """QA audit 30, F2: on a 12x12 sprite whose red label only a 2x2 block next to the hole
    carries, a hole repainted red fills red, with the largest patch centred on red pixels
    clear of the hole (3x3), where 7x7 ones, which have sources in the green, would not
    follow it."""
    picture = np.zeros((12, 12, 3), np.uint8)
    labels = np.full((12, 12), 4, np.uint8)
    picture[:] = GREEN
    picture[2:4, 8:10], labels[2:4, 8:10] = RED, 12
    edited = labels.copy()
    edited[4:7, 7:11] = 12
    mask = np.where(edited != labels, 255, 0).astype(np.uint8)
    request = InpaintRequest(picture, mask, labels=edited, seed=2)
    engine = PatchMatchEngine(backend="numba")
    assert _fitted(request, engine) == [3]
    filled = list(engine.run(request))[-1].image
    assert (filled[mask > 0] == RED).all()
    assert np.array_equal(filled[mask == 0], picture[mask == 0])
    assert source_notes(request, engine, [], unedited_labels=labels) == [
        "the fill used 3x3 patches instead of the patch size (7x7): the picture is 12x12 "
        "pixels, too small for 7x7 patches to have a source for each label of the hole"]
    # without the labels the 7x7 patches have sources: kept
    assert _fitted(request.evolve(labels=None), engine) == [7]
