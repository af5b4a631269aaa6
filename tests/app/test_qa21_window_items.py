"""QA audit 21, window items: a tool whose overlay is switched off turns it on again (finding
3); the references panel says what it removed, asks through the window and takes Delete after
a click (finding 5); Add Reference Photos needs a picture (finding 6); Enter pressed while a
fill runs applies it once done (finding 8); Grow, Shrink and Feather say what they did and
start at the last value; the tabbed panels' tab bar comes before them in the Tab order
(finding 10)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QTabBar

from app.document import Layer
from app.window import MainWindow
from engines import registry
from engines.fileio import save_image
from tests.app.test_undo_during_fill import PICTURE, PLAIN, Gate, HeldGuided

pytestmark = pytest.mark.timeout(120)

H, W = 48, 64


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, model_cache):
    """A shown window on a plain grey picture, filling with the gated :class:`HeldGuided`,
    *Fill after each stroke* and *Apply automatically* off; questions answered No."""
    monkeypatch.setitem(registry._ENGINES, HeldGuided.name, HeldGuided)
    monkeypatch.setattr(HeldGuided, "gate", Gate())
    window = MainWindow()
    window.ask_stop_runs = lambda text: True  # closing with a fill running: stop it
    window.confirm = lambda title, text: False
    window.show_error = lambda text: None
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    assert window.open_path(save_image(tmp_path / "grey.png",
                                       np.full((H, W, 3), PICTURE, np.uint8)))
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.auto_apply.setChecked(False)
    assert window.engine_panel.select_engine(HeldGuided.name)
    yield window
    HeldGuided.gate.release()
    window.worker.shutdown()


def status(window) -> str:
    return window.statusBar().currentMessage()


def screen(canvas, x: float, y: float) -> QPoint:
    return QPoint(round(x * canvas.zoom + canvas.offset.x()),
                  round(y * canvas.zoom + canvas.offset.y()))


def drag(qtbot, window, points) -> None:
    """A drag of the current tool through ``points`` (picture x, y); waits for its step."""
    canvas, steps = window.canvas, len(window.document._undo)
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, screen(canvas, *points[0]))
    for point in points[1:]:
        QTest.mouseMove(canvas, screen(canvas, *point))
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, screen(canvas, *points[-1]))
    qtbot.waitUntil(lambda: len(window.document._undo) != steps)


def grab(window) -> np.ndarray:
    image = window.canvas.grab().toImage()
    image = image.convertToFormat(image.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1, 4)
    return rows[:, :image.width(), :3].copy()


# --- finding 3: painting with an overlay switched off ---------------------------------------
@pytest.mark.parametrize("tool, layer, title", [
    ("mask", Layer.MASK, "Mask"),
    ("sketch", Layer.SKETCH, "Sketch"),
    ("sketch-eraser", Layer.SKETCH, "Sketch"),
    ("color", Layer.COLOR, "Colour strokes"),
    ("label", Layer.LABELS, "Label map"),
    ("fill", Layer.LABELS, "Label map"),
    ("sample-include", Layer.SAMPLING, "Sampling area"),
    ("sample-exclude", Layer.SAMPLING, "Sampling area"),
])
def test_choosing_a_tool_shows_its_hidden_overlay_and_says_so(window, tool, layer, title):
    if layer is Layer.LABELS:  # a map for the label tools to repaint (none: they paint nothing)
        doc = window.document
        doc.replace_label_map(np.full((doc.height, doc.width), 3, np.uint8), None, "map")
    window.select_tool("pan")
    check = window.overlay_panel.checks[layer]
    check.setChecked(False)
    assert not window.canvas.style.visible[layer]
    saved = []
    window.overlay_panel.changed.connect(lambda: saved.append(True))  # remembered too
    window.statusBar().clearMessage()  # the sentence is added to what it says (qa23 tests)
    window.actions[f"tool_{tool}"].trigger()
    assert check.isChecked() and window.canvas.style.visible[layer] and saved
    assert status(window) == f"{title} overlay shown: it was hidden (Overlays panel)"
    # shown already: nothing said
    window.statusBar().clearMessage()
    window.select_tool("pan")
    window.actions[f"tool_{tool}"].trigger()
    assert status(window) == ""


def test_tools_painting_no_layer_leave_the_overlays_alone(window):
    for layer in Layer:
        if layer in window.overlay_panel.checks:
            window.overlay_panel.checks[layer].setChecked(False)
    window.statusBar().clearMessage()
    for tool in ("pan", "picker"):
        window.select_tool(tool)
    assert not any(window.canvas.style.visible[layer] for layer in window.overlay_panel.checks)
    assert status(window) == ""


def test_a_stroke_with_the_tool_chosen_before_its_overlay_was_hidden_shows_it(qtbot, window):
    """The mask brush, chosen at start, painting while the mask overlay is off (as restored
    from the last session): the stroke turns the overlay on and is seen."""
    assert window.canvas.tool.name == "mask"
    window.overlay_panel.checks[Layer.MASK].setChecked(False)
    qtbot.wait(20)
    before = grab(window)
    window.tool_settings.radius["mask"] = 6
    window.statusBar().clearMessage()
    drag(qtbot, window, [(10, 24), (54, 24)])
    assert window.document.mask[24, 30] == 255
    assert window.overlay_panel.checks[Layer.MASK].isChecked()
    assert status(window).startswith("Mask overlay shown: it was hidden (Overlays panel)")
    qtbot.wait(20)
    centre = screen(window.canvas, 30, 24)
    assert (grab(window)[centre.y(), centre.x()] != before[centre.y(), centre.x()]).any()


# --- finding 5: removing reference photos ---------------------------------------------------
def add_three(window, tmp_path) -> None:
    rng = np.random.default_rng(5)
    paths = [save_image(tmp_path / f"{name}.png", rng.integers(0, 255, (64, 64, 3), np.uint8))
             for name in ("a", "b", "c")]
    assert window.add_references(paths) == 3
    assert status(window) == "3 reference photos added"


def names(window) -> list[str]:
    return [reference.name for reference in window.document.references]


def test_remove_and_remove_all_say_how_many_were_removed(window, tmp_path):
    add_three(window, tmp_path)
    panel = window.reference_panel
    panel.list.item(0).setSelected(True)
    panel.list.item(2).setSelected(True)
    panel.remove_button.click()
    assert names(window) == ["b.png"]
    assert status(window) == "Removed 2 reference photos"
    panel.clear_button.click()  # one photo: not asked
    assert names(window) == [] and status(window) == "Removed 1 reference photo"


def test_remove_all_asks_through_the_window(window, tmp_path):
    add_three(window, tmp_path)
    asked = []
    window.confirm = lambda title, text: asked.append((title, text)) or False
    window.reference_panel.clear_button.click()
    assert names(window) == ["a.png", "b.png", "c.png"]
    assert asked == [("Remove Reference Photos", "Remove all 3 reference photos? This cannot "
                      "be undone; the files stay where they are.")]
    window.confirm = lambda title, text: True
    window.reference_panel.clear_button.click()
    assert names(window) == [] and status(window) == "Removed 3 reference photos"


@pytest.mark.parametrize("key", [Qt.Key_Delete, Qt.Key_Backspace])
def test_delete_after_a_click_on_a_thumbnail_removes_it(qtbot, window, tmp_path, key):
    add_three(window, tmp_path)  # the panel is raised: its tab shows
    panel = window.reference_panel
    window.canvas.setFocus()
    qtbot.waitUntil(lambda: window.canvas.hasFocus())
    rect = panel.list.visualItemRect(panel.list.item(1))
    QTest.mouseClick(panel.list.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
    assert [i.row() for i in panel.list.selectedIndexes()] == [1]
    assert window.canvas.hasFocus()  # a click leaves the focus on the canvas
    QTest.keyClick(window.canvas, key)
    assert names(window) == ["a.png", "c.png"]
    assert status(window) == "Removed 1 reference photo"
    QTest.keyClick(window.canvas, key)  # nothing selected now: nothing removed
    assert names(window) == ["a.png", "c.png"]


def test_delete_leaves_photos_behind_a_tab_and_a_text_field_keeps_its_keys(qtbot, window,
                                                                          tmp_path):
    add_three(window, tmp_path)
    panel = window.reference_panel
    panel.list.item(0).setSelected(True)
    window.docks["labels_dock"].raise_()  # the references now behind the Labels tab
    qtbot.waitUntil(lambda: window.docks["references_dock"].visibleRegion().isEmpty())
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key_Delete)
    assert names(window) == ["a.png", "b.png", "c.png"]
    window.docks["references_dock"].raise_()
    qtbot.waitUntil(lambda: not window.docks["references_dock"].visibleRegion().isEmpty())
    search = window.legend.search
    window.docks["labels_dock"].setFloating(True)  # the search in sight with the references
    qtbot.waitUntil(lambda: search.isVisible())
    search.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is search)
    QTest.keyClicks(search, "sky")
    QTest.keyClick(search, Qt.Key_Backspace)
    QTest.keyClick(search, Qt.Key_Home)
    QTest.keyClick(search, Qt.Key_Delete)
    assert search.text() == "k"
    assert names(window) == ["a.png", "b.png", "c.png"]


# --- finding 6: Add Reference Photos needs a picture ----------------------------------------
@pytest.mark.parametrize("where", ["engine list", "legend"])
def test_delete_in_another_panel_removes_no_photo(qtbot, window, tmp_path, where):
    """Only the canvas (where a click on a thumbnail leaves the focus) passes Delete on to
    the references: in another panel's widget it removes nothing (QA audit 22, finding 1)."""
    add_three(window, tmp_path)
    window.reference_panel.list.item(0).setSelected(True)
    window.docks["labels_dock"].setFloating(True)  # in sight with the references
    widget = window.engine_panel.engine if where == "engine list" else window.legend.labels
    qtbot.waitUntil(lambda: widget.isVisible())
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget)
    for key in (Qt.Key_Delete, Qt.Key_Backspace):
        QTest.keyClick(widget, key)
    assert names(window) == ["a.png", "b.png", "c.png"]


