"""Open Recent with pictures that are no longer there: the entry stays listed and choosable,
marked "(missing)" with the reason in its tips; choosing it says the file is gone and asks
whether to take it off the list; Remove Missing takes every gone one off at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from app import preferences
from app.window import MainWindow
from engines.fileio import save_image

pytestmark = pytest.mark.timeout(60)


def wait_for_recent_checks(window: MainWindow) -> None:
    """Until every check of Open Recent's entries has answered and its answers are handled
    (a menu filled again while a check ran is checked after it)."""
    deadline = time.monotonic() + 5
    while window._recent_checking and time.monotonic() < deadline:
        window._recent_check.join(0.05)
        QApplication.processEvents()  # the answers are queued signals
    assert not window._recent_checking


def _picture(path: Path) -> Path:
    save_image(path, np.full((24, 32, 3), 90, np.uint8))
    return path


def _checked(window: MainWindow) -> dict[str, tuple[str, str, bool]]:
    """(text, tooltip, enabled) of each Open Recent entry by path, once the menu opened and
    the check of every entry answered."""
    window.recent_menu.aboutToShow.emit()
    wait_for_recent_checks(window)
    return {a.data(): (a.text(), a.toolTip(), a.isEnabled())
            for a in window.recent_menu.actions() if a.data()}


@pytest.fixture
def listed(window, tmp_path) -> tuple[Path, Path, Path]:
    """Three pictures opened (a, b, c; c listed first), then a and b deleted."""
    a, b, c = (_picture(tmp_path / f"{name}.png") for name in "abc")
    for path in (a, b, c):
        assert window.open_path(path)
    wait_for_recent_checks(window)
    a.unlink()
    b.unlink()
    return a, b, c


def _asking(window: MainWindow, answer: bool) -> list[tuple[str, str]]:
    asked: list[tuple[str, str]] = []
    window.confirm = lambda title, text: asked.append((title, text)) or answer
    return asked


def test_a_missing_picture_is_marked_and_stays_choosable(window, listed):
    a, b, c = listed
    assert _checked(window) == {
        str(c): ("&1  c.png", str(c), True),
        str(b): ("&2  b.png  (missing)", f"{b} (no longer there)", True),
        str(a): ("&3  a.png  (missing)", f"{a} (no longer there)", True)}
    assert window.actions["clear_missing"].isEnabled()
    assert window.actions["clear_missing"] in window.recent_menu.actions()


def test_choosing_a_missing_picture_says_so_and_offers_to_remove_it(window, listed):
    a, b, c = listed
    _checked(window)
    asked = _asking(window, answer=False)
    entries = {action.data(): action for action in window.recent_menu.actions()}
    entries[str(a)].trigger()  # an enabled entry: Qt triggers it
    assert len(asked) == 1
    title, text = asked[0]
    assert title == "Picture not found"
    assert f"a.png is no longer at {a.parent}" in text and "Remove it from Open Recent?" in text
    assert window.statusBar().currentMessage() == (
        f"a.png is no longer at {a.parent}: kept in Open Recent")
    assert preferences.load_recent() == [str(c), str(b), str(a)]  # kept: declined
    assert window.document.path == str(c)  # nothing else happened to the picture
    assert window.last_error == ""

    asked = _asking(window, answer=True)
    entries[str(a)].trigger()
    assert len(asked) == 1
    assert window.statusBar().currentMessage() == (
        f"a.png is no longer at {a.parent}: removed from Open Recent")
    assert preferences.load_recent() == [str(c), str(b)]
    assert [text for text, _, _ in _checked(window).values()] == [
        "&1  c.png", "&2  b.png  (missing)"]


def test_remove_missing_takes_every_gone_picture_off_the_list(window, listed):
    _a, _b, c = listed
    _checked(window)
    asked = _asking(window, answer=True)
    window.actions["clear_missing"].trigger()
    assert asked == []  # the menu entry says what it does: nothing to ask
    assert preferences.load_recent() == [str(c)]
    assert window.statusBar().currentMessage() == "Removed 2 missing pictures from Open Recent"
    assert _checked(window) == {str(c): ("&1  c.png", str(c), True)}
    assert not window.actions["clear_missing"].isEnabled()  # none missing now


def test_a_picture_that_comes_back_is_shown_plain_again(window, listed):
    a, _b, _c = listed
    assert _checked(window)[str(a)][0] == "&3  a.png  (missing)"
    _picture(a)  # its drive came back
    assert _checked(window)[str(a)] == ("&3  a.png", str(a), True)
    assert window.open_recent(str(a)) and window.document.path == str(a)


def test_a_picture_gone_while_a_check_runs_is_marked_once_that_check_is_done(
        qtbot, window, tmp_path, monkeypatch):
    a, b = _picture(tmp_path / "a.png"), _picture(tmp_path / "b.png")
    assert window.open_path(a) and window.open_path(b)  # b listed first
    wait_for_recent_checks(window)
    release = threading.Event()
    problem_of = preferences.recent_problem

    def slow(path):  # the check finds a.png fine, then its drive stalls
        problem = problem_of(path)
        if path == str(a):
            release.wait(10)
        return problem

    monkeypatch.setattr(preferences, "recent_problem", slow)
    window.recent_menu.aboutToShow.emit()  # a check starts, and stalls after a.png
    a.unlink()
    window.recent_menu.aboutToShow.emit()  # the menu opens again while that check runs
    release.set()
    wait_for_recent_checks(window)
    entries = {action.data(): action.text() for action in window.recent_menu.actions()
               if action.data()}
    assert entries == {str(b): "&1  b.png", str(a): "&2  a.png  (missing)"}
