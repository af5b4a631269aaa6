"""Numba kernels of guided PatchMatch: nearest-neighbour field search and patch voting.

Array contracts shared by every kernel (``h, w``: target image; ``ha, wa``: source atlas):

* the target side lives in a window around the hole (:class:`~.window.Window`): pixel
  ``(y, x)`` of it is at flat position ``offset[y] + x`` (``offset``: int64 ``(h,)``, see
  :attr:`Window.offset`; ``w`` the image width); it covers every pixel within ``2 * r`` of
  the hole, all that the kernels read there;
* ``image``: ``(size * 3,)`` float32, the current estimate at the window pixels, RGB
  interleaved;
* ``atlas``: ``(ha, wa * 3)`` uint8, the sources (the region, then the exemplars);
* ``valid``: ``(ha, wa)`` uint8, 1 where a patch centred there is a usable source (the whole
  patch lies on usable pixels of one atlas piece);
* ``ty, tx``: ``(n,)`` int32 target patch centres, sorted row-major; ``index``: ``(size,)``
  int32 target number of a window pixel or -1; ``bands``: int64 starts of row bands in the
  target list (last entry ``n``);
* ``nnf_y, nnf_x``: ``(n,)`` int32 atlas centre matched to each target; ``cost``: ``(n,)``
  float32 distance of that match;
* guidance: ``centre_label`` ``(n,)`` int16 (-1 = any source), ``target_labels`` ``(size,)``
  and ``atlas_labels`` ``(ha, wa)`` int16 (-1 = unconstrained / wildcard; wildcards that
  may serve only some labels carry a label of their own, ``levels.WILDCARD_LABEL``),
  ``label_weight`` the cost of one mismatched pixel; ``target_structure``, ``structure_weight`` ``(size,)``
  and ``atlas_structure`` ``(ha, wa)`` float32 in ``[0, 1]``, ``sketch_weight`` their scale.
  Unused guidance is passed as one-element arrays with its flag off.

The small helpers are inlined into their callers at numba's level (``inline="always"``):
passing a dozen arrays to a function call cost more than the work it did. The scans and the
voting take a range of bands (or of hole pixels) so that a caller can check for
cancellation between calls: :func:`cost_bands` and :func:`scan_bands` run on all numba
threads, :func:`vote` too; the ``*_serial`` twins, for small levels, on the calling thread.
Randomness comes from a counter-based hash of (seed, iteration, target, draw), so a run is
deterministic whatever the thread count. Bands of rows are processed in two phases (even
bands in parallel, then odd ones): propagation reads a neighbouring band only while that
band is idle, which keeps parallel runs deterministic too, and bands of one phase may be
scanned in any grouping.
"""

from __future__ import annotations

import types

import numpy as np
from numba import prange

from engines.jit import cached_njit

_MASK32 = 0xFFFFFFFF



@cached_njit(nogil=True, inline='always')
def mul32(x, constant):
    """``(x * constant) mod 2**32`` for ``x, constant < 2**32`` without int64 overflow."""
    low = x * (constant & 0xFFFF)
    high = ((x * (constant >> 16)) & 0xFFFF) << 16
    return (low + high) & _MASK32


@cached_njit(nogil=True, inline='always')
def hash32(value):
    """A 32-bit integer mix (lowbias32) of a non-negative int64; returns an int64 < 2**32."""
    x = value & _MASK32
    x ^= x >> 16
    x = mul32(x, 0x7FEB352D)
    x ^= x >> 15
    x = mul32(x, 0x846CA68B)
    x ^= x >> 16
    return x


@cached_njit(nogil=True, inline='always')
def random_offset(seed, iteration, target, draw, radius):
    """A deterministic integer in ``[-radius, radius]``."""
    h = hash32(seed ^ hash32(iteration * 0x9E3779B1 + hash32(target * 64 + draw)))
    return h % (2 * radius + 1) - radius


