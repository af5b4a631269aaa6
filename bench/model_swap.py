"""How long a network swap holds the GIL (the editor's window waits for it):
:meth:`engines.device.ModelSlot.get` replacing one LaMa generator by another (built before
the timing: the swap's own work, the dropped network's freeing and garbage collection), as
before (a full ``gc.collect()`` at every swap) and now (only when a reference cycle keeps the
dropped network: :func:`engines.device._dropped`), in one process each, median of 5 swaps.

    python bench/model_swap.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import engines.device as device
if sys.argv[2] == "off":
    device._dropped = lambda held: (lambda: True)  # as before: always collect
import torch, torchvision  # what a neural engine and the face tools import
import app.window  # the editor's own modules, as its process holds them
from engines.neural.lama_network import FFCResNetGenerator
slot = device.ModelSlot()
times = []
for swap in range(6):
    network = FFCResNetGenerator()
    started = time.perf_counter()
    slot.get(swap, lambda: network)
    times.append(time.perf_counter() - started)
    del network
import gc
print(json.dumps({"ms": [t * 1000 for t in times[1:]], "tracked": len(gc.get_objects())}))
"""


def main() -> None:
    results = {}
    for mode in ("off", "on"):
        out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), mode], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        results[mode] = json.loads(out)
    print("| garbage collection at a swap | swap, median of 5 | objects the collector "
          "tracks |")
    print("|---|---|---|")
    for mode, label in (("off", "always (before)"), ("on", "only for a network a cycle "
                                                            "keeps (now)")):
        ms = results[mode]["ms"]
        print(f"| {label} | {statistics.median(ms):.1f} ms ({min(ms):.1f}-{max(ms):.1f}) | "
              f"{results[mode]['tracked']:,} |")


if __name__ == "__main__":
    main()
