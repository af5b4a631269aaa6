"""Proposing a mask for text and logo overlays on one image, with classical vision only.

:func:`detect_text_mask` finds overlaid captions, watermark text and logos next to their
lettering, and returns a mask the user corrects by hand. Each polarity (text brighter or
darker than its surroundings) is searched on its own:

1. stroke candidates: the connected parts of the white (or black) top-hat, the maximum over
   the colour channels, thresholded (Otsu, at least ``min_contrast``), at two stroke scales.
   A top-hat keeps what is thinner than its kernel whatever the background, so flat overlays
   are found (OpenCV's MSER, the usual choice, returns nothing for a perfectly flat glyph:
   its stability test needs some variation);
2. glyph tests: a sensible height, width and fill, strokes thin for the height and of nearly
   constant width (the stroke-width idea of Epshtein et al., CVPR 2010, measured on the
   distance transform's ridge) and a crisp, contrasted outline;
3. lines: glyphs of similar height, sharing most of their rows and close side by side are
   linked; within a line, glyphs much shorter or taller than the typical one, off its middle
   or with other stroke widths are dropped. A line is kept if it has ``min_chars`` glyphs of
   which two are more than bars (a single wide glyph counts if a row through its middle
   crosses four or more strokes spread along it: joined letters), its glyphs are not stacked
   in columns and are not mostly oblique bars (hatching, wood grain);
4. contrast: a line's glyphs must differ from the ring of pixels around it in the searched
   direction (which rejects the gaps between letters found by the other polarity) and be
   nearly flat in colour, as overlays are;
5. marks beside a kept line (i-dots, punctuation, a logo next to its name) are added if they
   pass the same contrast test; the glyph pixels are then grown by ``margin`` pixels.

Limits: text touching busy structure of similar size (fine textures, lattices) merges with it
and is missed; a logo without lettering beside it is not proposed.
"""

from __future__ import annotations

import cv2
import numpy as np

from engines.base import InputError

MAX_SIDE = 1600  # larger images are searched scaled down; the mask is scaled back
_STROKE_SCALES = (9, 21)  # top-hat kernel sides: strokes up to about 8 and 20 pixels wide


