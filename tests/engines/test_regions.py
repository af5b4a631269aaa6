"""The "regions" parser's merging (numba, GIL released) against a frozen copy of the pure-Python
region graph it replaced: the label maps must be identical, ties included.

:func:`frozen_region_map` is that copy, kept here as the reference (``bench/regions.py`` times
it beside the parser). It shares only SLIC and the boundary snapping of large pictures with
the parser, which the change left as they were.
"""

from __future__ import annotations

import heapq

import cv2
import numpy as np
import pytest
from skimage import data

from engines.segmentation import regions
from engines.segmentation.base import create_parser


class FrozenRegionGraph:
    """The pure-Python region graph of the parser before its merging moved to numba."""

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
        # the boundary sums are the parser's own (the change left them as they were)
        low, high, sums, counts = regions._boundaries(superpixels, lab, len(self.size))
        for i, j, total, n in zip(low.tolist(), high.tolist(), sums.tolist(), counts.tolist()):
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
        while self.heap:
            cost, i, j, version_i, version_j = heapq.heappop(self.heap)
            if self.alive[i] and self.alive[j] and version_i == self.version[i] \
                    and version_j == self.version[j]:
                return cost, i, j
        return None

    def merge(self, i: int, j: int) -> int:
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


def frozen_merge_superpixels(superpixels: np.ndarray, lab: np.ndarray, max_regions: int = 24,
                             threshold: float = 8.0,
                             min_area: float = 0.002) -> tuple[np.ndarray, np.ndarray]:
    """``regions._merge_superpixels`` as it was, with :class:`FrozenRegionGraph`."""
    graph = FrozenRegionGraph(superpixels, lab)
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
    means = np.array([graph.colour[r] / graph.size[r] for r in survivors], np.float32)
    return lookup[superpixels], means


def frozen_region_map(image: np.ndarray, max_regions: int = 24, threshold: float = 8.0,
                      min_area: float = 0.002, **slic_options: float) -> np.ndarray:
    """``regions.region_map`` as it was, with :func:`frozen_merge_superpixels`."""
    superpixels, lab, scale = regions.working_superpixels(image, **slic_options)
    labels, means = frozen_merge_superpixels(superpixels, lab, max_regions, threshold,
                                             min_area)
    if labels.shape != image.shape[:2]:
        labels = cv2.resize(labels, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        labels = regions._snap_boundaries(image, labels, means, reach=int(np.ceil(1.0 / scale)))
    return labels


def three_colour_mosaic(seed: int) -> np.ndarray:
    """A 120x160 mosaic of 10 px cells in three flat colours: many neighbours cost exactly
    the same, so the order in which ties are broken decides the map."""
    palette = np.array([(200, 40, 40), (40, 160, 60), (30, 60, 200)], np.uint8)
    cells = palette[np.random.default_rng(seed).integers(0, 3, (12, 16))]
    return cv2.resize(cells, (160, 120), interpolation=cv2.INTER_NEAREST)


@pytest.mark.parametrize("photo", [data.astronaut, data.coffee, data.chelsea],
                         ids=["astronaut", "coffee", "chelsea"])
def test_photos_get_the_same_map_as_the_pure_python_graph(photo):
    image = photo()
    labels = create_parser("regions").parse(image)
    assert labels.dtype == np.uint8 and labels.shape == image.shape[:2]
    assert 2 <= labels.max() + 1 <= 24
    np.testing.assert_array_equal(labels, frozen_region_map(image))


def test_more_regions_and_small_ones_merged_match_too():
    image = data.coffee()
    options = {"max_regions": 80, "threshold": 3.0, "min_area": 0.01}
    labels = regions.region_map(image, **options)
    assert labels.max() + 1 > 24
    np.testing.assert_array_equal(labels, frozen_region_map(image, **options))


def test_the_mean_colours_of_the_regions_match_too():
    superpixels, lab, _ = regions.working_superpixels(data.coffee())
    labels, means = regions._merge_superpixels(superpixels, lab, 24, 8.0, 0.002)
    frozen_labels, frozen_means = frozen_merge_superpixels(superpixels, lab)
    np.testing.assert_array_equal(labels, frozen_labels)
    np.testing.assert_array_equal(means, frozen_means)
    assert means.shape == (labels.max() + 1, 3) and means.dtype == np.float32


@pytest.mark.parametrize("seed", [0, 1])
def test_ties_are_broken_as_the_pure_python_graph_broke_them(seed, monkeypatch):
    image = three_colour_mosaic(seed)
    # the mosaic is lossless flat graphics, which the exact-colour path maps on its own
    # (test_regions_exact.py); the tie-breaks are the superpixel path's
    assert regions.exact_palette(image) is not None
    monkeypatch.setattr(regions, "exact_palette", lambda image, working_size=512: None)
    options = {"threshold": 0.0, "max_regions": 254, "min_area": 0.01}
    labels = regions.region_map(image, **options)
    assert labels.max() + 1 > 24  # cells of one colour stay apart: the tie-breaks shape them
    np.testing.assert_array_equal(labels, frozen_region_map(image, **options))
    np.testing.assert_array_equal(regions.region_map(image), frozen_region_map(image))


def test_a_flat_picture_is_one_region():
    image = np.full((40, 50, 3), 120, np.uint8)
    labels = regions.region_map(image)
    assert (labels == 0).all()
    np.testing.assert_array_equal(labels, frozen_region_map(image))


def test_the_merging_kernel_releases_the_gil():
    assert regions._merge_regions.targetoptions.get("nogil") is True


def test_warm_up_runs_the_merging_kernel(monkeypatch):
    """The editor calls it at start-up (``app.launch``): it must reach the numba kernel, or
    the first map a user asks for would compile or load it on its own time."""
    calls = []
    kernel = regions._merge_regions
    monkeypatch.setattr(regions, "_merge_regions",
                        lambda *args: calls.append(len(args)) or kernel(*args))
    regions.warm_up()
    assert calls
