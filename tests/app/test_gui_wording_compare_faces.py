"""The Compare Engines dialog and the Faces panel say what an engine or face network lacks in
the GUI's words (File → Models…), never with the command-line tool's commands that the
engines' and parsers' own status lines give."""

from __future__ import annotations

import pytest

from app.compare import CompareDialog
from app.document import Document, Layer
from app.faces import DETECTOR_WEIGHTS, PARSER_WEIGHTS, face_parser
from app.window import MainWindow
from engines import registry, weights
from engines.fileio import save_image

pytestmark = pytest.mark.timeout(120)

COMMAND = "python main.py"
NOT_INSTALLED = ("Its weights are not installed: download them in File → Models… (or Import "
                 "file… with a copy you have)")
DAMAGED = ("Its weights file is damaged: replace it in File → Models… (Download, or Import "
           "file… with a copy you have)")
BY_HAND = ("Its weights are not installed: File → Models… says where to get them, then Import "
           "file… installs them")
TO_TRAIN = ("It has no trained model yet. The window has no training: train one on a folder of "
            "your photos with the command-line tool's “train semantic” command (it installs "
            "the model when done), or import a model file you have (File → Models…, Import "
            "file…)")
HTML_PAGE = b"<!DOCTYPE html><html><body>Quota exceeded</body></html>"
FACE_BOX = (40, 20, 90, 80)  # a face box in the 96x128 picture


def damage(weights_id: str) -> None:
    """Install an HTML page (a failed download) in place of ``weights_id``'s checkpoint."""
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(HTML_PAGE)


@pytest.fixture
def request_(textured, square_mask):
    document = Document(textured)
    document.replace_layer(Layer.MASK, square_mask, "mask")
    return document.build_request()


def test_compare_cards_say_what_an_engine_lacks_in_the_guis_words(qtbot, request_,
                                                                   model_cache):
    damage("deepfill2-places2")
    expected = {"lama": NOT_INSTALLED, "deepfill2": DAMAGED, "migan-256": BY_HAND,
                "semantic": TO_TRAIN}
    for name in expected:  # what the engines themselves say names commands
        assert COMMAND in registry.create(name).status().detail
    dialog = CompareDialog(request_, [*expected, "telea"])
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.completed, timeout=60000):
        dialog.start()
    assert set(dialog.results) == {"telea"}
    assert dialog.reasons == expected
    for name, text in expected.items():
        card = dialog.cards[name]
        assert card.info.text() == text and not card.use_button.isEnabled()


def test_compare_with_no_ready_engine_points_to_the_models_window(qtbot, request_):
    dialog = CompareDialog(request_, [])
    qtbot.addWidget(dialog)
    assert dialog.heading.text() == "No engine is ready to compare: download one in File → Models…"


@pytest.fixture
def window(qtbot, tmp_path, textured, model_cache):
    """A shown window on a small picture with no face weights installed."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.show_error = lambda text: None  # never a message box
    assert window.open_path(save_image(tmp_path / "picture.png", textured))
    yield window
    window.worker.shutdown()


DETECTION_MISSING = ("Face detection cannot start, as its weights are not installed: download "
                     "them in File → Models… (or Import file… with a copy you have); or Use a "
                     "box and drag a box from mid-forehead to the chin")
PARSER_MISSING = ("The face parser cannot draw the face's lines, as its weights are not "
                  "installed: download them in File → Models… (or Import file… with a copy you "
                  "have)")
PARSER_DAMAGED = ("The face parser cannot draw the face's lines, as its weights file is damaged: "
                  "replace it in File → Models… (Download, or Import file… with a copy you "
                  "have)")


def test_faces_panel_says_a_missing_detector_in_the_guis_words(window):
    assert not weights.is_present(DETECTOR_WEIGHTS)
    assert window.faces.detect() is None
    panel = window.face_panel
    assert panel.status.text() == DETECTION_MISSING
    assert COMMAND not in panel.hint.text() and "Use a box" in panel.hint.text()


@pytest.mark.parametrize(("damaged", "said"), [(False, PARSER_MISSING), (True, PARSER_DAMAGED)])
def test_faces_panel_says_the_face_parsers_missing_weights_in_the_guis_words(window, damaged,
                                                                              said):
    if damaged:
        damage(PARSER_WEIGHTS)
    assert COMMAND in face_parser().status().detail  # what the parser itself says
    window._on_face_box(FACE_BOX)
    assert window.faces.edit is not None
    assert window.faces.auto_sketch(use_parser=True) is None
    assert window.face_panel.status.text() == said
    assert not window.faces.edit.document.layer(Layer.SKETCH).any()  # nothing was drawn
