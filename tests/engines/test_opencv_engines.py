"""OpenCV's Telea and Navier-Stokes fills refuse a hole that leaves them no known pixel,
as PatchMatch does, instead of returning the picture unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from engines import registry
from engines.base import InpaintRequest, InputError

SHAPE = (48, 64)


def _image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", ["telea", "ns"])
@pytest.mark.parametrize("strategy", ["crop", "resize", "original"])
def test_a_hole_covering_the_whole_picture_is_refused(name, strategy):
    request = InpaintRequest(_image(), np.full(SHAPE, 255, np.uint8), strategy=strategy)
    with pytest.raises(InputError, match=r"^no source left for OpenCV .*: the hole covers "
                                         r"the whole area .*; unmask some of the picture"):
        list(registry.create(name).run(request))


@pytest.mark.parametrize("name", ["telea", "ns"])
def test_a_hole_over_the_whole_picture_is_refused_not_returned_unchanged(name):
    image = np.random.default_rng(4).integers(0, 256, (48, 200, 3), dtype=np.uint8)
    request = InpaintRequest(image, np.full((48, 200), 255, np.uint8), crop_margin=0)
    with pytest.raises(InputError, match="no source left"):
        list(registry.create(name).run(request))


@pytest.mark.parametrize("name", ["telea", "ns"])
def test_one_known_column_is_enough(name):
    image = _image()
    mask = np.full(SHAPE, 255, np.uint8)
    mask[:, 0] = 0
    final = list(registry.create(name).run(InpaintRequest(image, mask)))[-1]
    assert final.final and np.array_equal(final.image[:, 0], image[:, 0])
    assert (final.image[:, 1:] != image[:, 1:]).any()
