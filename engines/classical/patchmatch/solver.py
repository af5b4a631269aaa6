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
from dataclasses import dataclass

import cv2
import numpy as np

from engines.base import CancelToken, EngineError
from engines.classical.patchmatch.kernels import hash32
from engines.classical.patchmatch.levels import (
    LevelInputs,
    LevelProblem,
    level_problem,
    push_pull,
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
    """A completed level: ``estimate`` ``(h, w, 3)`` float32, ``number`` 1 (coarsest)..``count``."""

    estimate: np.ndarray
    hole: np.ndarray
    number: int
    count: int
    progress: float


SolverFactory = Callable[..., object]


def _candidates(problem: LevelProblem, wanted: int) -> np.ndarray:
    """Flat atlas indices of the centres a target with centre label ``wanted`` may use."""
    valid = problem.valid.ravel() > 0
    if wanted >= 0 and problem.atlas_labels is not None:
        labels = problem.atlas_labels.ravel()
        valid &= (labels == wanted) | (labels < 0)
    return np.flatnonzero(valid)


def random_sources(problem: LevelProblem, targets: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random acceptable atlas centres for the given target numbers (int32 y, x)."""
    width = problem.atlas.shape[1]
    flat = np.zeros(targets.shape[0], np.int64)
    wanted = problem.centre_label[targets]
    for label in np.unique(wanted):
        chosen = wanted == label
        pool = _candidates(problem, int(label))
        if pool.size == 0:
            pool = _candidates(problem, -1)
        flat[chosen] = pool[rng.integers(0, pool.size, int(chosen.sum()))]
    return (flat // width).astype(np.int32), (flat % width).astype(np.int32)


def nearest_sources(problem: LevelProblem, targets: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For each given target number, the closest usable centre of the region itself.

    Content next to a hole is the likeliest to continue into it, so this is the field's
    starting point where no coarser match exists; targets whose closest centre carries the
    wrong label (or a region without usable centres) get random acceptable sources.
    """
    height, width = problem.shape
    region_valid = problem.valid[:height, :width]
    if not region_valid.any():
        return random_sources(problem, targets, rng)
    _, nearest = cv2.distanceTransformWithLabels(
        (region_valid == 0).view(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    centres = np.flatnonzero(region_valid.ravel())
    flat = centres[nearest[problem.ty[targets], problem.tx[targets]] - 1]
    sy = (flat // width).astype(np.int32)
    sx = (flat % width).astype(np.int32)
    if problem.atlas_labels is not None:
        wrong = ~_acceptable(problem, sy, sx, targets)
        if wrong.any():
            ry, rx = random_sources(problem, targets[wrong], rng)
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
                 fine: LevelProblem, coarse_ids: tuple[int, ...], fine_ids: tuple[int, ...],
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fine level's field from the coarse one: each match doubled within its atlas piece.

    ``coarse_ids``/``fine_ids`` name the atlas pieces of each level (0 = the region, k = the
    k-th exemplar). Targets without a usable inherited match start from
    :func:`nearest_sources`. Returns ``(nnf_y, nnf_x, inherited)``.
    """
    height, width = coarse.shape
    parent = coarse.index[np.minimum(fine.ty // 2, height - 1),
                          np.minimum(fine.tx // 2, width - 1)]
    missing = parent < 0
    parent = np.where(missing, 0, parent)
    sy = coarse_y[parent].astype(np.int64)
    sx = coarse_x[parent].astype(np.int64)
    piece = np.searchsorted(coarse.piece_left, sx, side="right") - 1
    fine_piece = np.array([fine_ids.index(i) for i in coarse_ids], np.int64)[piece]
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
        fy[fresh], fx[fresh] = nearest_sources(fine, fresh, rng)
    return fy, fx, inherited


def _upsampled_estimate(previous: np.ndarray, level: LevelInputs) -> np.ndarray:
    height, width = level.hole.shape
    scaled = cv2.pyrUp(previous, dstsize=(width, height))
    estimate = level.image.astype(np.float32)
    estimate[level.hole] = scaled[level.hole]
    return estimate


def transfer_grain(estimate: np.ndarray, problem: LevelProblem, nnf_y: np.ndarray,
                   nnf_x: np.ndarray, sigma: float) -> np.ndarray:
    """The voted ``estimate`` ``(h, w, 3)`` float32 with, in the hole, its detail finer than
    ``sigma`` pixels replaced by that of the field's centre pixels.

    Voting averages overlapping patches, which smooths film grain and sensor noise away;
    each hole pixel's own match copies a real source pixel, grain included, but with seams
    where neighbouring matches disagree. The sum keeps the voted fill's coarse content (so
    no seam shows) and gives it the grain of the sources. Only pixels voting may use are
    copied (a source centre obeys the labels and the sampling area). Known pixels are kept.
    """
    hole_y, hole_x = problem.hole_y, problem.hole_x
    targets = problem.index[hole_y, hole_x]
    copied = estimate.copy()
    copied[hole_y, hole_x] = problem.atlas[nnf_y[targets], nnf_x[targets]]
    grain = copied - cv2.GaussianBlur(copied, (0, 0), sigma)
    coarse = cv2.GaussianBlur(estimate, (0, 0), sigma)
    result = estimate.copy()
    result[hole_y, hole_x] = coarse[hole_y, hole_x] + grain[hole_y, hole_x]
    return result


def complete(pyramid: list[LevelInputs], radius: int, schedule: Schedule, seed: int,
             make_solver: SolverFactory, cancel: CancelToken, *,
             label_weight: float, sketch_weight: float,
             grain_sigma: float = 0.0) -> Iterator[LevelResult]:
    """Fill the hole of ``pyramid[0]`` coarse to fine; yields each finished level.

    ``pyramid`` is finest first (see :func:`levels.build_pyramid`). ``make_solver(problem,
    estimate, nnf_y, nnf_x, label_weight=..., sketch_weight=...)`` builds a level solver.
    ``grain_sigma`` > 0 gives the finest level the sources' grain (:func:`transfer_grain`).
    Raises :class:`EngineError` when no source patch exists at the finest level.
    """
    rng = np.random.default_rng(seed & 0xFFFFFFFF)
    problems = [level_problem(level, radius) for level in pyramid]
    if not problems[0].valid.any():
        side = 2 * radius + 1
        if pyramid[0].exemplars:  # the references given cannot help either
            count = len(pyramid[0].exemplars)
            given = "the reference photo given is" if count == 1 else \
                f"the {count} reference photos given are"
            raise EngineError(f"no {side}x{side} patch fits in the picture where copies may "
                              f"come from (outside the hole and the sampling area's limits), "
                              f"and {given} too small (at the size "
                              "searched) or too transparent to hold one (only fully opaque "
                              "pixels are copied); choose a smaller patch size, unmask some "
                              "context or add a larger, opaque reference image")
        if pyramid[0].usable.any():  # known pixels, but too few together for one patch
            raise EngineError(f"no {side}x{side} patch fits in the picture where copies may "
                              "come from (outside the hole and the sampling area's limits), "
                              "so PatchMatch has nothing to copy; "
                              "choose a smaller patch size, unmask some context or add a "
                              "reference image")
        raise EngineError("no source left for PatchMatch: the hole and the sampling area (an "
                          "excluded area, or the outside of an include area) leave no pixel to "
                          "copy; unmask some context, widen the sampling area or add a "
                          "reference image")
    # drop coarse levels that cannot hold a single source patch
    while len(problems) > 1 and not problems[-1].valid.any():
        problems.pop()
    levels = list(zip(pyramid, problems))[::-1]  # coarsest first
    count = len(levels)
    plans = [_plan(schedule, number, count) for number in range(1, count + 1)]
    work = [p.size * rounds * (1 + scans) for (_, p), (rounds, scans) in zip(levels, plans)]
    total_work = float(sum(work)) or 1.0
    done = 0.0
    previous: tuple[LevelProblem, np.ndarray, np.ndarray, tuple[int, ...]] | None = None
    estimate = None
    for number, ((level, problem), (rounds, scans)) in enumerate(zip(levels, plans), start=1):
        cancel.raise_if_cancelled()
        ids = problem.piece_ids
        level_seed = int(hash32((seed & 0xFFFFFFFF) * 7919 + number))
        if previous is None:
            estimate = push_pull(level.image, level.hole)
            nnf_y, nnf_x = nearest_sources(problem, np.arange(problem.size), rng)
            search = np.full(problem.size, max(problem.atlas.shape[:2]), np.int32)
        else:
            coarse, coarse_y, coarse_x, coarse_ids = previous
            estimate = _upsampled_estimate(estimate, level)
            nnf_y, nnf_x, inherited = upsample_nnf(coarse, coarse_y, coarse_x, problem,
                                                   coarse_ids, ids, rng)
            near = schedule.fine_search_radius if number == count else schedule.search_radius
            search = np.where(inherited, near, schedule.fresh_search_radius).astype(np.int32)
        solver = make_solver(problem, estimate, nnf_y, nnf_x, label_weight=label_weight,
                             sketch_weight=sketch_weight)
        for round_ in range(rounds):
            cancel.raise_if_cancelled()
            solver.step(scans, search, level_seed, round_ * scans)
        estimate = solver.estimate()
        nnf_y, nnf_x = solver.nnf()
        if number == count and grain_sigma > 0:
            estimate = transfer_grain(estimate, problem, nnf_y, nnf_x, grain_sigma)
        previous = (problem, nnf_y, nnf_x, ids)
        done += work[number - 1]
        yield LevelResult(estimate, level.hole, number, count, done / total_work)


def _plan(schedule: Schedule, number: int, count: int) -> tuple[int, int]:
    """``(EM rounds, scans per round)`` of level ``number`` (1 = coarsest) of ``count``."""
    if number == 1:
        return schedule.coarse_em, schedule.coarse_search
    if number == count:
        return schedule.fine_em, schedule.fine_search
    return schedule.em, schedule.search
