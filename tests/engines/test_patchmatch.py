"""Guided PatchMatch: filling, guidance (labels, exclusion, sketch, exemplars), cancel, torch."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engines import registry
from engines.base import (
    Cancelled,
    CancelToken,
    EngineError,
    Guidance,
    InpaintRequest,
    InputError,
)
from engines.classical.patchmatch import engine as engine_module
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.classical.patchmatch.levels import build_pyramid, canny_thresholds, level_problem
from engines.classical.patchmatch.numba_solver import NumbaLevelSolver


def _run(request: InpaintRequest, **options) -> list:
    return list(PatchMatchEngine(**options).run(request))


def _noise(shape, sigma, seed):
    return np.random.default_rng(seed).normal(0, sigma, shape)


def _hole_psnr(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    hole = mask >= 128
    error = result[hole].astype(np.float64) - original[hole]
    return float(10 * np.log10(255.0 ** 2 / max(np.mean(error ** 2), 1e-9)))


def test_registered_with_its_guidance():
    cls = registry.engine_class("patchmatch")
    assert cls is PatchMatchEngine
    assert cls.guidance == {Guidance.SKETCH, Guidance.COLOR, Guidance.LABELS,
                            Guidance.SAMPLING, Guidance.EXEMPLARS}
    assert cls.working_size is None


def test_fills_hole_and_keeps_every_other_pixel(textured, square_mask):
    stages = _run(InpaintRequest(textured, square_mask, seed=3))
    assert [s.final for s in stages] == [False] * (len(stages) - 1) + [True]
    assert len(stages) >= 2  # coarse levels come first
    assert stages[-1].name == "refined"
    progress = [s.progress for s in stages]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    hole = square_mask >= 128
    for stage in stages:
        assert stage.image.shape == textured.shape
        np.testing.assert_array_equal(stage.image[~hole], textured[~hole])
    # the fixture is a gradient with noise: a fill that follows it is close to the original
    assert _hole_psnr(stages[-1].image, textured, square_mask) > 24.0


def test_a_feathered_mask_edge_keeps_the_image_in_every_stage(textured, square_mask):
    mask = square_mask.copy()
    mask[30:36, 40:88] = 100  # a soft band above the hole: blended, under half-way
    stages = _run(InpaintRequest(textured, mask, seed=2))
    assert len(stages) >= 2
    for stage in stages:  # the coarse previews too, though their estimate is blurred there
        np.testing.assert_array_equal(stage.image[mask < 128], textured[mask < 128])


def test_same_seed_same_result(textured, square_mask):
    first = _run(InpaintRequest(textured, square_mask, seed=11))[-1].image
    second = _run(InpaintRequest(textured, square_mask, seed=11))[-1].image
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("keep_grain", [False, True])
def test_no_seam_on_a_smooth_gradient(keep_grain):
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    image = np.stack([60 + x, 40 + y * 1.5, 200 - x * 0.8], axis=-1)
    image = np.clip(image + _noise(image.shape, 2.0, 5), 0, 255).astype(np.uint8)
    mask = np.zeros((96, 128), np.uint8)
    cv2.circle(mask, (64, 48), 20, 255, -1)
    result = _run(InpaintRequest(image, mask), keep_grain=keep_grain)[-1].image.astype(
        np.float32)
    hole = mask >= 128
    ring = (cv2.dilate(mask, np.ones((3, 3), np.uint8)) > 0) & ~hole
    edge = hole & (cv2.erode(mask, np.ones((3, 3), np.uint8)) == 0)
    # mean colour just inside the hole edge equals the mean just outside (no step)
    step = np.abs(result[edge].mean(axis=0) - result[ring].mean(axis=0))
    assert step.max() < 3.0
    assert np.abs(result[hole] - image[hole]).mean() < 8.0  # noise alone gives ~2


@pytest.mark.parametrize("keep_grain", [False, True])
def test_no_seam_on_a_texture(keep_grain):
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    pattern = 128 + 60 * np.sin(x * 2 * np.pi / 9) * np.cos(y * 2 * np.pi / 7)
    image = np.stack([pattern, 255 - pattern, np.full_like(pattern, 90)], axis=-1)
    image = np.clip(image + _noise(image.shape, 3.0, 6), 0, 255).astype(np.uint8)
    mask = np.zeros((96, 128), np.uint8)
    mask[30:66, 40:90] = 255
    result = _run(InpaintRequest(image, mask), keep_grain=keep_grain)[-1].image
    # the texture is continued (mostly in phase), not smoothed over
    assert _hole_psnr(result, image, mask) > 22.0  # OpenCV Telea: 19 dB, a blur
    hole = mask >= 128
    across = np.abs(np.diff(result.astype(np.float32), axis=1)).sum(axis=2)
    boundary = hole[:, 1:] ^ hole[:, :-1]
    assert across[boundary].mean() < 1.5 * across[~boundary].mean()


def test_no_usable_source_is_reported():
    image = np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)
    mask = np.full((48, 48), 255, np.uint8)
    mask[:3] = 0  # only a 3-pixel strip is known: no 7x7 source patch fits
    with pytest.raises(EngineError, match=r"no 7x7 patch fits .* choose a smaller patch size"):
        _run(InpaintRequest(image, mask))
    strip = np.full((48, 48), 255, np.uint8)
    strip[:2] = 0  # at the smallest patch size, no smaller size to advise
    with pytest.raises(EngineError, match=r"no patch, not even a 3x3 one \(the smallest\), "
                                          r"fits .*nothing to copy; unmask some context, fill "
                                          r"it with OpenCV Telea or add a reference photo$"):
        _run(InpaintRequest(image, strip), patch_size=3)
    # 48x2: too small for any patch of 3x3 or more, filled with 1x1 ones (one known row)
    top = np.pad(np.full((1, 48), 255, np.uint8), ((0, 1), (0, 0)))
    filled = _run(InpaintRequest(image[:2], top))[-1].image
    assert np.array_equal(filled[1], image[1])
    assert all((image[1] == pixel).all(axis=1).any() for pixel in filled[0])
    whole = np.full((48, 48), 255, np.uint8)
    with pytest.raises(EngineError, match=r"^no source left for Guided PatchMatch: the hole "
                                          r"covers the whole picture, so there is nothing to "
                                          r"copy from; unmask some of the picture or add a "
                                          r"reference photo$"):
        _run(InpaintRequest(image, whole))
    square = np.zeros((48, 48), np.uint8)
    square[16:32, 16:32] = 255  # an include area over the hole alone: nothing to copy
    with pytest.raises(EngineError, match=r"sampling area \(an excluded area, or the outside "
                                          r"of an include area\) leave no pixel"):
        _run(InpaintRequest(image, square, sample_include=square))
    reference = np.random.default_rng(1).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    filled = _run(InpaintRequest(image, mask, exemplars=(reference,)))[-1].image
    assert filled.shape == image.shape
    # a picture all hole is filled from a reference photo alone: green, as only it is
    green = np.zeros((40, 40, 3), np.uint8)
    green[..., 1] = 200 + reference[..., 1] % 40
    filled = _run(InpaintRequest(image, whole, exemplars=(green,)))[-1].image
    assert filled[..., [0, 2]].max() == 0 and filled[..., 1].min() >= 200


def test_label_without_sources_falls_back_to_any_source(textured, square_mask):
    labels = np.zeros(square_mask.shape, np.uint8)
    labels[square_mask > 0] = 7  # no known pixel carries label 7
    result = _run(InpaintRequest(textured, square_mask, labels=labels))[-1].image
    assert _hole_psnr(result, textured, square_mask) > 20.0


@pytest.mark.parametrize("keep_grain", [False, True])
def test_labels_choose_the_source_region(keep_grain):
    image = np.zeros((64, 96, 3), np.uint8)
    image[:, :48] = (220, 30, 30)
    image[:, 48:] = (30, 30, 220)
    image = np.clip(image + _noise(image.shape, 4.0, 1), 0, 255).astype(np.uint8)
    labels = np.ones((64, 96), np.uint8)
    labels[:, 48:] = 2
    mask = np.zeros((64, 96), np.uint8)
    mask[22:42, 12:32] = 255  # inside the red half
    labels[mask > 0] = 2  # ...but the user says it is "blue"
    without = _run(InpaintRequest(image, mask))[-1].image[mask > 0].astype(int)
    assert (without[:, 0] > without[:, 2]).all()  # plain fill: red from around the hole
    filled = _run(InpaintRequest(image, mask, labels=labels),
                  keep_grain=keep_grain)[-1].image[mask > 0].astype(int)
    assert (filled[:, 2] > 150).all() and (filled[:, 0] < 80).all()


@pytest.mark.parametrize("keep_grain", [False, True])
def test_excluded_pixels_are_never_sources(keep_grain):
    rng = np.random.default_rng(2)
    image = np.full((64, 96, 3), 128, np.uint8)
    image[:, :48] = (20, 210, 20)  # a green half...
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((64, 96), np.uint8)
    mask[24:40, 16:32] = 255  # ...with a hole inside it
    exclude = np.zeros((64, 96), np.uint8)
    exclude[:, :48] = 255
    exclude[mask > 0] = 0
    plain = _run(InpaintRequest(image, mask))[-1].image[mask > 0].astype(int)
    assert (plain[:, 1] - plain[:, [0, 2]].max(axis=1) > 100).mean() > 0.9  # green fill

    filled = _run(InpaintRequest(image, mask, sample_exclude=exclude),
                  keep_grain=keep_grain)[-1].image
    greenness = filled[mask > 0].astype(int)
    assert (greenness[:, 1] - greenness[:, [0, 2]].max(axis=1) < 40).all()


def test_excluded_pixels_are_not_in_any_source_patch():
    image = np.random.default_rng(4).integers(0, 255, (80, 80, 3), dtype=np.uint8)
    hole = np.zeros((80, 80), bool)
    hole[30:50, 30:50] = True
    exclude = np.zeros((80, 80), np.uint8)
    exclude[5:25, 40:75] = 255
    pyramid = build_pyramid(image, hole, 3, exclude=exclude)
    assert len(pyramid) >= 2
    fine = level_problem(pyramid[0], 3)
    ys, xs = np.nonzero(fine.valid[:80, :80])
    near = np.zeros((80, 80), bool)
    for y, x in zip(ys, xs):
        near[y - 3:y + 4, x - 3:x + 4] = True
    assert not (near & (exclude > 0)).any()
    assert not (near & hole).any()


def _edge_image(size=96, edge_row=48):
    image = np.full((size, size, 3), 200, np.float64)
    image[:edge_row] = 50
    return np.clip(image + _noise(image.shape, 6.0, 9), 0, 255).astype(np.uint8)


def _transition_rows(result: np.ndarray, columns, level: float = 125) -> np.ndarray:
    gray = result.mean(axis=2)
    return np.array([np.argmax(gray[:, c] > level) for c in columns])


def test_sketch_continues_an_edge_along_the_drawn_line():
    image = _edge_image()
    mask = np.zeros((96, 96), np.uint8)
    mask[16:80, 40:96] = 255  # covers the edge up to the right border
    sketch = np.zeros((96, 96), np.uint8)
    cv2.line(sketch, (30, 48), (95, 48), 255, 1)
    result = _run(InpaintRequest(image, mask, sketch=sketch))[-1].image
    rows = _transition_rows(result, range(40, 96))
    assert np.abs(rows - 48).max() <= 2


BENT_COLUMNS = np.arange(44, 96)


def _bent_line(end_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 96x96 hole over the right part of an edge at row 48, a line drawn from the edge to
    ``end_row`` at the right border, and the line's row at each of ``BENT_COLUMNS``:
    ``(mask, sketch, drawn)``."""
    mask = np.zeros((96, 96), np.uint8)
    mask[16:80, 40:96] = 255
    sketch = np.zeros((96, 96), np.uint8)
    cv2.line(sketch, (30, 48), (40, 48), 255, 1)
    cv2.line(sketch, (40, 48), (95, end_row), 255, 1)
    drawn = 48 + (end_row - 48) * (BENT_COLUMNS - 40) / 55
    return mask, sketch, drawn


