"""The "regions" parser beside its former pure-Python region graph: longest GIL hold and time.

The parser runs on a worker thread while the main thread, as the editor's GUI thread would,
sleeps 1 ms at a time in a loop and records the longest gap between two wake-ups: the longest
the worker kept Python's lock (the GIL) from it, plus the 1 ms sleep. "old" is the frozen copy
of the pure-Python region graph kept in ``tests/engines/test_regions.py``; "new" is the parser
(its merging in numba with the GIL released). Both give the same map; the script checks it.
"waited" sums how much later than with an idle worker the main thread woke, over the run: the
time a GUI thread would have spent waiting for the lock. The second table times the merging
alone (``regions._merge_superpixels``) on the same SLIC superpixels.

    .venv/bin/python bench/regions.py [--rounds 5]

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
        rounds: int, idle: float) -> str:
    """One table row: ``old(*args)`` and ``new(*args)`` alternating, each ``rounds`` times,
    beside a main thread ticking every millisecond; their results must be equal."""
    figures: dict[str, list[list[float]]] = {"old": [[], [], []], "new": [[], [], []]}
    for _ in range(rounds):
        results = []
        for key, work in (("old", old), ("new", new)):
            gaps, total, result = ticks_beside(work, *args)
            results.append(result if isinstance(result, tuple) else (result,))
            waited = sum(max(0.0, gap - idle) for gap in gaps)
            for column, value in zip(figures[key], (max(gaps, default=0.0), waited, total)):
                column.append(value)
        if not all(np.array_equal(a, b) for a, b in zip(*results)):
            raise SystemExit(f"{name}: the results differ")
    cells = [ms(figures[key][column]) for column in range(3) for key in ("old", "new")]
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    parse = create_parser("regions").parse
    images = photos()
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


if __name__ == "__main__":
    main()
