"""Synthetic hole masks for benchmarks, tests and training (Qt-free, numpy + OpenCV).

Every function returns a ``uint8`` ``(height, width)`` mask, ``255`` = hole, and draws its
randomness from the ``numpy.random.Generator`` it is given, so a seed gives the same mask.

:func:`free_form_mask` follows the free-form mask algorithm of DeepFill v2 (Yu et al., "Free-Form
Image Inpainting with Gated Convolution", ICCV 2019, Algorithm 1 and its reference code):
strokes of ``num_vertex`` straight segments with alternating turn angles, random lengths and one
brush width per stroke, a circle at every joint so the stroke has no gaps; its defaults are
the reference code's values for 256x256 images scaled to the image size.
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

HOLE = 255
_REFERENCE_SIDE = 256.0  # the reference code's image size, its widths are given for it


def hole_ratio(mask: np.ndarray) -> float:
    """Fraction of hole pixels (``mask >= 128``) in ``[0, 1]``."""
    return float((mask >= 128).mean())


def _stroke_vertices(height: int, width: int, rng: np.random.Generator, max_vertex: int,
                     max_length: float, max_angle: float) -> list[tuple[int, int]]:
    num_vertex = int(rng.integers(4, max(5, max_vertex + 1)))
    x = float(rng.uniform(0, width))
    y = float(rng.uniform(0, height))
    points = [(round(x), round(y))]
    for i in range(num_vertex):
        angle = float(rng.uniform(0, max_angle))
        if i % 2 == 0:
            angle = 2 * math.pi - angle
        length = float(rng.uniform(max_length / 8, max_length))
        x = min(max(x + length * math.sin(angle), 0.0), width - 1.0)
        y = min(max(y + length * math.cos(angle), 0.0), height - 1.0)
        points.append((round(x), round(y)))
    return points


def free_form_mask(height: int, width: int, rng: np.random.Generator | None = None, *,
                   ratio: float | None = None, max_strokes: int = 4, max_vertex: int = 12,
                   max_length: float | None = None, max_width: float | None = None,
                   min_width: float | None = None, max_angle: float = 2 * math.pi / 5,
                   rectangles: int = 0) -> np.ndarray:
    """A DeepFill v2 free-form mask.

    Args:
        height, width: mask size in pixels.
        rng: the random source (a fresh unseeded one if None).
        ratio: if given, strokes are added, segment by segment, until this fraction of the
            image is hole (it overshoots by at most one segment); else 1..``max_strokes``-1
            strokes are drawn as in the reference code.
        max_vertex: most segments per stroke (at least 4 are drawn).
        max_length: longest segment, default a quarter of the image diagonal.
        max_width, min_width: brush width range, default 40 and 12 pixels per 256.
        max_angle: largest turn of a segment in radians; every other turn is mirrored.
        rectangles: number of random rectangles added (sides 1/8 to 1/3 of the image).
    """
    rng = rng if rng is not None else np.random.default_rng()
    if ratio is not None and not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    scale = min(height, width) / _REFERENCE_SIDE
    max_length = max_length if max_length is not None else math.hypot(height, width) / 4
    max_width = max_width if max_width is not None else max(2.0, 40 * scale)
    min_width = min_width if min_width is not None else max(1.0, 12 * scale)
    min_width = min(min_width, max_width)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(rectangles):
        _add_rectangle(mask, rng)

    def reached() -> bool:
        return ratio is not None and hole_ratio(mask) >= ratio

    strokes = 0
    wanted_strokes = int(rng.integers(1, max(2, max_strokes)))
    while not reached() and (ratio is not None or strokes < wanted_strokes):
        brush = round(float(rng.uniform(min_width, max_width)))
        points = _stroke_vertices(height, width, rng, max_vertex, max_length, max_angle)
        cv2.circle(mask, points[0], brush // 2, HOLE, -1)
        for start, end in itertools.pairwise(points):
            cv2.line(mask, start, end, HOLE, brush)
            cv2.circle(mask, end, brush // 2, HOLE, -1)
            if reached():
                break
        strokes += 1
    if ratio is None:
        if rng.random() > 0.5:
            mask = np.ascontiguousarray(mask[:, ::-1])
        if rng.random() > 0.5:
            mask = np.ascontiguousarray(mask[::-1, :])
    return mask


def _add_rectangle(mask: np.ndarray, rng: np.random.Generator) -> None:
    height, width = mask.shape
    box_h = int(rng.integers(max(1, height // 8), max(2, height // 3) + 1))
    box_w = int(rng.integers(max(1, width // 8), max(2, width // 3) + 1))
    top = int(rng.integers(0, height - box_h + 1))
    left = int(rng.integers(0, width - box_w + 1))
    mask[top:top + box_h, left:left + box_w] = HOLE


def rectangle_mask(height: int, width: int, rng: np.random.Generator | None = None,
                   count: int = 1) -> np.ndarray:
    """``count`` random rectangles, each side 1/8 to 1/3 of the image's."""
    rng = rng if rng is not None else np.random.default_rng()
    mask = np.zeros((height, width), np.uint8)
    for _ in range(count):
        _add_rectangle(mask, rng)
    return mask


def centered_square_mask(height: int, width: int, side: int = 128) -> np.ndarray:
    """A ``side`` x ``side`` square hole in the middle (clipped to the image)."""
    mask = np.zeros((height, width), np.uint8)
    top = max(0, (height - side) // 2)
    left = max(0, (width - side) // 2)
    mask[top:top + side, left:left + side] = HOLE
    return mask


def text_mask(height: int, width: int, rng: np.random.Generator | None = None,
              text: str = "SAMPLE (c) 2026", lines: int = 3, dilate: int = 1) -> np.ndarray:
    """A watermark-like mask: ``lines`` rows of bold text across the image, plus a caption.

    The text spans about 70 % of the width; strokes are grown by ``dilate`` pixels, as a
    user brushing over a watermark would cover its anti-aliased edges.
    """
    rng = rng if rng is not None else np.random.default_rng()
    mask = np.zeros((height, width), np.uint8)
    font = cv2.FONT_HERSHEY_DUPLEX
    (text_w, text_h), _ = cv2.getTextSize(text, font, 1.0, 2)
    scale = 0.7 * width / text_w
    thickness = max(1, round(1.5 * scale))
    step = height / (lines + 1)
    for row in range(lines):
        jitter = float(rng.uniform(-0.05, 0.05)) * width
        x = round(0.15 * width + jitter)
        y = round(step * (row + 1) + text_h * scale / 2)
        cv2.putText(mask, text, (x, y), font, scale, HOLE, thickness, cv2.LINE_AA)
    caption_scale = 0.25 * width / text_w
    cv2.putText(mask, text, (round(0.72 * width), round(0.96 * height)), font, caption_scale,
                HOLE, max(1, round(2 * caption_scale)), cv2.LINE_AA)
    mask = np.where(mask > 0, HOLE, 0).astype(np.uint8)
    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        mask = cv2.dilate(mask, kernel)
    return mask
