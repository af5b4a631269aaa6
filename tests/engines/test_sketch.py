"""Face auto-sketch: lines at parsing-map boundaries and landmark groups connected."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from engines.base import InputError
from engines.sketch import (
    LANDMARK_GROUPS,
    auto_sketch,
    sketch_from_labels,
    sketch_from_landmarks,
)

LABELS_TSV = Path("/work/shared/reference/labels/face_parsing19.tsv")
FACE19 = ("background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear",
          "r_ear", "ear_r", "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth",
          "hair", "hat")
ID = {name: index for index, name in enumerate(FACE19)}


def test_face19_order_matches_reference():
    if not LABELS_TSV.exists():
        pytest.skip("shared reference labels not available")
    rows = [line.split("\t") for line in LABELS_TSV.read_text().splitlines() if line.strip()]
    assert tuple(name for _, name in rows) == FACE19


def synthetic_face(size: int = 256) -> np.ndarray:
    """A cartoon parsing map in face19 ids: hair, skin, brows, eyes, nose, lips, neck, cloth."""
    labels = np.full((size, size), ID["background"], np.uint8)
    s = size / 256
    cv2.rectangle(labels, (0, int(220 * s)), (size, size), ID["cloth"], -1)
    cv2.rectangle(labels, (int(100 * s), int(170 * s)), (int(156 * s), int(230 * s)),
                  ID["neck"], -1)
    cv2.ellipse(labels, (int(128 * s), int(100 * s)), (int(78 * s), int(90 * s)), 0, 180, 360,
                ID["hair"], -1)
    cv2.ellipse(labels, (int(128 * s), int(118 * s)), (int(62 * s), int(80 * s)), 0, 0, 360,
                ID["skin"], -1)
    for side, x in (("l", 100), ("r", 156)):
        cv2.ellipse(labels, (int(x * s), int(88 * s)), (int(16 * s), int(4 * s)), 0, 0, 360,
                    ID[f"{side}_brow"], -1)
        cv2.ellipse(labels, (int(x * s), int(104 * s)), (int(12 * s), int(6 * s)), 0, 0, 360,
                    ID[f"{side}_eye"], -1)
    nose = np.array([[128, 110], [116, 142], [140, 142]], np.float64) * s
    cv2.fillPoly(labels, [np.rint(nose).astype(np.int32)], ID["nose"])
    cv2.ellipse(labels, (int(128 * s), int(162 * s)), (int(22 * s), int(6 * s)), 0, 180, 360,
                ID["u_lip"], -1)
    cv2.ellipse(labels, (int(128 * s), int(162 * s)), (int(20 * s), int(8 * s)), 0, 0, 180,
                ID["l_lip"], -1)
    return labels


def boundary_pairs(labels: np.ndarray) -> dict[frozenset, np.ndarray]:
    """For every pair of adjacent ids, the boolean map of pixels on their shared boundary."""
    pairs: dict[frozenset, np.ndarray] = {}
    for a, b, rows, cols in ((labels[:, :-1], labels[:, 1:], slice(None), slice(0, -1)),
                             (labels[:-1, :], labels[1:, :], slice(0, -1), slice(None))):
        differ = a != b
        for first, second in {(int(p), int(q)) for p, q in zip(a[differ], b[differ])}:
            key = frozenset((FACE19[first], FACE19[second]))
            hit = np.zeros(labels.shape, bool)
            hit[rows, cols] = differ & (a == first) & (b == second)
            pairs[key] = pairs.get(key, np.zeros(labels.shape, bool)) | hit
    return pairs


def within(points: np.ndarray, target: np.ndarray, distance: float) -> np.ndarray:
    """For each True pixel of ``points``, whether a True pixel of ``target`` is that close."""
    gaps = cv2.distanceTransform((~target).view(np.uint8), cv2.DIST_L2, 5)
    return gaps[points] <= distance


def test_lines_lie_on_part_boundaries_and_cover_the_major_ones():
    labels = synthetic_face()
    line = sketch_from_labels(labels, FACE19)
    assert line.dtype == np.uint8 and line.shape == labels.shape
    assert set(np.unique(line)) <= {0, 255}
    drawn = line > 0
    pairs = boundary_pairs(labels)
    context_only = frozenset(("background", "cloth"))
    truth = np.zeros(labels.shape, bool)
    for key, pixels in pairs.items():
        if key != context_only:
            truth |= pixels
    assert within(drawn, truth, 2.0).mean() >= 0.9
    major = [("skin", "hair"), ("skin", "background"), ("hair", "background"),
             ("skin", "l_brow"), ("skin", "r_eye"), ("skin", "nose"), ("u_lip", "l_lip"),
             ("skin", "u_lip"), ("skin", "neck"), ("neck", "cloth"), ("neck", "background")]
    for first, second in major:
        pixels = pairs[frozenset((first, second))]
        assert within(pixels, drawn, 2.0).mean() >= 0.8, (first, second)
    # no line between the two context classes (clothes against the background)
    assert within(pairs[context_only], drawn, 1.0).mean() <= 0.1


def test_lines_are_thin_and_thickness_widens_them():
    labels = synthetic_face()
    thin = sketch_from_labels(labels, FACE19) > 0
    thick = sketch_from_labels(labels, FACE19, thickness=3) > 0
    # a one-pixel curve: few pixels have all 4 neighbours on the line
    core = cv2.erode(thin.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
    assert core.sum() <= 0.02 * thin.sum()
    assert thick.sum() > 2 * thin.sum()
    assert (thick | ~thin).all()  # the thick lines contain the thin ones


def test_fragments_and_accessories_make_no_lines():
    labels = synthetic_face()
    clean = sketch_from_labels(labels, FACE19) > 0
    noisy = labels.copy()
    noisy[30:33, 30:33] = ID["l_eye"]  # a 9-pixel speck in the background
    cv2.circle(noisy, (128, 211), 5, ID["neck_l"], -1)  # a necklace pendant on the neck
    noisy[0:4, 0:4] = 255  # unlabelled corner
    line = sketch_from_labels(noisy, FACE19) > 0
    assert not line[24:40, 24:40].any()
    assert not line[204:218, 118:138].any()
    assert (line != clean).sum() <= 0.01 * clean.sum()


def test_empty_and_invalid_maps():
    assert not sketch_from_labels(np.full((32, 32), 255, np.uint8), FACE19).any()
    assert not sketch_from_labels(np.zeros((32, 32), np.uint8), FACE19).any()
    with pytest.raises(InputError):
        sketch_from_labels(np.zeros((4, 4, 3), np.uint8), FACE19)


def on_line(line: np.ndarray, point: np.ndarray) -> bool:
    x, y = np.rint(point).astype(int)
    return bool(line[max(0, y - 1):y + 2, max(0, x - 1):x + 2].any())


def spread_landmarks(count: int, size: int = 400, seed: int = 0) -> np.ndarray:
    """Landmarks on a grid, far apart, in a shuffled order: every connection is unambiguous."""
    rng = np.random.default_rng(seed)
    grid = int(np.ceil(np.sqrt(count)))
    step = size / (grid + 1)
    cells = rng.permutation(grid * grid)[:count]
    return np.stack([(cells % grid + 1) * step, (cells // grid + 1) * step], 1).astype(np.float32)


@pytest.mark.parametrize("count", [68, 98])
def test_landmark_sketch_connects_exactly_the_group_neighbours(count):
    points = spread_landmarks(count)
    line = sketch_from_landmarks(points, (400, 400))
    assert line.shape == (400, 400) and set(np.unique(line)) <= {0, 255}
    connected = set()
    for first, last, closed in LANDMARK_GROUPS[count]:
        indices = list(range(first, last + 1))
        pairs = list(itertools.pairwise(indices)) + ([(last, first)] if closed else [])
        for a, b in pairs:
            connected.add(frozenset((a, b)))
            for t in (0.25, 0.5, 0.75):
                assert on_line(line, points[a] * (1 - t) + points[b] * t), (a, b)
    drawn = line > 0
    # every drawn pixel lies on one of those segments
    segments = np.zeros_like(line)
    for pair in connected:
        a, b = sorted(pair)
        cv2.line(segments, tuple(np.rint(points[a]).astype(int)),
                 tuple(np.rint(points[b]).astype(int)), 255, 3)
    assert (segments[drawn] > 0).all()
    # a pair from different groups (the jaw's end and the first brow point) is not joined
    jaw_end = LANDMARK_GROUPS[count][0][1]
    midpoint = (points[jaw_end] + points[jaw_end + 1]) / 2
    assert frozenset((jaw_end, jaw_end + 1)) not in connected
    assert not on_line(line, midpoint) or on_line(segments, midpoint)


def test_five_landmarks_give_a_mouth_line_and_eye_marks():
    points = np.array([[100, 100], [200, 100], [150, 150], [110, 200], [190, 200]], np.float32)
    line = sketch_from_landmarks(points, (300, 300))
    assert on_line(line, np.array([150, 200]))  # mouth
    assert on_line(line, points[0]) and on_line(line, points[1])  # eyes
    assert not on_line(line, points[2])  # the nose tip alone draws nothing


def test_landmark_errors():
    with pytest.raises(InputError):
        sketch_from_landmarks(np.zeros((10, 2)), (50, 50))
    with pytest.raises(InputError):
        sketch_from_landmarks(np.zeros((68, 3)), (50, 50))
    with pytest.raises(InputError):
        sketch_from_landmarks(np.full((68, 2), np.nan), (50, 50))


def test_auto_sketch_takes_inner_features_from_dense_landmarks():
    labels = synthetic_face()
    points = spread_landmarks(68, size=256, seed=1)
    combined = auto_sketch(labels.shape, labels, FACE19, points) > 0
    from_labels = sketch_from_labels(labels, FACE19) > 0
    from_points = sketch_from_landmarks(points, labels.shape) > 0
    assert (combined | ~from_points).all()  # every landmark line is there
    eye_box = (slice(92, 116), slice(84, 116))  # the left eye: its parsing outline is gone
    assert from_labels[eye_box].any()
    assert not (combined[eye_box] & ~from_points[eye_box]).any()
    hairline = boundary_pairs(labels)[frozenset(("skin", "hair"))]
    assert within(hairline, combined, 2.0).mean() >= 0.8
    only_labels = auto_sketch(labels.shape, labels, FACE19) > 0
    assert (only_labels == from_labels).all()
