"""The References panel shows which photos a fill leaves out at the Patch size in use (too
small for one patch, :func:`engines.guidance.reference_problem`): greyed, with a tooltip
saying why and to what size the option must be lowered, the hint counting them; listed again
as the Patch size or the engine changes and as photos are added, keeping the selection."""

from __future__ import annotations

import numpy as np
import pytest
import qimage2ndarray
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette

from app.document import Reference
from app.references import THUMB, ReferencePanel
from engines.fileio import save_image
from engines.guidance import reference_patch_option
from tests.app.test_references_added import patchmatch_window

SMALL = ("small.png: 20×20\nLeft out of the fill at Patch size 31: it is 20x20 pixels, too "
         "small for one 31x31 patch, so nothing can be copied from it. Patch size 19 or less "
         "takes it.")


@pytest.fixture
def window(qtbot, tmp_path):
    """The editor on a 48x64 picture with Guided PatchMatch chosen at Patch size 15 and two
    reference photos added: ``small.png`` (20x20, red) and ``big.png`` (40x40, blue)."""
    window = patchmatch_window(qtbot, tmp_path)
    _patch_size(window, 15)
    save_image(tmp_path / "small.png", np.full((20, 20, 3), (220, 30, 30), np.uint8))
    save_image(tmp_path / "big.png", np.full((40, 40, 3), (30, 30, 220), np.uint8))
    assert window.add_references([tmp_path / "small.png", tmp_path / "big.png"]) == 2
    yield window
    window.worker.shutdown()


def _patch_size(window, side: int) -> None:
    """Set Guided PatchMatch's Patch size in the engine panel, as a user does."""
    window.engine_panel.options.fields["patch_size"].setValue(side)


def _grey_text(panel) -> QColor:
    """The colour of disabled text, which a left-out photo's name is shown in."""
    grey = panel.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    assert grey != panel.palette().color(QPalette.ColorRole.Text)
    return grey


def _icon_centre(item) -> tuple[int, int, int]:
    image = item.icon().pixmap(THUMB, THUMB).toImage()
    return tuple(int(v) for v in qimage2ndarray.rgb_view(image)[image.height() // 2,
                                                                image.width() // 2])


def test_raising_the_patch_size_shows_a_photo_too_small_as_left_out(window):
    panel = window.reference_panel
    assert panel.left_out_rows() == []
    assert panel.hint.text() == "2 reference photos searched by the fill."
    panel.list.item(1).setSelected(True)
    red = _icon_centre(panel.list.item(0))
    _patch_size(window, 31)
    assert panel.left_out_rows() == [0]
    small, big = panel.list.item(0), panel.list.item(1)
    assert small.toolTip() == SMALL and big.toolTip() == "big.png: 40×40"
    assert small.foreground().color() == _grey_text(panel)
    grey = _icon_centre(small)
    assert red[0] - red[2] > 150 and max(grey) - min(grey) < 20  # its red greyed
    assert panel.hint.text() == ("1 reference photo searched by the fill; 1 left out at Patch "
                                 "size 31 (greyed: too small for one patch; lower Patch size "
                                 "to use it).")
    assert [i.row() for i in panel.list.selectedIndexes()] == [1]  # the selection stays
    assert panel.list.count() == 2 and small.text() == "small.png"
    _patch_size(window, 19)  # what the tooltip said takes it
    assert panel.left_out_rows() == []
    assert small.toolTip() == "small.png: 20×20" and _icon_centre(small) == red
    assert small.data(Qt.ForegroundRole) is None  # the list's own colour again
    assert panel.hint.text() == "2 reference photos searched by the fill."


def test_the_defaults_button_and_another_engine_update_the_marks(window):
    panel = window.reference_panel
    _patch_size(window, 31)
    assert panel.left_out_rows() == [0]
    assert window.engine_panel.select_engine("telea")  # takes no reference photos
    assert panel.left_out_rows() == []
    assert panel.hint.text() == ("OpenCV Telea does not use reference photos; choose Guided "
                                 "PatchMatch.")
    assert window.engine_panel.select_engine("patchmatch")  # its Patch size kept: 31
    assert panel.left_out_rows() == [0] and panel.list.item(0).toolTip() == SMALL
    window.engine_panel.options.defaults_button.click()  # Patch size 7
    assert panel.left_out_rows() == []


def test_a_photo_added_is_listed_with_the_others_marks(window, tmp_path):
    panel = window.reference_panel
    _patch_size(window, 31)
    save_image(tmp_path / "wide.png", np.full((32, 60, 3), 90, np.uint8))
    assert window.add_references([tmp_path / "wide.png"]) == 1
    assert [panel.list.item(row).text() for row in range(3)] == ["small.png", "big.png",
                                                                  "wide.png"]
    assert panel.left_out_rows() == [0]
    assert panel.list.item(2).toolTip() == "wide.png: 60×32"
    assert panel.hint.text().startswith("2 reference photos searched by the fill; 1 left out")
    window.remove_references([0])
    assert panel.left_out_rows() == []
    assert panel.hint.text() == "2 reference photos searched by the fill."


def test_a_partly_transparent_photo_is_left_out_for_want_of_an_opaque_area(window, tmp_path):
    rgba = np.zeros((60, 60, 4), np.uint8)
    rgba[5:21, 5:21] = (200, 200, 200, 255)  # a 16x16 opaque square: patches up to 15
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    assert window.add_references([tmp_path / "cut.png"]) == 1
    _patch_size(window, 17)
    panel = window.reference_panel
    assert panel.left_out_rows() == [2]
    assert panel.list.item(2).toolTip() == (
        "cut.png: 60×60\nLeft out of the fill at Patch size 17: it has no fully opaque 17x17 "
        "area, so nothing can be copied from it (transparent and partly transparent pixels "
        "are never copied). Patch size 15 or less takes it.")


def test_the_panel_alone_marks_what_it_is_told_the_patch_size_is(qtbot):
    panel = ReferencePanel()
    qtbot.addWidget(panel)
    tiny = Reference("tiny.png", np.full((12, 12, 3), 90, np.uint8))
    patch = reference_patch_option("patchmatch", {"patch_size": 31})
    panel.show_references([tiny], engine_uses_them=True, engine_title="Guided PatchMatch",
                          patch=patch)
    assert panel.left_out_rows() == [0]
    assert panel.list.item(0).toolTip().endswith("Patch size 11 or less takes it.")
    assert panel.hint.text() == ("No reference photo searched by the fill; 1 left out at "
                                 "Patch size 31 (greyed: too small for one patch; lower Patch "
                                 "size to use it).")
    panel.show_references([tiny], engine_uses_them=True)  # no patch size told: none marked
    assert panel.left_out_rows() == []
