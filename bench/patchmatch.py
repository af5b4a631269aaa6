"""Guided PatchMatch side by side with OpenCV and pypatchmatch: speed and quality in the hole.

Methods: our ``patchmatch`` engine (through ``Engine.run``, as users run it), OpenCV Telea
and Navier-Stokes, opencv-contrib xphoto FSR (fast) and shift-map, and the PyPI package
pypatchmatch at its default ``patch_size=15`` and at ``patch_size=3`` (its examples' value).
Images: real photos shipped by scikit-image and scikit-learn, resized to each size. Masks
(from :mod:`engines.maskgen`): DeepFill v2 free-form strokes covering ~10 % and ~25 %, a
text/watermark mask and a centred 128x128 square. Figures: median wall time over ``--runs``
runs (seed 0), PSNR and SSIM over the hole pixels against the original photo, averaged over
``--seeds`` seeds for the seeded methods (ours and pypatchmatch, which is reseeded before every
run so that its results repeat).

opencv-contrib-python conflicts with the project's opencv-python, so run it in its own venv::

    python3 -m venv /tmp/venv-bench
    /tmp/venv-bench/bin/pip install numpy numba opencv-contrib-python-headless \\
        pypatchmatch scikit-image scikit-learn
    /tmp/venv-bench/bin/python bench/patchmatch.py            # full run (long)
    /tmp/venv-bench/bin/python bench/patchmatch.py --photos 1 --methods ours  # a subset

Results accumulate in ``bench/out/patchmatch.json``: a run replaces the cases it measures.

Writes ``bench/out/patchmatch.json`` (every measurement), ``bench/patchmatch_contact_sheet.png``
and prints Markdown tables for ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# this script is named like the pypatchmatch package: keep its folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(ROOT))

from bench.metrics import hole_scores  # noqa: E402
from engines import maskgen  # noqa: E402
from engines.base import InpaintRequest  # noqa: E402
from engines.classical.patchmatch.engine import PatchMatchEngine, warm_up  # noqa: E402

OUT = ROOT / "bench" / "out"
SHEET = ROOT / "bench" / "patchmatch_contact_sheet.png"
SIZES = {"512x512": (512, 512), "2048x1536": (2048, 1536)}
MASKS = ("free-form 10%", "free-form 25%", "text", "square 128")
SLOW_SECONDS = 60.0  # a baseline slower than this on its first run is not repeated


def photos() -> dict[str, np.ndarray]:
    """RGB uint8 photos shipped with scikit-image and scikit-learn."""
    from skimage import data
    from sklearn.datasets import load_sample_image

    return {"astronaut (skimage)": data.astronaut(), "china (sklearn)": load_sample_image(
        "china.jpg"), "coffee (skimage)": data.coffee(),
        "flower (sklearn)": load_sample_image("flower.jpg")}


def resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    shrinking = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def make_mask(kind: str, size: tuple[int, int], seed: int) -> np.ndarray:
    width, height = size
    rng = np.random.default_rng(seed)
    if kind == "free-form 10%":
        return maskgen.free_form_mask(height, width, rng, ratio=0.10)
    if kind == "free-form 25%":
        return maskgen.free_form_mask(height, width, rng, ratio=0.25)
    if kind == "text":
        return maskgen.text_mask(height, width, rng)
    return maskgen.centered_square_mask(height, width, 128)


Method = Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (image, mask, seed) -> result


def _stochastic(run: Method) -> Method:
    """Mark a method whose result depends on its seed (quality is averaged over seeds)."""
    run.stochastic = True
    return run


def _ours(**options) -> Method:
    engine = PatchMatchEngine(**options)

    def run(image, mask, seed):
        stages = list(engine.run(InpaintRequest(image, mask, seed=seed)))
        return stages[-1].image
    return _stochastic(run)


def _opencv(flag: int) -> Method:
    def run(image, mask, seed):
        return cv2.inpaint(image[..., ::-1].copy(), mask, 3, flag)[..., ::-1]
    return run


def _xphoto(algorithm: int) -> Method:
    def run(image, mask, seed):
        bgr = np.ascontiguousarray(image[..., ::-1])
        known = np.where(mask >= 128, 0, 255).astype(np.uint8)  # xphoto: non-zero = valid
        out = np.zeros_like(bgr)
        cv2.xphoto.inpaint(bgr, known, out, algorithm)
        return out[..., ::-1]
    return run


def _pypatchmatch(patch_size: int) -> Method:
    import patchmatch

    def run(image, mask, seed):
        patchmatch.set_random_seed(seed)  # its C rand(): reseeded so every run is repeatable
        return patchmatch.inpaint(image, mask, patch_size=patch_size)
    return _stochastic(run)


def methods() -> dict[str, Method]:
    """Every method this machine can run, in the tables' order: xphoto needs
    opencv-contrib, pypatchmatch its package (each left out with a note when missing); on a
    machine with a CUDA GPU, ours is also run with the torch solver on it and with the numba
    kernels named ("ours" itself runs numba there too)."""
    found: dict[str, Method] = {"guided patchmatch (ours)": _ours(),
                                "ours, final stage only": _ours(previews=False)}
    if _cuda():
        found["ours, torch on CUDA"] = _ours(backend="torch")
        found["ours, numba on the CPU"] = _ours(backend="numba")
    found["OpenCV Telea"] = _opencv(cv2.INPAINT_TELEA)
    found["OpenCV NS"] = _opencv(cv2.INPAINT_NS)
    if hasattr(cv2, "xphoto"):
        found["xphoto FSR fast"] = _xphoto(cv2.xphoto.INPAINT_FSR_FAST)
        found["xphoto shiftmap"] = _xphoto(cv2.xphoto.INPAINT_SHIFTMAP)
    else:
        print("left out: xphoto FSR and shift-map (install opencv-contrib-python-headless)",
              file=sys.stderr)
    if importlib.util.find_spec("patchmatch") is not None:
        found["pypatchmatch (patch_size=15, default)"] = _pypatchmatch(15)
        found["pypatchmatch (patch_size=3)"] = _pypatchmatch(3)
    else:
        print("left out: pypatchmatch (install pypatchmatch)", file=sys.stderr)
    return found


def _cuda() -> bool:
    """Whether torch is installed and sees a CUDA GPU."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def measure(run: Method, image, mask, runs: int, seeds: int):
    """Time ``runs`` runs with seed 0 and score seeds ``0..seeds-1`` (stochastic methods only).

    Returns ``(result of seed 0, times, [(psnr, ssim) per seed])``; a method slower than
    ``SLOW_SECONDS`` on its first run is run once per seed only.
    """
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = np.ascontiguousarray(run(image, mask, 0))
        times.append(time.perf_counter() - start)
        if times[0] > SLOW_SECONDS:
            break
    hole = (mask >= 128)[..., None]
    result = np.where(hole, result, image)
    scores = [hole_scores(result, image, mask)]
    for seed in range(1, seeds if getattr(run, "stochastic", False) else 1):
        scores.append(hole_scores(np.where(hole, run(image, mask, seed), image), image, mask))
    return result, times, scores


