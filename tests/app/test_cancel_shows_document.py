"""What the canvas shows after a fill is cancelled or discarded is what Save writes and what
Enter applies: cancelling (Esc, the Engine panel's Cancel, Compare Engines) or starting
another fill drops the preview shown, and the status bar tells what happened to a fill
waiting for Enter (discarded by Esc, applied by Ctrl+S). Driven by the keys a person
presses, on a tiny picture whose hole holds a red square (the object to remove)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import qimage2ndarray
from PySide6.QtCore import QPoint, Qt

from app import compare
from app.compare import CompareDialog
from app.controller import FillController, cancelled_message
from app.document import Document, Layer
from app.window import DISCARDED_FILL, MainWindow
from app.worker import Worker
from engines import registry
from engines.base import CancelToken
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.fileio import load_image, save_image
from tests.app.test_window import shown_window

pytestmark = pytest.mark.timeout(120)

HOLE = (slice(36, 60), slice(48, 80))  # the red square, masked, in the 96x128 picture
RED = (230, 20, 20)
STAGE = "Guided PatchMatch: level 1/2"  # the label of the gated engine's coarse stage


class Gates:
    """The events the gated engine waits on: ``start`` before its first stage, ``more``
    after it; both open unless a test closes them."""

    def __init__(self) -> None:
        self.start, self.more = threading.Event(), threading.Event()
        self.open()

    def open(self) -> None:
        self.start.set()
        self.more.set()


def _wait(event: threading.Event, cancel: CancelToken) -> None:
    while not event.wait(0.02):
        cancel.raise_if_cancelled()


@pytest.fixture
def gates(monkeypatch):
    """Guided PatchMatch as the engine "gated-patchmatch" (same title), holding back as
    :class:`Gates` says and stopping at once when cancelled while it waits."""
    gates = Gates()

    class GatedPatchMatch(PatchMatchEngine):
        name = "gated-patchmatch"

        def inpaint_region(self, region, cancel):
            _wait(gates.start, cancel)
            for stage in super().inpaint_region(region, cancel):
                yield stage
                _wait(gates.more, cancel)

    monkeypatch.setitem(registry._ENGINES, GatedPatchMatch.name, GatedPatchMatch)
    yield gates
    gates.open()


@pytest.fixture
def picture(textured, tmp_path):
    """The picture file: :func:`textured` with a red square where the hole is."""
    pixels = textured.copy()
    pixels[HOLE] = RED
    return save_image(tmp_path / "picture.png", pixels)


@pytest.fixture
def window(qtbot, gates, picture, tmp_path):
    """A shown window with ``picture`` open, its red square masked, filling with the gated
    PatchMatch neither after each stroke nor applying by itself; saving asks for
    ``tmp_path/saved.png``; the canvas has the focus."""
    window = shown_window(qtbot, (900, 600))
    window.confirm = lambda title, text: False  # never block on a question
    window.ask_stop_runs = lambda text: True  # closed at the end while a fill may run
    window.ask_save_path = lambda *args: str(tmp_path / "saved.png")
    assert window.open_path(picture)
    panel = window.engine_panel
    panel.auto_run.setChecked(False)
    panel.auto_apply.setChecked(False)
    assert panel.select_engine("gated-patchmatch")
    mask = np.zeros(window.document.mask.shape, np.uint8)
    mask[HOLE] = 255
    window.document.replace_layer(Layer.MASK, mask, "Mask brush")
    focus_canvas(qtbot, window)
    yield window
    gates.open()
    window.worker.shutdown()


def focus_canvas(qtbot, window: MainWindow) -> None:
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)


def status(window: MainWindow) -> str:
    return window.statusBar().currentMessage()


def shown_hole(window: MainWindow) -> np.ndarray:
    """The colours the canvas shows at the centres of the hole's pixels, overlays hidden
    (the mask's tint), ``(n, 3)`` int RGB."""
    canvas = window.canvas
    canvas.view.show_overlays = False
    try:
        shot = qimage2ndarray.rgb_view(canvas.grab().toImage())
    finally:
        canvas.view.show_overlays = True
    ys, xs = np.mgrid[HOLE]
    points = [QPoint(int((x + 0.5) * canvas.zoom + canvas.offset.x()),
                     int((y + 0.5) * canvas.zoom + canvas.offset.y()))
              for y, x in zip(ys.ravel(), xs.ravel(), strict=True)]
    return np.array([shot[p.y(), p.x()] for p in points], int)


def hole_of(image: np.ndarray) -> np.ndarray:
    return image[HOLE].reshape(-1, 3).astype(int)


def shows(window: MainWindow, image: np.ndarray) -> bool:
    """Whether the canvas shows ``image`` in the hole (to rounding)."""
    return np.abs(shown_hole(window) - hole_of(image)).max() <= 3


def start_and_show_coarse_stage(qtbot, window: MainWindow, gates: Gates) -> None:
    """F: the fill starts, shows its coarse stage (the red square gone), and waits."""
    gates.more.clear()
    qtbot.keyClick(window.canvas, Qt.Key_F)
    qtbot.waitUntil(lambda: window.canvas.stage_label == STAGE, timeout=60000)
    assert window.controller.busy
    assert not shows(window, window.document.image)  # the coarse stage covers the square
    assert (np.abs(shown_hole(window) - RED).max(axis=1) > 60).mean() > 0.9


def assert_shows_the_document(window: MainWindow) -> None:
    """No preview and no stage label: the canvas shows the picture as it is, red square."""
    assert window.canvas.stage_label == "" and window.canvas.view.preview_box is None
    assert window.document.preview is None and not window.controller.has_result
    assert shows(window, window.document.image)
    assert (np.abs(shown_hole(window) - RED).max(axis=1) <= 3).all()


def cancel_by_compare(qtbot, window: MainWindow, monkeypatch) -> None:
    """Ctrl+K (the fill is cancelled for the comparison), then the dialog closed with Esc
    without a choice once its engines are done."""
    monkeypatch.setattr(compare, "ready_engines", lambda: ["telea"])
    qtbot.keyClick(window.canvas, Qt.Key_K, Qt.ControlModifier)
    dialog = next(d for d in window.findChildren(CompareDialog) if d.isVisible())
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
    with qtbot.waitSignal(dialog.finished, timeout=5000):
        qtbot.keyClick(dialog, Qt.Key_Escape)
    focus_canvas(qtbot, window)


@pytest.mark.parametrize("how", ["esc", "panel cancel", "compare"])
def test_a_cancelled_fill_leaves_the_canvas_showing_what_save_writes(
        qtbot, window, gates, tmp_path, monkeypatch, how):
    original = window.document.image.copy()
    start_and_show_coarse_stage(qtbot, window, gates)
    if how == "esc":
        qtbot.keyClick(window.canvas, Qt.Key_Escape)
    elif how == "panel cancel":
        qtbot.mouseClick(window.engine_panel.cancel_button, Qt.LeftButton)
        focus_canvas(qtbot, window)
    else:
        cancel_by_compare(qtbot, window, monkeypatch)
    # the preview goes at once, while the engine may still be stopping
    qtbot.waitUntil(lambda: window.canvas.stage_label == "", timeout=5000)
    assert_shows_the_document(window)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=30000)
    assert status(window) == "Cancelled Guided PatchMatch: nothing was filled"
    assert_shows_the_document(window)

    qtbot.keyClick(window.canvas, Qt.Key_Return)  # nothing waits: nothing is applied
    assert window.document.undo_label() == "Mask brush"
    assert np.array_equal(window.document.image, original)

    qtbot.keyClick(window.canvas, Qt.Key_S, Qt.ControlModifier)
    saved = load_image(tmp_path / "saved.png").rgb
    assert np.array_equal(saved, original)
    assert shows(window, saved)  # what the canvas shows is what was written
    assert status(window) == f"Saved {tmp_path / 'saved.png'}"


