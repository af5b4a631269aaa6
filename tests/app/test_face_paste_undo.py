"""The Faces panel's line about the last face pasted back follows the photo's history:
undoing the paste-back takes the line away, redoing it brings it back."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import Layer
from app.faces import PASTED_MESSAGE, face_from_box
from app.window import MainWindow
from engines.fileio import save_image

pytestmark = pytest.mark.timeout(120)


def paste_a_face(window: MainWindow) -> None:
    """Enter a face of the photo, darken part of its crop and paste it back."""
    assert window.enter_face(face_from_box((40, 20, 90, 80)))
    crop = window.document
    with crop.step("Paint"):
        crop.touch(Layer.IMAGE, crop._whole())
        crop.image[200:260, 200:260] = 0
    assert window.paste_face_back()
    assert window.faces.edit is None  # back in the photo


@pytest.fixture
def photo(window, tmp_path, textured) -> np.ndarray:
    assert window.open_path(save_image(tmp_path / "face.png", textured))
    return textured


def test_undoing_the_paste_back_takes_the_pasted_line_away_and_redo_brings_it_back(
        window, photo):
    paste_a_face(window)
    status = window.face_panel.status
    assert status.text() == PASTED_MESSAGE
    pasted = window.document.image.copy()
    assert not np.array_equal(pasted, photo)

    window.actions["undo"].trigger()
    assert np.array_equal(window.document.image, photo)
    assert status.text() == ""  # no longer claims the face was pasted
    assert window.statusBar().currentMessage() == "Undid Face edit"

    window.actions["redo"].trigger()
    assert np.array_equal(window.document.image, pasted)
    assert status.text() == PASTED_MESSAGE


def test_only_the_paste_back_step_moves_the_line(window, photo):
    """Undoing a later step leaves the line; undoing the paste-back under it takes it."""
    paste_a_face(window)
    document, status = window.document, window.face_panel.status
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (4, 4), (30, 4), 3, 255)
    window._update_actions()
    window.actions["undo"].trigger()  # the stroke
    assert status.text() == PASTED_MESSAGE
    window.actions["undo"].trigger()  # the paste-back
    assert status.text() == ""
    window.actions["redo"].trigger()
    assert status.text() == PASTED_MESSAGE
    window.actions["redo"].trigger()  # the stroke again
    assert status.text() == PASTED_MESSAGE


def test_undo_leaves_a_newer_line_of_the_panel_alone(window, photo):
    paste_a_face(window)
    window.face_panel.set_status("2 faces found")  # said after the paste-back
    window.actions["undo"].trigger()
    assert window.face_panel.status.text() == "2 faces found"
