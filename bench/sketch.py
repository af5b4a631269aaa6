"""How well guided PatchMatch follows a sketch, by the rule that finds the sources' edges.

The sketch term compares the lines drawn in the hole with Canny edges of the source patches
(``engines.classical.patchmatch.levels.canny_thresholds``). An edge Canny misses is no source
for a drawn line, so the line is not followed. This script compares, in one run:

* ``no sketch``: the same fills without guidance;
* ``median grey, no blur``: the rule used until 2026-11-21, Canny on the grey picture with
  thresholds 0.66 and 1.33 times its median grey level (at least 10 and 30);
* ``gradient xK, blur S``: the current rule, Canny on the grey picture blurred with sigma S,
  thresholds K and K/2 times the median Sobel gradient of the known pixels (at least 20 and
  10), for a few K and S (the default: ``EDGE_HIGH``, ``EDGE_BLUR``).

Two tests:

1. **Bent edge** (synthetic): a 96x96 picture, dark above row 48 and ``base + contrast``
   below, Gaussian noise (sigma 4); a 64x56 hole over the edge's right part; a drawn line
   that leaves the edge's straight path and ends 18 or 22 px off it. Figure: the largest
   distance in pixels between the filled edge and the drawn line (worst of both bends);
   <= 3 means the line is followed.
2. **Photos with their true edges drawn**: scikit-image and scikit-learn photos at 512x512,
   DeepFill v2 free-form masks (~10 % and ~25 %). The sketch is what a user would draw: the
   original's main edges inside the hole (Canny on the picture blurred with sigma 2,
   thresholds 40/100, pieces of 20 px or more). Figures, averaged over photos, masks and
   seeds 0-2: hole PSNR and SSIM against the original, and line recall, the share of
   drawn-line pixels with an edge of the result within 2 px.

3. **Thin lines traced along their middle** (since 2026-11-23): a straight dark (grey 15)
   or bright (235) line of 2 to 16 px across a 50x50 or 80x80 hole, on noise or on a
   photo, and a 3 px stroke along its middle from 15 px before the hole to 15 px after it,
   as a user traces a wire. Figure: how far the filled line's mean grey inside the hole is
   from the line's own (0: continued; about 100: gone), seeds 0-1, for no sketch, the edge
   map alone (the rule until 2026-11-23: neither thin lines nor bands traced) and the thin
   lines' centres (now).

Needs scikit-image and scikit-learn (the venv of ``bench/patchmatch.py`` has both)::

    /tmp/venv-bench/bin/python bench/sketch.py

Prints Markdown tables for ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.metrics import hole_scores  # noqa: E402
from engines import maskgen  # noqa: E402
from engines.base import InpaintRequest  # noqa: E402
from engines.classical.patchmatch import levels  # noqa: E402
from engines.classical.patchmatch.engine import PatchMatchEngine, warm_up  # noqa: E402

Variant = dict[str, object] | None  # levels' attributes to set; None: no sketch
CONTRASTS = (8, 12, 20, 30, 40, 60, 80)
BASES = (30, 180)  # dark and bright pictures


def median_grey(gray: np.ndarray, known: np.ndarray | None) -> tuple[float, float]:
    """The rule used until 2026-11-21: thresholds from the median grey level."""
    median = float(np.median(gray))
    return max(10.0, 0.66 * median), max(30.0, 1.33 * median)


def variants() -> dict[str, Variant]:
    default = (levels.EDGE_HIGH, levels.EDGE_BLUR)
    out: dict[str, Variant] = {
        "no sketch": None,
        "median grey, no blur": {"canny_thresholds": median_grey, "EDGE_BLUR": 0.0}}
    for high, blur in sorted({(3.0, 0.0), (5.0, 0.0), (3.0, 1.0), (4.0, 1.0), (5.0, 1.0),
                              (7.0, 1.0), (4.0, 1.5), default}):
        label = f"gradient x{high:g}, blur {blur:g}" + (" (default)" if (high, blur) == default
                                                           else "")
        out[label] = {"EDGE_HIGH": high, "EDGE_LOW": high / 2, "EDGE_BLUR": blur}
    return out


def fill(image, mask, sketch, variant: Variant, seed: int = 0) -> np.ndarray:
    """Our engine's final result with ``variant`` set; None: without the sketch."""
    changes = variant or {}
    saved = {name: getattr(levels, name) for name in changes}
    for name, value in changes.items():
        setattr(levels, name, value)
    try:
        request = InpaintRequest(image, mask, sketch=None if variant is None else sketch,
                                 seed=seed)
        return list(PatchMatchEngine().run(request))[-1].image
    finally:
        for name, value in saved.items():
            setattr(levels, name, value)