@pytest.mark.parametrize("end_row", [30, 70])
def test_sketch_bends_an_edge_away_from_its_natural_path(end_row):
    """A drawn line that leaves the straight continuation is followed, not the surroundings."""
    image = _edge_image()
    mask, sketch, drawn = _bent_line(end_row)  # bends by 18 / 22 px over the hole
    columns = BENT_COLUMNS
    plain = _transition_rows(_run(InpaintRequest(image, mask))[-1].image, columns)
    assert np.abs(plain - drawn)[-10:].min() > 10  # left alone, the edge runs straight on
    guided = _transition_rows(
        _run(InpaintRequest(image, mask, sketch=sketch))[-1].image, columns)
    assert np.abs(guided - drawn).max() <= 3


def test_sketch_bends_a_faint_edge_on_a_bright_picture():
    """Edges are found relative to the picture's gradients, not its brightness: a 24-level
    step at grey 200 (missed by thresholds scaled to the median grey level) is a source."""
    rng = np.random.default_rng(4)
    image = np.full((96, 96, 3), 224.0)
    image[:48] = 200.0
    image = np.clip(image + rng.normal(0, 4.0, image.shape), 0, 255).astype(np.uint8)
    mask, sketch, drawn = _bent_line(70)
    result = _run(InpaintRequest(image, mask, sketch=sketch))[-1].image
    smooth = cv2.blur(result, (1, 5))
    assert np.abs(_transition_rows(smooth, BENT_COLUMNS, level=212) - drawn).max() <= 3


