"""Region strategies (crop around the hole, resize, original) and the seam-free paste-back.

:func:`run_regions` is the machinery behind :meth:`engines.base.Engine.run`: it splits a
request into boxes around the hole, scales each box to the engine's working size, runs the
engine on it and pastes the hole pixels of each yielded result back into the full image.
Pixels outside the mask are never changed, byte for byte.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from engines.base import (
    MIN_CROP_CONTEXT,
    UNLABELLED,
    CancelToken,
    Engine,
    EngineError,
    Guidance,
    InpaintRequest,
    InputError,
    NoSourceError,
    Region,
    RegionStage,
    Stage,
    Strategy,
    may_fit_smaller,
)

# Reference photos (exemplars) far larger than the region filled cost time and memory in
# proportion to their pixels (each is searched beside the region at every pyramid level: a
# 12000x9000 one made a small fill take 26 s and 3 GB) but add little: they are shrunk to
# at most this many times the region's pixels at working scale, and never below the floor,
# so a photo of the same scene beside a small crop keeps enough detail (the floor is about a
# second of search on a slow CPU).
REFERENCE_PIXELS_PER_REGION = 4
REFERENCE_PIXELS_FLOOR = 4_000_000
# Only fully opaque pixels of a reference photo are sources: a cut-out's soft edge (alpha 1 to
# 254) mixes the subject with a background colour nobody sees, which a copy would show.
REFERENCE_OPAQUE = 255
# A pixel of the picture itself whose alpha (InpaintRequest.alpha) is at most this is
# invisible: the colour stored under it (often black) is no source and no boundary colour
# for the fill. Only alpha 0: a semi-transparent pixel (a soft edge, a shadow) shows its
# colour, which is the picture's to continue, unlike a reference's where only what is fully
# opaque is copied.
TRANSPARENT = 0
# Shrinking a huge reference takes a while (0.4 s for 108 MP) and a fill of a small area
# shrinks it to the same size each time: the last few shrunk copies of each reference are
# kept while it lives (:func:`_scaled_reference`).
REFERENCE_COPIES_KEPT = 2
# Passes over a whole mask, label map or picture (finding the holes, the labels a crop
# offers, the copies of a box's layers, whether it is grey, a stage made grey, the paste) run
# in bands of rows of about this many pixels, the cancel token looked at between them: one
# pass over a 50 MP picture took 0.4 s, which a cancel had to wait for.
BAND_PIXELS = 1 << 22
# The seam's colour offset (:func:`seam_correction`) is non-zero only within a Gaussian's
# reach of the ring of known pixels around the hole: on a region of more pixels than this it
# is computed in tiles around that ring only (:func:`_seam_parts`), which gives the same
# values; over a whole 7800x5000 box it took 2-8 s and gigabytes of float32 maps.
SEAM_WHOLE_PIXELS = 1 << 20
# OpenCV's Gaussian filter computes the last few values of each row (its SIMD tail, fewer
# than this many) apart from the others, 1 ulp apart: a tile's window starts at a column that
# is a multiple of this, so where it reaches the region's right edge it leaves that tail where
# the region has it, and reaches this many columns further right than its margin.
SEAM_COLUMN_ALIGN = 32


@dataclass(frozen=True)
class Box:
    """A half-open pixel box ``[top, bottom) x [left, right)``."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def overlaps(self, other: Box) -> bool:
        return not (self.bottom <= other.top or other.bottom <= self.top
                    or self.right <= other.left or other.right <= self.left)

    def union(self, other: Box) -> Box:
        return Box(min(self.top, other.top), min(self.left, other.left),
                   max(self.bottom, other.bottom), max(self.right, other.right))

    def intersection(self, other: Box) -> Box | None:
        """Where this box and ``other`` overlap, or None."""
        box = Box(max(self.top, other.top), max(self.left, other.left),
                  min(self.bottom, other.bottom), min(self.right, other.right))
        return box if box.height > 0 and box.width > 0 else None

    @classmethod
    def frame(cls, size: tuple[int, int]) -> Box:
        """The whole ``(height, width)`` array."""
        return cls(0, 0, size[0], size[1])

    @classmethod
    def around(cls, mask: np.ndarray) -> Box | None:
        """The bounding box of the nonzero (true) pixels of a 2-D ``mask``, ``None`` when
        there are none: OpenCV's, with no temporary of a bool or uint8 mask's size."""
        if mask.size == 0:
            return None
        if mask.dtype == np.bool_:
            mask = mask.view(np.uint8)
        elif mask.dtype != np.uint8:
            mask = (mask != 0).view(np.uint8)
        x, y, w, h = cv2.boundingRect(mask)
        return cls(y, x, y + h, x + w) if w else None

    def contains(self, other: Box) -> bool:
        return (self.top <= other.top and other.bottom <= self.bottom
                and self.left <= other.left and other.right <= self.right)

    def grown(self, margin: int) -> Box:
        """This box with ``margin`` px more on every side (see :meth:`clip`)."""
        return Box(self.top - margin, self.left - margin, self.bottom + margin,
                   self.right + margin)

    def clip(self, size: tuple[int, int]) -> Box:
        """This box inside an array of ``size`` ``(height, width)``."""
        return Box(max(self.top, 0), max(self.left, 0), min(self.bottom, size[0]),
                   min(self.right, size[1]))

    def crop(self, array, covering: Box):
        """The part of ``array`` (whose last two axes cover ``covering``) in this box: a view.
        Works for numpy arrays and torch tensors alike."""
        if not covering.contains(self):
            raise ValueError(f"{self} is not inside {covering}")
        return array[..., self.top - covering.top:self.bottom - covering.top,
                     self.left - covering.left:self.right - covering.left]


def mask_bbox(mask: np.ndarray) -> Box | None:
    """Bounding box of the hole (``mask >= 128``), or ``None`` for an empty mask."""
    return Box.around(mask >= 128)


def _expand(box: Box, margin: int, min_side: int, height: int, width: int) -> Box:
    """Grow ``box`` by ``margin`` (at least :data:`MIN_CROP_CONTEXT`, and up to
    ``min_side``), shifted to stay inside the image."""
    margin = max(margin, MIN_CROP_CONTEXT)

    def grow(lo: int, hi: int, limit: int) -> tuple[int, int]:
        extra_total = max(2 * margin, min_side - (hi - lo))
        lo -= extra_total // 2
        hi += extra_total - extra_total // 2
        if lo < 0:  # borrow the lost context from the other side
            hi, lo = hi - lo, 0
        if hi > limit:
            lo, hi = lo - (hi - limit), limit
        return max(lo, 0), min(hi, limit)

    top, bottom = grow(box.top, box.bottom, height)
    left, right = grow(box.left, box.right, width)
    return Box(top, left, bottom, right)


def crop_boxes(mask: np.ndarray, margin: int, min_side: int = 0,
               cancel: CancelToken | None = None) -> list[Box]:
    """Disjoint boxes covering every masked pixel (``mask > 0``), with ``margin`` of context.

    Connected components of the mask are boxed, expanded by ``margin`` and merged while any
    two overlap, so each hole pixel lies in exactly one box and no box overlaps another.
    ``cancel`` is looked at between bands of the mask (:func:`_component_boxes`).
    """
    height, width = mask.shape
    boxes = [_expand(box, margin, min_side, height, width)
             for box in _component_boxes(mask, cancel or CancelToken())]
    return _merge_overlapping(boxes)


