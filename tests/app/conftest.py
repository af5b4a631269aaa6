"""Fixtures shared by the editor's tests."""

from __future__ import annotations

import pytest

from app.legend import LegendPanel
from tests.app.test_window import shown_window


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
