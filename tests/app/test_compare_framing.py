"""Which Compare result is framed (the one Enter takes) while no card was clicked: the first
to arrive among those whose engine ignores the least of the guidance given (QA audit 35,
finding 6: after a label edit, OpenCV Telea was framed though its card said it ignored the
edits)."""

from __future__ import annotations

import numpy as np
import pytest

from app.compare import CompareDialog
from app.document import Document, Layer
from engines import registry
from tests.app.test_compare import run

pytestmark = pytest.mark.timeout(120)

TELEA = registry.engine_class("telea").title
PATCHMATCH = registry.engine_class("patchmatch").title


@pytest.fixture
def sketched(textured, square_mask):
    """The textured picture's request with a sketch line across its hole: OpenCV Telea
    ignores it, Guided PatchMatch follows it."""
    document = Document(textured)
    document.replace_layer(Layer.MASK, square_mask, "mask")
    sketch = np.zeros(square_mask.shape, np.uint8)
    sketch[48, 40:90] = 255
    document.replace_layer(Layer.SKETCH, sketch, "sketch")
    return document.build_request()


def _ends(dialog: CompareDialog) -> list[tuple[str, str | None]]:
    """(engine, the result framed) at each engine's end, recorded as the dialog says it."""
    seen: list[tuple[str, str | None]] = []
    dialog.engineEnded.connect(lambda name: seen.append((name, dialog.current)))
    return seen


def test_an_engine_that_follows_the_sketch_takes_the_frame_from_one_that_ignored_it(
        qtbot, sketched):
    dialog = CompareDialog(sketched, ["telea", "patchmatch"], reference_names=())
    qtbot.addWidget(dialog)
    seen = _ends(dialog)
    run(qtbot, dialog)
    # Telea arrives first and is framed (nothing better yet); PatchMatch then takes the frame
    assert seen == [("telea", "telea"), ("patchmatch", "patchmatch")]
    assert dialog.cards["patchmatch"].use_button.isDefault()
    assert not dialog.cards["telea"].use_button.isDefault()
    assert f"Enter uses {PATCHMATCH} (framed)" in dialog.heading.text()
    assert dialog.notes["telea"][0].startswith(f"{TELEA} ignored the sketch")


def test_without_guidance_the_first_result_stays_framed(qtbot, textured, square_mask):
    document = Document(textured)
    document.replace_layer(Layer.MASK, square_mask, "mask")
    dialog = CompareDialog(document.build_request(), ["telea", "patchmatch"])
    qtbot.addWidget(dialog)
    seen = _ends(dialog)
    run(qtbot, dialog)
    assert seen == [("telea", "telea"), ("patchmatch", "telea")]


def test_a_later_result_that_follows_no_more_does_not_take_the_frame(qtbot, sketched):
    dialog = CompareDialog(sketched, ["telea", "ns", "patchmatch"])
    qtbot.addWidget(dialog)
    seen = _ends(dialog)
    run(qtbot, dialog)
    assert seen == [("telea", "telea"), ("ns", "telea"), ("patchmatch", "patchmatch")]


def test_a_card_clicked_keeps_the_frame_when_a_better_result_arrives(qtbot, sketched):
    dialog = CompareDialog(sketched, ["telea", "patchmatch"])
    qtbot.addWidget(dialog)
    seen = _ends(dialog)
    # the user picks Telea's card as soon as it is there, before PatchMatch's result
    dialog.engineEnded.connect(lambda name: name == "telea" and dialog.set_current("telea"))
    run(qtbot, dialog)
    assert seen[-1] == ("patchmatch", "telea")
    assert dialog.current == "telea" and dialog.cards["telea"].use_button.isDefault()
