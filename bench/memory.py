"""Peak memory, time and cancel latency of the ``patchmatch`` engine on a 50 MP picture.

The picture is scikit-image's "coffee" photo scaled to 8660x5774 with a little noise (real
texture, made the same every run); the hole is the 60 px stroke of a QA audit, from
(500, 500) to (8000, 5200) at that size, so the crop box is most of the picture (about
7800x5000 with the default 128 px margin). Each measurement runs in a fresh Python process,
through ``Engine.run`` with the CLI's defaults (``backend="auto"``: the numba kernels on the
CPU, no torch imported), the last stage kept while the next one arrives, as the CLI keeps
it:

* ``run``: wall time of the whole run and the process's peak RSS (``VmHWM``, reset once the
  inputs are built and the kernels loaded; the RSS then, imports and inputs included, is
  printed beside it, and whether torch was imported);
* ``cancel``: the run is started on a thread, its token cancelled after each of
  ``--delays`` seconds, and the time from ``cancel()`` to the run's end is printed;
* ``gaps``: the longest stretches of a run between two looks at its cancel token, and where
  they begin and end (a cancel waits for the end of the stretch it falls in); a thread
  samples where the run is every ``--sample-ms`` (its innermost line in ``engines/``) and
  each stretch lists the lines most sampled within it, with their share of its samples
  (``--inside region.py``: only the stretches whose most sampled line is in that file);
* ``profile``: tracemalloc of numpy's allocations (OpenCV's results included, its and
  numba's scratch memory not), snapshot whenever the traced total reaches a new high;
  prints the lines holding the most memory at the highest one.

Usage::

    python bench/memory.py                       # all four parts, 50 MP
    python bench/memory.py --parts run --guidance sketch,labels
    python bench/memory.py --parts gaps --strategy original --grey --inside region.py
    python bench/memory.py --baseline /tmp/before  # also with the engines of another tree

``--baseline DIR`` runs each measurement with the ``engines/`` of ``DIR`` (a copy of the
tree from before a change) too, in its own processes, and prints both. ``--strategy`` runs
the engine on the whole picture (``original``) instead of the crop box; ``--grey`` makes
the picture black-and-white (equal channels: the region machinery then reads every band to
know it, and makes each stage's fill grey). MB are 10^6 bytes.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDANCE = ("sketch", "labels", "exclude", "include", "reference")


def picture(width: int, height: int):
    """``(height, width, 3)`` uint8 RGB: a real photo scaled up, with +-6 levels of noise."""
    import cv2
    import numpy as np
    from skimage import data

    image = cv2.resize(data.coffee(), (width, height), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).integers(-6, 7, image.shape, dtype=np.int16)
    noise += image
    return np.clip(noise, 0, 255).astype(np.uint8)


def stroke(width: int, height: int, thickness: int):
    """``(height, width)`` uint8 mask, 255 on a ``thickness`` px line across the picture."""
    import cv2
    import numpy as np

    mask = np.zeros((height, width), np.uint8)
    cv2.line(mask, *_stroke_ends(width, height), 255, thickness)
    return mask


def _stroke_ends(width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The stroke's ends: the QA audit's (500, 500) and (8000, 5200) at 8660x5774."""
    return ((round(width * 500 / 8660), round(height * 500 / 5774)),
            (round(width * 8000 / 8660), round(height * 5200 / 5774)))


