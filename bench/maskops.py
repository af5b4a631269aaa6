"""Mask > Grow / Shrink: ``app.maskops`` beside the elliptical-kernel method it replaced.

The old method (kept here for comparison) was ``cv2.dilate`` / ``cv2.erode`` over the whole
picture with a ``(2r+1)²`` elliptical kernel: its time grows with the picture and about
with the square of the radius. Ours works in the hole's box grown by the radius and takes
one exact distance transform per distinct mask value (one for a hard mask), or a disc
kernel where that is cheaper (soft masks, small radii).

The hole is the round 1000 px one of QA audit 19 (a disc of radius 500 in the middle of the
picture); ``--soft`` adds rows for it feathered by 40 px (``maskops.feather``: about 210
distinct values). Each row gives the old time (run once; skipped where an estimate from the
radius before it, time x (r / r_before)², passes ``--old-limit`` seconds), ours (median of
``--repeat``), and how many pixels the two results differ in, and by how much at most (the
ellipse holds pixels up to half a pixel beyond the radius: hard masks differ in edge pixels,
255 against 0; feathered ones in the ramp's values, by a few levels; see the tests in
tests/app/test_maskops.py).

    .venv/bin/python bench/maskops.py [--sizes 4000x3000,6000x4000] [--radii 20,100,200,500]
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


def _ellipse(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


OLD = {"grow": lambda mask, r: cv2.dilate(mask, _ellipse(r)),
       "shrink": lambda mask, r: cv2.erode(mask, _ellipse(r))}
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
    args = parser.parse_args()
    radii = [int(r) for r in args.radii.split(",")]
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads")
    maskops.grow(round_hole(1200, 1200, False), 5)  # warm-up: the first call sets OpenCV up
    print("| picture | mask | operation | radius | old (ellipse kernel) | ours | pixels differing (by at most) |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        width, height = (int(n) for n in size.split("x"))
        for soft in (False, True) if args.soft else (False,):
            mask = round_hole(width, height, soft)
            kind = "feathered 40 px" if soft else "hard"
            for operation in args.operations.split(","):
                before = None  # (radius, seconds) of the old method's last run
                for radius in radii:
                    times = []
                    for _ in range(args.repeat):
                        seconds, ours = timed(NEW[operation], mask, radius)
                        times.append(seconds)
                    estimate = (before[1] * (radius / before[0]) ** 2
                                if before is not None else 0.0)
                    if estimate > args.old_limit:
                        old_text, differing = f"skipped (about {estimate:.0f} s or more)", "-"
                    else:
                        seconds, old = timed(OLD[operation], mask, radius)
                        before = (radius, seconds)
                        old_text = f"{seconds:.2f} s"
                        gap = np.abs(old.astype(np.int16) - ours)
                        differing = f"{int(np.count_nonzero(gap)):,} (at most {int(gap.max())})"
                    print(f"| {width}x{height} | {kind} | {operation} | {radius} | {old_text} "
                          f"| {statistics.median(times):.3f} s | {differing} |", flush=True)


if __name__ == "__main__":
    main()
