"""Filling (F, the Fill button, a stroke with *Fill after each stroke*) with an engine that is
not ready says so in the GUI's words, as choosing it does, and starts no fill: missing weights
are offered for download first (declined: the status bar says how to get them in File →
Models…; accepted: the fill runs), a model to train is said in an error box, and after a
stroke nothing is asked. No message names a command of ``python main.py`` or a weights id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.document import Document, Layer
from engines import registry
from engines.base import CancelToken, Engine, Readiness, Region, RegionStage, Status

pytestmark = pytest.mark.timeout(60)

HOLE = (slice(20, 40), slice(24, 56))  # in the 64x80 picture
NOT_INSTALLED = ("its weights are not installed: download them in File → Models… (or Import "
                 "file… with a copy you have)")
TRAINING = ("it has no trained model yet. The window has no training: train one on a folder of "
            "your photos with the command-line tool's “train semantic” command (it installs "
            "the model when done), or import a model file you have (File → Models…, Import "
            "file…)")


class Downloaded(Engine):
    """Needs its weights (a test spec, set in :attr:`weights`) until :attr:`installed`;
    fills the hole grey. Its own status speaks the terminal's words."""

    name = "qa-downloaded"
    title = "Downloaded test engine"
    installed: ClassVar[bool] = False

    def status(self) -> Status:
        return Status(Readiness.READY) if Downloaded.installed else Status(
            Readiness.NEEDS_DOWNLOAD, f"weights {self.weights[0]} not installed; run `python "
            f"main.py models download {self.weights[0]}`")

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        image = region.image.copy()
        image[region.hole] = 128
        yield RegionStage("refined", image, 1.0, final=True)


def _gui_words(text: str, weights_ids=()) -> None:
    assert "python" not in text and "main.py" not in text and "`" not in text
    assert not any(weights_id in text for weights_id in weights_ids)


def on_a_hole(window) -> None:
    """Show a 64x80 picture with :data:`HOLE` masked in ``window``, neither filling after
    each stroke nor applying by itself."""
    picture = np.full((64, 80, 3), 200, np.uint8)
    window.set_document(Document(picture))
    mask = np.zeros(picture.shape[:2], np.uint8)
    mask[HOLE] = 255
    window.document.replace_layer(Layer.MASK, mask, "Mask brush")
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.auto_apply.setChecked(False)


@pytest.fixture
def editor(window, model_cache, make_spec, monkeypatch):
    """The editor on a 64x80 picture with :data:`HOLE` masked, neither filling after each
    stroke nor applying by itself; :class:`Downloaded` is listed, needing a test checkpoint.
    Every download offer is recorded in ``window.offered`` and declined unless
    ``window.accept`` is set (then it "installs" the weights)."""
    spec = make_spec(title="Test net", urls=("https://example.invalid/net.pth",))
    registry.engine_classes()
    monkeypatch.setattr(Downloaded, "weights", (spec.id,))
    monkeypatch.setattr(Downloaded, "installed", False)
    monkeypatch.setitem(registry._ENGINES, Downloaded.name, Downloaded)
    window.engine_panel.reload_engines()
    on_a_hole(window)
    window.offered = []
    window.accept = False

    def offer(ids) -> bool:
        window.offered.append(tuple(ids))
        Downloaded.installed = window.accept
        return window.accept

    window.offer_download = offer
    return window


def _choose(window, name: str) -> None:
    """Choose engine ``name`` as the user does (its download, if offered, declined)."""
    accept, window.accept = window.accept, False
    assert window.engine_panel.select_engine(name)
    window.accept = accept
    window.offered.clear()
    window.statusBar().clearMessage()


