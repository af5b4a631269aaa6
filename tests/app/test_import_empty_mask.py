"""*Import Mask* of a file with no hole (no white pixels) is refused as an empty sketch is,
and the mask painted is kept (it was cleared without a word)."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import Layer
from engines.fileio import save_image, save_mask
from tests.app.test_window import shown_window

H, W = 60, 80


@pytest.fixture
def window(qtbot, tmp_path):
    window = shown_window(qtbot, size=None)
    window.confirm = lambda title, text: False  # never block on a question
    window.ask_stop_runs = lambda text: True
    window.errors = []
    window.show_error = window.errors.append
    rng = np.random.default_rng(5)
    assert window.open_path(save_image(tmp_path / "photo.png",
                                       rng.integers(0, 255, (H, W, 3)).astype(np.uint8)))
    window.engine_panel.auto_run.setChecked(False)
    yield window
    window.worker.shutdown()


def test_an_empty_mask_file_is_refused_and_the_painted_mask_stays(window, tmp_path):
    document = window.document
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (20, 30), (60, 30), 6, 255)
    painted = document.mask.copy()
    steps = document.undo_label()
    save_mask(tmp_path / "mask_empty.png", np.zeros((H, W), np.uint8))
    assert not window.import_mask(tmp_path / "mask_empty.png")
    assert window.errors == ["mask_empty.png: the mask is empty (no white pixels); to remove "
                             "the mask, use Mask → Clear"]
    assert np.array_equal(document.mask, painted) and document.undo_label() == steps


def test_a_mask_file_with_a_hole_is_imported(window, tmp_path):
    hole = np.zeros((H, W), np.uint8)
    hole[10:20, 30:50] = 255
    assert window.import_mask(save_mask(tmp_path / "hole.png", hole))
    assert window.errors == [] and np.array_equal(window.document.mask, hole)
