"""Qt-free raster operations on single-channel layers (masks, sketches, label maps).

Layers are ``uint8`` ``(H, W)`` arrays. Every function that draws into a layer returns the
:class:`~engines.region.Box` it may have changed, so callers can record undo and repaint only
that area. Masks use 255 = hole, 0 = known; values in between are a feathered edge.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from engines.base import CancelToken
from engines.region import Box


def segment_box(p0: tuple[float, float], p1: tuple[float, float], radius: float,
                shape: tuple[int, ...]) -> Box | None:
    """The box a round brush of ``radius`` covers along ``p0``-``p1`` (x, y), clipped."""
    r = int(np.ceil(radius)) + 1
    left = int(np.floor(min(p0[0], p1[0]))) - r
    right = int(np.ceil(max(p0[0], p1[0]))) + r + 1
    top = int(np.floor(min(p0[1], p1[1]))) - r
    bottom = int(np.ceil(max(p0[1], p1[1]))) + r + 1
    height, width = shape[:2]
    box = Box(max(top, 0), max(left, 0), min(bottom, height), min(right, width))
    return box if box.height > 0 and box.width > 0 else None


# below this radius (px) brushes are drawn exactly, pixel centres within the radius: OpenCV's
# sub-pixel circles are off by a pixel on one side, which shows on thin brushes only
EXACT_BELOW = 4.0
# the thinnest exact brush: half a pixel's diagonal, so a stroke never has gaps and a click
# anywhere in a pixel paints at least that pixel
_THINNEST = 0.5 ** 0.5


def _draw_capsule(layer: np.ndarray, box: Box, p0: tuple[float, float],
                  p1: tuple[float, float], radius: float, value: int | tuple[int, ...]) -> None:
    """Set the pixels of ``box`` whose centres lie within ``radius`` of segment p0-p1."""
    ys = np.arange(box.top, box.bottom, dtype=np.float32)[:, None]
    xs = np.arange(box.left, box.right, dtype=np.float32)[None, :]
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0, 1) if length2 > 0 else 0.0
    ex, ey = xs - (x0 + t * dx), ys - (y0 + t * dy)
    reach = max(radius, _THINNEST) + 1e-4
    layer[box.slices][ex * ex + ey * ey <= reach * reach] = value


def draw_segment(layer: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
                 radius: float, value: int | tuple[int, ...]) -> Box | None:
    """Stamp a round brush of ``radius`` pixels along ``p0``-``p1`` (x, y) with ``value``.

    Whole coordinates are pixel centres. Hard-edged (no anti-aliasing) so masks stay binary
    and label ids stay exact. Works on ``(H, W)`` and ``(H, W, C)`` uint8 arrays in place;
    returns the changed box or ``None``.
    """
    box = segment_box(p0, p1, radius, layer.shape)
    if box is None:
        return None
    if radius < EXACT_BELOW:
        _draw_capsule(layer, box, p0, p1, radius, value)
        return box
    shift = 4  # sub-pixel precision: coordinates in 1/16 px
    scale = 1 << shift
    a = (round(p0[0] * scale), round(p0[1] * scale))
    b = (round(p1[0] * scale), round(p1[1] * scale))
    colour = value if isinstance(value, tuple) else (int(value),) * (
        layer.shape[2] if layer.ndim == 3 else 1)
    r = max(0, round(radius * scale))
    cv2.circle(layer, a, r, colour, -1, cv2.LINE_8, shift)
    if a != b:
        cv2.circle(layer, b, r, colour, -1, cv2.LINE_8, shift)
        thickness = max(1, round(2 * radius))
        cv2.line(layer, a, b, colour, thickness, cv2.LINE_8, shift)
    return box


_NUMPY_COMPARE = {cv2.CMP_EQ: np.equal, cv2.CMP_NE: np.not_equal, cv2.CMP_LT: np.less,
                  cv2.CMP_LE: np.less_equal, cv2.CMP_GT: np.greater,
                  cv2.CMP_GE: np.greater_equal}


def compare(array: np.ndarray, value: int, op: int,
            dst: np.ndarray | None = None) -> np.ndarray:
    """``cv2.compare(array, value, op, dst)`` of a single-channel ``array`` with a scalar:
    uint8, 255 where the comparison holds, else 0, in ``dst`` (same shape, uint8) when
    given. Numpy for a one-element (or empty) array, which OpenCV 5's compare with a scalar
    refuses ("Sizes of input arguments do not match")."""
    if array.size > 1:
        return cv2.compare(array, value, op, dst=dst)
    out = np.empty(array.shape, np.uint8) if dst is None else dst
    out[...] = np.where(_NUMPY_COMPARE[op](array, value), 255, 0)
    return out


def box_at_least(array: np.ndarray, level: int) -> Box | None:
    """The bounding box of the pixels of the 2-D uint8 ``array`` that are ``>= level``, None
    when there are none (from its row and column maxima: no temporary of its size)."""
    rows = np.flatnonzero(array.max(axis=1) >= level)
    if rows.size == 0:
        return None
    cols = np.flatnonzero(array[rows[0]:rows[-1] + 1].max(axis=0) >= level)
    return Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def _segments_are_cheaper(levels: int, radius: int) -> bool:
    """Whether the disc's row segments (cost growing as ``radius``) beat one distance
    transform per distinct value (``levels``) on the same pixels. Both give the same result;
    the figure is a measured ratio (bench/maskops.py), not a contract: a hard mask (one
    level) takes the distance transform from a radius of about 80 px."""
    return radius < 80 * levels


def _widened(source: np.ndarray, target: np.ndarray, step: int) -> None:
    """``target[:, x] = max(source[:, x - step], source[:, x + step])``, each column index
    clamped to the array. Where ``source`` holds each row's largest value within ``w`` columns
    (the row's ends limiting) and ``step <= w``, ``target`` holds it within ``w + step``:
    the two windows cover the wider one, and a clamped one stays inside it."""
    width = source.shape[1]
    if 2 * step < width:
        cv2.max(source[:, :width - 2 * step], source[:, 2 * step:],
                dst=target[:, step:width - step])
        np.maximum(source[:, step:2 * step], source[:, :1], out=target[:, :step])
        np.maximum(source[:, width - 2 * step:width - step], source[:, width - 1:],
                   out=target[:, width - step:])
    else:  # a narrow layer against a wide disc
        columns = np.arange(width)
        np.maximum(source[:, np.clip(columns - step, 0, width - 1)],
                   source[:, np.clip(columns + step, 0, width - 1)], out=target)


def _segments_dilated(layer: np.ndarray, radius: int,
                      cancel: CancelToken | None) -> np.ndarray:
    """``cv2.dilate`` of ``layer`` by the disc of ``radius`` (outside counts as 0), the disc
    taken as its rows: the row ``dy`` away from the centre is a segment of half-width
    ``isqrt(radius² - dy²)``. Each row's largest values within a half-width are widened
    step by step from 0 to ``radius`` (one ``cv2.max`` of two shifted views a step, the step
    at most the half-width so far), and at each half-width the rows whose segment it is are
    maxed into the result, shifted by their ``dy``: about ``2.6 * radius`` passes over the
    layer's rows that hold a value, whatever the number of distinct values. ``cancel`` is
    checked before each widening step and each row of the disc (two passes at most)."""
    height, width = layer.shape
    out = np.zeros_like(layer)
    x, y, w, h = cv2.boundingRect(layer)  # only these rows hold a value
    if w == 0:
        return out
    left, right = max(x - radius, 0), min(x + w + radius, width)  # all that can be reached
    target = out[:, left:right]
    source = layer[y:y + h, left:right]  # read only: the widened rows go to two buffers
    spare, other = np.empty(source.shape, np.uint8), np.empty(source.shape, np.uint8)
    reach = 0  # ``source`` holds each row's largest value within ``reach`` columns
    for dy in range(radius, -1, -1):  # the half-widths ascending
        half = math.isqrt(radius * radius - dy * dy)
        while reach < half:
            if cancel is not None:
                cancel.raise_if_cancelled()
            step = min(half - reach, reach) if reach else 1
            _widened(source, spare, step)
            if not reach:  # from single pixels: the pixel itself too
                cv2.max(spare, source, dst=spare)
            source, spare, other = spare, other, spare  # the next step writes the other
            reach += step
        if cancel is not None:
            cancel.raise_if_cancelled()
        for shift in (dy, -dy) if dy else (0,):
            # result row Y takes layer row Y + shift, so ``source`` row i goes to y + i - shift
            top = y - shift
            first, last = max(top, 0), min(top + h, height)
            if first < last:
                rows = target[first:last]
                cv2.max(rows, source[first - top:last - top], dst=rows)
    return out


def _distance_dilated(layer: np.ndarray, values: np.ndarray, radius: int,
                      cancel: CancelToken | None) -> np.ndarray:
    """The dilation of :func:`_dilated` from one exact distance transform per distinct value
    (``values``, the nonzero ones, ascending): a value v reaches a pixel when the pixel lies
    within ``radius`` of the set of values >= v. ``cancel`` is checked before each."""
    out = np.zeros_like(layer)
    for value in values:  # ascending: each set holds the next, so later values win
        if cancel is not None:
            cancel.raise_if_cancelled()
        # 1 where the set is (numpy: OpenCV 5's compare with a scalar refuses a 1x1 array)
        reached = np.greater_equal(layer, value).view(np.uint8)
        x, y, width, height = cv2.boundingRect(reached)
        box = Box(y, x, y + height, x + width).grown(radius + 1).clip(layer.shape)
        outside = np.equal(reached[box.slices], 0).view(np.uint8)
        distance = cv2.distanceTransform(outside, cv2.DIST_L2,
                                         cv2.DIST_MASK_PRECISE)  # exact, to the set's pixels
        out[box.slices][distance <= radius] = value
    return out


def _dilated(layer: np.ndarray, radius: int, method: str | None = None,
             cancel: CancelToken | None = None) -> np.ndarray:
    """Each pixel of ``layer`` set to the largest value within ``radius`` of it (Euclidean:
    dx² + dy² <= radius²); outside the array counts as 0. ``method`` (``"distance"`` or
    ``"segments"``; default: the cheaper, see :func:`_segments_are_cheaper`) is for tests:
    both give the same result, bit for bit. ``cancel`` is checked between distance
    transforms (or the segments' steps): once cancelled, raises
    :class:`~engines.base.Cancelled`.

    One exact distance transform per distinct value takes linear time at any radius, so a
    hard mask (0 and 255) takes one; the disc's row segments (:func:`_segments_dilated`)
    take time growing with the radius but not with the number of values (a feathered mask
    holds hundreds)."""
    # how many pixels hold each value (float32 counts, exact in being nonzero; no temporary
    # of the layer's size, as np.bincount's int64 copy would be)
    counts = cv2.calcHist([layer], [0], None, [256], [0, 256]).ravel()
    values = np.flatnonzero(counts[1:]) + 1
    if method is None:
        method = "segments" if _segments_are_cheaper(len(values), radius) else "distance"
    if method == "segments":
        return _segments_dilated(layer, radius, cancel)
    if method != "distance":
        raise ValueError(f"method is 'distance' or 'segments', not {method!r}")
    return _distance_dilated(layer, values, radius, cancel)


def grow(mask: np.ndarray, pixels: int, *, method: str | None = None,
         cancel: CancelToken | None = None) -> np.ndarray:
    """The mask dilated by ``pixels`` (a disc), as a new array: each pixel takes the largest
    value within ``pixels`` of it (dx² + dy² <= pixels²), so a hard hole grows by a disc and
    a soft edge moves outward keeping its values. Outside the picture counts as known (0).

    The time grows with the hole's box plus ``pixels``, not with the picture: a hard mask
    takes one distance transform (hardly growing with ``pixels``), a soft one the disc's row
    segments (growing with ``pixels``, not with its number of values), whichever is cheaper.
    ``method`` is for tests (see :func:`_dilated`). Once ``cancel`` is cancelled, raises
    :class:`~engines.base.Cancelled` at the next check (``mask`` is never changed)."""
    if pixels <= 0:
        return mask.copy()
    result = np.zeros_like(mask)
    box = box_at_least(mask, 1)
    if box is None:
        return result
    box = box.grown(pixels + 1).clip(mask.shape)  # nothing farther can be reached
    result[box.slices] = _dilated(mask[box.slices], pixels, method, cancel)
    return result


def shrink(mask: np.ndarray, pixels: int, *, method: str | None = None,
           cancel: CancelToken | None = None) -> np.ndarray:
    """The mask eroded by ``pixels`` (a disc), as a new array: each pixel takes the smallest
    value within ``pixels`` of it (dx² + dy² <= pixels²), so a hard hole loses every pixel
    within ``pixels`` of a known one and a soft edge moves inward keeping its values.

    Outside the picture does not limit (as ``cv2.erode``'s default border): a hole touching
    the picture's edge shrinks away from its known pixels only, and a mask all hole stays so.
    Time as :func:`grow`. ``method`` and ``cancel`` as for :func:`grow`."""
    if pixels <= 0:
        return mask.copy()
    result = np.zeros_like(mask)
    box = box_at_least(mask, 1)
    if box is None:
        return result
    # one pixel more: inside the picture that ring is known (0), and no known pixel beyond
    # it is nearer to the box than the ring is
    box = box.grown(1).clip(mask.shape)
    known = cv2.bitwise_not(mask[box.slices])  # erosion is the dilation of the complement
    result[box.slices] = cv2.bitwise_not(_dilated(known, pixels, method, cancel))
    return result


def feather(mask: np.ndarray, pixels: int) -> np.ndarray:
    """The mask with a soft outward edge ``pixels`` wide.

    The hole itself stays at 255, so nothing of what should be removed shows through; the
    band around it ramps down to 0 and is blended between the original and the fill.
    """
    if pixels <= 0:
        return mask.copy()
    binary = np.where(mask >= 128, 255, 0).astype(np.uint8)
    if not binary.any():  # no hole: no edge to feather (and no finite distance to one)
        return binary
    outside = cv2.distanceTransform(255 - binary, cv2.DIST_L2, 5)
    ramp = np.clip(255.0 * (1.0 - outside / (pixels + 1)), 0, 255)
    return np.maximum(binary, np.rint(ramp).astype(np.uint8))


def invert(mask: np.ndarray) -> np.ndarray:
    """Hole and known swapped (255 - mask)."""
    return 255 - mask
