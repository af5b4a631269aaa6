"""Qt-free raster operations on single-channel layers (masks, sketches, label maps).

Layers are ``uint8`` ``(H, W)`` arrays. Every function that draws into a layer returns the
:class:`~engines.region.Box` it may have changed, so callers can record undo and repaint only
that area. Masks use 255 = hole, 0 = known; values in between are a feathered edge.
"""

from __future__ import annotations

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


def _disc(radius: int) -> np.ndarray:
    """The structuring element of the pixels within ``radius`` of the centre (x² + y² <= r²)."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)


def _kernel_is_cheaper(levels: int, radius: int) -> bool:
    """Whether a disc kernel (cost growing about as ``radius``^1.7) beats one distance
    transform per distinct value (``levels``) on the same pixels. Both give the same result;
    the figures are measured ratios (bench/maskops.py), not a contract."""
    return 2.5 * (radius / 20) ** 1.7 < levels


# disc rows per cv2.dilate call of the kernel method: a check for cancelling between calls
# (a 200 px disc over a 12 MP picture's hole takes seconds in one call), at no measurable cost
_KERNEL_BAND = 32


def _kernel_dilated(layer: np.ndarray, radius: int, cancel: CancelToken | None) -> np.ndarray:
    """``cv2.dilate`` of ``layer`` by the disc of ``radius`` (outside counts as 0), done a
    band of the disc's rows at a time (the disc is their union, so the result is the same),
    checking ``cancel`` before each band."""
    disc = _disc(radius)
    height = layer.shape[0]
    # padded above and below so that every band reads real rows or the zero border
    padded = cv2.copyMakeBorder(layer, radius, radius, 0, 0, cv2.BORDER_CONSTANT, value=0)
    out = np.zeros_like(layer)
    for top in range(0, 2 * radius + 1, _KERNEL_BAND):
        if cancel is not None:
            cancel.raise_if_cancelled()
        band = np.ascontiguousarray(disc[top:top + _KERNEL_BAND])
        # out[y] takes padded rows y + top .. y + top + len(band) - 1, anchored at the first
        rows = padded[top:top + height + len(band) - 1]
        reached = cv2.dilate(rows, band, anchor=(radius, 0), borderType=cv2.BORDER_CONSTANT,
                             borderValue=0)
        cv2.max(out, reached[:height], dst=out)
    return out


def _dilated(layer: np.ndarray, radius: int, method: str | None = None,
             cancel: CancelToken | None = None) -> np.ndarray:
    """Each pixel of ``layer`` set to the largest value within ``radius`` of it (Euclidean:
    dx² + dy² <= radius²); outside the array counts as 0. ``method`` (``"distance"`` or
    ``"kernel"``; default: the cheaper) is for tests. ``cancel`` is checked between
    distance transforms (or kernel bands): once cancelled, raises
    :class:`~engines.base.Cancelled`.

    A value v reaches a pixel when the pixel lies within ``radius`` of the set of values
    >= v, so one exact distance transform per distinct value gives the result at any radius
    in linear time: a hard mask (0 and 255) takes one."""
    counts = np.bincount(layer.ravel(), minlength=256)
    values = np.flatnonzero(counts[1:]) + 1
    if method is None:
        method = "kernel" if _kernel_is_cheaper(len(values), radius) else "distance"
    if method == "kernel":
        return _kernel_dilated(layer, radius, cancel)
    out = np.zeros_like(layer)
    for value in values:  # ascending: each set holds the next, so later values win
        if cancel is not None:
            cancel.raise_if_cancelled()
        reached = cv2.compare(layer, int(value), cv2.CMP_GE)
        x, y, width, height = cv2.boundingRect(reached)
        box = Box(y, x, y + height, x + width).grown(radius + 1).clip(layer.shape)
        distance = cv2.distanceTransform(cv2.bitwise_not(reached[box.slices]), cv2.DIST_L2,
                                         cv2.DIST_MASK_PRECISE)  # exact, to the set's pixels
        out[box.slices][distance <= radius] = value
    return out


def grow(mask: np.ndarray, pixels: int, *, method: str | None = None,
         cancel: CancelToken | None = None) -> np.ndarray:
    """The mask dilated by ``pixels`` (a disc), as a new array: each pixel takes the largest
    value within ``pixels`` of it (dx² + dy² <= pixels²), so a hard hole grows by a disc and
    a soft edge moves outward keeping its values. Outside the picture counts as known (0).

    The time grows with the hole's box plus ``pixels``, not with the picture, and hardly with
    ``pixels``; a soft mask costs one distance transform per distinct value. ``method`` is for
    tests (see :func:`_dilated`). Once ``cancel`` is cancelled, raises
    :class:`~engines.base.Cancelled` at the next check (``mask`` is never changed)."""
    if pixels <= 0:
        return mask.copy()
    result = np.zeros_like(mask)
    box = Box.around(mask > 0)
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
    box = Box.around(mask > 0)
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
