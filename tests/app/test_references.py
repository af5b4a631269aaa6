"""The reference photos panel: thumbnails made once per photo, hints per engine."""

from __future__ import annotations

import numpy as np
import qimage2ndarray

from app import references as references_module
from app.document import Reference
from app.references import THUMB, ReferencePanel


def test_listing_again_rescales_only_new_photos(qtbot, monkeypatch):
    panel = ReferencePanel()
    qtbot.addWidget(panel)
    made = []

    def counted(rgb, longest=None):
        made.append(rgb.shape)
        return original(rgb, longest)

    original = references_module.rgb_pixmap
    monkeypatch.setattr(references_module, "rgb_pixmap", counted)
    red = Reference("red.png", np.full((300, 200, 3), (220, 30, 30), np.uint8))
    blue = Reference("blue.png", np.full((50, 80, 3), (30, 30, 220), np.uint8))
    panel.show_references([red], engine_uses_them=True)
    panel.show_references([red, blue], engine_uses_them=False, engine_title="OpenCV Telea")
    assert made == [(300, 200, 3), (50, 80, 3)]  # red was not scaled again
    assert "OpenCV Telea does not use reference photos" in panel.hint.text()
    icon = panel.list.item(0).icon().pixmap(THUMB, THUMB).toImage()
    assert tuple(qimage2ndarray.rgb_view(icon)[THUMB // 2, 32]) == (220, 30, 30)
    panel.show_references([blue], engine_uses_them=True)
    panel.show_references([red], engine_uses_them=True)  # removed, then added again
    assert made[2:] == [(300, 200, 3)]
    assert panel.list.count() == 1 and panel.list.item(0).text() == "red.png"
