"""Unsupervised colour regions: a layout map that needs no download.

The photo is cut into SLIC superpixels (scikit-image) at a working resolution, and neighbouring
regions are merged greedily on their adjacency graph. The cost of merging two neighbours is the
smaller of the CIE Lab distance between their mean colours and the mean colour contrast across
their shared boundary, so a sky gradient merges (a weak boundary), a textured lawn merges
(similar means), and sky and a building stay apart (both large). Merging runs while the
cheapest cost is below ``threshold``, then on until at most ``max_regions`` remain and none
covers less than ``min_area`` of the picture. Ids are ordered by area: ``0`` is the largest.
"""

from __future__ import annotations

import heapq
from typing import Any, ClassVar

import cv2
import numpy as np

from engines.base import CancelToken, InputError
from engines.segmentation.base import LabelSet, Parser, ProgressCallback, register_parser
from engines.segmentation.labels import numbered_label_set

MAX_REGIONS = 254


class _RegionGraph:
    """Regions (initially superpixels) with size, colour sum and boundary contrast sums."""

    def __init__(self, superpixels: np.ndarray, lab: np.ndarray) -> None:
        count = int(superpixels.max()) + 1
        flat = superpixels.ravel()
        self.size = np.bincount(flat, minlength=count).astype(np.float64)
        self.colour = np.stack([np.bincount(flat, lab[..., c].ravel(), count)
                                for c in range(3)], axis=1)
        self.members = [[i] for i in range(count)]
        self.version = [0] * count
        self.alive = self.size > 0
        self.edges: list[dict[int, list[float]]] = [{} for _ in range(count)]
        self._add_boundaries(superpixels, lab)
        self.heap: list[tuple[float, int, int, int, int]] = []
        for i in range(count):
            for j in self.edges[i]:
                if i < j:
                    self._push(i, j)

    def _add_boundaries(self, superpixels: np.ndarray, lab: np.ndarray) -> None:
        """Contrast across each boundary pixel pair: Lab distance between the pixels one step
        further out on either side (robust to a one-pixel soft edge)."""
        count = len(self.size)
        padded = np.pad(lab, ((1, 1), (1, 1), (0, 0)), mode="edge")
        width, height = superpixels.shape[1], superpixels.shape[0]
        pairs = (
            (superpixels[:, :-1], superpixels[:, 1:],
             padded[1:-1, 0:width - 1], padded[1:-1, 3:width + 2]),
            (superpixels[:-1, :], superpixels[1:, :],
             padded[0:height - 1, 1:-1], padded[3:height + 2, 1:-1]),
        )
        keys, contrasts = [], []
        for first, second, before, after in pairs:
            differ = first != second
            low = np.minimum(first[differ], second[differ]).astype(np.int64)
            high = np.maximum(first[differ], second[differ]).astype(np.int64)
            keys.append(low * count + high)
            contrasts.append(np.linalg.norm(before[differ] - after[differ], axis=1))
        key = np.concatenate(keys)
        contrast = np.concatenate(contrasts)
        unique, inverse = np.unique(key, return_inverse=True)
        sums = np.bincount(inverse, contrast, len(unique))
        counts = np.bincount(inverse, minlength=len(unique))
        for k, total, n in zip(unique.tolist(), sums.tolist(), counts.tolist()):
            i, j = divmod(k, count)
            self.edges[i][j] = [total, n]
            self.edges[j][i] = [total, n]

    def cost(self, i: int, j: int) -> float:
        mean_i = self.colour[i] / self.size[i]
        mean_j = self.colour[j] / self.size[j]
        total, n = self.edges[i][j]
        return min(float(np.linalg.norm(mean_i - mean_j)), total / n)

    def _push(self, i: int, j: int) -> None:
        heapq.heappush(self.heap, (self.cost(i, j), i, j, self.version[i], self.version[j]))

    def cheapest(self) -> tuple[float, int, int] | None:
        """The lowest-cost pair of neighbours still current, or None."""
        while self.heap:
            cost, i, j, version_i, version_j = heapq.heappop(self.heap)
            if self.alive[i] and self.alive[j] and version_i == self.version[i] \
                    and version_j == self.version[j]:
                return cost, i, j
        return None

    def merge(self, i: int, j: int) -> int:
        """Merge the smaller of ``i`` and ``j`` into the larger; returns the survivor."""
        if self.size[i] < self.size[j]:
            i, j = j, i
        self.size[i] += self.size[j]
        self.colour[i] += self.colour[j]
        self.members[i].extend(self.members[j])
        self.members[j] = []
        self.alive[j] = False
        for k, (total, n) in self.edges[j].items():
            del self.edges[k][j]
            if k == i:
                continue
            edge = self.edges[i].setdefault(k, [0.0, 0])
            edge[0] += total
            edge[1] += n
            self.edges[k][i] = edge
        self.edges[j] = {}
        self.version[i] += 1
        for k in self.edges[i]:
            self._push(i, k)
        return i

    def cheapest_neighbour(self, i: int) -> int | None:
        return min(self.edges[i], key=lambda k: self.cost(i, k), default=None)


