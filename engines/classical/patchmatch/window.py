"""Where a level's per-pixel target maps are kept: the pixels within reach of its hole.

PatchMatch reads its estimate, the target index and the target guidance maps only at target
patches (pixels within ``2 * radius`` of the hole, image borders clamped) and writes the
estimate only at hole pixels, while sources may lie anywhere. A thin stroke across a 50 MP
picture touches a few percent of it: :class:`Window` keeps, for each row, the span of columns
within reach, stored one after another in flat arrays (a ragged layout), instead of whole
float maps of the picture.

Whole maps that only a band of rows needs at a time (distance transforms, blurs) are
computed band by band with :func:`gather_in_bands`, so scratch memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from engines.base import CancelToken

BAND = 256  # rows per band of the banded computations
_ROW_CHUNK = 512  # rows per step when a whole bool map is scanned


def _row_extents(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last set column of each row of a 2-D bool ``mask`` (``w`` and ``-1`` for an
    empty row), int64 ``(h,)`` each."""
    height, width = mask.shape
    first = np.full(height, width, np.int64)
    last = np.full(height, -1, np.int64)
    for top in range(0, height, _ROW_CHUNK):  # a reversed view is copied: a chunk at a time
        rows = mask[top:top + _ROW_CHUNK]
        some = rows.any(axis=1)
        first[top:top + rows.shape[0]][some] = rows[some].argmax(axis=1)
        last[top:top + rows.shape[0]][some] = width - 1 - rows[some][:, ::-1].argmax(axis=1)
    return first, last


