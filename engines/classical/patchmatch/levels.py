"""The pyramid of guided PatchMatch: per-level inputs and the problem each level solves.

:func:`build_pyramid` turns a region's layers into :class:`LevelInputs`, finest first, halving
the size at each level with ``cv2.pyrDown`` (``ceil(n / 2)``; coarse pixel ``(y, x)`` sits
on fine pixel ``(2y, 2x)``). Coarse images average known pixels only, so the hole shrinks
from level to level. :func:`level_problem` turns one level's inputs into a
:class:`LevelProblem`: the source atlas (the region beside the exemplars), where a source
patch may sit, the target patches and the guidance maps, as the kernels take them (see
:mod:`engines.classical.patchmatch.kernels`).
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from engines.base import UNLABELLED, CancelToken, may_fit_smaller
from engines.classical.patchmatch import kernels
from engines.classical.patchmatch.window import (
    Window,
    any_in_bands,
    bands_with_margin,
    gather_in_bands,
    nonzero_in_bands,
    row_bands,
)
from engines.guidance import patch_centres, reference_usable
from engines.region import Box

BAND_ROWS = 16  # rows per band of the parallel scans; fixed so results do not depend on threads
# coarse rows per band of the pyramid's reductions (twice as many fine rows are read): at
# 50 MP a band of window.BAND rows took 70-270 ms between two looks at the cancel token
SHRINK_BAND = 32
# Wexler et al. weigh a target patch by gamma ** -(its distance into the hole) with gamma 1.3.
# Measured over 28 cases (bench/patchmatch.py's 12 and 16 on other photos, 2 to 3 seeds each),
# with the flat similarity weights below: 1.7 gave the best mean hole PSNR of the bases tried
# (1.5, 1.7, 2, 3) and an SSIM within 0.001 of the best (1.5); 3 (what this was) kept large
# square holes 0.1 dB better but free-form strokes 0.2 dB worse.
# The label of wildcard sources (unlabelled pixels, exemplars) once a label map has labels
# with sources of their own: beyond every uint8 label, so it equals none of them.
WILDCARD_LABEL = 256
CONFIDENCE_BASE = 1.7
CONFIDENCE_CAP = 40.0  # distances beyond this weigh the same (avoids float underflow)
# similarity weights exp(-cost / (2 sigma^2)) with sigma^2 this percentile of a level's costs:
# only the worst few matches fade (75, what this was, scored 0.07 dB lower on those cases)
VOTE_SIGMA_PERCENTILE = 95.0
# The sketch's edge maps: Canny on the grey picture blurred with sigma EDGE_BLUR, thresholds
# in median gradients (see canny_thresholds). Chosen with bench/sketch.py: the rule they
# replace (0.66 / 1.33 x the median grey level, no blur) missed edges of under ~40 grey
# levels on bright pictures, so a line drawn along one was not followed; on photos, lower
# thresholds or no blur turn texture into edges that compete with the structure drawn.
EDGE_BLUR = 1.0
EDGE_HIGH = 5.0
EDGE_LOW = 2.5
EDGE_FLOOR = 20.0
_GRADIENT_LEVELS = 2041  # |dx| + |dy| of 3x3 Sobel on uint8: 0 .. 2 * 4 * 255
# rows of margin that make banded maps equal whole ones (window.bands_with_margin):
# the 3x3 L2 distance reaches a pixel 40 (CONFIDENCE_CAP) away through at least 40 / 0.955
# rows (measured: bands with this margin give the whole map's capped values);
_DISTANCE_MARGIN = 44
# the soft lines' Gaussian (sigma 1: a 9-tap kernel) reads 4 rows either side.
_SOFT_MARGIN = 8
# Canny's verdict on a pixel (before hysteresis) reads the grey rows up to 2 away (Sobel,
# then the neighbours' gradients).
_CANNY_MARGIN = 4
# rows of margin first tried for a band of the sketch's skeleton (doubled while too few:
# see _skeleton_in_bands)
SKELETON_MARGIN = 8
# Thin lines. A dark or bright line (a wire, a pole, a road marking) has an edge on either
# side and none along its middle, where a user traces it; matched with the edge map, a
# stroke on a line's middle pulls patches whose edge runs there, and their votes average
# the line away (QA audit 36: a 5 px line filled at grey 99 with the stroke, 31 without).
# When a stroke of the sketch, where it is drawn on known pixels just outside the hole
# (THIN_LINE_RING px from it), runs along the middle of such lines (THIN_LINE_SHARE of
# its pixels on them), the sources' structure map gives each line of that kind (dark or
# bright) narrower than THIN_LINE_WIDTH px its centre line instead of its two edges
# (:func:`_thin_lines`). Each stroke (a connected piece of the sketch) is judged on its
# own, so a second stroke along an edge does not undo the first's; lines of the other
# kind keep their edges, so a dark wire traced on a photo full of thin highlights is not
# matched with them (QA audit 37). Each end of a stroke (where it comes to the hole from
# one side) is judged on its own too and the stroke traces the kinds its ends trace: a
# cable dark against the sky on one side and bright against a wall on the other is of
# both kinds whichever end is drawn longer (QA audit 39, F1).
# A line's depth (THIN_LINE_CONTRAST of Canny's high threshold) is the finest level's at
# every level: a level's own gradients grow as it shrinks on smooth ramps (a sky darkening
# downwards: 8 grey levels at the finest level, 22 two levels down), so the coarse levels
# lost a traced pole near the hole and copied it, and the bright sky beside it, from far
# up the picture (QA audit 39, F3). A level's own threshold still holds where it is lower:
# in a busy picture it falls as the noise averages out (230 to 100 one level down), and at
# the finest's a wire was half lost there (the nineteenth session).
# Strokes drawn inside the hole only keep the edge map: on the photos of bench/sketch.py,
# whose strokes follow true edges, centre lines everywhere cost 0.3 dB and 9 points of
# line recall, so the centre lines are taken only where the user shows them.
THIN_LINE_WIDTH = 17
THIN_LINE_CONTRAST = 0.125  # a line's depth, as a share of Canny's high threshold
THIN_LINE_FLOOR = 8.0  # ... and at least this many grey levels
THIN_LINE_RING = (4, 14)
THIN_LINE_SHARE = 0.6
# Bands. A stroke along the middle of a line wider than THIN_LINE_WIDTH (a road, a pole, a
# 21 px dark band: QA audit 38, F3) lies where neither the edge map nor the thin lines have
# anything: the band was replaced by background. Such a line of up to BAND_WIDTH px is
# found as thin lines are (black-hat or top-hat over a BAND_WIDTH disc); a stroke traces it
# where it is drawn at least BAND_CENTRED of the band's half-width inside it (its border
# keeps the edge map, so a stroke along a road's side still bends the side), and the
# sources' structure map then marks lines of that kind up to BAND_MARGIN times the band's
# width by their centre line (:func:`_traces_bands`). An end of a stroke that traces a thin
# line traces no band, nor does the stroke trace a band of that line's kind; its other ends
# are judged without it: a bright pole's stroke that crossed a dark cable's made one stroke
# with four ends, which traced no band, and the pole came out a thin light line (QA audit
# 42, F1). An end that traces thin lines of one kind is judged for bands of the other kind
# on the picture with those lines wiped out, and its stroke traces such a band only where
# each of its ends does: a stroke along a dark road's white centre marking traced the
# marking only, and the marking split the road in two strips, neither under the stroke, so
# the road in the hole was filled with grass (QA audit 42, F2). Such an end traces the
# band only where it is drawn at least BAND_WIPED_CENTRED of the band's half-width inside
# it, along the band's middle: a stroke on a marking 10 px off a 40 px road's middle, or on
# one of two markings 8 px either side of it, was taken for the road's axis, and the road
# was laid along the stroke, bulging and narrowed (QA audit 44, F3). An end on no thin line,
# of a stroke that traces no band of a kind, is judged the same way a second time (the
# other kind's lines wiped out, BAND_WIPED_CENTRED), and keeps it only where every end of its
# stroke then traces the band: a stroke along a dashed marking ends on a gap between dashes,
# where the dashes still split the road (QA audit 44, F1). Thin lines of a kind no
# band is traced of keep THIN_LINE_WIDTH (``LevelInputs.narrow_width``), unless they lie
# along a traced band (the marking: marked with the road, its centre is the road's).
# A band runs on past the hole; a blob (a dark disc about as long as it is wide) ends
# within about its width: a stroke traces a band only where each of its ends does, from
# where it meets the hole, along the stroke's way or up to BAND_TURN degrees from it, the
# band's grey (nearer the band's than its sides') runs on away from the hole for BAND_RUN
# times the band's width, in a corridor BAND_CORRIDOR of that width wide (BAND_RUN_SHARE of
# the corridor's known pixels at each step), or widens to BAND_MEETS times that width
# before it stops (:func:`_bands_run_on`). Judged on the grey, not on the bands' region: a
# road that meets a roundabout, or a pole that meets a lamp, just past the hole goes on
# into the wider area of its grey it meets, where the region ends (a rule on the region
# dropped them: QA audit 41, F2). A stroke from one dark disc across the hole into another
# traced a 43 px band, and the fill dragged a dark streak across the hole (QA audit 40).
BAND_WIDTH = 65
BAND_CENTRED = 0.5
BAND_WIPED_CENTRED = 0.8
BAND_MARGIN = 1.25
BAND_RUN = 2.0
BAND_CORRIDOR = 0.5
BAND_RUN_SHARE = 0.8
BAND_MEETS = 1.6
BAND_TURN = 30


class ThinLines(enum.Flag):
    """The kinds of thin lines the sources' structure map marks by their centre line."""

    DARK = enum.auto()  # darker than their surroundings (black-hat)
    BRIGHT = enum.auto()  # brighter (top-hat)


NO_THIN_LINES = ThinLines(0)