def test_add_reference_photos_is_disabled_without_a_picture(qtbot, model_cache):
    window = MainWindow()
    qtbot.addWidget(window)
    try:
        assert not window.actions["add_references"].isEnabled()
        assert not window.reference_panel.add_button.isEnabled()
    finally:
        window.worker.shutdown()


def test_add_reference_photos_is_enabled_with_a_picture(window):
    assert window.actions["add_references"].isEnabled()
    assert window.reference_panel.add_button.isEnabled()


# --- finding 8: Enter while a fill runs ---------------------------------------------------
def paint_hole(qtbot, window) -> None:
    window.select_tool("mask")
    window.tool_settings.radius["mask"] = 8
    drag(qtbot, window, [(12, 24), (52, 24)])


def start_fill(qtbot, window) -> None:
    paint_hole(qtbot, window)
    window.actions["fill"].trigger()
    qtbot.waitUntil(lambda: HeldGuided.gate.entries >= 1, timeout=30000)


def press_enter(window) -> None:
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key_Return)


def test_enter_while_the_fill_runs_applies_it_once_done(qtbot, window):
    start_fill(qtbot, window)
    press_enter(window)
    assert status(window) == ("Enter: the fill will be applied when it is done (Esc "
                              "cancels it)")
    assert window.document.undo_label() == "Mask brush"
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        HeldGuided.gate.release()
    assert window.document.undo_label() == "Fill (Held guided)"
    assert window.document.image[24, 32].tolist() == [PLAIN] * 3
    assert not window.controller.has_result and not window.document.mask.any()