def _band_rows(width: int) -> int:
    """The rows of a band (:func:`_row_bands`) of an array ``width`` pixels wide."""
    return max(1, BAND_PIXELS // max(width, 1))


def _row_bands(height: int, width: int, cancel: CancelToken | None = None) -> Iterator[slice]:
    """Consecutive bands of rows of a ``height`` x ``width`` array, each of about
    :data:`BAND_PIXELS` pixels (at least one row); ``cancel`` is looked at between two
    (a picture of one band costs no look)."""
    rows = _band_rows(width)
    for top in range(0, height, rows):
        if top and cancel is not None:
            cancel.raise_if_cancelled()
        yield slice(top, min(top + rows, height))


def patch_centres(usable: np.ndarray, side: int) -> np.ndarray:
    """``(h, w)`` uint8, 1 at the centres of the ``side`` x ``side`` patches (``side`` odd)
    that lie wholly inside the array and on ``usable`` (``(h, w)`` bool) pixels."""
    kernel = np.ones((side, side), np.uint8)
    return cv2.erode(usable.view(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT,
                     borderValue=0)


def source_patch(request: InpaintRequest, engine: Engine) -> int | None:
    """The side of the square patches ``engine`` copies on ``request``: its own
    ``patch_size`` option (the engine's value, else the request's, else the default, as
    :meth:`Engine.engine_option` reads it), or None for an engine without one (it copies
    single pixels, as far as its sources go) or a value that is no whole number from 1 up
    (which the engine refuses itself: :meth:`Engine.run` checks the options first)."""
    spec = next((spec for spec in engine.user_options() if spec.key == "patch_size"), None)
    if spec is None:
        return None
    side = engine.options.get("patch_size", request.options.get("patch_size", spec.default))
    try:
        value = float(side)
    except (TypeError, ValueError):
        return None
    return int(value) if value.is_integer() and value >= 1 else None


def fitted_patches(request: InpaintRequest, engine: Engine,
                   cancel: CancelToken | None = None) -> list[tuple[Box, int]]:
    """The boxes ``engine`` fills (:func:`plan_boxes`) with patches smaller than its patch
    size (:func:`source_patch`), each with the side it uses there
    (:meth:`Engine.fitted_patch` of the box's region): boxes whose region is small for the
    patch (:func:`~engines.base.may_fit_smaller`), as on a tiny picture. Only such boxes are
    built to ask; an unscaled engine on a picture too large for that (and every crop keeps
    :data:`MIN_CROP_CONTEXT`, which is too: so is each box) is answered from the shapes
    alone."""
    side = source_patch(request, engine)
    if side is None:
        return []
    scaled = engine.region_option(request, "working_size")
    smallest_box = min(*request.mask.shape, 2 * MIN_CROP_CONTEXT + 1)
    if not scaled and not may_fit_smaller((smallest_box, smallest_box), side):
        return []
    fitted = []
    for box, scale in plan_boxes(request, engine, cancel):
        if not may_fit_smaller(_scaled_size(box, scale), side):
            continue
        used = engine.fitted_patch(build_region(request, box, scale, cancel), cancel)
        if used is not None and used < side:
            fitted.append((box, used))
    return fitted


def _component_boxes(mask: np.ndarray, cancel: CancelToken) -> list[Box]:
    """The bounding boxes of the 8-connected components of ``mask > 0`` (2-D uint8), in no
    particular order: OpenCV labels the mask's bounding box in bands of rows
    (:func:`_row_bands`, ``cancel`` looked at between them) and the pieces of a component in
    neighbouring bands, which touch across the rows between them, are joined."""
    x, y, w, h = cv2.boundingRect(mask)
    if not w:
        return []
    area = mask[y:y + h, x:x + w]
    pieces = []  # per band: (left, top, right, bottom) of each piece, picture coordinates
    parent: dict[int, int] = {}  # union-find over the pieces joined across bands

    def root(piece: int) -> int:
        while parent.get(piece, piece) != piece:
            parent[piece] = parent.get(parent[piece], parent[piece])
            piece = parent[piece]
        return piece

    first = 0  # the index of the band's first piece
    above = None  # the piece index (or -1) of each pixel of the row above the band
    for band in _row_bands(h, w, cancel):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            (area[band] > 0).view(np.uint8), 8, cv2.CV_32S)
        lefts, tops = stats[1:count, 0] + x, stats[1:count, 1] + (y + band.start)
        pieces.append(np.stack((lefts, tops, lefts + stats[1:count, 2],
                                tops + stats[1:count, 3]), axis=1))
        below = np.where(labels[0] > 0, labels[0] + first - 1, -1)
        if above is not None:  # 8-connected: straight below and one column either way
            for shift in (-1, 0, 1):
                upper = above[max(shift, 0):w + min(shift, 0)]
                lower = below[max(-shift, 0):w + min(-shift, 0)]
                touching = (upper >= 0) & (lower >= 0)
                for a, b in set(zip(upper[touching].tolist(), lower[touching].tolist())):
                    ra, rb = root(a), root(b)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
        above = np.where(labels[-1] > 0, labels[-1] + first - 1, -1)
        first += count - 1
    corners = np.concatenate(pieces)
    group = np.arange(len(corners))
    joined = list(parent)
    group[joined] = [root(piece) for piece in joined]
    groups, index = np.unique(group, return_inverse=True)
    lows = np.full((len(groups), 2), np.iinfo(np.int64).max)
    highs = np.zeros((len(groups), 2), np.int64)
    np.minimum.at(lows, index, corners[:, :2])
    np.maximum.at(highs, index, corners[:, 2:])
    return [Box(int(top), int(left), int(bottom), int(right))
            for (left, top), (right, bottom) in zip(lows.tolist(), highs.tolist())]


def group_boxes(boxes: list[Box], limit: int) -> list[Box]:
    """Disjoint ``boxes`` gathered into fewer disjoint boxes whose sides stay within
    ``limit`` where they can: many small holes (dust, specks) then cost one network pass per
    group instead of one each, at the same resolution (a box within the working size is not
    scaled). Each box joins the first group, in reading order, that it fits with."""
    groups: list[Box] = []
    for box in sorted(boxes, key=lambda b: (b.top, b.left)):
        for i, group in enumerate(groups):
            union = group.union(box)
            if max(union.height, union.width) <= limit:
                groups[i] = union
                break
        else:
            groups.append(box)
    return _merge_overlapping(groups)


def _merge_overlapping(boxes: list[Box]) -> list[Box]:
    """``boxes`` with any two that overlap replaced by their union, until none do; sorted
    in reading order."""
    merged = True
    while merged:
        merged = False
        result: list[Box] = []
        for box in boxes:
            for i, other in enumerate(result):
                if box.overlaps(other):
                    result[i] = other.union(box)
                    merged = True
                    break
            else:
                result.append(box)
        boxes = result
    return sorted(boxes, key=lambda b: (b.top, b.left))


def plan_boxes(request: InpaintRequest, engine: Engine,
               cancel: CancelToken | None = None) -> list[tuple[Box, float]]:
    """The boxes an engine will be run on and each one's scale (working / original).
    ``cancel`` is looked at between bands of the passes over the whole mask and label map
    (:data:`BAND_PIXELS`)."""
    cancel = cancel or CancelToken()
    height, width = request.mask.shape
    limit = engine.region_option(request, "working_size")
    whole = Box(0, 0, height, width)

    def scale_for(box: Box) -> float:
        if not limit:
            return 1.0
        return min(1.0, float(limit) / max(box.height, box.width))

    if request.strategy is Strategy.ORIGINAL:
        return [(whole, 1.0)]
    if request.strategy is Strategy.RESIZE:
        return [(whole, scale_for(whole))]
    boxes = crop_boxes(request.mask, request.crop_margin, engine.min_context, cancel)
    if limit and len(boxes) > 1:
        boxes = group_boxes(boxes, int(limit))
    if _sources_outside(request, engine, boxes, cancel) \
            or _unseen_context(request, boxes, cancel):
        return [(whole, scale_for(whole))]
    return [(box, scale_for(box)) for box in boxes]


def _visible_known(request: InpaintRequest, box: Box) -> np.ndarray:
    """``(h, w)`` bool over ``box``: the known pixels (``mask < 128``) that are not fully
    transparent (alpha above :data:`TRANSPARENT`; all of them without alpha)."""
    rows, cols = box.slices
    known = request.mask[rows, cols] < 128
    if request.alpha is not None:
        known &= request.alpha[rows, cols] > TRANSPARENT
    return known


def hole_unseen(request: InpaintRequest, cancel: CancelToken | None = None) -> bool:
    """Whether every pixel a fill of ``request`` may change (mask above 0) is fully
    transparent (alpha :data:`TRANSPARENT`), so the fill shows nowhere; False without alpha
    or hole. Read in bands of rows (:func:`_row_bands`, ``cancel`` looked at between them)
    up to the first visible one."""
    if request.alpha is None:
        return False
    holed = False
    for band in _row_bands(*request.mask.shape, cancel):
        changed = request.mask[band] > 0
        if (changed & (request.alpha[band] > TRANSPARENT)).any():
            return False
        holed = holed or bool(changed.any())
    return holed


def _holds_visible(request: InpaintRequest, box: Box, cancel: CancelToken) -> bool:
    """Whether ``box`` holds a visible known pixel (:func:`_visible_known`), read in bands
    of rows (``cancel`` looked at between them) up to the first one."""
    return any(_visible_known(request, Box(box.top + band.start, box.left,
                                           box.top + band.stop, box.right)).any()
               for band in _row_bands(box.height, box.width, cancel))


def _unseen_context(request: InpaintRequest, boxes: list[Box], cancel: CancelToken) -> bool:
    """Whether a crop box holds no visible known pixel (:func:`_holds_visible`) though
    the picture has transparency: its hole is then filled from the whole picture."""
    return request.alpha is not None and not all(
        _holds_visible(request, box, cancel) for box in boxes)


def _require_visible(request: InpaintRequest, cancel: CancelToken) -> None:
    """Raise :class:`InputError` when every known pixel of a picture with transparency is
    fully transparent (:func:`_holds_visible`): nothing visible is left to fill the hole
    from."""
    if request.alpha is None or _holds_visible(request, Box.frame(request.mask.shape), cancel):
        return
    raise InputError("no source left: every pixel outside the hole is fully transparent "
                     "(alpha 0), so nothing visible is left to fill it from; unmask some "
                     "visible context")


def _require_visible_allowed(request: InpaintRequest, engine: Engine,
                             cancel: CancelToken) -> None:
    """Raise :class:`InputError` when the sampling area ``engine`` follows allows known
    pixels, but only fully transparent ones (:data:`TRANSPARENT`), which are never copied:
    an engine that copies sources (PatchMatch) would find no pixel to copy. Not where the
    engine may copy from reference photos instead (it says so itself if it cannot). Read
    in bands of rows (``cancel`` looked at between them) up to the first allowed visible
    pixel."""
    if request.alpha is None or not engine.copies_sources or (
            request.exemplars and Guidance.EXEMPLARS in engine.guidance):
        return
    inside, outside = _sampling_followed(request, engine)
    include = inside is not None and _any_in_bands(inside, cancel)
    if not include and outside is None:
        return
    height, width = request.mask.shape
    allowed_any = False
    for band in _row_bands(height, width, cancel):
        allowed = _allowed_sources(request, engine, Box(band.start, 0, band.stop, width),
                                   include, visible=False)
        if (allowed & (request.alpha[band] > TRANSPARENT)).any():
            return
        allowed_any = allowed_any or bool(allowed.any())
    if allowed_any:
        raise InputError(f"no source left for {engine.title or engine.name}: the sampling "
                         "area allows only fully transparent pixels (alpha 0) outside the "
                         "hole, and those are never copied; widen the sampling area over "
                         "visible pixels or add a reference photo")


def _sources_outside(request: InpaintRequest, engine: Engine, boxes: list[Box],
                     cancel: CancelToken) -> bool:
    """Whether guidance an engine that copies sources follows asks for sources that a crop
    box would leave out.

    Where a sampling area the engine follows, or the picture's transparency, limits the
    sources, a box whose context holds no source the engine may copy while the rest of the
    picture holds some would leave the fill nothing to copy: the engine sees the whole
    picture. A source is a pixel the engine may copy from (:func:`_allowed_sources`:
    known, not fully transparent, inside the include area, not excluded) or, for an engine
    that copies patches (:func:`source_patch`), such a pixel at the centre of a patch of
    its side lying wholly on such pixels inside the box: a thin strip of them, where no
    patch fits, is none. Likewise a hole labelled L copies from the sources labelled L;
    when a box's context holds none of them but the rest of the picture does, the crop
    would silently drop the guidance. The pixels are read in bands (:func:`_holds_allowed`,
    :func:`_box_label_sources`, ``cancel`` looked at between them): each box's, then, only
    where a box lacks a source, the whole picture's.
    """
    if not engine.copies_sources:
        return False
    side = source_patch(request, engine)
    labels = request.labels if Guidance.LABELS in engine.guidance else None
    inside, outside = _sampling_followed(request, engine)
    restricts = inside is not None and _any_in_bands(inside, cancel)
    limited = restricts or request.alpha is not None or (
        outside is not None and _any_in_bands(outside, cancel))
    whole = Box.frame(request.mask.shape)
    if limited and not all(_holds_allowed(request, engine, box, restricts, side, cancel)
                           for box in boxes) \
            and _holds_allowed(request, engine, whole, restricts, side, cancel):
        return True
    if labels is None:
        return False
    offered = None  # the labels the whole picture offers, read when first needed
    for box in boxes:
        lacking = _box_label_sources(request, engine, box, restricts, None, side, cancel)[0]
        if not lacking.any():
            continue
        if offered is None:
            offered = _box_label_sources(request, engine, whole, restricts, None, side,
                                         cancel)[1]
        if (lacking & offered).any():
            return True
    return False


def _holds_allowed(request: InpaintRequest, engine: Engine, box: Box, include: bool,
                   side: int | None, cancel: CancelToken) -> bool:
    """Whether ``box`` holds a source ``engine`` may copy (:func:`_source_bands`: a pixel it
    may copy from, with ``side`` the centre of a whole patch of them; ``include``: whether
    an include area restricts them), read in bands of rows (``cancel`` looked at between
    them) up to the first one."""
    return any(centres.any()
               for _, centres in _source_bands(request, engine, box, include, side, cancel))


def _source_bands(request: InpaintRequest, engine: Engine, box: Box, include: bool,
                  side: int | None,
                  cancel: CancelToken) -> Iterator[tuple[Box, np.ndarray]]:
    """``(part, centres)`` for each band of rows of ``box`` (:func:`_row_bands`, ``cancel``
    looked at between them): the band and the ``(h, w)`` bool map over it of the pixels
    ``engine`` may copy from (:func:`_allowed_sources`; ``include``: whether an include
    area restricts them) that are the centre of a ``side`` x ``side`` patch lying wholly on
    such pixels inside ``box`` (:func:`patch_centres`: as the engine takes its sources in
    a region of that box); every such pixel where ``side`` is None. The erosion reads
    ``side // 2`` rows more either side of a band, within the box (as
    ``patchmatch.window.bands_with_margin`` does), so each band comes out as the whole
    box's would, with scratch memory for one band."""
    reach = 0 if side is None else side // 2
    for band in _row_bands(box.height, box.width, cancel):
        first, last = max(band.start - reach, 0), min(band.stop + reach, box.height)
        wide = _allowed_sources(request, engine, Box(box.top + first, box.left,
                                                     box.top + last, box.right), include)
        inner = slice(band.start - first, band.stop - first)
        centres = wide[inner] if side is None else patch_centres(wide, side)[inner].view(bool)
        yield Box(box.top + band.start, box.left, box.top + band.stop, box.right), centres


def _sampling_followed(request: InpaintRequest,
                       engine: Engine) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The include and exclude areas of ``request`` that ``engine`` follows (None for
    each it does not, or that the request lacks)."""
    if Guidance.SAMPLING not in engine.guidance:
        return None, None
    return request.sample_include, request.sample_exclude


def _allowed_sources(request: InpaintRequest, engine: Engine, box: Box,
                     include: bool, visible: bool = True) -> np.ndarray:
    """``(h, w)`` bool over ``box``: the pixels ``engine`` may copy from, as a copying
    engine takes them (PatchMatch): known (``mask < 128``) and not fully transparent
    (:func:`_visible_known`; with ``visible`` False, transparent ones too), inside the
    include area where one restricts (``include``: whether it does; an all-zero one does
    not), not in the exclude area; of those areas only what the engine follows counts."""
    rows, cols = box.slices
    allowed = _visible_known(request, box) if visible else request.mask[rows, cols] < 128
    inside, outside = _sampling_followed(request, engine)
    if inside is not None and include:
        allowed &= inside[rows, cols] >= 128
    if outside is not None:
        allowed &= outside[rows, cols] < 128
    return allowed


class LabelSources(NamedTuple):
    """What :func:`unsourced_labels` finds.

    ``labels``: the ids (sorted, never :data:`~engines.base.UNLABELLED`) given to hole
    pixels that no source the engine may copy carries in the region it fills them in (a
    pixel it may copy from; for an engine that copies patches, such a pixel at the centre
    of a whole patch of them, :func:`source_patch`, or of the smaller patch it uses in a
    region too small for that one, :func:`fitted_patches`), so that they constrain nothing
    there;
    ``left_out``: those of them that known pixels of the picture do carry, all outside what
    the sampling area allows (the others no known pixel carries, or only fully transparent
    ones, or they are ``unfitted``); ``unlabelled``: whether
    such a region holds unlabelled sources (the labels' pixels then copy from those, and
    from reference photos, which PatchMatch counts as any label, instead of from anywhere);
    ``unfitted``: those of ``labels`` that pixels the engine may copy from do carry, but
    where no patch of its side fits (a thin strip, a ring around the hole);
    ``fits_at``: the largest odd patch side, smaller than the one used, at which every
    ``unfitted`` label would have a source in the picture (None: none from 3 up, or no
    ``unfitted`` label), for the note to say what *Patch size* would follow them.
    """

    labels: tuple[int, ...] = ()
    left_out: tuple[int, ...] = ()
    unlabelled: bool = False
    unfitted: tuple[int, ...] = ()
    fits_at: int | None = None


def unsourced_labels(request: InpaintRequest, engine: Engine,
                     cancel: CancelToken | None = None,
                     unedited_labels: np.ndarray | None = None) -> LabelSources:
    """The labels given to the hole that ``engine`` could not follow for want of a source
    (:class:`LabelSources`); none for an engine that does not copy sources by labels
    (:attr:`Engine.copies_sources`) or a request without a label map. A label is given to
    a hole pixel where ``labels`` differ from ``unedited_labels`` (the ``(H, W)`` uint8 map
    as a parser computed it, as :func:`engines.guidance.guidance_given` counts them; None:
    every label of the hole is given): a hole over the one object of its label (what a fill
    removes) is no guidance. An engine that copies patches (:func:`source_patch`) finds a
    source of label L only at a pixel labelled L at the centre of a whole patch of pixels
    it may copy from, as PatchMatch does; others at any pixel labelled L it may copy from.

    Each hole's own crop box (:func:`crop_boxes`) is read first, in bands of rows
    (:data:`BAND_PIXELS`, ``cancel`` looked at between them): where every label given to
    its hole has a source in it, so has every region the engine fills (its boxes only grow
    from those: joined, widened, the whole picture; a patch inside a box is inside any box
    holding it), and nothing else is read. Otherwise the engine's own boxes are planned
    (:func:`plan_boxes`) and each is read the same way (at the side the engine uses there,
    :func:`fitted_patches`), and, with a sampling area followed
    or patches copied, the whole picture for the labels pixels carry (per pixel).
    """
    cancel = cancel or CancelToken()
    if request.labels is None or not engine.copies_sources \
            or Guidance.LABELS not in engine.guidance:
        return LabelSources()
    if unedited_labels is not None and unedited_labels.shape != request.labels.shape:
        raise InputError(f"unedited_labels {unedited_labels.shape} does not match the "
                         f"labels {request.labels.shape}")
    inside = _sampling_followed(request, engine)[0]
    include = inside is not None and _any_in_bands(inside, cancel)
    side = source_patch(request, engine)

    def read(box: Box, patch: int | None = side) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _box_label_sources(request, engine, box, include, unedited_labels, patch,
                                  cancel)

    boxes = crop_boxes(request.mask, request.crop_margin, engine.min_context, cancel)
    if not any(read(box)[0].any() for box in boxes):
        return LabelSources()
    missing, unlabelled = np.zeros(256, bool), False
    fitted = dict(fitted_patches(request, engine, cancel))  # a tiny picture's smaller patch
    for box, _ in plan_boxes(request, engine, cancel):
        lacking, offered, _ = read(box, fitted.get(box, side))
        missing |= lacking
        unlabelled |= bool(lacking.any() and offered[UNLABELLED])
    if not missing.any():
        return LabelSources()
    left_out, unfitted = np.zeros(256, bool), np.zeros(256, bool)
    followed = any(area is not None for area in _sampling_followed(request, engine))
    fits_at = None
    if followed or side is not None:
        # per pixel: a label missing though pixels the engine may copy from carry it has
        # no whole patch on them (per pixel, the region would have been widened to them)
        whole = Box.frame(request.mask.shape)
        _, allowed, carried = read(whole, None)
        unfitted = missing & allowed
        if followed:
            left_out = missing & carried & ~allowed
        if unfitted.any() and side is not None:
            fits_at = _largest_fitting_side(lambda patch: read(whole, patch)[1], unfitted,
                                            min([side, *fitted.values()]) - 2)
    return LabelSources(tuple(np.flatnonzero(missing).tolist()),
                        tuple(np.flatnonzero(left_out).tolist()), unlabelled,
                        tuple(np.flatnonzero(unfitted).tolist()), fits_at)


def _largest_fitting_side(offered_at: Callable[[int], np.ndarray], labels: np.ndarray,
                          largest: int) -> int | None:
    """The largest odd side from 3 to ``largest`` at which every label of ``labels``
    (``(256,)`` bool by id) is offered (``offered_at(side)``: the ``(256,)`` bool by id of
    the labels sources carry at that patch side), or None. A patch that fits fits at every
    smaller side, so the sides are bisected: a few passes over the picture at most."""
    def fits(patch: int) -> bool:
        return bool(offered_at(patch)[labels].all())

    sides = list(range(3, largest + 1, 2))
    if not sides or not fits(sides[0]):
        return None
    low, high = 0, len(sides) - 1  # sides[low] fits; find the last that does
    while low < high:
        middle = (low + high + 1) // 2
        if fits(sides[middle]):
            low = middle
        else:
            high = middle - 1
    return sides[low]


def _box_label_sources(request: InpaintRequest, engine: Engine, box: Box, include: bool,
                       unedited: np.ndarray | None, side: int | None,
                       cancel: CancelToken) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lacking, offered, carried)``, ``(256,)`` bool by label id, over ``box`` of
    ``request`` (which has labels): the labels given to hole pixels (where they differ from
    ``unedited``, unless that is None) that no source ``engine`` may copy carries (never
    :data:`~engines.base.UNLABELLED`), those its sources carry, those known pixels carry.
    A source is a pixel the engine may copy from (:func:`_allowed_sources`) or, with
    ``side``, such a pixel at the centre of a ``side`` x ``side`` patch of them inside the
    box (:func:`_source_bands`). Read in bands of rows (``cancel`` looked at between
    them); ``include``: whether an include area restricts the sources."""
    wanted, offered, carried = (np.zeros(256, bool) for _ in range(3))
    for part, centres in _source_bands(request, engine, box, include, side, cancel):
        rows, cols = part.slices
        labels, hole = request.labels[rows, cols], request.mask[rows, cols] >= 128
        given = hole if unedited is None else hole & (labels != unedited[rows, cols])
        wanted |= np.bincount(labels[given], minlength=256) > 0
        carried |= np.bincount(labels[~hole], minlength=256) > 0
        offered |= np.bincount(labels[centres], minlength=256) > 0
    lacking = wanted & ~offered
    lacking[UNLABELLED] = False
    return lacking, offered, carried


def _any_in_bands(array: np.ndarray, cancel: CancelToken) -> bool:
    """Whether the 2-D ``array`` has a nonzero value, looked for in bands of rows
    (:func:`_row_bands`, ``cancel`` looked at between them) up to the first one."""
    return any(cv2.countNonZero(array[band]) for band in _row_bands(*array.shape, cancel))


def _scaled_size(box: Box, scale: float) -> tuple[int, int]:
    return max(1, round(box.width * scale)), max(1, round(box.height * scale))


def _resize(array: np.ndarray | None, size: tuple[int, int], kind: str,
            cancel: CancelToken | None = None) -> np.ndarray | None:
    """Resize a layer to ``size`` = (w, h). ``kind``: image, mask, line or labels. At its
    own size it is given as it is, or copied in bands where it is not contiguous
    (:func:`_contiguous`, ``cancel`` looked at between them)."""
    if array is None:
        return None
    if (array.shape[1], array.shape[0]) == size:
        return _contiguous(array, cancel)
    shrinking = size[0] < array.shape[1]
    if kind == "labels":
        return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST)
    if kind == "image":
        return cv2.resize(array, size, interpolation=cv2.INTER_AREA if shrinking
                          else cv2.INTER_CUBIC)
    # mask / line: any partially covered pixel stays set, so a hole never shrinks away
    scaled = cv2.resize(array, size, interpolation=cv2.INTER_AREA if shrinking
                        else cv2.INTER_LINEAR)
    return np.where(scaled > 0, 255, 0).astype(np.uint8)


