"""A label edit on a tiny picture (4x4, 1x5) is filled: its hole grows by no more than
leaves pixels around it to copy from (QA audit 25, F7: grown by the usual few pixels, the
hole was the whole picture, and every label edit there ended in "no source left")."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.document import Document, label_hole_margin
from engines.fileio import save_image
from tests.app.test_window import shown_window


@pytest.fixture
def window(qtbot):
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    window.engine_panel.auto_run.setChecked(False)
    window.ask_stop_runs = lambda text: True  # closing may find a fill running
    yield window
    window.worker.shutdown()


@pytest.mark.parametrize("pixel, engine", [((1, 1), "telea"), ((3, 0), "patchmatch")])
def test_a_pixel_repainted_on_a_4x4_picture_is_filled_from_the_pixels_around(
        qtbot, window, tmp_path, pixel, engine):
    """Filled with OpenCV Telea, or with Guided PatchMatch (the engine a label edit selects;
    3x3 patches) where its patch still fits outside the hole."""
    picture = np.zeros((4, 4, 3), np.uint8)
    picture[:, :2] = (20, 90, 30)  # left half green, right half red: labels 4 and 12
    picture[:, 2:] = (200, 40, 40)
    assert window.open_path(save_image(tmp_path / "tiny.png", picture))
    doc = window.document
    labels = np.full((4, 4), 12, np.uint8)
    labels[:, :2] = 4
    cv2.imwrite(str(tmp_path / "map.png"), labels)
    assert window.import_labels(tmp_path / "map.png")
    edited = labels.copy()
    edited[pixel] = 12  # one green pixel repainted as red
    cv2.imwrite(str(tmp_path / "edited.png"), edited)
    assert window.import_labels(tmp_path / "edited.png")
    hole = doc.mask > 0
    assert hole[pixel] and 1 < hole.sum() <= 5  # grown by a pixel, not over the picture
    assert window.engine_panel.select_engine(engine)
    if engine == "patchmatch":
        window.engine_panel.options.fields["patch_size"].setValue(3)
    messages = []
    window.statusBar().messageChanged.connect(lambda text: text and messages.append(text))
    window.actions["fill"].trigger()  # a result is applied at once (auto-apply)
    qtbot.waitUntil(lambda: any(text.startswith(("Applied", "Error")) for text in messages),
                    timeout=60000)
    assert messages[-1].startswith("Applied"), messages
    image = doc.image
    assert np.array_equal(image[~hole], picture[~hole])  # the sources are unchanged
    assert not np.array_equal(image[hole], picture[hole])  # the hole was filled
    if engine == "patchmatch":  # following the new label: red, as the pixels labelled so
        assert (image[pixel] == picture[0, 3]).all()


@pytest.mark.parametrize("shape, margin", [((4, 4), 1), ((2, 2), 0), ((1, 5), 0),
                                           ((4, 3), 1), ((16, 40), 7), ((17, 17), 8),
                                           ((427, 640), 8)])
def test_the_holes_growth_is_capped_on_tiny_pictures_only(shape, margin):
    assert label_hole_margin(*shape) == margin
    assert Document(np.zeros((*shape, 3), np.uint8)).label_hole_margin == margin
