"""The torch level solver: the same EM iterations as the numba one, on any torch device.

Data-parallel PatchMatch: every target is updated at once. A scan propagates matches from
the four neighbours at jumps of 8, 4, 2 and 1 pixels (jump flooding stands in for the
sequential sweep of the CPU kernels), then tries the same hash-drawn random candidates as
:mod:`engines.classical.patchmatch.kernels`. Costs, guidance terms, vote weights and the
label-filtered voting follow the CPU code exactly; results are comparable, not identical.
Runs on CUDA when given a CUDA device, and on CPU tensors for tests.
"""

from __future__ import annotations

import numpy as np
import torch

from engines.base import CancelToken
from engines.classical.patchmatch.levels import VOTE_SIGMA_PERCENTILE, LevelProblem

_MASK32 = 0xFFFFFFFF
_JUMPS = (8, 4, 2, 1)
# votes (hole pixels x patch offsets) gathered at once by _vote: a block's index and colour
# tensors take about 40 bytes a vote (80 MB)
VOTE_BLOCK = 1 << 21


def _mul32(x: torch.Tensor, constant: int) -> torch.Tensor:
    """``(x * constant) mod 2**32`` without int64 overflow, as ``kernels.mul32``."""
    low = x * (constant & 0xFFFF)
    high = ((x * (constant >> 16)) & 0xFFFF) << 16
    return (low + high) & _MASK32


def _hash32(value: torch.Tensor) -> torch.Tensor:
    """lowbias32 of a non-negative int64 tensor, as in ``kernels.hash32``."""
    x = value & _MASK32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


