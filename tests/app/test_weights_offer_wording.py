"""The "weights needed" questions and boxes say how to get weights in the GUI's words (File →
Models…, no command line), and for MI-GAN 512, whose own weights have no download address,
offer its downloadable TorchScript export instead, as the engine runs either."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from app import model_dialogs
from app.model_dialogs import (
    downloadable_alternative,
    offer_download,
    training_advice,
    unmet,
    weights_advice,
    where_to_get,
)
from engines import weights

pytestmark = pytest.mark.timeout(60)

DRIVE = "https://drive.google.com/drive/folders/1xNtvN2lto0p5yFKOEEg9RioMjGrYM74w"
TRACED = "MI-GAN 512 (Places2, TorchScript, IOPaint)"
MIGAN_ADVICE = (f"its weights are not installed: download its TorchScript export, {TRACED}, in "
                "File → Models… (or get its own weights as File → Models… says, then Import "
                "file… installs them)")


def _gui_words(text: str, weights_ids=()) -> None:
    assert "python" not in text and "main.py" not in text and "`" not in text
    assert not any(weights_id in text for weights_id in weights_ids)


@pytest.fixture
def asked(monkeypatch, model_cache):
    """The texts of the questions (answered No) and boxes shown, in order."""
    texts: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args: texts.append(args[2]) or QMessageBox.No)
    monkeypatch.setattr(QMessageBox, "information", lambda *args: texts.append(args[2]))
    return texts


def test_migan_512_offers_its_torchscript_export(asked, monkeypatch):
    assert downloadable_alternative("migan-512-places2") == "migan-traced"
    assert offer_download(["migan-512-places2"]) is False
    assert asked == [f"{TRACED} (MIT) (about 26 MB) is needed for this engine. MI-GAN 512 "
                     "(Places2) itself has no download address; its TorchScript export does the "
                     "same job. Download now?"]
    started = []

    class Recorder:
        def __init__(self, ids, parent=None, force=False) -> None:
            started.append((list(ids), force))

        def start(self) -> None:
            pass

        def exec(self) -> int:
            return 0

    monkeypatch.setattr(model_dialogs, "DownloadDialog", Recorder)
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.Yes)
    assert offer_download(["migan-512-places2"]) is False  # the recorder installed nothing
    assert started == [(["migan-traced"], False)]


def test_an_installed_export_counts_as_the_weights(asked, monkeypatch):
    monkeypatch.setattr(weights, "is_present", lambda weights_id: weights_id == "migan-traced")
    assert unmet(["migan-512-places2"]) == []
    assert offer_download(["migan-512-places2"]) is True and asked == []
    assert weights_advice(["migan-512-places2"]) == ""
    assert unmet(["migan-256-places2"]) == ["migan-256-places2"]  # it has no such export


def test_weights_to_get_by_hand_are_explained_without_a_command(asked):
    assert downloadable_alternative("migan-256-places2") is None
    assert offer_download(["migan-256-places2"]) is False
    assert asked == [f'<b>MI-GAN 256 (Places2)</b> has no download address: download '
                     f'migan_256_places2.pt from the MI-GAN authors\' Google Drive folder '
                     f'<a href="{DRIVE}">{DRIVE}</a>, then install the file in File → Models… '
                     f'(select it, then Import file…).']
    _gui_words(asked[0], ["migan-256-places2"])


def test_a_damaged_file_with_no_download_address_is_replaced_by_import(asked, make_spec):
    spec = make_spec(manual="ask the authors for the file")
    path = weights.local_path(spec.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    assert offer_download([spec.id]) is False
    assert asked == ["<b>Test net</b>: the installed file is damaged (it is an empty file), and "
                     "it has no download address: ask the authors for the file, then replace it "
                     "in File → Models… (select it, then Import file…)."]


def test_where_to_get_leaves_out_commands(make_spec):
    assert where_to_get(weights.get_spec("migan-512-places2")) == (
        f"download migan_512_places2.pt from the MI-GAN authors' Google Drive folder {DRIVE}")
    command = make_spec(manual="train one with `python main.py train x --images DIR`")
    assert where_to_get(command) == "ask its authors for the file"
    project = make_spec(manual="run `python main.py models import ID FILE`",
                        homepage="https://example.invalid/net")
    assert where_to_get(project) == "get it from its project page, https://example.invalid/net"


def test_migan_512_advice_names_the_export(model_cache):
    assert weights_advice(["migan-512-places2"]) == MIGAN_ADVICE
    _gui_words(MIGAN_ADVICE, ["migan-512-places2", "migan-traced"])


def test_choosing_migan_512_offers_the_export_and_declined_says_so(window, asked):
    assert window.engine_panel.select_engine("migan")
    assert len(asked) == 1 and asked[0].startswith(f"{TRACED} (MIT) (about 26 MB) is needed")
    assert window.statusBar().currentMessage() == (
        f"MI-GAN 512 (Places2) is selected, but {MIGAN_ADVICE}")
    assert window.engine_panel.status.text() == (
        f"{MIGAN_ADVICE[:1].upper()}{MIGAN_ADVICE[1:]}. Guidance: none.")


def test_the_model_manager_says_where_to_get_it_and_names_the_export(qtbot, model_cache):
    dialog = model_dialogs.ModelManagerDialog()
    qtbot.addWidget(dialog)
    dialog.select(["migan-512-places2"])
    details = dialog.details.text()
    assert (f"Get it by hand: download migan_512_places2.pt from the MI-GAN authors' Google "
            f'Drive folder <a href="{DRIVE}">{DRIVE}</a>; then Import file…') in details
    assert f"Or download {TRACED}, its TorchScript export: the engine runs it as well" in details
    assert "python" not in details


def test_training_advice_names_the_command_line_training_and_import(model_cache):
    said = training_advice("semantic", ["semantic-local"])
    assert said == ("it has no trained model yet. The window has no training: train one on a "
                    "folder of your photos with the command-line tool's “train semantic” "
                    "command (it installs the model when done), or import a model file you have "
                    "(File → Models…, Import file…)")
    _gui_words(said, ["semantic-local"])
    path = weights.local_path("semantic-local")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")  # a damaged model is replaced by import, or trained anew
    said = training_advice("semantic", ["semantic-local"])
    assert said == ("its model file is damaged: replace it in File → Models… (Import file… with "
                    "a model file you have), or Remove it there, then train one with the "
                    "command-line tool's “train semantic” command (it installs the model when "
                    "done)")
    _gui_words(said, ["semantic-local"])
    assert training_advice("plugin", ["no-such-checkpoint"]) == ""  # its own words then
