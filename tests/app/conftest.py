"""Fixtures shared by the editor's tests."""

from __future__ import annotations

import pytest

from app.legend import LegendPanel
from app.window import MainWindow
from tests.app.test_window import shown_window

ASK_SAVE_CHANGES = MainWindow.ask_save_changes  # the real one, kept from the fixture below


@pytest.fixture(autouse=True)
def _save_question_as_confirm(monkeypatch):
    """Closing with unsaved pixels asks Save / Don't Save / Cancel in a modal box
    (:meth:`MainWindow.ask_save_changes`); tests answer it through ``window.confirm``, as
    every other question: True is Don't Save, False is Cancel. The box itself is tested
    with :data:`ASK_SAVE_CHANGES`, the real method."""
    monkeypatch.setattr(MainWindow, "ask_save_changes", lambda self, title, text:
                        "discard" if self.confirm(title, text) else "cancel")


@pytest.fixture
def legend(qtbot, model_cache):
    """A labels panel shown on its own, 320x480."""
    panel = LegendPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 480)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture
def window(qtbot):
    """The editor shown at 1000x700 (:func:`~tests.app.test_window.shown_window`), every
    question answered No; its worker shut down afterwards. A module that needs another
    set-up defines its own ``window``."""
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False  # never block on a question
    yield window
    window.worker.shutdown()
