"""Closing the editor while a folder dialog's job runs asks first ("Stop and quit" / "Keep
running", Esc keeps it), and on stop waits for the picture in hand, leaving only whole
results; the folder fields keep a folder name's own trailing spaces."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.document import Layer
from app.watermark_dialogs import FolderField, FolderRunDialog
from app.window import MainWindow
from engines.base import CancelToken, Engine, Region, RegionStage
from engines.fileio import encode_image, list_images, read_rgb, write_atomic

pytestmark = pytest.mark.timeout(120)
PICTURES = 6
SIZE = (24, 32)  # height, width


class SlowEngine(Engine):
    """Fills with grey after about 0.4 s, checking its cancel token meanwhile."""

    name = "qa-slow-fill"

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        for _ in range(40):
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        image = region.image.copy()
        image[region.mask >= 128] = 128
        yield RegionStage("refined", image, 1.0, final=True)


@pytest.fixture
def window(qtbot, tmp_path):
    """A window on a picture of the folder's size with a mask; folder runs use SlowEngine."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.confirm = lambda title, text: True  # the unsaved-changes question
    photo = tmp_path / "photo.png"
    write_atomic(photo, encode_image(np.full((*SIZE, 3), 90, np.uint8), ".png"))
    assert window.open_path(photo)
    mask = np.zeros(SIZE, np.uint8)
    mask[5:15, 5:20] = 255
    window.document.replace_layer(Layer.MASK, mask, "mask")
    window.create_engine = lambda name: SlowEngine()
    yield window
    for dialog in window.findChildren(FolderRunDialog):  # no run left for the teardown
        dialog.cancel()
        qtbot.waitUntil(lambda dialog=dialog: not dialog.running, timeout=30000)
    window.worker.shutdown()


@pytest.fixture
def folder(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    (tmp_path / "in").mkdir()
    for index in range(PICTURES):
        pixels = rng.integers(0, 255, (*SIZE, 3), np.uint8)
        write_atomic(tmp_path / "in" / f"p{index}.png", encode_image(pixels, ".png"))
    return tmp_path / "in"


def start_run(qtbot, window, folder):
    dialog = window.apply_mask_to_folder()
    dialog.input.set_path(folder)
    dialog.output.set_path(folder.parent / "out")
    assert dialog.run_apply() is not None
    out = folder.parent / "out"
    qtbot.waitUntil(lambda: out.is_dir() and len(list_images(out)) >= 1, timeout=30000)
    return dialog


def test_closing_during_a_folder_run_asks_and_keep_running_keeps_it(qtbot, window, folder):
    dialog = start_run(qtbot, window, folder)
    asked = []
    window.ask_stop_runs = lambda text: asked.append(text) or False
    assert not window.close()
    [text] = asked
    assert re.fullmatch(rf"A folder run is in progress \([1-{PICTURES}] of {PICTURES} done\)\. "
                        r"Stop it and quit\?", text), text
    assert window.isVisible() and dialog.running
    qtbot.waitUntil(lambda: not dialog.running, timeout=30000)  # it went on to the end
    assert len(list_images(folder.parent / "out")) == PICTURES
    asked.clear()
    assert window.close() and not asked  # nothing running: no question


def test_stop_and_quit_cancels_the_run_and_waits_for_the_picture_in_hand(qtbot, window,
                                                                         folder):
    dialog = start_run(qtbot, window, folder)
    worker = dialog.worker
    window.ask_stop_runs = lambda text: True
    assert window.close()
    assert not window.isVisible() and not dialog.isVisible()
    assert not worker.busy  # the job ended before close returned
    out = folder.parent / "out"
    written = sorted(out.iterdir())
    assert 1 <= len(written) < PICTURES  # stopped, not run to the end
    assert all(not path.name.startswith(".") for path in written)  # no half-written file
    for path in written:
        assert read_rgb(path).shape == (*SIZE, 3)


def test_a_run_already_cancelled_is_not_asked_about_but_waited_for(qtbot, window, folder):
    dialog = start_run(qtbot, window, folder)
    worker = dialog.worker
    dialog.cancel()
    asked = []
    window.ask_stop_runs = lambda text: asked.append(text) or False
    assert window.close() and not asked
    assert not worker.busy


def test_a_watermark_estimate_is_asked_about_too(qtbot, window, folder):
    dialog = window.clear_watermark()
    started, stopped = threading.Event(), threading.Event()

    def estimate(cancel, progress):
        started.set()
        while not cancel.cancelled:
            time.sleep(0.01)
        stopped.set()

    dialog.run_job("Estimating the watermark", estimate, lambda result: None)
    assert started.wait(10)
    asked = []
    window.ask_stop_runs = lambda text: asked.append(text) or True
    assert window.close()
    assert asked == ["A watermark estimate is in progress (0 % done). Stop it and quit?"]
    assert stopped.is_set()


def test_the_question_offers_stop_and_quit_and_escape_keeps_running(qtbot, window):
    seen = {}

    def answer() -> None:
        box = next(w for w in QApplication.topLevelWidgets()
                   if isinstance(w, QMessageBox) and w.isVisible())
        seen["buttons"] = sorted(button.text() for button in box.buttons())
        seen["default"] = box.defaultButton().text()
        qtbot.keyClick(box, Qt.Key_Escape)

    QTimer.singleShot(0, answer)
    assert window.ask_stop_runs("A folder run is in progress (1 of 3 done). Stop it and quit?") \
        is False
    assert seen == {"buttons": ["Keep running", "Stop and quit"], "default": "Keep running"}


def test_a_folder_field_keeps_the_spaces_of_a_folder_named_with_them(qtbot, tmp_path):
    spaced, plain = tmp_path / "in ", tmp_path / "plain"
    spaced.mkdir()
    plain.mkdir()
    field = FolderField("x")
    qtbot.addWidget(field)
    field.set_path(f"{spaced}")
    assert field.path() == spaced and field.path().is_dir()
    field.edit.setText(f"{spaced}\n")  # pasted with a line break
    assert field.path() == spaced
    field.edit.setText(f"  {plain}  ")  # spaces typed by accident around an existing folder
    assert field.path() == plain
    field.edit.setText(f"{tmp_path / 'new'} ")  # a folder to create: no trailing space
    assert field.path() == tmp_path / "new"
    field.edit.setText(" \t\n")
    assert field.path() is None
