"""Weights that fail during a run (a file that passed the quick checks but is another
network's, one that cannot be read, one that vanished) and the semantic engine run without a
label map are said in the editor's words, from the errors' fields: the window's error box and
status bar, a Compare card, the Faces panel and the download dialogs name File → Models…, the
Labels panel's Compute map or File → Import Label Map…, never a command of ``python
main.py`` (which the errors' own messages, the command line's, still give)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.compare import CompareDialog
from app.document import Document, Layer
from app.faces import DETECTOR_WEIGHTS
from app.model_dialogs import (
    FILL_SITUATION,
    MAP_SITUATION,
    ImportDialog,
    gui_error_text,
    not_ready_advice,
    weights_error_text,
    weights_needed_message,
)
from app.panels import engine_entries
from app.window import MainWindow
from engines import download, registry, weights
from engines.base import EngineError, EngineNotReadyError, InputError, Readiness, Status
from engines.device import MODEL_SLOT
from engines.fileio import save_image
from engines.neural.semantic import LabelMapNeededError, SemanticInpaintNet, checkpoint_dict
from engines.neural.semantic_training import install, save_checkpoint
from engines.segmentation.base import create_parser
from tests.app.test_fill_weights_missing import on_a_hole
from tests.engines.test_weights_error_fields import installed_as

pytestmark = pytest.mark.timeout(180)

COMMAND = "python main.py"
REPLACE_BY_IMPORT = "replace it in File → Models… (Import file… with a copy you have)"
REPLACE = "replace it in File → Models… (Download, or Import file… with a copy you have)"
MIGAN_256 = ("The file installed as MI-GAN 256 (Places2) is not that checkpoint: it does not fit "
             "the MI-GAN 256 generator (missing: ")
LABEL_MAP = ("Semantic-guided network needs a label map: compute one in the Labels panel "
             "(Compute map), or import one (File → Import Label Map…)")
NOT_A_PICKLE = b"\x80\x02 is the start of a pickle, the rest is not"


@pytest.fixture(autouse=True)
def _free_model_slot():
    yield
    MODEL_SLOT.clear()


def gui_words(text: str) -> None:
    """``text`` names no command, no command-line quoting and no path of the cache."""
    assert COMMAND not in text and "`" not in text
    assert str(weights.cache_dir()) not in text


def trained_semantic_model(folder: Path) -> None:
    """An untrained 4-class semantic model installed as ``semantic-local``."""
    torch.manual_seed(0)
    checkpoint = folder / "model.pt"
    save_checkpoint(checkpoint, checkpoint_dict(SemanticInpaintNet(4, channels=4, memory=4),
                                                {"step": 1}))
    install(checkpoint)


def assert_wrong_migan_file(text: str) -> None:
    assert text.startswith(MIGAN_256) and text.endswith(f"; {REPLACE_BY_IMPORT}"), text
    gui_words(text)


# --- the words ------------------------------------------------------------------------------


def test_the_words_for_each_kind_of_weights_error(model_cache, make_spec):
    spec = make_spec(urls=("https://example.invalid/net.pth",), title="Test net")
    missing = weights.WeightsMissingError(f"run `{COMMAND} models download {spec.id}`",
                                          weights_ids=(spec.id,))
    assert weights_error_text(missing) == (
        "The Test net weights are not installed: download them in File → Models… (or Import "
        "file… with a copy you have)")
    path = weights.local_path(spec.id)
    damaged = weights.WeightsCorruptError(f"{path} is damaged; run `{COMMAND} …`",
                                          weights_ids=(spec.id,), path=path,
                                          reason="it is an empty file")
    assert weights_error_text(damaged) == (
        f"The Test net weights file is damaged: it is an empty file; {REPLACE}")
    several = weights.WeightsCorruptError("…", weights_ids=("lama-big", "lama-big-torchscript"),
                                          path=path, reason="it is an empty file")
    assert weights_error_text(several) == (
        "The LaMa big (official) and LaMa big (TorchScript, IOPaint) weights files are damaged: "
        "replace them in File → Models… (Download, or Import file… with a copy you have)")
    # a file being downloaded or imported: nothing installed is at fault, its reason is said
    refused = weights.WrongFileError(f"x.pth is a web page; run `{COMMAND} …`",
                                     weights_ids=(spec.id,), reason="x.pth is a web page")
    assert weights_error_text(refused) == "x.pth is a web page"
    # an engine with no download address runs a downloadable export instead
    assert weights_error_text(weights.WeightsMissingError(
        "…", weights_ids=("migan-512-places2", "migan-traced"))) == (
        "The MI-GAN 512 (Places2) weights are not installed: download its TorchScript export, "
        "MI-GAN 512 (Places2, TorchScript, IOPaint), in File → Models… (or get its own weights "
        "as File → Models… says, then Import file… installs them)")
    # the semantic engine's model is trained, not downloaded
    trained = weights_error_text(weights.WeightsMissingError("…",
                                                             weights_ids=("semantic-local",)))
    assert trained.startswith("Semantic-guided network cannot fill the hole, as it has no "
                              "trained model yet. The window has no training")
    assert weights_error_text(LabelMapNeededError("Semantic-guided network")) == LABEL_MAP
    for text in (weights_error_text(missing), weights_error_text(damaged), trained):
        gui_words(text)
    # anything else keeps its own line
    assert weights_error_text(InputError("the mask is empty")) == ""
    assert gui_error_text(InputError("the mask is empty")) == "the mask is empty"
    assert gui_error_text(EngineError("out of ideas")) == "out of ideas"


# --- the window ------------------------------------------------------------------------------


@pytest.fixture
def editor(window, model_cache):
    """The editor on a 64x80 picture with :data:`HOLE` masked, filling only when asked."""
    on_a_hole(window)
    return window


def fill_and_wait_for_the_error(qtbot, window, engine: str, then=None) -> str:
    """Choose ``engine`` (the Engine panel says it is ready), call ``then()`` (the panel
    not told) when given, fill, and return the error the window shows."""
    window.engine_panel.reload_engines()
    assert window.engine_panel.select_engine(engine)
    if then is not None:
        assert window.engine_panel.readiness(engine)[0] is Readiness.READY
        assert window.engine_panel.status.text().startswith("Ready")
        then()
    assert window.fill() is not None  # ready: the run starts
    qtbot.waitUntil(lambda: window.last_error != "", timeout=60000)
    assert not window.controller.busy and not window.controller.has_result
    return window.last_error


def test_a_fill_whose_checkpoint_does_not_fit_says_so_in_the_guis_words(qtbot, editor):
    installed_as("migan-256-places2", {"x": torch.zeros(2)})
    with pytest.raises(weights.CheckpointMismatchError) as raised:  # the command line's words
        list(registry.create("migan-256").run(editor.document.build_request()))
    assert f"{COMMAND} models remove migan-256-places2" in str(raised.value)
    MODEL_SLOT.clear()
    said = fill_and_wait_for_the_error(qtbot, editor, "migan-256")
    assert_wrong_migan_file(said)
    assert editor.statusBar().currentMessage() == f"Error: {said}"


def test_a_fill_whose_file_cannot_be_read_says_it_is_damaged(qtbot, editor):
    path = weights.local_path("migan-256-places2")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(NOT_A_PICKLE)
    weights.write_manifest("migan-256-places2", "0" * 64, "test", "size")  # its size passes
    assert weights.is_present("migan-256-places2")
    said = fill_and_wait_for_the_error(qtbot, editor, "migan-256")
    assert said.startswith("The MI-GAN 256 (Places2) weights file is damaged: ")
    assert said.endswith(f"; {REPLACE_BY_IMPORT}")
    gui_words(said)


def test_a_semantic_fill_without_a_label_map_names_compute_map(qtbot, editor, tmp_path):
    trained_semantic_model(tmp_path)
    said = fill_and_wait_for_the_error(qtbot, editor, "semantic")
    assert said == LABEL_MAP
    gui_words(said)


# --- an engine found not ready when it runs -----------------------------------------------------

DEEPFILL1 = "DeepFill v1 (ImageNet)"
INSTALL = "download them in File → Models… (or Import file… with a copy you have)"


def test_the_words_for_an_engine_or_parser_found_not_ready(model_cache, tmp_path):
    engine = registry.create("deepfill1")
    with pytest.raises(EngineNotReadyError) as raised:
        engine.require_ready()
    said = weights_error_text(raised.value)
    assert said == f"{DEEPFILL1} cannot fill the hole, as its weights are not installed: {INSTALL}"
    # what the window says of an engine it knows is not ready
    assert said == f"{DEEPFILL1} {FILL_SITUATION} " \
                   f"{not_ready_advice(Readiness.NEEDS_DOWNLOAD, type(engine))}"
    placed = weights.local_path("deepfill1-imagenet")
    placed.parent.mkdir(parents=True, exist_ok=True)
    placed.write_bytes(b"")
    with pytest.raises(EngineNotReadyError) as raised:
        engine.require_ready()
    damaged = weights_error_text(raised.value)
    assert damaged == f"{DEEPFILL1} cannot fill the hole, as its weights file is damaged: {REPLACE}"
    with pytest.raises(EngineNotReadyError) as raised:  # no trained model
        registry.create("semantic").require_ready()
    trained = gui_error_text(raised.value)
    assert trained.startswith("Semantic-guided network cannot fill the hole, as it has no "
                              "trained model yet. The window has no training")
    # a parser's (a label map): as the Labels panel says it
    title = "Scene parsing (DeepLab v2, COCO-Stuff)"
    parser = EngineNotReadyError(f"{title}: weights deeplab2-cocostuff164k not installed; run "
                                 f"`{COMMAND} models download deeplab2-cocostuff164k`",
                                 status=Status(Readiness.NEEDS_DOWNLOAD, "…"), name="scene",
                                 title=title, weights_ids=("deeplab2-cocostuff164k",),
                                 parser=True)
    mapped = weights_error_text(parser)
    assert mapped == weights_needed_message(title, ("deeplab2-cocostuff164k",), MAP_SITUATION)
    assert mapped == f"{title} cannot compute the map, as its weights are not installed: {INSTALL}"
    for text in (said, damaged, trained, mapped):
        gui_words(text)
    # no advice for it (another readiness): the engine's own words, as the window says them
    unavailable = EngineNotReadyError("QA: needs a GPU", name="qa", title="QA",
                                      status=Status(Readiness.UNAVAILABLE, "needs a GPU"))
    assert weights_error_text(unavailable) == ""
    assert gui_error_text(unavailable) == "QA: needs a GPU"


def _remove(path: Path):
    return lambda: path.unlink()


def _damage(path: Path):
    return lambda: path.write_bytes(b"")


@pytest.mark.parametrize(("change", "words"), [
    (_remove, f"its weights are not installed: {INSTALL}"),
    (_damage, f"its weights file is damaged: {REPLACE}"),
])
def test_a_fill_whose_weights_went_after_the_panel_said_ready(qtbot, editor, change, words):
    path = installed_as("deepfill1-imagenet", {"x": torch.zeros(2)})
    said = fill_and_wait_for_the_error(qtbot, editor, "deepfill1", then=change(path))
    assert said == f"{DEEPFILL1} cannot fill the hole, as {words}"
    gui_words(said)
    assert editor.statusBar().currentMessage() == f"Error: {said}"
    # what the window says of it once the panel knows
    editor.engine_panel.reload_engines()
    assert editor.engine_panel.readiness("deepfill1")[0] is Readiness.NEEDS_DOWNLOAD
    assert editor.fill(offer=False) is None
    assert editor.statusBar().currentMessage() == said


def test_a_fill_whose_file_is_no_state_dict_says_it_is_damaged(qtbot, editor):
    installed_as("deepfill1-imagenet", [1, 2])
    said = fill_and_wait_for_the_error(qtbot, editor, "deepfill1")
    assert said == ("The DeepFill v1 ImageNet (daa233) weights file is damaged: it is not a state "
                    f"dict; {REPLACE}")
    gui_words(said)


def test_a_label_map_whose_parser_file_is_no_state_dict_says_it_is_damaged(qtbot, editor):
    installed_as("deeplab2-cocostuff164k", [1])
    assert editor.compute_map("scene") is not None  # ready: the map is computed
    qtbot.waitUntil(lambda: editor.last_error != "", timeout=60000)
    said = editor.last_error
    assert said == ("The DeepLab v2 ResNet-101 COCO-Stuff 164k weights file is damaged: it is not "
                    f"a state dict; {REPLACE}")
    gui_words(said)


# --- Compare ----------------------------------------------------------------------------------


def test_compare_cards_say_run_time_weights_errors_in_the_guis_words(qtbot, model_cache,
                                                                     tmp_path, textured,
                                                                     square_mask):
    installed_as("migan-256-places2", {"x": torch.zeros(2)})
    trained_semantic_model(tmp_path)
    document = Document(textured)
    document.replace_layer(Layer.MASK, square_mask, "mask")
    dialog = CompareDialog(document.build_request(), ["migan-256", "semantic", "telea"])
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.completed, timeout=120000):
        dialog.start()
    assert set(dialog.results) == {"telea"}
    assert_wrong_migan_file(dialog.reasons["migan-256"])
    assert dialog.reasons["semantic"] == LABEL_MAP
    for name in ("migan-256", "semantic"):
        assert dialog.cards[name].info.text() == dialog.reasons[name]
        assert not dialog.cards[name].use_button.isEnabled()


def test_compare_cards_of_engines_whose_weights_went_after_the_panel_said_ready(
        qtbot, model_cache, textured, square_mask):
    before = installed_as("deepfill1-imagenet", {"x": torch.zeros(2)})
    during = installed_as("deepfill2-places2", {"x": torch.zeros(2)})
    assert all(readiness is Readiness.READY for name, _title, readiness, _detail
               in engine_entries() if name in ("deepfill1", "deepfill2"))
    before.unlink()  # before the comparison starts: its card's check sees it

    def factory(name: str, **options):
        """The engines, deepfill2's file removed once its card found it ready."""
        engine = registry.create(name, **options)
        if name == "deepfill2":
            checked = engine.status

            def status():
                found = checked()
                during.unlink(missing_ok=True)
                return found

            engine.status = status
        return engine

    document = Document(textured)
    document.replace_layer(Layer.MASK, square_mask, "mask")
    dialog = CompareDialog(document.build_request(), ["deepfill1", "deepfill2", "telea"],
                           factory=factory)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.completed, timeout=120000):
        dialog.start()
    assert set(dialog.results) == {"telea"}
    assert dialog.reasons["deepfill1"] == f"Its weights are not installed: {INSTALL}"
    assert dialog.reasons["deepfill2"] == ("DeepFill v2 (Places2) cannot fill the hole, as its "
                                           f"weights are not installed: {INSTALL}")
    for name in ("deepfill1", "deepfill2"):
        gui_words(dialog.reasons[name])
        assert dialog.cards[name].info.text() == dialog.reasons[name]
        assert not dialog.cards[name].use_button.isEnabled()


