"""Compare cards say what guidance their engine ignores and what it could not follow in its
fill, as the editor's fill does (:func:`app.controller.ignored_guidance_note`,
:func:`engines.guidance.source_notes`), when the dialog is told the reference photos'
names: a reference photo left out at the engine's Patch size."""

from __future__ import annotations

import numpy as np
import pytest

from app.compare import CompareDialog
from app.document import Document, Layer
from engines import registry
from tests.app.test_compare import run

pytestmark = pytest.mark.timeout(120)

LEFT_OUT = ("The fill left out tiny.png at Patch size 31: it is 12x12 pixels, too small for "
            "one 31x31 patch, so nothing can be copied from it")


@pytest.fixture
def request_(textured, square_mask):
    """The textured picture's request with its hole and a 12x12 reference photo."""
    document = Document(textured)
    document.replace_layer(Layer.MASK, square_mask, "mask")
    document.add_reference(np.full((12, 12, 3), 200, np.uint8), "tiny.png")
    return document.build_request()


IGNORED = "OpenCV Telea ignored the reference photos; Guided PatchMatch follows them"


def patch_31(name: str, **options):
    """Engines as the window makes them, Guided PatchMatch with Patch size 31."""
    return registry.create(name, **({"patch_size": 31} if name == "patchmatch" else {}))


def test_each_card_says_the_reference_its_engine_left_out(qtbot, request_):
    dialog = CompareDialog(request_, ["patchmatch", "telea"], factory=patch_31,
                           reference_names=("tiny.png",))
    qtbot.addWidget(dialog)
    run(qtbot, dialog)
    assert set(dialog.results) == {"patchmatch", "telea"}
    # Telea takes no reference photos: its card says so, as the editor's fill does (QA
    # audit 28, finding 4: Compare said nothing)
    assert dialog.notes == {"patchmatch": (LEFT_OUT[:1].lower() + LEFT_OUT[1:],),
                            "telea": (IGNORED,)}
    card, other = dialog.cards["patchmatch"], dialog.cards["telea"]
    assert card.notes.text() == LEFT_OUT and not card.notes.isHidden()
    assert card.info.text().endswith(" s")  # the time, as before
    assert other.notes.text() == IGNORED and not other.notes.isHidden()


def test_without_the_names_no_card_has_notes(qtbot, request_):
    dialog = CompareDialog(request_, ["patchmatch"], factory=patch_31)
    qtbot.addWidget(dialog)
    run(qtbot, dialog)
    assert dialog.notes == {"patchmatch": ()}
    assert dialog.cards["patchmatch"].notes.isHidden()


def test_an_unnamed_reference_is_called_a_reference_photo(qtbot, request_):
    dialog = CompareDialog(request_, ["patchmatch"], factory=patch_31, reference_names=())
    qtbot.addWidget(dialog)
    run(qtbot, dialog)
    assert dialog.cards["patchmatch"].notes.text() == LEFT_OUT.replace("tiny.png",
                                                                        "a reference photo")


def test_the_windows_compare_names_the_reference_left_out(qtbot, window):
    """Compare opened from the editor passes the reference photos' names: the Guided
    PatchMatch card says which one its Patch size left out, as a fill would."""
    from app.window import SAMPLE_IMAGE

    window.open_path(SAMPLE_IMAGE)
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.select_engine("patchmatch")
    window.engine_panel.options.fields["patch_size"].setValue(31)
    window.document.add_reference(np.full((12, 12, 3), 200, np.uint8), "tiny.png")
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (200, 150), (200, 190), 8, 255)
    dialog = window.compare_engines()  # every ready engine, patchmatch at Patch size 31
    qtbot.waitUntil(lambda: not dialog.running, timeout=90000)
    assert dialog.notes["patchmatch"] == (LEFT_OUT[:1].lower() + LEFT_OUT[1:],)