def reference_size(shape: tuple[int, ...], region_size: tuple[int, int],
                   scale: float) -> tuple[int, int]:
    """The ``(w, h)`` at which a reference photo of ``shape`` ``(h, w, ...)`` is searched for
    a region of ``region_size`` ``(w, h)`` at working scale ``scale`` (at most 1): scaled
    like the region, then, keeping its proportions, down to at most
    ``max(REFERENCE_PIXELS_FLOOR, REFERENCE_PIXELS_PER_REGION * region pixels)`` pixels.
    Never larger than the photo."""
    height, width = shape[:2]
    cap = max(REFERENCE_PIXELS_FLOOR, REFERENCE_PIXELS_PER_REGION * region_size[0]
              * region_size[1])
    factor = min(1.0, scale, (cap / (height * width)) ** 0.5)
    return min(width, max(1, round(width * factor))), min(height, max(1, round(height * factor)))


def shrunk_references(request: InpaintRequest, engine: Engine) -> list[tuple[int, int, int]]:
    """The exemplars of ``request`` that ``engine`` searches smaller than the region's scale
    (:func:`reference_size`): ``(index, w, h)``, the largest size one is searched at over the
    engine's boxes (:func:`plan_boxes`); empty for an engine that takes no exemplars."""
    if Guidance.EXEMPLARS not in engine.guidance or not request.exemplars:
        return []
    if not request.hole.any():
        return []
    plan = plan_boxes(request, engine)
    shrunk = []
    for index, exemplar in enumerate(request.exemplars):
        height, width = exemplar.shape[:2]
        sizes = [(reference_size(exemplar.shape, _scaled_size(box, scale), scale),
                  (max(1, round(width * scale)), max(1, round(height * scale))))
                 for box, scale in plan]
        if any(size != like_region for size, like_region in sizes):
            w, h = max(size for size, _ in sizes)
            shrunk.append((index, w, h))
    return shrunk