# --- the Faces panel ----------------------------------------------------------------------------


@pytest.fixture
def photo_window(qtbot, tmp_path, textured, model_cache):
    """A shown window on a small picture."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.open_path(save_image(tmp_path / "picture.png", textured))
    yield window
    window.worker.shutdown()


def test_a_detector_file_of_another_network_is_said_in_the_faces_panel(qtbot, photo_window):
    installed_as(DETECTOR_WEIGHTS, {"x": torch.zeros(2)})
    assert photo_window.faces.detect() is not None  # ready: detection starts
    title = weights.get_spec(DETECTOR_WEIGHTS).title
    panel = photo_window.face_panel
    qtbot.waitUntil(lambda: panel.status.text().startswith("The file installed as"),
                    timeout=60000)
    said = panel.status.text()
    assert said.startswith(f"The file installed as {title} is not that checkpoint: it does not "
                           "fit ")
    assert said.endswith(f"; {REPLACE}")
    gui_words(said)


# --- the download dialogs ------------------------------------------------------------------------


def test_an_import_refused_for_another_checkpoints_file_names_no_command(qtbot, make_spec):
    other = make_spec(urls=("https://example.invalid/other.pth",), title="Other net")
    source = weights.local_path(other.id)  # the user picks a file in the cache
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(NOT_A_PICKLE)
    spec = make_spec(urls=("https://example.invalid/net.pth",), title="Test net",
                     check_contents=weights.load_checkpoint)
    with pytest.raises(weights.WeightsCorruptError) as raised:
        download.import_file(spec.id, source)
    assert f"{COMMAND} models remove {other.id}" in str(raised.value)  # the command line's
    dialog = ImportDialog(spec.id, source)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.completed, timeout=20000) as done:
        dialog.start()
    assert done.args == [False]
    said = dialog.errors[spec.id]
    assert said.startswith(f"{source.name} is not the Test net checkpoint: it ")
    gui_words(said)
    assert COMMAND not in dialog.heading.text()


def test_a_detector_file_that_is_no_state_dict_is_said_damaged_in_the_faces_panel(
        qtbot, photo_window):
    installed_as(DETECTOR_WEIGHTS, [1])
    assert photo_window.faces.detect() is not None  # ready: detection starts
    panel = photo_window.face_panel
    title = weights.get_spec(DETECTOR_WEIGHTS).title
    qtbot.waitUntil(lambda: panel.status.text().startswith(f"The {title}"), timeout=60000)
    said = panel.status.text()
    assert said == (f"The {title} weights file is damaged: it is not a {title} state dict; "
                    f"{REPLACE}")
    gui_words(said)


def test_a_real_parser_found_not_ready_raises_the_fielded_error_the_window_words(
        model_cache):
    parser = create_parser("scene")  # no checkpoint installed in the test's cache
    with pytest.raises(EngineNotReadyError) as raised:
        parser.require_ready()
    error = raised.value
    assert str(error) == parser.status().detail  # the command line's text, unchanged
    assert f"{COMMAND} models download" in str(error)
    assert error.parser and error.name == "scene"
    assert error.weights_ids == tuple(parser.checked_weights())
    title = parser.title or parser.name
    assert weights_error_text(error) == weights_needed_message(title, error.weights_ids,
                                                               MAP_SITUATION)
    gui_words(weights_error_text(error))
