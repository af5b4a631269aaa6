"""Reference photos (exemplars) with transparency, too small ones and huge ones: only fully
opaque pixels are sources, at every pyramid level and after scaling; a reference without
room for a patch is named; a huge one is searched shrunk."""

from __future__ import annotations

import numpy as np
import pytest

from engines import region as region_module
from engines.base import EngineError, InpaintRequest, InputError
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.classical.patchmatch.levels import build_pyramid, level_problem
from engines.guidance import (
    reference_patch_size,
    reference_pixels,
    reference_problem,
    reference_usable,
)
from engines.region import (
    REFERENCE_PIXELS_FLOOR,
    REFERENCE_PIXELS_PER_REGION,
    Box,
    build_region,
    reference_size,
    shrunk_references,
)

GREEN = (0, 255, 0)
GREY = (200, 200, 200)


def _picture() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dark picture, a hole in it, and an exclude layer covering all of it: the fill can
    only come from the exemplars."""
    rng = np.random.default_rng(3)
    image = rng.integers(20, 60, (48, 64, 3)).astype(np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[18:30, 26:38] = 255
    return image, mask, np.full((48, 64), 255, np.uint8)


def _fill(exemplars, patch_size=7) -> np.ndarray:
    image, mask, exclude = _picture()
    request = InpaintRequest(image, mask, sample_exclude=exclude, exemplars=tuple(exemplars),
                             options={"backend": "numba", "patch_size": patch_size})
    final = list(PatchMatchEngine().run(request))[-1]
    return final.image[mask > 0].astype(int)


def _half_transparent(soft_alpha: int) -> np.ndarray:
    """Left half green under alpha ``soft_alpha``, right half opaque grey."""
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., :3] = GREEN
    rgba[..., 3] = soft_alpha
    rgba[:, 32:, :3] = GREY
    rgba[:, 32:, 3] = 255
    return rgba


@pytest.mark.parametrize("soft_alpha", [0, 128, 254])
def test_pixels_that_are_not_fully_opaque_are_never_copied(soft_alpha):
    hole = _fill([_half_transparent(soft_alpha)])
    assert (np.abs(hole - GREY) <= 2).all()  # all grey: no invisible green got in


def test_fully_opaque_pixels_are_copied():
    green = _half_transparent(255)[:, :32]  # fully opaque: green is a visible colour here
    pixels = reference_pixels(green[..., :3], green[..., 3])
    assert pixels.shape == (48, 32, 3)  # an opaque alpha is dropped
    assert (np.abs(_fill([pixels]) - GREEN) <= 2).all()
    assert (np.abs(_fill([_half_transparent(0)[:, 24:]]) - GREY) <= 2).all()  # RGBA too


def test_requests_take_rgb_or_rgba_exemplars_only():
    image, mask, _ = _picture()
    InpaintRequest(image, mask, exemplars=(np.zeros((9, 9, 4), np.uint8),))
    for bad in (np.zeros((9, 9, 2), np.uint8), np.zeros((9, 9, 5), np.uint8)):
        with pytest.raises(InputError, match=r"RGB .* or RGBA"):
            InpaintRequest(image, mask, exemplars=(bad,))


def test_coarse_reference_pixels_are_usable_only_if_all_their_fine_pixels_were():
    rgba = np.full((64, 64, 4), 255, np.uint8)
    rgba[30, 41, 3] = 254  # one barely transparent pixel
    image, mask, _ = _picture()
    pyramid = build_pyramid(image, mask >= 128, 1, exemplars=(rgba,))
    assert len(pyramid) >= 2
    fine, coarse = pyramid[0].exemplar_usable[0], pyramid[1].exemplar_usable[0]
    assert not fine[30, 41] and fine.sum() == 64 * 64 - 1
    # the reduction kernel of coarse (y, x) spans fine rows 2y-2..2y+2 (cv2.pyrDown)
    for y, x in np.argwhere(~coarse):
        assert abs(2 * y - 30) <= 2 and abs(2 * x - 41) <= 2
    assert not coarse[15, 20] and not coarse[15, 21] and not coarse[14, 20]
    assert coarse.sum() == coarse.size - 6  # rows 14..16 x cols 20..21 reach it


def test_a_reference_without_a_usable_patch_is_left_out_of_the_atlas():
    image, mask, _ = _picture()
    clear = np.zeros((20, 20, 4), np.uint8)  # fully transparent
    useful = np.full((20, 20, 3), 90, np.uint8)
    level = build_pyramid(image, mask >= 128, 3, exemplars=(clear, useful))[0]
    problem = level_problem(level, 3)
    assert problem.piece_ids == (0, 2)
    assert len(problem.piece_left) == 2


def test_only_references_as_sources_that_cannot_hold_a_patch_are_named():
    with pytest.raises(EngineError, match=r"reference photo given is too small .* or too "
                                          "transparent"):
        _fill([np.zeros((48, 64, 4), np.uint8)])
    with pytest.raises(EngineError, match="2 reference photos given are too small"):
        _fill([np.zeros((4, 4, 3), np.uint8), np.zeros((6, 40, 3), np.uint8)])


def test_the_shared_rule_names_what_is_wrong_with_a_reference():
    assert reference_problem(np.zeros((7, 7, 3), np.uint8), 7) is None
    assert "2x3 pixels, too small for one 7x7 patch" in reference_problem(
        np.zeros((3, 2, 3), np.uint8), 7)
    assert "no fully opaque pixel" in reference_problem(np.zeros((40, 40, 4), np.uint8), 7)
    ring = np.zeros((40, 40, 4), np.uint8)
    ring[10:16, 10:30, 3] = 255  # 6 rows of opaque pixels: room for 5x5, not 7x7
    assert "no fully opaque 7x7 area" in reference_problem(ring, 7)
    assert reference_problem(ring, 5) is None
    assert reference_usable(ring).sum() == 6 * 20


def test_the_patch_size_in_use_is_the_engines_own_or_patchmatchs_default():
    default = PatchMatchEngine.option_default("patch_size")
    assert reference_patch_size("patchmatch", {"patch_size": 31}) == 31
    assert reference_patch_size("patchmatch", {}) == default
    assert reference_patch_size("telea", {}) == default


def test_huge_references_are_shrunk_to_a_cap_relative_to_the_region():
    floor = REFERENCE_PIXELS_FLOOR
    assert reference_size((300, 400, 3), (100, 100), 1.0) == (400, 300)  # small: as is
    assert reference_size((300, 400, 3), (100, 100), 0.5) == (200, 150)  # like the region
    width, height = reference_size((9000, 12000, 3), (300, 300), 1.0)
    assert abs(width * height - floor) < 0.01 * floor and abs(width / height - 4 / 3) < 0.01
    big_region = (3000, 2000)
    width, height = reference_size((9000, 12000, 3), big_region, 1.0)
    cap = REFERENCE_PIXELS_PER_REGION * 3000 * 2000
    assert abs(width * height - cap) < 0.01 * cap


def test_a_shrunk_reference_keeps_its_transparency_and_is_reported(monkeypatch):
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 100)
    image, mask, _ = _picture()
    rgba = np.full((300, 400, 4), 255, np.uint8)
    rgba[150, 200, 3] = 0  # one transparent pixel among ~100 that each scaled pixel averages
    request = InpaintRequest(image, mask, exemplars=(rgba, np.zeros((10, 10, 3), np.uint8)))
    region = build_region(request, Box(0, 0, 48, 64), 1.0)
    shrunk, small = region.exemplars
    assert small.shape == (10, 10, 3)
    cap = REFERENCE_PIXELS_PER_REGION * 48 * 64
    assert shrunk.shape[2] == 4 and shrunk.shape[0] * shrunk.shape[1] <= cap * 1.01
    assert (shrunk[..., 3] < 255).sum() >= 1  # the transparent pixel was not averaged away
    assert set(np.unique(shrunk[..., 3])) <= {0, 255}
    (index, width, height), = shrunk_references(request, PatchMatchEngine())
    assert index == 0 and (width, height) == (shrunk.shape[1], shrunk.shape[0])
