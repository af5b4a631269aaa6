"""An export with nothing to write says so first: no file dialog opens and no "Replace?" is
asked (Export Label Map without a map, the mask, the sketch, colour strokes and sampling
areas when empty); nothing is written."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import SAMPLE_INCLUDE, Layer
from engines.fileio import load_mask, save_image
from tests.app.test_window import shown_window


@pytest.fixture
def window(qtbot, tmp_path):
    """The editor on a 40x60 ``photo.png`` with a hole and nothing else drawn; file dialogs
    go to ``window.dialogs`` (answered ``tmp_path / "out"``, a name completed to the
    existing ``out.png``), questions to ``window.questions`` (answered yes), errors to
    ``window.errors``."""
    window = shown_window(qtbot)
    window.engine_panel.auto_run.setChecked(False)
    save_image(tmp_path / "photo.png", np.full((40, 60, 3), 90, np.uint8))
    assert window.open_path(tmp_path / "photo.png")
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (10, 10), (20, 20), 4, 255)
    (tmp_path / "out.png").write_bytes(b"kept")
    window.dialogs, window.questions, window.errors = [], [], []
    window.ask_save_path = lambda title, *args: window.dialogs.append(title) or str(
        tmp_path / "out")
    window.confirm = lambda title, text: window.questions.append(text) or True
    window.show_error = window.errors.append
    yield window
    window.worker.shutdown()


NO_MAP = "There is no label map to export: compute or import one first"


def test_export_label_map_without_a_map_says_so_before_any_dialog(window, tmp_path):
    assert not window.export_labels()
    assert window.statusBar().currentMessage() == NO_MAP
    assert window.dialogs == [] and window.questions == [] and window.errors == []
    # a name given, completed to a file that exists: not asked about either
    assert not window.export_labels(tmp_path / "out", overwrite=True)
    assert window.questions == [] and (tmp_path / "out.png").read_bytes() == b"kept"


def test_an_all_unlabelled_map_is_no_map_to_export(window, tmp_path):
    window.document.replace_label_map(np.full((40, 60), 255, np.uint8), None, "map")
    assert not window.export_labels()
    assert window.statusBar().currentMessage() == NO_MAP and window.dialogs == []
    window.document.replace_label_map(np.full((40, 60), 4, np.uint8), None, "map")
    assert window.export_labels()  # with labels: the dialog, then the question
    assert window.dialogs == ["Export Label Map"]
    assert window.questions == ["out.png already exists. Replace it?"]
    assert (tmp_path / "out.png").read_bytes() != b"kept"


@pytest.mark.parametrize("export, said", [
    ("export_sketch", "The sketch is empty: nothing to export"),
    ("export_colour_strokes", "There are no colour strokes: nothing to export"),
])
def test_an_empty_layer_says_so_before_any_dialog(window, tmp_path, export, said):
    assert not getattr(window, export)()
    assert not getattr(window, export)(tmp_path / "out", overwrite=True)
    assert window.statusBar().currentMessage() == said
    assert window.dialogs == [] and window.questions == []
    assert (tmp_path / "out.png").read_bytes() == b"kept"


@pytest.mark.parametrize("kind", ["include", "exclude"])
def test_an_empty_sampling_area_says_so_before_any_dialog(window, tmp_path, kind):
    if kind == "exclude":  # an include area drawn is not the exclude area
        window.document.replace_sampling_area(SAMPLE_INCLUDE, np.full((40, 60), 255,
                                                                      np.uint8), "include")
    assert not window.export_sampling_area(kind)
    assert window.statusBar().currentMessage() == \
        f"The {kind} area is empty: nothing to export"
    assert window.dialogs == [] and window.questions == []
    assert (tmp_path / "out.png").read_bytes() == b"kept"


def test_an_empty_mask_says_so_before_any_dialog(window, tmp_path):
    window.document.replace_layer(Layer.MASK, np.zeros((40, 60), np.uint8), "Clear mask")
    assert not window.export_mask()
    assert not window.export_mask(tmp_path / "out", overwrite=True)
    assert not window.export_mask(tmp_path / "new.png")
    assert window.statusBar().currentMessage() == "The mask is empty: nothing to export"
    assert window.dialogs == [] and window.questions == [] and window.errors == []
    assert (tmp_path / "out.png").read_bytes() == b"kept"
    assert not (tmp_path / "new.png").exists()


def test_a_mask_of_only_faint_values_is_empty_as_a_fill_sees_it(window, tmp_path):
    faint = np.zeros((40, 60), np.uint8)
    faint[5:30, 5:50] = 127  # under the hole threshold (128): no pixel to fill
    window.document.replace_layer(Layer.MASK, faint, "Faint mask")
    assert window.document.hole_box() is None
    assert not window.export_mask(tmp_path / "new.png")
    assert window.statusBar().currentMessage() == "The mask is empty: nothing to export"
    assert not (tmp_path / "new.png").exists()
    faint[20, 20] = 128  # one pixel in the hole: exported
    window.document.replace_layer(Layer.MASK, faint, "One hole pixel")
    assert window.export_mask(tmp_path / "new.png")
    assert (tmp_path / "new.png").exists()


def test_a_mask_never_painted_is_empty_too_and_stays_unmade(window, tmp_path):
    assert window.open_path(save_image(tmp_path / "other.png",
                                       np.full((40, 60, 3), 30, np.uint8)))
    assert not window.export_mask()
    assert window.statusBar().currentMessage() == "The mask is empty: nothing to export"
    assert window.dialogs == [] and not window.document.has_layer(Layer.MASK)


def test_a_mask_with_a_hole_is_exported_after_the_dialog(window, tmp_path):
    assert window.export_mask()
    assert window.dialogs == ["Export Mask"]
    assert window.questions == ["out.png already exists. Replace it?"]
    assert np.array_equal(load_mask(tmp_path / "out.png"), window.document.mask)
    assert window.statusBar().currentMessage() == f"Mask saved to {tmp_path / 'out.png'}"
