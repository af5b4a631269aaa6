"""The editor on the tiniest pictures (1x1, 1x3, 3x1, 2x2): open, brush the mask, fill with
each classical engine, the label tools, the sampling areas, the mask operations, undo and
redo, the mask's export and import, saving. Nothing raises or says an error; a fill takes
its colour from the neighbours and leaves the pixels outside the hole as they were."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from app import maskops
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Layer
from engines.fileio import load_image, load_mask, save_image
from tests.app.test_window import _screen, shown_window

RED, GREEN, BLUE = (210, 30, 30), (30, 210, 30), (30, 30, 210)
SIZES = [(1, 1), (1, 3), (3, 1), (2, 2)]  # (height, width)
ENGINES = ["telea", "ns", "patchmatch"]
TITLES = {"telea": "OpenCV Telea", "ns": "OpenCV Navier-Stokes",
          "patchmatch": "Guided PatchMatch"}


def _picture(height: int, width: int) -> np.ndarray:
    """Red all over but green in the pixel :func:`_middle` names."""
    picture = np.empty((height, width, 3), np.uint8)
    picture[:] = RED
    y, x = _middle(height, width)
    picture[y, x] = GREEN
    return picture


NO_SAMPLING_SOURCE = ("no source left for Guided PatchMatch: the hole and the sampling area "
                      "(an excluded area, or the outside of an include area) leave no pixel "
                      "to copy; widen the sampling area or add a reference photo")


def _no_source(engine: str) -> str:
    """What a fill of a picture all hole says (PatchMatch can copy from a reference; the
    OpenCV fills take none, and no more context can help them either)."""
    if engine == "patchmatch":
        return (f"no source left for {TITLES[engine]}: the hole covers the whole picture, so "
                "there is nothing to copy from; unmask some of the picture or add a reference "
                "photo")
    return (f"no source left for {TITLES[engine]}: the hole covers the whole area it is "
            "filled from (the whole picture), so there is nothing to fill it from; unmask "
            "some of the picture")


def _middle(height: int, width: int) -> tuple[int, int]:
    """(y, x) of the pixel to mask: the middle one of a row or a column, the first else."""
    return (height // 2, width // 2) if 1 in (height, width) else (0, 0)


@pytest.fixture
def window(qtbot, tmp_path):
    window = shown_window(qtbot)
    window.confirm = lambda title, text: False  # never block on a question
    window.ask_stop_runs = lambda text: True
    window.engine_panel.auto_run.setChecked(False)
    window.errors = []
    window.show_error = window.errors.append
    yield window
    window.worker.shutdown()


def _open(window, tmp_path, shape) -> np.ndarray:
    picture = _picture(*shape)
    path = save_image(tmp_path / "tiny.png", picture)
    assert window.open_path(path)
    assert window.document.image.shape == (*shape, 3)
    return picture


def _click(qtbot, window, tool: str, point: tuple[int, int]) -> None:
    """Press and release ``tool`` at the centre of pixel ``point`` (y, x)."""
    window.select_tool(tool)
    canvas = window.canvas
    pos = _screen(canvas, point[1] + 0.5, point[0] + 0.5)
    qtbot.mousePress(canvas, Qt.LeftButton, pos=pos)
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=pos)


def _fill(qtbot, window, engine: str) -> list[str]:
    """Fill with ``engine``; returns the errors said (by the controller or the window)."""
    window.engine_panel.select_engine(engine)
    applied: list = []
    window.controller.applied.connect(applied.append)
    assert window.fill() is not None
    qtbot.waitUntil(lambda: bool(applied or window.errors), timeout=30000)
    window.controller.applied.disconnect(applied.append)
    return window.errors


@pytest.mark.parametrize("shape", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("engine", ENGINES)
def test_a_brushed_pixel_fills_from_its_neighbours(qtbot, window, tmp_path, shape, engine):
    picture = _open(window, tmp_path, shape)
    window.tool_settings.radius["mask"] = 0.5  # the thinnest: one pixel
    middle = _middle(*shape)
    _click(qtbot, window, "mask", middle)
    doc = window.document
    hole = doc.mask > 0
    assert hole[middle] and hole.sum() == 1 and not window.errors
    errors = _fill(qtbot, window, engine)
    if shape == (1, 1):  # nothing to fill from
        assert errors == [_no_source(engine)]
        assert np.array_equal(doc.image, picture) and doc.mask[middle] == 255
        return
    assert errors == []  # PatchMatch: with 1x1 patches, as no 3x3 one fits the picture
    filled = doc.image
    np.testing.assert_array_equal(filled[~hole], picture[~hole])
    assert np.abs(filled[middle].astype(int) - RED).max() < 40, filled[middle]


@pytest.mark.parametrize("shape", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_mask_commands_undo_and_the_files(qtbot, window, tmp_path, shape):
    picture = _open(window, tmp_path, shape)
    doc = window.document
    window.tool_settings.radius["mask"] = 0.5
    middle = _middle(*shape)
    _click(qtbot, window, "mask", middle)
    one = np.zeros(shape, np.uint8)
    one[middle] = 255
    np.testing.assert_array_equal(doc.mask, one)
    status = window.statusBar().currentMessage
    window.shrink_mask(1)
    if shape == (1, 1):  # all hole: outside the picture does not limit, so it stays
        np.testing.assert_array_equal(doc.mask, one)
        assert status() == "Shrink mask 1px changed nothing (it covers the whole picture)"
        assert doc.undo_label() == "Mask brush"  # no step for nothing
    else:  # a known pixel next to it
        assert not doc.mask.any() and status() == ("Shrank the mask by 1 px; the mask is "
                                                    "now empty")
        window.undo()
    np.testing.assert_array_equal(doc.mask, one)
    window.grow_mask(2)  # reaches every pixel of these pictures
    assert (doc.mask == 255).all()
    if shape == (1, 1):  # a 1x1 mask all hole stays as it was: no step, and it says so
        assert status() == "Grow mask 2px changed nothing (it covers the whole picture)"
        assert doc.undo_label() == "Mask brush"
    else:
        assert doc.undo_label() == "Grow mask 2px"
        window.undo()
        np.testing.assert_array_equal(doc.mask, one)
        window.redo()
        assert (doc.mask == 255).all()
        window.undo()
    window.feather_mask(1)
    assert doc.mask[middle] == 255
    if shape != (1, 1):  # the ramp: its neighbours partly hole
        assert doc.undo_label() == "Feather mask 1px"
        assert 0 < doc.mask[~one.astype(bool)].min() < 255
        window.undo()
    np.testing.assert_array_equal(doc.mask, one)
    assert doc.undo_label() == "Mask brush"
    window.invert_mask()
    np.testing.assert_array_equal(doc.mask, 255 - one)
    window.undo()
    exported = tmp_path / "exported_mask.png"
    assert window.export_mask(exported)
    np.testing.assert_array_equal(load_mask(exported, shape), one)
    window.clear_mask()
    assert not doc.mask.any()
    assert window.import_mask(exported)
    np.testing.assert_array_equal(doc.mask, one)
    for name in ("saved.png", "saved.jpg"):
        assert window.save_as(tmp_path / name)
        saved = load_image(tmp_path / name).rgb
        assert saved.shape == (*shape, 3)
        if name.endswith(".png"):
            np.testing.assert_array_equal(saved, picture)
    assert window.errors == []


def _label_map(shape) -> np.ndarray:
    """Label 4 all over but label 12 at :func:`_middle`."""
    labels = np.full(shape, 4, np.uint8)
    labels[_middle(*shape)] = 12
    return labels


@pytest.mark.parametrize("shape", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_label_tools_on_an_imported_map(qtbot, window, tmp_path, shape):
    _open(window, tmp_path, shape)
    doc = window.document
    labels = _label_map(shape)
    cv2.imwrite(str(tmp_path / "map.png"), labels)
    assert window.import_labels(tmp_path / "map.png")
    np.testing.assert_array_equal(doc.layer(Layer.LABELS), labels)
    assert not doc.mask.any()
    middle = _middle(*shape)
    window.tool_settings.label = 4
    _click(qtbot, window, "fill", middle)  # the bucket: the middle's area takes label 4
    assert (doc.layer(Layer.LABELS) == 4).all()
    assert doc.mask[middle] == 255  # the relabelled area is the hole
    window.undo()
    np.testing.assert_array_equal(doc.layer(Layer.LABELS), labels)
    assert not doc.mask.any()
    window.tool_settings.label = 7
    window.tool_settings.radius["labels"] = 0.5
    _click(qtbot, window, "label", middle)  # the brush: that pixel only
    expected = labels.copy()
    expected[middle] = 7
    np.testing.assert_array_equal(doc.layer(Layer.LABELS), expected)
    assert doc.mask[middle] == 255
    window.undo()
    window.redo()
    np.testing.assert_array_equal(doc.layer(Layer.LABELS), expected)
    assert window.errors == []


@pytest.mark.parametrize("shape", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("engine", ["telea", "patchmatch"])
def test_the_sampling_areas_and_a_fill_with_them(qtbot, window, tmp_path, shape, engine):
    picture = _open(window, tmp_path, shape)
    doc = window.document
    window.tool_settings.radius["sampling"] = 0.5
    window.tool_settings.radius["mask"] = 0.5
    middle = _middle(*shape)
    corner = (shape[0] - 1, shape[1] - 1)
    _click(qtbot, window, "sample-include", (0, 0))
    _click(qtbot, window, "sample-exclude", corner)
    sampling = doc.layer(Layer.SAMPLING)
    assert sampling[corner] == SAMPLE_EXCLUDE
    if corner != (0, 0):
        assert sampling[0, 0] == SAMPLE_INCLUDE
    window.undo()
    assert sampling[corner] == (SAMPLE_INCLUDE if corner == (0, 0) else 0)
    window.redo()
    assert doc.layer(Layer.SAMPLING)[corner] == SAMPLE_EXCLUDE
    _click(qtbot, window, "mask", middle)
    hole = doc.mask > 0
    errors = _fill(qtbot, window, engine)
    if shape == (1, 1):  # refused as without the areas
        assert errors == [_no_source(engine)]
        assert np.array_equal(doc.image, picture)
        return
    if engine == "patchmatch" and shape == (2, 2):  # the include area is the hole itself
        assert errors == [NO_SAMPLING_SOURCE]
        assert np.array_equal(doc.image, picture)
        return
    assert errors == []
    np.testing.assert_array_equal(doc.image[~hole], picture[~hole])
    assert np.abs(doc.image[middle].astype(int) - RED).max() < 40


def test_a_1x1_sampling_area_taken_back_during_a_fill_drops_it(qtbot, window, tmp_path):
    """The check of the sampling area a running fill used compares 1x1 layers."""
    _open(window, tmp_path, (1, 1))
    doc, controller = window.document, window.controller
    window.tool_settings.radius["sampling"] = 0.5
    window.tool_settings.radius["mask"] = 0.5
    _click(qtbot, window, "sample-include", (0, 0))
    _click(qtbot, window, "mask", (0, 0))
    window.engine_panel.select_engine("patchmatch")  # it follows the sampling area
    assert window.fill() is not None
    # the run has its snapshot; its result cannot arrive before the event loop runs
    assert controller.drop_outdated() == ""  # nothing changed yet
    with doc.step("Sampling area: erase"):
        doc.paint_segment(Layer.SAMPLING, (0.5, 0.5), (0.5, 0.5), 0.5, 0)
    assert not doc.layer(Layer.SAMPLING).any()
    assert controller.drop_outdated() == ("The sampling area changed while the engine ran; "
                                          "its fill was dropped")
    assert window.errors == []


@pytest.mark.parametrize("shape", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_stroke_of_the_default_brush_masks_it_all_and_the_fill_says_why_not(
        qtbot, window, tmp_path, shape):
    picture = _open(window, tmp_path, shape)
    doc, canvas = window.document, window.canvas
    window.select_tool("mask")
    qtbot.mousePress(canvas, Qt.LeftButton, pos=_screen(canvas, 0.5, 0.5))
    qtbot.mouseMove(canvas, _screen(canvas, shape[1] - 0.5, shape[0] - 0.5))
    assert window.actions["undo"].text().replace("&", "") == "Undo Mask brush"
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=_screen(canvas, shape[1] - 0.5,
                                                           shape[0] - 0.5))
    assert (doc.mask == 255).all() and doc.undo_label() == "Mask brush"
    assert _fill(qtbot, window, "telea") == [_no_source("telea")]
    np.testing.assert_array_equal(doc.image, picture)
    window.undo()
    assert not doc.mask.any() and not doc.can_undo()


@pytest.mark.parametrize("shape", [(1, 1), (1, 3), (3, 1), (2, 2)])
@pytest.mark.parametrize("op", [cv2.CMP_EQ, cv2.CMP_NE, cv2.CMP_GE, cv2.CMP_LT])
def test_compare_with_a_scalar_takes_any_size(shape, op):
    """As ``cv2.compare`` with a scalar, which OpenCV 5 refuses for a 1x1 array."""
    array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape) + 4
    expected = {cv2.CMP_EQ: array == 4, cv2.CMP_NE: array != 4, cv2.CMP_GE: array >= 5,
                cv2.CMP_LT: array < 5}[op]
    value = 5 if op in (cv2.CMP_GE, cv2.CMP_LT) else 4
    result = maskops.compare(array, value, op)
    assert result.dtype == np.uint8 and result.shape == shape
    np.testing.assert_array_equal(result, np.where(expected, 255, 0))
    dst = np.full(shape, 9, np.uint8)
    assert maskops.compare(array, value, op, dst=dst) is dst
    np.testing.assert_array_equal(dst, result)