def _channel_max(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel maximum over the three channels of ``(H, W, 3)`` uint8."""
    red, green, blue = cv2.split(rgb)
    return cv2.max(cv2.max(red, green), blue)


def _stroke_ok(region: np.ndarray, height: int, max_variation: float) -> bool:
    """Whether a binary glyph crop (uint8 0/1) has thin strokes of nearly constant width."""
    padded = cv2.copyMakeBorder(region, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
    ridge = (distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8)))
    widths = distance[ridge]
    if widths.size < 3:
        return False
    mean = float(widths.mean())
    return 2 * mean <= 0.4 * height + 1.5 and float(widths.std()) <= max_variation * mean + 0.5


def _outline_contrast(region: np.ndarray, gradient: np.ndarray) -> float:
    """Median morphological gradient on the outline of a glyph crop."""
    inner = cv2.erode(region, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT,
                      borderValue=0)
    outline = region - inner
    values = gradient[outline > 0]
    return float(np.median(values)) if values.size else 0.0


def _glyphs(rgb: np.ndarray, gradient: np.ndarray, bright: bool, min_height: int,
            max_height: int, min_contrast: float, max_variation: float) -> np.ndarray:
    """uint8 0/1 map of the stroke candidates of one polarity that look like glyphs."""
    operation = cv2.MORPH_TOPHAT if bright else cv2.MORPH_BLACKHAT
    glyphs = np.zeros(rgb.shape[:2], np.uint8)
    for size in _STROKE_SCALES:
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
        response = _channel_max(cv2.morphologyEx(rgb, operation, kernel))
        level, _ = cv2.threshold(response, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        strokes = (response > max(level, min_contrast)).view(np.uint8)
        _, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
        x, y, w, h, area = stats.T
        fill = area / np.maximum(w * h, 1)
        plausible = ((h >= min_height) & (h <= max_height) & (w <= 15 * h)
                     & (fill >= 0.08))
        plausible[0] = False
        for label in np.flatnonzero(plausible):
            rows = slice(y[label], y[label] + h[label])
            cols = slice(x[label], x[label] + w[label])
            crop = (labels[rows, cols] == label).view(np.uint8)
            if (_stroke_ok(crop, int(h[label]), max_variation)
                    and _outline_contrast(crop, gradient[rows, cols]) >= min_contrast):
                glyphs[rows, cols] |= crop
    return glyphs


def _is_word(component: np.ndarray) -> bool:
    """Whether one wide 0/1 component reads as joined letters: the middle rows cross four or
    more strokes, spread along the width (an arc or a bar crosses few, at its ends)."""
    h, w = component.shape
    if w < 2.5 * h:
        return False
    rows = component[h // 3:max(h // 3 + 1, 2 * h // 3)].astype(np.int8)
    starts = np.diff(rows, axis=1, prepend=0) > 0
    best = int(np.argmax(starts.sum(axis=1)))
    positions = np.flatnonzero(starts[best])
    if positions.size < 4:
        return False
    steps = np.diff(np.concatenate([[0], positions, [w]]))
    return int(steps.max()) <= 0.4 * w


def _shape_features(glyphs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Connected glyphs and, per component (index 0 = background), their features.

    Returns ``(labels, stats, thickness, stroke, hatch)``: the cv2 label map and stats, each
    component's extent across its main axis (from the pixels' second moments: about the
    stroke width for a straight bar, the glyph's size for a letter), its mean stroke width,
    both in pixels, and whether it is an oblique bar (at least three times longer than
    thick, tilted 25 to 65 degrees: hatching, wood grain, rarely a letter).
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(glyphs, connectivity=8)
    ys, xs = np.nonzero(glyphs)
    ids = labels[ys, xs]
    n = np.maximum(np.bincount(ids, minlength=count), 1).astype(np.float64)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(ids, weights=values, minlength=count) / n

    mx, my = mean(xs.astype(np.float64)), mean(ys.astype(np.float64))
    sxx = mean(xs.astype(np.float64) ** 2) - mx ** 2 + 1 / 12
    syy = mean(ys.astype(np.float64) ** 2) - my ** 2 + 1 / 12
    sxy = mean(xs.astype(np.float64) * ys) - mx * my
    spread = np.sqrt(((sxx - syy) / 2) ** 2 + sxy ** 2)
    thickness = np.sqrt(12 * np.maximum((sxx + syy) / 2 - spread, 0))
    length = np.sqrt(12 * ((sxx + syy) / 2 + spread))
    tilt = np.degrees(0.5 * np.arctan2(2 * sxy, sxx - syy)) % 90  # major axis vs the x axis
    hatch = (length >= 3 * np.maximum(thickness, 1)) & (tilt > 25) & (tilt < 65)
    distance = cv2.distanceTransform(glyphs, cv2.DIST_L2, 3)
    ridge = (distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8)))
    ridge_ids = labels[ridge]
    ridge_count = np.maximum(np.bincount(ridge_ids, minlength=count), 1)
    stroke = 2 * np.bincount(ridge_ids, weights=distance[ridge], minlength=count) / ridge_count
    return labels, stats, thickness, stroke, hatch


def _link(stats: np.ndarray) -> np.ndarray:
    """Group ids (union-find roots) linking glyphs side by side on a line; index 0 unused."""
    x, y, w, h = stats[:, :4].astype(np.float64).T
    top, bottom, left, right = y, y + h, x, x + w
    tall = np.maximum(h[:, None], h[None, :])
    short = np.minimum(h[:, None], h[None, :])
    narrow = np.minimum(w[:, None], w[None, :])
    overlap = np.minimum(bottom[:, None], bottom[None, :]) - np.maximum(top[:, None], top[None, :])
    gap = np.maximum(left[:, None], left[None, :]) - np.minimum(right[:, None], right[None, :])
    # side by side: similar heights, sharing most of their rows, close but not stacked
    linked = ((tall <= 2.0 * short) & (overlap >= 0.5 * short) & (gap <= 1.2 * tall)
              & (gap >= -0.3 * narrow))
    linked[0, :] = linked[:, 0] = False
    np.fill_diagonal(linked, False)
    parent = np.arange(len(x))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked))):
        parent[root(i)] = root(j)
    return np.array([root(i) for i in range(len(x))])


def _line_contrast(rgb: np.ndarray, labels: np.ndarray, members: np.ndarray,
                   box: tuple[int, int, int, int], bright: bool) -> tuple[float, float]:
    """``(contrast, spread)`` of a line's glyph pixels (``labels`` in ``members``) against
    the ring around its box.

    ``contrast``: how much brighter (or darker, for ``bright`` False) the glyphs are than the
    ring, in the colour channel where the difference is largest; ``spread``: the median
    absolute deviation of the glyph pixels in that channel (flat overlays: small).
    """
    x, y, w, h = box
    pad = max(2, h // 4)
    height, width = labels.shape
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(width, x + w + pad), min(height, y + h + pad)
    ring = np.ones((y1 - y0, x1 - x0), bool)
    ring[y - y0:y - y0 + h, x - x0:x - x0 + w] = False
    inner = np.isin(labels[y0:y1, x0:x1], members)
    if not ring.any() or not inner.any():
        return 0.0, 0.0
    area = rgb[y0:y1, x0:x1].astype(np.float32)
    glyph_pixels = area[inner]
    centre = np.median(glyph_pixels, axis=0)
    difference = centre - np.median(area[ring], axis=0)
    if not bright:
        difference = -difference
    channel = int(np.argmax(difference))
    spread = float(np.median(np.abs(glyph_pixels[:, channel] - centre[channel])))
    return float(difference[channel]), spread


def _covered_length(starts: np.ndarray, ends: np.ndarray) -> int:
    """Length of the union of the intervals ``[starts[i], ends[i])``."""
    covered = np.zeros(int(ends.max()) + 1, bool)
    for start, end in zip(starts, ends):
        covered[start:end] = True
    return int(covered.sum())


def _text_lines(rgb: np.ndarray, glyphs: np.ndarray, bright: bool, min_chars: int,
                min_contrast: float) -> np.ndarray:
    """uint8 0/1 map of the glyphs that form accepted text lines (see the module notes)."""
    if not glyphs.any():
        return np.zeros(glyphs.shape, np.uint8)
    labels, stats, thickness, stroke, hatch = _shape_features(glyphs)
    roots = _link(stats)
    x, y, w, h = stats[:, :4].T
    right, bottom = x + w, y + h
    chosen = np.zeros(len(stats), bool)
    lines: list[tuple[tuple[int, int, int, int], float]] = []  # (box, typical stroke)
    for group in np.unique(roots[1:]):
        members = np.flatnonzero(roots == group)
        members = members[members > 0]
        # keep one row of similar glyphs: drop members much shorter or taller than the
        # typical one, off the row's middle, or with strokes unlike the others'
        typical_height, typical_stroke = np.median(h[members]), np.median(stroke[members])
        centre = y[members] + h[members] / 2
        members = members[(h[members] >= 0.6 * typical_height)
                          & (h[members] <= 1.6 * typical_height)
                          & (np.abs(centre - np.median(centre)) <= 0.6 * typical_height)
                          & (stroke[members] <= 2.5 * typical_stroke + 1.0)
                          & (stroke[members] >= typical_stroke / 2.5 - 1.0)]
        if members.size == 0:
            continue
        left, top = int(x[members].min()), int(y[members].min())
        box = (left, top, int(right[members].max()) - left, int(bottom[members].max()) - top)
        # glyphs side by side, not stacked in columns
        if w[members].sum() > 1.5 * _covered_length(x[members], right[members]):
            continue
        if np.count_nonzero(hatch[members]) >= 0.5 * members.size:  # streaks, hatching
            continue
        shaped = np.count_nonzero(thickness[members] >= 1.8 * stroke[members])
        if (members.size < min_chars or shaped < min(2, min_chars)) and not any(
                _is_word((labels[y[i]:bottom[i], x[i]:right[i]] == i).view(np.uint8))
                for i in members):
            continue
        if _contrasted(rgb, labels, members, box, bright, min_contrast):
            lines.append((box, float(np.median(stroke[members]))))
            chosen[members] = True
    # marks beside a line: i-dots, punctuation, a logo next to its name
    for (lx, ly, lw, lh), line_stroke in lines:
        gap_x = np.maximum(lx - right, x - (lx + lw))
        gap_y = np.maximum(ly - bottom, y - (ly + lh))
        near = (~chosen & (gap_x <= lh) & (gap_y <= 0.25 * lh) & (h >= 0.15 * lh)
                & (h <= 2 * lh) & (stroke <= 2.5 * line_stroke + 1.0)
                & (stroke >= line_stroke / 2.5 - 1.0))
        near[0] = False
        for i in np.flatnonzero(near):
            if _contrasted(rgb, labels, np.array([i]), (int(x[i]), int(y[i]), int(w[i]),
                                                        int(h[i])), bright, min_contrast):
                chosen[i] = True
    return chosen[labels].view(np.uint8)


def _contrasted(rgb: np.ndarray, labels: np.ndarray, members: np.ndarray,
                box: tuple[int, int, int, int], bright: bool, min_contrast: float) -> bool:
    """Whether glyphs stand out from their surroundings as a flat overlay would."""
    contrast, spread = _line_contrast(rgb, labels, members, box, bright)
    return contrast >= 0.5 * min_contrast and spread <= 0.35 * contrast


def detect_text_mask(image: np.ndarray, *, margin: int = 2, min_height: int = 6,
                     max_height: int | None = None, min_chars: int = 3,
                     min_contrast: float = 20.0, max_variation: float = 0.5) -> np.ndarray:
    """A proposed mask of the text and line-art logos overlaid on ``image``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        margin: pixels the glyph pixels are grown by (covers anti-aliased edges and shadows).
        min_height: the smallest glyph height in pixels (at the image's scale).
        max_height: the tallest glyph height; default a third of the image height.
        min_chars: the fewest glyphs a line needs (a joined word counts on its own).
        min_contrast: the weakest stroke contrast in grey levels (any colour channel).
        max_variation: the largest stroke-width standard deviation relative to its mean.

    Returns ``(H, W)`` uint8, 255 = proposed text/logo pixel, 0 elsewhere.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be (H, W, 3) uint8 RGB, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    scale = min(1.0, MAX_SIDE / max(height, width))
    rgb = image
    if scale < 1.0:
        rgb = cv2.resize(image, (round(width * scale), round(height * scale)),
                         interpolation=cv2.INTER_AREA)
    tallest = max_height if max_height is not None else rgb.shape[0] // 3
    smallest = max(3, round(min_height * scale))
    tallest = max(smallest, round(tallest * scale))
    gradient = _channel_max(cv2.morphologyEx(rgb, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)))
    text = np.zeros(rgb.shape[:2], np.uint8)
    for bright in (True, False):
        glyphs = _glyphs(rgb, gradient, bright, smallest, tallest, min_contrast, max_variation)
        text |= _text_lines(rgb, glyphs, bright, min_chars, min_contrast)
    text *= 255
    if scale < 1.0:
        text = cv2.resize(text, (width, height), interpolation=cv2.INTER_LINEAR)
        text = np.where(text > 0, 255, 0).astype(np.uint8)
    if margin > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        text = cv2.dilate(text, kernel)
    return text