class TorchLevelSolver:
    """One level's estimate and field on a torch device; :meth:`step` runs one EM round.

    Same constructor contract as :class:`~.numba_solver.NumbaLevelSolver`, plus ``device``.
    """

    def __init__(self, problem: LevelProblem, estimate: np.ndarray, nnf_y: np.ndarray,
                 nnf_x: np.ndarray, label_weight: float, sketch_weight: float,
                 device: torch.device | str = "cpu") -> None:
        self.problem = problem
        self.device = torch.device(device)
        height, width = problem.shape
        self._h, self._w = height, width
        self._wa = problem.atlas.shape[1]
        self._r = problem.radius

        def tensor(array, dtype):
            array = np.ascontiguousarray(array)
            if not array.flags.writeable:  # torch takes writable arrays only
                array = array.copy()
            return torch.from_numpy(array).to(self.device, dtype)

        window = problem.window
        self._start = tensor(window.start, torch.int64)
        self._left = tensor(window.left, torch.int64)
        self._image = tensor(estimate, torch.float32).reshape(-1, 3)
        self._atlas = tensor(problem.atlas, torch.float32).reshape(-1, 3)
        self._valid = tensor(problem.valid, torch.bool).reshape(-1)
        self._ty = tensor(problem.ty, torch.int64)
        self._tx = tensor(problem.tx, torch.int64)
        self._index = tensor(problem.index, torch.int64)
        self._hole_y = tensor(problem.hole_y, torch.int64)
        self._hole_x = tensor(problem.hole_x, torch.int64)
        self._confidence = tensor(problem.confidence, torch.float32)
        self._nnf_y = tensor(nnf_y, torch.int64)
        self._nnf_x = tensor(nnf_x, torch.int64)
        self._targets = torch.arange(problem.size, device=self.device, dtype=torch.int64)
        self._use_labels = problem.target_labels is not None
        if self._use_labels:
            self._target_labels = tensor(problem.target_labels, torch.int32)
            self._atlas_labels = tensor(problem.atlas_labels, torch.int32).reshape(-1)
            self._centre_label = tensor(problem.centre_label, torch.int32)
        self._use_structure = problem.target_structure is not None
        if self._use_structure:
            self._target_structure = tensor(problem.target_structure, torch.float32)
            self._structure_weight = tensor(problem.structure_weight, torch.float32)
            self._atlas_structure = tensor(problem.atlas_structure, torch.float32).reshape(-1)
        self._label_weight = float(label_weight)
        self._sketch_weight = float(sketch_weight)
        self._cost = torch.zeros(problem.size, device=self.device)

    def _position(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Window positions of pixels ``(y, x)`` of the level, which must lie in the window."""
        return self._start[y] + x - self._left[y]

    def _target_at(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Target number at pixels ``(y, x)`` (any integers), -1 off the targets."""
        row = y.clamp(0, self._h - 1)
        offset = x - self._left[row]
        inside = ((y >= 0) & (y < self._h) & (offset >= 0)
                  & (offset < self._start[row + 1] - self._start[row]))
        found = self._index[(self._start[row] + offset.clamp(min=0)).clamp(
            max=max(self._index.shape[0] - 1, 0))]
        return torch.where(inside, found, torch.full_like(found, -1))

    # -- distances -------------------------------------------------------------------------

    def _gather_targets(self) -> None:
        """Cache the target patches (and their guidance) of the current estimate."""
        r = self._r
        offsets = torch.arange(-r, r + 1, device=self.device)
        dy = offsets.repeat_interleave(2 * r + 1)
        dx = offsets.repeat(2 * r + 1)
        self._dy, self._dx = dy, dx
        rows = (self._ty[:, None] + dy).clamp(0, self._h - 1)
        cols = (self._tx[:, None] + dx).clamp(0, self._w - 1)
        flat = self._position(rows, cols)  # (n, p*p)
        self._target_patches = self._image[flat]  # (n, p*p, 3)
        if self._use_labels:
            self._target_label_patches = self._target_labels[flat]
        if self._use_structure:
            self._target_structure_patches = self._target_structure[flat]
            self._structure_weight_patches = self._structure_weight[flat]

    def _patch_cost(self, sy: torch.Tensor, sx: torch.Tensor) -> torch.Tensor:
        """Costs of matching every target to atlas centres (sy, sx) (all acceptable)."""
        source = (sy[:, None] + self._dy) * self._wa + sx[:, None] + self._dx  # (n, p*p)
        diff = self._target_patches - self._atlas.index_select(0, source.reshape(-1)).view(
            self._target_patches.shape)
        total = (diff * diff).sum(dim=(1, 2))
        if self._use_labels:
            wanted = self._target_label_patches
            got = self._atlas_labels[source]
            wrong = (wanted >= 0) & (got >= 0) & (got != wanted)
            total += wrong.sum(dim=1).float() * self._label_weight
        if self._use_structure:
            d = self._target_structure_patches - self._atlas_structure[source]
            total += self._sketch_weight * (self._structure_weight_patches * d * d).sum(dim=1)
        return total

    def _acceptable(self, sy: torch.Tensor, sx: torch.Tensor) -> torch.Tensor:
        inside = (sy >= 0) & (sx >= 0) & (sy < self.problem.atlas.shape[0]) & (sx < self._wa)
        flat = (sy.clamp(0, self.problem.atlas.shape[0] - 1) * self._wa
                + sx.clamp(0, self._wa - 1))
        ok = inside & self._valid[flat]
        if self._use_labels:
            got = self._atlas_labels[flat]
            wanted = self._centre_label
            ok &= (wanted < 0) | (got < 0) | (got == wanted)
        return ok

    def _try(self, cy: torch.Tensor, cx: torch.Tensor, active: torch.Tensor | None = None):
        """Replace matches by candidates (cy, cx) where those are acceptable and better."""
        ok = self._acceptable(cy, cx)
        if active is not None:
            ok &= active
        # no early return when nothing is acceptable: asking would wait for the device
        safe_y = torch.where(ok, cy, self._nnf_y)
        safe_x = torch.where(ok, cx, self._nnf_x)
        cost = self._patch_cost(safe_y, safe_x)
        better = ok & (cost < self._cost)
        self._nnf_y = torch.where(better, cy, self._nnf_y)
        self._nnf_x = torch.where(better, cx, self._nnf_x)
        self._cost = torch.where(better, cost, self._cost)

    # -- search and voting -----------------------------------------------------------------

    def _propagate(self) -> None:
        for jump in _JUMPS:
            for dy, dx in ((0, -jump), (0, jump), (-jump, 0), (jump, 0)):
                ny = self._ty + dy
                nx = self._tx + dx
                inside = (ny >= 0) & (nx >= 0) & (ny < self._h) & (nx < self._w)
                j = self._target_at(ny, nx)
                has = inside & (j >= 0)
                j = j.clamp(min=0)
                self._try(self._nnf_y[j] - dy, self._nnf_x[j] - dx, has)

    def _random_search(self, radius: torch.Tensor, rounds: int, seed: int,
                       iteration: int) -> None:
        """``rounds`` halvings of ``radius`` (the largest radius's bit length, known on the
        host: looking at the device's radii each round would wait for it)."""
        draw = 0
        radius = radius.clone()
        for _ in range(rounds):
            active = radius >= 1
            step = radius.clamp(min=1)
            offsets = []
            for k in (draw, draw + 1):
                h = _hash32(seed ^ _hash32(iteration * 0x9E3779B1
                                           + _hash32(self._targets * 64 + k)))
                offsets.append(h % (2 * step + 1) - step)
            self._try(self._nnf_y + offsets[0], self._nnf_x + offsets[1], active)
            draw += 2
            radius = radius // 2

    def _weights(self) -> torch.Tensor:
        cost = self._cost
        if cost.numel() == 0:
            return cost
        k = max(1, int(np.ceil(VOTE_SIGMA_PERCENTILE / 100.0 * cost.numel())))
        sigma2 = max(float(torch.kthvalue(cost, k).values), 1e-3)  # exact on any device
        exponent = (cost / (2.0 * sigma2)).clamp(max=30.0)
        return self._confidence * torch.exp(-exponent)

    def _vote(self, weight: torch.Tensor) -> None:
        """Each hole pixel takes the weighted mean of the colours the patches over it vote
        for (only those of its own label when any has it). All patch offsets of a block of
        hole pixels at once (:data:`VOTE_BLOCK` votes): a loop over the offsets would launch
        kernels by the thousand on a GPU."""
        count = self._hole_y.shape[0]
        at_hole = self._position(self._hole_y, self._hole_x)
        wanted = self._target_labels[at_hole] if self._use_labels else None
        summed = torch.zeros(count, 3, device=self.device)
        total = torch.zeros(count, device=self.device)
        block = max(1, VOTE_BLOCK // self._dy.numel())
        for first in range(0, count, block):
            part = slice(first, first + block)
            cy = self._hole_y[part, None] - self._dy  # (m, p*p): centres of covering patches
            cx = self._hole_x[part, None] - self._dx
            inside = (cy >= 0) & (cx >= 0) & (cy < self._h) & (cx < self._w)
            j = self._target_at(cy, cx)
            ok = inside & (j >= 0)
            j = j.clamp(min=0)
            s = (self._nnf_y[j] + self._dy) * self._wa + self._nnf_x[j] + self._dx
            w = torch.where(ok, weight[j], torch.zeros((), device=self.device))
            colour = self._atlas[s]  # (m, p*p, 3)
            if wanted is not None:
                got = self._atlas_labels[s]
                mine = wanted[part, None]
                kept = w * ((mine < 0) | (got < 0) | (got == mine))
                kept_total = kept.sum(dim=1)
                use_kept = kept_total > 0  # any vote of the pixel's own label
                w = torch.where(use_kept[:, None], kept, w)
            summed[part] = (w[..., None] * colour).sum(dim=1)
            total[part] = w.sum(dim=1)
        voted = total > 0
        self._image[at_hole[voted]] = summed[voted] / total[voted][:, None]

    def step(self, search_iterations: int, search_radius: np.ndarray, seed: int,
             first_iteration: int, cancel: CancelToken | None = None) -> None:
        """Improve the field ``search_iterations`` times (0: only re-cost it), then vote;
        ``cancel`` is checked between the searches."""
        cancel = cancel or CancelToken()
        with torch.no_grad():
            self._gather_targets()
            self._cost = self._patch_cost(self._nnf_y, self._nnf_x)
            search_radius = np.asarray(search_radius, np.int64)
            rounds = int(search_radius.max(initial=0)).bit_length()
            radius = torch.from_numpy(search_radius).to(self.device)
            for k in range(search_iterations):
                cancel.raise_if_cancelled()
                self._propagate()
                cancel.raise_if_cancelled()
                self._random_search(radius, rounds, int(seed), first_iteration + k)
            self._vote(self._weights())

    def estimate(self) -> np.ndarray:
        """The current ``(window.size, 3)`` float32 estimate (a copy on the host)."""
        return self._image.cpu().numpy().copy()

    def nnf(self) -> tuple[np.ndarray, np.ndarray]:
        """The current field as int32 ``(nnf_y, nnf_x)`` host arrays."""
        return (self._nnf_y.cpu().numpy().astype(np.int32),
                self._nnf_x.cpu().numpy().astype(np.int32))
