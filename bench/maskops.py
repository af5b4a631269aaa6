"""Mask > Grow / Shrink: ``app.maskops`` beside the methods it replaced.

Ours works in the hole's box grown by the radius and gives each pixel the largest (grow) or
smallest (shrink) value within the radius (dx² + dy² <= r²): one exact distance transform
for a hard mask, the disc's row segments for a soft one (running maxima of each row widened
half-width by half-width, maxed into the result row by row: time growing with the radius,
not with the number of distinct values).

Two earlier methods are kept here for comparison:

* "before": ours until 2026-11-22 (afternoon), the same result bit for bit (checked on every
  row): one exact distance transform per distinct value, or the disc as a ``cv2.dilate``
  kernel in bands of 32 rows where that was cheaper; a feathered mask holds about 210
  values.
* "ellipse" (``--ellipse``, slow: minutes): ``cv2.dilate`` / ``cv2.erode`` over the whole
  picture with a ``(2r+1)²`` elliptical kernel, whose time grows with the picture and about
  with the square of the radius; it is skipped where an estimate from the radius before it,
  time x (r / r_before)², passes ``--old-limit`` seconds. Its results differ in edge pixels
  (the ellipse holds pixels up to half a pixel beyond the radius): the row gives how many
  pixels, and by how much at most.

The hole is the round 1000 px one of QA audit 19 (a disc of radius 500 in the middle of the
picture); ``--soft`` adds rows for it feathered by 40 px (``maskops.feather``: about 210
distinct values). Ours: median of ``--repeat``; the others run once.

    .venv/bin/python bench/maskops.py [--sizes 4000x3000,6000x4000] [--radii 20,100,200,500]
        [--soft] [--ellipse]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import maskops
from engines.region import Box

# --- "before": app/maskops.py's grow / shrink until 2026-11-22 (afternoon), as they were ---


def _disc(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)


def _kernel_is_cheaper(levels: int, radius: int) -> bool:
    return 2.5 * (radius / 20) ** 1.7 < levels


_KERNEL_BAND = 32


def _kernel_dilated(layer: np.ndarray, radius: int) -> np.ndarray:
    disc = _disc(radius)
    height = layer.shape[0]
    padded = cv2.copyMakeBorder(layer, radius, radius, 0, 0, cv2.BORDER_CONSTANT, value=0)
    out = np.zeros_like(layer)
    for top in range(0, 2 * radius + 1, _KERNEL_BAND):
        band = np.ascontiguousarray(disc[top:top + _KERNEL_BAND])
        rows = padded[top:top + height + len(band) - 1]
        reached = cv2.dilate(rows, band, anchor=(radius, 0), borderType=cv2.BORDER_CONSTANT,
                             borderValue=0)
        cv2.max(out, reached[:height], dst=out)
    return out


def _before_dilated(layer: np.ndarray, radius: int) -> np.ndarray:
    counts = np.bincount(layer.ravel(), minlength=256)
    values = np.flatnonzero(counts[1:]) + 1
    if _kernel_is_cheaper(len(values), radius):
        return _kernel_dilated(layer, radius)
    out = np.zeros_like(layer)
    for value in values:
        reached = cv2.compare(layer, int(value), cv2.CMP_GE)
        x, y, width, height = cv2.boundingRect(reached)
        box = Box(y, x, y + height, x + width).grown(radius + 1).clip(layer.shape)
        distance = cv2.distanceTransform(cv2.bitwise_not(reached[box.slices]), cv2.DIST_L2,
                                         cv2.DIST_MASK_PRECISE)
        out[box.slices][distance <= radius] = value
    return out


def before_grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    result = np.zeros_like(mask)
    box = Box.around(mask > 0)
    if box is None:
        return result
    box = box.grown(pixels + 1).clip(mask.shape)
    result[box.slices] = _before_dilated(mask[box.slices], pixels)
    return result


def before_shrink(mask: np.ndarray, pixels: int) -> np.ndarray:
    result = np.zeros_like(mask)
    box = Box.around(mask > 0)
    if box is None:
        return result
    box = box.grown(1).clip(mask.shape)
    known = cv2.bitwise_not(mask[box.slices])
    result[box.slices] = cv2.bitwise_not(_before_dilated(known, pixels))
    return result


# --- the comparison ---


def _ellipse(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


ELLIPSE = {"grow": lambda mask, r: cv2.dilate(mask, _ellipse(r)),
           "shrink": lambda mask, r: cv2.erode(mask, _ellipse(r))}
BEFORE = {"grow": before_grow, "shrink": before_shrink}
NEW = {"grow": maskops.grow, "shrink": maskops.shrink}


def round_hole(width: int, height: int, soft: bool) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    cv2.circle(mask, (width // 2, height // 2), 500, 255, -1)
    return maskops.feather(mask, 40) if soft else mask


def timed(function, *args) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4000x3000,6000x4000")
    parser.add_argument("--radii", default="20,100,200,500")
    parser.add_argument("--operations", default="grow,shrink")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-limit", type=float, default=60.0)
    parser.add_argument("--soft", action="store_true", help="also the hole feathered by 40 px")
    parser.add_argument("--hard", action=argparse.BooleanOptionalAction, default=True,
                        help="the hard hole (--no-hard: the feathered one only)")
    parser.add_argument("--ellipse", action="store_true",
                        help="also the elliptical kernel over the whole picture (slow)")
    args = parser.parse_args()
    radii = [int(r) for r in args.radii.split(",")]
    kinds = ([False] if args.hard else []) + ([True] if args.soft else [])
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads")
    maskops.grow(round_hole(1200, 1200, False), 5)  # warm-up: the first call sets OpenCV up
    ellipse_head = " old (ellipse kernel) | pixels differing (by at most) |" if args.ellipse else ""
    print(f"| picture | mask | operation | radius |{ellipse_head} before | ours | identical |")
    print("|---|---|---|---|" + "---|---|" * args.ellipse + "---|---|---|")
    for size in args.sizes.split(","):
        width, height = (int(n) for n in size.split("x"))
        for soft in kinds:
            mask = round_hole(width, height, soft)
            kind = "feathered 40 px" if soft else "hard"
            for operation in args.operations.split(","):
                previous = None  # (radius, seconds) of the ellipse's last run
                for radius in radii:
                    times = []
                    for _ in range(args.repeat):
                        seconds, ours = timed(NEW[operation], mask, radius)
                        times.append(seconds)
                    before_seconds, before = timed(BEFORE[operation], mask, radius)
                    identical = "yes" if np.array_equal(before, ours) else "NO"
                    ellipse_text = ""
                    if args.ellipse:
                        estimate = (previous[1] * (radius / previous[0]) ** 2
                                    if previous is not None else 0.0)
                        if estimate > args.old_limit:
                            ellipse_text = f" skipped (about {estimate:.0f} s or more) | - |"
                        else:
                            seconds, old = timed(ELLIPSE[operation], mask, radius)
                            previous = (radius, seconds)
                            gap = np.abs(old.astype(np.int16) - ours)
                            ellipse_text = (f" {seconds:.2f} s | {int(np.count_nonzero(gap)):,}"
                                            f" (at most {int(gap.max())}) |")
                    print(f"| {width}x{height} | {kind} | {operation} | {radius} |{ellipse_text}"
                          f" {before_seconds:.3f} s | {statistics.median(times):.3f} s "
                          f"| {identical} |", flush=True)


if __name__ == "__main__":
    main()
