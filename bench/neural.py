"""Neural engines benchmark: time and peak memory per engine at 512x512 and 1024x1024.

For every registered :class:`~engines.neural.common.NeuralEngine` (LaMa, MI-GAN, DeepFill...)
the network is built with random weights (``engine.create_network()``, handed over through the
``network`` option, so no download is needed) and run end to end with ``engine.run`` on an
N x N picture whose centred N/2 x N/2 square is the hole (``--holes free-form`` adds, for
DeepFill, whose work depends on where the hole is, DeepFill v2 free-form strokes covering 25 %
of it, with a bounding box of 95 % x 62 % of the picture):

* "whole NxN": ``Strategy.ORIGINAL``, the network sees the whole picture at full resolution;
* "crop, working size": the engine's defaults (crop around the hole with a 128 px margin,
  scaled down to the engine's working size), what a user's run costs; only listed where it
  differs from the first.

Engines whose networks are identical (same class, same tensor shapes) are measured once.
For DeepFill v1/v2, side by side: "ours" (each convolution computes only what reaches the
hole's bounding box, the attention only the queries that reach a hole pixel, in query blocks:
the same hole pixels), "ours-bf16" (the same with
``half=true``), "whole-frame" (every layer on the whole frame, block-wise attention) and "full"
(upstream: whole frame, the whole (HW/64)^2 attention score volume at once). A second table
runs DeepFill v2's attention layer alone (96 channels at N/4, every query computed) so the
quadratic growth shows without the rest.

Method: each case runs in a fresh subprocess (so one case's allocations cannot hide
another's): one warm-up run, then ``--repeat`` timed runs; the median is reported, with the
time to the first ("coarse") stage, and the floating-point operations of one run counted by
``torch.utils.flop_counter`` (convolutions and matrix products), a machine-independent size.
CPU memory is the process's peak RSS (``VmHWM``, reset with ``/proc/self/clear_refs`` just
before the warm-up) minus its RSS at that moment (network, inputs and libraries loaded): what
inference needs on top of the loaded model (``tracemalloc`` does not see torch's
allocations). On CUDA: CUDA events around each run (after ``torch.cuda.synchronize``) and
``torch.cuda.max_memory_allocated`` since a reset.

Run: ``python bench/neural.py [--sizes 512 1024] [--engines deepfill2,lama] [--repeat 3]
[--device cpu|cuda|all] [--variants ours whole-frame full] [--holes square free-form]
[--readme]``; ``--readme`` rewrites this
script's section of ``bench/README.md`` with the CPU tables.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

TARGETS = {  # from the issue: (engine, size, device) -> (seconds, bytes or None)
    ("deepfill2", 1024, "cpu"): (8.0, 2 * 1024 ** 3),
    ("deepfill2", 512, "cuda"): (0.015, None),
    ("lama", 512, "cuda"): (0.025, None),
}
SECTION = "## Neural engines (`bench/neural.py`)"
RESULTS = ROOT / "bench" / "out" / "neural.json"
_KEY = ("engine", "size", "variant", "device", "strategy", "hole")


# --------------------------------------------------------------------------- one case (child)


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _start_peak() -> int:
    """Reset the peak-RSS mark where Linux allows it (``clear_refs`` 5); return current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass  # the peak then also covers the set-up, which needs less than inference
    return _status_bytes("VmRSS")


def _peak_since(baseline: int) -> int:
    """Peak RSS (``VmHWM``) since :func:`_start_peak`, minus its ``baseline``."""
    return _status_bytes("VmHWM") - baseline


HOLES = ("square", "free-form")  # see _picture


