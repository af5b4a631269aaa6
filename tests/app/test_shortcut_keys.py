"""Keys of their own for the layer commands (Import and Export Sketch, Add References, Clear
Sketch, Clear Colour Strokes, Clear Sampling Area): each key belongs to one action only, none
is a key Qt gives a standard meaning, they show in the menus and the F1 list, and pressing
them does the command."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Layer
from app.shortcuts import SHORTCUTS, ShortcutsDialog, keys_for
from engines.fileio import load_mask, save_image
from tests.app.test_window import shown_window

H, W = 60, 80
CTRL, SHIFT, ALT = Qt.ControlModifier, Qt.ShiftModifier, Qt.AltModifier
# action: (keys as the table gives them, key pressed, modifiers)
LAYER_KEYS = {
    "import_sketch": ("Ctrl+Alt+P", Qt.Key_P, CTRL | ALT),
    "export_sketch": ("Ctrl+Shift+Alt+P", Qt.Key_P, CTRL | SHIFT | ALT),
    "add_references": ("Ctrl+Alt+R", Qt.Key_R, CTRL | ALT),
    "clear_sketch": ("Ctrl+Shift+P", Qt.Key_P, CTRL | SHIFT),
    "clear_color": ("Ctrl+Shift+C", Qt.Key_C, CTRL | SHIFT),
    "clear_sampling": ("Ctrl+Shift+K", Qt.Key_K, CTRL | SHIFT),
}


@pytest.fixture
def window(qtbot, tmp_path):
    """A window on a small noisy picture, the canvas holding the focus."""
    window = shown_window(qtbot, (1000, 700))
    window.confirm = lambda title, text: False  # never block on a question
    errors = []
    window.show_error = errors.append
    window.errors = errors
    save_image(tmp_path / "photo.png",
               np.random.default_rng(4).integers(0, 255, (H, W, 3)).astype(np.uint8))
    assert window.open_path(tmp_path / "photo.png")
    window.engine_panel.auto_run.setChecked(False)
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus, timeout=5000)
    yield window
    window.worker.shutdown()


def _bound_keys(shortcut) -> list[str]:
    return [QKeySequence(keys).toString() for keys in shortcut.keys.split(" or ")]


def test_every_key_of_the_table_is_one_valid_key_of_one_action():
    seen: dict[str, str] = {}
    for shortcut in SHORTCUTS:
        if shortcut.direct:
            continue
        for keys in shortcut.keys.split(" or "):
            sequence = QKeySequence(keys)
            assert sequence.count() == 1 and not sequence.isEmpty(), keys  # no typing slip
            normal = sequence.toString()
            assert normal not in seen, f"{keys}: {shortcut.action} and {seen[normal]}"
            seen[normal] = shortcut.action


def test_no_two_actions_of_the_window_share_a_key(window):
    owners: dict[str, str] = {}
    for action in window.findChildren(QAction):
        for sequence in action.shortcuts():
            key = sequence.toString()
            assert key not in owners, f"{key}: {action.text()!r} and {owners[key]!r}"
            owners[key] = action.text()


def test_the_layer_keys_are_no_standard_keys_of_qt():
    standard = {sequence.toString()
                for key in QKeySequence.StandardKey
                for sequence in QKeySequence.keyBindings(key)}
    for name, (keys, _key, _modifiers) in LAYER_KEYS.items():
        assert keys_for(name) == keys
        assert QKeySequence(keys).toString() not in standard, name


def _menu_actions(menu: QMenu) -> list[QAction]:
    found = []
    for action in menu.actions():
        found += _menu_actions(action.menu()) if action.menu() else [action]
    return found


def test_the_layer_keys_show_in_the_menus_tooltips_and_f1_list(qtbot, window):
    in_menus = [action for top in window.menuBar().actions() for action in
                _menu_actions(top.menu())]
    dialog = window.show_shortcuts()
    rows = {dialog.table.item(row, 1).text(): dialog.table.item(row, 0).text()
            for row in range(dialog.table.rowCount())}
    for name, (keys, _key, _modifiers) in LAYER_KEYS.items():
        action = window.actions[name]
        assert action in in_menus, name
        assert [k.toString() for k in action.shortcuts()] == [QKeySequence(keys).toString()]
        assert action.toolTip().endswith(f"({keys})"), action.toolTip()
        assert rows[keys] == next(s.text for s in SHORTCUTS if s.action == name)
    dialog.close()
    assert isinstance(dialog, ShortcutsDialog)


def _press(qtbot, window, name: str) -> None:
    _keys, key, modifiers = LAYER_KEYS[name]
    qtbot.keyClick(window.canvas, key, modifiers)


def _sketch(document) -> None:
    with document.step("Sketch pen"):
        document.paint_segment(Layer.SKETCH, (10, 30), (70, 30), 1.5, 255)


def _colour(document) -> None:
    with document.step("Colour brush"):
        document.paint_segment(Layer.COLOR, (10, 20), (70, 20), 4, (230, 20, 20, 255))


def _sampling(document) -> None:
    with document.step("Sampling area: include"):
        document.paint_segment(Layer.SAMPLING, (10, 10), (40, 10), 5, SAMPLE_INCLUDE)
    with document.step("Sampling area: exclude"):
        document.paint_segment(Layer.SAMPLING, (20, 50), (70, 50), 5, SAMPLE_EXCLUDE)


@pytest.mark.parametrize("name, draw, layer", [
    ("clear_sketch", _sketch, Layer.SKETCH),
    ("clear_color", _colour, Layer.COLOR),
    ("clear_sampling", _sampling, Layer.SAMPLING),
])
def test_a_clear_key_clears_its_layer_in_one_undo_step(qtbot, window, name, draw, layer):
    document = window.document
    draw(document)
    drawn = document.layer(layer).copy()
    others = {other: document.layer(other).copy() for other in Layer if other is not layer}
    assert drawn.any()
    _press(qtbot, window, name)
    assert not document.layer(layer).any()
    assert all(np.array_equal(document.layer(other), pixels)
               for other, pixels in others.items())  # only its own layer
    assert document.undo_label().startswith("Clear")
    window.undo()  # one step brings it all back
    assert np.array_equal(document.layer(layer), drawn)


def test_the_sketch_keys_export_and_import_the_sketch(qtbot, window, tmp_path):
    document = window.document
    _sketch(document)
    drawn = document.layer(Layer.SKETCH).copy()
    target = tmp_path / "lines.png"
    window.ask_save_path = lambda title, suggestion, filters: str(target)
    _press(qtbot, window, "export_sketch")
    assert np.array_equal(load_mask(target), drawn)
    _press(qtbot, window, "clear_sketch")
    window.ask_open_path = lambda title, filters, folder="": str(target)
    _press(qtbot, window, "import_sketch")
    assert np.array_equal(document.layer(Layer.SKETCH), drawn)
    assert document.undo_label() == "Import sketch" and window.errors == []


def test_the_references_key_adds_reference_photos(qtbot, window, tmp_path):
    other = tmp_path / "other_view.png"
    save_image(other, np.random.default_rng(5).integers(0, 255, (H, W, 3)).astype(np.uint8))
    asked = []
    window.ask_open_paths = lambda *args: asked.append(args[0]) or [str(other)]
    _press(qtbot, window, "add_references")
    assert asked == ["Add Reference Photos"]
    assert [reference.name for reference in window.document.references] == ["other_view.png"]
