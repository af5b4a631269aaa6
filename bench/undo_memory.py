"""Undo history bytes per small fill, and the undo/redo time of one, on a 12 MP picture.

Two pictures of 4000x3000, made the same every run: ``smooth`` (random blobs scaled up
cubically) and ``noisy`` (the same with Gaussian grain, sigma 8, as a high-ISO photo has).
On each, ``--fills`` fills of a 120x90 hole at random places (fixed seed), each as the
editor makes one: a mask step (the hole painted) and a fill step that pastes new content
(pixels copied from elsewhere in the picture) into the image and clears the mask there.
Printed for the fill steps, side by side:

* ``box``: the bytes the history holds per fill step now (:attr:`Step.nbytes` once
  compressed: each touched tile's pixels in the box of what changed, both sides);
* ``whole tile``: what the old storage held for the same steps, computed here as it did it:
  each touched tile's whole old and new pixels, zlib level 1;
* the same two figures for the mask steps before the fills;
* how many such fills (with their mask steps) :attr:`Document.undo_budget` holds each way;
* the median time of undoing and redoing a fill step: the last one (its old side at hand)
  and older ones (decompressed as written).

Usage::

    python bench/undo_memory.py [--fills 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.document import TILE, Document, Layer
from engines.region import Box

HEIGHT, WIDTH = 3000, 4000
HOLE = (90, 120)  # rows, columns


def _pictures() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    blobs = rng.integers(0, 256, (15, 20, 3), dtype=np.uint8)
    smooth = cv2.resize(blobs, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 8, smooth.shape)
    noisy = np.clip(smooth + grain, 0, 255).astype(np.uint8)
    return {"smooth": smooth, "noisy": noisy}


def _tiles(box: Box) -> list[tuple[int, int]]:
    return [(row, col) for row in range(box.top // TILE, (box.bottom - 1) // TILE + 1)
            for col in range(box.left // TILE, (box.right - 1) // TILE + 1)]


def _whole_tiles(layers: dict[Layer, np.ndarray], tiles: list[tuple[int, int]]) -> list[bytes]:
    """The tiles of ``layers`` as the old storage compressed them: whole, zlib level 1."""
    return [zlib.compress(np.ascontiguousarray(
        array[row * TILE:(row + 1) * TILE, col * TILE:(col + 1) * TILE]), 1)
        for array in layers.values() for row, col in tiles]


def _run(picture: np.ndarray, fills: int) -> dict[str, float]:
    doc = Document(picture)
    rng = np.random.default_rng(3)
    new_bytes, old_bytes, mask_bytes, old_mask_bytes = [], [], [], []
    fill_steps = []
    for _ in range(fills):
        top = int(rng.integers(0, HEIGHT - HOLE[0]))
        left = int(rng.integers(0, WIDTH - HOLE[1]))
        hole = Box(top, left, top + HOLE[0], left + HOLE[1])
        tiles = _tiles(hole)
        unmasked = _whole_tiles({Layer.MASK: doc.mask}, tiles)
        with doc.step("Mask brush"):
            doc.touch(Layer.MASK, hole)
            doc.layer(Layer.MASK)[hole.slices] = 255
        masked = _whole_tiles({Layer.MASK: doc.mask}, tiles)
        source_top = int(rng.integers(0, HEIGHT - HOLE[0]))
        source_left = int(rng.integers(0, WIDTH - HOLE[1]))
        content = doc.image[source_top:source_top + HOLE[0],
                            source_left:source_left + HOLE[1]].copy()
        layers = {Layer.IMAGE: doc.image, Layer.MASK: doc.mask}
        before = _whole_tiles(layers, tiles)
        doc.begin_step("Fill")
        doc.touch(Layer.IMAGE, hole)
        doc.touch(Layer.MASK, hole)
        doc.layer(Layer.IMAGE)[hole.slices] = content
        doc.layer(Layer.MASK)[hole.slices] = 0
        step = doc.end_step()
        layers = {Layer.IMAGE: doc.image, Layer.MASK: doc.mask}
        after = _whole_tiles(layers, tiles)
        doc.settle()
        fill_steps.append(step)
        new_bytes.append(step.nbytes)
        old_bytes.append(sum(map(len, before)) + sum(map(len, after)))
        mask_bytes.append(doc._undo[-2].nbytes)
        old_mask_bytes.append(sum(map(len, unmasked)) + sum(map(len, masked)))
    undo_last, undo_older, redo = [], [], []
    for index in range(fills):  # back through every fill (and its mask step)
        doc.settle()
        began = time.perf_counter()
        doc.undo()
        (undo_last if index == 0 else undo_older).append(time.perf_counter() - began)
        doc.undo()
    doc.settle()
    for _ in range(fills):  # and forth again
        doc.redo()
        doc.settle()
        began = time.perf_counter()
        doc.redo()
        redo.append(time.perf_counter() - began)
    per_fill_new = statistics.mean(new_bytes)
    per_fill_old = statistics.mean(old_bytes)
    per_mask = statistics.mean(mask_bytes)
    per_mask_old = statistics.mean(old_mask_bytes)
    return {
        "new": per_fill_new, "old": per_fill_old, "mask": per_mask, "mask_old": per_mask_old,
        "fills_new": doc.undo_budget / (per_fill_new + per_mask),
        "fills_old": doc.undo_budget / (per_fill_old + per_mask_old),
        "undo_last": undo_last[0], "undo_older": statistics.median(undo_older),
        "redo": statistics.median(redo),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, default=40)
    args = parser.parse_args()
    print(f"{WIDTH}x{HEIGHT}, {args.fills} fills of a {HOLE[1]}x{HOLE[0]} hole "
          f"(image + mask), history bytes per fill step (mean):")
    print(f"{'picture':8} | {'box (now)':>11} | {'whole tile':>11} | "
          f"{'mask step now / whole tile':>26} | "
          f"{'fills in 512 MB now / whole tile':>33} | {'undo last':>9} | "
          f"{'undo older':>10} | {'redo':>7}")
    for name, picture in _pictures().items():
        r = _run(picture, args.fills)
        print(f"{name:8} | {r['new']:>11,.0f} | {r['old']:>11,.0f} | "
              f"{r['mask']:>11,.0f} / {r['mask_old']:>12,.0f} | "
              f"{r['fills_new']:>15,.0f} / {r['fills_old']:>15,.0f} | "
              f"{r['undo_last'] * 1000:>6.2f} ms | {r['undo_older'] * 1000:>7.2f} ms | "
              f"{r['redo'] * 1000:>4.2f} ms")


if __name__ == "__main__":
    main()
