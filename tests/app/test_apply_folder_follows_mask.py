"""Mask > Apply to Folder... applies the editor's mask as it is when Apply is pressed: the
dialog is not modal, so the mask may be edited while it is open (QA audit 19, F4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.document import Layer

SIZE = (120, 160)  # (height, width)
FIRST = (slice(10, 30), slice(10, 50))  # a logo, top left
SECOND = (slice(80, 110), slice(100, 150))  # another, bottom right, painted later


@pytest.fixture
def photos(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(rng.integers(0, 255, (*SIZE, 3), np.uint8)).save(
            folder / f"p{index}.png")
    return folder


def _opened(window, photos: Path):
    window.engine_panel.auto_run.setChecked(False)
    assert window.open_path(photos / "p0.png")
    document = window.document
    first = np.zeros(SIZE, np.uint8)
    first[FIRST] = 255
    document.replace_layer(Layer.MASK, first, "Mask brush")
    return document


def _share(dialog) -> str:
    return dialog.summary.text().split(" % to fill")[0].rsplit(", ", 1)[1]


def _paint_second(document) -> None:
    with document.step("Mask brush"):
        for y in range(SECOND[0].start, SECOND[0].stop):
            document.paint_segment(Layer.MASK, (SECOND[1].start, y),
                                   (SECOND[1].stop - 1, y), 0.5, 255)


def test_apply_uses_the_mask_painted_after_the_dialog_opened(qtbot, window, photos,
                                                            tmp_path):
    document = _opened(window, photos)
    dialog = window.apply_mask_to_folder()
    assert not dialog.isModal()
    before_share, before_preview = _share(dialog), dialog.preview.pixmap().toImage()
    assert before_share == f"{100 * 20 * 40 / (120 * 160):.1f}"

    _paint_second(document)  # in the editor, the dialog still open
    assert (document.mask[SECOND] == 255).all()
    # the preview and the summary follow once the stroke is over and the edits pause
    qtbot.waitUntil(lambda: _share(dialog) != before_share, timeout=5000)
    assert _share(dialog) == f"{100 * (20 * 40 + 30 * 50) / (120 * 160):.1f}"
    assert dialog.preview.pixmap().toImage() != before_preview
    assert dialog.apply_button.isEnabled()

    dialog.input.set_path(photos)
    dialog.output.set_path(tmp_path / "out")
    with qtbot.waitSignal(dialog.cleared, timeout=60000) as cleared:
        assert dialog.run_apply() is not None
    assert len(cleared.args[0].written) == 3
    for index in range(3):
        source = np.array(Image.open(photos / f"p{index}.png"))
        result = np.array(Image.open(tmp_path / "out" / f"p{index}.png"))
        changed = (source != result).any(axis=2)
        assert changed[FIRST].mean() > 0.5 and changed[SECOND].mean() > 0.5, index
        known = np.ones(SIZE, bool)
        known[FIRST] = known[SECOND] = False
        assert not changed[known].any()  # nothing outside the mask
    dialog.close()


def test_the_mask_as_it_is_on_apply_even_before_the_preview_caught_up(qtbot, window, photos,
                                                                     tmp_path):
    """Apply right after an edit (the preview not redrawn yet): the run takes the edit,
    and the preview and summary are redrawn first, so they show what runs."""
    document = _opened(window, photos)
    dialog = window.apply_mask_to_folder()
    grown = document.mask.copy()
    grown[SECOND] = 255
    document.replace_layer(Layer.MASK, grown, "Grow mask")
    dialog.input.set_path(photos)
    dialog.output.set_path(tmp_path / "out")
    with qtbot.waitSignal(dialog.cleared, timeout=60000):
        assert dialog.run_apply() is not None
    assert _share(dialog) == f"{100 * (20 * 40 + 30 * 50) / (120 * 160):.1f}"
    source = np.array(Image.open(photos / "p1.png"))
    result = np.array(Image.open(tmp_path / "out" / "p1.png"))
    assert (source != result).any(axis=2)[SECOND].mean() > 0.5
    dialog.close()


def test_an_emptied_mask_turns_apply_off_saying_why_and_undo_turns_it_on(qtbot, window,
                                                                        photos, tmp_path):
    document = _opened(window, photos)
    dialog = window.apply_mask_to_folder()
    assert dialog.apply_button.isEnabled()
    window.clear_mask()
    qtbot.waitUntil(lambda: not dialog.apply_button.isEnabled(), timeout=5000)
    assert "The mask is empty" in dialog.summary.text()
    assert "The mask is empty" in dialog.apply_button.toolTip()
    assert "0.0 % to fill" in dialog.summary.text()
    dialog.input.set_path(photos)
    dialog.output.set_path(tmp_path / "out")
    assert dialog.run_apply() is None  # Enter, say: nothing runs, the status line says why
    assert "The mask is empty" in dialog.status.text()
    assert not (tmp_path / "out").exists()
    document.undo()
    qtbot.waitUntil(dialog.apply_button.isEnabled, timeout=5000)
    assert "The mask is empty" not in dialog.summary.text()
    dialog.close()


def test_another_picture_opened_leaves_the_dialog_waiting_not_on_its_mask(qtbot, window,
                                                                         photos, tmp_path):
    """The dialog keeps to the picture it was opened on: while the editor shows another,
    Apply is off and the summary says why; it never applies the other picture's mask."""
    first = _opened(window, photos)
    dialog = window.apply_mask_to_folder()
    window.confirm = lambda title, text: True  # the mask painted may be discarded
    assert window.open_path(photos / "p1.png")  # its own mask: empty
    assert window.document is not first
    assert not dialog.apply_button.isEnabled()  # at once: the canvas said so
    assert "The editor shows another picture" in dialog.summary.text()
    dialog.input.set_path(photos)
    dialog.output.set_path(tmp_path / "out")
    assert dialog.run_apply() is None
    assert "The editor shows another picture" in dialog.status.text()
    other = np.zeros(SIZE, np.uint8)
    other[SECOND] = 255
    window.document.replace_layer(Layer.MASK, other, "Mask brush")
    dialog.check_document()
    assert not dialog.apply_button.isEnabled()  # still not: it is another picture's mask
    window.set_document(first)  # the first picture shown again (as after a face edit)
    assert dialog.apply_button.isEnabled() and "another picture" not in dialog.summary.text()
    dialog.close()


def test_closing_the_dialog_stops_following_the_document(qtbot, window, photos):
    document = _opened(window, photos)
    dialog = window.apply_mask_to_folder()
    dialog.close()
    qtbot.waitUntil(lambda: not window.findChildren(type(dialog)), timeout=5000)
    _paint_second(document)  # no listener of a deleted dialog is left to call
    window.canvas.viewChanged.emit()  # nor a slot
    window.grow_mask(2)
    assert document.mask[SECOND[0].start - 2, 120] == 255
