"""Unsupervised colour regions: a layout map that needs no download.

The photo is cut into SLIC superpixels (scikit-image) at a working resolution (after smoothing
away grain, where it has any: see :func:`smooth_grain`), and neighbouring regions are merged
greedily on their adjacency graph. The cost of merging two neighbours is the smaller of the
CIE Lab distance between their mean colours and the mean colour contrast across their shared
boundary, so a sky gradient merges (a weak boundary), a textured lawn merges
(similar means), and sky and a building stay apart (both large). Merging runs while the
cheapest cost is below ``threshold``, then on until at most ``max_regions`` remain and none
covers less than ``min_area`` of the picture. Ids are ordered by area: ``0`` is the largest.

Flat graphics (charts, logos, slides, screenshots) take another path (see :func:`flat_palette`
and :func:`flat_map`): a picture that, at the working size, is nearly all flat colour with
thin edges, its flat pixels taking a few tight, well-separated colours, is mapped at full
size. A region there is a connected area of one flat colour (8-connected; touching areas of
one colour are one), its edge pixels joining the neighbouring area nearest in colour, so a
bar's region is the whole bar to within a pixel or two. The areas of one colour smaller than
``min_area`` (text glyphs, icons, specks) are one region together, whatever its size;
``max_regions`` still holds. Photos never take this path and keep their maps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import cv2
import numpy as np

from engines.base import CancelToken, InputError
from engines.jit import cached_njit
from engines.segmentation.base import LabelSet, Parser, ProgressCallback, register_parser
from engines.segmentation.labels import MAX_REGIONS, numbered_label_set

# region_map's progress at the end of its steps: superpixels found, regions merged (the
# rest is the full-size map's boundaries, the longest step on a large picture)
_SUPERPIXELS_DONE, _MERGED = 0.4, 0.5


def _boundaries(superpixels: np.ndarray, lab: np.ndarray,
                count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Neighbouring superpixel pairs ``(low, high)`` (int64, ``low < high``, sorted) with the
    sum (float64) and number (int64) of the contrasts across their boundary pixel pairs: the
    Lab distance between the pixels one step further out on either side (robust to a
    one-pixel soft edge)."""
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
    unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    sums = np.bincount(inverse, np.concatenate(contrasts), len(unique))
    counts = np.bincount(inverse, minlength=len(unique)).astype(np.int64)
    return unique // count, unique % count, sums, counts


# The merging below runs in numba with the GIL released (about 1 ms at the default 600 segments; the
# pure-Python graph it replaced took 20-30 ms holding the GIL, which the editor's GUI thread
# then waited for). It gives the same maps, ties included. Its adjacency lists are linked
# lists over one pool of entries: a boundary ``e`` owns entries ``2e`` and ``2e + 1``, one in
# the list of each of its two regions (``neighbour`` names the other region), so an entry's
# twin is ``entry ^ 1``. Each list keeps the order in which its neighbours arrived (ascending
# ids at first, then appended as merges bring them): ties between equally cheap neighbours go
# to the first in that order. Candidate merges wait in a binary heap of (cost, i, j,
# version of i, version of j), compared in that order, entries made stale by a later merge
# skipped when they come up.


@cached_njit(nogil=True, inline="always")
def _cost(size, colour, i, j, total, pixels):
    """The smaller of the Lab distance between the mean colours of regions ``i`` and ``j``
    and the mean contrast across their boundary (``total / pixels``)."""
    d0 = colour[i, 0] / size[i] - colour[j, 0] / size[j]
    d1 = colour[i, 1] / size[i] - colour[j, 1] / size[j]
    d2 = colour[i, 2] / size[i] - colour[j, 2] / size[j]
    return min(math.sqrt(d0 * d0 + d1 * d1 + d2 * d2), total / pixels)


@cached_njit(nogil=True, inline="always")
def _append(first, last, following, preceding, node, entry):
    """Link ``entry`` at the end of ``node``'s list."""
    preceding[entry] = last[node]
    following[entry] = -1
    if last[node] >= 0:
        following[last[node]] = entry
    else:
        first[node] = entry
    last[node] = entry


@cached_njit(nogil=True, inline="always")
def _unlink(first, last, following, preceding, node, entry):
    """Take ``entry`` out of ``node``'s list."""
    if preceding[entry] >= 0:
        following[preceding[entry]] = following[entry]
    else:
        first[node] = following[entry]
    if following[entry] >= 0:
        preceding[following[entry]] = preceding[entry]
    else:
        last[node] = preceding[entry]


@cached_njit(nogil=True, inline="always")
def _heap_less(costs, keys, a, b):
    """Whether heap slot ``a`` orders before slot ``b``: by cost, then by the key's fields."""
    if costs[a] != costs[b]:
        return costs[a] < costs[b]
    for field in range(4):
        if keys[a, field] != keys[b, field]:
            return keys[a, field] < keys[b, field]
    return False


@cached_njit(nogil=True, inline="always")
def _heap_swap(costs, keys, a, b):
    costs[a], costs[b] = costs[b], costs[a]
    for field in range(4):
        keys[a, field], keys[b, field] = keys[b, field], keys[a, field]


