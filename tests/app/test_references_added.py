"""Adding reference photos in the editor: transparency carried to the fill, the patch size's
rule, files added twice, large photos, and the reading done off the GUI thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from app import file_commands
from app import references as references_module
from app.document import SAMPLE_EXCLUDE, Document, Layer
from app.qimages import rgb_pixmap
from app.references import THUMB
from engines import region as region_module
from engines.fileio import save_image
from tests.app.test_window import shown_window, thread_recorder


@pytest.fixture
def window(qtbot, tmp_path):
    window = patchmatch_window(qtbot, tmp_path)
    yield window
    window.worker.shutdown()


def patchmatch_window(qtbot, tmp_path):
    """The editor on a 48x64 picture with PatchMatch chosen, filling only when asked; the
    status bar's messages go to ``window.messages``. The caller shuts its worker down."""
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    window.engine_panel.auto_run.setChecked(False)
    rng = np.random.default_rng(4)
    save_image(tmp_path / "photo.png", rng.integers(20, 60, (48, 64, 3)).astype(np.uint8))
    assert window.open_path(tmp_path / "photo.png")
    assert window.engine_panel.select_engine("patchmatch")
    messages = []
    window.statusBar().messageChanged.connect(lambda text: text and messages.append(text))
    window.messages = messages
    return window


def _rgba(path, rgba):
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def test_transparent_pixels_of_a_reference_never_reach_the_fill(qtbot, window, tmp_path):
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., 1] = 255  # invisible green on the left
    rgba[:, 32:] = (200, 200, 200, 255)
    assert window.add_references([_rgba(tmp_path / "cut.png", rgba)]) == 1
    reference = window.document.references[0]
    assert reference.pixels.shape == (48, 64, 4) and reference.path == tmp_path / "cut.png"
    doc = window.document
    mask = np.zeros((48, 64), np.uint8)
    mask[18:30, 26:38] = 255
    doc.replace_layer(Layer.MASK, mask, "hole")
    doc.replace_sampling_area(SAMPLE_EXCLUDE, np.full((48, 64), 255, np.uint8), "all out")
    with qtbot.waitSignal(window.controller.applied, timeout=60000):
        window.actions["fill"].trigger()
    hole = doc.image[mask > 0].astype(int)
    assert (np.abs(hole - 200) <= 2).all()  # grey only


def test_references_without_room_for_a_patch_of_the_size_in_use_are_refused(window,
                                                                           tmp_path):
    save_image(tmp_path / "small.png", np.full((20, 20, 3), 200, np.uint8))
    save_image(tmp_path / "tiny.png", np.full((2, 2, 3), 200, np.uint8))
    _rgba(tmp_path / "clear.png", np.zeros((40, 40, 4), np.uint8))
    assert window.add_references([tmp_path / "tiny.png", tmp_path / "clear.png"]) == 0
    assert "tiny.png is 2x2 pixels, too small for one 7x7 patch" in window.last_error
    assert "clear.png has no fully opaque pixel" in window.last_error
    window.controller.settings.engine_options["patchmatch"] = {"patch_size": 31}
    assert window.add_references([tmp_path / "small.png"]) == 0
    assert "small.png is 20x20 pixels, too small for one 31x31 patch" in window.last_error
    window.controller.settings.engine_options["patchmatch"] = {"patch_size": 15}
    assert window.add_references([tmp_path / "small.png"]) == 1


def test_a_file_added_twice_is_kept_once_and_the_status_bar_says_so(window, tmp_path):
    save_image(tmp_path / "ref.png", np.full((40, 40, 3), 200, np.uint8))
    (tmp_path / "sub").mkdir()
    assert window.add_references([tmp_path / "ref.png"]) == 1
    assert window.add_references([tmp_path / "sub" / ".." / "ref.png",
                                  tmp_path / "ref.png"]) == 0
    assert [r.name for r in window.document.references] == ["ref.png"]
    assert window.reference_panel.list.count() == 1
    assert "ref.png is already a reference photo; not added again" in window.messages[-1]
    assert window.last_error == ""


def test_a_large_photo_is_read_and_thumbnailed_off_the_gui_thread_and_noted(
        window, tmp_path, monkeypatch):
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 10_000)
    save_image(tmp_path / "big.png", np.full((300, 400, 3), 90, np.uint8))
    threads = []
    recorded = thread_recorder(threads)

    monkeypatch.setattr(file_commands, "load_reference", recorded(file_commands.load_reference))
    monkeypatch.setattr(file_commands, "thumbnail_pixels",
                        recorded(file_commands.thumbnail_pixels))
    pixmaps = []  # what the panel turns into pixmaps on the GUI thread

    def pixmap(rgb, longest=None):
        pixmaps.append(rgb.shape)
        return rgb_pixmap(rgb, longest)

    monkeypatch.setattr(references_module, "rgb_pixmap", pixmap)
    assert window.add_references([tmp_path / "big.png"]) == 1
    assert len(threads) == 2 and threading.main_thread() not in threads
    assert pixmaps == [(THUMB * 3 // 4, THUMB, 3)]  # the worker's thumbnail, not the photo
    assert "big.png (400×300) is large: a fill searches it shrunk" in window.messages[-1]


def test_the_document_keeps_a_read_only_reference_without_copying_it():
    doc = Document(np.zeros((20, 30, 3), np.uint8))
    pixels = np.full((16, 16, 4), 255, np.uint8)
    pixels[0, 0, 3] = 0
    pixels.flags.writeable = False
    reference = doc.add_reference(pixels, "a.png")
    assert reference.pixels is pixels and reference.rgb.shape == (16, 16, 3)
    assert doc.build_request().exemplars[0].shape == (16, 16, 4)
    writable = np.full((16, 16, 3), 7, np.uint8)
    kept = doc.add_reference(writable, "b.png").pixels
    writable[:] = 0
    assert kept.all() and not kept.flags.writeable
