"""Labels and wildcard sources: reference photos and unlabelled pixels serve a label only
when no pixel the fill may copy from carries it (QA audit 25, F1)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.base import UNLABELLED, InpaintRequest
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.classical.patchmatch.levels import WILDCARD_LABEL, build_pyramid, level_problem

BLUE, GREEN, RED, YELLOW = (30, 30, 200), (30, 170, 40), (210, 30, 30), (220, 200, 20)


def _noisy(image: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 4.0, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _scene():
    """Blue above, green below, a red patch at the top right (labels 0, 1, 2); a hole in the
    middle, across the blue-green border, whose inner part is labelled red; an exclude area
    over the red patch's upper half, so only its lower half (25 x 60 pixels) may be copied.
    (QA audit 25's picture: there the inner part came out wholly from the reference photo.)
    """
    image = np.zeros((240, 320, 3), np.uint8)
    image[:120] = BLUE
    image[120:] = GREEN
    image[20:70, 250:310] = RED
    labels = np.zeros((240, 320), np.uint8)
    labels[120:] = 1
    labels[20:70, 250:310] = 2
    mask = np.zeros((240, 320), np.uint8)
    mask[90:150, 120:200] = 255
    wanted = np.zeros((240, 320), bool)
    wanted[104:140, 132:188] = True
    labels[wanted] = 2
    exclude = np.zeros((240, 320), np.uint8)
    exclude[20:45, 240:320] = 255
    return _noisy(image, 1), labels, mask, wanted, exclude


def _colour_share(pixels: np.ndarray, colour) -> float:
    distance = np.abs(pixels.astype(int) - np.array(colour)).max(axis=1)
    return float((distance < 45).mean())


def _fill(request: InpaintRequest, backend: str) -> np.ndarray:
    return list(PatchMatchEngine(backend=backend).run(request))[-1].image


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_a_label_with_sources_is_not_filled_from_a_reference_photo(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    image, labels, mask, wanted, exclude = _scene()
    reference = _noisy(np.full((100, 100, 3), YELLOW, np.uint8), 2)
    filled = _fill(InpaintRequest(image, mask, labels=labels, sample_exclude=exclude,
                                  exemplars=(reference,), seed=0, device="cpu"), backend)
    np.testing.assert_array_equal(filled[mask == 0], image[mask == 0])
    red_part = filled[wanted & (mask > 0)]
    assert _colour_share(red_part, RED) > 0.95
    assert _colour_share(red_part, YELLOW) == 0.0
    # the rest of the hole (labelled blue or green, both with sources) is not yellow either
    others = filled[~wanted & (mask > 0)]
    assert _colour_share(others, YELLOW) == 0.0


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_unlabelled_pixels_do_not_serve_a_label_with_sources(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    image, labels, mask, wanted, exclude = _scene()
    image[150:] = _noisy(np.full((90, 320, 3), YELLOW, np.uint8), 3)  # a yellow floor...
    labels[150:] = UNLABELLED  # ...that no label names
    filled = _fill(InpaintRequest(image, mask, labels=labels, sample_exclude=exclude,
                                  seed=1, device="cpu"), backend)
    red_part = filled[wanted & (mask > 0)]
    assert _colour_share(red_part, RED) > 0.95
    assert _colour_share(red_part, YELLOW) == 0.0


def test_a_label_nothing_carries_is_filled_from_the_reference_photo():
    image, labels, mask, wanted, _ = _scene()
    labels[wanted] = 9  # no pixel of the picture carries label 9
    reference = _noisy(np.full((100, 100, 3), YELLOW, np.uint8), 2)
    filled = _fill(InpaintRequest(image, mask, labels=labels, exemplars=(reference,), seed=0),
                   "numba")
    assert _colour_share(filled[wanted & (mask > 0)], YELLOW) > 0.95
    # the unlabelled-by-the-user rest keeps following its own labels
    assert _colour_share(filled[~wanted & (mask > 0)], YELLOW) == 0.0


def test_wildcards_get_a_label_of_their_own_once_labels_have_sources():
    image, labels, mask, wanted, _ = _scene()
    labels[wanted & (np.arange(320) >= 170)] = 9  # a second label in the hole, carried by none
    labels[200:, :20] = UNLABELLED
    reference = _noisy(np.full((40, 40, 3), YELLOW, np.uint8), 2)
    pyramid = build_pyramid(image, mask > 0, 3, labels=labels, exemplars=(reference,))
    problem = level_problem(pyramid[0], 3)
    region = problem.atlas_labels[:240, :320]
    assert (region[200:, :20] == WILDCARD_LABEL).all()  # unlabelled pixels
    exemplar = problem.atlas_labels[:40, 320:360]
    assert (exemplar == WILDCARD_LABEL).all()
    assert (problem.atlas_labels >= 0).all()  # no wildcard left that matches any label
    centres = labels[problem.ty, problem.tx]
    assert set(problem.centre_label[centres == 2].tolist()) == {2}
    assert set(problem.centre_label[centres == 9].tolist()) == {WILDCARD_LABEL}


def test_without_wildcards_a_label_nothing_carries_takes_any_source():
    image, labels, mask, wanted, _ = _scene()
    labels[wanted] = 9
    pyramid = build_pyramid(image, mask > 0, 3, labels=labels)
    problem = level_problem(pyramid[0], 3)
    assert (problem.atlas_labels < WILDCARD_LABEL).all()
    centres = labels[problem.ty, problem.tx]
    assert set(problem.centre_label[centres == 9].tolist()) == {-1}