def test_f_with_weights_missing_offers_them_and_declined_says_how_to_get_them(qtbot, editor):
    _choose(editor, "edgeconnect")
    QTest.keyClick(editor.canvas, Qt.Key_F)
    assert editor.offered == [("edgeconnect-places2-edge", "edgeconnect-places2-inpaint")]
    said = editor.statusBar().currentMessage()
    assert said == f"EdgeConnect (scenes) cannot fill the hole, as {NOT_INSTALLED}"
    _gui_words(said, editor.offered[0])
    assert editor.last_error == ""  # no error box
    assert not editor.controller.busy and not editor.controller.has_result


def test_the_fill_button_declined_says_the_same(qtbot, editor):
    _choose(editor, Downloaded.name)
    editor.engine_panel.fill_button.click()
    assert editor.offered == [Downloaded.weights]
    assert editor.statusBar().currentMessage() == (
        f"Downloaded test engine cannot fill the hole, as {NOT_INSTALLED}")
    assert editor.last_error == "" and not editor.controller.busy


def test_once_downloaded_the_fill_runs(qtbot, editor):
    _choose(editor, Downloaded.name)
    editor.accept = True
    editor.actions["fill"].trigger()
    assert editor.offered == [Downloaded.weights]
    assert editor.engine_panel.readiness(Downloaded.name)[0] is Readiness.READY
    qtbot.waitUntil(lambda: editor.controller.has_result, timeout=20000)
    editor.controller.apply()
    assert (editor.document.image[HOLE] == 128).all()
    assert editor.last_error == ""


def test_weights_installed_meanwhile_fill_without_asking(qtbot, editor):
    _choose(editor, Downloaded.name)
    Downloaded.installed = True  # in another window, say: the panel still says missing
    editor.actions["fill"].trigger()
    assert editor.offered == []
    qtbot.waitUntil(lambda: editor.controller.has_result, timeout=20000)
    assert editor.engine_panel.status.text().startswith("Ready.")


def test_f_with_an_engine_to_train_says_so_in_an_error_box(qtbot, editor):
    _choose(editor, "semantic")
    editor.actions["fill"].trigger()
    assert editor.offered == []  # nothing to download
    assert editor.last_error == f"Semantic-guided network cannot fill the hole, as {TRAINING}"
    _gui_words(editor.last_error, ["semantic-local"])
    assert not editor.controller.busy and not editor.controller.has_result


def test_after_a_stroke_nothing_is_asked_and_the_status_bar_says_why(qtbot, editor):
    _choose(editor, Downloaded.name)
    editor.engine_panel.auto_run.setChecked(True)
    canvas = editor.canvas
    editor.select_tool("mask")
    editor.tool_settings.radius["mask"] = 4
    start, end = (QPoint(round(x * canvas.zoom + canvas.offset.x()),
                         round(24 * canvas.zoom + canvas.offset.y())) for x in (8, 20))
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, start)
    QTest.mouseMove(canvas, end)
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, end)
    said = f"Downloaded test engine cannot fill the hole, as {NOT_INSTALLED}"
    qtbot.waitUntil(lambda: editor.statusBar().currentMessage() == said, timeout=5000)
    assert editor.offered == [] and editor.last_error == ""
    assert not editor.controller.busy


def test_without_a_hole_f_asks_nothing(qtbot, editor):
    _choose(editor, "edgeconnect")
    editor.document.replace_layer(Layer.MASK, np.zeros((64, 80), np.uint8), "Clear")
    editor.actions["fill"].trigger()
    assert editor.offered == []
    assert editor.statusBar().currentMessage() == (
        "Paint over what should be removed first (brush: B)")


def test_choosing_the_engine_to_train_says_what_to_do_in_the_window(qtbot, editor):
    assert editor.engine_panel.select_engine("semantic")
    said = editor.statusBar().currentMessage()
    assert said == f"Semantic-guided network is selected, but {TRAINING}"
    _gui_words(said, ["semantic-local"])
    assert editor.offered == []
    assert editor.engine_panel.status.text() == (
        f"{TRAINING[:1].upper()}{TRAINING[1:]}. Guidance: label edits.")
