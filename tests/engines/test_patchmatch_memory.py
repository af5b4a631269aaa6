"""Guided PatchMatch's lean full-resolution path: the window of target maps, the banded
computations (each checked against the whole-map computation it replaces, on small bands),
and cancellation between kernel calls."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from engines.base import Cancelled, CancelToken, InpaintRequest
from engines.classical.patchmatch import kernels, levels, numba_solver, solver, window
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.classical.patchmatch.levels import (
    build_pyramid,
    canny_thresholds,
    level_problem,
    push_pull,
)
from engines.classical.patchmatch.solver import (
    LevelResult,
    nearest_centres,
    random_sources,
    transfer_grain,
    upscaled_estimate,
)
from engines.classical.patchmatch.window import Window, gather_in_bands


@pytest.fixture
def small_bands(monkeypatch):
    """Bands, chunks and margins far smaller than a picture, so that tiny pictures cross
    many of their boundaries."""
    monkeypatch.setattr(window, "BAND", 8)
    monkeypatch.setattr(window, "_ROW_CHUNK", 5)
    monkeypatch.setattr(levels, "SHRINK_BAND", 3)
    monkeypatch.setattr(levels, "SKELETON_MARGIN", 1)
    monkeypatch.setattr(solver, "UPSCALE_BAND", 6)
    monkeypatch.setattr(solver, "NEAREST_MARGIN", 2)
    monkeypatch.setattr(numba_solver, "CHUNK", 300)


def _photo(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), 4)
    base = cv2.normalize(base, None, 0, 230, cv2.NORM_MINMAX)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def _blobs(height: int, width: int, seed: int, share: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 6)
    return field > np.quantile(field, 1 - share)


def _stroke(height: int, width: int, thickness: int = 7) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    cv2.line(mask, (3, 5), (width - 8, height - 4), 255, thickness)
    return mask


def test_the_window_holds_every_pixel_within_reach_of_the_hole():
    hole = np.zeros((60, 80), bool)
    hole[10:14, 20:30] = True
    hole[40, 70:] = True  # at the right border
    reach = 4
    win = Window.around(hole, reach)
    near = cv2.dilate(hole.view(np.uint8), np.ones((2 * reach + 1,) * 2, np.uint8)) > 0
    ys, xs = np.mgrid[0:60, 0:80]
    inside = win.contains(ys, xs)
    assert inside[near].all()
    for y in range(60):  # each row's span: from its first pixel within reach to its last
        columns = np.flatnonzero(near[y])
        expected = columns[-1] - columns[0] + 1 if columns.size else 0
        assert inside[y].sum() == expected
    assert win.size == inside.sum() < hole.size
    positions = win.positions(ys[inside], xs[inside])
    assert sorted(positions.tolist()) == list(range(win.size))
    dense = np.arange(60 * 80 * 3).reshape(60, 80, 3)
    np.testing.assert_array_equal(win.gather(dense)[positions], dense[inside])
    values = np.arange(win.size)
    found = win.lookup(values, np.array([12, 0, -1, 12]), np.array([25, 0, 3, 99]), -7)
    assert found[0] == win.positions(np.array([12]), np.array([25]))[0]
    assert found[1:].tolist() == [-7, -7, -7]


def test_an_empty_hole_has_an_empty_window():
    win = Window.around(np.zeros((5, 6), bool), 3)
    assert win.size == 0
    assert win.gather(np.ones((5, 6, 3), np.float32)).shape == (0, 3)


def test_banded_maps_equal_whole_ones(small_bands):
    hole = _blobs(70, 90, 1, 0.3)
    win = Window.around(hole, 6)
    ys, xs = np.nonzero(win.contains(*np.mgrid[0:70, 0:90]))
    depth = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L2, 3)
    np.testing.assert_array_equal(levels._depth(hole, win)[win.positions(ys, xs)],
                                  np.minimum(depth, levels.CONFIDENCE_CAP)[ys, xs])
    soft = levels._soft_lines(hole)
    banded = gather_in_bands(win, levels._SOFT_MARGIN, lambda rows: levels._soft_lines(
        hole[rows]))
    np.testing.assert_array_equal(banded[win.positions(ys, xs)], soft[ys, xs])


def _shrink_whole(image: np.ndarray, hole: np.ndarray, forbidden: np.ndarray):
    """The masked reduction of one level as a whole-map computation."""
    known = (~hole).astype(np.float32)
    weight = levels._shrink(known)
    total = levels._shrink(image.astype(np.float32) * known[..., None])
    mean = total / np.maximum(weight, 1e-6)[..., None]
    touched = levels._shrink(forbidden.astype(np.float32)) > 1e-6
    return np.clip(np.rint(mean), 0, 255).astype(np.uint8), weight <= 1e-6, touched


@pytest.mark.parametrize("size", [(61, 47), (64, 50), (33, 120)])
def test_banded_reductions_equal_whole_ones(small_bands, size):
    image = _photo(*size, 2)
    hole = _blobs(*size, 3)
    forbidden = _blobs(*size, 4, 0.1) & ~hole
    level = levels.LevelInputs(image, hole, ~hole & ~forbidden, None, None, (), ())
    coarse, touched = levels._shrink_level(level, forbidden, None)
    expected = _shrink_whole(image, hole, forbidden)
    np.testing.assert_array_equal(coarse.image, expected[0])
    np.testing.assert_array_equal(coarse.hole, expected[1])
    np.testing.assert_array_equal(touched, expected[2])
    np.testing.assert_array_equal(levels._touched(hole),
                                  levels._shrink(hole.astype(np.float32)) > 1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_edge_thresholds_take_the_median_as_numpy_does(small_bands, seed):
    gray = cv2.GaussianBlur(_photo(45 + seed, 70, seed)[..., 0], (0, 0), 1.0)
    known = _blobs(45 + seed, 70, seed, 0.6) if seed % 2 else None
    dx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    dy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    magnitude = np.abs(dx) + np.abs(dy)
    counted = magnitude if known is None else magnitude[known]
    high = max(levels.EDGE_FLOOR, levels.EDGE_HIGH * float(np.median(counted)))
    assert canny_thresholds(gray, known) == (high * levels.EDGE_LOW / levels.EDGE_HIGH, high)


def _nearest_whole(valid: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    _, label = cv2.distanceTransformWithLabels((valid == 0).view(np.uint8), cv2.DIST_L2, 5,
                                               labelType=cv2.DIST_LABEL_PIXEL)
    return np.flatnonzero(valid.ravel())[label[ys, xs] - 1]


@pytest.mark.parametrize("seed", range(6))
def test_nearest_centres_match_the_whole_distance_transform(small_bands, seed):
    height, width = 90 + 7 * seed, 120 - 5 * seed
    hole = _blobs(height, width, seed, 0.5) if seed % 2 else _stroke(height, width, 15) > 0
    usable = ~hole
    if seed % 3 == 0:
        usable[: height // 2, : width // 3] = False  # an excluded area: sources far away
    valid = cv2.erode(usable.view(np.uint8), np.ones((5, 5), np.uint8),
                      borderType=cv2.BORDER_CONSTANT, borderValue=0)
    ys, xs = np.nonzero(cv2.dilate(hole.view(np.uint8), np.ones((5, 5), np.uint8)))
    for margin in (1, 3, 40):
        np.testing.assert_array_equal(nearest_centres(valid, ys, xs, margin),
                                      _nearest_whole(valid, ys, xs))


def test_random_sources_draw_as_from_a_list_of_the_candidates(small_bands):
    image = _photo(60, 80, 5)
    mask = _stroke(60, 80)
    labels = np.zeros((60, 80), np.uint8)
    labels[:, 40:] = 1
    labels[mask > 0] = 1
    problem = level_problem(build_pyramid(image, mask >= 128, 2, labels=labels)[0], 2)
    targets = np.arange(0, problem.size, 3)
    got = random_sources(problem, targets, np.random.default_rng(9))
    # the former way: every candidate listed
    rng = np.random.default_rng(9)
    flat = np.zeros(targets.shape[0], np.int64)
    wanted = problem.centre_label[targets]
    for label in np.unique(wanted):
        chosen = wanted == label
        usable = problem.valid.ravel() > 0
        if label >= 0:
            usable &= (problem.atlas_labels.ravel() == label) | (problem.atlas_labels.ravel() < 0)
        pool = np.flatnonzero(usable)
        flat[chosen] = pool[rng.integers(0, pool.size, int(chosen.sum()))]
    width = problem.atlas.shape[1]
    np.testing.assert_array_equal(got[0], flat // width)
    np.testing.assert_array_equal(got[1], flat % width)


def test_band_chunks_cover_every_band_once_in_order():
    bands = np.array([0, 5, 5, 40, 41, 90, 200, 201], np.int64)
    chunks = numba_solver.band_chunks(bands, 50)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(bands) - 1
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
    assert all(first < end for first, end in chunks)
    assert len(chunks) > 1
    assert numba_solver.band_chunks(np.array([0], np.int64)) == []


def _dense(result: LevelResult) -> np.ndarray:
    return result.dense(slice(0, result.hole.shape[0]), slice(0, result.hole.shape[1]))


def test_upscaled_estimate_equals_a_whole_pyrup(small_bands):
    image = _photo(77, 93, 6)
    hole = _blobs(77, 93, 7, 0.25)
    fine, coarse = build_pyramid(image, hole, 2)[:2]
    coarse_problem = level_problem(coarse, 2)
    estimate = coarse_problem.window.gather(push_pull(coarse.image, coarse.hole))
    estimate += np.random.default_rng(0).normal(0, 9, estimate.shape).astype(np.float32)
    previous = LevelResult(estimate, coarse_problem.window, coarse.image, coarse.hole, 1, 2,
                           0.5)
    problem = level_problem(fine, 2)
    got = upscaled_estimate(previous, fine.image, problem)
    expected = fine.image.astype(np.float32)
    scaled = cv2.pyrUp(_dense(previous), dstsize=(93, 77))
    expected[hole] = scaled[hole]
    np.testing.assert_array_equal(got, problem.window.gather(expected))
    filled = LevelResult(got, problem.window, fine.image, hole, 2, 2, 1.0).filled()
    np.testing.assert_array_equal(filled, cv2.convertScaleAbs(expected))


def test_transfer_grain_equals_the_whole_picture_computation(small_bands):
    image = _photo(70, 66, 8)
    mask = _stroke(70, 66, 9)
    problem = level_problem(build_pyramid(image, mask >= 128, 3)[0], 3)
    rng = np.random.default_rng(1)
    estimate = problem.window.gather(image).astype(np.float32)
    at_hole = problem.window.positions(problem.hole_y, problem.hole_x)
    estimate[at_hole] = rng.uniform(0, 255, (at_hole.size, 3)).astype(np.float32)
    centres = np.flatnonzero(problem.valid.ravel())
    flat = centres[rng.integers(0, centres.size, problem.size)]
    nnf_y, nnf_x = (flat // 66).astype(np.int32), (flat % 66).astype(np.int32)
    got = transfer_grain(estimate, image, problem, nnf_y, nnf_x, 1.0)
    # the whole picture's computation
    hole = mask >= 128
    dense = image.astype(np.float32)
    dense[hole] = estimate[problem.window.positions(*np.nonzero(hole))]
    targets = problem.index[at_hole]
    copied = dense.copy()
    copied[problem.hole_y, problem.hole_x] = problem.atlas[nnf_y[targets], nnf_x[targets]]
    grain = copied - cv2.GaussianBlur(copied, (0, 0), 1.0)
    expected = dense.copy()
    expected[hole] = cv2.GaussianBlur(dense, (0, 0), 1.0)[hole] + grain[hole]
    np.testing.assert_array_equal(got, problem.window.gather(expected))


def test_a_thin_stroke_keeps_its_target_maps_near_it():
    image = _photo(300, 400, 9)
    mask = _stroke(300, 400, 5)
    level = build_pyramid(image, mask >= 128, 3)[0]
    problem = level_problem(level, 3)
    assert problem.index.shape == (problem.window.size,)
    assert problem.window.size < 0.25 * mask.size
    assert problem.atlas.dtype == np.uint8 and not problem.atlas.flags.writeable
    assert np.shares_memory(problem.atlas, image)  # no copy of the picture as sources


def _guided_request() -> InpaintRequest:
    image = _photo(150, 170, 10)
    mask = _stroke(150, 170, 9)
    cv2.circle(mask, (40, 110), 14, 255, -1)
    sketch = np.zeros_like(mask)
    cv2.line(sketch, (0, 75), (169, 80), 255, 2)
    labels = np.zeros_like(mask)
    labels[:, 85:] = 1
    exclude = np.zeros_like(mask)
    exclude[:40, :50] = 255
    return InpaintRequest(image, mask, sketch=sketch, labels=labels, sample_exclude=exclude,
                          exemplars=(_photo(60, 70, 11),), seed=4)


@pytest.mark.parametrize("options", [{}, {"keep_grain": True, "quality": "best"}])
def test_results_do_not_depend_on_band_and_chunk_sizes(monkeypatch, options):
    request = _guided_request()
    default = [s.image for s in PatchMatchEngine(**options).run(request)]
    monkeypatch.setattr(window, "BAND", 8)
    monkeypatch.setattr(levels, "SHRINK_BAND", 2)
    monkeypatch.setattr(levels, "SKELETON_MARGIN", 1)
    monkeypatch.setattr(solver, "UPSCALE_BAND", 4)
    monkeypatch.setattr(solver, "NEAREST_MARGIN", 1)
    monkeypatch.setattr(numba_solver, "CHUNK", 200)
    small = [s.image for s in PatchMatchEngine(**options).run(request)]
    assert len(default) == len(small) >= 2
    for a, b in zip(default, small):
        np.testing.assert_array_equal(a, b)


def test_cancel_stops_a_step_between_kernel_calls(monkeypatch):
    """Cancelling while a level's scans run stops them at the next chunk of targets: no
    kernel runs after it, and the run raises Cancelled."""
    monkeypatch.setattr(numba_solver, "CHUNK", 100)
    token = CancelToken()
    calls = []

    def counting(name):
        kernel = getattr(kernels, name)

        def call(*args):
            calls.append((name, token.cancelled))
            kernel(*args)
            if name.startswith("scan") and len(calls) > 6:
                token.cancel()  # mid-scan, with chunks of this scan left
        return call

    for name in ("cost_bands", "scan_bands", "vote", "cost_bands_serial",
                 "scan_bands_serial", "vote_serial"):
        monkeypatch.setattr(kernels, name, counting(name))
    image = _photo(120, 160, 12)
    with pytest.raises(Cancelled):
        list(PatchMatchEngine().run(InpaintRequest(image, _stroke(120, 160, 9), device="cpu"),
                                    token))
    assert not any(cancelled for _, cancelled in calls)
    assert calls[-1][0].startswith("scan")


def test_cancel_stops_building_the_pyramid():
    token = CancelToken()
    token.cancel()
    image = _photo(200, 200, 13)
    with pytest.raises(Cancelled):
        build_pyramid(image, _stroke(200, 200) >= 128, 3, cancel=token)
    with pytest.raises(Cancelled):
        level_problem(build_pyramid(image, _stroke(200, 200) >= 128, 3)[0], 3, token)


def test_atlas_maps_are_the_pieces_maps_side_by_side():
    image = _photo(50, 60, 14)
    mask = _stroke(50, 60, 5)
    labels = np.full((50, 60), 3, np.uint8)
    labels[:10] = 255
    sketch = np.zeros((50, 60), np.uint8)
    cv2.line(sketch, (0, 25), (59, 25), 255, 1)
    reference = _photo(30, 40, 15)  # shorter than the picture: a gap below it
    level = build_pyramid(image, mask >= 128, 2, labels=labels, sketch=sketch,
                          exemplars=(reference,))[0]
    problem = level_problem(level, 2)
    left = int(problem.piece_left[1])
    assert problem.atlas_labels.shape == problem.valid.shape == (50, 100)
    # label 3 has sources: the wildcards (unlabelled pixels, the reference) serve no other
    wildcard = levels.WILDCARD_LABEL
    np.testing.assert_array_equal(problem.atlas_labels[:, :60],
                                  np.where(labels == 255, wildcard, labels.astype(np.int16)))
    assert (problem.atlas_labels[:, left:] == wildcard).all()
    structure = problem.atlas_structure
    np.testing.assert_array_equal(structure[:, :60], levels._edge_map(image, mask >= 128))
    np.testing.assert_array_equal(structure[:30, left:], levels._edge_map(reference, None))
    assert (structure[30:, left:] == 0).all()
