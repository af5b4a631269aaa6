"""The CPU level solver: EM iterations of guided PatchMatch with the numba kernels."""

from __future__ import annotations

import numpy as np

from engines.classical.patchmatch import kernels
from engines.classical.patchmatch.levels import VOTE_SIGMA_PERCENTILE, LevelProblem

PARALLEL_FROM = 20000  # targets; smaller levels run on one thread
_NO_LABELS = np.full((1, 1), -1, np.int16)
_NO_STRUCTURE = np.zeros((1, 1), np.float32)


def vote_weights(cost: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Wexler et al. vote weights: ``confidence * exp(-cost / (2 * sigma^2))``.

    ``sigma^2`` is the ``VOTE_SIGMA_PERCENTILE`` (95th) percentile of the costs, so nearly all
    matches weigh within ``e^-0.5`` of each other and only the worst fade; float32 ``(n,)``,
    strictly positive.
    """
    if cost.size == 0:
        return cost.astype(np.float32)
    sigma2 = max(float(np.percentile(cost, VOTE_SIGMA_PERCENTILE)), 1e-3)
    exponent = np.minimum(cost / (2.0 * sigma2), 30.0)
    return (confidence * np.exp(-exponent)).astype(np.float32)


class NumbaLevelSolver:
    """Holds one level's estimate and nearest-neighbour field; :meth:`step` runs one EM round.

    ``estimate`` is ``(h, w, 3)`` float32 (known pixels exact), ``nnf_y``/``nnf_x`` int32
    ``(n,)`` acceptable atlas centres for the problem's targets. ``parallel``: use all numba
    threads (None: when the level has at least ``PARALLEL_FROM`` targets).
    """

    def __init__(self, problem: LevelProblem, estimate: np.ndarray, nnf_y: np.ndarray,
                 nnf_x: np.ndarray, label_weight: float, sketch_weight: float,
                 parallel: bool | None = None) -> None:
        self.problem = problem
        self._parallel = problem.size >= PARALLEL_FROM if parallel is None else parallel
        height, width = problem.shape
        self._image = np.ascontiguousarray(estimate, dtype=np.float32).copy()
        self._flat = self._image.reshape(height, width * 3)
        self._atlas = problem.atlas.reshape(problem.atlas.shape[0], -1)
        self._nnf_y = np.ascontiguousarray(nnf_y, dtype=np.int32).copy()
        self._nnf_x = np.ascontiguousarray(nnf_x, dtype=np.int32).copy()
        self._cost = np.zeros(problem.size, np.float32)
        self._use_labels = problem.target_labels is not None
        self._use_structure = problem.target_structure is not None
        self._target_labels = problem.target_labels if self._use_labels else _NO_LABELS
        self._atlas_labels = problem.atlas_labels if self._use_labels else _NO_LABELS
        self._target_structure = (problem.target_structure if self._use_structure
                                  else _NO_STRUCTURE)
        self._structure_weight = (problem.structure_weight if self._use_structure
                                  else _NO_STRUCTURE)
        self._atlas_structure = (problem.atlas_structure if self._use_structure
                                 else _NO_STRUCTURE)
        self._label_weight = float(label_weight)
        self._sketch_weight = float(sketch_weight)

    def step(self, search_iterations: int, search_radius: np.ndarray, seed: int,
             first_iteration: int) -> None:
        """Improve the field ``search_iterations`` times (0: only re-cost it), then vote.

        ``search_radius`` is int32 ``(n,)``, the largest random-search step per target.
        """
        p = self.problem
        improve = kernels.improve_nnf if self._parallel else kernels.improve_nnf_serial
        vote = kernels.vote if self._parallel else kernels.vote_serial
        improve(
            self._flat, self._atlas, p.valid, p.ty, p.tx, p.centre_label, p.index, p.bands,
            self._nnf_y, self._nnf_x, self._cost, p.radius, search_iterations,
            first_iteration, search_radius, seed, self._use_labels, self._target_labels,
            self._atlas_labels, self._label_weight, self._use_structure,
            self._target_structure, self._structure_weight, self._atlas_structure,
            self._sketch_weight)
        weight = vote_weights(self._cost, p.confidence)
        vote(self._flat, self._atlas, p.hole_y, p.hole_x, p.index, self._nnf_y,
                     self._nnf_x, weight, p.radius, self._use_labels, self._target_labels,
                     self._atlas_labels)

    def estimate(self) -> np.ndarray:
        """The current ``(h, w, 3)`` float32 estimate (a copy)."""
        return self._image.copy()

    def nnf(self) -> tuple[np.ndarray, np.ndarray]:
        """The current field as int32 ``(nnf_y, nnf_x)`` copies."""
        return self._nnf_y.copy(), self._nnf_x.copy()
