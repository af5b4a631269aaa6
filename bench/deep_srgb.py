"""Converting a deep (16-bit or floating-point) picture to sRGB when it is saved without its
colour profile: accuracy against LittleCMS's 8-bit conversion, and time.

* **accuracy**: every 8-bit colour (16.7 million) of the bundled Adobe RGB sample's profile
  through the deep conversion (as 16-bit samples, ``level * 257``), against LittleCMS's
  8-bit conversion of it (:func:`engines.fileio.srgb_conversion`), in 8-bit levels: the
  largest and the mean difference (of each colour's worst channel), and the share more than
  one level off. For the conversion used (:class:`~engines.deep_samples.ShaperMatrix`,
  the profile's own curves and matrix) and for the fallback used with profiles that are not
  matrix/TRC ones (:class:`~engines.deep_samples.ColourTable`, a lattice of 86**3 8-bit
  conversions interpolated), made here for the same profile.
* **time**: a ``--megapixels`` 16-bit RGB picture (and the same in float32) converted
  (:func:`engines.deep_samples.in_srgb`), and all that saving adds to a conversion
  (``fileio._deep_in_srgb``: the deep samples and the 8-bit colours to compare them with),
  median of ``--repeat`` runs, on all cores.

Usage::

    python bench/deep_srgb.py [--megapixels 20] [--repeat 3] [--skip-accuracy]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines import deep_samples, fileio

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "rocket.jpg"


def _accuracy(name: str, conversion, transform) -> None:
    worst, total, over_one, count = 0.0, 0.0, 0, 0
    levels = np.arange(256, dtype=np.uint8)
    for red in range(256):
        green, blue = np.meshgrid(levels, levels, indexing="ij")
        colours = np.stack([np.full_like(green, red), green, blue], -1).reshape(-1, 3)
        exact = fileio._converted(colours, transform).astype(np.float64)
        deep = conversion(colours.astype(np.uint16) * 257) / 257.0
        off = np.abs(deep - exact).max(axis=1)
        worst, total = max(worst, float(off.max())), total + float(off.sum())
        over_one, count = over_one + int((off > 1).sum()), count + len(off)
    print(f"  {name:<13} max {worst:5.2f}  mean {total / count:.3f}  "
          f"over 1 level {100 * over_one / count:.3f} %")


def _picture(megapixels: float) -> np.ndarray:
    """A smooth 16-bit RGB picture with grain, 3:2."""
    width = round((megapixels * 1e6 * 1.5) ** 0.5)
    height = round(megapixels * 1e6 / width)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    rgb = np.stack(np.broadcast_arrays(x, y * 0.8 + 0.1, 1 - 0.5 * (x + y)), -1)
    grain = np.random.default_rng(0).integers(0, 400, rgb.shape, dtype=np.uint16)
    return (np.clip(rgb, 0, 1) * 65000).astype(np.uint16) + grain


def _median_time(repeat: int, function, *args) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", type=float, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    with Image.open(SAMPLE) as sample:
        icc = sample.info["icc_profile"]
    transform, description = fileio.srgb_conversion(icc)
    conversion = fileio.deep_srgb_conversion(icc)
    table = fileio._colour_table(transform)
    print(f"{description}: {type(conversion).__name__} used; {os.cpu_count()} cores")
    if not args.skip_accuracy:
        print("every 8-bit colour, deep conversion against LittleCMS's 8-bit one (levels):")
        _accuracy("ShaperMatrix", conversion, transform)
        _accuracy("ColourTable", table, transform)
    picture = _picture(args.megapixels)
    height, width = picture.shape[:2]
    print(f"time, {width}x{height} ({height * width / 1e6:.1f} MP), median of {args.repeat}:")
    for name, samples in (("16-bit", picture), ("float32", picture / np.float32(65535))):
        for label, used in (("ShaperMatrix", conversion), ("ColourTable", table)):
            seconds = _median_time(args.repeat, deep_samples.in_srgb, samples, used)
            print(f"  {name:<8} {label:<13} in_srgb {seconds:6.2f} s")
        seconds = _median_time(args.repeat, fileio._deep_in_srgb, samples, icc)
        print(f"  {name:<8} as saved      _deep_in_srgb (with the 8-bit colours) "
              f"{seconds:6.2f} s")


if __name__ == "__main__":
    main()
