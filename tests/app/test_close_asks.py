"""Closing the editor while something runs asks one question first, naming what runs (a fill,
the label map, face or text detection, a folder run, a download of weights): "Keep running"
leaves it all going, "Stop and quit" cancels it; nothing running, nothing asked; a run that
ends while the question shows lets the closing go on."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app import faces, model_dialogs, semantic, watermark_dialogs
from app.document import Layer
from app.faces import FaceSession
from app.model_dialogs import DownloadDialog
from app.window import MainWindow
from engines import download, registry
from engines.base import Cancelled, CancelToken, Engine, Region, RegionStage
from engines.fileio import encode_image, write_atomic
from tests.app.test_close_during_folder_runs import SlowEngine, start_run

pytestmark = pytest.mark.timeout(120)
SIZE = (24, 32)  # height, width


class Gate:
    """Holds a background function until :meth:`release`, or until its cancel token is
    cancelled (then it raises :class:`Cancelled`); says whether it was cancelled."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self.cancelled = threading.Event()

    def hold(self, cancel: CancelToken | None = None) -> None:
        self.entered.set()
        while not self.released.wait(0.01):
            if cancel is not None and cancel.cancelled:
                self.cancelled.set()
                raise Cancelled()

    def release(self) -> None:
        self.released.set()


class HeldFill(Engine):
    """Shows a coarse stage half way, then waits at its gate (:attr:`gate`) before the
    final fill (grey)."""

    name = "qa-held-fill"
    title = "Held fill"
    gate = Gate()

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        yield RegionStage("coarse", region.image.copy(), 0.5)
        self.gate.hold(cancel)
        image = region.image.copy()
        image[region.mask >= 128] = 128
        yield RegionStage("refined", image, 1.0, final=True)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """A window on a small picture with a mask, filling with :class:`HeldFill`; it answers
    the unsaved-changes question with Discard and records every question's title."""
    monkeypatch.setitem(registry._ENGINES, HeldFill.name, HeldFill)
    monkeypatch.setattr(HeldFill, "gate", Gate())
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.confirmed = []
    window.confirm = lambda title, text: window.confirmed.append(title) or True
    photo = tmp_path / "photo.png"
    write_atomic(photo, encode_image(np.full((*SIZE, 3), 90, np.uint8), ".png"))
    assert window.open_path(photo)
    window.engine_panel.auto_run.setChecked(False)
    mask = np.zeros(SIZE, np.uint8)
    mask[5:15, 5:20] = 255
    window.document.replace_layer(Layer.MASK, mask, "mask")
    assert window.engine_panel.select_engine(HeldFill.name)
    yield window
    HeldFill.gate.release()  # nothing left held for the teardown
    window.worker.shutdown()


def start_fill(qtbot, window) -> None:
    with qtbot.waitSignal(window.controller.previewChanged, timeout=30000):
        assert window.controller.run() is not None
    assert HeldFill.gate.entered.wait(30), window.last_error


def answering(window, answer: bool) -> list[str]:
    """Answer the stop question with ``answer`` from now on; the texts asked, in order."""
    asked: list[str] = []
    window.ask_stop_runs = lambda text: asked.append(text) or answer
    return asked


def test_closing_during_a_fill_asks_and_keep_running_keeps_it(qtbot, window):
    start_fill(qtbot, window)
    asked = answering(window, False)
    assert not window.close()
    assert asked == ["A fill is running (Held fill, 50 % done). Stop it and quit?"]
    assert window.isVisible() and window.controller.busy
    assert window.confirmed == []  # not asked about unsaved changes as well
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        HeldFill.gate.release()  # the fill went on to its end
    assert not HeldFill.gate.cancelled.is_set()
    assert window.document.image[10, 10].tolist() == [128, 128, 128]
    asked.clear()
    assert window.close() and asked == []  # nothing runs now: no question
    assert window.confirmed == ["Unsaved changes"]


def test_stop_and_quit_closes_and_cancels_the_fill(qtbot, window):
    original = window.document.image.copy()
    start_fill(qtbot, window)
    asked = answering(window, True)
    assert window.close()
    assert len(asked) == 1 and not window.isVisible()
    assert HeldFill.gate.cancelled.is_set()  # cancelled, and ended before close returned
    assert np.array_equal(window.document.image, original)  # nothing was applied


def test_no_question_when_nothing_runs(qtbot, window):
    asked = answering(window, False)
    assert window.close() and asked == [] and not window.isVisible()