@dataclass(frozen=True)
class LevelInputs:
    """One pyramid level of a region.

    ``image`` ``(h, w, 3)`` uint8 RGB (hole pixels meaningless); ``hole`` ``(h, w)`` bool;
    ``usable`` ``(h, w)`` bool, the pixels allowed as sources (known, not excluded, inside the
    include area); ``labels`` ``(h, w)`` uint8 or None; ``sketch`` ``(h, w)`` bool or None;
    ``exemplars`` RGB uint8 images scaled like the level and ``exemplar_usable`` their
    ``(h, w)`` bool maps of the pixels allowed as sources (the fully opaque ones);
    ``line_width``: 0, or the widest line (px at this level) that the sources' structure
    map marks by its centre line, when the sketch traces thin lines or bands
    (:func:`_traces_thin_lines`: ``THIN_LINE_WIDTH``; :func:`_traces_bands`: wider;
    decided at the finest level, halved at each coarser one);
    ``line_kinds``: which lines (dark, bright) are so marked; ``narrow_kinds``: those of
    them that only thin lines trace, while the sketch traces bands of the other kind (and
    those thin lines lie along none of them: ``_FinestGrey.banded_lines``): they
    are marked up to ``narrow_width`` px (``THIN_LINE_WIDTH`` at the finest level, halved as
    ``line_width`` is) as when traced alone (0: none); ``line_high``: the Canny high
    threshold that sets how deep such a line must be in the picture's map
    (:func:`_thin_lines`), the finest level's at every level, or the level's own where
    lower (0: the level's own); the exemplars' maps take each exemplar's own.
    """

    image: np.ndarray
    hole: np.ndarray
    usable: np.ndarray
    labels: np.ndarray | None
    sketch: np.ndarray | None
    exemplars: tuple[np.ndarray, ...]
    exemplar_usable: tuple[np.ndarray, ...]
    line_width: int = 0
    line_kinds: ThinLines = NO_THIN_LINES
    line_high: float = 0.0
    narrow_kinds: ThinLines = NO_THIN_LINES
    narrow_width: int = 0


@dataclass(frozen=True)
class LevelProblem:
    """Everything one level's EM iterations need, as the kernels take it.

    Per-pixel target maps live in ``window`` (:class:`~.window.Window`, the pixels within
    ``2 * radius`` of the hole, where targets read and voting writes); source maps cover the
    whole atlas.

    Attributes:
        hole: ``(h, w)`` bool hole of this level.
        atlas: ``(ha, wa, 3)`` uint8 sources, read-only: the level image at left, exemplars
            beside it (the level image itself when there are none).
        piece_left, piece_width, piece_height: int arrays, where each atlas piece lies
            (piece 0 is the region itself; pieces sit side by side at row 0).
        valid: ``(ha, wa)`` uint8, 1 where a source patch may be centred.
        window: where the target maps below are kept.
        ty, tx: int32 target patch centres (patches overlapping the hole), row-major.
        index: ``(window.size,)`` int32 target number per window pixel, -1 elsewhere.
        bands: int64 starts of ``BAND_ROWS``-row bands in the target list, then ``n``.
        hole_y, hole_x: int32 hole pixels (the pixels that voting writes), row-major.
        confidence: ``(n,)`` float32 Wexler weight of each target patch.
        centre_label: ``(n,)`` int16 label a target's source centre must carry, -1 = any.
        target_labels: ``(window.size,)`` int16 labels (-1 = unconstrained) or None;
            atlas_labels: ``(ha, wa)`` int16 (-1 = wildcard, matches any label) or None.
            Where some labels have sources of their own, the wildcards are
            :data:`WILDCARD_LABEL` instead, and so are the target labels nothing offers
            (:func:`_wildcards_serve_unoffered`).
        target_structure, structure_weight: ``(window.size,)`` float32 or None;
            atlas_structure: ``(ha, wa)`` float32 or None.
        radius: patch radius (patches are ``2 * radius + 1`` wide).
        piece_ids: what each atlas piece is: 0 the region, k the k-th exemplar of the level
            (1-based); exemplars without a usable patch are left out of the atlas.
    """

    hole: np.ndarray
    atlas: np.ndarray
    piece_left: np.ndarray
    piece_width: np.ndarray
    piece_height: np.ndarray
    valid: np.ndarray
    window: Window
    ty: np.ndarray
    tx: np.ndarray
    index: np.ndarray
    bands: np.ndarray
    hole_y: np.ndarray
    hole_x: np.ndarray
    confidence: np.ndarray
    centre_label: np.ndarray
    target_labels: np.ndarray | None
    atlas_labels: np.ndarray | None
    target_structure: np.ndarray | None
    structure_weight: np.ndarray | None
    atlas_structure: np.ndarray | None
    radius: int
    piece_ids: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, int]:
        return self.hole.shape

    @property
    def size(self) -> int:
        """Number of target patches (the work of one scan)."""
        return int(self.ty.shape[0])


def half_size(height: int, width: int) -> tuple[int, int]:
    return (height + 1) // 2, (width + 1) // 2


def _shrink(array: np.ndarray) -> np.ndarray:
    """Gaussian 2x reduction (``cv2.pyrDown``): coarse ``(y, x)`` sits on fine ``(2y, 2x)``."""
    height, width = half_size(*array.shape[:2])
    return cv2.pyrDown(array, dstsize=(width, height))


def _coarse_bands(height: int,
                  cancel: CancelToken | None = None) -> Iterator[tuple[slice, slice, slice]]:
    """The reduction of a map of ``height`` rows, band by band: ``(coarse, fine, part)``,
    the coarse rows of a band (``SHRINK_BAND``), the fine rows to reduce for them and the
    coarse rows' part of that reduction. ``cv2.pyrDown``'s coarse row ``y`` reads fine rows
    ``2y - 2 .. 2y + 2``: each band reduces two coarse rows more on either side and drops
    them, so the result is a whole-map reduction's, made with scratch memory for one band.
    ``cancel`` is checked before each band."""
    for top, bottom in row_bands(half_size(height, 1)[0], SHRINK_BAND):
        if cancel is not None:
            cancel.raise_if_cancelled()
        first = max(2 * top - 4, 0)
        skip = top - first // 2
        yield (slice(top, bottom), slice(first, min(2 * bottom + 4, height)),
               slice(skip, skip + bottom - top))


def _touched(mask: np.ndarray, cancel: CancelToken | None = None, *,
             unset: bool = False) -> np.ndarray:
    """Coarse pixels whose reduction kernel reaches any set pixel of the bool ``mask`` (any
    unset one with ``unset``); ``cancel`` is checked between bands."""
    touched = np.empty(half_size(*mask.shape), bool)
    for coarse, fine, part in _coarse_bands(mask.shape[0], cancel):
        rows = ~mask[fine] if unset else mask[fine]
        touched[coarse] = _shrink(rows.astype(np.float32))[part] > 1e-6
    return touched


def _shrunk(image: np.ndarray, cancel: CancelToken | None = None) -> np.ndarray:
    """:func:`_shrink` of an image, made band by band (``cancel`` checked between bands)."""
    out = np.empty((*half_size(*image.shape[:2]), *image.shape[2:]), image.dtype)
    for coarse, fine, part in _coarse_bands(image.shape[0], cancel):
        out[coarse] = _shrink(image[fine])[part]
    return out


