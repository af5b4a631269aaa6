"""The Clear Watermark dialog and pictures without the watermark: the estimate names them,
clearing writes nothing for them and its summary names them as not written, and the box shown
for them fills them; an estimate that cannot tell which carry the mark says how many seem to
lack it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.watermark_dialogs import FILL_UNMARKED, WatermarkDialog
from engines.fileio import list_images
from tests.app.test_watermark_dialogs import estimate
from tests.engines.test_watermark import stamp
from tests.engines.test_watermark_unmarked import (
    UNDECIDED_NOTES,
    half_marked,
    marked_folder,
    undecided,
    write_pictures,
)

pytestmark = pytest.mark.timeout(120)
SIZE = (120, 160)  # height, width


def write_folder(folder: Path, with_unmarked: bool = True) -> Path:
    """8 PNG photos: ``unmarked.png`` without the watermark (or with it, as ``photo0.png``,
    when not ``with_unmarked``), ``photo1.png`` to ``photo7.png`` with it."""
    images, alpha = marked_folder(8, opacity=0.5, size=SIZE)
    if not with_unmarked:
        images[0] = stamp(images[0], alpha)
    first = "unmarked.png" if with_unmarked else "photo0.png"
    return write_pictures(folder, images, [first] + [f"photo{index}.png" for index in range(1, 8)])


@pytest.fixture
def dialog(qtbot, tmp_path):
    dialog = WatermarkDialog(engine="telea")
    qtbot.addWidget(dialog)
    dialog.input.set_path(write_folder(tmp_path / "in"))
    dialog.output.set_path(tmp_path / "out")
    return dialog


def clear(qtbot, dialog):
    with qtbot.waitSignal(dialog.cleared, timeout=60000) as cleared:
        assert dialog.run_clear() is not None
        assert not dialog.fill_unmarked.isEnabled()  # not while a run goes
    assert dialog.fill_unmarked.isEnabled()
    return cleared.args[0]


def test_the_picture_without_the_mark_is_named_not_written_then_filled_on_request(
        qtbot, dialog, tmp_path):
    assert dialog.fill_unmarked.isHidden()
    result = estimate(qtbot, dialog)
    assert result.unmarked == ("unmarked.png",)
    assert "Estimated from 8 images of 160×120. Watermark at " in dialog.counts.text()
    assert dialog.counts.text().endswith(
        " 1 of them shows no mark: unmarked.png (not written when clearing, unless the box "
        "below is ticked).")
    assert not dialog.fill_unmarked.isHidden() and not dialog.fill_unmarked.isChecked()
    assert dialog.fill_unmarked.text() == FILL_UNMARKED

    batch = clear(qtbot, dialog)
    folder, output = tmp_path / "in", tmp_path / "out"
    assert batch.unmarked == (folder / "unmarked.png",) and batch.ok
    assert sorted(path.name for path in batch.written) == [f"photo{i}.png" for i in range(1, 8)]
    assert not (output / "unmarked.png").exists()
    status = dialog.status.text()
    assert status.startswith(f"Wrote 7 images to {output}. ")
    assert (f"1 not written, the watermark was not found in it: unmarked.png (tick "
            f"\"{FILL_UNMARKED}\" to fill it)") in status

    dialog.fill_unmarked.setChecked(True)
    again = clear(qtbot, dialog)  # the results already there are kept: only it is filled
    assert again.written == (output / "unmarked.png",) and not again.unmarked
    assert len(again.skipped) == 7
    assert "not written" not in dialog.status.text()
    assert [path.name for path in list_images(output)] == \
        sorted(["unmarked.png"] + [f"photo{i}.png" for i in range(1, 8)])


def test_a_new_estimate_unticks_the_box_and_hides_it_when_every_picture_shows_the_mark(
        qtbot, dialog, tmp_path):
    estimate(qtbot, dialog)
    dialog.fill_unmarked.setChecked(True)
    dialog.input.set_path(write_folder(tmp_path / "all-marked", with_unmarked=False))
    result = estimate(qtbot, dialog)
    assert result.found and result.unmarked == ()
    assert dialog.fill_unmarked.isHidden() and not dialog.fill_unmarked.isChecked()
    assert "no mark" not in dialog.counts.text()
    batch = clear(qtbot, dialog)
    assert len(batch.written) == 8 and not batch.unmarked


def test_an_estimate_that_cannot_tell_which_carry_the_mark_says_how_many_lack_it(
        qtbot, dialog, tmp_path):
    folder = write_pictures(tmp_path / "over-half", half_marked(8, size=SIZE),
                            [f"photo{index:02d}.png" for index in range(12)])
    dialog.input.set_path(folder)
    result = estimate(qtbot, dialog)
    assert result.found and result.lacking == 8 and result.unmarked is None
    assert dialog.counts.text().endswith(
        " 8 of the 12 images seem to lack it, too many to tell which carry it: every image is "
        "filled.")
    assert "faint" not in dialog.counts.text()
    assert dialog.fill_unmarked.isHidden()
    batch = clear(qtbot, dialog)
    assert len(batch.written) == 12 and not batch.unmarked


@pytest.mark.parametrize("used, lacking, faint, note", UNDECIDED_NOTES[1:])
def test_the_undecided_note_is_a_sentence_of_its_own(qtbot, tmp_path, used, lacking, faint,
                                                     note):
    """The dialog makes the note a sentence: its first letter capitalised ("None of the 12
    images shows it ...", QA39 F5), the rest as worded."""
    dialog = WatermarkDialog()
    qtbot.addWidget(dialog)
    dialog.show_estimate(undecided(used, lacking, faint), tmp_path, ())
    text = dialog.counts.text()
    assert text.endswith(f"% of the picture). {note[0].upper()}{note[1:]}: every image is "
                         "filled.")
