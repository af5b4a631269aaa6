"""Guided PatchMatch's "Keep grain" option beside the plain fill and the other fills.

Voting averages overlapping patches, so a PatchMatch fill comes out smoother than the photo
around it. "Keep grain" (``keep_grain=True``) gives the fill its matches' own fine detail.
This script measures, on the 28 cases used to tune the engine (7 photos at 512x512, each with
the four masks of ``bench/patchmatch.py``), over seeds 0-2:

- hole PSNR and SSIM against the original (``bench.metrics.hole_scores``);
- the *detail ratio*: the standard deviation of the fill's detail finer than 1.5 px (grey
  picture minus its Gaussian blur) over the hole, divided by the original's there. 1 keeps
  the photo's grain; PSNR rewards the average, so a smooth fill scores well on it regardless;
- the median time of a fill.

It runs in the venv of ``bench/patchmatch.py`` (pypatchmatch and opencv-contrib), or in the
project's own, where pypatchmatch is left out:

    /tmp/venv-bench/bin/python bench/grain.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.metrics import hole_scores
from bench.patchmatch import MASKS, _ours, make_mask, photos, resized
from engines.classical.patchmatch.engine import warm_up

SEEDS = 3
DETAIL_SIGMA = 1.5


def detail(image: np.ndarray, where: np.ndarray) -> float:
    """Standard deviation of the grey picture's detail finer than ``DETAIL_SIGMA`` px."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((grey - cv2.GaussianBlur(grey, (0, 0), DETAIL_SIGMA))[where].std())


def methods() -> dict:
    found = {"ours": _ours(), "ours, keep grain": _ours(keep_grain=True),
             "OpenCV Telea": lambda image, mask, seed: cv2.inpaint(
                 image[..., ::-1].copy(), mask, 3, cv2.INPAINT_TELEA)[..., ::-1]}
    try:
        import patchmatch
    except ImportError:
        print("pypatchmatch is not installed here: left out", file=sys.stderr)
        return found

    def pypatchmatch(image, mask, seed):
        patchmatch.set_random_seed(seed)
        return patchmatch.inpaint(image, mask, patch_size=3)
    found["pypatchmatch (patch_size=3)"] = pypatchmatch
    return found


def cases() -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    from skimage import data

    pictures = photos()
    pictures.update({"chelsea": data.chelsea(), "rocket": data.rocket(),
                     "immunohistochemistry": data.immunohistochemistry()})
    names = ["astronaut (skimage)", "china (sklearn)", "coffee (skimage)", "flower (sklearn)",
             "chelsea", "rocket", "immunohistochemistry"]
    found = []
    for name in names:
        image = resized(pictures[name], (512, 512))
        for number, kind in enumerate(MASKS):
            found.append((name, kind, image, make_mask(kind, (512, 512), number + 1)))
    return found


def main() -> int:
    warm_up()
    all_cases = cases()
    print(f"{len(all_cases)} cases x {SEEDS} seeds; mean over them, time: median per fill")
    print(f"{'method':30s} {'PSNR':>8s} {'SSIM':>7s} {'detail':>7s} {'time':>8s}")
    for name, run in methods().items():
        psnr, ssim, ratio, times = [], [], [], []
        for _, _, image, mask in all_cases:
            hole = mask >= 128
            wanted = detail(image, hole)
            for seed in range(SEEDS):
                start = time.perf_counter()
                result = np.where(hole[..., None], run(image, mask, seed), image)
                times.append(time.perf_counter() - start)
                p, s = hole_scores(result, image, mask)
                psnr.append(p)
                ssim.append(s)
                ratio.append(detail(result, hole) / max(wanted, 1e-3))
        print(f"{name:30s} {np.mean(psnr):6.2f} dB {np.mean(ssim):7.3f} {np.mean(ratio):7.2f} "
              f"{statistics.median(times):6.3f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
