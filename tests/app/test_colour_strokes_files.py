"""Colour strokes in and out of the editor (*File → Import / Export Colour Strokes…*), as the
CLI's ``--color`` reads them: an RGBA PNG, opaque where a stroke is painted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.document import Layer
from engines.fileio import load_colour_strokes, save_colour_strokes, save_image, save_mask
from tests.app.test_window import shown_window

H, W = 90, 120
RED = (230, 20, 20, 255)
BLUE = (20, 40, 220, 255)


@pytest.fixture
def window(qtbot, tmp_path):
    window = shown_window(qtbot, size=None)
    window.confirm = lambda title, text: False  # never block on a question
    window.errors = []
    window.show_error = window.errors.append
    picture = tmp_path / "photo.png"
    grey = np.random.default_rng(2).integers(90, 130, (H, W)).astype(np.uint8)
    save_image(picture, np.repeat(grey[..., None], 3, axis=2))
    assert window.open_path(picture)
    window.engine_panel.auto_run.setChecked(False)
    yield window
    window.worker.shutdown()


def _strokes(window) -> np.ndarray:
    """A red stroke at y = 45 and a blue one at x = 100, as the colour brush paints them;
    returns the colour layer."""
    document = window.document
    with document.step("Colour brush"):
        document.paint_segment(Layer.COLOR, (5, 45), (115, 45), 4, RED)
    with document.step("Colour brush"):
        document.paint_segment(Layer.COLOR, (100, 5), (100, 80), 3, BLUE)
    return document.layer(Layer.COLOR).copy()


def _other_strokes() -> np.ndarray:
    """Strokes as another program may paint them: a green patch, half transparent."""
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[10:30, 20:60] = (30, 200, 40, 128)
    return rgba


def _menu_texts(window, title: str) -> list[str]:
    menu = next(action.menu() for action in window.menuBar().actions()
                if action.text().replace("&", "") == title)
    return [action.text().replace("&", "") for action in menu.actions()]


def test_the_file_menu_offers_them_after_the_sketch(window):
    texts = _menu_texts(window, "File")
    at = texts.index("Export Sketch…")
    assert texts[at + 1:at + 3] == ["Import Colour Strokes…", "Export Colour Strokes…"]
    assert window.actions["import_color"].isEnabled()
    assert window.actions["export_color"].isEnabled()
    assert "--color" in window.actions["export_color"].statusTip()


def test_the_strokes_round_trip_through_a_file_as_one_undo_step(window, tmp_path):
    drawn = _strokes(window)
    target = tmp_path / "strokes.png"
    assert window.export_colour_strokes(target)
    assert np.array_equal(load_colour_strokes(target, (H, W)), drawn)  # what --color reads
    assert window.statusBar().currentMessage() == f"Colour Strokes saved to {target}"
    window.clear_colour_strokes()
    assert not window.document.layer(Layer.COLOR).any()
    assert window.import_colour_strokes(target)
    document = window.document
    assert np.array_equal(document.layer(Layer.COLOR), drawn)
    assert document.undo_label() == "Import colour strokes"
    assert window.statusBar().currentMessage() == "Imported the colour strokes from strokes.png"
    window.undo()
    assert not document.layer(Layer.COLOR).any()
    assert document.undo_label() == "Clear colour strokes"
    window.redo()
    assert np.array_equal(document.layer(Layer.COLOR), drawn)


def test_an_import_replaces_the_strokes_painted_and_one_undo_brings_them_back(window,
                                                                             tmp_path):
    drawn = _strokes(window)
    other = _other_strokes()
    save_colour_strokes(tmp_path / "green.png", other)
    assert window.import_colour_strokes(tmp_path / "green.png")
    document = window.document
    assert np.array_equal(document.layer(Layer.COLOR), other)  # opacity kept
    window.undo()
    assert np.array_equal(document.layer(Layer.COLOR), drawn)
    assert document.undo_label() == "Colour brush"


def test_an_import_asks_for_the_file_and_a_cancelled_dialog_changes_nothing(window, tmp_path):
    drawn = _strokes(window)
    save_colour_strokes(tmp_path / "green.png", _other_strokes())
    asked = []
    window.ask_open_path = lambda title, filters, folder: asked.append(title) or ""
    assert not window.import_colour_strokes()
    assert asked == ["Import Colour Strokes"]
    assert np.array_equal(window.document.layer(Layer.COLOR), drawn)
    window.ask_open_path = lambda *args: str(tmp_path / "green.png")
    assert window.import_colour_strokes()
    assert np.array_equal(window.document.layer(Layer.COLOR), _other_strokes())


def _write_other_size(path):
    save_colour_strokes(path, np.full((40, 50, 4), 255, np.uint8))


def _write_opaque(path):
    save_image(path, np.full((H, W, 3), 200, np.uint8))


def _write_mask(path):
    save_mask(path, np.full((H, W), 255, np.uint8))


def _write_empty(path):
    cv2.imwrite(str(path), np.zeros((H, W, 4), np.uint8))


def _write_damaged(path):
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really")


@pytest.mark.parametrize("write, reason", [
    (_write_other_size, f"the colour strokes are 50x40 but the image is {W}x{H}; they must "
                        "be the same size"),
    (_write_opaque, "has no transparency, so it cannot hold colour strokes; give a PNG with "
                    "transparency, the picture's size, painted strokes opaque in their "
                    "colour and the rest fully transparent"),
    (_write_mask, "has no transparency"),
    (_write_empty, "holds no colour strokes (every pixel is fully transparent)"),
    (_write_damaged, "not an image file, or the file is damaged"),
])
def test_a_refused_file_is_one_message_and_leaves_the_strokes_as_they_were(
        window, tmp_path, write, reason):
    drawn = _strokes(window)
    steps = window.document.undo_label()
    write(tmp_path / "file.png")
    assert not window.import_colour_strokes(tmp_path / "file.png")
    assert len(window.errors) == 1
    assert window.errors[0].startswith(f"{tmp_path / 'file.png'}: {reason}")
    assert np.array_equal(window.document.layer(Layer.COLOR), drawn)
    assert window.document.undo_label() == steps


def test_no_strokes_export_nothing(window, tmp_path):
    target = tmp_path / "strokes.png"
    assert not window.export_colour_strokes(target)  # the layer was never painted
    assert window.statusBar().currentMessage() == "There are no colour strokes: nothing to export"
    _strokes(window)
    document = window.document
    with document.step("Colour eraser"):  # erased: all four channels 0 again
        document.paint_segment(Layer.COLOR, (60, 0), (60, 90), 200, (0, 0, 0, 0))
    window.statusBar().clearMessage()
    assert not window.export_colour_strokes(target)
    assert window.statusBar().currentMessage() == "There are no colour strokes: nothing to export"
    assert not target.exists()


def test_an_export_asks_for_a_name_beside_the_picture_and_keeps_existing_files(
        window, tmp_path):
    drawn = _strokes(window)
    asked = []
    window.ask_save_path = lambda title, suggestion, filters: asked.append(
        (title, suggestion)) or ""
    assert not window.export_colour_strokes()  # the dialog was cancelled
    assert asked == [("Export Colour Strokes", str(tmp_path / "photo_colour_strokes.png"))]
    (tmp_path / "kept.png").write_bytes(b"kept")
    assert not window.export_colour_strokes(tmp_path / "kept.png")  # not asked to replace it
    assert (tmp_path / "kept.png").read_bytes() == b"kept"
    # the editor's words: it has no setting that allows overwriting
    assert window.errors == [f"{tmp_path / 'kept.png'}: already exists; choose another name"]
    window.ask_save_path = lambda *args: str(tmp_path / "strokes.jpg")
    assert not window.export_colour_strokes()
    assert window.errors[-1] == (f"{tmp_path / 'strokes.jpg'}: colour strokes are saved as "
                                 "PNG, not .jpg")
    window.ask_save_path = lambda *args: str(tmp_path / "typed")  # no extension: a PNG
    assert window.export_colour_strokes()
    assert np.array_equal(load_colour_strokes(tmp_path / "typed.png"), drawn)


def test_an_export_never_replaces_the_picture_being_edited(window, tmp_path):
    _strokes(window)
    picture = tmp_path / "photo.png"
    before = picture.read_bytes()
    window.ask_save_path = lambda *args: str(picture)  # the dialog's overwrite question: yes
    assert not window.export_colour_strokes()
    assert not window.export_colour_strokes(picture, overwrite=True)
    assert picture.read_bytes() == before
    assert window.errors == ["photo.png is the picture being edited: choose another name for "
                             "the colour strokes"] * 2


def test_a_face_edits_strokes_are_the_crops_and_say_so(window, tmp_path):
    faces = window.faces
    faces.enter(faces.add_box((60, 20, 110, 80)))
    crop = window.document
    with crop.step("Colour brush"):
        crop.paint_segment(Layer.COLOR, (100, 200), (400, 200), 6, RED)
    drawn = crop.layer(Layer.COLOR).copy()
    size = f"{crop.width}×{crop.height}"
    asked = []
    window.ask_save_path = lambda title, suggestion, filters: asked.append(
        (title, suggestion)) or ""
    assert not window.export_colour_strokes()
    assert asked == [(f"Export Colour Strokes (face 1's {size} crop, not the photo)",
                      str(tmp_path / "photo_face1_colour_strokes.png"))]
    target = tmp_path / "crop_strokes.png"
    assert window.export_colour_strokes(target)
    assert window.statusBar().currentMessage() == (
        f"Colour Strokes of face 1's crop ({size}, not the photo) saved to {target}")
    assert np.array_equal(load_colour_strokes(target, (crop.height, crop.width)), drawn)
    crop.clear_layer(Layer.COLOR, "Clear colour strokes")
    assert window.import_colour_strokes(target)
    assert np.array_equal(crop.layer(Layer.COLOR), drawn)
    save_colour_strokes(tmp_path / "photo_sized.png", np.full((H, W, 4), 255, np.uint8))
    assert not window.import_colour_strokes(tmp_path / "photo_sized.png")  # the photo's size
    assert window.errors == [
        f"{tmp_path / 'photo_sized.png'}: the colour strokes are {W}x{H} but the face being "
        f"edited is {crop.width}x{crop.height} (face 1's crop, not the photo); a photo-sized "
        "file is imported after pasting the face back or leaving it"]
    asked = []
    window.ask_open_path = lambda title, filters, folder: asked.append(title) or ""
    assert not window.import_colour_strokes()
    assert asked == [f"Import Colour Strokes (face 1's {size} crop, not the photo)"]


def test_imported_strokes_steer_the_next_fill(qtbot, window, tmp_path):
    strokes = np.zeros((H, W, 4), np.uint8)
    strokes[40:50, 40:80] = RED
    save_colour_strokes(tmp_path / "red.png", strokes)
    assert window.import_colour_strokes(tmp_path / "red.png")
    document = window.document
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (60, 25), (60, 65), 15, 255)
    hole = document.mask > 0
    window.engine_panel.select_engine("telea")
    with qtbot.waitSignal(window.controller.applied, timeout=20000):
        window.actions["fill"].trigger()
    filled = document.image[hole & (strokes[..., 3] > 0)].astype(np.float64)
    assert (filled[:, 0] - filled[:, 1]).mean() > 60  # red, though the photo is grey