def test_a_stroke_after_a_cancelled_fill_brings_no_preview_back(qtbot, window, gates):
    start_and_show_coarse_stage(qtbot, window, gates)
    qtbot.keyClick(window.canvas, Qt.Key_Escape)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=30000)
    gates.open()  # a stage still on its way would show now
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (4, 4), (20, 4), 3, 255)
    qtbot.wait(100)
    assert_shows_the_document(window)
    assert window.document.undo_label() == "Mask brush" and not window.controller.busy


def test_starting_another_fill_drops_the_fill_waiting_until_its_first_stage(
        qtbot, window, gates):
    window.engine_panel.select_engine("telea")
    with qtbot.waitSignal(window.controller.waitingChanged, timeout=30000):
        qtbot.keyClick(window.canvas, Qt.Key_F)
    qtbot.waitUntil(lambda: window.canvas.stage_label.startswith("OpenCV Telea"),
                    timeout=5000)
    assert not shows(window, window.document.image)  # Telea's fill is shown, waiting

    window.engine_panel.select_engine("gated-patchmatch")
    focus_canvas(qtbot, window)
    gates.start.clear()  # the new fill shows nothing yet
    qtbot.keyClick(window.canvas, Qt.Key_F)
    qtbot.waitUntil(lambda: window.canvas.stage_label == "", timeout=5000)
    assert window.controller.busy
    assert_shows_the_document(window)
    qtbot.keyClick(window.canvas, Qt.Key_Return)  # Telea's fill is no longer to apply:
    assert window.document.undo_label() == "Mask brush"  # Enter asks for the one running
    assert status(window).startswith("Enter: the fill will be applied when it is done")

    with qtbot.waitSignal(window.controller.applied, timeout=60000):
        gates.open()
    assert window.document.undo_label() == "Fill (Guided PatchMatch)"
    assert window.document.preview is None and not window.controller.has_result
    qtbot.waitUntil(lambda: shows(window, window.document.image), timeout=5000)


