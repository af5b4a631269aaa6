"""Every tool has a drawn icon; run actions use the style's icons."""

from __future__ import annotations

import qimage2ndarray

from app.icons import action_icon, tool_icon
from app.tools import ALL_TOOLS


def test_every_tool_icon_has_visible_pixels(qtbot):
    names = [cls.name for cls in ALL_TOOLS] + ["face-box"]
    drawn = {}
    for name in names:
        image = tool_icon(name).pixmap(32, 32).toImage()
        alpha = qimage2ndarray.alpha_view(image)
        assert alpha.max() > 0, name
        drawn[name] = alpha.tobytes()
    assert len(set(drawn.values())) == len(names)  # all different


def test_unknown_names_give_empty_icons(qtbot):
    assert tool_icon("no-such-tool").isNull()
    assert not action_icon("undo").isNull()
