"""Colour strokes in the editor: a fill follows them (no note that they were ignored), clears
those drawn for its hole in its undo step, and *Edit → Clear Colour Strokes* removes them
all, undoably."""

from __future__ import annotations

import numpy as np
import pytest

from app import maskops
from app.controller import ignored_guidance_note
from app.document import Layer
from app.window import MainWindow
from engines.base import Guidance
from engines.fileio import save_image
from engines.guidance import GUIDANCE_REACH

H, W = 90, 120
RED = (230, 20, 20, 255)


@pytest.fixture
def window(qtbot, tmp_path):
    window = MainWindow()
    qtbot.addWidget(window)
    window.confirm = lambda title, text: False  # never block on a question
    window.show_error = lambda text: None
    window.show()
    qtbot.waitExposed(window)
    picture = tmp_path / "photo.png"
    grey = np.random.default_rng(2).integers(90, 130, (H, W)).astype(np.uint8)
    save_image(picture, np.repeat(grey[..., None], 3, axis=2))  # a black-and-white photo
    assert window.open_path(picture)
    window.engine_panel.auto_run.setChecked(False)
    yield window
    window.worker.shutdown()


def _strokes(window) -> np.ndarray:
    """A red stroke across the picture at y = 45 (through the hole of :func:`_hole` and far
    beyond it); returns the colour layer."""
    document = window.document
    with document.step("Colour brush"):
        document.paint_segment(Layer.COLOR, (5, 45), (115, 45), 4, RED)
    return document.layer(Layer.COLOR).copy()


def _hole(window) -> np.ndarray:
    """Paint a hole (x 45 to 75, y 25 to 65, around the stroke's middle) and choose OpenCV
    Telea; returns the hole, bool."""
    document = window.document
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (60, 25), (60, 65), 15, 255)
    window.engine_panel.select_engine("telea")
    return document.mask > 0


def test_the_edit_menu_offers_clear_colour_strokes(window):
    menu = next(action.menu() for action in window.menuBar().actions()
                if action.text().replace("&", "") == "Edit")
    texts = [action.text().replace("&", "") for action in menu.actions()]
    assert texts.index("Clear Colour Strokes") == texts.index("Clear Sketch") + 1
    assert window.actions["clear_color"].isEnabled()


def test_a_fill_follows_the_strokes_and_clears_those_of_its_hole_in_its_step(qtbot, window):
    document = window.document
    drawn = _strokes(window)
    hole = _hole(window)
    said = []
    window.controller.message.connect(said.append)
    with qtbot.waitSignal(window.controller.applied, timeout=20000):
        window.actions["fill"].trigger()
    assert said and "Applied OpenCV Telea" in said[-1] and "ignored" not in said[-1]
    stroke = drawn[..., 3] > 0
    filled = document.image[hole & stroke].astype(np.float64)
    assert (filled[:, 0] - filled[:, 1]).mean() > 60  # red, though the photo is grey
    # the strokes drawn for the hole (in it, or up to its edge) went; those beyond stay
    drawn_for = maskops.grow(hole.astype(np.uint8), GUIDANCE_REACH) > 0
    assert stroke[hole].any() and stroke[drawn_for & ~hole].any()
    layer = document.layer(Layer.COLOR)
    assert not layer[drawn_for].any()
    np.testing.assert_array_equal(layer[~drawn_for], drawn[~drawn_for])
    window.undo()  # the fill: picture, mask and colour strokes together
    np.testing.assert_array_equal(document.layer(Layer.COLOR), drawn)
    np.testing.assert_array_equal(document.mask > 0, hole)
    window.redo()
    assert not document.layer(Layer.COLOR)[drawn_for].any()


def test_strokes_painted_while_the_fill_runs_survive_its_apply(qtbot, window):
    document = window.document
    _strokes(window)
    hole = _hole(window)
    with qtbot.waitSignal(window.controller.applied, timeout=20000):
        window.actions["fill"].trigger()
        # the run has its snapshot; its result cannot arrive before the event loop runs
        with document.step("Colour brush"):
            document.paint_segment(Layer.COLOR, (60, 30), (60, 35), 2, RED)
    later = np.zeros((H, W), bool)
    later[30:36, 59:62] = True
    assert hole[later].all()
    assert (document.layer(Layer.COLOR)[later][:, 3] > 0).all()


def test_clearing_the_colour_strokes_is_one_undoable_step(window):
    drawn = _strokes(window)
    window.actions["clear_color"].trigger()
    document = window.document
    assert not document.layer(Layer.COLOR).any()
    assert document.undo_label() == "Clear colour strokes"
    assert window.statusBar().currentMessage() == (
        "Cleared the colour strokes; Ctrl+Z brings them back")
    window.undo()
    np.testing.assert_array_equal(document.layer(Layer.COLOR), drawn)
    window.redo()
    assert not document.layer(Layer.COLOR).any()
    steps = document.undo_label()
    window.actions["clear_color"].trigger()  # nothing left: no step, and the status bar says so
    assert window.statusBar().currentMessage() == "There are no colour strokes: nothing to clear"
    assert document.undo_label() == steps


def test_only_an_engine_without_colour_is_said_to_ignore_the_strokes():
    for name in ("patchmatch", "telea", "ns"):
        assert ignored_guidance_note(name, {Guidance.COLOR}) == ""
    note = ignored_guidance_note("lama", {Guidance.COLOR})
    # the engine named follows the most guidance, not the first registered (OpenCV Telea)
    assert note == "LaMa (big) ignored the colour strokes; Guided PatchMatch follows them"
