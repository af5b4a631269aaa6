"""The Edit menu's Undo entry while a fill waits for Enter ("Apply results automatically"
off): Ctrl+Z then discards that fill first, so the entry (its text, tooltip and status tip)
names the fill shown, not the last step of the picture, and names that step again once the
fill is applied, discarded or undone."""

from __future__ import annotations

import pytest

from app.document import Layer
from app.window import MainWindow
from tests.app.test_waiting_result import HOLE, open_with_hole

pytestmark = pytest.mark.timeout(120)

PREVIEW = "&Undo Fill (OpenCV Telea) preview"


@pytest.fixture
def editor(qtbot, window, tmp_path, textured) -> MainWindow:
    """The shared window on a textured picture with a hole painted ("Mask brush"), filling
    with OpenCV Telea, neither after each stroke nor applying by itself."""
    open_with_hole(window, tmp_path, textured)
    window._on_edit_finished(Layer.MASK.value)
    return window


def fill_and_wait(qtbot, window: MainWindow) -> None:
    """Fill; the result is shown, waiting for Enter."""
    window.actions["fill"].trigger()
    qtbot.waitUntil(lambda: window.controller.has_result and not window.controller.busy,
                    timeout=60000)


def test_undo_names_the_fill_waiting_for_enter_until_it_is_applied(qtbot, editor):
    undo = editor.actions["undo"]
    assert undo.text() == "&Undo Mask brush"
    fill_and_wait(qtbot, editor)
    assert undo.text() == PREVIEW and undo.isEnabled()
    assert undo.toolTip() == "Undo Fill (OpenCV Telea) preview (Ctrl+Z)"
    assert "Discard the fill shown" in undo.statusTip()

    undo.trigger()  # what the entry said: the fill goes, the stroke stays
    assert not editor.controller.has_result and editor.document.mask[HOLE].all()
    assert undo.text() == "&Undo Mask brush"
    assert undo.toolTip() == "Undo Mask brush (Ctrl+Z)"
    assert editor.actions["redo"].text() == "&Redo Fill (OpenCV Telea)"

    editor.actions["redo"].trigger()  # the fill is back, waiting again
    assert editor.controller.has_result and undo.text() == PREVIEW

    editor.actions["apply"].trigger()  # applied: now the picture's last step is the fill
    assert not editor.controller.has_result
    assert undo.text() == "&Undo Fill (OpenCV Telea)"
    assert "Discard" not in undo.statusTip()


def test_undo_names_the_last_step_again_once_the_fill_is_discarded(qtbot, editor):
    undo = editor.actions["undo"]
    fill_and_wait(qtbot, editor)
    assert undo.text() == PREVIEW
    editor.cancel_or_discard()  # Esc
    assert not editor.controller.has_result
    assert undo.text() == "&Undo Mask brush"

    fill_and_wait(qtbot, editor)
    assert undo.text() == PREVIEW
    with editor.document.step("Mask brush"):  # another stroke drops the fill shown
        editor.document.paint_segment(Layer.MASK, (4, 4), (20, 4), 3, 255)
    assert not editor.controller.has_result
    assert undo.text() == "&Undo Mask brush" and len(editor.document._undo) == 2