def bent_edge(base: int, contrast: int, end_row: int) -> tuple:
    rng = np.random.default_rng(9)
    image = np.full((96, 96, 3), base + contrast, np.float64)
    image[:48] = base
    image = np.clip(image + rng.normal(0, 4.0, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((96, 96), np.uint8)
    mask[16:80, 40:96] = 255
    sketch = np.zeros((96, 96), np.uint8)
    cv2.line(sketch, (30, 48), (40, 48), 255, 1)
    cv2.line(sketch, (40, 48), (95, end_row), 255, 1)
    return image, mask, sketch


def bent_edge_error(base: int, contrast: int, variant: Variant) -> int:
    """Worst distance (px) between the filled edge and the drawn line, over both bends."""
    worst = 0
    columns = np.arange(44, 96)
    for end_row in (30, 70):
        image, mask, sketch = bent_edge(base, contrast, end_row)
        gray = cv2.blur(fill(image, mask, sketch, variant).mean(axis=2), (1, 5))
        rows = np.argmax(gray[:, columns] > base + contrast / 2, axis=0)
        drawn = 48 + (end_row - 48) * (columns - 40) / 55
        worst = max(worst, int(np.ceil(np.abs(rows - drawn).max())))
    return worst


def photos() -> dict[str, np.ndarray]:
    from skimage import data
    from sklearn.datasets import load_sample_image

    def rgb(gray):
        return np.repeat(gray[..., None], 3, axis=2)
    pictures = {"astronaut": data.astronaut(), "camera": rgb(data.camera()),
                "coffee": data.coffee(), "chelsea": data.chelsea(),
                "china": load_sample_image("china.jpg")}
    return {name: cv2.resize(p, (512, 512), interpolation=cv2.INTER_AREA)
            for name, p in pictures.items()}


def true_lines(image: np.ndarray) -> np.ndarray:
    """The picture's main edges (bool): Canny at sigma 2, pieces of >= 20 px."""
    gray = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (0, 0), 2.0)
    edges = cv2.Canny(gray, 40, 100)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
    keep = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= 20)
    return np.isin(labels, keep[keep > 0])