def test_edge_thresholds_follow_gradients_not_brightness():
    texture = _noise((64, 64), 10.0, 2)
    dark = np.clip(60 + texture, 0, 255).astype(np.uint8)
    low, high = canny_thresholds(dark, None)
    assert canny_thresholds(dark + np.uint8(120), None) == (low, high)
    assert high > 20.0 and low == high / 2
    stronger = np.clip(60 + 2 * texture, 0, 255).astype(np.uint8)
    assert canny_thresholds(stronger, None)[1] == pytest.approx(2 * high, rel=0.1)
    known = np.zeros((64, 64), bool)
    known[:, :32] = True
    flat_half = dark.copy()
    flat_half[:, :32] = 60  # only the flat known half counts: the floor applies
    assert canny_thresholds(flat_half, known)[1] == 20.0


def test_sketch_strength_scales_how_closely_lines_are_followed():
    image = _edge_image()
    mask, sketch, drawn = _bent_line(70)

    def error(**options):
        result = _run(InpaintRequest(image, mask, sketch=sketch), **options)[-1].image
        return np.abs(_transition_rows(result, BENT_COLUMNS) - drawn).max()
    assert error(sketch_strength=1.0) <= 3
    assert error(sketch_strength=0.0) > 10  # 0 ignores the lines: the edge runs straight
    with pytest.raises(InputError, match="sketch_strength"):
        _run(InpaintRequest(image, mask, sketch=sketch), sketch_strength=-1)


