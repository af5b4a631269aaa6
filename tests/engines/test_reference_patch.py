"""The patch side a fill copies from reference photos, the option that sets it, and the
largest side a photo left out at one would still give a patch at
(:func:`engines.guidance.largest_reference_patch`: what the References panel advises)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.guidance import (
    largest_reference_patch,
    reference_patch_option,
    reference_patch_size,
    reference_problem,
)


def test_the_patch_option_is_the_engines_else_patchmatchs():
    side, spec = reference_patch_option("patchmatch", {"patch_size": 31})
    assert (side, spec.title, spec.minimum, spec.step) == (31, "Patch size", 3, 2)
    assert reference_patch_option("telea", {}) == (7, spec)  # Guided PatchMatch's default
    assert reference_patch_size("patchmatch", {"patch_size": 13}) == 13


@pytest.mark.parametrize("shape, below, largest", [
    ((12, 12, 3), 31, 11),  # the largest odd side that fits
    ((12, 40, 3), 31, 11),  # the shorter side counts
    ((30, 40, 3), 31, 29),
    ((40, 40, 3), 13, 11),  # under the side it is left out at, even with room for more
])
def test_an_opaque_photo_takes_the_largest_side_on_the_grid_that_fits(shape, below,
                                                                      largest):
    _, spec = reference_patch_option("patchmatch", {})
    pixels = np.zeros(shape, np.uint8)
    assert largest_reference_patch(pixels, spec, below) == largest
    assert reference_problem(pixels, largest) is None


def test_a_partly_transparent_photo_takes_the_side_of_its_largest_opaque_square():
    _, spec = reference_patch_option("patchmatch", {})
    rgba = np.zeros((60, 60, 4), np.uint8)
    rgba[10:20, 30:40, 3] = 255  # a 10x10 opaque square: patches up to 9
    assert largest_reference_patch(rgba, spec, 31) == 9
    assert reference_problem(rgba, 11) is not None
    rgba[10:12, 10:12, 3] = 255  # and a 2x2 one alone: no patch at all
    rgba[10:20, 30:40, 3] = 0
    assert largest_reference_patch(rgba, spec, 31) is None
