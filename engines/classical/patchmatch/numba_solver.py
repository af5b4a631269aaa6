"""The CPU level solver: EM iterations of guided PatchMatch with the numba kernels."""

from __future__ import annotations

import numpy as np

from engines.base import CancelToken
from engines.classical.patchmatch import kernels
from engines.classical.patchmatch.levels import VOTE_SIGMA_PERCENTILE, LevelProblem

PARALLEL_FROM = 20000  # targets; smaller levels run on one thread
# targets (or hole pixels) per kernel call: cancellation is checked between calls, a few
# hundredths of a second apart on a slow CPU (65536 took up to 90 ms a scan with labels and
# a sketch at 50 MP on a shared 2-core VM)
CHUNK = 32768
_NO_TARGET_LABELS = np.full(1, -1, np.int16)
_NO_ATLAS_LABELS = np.full((1, 1), -1, np.int16)
_NO_TARGET_STRUCTURE = np.zeros(1, np.float32)
_NO_ATLAS_STRUCTURE = np.zeros((1, 1), np.float32)


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


def band_chunks(bands: np.ndarray, chunk: int = CHUNK) -> list[tuple[int, int]]:
    """``[first, end)`` ranges of band numbers (``bands``: int64 starts of the bands in the
    target list, then its length) holding about ``chunk`` targets each, in order."""
    count = bands.shape[0] - 1
    if count <= 0:
        return []
    ends = np.searchsorted(bands, np.arange(chunk, int(bands[-1]), chunk), side="right")
    cuts = np.unique(np.concatenate([[0], np.clip(ends - 1, 1, count), [count]]))
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))


class NumbaLevelSolver:
    """Holds one level's estimate and nearest-neighbour field; :meth:`step` runs one EM round.

    ``estimate`` is the ``(window.size, 3)`` float32 estimate at the problem's window pixels
    (known pixels exact; the solver works on it in place), ``nnf_y``/``nnf_x`` int32 ``(n,)``
    acceptable atlas centres for the problem's targets. ``parallel``: use all numba threads
    (None: when the level has at least ``PARALLEL_FROM`` targets).
    """

    def __init__(self, problem: LevelProblem, estimate: np.ndarray, nnf_y: np.ndarray,
                 nnf_x: np.ndarray, label_weight: float, sketch_weight: float,
                 parallel: bool | None = None) -> None:
        self.problem = problem
        self._parallel = problem.size >= PARALLEL_FROM if parallel is None else parallel
        self._values = np.ascontiguousarray(estimate, dtype=np.float32)
        self._flat = self._values.reshape(-1)
        self._atlas = problem.atlas.reshape(problem.atlas.shape[0], -1)
        self._nnf_y = np.ascontiguousarray(nnf_y, dtype=np.int32).copy()
        self._nnf_x = np.ascontiguousarray(nnf_x, dtype=np.int32).copy()
        self._cost = np.zeros(problem.size, np.float32)
        self._chunks = band_chunks(problem.bands)
        self._use_labels = problem.target_labels is not None
        self._use_structure = problem.target_structure is not None
        labels = (problem.target_labels, problem.atlas_labels) if self._use_labels else \
            (_NO_TARGET_LABELS, _NO_ATLAS_LABELS)
        structure = (problem.target_structure, problem.structure_weight,
                     problem.atlas_structure) if self._use_structure else \
            (_NO_TARGET_STRUCTURE, _NO_TARGET_STRUCTURE, _NO_ATLAS_STRUCTURE)
        self._guidance = (self._use_labels, *labels, float(label_weight),
                          self._use_structure, *structure, float(sketch_weight))
        self._window = (problem.window.offset, problem.window.columns)

    def step(self, search_iterations: int, search_radius: np.ndarray, seed: int,
             first_iteration: int, cancel: CancelToken | None = None) -> None:
        """Improve the field ``search_iterations`` times (0: only re-cost it), then vote.

        ``search_radius`` is int32 ``(n,)``, the largest random-search step per target.
        ``cancel`` is checked between kernel calls of about ``CHUNK`` targets each.
        """
        cancel = cancel or CancelToken()
        p = self.problem
        if self._parallel:
            cost, scan, vote = kernels.cost_bands, kernels.scan_bands, kernels.vote
        else:
            cost, scan, vote = (kernels.cost_bands_serial, kernels.scan_bands_serial,
                                kernels.vote_serial)
        for first, end in self._chunks:
            cost(self._flat, *self._window, self._atlas, p.ty, p.tx, p.bands, first, end,
                 self._nnf_y, self._nnf_x, self._cost, p.radius, *self._guidance)
            cancel.raise_if_cancelled()
        for k in range(search_iterations):
            for parity in (0, 1):
                for first, end in self._chunks:
                    scan(self._flat, *self._window, self._atlas, p.valid, p.ty, p.tx,
                         p.centre_label, p.index, p.bands, first, end, parity, self._nnf_y,
                         self._nnf_x, self._cost, p.radius, first_iteration + k,
                         search_radius, seed, *self._guidance)
                    cancel.raise_if_cancelled()
        weight = vote_weights(self._cost, p.confidence)
        labels = self._guidance[:3]
        for first in range(0, p.hole_y.shape[0], CHUNK):
            vote(self._flat, *self._window, self._atlas, p.hole_y, p.hole_x, first,
                 min(first + CHUNK, p.hole_y.shape[0]), p.index, self._nnf_y, self._nnf_x,
                 weight, p.radius, *labels)
            cancel.raise_if_cancelled()

    def estimate(self) -> np.ndarray:
        """The current ``(window.size, 3)`` float32 estimate (the solver's own array)."""
        return self._values

    def nnf(self) -> tuple[np.ndarray, np.ndarray]:
        """The current field as int32 ``(nnf_y, nnf_x)`` copies."""
        return self._nnf_y.copy(), self._nnf_x.copy()