@cached_njit(nogil=True, inline="always")
def _heap_push(costs, keys, length, cost, i, j, version_i, version_j):
    """Push one candidate; returns the heap's arrays (doubled when full) and its length."""
    if length == len(costs):
        costs = np.concatenate((costs, np.empty_like(costs)))
        keys = np.concatenate((keys, np.empty_like(keys)))
    costs[length] = cost
    keys[length, 0], keys[length, 1] = i, j
    keys[length, 2], keys[length, 3] = version_i, version_j
    slot = length
    while slot > 0 and _heap_less(costs, keys, slot, (slot - 1) // 2):
        _heap_swap(costs, keys, slot, (slot - 1) // 2)
        slot = (slot - 1) // 2
    return costs, keys, length + 1


@cached_njit(nogil=True, inline="always")
def _heap_pop(costs, keys, length):
    """Move the smallest candidate to slot ``length - 1``; returns the new length."""
    length -= 1
    _heap_swap(costs, keys, 0, length)
    slot = 0
    while True:
        smallest = slot
        for child in (2 * slot + 1, 2 * slot + 2):
            if child < length and _heap_less(costs, keys, child, smallest):
                smallest = child
        if smallest == slot:
            return length
        _heap_swap(costs, keys, slot, smallest)
        slot = smallest


@cached_njit(nogil=True, inline="always")
def _merge(i, j, size, colour, alive, parent, total, pixels, neighbour, first, last,
           following, preceding, mark):
    """Merge the smaller of regions ``i`` and ``j`` into the larger (``i`` on a tie): sizes,
    colour sums and boundaries add up. Returns the survivor. ``mark`` is all -1 in and out."""
    if size[i] < size[j]:
        i, j = j, i
    size[i] += size[j]
    for channel in range(3):
        colour[i, channel] += colour[j, channel]
    alive[j] = False
    parent[j] = i
    entry = first[i]
    while entry >= 0:
        mark[neighbour[entry]] = entry
        entry = following[entry]
    entry = first[j]
    while entry >= 0:
        after = following[entry]
        k = neighbour[entry]
        _unlink(first, last, following, preceding, k, entry ^ 1)
        if k != i:
            shared = mark[k]
            if shared >= 0:  # i and k were neighbours: their boundary grows
                total[shared >> 1] += total[entry >> 1]
                pixels[shared >> 1] += pixels[entry >> 1]
            else:  # the boundary j-k becomes i-k, at the end of both lists
                _append(first, last, following, preceding, i, entry)
                neighbour[entry ^ 1] = i
                _append(first, last, following, preceding, k, entry ^ 1)
        entry = after
    first[j] = last[j] = -1
    mark[j] = -1
    entry = first[i]
    while entry >= 0:
        mark[neighbour[entry]] = -1
        entry = following[entry]
    return i


@cached_njit(nogil=True)
def _merge_regions(size, colour, low, high, total, pixels, threshold, max_regions, smallest):
    """Greedy merging of the region graph (see :func:`region_map`).

    ``size`` ``(n,)`` float64 pixel counts and ``colour`` ``(n, 3)`` float64 Lab sums of the
    superpixels, updated in place; ``low``, ``high``, ``total``, ``pixels``: their boundaries
    (see :func:`_boundaries`), ``total`` and ``pixels`` updated in place. Returns the
    surviving region of each superpixel, ``(n,)`` int64.
    """
    count = len(size)
    boundaries = len(low)
    neighbour = np.empty(2 * boundaries, np.int64)
    following = np.empty(2 * boundaries, np.int64)
    preceding = np.empty(2 * boundaries, np.int64)
    first = np.full(count, -1, np.int64)
    last = np.full(count, -1, np.int64)
    costs = np.empty(max(16, 2 * boundaries), np.float64)
    keys = np.empty((len(costs), 4), np.int64)
    length = 0
    for e in range(boundaries):
        i, j = low[e], high[e]
        neighbour[2 * e], neighbour[2 * e + 1] = j, i
        _append(first, last, following, preceding, i, 2 * e)
        _append(first, last, following, preceding, j, 2 * e + 1)
        costs, keys, length = _heap_push(costs, keys, length,
                                         _cost(size, colour, i, j, total[e], pixels[e]),
                                         i, j, 0, 0)
    alive = size > 0
    parent = np.arange(count)
    version = np.zeros(count, np.int64)
    mark = np.full(count, -1, np.int64)
    remaining = alive.sum()
    while remaining > 1:
        found = False
        while length > 0:
            length = _heap_pop(costs, keys, length)
            i, j = keys[length, 0], keys[length, 1]
            if alive[i] and alive[j] and keys[length, 2] == version[i] \
                    and keys[length, 3] == version[j]:
                found = True
                break
        if not found or (costs[length] >= threshold and remaining <= max_regions):
            break
        i = _merge(i, j, size, colour, alive, parent, total, pixels, neighbour, first, last,
                   following, preceding, mark)
        version[i] += 1
        entry = first[i]
        while entry >= 0:
            k = neighbour[entry]
            costs, keys, length = _heap_push(
                costs, keys, length,
                _cost(size, colour, i, k, total[entry >> 1], pixels[entry >> 1]),
                i, k, version[i], version[k])
            entry = following[entry]
        remaining -= 1
    while True:  # then the smallest region under ``smallest`` joins its cheapest neighbour
        region = -1
        for r in range(count):
            if alive[r] and size[r] < smallest and (region < 0 or size[r] < size[region]):
                region = r
        if region < 0:
            break
        best, best_cost = -1, 0.0
        entry = first[region]
        while entry >= 0:
            k = neighbour[entry]
            cost = _cost(size, colour, region, k, total[entry >> 1], pixels[entry >> 1])
            if best < 0 or cost < best_cost:
                best, best_cost = k, cost
            entry = following[entry]
        if best < 0:
            break
        _merge(region, best, size, colour, alive, parent, total, pixels, neighbour, first,
               last, following, preceding, mark)
    for r in range(count):
        root = r
        while parent[root] != root:
            root = parent[root]
        parent[r] = root
    return parent


def region_map(image: np.ndarray, max_regions: int = 24, threshold: float = 8.0,
               min_area: float = 0.002, working_size: int = 512, segments: int = 600,
               compactness: float = 10.0,
               progress: Callable[[float, str], None] | None = None) -> np.ndarray:
    """Colour regions of ``image`` (``(H, W, 3)`` uint8 RGB): ``(H, W)`` uint8 ids 0..n-1,
    ``n <= max_regions``, 0 the largest (see the module docstring).

    ``threshold`` is a CIE Lab distance; ``min_area`` a fraction of the picture; the work is
    done with the longer side at most ``working_size`` and the map scaled back (nearest).
    ``progress(fraction, step)`` is called as each step starts and as the boundaries of a
    large picture are sharpened, part by part (never with 1.0: the caller says the end).
    """
    if not 1 <= max_regions <= MAX_REGIONS:
        raise InputError(f"the number of regions (max_regions) must be 1 to {MAX_REGIONS}, "
                         f"got {max_regions}")
    report = progress or (lambda fraction, step: None)
    height, width = image.shape[:2]
    report(0.0, "finding colour regions")
    small, scale = _shrink(image, working_size)
    palette = flat_palette(small)
    exact = exact_palette(image, working_size)
    if palette is not None and (exact is None or len(exact[0]) <= len(palette)):
        # flat graphics (a chart, a logo, a screenshot): see flat_map
        flat = "finding flat colour areas"
        report(_SUPERPIXELS_DONE, flat)
        return flat_map(image, palette, max_regions, min_area, progress=lambda done: report(
            _SUPERPIXELS_DONE + (1 - _SUPERPIXELS_DONE) * min(done, 0.99), flat))
    if exact is not None:  # lossless flat graphics of close colours, or thin lines (which
        # the working size blurs away: the tolerance rule finds fewer colours, or none)
        flat = "finding flat colour areas"
        report(_SUPERPIXELS_DONE, flat)
        palette, colour, uniform = exact
        return _colour_areas(image, colour, _to_lab(palette), max_regions, min_area,
                             lambda done: report(_SUPERPIXELS_DONE + (1 - _SUPERPIXELS_DONE)
                                                 * min(done, 0.99), flat), uniform)
    superpixels, lab = _superpixels(small, segments, compactness)
    report(_SUPERPIXELS_DONE, "merging regions")
    labels, means = _merge_superpixels(superpixels, lab, max_regions, threshold, min_area)
    if labels.shape != (height, width):
        sharpening = "sharpening the boundaries"
        report(_MERGED, sharpening)
        labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        labels = _snap_boundaries(image, labels, means, reach=int(np.ceil(1.0 / scale)),
                                  progress=lambda done: report(
                                      _MERGED + (1 - _MERGED) * min(done, 0.99), sharpening))
    return labels


def working_superpixels(image: np.ndarray, working_size: int = 512, segments: int = 600,
                        compactness: float = 10.0) -> tuple[np.ndarray, np.ndarray, float]:
    """What :func:`region_map` merges: SLIC superpixels (``(h, w)`` int ids from 0, each one
    connected piece) of ``image`` shrunk so its longer side is at most ``working_size``, their
    CIE Lab colours (``(h, w, 3)`` float32; grain smoothed away, see :func:`smooth_grain`),
    and the scale (at most 1)."""
    small, scale = _shrink(image, working_size)
    return (*_superpixels(small, segments, compactness), scale)


def _shrink(image: np.ndarray, working_size: int) -> tuple[np.ndarray, float]:
    """``image`` shrunk (area interpolation) so its longer side is at most ``working_size``,
    and the scale (at most 1; ``image`` itself at 1)."""
    height, width = image.shape[:2]
    scale = min(1.0, working_size / max(height, width))
    small = image
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return small, scale


def _superpixels(small: np.ndarray, segments: int,
                 compactness: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`working_superpixels` of the picture already shrunk: superpixels and Lab."""
    from skimage.measure import label
    from skimage.segmentation import slic

    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    smoothed = smooth_grain(lab)
    options = {"n_segments": segments, "compactness": compactness, "start_label": 0,
               "channel_axis": -1}
    if smoothed is lab:  # no grain: SLIC as before
        return slic(small, enforce_connectivity=True, **options), lab
    # SLIC takes RGB (it stretches it to 0..1 before going to Lab). Its connectivity pass
    # would hand each stray piece of a cluster to whichever neighbour it meets first, across
    # a strong edge too; instead each small piece joins the neighbour nearest in colour.
    rgb = np.clip(cv2.cvtColor(smoothed, cv2.COLOR_Lab2RGB), 0.0, 1.0)
    pieces = label(slic(rgb, enforce_connectivity=False, **options), background=-1,
                   connectivity=1) - 1
    return _absorb_pieces(pieces, smoothed, 0.5 * pieces.size / segments), smoothed


def _absorb_pieces(pieces: np.ndarray, lab: np.ndarray, smallest: float) -> np.ndarray:
    """Join each of the connected ``pieces`` (``(h, w)`` ids from 0) under ``smallest`` pixels
    to the neighbouring piece of at least that size whose mean Lab colour (of ``lab``) is
    nearest its own; in rounds (at most 4), as joined pieces bring small ones to large ones.
    Returns the pieces renumbered from 0 (still connected)."""
    for _ in range(4):
        count = int(pieces.max()) + 1
        flat = pieces.ravel()
        size = np.bincount(flat, minlength=count).astype(np.float64)
        small = size < smallest
        if not small.any():
            break
        colour = np.stack([np.bincount(flat, lab[..., c].ravel(), count) for c in range(3)],
                          axis=1) / np.maximum(size, 1.0)[:, None]
        first = np.concatenate((pieces[:, :-1].ravel(), pieces[:-1, :].ravel()))
        second = np.concatenate((pieces[:, 1:].ravel(), pieces[1:, :].ravel()))
        differ = first != second
        source = np.concatenate((first[differ], second[differ]))
        target = np.concatenate((second[differ], first[differ]))
        joins = small[source] & ~small[target]
        source, target = source[joins], target[joins]
        if not len(source):
            break
        distance = np.linalg.norm(colour[source] - colour[target], axis=1)
        order = np.lexsort((target, distance, source))  # per source, the nearest (then lowest)
        source, target = source[order], target[order]
        nearest = np.ones(len(source), bool)
        nearest[1:] = source[1:] != source[:-1]
        lookup = np.arange(count)
        lookup[source[nearest]] = target[nearest]
        pieces = lookup[pieces]
    return np.unique(pieces, return_inverse=True)[1].reshape(pieces.shape)


# Grain. SLIC's distance weighs a pixel's colour against its distance from a cluster's centre
# (``compactness``); where per-pixel noise is several Lab units, colour scatters the pixels of
# a flat area among clusters, connectivity enforcement then hands the scattered bits to any
# neighbouring superpixel, across a strong edge too, and a superpixel half sky, half grass
# bridges the two regions in the merging (audit 21, finding 7: at RGB noise std 20 the sky
# took the whole ground). So a picture with grain is first smoothed with a bilateral filter
# whose colour scale follows the measured noise: grain (differences of a few noise levels)
# is averaged out, edges much stronger than the noise are kept; and the pieces SLIC leaves
# are merged by colour, not by its connectivity pass (see working_superpixels). Smoothing
# alone still left a straddling superpixel now and then at noise std 30.

_RESIDUAL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
# white noise of std s per channel gives the kernel above a response of std 6 s per channel;
# the median length of that 3-channel response is 6 s times the median of a chi with 3 degrees
_RESIDUAL_MEDIAN = 6.0 * 1.5382
_NOISE_BLOCK = 16  # pixels: the noise is measured per block
_NOISE_QUANTILE = 90  # the picture's noise: that of its noisiest tenth (of blocks)
_GRAIN = 2.0  # Lab units: noise below this is left alone (clean photos keep their maps)
_SMOOTH_DIAMETER = 5  # pixels
_SMOOTH_SCALE = 2.0  # the bilateral's colour sigma, in noise lengths (sqrt(3) noise levels)
_SMOOTH_PASSES = 3  # each pass about halves the grain (less as it goes): 15 ends near 3


def noise_level(lab: np.ndarray) -> float:
    """The std per channel of the pixel noise (grain) of a CIE Lab picture (``(h, w, 3)``
    float32), in Lab units: the median of a second-difference residual per 16 x 16 block
    (edges and lines that cross a block under half of it do not count), at the 90th
    percentile of the blocks, so grain over part of the picture (a lawn under a flat sky) is
    measured, not diluted. Texture finer than a few pixels counts as grain."""
    residual = cv2.filter2D(lab, -1, _RESIDUAL, borderType=cv2.BORDER_REFLECT)
    length = np.sqrt(np.einsum("ijk,ijk->ij", residual, residual))
    block = _NOISE_BLOCK
    rows, cols = length.shape[0] // block, length.shape[1] // block
    if rows == 0 or cols == 0:  # smaller than a block: one block
        return float(np.median(length)) / _RESIDUAL_MEDIAN
    blocks = length[:rows * block, :cols * block].reshape(rows, block, cols, block)
    medians = np.median(blocks.transpose(0, 2, 1, 3).reshape(rows, cols, -1), axis=2)
    return float(np.percentile(medians, _NOISE_QUANTILE)) / _RESIDUAL_MEDIAN


def smooth_grain(lab: np.ndarray) -> np.ndarray:
    """``lab`` itself where its :func:`noise_level` is under 2 Lab units, else three passes of
    a bilateral filter (5 px across, colour sigma 2 lengths of the measured noise, kept for
    every pass): grain averaged out, edges well above the noise kept. A new array."""
    noise = noise_level(lab)
    if noise < _GRAIN:
        return lab
    colour_sigma = _SMOOTH_SCALE * math.sqrt(3.0) * noise
    smoothed = lab
    for _ in range(_SMOOTH_PASSES):
        smoothed = cv2.bilateralFilter(smoothed, _SMOOTH_DIAMETER, colour_sigma,
                                       _SMOOTH_DIAMETER)
    return smoothed


# Flat graphics (audit: a 5-colour bar chart gave 9 regions, one mixing a bar with the
# background; a logo's flat disc gave 9). Charts, logos, slides and screenshots are made of
# a few flat colours with thin antialiased edges between them; SLIC's compact superpixels and
# the merging by contrast cut their large flat areas and straddle their edges. Such a picture
# is recognised at the working size (measured on photos and graphics, bench/README.md
# "Flat graphics"): nearly all of it is flat (each 3 x 3 neighbourhood spans at most
# _FLAT_RANGE levels per channel) or within 2 px of flat pixels (thin edges, text; a photo's
# texture is wide), and its flat pixels take a few colours, each tight (JPEG's noise is
# within the tolerance) and far apart from each other (a photo's smooth shading, a sky or
# the moon, falls into a run of neighbouring colours). Its map is then the connected areas
# of one flat colour, at full size (see flat_map).

_FLAT_RANGE = 10  # levels (0..255): a flat pixel's 3 x 3 neighbourhood spans at most this
_FLAT_SHARE = 0.8  # at least this share of the working picture is flat...
_FLAT_COVER = 0.98  # ... and this share within 2 px of a flat pixel (the edges are thin)
_FLAT_TOLERANCE = 8  # levels: a flat colour's pixels lie within this of it (per channel)
_FLAT_MIN_SHARE = 0.002  # of the flat pixels: a smaller cluster is no colour of the palette
_FLAT_EXPLAINED = 0.99  # the palette takes at least this share of the flat pixels
_FLAT_SEPARATION = 24  # levels: the palette's colours are at least this far apart
_FLAT_MAX_COLOURS = 32
_QUANT = 2  # colour bins of 4 levels per channel (18-bit keys)


def _local_range(image: np.ndarray) -> np.ndarray:
    """The largest per-channel span (max - min) of each pixel's 3 x 3 neighbourhood."""
    kernel = np.ones((3, 3), np.uint8)
    return (cv2.dilate(image, kernel) - cv2.erode(image, kernel)).max(axis=2)


def _colour_keys(pixels: np.ndarray) -> np.ndarray:
    """18-bit bin keys of RGB uint8 ``pixels`` (``(..., 3)``): 6 bits a channel."""
    q = (pixels >> _QUANT).astype(np.int32)
    return (q[..., 0] << 12) | (q[..., 1] << 6) | q[..., 2]


# the centre of each colour bin of one channel (:func:`_colour_keys`): 64 bins of 4 levels
_CHANNEL_CENTRES = np.arange(1 << (8 - _QUANT)) * (1 << _QUANT) + ((1 << _QUANT) - 1) / 2


def _bin_centres() -> np.ndarray:
    """``(2**18, 3)``: the RGB centre of each 18-bit bin key (:func:`_colour_keys`)."""
    keys = np.arange(1 << 18)
    return _CHANNEL_CENTRES[np.stack([keys >> 12, (keys >> 6) & 63, keys & 63], axis=1)]


def flat_palette(small: np.ndarray) -> np.ndarray | None:
    """The flat colours (``(k, 3)`` float64 RGB, the most common first) of a picture made of
    flat colours with thin edges (``small``: ``(h, w, 3)`` uint8 RGB at the working size), or
    ``None`` for any other picture (photos). See the comment above for the rule; a photo is
    refused after one 3 x 3 range and one dilation, or after at most 33 palette rounds."""
    flat = _local_range(small) <= _FLAT_RANGE
    if flat.mean() < _FLAT_SHARE:
        return None
    near = cv2.dilate(flat.astype(np.uint8), np.ones((5, 5), np.uint8))
    if near.mean() < _FLAT_COVER:
        return None
    counts = np.bincount(_colour_keys(small[flat]), minlength=1 << 18)
    bins = np.flatnonzero(counts)
    weight = counts[bins].astype(np.float64)
    centre = _bin_centres()[bins]
    left = np.ones(len(bins), bool)
    total, taken, palette = weight.sum(), 0.0, []
    while left.any():
        seed = np.flatnonzero(left)[np.argmax(weight[left])]
        member = left & (np.abs(centre - centre[seed]).max(axis=1) <= _FLAT_TOLERANCE)
        share = weight[member].sum()
        if share < _FLAT_MIN_SHARE * total:
            break
        if len(palette) == _FLAT_MAX_COLOURS:
            return None
        palette.append(weight[member] @ centre[member] / share)
        taken += share
        left &= ~member
    if taken < _FLAT_EXPLAINED * total:
        return None
    colours = np.array(palette)
    apart = np.abs(colours[:, None] - colours[None]).max(axis=2)
    if len(colours) > 1 and apart[~np.eye(len(colours), dtype=bool)].min() < _FLAT_SEPARATION:
        return None
    return colours


# Lossless flat graphics whose colours lie close (a light-theme screenshot's greys, 235/245/250/
# 255) or that are mostly thin lines (a line chart) fail the rule above (audit 25, F5): their
# palette's colours are closer than _FLAT_SEPARATION, or the working size's shrinking blurs the
# lines. Such a picture is recognised by exact colours instead (see exact_palette): most of it
# lies in 2 x 2 blocks of one exact colour, looked at full size in tiles spread over it (a
# photo's grain leaves almost none: under 0.2 in the photos of bench/README.md, also those
# with a dark border or a clipped sky; small icons and 4 x 4 pixel art keep theirs, which a
# sample of every n-th pixel would break up), and nearly
# all of it is either of a few exact colours that are nobody's blend, or an antialiased blend
# of two of them (on the RGB segment between two palette colours found within 2 px). Areas of
# each exact colour then make the map, however close two colours are.

_EXACT_UNIFORM = 0.5  # at least this share of the picture's tiles in 2 x 2 exact blocks
_EXACT_TILE = 64  # px: the side of the full-size tiles looked at for that share
_EXACT_TILES = 8  # the most tiles across and down (8 x 8 tiles: 512 x 512 pixels)
_EXACT_MIN_SHARE = 0.0005  # of the sample: a rarer exact colour is no palette candidate
_EXACT_CANDIDATES = 64  # the most common exact colours looked at
_EXACT_CORE = 0.5  # a palette colour: at least this share of its pixels are no blend
_EXACT_UNEXPLAINED = 0.03  # at most this share of pixels neither palette colour nor blend
_EXACT_REACH = 2  # px: a blend's two colours lie within this (a 5 x 5 window)
_EXACT_TOLERANCE = 4.0  # RGB levels: a blend's distance from the segment between its colours
_EXACT_GAP = 3  # px: areas of one colour parted by a strip up to twice this wide are one
_EXACT_SPECK = 4  # px: a smaller piece of a palette colour with no 3 x 3 block is no seed
_EXACT_THIN = 0.5  # an area with fewer of its seeds in 3 x 3 blocks is thin (a line, text)
_EXACT_MINOR = 0.002  # of the picture: a thin colour this rare that blends two others is none


def _exact_codes(image: np.ndarray) -> np.ndarray:
    """24-bit codes (int64) of RGB uint8 pixels (``(..., 3)``)."""
    return ((image[..., 0].astype(np.int64) << 16) | (image[..., 1].astype(np.int64) << 8)
            | image[..., 2])


def _uniform(image: np.ndarray) -> np.ndarray:
    """Whether each pixel's 3 x 3 neighbourhood is all of its exact colour."""
    kernel = np.ones((3, 3), np.uint8)
    return (cv2.dilate(image, kernel) == cv2.erode(image, kernel)).all(axis=2)


def _repeated_share(image: np.ndarray) -> float:
    """The share of ``image``'s pixels (``(H, W, 3)`` uint8) whose 2 x 2 block (with the
    pixels right, below and diagonally below) is one exact colour, over at most
    :data:`_EXACT_TILES` x :data:`_EXACT_TILES` full-size tiles of :data:`_EXACT_TILE`
    pixels spread evenly over the picture (the whole picture when it is no larger)."""
    height, width = image.shape[:2]

    def starts(size: int) -> np.ndarray:
        count = min(_EXACT_TILES, math.ceil(size / _EXACT_TILE))
        return np.unique(np.linspace(0, max(size - _EXACT_TILE, 0), count).astype(int))

    same, total = 0, 0
    for top in starts(height):
        for left in starts(width):
            tile = image[top:top + _EXACT_TILE, left:left + _EXACT_TILE]
            corner = tile[:-1, :-1]
            block = ((corner == tile[1:, :-1]).all(axis=2) & (corner == tile[:-1, 1:]).all(axis=2)
                     & (corner == tile[1:, 1:]).all(axis=2))
            same += int(block.sum())
            total += block.size
    return same / total if total else 0.0


def exact_palette(image: np.ndarray, working_size: int = 512
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The exact flat colours of lossless flat graphics (``image``: ``(H, W, 3)`` uint8 RGB)
    and each pixel's colour among them (``(H, W)`` int16, -1 for an antialiased blend or any
    other pixel) and its 3 x 3 blocks of one exact colour (``(H, W)`` bool), or ``None`` for
    any other picture (photos, JPEG). See the comment above.

    Photos are refused first by their share of 2 x 2 exact blocks in full-size tiles
    (:func:`_repeated_share`); the colours are counted on a sample (every n-th pixel, the
    longer side at most ``working_size``); the rest is looked at full size.
    The palette: ``(k, 3)`` float64 RGB, ``1 <= k <= 32``, the most common first."""
    if image.shape[0] < 2 or image.shape[1] < 2 or _repeated_share(image) < _EXACT_UNIFORM:
        return None
    height, width = image.shape[:2]
    step = max(1, math.ceil(max(height, width) / working_size))
    sample = np.ascontiguousarray(image[::step, ::step])
    keys, counts = np.unique(_exact_codes(sample), return_counts=True)
    often = np.flatnonzero(counts >= max(2.0, _EXACT_MIN_SHARE * sample.shape[0]
                                         * sample.shape[1]))
    often = often[np.argsort(-counts[often], kind="stable")][:_EXACT_CANDIDATES]
    keys = np.sort(keys[often])
    colours = np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], axis=1).astype(np.float64)
    image = np.ascontiguousarray(image)
    uniform = _uniform(image)
    index, blend = _exact_classes(image, keys, colours, uniform, _EXACT_REACH,
                                  _EXACT_TOLERANCE)
    count = np.bincount(index.ravel() + 1, minlength=len(keys) + 1)[1:]
    core = np.bincount(index[~blend] + 1, minlength=len(keys) + 1)[1:]
    blocks = np.bincount(index[uniform] + 1, minlength=len(keys) + 1)[1:]
    palette = (core >= _EXACT_CORE * count) & (core > 0)
    for k in np.flatnonzero(palette & (blocks == 0) & (count < _EXACT_MINOR * index.size)):
        others = np.flatnonzero(palette & (np.arange(len(keys)) != k))  # a text's lighter
        palette[k] = _segment_ends(colours[k][None], colours[others])[0] < 0  # strokes
    palette = np.flatnonzero(palette)
    if not 1 <= len(palette) <= _FLAT_MAX_COLOURS:
        return None
    if index.size - core[palette].sum() - blend.sum() > _EXACT_UNEXPLAINED * index.size:
        return None
    palette = palette[np.argsort(-count[palette], kind="stable")]
    lookup = np.full(len(keys) + 1, -1, np.int16)
    lookup[palette + 1] = np.arange(len(palette))
    colour = lookup[index + 1]
    colour[blend] = -1  # a blend of two other palette colours (its own only by chance)
    # the other pixels that are no blend of colours nearby (the darkest of a thin glyph's
    # strokes, never as dark as the text's colour) seed a palette colour: see _extreme_seeds
    ys, xs = np.nonzero((colour < 0) & ~blend & ~np.isin(index, palette))
    colour[ys, xs] = _extreme_seeds(image, colour, ys, xs, colours[palette], _EXACT_REACH,
                                    _EXACT_TOLERANCE)
    return colours[palette], colour, uniform


@cached_njit(nogil=True)
def _extreme_seeds(image, colour, ys, xs, palette, reach, tolerance):
    """The palette colour each pixel ``(ys, xs)`` seeds: of the RGB segments from a palette
    colour seeded within ``reach`` px (``colour``) to any other palette colour that pass
    within ``tolerance`` of the pixel's colour, the longest (a stroke blended with its
    background, as dark as it may be), its end nearer the pixel; -1 where there is none."""
    height, width = colour.shape
    seeds = np.full(len(ys), -1, np.int16)
    limit = tolerance * tolerance
    for i in range(len(ys)):
        y, x = ys[i], xs[i]
        best, best_length = -1, -1.0
        for yy in range(max(0, y - reach), min(height, y + reach + 1)):
            for xx in range(max(0, x - reach), min(width, x + reach + 1)):
                w = colour[yy, xx]
                if w < 0:
                    continue
                for q in range(len(palette)):
                    if q == w:
                        continue
                    along, length, away = 0.0, 0.0, 0.0
                    for c in range(3):
                        d = palette[q, c] - palette[w, c]
                        along += (image[y, x, c] - palette[w, c]) * d
                        length += d * d
                    t = along / length
                    if t < 0.0 or t > 1.0 or length <= best_length:
                        continue
                    for c in range(3):
                        off = image[y, x, c] - palette[w, c] - t * (palette[q, c] - palette[w, c])
                        away += off * off
                    if away <= limit:
                        best, best_length = (q if t >= 0.5 else w), length
        seeds[i] = best
    return seeds


def _segment_ends(colours: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """For each RGB colour of ``colours`` (``(n, 3)``) that lies within the blend tolerance of
    the segment between two colours of ``palette`` (``(k, 3)``; the nearest such segment),
    the index of the one of the two it is nearer; -1 for the others."""
    a, b = np.triu_indices(len(palette), 1)
    if not len(a) or not len(colours):
        return np.full(len(colours), -1, np.int64)
    d = palette[b] - palette[a]  # (pairs, 3)
    offset = colours[:, None, :] - palette[a][None]  # (n, pairs, 3)
    t = np.clip((offset * d).sum(axis=2) / np.maximum((d * d).sum(axis=1), 1e-9), 0.0, 1.0)
    away = ((offset - t[..., None] * d) ** 2).sum(axis=2)
    pair = away.argmin(axis=1)
    rows = np.arange(len(colours))
    end = np.where(t[rows, pair] < 0.5, a[pair], b[pair])
    return np.where(away[rows, pair] <= _EXACT_TOLERANCE ** 2, end, -1)


@cached_njit(nogil=True)
def _exact_classes(image, keys, colours, uniform, reach, tolerance):
    """Each pixel's index among the exact colours ``keys`` (sorted 24-bit codes, RGB
    ``colours``), -1 for none, and whether it is a blend: on the RGB segment (within
    ``tolerance``) between two of those colours other than its own found within ``reach``
    px. Pixels in a 3 x 3 block of one colour (``uniform``) are no blend."""
    height, width = image.shape[:2]
    index = np.full((height, width), -1, np.int16)
    for y in range(height):
        for x in range(width):
            code = (np.int64(image[y, x, 0]) << 16) | (np.int64(image[y, x, 1]) << 8) \
                | np.int64(image[y, x, 2])
            low, high = 0, len(keys)
            while low < high:
                middle = (low + high) // 2
                if keys[middle] < code:
                    low = middle + 1
                else:
                    high = middle
            if low < len(keys) and keys[low] == code:
                index[y, x] = low
    blend = np.zeros((height, width), np.bool_)
    found = np.empty((2 * reach + 1) ** 2, np.int64)
    limit = tolerance * tolerance
    for y in range(height):
        for x in range(width):
            if uniform[y, x]:
                continue
            own, n = index[y, x], 0
            for yy in range(max(0, y - reach), min(height, y + reach + 1)):
                for xx in range(max(0, x - reach), min(width, x + reach + 1)):
                    k = index[yy, xx]
                    if k < 0 or k == own:
                        continue
                    seen = False
                    for m in range(n):
                        if found[m] == k:
                            seen = True
                            break
                    if not seen:
                        found[n] = k
                        n += 1
            for a in range(n):
                for b in range(a + 1, n):
                    along, length, away = 0.0, 0.0, 0.0
                    for c in range(3):
                        d = colours[found[b], c] - colours[found[a], c]
                        along += (image[y, x, c] - colours[found[a], c]) * d
                        length += d * d
                    t = along / length
                    if t < 0.0 or t > 1.0:
                        continue
                    for c in range(3):
                        off = image[y, x, c] - colours[found[a], c] \
                            - t * (colours[found[b], c] - colours[found[a], c])
                        away += off * off
                    if away <= limit:
                        blend[y, x] = True
                        break
                if blend[y, x]:
                    break
    return index, blend


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (float32) of RGB colours ``(n, 3)`` (0..255)."""
    return cv2.cvtColor(np.asarray(rgb, np.float32)[None] / 255.0, cv2.COLOR_RGB2Lab)[0]


def flat_map(image: np.ndarray, palette: np.ndarray, max_regions: int = 24,
             min_area: float = 0.002,
             progress: Callable[[float], None] | None = None) -> np.ndarray:
    """The regions of a flat-colour picture (``image``, ``(H, W, 3)`` uint8 RGB, whose flat
    colours are ``palette``, see :func:`flat_palette`): ``(H, W)`` uint8 ids, 0 the largest.

    At full size, each flat pixel (3 x 3 span at most 10 levels) within the tolerance of a
    palette colour seeds the connected area (8-connected) of its colour; the other pixels
    (antialiased and JPEG-ringing edges, strokes too thin to be flat) join, a step at a
    time from the areas outwards, the neighbouring area nearest in Lab colour, so an edge
    pixel goes to the closer of the two colours it blends. An area covering at least
    ``min_area`` of the picture is a region; the smaller ones of one colour (text glyphs,
    icons, specks) are one region together, whatever its size: a user repaints "the text",
    not each letter. Within ``max_regions``: the smallest areas join their colour's group
    first, then the least common colours join the nearest one in Lab colour.

    ``progress(fraction)`` is called after each full-size step (never with 1.0).
    """
    report = progress or (lambda fraction: None)
    lab_palette = _to_lab(palette)
    lookup = np.full(1 << 18, -1, np.int64)
    best = np.full(1 << 18, _FLAT_TOLERANCE + 2.0)
    for c, rgb in enumerate(palette):  # each colour bin: the palette colour within reach
        r, g, b = (np.abs(_CHANNEL_CENTRES - value) for value in rgb)  # keys: r << 12 | g << 6 | b
        distance = np.maximum(np.maximum(r[:, None, None], g[None, :, None]),
                              b[None, None, :]).ravel()
        closer = distance <= best
        lookup[closer], best[closer] = c, distance[closer]
    kernel = np.ones((3, 3), np.uint8)
    colour = _flat_colours(np.ascontiguousarray(image), cv2.dilate(image, kernel),
                           cv2.erode(image, kernel), lookup, _FLAT_RANGE)
    report(0.12)  # the fractions: each step's share of the time on a 12 MP chart
    return _colour_areas(image, colour, lab_palette, max_regions, min_area, report)


def _colour_areas(image: np.ndarray, colour: np.ndarray, lab_palette: np.ndarray,
                  max_regions: int, min_area: float, report: Callable[[float], None],
                  uniform: np.ndarray | None = None) -> np.ndarray:
    """The rest of :func:`flat_map` from each pixel's palette colour (``colour``, ``(H, W)``,
    -1 for none): its connected areas, grown over the other pixels, grouped into regions.

    With ``uniform`` (the pixels in 3 x 3 blocks of one exact colour: the exact path, see
    :func:`exact_palette`), areas of one colour parted by a strip at most 6 px wide (a grid
    line, a plotted line, a glyph's stroke) are one area, pieces of a colour under 4 px with
    no such block (blends of that colour by chance) are no seed, and thin areas (under a tenth
    of their seeds in such blocks: lines, borders, text) are never a region alone: each goes
    with its colour's group, so a plotted line cut by the lines crossing it is one region."""
    height, width = image.shape[:2]
    areas = np.full((height, width), -1, np.int32)
    area_colour, next_id = [], 0
    closing = np.ones((2 * _EXACT_GAP + 1, 2 * _EXACT_GAP + 1), np.uint8)
    for c in range(len(lab_palette)):
        mask = (colour == c).view(np.uint8)
        count, pieces = cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
        if uniform is not None and count > 1:
            pixels = np.bincount(pieces.ravel(), minlength=count)
            blocks = np.bincount(pieces[uniform], minlength=count)
            speck = (pixels < _EXACT_SPECK) & (blocks == 0)
            speck[0] = False
            if speck.any():
                mask[speck[pieces]] = 0
            if count > 2:  # each closed piece holds pixels of the colour: no empty id
                count, pieces = cv2.connectedComponents(
                    cv2.morphologyEx(mask, cv2.MORPH_CLOSE, closing), connectivity=8,
                    ltype=cv2.CV_32S)
                pieces[mask == 0] = 0
            elif speck.any():
                pieces[mask == 0] = 0
                count = int(pieces.max()) + 1
        np.add(pieces, next_id - 1, out=areas, where=pieces > 0)
        area_colour += [c] * (count - 1)
        next_id += count - 1
        report(0.12 + 0.5 * (c + 1) / len(lab_palette))
    if next_id == 0:  # no flat pixel at full size (never seen): one region
        return np.zeros((height, width), np.uint8)
    area_colour = np.array(area_colour, np.int64)
    _grow_areas(image, areas, lab_palette[area_colour])
    report(0.72)
    areas, area_colour = _join_touching(areas, area_colour)
    report(0.75)
    size = np.bincount(areas.ravel(), minlength=len(area_colour))
    group = _colour_groups(size, area_colour, lab_palette, max_regions)
    alone = size
    if uniform is not None:  # thin areas go with their colour's group
        seeds = np.bincount(areas[colour >= 0], minlength=len(area_colour))
        blocks = np.bincount(areas[uniform & (colour >= 0)], minlength=len(area_colour))
        alone = np.where(blocks < _EXACT_THIN * seeds, 0, size)
    region = _group_areas(alone, group, max_regions, min_area * areas.size)
    count = int(region.max()) + 1
    order = np.argsort(-np.bincount(region, size, count), kind="stable")
    rank = np.empty(count, np.uint8)
    rank[order] = np.arange(count)
    return rank[region][areas]


@cached_njit(nogil=True)
def _flat_colours(image, high, low, lookup, flat_range):
    """Each pixel's palette colour (``lookup`` by colour bin, see :func:`_colour_keys`), or -1
    where it is not flat (its 3 x 3 span, ``high - low``, over ``flat_range`` in a channel)."""
    height, width = image.shape[:2]
    colour = np.empty((height, width), np.int16)
    for y in range(height):
        for x in range(width):
            span = 0
            for c in range(3):
                span = max(span, int(high[y, x, c]) - int(low[y, x, c]))
            if span > flat_range:
                colour[y, x] = -1
            else:
                r, g, b = image[y, x, 0] >> _QUANT, image[y, x, 1] >> _QUANT, image[y, x, 2] >> _QUANT
                colour[y, x] = lookup[(int(r) << 12) | (int(g) << 6) | int(b)]
    return colour


def _grow_areas(image: np.ndarray, areas: np.ndarray, area_lab: np.ndarray,
                rounds: int = 16) -> None:
    """Give each pixel of ``areas`` at -1 (in place) an area: a step at a time, the pixels
    next to labelled ones (8 around) take the one whose Lab colour (``area_lab[id]``) is
    nearest their own; after ``rounds`` steps (a thick stroke of no palette colour), the rest
    take the nearest area in distance."""
    ys, xs = np.nonzero(areas < 0)
    if not len(ys) or len(ys) == areas.size:
        areas[areas < 0] = 0
        return
    colour = _to_lab(image[ys, xs])
    left = _grow_rounds(areas, ys.astype(np.int64), xs.astype(np.int64), colour,
                        np.ascontiguousarray(area_lab, np.float32), rounds)
    if not left:
        return
    ys, xs = np.nonzero(areas < 0)
    _, nearest = cv2.distanceTransformWithLabels((areas < 0).astype(np.uint8), cv2.DIST_L2, 3,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    labelled = areas >= 0
    by_label = np.zeros(int(nearest.max()) + 1, np.int32)
    by_label[nearest[labelled]] = areas[labelled]
    areas[ys, xs] = by_label[nearest[ys, xs]]


# _grow_areas and _join_touching run in numba: in numpy (8 gathers a step, a 2-pixel graph
# for scipy) they took most of the 1.2-1.5 s of a 12 MP chart (bench/README.md).

@cached_njit(nogil=True)
def _grow_rounds(areas, ys, xs, colour, area_lab, rounds):
    """:func:`_grow_areas`'s steps on the unlabelled pixels ``(ys, xs)`` (Lab ``colour``):
    each step reads the labels as they were before it (the 8 neighbours in a fixed order,
    clamped at the picture's border; the first nearest wins). Returns how many are left."""
    height, width = areas.shape
    count = len(ys)
    chosen = np.empty(count, np.int32)
    edge_ys, edge_xs, edge_colour = ys.copy(), xs.copy(), colour.copy()
    for _ in range(rounds):
        if count == 0:
            break
        reached = 0
        for i in range(count):
            y, x = ys[i], xs[i]
            best, best_distance = -1, np.float32(np.inf)
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    if dy == 0 and dx == 0:
                        continue
                    candidate = areas[min(max(y + dy, 0), height - 1),
                                      min(max(x + dx, 0), width - 1)]
                    if candidate < 0:
                        continue
                    d0 = area_lab[candidate, 0] - colour[i, 0]
                    d1 = area_lab[candidate, 1] - colour[i, 1]
                    d2 = area_lab[candidate, 2] - colour[i, 2]
                    distance = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
                    if distance < best_distance:
                        best, best_distance = candidate, distance
            chosen[i] = best
            if best >= 0:
                reached += 1
        if reached == 0:
            break
        kept = 0
        for i in range(count):  # write this step's labels, keep the pixels still unlabelled
            if chosen[i] >= 0:
                areas[ys[i], xs[i]] = chosen[i]
            else:
                ys[kept], xs[kept] = ys[i], xs[i]
                colour[kept] = colour[i]
                kept += 1
        count = kept
    if count == 0:
        _settle_edges(areas, edge_ys, edge_xs, edge_colour, area_lab, rounds)
    return count


@cached_njit(nogil=True)
def _settle_edges(areas, ys, xs, colour, area_lab, rounds):
    """Let each grown pixel ``(ys, xs)`` take, of its own area and those of its 8 neighbours,
    the one nearest its Lab ``colour``, all at once, until none changes (at most ``rounds``
    times). The steps meet in the middle of an edge's band of blended pixels, which lies off
    the edge where one side fades out further (a 4 % blend went to the bar); settling moves
    the boundary to where the blend is half-way."""
    height, width = areas.shape
    count = len(ys)
    chosen = np.empty(count, np.int32)
    for _ in range(rounds):
        changed = 0
        for i in range(count):
            y, x = ys[i], xs[i]
            best = areas[y, x]
            d0 = area_lab[best, 0] - colour[i, 0]
            d1 = area_lab[best, 1] - colour[i, 1]
            d2 = area_lab[best, 2] - colour[i, 2]
            best_distance = d0 * d0 + d1 * d1 + d2 * d2
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    yy, xx = y + dy, x + dx
                    if (dy == 0 and dx == 0) or yy < 0 or yy >= height or xx < 0 or xx >= width:
                        continue
                    candidate = areas[yy, xx]
                    d0 = area_lab[candidate, 0] - colour[i, 0]
                    d1 = area_lab[candidate, 1] - colour[i, 1]
                    d2 = area_lab[candidate, 2] - colour[i, 2]
                    distance = d0 * d0 + d1 * d1 + d2 * d2
                    if distance < best_distance:
                        best, best_distance = candidate, distance
            chosen[i] = best
        for i in range(count):
            if areas[ys[i], xs[i]] != chosen[i]:
                areas[ys[i], xs[i]] = chosen[i]
                changed += 1
        if changed == 0:
            break


@cached_njit(nogil=True)
def _touching_roots(areas, area_colour):
    """Each area's component among the areas of one colour that touch (4 around): ids from 0
    in the order of each component's lowest area id (union-find, the lowest id the root)."""
    height, width = areas.shape
    parent = np.arange(len(area_colour))
    for y in range(height):
        for x in range(width):
            a = areas[y, x]
            for other in ((areas[y, x + 1] if x + 1 < width else a),
                          (areas[y + 1, x] if y + 1 < height else a)):
                if other == a or area_colour[other] != area_colour[a]:
                    continue
                ra, rb = a, other
                while parent[ra] != ra:
                    parent[ra] = parent[parent[ra]]
                    ra = parent[ra]
                while parent[rb] != rb:
                    parent[rb] = parent[parent[rb]]
                    rb = parent[rb]
                if ra < rb:
                    parent[rb] = ra
                elif rb < ra:
                    parent[ra] = rb
    root = np.empty(len(parent), np.int32)
    count = 0
    for i in range(len(parent)):  # a root is its component's lowest id: seen first
        if parent[i] == i:
            root[i] = count
            count += 1
        else:
            root[i] = root[parent[i]]  # parent[i] < i: numbered already
    return root


def _join_touching(areas: np.ndarray, area_colour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``areas`` (``(H, W)`` ids) with the areas of one colour (``area_colour[id]``) that touch
    (4 around) made one (JPEG's ringing cuts flat islands off an area's edge), renumbered
    from 0, and the colour of each new id."""
    root = _touching_roots(areas, area_colour)
    if int(root[-1]) == len(area_colour) - 1:  # nothing joined
        return areas, area_colour
    colour = np.zeros(int(root.max()) + 1, np.int64)
    colour[root] = area_colour
    return root[areas], colour


def _colour_groups(size: np.ndarray, area_colour: np.ndarray, lab_palette: np.ndarray,
                   max_regions: int) -> np.ndarray:
    """Each area's colour group: its palette colour, the least common colours (by area)
    joining the nearest in Lab until at most ``max_regions`` groups remain."""
    k = len(lab_palette)
    target = np.arange(k)
    weight = np.bincount(area_colour, size, k)
    alive = weight > 0
    while alive.sum() > max_regions:
        live = np.flatnonzero(alive)
        least = live[np.argmin(weight[live])]
        others = live[live != least]
        into = others[np.argmin(np.linalg.norm(lab_palette[others] - lab_palette[least], axis=1))]
        target[target == least] = into
        weight[into] += weight[least]
        alive[least] = False
    return target[area_colour]


def _group_areas(size: np.ndarray, group: np.ndarray, max_regions: int,
                 smallest: float) -> np.ndarray:
    """Regions of the areas (``size`` pixels, colour ``group``): the largest ``n`` areas of at
    least ``smallest`` pixels each one region, the rest of each group one region, ``n`` the
    most that keeps within ``max_regions``. Returns each area's region (ids from 0)."""
    order = np.argsort(-size, kind="stable")
    groups = np.unique(group, return_inverse=True)[1]
    position = np.empty(len(size), np.int64)
    position[order] = np.arange(len(size))
    last = np.zeros(groups.max() + 1, np.int64)
    np.maximum.at(last, groups, position)
    large = int((size >= smallest).sum())
    own = 0
    for n in range(large + 1):  # n areas alone, plus the groups with an area left over
        if n + int((last >= n).sum()) <= max_regions:
            own = n
    region = np.where(position < own, position, own + groups)
    return np.unique(region, return_inverse=True)[1]


def warm_up() -> None:
    """Compile (or load from numba's cache) the merging and flat-graphics kernels with tiny
    runs, so the first map a user asks for neither waits for them nor holds the GIL while
    they load. Safe to call from a background thread at start-up."""
    ramp = np.linspace(0, 255, 32, dtype=np.float32).astype(np.uint8)
    region_map(np.dstack([np.tile(ramp, (32, 1)), np.tile(ramp[:, None], (1, 32)),
                          np.full((32, 32), 90, np.uint8)]), segments=16)
    flat = np.full((32, 32, 3), 250, np.uint8)  # and the flat path's kernels: two flat
    flat[:, :15], flat[:, 15] = (40, 60, 200), (145, 155, 225)  # colours, a soft edge
    region_map(flat)
    flat[:, :15], flat[:, 15] = 235, 0  # and the exact path's: close greys, a thin line
    region_map(flat)


def _merge_superpixels(superpixels: np.ndarray, lab: np.ndarray, max_regions: int,
                       threshold: float, min_area: float) -> tuple[np.ndarray, np.ndarray]:
    """Regions of SLIC ``superpixels`` (``(h, w)`` int ids from 0) of a picture whose CIE Lab
    colours are ``lab`` (``(h, w, 3)`` float32): ``(h, w)`` uint8 ids 0..n-1, 0 the largest,
    and their ``(n, 3)`` float32 mean Lab colours (options: see :func:`region_map`)."""
    count = int(superpixels.max()) + 1
    flat = superpixels.ravel()
    area = np.bincount(flat, minlength=count).astype(np.float64)
    colour = np.stack([np.bincount(flat, lab[..., c].ravel(), count) for c in range(3)], axis=1)
    low, high, total, pixels = _boundaries(superpixels, lab, count)
    region = _merge_regions(area, colour, low, high, total, pixels, float(threshold),
                            int(max_regions), float(min_area * superpixels.size))
    survivors = np.flatnonzero((region == np.arange(count)) & (area > 0))
    survivors = survivors[np.argsort(-area[survivors], kind="stable")]  # 0 the largest
    new_id = np.zeros(count, np.uint8)
    new_id[survivors] = np.arange(len(survivors))
    means = (colour[survivors] / area[survivors, None]).astype(np.float32)
    return new_id[region][superpixels], means


def _snap_boundaries(image: np.ndarray, labels: np.ndarray, means: np.ndarray,
                     reach: int, chunk: int = 1 << 18,
                     progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Sharpen an upscaled map: each full-resolution pixel within ``reach`` of a boundary
    takes the label, among those ``reach`` pixels around it, whose mean Lab colour
    (``means[id]``) is closest to its own. ``progress(fraction)`` follows the ``chunk``s of
    boundary pixels done."""
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
        if progress is not None:
            progress((start + len(y)) / len(ys))
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

        def step(fraction: float, text: str) -> None:  # a cancelled run stops between steps
            cancel.raise_if_cancelled()
            if progress:
                progress(fraction, text)

        settings = {k: self.options[k] for k in self._SETTINGS if self.options.get(k) is not None}
        labels = region_map(image, **settings, progress=step)
        cancel.raise_if_cancelled()
        if progress:
            progress(1.0, f"{int(labels.max()) + 1} labels")
        return labels
