"""Importing guidance (colour strokes, a sketch, a sampling area) while a fill runs: the fill
is dropped, as after Clear, and the status bar says both what was imported and that the fill
was dropped, in one message (the import's own sentence must not replace the other)."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE
from engines.fileio import save_colour_strokes, save_mask
from tests.app import test_undo_during_fill
from tests.app.test_undo_during_fill import (
    DROPPED,
    GREEN,
    PICTURE,
    H,
    W,
    collect_messages,
    draw_line,
    hole_values,
    paint_green,
    paint_hole,
    status,
    wait_entries,
    wait_idle,
)

pytestmark = pytest.mark.timeout(120)
window = test_undo_during_fill.window  # the fixture: fills held at a gate until released


def _strokes_file(path) -> None:
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[20:28, 16:48] = (*GREEN, 255)
    rgba[20:28, 16:48, 2] = 200  # not the strokes painted: the import changes the layer
    save_colour_strokes(path, rgba)


def _lines_file(path) -> None:
    lines = np.zeros((H, W), np.uint8)
    lines[10:38, 20] = 255  # not the line drawn (x = 32)
    save_mask(path, lines)


def _area_file(path) -> None:
    area = np.zeros((H, W), np.uint8)
    area[:, 58:] = 255
    save_mask(path, area)


def _area(window, kind: int) -> None:
    """A sampling area of ``kind`` that the file's replaces: the fill used it."""
    area = np.zeros((H, W), np.uint8)
    area[:, 54:] = 255
    window.document.replace_sampling_area(kind, area, "Sampling area")


@pytest.mark.parametrize("name, write, what, layer, before", [
    ("import_colour_strokes", _strokes_file, "colour strokes", "colour strokes",
     lambda qtbot, window: paint_green(qtbot, window)),
    ("import_sketch", _lines_file, "sketch", "sketch",
     lambda qtbot, window: draw_line(qtbot, window)),
    ("include", _area_file, "include area", "sampling area",
     lambda qtbot, window: _area(window, SAMPLE_INCLUDE)),
    ("exclude", _area_file, "exclude area", "sampling area",
     lambda qtbot, window: _area(window, SAMPLE_EXCLUDE)),
])
def test_an_import_while_the_fill_runs_drops_it_and_says_both(qtbot, window, tmp_path, name,
                                                               write, what, layer, before):
    window.engine_panel.auto_apply.setChecked(True)
    paint_hole(qtbot, window)
    before(qtbot, window)  # guidance the fill follows, which the import replaces
    path = tmp_path / "guide.png"
    write(path)
    said = collect_messages(window)
    window.actions["fill"].trigger()
    wait_entries(qtbot, 1)
    if name in ("include", "exclude"):
        assert window.import_sampling_area(name, path)
    else:
        assert getattr(window, name)(path)
    assert status(window) == (f"Imported the {what} from guide.png. The {layer} {DROPPED}")
    wait_idle(qtbot, window)
    assert window.document.undo_label() == f"Import {what}"  # no fill applied after it
    assert hole_values(window) == {(PICTURE,) * 3}
    assert said == []  # said once, in the status bar
