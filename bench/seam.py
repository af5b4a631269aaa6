"""Time and memory of the seam's colour offset and the paste-back (``engines/region.py``).

A fill whose known pixels do not match the picture (as a neural engine's) gets a colour
offset near the hole's edge before it is pasted back (``region._paste_into``, what
``run_regions`` does with a final stage). The picture is scikit-image's "coffee" photo
scaled up with noise (``bench/memory.py``), the hole the QA audit's stroke across it, the
region its crop box (128 px margin; about 7800x5000 at 50 MP), and the fill the picture
brightened by 20 everywhere, so the offset is non-zero all along the ring. Each measurement
runs in a fresh Python process:

* ``tiled``: this tree (the offset computed in tiles around the ring on regions above
  ``SEAM_WHOLE_PIXELS``);
* ``whole``: this tree with ``SEAM_WHOLE_PIXELS`` raised above the region, i.e. the offset
  computed over the whole region, as before the tiles;
* ``--baseline DIR``: the ``engines/`` of another tree (a copy from before a change).

Printed: the median wall time of ``--repeat`` pastes, the peak RSS above the RSS before the
first paste (``VmHWM`` reset once the inputs are built), the peak of numpy's allocations
during one more paste (tracemalloc), and a hash of the pasted pixels (equal hashes: the same
bytes). MB are 10^6 bytes.

Usage::

    python bench/seam.py                                   # 512x512, 12 MP and 50 MP
    python bench/seam.py --sizes 8660x5774 --baseline /tmp/before
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = "512x512,4000x3000,8660x5774"


def _inputs(width: int, height: int):
    """``(original, result, mask)`` of the region measured (see the module's docstring)."""
    import numpy as np

    sys.path.append(str(ROOT))  # bench.memory from this tree, engines from PYTHONPATH
    from bench.memory import picture, stroke
    from engines.region import crop_boxes

    image = picture(width, height)
    mask = stroke(width, height, max(8, round(60 * width / 8660)))
    (box,) = crop_boxes(mask, 128)
    rows, cols = box.slices
    original = np.ascontiguousarray(image[rows, cols])
    del image
    mask = np.ascontiguousarray(mask[rows, cols])
    result = np.clip(original.astype(np.int16) + 20, 0, 255).astype(np.uint8)
    return original, result, mask


def _memory(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name == key:
                return int(value.split()[0]) * 1024
    raise KeyError(key)


def child(args) -> dict:
    import gc
    import tracemalloc

    import numpy as np

    from engines import region
    from engines.base import CancelToken

    width, height = map(int, args.child_size.split("x"))
    original, result, mask = _inputs(width, height)
    if args.child_whole:
        region.SEAM_WHOLE_PIXELS = mask.size
    outs = [original.copy() for _ in range(args.repeat)]
    small = np.zeros((64, 64), np.uint8)
    small[20:40, 20:40] = 255  # a first paste, outside the measure: OpenCV's threads start
    region._paste_into(original[:64, :64].copy(), original[:64, :64], result[:64, :64], small,
                       6.0, CancelToken())
    gc.collect()
    before = _memory("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := VmRSS
    seconds = []
    for out in outs:
        start = time.perf_counter()
        region._paste_into(out, original, result, mask, 6.0, CancelToken())
        seconds.append(time.perf_counter() - start)
    peak = _memory("VmHWM") - before
    digest = hashlib.sha256(outs[0].tobytes()).hexdigest()[:12]
    out = outs.pop()
    outs.clear()
    out[...] = original
    tracemalloc.start()
    region._paste_into(out, original, result, mask, 6.0, CancelToken())
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"region": f"{mask.shape[1]}x{mask.shape[0]}", "seconds": statistics.median(seconds),
            "all": seconds, "peak": peak, "traced": traced, "hash": digest}


def _spawn(tree: Path, size: str, whole: bool, repeat: int) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child-size", size,
               "--repeat", str(repeat), *(["--child-whole"] if whole else [])]
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{size} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=SIZES, help="comma-separated WIDTHxHEIGHT")
    parser.add_argument("--repeat", type=int, help="pastes timed per process (default: 21 "
                        "up to 1 MP, else 3)")
    parser.add_argument("--baseline", type=Path, help="a tree to compare with")
    parser.add_argument("--child-size", help=argparse.SUPPRESS)
    parser.add_argument("--child-whole", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_size:
        print(json.dumps(child(args)))
        return 0
    runs = [("tiled", ROOT, False), ("whole", ROOT, True)]
    if args.baseline:
        runs.append(("baseline", args.baseline.resolve(), False))
    for size in args.sizes.split(","):
        for label, tree, whole in runs:
            width, height = map(int, size.split("x"))
            repeat = args.repeat or (21 if width * height <= 1 << 20 else 3)
            got = _spawn(tree, size, whole, repeat)
            print(f"{size} (region {got['region']}) {label:8s}: {got['seconds'] * 1000:8.1f} ms "
                  f"median of {len(got['all'])} ({min(got['all']) * 1000:.0f}-"
                  f"{max(got['all']) * 1000:.0f}), peak RSS +{got['peak'] / 1e6:,.0f} MB, numpy peak "
                  f"{got['traced'] / 1e6:,.0f} MB, pixels {got['hash']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