def contact_sheet(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], path: Path,
                  thumb: int = 200) -> None:
    """A grid: one row per mask, one column per method, titles on top; saved as PNG."""
    header = 28
    columns = len(rows[0][1])
    sheet = np.full((header + len(rows) * thumb, columns * thumb, 3), 255, np.uint8)
    for col, (title, _) in enumerate(rows[0][1]):
        for k, line in enumerate(_wrap(title, 24)[:2]):
            cv2.putText(sheet, line, (col * thumb + 4, 11 + 12 * k), cv2.FONT_HERSHEY_SIMPLEX,
                        0.36, (0, 0, 0), 1, cv2.LINE_AA)
    for row, (_, cells) in enumerate(rows):
        for col, (_, image) in enumerate(cells):
            top = header + row * thumb
            sheet[top:top + thumb, col * thumb:(col + 1) * thumb] = cv2.resize(
                image, (thumb, thumb), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), sheet[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


def summarise(records: list[dict]) -> str:
    """Markdown tables: per size and mask, each method's median time and mean PSNR/SSIM."""
    lines = []
    names = list(dict.fromkeys(r["method"] for r in records))
    for size in dict.fromkeys(r["size"] for r in records):
        lines.append(f"\n**{size}** (time: median of the per-photo medians; PSNR/SSIM: mean "
                     "over the photos and seeds, hole pixels only)\n")
        lines.append("| method | " + " | ".join(m for m in MASKS) + " |")
        lines.append("|---|" + "---|" * len(MASKS))
        for name in names:
            cells = []
            for mask in MASKS:
                rows = [r for r in records if r["size"] == size and r["mask"] == mask
                        and r["method"] == name]
                if not rows:
                    cells.append("-")
                    continue
                seconds = statistics.median(statistics.median(r["times"]) for r in rows)
                psnr = statistics.mean(r["psnr"] for r in rows)
                ssim = statistics.mean(r["ssim"] for r in rows)
                few = "*" if min(len(r["times"]) for r in rows) < 3 else ""
                cells.append(f"{seconds:.2f} s{few} / {psnr:.2f} dB / {ssim:.3f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("\n`*` fewer than 3 runs (the first took over a minute).")
    lines.append(_ratios(records))
    return "\n".join(lines)


def _ratios(records: list[dict]) -> str:
    """Per case: how much faster ours is than pypatchmatch, and whether it scores as well."""
    ours = "guided patchmatch (ours)"
    out = ["\n| case | vs pypatchmatch | speed-up | PSNR ours/theirs | SSIM ours/theirs |",
           "|---|---|---|---|---|"]
    for r in records:
        if r["method"] != ours:
            continue
        for other in ("pypatchmatch (patch_size=15, default)", "pypatchmatch (patch_size=3)"):
            match = [o for o in records if o["method"] == other and o["size"] == r["size"]
                     and o["mask"] == r["mask"] and o["image"] == r["image"]]
            if not match:
                continue
            o = match[0]
            speedup = statistics.median(o["times"]) / statistics.median(r["times"])
            out.append(f"| {r['size']} {r['image']} {r['mask']} | {other.split(' ', 1)[1]} | "
                       f"{speedup:.1f}x | {_spread(r, 'psnr', 2)} / {_spread(o, 'psnr', 2)} | "
                       f"{_spread(r, 'ssim', 3)} / {_spread(o, 'ssim', 3)} |")
    return "\n".join(out)


def _spread(record: dict, key: str, digits: int) -> str:
    """The mean over seeds, then ``[lowest-highest]`` when several seeds were scored."""
    values = record.get(f"{key}_seeds", [record[key]])
    text = f"{record[key]:.{digits}f}"
    if len(values) > 1:
        text += f" [{min(values):.{digits}f}-{max(values):.{digits}f}]"
    return text


def _place(order: list[str], method: str) -> int:
    """Where ``method`` sorts: its place in ``order``, after them all when this machine
    cannot run it (a record of an earlier run elsewhere)."""
    return order.index(method) if method in order else len(order)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per case (median)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="seeds whose hole PSNR/SSIM are averaged (seeded methods only)")
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated sizes")
    parser.add_argument("--photos", type=int, default=0, help="photos per size (0: all)")
    parser.add_argument("--methods", default="", help="comma-separated subset of methods")
    args = parser.parse_args(argv)

    warm_up()
    all_methods = methods()
    order = list(all_methods)
    if args.methods:
        wanted = [part.strip() for part in args.methods.split(",")]
        all_methods = {k: v for k, v in all_methods.items() if any(w in k for w in wanted)}
    pictures = photos()
    plan = {"512x512": ["astronaut (skimage)", "china (sklearn)", "coffee (skimage)"],
            "2048x1536": ["china (sklearn)", "flower (sklearn)"]}
    if args.photos:
        plan = {size: names[:args.photos] for size, names in plan.items()}
    results_file = OUT / "patchmatch.json"
    records: list[dict] = []
    if results_file.exists():  # earlier runs: keep what this run does not measure again
        records = json.loads(results_file.read_text())["records"]
    cells_dir = OUT / "sheet"
    cells_dir.mkdir(parents=True, exist_ok=True)
    for size_name in args.sizes.split(","):
        size = SIZES[size_name]
        names = plan[size_name]
        for image_name in names:
            image = resized(pictures[image_name], size)
            for seed, mask_kind in enumerate(MASKS):
                mask = make_mask(mask_kind, size, seed + 1)
                for method, run in all_methods.items():
                    result, times, scores = measure(run, image, mask, args.runs, args.seeds)
                    psnr = statistics.mean(p for p, _ in scores)
                    ssim = statistics.mean(s for _, s in scores)
                    records = [r for r in records if (r["size"], r["image"], r["mask"],
                                                      r["method"]) != (size_name, image_name,
                                                                       mask_kind, method)]
                    records.append({"size": size_name, "image": image_name, "mask": mask_kind,
                                    "hole": maskgen.hole_ratio(mask), "method": method,
                                    "times": times, "psnr": psnr, "ssim": ssim,
                                    "psnr_seeds": [p for p, _ in scores],
                                    "ssim_seeds": [s for _, s in scores]})
                    print(f"{size_name} {image_name:22s} {mask_kind:14s} {method:40s} "
                          f"{statistics.median(times):8.3f} s  {psnr:6.2f} dB  {ssim:.3f}",
                          flush=True)
                    if size_name == "512x512" and image_name == plan[size_name][0]:
                        thumb = cv2.resize(result, (200, 200), interpolation=cv2.INTER_AREA)
                        cv2.imwrite(str(cells_dir / f"{seed}_{order.index(method)}.png"),
                                    thumb[..., ::-1])
                        marked = np.where((mask >= 128)[..., None],
                                          np.array([0, 255, 0], np.uint8), image)
                        cv2.imwrite(str(cells_dir / f"{seed}_input.png"), cv2.resize(
                            marked, (200, 200), interpolation=cv2.INTER_AREA)[..., ::-1])
    records.sort(key=lambda r: (list(SIZES).index(r["size"]), r["image"],
                                MASKS.index(r["mask"]), _place(order, r["method"])))
    shown = [m for m in order if m != "ours, final stage only"]
    rows = []
    for seed, mask_kind in enumerate(MASKS):
        files = [cells_dir / f"{seed}_input.png"] + [cells_dir / f"{seed}_{order.index(m)}.png"
                                                    for m in shown]
        if all(f.exists() for f in files):
            rows.append((mask_kind, [(title, cv2.imread(str(f))[..., ::-1]) for title, f in
                                     zip(["input (hole in green)", *shown], files)]))
    if rows:
        contact_sheet(rows, SHEET)
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(),
               "date": time.strftime("%Y-%m-%d")}
    results_file.write_text(json.dumps({"machine": machine, "records": records}, indent=1))
    print(summarise(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
