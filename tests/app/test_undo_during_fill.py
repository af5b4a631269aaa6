"""Undo, redo and clears while a fill runs or waits: a fill steered by colour strokes or sketch
lines that were undone or cleared meanwhile is never applied (with *Fill after each stroke* a
new fill starts from the document as it is, as after a stroke); undoing the mask stroke still
drops the fill; with a fill waiting for Enter, the first Ctrl+Z discards only that fill (redo
brings it back) and the second undoes the stroke; opening another picture clears the Faces
panel's line about the last face pasted back."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.document import SAMPLE_INCLUDE, Document, Layer
from app.faces import face_from_box
from app.window import MainWindow
from engines import registry
from engines.base import Cancelled, CancelToken, Engine, Guidance, Region, RegionStage
from engines.fileio import save_image

pytestmark = pytest.mark.timeout(120)

H, W = 48, 64
PICTURE = 90  # the picture's grey
PLAIN = 128  # the fill's grey where no guidance steers it
SKETCHED = 30  # the fill's grey where a sketch line crosses the hole
GREEN = (0, 255, 0)
HOLE = (slice(16, 32), slice(12, 52))  # inside every hole painted here
DROPPED = "changed while the engine ran; its fill was dropped"


class Gate:
    """Holds each fill until :meth:`release` (for good: later fills pass at once), or until
    the fill is cancelled; counts the fills that reached it."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self._lock = threading.Lock()
        self.entries = 0

    def hold(self, cancel: CancelToken) -> None:
        with self._lock:
            self.entries += 1
        while not self.released.wait(0.01):
            if cancel.cancelled:
                raise Cancelled()

    def release(self) -> None:
        self.released.set()


class HeldGuided(Engine):
    """Follows colour strokes and sketch lines, plainly: after its gate, the hole becomes the
    mean colour of the strokes inside the hole, else :data:`SKETCHED` grey where a sketch
    line crosses it, else :data:`PLAIN` grey. Said to follow the sampling area and reference
    photos too (it takes no notice of them)."""

    name = "qa-held-guided"
    title = "Held guided"
    guidance = frozenset({Guidance.COLOR, Guidance.SKETCH, Guidance.SAMPLING,
                          Guidance.EXEMPLARS})
    gate = Gate()

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        yield RegionStage("coarse", region.image.copy(), 0.5)
        self.gate.hold(cancel)
        hole = region.hole
        image = region.image.copy()
        painted = (region.color[..., 3] > 0) & hole if region.color is not None else None
        if painted is not None and painted.any():
            image[hole] = region.color[..., :3][painted].mean(axis=0).round().astype(np.uint8)
        elif region.sketch is not None and (region.sketch[hole] > 0).any():
            image[hole] = SKETCHED
        else:
            image[hole] = PLAIN
        yield RegionStage("refined", image, 1.0, final=True)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, model_cache):
    """A shown window on a plain grey picture, filling with :class:`HeldGuided`, with *Fill
    after each stroke* and *Apply automatically* off (tests turn them on)."""
    monkeypatch.setitem(registry._ENGINES, HeldGuided.name, HeldGuided)
    monkeypatch.setattr(HeldGuided, "gate", Gate())
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    window.confirm = lambda title, text: True
    window.ask_stop_runs = lambda text: True  # closing with a fill running: stop it
    window.show_error = lambda text: None
    assert window.open_path(save_image(tmp_path / "grey.png",
                                       np.full((H, W, 3), PICTURE, np.uint8)))
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.auto_apply.setChecked(False)
    assert window.engine_panel.select_engine(HeldGuided.name)
    yield window
    HeldGuided.gate.release()  # nothing held for the teardown
    window.worker.shutdown()


