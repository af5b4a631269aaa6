"""What the editor says about huge reference photos: after a fill, which ones it searched
shrunk (as the CLI says it); when one is added, what a fill will do with it."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import Layer
from app.file_commands import large_reference_note
from engines import region as region_module
from engines.base import InpaintRequest
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.fileio import save_image
from engines.region import reference_size, shrunk_references
from tests.app.test_references_added import patchmatch_window


@pytest.fixture
def window(qtbot, tmp_path):
    """The editor on a 48x64 picture with PatchMatch chosen and a hole painted (the fill's
    region is the whole picture); the status bar's messages go to ``window.messages``."""
    window = patchmatch_window(qtbot, tmp_path)
    mask = np.zeros((48, 64), np.uint8)
    mask[18:30, 26:38] = 255
    window.document.replace_layer(Layer.MASK, mask, "hole")
    yield window
    window.worker.shutdown()


def _fill_message(qtbot, window) -> str:
    """What the status bar says once the fill is applied."""
    with qtbot.waitSignal(window.controller.message, timeout=60000,
                          check_params_cb=lambda text: text.startswith("Applied")):
        window.actions["fill"].trigger()
    return window.statusBar().currentMessage()


def test_a_fill_says_which_reference_it_searched_shrunk(qtbot, window, tmp_path,
                                                         monkeypatch):
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 1000)
    save_image(tmp_path / "big.png", np.full((300, 400, 3), 90, np.uint8))
    save_image(tmp_path / "small.png", np.full((20, 20, 3), 90, np.uint8))
    assert window.add_references([tmp_path / "small.png", tmp_path / "big.png"]) == 2
    message = _fill_message(qtbot, window)
    width, height = reference_size((300, 400, 3), (64, 48), 1.0)
    assert (width, height) < (400, 300)
    assert message.startswith("Applied Guided PatchMatch; Ctrl+Z undoes it. ")
    assert f"big.png (400x300) is searched at {width}x{height}: reference photos" in message
    assert "small.png" not in message


def test_a_fill_with_small_references_says_nothing_of_them(qtbot, window, tmp_path,
                                                           monkeypatch):
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 1000)
    save_image(tmp_path / "small.png", np.full((20, 20, 3), 90, np.uint8))
    assert window.add_references([tmp_path / "small.png"]) == 1
    assert _fill_message(qtbot, window) == "Applied Guided PatchMatch; Ctrl+Z undoes it"


def _searched(picture: tuple[int, int], reference: np.ndarray, hole: tuple[slice, slice]):
    """The size PatchMatch searches ``reference`` at to fill ``hole`` (margin 0) of a
    picture of ``picture`` ``(h, w)``; ``None`` when at its own size."""
    mask = np.zeros(picture, np.uint8)
    mask[hole] = 255
    request = InpaintRequest(np.zeros((*picture, 3), np.uint8), mask, crop_margin=0,
                             exemplars=(reference,))
    shrunk = shrunk_references(request, PatchMatchEngine())
    return shrunk[0][1:] if shrunk else None


def test_the_note_when_adding_gives_the_sizes_fills_search_at(monkeypatch):
    # a 200x300 picture: its smallest fill region (64x64) is under the floor's quarter
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 20_000)
    speck, everything = (slice(100, 102), slice(150, 152)), (slice(None), slice(None))
    huge = np.zeros((600, 800, 3), np.uint8)  # over 4 times the picture: always shrunk
    least, most = _searched((200, 300), huge, speck), _searched((200, 300), huge, everything)
    assert least < most < (800, 600)
    assert large_reference_note("huge.png", huge.shape, (300, 200)) == (
        f"huge.png (800×600) is large: a fill searches it shrunk, to between "
        f"{least[0]}×{least[1]} and {most[0]}×{most[1]} depending on the area filled, "
        "to stay quick")
    large = np.zeros((300, 400, 3), np.uint8)  # under 4 times: shrunk for smaller areas
    least = _searched((200, 300), large, speck)
    assert least < (400, 300) and _searched((200, 300), large, everything) is None
    # 120000 pixels: a region of a quarter of that or more searches it as it is; the
    # region is the hole with MIN_CROP_CONTEXT more on each side, borrowed inward at the
    # picture's edge (150x190 -> 182x222 = 40404, 120x150 -> 152x182 = 27664)
    assert _searched((200, 300), large, (slice(0, 150), slice(0, 190))) is None
    assert _searched((200, 300), large, (slice(0, 120), slice(0, 150))) is not None
    assert large_reference_note("large.png", large.shape, (300, 200)) == (
        f"large.png (400×300) is large: a fill of an area under 0.03 megapixels searches it "
        f"shrunk (to {least[0]}×{least[1]} at the least), to stay quick")
    assert large_reference_note("fits.png", (100, 200, 3), (300, 200)) == ""


def test_adding_a_large_reference_says_when_fills_shrink_it(window, tmp_path, monkeypatch):
    monkeypatch.setattr(region_module, "REFERENCE_PIXELS_FLOOR", 1000)
    save_image(tmp_path / "large.png", np.full((60, 80, 3), 90, np.uint8))
    assert window.add_references([tmp_path / "large.png"]) == 1
    width, height = reference_size((60, 80, 3), (1, 1), 1.0)
    assert (f"large.png (80×60) is large: a fill of an area under 0.0012 megapixels "
            f"searches it shrunk (to {width}×{height} at the least)") in window.messages[-1]
