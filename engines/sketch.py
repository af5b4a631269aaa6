"""Face auto-sketch: structure lines drawn from a face-parsing map and/or facial landmarks.

A sketch-guided face edit starts from the face's own lines (the user bends a lip line or a
hairline rather than drawing from nothing):

* :func:`sketch_from_labels` draws the boundaries between facial parts of a parsing map
  (the ``face19`` label order of ``engines.segmentation``): skin against hair (the hairline),
  brows, eyes, nose, lips, ears and neck (the jaw), and the face and hair outlines against
  the background. Accessories (necklace, earrings) dissolve into what surrounds them, the
  background and clothes form one "context" with no lines inside it, fragments smaller than
  ``min_area`` are absorbed by their neighbours, and the parts are smoothed before their
  boundaries are traced, so the lines are clean one-pixel curves;
* :func:`sketch_from_landmarks` connects facial landmarks in their standard groups, as the
  DeepFill v2 authors built CelebA-HQ sketches: 68 points (iBUG 300-W), 98 points (WFLW, what
  facexlib's alignment network returns) or, minimally, 5 points (RetinaFace: a mouth line
  and eye marks only; 5 points carry no contours, use the parsing map for those);
* :func:`auto_sketch` combines both: with dense landmarks the inner features come from the
  landmarks and the outline, hairline, ears and neck from the parsing map.

Line maps are ``(H, W)`` uint8, 255 on a line, 0 elsewhere.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import cv2
import numpy as np

from engines.base import UNLABELLED, InputError

CONTEXT_PARTS = ("background", "cloth")  # one region: no lines inside it
ABSORBED_PARTS = ("neck_l", "ear_r")  # accessories: dissolved into their surroundings
INNER_FEATURES = ("l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "nose", "mouth", "u_lip",
                  "l_lip")

# landmark groups: (first index, last index inclusive, closed polygon)
LANDMARK_GROUPS: dict[int, tuple[tuple[int, int, bool], ...]] = {
    68: (  # iBUG 300-W
        (0, 16, False),  # jaw
        (17, 21, False), (22, 26, False),  # brows
        (27, 30, False), (31, 35, False),  # nose bridge, nostrils
        (36, 41, True), (42, 47, True),  # eyes
        (48, 59, True), (60, 67, True),  # outer and inner lips
    ),
    98: (  # WFLW
        (0, 32, False),  # jaw
        (33, 41, True), (42, 50, True),  # brows (upper and lower edge)
        (51, 54, False), (55, 59, False),  # nose bridge, nostrils
        (60, 67, True), (68, 75, True),  # eyes
        (76, 87, True), (88, 95, True),  # outer and inner lips
    ),
}
_SHIFT = 4  # sub-pixel drawing precision: coordinates in 1/16 pixel


def _part_map(labels: np.ndarray, names: Sequence[str], context: Collection[str],
              absorbed: Collection[str]) -> np.ndarray:
    """int32 map: 0 = context, k > 0 = part k, -1 = to be absorbed by the nearest neighbour."""
    context = {n.lower() for n in context}
    absorbed = {n.lower() for n in absorbed}
    lut = np.full(256, -1, np.int32)
    for index, name in enumerate(names[:UNLABELLED]):
        key = name.lower()
        if key in context:
            lut[index] = 0
        elif key not in absorbed:
            lut[index] = index + 1
    return lut[labels]


def _absorb(parts: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """``parts`` with every ``unknown`` pixel given the part of its nearest known pixel."""
    if not unknown.any():
        return parts
    _, nearest = cv2.distanceTransformWithLabels(unknown.view(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    values = np.zeros(int(nearest.max()) + 1, np.int32)
    known = ~unknown
    values[nearest[known]] = parts[known]
    return values[nearest]


def _drop_fragments(parts: np.ndarray, min_area: int) -> np.ndarray:
    """Pieces of a part smaller than ``min_area`` pixels, as a boolean map."""
    small = np.zeros(parts.shape, bool)
    for part in np.unique(parts):
        if part < 0:
            continue
        _, pieces, stats, _ = cv2.connectedComponentsWithStats(
            (parts == part).view(np.uint8), connectivity=8)
        tiny = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_area)
        tiny = tiny[tiny > 0]
        if tiny.size:
            small |= np.isin(pieces, tiny)
    return small


def _smooth(parts: np.ndarray, sigma: float) -> np.ndarray:
    """Each pixel takes the part whose Gaussian-blurred indicator is largest there."""
    best = np.full(parts.shape, -1.0, np.float32)
    smoothed = parts.copy()
    for part in np.unique(parts):
        score = cv2.GaussianBlur((parts == part).astype(np.float32), (0, 0), sigma)
        better = score > best
        best[better] = score[better]
        smoothed[better] = part
    return smoothed


def _boundaries(parts: np.ndarray) -> np.ndarray:
    """uint8 0/1 map marking each pixel whose right or lower neighbour is another part."""
    line = np.zeros(parts.shape, np.uint8)
    line[:, :-1] |= (parts[:, :-1] != parts[:, 1:]).view(np.uint8)
    line[:-1, :] |= (parts[:-1, :] != parts[1:, :]).view(np.uint8)
    return line


def _thicken(line: np.ndarray, thickness: int) -> np.ndarray:
    if thickness <= 1:
        return line
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (thickness, thickness))
    return cv2.dilate(line, kernel)


def sketch_from_labels(labels: np.ndarray, label_set_names: Sequence[str], thickness: int = 1,
                       *, min_area: int | None = None, smooth: float = 1.5,
                       min_length: int | None = None,
                       context: Collection[str] = CONTEXT_PARTS,
                       absorbed: Collection[str] = ABSORBED_PARTS) -> np.ndarray:
    """Structure lines at the boundaries between the parts of a face-parsing map.

    Args:
        labels: ``(H, W)`` uint8 class ids (255 = unlabelled, absorbed by its neighbours).
        label_set_names: the class names the ids index (e.g. the ``face19`` label set's).
        thickness: line width in pixels.
        min_area: pieces of a part smaller than this many pixels are absorbed by their
            neighbours (default: 0.05% of the map, at least 16).
        smooth: Gaussian sigma in pixels the parts are smoothed with before tracing (0: none).
        min_length: line pieces shorter than this many pixels are dropped (default: 1% of
            the longer side, at least 4).
        context: names forming the background region (no lines inside it).
        absorbed: names dissolved into whatever surrounds them.

    Returns ``(H, W)`` uint8, 255 on a line.
    """
    labels = np.asarray(labels)
    if labels.dtype != np.uint8 or labels.ndim != 2:
        raise InputError(f"labels must be (H, W) uint8, got {labels.dtype} {labels.shape}")
    height, width = labels.shape
    parts = _part_map(labels, label_set_names, context, absorbed)
    if (parts < 0).all():
        return np.zeros((height, width), np.uint8)
    area = min_area if min_area is not None else max(16, round(0.0005 * height * width))
    unknown = (parts < 0) | _drop_fragments(parts, area)
    if unknown.all():
        return np.zeros((height, width), np.uint8)
    parts = _absorb(parts, unknown)
    if smooth > 0:
        parts = _smooth(parts, smooth)
    line = _boundaries(parts)
    length = min_length if min_length is not None else max(4, round(0.01 * max(height, width)))
    _, pieces, stats, _ = cv2.connectedComponentsWithStats(line, connectivity=8)
    keep = (stats[:, cv2.CC_STAT_AREA] >= length).astype(np.uint8)
    keep[0] = 0
    return _thicken(keep[pieces], thickness) * np.uint8(255)


def _polyline(canvas: np.ndarray, points: np.ndarray, closed: bool, thickness: int) -> None:
    scaled = np.rint(points * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [scaled], closed, 255, max(1, thickness), cv2.LINE_8, _SHIFT)


def _five_point_sketch(canvas: np.ndarray, points: np.ndarray, thickness: int) -> None:
    """Mouth line and short eye marks from RetinaFace's 5 points (eyes, nose, mouth corners)."""
    left_eye, right_eye, _, mouth_left, mouth_right = points
    _polyline(canvas, np.stack([mouth_left, mouth_right]), False, thickness)
    axis = right_eye - left_eye
    half = 0.12 * axis  # an eye is about a quarter of the distance between the eyes wide
    for eye in (left_eye, right_eye):
        _polyline(canvas, np.stack([eye - half, eye + half]), False, thickness)


def sketch_from_landmarks(landmarks: np.ndarray, shape: tuple[int, ...],
                          thickness: int = 1) -> np.ndarray:
    """Structure lines connecting facial landmarks in their standard groups.

    Args:
        landmarks: ``(N, 2)`` float ``(x, y)`` pixel coordinates; N is 68 (iBUG: jaw, brows,
            nose bridge, nostrils, closed eyes, closed outer and inner lips), 98 (WFLW, the
            same groups; brows closed; the two pupil points are not drawn) or 5 (RetinaFace
            order: left eye, right eye, nose, left and right mouth corner: a mouth line and
            eye marks only).
        shape: the output's ``(H, W)`` (further entries ignored).
        thickness: line width in pixels.

    Returns ``(H, W)`` uint8, 255 on a line.
    """
    points = np.asarray(landmarks, np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise InputError(f"landmarks must be (N, 2) x, y coordinates, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise InputError("landmarks contain NaN or infinite coordinates")
    canvas = np.zeros(tuple(shape[:2]), np.uint8)
    count = len(points)
    if count == 5:
        _five_point_sketch(canvas, points, thickness)
        return canvas
    if count not in LANDMARK_GROUPS:
        raise InputError(f"{count} landmarks: expected 68 (iBUG), 98 (WFLW) or 5 (RetinaFace)")
    for first, last, closed in LANDMARK_GROUPS[count]:
        _polyline(canvas, points[first:last + 1], closed, thickness)
    return canvas


def auto_sketch(shape: tuple[int, ...], labels: np.ndarray | None = None,
                label_set_names: Sequence[str] = (), landmarks: np.ndarray | None = None,
                thickness: int = 1) -> np.ndarray:
    """A face's structure lines from whatever is known: a parsing map, landmarks or both.

    With 68 or 98 landmarks, the eyes, brows, nose and lips come from the landmarks and the
    parsing map adds the outline, hairline, ears and neck (its inner features are absorbed
    so no line is drawn twice). With 5 landmarks or none, the parsing map gives every line
    and 5 landmarks add nothing. Returns ``(H, W)`` uint8, 255 on a line.
    """
    height, width = shape[:2]
    canvas = np.zeros((height, width), np.uint8)
    dense = landmarks is not None and len(landmarks) in LANDMARK_GROUPS
    if labels is not None:
        if labels.shape != (height, width):
            raise InputError(f"labels are {labels.shape[1]}x{labels.shape[0]} but the sketch "
                             f"is {width}x{height}")
        absorbed = ABSORBED_PARTS + (INNER_FEATURES if dense else ())
        canvas |= sketch_from_labels(labels, label_set_names, thickness, absorbed=absorbed)
    if landmarks is not None and (dense or labels is None):
        canvas |= sketch_from_landmarks(landmarks, (height, width), thickness)
    return canvas