def test_one_question_names_every_run_of_the_editor(qtbot, window, monkeypatch):
    gates = {name: Gate() for name in ("map", "faces", "text")}

    def held_parse(parser, image, cancel, progress):
        gates["map"].hold(cancel)
        return np.zeros(image.shape[:2], np.uint8)

    def held_detect(image, cancel):
        gates["faces"].hold(cancel)
        return []

    def held_text(image):  # the detector takes no cancel token: cancelled after it
        gates["text"].hold()
        return np.zeros(image.shape[:2], np.uint8)

    monkeypatch.setattr(semantic, "_parse", held_parse)
    monkeypatch.setattr(FaceSession, "detector_ready", staticmethod(lambda: True))
    monkeypatch.setattr(faces, "detect", held_detect)
    monkeypatch.setattr(watermark_dialogs, "detect_text_mask", held_text)
    start_fill(qtbot, window)
    assert window.compute_map("regions") is not None
    assert window.faces.detect() is not None
    window.actions["detect_text"].trigger()
    assert all(gate.entered.wait(30) for gate in gates.values())
    clients = (window.controller, window.semantic, window.faces, window.text_masks)
    asked = answering(window, False)
    assert not window.close()
    assert asked == ["A fill is running (Held fill, 50 % done). The label map is being "
                     "computed. Faces are being detected. Text and logos are being detected. "
                     "Stop them and quit?"]
    assert all(client.busy for client in clients)

    def stop(text: str) -> bool:  # and let the text detector return, to be cancelled
        asked.append(text)
        gates["text"].release()
        return True

    window.ask_stop_runs = stop
    assert window.close() and len(asked) == 2
    assert HeldFill.gate.cancelled.is_set()
    assert gates["map"].cancelled.is_set() and gates["faces"].cancelled.is_set()
    qtbot.waitUntil(lambda: not any(client.busy for client in clients), timeout=10000)
    assert not window.document.mask[0].any() and window.document.mask[10, 10] == 255
    assert window.document.undo_label() == "mask"  # no map, no text proposal, no fill


def test_a_folder_run_and_a_fill_are_one_question(qtbot, window, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(6):
        write_atomic(folder / f"p{index}.png",
                     encode_image(np.full((*SIZE, 3), 40 * index, np.uint8), ".png"))
    window.create_engine = lambda name: SlowEngine()
    dialog = start_run(qtbot, window, folder)
    start_fill(qtbot, window)
    folder_worker = dialog.worker
    asked = answering(window, True)
    assert window.close()
    [text] = asked
    assert re.fullmatch(r"A folder run is in progress \([1-6] of 6 done\)\. A fill is running "
                        r"\(Held fill, 50 % done\)\. Stop them and quit\?", text), text
    assert not folder_worker.busy and HeldFill.gate.cancelled.is_set()  # both stopped


def test_a_download_of_weights_is_asked_about_too(qtbot, window, make_spec, monkeypatch):
    spec = make_spec(urls=("http://127.0.0.1:9/net.pth",), size=1000)
    gate = Gate()

    def held_download(weights_id, progress, cancel, force=False, waiting=None):
        progress(400, 1000)
        gate.hold(cancel)

    monkeypatch.setattr(model_dialogs, "PROGRESS_INTERVAL_S", 0.0)
    monkeypatch.setattr(download, "download", held_download)
    transfer = DownloadDialog([spec.id], window)
    transfer.start()
    assert gate.entered.wait(30)
    qtbot.waitUntil(lambda: transfer.bar.value() == 400, timeout=10000)
    asked = answering(window, False)
    assert not window.close() and transfer.running
    assert asked == ["A download of weights is in progress (40 % done). Stop it and quit?"]
    window.ask_stop_runs = lambda text: True
    assert window.close()
    assert gate.cancelled.is_set()


def test_the_question_closes_itself_when_the_runs_end(qtbot, window):
    """Not answered: once the fill ends, closing goes on (here to the question about the
    fill applied meanwhile, answered Discard)."""
    start_fill(qtbot, window)
    seen = {}

    def look_then_finish() -> None:
        box = next(w for w in QApplication.topLevelWidgets()
                   if isinstance(w, QMessageBox) and w.isVisible())
        seen["text"] = box.text()
        seen["buttons"] = sorted(button.text() for button in box.buttons())
        seen["default"] = box.defaultButton().text()
        HeldFill.gate.release()

    QTimer.singleShot(100, look_then_finish)
    assert window.close()
    assert seen == {"text": "A fill is running (Held fill, 50 % done). Stop it and quit?",
                    "buttons": ["Keep running", "Stop and quit"], "default": "Keep running"}
    assert not HeldFill.gate.cancelled.is_set()  # it ended by itself
    assert window.confirmed == ["Unsaved changes"]
    assert window.document.image[10, 10].tolist() == [128, 128, 128]
