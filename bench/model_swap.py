"""How long a network swap's garbage collection holds the GIL (the editor's window waits for
it): :func:`engines.device.free_accelerator_memory` after one network replaced another, with
and without :func:`engines.device._freeze_imports` (torch's objects frozen before the first
load), in one process each (a freeze cannot be undone for the comparison), median of 5 swaps.

    python bench/model_swap.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import engines.device as device
if sys.argv[2] == "off":
    device._freeze_imports = lambda: None
import torch, torchvision  # what a neural engine and the face tools import
import app.window  # the editor's own modules, as its process holds them
from engines.neural.lama_network import FFCResNetGenerator
slot = device.ModelSlot()
times = []
for swap in range(6):
    slot.get(swap, lambda: FFCResNetGenerator())
    started = time.perf_counter()
    device.free_accelerator_memory()
    times.append(time.perf_counter() - started)
import gc
print(json.dumps({"ms": [t * 1000 for t in times[1:]], "tracked": len(gc.get_objects())}))
"""


def main() -> None:
    results = {}
    for mode in ("off", "on"):
        out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), mode], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        results[mode] = json.loads(out)
    print("| torch's objects frozen before the first load | collection after a swap, median "
          "of 5 | objects the collector tracks |")
    print("|---|---|---|")
    for mode, label in (("off", "no (before)"), ("on", "yes (now)")):
        ms = results[mode]["ms"]
        print(f"| {label} | {statistics.median(ms):.1f} ms ({min(ms):.1f}-{max(ms):.1f}) | "
              f"{results[mode]['tracked']:,} |")


if __name__ == "__main__":
    main()