def request_for(width: int, height: int, thickness: int, guidance: set[str], seed: int = 0,
                strategy: str = "crop", grey: bool = False):
    """The :class:`InpaintRequest` measured: the stroke and the guidance asked for, the
    region ``strategy``; ``grey``: the picture's first channel in all three."""
    import cv2
    import numpy as np

    from engines.base import InpaintRequest

    image = picture(width, height)
    if grey:
        image[..., 1] = image[..., 2] = image[..., 0]
    mask = stroke(width, height, thickness)
    layers = {}
    if "sketch" in guidance:  # a line along the stroke, a little off its middle
        sketch = np.zeros_like(mask)
        (x0, y0), (x1, y1) = _stroke_ends(width, height)
        cv2.line(sketch, (x0, y0 + 6), (x1, y1 + 6), 255, 3)
        layers["sketch"] = sketch
    if "labels" in guidance:  # left and right halves
        labels = np.zeros_like(mask)
        labels[:, width // 2:] = 1
        layers["labels"] = labels
    if "exclude" in guidance:
        exclude = np.zeros_like(mask)
        exclude[:height // 3, :width // 3] = 255
        layers["sample_exclude"] = exclude
    if "include" in guidance:
        include = np.zeros_like(mask)
        include[height // 4:, :] = 255
        layers["sample_include"] = include
    if "reference" in guidance:
        layers["exemplars"] = (np.ascontiguousarray(image[:height // 4, :width // 4, ::-1]),)
    return InpaintRequest(image, mask, seed=seed, strategy=strategy, **layers)


def _memory() -> dict[str, int]:
    """VmRSS and VmHWM of this process, bytes."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) * 1024
    return found


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _prepare(args):
    from engines.classical.patchmatch.engine import PatchMatchEngine, warm_up

    warm_up()
    request = request_for(args.width, args.height, args.thickness, set(args.guidance),
                          strategy=args.strategy, grey=args.grey)
    return PatchMatchEngine(previews=not args.no_previews), request


def child_run(args) -> dict:
    engine, request = _prepare(args)
    import gc

    gc.collect()
    before = _memory()["VmRSS"]
    reset = _reset_peak()
    start = time.perf_counter()
    final = None
    for stage in engine.run(request):
        final = stage  # as cli._common.run_with_bar keeps it
    seconds = time.perf_counter() - start
    assert final is not None and final.final
    peak = _memory()["VmHWM"]
    return {"seconds": seconds, "rss_before": before, "peak": peak, "peak_reset": reset,
            "picture": request.image.nbytes, "torch": "torch" in sys.modules}


def child_cancel(args) -> dict:
    from engines.base import Cancelled, CancelToken

    engine, request = _prepare(args)
    latencies = []
    for delay in args.delays:
        token = CancelToken()
        ended = {}

        def work(token=token, ended=ended):
            try:
                for _ in engine.run(request, token):
                    pass
                ended["how"] = "finished"
            except Cancelled:
                ended["how"] = "cancelled"
            ended["at"] = time.perf_counter()

        thread = threading.Thread(target=work)
        thread.start()
        time.sleep(delay)
        cancelled_at = time.perf_counter()
        token.cancel()
        thread.join()
        latencies.append({"delay": delay, "how": ended["how"],
                          "latency": ended["at"] - cancelled_at})
    return {"cancel": latencies}


def child_gaps(args) -> dict:
    """The longest stretches of a run between two looks at its cancel token."""
    import traceback

    from engines.base import CancelToken

    class Recording(CancelToken):
        def __init__(self) -> None:
            super().__init__()
            self.looks: list[tuple[float, str]] = []

        def _look(self) -> None:
            frames = [f for f in traceback.extract_stack()[:-2] if "engines" in f.filename]
            where = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames[::-1][:3])
            self.looks.append((time.perf_counter(), where))

        @property
        def cancelled(self) -> bool:
            self._look()
            return self._event.is_set()

        def raise_if_cancelled(self) -> None:
            self._look()
            super().raise_if_cancelled()

    engine, request = _prepare(args)
    token = Recording()
    samples: list[tuple[float, str]] = []
    stop = threading.Event()
    runner = threading.get_ident()

    def sample() -> None:  # where the run is, every ``--sample-ms``
        while not stop.wait(args.sample_ms / 1000):
            frame = sys._current_frames().get(runner)
            here = None
            while frame is not None and here is None:  # the innermost frame in engines/
                if "engines" in frame.f_code.co_filename:
                    here = f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"
                frame = frame.f_back
            samples.append((time.perf_counter(), here or "(outside engines)"))

    sampler = threading.Thread(target=sample, daemon=True)
    if args.sample_ms > 0:
        sampler.start()
    start = time.perf_counter()
    for _ in engine.run(request, token):
        pass
    end = time.perf_counter()
    stop.set()
    if args.sample_ms > 0:
        sampler.join()
    looks = [(start, "start"), *token.looks, (end, "end")]
    gaps = sorted(((b[0] - a[0], a, b) for a, b in itertools.pairwise(looks)),
                  key=lambda gap: gap[0], reverse=True)
    times = [at for at, _ in samples]
    found = []
    for seconds, (begin, from_), (finish, to) in gaps:
        if len(found) == args.top:
            break
        counts: dict[str, int] = {}
        for _, where in samples[bisect.bisect_left(times, begin):
                                bisect.bisect_left(times, finish)]:
            counts[where] = counts.get(where, 0) + 1
        inside = sorted(counts.items(), key=lambda item: item[1], reverse=True)
        if args.inside and not (inside and args.inside in inside[0][0]):
            continue
        found.append({"seconds": seconds, "from": from_, "to": to,
                      "samples": sum(counts.values()),
                      "inside": [[where, n] for where, n in inside[:args.sampled]]})
    return {"seconds": end - start, "looks": len(token.looks), "sample_ms": args.sample_ms,
            "inside": args.inside, "gaps": found}


def child_profile(args) -> dict:
    import tracemalloc

    engine, request = _prepare(args)
    tracemalloc.start(12)
    base = tracemalloc.get_traced_memory()[0]
    best = {"traced": 0, "snapshot": None, "at": 0.0}
    stop = threading.Event()
    start = time.perf_counter()

    def sample():
        while not stop.is_set():
            current = tracemalloc.get_traced_memory()[0]
            if current > best["traced"] * 1.03:
                best.update(traced=current, snapshot=tracemalloc.take_snapshot(),
                            at=time.perf_counter() - start)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    for _ in engine.run(request):
        pass
    stop.set()
    sampler.join()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    snapshot = best["snapshot"]
    lines = []
    if snapshot is not None:
        for stat in snapshot.statistics("traceback")[:args.top]:
            frames = [f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback
                      if "engines" in f.filename]  # oldest first
            lines.append({"mb": stat.size / 1e6, "count": stat.count,
                          "where": " < ".join(frames[::-1][:4])})
    return {"traced_peak": peak - base, "sampled_peak": best["traced"] - base,
            "sampled_at": best["at"], "top": lines}


CHILDREN = {"run": child_run, "cancel": child_cancel, "gaps": child_gaps,
            "profile": child_profile}


def _spawn(part: str, tree: Path, args) -> dict:
    """Run ``part`` in a fresh process with the engines of ``tree``; its JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", part,
               "--size", f"{args.width}x{args.height}", "--thickness", str(args.thickness),
               "--guidance", ",".join(args.guidance) or "none",
               "--delays", ",".join(map(str, args.delays)), "--top", str(args.top),
               "--sample-ms", str(args.sample_ms), "--sampled", str(args.sampled),
               "--strategy", args.strategy, "--inside", args.inside,
               *(["--no-previews"] if args.no_previews else []),
               *(["--grey"] if args.grey else [])]
    env = dict(os.environ, PYTHONPATH=str(tree), BENCH_TREE=str(tree))
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{part} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mb(value: float) -> str:
    return f"{value / 1e6:,.0f} MB"


def _report(part: str, label: str, result: dict) -> None:
    if part == "run":
        picture_mb = result["picture"]
        print(f"[{label}] run: {result['seconds']:.1f} s, peak RSS {_mb(result['peak'])} "
              f"({result['peak'] / picture_mb:.1f}x the picture's {_mb(picture_mb)}); RSS "
              f"before the run {_mb(result['rss_before'])}, so {_mb(result['peak'] - result['rss_before'])} "
              f"more at the peak; torch {'' if result['torch'] else 'not '}imported"
              + ("" if result["peak_reset"] else " (peak not reset)"))
    elif part == "gaps":
        print(f"[{label}] gaps: {result['looks']} looks at the cancel token in "
              f"{result['seconds']:.1f} s; the longest stretches without one"
              + (f" (mostly in {result['inside']})" if result["inside"] else "") + ":")
        for gap in result["gaps"]:
            print(f"    {gap['seconds'] * 1000:7.0f} ms  from {gap['from']}  to {gap['to']}")
            if gap.get("inside"):
                total = gap["samples"]
                print("             sampled: " + ", ".join(
                    f"{where} {100 * n / total:.0f} %" for where, n in gap["inside"]))
    elif part == "cancel":
        stopped = sorted(e["latency"] for e in result["cancel"] if e["how"] == "cancelled")
        print(f"[{label}] cancel: " + ", ".join(
            f"{e['delay']:g} s: {e['latency'] * 1000:.0f} ms" + ("" if e["how"] == "cancelled"
                                                                 else " (finished)")
            for e in result["cancel"]))
        if stopped:
            print(f"[{label}] cancel: median {stopped[len(stopped) // 2] * 1000:.0f} ms, "
                  f"longest {stopped[-1] * 1000:.0f} ms from cancel() to the run's end, over "
                  f"{len(stopped)} runs cancelled")
    else:
        print(f"[{label}] profile: numpy peak {_mb(result['traced_peak'])} (sampled "
              f"{_mb(result['sampled_peak'])} at {result['sampled_at']:.1f} s); held then:")
        for line in result["top"]:
            print(f"    {line['mb']:8.1f} MB in {line['count']:3d}  {line['where']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="run,cancel,gaps,profile")
    parser.add_argument("--size", default="8660x5774", help="WIDTHxHEIGHT")
    parser.add_argument("--thickness", type=int, default=60, help="stroke width, px")
    parser.add_argument("--guidance", default="none",
                        help=f"comma-separated from {', '.join(GUIDANCE)}, or none")
    parser.add_argument("--delays", default="0.25,0.5,0.75,1,1.25,1.5,1.75,2,2.5,3,3.5",
                        help="seconds before cancelling, comma-separated")
    parser.add_argument("--top", type=int, default=15,
                        help="lines of the profile, stretches of the gaps")
    parser.add_argument("--sample-ms", type=float, default=2.0,
                        help="gaps: where the run is looked up every this many ms (0: not)")
    parser.add_argument("--sampled", type=int, default=4,
                        help="gaps: the places each stretch was found at most, shown")
    parser.add_argument("--inside", default="",
                        help="gaps: only stretches whose most sampled line is in a file "
                             "whose name holds this (region.py, levels.py, ...)")
    parser.add_argument("--strategy", default="crop", choices=("crop", "resize", "original"),
                        help="the region strategy: the crop box, or the whole picture")
    parser.add_argument("--grey", action="store_true",
                        help="a black-and-white picture (equal channels)")
    parser.add_argument("--no-previews", action="store_true",
                        help="the engine's previews option off: the final stage only")
    parser.add_argument("--baseline", type=Path, help="a tree to compare with")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.width, args.height = map(int, args.size.lower().split("x"))
    args.guidance = [g for g in args.guidance.split(",") if g and g != "none"]
    unknown = set(args.guidance) - set(GUIDANCE)
    if unknown:
        parser.error(f"unknown guidance {', '.join(sorted(unknown))}")
    args.delays = [float(d) for d in args.delays.split(",") if d]
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return 0
    trees = [("this tree", ROOT)]
    if args.baseline:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    print(f"{args.width}x{args.height}, {args.thickness} px stroke, guidance: "
          f"{', '.join(args.guidance) or 'none'}"
          f"{', no previews' if args.no_previews else ''}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    for part in args.parts.split(","):
        for label, tree in trees:
            _report(part, label, _spawn(part, tree, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