def may_shrink_references(request: InpaintRequest) -> bool:
    """Whether any exemplar of ``request`` is large enough that an engine may search it
    shrunk (more than :data:`REFERENCE_PIXELS_FLOOR` pixels): when not, no box need be
    planned to know that none is."""
    return any(e.shape[0] * e.shape[1] > REFERENCE_PIXELS_FLOOR for e in request.exemplars)


def shrunk_references_note(request: InpaintRequest, engine: Engine,
                           names: Sequence[str]) -> str:
    """One sentence naming the exemplars of ``request`` that ``engine`` searches shrunk
    (:func:`shrunk_references`), each by its entry of ``names`` (one per exemplar, in order),
    and why; "" when there are none. The CLI and the editor both say it."""
    if not may_shrink_references(request):
        return ""  # none can be shrunk: no need to plan the boxes
    named = []
    for index, width, height in shrunk_references(request, engine):
        shape = request.exemplars[index].shape
        searched = "is searched at" if not named else "at"
        named.append(f"{names[index]} ({shape[1]}x{shape[0]}) {searched} {width}x{height}")
    if not named:
        return ""
    return (f"{', '.join(named)}: reference photos are shrunk to at most "
            f"{REFERENCE_PIXELS_PER_REGION} times the pixels of the area filled (and no less "
            f"than {REFERENCE_PIXELS_FLOOR / 1e6:g} megapixels) to keep the fill quick")