def drag(qtbot, window, tool: str, points: list[tuple[float, float]]) -> None:
    """A drag of ``tool`` over the canvas through ``points`` (picture x, y), as the user
    makes it (the canvas records one step and says the edit finished)."""
    window.select_tool(tool)
    canvas = window.canvas
    screen = [QPoint(round(x * canvas.zoom + canvas.offset.x()),
                     round(y * canvas.zoom + canvas.offset.y())) for x, y in points]
    steps = window.document.undo_label(), len(window.document._undo)
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, screen[0])
    for point in screen[1:]:
        QTest.mouseMove(canvas, point)
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, screen[-1])
    qtbot.waitUntil(lambda: (window.document.undo_label(), len(window.document._undo)) != steps)


def paint_hole(qtbot, window) -> None:
    window.tool_settings.radius["mask"] = 12
    drag(qtbot, window, "mask", [(8, 24), (56, 24)])
    assert (window.document.mask[HOLE] >= 128).all()


def paint_green(qtbot, window) -> None:
    window.tool_settings.color = GREEN
    window.tool_settings.radius["color"] = 5
    drag(qtbot, window, "color", [(16, 24), (48, 24)])


def draw_line(qtbot, window) -> None:
    window.tool_settings.radius["sketch"] = 1
    drag(qtbot, window, "sketch", [(32, 10), (32, 38)])


def wait_entries(qtbot, count: int) -> None:
    """Until ``count`` fills have reached the gate."""
    qtbot.waitUntil(lambda: HeldGuided.gate.entries >= count, timeout=30000)


def wait_idle(qtbot, window) -> None:
    """Release the gate and wait until no fill runs, none is about to start and none waits
    for a brush drag to end."""
    HeldGuided.gate.release()

    def idle() -> bool:
        c = window.controller
        return not c.busy and not window._run_timer.isActive() and not (
            c.has_result and c.settings.auto_apply)

    qtbot.waitUntil(idle, timeout=30000)
    qtbot.wait(50)  # anything the last run still sends arrives
    assert idle()


def hole_values(window) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in pixel) for pixel in window.document.image[HOLE].reshape(-1, 3)}


def status(window) -> str:
    return window.statusBar().currentMessage()


def collect_messages(window) -> list[str]:
    said: list[str] = []
    window.controller.message.connect(said.append)
    return said


# --- D1: guidance undone or cleared while the fill runs ------------------------------------
def test_undoing_a_colour_stroke_while_its_fill_runs_fills_without_it(qtbot, window):
    """The defaults: Fill after each stroke and Apply automatically."""
    window.engine_panel.auto_run.setChecked(True)
    window.engine_panel.auto_apply.setChecked(True)
    paint_hole(qtbot, window)
    wait_entries(qtbot, 1)  # the fill started with the hole
    paint_green(qtbot, window)
    wait_entries(qtbot, 2)  # and started again with the stroke
    window.actions["undo"].trigger()
    assert status(window) == "Undid Colour brush"
    assert not window.document.layer(Layer.COLOR).any()
    wait_idle(qtbot, window)
    document = window.document
    # the fill that followed the undone stroke was not applied; one without it was
    assert [step.label for step in document._undo] == ["Mask brush", "Fill (Held guided)"]
    assert hole_values(window) == {(PLAIN,) * 3}
    assert not document.mask.any()


def test_undoing_a_colour_stroke_while_the_fill_runs_drops_it_without_fill_after_stroke(
        qtbot, window):
    window.engine_panel.auto_apply.setChecked(True)
    paint_hole(qtbot, window)
    paint_green(qtbot, window)
    said = collect_messages(window)
    window.actions["fill"].trigger()
    wait_entries(qtbot, 1)
    window.actions["undo"].trigger()
    assert status(window) == f"Undid Colour brush. The colour strokes {DROPPED}"
    wait_idle(qtbot, window)
    assert window.document.undo_label() == "Mask brush"  # no fill applied
    assert hole_values(window) == {(PICTURE,) * 3}
    assert (window.document.mask[HOLE] >= 128).all()
    assert said == []  # nothing more to say: no "Applied", no "Cancelled"


