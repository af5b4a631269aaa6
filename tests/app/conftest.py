"""Fixtures shared by the editor's tests."""

from __future__ import annotations

import pytest

from app.legend import LegendPanel


@pytest.fixture
def legend(qtbot, model_cache):
    """A labels panel shown on its own, 320x480."""
    panel = LegendPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 480)
    panel.show()
    qtbot.waitExposed(panel)
    return panel