@cached_njit(nogil=True, inline='always')
def load_patch(image, offset, w, ty, tx, r, patch):
    """Copy the target patch at (ty, tx) into ``patch`` ``(2r+1, (2r+1)*3)``, borders clamped."""
    h = offset.shape[0]
    if r <= ty < h - r and r <= tx < w - r:  # inside: whole rows, no clamping
        width = patch.shape[1]
        for dy in range(2 * r + 1):
            y = ty - r + dy
            first = (offset[y] + tx - r) * 3
            source = image[first:first + width]
            target = patch[dy]
            for k in range(width):
                target[k] = source[k]
        return
    for dy in range(-r, r + 1):
        y = min(max(ty + dy, 0), h - 1)
        row = offset[y]
        for dx in range(-r, r + 1):
            x = (row + min(max(tx + dx, 0), w - 1)) * 3
            k = (dx + r) * 3
            patch[dy + r, k] = image[x]
            patch[dy + r, k + 1] = image[x + 1]
            patch[dy + r, k + 2] = image[x + 2]


@cached_njit(nogil=True, fastmath=True, inline='always')
def guidance_cost(ty, tx, sy, sx, r, offset, w, use_labels, target_labels, atlas_labels,
                  label_weight, use_structure, target_structure, structure_weight,
                  atlas_structure, sketch_weight):
    """The label and structure terms of the distance (0 when both are off)."""
    total = 0.0
    if not (use_labels or use_structure):
        return total
    h = offset.shape[0]
    for dy in range(-r, r + 1):
        yy = min(max(ty + dy, 0), h - 1)
        row = offset[yy]
        for dx in range(-r, r + 1):
            p = row + min(max(tx + dx, 0), w - 1)
            if use_labels:
                wanted = target_labels[p]
                if wanted >= 0:
                    got = atlas_labels[sy + dy, sx + dx]
                    if got >= 0 and got != wanted:
                        total += label_weight
            if use_structure:
                weight = structure_weight[p]
                if weight > 0.0:
                    d = target_structure[p] - atlas_structure[sy + dy, sx + dx]
                    total += sketch_weight * weight * d * d
    return total


@cached_njit(nogil=True, fastmath=True, inline='always')
def patch_cost(patch, atlas, ty, tx, sy, sx, r, best, offset, w, use_labels,
               target_labels, atlas_labels, label_weight, use_structure, target_structure,
               structure_weight, atlas_structure, sketch_weight):
    """Distance between the target patch ``patch`` (loaded from (ty, tx)) and atlas (sy, sx).

    Sum of squared RGB differences (target pixels outside the image repeat its border), plus
    the label and structure terms when enabled. Stops early and returns a value ``>= best``
    as soon as the partial sum reaches ``best``.
    """
    total = guidance_cost(ty, tx, sy, sx, r, offset, w, use_labels, target_labels,
                          atlas_labels, label_weight, use_structure, target_structure,
                          structure_weight, atlas_structure, sketch_weight)
    if total >= best:
        return total
    width = (2 * r + 1) * 3
    first = (sx - r) * 3
    for dy in range(2 * r + 1):
        # a slice indexed from 0: numba then skips its negative-index wraparound test,
        # which alone made this loop over twice as slow
        source_row = atlas[sy - r + dy, first:first + width]
        target_row = patch[dy]
        row = np.float32(0.0)
        for k in range(width):
            d = target_row[k] - np.float32(source_row[k])
            row += d * d
        total += row
        if total >= best:
            return total
    return total


@cached_njit(nogil=True, inline='always')
def acceptable(valid, atlas_labels, use_labels, wanted, sy, sx):
    """Whether atlas centre (sy, sx) may be matched to a target whose centre label is wanted."""
    if sy < 0 or sx < 0 or sy >= valid.shape[0] or sx >= valid.shape[1]:
        return False
    if valid[sy, sx] == 0:
        return False
    if use_labels and wanted >= 0:
        got = atlas_labels[sy, sx]
        if got >= 0 and got != wanted:
            return False
    return True