def test_clearing_the_colour_strokes_while_the_fill_runs_drops_it(qtbot, window):
    window.engine_panel.auto_apply.setChecked(True)
    paint_green(qtbot, window)
    paint_hole(qtbot, window)
    said = collect_messages(window)
    window.actions["fill"].trigger()
    wait_entries(qtbot, 1)
    window.clear_colour_strokes()
    assert status(window) == (
        f"Cleared the colour strokes; Ctrl+Z brings them back. The colour strokes {DROPPED}")
    wait_idle(qtbot, window)
    document = window.document
    assert document.undo_label() == "Clear colour strokes"  # no fill applied after it
    assert hole_values(window) == {(PICTURE,) * 3}
    assert said == []


def test_clearing_the_colour_strokes_while_the_fill_runs_fills_again_after_each_stroke(
        qtbot, window):
    window.engine_panel.auto_apply.setChecked(True)
    paint_green(qtbot, window)
    paint_hole(qtbot, window)
    window.actions["fill"].trigger()
    wait_entries(qtbot, 1)
    window.engine_panel.auto_run.setChecked(True)
    window.clear_colour_strokes()
    wait_idle(qtbot, window)
    assert window.document.undo_label() == "Fill (Held guided)"
    assert hole_values(window) == {(PLAIN,) * 3}


@pytest.mark.parametrize("after_each_stroke", [True, False])
def test_undoing_a_sketch_line_while_its_fill_runs(qtbot, window, after_each_stroke):
    window.engine_panel.auto_run.setChecked(after_each_stroke)
    window.engine_panel.auto_apply.setChecked(True)
    paint_hole(qtbot, window)
    if after_each_stroke:
        wait_entries(qtbot, 1)  # the fill started with the hole
    draw_line(qtbot, window)
    said = collect_messages(window)
    if not after_each_stroke:
        window.actions["fill"].trigger()
    wait_entries(qtbot, 2 if after_each_stroke else 1)  # the fill with the line runs
    window.actions["undo"].trigger()
    document = window.document
    if after_each_stroke:  # filled again, without the line
        assert status(window) == "Undid Sketch pen"
        wait_idle(qtbot, window)
        assert document.undo_label() == "Fill (Held guided)"
        assert hole_values(window) == {(PLAIN,) * 3}
    else:  # dropped, and said so
        assert status(window) == f"Undid Sketch pen. The sketch {DROPPED}"
        wait_idle(qtbot, window)
        assert document.undo_label() == "Mask brush"
        assert hole_values(window) == {(PICTURE,) * 3}
        assert said == []


def test_clearing_the_sampling_area_while_the_fill_runs_drops_it(qtbot, window):
    window.engine_panel.auto_apply.setChecked(True)
    paint_hole(qtbot, window)
    document = window.document
    include = np.zeros((H, W), np.uint8)
    include[:, 56:] = 255
    document.replace_sampling_area(SAMPLE_INCLUDE, include, "Include")
    said = collect_messages(window)
    window.actions["fill"].trigger()
    wait_entries(qtbot, 1)
    window.clear_sampling_area()
    assert status(window).endswith(f"The sampling area {DROPPED}")
    wait_idle(qtbot, window)
    assert document.undo_label() == "Clear sampling area"
    assert hole_values(window) == {(PICTURE,) * 3}
    assert said == []


def test_removing_the_reference_photo_while_the_fill_runs_drops_it(qtbot, window):
    window.engine_panel.auto_apply.setChecked(True)
    paint_hole(qtbot, window)
    document = window.document
    document.add_reference(np.full((32, 32, 3), 200, np.uint8), "ref.png")
    said = collect_messages(window)
    window.actions["fill"].trigger()
    wait_entries(qtbot, 1)
    document.add_reference(np.full((32, 32, 3), 60, np.uint8), "more.png")  # added: fine
    window.remove_references([0])
    # at once, as other edits
    assert status(window) == f"Removed 1 reference photo. The reference photos {DROPPED}"
    wait_idle(qtbot, window)
    assert document.undo_label() == "Mask brush"
    assert hole_values(window) == {(PICTURE,) * 3}
    assert said == []  # said once, in the status bar


