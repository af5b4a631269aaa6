"""The Tools toolbar holds every tool, the colour eraser and the sampling-area eraser too,
each eraser beside its pens, with an icon and a tooltip naming its key; a click on one
chooses that tool on the canvas."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolBar

from app.shortcuts import keys_for


def _tools_bar(window) -> QToolBar:
    return next(bar for bar in window.findChildren(QToolBar)
                if bar.objectName() == "tools_toolbar")


def _tool_names(window) -> list[str | None]:
    """The toolbar's tools in order, None for a separator (its size box not included)."""
    names = []
    for action in _tools_bar(window).actions():
        if action.isSeparator():
            names.append(None)
        elif action in window.tool_group.actions():
            names.append(next(name for name, tool_action in window.actions.items()
                              if tool_action is action).removeprefix("tool_"))
    return names


def test_every_tool_is_on_the_toolbar_each_eraser_beside_its_pens(window):
    names = _tool_names(window)
    assert sorted(filter(None, names)) == sorted(window.tools)
    groups = " ".join(name or "|" for name in names).split(" | ")
    assert "color color-eraser" in groups
    assert "sample-include sample-exclude sample-eraser" in groups
    assert "mask mask-eraser" in groups and "sketch sketch-eraser" in groups


@pytest.mark.parametrize("name", ["color-eraser", "sample-eraser"])
def test_an_eraser_button_has_icon_and_key_and_chooses_the_tool(qtbot, window, name):
    action = window.actions[f"tool_{name}"]
    assert not action.icon().isNull()
    assert action.toolTip().endswith(f"({keys_for(f'tool_{name}')})"), action.toolTip()
    button = _tools_bar(window).widgetForAction(action)
    assert button is not None and button.isVisible()
    window.select_tool("mask")
    qtbot.mouseClick(button, Qt.LeftButton)
    assert window.canvas.tool is window.tools[name]
    assert action.isChecked() and not window.actions["tool_mask"].isChecked()
    window.select_tool("mask")
    action.trigger()  # the menu entry and the key go through the same action
    assert window.canvas.tool is window.tools[name]