def line_recall(result: np.ndarray, drawn: np.ndarray) -> float:
    """Share of drawn pixels with an edge of ``result`` within 2 px."""
    found = true_lines(result)
    near = cv2.dilate(found.view(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return float(near[drawn].mean()) if drawn.any() else 1.0


def run_photos(chosen: dict[str, Variant], seeds: int) -> dict[str, list[tuple]]:
    results: dict[str, list[tuple]] = {name: [] for name in chosen}
    for name, image in photos().items():
        lines = true_lines(image)
        for mask_seed, ratio in ((1, 0.10), (2, 0.25)):
            mask = maskgen.free_form_mask(512, 512, np.random.default_rng(mask_seed),
                                          ratio=ratio)
            drawn = lines & (mask >= 128)
            sketch = np.where(drawn, 255, 0).astype(np.uint8)
            for label, variant in chosen.items():
                for seed in range(seeds):
                    start = time.perf_counter()
                    result = fill(image, mask, sketch, variant, seed)
                    elapsed = time.perf_counter() - start
                    results[label].append((*hole_scores(result, image, mask),
                                           line_recall(result, drawn), elapsed))
        print(f"  {name} done", file=sys.stderr, flush=True)
    return results


def thin_line_case(background: str, width: int, level: int, seed: int) -> tuple:
    """(image, hole, stroke, the line's pixels) of test 3."""
    from skimage import data

    rng = np.random.default_rng(seed)
    if background == "noise":
        image = (110 + rng.integers(0, 30, (240, 320, 3))).astype(np.uint8)
    else:
        image = cv2.resize(getattr(data, background)(), (320, 240),
                           interpolation=cv2.INTER_AREA)
    cv2.line(image, (0, 120), (319, 120), (level,) * 3, width)
    line = np.zeros((240, 320), np.uint8)
    cv2.line(line, (0, 120), (319, 120), 255, width)
    hole = np.zeros((240, 320), np.uint8)
    hole[80:160, 120:200] = 255
    stroke = np.zeros((240, 320), np.uint8)
    cv2.line(stroke, (105, 120), (215, 120), 255, 3)
    return image, hole, stroke, (line > 0) & (hole > 0)


def run_thin_lines(seeds: int = 2) -> None:
    # neither thin lines nor bands traced: the sketch matched with the edge map alone
    edges_only = {"_traces_thin_lines": lambda level, cancel=None, grey=None:
                  levels.ThinLines(0),
                  "_traces_bands": lambda level, cancel=None, grey=None:
                  (levels.ThinLines(0), 0)}
    rules = {"no sketch": None, "edge map alone (until 2026-11-23)": edges_only,
             "thin lines' centres (now)": {}}
    cases = [(bg, w, lv) for bg in ("noise", "coffee", "astronaut") for lv in (15, 235)
             for w in (2, 3, 5, 9, 12, 16)]
    errors: dict[str, list[float]] = {label: [] for label in rules}
    times: dict[str, list[float]] = {label: [] for label in rules}
    for background, width, level in cases:
        for label, variant in rules.items():
            case = []
            for seed in range(seeds):
                image, hole, stroke, on_line = thin_line_case(background, width, level, seed)
                start = time.perf_counter()
                result = fill(image, hole, stroke, variant, seed)
                times[label].append(time.perf_counter() - start)
                case.append(abs(float(result[on_line].mean()) - level))
            errors[label].append(float(np.mean(case)))
    print("\n**Thin lines traced along their middle**: |mean grey of the filled line - the "
          "line's grey| inside the hole (0: continued), mean over seeds "
          f"0-{seeds - 1}\n")
    print("| line | " + " | ".join(rules) + " |")
    print("|---|" + "---|" * len(rules))
    for index, (background, width, level) in enumerate(cases):
        kind = "dark" if level < 128 else "bright"
        print(f"| {background}, {kind}, {width} px | "
              + " | ".join(f"{errors[label][index]:.0f}" for label in rules) + " |")
    print("| **mean** | " + " | ".join(f"**{np.mean(errors[label]):.1f}**" for label in rules)
          + " |")
    print("| time per fill | " + " | ".join(f"{np.mean(times[label]):.2f} s" for label in rules)
          + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--skip-photos", action="store_true")
    parser.add_argument("--thin-lines-only", action="store_true",
                        help="run test 3 only")
    args = parser.parse_args()
    warm_up()
    if args.thin_lines_only:
        run_thin_lines(args.seeds if args.seeds < 3 else 2)
        return
    chosen = variants()
    sketched = {k: v for k, v in chosen.items() if v is not None}

    print("**Bent edge**: worst distance (px) between the filled edge and the drawn line\n")
    print("| rule | picture | " + " | ".join(f"contrast {c}" for c in CONTRASTS) + " |")
    print("|---|---|" + "---|" * len(CONTRASTS))
    for label, variant in sketched.items():
        for base in BASES:
            cells = [str(bent_edge_error(base, c, variant)) for c in CONTRASTS]
            print(f"| {label} | grey {base} / {base}+c | " + " | ".join(cells) + " |")

    if args.skip_photos:
        return
    results = run_photos(chosen, args.seeds)
    print("\n**Photos with their true edges drawn** (mean over 5 photos, 2 masks, "
          f"{args.seeds} seeds)\n")
    print("| fill | hole PSNR | hole SSIM | line recall | time per fill |")
    print("|---|---|---|---|---|")
    for label, rows in results.items():
        psnr, ssim, recall, seconds = np.mean(np.array(rows), axis=0)
        print(f"| {label} | {psnr:.2f} dB | {ssim:.3f} | {recall:.1%} | {seconds:.2f} s |")
    run_thin_lines(min(args.seeds, 2))


if __name__ == "__main__":
    main()
