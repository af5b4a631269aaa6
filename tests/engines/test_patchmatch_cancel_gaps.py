"""Guided PatchMatch looks at its cancel token all along a run: the whole-map steps run in
bands of rows with a look between them (each checked against the whole-map computation it
replaces, on tiny bands), and a cancel at any look stops the run there."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from engines.base import Cancelled, CancelToken, InpaintRequest, Region
from engines.classical.patchmatch import engine as engine_module
from engines.classical.patchmatch import kernels, levels, numba_solver, solver, window
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.guidance import patch_centres, reference_usable


@pytest.fixture
def tiny_bands(monkeypatch):
    """Bands of a few rows, so that small pictures cross many band boundaries."""
    monkeypatch.setattr(window, "BAND", 5)
    monkeypatch.setattr(window, "_ROW_CHUNK", 3)
    monkeypatch.setattr(levels, "SHRINK_BAND", 2)
    monkeypatch.setattr(levels, "SKELETON_MARGIN", 1)
    monkeypatch.setattr(solver, "UPSCALE_BAND", 4)
    monkeypatch.setattr(solver, "NEAREST_MARGIN", 1)
    monkeypatch.setattr(numba_solver, "CHUNK", 150)


def _photo(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), 3)
    base = cv2.normalize(base, None, 0, 230, cv2.NORM_MINMAX)
    image = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    for k in range(3):  # a few sharp lines, for Canny to find
        ends = rng.integers(0, (width, height), (2, 2))
        cv2.line(image, tuple(map(int, ends[0])), tuple(map(int, ends[1])),
                 tuple(int(v) for v in rng.integers(0, 256, 3)), 1 + k)
    return image


def _stroke(height: int, width: int, thickness: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    cv2.line(mask, (3, 5), (width - 8, height - 4), 255, thickness)
    return mask


def _guided_request(rgba: bool = False) -> InpaintRequest:
    image = _photo(130, 170, 1)
    mask = _stroke(130, 170, 11)
    cv2.circle(mask, (40, 95), 12, 255, -1)
    sketch = np.zeros_like(mask)
    cv2.line(sketch, (0, 65), (169, 72), 255, 5)  # thick: its skeleton takes a few rounds
    labels = np.zeros_like(mask)
    labels[:, 85:] = 1
    labels[:20] = 255
    exclude = np.zeros_like(mask)
    exclude[:40, :50] = 255
    reference = _photo(60, 70, 2)
    if rgba:  # a cut-out: only its opaque pixels are sources
        alpha = np.full((60, 70), 255, np.uint8)
        alpha[:20] = 0
        alpha[:, :15] = 128
        reference = np.dstack([reference, alpha])
    return InpaintRequest(image, mask, sketch=sketch, labels=labels, sample_exclude=exclude,
                          exemplars=(reference,), seed=7)


class _CancelAt(CancelToken):
    """Counts its looks and cancels itself at look ``at`` (0: never)."""

    def __init__(self, at: int = 0) -> None:
        super().__init__()
        self.at = at
        self.looks = 0

    def _look(self) -> None:
        self.looks += 1
        if self.looks == self.at:
            self.cancel()

    @property
    def cancelled(self) -> bool:
        self._look()
        return super().cancelled

    def raise_if_cancelled(self) -> None:
        self._look()
        super().raise_if_cancelled()


def test_a_cancel_at_any_look_stops_the_run_at_that_look(tiny_bands, monkeypatch):
    """Cancelled at its n-th look, for looks spread over the whole run (the pyramid, each
    level's problem, the nearest sources, the scans, the grain, the previews), the run
    raises Cancelled from that very look: nothing looks at the token after it."""
    monkeypatch.setattr(engine_module, "LOOK_SECONDS", 60.0)  # no polls while enlarging
    request = _guided_request()
    counting = _CancelAt()
    stages = list(PatchMatchEngine(keep_grain=True).run(request, counting))
    total = counting.looks
    assert len(stages) >= 3 and total > 500  # tiny bands: many looks
    for at in sorted({1, 2, 3, *range(5, total, max(total // 40, 1)), total}):
        token = _CancelAt(at)
        with pytest.raises(Cancelled):
            list(PatchMatchEngine(keep_grain=True).run(request, token))
        assert token.looks == at


@pytest.mark.parametrize("rgba", [False, True])
def test_results_with_tiny_bands_equal_the_defaults(monkeypatch, rgba):
    request = _guided_request(rgba)
    options = {"keep_grain": True, "patch_size": 5}
    default = [s.image for s in PatchMatchEngine(**options).run(request)]
    monkeypatch.setattr(window, "BAND", 3)
    monkeypatch.setattr(levels, "SHRINK_BAND", 1)
    monkeypatch.setattr(levels, "SKELETON_MARGIN", 1)
    monkeypatch.setattr(numba_solver, "CHUNK", 100)
    small = [s.image for s in PatchMatchEngine(**options).run(request)]
    assert len(default) == len(small) >= 3
    for a, b in zip(default, small):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("band", [3, 7, 64])
def test_banded_canny_equals_opencvs(monkeypatch, band):
    monkeypatch.setattr(window, "BAND", band)
    rng = np.random.default_rng(band)
    pictures = [cv2.GaussianBlur(cv2.cvtColor(_photo(97, 131, 3), cv2.COLOR_RGB2GRAY),
                                 (0, 0), 1.0),
                cv2.GaussianBlur(rng.integers(0, 256, (83, 120), dtype=np.uint8), (0, 0), 1.5),
                np.zeros((40, 50), np.uint8)]
    for gray in pictures:
        for low, high in ((10, 20), (20.5, 41.0), (5, 60), (30, 30.5), (40, 12)):
            np.testing.assert_array_equal(levels._canny(gray, low, high),
                                          cv2.Canny(gray, low, high) > 0)


def test_seeded_components_join_pieces_that_touch():
    first = np.array([0, 2, 5], np.int64)
    second = np.array([1, 3, 2], np.int64)  # 0-1 and 2-3-5 joined, 4 alone
    seeded = np.array([False, False, False, True, False, False])
    kept = kernels.seeded_components(6, first, second, seeded)
    assert kept.tolist() == [False, False, True, True, False, True]


@pytest.mark.parametrize("thickness", [1, 4, 9, 23])
def test_banded_skeleton_equals_the_whole(tiny_bands, thickness):
    sketch = np.zeros((90, 120), np.uint8)
    cv2.line(sketch, (0, 20), (119, 70), 255, thickness)
    cv2.circle(sketch, (60, 60), 15, 255, -1)
    sketch = sketch > 0
    hole = _stroke(90, 120, 40) > 0
    np.testing.assert_array_equal(levels._skeleton_in_bands(sketch, hole),
                                  levels._skeleton(sketch & hole))


def _edge_map_whole(image, ignore):
    """The edge map as one whole-map computation (the code the banded one replaced)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if levels.EDGE_BLUR > 0:
        gray = cv2.GaussianBlur(gray, (0, 0), levels.EDGE_BLUR)
    low, high = levels.canny_thresholds(gray, None if ignore is None else ~ignore)
    edges = cv2.Canny(gray, low, high) > 0
    if ignore is not None:
        side = 2 * (2 + int(np.ceil(levels.EDGE_BLUR))) + 1
        edges &= cv2.dilate(ignore.view(np.uint8), np.ones((side, side), np.uint8)) == 0
    return levels._soft_lines(edges)


@pytest.mark.parametrize("blur", [0.0, 1.0, 1.5])
def test_banded_edge_maps_equal_whole_ones(tiny_bands, monkeypatch, blur):
    monkeypatch.setattr(levels, "EDGE_BLUR", blur)
    image = _photo(75, 104, 4)
    hole = _stroke(75, 104, 9) > 0
    np.testing.assert_array_equal(levels._edge_map(image, hole), _edge_map_whole(image, hole))
    np.testing.assert_array_equal(levels._edge_map(image, None), _edge_map_whole(image, None))
    usable = np.ones((75, 104), bool)
    np.testing.assert_array_equal(levels._edge_map(image, None, usable=usable),
                                  _edge_map_whole(image, None))
    usable[:30, :20] = False
    np.testing.assert_array_equal(levels._edge_map(image, None, usable=usable),
                                  _edge_map_whole(image, ~usable))


def test_banded_source_maps_equal_whole_ones(tiny_bands):
    height, width = 61, 87
    hole = _stroke(height, width, 7) > 0
    include = np.zeros((height, width), np.uint8)
    include[10:, :] = 255
    exclude = np.zeros((height, width), np.uint8)
    exclude[:25, :30] = 200
    usable, forbidden = levels._usable_sources(hole, include, exclude)
    expected = ~hole & (include >= 128) & (exclude < 128)
    np.testing.assert_array_equal(usable, expected)
    np.testing.assert_array_equal(forbidden, ~hole & ~expected)
    usable, _ = levels._usable_sources(hole, np.zeros_like(include), None)  # no limit
    np.testing.assert_array_equal(usable, ~hole)
    for side in (3, 7, 15):
        radius = side // 2
        np.testing.assert_array_equal(levels._patch_centres(expected, side),
                                      patch_centres(expected, side))
        covered = levels._covered(hole, radius)
        assert levels.target_count(hole, radius) == np.count_nonzero(covered)
        win = window.Window.around(hole, 2 * radius)
        ty, tx = levels._targets(hole, radius, win)[:2]
        ys, xs = np.nonzero(covered)
        np.testing.assert_array_equal(ty, ys)
        np.testing.assert_array_equal(tx, xs)
    reference = _photo(33, 40, 5)
    alpha = np.full((33, 40), 255, np.uint8)
    alpha[:9] = 0
    opaque = reference_usable(np.dstack([reference, alpha]))
    np.testing.assert_array_equal(levels._shrunk(reference), levels._shrink(reference))
    np.testing.assert_array_equal(levels._touched(opaque, unset=True), levels._touched(~opaque))


def test_has_sources_says_what_source_centres_find(tiny_bands):
    image = _photo(50, 60, 6)
    hole = np.zeros((50, 60), bool)
    hole[:, 3:57] = True  # 3 known columns either side: no 7x7 patch fits
    level = levels.LevelInputs(image, hole, ~hole, None, None, (), ())
    assert not levels.has_sources(level, 3)
    assert levels.has_sources(level, 1)
    with_reference = levels.LevelInputs(image, hole, ~hole, None, None, (image[:9, :9],),
                                        (np.ones((9, 9), bool),))
    assert levels.has_sources(with_reference, 3)


def test_a_cancel_does_not_wait_for_a_preview_to_be_enlarged(monkeypatch):
    """The enlargement of a preview runs on a helper thread: it gives OpenCV's bytes, and a
    cancel while it runs raises Cancelled before it ends."""
    image = _photo(20, 30, 8)
    got = engine_module._enlarged(image, 77, 41, CancelToken())
    np.testing.assert_array_equal(got, cv2.resize(image, (77, 41),
                                                  interpolation=cv2.INTER_LINEAR))
    release = threading.Event()
    finished = threading.Event()
    resize = cv2.resize

    def slow_resize(*args, **kwargs):
        release.wait(30)
        finished.set()
        return resize(*args, **kwargs)

    monkeypatch.setattr(engine_module.cv2, "resize", slow_resize)
    token = CancelToken()
    threading.Timer(0.05, token.cancel).start()
    try:
        with pytest.raises(Cancelled):
            engine_module._enlarged(image, 77, 41, token)
        assert not finished.is_set()  # the resize had not ended
    finally:
        release.set()


def test_a_region_cancelled_before_it_starts_raises_at_once():
    image = _photo(40, 50, 9)
    mask = _stroke(40, 50, 5)
    token = CancelToken()
    token.cancel()
    region = Region(image, mask, None, None, None, None, None, (), 1.0, 0, {})
    stages = PatchMatchEngine().inpaint_region(region, token)
    with pytest.raises(Cancelled):
        next(iter(stages))
