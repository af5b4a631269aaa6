"""Screenshots of the real window for the README, taken under a real X server.

Run under Xvfb (Debian: ``apt install xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1``)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Writes ``docs/screenshots/*.png``. Every picture is produced by driving the editor as a
person would (open, brush, fill), with the engines that need no download.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# the windows here start from the defaults and leave the user's preferences alone
os.environ["INPAINT_STUDIO_CONFIG"] = str(Path(tempfile.mkdtemp()) / "preferences.ini")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.document import Layer  # noqa: E402
from app.platform_check import drop_opencv_qt_paths, window_problem  # noqa: E402
from app.window import SAMPLE_IMAGE, MainWindow  # noqa: E402
from engines.fileio import load_image, save_image  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
# the two thin lightning towers of the rocket photo, located from its pixels
LEFT_TOWER = [(198, 112), (197, 200), (191, 260), (190, 427)]
RIGHT_TOWER = [(445, 112), (449, 200), (458, 300), (452, 380), (448, 427)]
SAMPLES = ROOT / "resources" / "samples"


def settle(app: QApplication, seconds: float = 0.3) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_for(app: QApplication, condition, timeout: float = 600.0) -> None:
    end = time.time() + timeout
    while not condition():
        if time.time() > end:
            raise TimeoutError("the editor did not finish in time")
        app.processEvents()
        time.sleep(0.01)


def grab(app: QApplication, window, name: str) -> Path:
    settle(app)
    pixmap = app.primaryScreen().grabWindow(window.winId())
    path = OUT / name
    pixmap.save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def new_window(app: QApplication, size=(1400, 880)) -> MainWindow:
    window = MainWindow()
    window.confirm = lambda title, text: True
    window.resize(*size)
    window.move(0, 0)
    window.show()
    settle(app)
    return window


def fill(app: QApplication, window: MainWindow, apply: bool) -> None:
    window.engine_panel.auto_apply.setChecked(apply)  # the panel shows what the fill does
    finished = []
    window.controller.busyChanged.connect(lambda busy: busy or finished.append(True))
    window.controller.run()
    wait_for(app, lambda: finished)


def paint(document, layer, points, radius, value=255) -> None:
    with document.step("Mask brush" if layer is Layer.MASK else "Brush"):
        for p0, p1 in itertools.pairwise(points):
            document.paint_segment(layer, p0, p1, radius, value)


def shot_window(app: QApplication) -> None:
    """The rocket with its left lightning tower filled by Guided PatchMatch."""
    window = new_window(app)
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.select_engine("patchmatch")
    paint(window.document, Layer.MASK, LEFT_TOWER, 18)
    fill(app, window, apply=True)
    paint(window.document, Layer.MASK, RIGHT_TOWER, 18)
    fill(app, window, apply=False)
    grab(app, window, "window.png")
    window.close()


def shot_labels(app: QApplication) -> None:
    """A region map computed, the big tower's region repainted as sky, filled to follow."""
    window = new_window(app)
    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    window.docks["labels_dock"].raise_()
    done = []
    window.semantic.labelsReplaced.connect(lambda: done.append(True))
    window.legend.computeRequested.emit("regions")
    wait_for(app, lambda: done)
    document = window.document
    labels = document.layer(Layer.LABELS)
    sky = int(labels[30, 320])
    window.choose_label(sky)
    window.select_tool("fill")
    bucket = window.tools["fill"]
    bucket.press(document, (600, 200))  # the lattice of the big tower on the right
    bucket.release(document, (600, 200))
    window._on_edit_finished(Layer.LABELS.value)  # as after a click: picks a label engine
    fill(app, window, apply=False)
    grab(app, window, "labels.png")
    window.close()


