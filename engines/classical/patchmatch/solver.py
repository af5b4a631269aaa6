"""Coarse-to-fine image completion (Wexler et al. 2007 with Barnes et al. 2009's PatchMatch).

The pyramid shrinks the hole level by level (masked averaging, see :mod:`.levels`). At the
coarsest level the hole is filled by push-pull interpolation and each target patch starts
from its nearest usable source; each finer level starts from the coarser result and field
scaled up (``cv2.pyrUp``; voting with the inherited field first scored worse on our
benchmark). Every level then alternates PatchMatch search and weighted voting (the EM
iterations). Random search spans the whole atlas at the coarsest level; above it,
a few pixels around an inherited match, or ``fresh_search_radius`` for targets new at that
level, so the work at every level grows with the hole, not with the image.

The level solver does the heavy work; :func:`complete` drives it with either the numba one
(:mod:`engines.classical.patchmatch.numba_solver`) or the torch one (CPU or CUDA).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import cv2
import numpy as np

from engines.base import UNLABELLED, CancelToken, NoSourceError
from engines.classical.patchmatch.kernels import hash32
from engines.classical.patchmatch.levels import (
    LevelInputs,
    LevelProblem,
    any_patch_in,
    has_sources,
    level_problem,
    push_pull,
    target_count,
)
from engines.classical.patchmatch.window import (
    Window,
    any_in_bands,
    bands_with_margin,
    nonzero_in_bands,
    row_bands,
)


@dataclass(frozen=True)
class Schedule:
    """EM rounds and PatchMatch scans per round, by level, and the random-search radii.

    ``coarse_*`` apply to the coarsest level, ``fine_*`` to the finest, the plain ones to the
    levels between. Targets that inherit a match from the coarser level search within
    ``search_radius`` (``fine_search_radius`` at the finest level); the others (new hole
    pixels, the coarsest level) within ``fresh_search_radius``, or the whole atlas at the
    coarsest level.
    """

    coarse_em: int = 6
    coarse_search: int = 3
    em: int = 2
    search: int = 2
    fine_em: int = 1
    fine_search: int = 1
    search_radius: int = 8
    fine_search_radius: int = 4
    fresh_search_radius: int = 32


@dataclass(frozen=True)
class LevelResult:
    """A completed level.

    ``estimate``: ``(window.size, 3)`` float32, the estimate at the ``window`` pixels (see
    :class:`~.window.Window`; elsewhere it is the level's ``image``, uint8 ``(h, w, 3)``);
    ``hole``: the level's ``(h, w)`` bool hole; ``number`` 1 (coarsest)..``count``;
    ``hole_pixels``: the hole's pixels ``(ys, xs)``, row-major (the problem's ``hole_y,
    hole_x``), or None to find them in ``hole``.
    """

    estimate: np.ndarray
    window: Window
    image: np.ndarray
    hole: np.ndarray
    number: int
    count: int
    progress: float
    hole_pixels: tuple[np.ndarray, np.ndarray] | None = None

    def filled(self, cancel: CancelToken | None = None) -> np.ndarray:
        """``(h, w, 3)`` uint8: the level's image with the estimate in its hole, rounded and
        saturated (``cv2.convertScaleAbs``); made band by band, ``cancel`` checked between
        bands."""
        height = self.hole.shape[0]
        picture = np.empty(self.image.shape, self.image.dtype)
        ys, xs = self.hole_pixels or nonzero_in_bands(height, 0, lambda rows: self.hole[rows],
                                                      cancel)
        for top, bottom in row_bands(height):
            if cancel is not None:
                cancel.raise_if_cancelled()
            picture[top:bottom] = self.image[top:bottom]
            lo, hi = np.searchsorted(ys, (top, bottom))
            if hi > lo:
                y, x = ys[lo:hi], xs[lo:hi]
                picture[y, x] = cv2.convertScaleAbs(self.estimate[self.window.positions(y, x)])
        return picture

    def dense(self, rows: slice, cols: slice) -> np.ndarray:
        """The float32 estimate over the box ``rows`` x ``cols`` of the level, ``(h, w, 3)``."""
        box = self.image[rows, cols].astype(np.float32)
        ys, xs = np.nonzero(self.hole[rows, cols])
        box[ys, xs] = self.estimate[self.window.positions(ys + rows.start, xs + cols.start)]
        return box


SolverFactory = Callable[..., object]
# Nearest sources are searched band by band, in boxes this much larger than the targets'
# (doubled for the targets whose source could lie beyond); see _nearest_centres.
NEAREST_MARGIN = 32
UPSCALE_BAND = 128  # fine rows per band of the upscaled estimate (even)


class _Candidates:
    """The atlas centres a target with centre label ``wanted`` may use (``wanted`` -1: any
    usable one), counted row by row: their flat indices in row-major order are numbered
    without being listed (a list is 8 bytes per usable pixel)."""

    def __init__(self, problem: LevelProblem, wanted: int,
                 cancel: CancelToken | None = None) -> None:
        self._problem = problem
        self._wanted = wanted
        counts = []
        for top, bottom in row_bands(problem.valid.shape[0]):
            if cancel is not None:
                cancel.raise_if_cancelled()
            counts.append(np.count_nonzero(self._row_mask(top, bottom), axis=1))
        self._ends = np.cumsum(np.concatenate(counts))

    def _row_mask(self, top: int, bottom: int) -> np.ndarray:
        problem = self._problem
        usable = problem.valid[top:bottom] > 0
        if self._wanted >= 0 and problem.atlas_labels is not None:
            labels = problem.atlas_labels[top:bottom]
            usable &= (labels == self._wanted) | (labels < 0)
        return usable

    @property
    def size(self) -> int:
        return int(self._ends[-1]) if self._ends.size else 0

    def flat(self, numbers: np.ndarray) -> np.ndarray:
        """int64 flat atlas indices of the candidates numbered ``numbers`` (0-based)."""
        rows = np.searchsorted(self._ends, numbers, side="right")
        before = np.concatenate([[0], self._ends])[rows]
        width = self._problem.valid.shape[1]
        flat = np.empty(numbers.shape[0], np.int64)
        for row in np.unique(rows):
            chosen = rows == row
            columns = np.flatnonzero(self._row_mask(row, row + 1)[0])
            flat[chosen] = row * width + columns[numbers[chosen] - before[chosen]]
        return flat


def random_sources(problem: LevelProblem, targets: np.ndarray, rng: np.random.Generator,
                   cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random acceptable atlas centres for the given target numbers (int32 y, x);
    ``cancel`` is checked as the candidates are counted."""
    width = problem.atlas.shape[1]
    flat = np.zeros(targets.shape[0], np.int64)
    wanted = problem.centre_label[targets]
    for label in np.unique(wanted):
        chosen = wanted == label
        pool = _Candidates(problem, int(label), cancel)
        if pool.size == 0:
            pool = _Candidates(problem, -1, cancel)
        flat[chosen] = pool.flat(rng.integers(0, pool.size, int(chosen.sum())))
    return (flat // width).astype(np.int32), (flat % width).astype(np.int32)


def nearest_centres(valid: np.ndarray, ys: np.ndarray, xs: np.ndarray,
                    margin: int = NEAREST_MARGIN,
                    cancel: CancelToken | None = None) -> np.ndarray:
    """For pixels ``(ys, xs)`` (sorted row-major), the flat index of the nearest nonzero
    pixel of ``valid`` (``(h, w)`` uint8 with one at least), as
    ``cv2.distanceTransformWithLabels`` (L2, 5x5 mask, one label per pixel) over the whole
    map finds it.

    Searched in boxes around bands of rows, ``margin`` larger than the pixels' box: that
    transform's result at a pixel ``d`` from its nearest centre depends only on pixels
    within ``d`` (each step of its paths costs at least the pixels it moves), so it is the
    whole map's where the box reaches ``d`` further on the sides that are not the map's
    edge. The pixels whose nearest lies further are searched again with twice the margin.
    ``cancel`` is checked before each box.
    """
    height, width = valid.shape
    found = np.empty(ys.shape[0], np.int64)
    todo = np.arange(ys.shape[0])
    while todo.size:
        again = []
        for top, bottom in row_bands(height):
            lo, hi = np.searchsorted(ys[todo], (top, bottom))
            if lo == hi:
                continue
            if cancel is not None:
                cancel.raise_if_cancelled()
            band = todo[lo:hi]
            y, x = ys[band], xs[band]
            box_top, box_bottom = max(top - margin, 0), min(bottom + margin, height)
            box_left = max(int(x.min()) - margin, 0)
            box_right = min(int(x.max()) + 1 + margin, width)
            box = valid[box_top:box_bottom, box_left:box_right]
            distance, label = cv2.distanceTransformWithLabels(
                (box == 0).view(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
            y, x = y - box_top, x - box_left
            room = np.full(band.shape[0], np.inf)
            for inner, side in ((box_top > 0, y), (box_left > 0, x),
                                (box_bottom < height, box.shape[0] - 1 - y),
                                (box_right < width, box.shape[1] - 1 - x)):
                if inner:
                    room = np.minimum(room, side)
            reached = distance[y, x] <= room
            centres = np.flatnonzero(box.ravel())
            local = centres[label[y[reached], x[reached]] - 1] if centres.size else \
                np.zeros(0, np.int64)
            found[band[reached]] = ((local // box.shape[1] + box_top) * width
                                    + local % box.shape[1] + box_left)
            again.append(band[~reached])
        todo = np.sort(np.concatenate(again))
        margin *= 2
    return found


def nearest_sources(problem: LevelProblem, targets: np.ndarray, rng: np.random.Generator,
                    cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each given target number (increasing), the closest usable centre of the region
    itself (:func:`nearest_centres`).

    Content next to a hole is the likeliest to continue into it, so this is the field's
    starting point where no coarser match exists; targets whose closest centre carries the
    wrong label (or a region without usable centres) get random acceptable sources.
    ``cancel`` is checked between bands of the search.
    """
    height, width = problem.shape
    region_valid = problem.valid[:height, :width]
    if not any_in_bands(height, lambda rows: region_valid[rows], cancel):
        return random_sources(problem, targets, rng, cancel)
    flat = nearest_centres(region_valid, problem.ty[targets], problem.tx[targets],
                           NEAREST_MARGIN, cancel)
    sy = (flat // width).astype(np.int32)
    sx = (flat % width).astype(np.int32)
    if problem.atlas_labels is not None:
        wrong = ~_acceptable(problem, sy, sx, targets)
        if wrong.any():
            ry, rx = random_sources(problem, targets[wrong], rng, cancel)
            sy[wrong] = ry
            sx[wrong] = rx
    return sy, sx


def _acceptable(problem: LevelProblem, sy: np.ndarray, sx: np.ndarray,
                targets: np.ndarray) -> np.ndarray:
    ok = problem.valid[sy, sx] > 0
    if problem.atlas_labels is not None:
        got = problem.atlas_labels[sy, sx]
        wanted = problem.centre_label[targets]
        ok &= (wanted < 0) | (got < 0) | (got == wanted)
    return ok


def upsample_nnf(coarse: LevelProblem, coarse_y: np.ndarray, coarse_x: np.ndarray,
                 fine: LevelProblem, rng: np.random.Generator,
                 cancel: CancelToken | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fine level's field from the coarse one: each match doubled within its atlas piece
    (the pieces of either level named by its ``piece_ids``).

    Targets without a usable inherited match start from :func:`nearest_sources`. Returns
    ``(nnf_y, nnf_x, inherited)``. Of ``coarse`` only the shape, window, index, atlas layout
    and piece ids are read. ``cancel`` is checked while the fresh targets' sources are
    searched.
    """
    height, width = coarse.shape
    parent = coarse.window.lookup(coarse.index, np.minimum(fine.ty // 2, height - 1),
                                  np.minimum(fine.tx // 2, width - 1), -1)
    missing = parent < 0
    parent = np.where(missing, 0, parent)
    sy = coarse_y[parent].astype(np.int64)
    sx = coarse_x[parent].astype(np.int64)
    piece = np.searchsorted(coarse.piece_left, sx, side="right") - 1
    fine_piece = np.array([fine.piece_ids.index(i) for i in coarse.piece_ids], np.int64)[piece]
    r = fine.radius
    local_x = 2 * (sx - coarse.piece_left[piece]) + (fine.tx - 2 * (fine.tx // 2))
    local_y = 2 * sy + (fine.ty - 2 * (fine.ty // 2))
    local_x = np.clip(local_x, r, fine.piece_width[fine_piece] - 1 - r)
    local_y = np.clip(local_y, r, fine.piece_height[fine_piece] - 1 - r)
    fy = local_y.astype(np.int32)
    fx = (local_x + fine.piece_left[fine_piece]).astype(np.int32)
    inherited = ~missing & _acceptable(fine, fy, fx, np.arange(fine.size))
    if not inherited.all():
        fresh = np.flatnonzero(~inherited)
        fy[fresh], fx[fresh] = nearest_sources(fine, fresh, rng, cancel)
    return fy, fx, inherited


def upscaled_estimate(previous: LevelResult, image: np.ndarray, problem: LevelProblem,
                      cancel: CancelToken | None = None) -> np.ndarray:
    """A level's starting estimate at its window pixels, ``(window.size, 3)`` float32: its
    ``image`` at known pixels, and at hole pixels the coarser ``previous`` level's filled
    estimate scaled up (``cv2.pyrUp``).

    The scaling is done in bands of rows, each over the hole's columns and two coarse pixels
    more on every side (all a ``pyrUp`` pixel reads), which gives the whole map's values at
    the hole; ``cancel`` is checked between bands.
    """
    cancel = cancel or CancelToken()
    window = problem.window
    estimate = window.gather(image).astype(np.float32)
    height, width = problem.shape
    coarse_height, coarse_width = previous.hole.shape
    ys, xs = problem.hole_y, problem.hole_x
    for top, bottom in row_bands(height, UPSCALE_BAND):
        lo, hi = np.searchsorted(ys, (top, bottom))
        if lo == hi:
            continue
        cancel.raise_if_cancelled()
        y, x = ys[lo:hi], xs[lo:hi]
        rows = slice(max(top // 2 - 2, 0), min((bottom - 1) // 2 + 3, coarse_height))
        cols = slice(max(int(x.min()) // 2 - 2, 0), min(int(x.max()) // 2 + 3, coarse_width))
        # a box at the map's far edge keeps the map's odd size there
        size = (2 * (cols.stop - cols.start) - (2 * coarse_width - width
                                                 if cols.stop == coarse_width else 0),
                2 * (rows.stop - rows.start) - (2 * coarse_height - height
                                                 if rows.stop == coarse_height else 0))
        scaled = cv2.pyrUp(previous.dense(rows, cols), dstsize=size)
        estimate[window.positions(y, x)] = scaled[y - 2 * rows.start, x - 2 * cols.start]
    return estimate


def transfer_grain(estimate: np.ndarray, image: np.ndarray, problem: LevelProblem,
                   nnf_y: np.ndarray, nnf_x: np.ndarray, sigma: float,
                   cancel: CancelToken | None = None) -> np.ndarray:
    """The voted ``estimate`` (``(window.size, 3)`` float32, the level's ``image`` outside
    the window) with, in the hole, its detail finer than ``sigma`` pixels replaced by that of
    the field's centre pixels.

    Voting averages overlapping patches, which smooths film grain and sensor noise away;
    each hole pixel's own match copies a real source pixel, grain included, but with seams
    where neighbouring matches disagree. The sum keeps the voted fill's coarse content (so
    no seam shows) and gives it the grain of the sources. Only pixels voting may use are
    copied (a source centre obeys the labels and the sampling area). Known pixels are kept.
    The blurs are made in bands of rows, ``4 * sigma`` + 4 rows more on either side (all a
    Gaussian of ``sigma`` reads), which gives the whole picture's values; ``cancel`` is
    checked between bands.
    """
    window = problem.window
    hole_y, hole_x = problem.hole_y, problem.hole_x
    at_hole = window.positions(hole_y, hole_x)
    target = problem.index[at_hole]  # a hole pixel is a target's centre
    copied_at_hole = problem.atlas[nnf_y[target], nnf_x[target]].astype(np.float32)
    result = estimate.copy()
    margin = int(np.ceil(4 * sigma)) + 4
    for top, bottom, first, last in bands_with_margin(problem.shape[0], margin):
        begin, lo, hi, end = np.searchsorted(hole_y, (first, top, bottom, last))
        if lo == hi:
            continue
        if cancel is not None:
            cancel.raise_if_cancelled()
        voted = image[first:last].astype(np.float32)
        ys, xs = hole_y[begin:end] - first, hole_x[begin:end]
        voted[ys, xs] = estimate[at_hole[begin:end]]
        copied = voted.copy()
        copied[ys, xs] = copied_at_hole[begin:end]
        ys, xs = hole_y[lo:hi] - first, hole_x[lo:hi]  # the band's own
        grain = copied[ys, xs] - cv2.GaussianBlur(copied, (0, 0), sigma)[ys, xs]
        result[at_hole[lo:hi]] = cv2.GaussianBlur(voted, (0, 0), sigma)[ys, xs] + grain
    return result


_TITLE = "Guided PatchMatch"  # the engine's title, as the region's messages name it


def _labelled(level: LevelInputs, cancel: CancelToken | None) -> bool:
    """Whether the level has a label map with a labelled pixel (looked for band by band,
    ``cancel`` checked between bands)."""
    labels = level.labels
    return labels is not None and any_in_bands(
        labels.shape[0], lambda rows: labels[rows] != UNLABELLED, cancel)


def _unmasking_helps(hole: np.ndarray, side: int) -> bool:
    """Whether a smaller hole could leave a ``side`` x ``side`` patch free of it: some hole
    pixel lies outside one of the area's patches (every patch of an area under twice
    ``side`` on a side covers its middle pixels; an area under ``side`` holds none)."""
    height, width = hole.shape
    if min(height, width) < side:
        return False
    if min(height, width) >= 2 * side:  # no pixel lies in every patch
        return True
    every = hole[height - side:side, width - side:side]  # the pixels every patch covers
    return np.count_nonzero(hole) > np.count_nonzero(every)


def _advice(level: LevelInputs, side: int, smaller: bool, cancel: CancelToken | None,
            transparent: bool = False) -> str:
    """What may give the fill a source patch, joined as alternatives: a smaller patch size
    where a 3x3 one (the smallest) fits the sources (``smaller``); a wider sampling area
    where the pixels outside the hole hold a patch the sampling area leaves out (with a
    smaller size where only 3x3 fits there); some context unmasked where a smaller hole
    could leave a patch free; OpenCV Telea (no patches) where neither the size nor the
    sampling area helps, unless the level has labels (Telea follows none: a label edit
    chose this engine for them); a (larger, opaque) reference photo always.

    ``transparent``: said of a region whose excluded pixels are a picture's fully
    transparent ones (:class:`~engines.base.NoSourceError`): no sampling area to widen,
    and no unmasking either (whether the hole's pixels are visible is not known here)."""
    known = ~level.hole
    advice = ["choose a smaller patch size"] if smaller else []
    widen = not transparent and any_patch_in(known, side, cancel)
    if widen:
        advice.append("widen the sampling area")
    elif not transparent and side > 3 and not smaller and any_patch_in(known, 3, cancel):
        widen = True
        advice.append("widen the sampling area and choose a smaller patch size")
    if not (widen or transparent) and _unmasking_helps(level.hole, side):
        advice.append("unmask some context")
    if not (smaller or widen or _labelled(level, cancel)):
        advice.append("fill it with OpenCV Telea")
    advice.append("add a larger, opaque reference photo" if level.exemplars
                  else "add a reference photo")
    return " or ".join([", ".join(advice[:-1]), advice[-1]] if len(advice) > 1 else advice)


# where copies may come from, as a refusal names it: a region's own limits, or those of a
# region whose excluded pixels are a picture's fully transparent ones
_WHERE = "the picture where copies may come from (outside the hole and the sampling area's " \
    "limits)"
_WHERE_VISIBLE = "the visible pixels outside the hole (fully transparent ones, alpha 0, " \
    "are never copied)"


def _require_sources(level: LevelInputs, radius: int,
                     cancel: CancelToken | None = None) -> None:
    """Raise :class:`~engines.base.NoSourceError` saying why when no source patch exists
    at the finest level, and what would give one (:func:`_advice`); its ``transparent``
    message says it of a region limited by fully transparent pixels only."""
    if has_sources(level, radius, cancel):
        return
    side = 2 * radius + 1
    smaller = side > 3 and has_sources(level, 1, cancel)  # a 3x3 patch fits the sources
    patch = f"{side}x{side} patch" if smaller else (
        "patch, not even a 3x3 one (the smallest)," if side > 1
        else "patch, not even a 1x1 one,")

    def refusal(lead: str, transparent_lead: str, smaller: bool = smaller) -> NoSourceError:
        return NoSourceError(lead + _advice(level, side, smaller, cancel),
                             transparent_lead + _advice(level, side, smaller, cancel, True))

    if level.exemplars:  # the references given cannot help either
        count = len(level.exemplars)
        given = "the reference photo given is" if count == 1 else \
            f"the {count} reference photos given are"
        reason = (f", and {given} too small (at the size searched) or too transparent to "
                  "hold one (only fully opaque pixels are copied); ")
        raise refusal(f"no {patch} fits in {_WHERE}{reason}",
                      f"no {patch} fits in {_WHERE_VISIBLE}{reason}")
    if level.usable.any():  # known pixels, but too few together for one patch (a region
        # too small for any is filled with 1x1 patches: levels.fitted_radius)
        reason = f", so {_TITLE} has nothing to copy; "
        raise refusal(f"no {patch} fits in {_WHERE}{reason}",
                      f"no {patch} fits in {_WHERE_VISIBLE}{reason}")
    if level.hole.all():  # said as the OpenCV engines say it: no sampling area is to blame
        message = (f"no source left for {_TITLE}: the hole covers the whole area it is "
                   "filled from (the image, or the crop around the hole), so there is "
                   "nothing to copy from; unmask some context or add a reference photo")
        raise NoSourceError(message, message)
    raise refusal(f"no source left for {_TITLE}: the hole and the sampling area (an excluded "
                  "area, or the outside of an include area) leave no pixel to copy; ",
                  f"no source left for {_TITLE}: every pixel outside the hole is fully "
                  "transparent (alpha 0), so nothing visible is left to copy; ", False)


def complete(pyramid: list[LevelInputs], radius: int, schedule: Schedule, seed: int,
             make_solver: SolverFactory, cancel: CancelToken, *,
             label_weight: float, sketch_weight: float,
             grain_sigma: float = 0.0) -> Iterator[LevelResult]:
    """Fill the hole of ``pyramid[0]`` coarse to fine; yields each finished level.

    ``pyramid`` is finest first (see :func:`levels.build_pyramid`). ``make_solver(problem,
    estimate, nnf_y, nnf_x, label_weight=..., sketch_weight=...)`` builds a level solver
    (``estimate``: ``(window.size, 3)`` float32 at the problem's window pixels), whose
    ``step(scans, search_radius, seed, first_iteration, cancel)`` runs one EM round.
    ``grain_sigma`` > 0 gives the finest level the sources' grain (:func:`transfer_grain`).
    Raises :class:`EngineError` when no source patch exists at the finest level. Each
    level's problem is made when its turn comes and dropped after the next level has
    inherited its field; ``cancel`` is checked between (and within) the steps.
    """
    rng = np.random.default_rng(seed & 0xFFFFFFFF)
    _require_sources(pyramid[0], radius, cancel)
    # drop coarse levels that cannot hold a single source patch
    count = len(pyramid)
    while count > 1 and not has_sources(pyramid[count - 1], radius, cancel):
        count -= 1
    levels: list[LevelInputs | None] = list(pyramid[:count][::-1])  # coarsest first
    del pyramid  # each level goes once done (when the caller keeps no reference either)
    plans = [_plan(schedule, number, count) for number in range(1, count + 1)]
    work = [target_count(level.hole, radius, cancel) * rounds * (1 + scans)
            for level, (rounds, scans) in zip(levels, plans)]
    total_work = float(sum(work)) or 1.0
    done = 0.0
    previous: tuple[LevelProblem, np.ndarray, np.ndarray] | None = None
    result: LevelResult | None = None
    for number, (rounds, scans) in enumerate(plans, start=1):
        cancel.raise_if_cancelled()
        level, levels[number - 1] = levels[number - 1], None
        problem = level_problem(level, radius, cancel)
        level_seed = int(hash32((seed & 0xFFFFFFFF) * 7919 + number))
        if previous is None:
            estimate = problem.window.gather(push_pull(level.image, level.hole))
            nnf_y, nnf_x = nearest_sources(problem, np.arange(problem.size), rng, cancel)
            search = np.full(problem.size, max(problem.atlas.shape[:2]), np.int32)
        else:
            coarse, coarse_y, coarse_x = previous
            estimate = upscaled_estimate(result, level.image, problem, cancel)
            nnf_y, nnf_x, inherited = upsample_nnf(coarse, coarse_y, coarse_x, problem, rng,
                                                   cancel)
            near = schedule.fine_search_radius if number == count else schedule.search_radius
            search = np.where(inherited, near, schedule.fresh_search_radius).astype(np.int32)
            del coarse
        previous = result = None  # the coarser level is no longer needed
        solver = make_solver(problem, estimate, nnf_y, nnf_x, label_weight=label_weight,
                             sketch_weight=sketch_weight)
        for round_ in range(rounds):
            cancel.raise_if_cancelled()
            solver.step(scans, search, level_seed, round_ * scans, cancel)
        estimate = solver.estimate()
        nnf_y, nnf_x = solver.nnf()
        del solver
        if number == count and grain_sigma > 0:
            estimate = transfer_grain(estimate, level.image, problem, nnf_y, nnf_x,
                                      grain_sigma, cancel)
        if number < count:  # the next level inherits the field: its layout is all it reads
            previous = (replace(problem, atlas=problem.atlas[:0], valid=problem.valid[:0],
                                target_labels=None, atlas_labels=None, target_structure=None,
                                structure_weight=None, atlas_structure=None), nnf_y, nnf_x)
        done += work[number - 1]
        result = LevelResult(estimate, problem.window, level.image, level.hole, number, count,
                             done / total_work, (problem.hole_y, problem.hole_x))
        del problem, level  # what the result does not hold goes before the caller's work
        yield result


def _plan(schedule: Schedule, number: int, count: int) -> tuple[int, int]:
    """``(EM rounds, scans per round)`` of level ``number`` (1 = coarsest) of ``count``."""
    if number == 1:
        return schedule.coarse_em, schedule.coarse_search
    if number == count:
        return schedule.fine_em, schedule.fine_search
    return schedule.em, schedule.search
