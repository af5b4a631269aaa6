"""QA audit 34, F3: closing a picture with no changes of its own, but guidance no file keeps
and a fill shown, not applied, names the fill too: answering Yes discards both."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import Layer
from tests.app.test_face_paste_fixes import choose
from tests.app.test_face_paste_fixes import photo as photo
from tests.app.test_face_paste_fixes import window as window

pytestmark = pytest.mark.timeout(120)


def _sketch_and_waiting_fill(qtbot, window) -> None:
    doc = window.document
    with doc.step("Sketch pen"):
        doc.paint_segment(Layer.SKETCH, (5, 40), (60, 40), 2, 255)
    mask = np.zeros((doc.height, doc.width), np.uint8)
    mask[30:50, 30:60] = 255
    doc.replace_layer(Layer.MASK, mask, "Mask brush")
    choose(window, "telea")
    with qtbot.waitSignal(window.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        window.controller.run()
    assert window.controller.has_result and not doc.picture_modified


def test_the_question_names_the_waiting_fill_beside_the_guidance(qtbot, window, photo):
    _sketch_and_waiting_fill(qtbot, window)
    assert not window.close()  # answered No: nothing lost
    assert window.asked == [("Unsaved changes", "The sketch you drew is not saved with the "
                             "picture: export it (File → Export Sketch…) to keep it. The fill "
                             "shown is not applied yet (Enter applies it). Discard them?")]
    assert window.controller.has_result and window.isVisible()


def test_yes_closes_without_applying_the_fill(qtbot, window, photo, tmp_path):
    _sketch_and_waiting_fill(qtbot, window)
    window.answer = True
    assert window.close()
    assert len(window.asked) == 1 and "The fill shown is not applied yet" in window.asked[0][1]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["face.png"]  # nothing written