@cached_njit(nogil=True, fastmath=True)
def _improve_one(i, backward, iteration, seed, patch, atlas, valid, ty, tx, centre_label,
                 offset, w, index, nnf_y, nnf_x, cost, r, search_radius, use_labels,
                 target_labels, atlas_labels, label_weight, use_structure, target_structure,
                 structure_weight, atlas_structure, sketch_weight):
    """Propagation from two scan neighbours, then random search, for target ``i``.

    ``patch`` must hold target ``i``'s patch (see :func:`load_patch`).
    """
    h = offset.shape[0]
    y = ty[i]
    x = tx[i]
    wanted = centre_label[i]
    best_y = nnf_y[i]
    best_x = nnf_x[i]
    best = cost[i]
    step = 1 if backward else -1
    for axis in range(2):
        ny = y + step if axis == 0 else y
        nx = x + step if axis == 1 else x
        if ny < 0 or nx < 0 or ny >= h or nx >= w:
            continue
        j = index[offset[ny] + nx]  # a neighbour of a target is in the window
        if j < 0:
            continue
        cy = nnf_y[j] - (ny - y)
        cx = nnf_x[j] - (nx - x)
        if (cy == best_y and cx == best_x) or not acceptable(valid, atlas_labels, use_labels,
                                                             wanted, cy, cx):
            continue
        c = patch_cost(patch, atlas, y, x, cy, cx, r, best, offset, w, use_labels,
                       target_labels, atlas_labels, label_weight, use_structure,
                       target_structure, structure_weight, atlas_structure, sketch_weight)
        if c < best:
            best, best_y, best_x = c, cy, cx
    radius = search_radius[i]
    draw = 0
    while radius >= 1:
        cy = best_y + random_offset(seed, iteration, i, draw, radius)
        cx = best_x + random_offset(seed, iteration, i, draw + 1, radius)
        draw += 2
        if acceptable(valid, atlas_labels, use_labels, wanted, cy, cx):
            c = patch_cost(patch, atlas, y, x, cy, cx, r, best, offset, w, use_labels,
                           target_labels, atlas_labels, label_weight, use_structure,
                           target_structure, structure_weight, atlas_structure,
                           sketch_weight)
            if c < best:
                best, best_y, best_x = c, cy, cx
        radius //= 2
    nnf_y[i] = best_y
    nnf_x[i] = best_x
    cost[i] = best


def _cost_bands(image, offset, w, atlas, ty, tx, bands, first_band, end_band, nnf_y,
                nnf_x, cost, r, use_labels, target_labels, atlas_labels, label_weight,
                use_structure, target_structure, structure_weight, atlas_structure,
                sketch_weight):
    """Recompute the costs of the current matches of the targets in bands
    ``[first_band, end_band)``. Updates ``cost`` in place."""
    side = 2 * r + 1
    for k in prange(end_band - first_band):
        band = first_band + k
        patch = np.empty((side, side * 3), np.float32)
        for i in range(bands[band], bands[band + 1]):
            load_patch(image, offset, w, ty[i], tx[i], r, patch)
            cost[i] = patch_cost(patch, atlas, ty[i], tx[i], nnf_y[i], nnf_x[i], r,
                                 np.inf, offset, w, use_labels, target_labels,
                                 atlas_labels, label_weight, use_structure, target_structure,
                                 structure_weight, atlas_structure, sketch_weight)