def shot_face(app: QApplication) -> None:
    """A face edit: the fringe raised along a new hairline sketched in the face crop."""
    window = new_window(app, (1400, 900))
    window.open_path(SAMPLES / "astronaut.jpg")
    window.engine_panel.auto_run.setChecked(False)
    window.docks["face_dock"].raise_()
    window._on_face_box((180, 60, 268, 176))  # as if dragged with the face-box tool
    edit = window.faces.edit
    crop = window.document
    window.faces.auto_sketch(use_parser=False)
    settle(app, 1.0)

    def to_crop(points):
        return [tuple(p) for p in edit.aligned.to_crop(np.array(points, np.float64))]

    # raise the fringe: the hair over the right half of the forehead becomes the hole and a
    # new, higher hairline is sketched through it (photo coordinates, mapped into the crop)
    paint(crop, Layer.MASK, to_crop([(214, 83), (232, 81), (250, 84)]), 11)
    paint(crop, Layer.SKETCH, to_crop([(210, 80), (222, 77), (238, 76), (254, 79)]), 2)
    grab(app, window, "face_sketch.png")
    stages = []
    window.controller.previewChanged.connect(
        lambda image, box, label: image is not None and stages.append((image, box, label)))
    fill(app, window, apply=False)
    coarse = next(stage for stage in stages if "refined" not in stage[2])
    window.canvas.set_preview(*coarse)
    grab(app, window, "face_coarse.png")
    window.canvas.set_preview(*stages[-1])
    grab(app, window, "face_refined.png")
    window.controller.apply()
    window.paste_face_back()
    grab(app, window, "face_pasted.png")
    window.close()


def watermark_folder(folder: Path) -> None:
    """Twelve photos carrying the same semi-transparent watermark, bottom right."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = [load_image(SAMPLES / name).rgb for name in
               ("rocket.jpg", "coffee.png", "astronaut.jpg")]
    rng = np.random.default_rng(3)
    mark = np.zeros((300, 400), np.uint8)
    cv2.putText(mark, "(c) Studio", (190, 270), cv2.FONT_HERSHEY_DUPLEX, 1.1, 255, 3)
    cv2.circle(mark, (345, 215), 18, 255, 4)
    alpha = mark.astype(np.float32)[..., None] / 255.0 * 0.6
    for index in range(12):
        source = sources[index % 3]
        y = rng.integers(0, source.shape[0] - 300)
        x = rng.integers(0, source.shape[1] - 400)
        crop = source[y:y + 300, x:x + 400].astype(np.float32)
        marked = crop * (1 - alpha) + 255.0 * alpha
        save_image(folder / f"photo{index:02d}.png", np.clip(marked, 0, 255).astype(np.uint8))


def shot_watermark(app: QApplication) -> None:
    """The folder dialog: the estimated watermark, then the folder cleared."""
    from app.watermark_dialogs import WatermarkDialog

    work = Path(tempfile.mkdtemp(prefix="inpaint-studio-shots-"))
    watermark_folder(work / "watermarked")
    window = new_window(app)
    dialog = WatermarkDialog(window)
    dialog.input.set_path(work / "watermarked")
    dialog.output.set_path(work / "cleared")
    dialog.set_engine("patchmatch")
    dialog.show()
    dialog.run_estimate()
    wait_for(app, lambda: not dialog.running and dialog.estimate is not None)
    grab(app, dialog, "watermark_estimate.png")
    dialog.run_clear()
    wait_for(app, lambda: not dialog.running and dialog.batch_result is not None)
    before = load_image(work / "watermarked" / "photo01.png").rgb
    after = load_image(work / "cleared" / "photo01.png").rgb
    strip = np.concatenate([before, np.full((300, 12, 3), 255, np.uint8), after], axis=1)
    save_image(OUT / "watermark_before_after.png", strip, overwrite=True)
    print("wrote docs/screenshots/watermark_before_after.png")
    dialog.close()
    window.close()


def main() -> int:
    problem = window_problem()  # Qt would abort
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    drop_opencv_qt_paths()  # Qt looks only at its own plugins
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if app.platformName() != "xcb":
        print("run this under an X server (xvfb-run), not", app.platformName())
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = set(sys.argv[1:]) or {"window", "labels", "face", "watermark"}
    for name, shot in (("window", shot_window), ("labels", shot_labels), ("face", shot_face),
                       ("watermark", shot_watermark)):
        if name in wanted:
            shot(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
