"""OpenCV's Telea and Navier-Stokes fills refuse a hole that leaves them no known pixel,
as PatchMatch does, instead of returning the picture unchanged, with advice that can help: a
hole over the whole picture is only helped by unmasking some of it (no crop can hold more
context, and these fills take no reference photo); a region left all hole once the picture
is shrunk to work on keeps the advice of more context."""

from __future__ import annotations

import numpy as np
import pytest

from engines import registry
from engines.base import InpaintRequest, InputError

SHAPE = (48, 64)
TITLES = {"telea": "OpenCV Telea", "ns": "OpenCV Navier-Stokes"}


def _image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", ["telea", "ns"])
@pytest.mark.parametrize("strategy", ["crop", "resize", "original"])
def test_a_hole_over_the_whole_picture_advises_unmasking_only(name, strategy):
    request = InpaintRequest(_image(), np.full(SHAPE, 255, np.uint8), strategy=strategy)
    with pytest.raises(InputError) as raised:
        list(registry.create(name).run(request))
    assert str(raised.value) == (
        f"no source left for {TITLES[name]}: the hole covers the whole area it is filled "
        "from (the whole picture), so there is nothing to fill it from; unmask some of the "
        "picture")
    assert "more context" not in str(raised.value)
    assert "reference" not in str(raised.value)


@pytest.mark.parametrize("name", ["telea", "ns"])
def test_a_mask_value_just_under_the_hole_threshold_is_no_whole_picture_hole(name):
    mask = np.full(SHAPE, 255, np.uint8)
    mask[0, 0] = 127  # known: a hole is 128 and up
    final = list(registry.create(name).run(InpaintRequest(_image(), mask)))[-1]
    assert final.final


@pytest.mark.parametrize("name", ["telea", "ns"])
def test_a_region_left_all_hole_when_shrunk_keeps_the_advice_of_more_context(name):
    mask = np.full(SHAPE, 255, np.uint8)
    mask[0, 0] = 0  # one known pixel: gone once the picture is shrunk to 8 px
    request = InpaintRequest(_image(), mask, strategy="resize",
                             options={"working_size": 8})
    with pytest.raises(InputError) as raised:
        list(registry.create(name).run(request))
    assert str(raised.value) == (
        f"no source left for {TITLES[name]}: the hole covers the whole area it is filled "
        "from (the image, or the crop around the hole); unmask some context or keep more "
        "context around the hole")


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