def region_map(image: np.ndarray, max_regions: int = 24, threshold: float = 8.0,
               min_area: float = 0.002, working_size: int = 512, segments: int = 600,
               compactness: float = 10.0) -> np.ndarray:
    """Colour regions of ``image`` (``(H, W, 3)`` uint8 RGB): ``(H, W)`` uint8 ids 0..n-1,
    ``n <= max_regions``, 0 the largest (see the module docstring).

    ``threshold`` is a CIE Lab distance; ``min_area`` a fraction of the picture; the work is
    done with the longer side at most ``working_size`` and the map scaled back (nearest).
    """
    from skimage.segmentation import slic

    if not 1 <= max_regions <= MAX_REGIONS:
        raise InputError(f"the number of regions (max_regions) must be 1 to {MAX_REGIONS}, "
                         f"got {max_regions}")
    height, width = image.shape[:2]
    scale = min(1.0, working_size / max(height, width))
    small = image
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    superpixels = slic(small, n_segments=segments, compactness=compactness, start_label=0,
                       enforce_connectivity=True, channel_axis=-1)
    graph = _RegionGraph(superpixels, lab)
    alive = int(graph.alive.sum())
    while alive > 1:
        best = graph.cheapest()
        if best is None or (best[0] >= threshold and alive <= max_regions):
            break
        graph.merge(best[1], best[2])
        alive -= 1
    smallest = min_area * superpixels.size
    while True:
        small_ones = np.flatnonzero(graph.alive & (graph.size < smallest))
        if not len(small_ones):
            break
        region = int(small_ones[np.argmin(graph.size[small_ones])])
        neighbour = graph.cheapest_neighbour(region)
        if neighbour is None:
            break
        graph.merge(region, neighbour)
    survivors = sorted(np.flatnonzero(graph.alive), key=lambda r: -graph.size[r])
    lookup = np.zeros(len(graph.size), np.uint8)
    for new_id, region in enumerate(survivors):
        lookup[graph.members[region]] = new_id
    labels = lookup[superpixels]
    if labels.shape != (height, width):
        labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        means = np.array([graph.colour[r] / graph.size[r] for r in survivors], np.float32)
        labels = _snap_boundaries(image, labels, means, reach=int(np.ceil(1.0 / scale)))
    return labels


def _snap_boundaries(image: np.ndarray, labels: np.ndarray, means: np.ndarray,
                     reach: int, chunk: int = 1 << 18) -> np.ndarray:
    """Sharpen an upscaled map: each full-resolution pixel within ``reach`` of a boundary
    takes the label, among those ``reach`` pixels around it, whose mean Lab colour
    (``means[id]``) is closest to its own."""
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    band = cv2.dilate(labels, kernel) != cv2.erode(labels, kernel)
    ys, xs = np.nonzero(band)
    height, width = labels.shape
    snapped = labels.copy()
    steps = (-reach, 0, reach)
    for start in range(0, len(ys), chunk):
        y, x = ys[start:start + chunk], xs[start:start + chunk]
        candidates = np.stack([labels[np.clip(y + dy, 0, height - 1), np.clip(x + dx, 0, width - 1)]
                               for dy in steps for dx in steps], axis=1)
        colour = cv2.cvtColor(image[y, x][None].astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0]
        distance = np.linalg.norm(means[candidates] - colour[:, None, :], axis=2)
        snapped[y, x] = candidates[np.arange(len(y)), distance.argmin(axis=1)]
    return snapped


@register_parser
class RegionParser(Parser):
    """Colour regions (no download, no class names): a layout to repaint on any machine.

    Options: ``max_regions`` (default 24, at most 254), ``threshold``, ``min_area``,
    ``working_size``, ``segments``, ``compactness``; see :func:`region_map`.
    """

    name = "regions"
    title = "Colour regions (no download)"
    weights: ClassVar[tuple[str, ...]] = ()
    _SETTINGS = ("max_regions", "threshold", "min_area", "working_size", "segments",
                 "compactness")

    def __init__(self, **options: Any) -> None:
        """Refuses a ``max_regions`` out of 1..254 at once, before any work starts."""
        super().__init__(**options)
        count = self.options.get("max_regions")
        if count is not None and not 1 <= count <= MAX_REGIONS:
            raise InputError(f"the number of regions (max_regions) must be 1 to {MAX_REGIONS}, "
                             f"got {count}")

    @property
    def label_set(self) -> LabelSet:
        return numbered_label_set("regions", "region", MAX_REGIONS)

    def parse(self, image: np.ndarray, cancel: CancelToken | None = None,
              progress: ProgressCallback | None = None) -> np.ndarray:
        cancel = cancel or CancelToken()
        if progress:
            progress(0.0, "finding colour regions")
        settings = {k: self.options[k] for k in self._SETTINGS if self.options.get(k) is not None}
        labels = region_map(image, **settings)
        cancel.raise_if_cancelled()
        if progress:
            progress(1.0, f"{int(labels.max()) + 1} regions")
        return labels