# the shrunk copies of references: id(pixels) -> {(w, h): copy}, latest last;
# an entry goes when its reference is freed (weakref.finalize)
_shrunk_copies: dict[int, OrderedDict[tuple[int, int], np.ndarray]] = {}
# reentrant: a reference freed while this thread holds the lock forgets its copies under it
_shrunk_copies_lock = threading.RLock()


def _forget_shrunk_copies(key: int) -> None:
    with _shrunk_copies_lock:
        _shrunk_copies.pop(key, None)


def _scaled_reference(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``pixels`` itself at its own ``size``, else :func:`_shrink_reference`, read-only.

    ``pixels`` is a request's exemplar, read-only (:class:`InpaintRequest` makes it so) and
    taken as never changing: its copies, the last :data:`REFERENCE_COPIES_KEPT` sizes, are
    kept while it lives and given again. Thread-safe."""
    if size == (pixels.shape[1], pixels.shape[0]):
        return pixels
    key = id(pixels)  # unique while pixels lives; its entry goes when it is freed
    with _shrunk_copies_lock:
        copies = _shrunk_copies.get(key)
        if copies is not None and size in copies:
            copies.move_to_end(size)
            return copies[size]
    scaled = _shrink_reference(pixels, size)  # outside the lock: another fill may go on
    scaled.flags.writeable = False  # a kept copy is shared by every fill
    with _shrunk_copies_lock:
        copies = _shrunk_copies.get(key)
        if copies is None:
            copies = _shrunk_copies[key] = OrderedDict()
            weakref.finalize(pixels, _forget_shrunk_copies, key).atexit = False
        copies[size] = scaled
        copies.move_to_end(size)
        while len(copies) > REFERENCE_COPIES_KEPT:
            copies.popitem(last=False)
    return scaled


def _shrink_reference(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A reference photo (RGB or RGBA uint8) shrunk to ``size`` ``(w, h)`` (no larger than
    it). The alpha of an RGBA one becomes 255 where every pixel a scaled pixel averages was
    255 (a transparent pixel's share under 1/131070 of it aside), else 0: a pixel that
    mixes in an invisible colour is never a source (see
    :func:`engines.guidance.reference_usable`)."""
    scaled = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    if pixels.shape[2] == 4:
        # the same averaging, in uint16 so that one transparent pixel's share stays above 0
        transparent = np.where(pixels[..., 3] < REFERENCE_OPAQUE, np.uint16(65535),
                               np.uint16(0))
        covered = cv2.resize(transparent, size, interpolation=cv2.INTER_AREA)
        scaled[..., 3] = np.where(covered == 0, REFERENCE_OPAQUE, 0).astype(np.uint8)
    return scaled


def build_region(request: InpaintRequest, box: Box, scale: float,
                 cancel: CancelToken | None = None) -> Region:
    """Cut ``box`` out of the request and scale every layer by ``scale``; the exemplars by
    :func:`reference_size` (transparency kept, see :func:`_scaled_reference`).

    Where the request's ``alpha`` leaves known pixels of the box fully transparent
    (:data:`TRANSPARENT`), the engine's copy of the image has colours spread from the
    visible known pixels under them (:func:`visible_colours`) and they join the excluded
    area (``sample_exclude``): neither a source nor boundary colour. The request is not
    changed.

    ``cancel`` is looked at between bands of rows of each layer copied at its own size
    (:func:`_resize`) and, on a box of more than one band (:data:`BAND_PIXELS`), before
    each layer (a scaled one is resized in one call: banding would change its bytes); with
    such transparent pixels also between the bands of the passes that find them and merge
    them into the excluded area, and within :func:`visible_colours`."""
    return _prepared_region(request, box, scale, cancel)[0]


def _prepared_region(request: InpaintRequest, box: Box, scale: float,
                     cancel: CancelToken | None) -> tuple[Region, np.ndarray | None]:
    """:func:`build_region`'s region for ``box``, and the full-size picture the engine's
    copy was made from where it is not the request's own (fully transparent known pixels
    given visible colours, :func:`_engine_image`; None where it is): run_regions pastes
    over that one (:func:`_pasted_over`), so the colours are spread once (spreading them
    again for a scaled engine took 0.2-0.4 s on a 20 MP picture)."""
    image, hidden = _engine_image(request, box, cancel)
    size = _scaled_size(box, scale)
    rows, cols = box.slices
    looks = cancel is not None and box.height > _band_rows(box.width)

    def cut(array: np.ndarray | None, kind: str) -> np.ndarray | None:
        if array is None:
            return None
        if looks:
            cancel.raise_if_cancelled()
        return _resize(array[rows, cols], size, kind, cancel)

    def shaped(array: np.ndarray, kind: str) -> np.ndarray:  # already cut to the box
        if looks:
            cancel.raise_if_cancelled()
        return _resize(array, size, kind, cancel)

    exclude = None if hidden is None else _excluded(request, box, hidden, cancel)
    exemplars = tuple(_scaled_reference(e, reference_size(e.shape, size, scale))
                      for e in request.exemplars)
    region = Region(
        image=cut(request.image, "image") if hidden is None else shaped(image, "image"),
        mask=cut(request.mask, "mask"),
        sketch=cut(request.sketch, "line"),
        color=cut(request.color, "labels"),
        labels=cut(request.labels, "labels"),
        sample_include=cut(request.sample_include, "mask"),
        sample_exclude=(cut(request.sample_exclude, "mask") if exclude is None
                        else shaped(exclude, "mask")),
        exemplars=exemplars,
        scale=scale,
        seed=request.seed,
        options=request.options,
        device=request.device,
    )
    return region, None if hidden is None else image


def _engine_image(request: InpaintRequest, box: Box,
                  cancel: CancelToken | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(image, hidden)`` over ``box``: the picture as the engine sees it, and the ``(h, w)``
    bool map of its known pixels that are fully transparent (None: none, and ``image`` is a
    view of the request's). With such pixels ``image`` is a copy whose colours there come
    from the visible known pixels (:func:`visible_colours`). The maps are made in bands of
    rows (:func:`_row_bands`, ``cancel`` looked at between them)."""
    rows, cols = box.slices
    image = request.image[rows, cols]
    if request.alpha is None:
        return image, None
    visible = np.empty((box.height, box.width), bool)
    hidden = np.empty_like(visible)
    for band in _row_bands(box.height, box.width, cancel):
        part = Box(box.top + band.start, box.left, box.top + band.stop, box.right)
        visible[band] = _visible_known(request, part)
        np.greater(request.mask[part.slices] < 128, visible[band], out=hidden[band])
    if not hidden.any():
        return image, None
    if not visible.any():  # the caller refuses or widens such a box; nothing to spread
        return image, hidden
    return visible_colours(image, hidden, visible, cancel), hidden


def _excluded(request: InpaintRequest, box: Box, hidden: np.ndarray,
              cancel: CancelToken | None) -> np.ndarray:
    """``(h, w)`` uint8 over ``box``: the request's excluded area (``sample_exclude``, none
    where it has none) with the ``hidden`` pixels (``(h, w)`` bool) added at 255, made in
    bands of rows (:func:`_row_bands`, ``cancel`` looked at between them)."""
    exclude = request.sample_exclude
    out = np.empty(hidden.shape, np.uint8)
    for band in _row_bands(box.height, box.width, cancel):
        np.multiply(hidden[band].view(np.uint8), np.uint8(255), out=out[band])
        if exclude is not None:
            rows = slice(box.top + band.start, box.top + band.stop)
            np.maximum(exclude[rows, box.left:box.right], out[band], out=out[band])
    return out


def visible_colours(image: np.ndarray, fill: np.ndarray, sources: np.ndarray,
                    cancel: CancelToken | None = None) -> np.ndarray:
    """A copy of ``(h, w, 3)`` uint8 ``image`` whose ``fill`` pixels (``(h, w)`` bool) take
    colours spread smoothly from its ``sources`` pixels (``(h, w)`` bool, some true) by
    push-pull: the sources' colours averaged over ever coarser 2x2 blocks until every
    block holds some, then brought back up, each level's own average where it has one.
    The other pixels are copied as they are. No float copy of the full size is made (the
    first level is averaged in bands of rows, ``cancel`` looked at between them)."""
    height, width = fill.shape
    cancel = cancel or CancelToken()
    # level 1: 2x2 means of the sources' colours (premultiplied) and of their coverage
    colour = np.empty(((height + 1) // 2, (width + 1) // 2, 3), np.float32)
    weight = np.empty(colour.shape[:2], np.float32)
    rows = max(2, _band_rows(width) // 2 * 2)
    for top in range(0, height, rows):
        if top:
            cancel.raise_if_cancelled()
        band = slice(top, min(top + rows, height))
        used = sources[band].view(np.uint8)
        part = cv2.bitwise_and(image[band], image[band], mask=used).astype(np.float32)
        half = slice(top // 2, (band.stop + 1) // 2)
        colour[half], weight[half] = _halved(part, used.astype(np.float32))
    levels = []
    while max(weight.shape) > 1 and not (weight > 0).all():
        cancel.raise_if_cancelled()
        levels.append((colour, weight))
        colour, weight = _halved(colour, weight)
    spread = colour / np.maximum(weight, 1e-6)[..., None]
    for colour, weight in reversed(levels):
        cancel.raise_if_cancelled()
        up = _doubled(spread, weight.shape)
        spread = colour + (1.0 - weight)[..., None] * up
    filled = np.clip(np.rint(spread), 0, 255).astype(np.uint8)
    out = np.array(image, copy=True)
    cancel.raise_if_cancelled()
    cv2.copyTo(_doubled(filled, (height, width)), fill.view(np.uint8), out)
    return out


def _halved(colour: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 means of float32 ``colour`` ``(h, w, 3)`` and ``weight`` ``(h, w)``: an odd side
    is padded with one zero row or column (no colour, no weight)."""
    height, width = weight.shape
    pad = (0, height % 2, 0, width % 2)
    if any(pad):
        colour = cv2.copyMakeBorder(colour, *pad, cv2.BORDER_CONSTANT, value=0)
        weight = cv2.copyMakeBorder(weight, *pad, cv2.BORDER_CONSTANT, value=0)
    size = (colour.shape[1] // 2, colour.shape[0] // 2)
    return (cv2.resize(colour, size, interpolation=cv2.INTER_AREA),
            cv2.resize(weight, size, interpolation=cv2.INTER_AREA))


def _doubled(colour: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``colour`` ``(h, w, 3)`` scaled up twice (bilinear) and cut to ``shape`` ``(H, W)``
    (``h`` = ceil(H / 2), as :func:`_halved` made it)."""
    up = cv2.resize(colour, (2 * colour.shape[1], 2 * colour.shape[0]),
                    interpolation=cv2.INTER_LINEAR)
    return up[:shape[0], :shape[1]]


def seam_correction(original: np.ndarray, result: np.ndarray, hole: np.ndarray,
                    feather: float) -> np.ndarray:
    """A smooth colour offset that makes ``result`` meet ``original`` at the hole's edge.

    The offset ``original - result`` is measured on a ring of known pixels around the hole,
    spread into the hole by normalised Gaussian convolution and faded out with the distance
    from the edge (scale ``feather`` pixels). Returns a float32 ``(h, w, 3)`` offset, zero
    outside the hole. Engines that reproduce the known pixels exactly get a zero offset.
    """
    offset = np.zeros(original.shape, np.float32)
    for box, part in _seam_parts(original, result, hole, feather, CancelToken()):
        offset[box.slices] = part
    return offset


def _seam_parts(original: np.ndarray, result: np.ndarray, hole: np.ndarray, feather: float,
                cancel: CancelToken) -> Iterator[tuple[Box, np.ndarray]]:
    """:func:`seam_correction` as ``(box, offset in the box)`` pairs: disjoint boxes outside
    which it is zero. A region of up to :data:`SEAM_WHOLE_PIXELS` pixels is one box (or none
    where the offset is zero); a larger one is cut in tiles around the ring
    (:func:`_seam_tiles`), each computed from a window with the margin that makes its values
    those of the whole region's (see :func:`_seam_reach`). ``cancel`` is looked at between
    the passes of each computation."""
    size = hole.shape
    if feather <= 0:
        return
    if size[0] * size[1] <= SEAM_WHOLE_PIXELS:
        offset = _seam_offset(original, result, hole, feather, cancel)
        if offset is not None:
            yield Box.frame(size), offset
        return
    reach, margin = _seam_reach(feather)
    for tile in _seam_tiles(hole, reach, margin, cancel):
        left = max(0, tile.left - margin)
        window = Box(tile.top - margin, left - left % SEAM_COLUMN_ALIGN, tile.bottom + margin,
                     tile.right + margin + SEAM_COLUMN_ALIGN).clip(size)
        rows, cols = window.slices
        offset = _seam_offset(original[rows, cols], result[rows, cols], hole[rows, cols],
                              feather, cancel)
        if offset is not None:
            inner = Box(tile.top - window.top, tile.left - window.left,
                        tile.bottom - window.top, tile.right - window.left)
            yield tile, offset[inner.slices]


def _seam_reach(feather: float) -> tuple[int, int]:
    """``(reach, margin)`` of :func:`_seam_offset` for ``feather`` > 0, in pixels along
    either axis. The offset at a hole pixel is non-zero only where a ring pixel lies within
    the Gaussian's half-size ``half`` (OpenCV's float kernel: ``cvRound(8 sigma + 1) | 1``
    taps, so ``half <= ceil(4 sigma) + 1``), and a ring pixel lies within the ring's width of
    a hole pixel: hence ``reach = half + width`` from a place with both hole and known pixels.
    A window computes a pixel's value exactly when it holds the pixels read for it: the
    ring's (``half + width`` away) and the hole pixel's nearest known one, where the fade is
    not multiplied by zero: its chamfer distance (steps of 0.955 and 1.3693) is at most
    ``1.3693 * half``, which is at most ``1.44 * half`` pixels away along either axis."""
    width = max(1, round(feather))
    half = math.ceil(4 * max(1.0, feather)) + 1
    reach = half + width
    return reach, max(reach, math.ceil(1.44 * half)) + 1


def _seam_tiles(hole: np.ndarray, reach: int, margin: int,
                cancel: CancelToken) -> Iterator[Box]:
    """Disjoint boxes of the ``(h, w)`` bool ``hole`` covering every hole pixel within
    ``reach`` (either axis) of a place with both hole and known pixels: bands of ``4 *
    margin`` rows (so a window's rows are at most 1.5 times its tile's), each cut into runs
    of columns holding such pixels (runs at most two margins apart joined: their windows
    would overlap). ``cancel`` is looked at between bands."""
    height, width = hole.shape
    rows = 4 * margin
    starts = range(0, height, rows)
    any_hole = np.zeros((len(starts), width), bool)  # per band: a column has a hole pixel
    all_hole = np.zeros((len(starts), width), bool)  # ... only hole pixels
    for index, top in enumerate(starts):
        if index:
            cancel.raise_if_cancelled()
        band = hole[top:top + rows]
        any_hole[index] = band.any(axis=0)
        all_hole[index] = band.all(axis=0)
    spread = math.ceil(reach / rows)
    line = np.ones((1, 2 * reach + 1), np.uint8)
    for index, top in enumerate(starts):
        cancel.raise_if_cancelled()
        if not any_hole[index].any():
            continue
        near = slice(max(0, index - spread), index + spread + 1)
        some = cv2.dilate(any_hole[near].any(axis=0).view(np.uint8)[None], line)[0]
        only = cv2.erode(all_hole[near].all(axis=0).view(np.uint8)[None], line)[0]
        columns = (some > only) & any_hole[index]
        for left, right in _runs(columns, 2 * margin):
            yield Box(top, left, min(top + rows, height), right)


def _runs(flags: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` runs of True in the 1-D bool ``flags``, runs at most
    ``gap`` apart joined."""
    edges = np.flatnonzero(np.diff(flags.astype(np.int8), prepend=0, append=0))
    runs: list[tuple[int, int]] = []
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if runs and start - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def _seam_offset(original: np.ndarray, result: np.ndarray, hole: np.ndarray,
                 feather: float, cancel: CancelToken | None = None) -> np.ndarray | None:
    """:func:`seam_correction` computed over the whole of the arrays given, or None where it
    is zero (checked on the ring first); ``cancel`` is looked at between its passes."""
    cancel = cancel or CancelToken()
    hole_u8 = hole.view(np.uint8) if hole.dtype == np.bool_ else (hole > 0).astype(np.uint8)
    if feather <= 0 or not hole_u8.any():
        return None
    width = max(1, round(feather))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    ring = cv2.dilate(hole_u8, kernel) & ~hole_u8 & 1
    ring_pixels = ring.view(bool)
    cancel.raise_if_cancelled()
    # no ring (the hole covers the whole region) or an engine that kept the known pixels
    if not ring.any() or np.array_equal(original[ring_pixels], result[ring_pixels]):
        return None
    cancel.raise_if_cancelled()
    difference = (original.astype(np.float32) - result.astype(np.float32)) * ring[..., None]
    sigma = max(1.0, feather)
    numerator = cv2.GaussianBlur(difference, (0, 0), sigma)
    cancel.raise_if_cancelled()
    denominator = cv2.GaussianBlur(ring.astype(np.float32), (0, 0), sigma)
    offset = numerator / np.maximum(denominator, 1e-3)[..., None]
    cancel.raise_if_cancelled()
    distance = cv2.distanceTransform(hole_u8, cv2.DIST_L2, 3)
    fade = np.exp(-((distance / feather) ** 2)) * (denominator > 1e-3)
    correction = offset * (fade * hole_u8)[..., None]
    return correction.astype(np.float32)


def paste_hole(original: np.ndarray, result: np.ndarray, mask: np.ndarray,
               feather: float = 6.0) -> np.ndarray:
    """``original`` with its masked pixels taken from ``result``.

    ``mask`` is uint8 ``(h, w)``: pixels at ``255`` take ``result`` (after the colour offset of
    :func:`seam_correction` that hides the seam), pixels between ``1`` and ``254`` (a feathered
    mask edge) are blended in proportion, and pixels at ``0`` are copied from ``original``
    byte for byte. Both images are ``(h, w, 3)`` uint8 of the same shape.
    """
    if result.shape != original.shape:
        raise ValueError(f"result {result.shape} and original {original.shape} differ in shape")
    out = original.copy()
    _paste_into(out, original, result, mask, feather)
    return out


def _paste_into(out: np.ndarray, original: np.ndarray, result: np.ndarray, mask: np.ndarray,
                feather: float, cancel: CancelToken | None = None) -> None:
    """:func:`paste_hole` written into ``out``, which already equals ``original`` where
    ``mask`` is 0: only the masked pixels are computed and written, in bands of rows
    (:func:`_row_bands`; ``cancel`` looked at between them), then again with the seam's
    offset in the boxes where it is not zero (:func:`_seam_parts`; one box, pasted once,
    on a small region)."""
    cancel = cancel or CancelToken()
    parts = _seam_parts(original, result, mask >= 128, feather, cancel) if feather > 0 \
        else iter(())
    whole = mask.size <= SEAM_WHOLE_PIXELS
    offset = next(parts, (None, None))[1] if whole else None
    for band in _row_bands(*mask.shape, cancel):
        _paste_rows(out[band], original[band], result[band], mask[band],
                    None if offset is None else offset[band])
    for box, part in parts:  # a large region's tiles, the plain paste above corrected
        rows, cols = box.slices
        _paste_rows(out[rows, cols], original[rows, cols], result[rows, cols],
                    mask[rows, cols], part)


def _paste_rows(out: np.ndarray, original: np.ndarray, result: np.ndarray, mask: np.ndarray,
                offset: np.ndarray | None) -> None:
    """:func:`_paste_into` for some rows, with their part of the seam's ``offset`` (None:
    zero). Only the bounding box of their masked pixels is read and written: a stroke
    across a 50 MP picture is about a tenth of each band (the masked copy of a whole band
    took 55-95 ms on a shared 2-core CPU)."""
    left, top, width, height = cv2.boundingRect(mask)
    if not width:
        return
    if width * height < mask.size:
        inner = slice(top, top + height), slice(left, left + width)
        out, original, result, mask = out[inner], original[inner], result[inner], mask[inner]
        offset = None if offset is None else offset[inner]
    touched = mask > 0
    if offset is None:  # fully masked pixels take the result as it is
        np.copyto(out, result, where=(mask == 255)[..., None])
        touched &= mask < 255
        if not touched.any():
            return
    filled = result[touched].astype(np.float32)
    if offset is not None:
        filled += offset[touched]
    alpha = mask[touched].astype(np.float32)[:, None] / 255.0
    blended = original[touched] * (1.0 - alpha) + filled * alpha
    out[touched] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _is_grey(rgb: np.ndarray, cancel: CancelToken | None = None) -> bool:
    """Whether ``(H, W, 3)`` ``rgb`` has equal channels everywhere (a black-and-white photo).
    Read in bands of rows (:func:`_row_bands`, ``cancel`` looked at between them) up to the
    first one that is not grey."""
    for band in _row_bands(*rgb.shape[:2], cancel):
        part = rgb[band]
        if not (np.array_equal(part[..., 0], part[..., 1])
                and np.array_equal(part[..., 1], part[..., 2])):
            return False
    return True


def _greyed(rgb: np.ndarray, cancel: CancelToken) -> np.ndarray:
    """``(H, W, 3)`` uint8 ``rgb`` made grey (OpenCV's luma in every channel), in bands of
    rows (:func:`_row_bands`, ``cancel`` looked at between them): a new array."""
    grey = np.empty(rgb.shape, np.uint8)
    for band in _row_bands(*rgb.shape[:2], cancel):
        grey[band] = cv2.cvtColor(cv2.cvtColor(rgb[band], cv2.COLOR_RGB2GRAY),
                                  cv2.COLOR_GRAY2RGB)
    return grey


def colour_strokes_in(hole: np.ndarray, color: np.ndarray | None) -> np.ndarray | None:
    """The ``(H, W)`` bool map of the ``hole`` pixels (``(H, W)`` bool) under a colour
    stroke of ``color`` (``(H, W, 4)`` uint8 RGBA, alpha > 0 where painted), or None when
    ``color`` is None or no stroke lies in the hole."""
    if color is None:
        return None
    painted = hole & (color[..., 3] > 0)
    return painted if painted.any() else None


def _colour_hinted(engine: Engine, region: Region, cancel: CancelToken | None = None) -> bool:
    """Whether ``engine`` follows colour strokes and ``region`` has some in its hole
    (:func:`colour_strokes_in`), looked for in bands of rows (:func:`_row_bands`, ``cancel``
    looked at between them) up to the first one with some."""
    if Guidance.COLOR not in engine.guidance or region.color is None:
        return False
    return any(colour_strokes_in(region.mask[band] >= 128, region.color[band]) is not None
               for band in _row_bands(*region.mask.shape, cancel))


def run_regions(engine: Engine, request: InpaintRequest,
                cancel: CancelToken) -> Iterator[Stage]:
    """Run ``engine`` over the request's boxes and yield full-size stages (last one final).

    Where a box of the picture is grey (equal channels), its fill is made grey too, unless
    the engine follows colour strokes painted in its hole. A picture with transparency
    (``request.alpha``) whose known pixels are all fully transparent, or whose sampling
    area allows only such pixels to an engine that copies them, is refused
    (:class:`InputError`); otherwise its fully transparent pixels are neither sources nor
    boundary colour (:func:`build_region`), and where they are all that limits a copying
    engine's sources (no sampling area drawn), its :class:`NoSourceError` is raised with
    the message that says so (``transparent``)."""
    cancel.raise_if_cancelled()
    if not _hole_in_bands(request.mask, cancel):
        raise InputError("the mask is empty: paint over what should be removed first")
    _require_visible(request, cancel)
    _require_visible_allowed(request, engine, cancel)
    feather = float(engine.region_option(request, "seam_feather"))
    # fully transparent known pixels the only limit on a copying engine's sources (no
    # sampling area drawn): a refusal says so, not that a sampling area should be widened
    transparent_only = request.alpha is not None and engine.copies_sources and not any(
        area is not None and _any_in_bands(area, cancel)
        for area in _sampling_followed(request, engine))
    plan = plan_boxes(request, engine, cancel)
    canvas = _copied(request.image, cancel)  # writable working copy
    for index, (box, scale) in enumerate(plan):
        cancel.raise_if_cancelled()
        region, seen = _prepared_region(request, box, scale, cancel)
        rows, cols = box.slices
        original = _pasted_over(request, box, region, seen, cancel)
        mask = request.mask[rows, cols]
        last_region = index == len(plan) - 1
        grey = _is_grey(original, cancel) and not _colour_hinted(engine, region, cancel)
        got_final = False
        for stage in _region_stages(engine, region, cancel,
                                    transparent_only and seen is not None):
            cancel.raise_if_cancelled()
            _check_stage(engine, stage, region.image.shape)
            result = _resize(stage.image, (box.width, box.height), "image", cancel)
            if grey:  # a network may tint a black-and-white photo: keep its fill grey too
                result = _greyed(result, cancel)
            # the box of the canvas differs from the original at masked pixels only, which
            # every stage rewrites; previews are replaced moments later: only the final
            # result gets the seam work
            _paste_into(canvas[rows, cols], original, result, mask,
                        feather if stage.final else 0.0, cancel)
            final = stage.final and last_region
            got_final = got_final or stage.final
            suffix = f" ({index + 1}/{len(plan)})" if len(plan) > 1 and not final else ""
            yield Stage(stage.name + suffix, _copied(canvas, cancel),
                        (index + min(max(stage.progress, 0.0), 1.0)) / len(plan), final)
        if not got_final:
            raise EngineError(f"{_named(engine)} ended without a final stage; the last "
                              "RegionStage an engine yields must have final=True")


def _pasted_over(request: InpaintRequest, box: Box, region: Region, seen: np.ndarray | None,
                 cancel: CancelToken) -> np.ndarray:
    """The picture in ``box`` as the engine saw it in ``region``, at full size, for the
    paste: the request's own pixels, but where fully transparent known pixels were given
    colours of the visible ones, ``seen`` (:func:`_prepared_region`; copied where the region's
    image is that array, before the engine may write to it): the seam is measured against
    them. Only hole pixels are written, so the canvas keeps what the picture stores under
    the others."""
    if seen is None:
        rows, cols = box.slices
        return request.image[rows, cols]
    return _copied(seen, cancel) if region.image is seen else seen


def _hole_in_bands(mask: np.ndarray, cancel: CancelToken) -> bool:
    """Whether the ``(H, W)`` uint8 ``mask`` has a hole pixel (``>= 128``), looked for in
    bands of rows (:func:`_row_bands`, ``cancel`` looked at between them) up to the first
    one with some."""
    return any(bool((mask[band] >= 128).any()) for band in _row_bands(*mask.shape, cancel))


def _contiguous(array: np.ndarray, cancel: CancelToken | None) -> np.ndarray:
    """``array`` itself where it is C-contiguous, else :func:`_copied` (what
    ``np.ascontiguousarray`` gives, in bands)."""
    return array if array.flags.c_contiguous else _copied(array, cancel)


def _copied(image: np.ndarray, cancel: CancelToken | None) -> np.ndarray:
    """A writable C-contiguous copy of ``image`` (``(H, W, ...)``), made in bands of rows
    (:func:`_row_bands`, ``cancel`` looked at between them): 150 MB at 50 MP."""
    copy = np.empty(image.shape, image.dtype)
    for band in _row_bands(*image.shape[:2], cancel):
        copy[band] = image[band]
    return copy


def _named(engine: Engine) -> str:
    """How a message names ``engine``: its title and, where it differs, its name."""
    title = engine.title or engine.name
    return title if title == engine.name else f"{title} ({engine.name})"


def _described(value: object) -> str:
    """A few words on what an engine handed back where it should not have."""
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return "None" if value is None else f"a {type(value).__name__}"


def _region_stages(engine: Engine, region: Region, cancel: CancelToken,
                   transparent_only: bool = False) -> Iterable[RegionStage]:
    """What ``engine.inpaint_region`` gives, once it is known to be something to iterate
    over (a generator, as a rule): an array returned instead raises :class:`EngineError`.
    With ``transparent_only`` (the region's excluded area is only the picture's fully
    transparent pixels), a :class:`NoSourceError` it raises is raised as its
    ``transparent`` message."""
    stages = engine.inpaint_region(region, cancel)
    if isinstance(stages, np.ndarray) or not isinstance(stages, Iterable):
        raise EngineError(f"{_named(engine)}: inpaint_region returned {_described(stages)} "
                          "instead of yielding RegionStage results (yield RegionStage(name, "
                          "image, progress), the last one with final=True)")
    return _said_of_transparency(stages) if transparent_only else stages


def _said_of_transparency(stages: Iterable[RegionStage]) -> Iterator[RegionStage]:
    """``stages``, a :class:`NoSourceError` among them raised again with its
    ``transparent`` message."""
    try:
        yield from stages
    except NoSourceError as refusal:
        raise NoSourceError(refusal.transparent, refusal.transparent) from None


def _check_stage(engine: Engine, stage: object, shape: tuple[int, ...]) -> None:
    """Raise :class:`EngineError` naming ``engine`` unless ``stage`` is a
    :class:`RegionStage` whose image is a uint8 array of ``shape`` (the region's
    ``(h, w, 3)``). Reads the array's header only: nothing is copied or converted."""
    if not isinstance(stage, RegionStage):
        raise EngineError(f"{_named(engine)} yielded {_described(stage)}; inpaint_region must "
                          "yield RegionStage results")
    image = stage.image
    expected = "engines must return uint8 RGB (H, W, 3) of the region's size"
    if not isinstance(image, np.ndarray):
        raise EngineError(f"{_named(engine)} returned {_described(image)} as its "
                          f"{stage.name!r} image; {expected}")
    if image.dtype != np.uint8:
        raise EngineError(f"{_named(engine)} returned {image.dtype} values; {expected}")
    if image.shape != shape:
        raise EngineError(f"{_named(engine)} returned an image of shape {image.shape} for a "
                          f"region of shape {shape}; {expected}")
