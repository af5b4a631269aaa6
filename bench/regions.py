"""The "regions" parser beside its former pure-Python region graph: longest GIL hold and time.

The parser runs on a worker thread while the main thread, as the editor's GUI thread would,
sleeps 1 ms at a time in a loop and records the longest gap between two wake-ups: the longest
the worker kept Python's lock (the GIL) from it, plus the 1 ms sleep. "old" is the frozen copy
of the pure-Python region graph kept in ``tests/engines/test_regions.py``; "new" is the parser
(its merging in numba with the GIL released). Both give the same map; the script checks it.
"waited" sums how much later than with an idle worker the main thread woke, over the run: the
time a GUI thread would have spent waiting for the lock. The second table times the merging
alone (``regions._merge_superpixels``) on the same SLIC superpixels.

The third table times the parse with and without its grain smoothing (``regions.smooth_grain``,
added 2026-11-22; "without" is the parser as before), alternating; the last two measure what it
does to the maps: a flat sky over a noisy lawn (how far the sky's region reaches into the
lawn), and the photos (regions, the share of their colour variance that the regions' mean
colours explain, and how far the map moves when grain is added: the variation of information
between the maps of the photo and of the photo plus noise, lower is steadier).

    .venv/bin/python bench/regions.py [--rounds 5] [--exact-only]

The last table (added 2026-11-22, ``--exact-only`` prints it alone) is the exact-colour path for
lossless flat graphics (``regions.exact_palette``): labels and time before and after it on a
synthetic light UI and line chart and on the photos, and the time of its check alone.

Photos: scikit-image's astronaut (512x512), scikit-learn's china and scikit-image's coffee
scaled to 2048x1536 (bicubic).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from skimage import data
from skimage.metrics import variation_of_information
from sklearn.datasets import load_sample_image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engines.segmentation import regions
from engines.segmentation.base import create_parser
from tests.engines.test_regions import frozen_merge_superpixels, frozen_region_map


def photos() -> dict[str, np.ndarray]:
    large = (2048, 1536)
    return {
        "astronaut 512x512": data.astronaut(),
        "china 2048x1536": cv2.resize(load_sample_image("china.jpg"), large,
                                      interpolation=cv2.INTER_CUBIC),
        "coffee 2048x1536": cv2.resize(data.coffee(), large, interpolation=cv2.INTER_CUBIC),
    }


def ticks_beside(work: Callable[..., Any], *args: Any) -> tuple[list[float], float, Any]:
    """Run ``work(*args)`` on a worker thread while this thread sleeps 1 ms at a time: the
    gaps between this thread's wake-ups and the total time, in seconds, and what it returned."""
    done = threading.Event()
    result = []

    def run() -> None:
        result.append(work(*args))
        done.set()

    worker = threading.Thread(target=run)
    start = last = time.perf_counter()
    worker.start()
    gaps = []
    while not done.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    worker.join()
    return gaps, time.perf_counter() - start, result[0]


def ms(values: list[float]) -> str:
    """Median and range of ``values`` (seconds) in milliseconds."""
    values = [v * 1000 for v in values]
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def row(name: str, old: Callable[..., Any], new: Callable[..., Any], args: tuple,
        rounds: int, idle: float, same: bool = True) -> str:
    """One table row: ``old(*args)`` and ``new(*args)`` alternating, each ``rounds`` times,
    beside a main thread ticking every millisecond; their results must be equal if ``same``."""
    figures: dict[str, list[list[float]]] = {"old": [[], [], []], "new": [[], [], []]}
    for _ in range(rounds):
        results = []
        for key, work in (("old", old), ("new", new)):
            gaps, total, result = ticks_beside(work, *args)
            results.append(result if isinstance(result, tuple) else (result,))
            waited = sum(max(0.0, gap - idle) for gap in gaps)
            for column, value in zip(figures[key], (max(gaps, default=0.0), waited, total)):
                column.append(value)
        if same and not all(np.array_equal(a, b) for a, b in zip(*results)):
            raise SystemExit(f"{name}: the results differ")
    cells = [ms(figures[key][column]) for column in range(3) for key in ("old", "new")]
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--exact-only", action="store_true",
                        help="only the exact-colour path's table")
    arguments = parser.parse_args()
    rounds = arguments.rounds
    parse = create_parser("regions").parse
    images = photos()
    if arguments.exact_only:
        exact_cases(images, rounds)
        return
    first = next(iter(images.values()))
    frozen_region_map(first)  # imports SLIC's modules, so that the next parse times numba
    gaps, total, _ = ticks_beside(parse, first)
    print(f"first parse in a process that has run no numba kernel yet: longest gap "
          f"{max(gaps) * 1000:.1f} ms, {total * 1000:.0f} ms in all")
    idle = statistics.median(ticks_beside(time.sleep, 0.3)[0])
    print(f"a wake-up with an idle worker: {idle * 1000:.2f} ms apart\n")
    print(f"median (range) over {rounds} rounds, old and new alternating, in milliseconds; "
          f"waited: the main thread's wake-ups later than idle ones, summed\n")
    header = "| {} | longest gap, old | new | waited, old | new | time, old | new |"
    print(header.format("whole parse"))
    print("|---|---|---|---|---|---|---|")
    for name, image in images.items():
        print(row(name, frozen_region_map, parse, (image,), rounds, idle))
    print("\n" + header.format("merging alone (same superpixels)"))
    print("|---|---|---|---|---|---|---|")
    for name, image in images.items():
        superpixels, lab, _ = regions.working_superpixels(image)
        print(row(name, frozen_merge_superpixels, regions._merge_superpixels,
                  (superpixels, lab, 24, 8.0, 0.002), rounds, idle))
    print("\n" + header.replace("old", "without").replace("| new", "| with")
          .format("grain smoothing: whole parse without (before) and with"))
    print("|---|---|---|---|---|---|---|")
    for name, image in {**images, "sky over lawn, noise 20, 320x240": horizon(20)}.items():
        print(row(name, without_smoothing(parse), parse, (image,), rounds, idle, same=False))
    quality(images)
    exact_cases(images, rounds)


