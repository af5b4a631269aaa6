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

from dataclasses import dataclass

import cv2
import numpy as np

from engines.base import UNLABELLED
from engines.guidance import patch_centres, reference_usable

BAND_ROWS = 16  # rows per band of the parallel scans; fixed so results do not depend on threads
# Wexler et al. weigh a target patch by gamma ** -(its distance into the hole) with gamma 1.3.
# Measured over 28 cases (bench/patchmatch.py's 12 and 16 on other photos, 2 to 3 seeds each),
# with the flat similarity weights below: 1.7 gave the best mean hole PSNR of the bases tried
# (1.5, 1.7, 2, 3) and an SSIM within 0.001 of the best (1.5); 3 (what this was) kept large
# square holes 0.1 dB better but free-form strokes 0.2 dB worse.
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


@dataclass(frozen=True)
class LevelInputs:
    """One pyramid level of a region.

    ``image`` ``(h, w, 3)`` uint8 RGB (hole pixels meaningless); ``hole`` ``(h, w)`` bool;
    ``usable`` ``(h, w)`` bool, the pixels allowed as sources (known, not excluded, inside the
    include area); ``labels`` ``(h, w)`` uint8 or None; ``sketch`` ``(h, w)`` bool or None;
    ``exemplars`` RGB uint8 images scaled like the level and ``exemplar_usable`` their
    ``(h, w)`` bool maps of the pixels allowed as sources (the fully opaque ones).
    """

    image: np.ndarray
    hole: np.ndarray
    usable: np.ndarray
    labels: np.ndarray | None
    sketch: np.ndarray | None
    exemplars: tuple[np.ndarray, ...]
    exemplar_usable: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class LevelProblem:
    """Everything one level's EM iterations need, as the kernels take it.

    Attributes:
        hole: ``(h, w)`` bool hole of this level.
        atlas: ``(ha, wa, 3)`` float32 sources: the level image at left, exemplars beside it.
        piece_left, piece_width, piece_height: int arrays, where each atlas piece lies
            (piece 0 is the region itself; pieces sit side by side at row 0).
        valid: ``(ha, wa)`` uint8, 1 where a source patch may be centred.
        ty, tx: int32 target patch centres (patches overlapping the hole), row-major.
        index: ``(h, w)`` int32 target number per pixel, -1 elsewhere.
        bands: int64 starts of ``BAND_ROWS``-row bands in the target list, then ``n``.
        hole_y, hole_x: int32 hole pixels (the pixels that voting writes).
        confidence: ``(n,)`` float32 Wexler weight of each target patch.
        centre_label: ``(n,)`` int16 label a target's source centre must carry, -1 = any.
        target_labels, atlas_labels: int16 label maps (-1 = unconstrained) or None.
        target_structure, structure_weight, atlas_structure: float32 maps or None.
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


def _touched(mask: np.ndarray) -> np.ndarray:
    """Coarse pixels whose reduction kernel reaches any set pixel of the bool ``mask``."""
    return _shrink(mask.astype(np.float32)) > 1e-6


def _usable_sources(hole: np.ndarray, include: np.ndarray | None,
                    exclude: np.ndarray | None) -> np.ndarray:
    usable = ~hole
    if include is not None and include.any():  # an empty include layer restricts nothing
        usable &= include >= 128
    if exclude is not None:
        usable &= exclude < 128
    return usable


def _shrink_level(level: LevelInputs, forbidden: np.ndarray) -> tuple[LevelInputs, np.ndarray]:
    """The next coarser level: masked averaging of the known pixels (push-pull style).

    A coarse pixel is known when its kernel reaches any known fine pixel and takes the
    weighted mean of those only, so the hole shrinks level by level and is filled with
    smooth context. ``forbidden`` marks known pixels that may not serve as sources (excluded
    or outside the include area); a coarse pixel touched by one is no source either, and
    likewise for the unusable (not fully opaque) pixels of the exemplars.
    """
    known = (~level.hole).astype(np.float32)
    weight = _shrink(known)
    total = _shrink(level.image.astype(np.float32) * known[..., None])
    hole = weight <= 1e-6
    image = total / np.maximum(weight, 1e-6)[..., None]
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    coarse_forbidden = _touched(forbidden)
    level = LevelInputs(
        image=image,
        hole=hole,
        usable=~hole & ~coarse_forbidden,
        labels=None if level.labels is None else np.ascontiguousarray(level.labels[::2, ::2]),
        sketch=None if level.sketch is None else _touched(level.sketch),
        exemplars=tuple(_shrink(e) if min(e.shape[:2]) >= 2 else e for e in level.exemplars),
        exemplar_usable=tuple(~_touched(~u) if min(u.shape) >= 2 else u
                              for u in level.exemplar_usable),
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
                  max_levels: int = 12) -> list[LevelInputs]:
    """The pyramid of a region, finest first, down to the last level that still has a hole.

    It also stops before a level whose shorter side would be under ``4 * (2r + 1)`` pixels.
    ``exemplars``: ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA uint8 reference photos; only their
    fully opaque pixels are sources (:func:`engines.guidance.reference_usable`).
    """
    usable = _usable_sources(hole, include, exclude)
    forbidden = ~hole & ~usable
    sketch_mask = None if sketch is None else sketch >= 128
    level = LevelInputs(image, hole, usable, labels, sketch_mask,
                        tuple(np.ascontiguousarray(e[..., :3]) for e in exemplars),
                        tuple(reference_usable(e) for e in exemplars))
    pyramid = [level]
    smallest = 4 * (2 * radius + 1)
    while len(pyramid) < max_levels and min(half_size(*level.hole.shape)) >= smallest:
        level, forbidden = _shrink_level(level, forbidden)
        if not level.hole.any():
            break
        pyramid.append(level)
    return pyramid


def canny_thresholds(gray: np.ndarray, known: np.ndarray | None) -> tuple[float, float]:
    """Canny's ``(low, high)`` hysteresis thresholds for a ``(h, w)`` uint8 grey image.

    Multiples (``EDGE_LOW``, ``EDGE_HIGH``) of the median Sobel gradient (L1, as Canny
    computes it) over the ``known`` pixels (bool, None = all): the level of noise and fine
    texture, so an edge is what stands out of it whatever the brightness. ``EDGE_FLOOR``
    keeps a flat, noise-free picture from turning rounding steps into edges.
    """
    dx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    dy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    magnitude = np.abs(dx) + np.abs(dy)
    if known is not None and known.any():
        magnitude = magnitude[known]
    high = max(EDGE_FLOOR, EDGE_HIGH * float(np.median(magnitude)))
    return high * EDGE_LOW / EDGE_HIGH, high


def _edge_map(image: np.ndarray, ignore: np.ndarray | None) -> np.ndarray:
    """Soft edge map in ``[0, 1]`` (Canny, blurred); zero near ``ignore`` pixels.

    "Near": within 2 px, plus the reach of the ``EDGE_BLUR`` blur, so that the meaningless
    content of hole pixels makes no edge.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if EDGE_BLUR > 0:
        gray = cv2.GaussianBlur(gray, (0, 0), EDGE_BLUR)
    low, high = canny_thresholds(gray, None if ignore is None else ~ignore)
    edges = cv2.Canny(gray, low, high) > 0
    if ignore is not None:
        side = 2 * (2 + int(np.ceil(EDGE_BLUR))) + 1
        edges &= cv2.dilate(ignore.view(np.uint8), np.ones((side, side), np.uint8)) == 0
    return _soft_lines(edges)


