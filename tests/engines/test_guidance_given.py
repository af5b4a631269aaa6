"""`InpaintRequest.guidance_given`: guidance counts only where the fill reads it, so what was
drawn for another hole is not reported as ignored (the editor's and the CLI's one rule)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.base import UNLABELLED, Guidance, InpaintRequest, InputError
from engines.guidance import GUIDANCE_REACH

H, W = 120, 400


def _request(hole=(slice(40, 80), slice(40, 80)), **layers) -> InpaintRequest:
    mask = np.zeros((H, W), np.uint8)
    mask[hole] = 255
    return InpaintRequest(np.zeros((H, W, 3), np.uint8), mask, crop_margin=32, **layers)


def _layer(*areas) -> np.ndarray:
    layer = np.zeros((H, W), np.uint8)
    for area in areas:
        layer[area] = 255
    return layer


@pytest.mark.parametrize("column, given", [
    (60, True),  # through the hole
    (80 + GUIDANCE_REACH - 1, True),  # drawn up to the hole's edge
    (80 + GUIDANCE_REACH + 2, False),  # beside it
    (350, False),  # for another hole, far away
])
def test_a_sketch_counts_only_in_or_at_the_hole(column, given):
    request = _request(sketch=_layer((slice(0, H), column)))
    assert (Guidance.SKETCH in request.guidance_given()) is given


def test_colour_strokes_count_only_in_or_at_the_hole():
    color = np.zeros((H, W, 4), np.uint8)
    color[50:60, 300:320] = (200, 10, 10, 255)
    assert Guidance.COLOR not in _request(color=color).guidance_given()
    color[50:60, 60:70] = (200, 10, 10, 255)
    assert Guidance.COLOR in _request(color=color).guidance_given()


def test_an_empty_mask_carries_no_guidance():
    request = _request(hole=(slice(0, 0), slice(0, 0)), sketch=_layer((slice(0, H), 60)),
                       exemplars=(np.zeros((16, 16, 3), np.uint8),))
    assert request.guidance_given() == set()


def test_reference_photos_always_count():
    request = _request(exemplars=(np.zeros((16, 16, 3), np.uint8),))
    assert request.guidance_given() == {Guidance.EXEMPLARS}


def _labels():
    """Columns up to 100 labelled 1, the rest 2: the hole (columns 40..80) lies in region 1,
    its crop (32 px of context: columns 8..112) reaches into region 2."""
    labels = np.ones((H, W), np.uint8)
    labels[:, 100:] = 2
    return labels


def test_a_label_file_counts_where_the_hole_is_labelled():
    labels = _labels()
    assert Guidance.LABELS in _request(labels=labels).guidance_given()
    labels[30:90, 30:90] = UNLABELLED  # the hole and around it carry no label
    assert Guidance.LABELS not in _request(labels=labels).guidance_given()


@pytest.mark.parametrize("edit, value, given", [
    ((slice(50, 70), slice(50, 70)), 2, True),  # the hole relabelled
    ((slice(0, 20), slice(100, 112)), 1, True),  # a new source of the hole's label, in its crop
    ((slice(0, 20), slice(90, 100)), 3, True),  # a source of the hole's label lost
    ((slice(0, 20), slice(300, 320)), 1, False),  # far away: outside the crop
])
def test_label_edits_count_only_where_they_change_the_holes_fill(edit, value, given):
    computed = _labels()
    edited = computed.copy()
    edited[edit] = value
    assert (Guidance.LABELS in _request(labels=edited).guidance_given(computed)) is given
    assert Guidance.LABELS not in _request(labels=computed).guidance_given(computed)


def test_label_edits_on_labels_the_hole_does_not_carry_do_not_count():
    computed = _labels()
    edited = computed.copy()
    edited[0:20, 100:112] = 6  # in the crop, but neither 2 nor 6 is the hole's label
    assert Guidance.LABELS not in _request(labels=edited).guidance_given(computed)


def test_the_region_is_the_whole_picture_for_the_whole_picture_strategies():
    computed = _labels()
    edited = computed.copy()
    edited[0:20, 300:320] = 1  # far away, but a new source of the hole's label
    cropped = _request(labels=edited)
    assert Guidance.LABELS not in cropped.guidance_given(computed)
    assert Guidance.LABELS in cropped.evolve(strategy="resize").guidance_given(computed)


def test_unedited_labels_of_another_size_are_refused():
    with pytest.raises(InputError, match="does not match"):
        _request(labels=_labels()).guidance_given(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize("include, exclude, given", [
    ((slice(0, H), slice(0, 200)), None, False),  # includes all the crop: restricts nothing
    ((slice(0, H), slice(300, 400)), None, True),  # the only sources lie elsewhere
    ((slice(0, H), slice(0, 100)), None, True),  # part of the crop left out
    (None, (slice(0, H), slice(300, 400)), False),  # excludes only what the crop lacks
    (None, (slice(0, 30), slice(50, 70)), True),  # excludes sources beside the hole
    (None, (slice(50, 70), slice(50, 70)), False),  # inside the hole: nothing to exclude
])
def test_a_sampling_area_counts_only_where_it_restricts_the_sources(include, exclude, given):
    request = _request(sample_include=None if include is None else _layer(include),
                       sample_exclude=None if exclude is None else _layer(exclude))
    assert (Guidance.SAMPLING in request.guidance_given()) is given


def test_an_all_zero_include_area_restricts_nothing():
    request = _request(sample_include=np.zeros((H, W), np.uint8))
    assert Guidance.SAMPLING not in request.guidance_given()


def test_on_a_large_picture_the_crop_is_found_on_a_pooled_mask_as_well():
    size = 2048  # 4 MP: the crop boxes are found on the mask pooled by 2
    mask = np.zeros((size, size), np.uint8)
    mask[1001:1041, 1001:1041] = 255  # its crop (128 px of context): 873..1169
    computed = np.ones((size, size), np.uint8)
    request = InpaintRequest(np.zeros((size, size, 3), np.uint8), mask, crop_margin=128)
    for rows, given in ((slice(860, 868), False), (slice(880, 890), True),
                        (slice(1176, 1184), False)):
        edited = computed.copy()
        edited[rows, 1001:1041] = 4  # a source of the hole's label lost, or far
        assert (Guidance.LABELS in request.evolve(labels=edited).guidance_given(computed)
                ) is given