def test_enter_then_esc_applies_nothing(qtbot, window):
    start_fill(qtbot, window)
    press_enter(window)
    QTest.keyClick(window.canvas, Qt.Key_Escape)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=30000)
    HeldGuided.gate.release()
    qtbot.wait(50)
    assert window.document.undo_label() == "Mask brush"
    assert window.document.image[24, 32].tolist() == [PICTURE] * 3
    assert not window.controller.has_result


def test_an_edit_after_enter_leaves_the_fill_waiting(qtbot, window):
    start_fill(qtbot, window)
    press_enter(window)
    said = []
    window.controller.message.connect(said.append)
    window.select_tool("sketch")  # a line away from the hole: the fill still fits
    window.tool_settings.radius["sketch"] = 1
    drag(qtbot, window, [(4, 4), (20, 4)])
    with qtbot.waitSignal(window.controller.waitingChanged, timeout=30000):
        HeldGuided.gate.release()
    qtbot.wait(50)
    assert window.controller.has_result
    assert window.document.undo_label() == "Sketch pen"
    assert any(text.startswith("Done, but not applied: an edit or undo came after Enter")
               for text in said)
    press_enter(window)  # now it applies
    assert window.document.undo_label() == "Fill (Held guided)"


def test_enter_with_nothing_running_or_waiting_says_there_is_nothing_to_apply(window):
    """Not that a fill will be applied (QA audit 26: said, rather than nothing at all)."""
    window.statusBar().clearMessage()
    press_enter(window)
    assert status(window) == "Nothing to apply: fill first (F)"
    assert not window.controller.has_result
    assert not window.document.can_undo()