def test_strokes_painted_while_the_fill_runs_leave_it_to_apply(qtbot, window):
    """Guidance added meanwhile is no reason to drop the fill (it did not follow it, and the
    strokes stay for the next fill), as with more mask."""
    window.engine_panel.auto_apply.setChecked(True)
    paint_hole(qtbot, window)
    window.actions["fill"].trigger()
    wait_entries(qtbot, 1)
    paint_green(qtbot, window)
    draw_line(qtbot, window)
    window.document.add_reference(np.full((32, 32, 3), 60, np.uint8), "more.png")
    wait_idle(qtbot, window)
    assert window.document.undo_label() == "Fill (Held guided)"
    assert hole_values(window) == {(PLAIN,) * 3}


@pytest.mark.parametrize("after_each_stroke", [True, False])
def test_undoing_the_mask_stroke_while_the_fill_runs_drops_it(qtbot, window, after_each_stroke):
    window.engine_panel.auto_run.setChecked(after_each_stroke)
    window.engine_panel.auto_apply.setChecked(True)
    paint_hole(qtbot, window)
    said = collect_messages(window)
    if not after_each_stroke:
        window.actions["fill"].trigger()
    wait_entries(qtbot, 1)
    window.actions["undo"].trigger()
    assert status(window).startswith("Undid Mask brush")
    wait_idle(qtbot, window)
    assert not window.document.can_undo()  # nothing applied
    assert hole_values(window) == {(PICTURE,) * 3}
    dropped = "The mask changed while the engine ran; its fill was dropped"
    assert dropped in status(window)
    assert not any("Applied" in text or "Cancelled" in text for text in said)
    assert said.count(dropped) <= 1  # said once


def test_undoing_an_applied_fill_does_not_fill_again(qtbot, window):
    """Undo of a fill brings its hole back; with Fill after each stroke, no new fill starts
    (it would apply the same fill over the undo)."""
    window.engine_panel.auto_run.setChecked(True)
    window.engine_panel.auto_apply.setChecked(True)
    HeldGuided.gate.release()
    paint_hole(qtbot, window)
    wait_idle(qtbot, window)
    assert window.document.undo_label() == "Fill (Held guided)"
    entries = HeldGuided.gate.entries
    window.actions["undo"].trigger()
    assert status(window) == "Undid Fill (Held guided)"
    wait_idle(qtbot, window)
    assert HeldGuided.gate.entries == entries
    assert window.document.undo_label() == "Mask brush"
    assert hole_values(window) == {(PICTURE,) * 3}


def test_undo_with_no_fill_running_starts_none(qtbot, window):
    """Stepping back through the history with Fill after each stroke: no fill starts (it
    would be applied and drop the steps to redo)."""
    window.engine_panel.auto_apply.setChecked(True)
    HeldGuided.gate.release()
    paint_hole(qtbot, window)
    window.engine_panel.auto_run.setChecked(True)
    paint_green(qtbot, window)  # fills with the stroke
    wait_idle(qtbot, window)
    document = window.document
    assert [step.label for step in document._undo] == [
        "Mask brush", "Colour brush", "Fill (Held guided)"]
    entries = HeldGuided.gate.entries
    window.actions["undo"].trigger()  # the fill: the hole and the stroke are back
    window.actions["undo"].trigger()  # the stroke, the hole stays
    assert status(window) == "Undid Colour brush"
    assert document.mask.any()
    wait_idle(qtbot, window)
    assert HeldGuided.gate.entries == entries
    assert [step.label for step in document._redo] == ["Fill (Held guided)", "Colour brush"]
    window.actions["redo"].trigger()
    window.actions["redo"].trigger()
    wait_idle(qtbot, window)
    assert HeldGuided.gate.entries == entries
    assert hole_values(window) == {GREEN}