def test_user_options_are_declared_with_their_defaults():
    specs = {spec.key: spec for spec in PatchMatchEngine.option_specs}
    assert specs["quality"].default == "normal"
    assert {value for value, _ in specs["quality"].choices} == set(engine_module.SCHEDULES)
    assert (specs["patch_size"].default, specs["patch_size"].step) == (7, 2)
    assert specs["keep_grain"].default is False


def _fine_detail(image: np.ndarray, where: np.ndarray) -> float:
    """Standard deviation of the grey picture's detail finer than 1.5 px, over ``where``."""
    grey = image.mean(axis=2).astype(np.float32)
    return float((grey - cv2.GaussianBlur(grey, (0, 0), 1.5))[where].std())


def test_keep_grain_gives_the_fill_the_pictures_grain():
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    image = np.stack([90 + x * 0.5, 120 + y * 0.3, np.full_like(x, 140)], axis=-1)
    image = np.clip(image + _noise(image.shape, 12.0, 3), 0, 255).astype(np.uint8)
    mask = np.zeros((96, 128), np.uint8)
    mask[30:66, 40:90] = 255
    hole = mask >= 128
    grain = _fine_detail(image, ~hole)
    request = InpaintRequest(image, mask, seed=1)
    smooth = _run(request)[-1].image
    grainy = _run(request, keep_grain=True)[-1].image
    assert _fine_detail(smooth, hole) < 0.5 * grain  # voting averages the grain away
    assert _fine_detail(grainy, hole) > 0.75 * grain
    np.testing.assert_array_equal(grainy[~hole], image[~hole])
    # the coarse content is the voted fill's: only the grain differs
    coarse = [cv2.GaussianBlur(r.astype(np.float32), (0, 0), 3)[hole] for r in (smooth, grainy)]
    assert np.abs(coarse[0] - coarse[1]).mean() < 3.0
    np.testing.assert_array_equal(grainy, _run(request, keep_grain=True)[-1].image)