@dataclass(frozen=True)
class Window:
    """Row spans of a ``(height, columns)`` level, stored in flat per-pixel arrays.

    Row ``y`` keeps columns ``left[y]`` to ``left[y] + width[y] - 1`` (none when its width is
    0) at positions ``start[y]`` to ``start[y + 1] - 1`` of a flat array of :attr:`size`
    entries (a per-pixel map of the window is ``(size,)``, an RGB one ``(size, 3)``).
    ``left``: int64 ``(height,)``; ``start``: int64 ``(height + 1,)``, ``start[0] == 0``.
    """

    left: np.ndarray
    start: np.ndarray
    columns: int

    @classmethod
    def around(cls, hole: np.ndarray, reach: int) -> Window:
        """The window of every pixel within ``reach`` (Chebyshev distance) of a ``hole``
        pixel (``(h, w)`` bool), each row's span from its first such pixel to its last."""
        height, width = hole.shape
        first, last = _row_extents(hole)
        low, high = first.copy(), last.copy()
        for shift in range(1, min(reach, height - 1) + 1):  # the rows within reach
            np.minimum(low[shift:], first[:-shift], out=low[shift:])
            np.minimum(low[:-shift], first[shift:], out=low[:-shift])
            np.maximum(high[shift:], last[:-shift], out=high[shift:])
            np.maximum(high[:-shift], last[shift:], out=high[:-shift])
        empty = high < 0
        low = np.maximum(low - reach, 0)
        high = np.minimum(high + reach, width - 1)
        widths = np.where(empty, 0, high - low + 1)
        start = np.zeros(height + 1, np.int64)
        np.cumsum(widths, out=start[1:])
        return cls(np.where(empty, 0, low), start, width)

    @property
    def height(self) -> int:
        return int(self.left.shape[0])

    @property
    def size(self) -> int:
        """Number of pixels in the window."""
        return int(self.start[-1])

    @property
    def offset(self) -> np.ndarray:
        """int64 ``(height,)``: pixel ``(y, x)`` of the window is at flat position
        ``offset[y] + x`` (``start[y] - left[y]``)."""
        return self.start[:-1] - self.left

    def positions(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Flat positions (int64) of pixels ``(y, x)``, which must lie in the window."""
        return self.start[y] + (np.asarray(x, np.int64) - self.left[y])

    def contains(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """bool: which pixels ``(y, x)`` (any integers) lie in the window."""
        y = np.asarray(y, np.int64)
        x = np.asarray(x, np.int64)
        inside = (y >= 0) & (y < self.height)
        row = np.where(inside, y, 0)
        offset = x - self.left[row]
        return inside & (offset >= 0) & (offset < self.start[row + 1] - self.start[row])

    def lookup(self, values: np.ndarray, y: np.ndarray, x: np.ndarray,
               outside) -> np.ndarray:
        """``values`` (a ``(size,)`` map of the window) at pixels ``(y, x)``, ``outside``
        where a pixel is not in the window."""
        inside = self.contains(y, x)
        found = np.full(np.shape(y), outside, values.dtype)
        found[inside] = values[self.positions(np.asarray(y)[inside], np.asarray(x)[inside])]
        return found

    def gather(self, dense: np.ndarray, cancel: CancelToken | None = None) -> np.ndarray:
        """The window's pixels of a ``(height, columns, ...)`` map: ``(size, ...)``, a copy
        (``cancel`` checked between bands of rows)."""
        return gather_in_bands(self, 0, lambda rows: dense[rows], cancel)

    def row_pixels(self, top: int, bottom: int) -> Iterator[tuple[int, int, int, int]]:
        """``(y, left, right, position)`` of each non-empty row span in rows ``[top,
        bottom)``: columns ``left..right - 1`` stored from flat ``position`` on."""
        for y in range(top, bottom):
            begin, end = int(self.start[y]), int(self.start[y + 1])
            if end > begin:
                left = int(self.left[y])
                yield y, left, left + end - begin, begin


def row_bands(height: int, band: int | None = None) -> Iterator[tuple[int, int]]:
    """``[top, bottom)`` row ranges of ``band`` rows (default :data:`BAND`) covering
    ``height`` rows."""
    band = band or BAND
    for top in range(0, height, band):
        yield top, min(top + band, height)


def bands_with_margin(height: int, margin: int) -> Iterator[tuple[int, int, int, int]]:
    """``(top, bottom, first, last)`` for each band ``[top, bottom)`` of :data:`BAND` rows of
    a map of ``height`` rows: the rows ``[first, last)`` to compute it from, ``margin`` more
    on either side within the map. A map whose rows depend on input rows up to ``margin``
    away (a filter, a capped distance) comes out as the whole map would, with scratch
    memory for one band."""
    for top, bottom in row_bands(height):
        yield top, bottom, max(top - margin, 0), min(bottom + margin, height)


def gather_in_bands(window: Window, margin: int, compute: Callable[[slice], np.ndarray],
                    cancel: CancelToken | None = None) -> np.ndarray:
    """A per-pixel map at the window's pixels, ``(size, ...)``, computed band by band.

    ``compute(rows)`` returns the map's rows ``rows`` (a slice, full width); each band is
    computed from its rows and ``margin`` more (:func:`bands_with_margin`); bands without
    window pixels are skipped. ``cancel`` is checked before each band.
    """
    out = None
    for top, bottom, first, last in bands_with_margin(window.height, margin):
        if window.start[bottom] == window.start[top]:
            continue
        if cancel is not None:
            cancel.raise_if_cancelled()
        part = compute(slice(first, last))
        if out is None:
            out = np.empty((window.size, *part.shape[2:]), part.dtype)
        for y, left, right, position in window.row_pixels(top, bottom):
            out[position:position + right - left] = part[y - first, left:right]
    if out is None:  # an empty window: the map's type from one row
        part = compute(slice(0, min(1, window.height)))
        out = np.empty((0, *part.shape[2:]), part.dtype)
    return out


def nonzero_in_bands(height: int, margin: int, compute: Callable[[slice], np.ndarray],
                     cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a ``(height, w)`` map computed band by band: its set pixels' rows
    and columns (intp), row-major. ``compute(rows)`` as for :func:`gather_in_bands` (each
    band from ``margin`` rows more on either side); ``cancel`` is checked before each band."""
    ys, xs = [np.zeros(0, np.intp)], [np.zeros(0, np.intp)]
    for top, bottom, first, last in bands_with_margin(height, margin):
        if cancel is not None:
            cancel.raise_if_cancelled()
        y, x = np.nonzero(compute(slice(first, last))[top - first:bottom - first])
        ys.append(y + top)
        xs.append(x)
    return np.concatenate(ys), np.concatenate(xs)


def any_in_bands(height: int, compute: Callable[[slice], np.ndarray],
                 cancel: CancelToken | None = None) -> bool:
    """Whether a ``(height, w)`` map has a set pixel, ``compute(rows)`` giving its rows
    band by band; stops at the first band with one (``cancel`` checked before each)."""
    for top, bottom in row_bands(height):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if compute(slice(top, bottom)).any():
            return True
    return False
