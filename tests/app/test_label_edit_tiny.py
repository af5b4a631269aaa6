"""A label edit on a tiny picture (4x4, 1x5) is filled: its hole grows by no more than
leaves pixels around it to copy from (QA audit 25, F7: grown by the usual few pixels, the
hole was the whole picture, and every label edit there ended in "no source left"), and
Guided PatchMatch, which the edit selects, fills it at its default patch size with the
largest patch that has a source (QA audit 27, F2: the 7x7 patch never fit, "no source
left")."""

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


def _fill(qtbot, window) -> str:
    """Run the fill (its result is applied at once: auto-apply); the status bar's last
    message."""
    messages = []
    window.statusBar().messageChanged.connect(lambda text: text and messages.append(text))
    window.actions["fill"].trigger()
    qtbot.waitUntil(lambda: any(text.startswith(("Applied", "Error")) for text in messages),
                    timeout=60000)
    return messages[-1]


@pytest.mark.parametrize("pixel, engine, used", [((1, 1), "telea", None),
                                                 ((1, 1), "patchmatch", 1),
                                                 ((3, 0), "patchmatch", 1)])
def test_a_pixel_repainted_on_a_4x4_picture_is_filled_from_the_pixels_around(
        qtbot, window, tmp_path, pixel, engine, used):
    """Filled with OpenCV Telea, or with Guided PatchMatch at its default patch size (the
    engine a label edit selects): the 4x4 picture holds no 7x7 patch, so the fill uses the
    largest that has a source for every label of the hole (QA audit 27, F2; QA audit 30,
    F2): 1x1 here, as the one 3x3 patch clear of the hole beside the corner is centred on
    red, and the hole's green pixels keep their label; and it says so."""
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
    if engine == "patchmatch":  # the edit selected it, with its default patch size
        assert window.engine_panel.engine.currentData() == "patchmatch"
        assert window.engine_panel.options.fields["patch_size"].value() == 7
    assert window.engine_panel.select_engine(engine)
    message = _fill(qtbot, window)
    assert message.startswith("Applied"), message
    image = doc.image
    assert np.array_equal(image[~hole], picture[~hole])  # the sources are unchanged
    assert not np.array_equal(image[hole], picture[hole])  # the hole was filled
    if engine == "patchmatch":  # following the new label: red, as the pixels labelled so
        assert (image[pixel] == picture[0, 3]).all()
        kept_green = hole & (edited == 4)  # the margin around the edit, still labelled green
        assert (image[kept_green] == picture[0, 0]).all()
        assert (f"the fill used {used}x{used} patches instead of the patch size (7x7): the "
                "picture is 4x4 pixels") in message.lower(), message
        assert "did not follow" not in message.lower(), message


def test_a_pixel_repainted_on_a_1x5_picture_follows_its_new_label(qtbot, window, tmp_path):
    """A picture 1 pixel high holds no patch but a 1x1 one: the label edit's fill (Guided
    PatchMatch, default settings) copies a pixel of the new label."""
    picture = np.zeros((1, 5, 3), np.uint8)
    picture[0, :2] = (20, 90, 30)
    picture[0, 2:] = (200, 40, 40)
    assert window.open_path(save_image(tmp_path / "strip.png", picture))
    doc = window.document
    labels = np.array([[4, 4, 12, 12, 12]], np.uint8)
    cv2.imwrite(str(tmp_path / "map.png"), labels)
    assert window.import_labels(tmp_path / "map.png")
    edited = labels.copy()
    edited[0, 1] = 12
    cv2.imwrite(str(tmp_path / "edited.png"), edited)
    assert window.import_labels(tmp_path / "edited.png")
    assert np.array_equal(doc.mask > 0, [[False, True, False, False, False]])
    assert window.engine_panel.engine.currentData() == "patchmatch"
    message = _fill(qtbot, window)
    assert message.startswith("Applied"), message
    assert "Telea" not in message
    assert "1x1 patches" in message and "5x1 pixels" in message, message
    expected = picture.copy()
    expected[0, 1] = picture[0, 2]  # red, as its new label
    assert np.array_equal(doc.image, expected)


@pytest.mark.parametrize("shape, margin", [((4, 4), 1), ((2, 2), 0), ((1, 5), 0),
                                           ((4, 3), 1), ((16, 40), 7), ((17, 17), 8),
                                           ((427, 640), 8)])
def test_the_holes_growth_is_capped_on_tiny_pictures_only(shape, margin):
    assert label_hole_margin(*shape) == margin
    assert Document(np.zeros((*shape, 3), np.uint8)).label_hole_margin == margin