# --- M2: Ctrl+Z with a fill waiting for Enter ----------------------------------------------
def test_the_first_undo_discards_the_waiting_fill_and_the_second_undoes_the_stroke(
        qtbot, window):
    HeldGuided.gate.release()
    document = window.document
    window.tool_settings.radius["mask"] = 6
    drag(qtbot, window, "mask", [(10, 12), (50, 12)])
    first = document.mask.copy()
    drag(qtbot, window, "mask", [(10, 36), (50, 36)])
    both = document.mask.copy()
    window.actions["fill"].trigger()
    qtbot.waitUntil(lambda: window.controller.has_result, timeout=30000)
    assert window.actions["undo"].isEnabled()

    window.actions["undo"].trigger()  # the fill waiting for Enter goes, nothing else
    assert not window.controller.has_result and document.preview is None
    np.testing.assert_array_equal(document.mask, both)
    assert len(document._undo) == 2
    assert status(window) == "Discarded the fill; Ctrl+Shift+Z brings it back"
    assert window.actions["redo"].isEnabled()
    assert window.actions["redo"].text() == "&Redo Fill (Held guided)"

    window.actions["redo"].trigger()  # it comes back, waiting for Enter again
    assert window.controller.has_result and document.preview is not None
    assert status(window) == "Brought the fill back; Enter applies it, Esc discards it"
    assert not window.actions["redo"].isEnabled()

    window.actions["undo"].trigger()
    assert not window.controller.has_result
    window.actions["undo"].trigger()  # now the second stroke
    assert status(window) == "Undid Mask brush"
    np.testing.assert_array_equal(document.mask, first)
    assert window.actions["redo"].text() == "&Redo Mask brush"
    window.actions["redo"].trigger()  # the stroke, not the fill computed before
    assert status(window) == "Redid Mask brush"
    np.testing.assert_array_equal(document.mask, both)
    assert not window.controller.has_result
    assert not window.actions["redo"].isEnabled()


def test_a_fill_discarded_by_undo_does_not_come_back_after_an_edit(qtbot, window):
    HeldGuided.gate.release()
    paint_hole(qtbot, window)
    window.actions["fill"].trigger()
    qtbot.waitUntil(lambda: window.controller.has_result, timeout=30000)
    window.actions["undo"].trigger()
    paint_green(qtbot, window)
    assert not window.actions["redo"].isEnabled()
    window.actions["redo"].trigger()
    assert not window.controller.has_result


# --- M5: the Faces panel after another picture is opened -----------------------------------
def test_opening_another_picture_clears_the_faces_panel_line(qtbot, window, tmp_path, textured):
    assert window.open_path(save_image(tmp_path / "face.png", textured))
    assert window.enter_face(face_from_box((40, 20, 90, 80)))
    crop = window.document
    changed = crop.image.copy()
    changed[200:260, 200:260] = 0
    with crop.step("Paint"):
        crop.touch(Layer.IMAGE, crop._whole())
        crop.image[...] = changed
    assert window.paste_face_back()
    assert window.face_panel.status.text() == (
        "Face edit pasted into the photo; Ctrl+Z there undoes it")
    assert window.open_path(save_image(tmp_path / "other.png", textured[::-1].copy()))
    assert window.face_panel.status.text() == ""


# --- the layer versions the check reads ----------------------------------------------------
def test_a_layer_version_counts_the_steps_made_undone_redone_or_cancelled_on_it():
    document = Document(np.full((H, W, 3), PICTURE, np.uint8))
    versions = {layer: document.layer_version(layer) for layer in Layer}
    with document.step("Colour brush"):
        document.paint_segment(Layer.COLOR, (5, 5), (20, 5), 2, (0, 255, 0, 255))
    assert document.layer_version(Layer.COLOR) == versions[Layer.COLOR] + 1
    assert all(document.layer_version(layer) == versions[layer]
               for layer in Layer if layer is not Layer.COLOR)
    document.undo()
    document.redo()
    assert document.layer_version(Layer.COLOR) == versions[Layer.COLOR] + 3
    document.begin_step("Sketch pen")
    document.paint_segment(Layer.SKETCH, (5, 5), (20, 5), 1, 255)
    assert document.layer_version(Layer.SKETCH) == versions[Layer.SKETCH]  # counted at its end
    document.cancel_step()
    assert document.layer_version(Layer.SKETCH) == versions[Layer.SKETCH] + 1
    assert document.layer_version(Layer.IMAGE) == versions[Layer.IMAGE]
