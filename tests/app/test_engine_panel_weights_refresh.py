"""QA31 F2: a run whose load confirms an installed weights file that changed since it was
verified, or refuses it as damaged, refreshes what shows that engine's (or parser's)
readiness: the Engine panel's status line, its entry in the engine list and the readiness
the window reads before a fill, as `models list` now says it (a new process would show the
same), before the error box opens. Nothing is hashed on the GUI thread for it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from app.panels import engine_entries
from engines import download, weights
from engines.base import Readiness
from tests.app.test_fill_weights_missing import on_a_hole
from tests.engines.test_replaced_checkpoint import migan_file
from tests.engines.test_weights_corrupt_in_place import _fresh_state, flip_middle, later

ENGINE = "migan-256"
WEIGHTS_ID = "migan-256-places2"  # the migan-256 engine's
TITLE = "MI-GAN 256 (Places2)"
CHANGED = ("Ready; its weights file changed since it was verified, and is checked when it is "
           "next used. Guidance: none.")
DAMAGED_ADVICE = ("its weights file is damaged: replace it in File → Models… (Import file… "
                  "with a copy you have)")


pytestmark = pytest.mark.usefixtures("_fresh_state")  # no digest remembered, no network held
assert _fresh_state  # the fixture, imported


@pytest.fixture
def hashed_on(monkeypatch) -> list[str]:
    """The names of the threads on which :func:`weights.file_digests` hashes from now on."""
    threads: list[str] = []
    original = weights.file_digests

    def recording(path, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(weights, "file_digests", recording)
    return threads


@pytest.fixture
def installed(model_cache, tmp_path) -> Path:
    """MI-GAN 256 imported as Models → Import file… does (upstream format); its path."""
    source = tmp_path / "migan_256_places2.pt"
    migan_file(source, seed=0)
    return download.import_file(WEIGHTS_ID, source)


@pytest.fixture
def editor(window, installed):
    """The editor on a 64x80 picture with a hole, filling only when asked, MI-GAN 256
    chosen after its file was changed on disk (the caller's change made first)."""
    window.ask_stop_runs = lambda text: True  # closed at the end while a fill may run
    window.offered = []
    window.offer_download = lambda ids: window.offered.append(tuple(ids)) or False  # declined
    on_a_hole(window)
    return window


def choose(window, name: str = ENGINE) -> None:
    """Choose ``name`` in the Engine panel as the user does, the list read afresh."""
    panel = window.engine_panel
    panel.reload_engines()
    assert panel.select_engine("telea") and panel.select_engine(name)
    window.controller.settings.engine = name
    window.controller.settings.device = "cpu"
    window.engine_panel.device.setCurrentText("cpu")


def fill_and_wait(qtbot, window) -> None:
    assert window.fill(offer=False) is not None  # the panel said ready: the run starts
    qtbot.waitUntil(lambda: not window.controller.busy
                    and (window.controller.has_result or window.last_error != ""),
                    timeout=120000)


def list_text(window, name: str = ENGINE) -> str:
    combo = window.engine_panel.engine
    return combo.itemText(combo.findData(name))


def test_a_fill_that_verifies_a_changed_file_drops_the_changed_line(qtbot, editor, installed,
                                                                    hashed_on):
    later(installed)  # touched: the same bytes
    choose(editor)
    assert editor.engine_panel.status.text() == CHANGED
    assert hashed_on == []  # said without hashing
    fill_and_wait(qtbot, editor)
    assert editor.last_error == "" and editor.controller.has_result
    assert weights.changed_since_verified([WEIGHTS_ID]) == []
    # the panel says so at once, the engine not chosen again
    assert editor.engine_panel.status.text() == "Ready. Guidance: none."
    assert editor.engine_panel.readiness(ENGINE)[0] is Readiness.READY
    assert list_text(editor) == TITLE
    assert hashed_on and threading.main_thread().name not in hashed_on  # on the worker only


def test_a_fill_that_refuses_a_file_damaged_in_place_shows_it_damaged(qtbot, editor,
                                                                      installed, hashed_on):
    flip_middle(installed)  # same size, another modification time: not yet hashed
    choose(editor)
    assert editor.engine_panel.status.text() == CHANGED
    assert list_text(editor) == TITLE
    seen_with_the_error = []
    editor.controller.error.connect(
        lambda _text: seen_with_the_error.append((editor.engine_panel.status.text(),
                                                  list_text(editor))))
    fill_and_wait(qtbot, editor)
    said = editor.last_error
    assert said.startswith(f"The {TITLE} weights file is damaged: it has sha256 ")
    assert not editor.controller.has_result
    assert weights.installation(WEIGHTS_ID).state is weights.InstallState.DAMAGED
    # the Engine panel and the engine list say it, as a new window would show them
    damaged_status = f"{DAMAGED_ADVICE[:1].upper()}{DAMAGED_ADVICE[1:]}. Guidance: none."
    assert editor.engine_panel.status.text() == damaged_status
    assert list_text(editor) == f"{TITLE} (damaged)"
    assert seen_with_the_error == [(damaged_status, f"{TITLE} (damaged)")]  # before the box
    readiness, detail = editor.engine_panel.readiness(ENGINE)
    assert readiness is Readiness.NEEDS_DOWNLOAD and str(installed.absolute()) in detail
    assert (ENGINE, TITLE, readiness, detail) in engine_entries()  # what a reload reads
    assert threading.main_thread().name not in hashed_on
    # the window reads the refreshed readiness: a fill says what is wrong, starting no run
    assert editor.fill(offer=False) is None
    assert editor.statusBar().currentMessage() == \
        f"{TITLE} cannot fill the hole, as {DAMAGED_ADVICE}"
    assert not editor.controller.busy
    # choosing it again offers to replace the file, as in a new window; declined, the
    # status bar says what is wrong in the words it uses for a choice
    assert editor.engine_panel.select_engine("telea")
    assert editor.offered == []
    assert editor.engine_panel.select_engine(ENGINE)
    assert editor.offered == [(WEIGHTS_ID,)]
    assert editor.statusBar().currentMessage() == f"{TITLE} is selected, but {DAMAGED_ADVICE}"
    assert editor.engine_panel.status.text() == damaged_status


def test_a_run_asks_again_only_its_engine_and_chooses_nothing(qtbot, editor, installed,
                                                              monkeypatch):
    """The refresh after a run asks the status of the engine that ran (and of those that
    share its files: none among the built-in ones), not of every engine, and keeps the
    choice: no engine is chosen again (which would offer the damaged file's replacement
    in a modal box as the run ends)."""
    import app.panels

    flip_middle(installed)
    choose(editor)
    asked: list[str] = []
    original = app.panels.engine_entry
    monkeypatch.setattr(app.panels, "engine_entry",
                        lambda cls: asked.append(cls.name) or original(cls))
    chosen: list[str] = []
    editor.engine_panel.engineChosen.connect(chosen.append)
    fill_and_wait(qtbot, editor)  # refused: damaged
    assert editor.last_error.startswith(f"The {TITLE} weights file is damaged: ")
    assert asked == [ENGINE] and chosen == [] and editor.offered == []
    assert list_text(editor) == f"{TITLE} (damaged)"
    assert editor.engine_panel.engine.currentData() == ENGINE
    # another engine's run asks only that one; the damaged entry stays as it was read
    editor.engine_panel.select_engine("telea")
    chosen.clear()
    asked.clear()
    editor.last_error = ""
    fill_and_wait(qtbot, editor)
    assert editor.last_error == "" and editor.controller.has_result
    assert asked == ["telea"] and chosen == []
    assert list_text(editor) == f"{TITLE} (damaged)"
    assert list_text(editor, "telea") == "OpenCV Telea"
    assert editor.engine_panel.status.text().startswith("Ready. ")


# --- a parser: Compute map in the Labels panel ---------------------------------------------

PARSER = "scene-lite"
PARSER_WEIGHTS = "segformer-b2-ade"  # its default variant's


@pytest.fixture
def segformer_installed(model_cache, tmp_path) -> Path:
    """The default Scene parsing (lite) checkpoint, random, imported; its installed path."""
    from safetensors.torch import save_model

    from engines.segmentation import segformer

    torch.manual_seed(1)
    source = tmp_path / "segformer.safetensors"
    save_model(segformer.build_network("b2"), str(source))
    return download.import_file(PARSER_WEIGHTS, source)


def test_compute_map_that_refuses_a_damaged_parser_file_shows_it_damaged(
        qtbot, window, segformer_installed, hashed_on):
    window.ask_stop_runs = lambda text: True
    on_a_hole(window)
    legend = window.legend
    flip_middle(segformer_installed)
    legend.reload_parsers()
    assert legend.select_parser(PARSER)
    entry = legend.parser.findData(PARSER)
    title = legend.parser.itemText(entry)
    assert legend.parser_readiness(PARSER)[0] is Readiness.READY
    assert legend.status.isHidden()
    assert window.semantic.compute_map(PARSER, device="cpu") is not None  # ready: it starts
    qtbot.waitUntil(lambda: not window.semantic.busy and window.last_error != "",
                    timeout=120000)
    assert "weights file is damaged: it has sha256 " in window.last_error
    assert legend.parser.itemText(entry) == f"{title} (damaged)"
    readiness, _detail = legend.parser_readiness(PARSER)
    assert readiness is Readiness.NEEDS_DOWNLOAD
    said = legend.status.text()
    assert said.startswith("Its weights file is damaged: ") and "File → Models…" in said
    assert not legend.status.isHidden()
    assert legend.parser.itemData(entry, 3) == said  # its tooltip (Qt.ToolTipRole)
    assert threading.main_thread().name not in hashed_on


def test_compare_that_refuses_a_damaged_file_shows_it_damaged_in_the_panel(
        qtbot, editor, installed, monkeypatch):
    """Compare runs engines on its own cards: a load there that refuses the file refreshes
    the Engine panel as a fill's does."""
    import app.compare

    monkeypatch.setattr(app.compare, "ready_engines", lambda: ("telea", ENGINE))
    flip_middle(installed)
    choose(editor)
    assert editor.engine_panel.status.text() == CHANGED
    dialog = editor.compare_engines()
    ended: list[str] = []
    dialog.engineEnded.connect(ended.append)
    qtbot.waitUntil(lambda: set(dialog.results) | set(dialog.reasons) == {"telea", ENGINE},
                    timeout=120000)
    assert dialog.reasons[ENGINE].startswith(f"The {TITLE} weights file is damaged")
    qtbot.waitUntil(lambda: ended == ["telea", ENGINE])
    assert list_text(editor) == f"{TITLE} (damaged)"
    assert editor.engine_panel.status.text().startswith("Its weights file is damaged: ")
    dialog.reject()
