"""UI responsiveness benchmark: brush segments, repaints and event-loop stalls.

Prints, side by side with the naive alternative in the same run:

* brush segment: time to paint one segment into a 4000x3000 document and bring the display
  buffers up to date (ours: tile backup + dirty-box overlay update; naive: copy the whole
  layer for undo at the stroke start and recomposite the whole overlay each segment);
* repaint: one full canvas repaint of a 1600x1000 view (ours: from the mip level matching
  the zoom; naive: always from the full-resolution buffer);
* stall: the longest gap between 1 ms timer ticks of the GUI event loop while an engine
  fills a hole in the 4000x3000 image, stages being shown as they arrive (ours: the worker
  thread, after the start-up warm-up the editor runs; naive: the same engine run on the GUI
  thread). Also shown: the stall during that warm-up, and a PatchMatch fill started before it.
* colour: building the display buffers of a newly opened 4000x3000 picture that embeds a
  wide-gamut colour profile, converted to sRGB for the screen (ours: LittleCMS over row
  bands on every core; alternative: one LittleCMS call), beside the same picture without a
  profile (no conversion).
* masks: reading a mask file's pixels into a mask (ours: elementwise maximum and OpenCV's
  threshold; alternative: numpy's max over the channel axis), and the longest event-loop
  stall of Import Mask, Grow and Feather on the picture through the window (ours: file and
  operation on a worker thread, :func:`app.busy.wait_for`; naive: all on the GUI thread).
* save: saving that picture, opened from a 16-bit file with a tenth of it changed, as a 16-bit
  PNG and TIFF (ours: OpenCV's PNG defaults, and Deflate level 1 with the TIFF strips
  compressed on every core; alternatives: PNG level 3, as our 8-bit PNGs use, and tifffile's
  default level 6 on one core), beside the 8-bit files; the 8-bit picture as HEIC (ours: x265's
  "fast" preset; alternative: its default), AVIF (ours: libavif speed 8; alternative: Pillow's
  speed 6) and JPEG at quality 95; and the longest
  event-loop stall while the editor saves it (ours: encoding on a worker thread,
  :func:`app.busy.wait_for`; naive: on the GUI thread).
* large: a 6000x4000 (24-megapixel) photo through the window: the longest event-loop stall
  and the time taken while it opens, while OpenCV Telea fills eight small holes spread over
  it (a hole box of 5000x1300 pixels) and ten strokes across it (stages shown as they
  arrive, the result applied; the GUI-thread time converting and swapping in the stages
  shown), undoing the strokes' fill right after it and redoing it, twice (and the MB of
  undo tiles then held uncompressed, once all are compressed), at the first press of
  the "show original" key after those fills and its release,
  while a computed label map ("regions") arrives, and after one click of the label bucket.
  ``--baseline DIR`` measures this part in alternating fresh processes with the ``app/``
  of another tree (a copy from before a change) and with this one, ``--rounds`` times each,
  and prints both columns (medians over the rounds, and their ranges).

* fillstart: the GUI thread's time to start a fill (the Fill action, ``FillController.run``,
  until it returns) on a 7000x7000 (49-megapixel) picture with a small brushed hole, alone,
  with a sketch line and an edited label map, or with a sampling layer (OpenCV Telea, which
  ignores them, so the note on ignored guidance is worked out too; and Guided PatchMatch
  with the sampling layer): the first start, which finds no memory to reuse, then the
  median of ``--rounds-fill`` more; the part spent taking the document's snapshot; the MB of
  layer copies the document still holds once the fills are over; and the GUI time of a
  write to the mask and to the picture right after the Fill action (it waits for that
  layer's copy). ``--root DIR`` measures the ``app/`` and ``engines/`` of DIR.

* bigfill (not in the default parts: a minute or two): a 5472x3648 (20-megapixel) photo
  with a hole over 90 % of it (a rectangle leaving a border), filled with the default
  engine (Guided PatchMatch) through the window, as the user would (the start-up warm-up
  first, then ``MainWindow.fill``, the result applied by itself): the longest gap between
  ticks of a 10 ms timer while the real event loop runs (``QEventLoop.exec``, not a loop of
  ``processEvents`` calls, whose thousands of GIL hand-overs a second stretch every long
  call a worker makes holding the GIL), from the Fill action until 2 s after the result
  is applied, and within that from the final stage shown on (its arrival, the apply, the
  display update: the GUI thread's share of the end of a fill); each gap over 100 ms with
  when it began after the Fill action and the fill's step it fell in (a stage shown, the
  result applied); and how long the fill took.
  ``--root DIR`` measures the ``app/`` and ``engines/`` of DIR (a copy of the tree from
  before a change).
* bigundo (not in the default parts: two minutes): the same picture and hole, filled with a
  stand-in engine whose result is the picture shifted (as noisy, as hard to compress, in a
  second; ``--undo-engine NAME`` fills with a real one), the result applied by itself; then
  Undo and Redo of that fill triggered through the window's actions in the real event loop,
  ``--rounds-undo`` times each (median and max): going back and forth right after it (its
  tiles at hand), after a later stroke was undone 1 s before (and the step before the fill
  undone and redone), and the same with the fill's move right after the one before, in the
  same turn of the loop; each: the GUI time until the action returned, until the canvas's
  last paint once every change was rendered, and the longest gap of a 10 ms timer between;
  and the MB of undo tiles held uncompressed after the later stroke's undo.
  ``--root DIR`` as for bigfill.
* bigcalls (not in the default parts: a minute): GUI-thread calls on that picture and hole,
  ``--rounds-calls`` times each (median, min, max): the window's work after a mask stroke
  while Guided PatchMatch fills the hole (``MainWindow._on_edit_finished``, as the canvas
  calls it: the fill checked, the hole looked for); then without the window: the check of a
  fill's hole after a mask stroke while it runs (``FillController._outdated``, the check
  not passed yet at that version), and ``Document.apply_result`` of a fill with its
  prepared result (as the worker makes it), alone, with sketch lines drawn (a horizon
  across the hole and a short stroke in it), over a floating-point original (the
  edited-pixel map), and both.
  ``--root DIR`` as for bigfill.

Targets: brush segment <= 4 ms, repaint <= 8 ms, stall <= 50 ms (<= 200 ms on 24 MP),
starting a fill <= 150 ms on 49 MP, no stall over 100 ms during the 20 MP fill.
Run: ``QT_QPA_PLATFORM=offscreen python bench/ui.py [--engines telea,patchmatch]
[--parts brush,repaint,stall,colour,masks,save,large,fillstart,bigfill,bigundo,bigcalls]
[--baseline DIR [--rounds N]] [--rounds-fill N]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the tree whose app/ is measured: this one, or the one --root names (see --baseline)
sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
                       if "--root" in sys.argv[:-1] else Path(__file__).resolve().parent.parent))

import itertools

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.canvas import Canvas
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Document, Layer
from app.platform_check import drop_opencv_qt_paths
from app.window import MainWindow
from engines import registry
from engines.region import Box

WIDTH, HEIGHT = 4000, 3000
HERE = Path(__file__).resolve().parent.parent  # this tree


def make_photo() -> np.ndarray:
    """A 4000x3000 test picture: gradients plus texture (content does not matter here)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    rng = np.random.default_rng(0)
    photo = np.stack([(x // 16) % 256, (y // 12) % 256, ((x + y) // 20) % 256], axis=-1)
    return (photo + rng.integers(0, 20, photo.shape)).clip(0, 255).astype(np.uint8)


def stroke_points(count: int) -> list[tuple[float, float]]:
    t = np.linspace(0, 1, count)
    return list(zip(600 + 2800 * t, 1500 + 900 * np.sin(t * 6.0)))


class StallMeter:
    """A 1 ms timer on the GUI thread; the longest gap between its ticks is the longest time
    the event loop could not run. Starts on construction."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.longest = 0.0
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def stop(self) -> tuple[float, float]:
        """(longest stall, seconds measured)."""
        self.timer.stop()
        self._tick()
        return self.longest, self.elapsed()


def bench_brush(canvas: Canvas, document: Document, radius: float = 30.0) -> dict[str, float]:
    points = stroke_points(400)
    # ours: the canvas listens to the document; each segment updates the dirty box only
    document.begin_step("bench")
    times = []
    for p0, p1 in itertools.pairwise(points):
        start = time.perf_counter()
        document.paint_segment(Layer.MASK, p0, p1, radius, 255)
        canvas.sync_view()  # what the next paint would do first
        times.append(time.perf_counter() - start)
    document.end_step()
    document.undo()
    ours = statistics.median(times) * 1000
    ours_max = float(np.percentile(times, 95)) * 1000
    # naive: full-layer undo copy at stroke start, whole overlay recomposited per segment
    from app.maskops import draw_segment

    view = canvas.view
    whole = Box(0, 0, HEIGHT, WIDTH)
    mask = document.layer(Layer.MASK)
    start = time.perf_counter()
    backup = mask.copy()
    copy_ms = (time.perf_counter() - start) * 1000
    naive = []
    for p0, p1 in list(itertools.pairwise(points))[:20]:
        start = time.perf_counter()
        draw_segment(mask, p0, p1, radius, 255)
        view.update(Layer.MASK, whole)
        naive.append(time.perf_counter() - start)
    mask[...] = backup
    view.update(Layer.MASK, whole)
    return {"ours_median": ours, "ours_p95": ours_max,
            "naive_median": statistics.median(naive) * 1000, "naive_stroke_start": copy_ms}


def bench_repaint(canvas: Canvas, app: QApplication) -> dict[str, float]:
    results = {}
    for label, zoom_action in (("fit", canvas.fit), ("100%", canvas.actual_size)):
        zoom_action()
        app.processEvents()
        for mode in ("ours", "naive"):
            view = canvas.view
            original = view.level_for
            if mode == "naive":
                view.level_for = lambda zoom: 0
            times = []
            for _ in range(30):
                start = time.perf_counter()
                canvas.repaint()
                times.append(time.perf_counter() - start)
            view.level_for = original
            results[f"{mode}_{label}"] = statistics.median(times) * 1000
    canvas.fit()
    return results


def bench_stall(app: QApplication, photo: np.ndarray, engine: str) -> dict[str, float]:
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    document = Document(photo)
    window.set_document(document)
    window.engine_panel.select_engine(engine)
    window.controller.settings.engine = engine
    window.controller.settings.auto_apply = True
    with document.step("hole"):
        document.paint_segment(Layer.MASK, (1800, 1200), (2300, 1500), 60, 255)
    app.processEvents()
    request = document.build_request()  # the same work, for the naive run below

    done = []
    window.controller.applied.connect(lambda: done.append(True))
    window.controller.error.connect(lambda message: done.append(message))
    meter = StallMeter()
    window.controller.run()
    while not done and meter.elapsed() < 300:
        app.processEvents()
    stall, total = meter.stop()
    window.confirm = lambda title, text: True  # discard the benchmark's edits on close
    window.close()
    if done and done[0] is not True:
        raise RuntimeError(f"{engine} failed: {done[0]}")

    # naive: the same engine on the GUI thread blocks the loop for the whole run
    naive_start = time.perf_counter()
    for _stage in registry.create(engine).run(request):
        pass
    naive = time.perf_counter() - naive_start
    return {"ours_stall": stall * 1000, "run_seconds": total, "naive_stall": naive * 1000}


def bench_warm_up(app: QApplication) -> dict[str, float]:
    """Stalls while the start-up warm-up (numba kernels, garbage collector) runs in its
    thread, as :func:`app.launch.launch` starts it."""
    from app.launch import warm_up_in_background

    meter = StallMeter()
    thread = warm_up_in_background()
    while thread.is_alive():
        app.processEvents()
    stall, seconds = meter.stop()
    return {"stall": stall * 1000, "seconds": seconds}


def bench_colour(photo: np.ndarray, runs: int = 5) -> dict[str, float]:
    """Median ms to build a :class:`ViewCache` (what opening a picture costs the display)."""
    from app import display_colour
    from app.viewcache import ViewCache
    from engines.fileio import ImageMetadata
    from tests.photos import wide_gamut_profile

    wide = ImageMetadata(icc_profile=wide_gamut_profile())

    def median_ms(metadata: ImageMetadata) -> float:
        times = []
        for _ in range(runs):
            document = Document(photo, metadata=metadata)
            start = time.perf_counter()
            ViewCache(document)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    figures = {"none": median_ms(ImageMetadata()), "banded": median_ms(wide)}
    bands = display_colour._BAND_PIXELS
    display_colour._BAND_PIXELS = photo.shape[0] * photo.shape[1]  # one call for everything
    try:
        figures["single"] = median_ms(wide)
    finally:
        display_colour._BAND_PIXELS = bands
    return figures


def bench_save(app: QApplication, photo: np.ndarray, folder: Path,
               runs: int = 3) -> dict[str, float]:
    """Seconds to encode the 4000x3000 picture (medians of ``runs``), file sizes in MB, and
    the event-loop stall while the window saves it."""
    import io

    import cv2
    import tifffile
    from PIL import Image

    from app.busy import wait_for
    from engines.deep_samples import restore_depth
    from engines.fileio import encode_image, save_image

    rng = np.random.default_rng(1)
    deep = photo.astype(np.uint16) * 257 + rng.integers(0, 257, photo.shape, dtype=np.uint16)
    edited = ((deep.astype(np.uint32) + 128) // 257).astype(np.uint8)
    edited[: HEIGHT // 10] = 128  # the changed tenth

    def tiff_default() -> bytes:
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, restore_depth(edited, None, deep), photometric="rgb",
                         compression="zlib", predictor=True, metadata=None)
        return buffer.getvalue()

    def heic_default() -> bytes:  # pillow-heif's own settings: x265's default preset
        buffer = io.BytesIO()
        Image.fromarray(edited).save(buffer, "HEIF", quality=95)
        return buffer.getvalue()

    def avif_default() -> bytes:  # Pillow's own settings: libavif speed 6
        buffer = io.BytesIO()
        Image.fromarray(edited).save(buffer, "AVIF", quality=95)
        return buffer.getvalue()

    candidates = {
        "png16": lambda: encode_image(edited, ".png", deep_original=deep),
        "tif16": lambda: encode_image(edited, ".tif", deep_original=deep),
        "png16_default": lambda: cv2.imencode(
            ".png", cv2.cvtColor(restore_depth(edited, None, deep), cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_PNG_COMPRESSION, 3])[1].tobytes(),
        "tif16_default": tiff_default,
        "png8": lambda: encode_image(edited, ".png"),
        "tif8": lambda: encode_image(edited, ".tif"),
        "heic": lambda: encode_image(edited, ".heic"),
        "heic_default": heic_default,
        "avif": lambda: encode_image(edited, ".avif"),
        "avif_default": avif_default,
        "jpg": lambda: encode_image(edited, ".jpg"),
    }
    figures: dict[str, float] = {}
    for name, encode in candidates.items():
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            data = encode()
            times.append(time.perf_counter() - start)
        figures[name] = statistics.median(times)
        figures[name + "_mb"] = len(data) / 1e6

    window = MainWindow()
    window.show()
    meter = StallMeter()
    wait_for(window, "Saving...", lambda: save_image(folder / "threaded.tif", edited,
                                                      deep_original=deep))
    figures["stall_ours"] = meter.stop()[0] * 1000
    meter = StallMeter()
    save_image(folder / "blocking.tif", edited, deep_original=deep)
    app.processEvents()
    figures["stall_naive"] = meter.stop()[0] * 1000
    window.close()
    return figures


def _naive_mask_from_pixels(pixels: np.ndarray) -> np.ndarray:
    """The mask reading before 2026-11-21: numpy's max over the channel axis, np.where."""
    value = pixels[..., :3].max(axis=2)
    return np.where(value >= 128, 255, 0).astype(np.uint8)


def bench_masks(app: QApplication, photo: np.ndarray, folder: Path,
                runs: int = 3) -> dict[str, float]:
    """Mask commands on the 4000x3000 picture: the longest event-loop stall of each through
    the window (ours: file reading and the operation on a worker thread, then the undo step
    and the display update on the GUI thread), beside the same work all on the GUI thread;
    and reading a mask file's pixels into a mask (ours against the reading it replaced).
    Medians of ``runs``, in ms."""
    from app import maskops
    from engines.fileio import load_image, load_mask, mask_from_pixels, save_mask

    blob = np.zeros((HEIGHT, WIDTH), np.uint8)
    blob[1000:2000, 1200:2600] = 255
    save_mask(folder / "mask.png", blob)
    pixels = load_image(folder / "mask.png").rgb
    figures: dict[str, float] = {}
    for name, function in (("read_ours", mask_from_pixels),
                           ("read_naive", _naive_mask_from_pixels)):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            function(pixels)
            times.append(time.perf_counter() - start)
        figures[name] = statistics.median(times) * 1000

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.engine_panel.auto_run.setChecked(False)
    document = Document(photo)
    window.set_document(document)
    app.processEvents()
    commands = {  # name: (through the window, the same work on the GUI thread)
        "import": (lambda: window.import_mask(folder / "mask.png"),
                   lambda: document.replace_layer(
                       Layer.MASK, load_mask(folder / "mask.png", blob.shape), "Import mask")),
        "grow": (lambda: window.grow_mask(40),
                 lambda: document.replace_layer(
                     Layer.MASK, maskops.grow(document.mask, 40), "Grow mask")),
        "feather": (lambda: window.feather_mask(40),
                    lambda: document.replace_layer(
                        Layer.MASK, maskops.feather(document.mask, 40), "Feather mask")),
    }
    for name, (ours, naive) in commands.items():
        before = np.zeros_like(blob) if name == "import" else blob  # each command changes it
        for kind, command in (("ours", ours), ("naive", naive)):
            stalls = []
            for _ in range(runs):
                document.replace_layer(Layer.MASK, before, "reset")
                app.processEvents()
                meter = StallMeter()
                command()
                app.processEvents()
                stalls.append(meter.stop()[0])
            figures[f"{name}_{kind}"] = statistics.median(stalls) * 1000
    window.confirm = lambda title, text: True  # discard the benchmark's edits on close
    window.close()
    return figures


LARGE = (4000, 6000)  # height, width: 24 megapixels


def _large_photo(folder: Path) -> Path:
    """The bundled astronaut photo scaled to 6000x4000 with noise, as a JPEG in ``folder``."""
    import cv2

    from engines.fileio import load_image

    small = load_image(Path(__file__).resolve().parent.parent / "resources" / "samples"
                       / "astronaut.jpg").rgb
    photo = cv2.resize(small, LARGE[::-1], interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).normal(0, 4, photo.shape)
    photo = np.clip(photo + noise, 0, 255).astype(np.uint8)
    path = folder / "large.jpg"
    cv2.imwrite(str(path), photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def _measure(app: QApplication, action, done, settle_s: float = 0.4,
             limit_s: float = 300) -> tuple[float, float]:
    """(longest event-loop stall in ms, seconds until ``done()``) while ``action()`` runs
    and the events it leaves behind (paints, timers) are handled for ``settle_s`` more."""
    meter = StallMeter()
    action()
    while not done() and meter.elapsed() < limit_s:
        app.processEvents()
        time.sleep(0.001)
    seconds = meter.elapsed()
    end = time.perf_counter() + settle_s
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    return meter.stop()[0] * 1000, seconds


def bench_large(app: QApplication, folder: Path) -> dict[str, tuple[float, ...]]:
    """(longest stall ms, seconds) per step on a 24-megapixel photo (see the module doc);
    for the fills also (stages emitted, stages drawn, ms spent drawing them)."""
    import threading

    import cv2
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from app.viewcache import ViewCache

    drawn: list[float] = []  # GUI-thread seconds of each stage shown (converting, swapping in)
    converting: list[float] = []  # GUI-thread seconds converting the stage being shown
    prepare, show = ViewCache.prepare_preview, ViewCache.show_prepared

    def on_gui_thread() -> bool:
        return threading.current_thread() is threading.main_thread()

    def timed_prepare(view, *args):
        start = time.perf_counter()
        prepared = prepare(view, *args)
        if on_gui_thread():
            converting.append(time.perf_counter() - start)
        return prepared

    def timed_show(view, prepared, *args, **kwargs):
        start = time.perf_counter()
        shown = show(view, prepared, *args, **kwargs)
        if prepared is not None:
            drawn.append(time.perf_counter() - start + sum(converting))
        converting.clear()
        return shown

    path = _large_photo(folder)
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.engine_panel.auto_run.setChecked(False)
    app.processEvents()
    figures = {}
    figures["open"] = _measure(app, lambda: window.open_path(path), lambda: True)
    document = window.document
    window.engine_panel.select_engine("telea")
    window.controller.settings.auto_apply = True
    applied, emitted = [], []
    window.controller.applied.connect(lambda: applied.append(True))
    window.controller.previewChanged.connect(
        lambda image, box, label: image is not None and emitted.append(label))
    holes = np.zeros(LARGE, np.uint8)
    for k in range(8):  # 60 px blobs spread over the picture, as an audit found them
        cv2.circle(holes, (400 + 700 * k, 500 + 400 * (k % 4)), 30, 255, -1)
    strokes = np.zeros(LARGE, np.uint8)
    for k in range(10):  # 64 px wide, 2900 px long: a hole box of most of the picture
        cv2.line(strokes, (300 + 560 * k, 600), (300 + 560 * k, 3500), 255, 64)
    ViewCache.prepare_preview, ViewCache.show_prepared = timed_prepare, timed_show
    try:
        for name, mask in (("holes", holes), ("strokes", strokes)):
            document.replace_layer(Layer.MASK, mask, "Import mask")
            app.processEvents()
            count = len(applied)
            emitted.clear()
            drawn.clear()
            figures[name] = (*_measure(app, window.controller.run,
                                       lambda count=count: len(applied) > count),
                             len(emitted), len(drawn), sum(drawn) * 1000)
    finally:
        ViewCache.prepare_preview, ViewCache.show_prepared = prepare, show
    # undo right after the strokes' fill (its undo tiles most likely still being
    # compressed), then redo: the picture is as filled again for what follows
    figures["undo"] = _measure(app, window.undo, lambda: True)
    figures["redo"] = _measure(app, window.redo, lambda: True)
    figures["undo_again"] = _measure(app, window.undo, lambda: True)  # going back and forth
    figures["redo_again"] = _measure(app, window.redo, lambda: True)
    document.settle()
    figures["held"] = (_raw_megabytes(document),)
    # the first press of the "show original" key after the fills, and its release
    figures["original"] = _measure(app, lambda: window.canvas.set_show_original(True),
                                   lambda: True)
    figures["back"] = _measure(app, lambda: window.canvas.set_show_original(False),
                               lambda: True)

    replaced = []
    window.semantic.labelsReplaced.connect(lambda: replaced.append(True))
    figures["labels"] = _measure(app, lambda: window.legend.computeRequested.emit("regions"),
                                 lambda: bool(replaced))
    labels = document.layer(Layer.LABELS)
    ids, counts = np.unique(labels, return_counts=True)
    second = int(ids[np.argsort(counts)[-2]])  # the second largest region...
    ys, xs = np.nonzero(labels[::8, ::8] == second)
    y, x = int(ys[len(ys) // 2]) * 8, int(xs[len(xs) // 2]) * 8
    window.choose_label(int(ids[np.argmax(counts)]))  # ...becomes the largest one
    window.select_tool("fill")
    canvas = window.canvas
    point = QPoint(round(x * canvas.zoom + canvas.offset.x()),
                   round(y * canvas.zoom + canvas.offset.y()))
    figures["bucket"] = _measure(
        app, lambda: QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, point),
        lambda: True)
    window.confirm = lambda title, text: True  # discard the benchmark's edits on close
    window.close()
    return figures


FILL_START = (7000, 7000)  # height, width: 49 megapixels


def _finish_and_discard(app, controller) -> None:
    """Let the fill running end (events handled meanwhile), then discard its result."""
    while controller.busy:
        app.processEvents()
        time.sleep(0.001)
    app.processEvents()
    controller.discard()
    app.processEvents()


def _fill_start_document(guided: bool, sampling: bool = False) -> Document:
    """A 7000x7000 picture with a small brushed hole; ``guided``: also a sketch line beside
    it and a computed label map edited near it (the layers a fill request snapshots);
    ``sampling``: also a sampling layer, an include area over most of the picture and an
    exclude stroke beside the hole (sources the fill may and may not copy)."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:FILL_START[0]:8, 0:FILL_START[1]:8]
    base = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    photo = np.repeat(np.repeat(base, 8, axis=0), 8, axis=1)
    photo += rng.integers(0, 16, photo.shape, dtype=np.uint8)
    document = Document(photo)
    with document.step("hole"):
        document.paint_segment(Layer.MASK, (3400, 3300), (3600, 3450), 40, 255)
    if guided:
        with document.step("line"):
            document.paint_segment(Layer.SKETCH, (3380, 3350), (3620, 3400), 3, 255)
        labels = (np.arange(FILL_START[0], dtype=np.uint8)[:, None] // 250 % 6
                  + np.zeros(FILL_START[1], np.uint8))
        labels.flags.writeable = False
        document.replace_label_map(labels, None, "Compute labels")
        with document.step("label"):
            document.paint_segment(Layer.LABELS, (3500, 3200), (3560, 3200), 20, 2)
    if sampling:
        include = np.zeros(FILL_START, np.uint8)
        include[500:6500, 500:6500] = 255
        document.replace_sampling_area(SAMPLE_INCLUDE, include, "Include")
        with document.step("exclude"):
            document.paint_segment(Layer.SAMPLING, (3300, 3500), (3700, 3550), 30,
                                   SAMPLE_EXCLUDE)
    return document


FILL_START_CASES = (("hole", "a small hole", False, False, "telea"),
                    ("guided", "a small hole, a sketch line and an edited label map", True,
                     False, "telea"),
                    ("sampling", "a small hole and a sampling layer (include and exclude)",
                     False, True, "telea"),
                    ("sampling_pm", "the same, Guided PatchMatch (which follows it)", False,
                     True, "patchmatch"))


def bench_fill_start(app: QApplication, rounds: int = 5) -> dict[str, dict[str, float]]:
    """GUI-thread ms of starting a fill (the Fill action: ``FillController.run``) on a
    49-megapixel picture with a small hole, alone, with a sketch line and an edited label
    map, or with a sampling layer (:data:`FILL_START_CASES`), through the window (OpenCV
    Telea, which ignores the guidance, so the note on ignored guidance is worked out too;
    and Guided PatchMatch with the sampling layer): the first start, and the median and
    range of ``rounds`` more, each after the previous fill ended and was discarded; also
    the part of each spent taking the document's snapshot (``Document.snapshot`` where the
    tree measured has it, else ``Document.build_request``), the MB of layer copies the
    document still holds once the last fill was discarded (and half a second passed), and
    the GUI time of a write to the mask and to the picture (``Document.touch`` of one pixel,
    as a brush stroke or an applied result begins) right after the Fill action, each the
    median of ``rounds`` fills: it waits for that layer's copy."""
    import app.document as document_module

    building: list[float] = []
    taker = "snapshot" if hasattr(document_module.Document, "snapshot") else "build_request"
    take = getattr(document_module.Document, taker)

    def timed_take(document, *args, **kwargs):
        start = time.perf_counter()
        taken = take(document, *args, **kwargs)
        building.append(time.perf_counter() - start)
        return taken

    figures = {}
    setattr(document_module.Document, taker, timed_take)
    try:
        for name, _what, guided, sampling, engine in FILL_START_CASES:
            window = MainWindow()
            window.resize(1600, 1000)
            window.show()
            window.engine_panel.auto_run.setChecked(False)
            window.engine_panel.select_engine(engine)
            controller = window.controller
            controller.settings.engine = engine
            controller.settings.auto_apply = False
            window.set_document(_fill_start_document(guided, sampling))
            app.processEvents()
            starts, builds = [], []
            for _ in range(rounds + 1):
                building.clear()
                start = time.perf_counter()
                controller.run()
                starts.append(time.perf_counter() - start)
                builds.append(sum(building))
                _finish_and_discard(app, controller)
            document = window.document
            settled = time.perf_counter()
            while time.perf_counter() - settled < 0.5:
                app.processEvents()
                time.sleep(0.01)
            held = sum(copy.result().nbytes for copy in document._shared.values())
            writes = {}
            for layer in (Layer.MASK, Layer.IMAGE):
                waits = []
                for _ in range(rounds):
                    controller.run()
                    start = time.perf_counter()
                    with document.step("write"):
                        document.touch(layer, Box(0, 0, 1, 1))
                    waits.append(time.perf_counter() - start)
                    _finish_and_discard(app, controller)
                writes[layer.value] = statistics.median(waits) * 1000
            more = sorted(starts[1:])
            figures[name] = {"first": starts[0] * 1000, "median": statistics.median(more) * 1000,
                             "low": more[0] * 1000, "high": more[-1] * 1000,
                             "build_first": builds[0] * 1000,
                             "build_median": statistics.median(builds[1:]) * 1000,
                             "held": held / 1e6, "write_mask": writes["mask"],
                             "write_image": writes["image"]}
            window.confirm = lambda title, text: True  # discard the benchmark's edits
            window.close()
            app.processEvents()
    finally:
        setattr(document_module.Document, taker, take)
    return figures


BIG_FILL = (3648, 5472)  # height, width: a 20-megapixel camera picture
BIG_FILL_BORDER = 0.0257  # of each side left outside the hole: 90 % of the picture is hole


def _big_fill_photo(folder: Path) -> Path:
    """scikit-image's "coffee" scaled to 5472x3648 with noise, as a JPEG in ``folder``."""
    import cv2
    from skimage import data

    photo = cv2.resize(data.coffee(), BIG_FILL[::-1], interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).normal(0, 4, photo.shape)
    photo = np.clip(photo + noise, 0, 255).astype(np.uint8)
    path = folder / "big.jpg"
    cv2.imwrite(str(path), photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def _big_hole_window(app: QApplication, folder: Path) -> tuple[MainWindow, np.ndarray]:
    """The start-up warm-up run, a 1600x1000 window showing the 20 MP photo with its hole
    over 90 % of it (an Import mask step, shown and compressed); returns it and the hole."""
    from app.launch import warm_up_in_background

    warm = warm_up_in_background()  # as the editor starts
    while warm.is_alive():
        app.processEvents()
        time.sleep(0.01)
    path = _big_fill_photo(folder)
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.engine_panel.auto_run.setChecked(False)
    app.processEvents()
    window.open_path(path)
    height, width = BIG_FILL
    hole = np.zeros(BIG_FILL, np.uint8)
    top, left = int(height * BIG_FILL_BORDER), int(width * BIG_FILL_BORDER)
    hole[top:height - top, left:width - left] = 255
    window.document.replace_layer(Layer.MASK, hole, "Import mask")
    end = time.perf_counter() + 1
    while time.perf_counter() < end:  # the mask shown, its undo step compressed
        app.processEvents()
        time.sleep(0.01)
    return window, hole


def bench_big_fill(app: QApplication, folder: Path, settle_s: float = 2.0) -> dict:
    """The bigfill part (see the module doc): ``longest`` gap (ms), ``seconds`` from the
    Fill action to the result applied, ``hole`` (its fraction of the picture) and ``gaps``,
    (start s after the Fill action, ms, the fill's step then) of each gap over 100 ms."""
    from PySide6.QtCore import QEventLoop

    window, hole = _big_hole_window(app, folder)
    controller = window.controller
    controller.settings.auto_apply = True
    steps: list[tuple[float, str]] = []  # (when, what the fill is doing from then on)
    ticks: list[tuple[float, float]] = []  # (s after the Fill action, gap to the tick in ms)
    loop = QEventLoop()
    start = last = time.perf_counter()
    applied_at: list[float] = []

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        ticks.append((last - start, (now - last) * 1000))
        last = now

    def on_applied() -> None:
        applied_at.append(time.perf_counter() - start)
        steps.append((applied_at[0], "the result applied"))
        QTimer.singleShot(round(settle_s * 1000), loop.quit)

    controller.previewChanged.connect(
        lambda image, box, label: image is not None
        and steps.append((time.perf_counter() - start, f"{label} shown")))
    controller.applied.connect(on_applied)
    controller.error.connect(lambda message: (steps.append((0, message)), loop.quit()))
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    steps.append((0.0, "the Fill action"))
    start = last = time.perf_counter()
    window.fill()
    QTimer.singleShot(600_000, loop.quit)
    loop.exec()
    timer.stop()
    tick()

    def during(when: float) -> str:
        return next((what for at, what in reversed(steps) if at <= when), "")

    window.confirm = lambda title, text: True  # discard the benchmark's edits on close
    window.close()
    shown = [at for at, what in steps if what.endswith(" shown")]
    final = shown[-1] if shown else math.inf  # the refined stage shown
    return {"longest": max(ms for _, ms in ticks),
            # from the final stage shown (a gap that lasts into it included) to the end
            "end": max((ms for at, ms in ticks if at + ms / 1000 >= final), default=0.0),
            "seconds": applied_at[0] if applied_at else float("nan"),
            "hole": float(np.count_nonzero(hole)) / hole.size,
            "gaps": [(at, ms, during(at)) for at, ms in ticks if ms > 100]}


def bench_big_calls(app: QApplication, folder: Path,
                    rounds: int = 5) -> dict[str, tuple[float, float, float]]:
    """The bigcalls part (see the module doc): name -> (median, min, max) ms."""
    from PySide6.QtCore import QEventLoop

    from app.controller import FillController, _Run
    from app.worker import Worker
    from engines.base import Guidance

    def spread(times: list[float]) -> tuple[float, float, float]:
        return statistics.median(times), min(times), max(times)

    figures = {}
    window, _hole = _big_hole_window(app, folder)  # a mask stroke while PatchMatch runs
    window.controller.settings.auto_apply = True
    loop = QEventLoop()

    def pause(seconds: float) -> None:
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        loop.exec()

    window.fill()
    pause(3.0)
    times = []
    for index in range(rounds):
        with window.document.step("Mask brush"):  # more mask: the fill still stands
            window.document.paint_segment(Layer.MASK, (10 + 20 * index, 10), (50, 30), 5, 255)
        start = time.perf_counter()
        window._on_edit_finished(Layer.MASK.value)  # what the canvas calls after a stroke
        times.append((time.perf_counter() - start) * 1000)
        pause(0.5)
    assert window.controller.busy, "the fill ended before the strokes"
    figures["window"] = spread(times)
    window.controller.cancel()
    window.ask_stop_runs = lambda text: True
    window.confirm = lambda title, text: True
    window.close()
    height, width = BIG_FILL
    photo = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    hole = np.zeros(BIG_FILL, np.uint8)
    top, left = int(height * BIG_FILL_BORDER), int(width * BIG_FILL_BORDER)
    hole[top:height - top, left:width - left] = 255
    result = photo.copy()
    result[hole > 0] = 128
    document = Document(photo)
    document.replace_layer(Layer.MASK, hole, "Import mask")
    snapshot = document.snapshot()
    worker = Worker()
    controller = FillController(worker)
    controller.set_document(document)
    run = _Run(1, document, document.image_version, snapshot.request, None,
               frozenset(Guidance), document.hole_box(), "bench", "Bench")
    run.hole()  # found once per run, at its first check
    times = []
    for index in range(rounds):
        with document.step("Mask brush"):  # more mask: the fill still stands
            document.paint_segment(Layer.MASK, (10 + 20 * index, 10), (50, 30), 5, 255)
        start = time.perf_counter()
        assert controller._outdated(run) is None
        times.append((time.perf_counter() - start) * 1000)
    figures["check"] = spread(times)
    worker.shutdown()
    deep = photo.astype(np.float32) / 255
    for name, original, lines in (("apply", None, False), ("sketch", None, True),
                                  ("float", deep, False), ("both", deep, True)):
        times = []
        for _ in range(rounds):
            document = Document(photo, deep_original=original)
            document.replace_layer(Layer.MASK, hole, "Import mask")
            if lines:
                with document.step("Sketch"):  # a horizon across the hole, a short stroke
                    document.paint_segment(Layer.SKETCH, (0, 1800), (width - 1, 1850), 2, 255)
                    document.paint_segment(Layer.SKETCH, (2000, 600), (2100, 1100), 2, 255)
            document.settle()
            snapshot = document.snapshot()
            within = document.hole_box()
            prepared = snapshot.prepare_result(result, within)
            start = time.perf_counter()
            document.apply_result(result, used_mask=snapshot.request.mask, within=within,
                                  used_sketch=snapshot.request.sketch, prepared=prepared)
            times.append((time.perf_counter() - start) * 1000)
            document.settle()
        figures[name] = spread(times)
    return figures


BIG_CALLS_ROWS = (("window", "the window after a mask stroke while PatchMatch fills it"),
                  ("check", "the check of a running fill's hole after a mask stroke"),
                  ("apply", "apply_result of the fill (prepared on the worker)"),
                  ("sketch", "the same with sketch lines drawn"),
                  ("float", "the same over a floating-point original"),
                  ("both", "the same with both"))


BIG_UNDO_ENGINE = "bench-shifted"  # bigundo's stand-in engine (see _shifted_engine)


def _shifted_engine() -> type:
    """A stand-in engine for bigundo, registered as :data:`BIG_UNDO_ENGINE`: its result is
    the picture shifted by (97, 131) px, as noisy (and as hard to compress) as a fill of
    the photo, in a second instead of PatchMatch's minute."""
    from engines.base import Engine, RegionStage

    class Shifted(Engine):
        name, title = BIG_UNDO_ENGINE, "Shifted"

        def inpaint_region(self, region, cancel):
            yield RegionStage("final", np.roll(region.image, (97, 131), axis=(0, 1)), 1.0,
                              final=True)

    registry._ENGINES.setdefault(BIG_UNDO_ENGINE, Shifted)
    return Shifted


def bench_big_undo(app: QApplication, folder: Path, engine: str = BIG_UNDO_ENGINE,
                   rounds: int = 5, settle_s: float = 1.0) -> dict:
    """The bigundo part (see the module doc): the 20 MP photo's hole filled through the
    window (``engine``, the result applied by itself), then Undo and Redo triggered
    ``rounds`` times each through the window's actions in the real event loop. Returns, per
    case (``last``: the fill just made, going back and forth; ``older``: the fill undone
    1 s after a later brush stroke was, and redone 1 s after the step before it was undone
    and redone, so that its tiles are not the ones kept at hand; ``at once``: the same, the
    fill's move in the same turn as the one before), lists per action of (ms until the
    action returned, ms until the canvas showed it all (its last paint after the changes
    were rendered), longest gap in ms of a 10 ms timer meanwhile); ``tiles``, the fill's
    step's tiles; ``held``, MB of undo tiles held uncompressed after the stroke's undo."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject

    if engine == BIG_UNDO_ENGINE:
        _shifted_engine()
    window, _hole = _big_hole_window(app, folder)
    document, canvas, controller = window.document, window.canvas, window.controller
    controller.settings.engine = engine
    controller.settings.auto_apply = True
    loop = QEventLoop()
    controller.applied.connect(loop.quit)
    controller.error.connect(lambda message: (print(message), loop.quit()))
    QTimer.singleShot(600_000, loop.quit)
    controller.run()
    loop.exec()

    def pause(seconds: float) -> None:
        """The real event loop for ``seconds`` (the display updated, jobs ended)."""
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        loop.exec()

    pause(settle_s * 2)
    document.settle()
    fill = document._undo[-1]
    ticks: list[float] = []
    marks: dict[str, float] = {}

    def settled() -> bool:
        return not (canvas._pending_boxes[True] or canvas._pending_boxes[False]
                    or canvas._sync_timer.isActive())

    def painted() -> None:
        marks["shown"] = time.perf_counter()
        loop.quit()

    class PaintWatch(QObject):
        def eventFilter(self, watched, event) -> bool:
            # a paint once the action returned and every change is rendered: the last one;
            # it ends at the next turn of the loop
            if event.type() == QEvent.Paint and "returned" in marks and "shown" not in marks \
                    and settled():
                QTimer.singleShot(0, painted)
            return False

    watch = PaintWatch()
    canvas.installEventFilter(watch)
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    limit = QTimer()
    limit.setSingleShot(True)
    limit.setInterval(30_000)
    limit.timeout.connect(loop.quit)

    def trigger(name: str, first: str | None = None) -> tuple[float, float, float]:
        """Trigger the ``name`` action from the event loop (right after the ``first`` one,
        in the same turn, if given); (ms until it returned, ms until the canvas's last paint
        after it had rendered every change, longest gap ms)."""

        def act() -> None:
            if first is not None:
                window.actions[first].trigger()
            ticks.append(marks.setdefault("start", time.perf_counter()))
            window.actions[name].trigger()
            marks["returned"] = time.perf_counter()

        marks.clear()
        QTimer.singleShot(0, act)
        limit.start()
        loop.exec()
        limit.stop()
        shown, start = marks.get("shown", math.nan), marks["start"]
        gaps = [b - a for a, b in itertools.pairwise([t for t in ticks if t >= start]
                                                      + [shown])]
        ticks.clear()
        pause(settle_s)
        return ((marks["returned"] - start) * 1000, (shown - start) * 1000,
                max(gaps, default=0.0) * 1000)

    figures: dict = {"tiles": len(fill.diffs), "held": [],
                     **{case: {"undo": [], "redo": []} for case in ("last", "older", "at once")}}
    for _ in range(rounds):  # back and forth over the fill just made
        figures["last"]["undo"].append(trigger("undo"))
        figures["last"]["redo"].append(trigger("redo"))
    with document.step("Mask brush"):  # a stroke after the fill: the fill is not at hand
        document.paint_segment(Layer.MASK, (100, 100), (300, 200), 20, 255)
    for _ in range(rounds):
        trigger("undo")  # the stroke
        document.settle()
        figures["held"].append(_raw_megabytes(document))
        figures["older"]["undo"].append(trigger("undo"))  # the fill
        trigger("undo")  # the mask import...
        trigger("redo")  # ...redone: the fill's new side is no longer kept at hand
        figures["older"]["redo"].append(trigger("redo"))  # the fill
        trigger("redo")  # the stroke
    for _ in range(rounds):  # the same, each the fill's move right after the one before
        figures["at once"]["undo"].append(trigger("undo", first="undo"))
        trigger("undo")
        figures["at once"]["redo"].append(trigger("redo", first="redo"))
        trigger("redo")
    timer.stop()
    canvas.removeEventFilter(watch)
    window.confirm = lambda title, text: True  # discard the benchmark's edits on close
    window.close()
    return figures


def _raw_megabytes(document: Document) -> float:
    """MB of undo tiles the document holds uncompressed (each array counted once)."""
    arrays = {id(raw): raw.nbytes for step in (*document._undo, *document._redo)
              for diff in step.diffs for raw in (diff.raw_old, diff.raw_new) if raw is not None}
    return sum(arrays.values()) / 1e6


LARGE_ROWS = (("open", "opening a 24 MP JPEG"),
              ("holes", "Telea filling 8 small holes spread over 24 MP"),
              ("strokes", "Telea filling 10 strokes across 24 MP"),
              ("undo", "undoing that fill right after it"),
              ("redo", "redoing it"),
              ("undo_again", "undoing it again"),
              ("redo_again", "and redoing it again"),
              ("original", 'first press of "show original" after them'),
              ("back", 'its release'),
              ("labels", 'a computed "regions" label map arriving on 24 MP'),
              ("bucket", "one label bucket click on 24 MP"))


def compare_large(baseline: Path, rounds: int) -> None:
    """Print the large part measured with ``baseline``'s app/ and with this tree's, in
    alternating fresh processes (each opens its picture as the first one)."""
    runs: dict[str, list[dict]] = {"before": [], "ours": []}
    for _ in range(rounds):
        for name, root in (("before", baseline), ("ours", HERE)):
            done = subprocess.run([sys.executable, __file__, "--parts", "large", "--json",
                                   "--root", str(root)], capture_output=True, text=True,
                                  check=True)
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))

    def spread(name: str, key: str, index: int, unit: str, digits: int = 0) -> str:
        """The median over the rounds, and their range."""
        values = sorted(run[key][index] for run in runs[name])
        low, high = f"{values[0]:.{digits}f}", f"{values[-1]:.{digits}f}"
        median = f"{statistics.median(values):.{digits}f} {unit}"
        return median if low == high else f"{median} ({low}-{high})"

    print(f"Large part, 6000x4000 photo, 1600x1000 window, {rounds} rounds alternating, "
          f"{os.cpu_count()} cores; before: {baseline}\n")
    print("| measurement | before | ours | target |")
    print("|---|---|---|---|")
    for key, what in LARGE_ROWS:
        print(f"| longest event-loop stall, {what} | {spread('before', key, 0, 'ms')}; "
              f"{spread('before', key, 1, 's', 1)} | {spread('ours', key, 0, 'ms')}; "
              f"{spread('ours', key, 1, 's', 1)} | <= 200 ms |")
        if len(runs["ours"][0][key]) > 2:
            print(f"| GUI time drawing its stages | {spread('before', key, 4, 'ms')} | "
                  f"{spread('ours', key, 4, 'ms')} | - |")
        if key == "redo_again":
            print(f"| undo tiles held uncompressed after that, all compressed | "
                  f"{spread('before', 'held', 0, 'MB')} | {spread('ours', 'held', 0, 'MB')} | "
                  f"- |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="telea,patchmatch",
                        help="engines for the stall measurement (comma-separated)")
    parser.add_argument("--parts",
                        default="brush,repaint,stall,colour,masks,save,large,fillstart",
                        help="what to measure (comma-separated)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="measure only the large part, with DIR's app/ (a copy of the "
                             "tree from before a change) and with this tree's, side by side")
    parser.add_argument("--rounds", type=int, default=2,
                        help="with --baseline: fresh processes per tree (alternating)")
    parser.add_argument("--rounds-fill", type=int, default=5,
                        help="fillstart: fills started after the first one, per case")
    parser.add_argument("--rounds-undo", type=int, default=5,
                        help="bigundo: undo/redo pairs per case")
    parser.add_argument("--rounds-calls", type=int, default=5,
                        help="bigcalls: times each call is measured")
    parser.add_argument("--undo-engine", default=BIG_UNDO_ENGINE,
                        help="bigundo: the engine whose fill is undone (default: a stand-in "
                             "that shifts the picture, in seconds)")
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)  # the tree measured
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline is not None:
        compare_large(args.baseline.resolve(), args.rounds)
        return 0
    parts = set(args.parts.split(","))
    drop_opencv_qt_paths()  # Qt looks only at its own plugins
    app = QApplication.instance() or QApplication([])
    if "bigfill" in parts:  # first: the picture the window opens first, and a quiet process
        with tempfile.TemporaryDirectory() as folder:
            big = bench_big_fill(app, Path(folder))
        print(f"Guided PatchMatch filling {big['hole']:.0%} of a {BIG_FILL[1]}x{BIG_FILL[0]} "
              f"photo through the window ({big['seconds']:.1f} s to the result applied), "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}: longest "
              f"event-loop stall {big['longest']:.0f} ms (10 ms timer, the real event loop), "
              f"{big['end']:.0f} ms from the final stage shown to 2 s after it was applied; "
              f"{len(big['gaps'])} over 100 ms")
        for at, ms, what in big["gaps"]:
            print(f"  {ms:5.0f} ms at {at:6.2f} s, after {what}")
        print()
        if parts == {"bigfill"}:
            return 0
    if "bigcalls" in parts:
        with tempfile.TemporaryDirectory() as folder:
            calls = bench_big_calls(app, Path(folder), args.rounds_calls)
        print(f"GUI-thread calls on a {BIG_FILL[1]}x{BIG_FILL[0]} picture with a hole over 90 % "
              f"of it, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; median "
              f"[min-max] of {args.rounds_calls}\n")
        print("| call | ms |")
        print("|---|---|")
        for name, what in BIG_CALLS_ROWS:
            median, low, high = calls[name]
            print(f"| {what} | {median:.1f} [{low:.1f}-{high:.1f}] |")
        print()
        if parts == {"bigcalls"}:
            return 0
    if "bigundo" in parts:  # first too: a quiet process
        with tempfile.TemporaryDirectory() as folder:
            undo = bench_big_undo(app, Path(folder), args.undo_engine, args.rounds_undo)
        print(f"Undo and Redo of a fill of 90 % of a {BIG_FILL[1]}x{BIG_FILL[0]} photo "
              f"({undo['tiles']} tiles; engine {args.undo_engine}) through the window's "
              f"actions, the real event loop, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}; median / max of {args.rounds_undo}\n")
        print("| action | returns | picture shown | longest gap (10 ms timer) |")
        print("|---|---|---|---|")
        for case, what in (("last", "the fill just made"),
                           ("older", "the fill after a later step, 1 s after the one before"),
                           ("at once", "the fill after a later step, at once after it")):
            for name in ("undo", "redo"):
                rows = undo[case][name]
                cells = " | ".join(
                    f"{statistics.median(r[k] for r in rows):.0f} / "
                    f"{max(r[k] for r in rows):.0f} ms" for k in range(3))
                print(f"| {name.capitalize()} {what} | {cells} |")
        print(f"\nUndo tiles held uncompressed once the later step is undone: "
              f"{statistics.median(undo['held']):.0f} MB\n")
        if parts == {"bigundo"}:
            return 0
    large = None
    if "large" in parts:  # first, so that it opens its picture as the first one, as users do
        with tempfile.TemporaryDirectory() as folder:
            large = bench_large(app, Path(folder))
        if args.json:  # for compare_large: the large part only, as one line
            print(json.dumps(large))
            return 0
    if "fillstart" in parts:
        fill_start = bench_fill_start(app, args.rounds_fill)
        print(f"Starting a fill on a {FILL_START[1]}x{FILL_START[0]} picture (GUI thread, "
              f"Fill action to its return; first start, then the median [range] of "
              f"{args.rounds_fill} more; of which the snapshot), {os.cpu_count()} "
              f"cores\n")
        print("| case | first | median [range] | snapshot first / median | copies held "
              "after | mask / picture written right after the start |")
        print("|---|---|---|---|---|---|")
        for name, what, _guided, _sampling, engine in FILL_START_CASES:
            f = fill_start[name]
            print(f"| {what} ({engine}) | {f['first']:.0f} ms | {f['median']:.0f} ms "
                  f"[{f['low']:.0f}-{f['high']:.0f}] | {f['build_first']:.0f} / "
                  f"{f['build_median']:.0f} ms | {f['held']:.0f} MB | {f['write_mask']:.0f} / "
                  f"{f['write_image']:.0f} ms |")
        print()
        if parts == {"fillstart"}:
            return 0
    photo = make_photo()
    canvas = Canvas()
    canvas.resize(1600, 1000)
    canvas.show()
    document = Document(photo)
    canvas.set_document(document)
    app.processEvents()

    print(f"Inpaint Studio UI benchmark, {WIDTH}x{HEIGHT} document, 1600x1000 view, "
          f"{os.cpu_count()} cores, Qt platform {app.platformName()}\n")
    print("| measurement | ours | naive alternative | target |")
    print("|---|---|---|---|")
    if "brush" in parts:
        brush = bench_brush(canvas, document)
        print(f"| brush segment (median / 95th percentile) | {brush['ours_median']:.2f} / "
              f"{brush['ours_p95']:.2f} ms | {brush['naive_median']:.1f} ms per segment "
              f"+ {brush['naive_stroke_start']:.1f} ms at stroke start | <= 4 ms |")
    if "repaint" in parts:
        repaint = bench_repaint(canvas, app)
        for zoom in ("fit", "100%"):
            print(f"| repaint at {zoom} | {repaint['ours_' + zoom]:.2f} ms | "
                  f"{repaint['naive_' + zoom]:.2f} ms (full-resolution source) | <= 8 ms |")
    if "colour" in parts:
        colour = bench_colour(photo)
        print(f"| display buffers of a newly opened picture with a wide-gamut profile | "
              f"{colour['banded']:.0f} ms | {colour['single']:.0f} ms (one LittleCMS call); "
              f"{colour['none']:.0f} ms without a profile | - |")
    if "masks" in parts:
        with tempfile.TemporaryDirectory() as folder:
            masks = bench_masks(app, photo, Path(folder))
        print(f"| mask file pixels to a mask | {masks['read_ours']:.0f} ms | "
              f"{masks['read_naive']:.0f} ms (numpy max over the channels) | - |")
        for name, what in (("import", "Import Mask (a 4000x3000 PNG)"),
                           ("grow", "Grow mask 40 px"), ("feather", "Feather mask 40 px")):
            print(f"| longest event-loop stall, {what} | {masks[name + '_ours']:.0f} ms | "
                  f"{masks[name + '_naive']:.0f} ms (all on the GUI thread) | <= 50 ms |")
    if "save" in parts:
        with tempfile.TemporaryDirectory() as folder:
            save = bench_save(app, photo, Path(folder))
        for kind, name, other in (("png", "PNG", "level 3"),
                                  ("tif", "TIFF", "tifffile's level 6, one core")):
            print(f"| encode the 16-bit {name} ({save[kind + '16_mb']:.0f} MB) | "
                  f"{save[kind + '16']:.2f} s | {save[kind + '16_default']:.2f} s, "
                  f"{save[kind + '16_default_mb']:.0f} MB ({other}); 8-bit "
                  f"{name}: {save[kind + '8']:.2f} s, {save[kind + '8_mb']:.0f} MB | - |")
        print(f"| encode the 8-bit HEIC at quality 95 ({save['heic_mb']:.1f} MB) | "
              f"{save['heic']:.2f} s | {save['heic_default']:.2f} s, "
              f"{save['heic_default_mb']:.1f} MB (x265's default preset); JPEG: "
              f"{save['jpg']:.2f} s, {save['jpg_mb']:.1f} MB | - |")
        print(f"| encode the 8-bit AVIF at quality 95 ({save['avif_mb']:.1f} MB) | "
              f"{save['avif']:.2f} s | {save['avif_default']:.2f} s, "
              f"{save['avif_default_mb']:.1f} MB (libavif speed 6, Pillow's default) | - |")
        print(f"| longest event-loop stall while the window saves the 16-bit TIFF | "
              f"{save['stall_ours']:.0f} ms | {save['stall_naive']:.0f} ms (encoding on the "
              f"GUI thread) | <= 50 ms |")
    if large is not None:
        for name, what in LARGE_ROWS:
            stall, seconds = large[name][:2]
            print(f"| longest event-loop stall, {what} ({seconds:.1f} s in all) | "
                  f"{stall:.0f} ms | - | <= 200 ms |")
            if name == "redo_again":
                print(f"| undo tiles held uncompressed after that, all compressed | "
                      f"{large['held'][0]:.0f} MB | - | - |")
            if len(large[name]) > 2:
                emitted, drawn, drawing = large[name][2:]
                print(f"| GUI time drawing its stages ({drawn} drawn of {emitted}) | "
                      f"{drawing:.0f} ms | - | - |")
    engines = [e for e in args.engines.split(",") if e] if "stall" in parts else []
    if "patchmatch" in engines:  # as if the user filled before the start-up warm-up ran
        stall = bench_stall(app, photo, "patchmatch")
        print(f"| longest event-loop stall, patchmatch before the start-up warm-up "
              f"({stall['run_seconds']:.1f} s) | {stall['ours_stall']:.1f} ms | - | - |")
    if "stall" in parts:
        warm = bench_warm_up(app)
        print(f"| longest event-loop stall during the start-up warm-up, in its thread "
              f"({warm['seconds']:.1f} s) | {warm['stall']:.0f} ms | - | - |")
    for engine in engines:
        stall = bench_stall(app, photo, engine)
        print(f"| longest event-loop stall while {engine} fills "
              f"({stall['run_seconds']:.1f} s run) | {stall['ours_stall']:.1f} ms | "
              f"{stall['naive_stall']:.0f} ms (engine on the GUI thread) | <= 50 ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
