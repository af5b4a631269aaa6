"""Missing weights are said in the GUI's words everywhere the editor says them, as choosing an
engine says them (no command line, no path, no weights id): Compute map with a parser whose
download is declined, the semantic session refusing to start, and the Engine panel's status
line. The terminal keeps its own wording."""

from __future__ import annotations

import pytest

from app.document import Document, Layer
from app.model_dialogs import weights_advice, weights_needed_message
from app.panels import EnginePanel
from app.semantic import SemanticController, download_needed
from app.window import SAMPLE_IMAGE
from app.worker import Worker
from engines import weights
from engines.segmentation.base import create_parser

pytestmark = pytest.mark.timeout(60)

SCENE = "Scene parsing (DeepLab v2, COCO-Stuff)"
NOT_INSTALLED = ("its weights are not installed: download them in File → Models… (or "
                 "Import file… with a copy you have)")
DAMAGED = ("its weights file is damaged: replace it in File → Models… (Download, or Import "
           "file… with a copy you have)")


def _no_command_line(text: str, weights_ids=()) -> None:
    assert "python" not in text and "main.py" not in text and "`" not in text
    assert not any(weights_id in text for weights_id in weights_ids)


def _damage(weights_id: str):
    path = weights.local_path(weights_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")  # an empty file is no checkpoint
    return path


@pytest.fixture
def shown(window, model_cache):
    """The editor with the sample picture open, every download offer declined; the ids
    offered are in ``window.offered``."""
    assert window.open_path(SAMPLE_IMAGE)
    window.offered = []
    window.offer_download = lambda ids: window.offered.append(tuple(ids)) or False
    return window


def test_declining_the_parsers_download_says_what_is_missing_in_the_guis_words(shown):
    assert shown.legend.select_parser("scene")
    shown.legend.compute_button.click()
    assert shown.offered == [("deeplab2-cocostuff164k",)]
    said = shown.statusBar().currentMessage()
    assert said == f"{SCENE} cannot compute the map, as {NOT_INSTALLED}"
    _no_command_line(said, ["deeplab2-cocostuff164k"])
    assert shown.last_error == "" and not shown.semantic.busy  # no error box
    assert not shown.document.has_layer(Layer.LABELS)


def test_a_damaged_parser_file_is_said_without_its_path(shown):
    path = _damage("deeplab2-cocostuff164k")
    shown.models_changed()
    assert shown.compute_map("scene") is None
    said = shown.statusBar().currentMessage()
    assert said == f"{SCENE} cannot compute the map, as {DAMAGED}"
    _no_command_line(said, ["deeplab2-cocostuff164k"])
    assert str(path) not in said


def test_the_terminal_keeps_its_own_wording(model_cache):
    detail = create_parser("scene").status().detail  # what `segment` prints
    assert "python main.py models download deeplab2-cocostuff164k" in detail
    ids, message = download_needed("scene")
    assert ids == ("deeplab2-cocostuff164k",) and message != detail


def test_the_semantic_session_says_missing_weights_in_the_guis_words(qtbot, photo, model_cache):
    worker = Worker()
    try:
        controller = SemanticController(worker)
        controller.set_document(Document(photo))
        errors = []
        controller.error.connect(errors.append)
        assert controller.compute_map("face") is None
        assert errors == [f"Face parsing (BiSeNet or ParseNet) cannot compute the map, as "
                          f"{NOT_INSTALLED}"]
        _no_command_line(errors[0], ["face-bisenet", "face-detection-resnet50"])
    finally:
        worker.shutdown()


@pytest.fixture
def panel(qtbot, model_cache):
    panel = EnginePanel()
    qtbot.addWidget(panel)
    return panel


def test_the_engine_panel_says_missing_weights_in_the_guis_words(panel):
    assert panel.select_engine("lama")
    text = panel.status.text()
    assert text == f"{NOT_INSTALLED[:1].upper()}{NOT_INSTALLED[1:]}. Guidance: none."
    _no_command_line(text, ["lama-big"])
    assert panel.select_engine("telea")
    assert panel.status.text().startswith("Ready. Guidance:")


def test_the_engine_panel_says_a_damaged_file_plainly_and_catches_up(panel):
    path = _damage("lama-big")
    panel.reload_engines()
    assert panel.select_engine("lama")
    text = panel.status.text()
    assert text.startswith("Its weights file is damaged: replace it in File → Models… "
                           "(Download, or Import file… with a copy you have).")
    assert str(path) not in text
    path.unlink()  # removed in File → Models…: the panel is reloaded
    panel.reload_engines()
    assert panel.status.text().startswith("Its weights are not installed: download them")


def test_weights_to_get_by_hand_point_to_models_in_the_panel(panel):
    assert panel.select_engine("migan-256")  # no download address: imported by hand
    text = panel.status.text()
    assert text.startswith("Its weights are not installed: File → Models… says where to get "
                           "them, then Import file… installs them.")
    _no_command_line(text, ["migan-256-places2"])


def test_advice_for_a_damaged_file_with_no_download_address_offers_only_import(make_spec):
    manual = make_spec(manual="ask the authors for the file")
    _damage(manual.id)
    assert weights_advice([manual.id]) == ("its weights file is damaged: replace it in File → "
                                           "Models… (Import file… with a copy you have)")
    assert weights_needed_message("Net", [manual.id]).startswith("Net is selected, but its ")


def test_an_id_no_module_declares_leaves_the_engines_own_words(model_cache):
    assert weights_advice(["no-such-checkpoint"]) == ""  # the caller says the status's words
    assert weights_needed_message("Net", ["no-such-checkpoint"]) == ""
