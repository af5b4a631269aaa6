"""After a fill the status bar says what guidance the engine follows but could not follow in
it, as the CLI does (:func:`engines.guidance.source_notes`): a reference photo added at one
patch size and left out once Guided PatchMatch's Patch size was raised past it, and a label
painted on the hole that no pixel the fill may copy from carries."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import SAMPLE_EXCLUDE, Layer
from engines.fileio import save_image
from tests.app.test_window import shown_window

HEIGHT, WIDTH = 96, 128
HOLE = (slice(40, 52), slice(60, 72))
SKY, GRASS = 2, 5  # ids of the "ade150" set (scene-lite): "sky", "grass"
APPLIED = "Applied Guided PatchMatch; Ctrl+Z undoes it"


@pytest.fixture
def window(qtbot, tmp_path):
    """The editor on a 96x128 picture with Guided PatchMatch chosen, filling only when
    asked, and a hole painted."""
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False
    window.engine_panel.auto_run.setChecked(False)
    rng = np.random.default_rng(4)
    save_image(tmp_path / "photo.png",
               rng.integers(20, 60, (HEIGHT, WIDTH, 3)).astype(np.uint8))
    assert window.open_path(tmp_path / "photo.png")
    assert window.engine_panel.select_engine("patchmatch")
    _paint_hole(window.document)
    yield window
    window.worker.shutdown()


def _paint_hole(doc) -> None:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[HOLE] = 255
    doc.replace_layer(Layer.MASK, mask, "hole")


def _fill_message(qtbot, window) -> str:
    """What the status bar says once the fill is applied; the pixels outside the hole are
    checked to be unchanged."""
    before = window.document.image.copy()
    with qtbot.waitSignal(window.controller.message, timeout=60000,
                          check_params_cb=lambda text: text.startswith("Applied")):
        window.actions["fill"].trigger()
    outside = np.ones((HEIGHT, WIDTH), bool)
    outside[HOLE] = False
    assert np.array_equal(window.document.image[outside], before[outside])
    return window.statusBar().currentMessage()


def test_a_reference_left_out_at_a_raised_patch_size_is_said(qtbot, window, tmp_path):
    save_image(tmp_path / "tiny.png", np.full((12, 12, 3), (255, 0, 0), np.uint8))
    assert window.add_references([tmp_path / "tiny.png"]) == 1  # at Patch size 7
    assert _fill_message(qtbot, window) == APPLIED
    window.controller.settings.engine_options["patchmatch"] = {"patch_size": 31}
    _paint_hole(window.document)  # the fill applied took the last one
    assert _fill_message(qtbot, window) == (
        f"{APPLIED}. The fill left out tiny.png at Patch size 31: it is 12x12 pixels, too "
        "small for one 31x31 patch, so nothing can be copied from it")


def _label_maps() -> tuple[np.ndarray, np.ndarray]:
    """(computed, edited): sky above row 20 and grass below, as a parser gave them, and the
    hole painted sky."""
    computed = np.full((HEIGHT, WIDTH), GRASS, np.uint8)
    computed[:20] = SKY
    edited = computed.copy()
    edited[HOLE] = SKY
    return computed, edited


def test_a_hole_label_whose_every_pixel_is_excluded_is_said(qtbot, window):
    doc = window.document
    computed, edited = _label_maps()
    doc.replace_label_map(computed, "ade150", "Compute map")
    doc.replace_layer(Layer.LABELS, edited, "sky painted")
    assert _fill_message(qtbot, window) == APPLIED  # sky pixels to copy from
    _paint_hole(doc)  # the fill applied took the last one
    doc.replace_sampling_area(SAMPLE_EXCLUDE, np.where(computed == SKY, 255, 0)
                              .astype(np.uint8), "exclude")
    assert _fill_message(qtbot, window) == (
        f'{APPLIED}. The fill did not follow the label "sky": the sampling area leaves out '
        "every pixel outside the hole that carries it, so its part of the hole was filled "
        "from any pixel")


def test_a_label_the_parser_gave_the_hole_is_no_guidance(qtbot, window):
    computed = np.full((HEIGHT, WIDTH), GRASS, np.uint8)
    computed[HOLE] = SKY  # the one sky of the picture, under the hole: nothing to say
    window.document.replace_label_map(computed, "ade150", "Compute map")
    assert _fill_message(qtbot, window) == APPLIED