def without_exact(work: Callable[..., Any]) -> Callable[..., Any]:
    """``work`` run with ``regions.exact_palette`` refusing every picture: the parser before
    the exact-colour path (2026-11-22)."""

    def run(*args: Any) -> Any:
        exact = regions.exact_palette
        regions.exact_palette = lambda image, working_size=512: None
        try:
            return work(*args)
        finally:
            regions.exact_palette = exact

    return run


def exact_cases(images: dict[str, np.ndarray], rounds: int) -> None:
    """Labels and time of the parse before and after the exact-colour path, on the synthetic
    light UI and line chart of ``tests/engines/test_regions_exact.py`` and on the photos (which
    the path must refuse, maps unchanged), and the time of ``regions.exact_palette`` alone."""
    from tests.engines.test_regions_exact import line_chart, ui

    parse = create_parser("regions").parse
    before = without_exact(parse)
    cases = {"light UI 400x300": ui()[0], "line chart 600x400": line_chart()[0],
             "line chart 2400x1600 (x4, linear)": cv2.resize(line_chart()[0], (2400, 1600)),
             **images}
    print("\n| exact-colour path | labels, before | after | same map | time ms, before | "
          "after | exact_palette alone, ms |")
    print("|---|---|---|---|---|---|---|")
    for name, image in cases.items():
        times: dict[str, list[float]] = {"before": [], "after": [], "alone": []}
        labels: dict[str, np.ndarray] = {}
        for _ in range(rounds):
            for key, work in (("before", before), ("after", parse),
                              ("alone", regions.exact_palette)):
                start = time.perf_counter()
                result = work(image)
                times[key].append(time.perf_counter() - start)
                if key != "alone":
                    labels[key] = result
        print(f"| {name} | {int(labels['before'].max()) + 1} | {int(labels['after'].max()) + 1} "
              f"| {np.array_equal(labels['before'], labels['after'])} | {ms(times['before'])} "
              f"| {ms(times['after'])} | {ms(times['alone'])} |")


def without_smoothing(work: Callable[..., Any]) -> Callable[..., Any]:
    """``work`` run with ``regions.smooth_grain`` switched off: the parser as before 2026-11-22."""

    def run(*args: Any) -> Any:
        smooth = regions.smooth_grain
        regions.smooth_grain = lambda lab: lab
        try:
            return work(*args)
        finally:
            regions.smooth_grain = smooth

    return run


def horizon(noise: float, seed: int = 0) -> np.ndarray:
    """A flat blue sky (rows 0-119) over a green lawn with RGB noise of std ``noise``, 320 wide."""
    image = np.zeros((240, 320, 3), np.float64)
    image[:120] = (90, 140, 220)
    image[120:] = (82, 152, 82)
    image[120:] += np.random.default_rng(seed).normal(0, noise, (120, 320, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def leak(labels: np.ndarray) -> str:
    """How far the sky's region reaches below the horizon (row 120): the deepest column, in rows,
    and the share of columns whose first row off the sky's region is within 3 rows of it."""
    sky = np.bincount(labels[:120].ravel()).argmax()
    off = labels != sky
    first = np.where(off.any(axis=0), off.argmax(axis=0), labels.shape[0])
    return f"{int((first - 120).max())} rows, {(np.abs(first - 120) <= 3).mean():.0%}"


def explained(image: np.ndarray, labels: np.ndarray) -> float:
    """The share of ``image``'s CIE Lab variance (at the parser's working size) that the mean
    colours of the regions of ``labels`` explain."""
    scale = min(1.0, 512 / max(image.shape[:2]))
    width, height = round(image.shape[1] * scale), round(image.shape[0] * scale)
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    ids = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST).ravel()
    count = np.bincount(ids).astype(np.float64)
    means = np.stack([np.bincount(ids, lab[:, c]) for c in range(3)], axis=1)
    means /= np.maximum(count, 1)[:, None]
    total = ((lab - lab.mean(axis=0)) ** 2).sum()
    return 1.0 - float(((lab - means[ids]) ** 2).sum() / total)


def quality(images: dict[str, np.ndarray]) -> None:
    """The tables of what the grain smoothing does to the maps (see the module docstring)."""
    parse = create_parser("regions").parse
    before = without_smoothing(parse)
    print("\n| sky over a noisy lawn: RGB noise std | sky's reach below the horizon, "
          "columns within 3 px, before | after |")
    print("|---|---|---|")
    for noise in (0, 10, 20, 30):
        image = horizon(noise)
        print(f"| {noise} | {leak(before(image))} | {leak(parse(image))} |")
    print("\n| photo | regions, before | after | colour variance explained, before | after "
          "| VI clean vs. RGB noise std 10, before | after |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name, image in images.items():
        noisy = np.clip(image + rng.normal(0, 10, image.shape), 0, 255).astype(np.uint8)
        cells: list[list[str]] = [[], [], []]
        for work in (before, parse):
            labels = work(image)
            cells[0].append(str(int(labels.max()) + 1))
            cells[1].append(f"{explained(image, labels):.1%}")
            cells[2].append(f"{sum(variation_of_information(labels, work(noisy))):.2f}")
        print(f"| {name} | " + " | ".join(cell for pair in cells for cell in pair) + " |")


if __name__ == "__main__":
    main()
