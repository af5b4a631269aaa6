"""Removing a reference photo that a fill searches drops that fill at once, as other guidance
edits do (not only when its next stage arrives): a running fill stops, one waiting for Enter
goes, and with *Fill after each stroke* a new fill starts without the photo. A reference
added after the fill started is no reason to drop it."""

from __future__ import annotations

import numpy as np
import pytest

from app.window import MainWindow
from engines import registry
from engines.fileio import save_image
from tests.app.test_undo_during_fill import (
    DROPPED,
    PICTURE,
    PLAIN,
    Gate,
    HeldGuided,
    hole_values,
    paint_hole,
    wait_entries,
    wait_idle,
)

pytestmark = pytest.mark.timeout(120)

H, W = 48, 64
SAID = f"Removed 1 reference photo. The reference photos {DROPPED}"


@pytest.fixture
def editor(qtbot, window, tmp_path, monkeypatch, model_cache) -> MainWindow:
    """The shared window on a grey picture with a hole, filling with :class:`HeldGuided`
    (held at its gate until released), one reference photo added; neither filling after
    each stroke nor applying by itself (tests turn them on)."""
    monkeypatch.setitem(registry._ENGINES, HeldGuided.name, HeldGuided)
    monkeypatch.setattr(HeldGuided, "gate", Gate())
    window.show_error = lambda text: None
    window.ask_stop_runs = lambda text: True  # closing with a fill running: stop it
    window.engine_panel.reload_engines()
    assert window.open_path(save_image(tmp_path / "grey.png",
                                       np.full((H, W, 3), PICTURE, np.uint8)))
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.auto_apply.setChecked(False)
    assert window.engine_panel.select_engine(HeldGuided.name)
    paint_hole(qtbot, window)
    window.document.add_reference(np.full((32, 32, 3), 200, np.uint8), "ref.png")
    yield window
    HeldGuided.gate.release()  # nothing held for the teardown


def start_held_fill(qtbot, window: MainWindow) -> None:
    window.actions["fill"].trigger()
    wait_entries(qtbot, 1)
    assert window.controller.busy


def test_a_running_fill_stops_at_once_when_its_reference_is_removed(qtbot, editor):
    editor.engine_panel.auto_apply.setChecked(True)
    start_held_fill(qtbot, editor)
    editor.remove_references([0])
    assert editor.statusBar().currentMessage() == SAID
    # cancelled while still held at its gate: it stops without being released
    qtbot.waitUntil(lambda: not editor.controller.busy, timeout=10000)
    wait_idle(qtbot, editor)
    assert editor.document.undo_label() == "Mask brush"  # nothing applied
    assert hole_values(editor) == {(PICTURE,) * 3}
    assert HeldGuided.gate.entries == 1


def test_with_fill_after_each_stroke_a_new_fill_starts_without_the_reference(qtbot, editor):
    editor.engine_panel.auto_apply.setChecked(True)
    start_held_fill(qtbot, editor)
    editor.engine_panel.auto_run.setChecked(True)
    editor.remove_references([0])
    wait_entries(qtbot, 2)  # started again while the first is still held: it was dropped
    assert editor.document.references == ()
    wait_idle(qtbot, editor)
    assert editor.document.undo_label() == "Fill (Held guided)"
    assert hole_values(editor) == {(PLAIN,) * 3}


def test_a_fill_waiting_for_enter_goes_when_its_reference_is_removed(qtbot, editor):
    HeldGuided.gate.release()
    editor.actions["fill"].trigger()
    qtbot.waitUntil(lambda: editor.controller.has_result and not editor.controller.busy,
                    timeout=30000)
    editor.remove_references([0])
    assert not editor.controller.has_result and editor.document.preview is None
    assert editor.statusBar().currentMessage() == SAID
    editor.actions["apply"].trigger()  # Enter: nothing left to apply
    assert editor.document.undo_label() == "Mask brush"


def test_removing_a_reference_added_after_the_fill_started_keeps_it(qtbot, editor):
    editor.engine_panel.auto_apply.setChecked(True)
    start_held_fill(qtbot, editor)
    editor.document.add_reference(np.full((32, 32, 3), 60, np.uint8), "more.png")
    editor._show_references()
    editor.remove_references([1])  # not one the fill searches
    assert editor.controller.busy
    wait_idle(qtbot, editor)
    assert editor.document.undo_label() == "Fill (Held guided)"
    assert hole_values(editor) == {(PLAIN,) * 3}