def _usable_sources(hole: np.ndarray, include: np.ndarray | None,
                    exclude: np.ndarray | None,
                    cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pixels allowed as sources (known, not excluded, inside a non-empty include
    area) and the forbidden ones (known, not allowed), both ``(h, w)`` bool; made band by
    band, ``cancel`` checked between bands."""
    height = hole.shape[0]
    restrict = include is not None and any_in_bands(  # an empty include layer: no limit
        height, lambda rows: include[rows], cancel)
    usable = np.empty(hole.shape, bool)
    forbidden = np.empty(hole.shape, bool)
    for top, bottom in row_bands(height):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows = slice(top, bottom)
        known = ~hole[rows]
        allowed = known.copy()
        if restrict:
            allowed &= include[rows] >= 128
        if exclude is not None:
            allowed &= exclude[rows] < 128
        usable[rows] = allowed
        forbidden[rows] = known & ~allowed
    return usable, forbidden


def _shrink_level(level: LevelInputs, forbidden: np.ndarray,
                  cancel: CancelToken | None) -> tuple[LevelInputs, np.ndarray]:
    """The next coarser level: masked averaging of the known pixels (push-pull style).

    A coarse pixel is known when its kernel reaches any known fine pixel and takes the
    weighted mean of those only, so the hole shrinks level by level and is filled with
    smooth context. ``forbidden`` marks known pixels that may not serve as sources (excluded
    or outside the include area); a coarse pixel touched by one is no source either, and
    likewise for the unusable (not fully opaque) pixels of the exemplars. Computed in bands
    of rows (:func:`_coarse_bands`); ``cancel`` is checked between them.
    """
    cancel = cancel or CancelToken()
    size = half_size(*level.hole.shape)
    image = np.empty((*size, 3), np.uint8)
    hole = np.empty(size, bool)
    for coarse, fine, part in _coarse_bands(level.hole.shape[0], cancel):
        known = (~level.hole[fine]).astype(np.float32)
        weight = _shrink(known)[part]
        total = _shrink(level.image[fine].astype(np.float32) * known[..., None])[part]
        hole[coarse] = weight <= 1e-6
        mean = total / np.maximum(weight, 1e-6)[..., None]
        image[coarse] = np.clip(np.rint(mean), 0, 255).astype(np.uint8)
    coarse_forbidden = _touched(forbidden, cancel)
    usable = np.empty(size, bool)
    for top, bottom in row_bands(size[0]):
        cancel.raise_if_cancelled()
        usable[top:bottom] = ~hole[top:bottom] & ~coarse_forbidden[top:bottom]
    level = LevelInputs(
        image=image,
        hole=hole,
        usable=usable,
        labels=None if level.labels is None else np.ascontiguousarray(level.labels[::2, ::2]),
        sketch=None if level.sketch is None else _touched(level.sketch, cancel),
        exemplars=tuple(_shrunk(e, cancel) if min(e.shape[:2]) >= 2 else e
                        for e in level.exemplars),
        exemplar_usable=tuple(~_touched(u, cancel, unset=True) if min(u.shape) >= 2 else u
                              for u in level.exemplar_usable),
        line_width=max(3, level.line_width // 2 | 1) if level.line_width else 0,
        line_kinds=level.line_kinds,
        line_high=level.line_high,
        narrow_kinds=level.narrow_kinds,
        narrow_width=max(3, level.narrow_width // 2 | 1) if level.narrow_width else 0,
    )
    return level, coarse_forbidden


def push_pull(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """A smooth fill of the hole from its surroundings (pyramid push-pull interpolation).

    ``image`` ``(h, w, 3)`` uint8 or float32; returns float32 with the known pixels kept and
    the hole pixels interpolated: the masked average reduction of :func:`_shrink_level` is
    repeated until no hole is left, then each level fills its hole from the one below.
    """
    filled = image.astype(np.float32)
    if not hole.any():
        return filled
    height, width = hole.shape
    if min(height, width) < 2:
        filled[hole] = filled[~hole].mean(axis=0) if (~hole).any() else 0.0
        return filled
    known = (~hole).astype(np.float32)
    weight = _shrink(known)
    coarse = _shrink(filled * known[..., None]) / np.maximum(weight, 1e-6)[..., None]
    coarse = push_pull(coarse, weight <= 1e-6)
    filled[hole] = cv2.pyrUp(coarse, dstsize=(width, height))[hole]
    return filled


def build_pyramid(image: np.ndarray, hole: np.ndarray, radius: int, *,
                  include: np.ndarray | None = None, exclude: np.ndarray | None = None,
                  labels: np.ndarray | None = None, sketch: np.ndarray | None = None,
                  exemplars: tuple[np.ndarray, ...] = (),
                  max_levels: int = 12, cancel: CancelToken | None = None) -> list[LevelInputs]:
    """The pyramid of a region, finest first, down to the last level that still has a hole.

    It also stops before a level whose shorter side would be under ``4 * (2r + 1)`` pixels.
    ``exemplars``: ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA uint8 reference photos; only their
    fully opaque pixels are sources (:func:`engines.guidance.reference_usable`). The finest
    level holds ``image`` itself, not a copy. ``cancel`` is checked as the levels are made.
    """
    level, forbidden = _finest(image, hole, include, exclude, labels, sketch, exemplars,
                               cancel)
    pyramid = [level]
    smallest = 4 * (2 * radius + 1)
    while len(pyramid) < max_levels and min(half_size(*level.hole.shape)) >= smallest:
        level, forbidden = _shrink_level(level, forbidden, cancel)
        if not level.hole.any():
            break
        pyramid.append(level)
    return pyramid


def _finest(image: np.ndarray, hole: np.ndarray, include: np.ndarray | None,
            exclude: np.ndarray | None, labels: np.ndarray | None,
            sketch: np.ndarray | None, exemplars: tuple[np.ndarray, ...],
            cancel: CancelToken | None) -> tuple[LevelInputs, np.ndarray]:
    """The finest level of :func:`build_pyramid` and its forbidden pixels (known, not
    allowed as sources: :func:`_usable_sources`)."""
    usable, forbidden = _usable_sources(hole, include, exclude, cancel)
    sketch_mask = None if sketch is None else at_least(sketch, 128, cancel)
    level = LevelInputs(image, hole, usable, labels, sketch_mask,
                        tuple(np.ascontiguousarray(e[..., :3]) for e in exemplars),
                        tuple(reference_usable(e) for e in exemplars))
    if sketch_mask is None:
        return level, forbidden
    grey = _FinestGrey(level, cancel)
    kinds = _traces_thin_lines(level, cancel, grey)
    width = THIN_LINE_WIDTH if kinds else 0
    band_kinds, band_width = _traces_bands(level, cancel, grey)
    # thin lines of a kind no band is traced of keep their width (a cable's stroke that
    # crosses a pole's: the cable's dark lines up to the pole's width took the grass's
    # dark grains as lines, and the cable's error rose from 7 to 12), unless they lie along
    # a traced band (a road's marking, kept narrow, left the road's two strips as lines of
    # their own beside it, and the marked road's error rose from 3 to 39)
    narrow = kinds & ~band_kinds & ~grey.banded_lines if band_kinds else NO_THIN_LINES
    if band_kinds:
        kinds |= band_kinds
        width = max(width, band_width)
    if kinds:
        level = dataclasses.replace(level, line_width=width, line_kinds=kinds,
                                    line_high=grey.high, narrow_kinds=narrow,
                                    narrow_width=THIN_LINE_WIDTH if narrow else 0)
    return level, forbidden


def fitted_radius(image: np.ndarray, hole: np.ndarray, radius: int, *,
                  include: np.ndarray | None = None, exclude: np.ndarray | None = None,
                  labels: np.ndarray | None = None, exemplars: tuple[np.ndarray, ...] = (),
                  cancel: CancelToken | None = None) -> int:
    """The patch radius a region is filled with: ``radius`` itself, unless the region is
    small for its patch (``2 * radius + 1``; :func:`engines.base.may_fit_smaller`: a tiny
    picture) and no source patch of that size exists (in the region or an exemplar:
    :func:`has_sources`, as :func:`build_pyramid`'s finest level takes them) or, with
    ``labels``, one of the hole's labels that usable pixels carry has no patch of that size
    centred on them (:func:`_follows_labels`: a label edit on a sprite); then the largest
    smaller radius that has both, down to 0 (1x1 patches), or 0 where none has sources (the
    fill is refused, its advice made for the smallest patch it would have used). A larger
    region always keeps ``radius``, read from its shape alone. ``cancel`` is checked between
    bands."""
    if not may_fit_smaller(hole.shape, 2 * radius + 1):
        return radius
    level = _finest(image, hole, include, exclude, None, None, exemplars, cancel)[0]
    return next((smaller for smaller in range(radius, 0, -1)
                 if has_sources(level, smaller, cancel)
                 and _follows_labels(level.usable, hole, labels, 2 * smaller + 1)), 0)


def _follows_labels(usable: np.ndarray, hole: np.ndarray, labels: np.ndarray | None,
                    side: int) -> bool:
    """Whether each label of the ``hole`` pixels (``labels``; None: none) that some
    ``usable`` pixel carries is carried by a ``side`` x ``side`` patch's centre lying wholly
    on usable pixels: a fill with that patch follows every label it could follow with 1x1
    patches. For tiny regions only (whole-array passes)."""
    if labels is None:
        return True
    wanted = np.unique(labels[hole])
    carried = np.intersect1d(wanted[wanted != UNLABELLED], np.unique(labels[usable]))
    if not carried.size:
        return True
    offered = np.unique(labels[patch_centres(usable, side) > 0])
    return bool(np.isin(carried, offered).all())


def at_least(layer: np.ndarray, level: int, cancel: CancelToken | None = None) -> np.ndarray:
    """``layer >= level`` (bool), made band by band (``cancel`` checked between bands)."""
    out = np.empty(layer.shape, bool)
    for top, bottom in row_bands(layer.shape[0]):
        if cancel is not None:
            cancel.raise_if_cancelled()
        np.greater_equal(layer[top:bottom], level, out=out[top:bottom])
    return out


def canny_thresholds(gray: np.ndarray, known: np.ndarray | None,
                     cancel: CancelToken | None = None) -> tuple[float, float]:
    """Canny's ``(low, high)`` hysteresis thresholds for a ``(h, w)`` uint8 grey image.

    Multiples (``EDGE_LOW``, ``EDGE_HIGH``) of the median Sobel gradient (L1, as Canny
    computes it) over the ``known`` pixels (bool, None = all): the level of noise and fine
    texture, so an edge is what stands out of it whatever the brightness. ``EDGE_FLOOR``
    keeps a flat, noise-free picture from turning rounding steps into edges. The gradients
    (whole numbers up to ``_GRADIENT_LEVELS - 1``) are counted band by band and the median
    taken from the counts, as ``np.median`` would take it. ``cancel`` is checked between
    bands.
    """
    counts = np.zeros(_GRADIENT_LEVELS, np.int64)
    if known is not None and not any_in_bands(known.shape[0], lambda rows: known[rows],
                                              cancel):
        known = None
    for top, bottom, first, last in bands_with_margin(gray.shape[0], 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows = slice(top - first, bottom - first)
        dx = cv2.Sobel(gray[first:last], cv2.CV_16S, 1, 0)[rows]
        dy = cv2.Sobel(gray[first:last], cv2.CV_16S, 0, 1)[rows]
        magnitude = np.abs(dx) + np.abs(dy)
        if known is not None:
            magnitude = magnitude[known[top:bottom]]
        counts += np.bincount(magnitude.ravel(), minlength=_GRADIENT_LEVELS)
    high = max(EDGE_FLOOR, EDGE_HIGH * _median(counts))
    return high * EDGE_LOW / EDGE_HIGH, high


_canny_thresholds = canny_thresholds  # this module's own (a bench may set another)


def _median(counts: np.ndarray) -> float:
    """The median of the values ``0, 1, ...`` counted ``counts`` times (int64, some > 0):
    the middle one, or the mean of the two middle ones."""
    total = int(counts.sum())
    ends = np.cumsum(counts)
    upper = int(np.searchsorted(ends, total // 2, side="right"))
    if total % 2:
        return float(upper)
    return (int(np.searchsorted(ends, total // 2 - 1, side="right")) + upper) / 2


def _edge_map(image: np.ndarray, ignore: np.ndarray | None,
              out: np.ndarray | None = None, cancel: CancelToken | None = None, *,
              usable: np.ndarray | None = None, line_width: int = 0,
              line_kinds: ThinLines = ThinLines.DARK | ThinLines.BRIGHT,
              line_high: float = 0.0, narrow_kinds: ThinLines = NO_THIN_LINES,
              narrow_width: int = 0) -> np.ndarray:
    """Soft edge map in ``[0, 1]`` (Canny, blurred); zero near ``ignore`` pixels. Written
    into ``out`` (float32 ``(h, w)``, a view of a larger map may be) when given. With a
    ``line_width``, each line of ``line_kinds`` narrower than that is marked by its centre
    line instead of its two edges (:func:`_thin_lines`), as deep as ``line_high`` (a Canny
    high threshold; 0: the image's own) asks; lines of ``narrow_kinds`` (with a
    ``narrow_width``) only when narrower than ``narrow_width``.

    "Near": within 2 px, plus the reach of the ``EDGE_BLUR`` blur, so that the meaningless
    content of hole pixels makes no edge. ``usable`` (bool, instead of ``ignore``): the
    pixels not ignored, none ignored when it is all set. Every step runs band by band with
    the margin it reads (Canny's hysteresis joined across bands, :func:`_canny`), which
    gives the whole map's values; ``cancel`` is checked between bands.
    """
    height = image.shape[0]
    if usable is not None:
        ignore = None

        def ignored(rows: slice) -> np.ndarray:
            return ~usable[rows]

        masked = any_in_bands(height, ignored, cancel)
    else:
        def ignored(rows: slice) -> np.ndarray:
            return ignore[rows]

        masked = ignore is not None
    blur = EDGE_BLUR
    gray = _edge_grey(image, cancel)
    known = None
    if masked:
        known = np.empty(gray.shape, bool)
        for top, bottom in row_bands(height):
            if cancel is not None:
                cancel.raise_if_cancelled()
            known[top:bottom] = ~ignored(slice(top, bottom))
    thresholds = canny_thresholds  # a replacement (bench/sketch.py) takes (gray, known)
    low, high = (thresholds(gray, known, cancel) if thresholds is _canny_thresholds
                 else thresholds(gray, known))
    del known
    edges = _canny(gray, low, high, cancel)
    if line_width and line_kinds:
        # The finest level's threshold caps a coarse level's own: on smooth ramps a level's
        # own gradients grow as it shrinks (its depth would lose a traced pole), in noise
        # and texture they fall as the noise averages out (the finest depth would lose
        # a busy picture's wire).
        depth_high = min(line_high, high) if line_high else high
        narrow = line_kinds & narrow_kinds if narrow_width else NO_THIN_LINES
        wide = line_kinds & ~narrow
        centres, region = _thin_lines(gray, depth_high, line_width, cancel, wide)
        if narrow:
            narrow_centres, narrow_region = _thin_lines(gray, depth_high, narrow_width,
                                                        cancel, narrow)
            centres |= narrow_centres
            region |= narrow_region
            del narrow_centres, narrow_region
        for top, bottom, first, last in bands_with_margin(height, 2):
            if cancel is not None:
                cancel.raise_if_cancelled()
            near = cv2.dilate(region[first:last].view(np.uint8), np.ones((5, 5), np.uint8))
            edges[top:bottom] &= near[top - first:bottom - first] == 0
            edges[top:bottom] |= centres[top:bottom]
        del centres, region
    del gray
    if masked:
        side = 2 * (2 + int(np.ceil(blur))) + 1
        kernel = np.ones((side, side), np.uint8)
        for top, bottom, first, last in bands_with_margin(height, side // 2):
            if cancel is not None:
                cancel.raise_if_cancelled()
            near = cv2.dilate(np.ascontiguousarray(ignored(slice(first, last))).view(np.uint8),
                              kernel)
            edges[top:bottom] &= near[top - first:bottom - first] == 0
    soft = np.empty(edges.shape, np.float32) if out is None else out
    for top, bottom, first, last in bands_with_margin(edges.shape[0], _SOFT_MARGIN):
        if cancel is not None:
            cancel.raise_if_cancelled()
        soft[top:bottom] = _soft_lines(edges[first:last])[top - first:bottom - first]
    return soft


def _edge_grey(image: np.ndarray, cancel: CancelToken | None = None) -> np.ndarray:
    """The ``(h, w)`` uint8 grey picture edges are found on: ``image`` (RGB uint8) in grey,
    blurred with sigma ``EDGE_BLUR``; band by band, ``cancel`` checked between bands."""
    blur = EDGE_BLUR
    gray = np.empty(image.shape[:2], np.uint8)
    for top, bottom, first, last in bands_with_margin(image.shape[0],
                                                      int(np.ceil(4 * blur)) + 2):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows = cv2.cvtColor(image[first:last], cv2.COLOR_RGB2GRAY)
        if blur > 0:  # an 8-bit Gaussian reads round(3 * sigma) rows either side
            rows = cv2.GaussianBlur(rows, (0, 0), blur)
        gray[top:bottom] = rows[top - first:bottom - first]
    return gray


def _thin_lines(gray: np.ndarray, high: float, width: int,
                cancel: CancelToken | None = None,
                kinds: ThinLines = ThinLines.DARK | ThinLines.BRIGHT
                ) -> tuple[np.ndarray, np.ndarray]:
    """The thin lines of ``kinds`` of a ``(h, w)`` uint8 grey image: ``(centres, region)``,
    bool ``(h, w)`` each.

    ``region``: the pixels darker (black-hat; :attr:`ThinLines.DARK`) or brighter (top-hat;
    :attr:`ThinLines.BRIGHT`) than their surroundings by more than
    ``THIN_LINE_CONTRAST * high`` (at least ``THIN_LINE_FLOOR``) grey levels within a
    ``width`` disc, that lie along a line: within ``width`` px of a stretch of their
    skeleton that has at least ``width`` skeleton pixels in the ``2 * width + 1`` square
    around it (specks and texture grains have fewer).
    ``centres``: that skeleton (:func:`_skeleton`). Computed band by band with the margins
    each step reads; ``cancel`` is checked between bands.
    """
    height = gray.shape[0]
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    depth = max(THIN_LINE_FLOOR, THIN_LINE_CONTRAST * high)
    region = np.empty(gray.shape, bool)
    for top, bottom, first, last in bands_with_margin(height, width):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows = gray[first:last]
        found = np.zeros(rows.shape, bool)
        if ThinLines.DARK in kinds:
            found |= cv2.morphologyEx(rows, cv2.MORPH_BLACKHAT, disc) > depth
        if ThinLines.BRIGHT in kinds:
            found |= cv2.morphologyEx(rows, cv2.MORPH_TOPHAT, disc) > depth
        region[top:bottom] = found[top - first:bottom - first]
    skeleton = _skeleton_in_bands(region, region, cancel)
    centres = np.empty(gray.shape, bool)
    side = 2 * width + 1
    for top, bottom, first, last in bands_with_margin(height, side):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows = skeleton[first:last]
        along = cv2.boxFilter(rows.view(np.uint8), cv2.CV_16U, (side, side),
                              normalize=False, borderType=cv2.BORDER_CONSTANT) >= width
        centres[top:bottom] = (rows & along)[top - first:bottom - first]
    del skeleton
    for top, bottom, first, last in bands_with_margin(height, width):
        if cancel is not None:
            cancel.raise_if_cancelled()
        reach = cv2.dilate(centres[first:last].view(np.uint8), disc)
        region[top:bottom] &= reach[top - first:bottom - first] > 0
    return centres, region


class _FinestGrey:
    """The finest level's grey picture (:func:`_edge_grey`) and its Canny high threshold
    over the known pixels, made at the first use (``cancel`` checked as they are made) and
    kept for the next: the thin lines and the bands are judged on them, and the threshold
    sets the lines' depth at every level (``LevelInputs.line_high``). ``thin_ends``: the
    kinds of thin lines each end of a stroke traces (:func:`_thin_ends`) once
    :func:`_traces_thin_lines` has judged them, for :func:`_traces_bands` (None before);
    ``banded_lines``: the kinds of thin lines whose ends trace a band of the other kind
    (a road's centre marking), once :func:`_traces_bands` has judged them.
    Judged in the thin lines' box, they are those of the bands' wider box: the ends are
    numbered alike in both (each box holds the whole sketch), and the lines under the
    drawn pixels are found from the pixels within a few thin-line widths of them, which
    both boxes hold."""

    def __init__(self, level: LevelInputs, cancel: CancelToken | None = None) -> None:
        self._level, self._cancel = level, cancel
        self._made: tuple[np.ndarray, float] | None = None
        self.thin_ends: np.ndarray | None = None
        self.banded_lines = NO_THIN_LINES

    def _make(self) -> tuple[np.ndarray, float]:
        if self._made is None:
            level, cancel = self._level, self._cancel
            gray = _edge_grey(level.image, cancel)
            thresholds = canny_thresholds  # as _edge_map takes it (a bench may set another)
            _, high = (thresholds(gray, ~level.hole, cancel)
                       if thresholds is _canny_thresholds else thresholds(gray, ~level.hole))
            self._made = gray, float(high)
        return self._made

    @property
    def gray(self) -> np.ndarray:
        return self._make()[0]

    @property
    def high(self) -> float:
        return self._make()[1]


class _Traced(NamedTuple):
    """What :func:`_traces_thin_lines` and :func:`_traces_bands` judge a sketch on, in a
    box around its strokes: the grey picture there (``crop``, :func:`_edge_grey`) and the
    level's Canny high threshold, the sketch's 8-connected strokes (``strokes``, 0 off
    them, ``count`` labels) and the pixels where they are drawn on known pixels
    ``THIN_LINE_RING`` px from the hole (``drawn``; ``pixels`` of each stroke); ``ends``,
    the pieces of the strokes on known pixels up to ``THIN_LINE_RING[1]`` px from the hole
    (where a stroke comes to the hole from one side: 8-connected, 0 off them, numbered
    from 1), and ``end_stroke``, the stroke of each piece (``end_stroke[0]``: 0); ``away``,
    each box pixel's distance from the hole (float32, 0 in it)."""

    crop: np.ndarray
    high: float
    strokes: np.ndarray
    count: int
    drawn: np.ndarray
    pixels: np.ndarray
    ends: np.ndarray
    end_stroke: np.ndarray
    away: np.ndarray


def _drawn_by_the_hole(level: LevelInputs, width: int, cancel: CancelToken | None = None,
                       grey: _FinestGrey | None = None) -> _Traced | None:
    """:class:`_Traced` of ``level``'s sketch, the box grown for lines up to ``width`` px
    wide; None when fewer than 4 pixels are drawn by the hole. ``grey``: the level's
    :class:`_FinestGrey` (made here when not given)."""
    near, far = THIN_LINE_RING
    hole, sketch = level.hole, level.sketch
    box = Box.around(sketch)
    if box is None:
        return None
    reach = far + 2 * width + 2 * SKELETON_MARGIN
    rows, columns = box.grown(reach).clip(hole.shape).slices
    away = cv2.distanceTransform((~hole[rows, columns]).view(np.uint8), cv2.DIST_L2, 3)
    drawn = sketch[rows, columns] & (away >= near) & (away <= far)
    if np.count_nonzero(drawn) < 4:
        return None
    count, strokes = cv2.connectedComponents(
        np.ascontiguousarray(sketch[rows, columns]).view(np.uint8), connectivity=8)
    by_the_hole = sketch[rows, columns] & (away > 0) & (away <= far)
    _, ends = cv2.connectedComponents(by_the_hole.view(np.uint8), connectivity=8)
    end_stroke = np.zeros(int(ends.max()) + 1, np.int64)
    end_stroke[ends[by_the_hole]] = strokes[by_the_hole]
    grey = grey or _FinestGrey(level, cancel)
    crop = np.ascontiguousarray(grey.gray[rows, columns])
    pixels = np.bincount(strokes[drawn], minlength=count)
    return _Traced(crop, grey.high, strokes, count, drawn, pixels, ends, end_stroke, away)


def _kinds_traced(traced: _Traced, dark: np.ndarray, bright: np.ndarray) -> np.ndarray:
    """Per stroke, the kinds of line it traces, as ``(count, 2)`` bool (dark, bright): the
    kinds that its ends trace (:func:`_kinds_by_end`)."""
    return _by_stroke(traced, _kinds_by_end(traced, dark, bright))


def _by_stroke(traced: _Traced, by_end: np.ndarray) -> np.ndarray:
    """Per stroke, the kinds (``(count, 2)`` bool) that some of its ends trace (``by_end``:
    rows of :func:`_kinds_by_end`)."""
    traced_kinds = np.zeros((traced.count, 2), bool)
    for column in range(2):
        traced_kinds[:, column] = np.bincount(traced.end_stroke, weights=by_end[:, column],
                                              minlength=traced.count) > 0
    return traced_kinds


def _kinds_by_end(traced: _Traced, dark: np.ndarray, bright: np.ndarray) -> np.ndarray:
    """Per end of a stroke (a piece of :attr:`_Traced.ends`: where the stroke comes to the
    hole from one side), the kinds of line it traces, as ``(ends, 2)`` bool (dark, bright;
    row 0, off the ends, False), each end judged on its own drawn pixels. An end traces the
    lines on which it lies (``dark``, ``bright``: bool maps of the box) for at least
    ``THIN_LINE_SHARE`` of its drawn pixels (the kind it lies on more, when on both); both
    kinds when it lies on lines of either kind for that share but on neither alone (a line
    whose contrast flips along it). Ends with fewer than 4 drawn pixels trace nothing.

    A line whose contrast flips inside the hole (a grey cable from a bright sky into a dark
    wall) is of one kind at one end of the stroke and of the other at the other end: each
    end shows its own kind, however much longer the stroke is drawn on one side (QA audit
    39, F1: judged on the whole stroke, the longer end's kind alone held the share)."""
    ends, drawn, count = traced.ends, traced.drawn, int(traced.end_stroke.shape[0])
    pixels, dark_on, bright_on, either_on = (
        np.bincount(ends[drawn & lines], minlength=count)
        for lines in (np.ones_like(drawn), dark, bright, dark | bright))
    enough = pixels >= 4
    dark_line = enough & (dark_on >= THIN_LINE_SHARE * pixels) & (dark_on >= bright_on)
    bright_line = enough & (bright_on >= THIN_LINE_SHARE * pixels) & (bright_on > dark_on)
    # a line whose contrast flips within the end's own pixels: of neither kind for long
    # enough, but of one kind or the other
    flipping = (enough & ~dark_line & ~bright_line
                & (either_on >= THIN_LINE_SHARE * pixels))
    by_end = np.stack([dark_line | flipping, bright_line | flipping], axis=1)
    by_end[0] = False  # off the ends
    return by_end


def _kinds(traced: np.ndarray) -> ThinLines:
    """The kinds of line some stroke or end traces (rows of :func:`_kinds_traced` or
    :func:`_kinds_by_end`)."""
    found = NO_THIN_LINES
    if traced[:, 0].any():
        found |= ThinLines.DARK
    if traced[:, 1].any():
        found |= ThinLines.BRIGHT
    return found


def _traces_thin_lines(level: LevelInputs, cancel: CancelToken | None = None,
                       grey: _FinestGrey | None = None) -> ThinLines:
    """The kinds of thin lines (:func:`_thin_lines`) that ``level``'s sketch traces along
    their middle: those that an end of a stroke (an 8-connected piece of the sketch, where
    it comes to the hole from one side), where it is drawn on known pixels
    ``THIN_LINE_RING`` px from the hole, lies on (centres or regions) for at least
    ``THIN_LINE_SHARE`` of those pixels (the kind it lies on more, when on both); both kinds
    for an end that lies on lines of either kind for that share but on neither alone
    (:func:`_kinds_traced`). An end with fewer than 4 such pixels (a stroke drawn within
    the hole only has none) shows nothing. The lines' depth is set by the whole level's
    known gradients, as for its structure map; the lines are found in a box around those
    pixels only. ``grey``: the level's :class:`_FinestGrey` (made here when not given)."""
    grey = grey or _FinestGrey(level, cancel)
    traced = _drawn_by_the_hole(level, THIN_LINE_WIDTH, cancel, grey)
    if traced is None:
        return NO_THIN_LINES
    grey.thin_ends = _thin_ends(traced, cancel)
    return _kinds(grey.thin_ends)


def _thin_ends(traced: _Traced, cancel: CancelToken | None = None) -> np.ndarray:
    """:func:`_kinds_by_end` of the thin lines (centres or regions) of ``traced``."""
    dark, bright = (np.logical_or(*_thin_lines(traced.crop, traced.high, THIN_LINE_WIDTH,
                                               cancel, kind))
                    for kind in (ThinLines.DARK, ThinLines.BRIGHT))
    return _kinds_by_end(traced, dark, bright)


def _band_axes(crop: np.ndarray, high: float, kind: ThinLines,
               cancel: CancelToken | None = None,
               centred: float = BAND_CENTRED) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of a grey ``crop`` that lie along the middle of a band of ``kind`` (a line
    of :func:`_thin_lines` up to ``BAND_WIDTH`` px wide) wider than ``THIN_LINE_WIDTH``,
    and each pixel's half-width of the band there, ``(axes, half)``: bool and float32.

    On the axis: at least ``centred`` (``BAND_CENTRED``) of the band's half-width (the depth
    of its nearest centre line pixel into the band) inside the band, so a stroke along a
    band's border is no axis."""
    centres, region = _thin_lines(crop, high, BAND_WIDTH, cancel, kind)
    if not centres.any():
        return np.zeros(crop.shape, bool), np.zeros(crop.shape, np.float32)
    inside = cv2.distanceTransform(region.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    _, nearest = cv2.distanceTransformWithLabels((~centres).view(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    depth = np.zeros(int(nearest.max()) + 1, np.float32)
    depth[nearest[centres]] = inside[centres]
    half = depth[nearest]
    axes = region & (inside >= centred * half) & (2 * half > THIN_LINE_WIDTH)
    return axes, half


def _bands_run_on(traced: _Traced, axes: np.ndarray, half: np.ndarray,
                  kind: ThinLines) -> np.ndarray:
    """Per end of :attr:`_Traced.ends` (``(ends,)`` bool; ``[0]`` False), whether the band
    of ``kind`` under its drawn pixels (``axes``, ``half``: :func:`_band_axes`) runs on away
    from the hole, as a band does and a blob (a dark disc) does not.

    The band's width there is twice the median ``half`` of the end's drawn pixels on an
    axis, its grey the median grey of those pixels; a pixel holds the band's grey where it
    is nearer that than its sides' (the median grey 1.5 half-widths across the way from
    those pixels, on the side nearer the background: the brighter for a dark band). From
    where the end meets the hole (its pixels under ``THIN_LINE_RING[0]`` px from it), along
    the way to its drawn pixel farthest from there or up to ``BAND_TURN`` degrees from it,
    the band runs on where a corridor ``BAND_CORRIDOR`` of its width wide holds its grey
    (``BAND_RUN_SHARE`` of the corridor's known pixels at each step) for ``BAND_RUN`` times
    its width, or, before the corridor stops holding, the pixels holding the grey across
    the way from it span ``BAND_MEETS`` times its width: the band meets a wider area of its
    grey (a road a roundabout, a pole a lamp). Pixels off the box or in the hole do not
    hold the grey, and the corridor does not count them (a step with none holds). An end
    with fewer than 4 drawn pixels on an axis, or none near the hole, runs on (it has no
    band to judge, or no way)."""
    ends, drawn, away = traced.ends, traced.drawn, traced.away
    crop = traced.crop
    height, width = crop.shape
    runs_on = np.ones(int(traced.end_stroke.shape[0]), bool)
    runs_on[0] = False
    turns = np.radians(np.arange(-BAND_TURN, BAND_TURN + 1, 5))

    def grey_at(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The grey at ``points`` (``(..., 2)`` float rows, columns) and where it counts
        (in the box, off the hole)."""
        rows, columns = np.rint(points[..., 0]).astype(int), np.rint(points[..., 1]).astype(int)
        counted = (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
        rows, columns = np.clip(rows, 0, height - 1), np.clip(columns, 0, width - 1)
        counted &= away[rows, columns] > 0
        return crop[rows, columns], counted

    for end in range(1, runs_on.shape[0]):
        piece = ends == end
        on_axes = piece & drawn & axes
        inner = np.argwhere(piece & ~drawn)
        if np.count_nonzero(on_axes) < 4 or not inner.size:
            continue
        meets = inner.mean(axis=0)
        outer = np.argwhere(piece & drawn)
        way = outer[np.argmax(((outer - meets) ** 2).sum(axis=1))] - meets
        if not way.any():
            continue
        way = way / np.hypot(*way)
        band_width = 2 * float(np.median(half[on_axes]))
        band = float(np.median(crop[on_axes]))
        sides = []
        for sign in (-1, 1):
            grey, counted = grey_at(np.argwhere(on_axes)
                                    + sign * (0.75 * band_width + 2) * np.array([-way[1], way[0]]))
            if counted.any():
                sides.append(float(np.median(grey[counted])))
        if not sides:
            continue
        threshold = ((band + max(sides)) / 2 if kind == ThinLines.DARK
                     else (band + min(sides)) / 2)
        steps = np.arange(int(np.ceil(BAND_RUN * band_width)) + 1)
        reach = int(np.ceil(BAND_MEETS * band_width))
        across = np.arange(-reach, reach + 1)
        corridor = np.abs(across) <= BAND_CORRIDOR * band_width / 2
        angle = np.arctan2(way[0], way[1])
        runs_on[end] = False
        for turn in turns:
            ahead = np.array([np.sin(angle + turn), np.cos(angle + turn)])
            aside = np.array([-ahead[1], ahead[0]])
            grey, counted = grey_at(meets + steps[:, None, None] * ahead
                                    + across[None, :, None] * aside)
            held = counted & ((grey <= threshold) if kind == ThinLines.DARK
                              else (grey >= threshold))
            holds = (np.count_nonzero(held[:, corridor], axis=1)
                     >= BAND_RUN_SHARE * np.count_nonzero(counted[:, corridor], axis=1))
            if holds.all():
                runs_on[end] = True
                break
            within = held[:int(np.argmin(holds))]
            stop = np.zeros((within.shape[0], 1), bool)
            right = np.argmin(np.concatenate([within[:, reach:], stop], axis=1), axis=1)
            left = np.argmin(np.concatenate([within[:, reach::-1], stop], axis=1), axis=1)
            if within.size and (left + right - 1).max() >= BAND_MEETS * band_width:
                runs_on[end] = True
                break
    return runs_on


def _traces_bands(level: LevelInputs, cancel: CancelToken | None = None,
                  grey: _FinestGrey | None = None) -> tuple[ThinLines, int]:
    """The kinds of bands (lines wider than ``THIN_LINE_WIDTH``, up to ``BAND_WIDTH``: a
    road, a pole) whose axis ``level``'s sketch traces, and the line width that marks them
    by their centre line (:func:`_thin_lines`; 0 when none): judged per end of a stroke as
    :func:`_traces_thin_lines` judges thin lines, on the bands' axes (:func:`_band_axes`).
    An end that traces no thin line is judged for bands of both kinds on the picture; an
    end that traces thin lines of one kind only, for bands of the other kind on the picture
    with its own kind's thin lines wiped out (:func:`_without_thin_lines`: a road's bright
    centre marking splits the dark road in two, and the stroke on the marking lay on
    neither half: QA audit 42, F2), and along the band's middle only (``BAND_WIPED_CENTRED``
    of its half-width inside it: a stroke on a marking off the road's middle is no axis of
    the road: QA audit 44, F3); an end that traces thin lines of both kinds, for none.
    An end that traces no thin line, of a stroke that traces no band of a kind on the
    picture, is judged again on the picture with the other kind's thin lines wiped out (as
    above, ``BAND_WIPED_CENTRED``), and takes those axes only where each end of its stroke
    with 4 drawn pixels or more then traces the band (a stroke along a dashed marking ends
    on a gap, where the dashes split the road: QA audit 44, F1).
    A stroke traces a band of a kind where one of its ends that traces no thin line does
    (strokes that cross, one along a dark cable and one along a bright pole, are one
    connected stroke: the pole's ends still trace its band: QA audit 42, F1), or where each
    of its ends with 4 drawn pixels or more does (so one end on a thin line does not make a
    band of what lies beside the line at the other); a stroke with a thin line of a kind
    traces no band of that kind (its line keeps ``THIN_LINE_WIDTH``), and a stroke with an
    end on a blob (its band does not run on: :func:`_bands_run_on`) traces no band. The
    width is ``BAND_MARGIN`` times the widest traced band's (its strokes' median over the
    ends that count for it).
    ``grey``: the level's :class:`_FinestGrey` (made here when not given)."""
    traced = _drawn_by_the_hole(level, BAND_WIDTH, cancel, grey)
    if traced is None:
        return NO_THIN_LINES, 0
    thin = (grey.thin_ends if grey is not None and grey.thin_ends is not None
            else _thin_ends(traced, cancel))
    on_thin = thin.any(axis=1)
    counted = np.bincount(traced.ends[traced.drawn],
                          minlength=int(traced.end_stroke.shape[0])) >= 4
    counted[0] = False
    # per kind (dark, bright): the axes under the ends and their half-widths, each end's
    # from the picture it is judged on (``judged``: the ends per kind, the picture)
    axes = np.zeros((2, *traced.crop.shape), bool)
    halves = np.zeros((2, *traced.crop.shape), np.float32)
    judged: list[tuple[np.ndarray, _Traced]] = []
    pictures: dict[ThinLines, _Traced] = {NO_THIN_LINES: traced}

    def picture(wiped: ThinLines) -> _Traced:
        """``traced`` on the picture with its thin lines of ``wiped`` wiped out."""
        if wiped not in pictures:
            pictures[wiped] = traced._replace(
                crop=_without_thin_lines(traced.crop, traced.high, wiped, cancel))
        return pictures[wiped]

    found_axes: dict[tuple[ThinLines, ThinLines], tuple[np.ndarray, np.ndarray]] = {}

    def axes_on(wiped: ThinLines, kind: ThinLines) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_band_axes` of ``kind`` on ``picture(wiped)`` (along the band's middle
        only when wiped), made once: the second judgement reads them again."""
        if (wiped, kind) not in found_axes:
            on = picture(wiped)
            found_axes[wiped, kind] = _band_axes(on.crop, on.high, kind, cancel,
                                                 BAND_WIPED_CENTRED if wiped else BAND_CENTRED)
        return found_axes[wiped, kind]

    def judge(ends: np.ndarray, wiped: ThinLines, of_kinds: ThinLines) -> None:
        """Adds the axes of bands of ``of_kinds`` under ``ends`` on ``picture(wiped)``
        (along the band's middle only when wiped)."""
        on = picture(wiped)
        by_kind = np.zeros((ends.shape[0], 2), bool)
        judged.append((by_kind, on))
        for column, kind in enumerate((ThinLines.DARK, ThinLines.BRIGHT)):
            if kind in of_kinds:
                by_kind[:, column] = ends
                found, half = axes_on(wiped, kind)
                found = found & ends[traced.ends]
                axes[column] |= found
                halves[column] = np.where(found, half, halves[column])

    for ends, wiped in ((~on_thin, NO_THIN_LINES),
                        (thin[:, 1] & ~thin[:, 0], ThinLines.BRIGHT),
                        (thin[:, 0] & ~thin[:, 1], ThinLines.DARK)):
        if ends[1:].any():
            judge(ends, wiped, ~wiped & (ThinLines.DARK | ThinLines.BRIGHT))
    # an end that traces no thin line, of a stroke none of whose such ends traces a band of
    # a kind on the picture (nor any end a thin line of that kind), is judged for it again
    # with the thin lines of the other kind wiped out, and takes those axes where each end
    # of its stroke then traces the band: a dashed marking shows no thin line at an end on
    # a gap, yet its dashes split the road there (QA audit 44, F1)
    by_end = _kinds_by_end(traced, axes[0], axes[1])
    again = (counted & ~on_thin)[:, None] & ~(
        _by_stroke(traced, by_end & ~on_thin[:, None]) | _by_stroke(traced, thin)
    )[traced.end_stroke]
    if again[1:].any():
        redone, rehalves = axes.copy(), halves.copy()
        for column, (kind, wiped) in enumerate(((ThinLines.DARK, ThinLines.BRIGHT),
                                                (ThinLines.BRIGHT, ThinLines.DARK))):
            if again[1:, column].any():
                found, half = axes_on(wiped, kind)
                these = again[:, column][traced.ends]
                redone[column] = np.where(these, found, redone[column])
                rehalves[column] = np.where(these, half, rehalves[column])
        by_end = _kinds_by_end(traced, redone[0], redone[1])
        again &= ~_by_stroke(traced, counted[:, None] & ~by_end)[traced.end_stroke]
        for column, wiped in enumerate((ThinLines.BRIGHT, ThinLines.DARK)):
            if again[1:, column].any():
                these = again[:, column][traced.ends]
                axes[column] = np.where(these, redone[column], axes[column])
                halves[column] = np.where(these, rehalves[column], halves[column])
                judged[0][0][:, column] &= ~again[:, column]  # not on the picture
                adopted = np.zeros_like(again)
                adopted[:, column] = again[:, column]
                judged.append((adopted, picture(wiped)))
    # the ends whose axes are judged on a wiped picture: they count only where each end of
    # their stroke traces the band
    on_wiped = on_thin[:, None] | again
    by_end = _kinds_by_end(traced, axes[0], axes[1])
    every = (_by_stroke(traced, np.repeat(counted[:, None], 2, axis=1))
             & ~_by_stroke(traced, counted[:, None] & ~by_end))
    kinds = ((_by_stroke(traced, by_end & ~on_wiped) | every)
             & ~_by_stroke(traced, thin))
    if kinds.any():
        # the axes of an end on a thin line count only where each end of its stroke traces
        # the band: they neither set a band's width nor put the stroke on a blob otherwise
        dropped = on_wiped & ~every[traced.end_stroke]
        for column in range(2):
            axes[column] &= ~dropped[:, column][traced.ends]
        # a stroke with an end on a blob (its band does not run on) traces no band
        on_blobs = np.zeros_like(axes)
        for by_kind, on in judged:
            for column, kind in enumerate((ThinLines.DARK, ThinLines.BRIGHT)):
                if by_kind[1:, column].any():
                    these = axes[column] & by_kind[:, column][traced.ends]
                    on_blobs[column] |= these & ~_bands_run_on(
                        on, these, halves[column], kind)[traced.ends]
        kinds &= ~_kinds_traced(traced, on_blobs[0], on_blobs[1]).any(axis=1, keepdims=True)
    found = _kinds(kinds)
    if not found:
        return NO_THIN_LINES, 0
    if grey is not None:
        # the thin lines along the traced bands (their ends trace the band): a road's marking
        grey.banded_lines = _kinds(thin[on_thin & (kinds & every).any(axis=1)[traced.end_stroke]])
    half = np.maximum(np.where(axes[0], halves[0], 0), np.where(axes[1], halves[1], 0))
    widest = max(float(np.median(half[(traced.strokes == stroke) & traced.drawn & (half > 0)]))
                 for stroke in np.flatnonzero(kinds.any(axis=1)))
    width = int(np.clip(2 * BAND_MARGIN * widest, THIN_LINE_WIDTH, BAND_WIDTH)) | 1
    return found, width


def _without_thin_lines(crop: np.ndarray, high: float, kind: ThinLines,
                        cancel: CancelToken | None = None) -> np.ndarray:
    """A grey ``crop`` with its thin lines of ``kind`` (:func:`_thin_lines`, their region)
    wiped out: each of their pixels (and those next to them) takes the grey of the picture
    opened (bright lines) or closed (dark lines) with a ``THIN_LINE_WIDTH`` disc, the grey
    about them."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (THIN_LINE_WIDTH, THIN_LINE_WIDTH))
    _, region = _thin_lines(crop, high, THIN_LINE_WIDTH, cancel, kind)
    around = cv2.morphologyEx(crop, cv2.MORPH_OPEN if kind == ThinLines.BRIGHT
                              else cv2.MORPH_CLOSE, disc)
    region = cv2.dilate(region.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return np.where(region, around, crop)


def _canny(gray: np.ndarray, low: float, high: float,
           cancel: CancelToken | None = None) -> np.ndarray:
    """``cv2.Canny(gray, low, high) > 0`` (3x3 Sobel, L1 gradient) made band by band.

    Canny keeps the pixels that pass its non-maximum suppression with a gradient above
    ``low`` (the candidates) and are 8-connected through candidates to one above ``high``
    (hysteresis). ``cv2.Canny(gray, t, t)`` gives the candidates of threshold ``t`` alone:
    those of a band are its rows', made with ``_CANNY_MARGIN`` rows more on either side.
    Each band's candidates are split into connected pieces, pieces on either side of a band
    boundary that touch are joined (:func:`kernels.seeded_components`), and a joined piece
    is kept when one of its pixels is above ``high``. ``cancel`` is checked between bands.
    """
    low, high = min(low, high), max(low, high)
    height, width = gray.shape
    edges = np.empty(gray.shape, bool)  # the candidates, then the edges
    bands: list[_CannyBand] = []
    count = 0
    for top, bottom, first, last in bands_with_margin(height, _CANNY_MARGIN):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows = slice(top - first, bottom - first)
        candidate = cv2.Canny(gray[first:last], low, low)[rows] > 0
        strong = cv2.Canny(gray[first:last], high, high)[rows] > 0
        number, labels = cv2.connectedComponents(candidate.view(np.uint8), connectivity=8,
                                                 ltype=cv2.CV_32S)
        seeded = np.zeros(number, bool)
        seeded[labels[strong]] = True
        seeded[0] = False  # label 0: no candidate
        edges[top:bottom] = candidate
        bands.append(_CannyBand(top, bottom, count, seeded, labels[0].copy(),
                                labels[-1].copy(), labels[candidate]))
        count += number
    first_pieces, second_pieces = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for above, below in itertools.pairwise(bands):  # 8-neighbours across band boundaries
        for shift in (-1, 0, 1):
            a = above.last_row[max(-shift, 0):width - max(shift, 0)]
            b = below.first_row[max(shift, 0):width - max(-shift, 0)]
            touching = (a > 0) & (b > 0)
            first_pieces.append(a[touching].astype(np.int64) + above.offset)
            second_pieces.append(b[touching].astype(np.int64) + below.offset)
    kept = kernels.seeded_components(count, np.concatenate(first_pieces),
                                     np.concatenate(second_pieces),
                                     np.concatenate([band.seeded for band in bands]))
    for band in bands:
        if cancel is not None:
            cancel.raise_if_cancelled()
        part = edges[band.top:band.bottom]
        part[part] = kept[band.pieces.astype(np.int64) + band.offset]
    return edges


class _CannyBand(NamedTuple):
    """One band of :func:`_canny`: its rows ``[top, bottom)``; its candidates' connected
    pieces, numbered from ``offset`` on among all bands' (0 of each band: no candidate);
    which pieces hold a pixel above the high threshold; the pieces of its first and last
    rows (per pixel) and those of its candidates, row-major."""

    top: int
    bottom: int
    offset: int
    seeded: np.ndarray
    first_row: np.ndarray
    last_row: np.ndarray
    pieces: np.ndarray


def _soft_lines(lines: np.ndarray) -> np.ndarray:
    """A bool line map blurred to a soft ridge of height ~1 (one-pixel lines included).

    A row depends on the rows up to ``_SOFT_MARGIN`` away only."""
    soft = cv2.GaussianBlur(lines.astype(np.float32), (0, 0), 1.0)
    soft *= 2.5
    return np.minimum(soft, 1.0, out=soft)


def _skeleton(lines: np.ndarray) -> np.ndarray:
    """Morphological skeleton of a bool mask: thick drawn strokes become thin ridges."""
    return _skeleton_rounds(lines)[0]


def _skeleton_rounds(lines: np.ndarray) -> tuple[np.ndarray, int]:
    """:func:`_skeleton` of ``lines`` and the number of erosions it took (the rounds)."""
    current = np.ascontiguousarray(lines).view(np.uint8).copy()
    skeleton = np.zeros_like(current)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    rounds = 0
    while current.any():
        eroded = cv2.erode(current, cross)
        skeleton |= current & ~cv2.dilate(eroded, cross) & 1
        current = eroded
        rounds += 1
    return skeleton.astype(bool), rounds


def _skeleton_in_bands(sketch: np.ndarray, hole: np.ndarray,
                       cancel: CancelToken | None = None) -> np.ndarray:
    """:func:`_skeleton` of ``sketch & hole`` (bool ``(h, w)``), band by band.

    Erosion ``k`` of a band is the whole map's on the rows at least ``k`` away from a cut
    (beyond it the band counts as set, as erosion counts the map's outside, so it erodes no
    more than the whole map), and the skeleton's round ``k`` reads erosion ``k + 1`` one row
    further: a band computed with ``m`` rows of margin on either side gives the whole map's
    skeleton on its own rows when it took fewer than ``m`` rounds. ``SKELETON_MARGIN`` is
    tried first and doubled until then. ``cancel`` is checked between bands.
    """
    height = sketch.shape[0]
    out = np.empty(sketch.shape, bool)
    for top, bottom in row_bands(height):
        margin = SKELETON_MARGIN
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled()
            first, last = max(top - margin, 0), min(bottom + margin, height)
            skeleton, rounds = _skeleton_rounds(sketch[first:last] & hole[first:last])
            if rounds < margin or (first == 0 and last == height):
                break
            margin *= 2
        out[top:bottom] = skeleton[top - first:bottom - first]
    return out


def _atlas_layout(pieces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    widths = np.array([p.shape[1] for p in pieces], np.int64)
    heights = np.array([p.shape[0] for p in pieces], np.int64)
    lefts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
    return lefts, widths, heights


def _atlas_map(lefts: np.ndarray, widths: np.ndarray, heights: np.ndarray, dtype, fill,
               cancel: CancelToken | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """A ``(ha, wa)`` map of the atlas, ``fill`` below the pieces, and the view of each
    piece's place in it, for the pieces' maps to be written straight there (left unwritten
    until then: the memory is taken as they are written). The fill is written band by
    band, ``cancel`` checked between bands."""
    total = int(heights.max())
    out = np.empty((total, int(widths.sum())), dtype)
    places = []
    for left, width, height in zip(lefts, widths, heights):
        for top, bottom in row_bands(total - int(height)):
            if cancel is not None:
                cancel.raise_if_cancelled()
            out[height + top:height + bottom, left:left + width] = fill
        places.append(out[:height, left:left + width])
    return out, places


def _paste_pieces(pieces: list[np.ndarray], lefts: np.ndarray, dtype, fill,
                  cancel: CancelToken | None = None) -> np.ndarray:
    """The pieces side by side, ``fill`` below the shorter ones (the first alone is
    itself, not a copy); pasted band by band, ``cancel`` checked between bands."""
    if len(pieces) == 1:
        return pieces[0]
    height = max(p.shape[0] for p in pieces)
    width = int(sum(p.shape[1] for p in pieces))
    out = np.empty((height, width, *pieces[0].shape[2:]), dtype)
    for top, bottom in row_bands(height):
        if cancel is not None:
            cancel.raise_if_cancelled()
        out[top:bottom] = fill
        for piece, left in zip(pieces, lefts):
            rows = piece[top:bottom]
            out[top:top + rows.shape[0], left:left + piece.shape[1]] = rows
    return out


def target_count(hole: np.ndarray, radius: int, cancel: CancelToken | None = None) -> int:
    """Number of target patches of a level: pixels whose patch overlaps the ``hole``
    (counted band by band, ``cancel`` checked between bands)."""
    count = 0
    for top, bottom, first, last in bands_with_margin(hole.shape[0], radius):
        if cancel is not None:
            cancel.raise_if_cancelled()
        count += int(np.count_nonzero(
            _covered(hole[first:last], radius)[top - first:bottom - first]))
    return count


def _covered(hole: np.ndarray, radius: int) -> np.ndarray:
    """``(h, w)`` uint8, nonzero on the pixels whose patch overlaps the bool ``hole``. A
    row depends on the rows up to ``radius`` away only."""
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(hole.view(np.uint8), kernel)


def _targets(hole: np.ndarray, radius: int, window: Window,
             cancel: CancelToken | None = None):
    """Target centres ``ty, tx`` (int32): pixels whose patch overlaps the hole; their flat
    positions in ``window`` (int64), the ``(window.size,)`` int32 target index there (-1
    elsewhere) and the bands of the target list. Found band by band (``cancel`` checked
    between bands)."""
    ty, tx = nonzero_in_bands(hole.shape[0], radius,
                              lambda rows: _covered(hole[rows], radius), cancel)
    at_targets = window.positions(ty, tx)
    index = np.full(window.size, -1, np.int32)
    index[at_targets] = np.arange(ty.shape[0], dtype=np.int32)
    ty = ty.astype(np.int32)
    tx = tx.astype(np.int32)
    band_rows = np.arange(0, hole.shape[0] + BAND_ROWS, BAND_ROWS)
    bands = np.searchsorted(ty, band_rows).astype(np.int64)
    bands[-1] = ty.shape[0]
    return ty, tx, at_targets, index, np.unique(bands)


def _depth(hole: np.ndarray, window: Window, cancel: CancelToken | None = None) -> np.ndarray:
    """``(window.size,)`` float32 distance of each window pixel into the hole (OpenCV's 3x3
    L2 distance to the nearest known pixel), capped at ``CONFIDENCE_CAP``; computed in bands
    of rows, which gives the whole map's capped values (``_DISTANCE_MARGIN``); ``cancel`` is
    checked between bands."""
    def depth(rows: slice) -> np.ndarray:
        distance = cv2.distanceTransform(hole[rows].view(np.uint8), cv2.DIST_L2, 3)
        return np.minimum(distance, CONFIDENCE_CAP, out=distance)

    return gather_in_bands(window, _DISTANCE_MARGIN, depth, cancel)


def _signed_labels(labels: np.ndarray, out: np.ndarray | None = None,
                   cancel: CancelToken | None = None) -> np.ndarray:
    """int16 copy of uint8 labels with ``UNLABELLED`` as -1 (unconstrained), written into
    ``out`` when given; a 2-D map band by band (``cancel`` checked between bands)."""
    if out is None:
        out = np.empty(labels.shape, np.int16)
    bands = row_bands(labels.shape[0]) if labels.ndim > 1 else [(0, labels.shape[0])]
    for top, bottom in bands:
        if cancel is not None:
            cancel.raise_if_cancelled()
        given, part = labels[top:bottom], out[top:bottom]
        part[...] = given
        part[given == UNLABELLED] = -1
    return out


def _offered_labels(atlas_labels: np.ndarray, valid: np.ndarray,
                    cancel: CancelToken | None = None) -> np.ndarray:
    """bool ``(257,)``: entry ``label + 1`` tells whether a usable source centre carries
    ``label`` (-1 to 255); counted band by band (``cancel`` checked between bands)."""
    counts = np.zeros(257, np.int64)
    for top, bottom in row_bands(valid.shape[0]):
        if cancel is not None:
            cancel.raise_if_cancelled()
        offered = atlas_labels[top:bottom][valid[top:bottom] > 0]
        counts += np.bincount(offered.astype(np.int64) + 1, minlength=257)
    return counts > 0


def _wildcards_serve_unoffered(target_labels: np.ndarray, atlas_labels: np.ndarray,
                               offered: np.ndarray,
                               cancel: CancelToken | None = None) -> np.ndarray:
    """Make wildcard sources serve only the labels no labelled source centre carries.

    A hole pixel labelled L takes patches from pixels labelled L only, when some usable
    centre carries L (``offered``, from :func:`_offered_labels`); unlabelled pixels and
    exemplars (-1 in ``atlas_labels``) then count as another label. They still serve every
    label that nothing carries. Both maps are rewritten so that the kernels' plain rule
    (a source label >= 0 must equal the wanted one) says exactly that: the wildcards of
    ``atlas_labels`` become :data:`WILDCARD_LABEL` in place, and so do the labels of
    ``target_labels`` that nothing offers (a new array is returned). ``cancel`` is checked
    between bands.
    """
    for top, bottom in row_bands(atlas_labels.shape[0]):
        if cancel is not None:
            cancel.raise_if_cancelled()
        band = atlas_labels[top:bottom]
        band[band < 0] = WILDCARD_LABEL
    table = np.arange(-1, 256, dtype=np.int16)  # entry label + 1
    table[1:][~offered[1:]] = WILDCARD_LABEL
    return table[target_labels.astype(np.intp) + 1]


def _patch_centres(usable: np.ndarray, side: int,
                   cancel: CancelToken | None = None) -> np.ndarray:
    """:func:`engines.guidance.patch_centres` made band by band (an erosion by a ``side``
    square reads ``side // 2`` rows either side); ``cancel`` is checked between bands."""
    out = np.empty(usable.shape, np.uint8)
    for top, bottom, first, last in bands_with_margin(usable.shape[0], side // 2):
        if cancel is not None:
            cancel.raise_if_cancelled()
        out[top:bottom] = patch_centres(usable[first:last], side)[top - first:bottom - first]
    return out


def source_centres(level: LevelInputs, radius: int,
                   cancel: CancelToken | None = None) -> tuple[np.ndarray, list]:
    """The region's usable patch centres (``(h, w)`` uint8, 1 where a source patch may be
    centred) and ``(number, image, usable, centres)`` of each exemplar with a usable patch
    (numbered from 1, as in ``level.exemplars``); ``cancel`` is checked between bands."""
    side = 2 * radius + 1
    kept = []
    for number, (e, usable) in enumerate(zip(level.exemplars, level.exemplar_usable), 1):
        if min(e.shape[:2]) >= side:
            centres = _patch_centres(usable, side, cancel)
            if centres.any():
                kept.append((number, e, usable, centres))
    return _patch_centres(level.usable, side, cancel), kept


def has_sources(level: LevelInputs, radius: int, cancel: CancelToken | None = None) -> bool:
    """Whether the level has a usable source patch (in the region or an exemplar): what
    :func:`source_centres` would find, looked for band by band up to the first one."""
    side = 2 * radius + 1
    for e, usable in zip(level.exemplars, level.exemplar_usable):
        if min(e.shape[:2]) >= side and _patch_centres(usable, side, cancel).any():
            return True
    return any_patch_in(level.usable, side, cancel)


def any_patch_in(area: np.ndarray, side: int, cancel: CancelToken | None = None) -> bool:
    """Whether a ``side`` x ``side`` patch lies wholly on the true pixels of ``area``
    (``(h, w)`` bool), looked for band by band up to the first one (``cancel`` checked
    before each band)."""
    for top, bottom, first, last in bands_with_margin(area.shape[0], side // 2):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if patch_centres(area[first:last], side)[top - first:bottom - first].any():
            return True
    return False


def level_problem(level: LevelInputs, radius: int,
                  cancel: CancelToken | None = None) -> LevelProblem:
    """The atlas, targets and guidance maps for one level (``cancel`` checked between the
    steps). Target maps are made for the window around the hole only; the atlas is the level
    image itself when there are no exemplars."""
    cancel = cancel or CancelToken()
    hole = level.hole
    centres, kept = source_centres(level, radius, cancel)
    exemplars = [e for _, e, _, _ in kept]
    pieces = [np.ascontiguousarray(level.image), *exemplars]
    lefts, widths, heights = _atlas_layout(pieces)
    atlas = _paste_pieces(pieces, lefts, np.uint8, 0, cancel).view()
    atlas.flags.writeable = False  # the kernels take one array type, whoever owns it
    valid = _paste_pieces([centres] + [c for _, _, _, c in kept], lefts, np.uint8, 0, cancel)
    del centres  # valid itself, or pasted into it
    cancel.raise_if_cancelled()

    # the kernels' propagation reads each target's scan neighbours in the window: 1x1
    # patches (a region too small for more, fitted_radius) reach them with 1 pixel more
    window = Window.around(hole, max(2 * radius, 1))
    ty, tx, at_targets, index, bands = _targets(hole, radius, window, cancel)
    cancel.raise_if_cancelled()
    hole_y, hole_x = nonzero_in_bands(hole.shape[0], 0, lambda rows: hole[rows], cancel)
    # depth is capped
    confidence = CONFIDENCE_BASE ** -_depth(hole, window, cancel)[at_targets]
    cancel.raise_if_cancelled()

    target_labels = atlas_labels = None
    centre_label = np.full(ty.shape[0], -1, np.int16)
    if level.labels is not None:
        target_labels = _signed_labels(window.gather(level.labels, cancel))
        atlas_labels, places = _atlas_map(lefts, widths, heights, np.int16, -1, cancel)
        _signed_labels(level.labels, out=places[0], cancel=cancel)
        for place in places[1:]:  # an exemplar's pixels: any label
            for top, bottom in row_bands(place.shape[0]):
                cancel.raise_if_cancelled()
                place[top:bottom] = -1
        offered = _offered_labels(atlas_labels, valid, cancel)
        if offered[0]:  # wildcards (unlabelled pixels, exemplars) serve only the others
            target_labels = _wildcards_serve_unoffered(target_labels, atlas_labels,
                                                       offered, cancel)
        centre_label = target_labels[at_targets]
        if not offered[0]:  # no wildcard: free the labels nothing offers
            centre_label[~offered[centre_label.astype(np.int64) + 1]] = -1
        cancel.raise_if_cancelled()

    target_structure = structure_weight = atlas_structure = None
    sketch = level.sketch
    if sketch is not None and any_in_bands(hole.shape[0],
                                           lambda rows: sketch[rows] & hole[rows], cancel):
        sketch_in_hole = _skeleton_in_bands(sketch, hole, cancel)
        atlas_structure, places = _atlas_map(lefts, widths, heights, np.float32, 0.0,
                                             cancel)
        edges = _edge_map(level.image, hole, out=places[0], cancel=cancel,
                          line_width=level.line_width, line_kinds=level.line_kinds,
                          line_high=level.line_high, narrow_kinds=level.narrow_kinds,
                          narrow_width=level.narrow_width)
        cancel.raise_if_cancelled()
        in_hole = window.gather(hole, cancel)
        lines = gather_in_bands(window, _SOFT_MARGIN,
                                lambda rows: _soft_lines(sketch_in_hole[rows]), cancel)
        target_structure = np.where(in_hole, lines,
                                    window.gather(edges, cancel)).astype(np.float32)

        def near_line(rows: slice) -> np.ndarray:
            away = (~sketch_in_hole[rows]).view(np.uint8)
            return cv2.distanceTransform(away, cv2.DIST_L2, 3) <= radius + 2

        near = gather_in_bands(window, _DISTANCE_MARGIN, near_line, cancel)
        structure_weight = (near & in_hole).astype(np.float32)
        # each reference's lines as deep as its own gradients ask, not the picture's: a
        # faint wire on a smooth reference is no line by a busy picture's depth, and a
        # reference holding the only copy of the traced line was not used for it
        # (tests/engines/test_patchmatch_reference_lines.py)
        for (_, e, usable, _), place in zip(kept, places[1:]):
            _edge_map(e, None, out=place, cancel=cancel, usable=usable,
                      line_width=level.line_width, line_kinds=level.line_kinds,
                      narrow_kinds=level.narrow_kinds, narrow_width=level.narrow_width)
        cancel.raise_if_cancelled()

    return LevelProblem(
        hole=hole, atlas=atlas, piece_left=lefts, piece_width=widths, piece_height=heights,
        valid=valid, window=window, ty=ty, tx=tx, index=index, bands=bands,
        hole_y=hole_y.astype(np.int32), hole_x=hole_x.astype(np.int32),
        confidence=confidence.astype(np.float32), centre_label=centre_label,
        target_labels=target_labels, atlas_labels=atlas_labels,
        target_structure=target_structure, structure_weight=structure_weight,
        atlas_structure=atlas_structure, radius=radius,
        piece_ids=(0, *(number for number, _, _, _ in kept)))