def _soft_lines(lines: np.ndarray) -> np.ndarray:
    """A bool line map blurred to a soft ridge of height ~1 (one-pixel lines included)."""
    soft = cv2.GaussianBlur(lines.astype(np.float32), (0, 0), 1.0) * 2.5
    return np.minimum(soft, 1.0)


def _skeleton(lines: np.ndarray) -> np.ndarray:
    """Morphological skeleton of a bool mask: thick drawn strokes become thin ridges."""
    current = lines.view(np.uint8).copy()
    skeleton = np.zeros_like(current)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    while current.any():
        eroded = cv2.erode(current, cross)
        skeleton |= current & ~cv2.dilate(eroded, cross) & 1
        current = eroded
    return skeleton.astype(bool)


def _atlas_layout(pieces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    widths = np.array([p.shape[1] for p in pieces], np.int64)
    heights = np.array([p.shape[0] for p in pieces], np.int64)
    lefts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
    return lefts, widths, heights


def _paste_pieces(pieces: list[np.ndarray], lefts: np.ndarray, dtype, fill) -> np.ndarray:
    height = max(p.shape[0] for p in pieces)
    width = int(sum(p.shape[1] for p in pieces))
    out = np.full((height, width, *pieces[0].shape[2:]), fill, dtype)
    for piece, left in zip(pieces, lefts):
        out[:piece.shape[0], left:left + piece.shape[1]] = piece
    return out


def _targets(hole: np.ndarray, radius: int):
    """Target centres: pixels whose patch overlaps the hole; their index map and bands."""
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    covered = cv2.dilate(hole.view(np.uint8), kernel) > 0
    ty, tx = np.nonzero(covered)
    ty = ty.astype(np.int32)
    tx = tx.astype(np.int32)
    index = np.full(hole.shape, -1, np.int32)
    index[ty, tx] = np.arange(ty.shape[0], dtype=np.int32)
    band_rows = np.arange(0, hole.shape[0] + BAND_ROWS, BAND_ROWS)
    bands = np.searchsorted(ty, band_rows).astype(np.int64)
    bands[-1] = ty.shape[0]
    return ty, tx, index, np.unique(bands)


def level_problem(level: LevelInputs, radius: int) -> LevelProblem:
    """The atlas, targets and guidance maps for one level."""
    hole = level.hole
    kept = []  # (number, image, usable, valid centres) of the exemplars with a usable patch
    for number, (e, usable) in enumerate(zip(level.exemplars, level.exemplar_usable), 1):
        if min(e.shape[:2]) >= 2 * radius + 1:
            centres = patch_centres(usable, 2 * radius + 1)
            if centres.any():
                kept.append((number, e, usable, centres))
    exemplars = [e for _, e, _, _ in kept]
    pieces = [level.image, *exemplars]
    lefts, widths, heights = _atlas_layout(pieces)
    atlas = _paste_pieces(pieces, lefts, np.float32, 0.0)
    valid = _paste_pieces([patch_centres(level.usable, 2 * radius + 1)]
                          + [centres for _, _, _, centres in kept], lefts, np.uint8, 0)

    ty, tx, index, bands = _targets(hole, radius)
    hole_y, hole_x = np.nonzero(hole)
    depth = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L2, 3)[ty, tx]
    confidence = CONFIDENCE_BASE ** -np.minimum(depth, CONFIDENCE_CAP)

    target_labels = atlas_labels = None
    centre_label = np.full(ty.shape[0], -1, np.int16)
    if level.labels is not None:
        target_labels = level.labels.astype(np.int16)
        target_labels[level.labels == UNLABELLED] = -1
        atlas_labels = _paste_pieces(
            [target_labels] + [np.full(e.shape[:2], -1, np.int16) for e in exemplars],
            lefts, np.int16, -1)
        centre_label = target_labels[ty, tx]
        offered = atlas_labels[valid > 0]
        if not (offered < 0).any():  # no wildcard (exemplar): free labels nothing offers
            centre_label[~np.isin(centre_label, np.unique(offered))] = -1

    target_structure = structure_weight = atlas_structure = None
    if level.sketch is not None and (level.sketch & hole).any():
        sketch_in_hole = _skeleton(level.sketch & hole)
        edges = _edge_map(level.image, hole)
        target_structure = np.where(hole, _soft_lines(sketch_in_hole), edges).astype(np.float32)
        near = cv2.distanceTransform((~sketch_in_hole).view(np.uint8), cv2.DIST_L2, 3)
        structure_weight = ((near <= radius + 2) & hole).astype(np.float32)
        atlas_structure = _paste_pieces(
            [edges] + [_edge_map(e, None if usable.all() else ~usable)
                       for _, e, usable, _ in kept], lefts, np.float32, 0.0)

    return LevelProblem(
        hole=hole, atlas=atlas, piece_left=lefts, piece_width=widths, piece_height=heights,
        valid=valid, ty=ty, tx=tx, index=index, bands=bands,
        hole_y=hole_y.astype(np.int32), hole_x=hole_x.astype(np.int32),
        confidence=confidence.astype(np.float32), centre_label=centre_label,
        target_labels=target_labels, atlas_labels=atlas_labels,
        target_structure=target_structure, structure_weight=structure_weight,
        atlas_structure=atlas_structure, radius=radius,
        piece_ids=(0, *(number for number, _, _, _ in kept)))