def _scan_bands(image, offset, w, atlas, valid, ty, tx, centre_label, index, bands,
                first_band, end_band, parity, nnf_y, nnf_x, cost, r, iteration,
                search_radius, seed, use_labels, target_labels, atlas_labels, label_weight,
                use_structure, target_structure, structure_weight, atlas_structure,
                sketch_weight):
    """One phase of PatchMatch scan ``iteration`` over the bands of ``parity`` (0: even
    bands, 1: odd ones) in ``[first_band, end_band)``.

    A scan is forward or backward by the parity of ``iteration``; each target takes good
    matches from its scan neighbours and tries ``log2(search_radius[i])`` random candidates
    around its current best (``search_radius``: int32 ``(n,)``). A whole scan is both
    phases over all bands, even ones first. Updates ``nnf_y``, ``nnf_x`` and ``cost``.
    """
    backward = iteration % 2 == 1
    side = 2 * r + 1
    first = first_band + (first_band + parity) % 2
    for half in prange(max(end_band - first + 1, 0) // 2):
        band = first + 2 * half
        lo = bands[band]
        hi = bands[band + 1]
        patch = np.empty((side, side * 3), np.float32)
        for step in range(hi - lo):
            i = hi - 1 - step if backward else lo + step
            load_patch(image, offset, w, ty[i], tx[i], r, patch)
            _improve_one(i, backward, iteration, seed, patch, atlas, valid, ty, tx,
                         centre_label, offset, w, index, nnf_y, nnf_x, cost, r,
                         search_radius, use_labels, target_labels, atlas_labels,
                         label_weight, use_structure, target_structure, structure_weight,
                         atlas_structure, sketch_weight)


def _vote(out, offset, w, atlas, hole_y, hole_x, first, end, index, nnf_y, nnf_x,
          weight, r, use_labels, target_labels, atlas_labels):
    """Weighted patch voting: each hole pixel becomes the weighted mean of its votes.

    ``out`` is the ``(size * 3,)`` float32 estimate, written at the hole pixels
    ``(hole_y, hole_x)[first:end]``; every target patch covering a pixel votes the atlas
    colour its match puts there, with the target's ``weight``. With labels, votes whose
    source pixel carries another label than the hole pixel are ignored unless no other vote
    exists.
    """
    h = offset.shape[0]
    for k in prange(end - first):
        y = hole_y[first + k]
        x = hole_x[first + k]
        here = offset[y] + x
        wanted = target_labels[here] if use_labels else -1
        for attempt in range(2):
            filtered = wanted >= 0 and attempt == 0
            red = 0.0
            green = 0.0
            blue = 0.0
            total = 0.0
            for dy in range(-r, r + 1):
                cy = y - dy
                if cy < 0 or cy >= h:
                    continue
                row = offset[cy]
                for dx in range(-r, r + 1):
                    cx = x - dx
                    if cx < 0 or cx >= w:
                        continue
                    j = index[row + cx]
                    if j < 0:
                        continue
                    sy = nnf_y[j] + dy
                    sx = nnf_x[j] + dx
                    if filtered:
                        got = atlas_labels[sy, sx]
                        if got >= 0 and got != wanted:
                            continue
                    wj = weight[j]
                    red += wj * np.float32(atlas[sy, 3 * sx])
                    green += wj * np.float32(atlas[sy, 3 * sx + 1])
                    blue += wj * np.float32(atlas[sy, 3 * sx + 2])
                    total += wj
            if total > 0.0:
                out[3 * here] = red / total
                out[3 * here + 1] = green / total
                out[3 * here + 2] = blue / total
                break


def _named(function, name: str):
    """A copy of ``function`` under another name: numba caches compiled code per name."""
    copy = types.FunctionType(function.__code__, function.__globals__, name,
                              function.__defaults__, function.__closure__)
    copy.__qualname__ = name
    copy.__doc__ = function.__doc__
    return copy


_PARALLEL = {"nogil": True, "fastmath": True, "parallel": True}
_SERIAL = {"nogil": True, "fastmath": True}
cost_bands = cached_njit(**_PARALLEL)(_named(_cost_bands, "cost_bands"))
scan_bands = cached_njit(**_PARALLEL)(_named(_scan_bands, "scan_bands"))
vote = cached_njit(**_PARALLEL)(_named(_vote, "vote"))
# small levels: waking threads would cost more than the work
cost_bands_serial = cached_njit(**_SERIAL)(_named(_cost_bands, "cost_bands_serial"))
scan_bands_serial = cached_njit(**_SERIAL)(_named(_scan_bands, "scan_bands_serial"))
vote_serial = cached_njit(**_SERIAL)(_named(_vote, "vote_serial"))


@cached_njit(nogil=True, inline='always')
def _root(parent, i):
    """The root of ``i`` in the union-find forest ``parent`` (path halving)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@cached_njit(nogil=True)
def seeded_components(count, first, second, seeded):
    """Components ``0 .. count - 1`` joined pairwise (``first[k]`` with ``second[k]``,
    int64): for each, whether its union holds a ``seeded`` one (bool ``(count,)``); bool
    ``(count,)``. Canny's hysteresis across bands of rows (``levels._canny``)."""
    parent = np.arange(count)
    for k in range(first.shape[0]):
        a = _root(parent, first[k])
        b = _root(parent, second[k])
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
    found = np.zeros(count, np.bool_)
    for i in range(count):
        if seeded[i]:
            found[_root(parent, i)] = True
    kept = np.empty(count, np.bool_)
    for i in range(count):
        kept[i] = found[_root(parent, i)]
    return kept