def _picture(size: int, hole: str = "square") -> tuple[np.ndarray, np.ndarray]:
    """An N x N picture and its hole: the centred N/2 square, or DeepFill v2 free-form
    strokes covering 25 % of the picture (seed 2; their bounding box spans 95 % of the
    height and 62 % of the width)."""
    from engines import maskgen

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    image = np.stack([x * 255 // size, y * 255 // size, (x + y) * 127 // size], axis=-1)
    image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    if hole == "free-form":
        return image, maskgen.free_form_mask(size, size, np.random.default_rng(2), ratio=0.25)
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4:3 * size // 4, size // 4:3 * size // 4] = 255
    return image, mask


def _attention_modules(network):
    from engines.neural.contextual_attention import ContextualAttention

    return [m for m in network.modules() if isinstance(m, ContextualAttention)]


class _Timer:
    """Wall time on CPU; CUDA events (after synchronising) on a GPU."""

    def __init__(self, device) -> None:
        import torch

        self.cuda = device.type == "cuda"
        self.torch = torch

    def start(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()
            self.begin = self.torch.cuda.Event(enable_timing=True)
            self.begin.record()
        else:
            self.begin = time.perf_counter()

    def lap(self):
        """A mark to be turned into seconds by :meth:`seconds` once the run is over."""
        if self.cuda:
            event = self.torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def seconds(self, mark) -> float:
        if self.cuda:
            self.torch.cuda.synchronize()
            return self.begin.elapsed_time(mark) / 1000.0
        return mark - self.begin


def _request(size: int, strategy: str, device_name: str, hole: str = "square"):
    from engines.base import InpaintRequest, Strategy

    image, mask = _picture(size, hole)
    return InpaintRequest(image, mask, device=device_name,
                          strategy=Strategy.ORIGINAL if strategy == "native" else Strategy.CROP)


def run_engine_case(name: str, size: int, variant: str, device_name: str, strategy: str,
                    repeat: int, hole: str = "square") -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from engines import registry

    cls = registry.engine_class(name)
    network = cls().create_network()
    for module in _attention_modules(network):
        module.chunked = variant != "full"
    # DeepFill's variants: "ours-bf16": the opt-in half=true (bfloat16 autocast on CPUs
    # with native support); "whole-frame" and "full" compute every pixel of every layer
    # (local=false). The other engines take neither option (variant "-").
    variants = {} if variant == "-" else {"half": True if variant.endswith("bf16") else None,
                                          "local": variant not in ("whole-frame", "full")}
    engine = cls(network=network, device=device_name, **variants)
    device = engine.device()
    request = _request(size, strategy, device_name, hole)
    timer = _Timer(device)
    if device.type == "cuda":
        network.to(device)
        torch.cuda.reset_peak_memory_stats()
    baseline = _start_peak()
    firsts, totals = [], []
    for index in range(repeat + 1):
        timer.start()
        marks = [timer.lap() for _stage in engine.run(request)]
        if index:  # the first run is the warm-up
            firsts.append(timer.seconds(marks[0]))
            totals.append(timer.seconds(marks[-1]))
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = _peak_since(baseline)
    counter = FlopCounterMode(display=False)
    with counter:
        for _stage in engine.run(request):
            pass
    result = {"engine": name, "size": size, "variant": variant, "device": device.type,
              "strategy": strategy, "hole": hole, "gflop": counter.get_total_flops() / 1e9,
              "first_s": statistics.median(firsts), "total_s": statistics.median(totals),
              "runs": repeat, "stages": len(marks), "peak_bytes": peak}
    return result


def run_attention_case(size: int, variant: str, repeat: int) -> dict:
    import torch

    from engines.neural.contextual_attention import (
        chunked_contextual_attention,
        full_contextual_attention,
    )

    generator = torch.Generator().manual_seed(0)
    features = torch.randn(1, 96, size // 4, size // 4, generator=generator)
    _, mask = _picture(size)
    hole = torch.from_numpy(mask >= 128).float()[None, None]
    kernel = torch.eye(3)
    baseline = _start_peak()
    times = []
    with torch.inference_mode():
        for index in range(repeat + 1):
            start = time.perf_counter()
            if variant == "full":
                full_contextual_attention(features, features, hole, kernel, False, False)
            else:
                chunked_contextual_attention(features, features, hole, kernel, False, False)
            if index:
                times.append(time.perf_counter() - start)
    return {"engine": "attention", "size": size, "variant": variant, "device": "cpu",
            "first_s": None, "total_s": statistics.median(times), "runs": repeat,
            "peak_bytes": _peak_since(baseline)}


# --------------------------------------------------------------------------- driver


def _crop_differs(name: str, size: int) -> bool:
    """Whether the engine's default strategy (crop around the hole, working size) gives the
    network something else than the whole N x N picture."""
    from engines import registry
    from engines.region import plan_boxes

    plan = plan_boxes(_request(size, "default", "cpu"), registry.create(name))
    return not (len(plan) == 1 and plan[0][1] == 1.0
                and (plan[0][0].height, plan[0][0].width) == (size, size))


def _neural_engines(selected: list[str] | None) -> list[tuple[str, str | None, bool]]:
    """``(name, why not measured or None, has attention)`` for every registered neural
    engine; an engine is not measured when its network equals one measured before, or when
    it cannot build one with random weights."""
    from engines import registry
    from engines.neural.common import NeuralEngine

    seen: dict[tuple, str] = {}
    found = []
    for cls in registry.engine_classes():
        if not issubclass(cls, NeuralEngine) or (selected and cls.name not in selected):
            continue
        try:
            network = cls().create_network()
        except NotImplementedError:
            found.append((cls.name, "no create_network() to build it with random weights",
                          False))
            continue
        signature = (type(network).__qualname__,
                     tuple((k, tuple(v.shape)) for k, v in network.state_dict().items()))
        same = seen.get(signature)
        found.append((cls.name, same and f"same network as {same}",
                      bool(_attention_modules(network))))
        seen.setdefault(signature, cls.name)
    return found


def _child(case: list[str], timeout: float, repeat: int) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--repeat", str(repeat),
               "--case", *case]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:160]}
    return json.loads(lines[-1])


def _row_key(row: dict) -> tuple:
    return tuple(row.get(field, "square" if field == "hole" else None) for field in _KEY)


def load_results() -> list[dict]:
    """Every stored measurement (``bench/out/neural.json``), oldest first."""
    try:
        return json.loads(RESULTS.read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return []


def store_result(row: dict) -> None:
    """Add one measurement, replacing the stored one of the same case."""
    row = {**row, "date": datetime.date.today().isoformat()}
    rows = [old for old in load_results() if _row_key(old) != _row_key(row)] + [row]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    temporary = RESULTS.with_suffix(".tmp")
    temporary.write_text(json.dumps({"rows": rows}, indent=1))
    temporary.replace(RESULTS)


def _ordered(rows: list[dict]) -> list[dict]:
    """Rows in table order: engine (registry order), size, hole, strategy, variant."""
    from engines import registry

    engines = [cls.name for cls in registry.engine_classes()]
    variants = ["ours", "ours-bf16", "whole-frame", "full", "-"]
    holes, strategies = list(HOLES), ["native", "default"]

    def rank(row: dict) -> tuple:
        def index(values, value):
            return values.index(value) if value in values else len(values)
        return (index(engines, row["engine"]), row["size"], index(holes, row.get("hole")),
                index(strategies, row.get("strategy")), index(variants, row["variant"]))
    return sorted(rows, key=rank)


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2 ** 20:,.0f} MiB"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _target(row: dict) -> str:
    target = TARGETS.get((row["engine"], row["size"], row["device"]))
    if target is None or "error" in row or row["variant"] in ("full", "whole-frame") \
            or row["strategy"] != "native":
        return ""
    seconds, memory = target
    ok = row["total_s"] <= seconds and (memory is None or row["peak_bytes"] <= memory)
    limit = f"<= {_seconds(seconds)}" + (f", <= {_mib(memory)}" if memory else "")
    return f"{limit}: {'met' if ok else 'missed'}"


def targets_summary(rows: list[dict], device_type: str = "cpu") -> str:
    """One sentence per target of the issue on ``device_type``, from the measured rows (hole,
    variant, time)."""
    sentences = []
    for (engine, size, device), (seconds, memory) in TARGETS.items():
        if device != device_type:
            continue
        limit = f"<= {_seconds(seconds)}" + (f" and <= {_mib(memory)}" if memory else "")
        found = [row for row in rows if (row["engine"], row["size"], row["device"])
                 == (engine, size, device) and row.get("strategy") == "native"
                 and row["variant"] in ("ours", "ours-bf16", "-") and "error" not in row]
        if not found:
            sentences.append(f"{engine} {size}x{size} on {device} {limit}: not measured.")
            continue
        results = "; ".join(
            f"{row.get('hole', 'square')} hole, {row['variant']}: {_seconds(row['total_s'])}, "
            f"{_mib(row['peak_bytes'])}, {_target(row).rsplit(': ', 1)[-1]}" for row in found)
        sentences.append(f"{engine} {size}x{size} on {device} {limit}: {results}.")
    return "**Targets.** " + " ".join(sentences)


def engine_table(rows: list[dict]) -> str:
    lines = ["| engine | image | hole | network sees | variant | device | GFLOP | first stage | "
             "final | peak memory | target |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        sees = "whole NxN" if row["strategy"] == "native" else "crop, working size"
        head = (f"| {row['engine']} | {row['size']} | {row.get('hole', 'square')} | {sees} | "
                f"{row['variant']} | {row['device']} |")
        if "error" in row:
            lines.append(f"{head} | failed: {row['error']} | | | |")
            continue
        lines.append(f"{head} {row['gflop']:,.0f} | {_seconds(row['first_s'])} | "
                     f"{_seconds(row['total_s'])} | {_mib(row['peak_bytes'])} | "
                     f"{_target(row)} |")
    return "\n".join(lines)


def attention_table(rows: list[dict]) -> str:
    lines = ["| input size | attention grid | layer | time | peak memory |",
             "|---|---|---|---|---|"]
    for row in rows:
        grid = row["size"] // 8
        if "error" in row:
            lines.append(f"| {row['size']} | {grid}x{grid} | {row['variant']} | "
                         f"failed: {row['error']} | |")
            continue
        lines.append(f"| {row['size']} | {grid}x{grid} | {row['variant']} | "
                     f"{_seconds(row['total_s'])} | {_mib(row['peak_bytes'])} |")
    return "\n".join(lines)


def machine() -> str:
    import torch

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return (f"{model}, {os.cpu_count()} logical CPUs, {memory:.0f} GiB RAM, torch "
            f"{torch.__version__}, {torch.get_num_threads()} threads")


def write_readme(text: str) -> None:
    readme = ROOT / "bench" / "README.md"
    content = readme.read_text()
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=\n## |\Z)", re.S)
    if not pattern.search(content):
        raise SystemExit(f"{readme} has no section {SECTION!r}")
    readme.write_text(pattern.sub(lambda _m: text.rstrip("\n") + "\n", content))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--engines", type=lambda s: s.split(","), default=None,
                        help="comma-separated engine names (default: every neural engine)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--variants", nargs="+",
                        default=["ours", "ours-bf16", "whole-frame", "full"],
                        help="DeepFill variants: ours (hole-local layers, block-wise "
                             "attention), ours-bf16 (the same with half=true), whole-frame "
                             "(every layer on the whole frame, block-wise attention) and/or "
                             "full (upstream: whole frame and upstream's attention)")
    parser.add_argument("--holes", nargs="+", choices=HOLES, default=["square"],
                        help="hole shapes; free-form is measured only for the engines whose "
                             "work depends on where the hole is (DeepFill: hole-local layers)")
    parser.add_argument("--full-max", type=int, default=768,
                        help="largest N for upstream's full attention (its memory grows with "
                        "N^4: about 20 GiB at N = 1024 on CPU)")
    parser.add_argument("--attention-sizes", type=int, nargs="*", default=[256, 512, 768, 1024])
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per case")
    parser.add_argument("--readme", action="store_true",
                        help="write the CPU tables into bench/README.md, from every case "
                             "stored in bench/out/neural.json (each run replaces the cases it "
                             "measures)")
    parser.add_argument("--readme-only", action="store_true",
                        help="measure nothing; rewrite the README section from the stored cases")
    parser.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.case:
        kind, *rest = args.case
        if kind == "attention":
            result = run_attention_case(int(rest[0]), rest[1], args.repeat)
        else:
            result = run_engine_case(kind, int(rest[0]), rest[1], rest[2], rest[3],
                                     args.repeat, rest[4])
        print(json.dumps(result))
        return 0

    if args.readme_only:
        skipped = [f"{name} ({reason})" for name, reason, _ in _neural_engines(None) if reason]
        write_stored_readme(datetime.date.today().isoformat(), skipped, args.repeat,
                            args.full_max)
        return 0

    import torch

    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" \
        else ["cpu", "cuda"]
    cuda = torch.cuda.is_available()
    rows, attention_rows, skipped = [], [], []
    for name, reason, has_attention in _neural_engines(args.engines):
        if reason:
            skipped.append(f"{name} ({reason})")
            continue
        variants = args.variants if has_attention else ["-"]
        for device in devices:
            if device == "cuda" and not cuda:
                continue
            for size in args.sizes:
                strategies = ["native", "default"] if _crop_differs(name, size) else ["native"]
                holes = args.holes if has_attention else ["square"]
                for hole, strategy, variant in itertools.product(holes, strategies, variants):
                    if variant == "full" and size > args.full_max and strategy == "native":
                        continue
                    row = _child([name, str(size), variant, device, strategy, hole],
                                 args.timeout, args.repeat)
                    for key, value in (("engine", name), ("size", size), ("variant", variant),
                                       ("device", device), ("strategy", strategy),
                                       ("hole", hole)):
                        row.setdefault(key, value)
                    rows.append(row)
                    store_result(row)
                    print(engine_table([row]).splitlines()[-1], flush=True)
    if "cpu" in devices:
        for size in args.attention_sizes:
            for variant in [v for v in args.variants if v in ("ours", "full")]:
                if variant == "full" and size > args.full_max:
                    continue
                row = _child(["attention", str(size), variant], args.timeout, args.repeat)
                row.update({k: v for k, v in (("size", size), ("variant", variant))
                            if k not in row})
                row.setdefault("engine", "attention")
                attention_rows.append(row)
                store_result(row)
                print(attention_table([row]).splitlines()[-1], flush=True)

    when = datetime.date.today().isoformat()
    print(f"\n{machine()}, {when}\n")
    print(engine_table(rows))
    if attention_rows:
        print("\n" + attention_table(attention_rows))
    if skipped:
        print("\nnot measured separately: " + ", ".join(skipped))
    if not cuda:
        print("\nGPU: not measured (no CUDA device)")
    if args.readme:
        write_stored_readme(when, skipped, args.repeat, args.full_max)
    return 0


def write_stored_readme(when: str, skipped: list[str], repeat: int, full_max: int) -> None:
    """The README section from every stored case: this run's and earlier runs' of others;
    the CPU's tables, then the GPU's."""
    every = load_results()
    stored = [row for row in every if row.get("device", "cpu") == "cpu"]
    on_gpu = _ordered([row for row in every if row.get("device") == "cuda"])
    engine_rows = _ordered([row for row in stored if row["engine"] != "attention"])
    layer_rows = sorted((row for row in stored if row["engine"] == "attention"),
                        key=lambda row: (row["size"], row["variant"] != "ours"))
    dates = ", ".join(sorted({row.get("date", when) for row in stored}))
    write_readme(readme_section(engine_rows, layer_rows, skipped, dates, repeat, full_max,
                                on_gpu))


def readme_section(rows, attention_rows, skipped, when, repeat, full_max,
                   gpu_rows=()) -> str:
    lines = [
        SECTION, "",
        "Run: `python bench/neural.py --device cpu --readme` (and `--device cuda` on a GPU "
        "machine); the script's docstring gives the method. In short: random weights (no "
        "download), each case in a fresh process, one warm-up then the median of "
        f"{repeat} runs, an NxN picture with a centred (N/2)x(N/2) hole (\"square\"; "
        "\"free-form\": DeepFill v2 strokes over 25 % of the picture, their bounding box "
        "95 % x 62 % of it). \"whole NxN\": the network sees the whole picture; \"crop, "
        "working size\": the engine's defaults, what a user's run costs. Peak memory: peak "
        "RSS minus the RSS before the first run (model loaded). GFLOP: convolutions and "
        "matrix products of one run. DeepFill variants: \"ours\", what the engines run: "
        "each convolution computes only what reaches the hole's bounding box, the contextual "
        "attention only the queries that reach a hole pixel, in query blocks (the same hole "
        "pixels as the whole computation; "
        "the tests check it in float64); \"ours-bf16\": the same with the opt-in "
        "`--option half=true`; \"whole-frame\": every layer on the whole picture "
        "(`--option local=false`), block-wise attention; \"full\": upstream's computation, "
        "whole picture and the whole attention score volume at once. \"full\" runs only "
        f"up to N = {full_max}: its memory grows with N^4 (PyTorch's CPU convolution "
        "unfolds the fuse step's score volume 9 times); a single try at N = 1024 on "
        "2026-11-21 took 124 s and a 20 GiB peak for DeepFill v2 (17.5 GiB reached by "
        "DeepFill v1 before it was stopped).", "",
        f"Machine: {machine()}; {when}. Timings on a shared virtual machine vary between runs "
        "(up to about 2x when other jobs run); GFLOP and memory do not vary.", "",
        engine_table(rows), "",
        targets_summary(rows) + " The hole-local computation saves most where the hole's "
        "bounding box is small against the picture (the square: 725 instead of 1,992 GFLOP for "
        "DeepFill v2 at 1024); for strokes whose box spans most of the picture the "
        "convolutions save less, and the attention computes only the queries that reach a "
        "hole pixel (free-form: 1,055 GFLOP, with a thin margin on the time target). The GPU "
        "targets: below.", "",
        "Contextual attention alone (DeepFill v2's layer, 96 channels at N/4, every query "
        "computed):", "",
        attention_table(attention_rows),
        *gpu_lines(list(gpu_rows)),
    ]
    if skipped:
        lines += ["", f"Not measured separately: {', '.join(skipped)}."]
    wrapped = [line if line.startswith(("|", "#")) else textwrap.fill(line, 100)
               for line in lines]
    return "\n".join(wrapped) + "\n"


def gpu_lines(rows: list[dict]) -> list[str]:
    """The GPU part of the README section, from the stored CUDA cases (``rows``)."""
    lines = [
        "", "**On a GPU** (`--device cuda`). On CUDA the DeepFill engines run their "
        "convolutions under float16 autocast and the attention in float32, MI-GAN in "
        "float16; targets: DeepFill v2 512x512 <= 15 ms, LaMa 512x512 <= 25 ms on an H100.",
    ]
    if not rows:
        lines += ["", "Not measured (no GPU in the sessions that ran this)."]
    else:
        dates = ", ".join(sorted({row.get("date", "") for row in rows}))
        lines += ["", f"Measured on an H100 (a lent machine, torch with CUDA 13), {dates}; "
                  "peak memory is `torch.cuda.max_memory_allocated`.", "",
                  engine_table(rows), "", targets_summary(rows, "cuda")]
    return lines


if __name__ == "__main__":
    sys.exit(main())
