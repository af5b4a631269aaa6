"""Every menu of the editor window can be driven with Alt and one letter: each entry has a
mnemonic, and no two entries of one menu (or two menus of the bar) share one."""

from __future__ import annotations

import re

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu

from app import preferences
from app.document import Layer
from app.window import SAMPLE_IMAGE, MainWindow

pytestmark = pytest.mark.timeout(60)
# notes shown as disabled entries, never chosen: they need no mnemonic
NOTES = {"No Recent Pictures"}


def marks(text: str) -> list[str]:
    """The characters marked as mnemonics in a menu text (``&&`` is a literal ``&``)."""
    return re.findall(r"&(.)", text.replace("&&", ""))


def check_entries(title: str, actions) -> list[str]:
    """Problems of one menu's entries (or the bar's menus): each must have exactly one
    mnemonic, which Qt reads as Alt+letter, and no two the same."""
    problems, seen = [], {}
    for action in actions:
        if action.isSeparator() or (action.text() in NOTES and not action.isEnabled()):
            continue
        text = action.text()
        if len(marks(text)) != 1:
            problems.append(f"{title}: {text!r} has {len(marks(text))} mnemonics, not 1")
            continue
        key = QKeySequence.mnemonic(text).toString()
        if key in seen:
            problems.append(f"{title}: {text!r} and {seen[key]!r} share {key}")
        seen[key] = text
    return problems


def menu_problems(menu: QMenu, title: str) -> list[str]:
    """Problems of ``menu`` and of its submenus."""
    menu.aboutToShow.emit()  # as when it opens: menus filled then (Open Recent) are filled
    problems = check_entries(title, menu.actions())
    for action in menu.actions():
        if action.menu() is not None:
            problems += menu_problems(action.menu(), f"{title} → {action.text()}")
    return problems


def window_problems(window: MainWindow) -> list[str]:
    bar = window.menuBar()
    problems = check_entries("menu bar", bar.actions())
    for action in bar.actions():
        problems += menu_problems(action.menu(), action.text())
    return problems


def test_every_menu_entry_has_a_mnemonic_of_its_own(qtbot, tmp_path):
    window = MainWindow()
    qtbot.addWidget(window)
    window.confirm = lambda title, text: False  # never block on a question
    assert window_problems(window) == []  # no picture, Open Recent empty

    for name in ("a.png", "b&c.png"):  # a "&" in a file name is shown, not a mnemonic
        (tmp_path / name).write_bytes(b"")
        preferences.add_recent(tmp_path / name)
    window.open_path(SAMPLE_IMAGE)
    doc = window.document
    with doc.step("Import label map (b&c.png)"):  # the Undo entry names the step
        doc.paint_segment(Layer.MASK, (10, 10), (20, 10), 4, 255)
    window._update_actions()
    assert window.actions["undo"].text() == "&Undo Import label map (b&&c.png)"
    problems = window_problems(window)
    recent = window.recent_menu.actions()
    assert [a.text() for a in recent[:2]] == ["&1  b&&c.png", "&2  a.png"]
    assert problems == []
    window.worker.shutdown()


def test_the_walk_finds_a_clash_or_a_missing_mnemonic(qtbot):
    """The check itself: a clash, a missing mark and a doubled mark are found."""
    menu = QMenu("&Test")
    qtbot.addWidget(menu)
    for text in ("&Open", "Save &As", "&Other", "Plain", "&Two &Marks", "Tom && &Jerry"):
        menu.addAction(text)
    assert menu_problems(menu, "&Test") == [
        "&Test: '&Other' and '&Open' share Alt+O",
        "&Test: 'Plain' has 0 mnemonics, not 1",
        "&Test: '&Two &Marks' has 2 mnemonics, not 1",
    ]
