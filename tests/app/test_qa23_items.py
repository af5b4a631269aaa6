"""QA audit 23 (finding 1, the face edit's close question: test_qa23_face_close.py): the overlay shown by a tool is said after what
the status bar says, and a file cut short shows its hole (finding 5); Enter during a fill
stands for the Fill that replaces it, and Compare says it dropped it (finding 6); Shrink
says when it empties the mask, and an operation that did nothing leaves the value
remembered (finding 7); the close question names the sampling areas' submenu entries
(finding 8); ``--mask`` with a file cut short masks both (finding 3)."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Layer
from app.file_commands import discard_question
from engines.fileio import load_image, save_image, save_mask
from tests.app.test_qa21_window_items import (
    HeldGuided,
    paint_hole,
    press_enter,
    start_fill,
    status,
)
from tests.app.test_qa21_window_items import window as window

pytestmark = pytest.mark.timeout(120)


def _stroke(doc, layer: Layer, y: int, value=255) -> None:
    with doc.step("stroke"):
        doc.paint_segment(layer, (5, y), (40, y), 2, value)


# --- finding 8: the sampling areas' export entries --------------------------------------------
def test_the_sampling_areas_are_kept_by_their_submenu_entries():
    assert discard_question(False, ("include",)) == (
        "The include area you drew is not saved with the picture: export it (File → Export "
        "Sampling Area → Include Area…) to keep it. Discard it?")
    assert discard_question(True, ("include", "exclude")) == (
        "The picture has changes that are not saved. The include and exclude areas are not "
        "kept either (File → Export Sampling Area → Include Area… / Export Sampling Area → "
        "Exclude Area… keep them). Discard them?")


def test_both_sampling_entries_are_named_in_the_window(window):
    doc = window.document
    window.confirm = lambda title, text: asked.append(text) or False
    asked: list[str] = []
    _stroke(doc, Layer.SAMPLING, 10, SAMPLE_INCLUDE)
    _stroke(doc, Layer.SAMPLING, 30, SAMPLE_EXCLUDE)
    assert not window.confirm_discard_changes()
    assert "Export Sampling Area → Include Area… / Export Sampling Area → Exclude Area…" \
        in asked[0]


# --- finding 5: the overlay shown, and a file cut short ---------------------------------------
def test_the_overlay_shown_is_said_after_what_the_status_bar_says(window):
    window.statusBar().showMessage("Could not save x.png: disk full", 0)
    window.overlay_panel.checks[Layer.SKETCH].setChecked(False)
    window.actions["tool_sketch"].trigger()
    assert status(window) == ("Could not save x.png: disk full. Sketch overlay shown: it was "
                              "hidden (Overlays panel)")


def _cut_short(tmp_path, shape=(120, 160)):
    picture = np.random.default_rng(3).integers(0, 255, (*shape, 3), dtype=np.uint8)
    whole = save_image(tmp_path / "whole.png", picture)
    cut = tmp_path / "download.png"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    return cut


def test_a_file_cut_short_shows_its_hole_and_keeps_its_note(window, tmp_path):
    check = window.overlay_panel.checks[Layer.MASK]
    check.setChecked(False)  # as remembered from the last session
    window.select_tool("pan")
    assert window.open_path(_cut_short(tmp_path))
    assert window.document.mask[-1].all()
    assert check.isChecked() and window.canvas.style.visible[Layer.MASK]
    said = status(window)
    assert "cut short" in said and said.endswith(
        "Mask overlay shown: it was hidden (Overlays panel)")
    window.actions["tool_mask"].trigger()  # shown already: the note stays as it is
    assert status(window) == said


# --- finding 3: --mask with a file cut short ---------------------------------------------------
def test_a_mask_file_is_added_to_the_part_a_file_cut_short_lacks(window, tmp_path):
    cut = _cut_short(tmp_path)
    lacking = load_image(cut, cut_short_ok=True).missing > 0
    given = np.zeros((120, 160), np.uint8)
    given[10:20, 10:20] = 255  # above the part the file lacks
    assert not lacking[10:20, 10:20].any()
    mask_file = save_mask(tmp_path / "mask.png", given)
    assert window.open_path(cut, mask=mask_file)
    hole = window.document.mask > 0
    assert np.array_equal(hole, lacking | (given > 0))
    assert not window.document.modified
    said = status(window)
    assert "is masked as a hole to fill" in said
    assert said.endswith("The mask from mask.png is added to that hole")


# --- finding 6: Enter during a fill, then Fill again or Compare ------------------------------
def test_enter_stands_for_the_fill_that_replaces_the_running_one(qtbot, window):
    start_fill(qtbot, window)
    press_enter(window)
    window.actions["fill"].trigger()  # a new run replaces the one Enter was pressed in
    assert status(window) == ("Enter: the fill will be applied when it is done (Esc cancels "
                              "it)")
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        HeldGuided.gate.release()
        qtbot.wait(50)
        HeldGuided.gate.release()
    assert window.document.undo_label() == "Fill (Held guided)"
    assert not window.controller.has_result


def test_without_enter_a_new_fill_still_waits_for_it(qtbot, window):
    start_fill(qtbot, window)
    window.actions["fill"].trigger()
    with qtbot.waitSignal(window.controller.waitingChanged, timeout=30000):
        HeldGuided.gate.release()
        qtbot.wait(50)
        HeldGuided.gate.release()
    assert window.controller.has_result and window.document.undo_label() == "Mask brush"


@pytest.mark.parametrize("enter", [False, True])
def test_compare_says_it_dropped_the_fill_enter_asked_for(qtbot, window, monkeypatch, enter):
    monkeypatch.setattr("app.compare.ready_engines", lambda: ["telea"])
    start_fill(qtbot, window)
    if enter:
        press_enter(window)
    dialog = window.compare_engines()
    assert dialog is not None
    dropped = "Enter pressed during it applies nothing now"
    assert (dropped in dialog.heading.text()) is enter
    qtbot.waitUntil(lambda: "telea" in dialog.results or "telea" in dialog.reasons,
                    timeout=30000)
    assert (dropped in dialog.heading.text()) is enter  # still said once it is done
    HeldGuided.gate.release()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=30000)
    dialog.reject()
    assert window.document.undo_label() == "Mask brush"


# --- finding 7: Shrink to nothing, Feather of nothing ---------------------------------------
def test_shrink_says_it_emptied_the_mask(qtbot, window):
    paint_hole(qtbot, window)
    window.ask_pixels = lambda title, default=8: 50
    window.actions["shrink"].trigger()
    assert not window.document.mask.any()
    assert status(window) == "Shrank the mask by 50 px; the mask is now empty"
    window.undo()
    window.ask_pixels = lambda title, default=8: 1
    window.actions["shrink"].trigger()
    assert window.document.mask.any() and status(window) == "Shrank the mask by 1 px"


def test_an_operation_on_an_empty_mask_leaves_the_value_remembered(window):
    asked = []
    window.ask_pixels = lambda title, default=8: asked.append(default) or 50
    window.actions["feather"].trigger()
    assert status(window) == "The mask is empty: nothing to feather"
    window.actions["feather"].trigger()
    assert asked == [8, 8]  # the 50 did nothing: not offered again