def test_sketch_term_pulls_matches_onto_the_line():
    """With only the sketch to go by (a flat hole estimate), edges land on the drawn line."""
    image = _edge_image()
    hole = np.zeros((96, 96), bool)
    hole[16:80, 40:96] = True
    sketch = np.zeros((96, 96), np.uint8)
    cv2.line(sketch, (40, 60), (95, 60), 255, 1)  # a line 12 px below the real edge
    pyramid = build_pyramid(image, hole, 3, sketch=sketch)
    problem = level_problem(pyramid[0], 3)
    assert problem.target_structure is not None
    estimate = image.astype(np.float32)
    estimate[hole] = 125.0
    inside = (problem.ty >= 30) & (problem.ty < 75) & (problem.tx >= 48)
    rng = np.random.default_rng(0)
    flat = rng.choice(np.flatnonzero(problem.valid[:96, :96].ravel()), problem.size)
    solver = NumbaLevelSolver(problem, problem.window.gather(estimate),
                              (flat // 96).astype(np.int32),
                              (flat % 96).astype(np.int32), label_weight=0.0,
                              sketch_weight=20000.0)
    radius = np.full(problem.size, 96, np.int32)
    for round_ in range(4):
        solver.step(3, radius, 1, round_ * 3)
    nnf_y, _ = solver.nnf()
    on_line = inside & (problem.ty == 60)
    # targets on the drawn line matched to sources centred on the real edge (rows 47..48)
    assert np.isin(nnf_y[on_line], (46, 47, 48, 49)).mean() > 0.8


def test_reference_image_supplies_missing_content():
    rng = np.random.default_rng(5)
    base = cv2.GaussianBlur(rng.integers(0, 255, (96, 96, 3)).astype(np.float32), (0, 0), 2.0)
    scene = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[22:42, 22:42] = 255
    image = scene[16:80, 16:80].copy()  # the photo to repair
    reference = scene[8:88, 4:84].copy()  # the same scene, framed differently
    plain = _run(InpaintRequest(image, mask))[-1].image
    guided = _run(InpaintRequest(image, mask, exemplars=(reference,)))[-1].image
    assert _hole_psnr(plain, image, mask) < 25.0  # the content is not elsewhere in the photo
    assert _hole_psnr(guided, image, mask) > 35.0


def test_include_area_limits_sources():
    image = np.full((64, 96, 3), 128, np.uint8)
    image[:, 64:] = (240, 240, 20)
    image = np.clip(image + _noise(image.shape, 5.0, 3), 0, 255).astype(np.uint8)
    mask = np.zeros((64, 96), np.uint8)
    mask[20:44, 20:44] = 255
    include = np.zeros((64, 96), np.uint8)
    include[:, 64:] = 255  # only the yellow strip may be copied
    filled = _run(InpaintRequest(image, mask, sample_include=include))[-1].image
    assert (filled[mask > 0][:, 2] < 90).mean() > 0.9


def test_cancel_stops_between_iterations(textured, square_mask, monkeypatch):
    token = CancelToken()
    steps = []

    class Counting(NumbaLevelSolver):
        def step(self, *args, **kwargs):
            steps.append(1)
            super().step(*args, **kwargs)
            if len(steps) == 2:
                token.cancel()

    monkeypatch.setattr(engine_module, "NumbaLevelSolver", Counting)
    with pytest.raises(Cancelled):
        list(PatchMatchEngine().run(InpaintRequest(textured, square_mask, device="cpu"),
                                    token))
    assert len(steps) == 2


def test_torch_backend_on_cpu_matches_the_numba_one():
    pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    y, x = np.mgrid[0:48, 0:56].astype(np.float32)
    image = np.stack([80 + 2 * x, 60 + 2 * y, 150 + np.sin(x / 3) * 40], axis=-1)
    image = np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((48, 56), np.uint8)
    mask[16:30, 20:36] = 255
    request = InpaintRequest(image, mask, seed=2, device="cpu")
    on_numba = _run(request, backend="numba")[-1].image
    on_torch = _run(request, backend="torch")[-1].image
    again = _run(request, backend="torch")[-1].image
    np.testing.assert_array_equal(on_torch, again)
    hole = mask >= 128
    np.testing.assert_array_equal(on_torch[~hole], image[~hole])
    numba_psnr = _hole_psnr(on_numba, image, mask)
    torch_psnr = _hole_psnr(on_torch, image, mask)
    assert torch_psnr > 22.0 and abs(torch_psnr - numba_psnr) < 3.0
    assert np.abs(on_torch[hole].astype(int) - on_numba[hole]).mean() < 12.0


def test_an_accelerator_asked_for_by_name_must_exist(textured, square_mask, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for device, message in (("cuda", "no CUDA GPU"), ("mps", "MPS was requested")):
        with pytest.raises(EngineError, match=message):
            _run(InpaintRequest(textured, square_mask, device=device))
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    stages = _run(InpaintRequest(textured, square_mask, device="mps"))  # on the numba path
    assert stages[-1].final and (stages[-1].image[square_mask >= 128] != 0).any()


def test_a_picture_too_small_for_the_patches_fills_with_smaller_ones():
    image = np.random.default_rng(0).integers(0, 255, (10, 10, 3), dtype=np.uint8)
    mask = np.zeros((10, 10), np.uint8)
    mask[5, 5] = 255  # every 7x7 patch of a 10x10 picture covers the centre
    for patch_size in (7, 3):  # 7: under three patches wide, filled with 5x5 ones
        filled = _run(InpaintRequest(image, mask), patch_size=patch_size)[-1].image
        assert np.array_equal(filled[mask == 0], image[mask == 0])


def test_bad_options_are_reported():
    image = np.zeros((32, 32, 3), np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[10:20, 10:20] = 255
    for options in ({"patch_size": 4}, {"quality": "perfect"}, {"backend": "opencl"}):
        with pytest.raises(ValueError):
            _run(InpaintRequest(image, mask), **options)


def test_hash_is_the_same_on_both_backends():
    torch = pytest.importorskip("torch")
    from engines.classical.patchmatch import kernels, torch_solver

    values = np.array([0, 1, 12345, 2**32 - 1, 987654321, 2**40 + 5], np.int64)

    def reference(x):  # lowbias32 with Python's unbounded integers
        x &= 0xFFFFFFFF
        x ^= x >> 16
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x846CA68B) & 0xFFFFFFFF
        return x ^ (x >> 16)

    expected = [reference(int(v)) for v in values]
    assert [kernels.hash32(int(v)) for v in values] == expected
    assert torch_solver._hash32(torch.from_numpy(values)).tolist() == expected


def _cuda_present() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.parametrize("device", [
    "cpu", pytest.param("cuda", marks=pytest.mark.skipif(not _cuda_present(),
                                                         reason="needs a CUDA GPU"))])
def test_torch_backend_follows_labels_and_exclusion(device):
    pytest.importorskip("torch")
    image = np.zeros((40, 64, 3), np.uint8)
    image[:, :32] = (220, 30, 30)
    image[:, 32:] = (30, 30, 220)
    image[:, 56:] = (30, 220, 30)  # a green strip, excluded below
    image = np.clip(image + _noise(image.shape, 4.0, 1), 0, 255).astype(np.uint8)
    labels = np.ones((40, 64), np.uint8)
    labels[:, 32:] = 2
    mask = np.zeros((40, 64), np.uint8)
    mask[14:26, 8:20] = 255  # inside the red half, labelled "not red"
    labels[mask > 0] = 2
    exclude = np.zeros((40, 64), np.uint8)
    exclude[:, 56:] = 255
    request = InpaintRequest(image, mask, labels=labels, sample_exclude=exclude, device=device)
    filled = _run(request, backend="torch")[-1].image[mask > 0].astype(int)
    assert (filled[:, 2] > 150).all() and (filled[:, 0] < 80).all() and (filled[:, 1] < 80).all()


def test_kernels_compile_where_numba_has_no_place_for_its_cache():
    """A read-only install run by a user without a writable home: numba finds no cache
    folder and refuses ``cache=True`` at import. A function from source text has no cache
    folder either, which stands in for that here."""
    from numba import njit

    from engines.jit import cached_njit

    namespace: dict = {}
    exec("def double(x):\n    return 2 * x\n", namespace)
    with pytest.raises(RuntimeError, match="cannot cache"):
        njit(cache=True)(namespace["double"])
    assert cached_njit(nogil=True)(namespace["double"])(21) == 42