# --- finding 10: Grow, Shrink, Feather ------------------------------------------------------
@pytest.mark.parametrize("action, said", [("grow", "Grew the mask by"),
                                          ("shrink", "Shrank the mask by"),
                                          ("feather", "Feathered the mask edge by")])
def test_mask_operations_say_what_they_did_and_start_at_the_last_value(qtbot, window, action,
                                                                      said):
    paint_hole(qtbot, window)
    asked = []
    answers = iter([3, 0, 5])  # 0: declined, the last value used stays
    window.ask_pixels = lambda title, default=8: asked.append(default) or next(answers)
    before = window.document.mask.copy()
    window.actions[action].trigger()
    assert status(window).startswith(f"{said} 3 px")
    assert not np.array_equal(window.document.mask, before)
    window.actions[action].trigger()  # declined
    window.actions[action].trigger()
    assert status(window).startswith(f"{said} 5 px")
    assert asked == [8, 3, 3]
    other = "shrink" if action == "grow" else "grow"
    window.ask_pixels = lambda title, default=8: asked.append(default) or 0
    window.actions[other].trigger()
    assert asked[-1] == 8  # each operation its own value


# --- finding 10: the tab bar of the tabbed panels in the Tab order --------------------------
def test_tab_goes_from_the_tab_bar_into_the_panel_its_tab_shows(qtbot, window):
    bars = [bar for bar in window.findChildren(QTabBar, options=Qt.FindDirectChildrenOnly)
            if bar.isVisible()]
    assert len(bars) == 1
    bar = bars[0]
    # Tab from the Engine panel's controls (its engine's options last) reaches the tab bar
    dock = window.docks["engine_dock"]
    window.engine_panel.tab_stops()[0].setFocus()
    qtbot.waitUntil(lambda: dock.isAncestorOf(QApplication.focusWidget()))
    for _ in range(60):
        if not dock.isAncestorOf(QApplication.focusWidget()):
            break
        QTest.keyClick(QApplication.focusWidget(), Qt.Key_Tab)
    assert QApplication.focusWidget() is bar
    overlays = next(index for index in range(bar.count()) if bar.tabText(index) == "Overlays")
    bar.setFocus()
    qtbot.waitUntil(lambda: bar.hasFocus())
    bar.setCurrentIndex(overlays)
    qtbot.waitUntil(lambda: window.overlay_panel.checks[Layer.MASK].focusPolicy()
                    != Qt.NoFocus)
    QTest.keyClick(bar, Qt.Key_Tab)
    assert QApplication.focusWidget() is window.overlay_panel.checks[Layer.MASK]
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_Backtab)
    assert QApplication.focusWidget() is bar