def test_saving_while_a_fill_runs_says_the_fill_is_not_in_the_file(qtbot, window, gates,
                                                                  tmp_path):
    original = window.document.image.copy()
    start_and_show_coarse_stage(qtbot, window, gates)
    qtbot.keyClick(window.canvas, Qt.Key_S, Qt.ControlModifier)
    assert np.array_equal(load_image(tmp_path / "saved.png").rgb, original)
    assert status(window) == (f"Saved {tmp_path / 'saved.png'}; the fill still running is "
                              "not in the file")


@pytest.fixture
def waiting(qtbot, window, gates):
    """The window with the gated PatchMatch's fill finished and shown, waiting for Enter."""
    with qtbot.waitSignal(window.controller.waitingChanged, timeout=60000):
        qtbot.keyClick(window.canvas, Qt.Key_F)
    qtbot.waitUntil(lambda: window.canvas.stage_label == "Guided PatchMatch: refined",
                    timeout=5000)
    assert status(window) == "Enter applies the result, Esc discards it"
    assert not shows(window, window.document.image)
    return window


def test_esc_on_a_waiting_fill_says_it_was_discarded_and_redo_brings_it_back(qtbot, waiting):
    window = waiting
    qtbot.keyClick(window.canvas, Qt.Key_Escape)
    assert status(window) == DISCARDED_FILL == "Discarded the fill; Ctrl+Shift+Z brings it back"
    qtbot.waitUntil(lambda: window.canvas.stage_label == "", timeout=5000)
    assert_shows_the_document(window)
    qtbot.keyClick(window.canvas, Qt.Key_Return)  # nothing left to apply
    assert window.document.undo_label() == "Mask brush"

    qtbot.keyClick(window.canvas, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert window.controller.has_result
    assert status(window) == "Brought the fill back; Enter applies it, Esc discards it"
    qtbot.waitUntil(lambda: window.canvas.stage_label == "Guided PatchMatch: refined",
                    timeout=5000)


def test_saving_a_waiting_fill_says_it_was_applied_and_saved(qtbot, waiting, tmp_path):
    window = waiting
    shown = shown_hole(window)
    qtbot.keyClick(window.canvas, Qt.Key_S, Qt.ControlModifier)
    path = tmp_path / "saved.png"
    assert status(window) == f"Applied the fill shown and saved {path}"
    saved = load_image(path).rgb
    assert window.document.undo_label() == "Fill (Guided PatchMatch)"
    assert np.array_equal(saved, window.document.image) and not window.document.modified
    assert np.abs(hole_of(saved) - shown).max() <= 3  # the file holds the fill shown


def test_a_result_arriving_as_the_fill_is_cancelled_is_not_applied(qtbot, photo):
    worker = Worker()
    controller = FillController(worker)
    document = Document(photo)
    controller.set_document(document)
    controller.settings.engine = "telea"  # applying by itself
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (200, 100), (200, 380), 8, 255)
    said = []
    controller.message.connect(said.append)
    try:
        controller.run()
        while worker.busy:  # finished: its stages and result wait in the event queue
            threading.Event().wait(0.01)
        controller.cancel()  # Esc, before the window took them
        with qtbot.waitSignal(controller.busyChanged, timeout=20000,
                              check_params_cb=lambda busy: not busy):
            pass
        qtbot.wait(50)
    finally:
        worker.shutdown()
    assert np.array_equal(document.image, photo) and document.undo_label() == "Mask brush"
    assert document.preview is None and not controller.has_result
    assert said == [cancelled_message("OpenCV Telea")]


def test_a_fill_that_may_no_longer_be_used_is_dropped_at_once_and_save_writes_the_picture(
        qtbot, waiting, tmp_path):
    window = waiting
    changed = window.document.image.copy()
    changed[:4] = 0  # the picture changed (a face pasted back, say): the fill is outdated
    window.document.apply_result(changed, "Face", used_mask=np.zeros_like(window.document.mask))
    # dropped as the picture changed, not when Save comes: the canvas shows the document
    assert status(window) == "The picture changed while the engine ran; run the fill again"
    qtbot.waitUntil(lambda: window.canvas.stage_label == "", timeout=5000)
    assert_shows_the_document(window)
    qtbot.keyClick(window.canvas, Qt.Key_S, Qt.ControlModifier)
    assert status(window) == f"Saved {tmp_path / 'saved.png'}"
    assert np.array_equal(load_image(tmp_path / "saved.png").rgb, changed)
    assert window.document.undo_label() == "Face"
    assert_shows_the_document(window)
