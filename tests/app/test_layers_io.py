"""The sketch and the sampling area in the editor: cleared from the Edit menu (undoably),
imported and exported as the CLI's files (File menu), and the sketch lines of a filled hole
gone with the fill."""

from __future__ import annotations

import numpy as np
import pytest

from app import maskops
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Layer
from engines.fileio import load_mask, save_image, save_mask
from engines.guidance import GUIDANCE_REACH
from tests.app.test_window import shown_window

H, W = 90, 120


@pytest.fixture
def window(qtbot, tmp_path):
    window = shown_window(qtbot, size=None)
    window.confirm = lambda title, text: False  # never block on a question
    window.errors = []
    window.show_error = window.errors.append
    rng = np.random.default_rng(2)
    picture = tmp_path / "photo.png"
    save_image(picture, rng.integers(0, 255, (H, W, 3)).astype(np.uint8))
    assert window.open_path(picture)
    window.engine_panel.auto_run.setChecked(False)
    yield window
    window.worker.shutdown()


def _sketch(window) -> np.ndarray:
    document = window.document
    with document.step("Sketch pen"):
        document.paint_segment(Layer.SKETCH, (10, 45), (110, 45), 1.5, 255)
    return document.layer(Layer.SKETCH).copy()


def _hole_for_telea(window) -> np.ndarray:
    """Paint a hole (x = 60, y 30 to 60, crossing the line of :func:`_sketch`) and choose
    OpenCV Telea; returns the hole, bool."""
    document = window.document
    with document.step("Mask brush"):
        document.paint_segment(Layer.MASK, (60, 30), (60, 60), 10, 255)
    window.engine_panel.select_engine("telea")
    return document.mask > 0


def _sampling(window) -> np.ndarray:
    document = window.document
    with document.step("Sampling area: include"):
        document.paint_segment(Layer.SAMPLING, (20, 20), (60, 20), 8, SAMPLE_INCLUDE)
    with document.step("Sampling area: exclude"):
        document.paint_segment(Layer.SAMPLING, (30, 70), (90, 70), 8, SAMPLE_EXCLUDE)
    return document.layer(Layer.SAMPLING).copy()


def _menu_texts(window, title: str) -> list[str]:
    menu = next(action.menu() for action in window.menuBar().actions()
                if action.text().replace("&", "") == title)
    return [action.text().replace("&", "") for action in menu.actions()]


def test_the_menus_offer_the_layer_actions(window):
    assert {"Clear Sketch", "Clear Sampling Area"} <= set(_menu_texts(window, "Edit"))
    file_menu = _menu_texts(window, "File")
    assert {"Import Sketch…", "Export Sketch…", "Import Sampling Area",
            "Export Sampling Area"} <= set(file_menu)
    for verb in ("import", "export"):
        for kind in ("include", "exclude"):
            assert window.actions[f"{verb}_{kind}"].isEnabled()


@pytest.mark.parametrize("action, make, layer", [
    ("clear_sketch", _sketch, Layer.SKETCH),
    ("clear_sampling", _sampling, Layer.SAMPLING),
])
def test_clearing_a_layer_is_one_undoable_step(window, action, make, layer):
    drawn = make(window)
    assert drawn.any()
    window.actions[action].trigger()
    document = window.document
    assert not document.layer(layer).any()
    assert document.undo_label().startswith("Clear")
    assert "Ctrl+Z" in window.statusBar().currentMessage()
    window.undo()
    assert np.array_equal(document.layer(layer), drawn)
    window.redo()
    assert not document.layer(layer).any()
    steps = document.undo_label()
    window.actions[action].trigger()  # nothing left: no step, and the status bar says so
    assert "empty: nothing to clear" in window.statusBar().currentMessage()
    assert document.undo_label() == steps


def test_a_sketch_round_trips_through_a_file(window, tmp_path):
    drawn = _sketch(window)
    target = tmp_path / "lines.png"
    assert window.export_sketch(target)
    assert np.array_equal(load_mask(target), drawn)  # white = line, what --sketch reads
    window.clear_sketch()
    assert window.import_sketch(target)
    assert np.array_equal(window.document.layer(Layer.SKETCH), drawn)
    assert window.document.undo_label() == "Import sketch"
    window.undo()
    assert not window.document.layer(Layer.SKETCH).any()


def test_sampling_areas_round_trip_through_the_clis_files(window, tmp_path):
    drawn = _sampling(window)
    assert window.export_sampling_area("include", tmp_path / "include.png")
    assert window.export_sampling_area("exclude", tmp_path / "exclude.png")
    assert np.array_equal(load_mask(tmp_path / "include.png") > 0, drawn == SAMPLE_INCLUDE)
    assert np.array_equal(load_mask(tmp_path / "exclude.png") > 0, drawn == SAMPLE_EXCLUDE)
    window.clear_sampling_area()
    assert window.import_sampling_area("include", tmp_path / "include.png")
    assert window.import_sampling_area("exclude", tmp_path / "exclude.png")
    assert np.array_equal(window.document.layer(Layer.SAMPLING), drawn)
    window.undo()  # the exclude import only
    assert np.array_equal(window.document.layer(Layer.SAMPLING),
                          np.where(drawn == SAMPLE_INCLUDE, SAMPLE_INCLUDE, 0))


def test_an_imported_include_area_replaces_the_old_one_and_keeps_the_exclude_area(
        window, tmp_path):
    drawn = _sampling(window)
    include = np.zeros((H, W), np.uint8)
    include[60:80, 0:40] = 255  # over part of the exclude area too
    save_mask(tmp_path / "include.png", include)
    assert window.import_sampling_area("include", tmp_path / "include.png")
    layer = window.document.layer(Layer.SAMPLING)
    assert np.array_equal(layer == SAMPLE_INCLUDE, include > 0)
    assert np.array_equal(layer == SAMPLE_EXCLUDE, (drawn == SAMPLE_EXCLUDE) & (include == 0))


@pytest.mark.parametrize("importer, what", [
    (lambda window, path: window.import_sketch(path), "sketch"),
    (lambda window, path: window.import_sampling_area("include", path), "include area"),
    (lambda window, path: window.import_sampling_area("exclude", path), "exclude area"),
])
def test_a_file_of_another_size_is_one_clear_message_and_changes_nothing(
        window, tmp_path, importer, what):
    sketch, sampling = _sketch(window), _sampling(window)
    steps = window.document.undo_label()
    save_mask(tmp_path / "small.png", np.full((40, 50), 255, np.uint8))
    assert not importer(window, tmp_path / "small.png")
    assert window.errors == [f"{tmp_path / 'small.png'}: the {what} is 50x40 but the image "
                             f"is {W}x{H}; they must be the same size"]
    document = window.document
    assert np.array_equal(document.layer(Layer.SKETCH), sketch)
    assert np.array_equal(document.layer(Layer.SAMPLING), sampling)
    assert document.undo_label() == steps


def test_an_empty_include_file_is_refused(window, tmp_path):
    drawn = _sampling(window)
    save_mask(tmp_path / "none.png", np.zeros((H, W), np.uint8))
    assert not window.import_sampling_area("include", tmp_path / "none.png")
    assert "none.png: the include area is empty" in window.errors[0]
    assert np.array_equal(window.document.layer(Layer.SAMPLING), drawn)


def test_an_empty_sketch_file_is_refused_and_the_lines_stay(window, tmp_path):
    drawn = _sketch(window)
    steps = window.document.undo_label()
    save_mask(tmp_path / "black.png", np.zeros((H, W), np.uint8))
    assert not window.import_sketch(tmp_path / "black.png")
    assert window.errors == ["black.png holds no sketch lines (no white pixels); to remove the "
                             "lines drawn, use Clear Sketch"]
    assert np.array_equal(window.document.layer(Layer.SKETCH), drawn)
    assert window.document.undo_label() == steps


def test_a_huge_guidance_file_of_another_size_is_refused_from_its_header(
        window, tmp_path, monkeypatch):
    from engines import fileio

    save_mask(tmp_path / "huge.png", np.zeros((3000, 4000), np.uint8))
    decoded = []
    monkeypatch.setattr(fileio, "_decode",
                        lambda *args, **kwargs: decoded.append(args) or None)
    assert not window.import_sketch(tmp_path / "huge.png")
    assert "the sketch is 4000x3000 but the image is" in window.errors[0] and decoded == []


def test_an_export_name_typed_without_an_extension_is_saved_as_png(window, tmp_path):
    drawn = _sketch(window)
    window.ask_save_path = lambda *args: str(tmp_path / "lines")
    assert window.export_sketch()
    assert np.array_equal(load_mask(tmp_path / "lines.png"), drawn)
    asked = []
    window.confirm = lambda title, text: asked.append(text) or False
    assert not window.export_sketch()  # lines.png exists now: asked, and answered no
    assert asked == ["lines.png already exists. Replace it?"]
    window.ask_save_path = lambda *args: str(tmp_path / "lines.jpg")
    assert not window.export_sketch()
    assert window.errors == [f"{tmp_path / 'lines.jpg'}: the sketch is saved as PNG, not .jpg"]


def test_an_empty_layer_is_not_exported(window, tmp_path):
    assert not window.export_sketch(tmp_path / "lines.png")
    assert "The sketch is empty: nothing to export" in window.statusBar().currentMessage()
    assert not window.export_sampling_area("exclude", tmp_path / "keepout.png")
    assert not (tmp_path / "lines.png").exists() and not (tmp_path / "keepout.png").exists()


def test_exports_never_replace_the_picture_being_edited(window, tmp_path):
    _sketch(window)
    _sampling(window)
    picture = tmp_path / "photo.png"
    link = tmp_path / "link.png"
    link.symlink_to(picture)
    before = picture.read_bytes()
    window.ask_save_path = lambda *args: str(picture)  # the dialog's overwrite question: yes
    assert not window.export_sketch()
    assert not window.export_sampling_area("include", link, overwrite=True)
    assert picture.read_bytes() == before and link.is_symlink()
    assert window.errors == [
        "photo.png is the picture being edited: choose another name for the sketch",
        "link.png is the picture being edited: choose another name for the include area"]


def test_export_suggests_a_name_beside_the_picture(window, tmp_path):
    _sketch(window)
    asked = []
    window.ask_save_path = lambda title, suggestion, filters: asked.append(
        (title, suggestion)) or ""
    assert not window.export_sketch()  # the dialog was cancelled
    assert asked == [("Export Sketch", str(tmp_path / "photo_sketch.png"))]


def test_a_face_edits_exports_are_named_after_the_photo_and_the_face(window, tmp_path):
    faces = window.faces
    faces.add_box((10, 10, 50, 60))
    faces.enter(faces.add_box((60, 20, 110, 80)))  # the second face in the list
    crop = window.document
    assert crop is faces.edit.document and crop.path is None
    with crop.step("Sketch pen"):
        crop.paint_segment(Layer.SKETCH, (100, 200), (400, 200), 3, 255)
    with crop.step("Mask brush"):
        crop.paint_segment(Layer.MASK, (100, 300), (400, 300), 20, 255)
    asked = []
    window.ask_save_path = lambda title, suggestion, filters: asked.append(
        (title, suggestion)) or ""
    assert not window.export_sketch() and not window.export_mask()  # dialogs cancelled
    size = f"{crop.width}×{crop.height}"
    assert asked == [
        (f"Export Sketch (face 2's {size} crop, not the photo)",
         str(tmp_path / "photo_face2_sketch.png")),
        (f"Export Mask (face 2's {size} crop, not the photo)",
         str(tmp_path / "photo_face2_mask.png"))]
    assert window.export_mask(tmp_path / "crop_mask.png")
    assert load_mask(tmp_path / "crop_mask.png").shape == (crop.height, crop.width)
    assert window.statusBar().currentMessage() == (
        f"Mask of face 2's crop ({size}, not the photo) saved to {tmp_path / 'crop_mask.png'}")
    before = (tmp_path / "photo.png").read_bytes()
    window.ask_save_path = lambda *args: str(tmp_path / "photo.png")  # replace: yes
    assert not window.export_sketch()  # never over the photo the face comes from
    assert (tmp_path / "photo.png").read_bytes() == before
    assert window.errors == [
        "photo.png is the picture being edited: choose another name for the sketch"]


def test_an_applied_fill_clears_the_sketch_inside_its_hole_in_the_same_step(qtbot, window):
    document = window.document
    drawn = _sketch(window)  # a line across the picture at y = 45
    hole = _hole_for_telea(window)
    with qtbot.waitSignal(window.controller.applied, timeout=20000):
        window.actions["fill"].trigger()
    sketch = document.layer(Layer.SKETCH)
    # the lines drawn for the hole (in it, or up to its edge) went; those beyond stay
    drawn_for = maskops.grow(hole.astype(np.uint8), GUIDANCE_REACH) > 0
    assert drawn[hole].any() and drawn[drawn_for & ~hole].any()
    assert not sketch[drawn_for].any()
    assert np.array_equal(sketch[~drawn_for], drawn[~drawn_for]) and sketch.any()
    window.undo()  # the fill: picture, mask and sketch together
    assert np.array_equal(document.layer(Layer.SKETCH), drawn)
    assert np.array_equal(document.mask > 0, hole)
    window.redo()
    assert not document.layer(Layer.SKETCH)[drawn_for].any()


def test_sketch_lines_drawn_while_the_fill_runs_survive_its_apply(qtbot, window):
    document = window.document
    drawn = _sketch(window)  # a line across the picture at y = 45, used by the run
    hole = _hole_for_telea(window)
    with qtbot.waitSignal(window.controller.applied, timeout=20000):
        window.actions["fill"].trigger()
        # the run has its snapshot; its result cannot arrive before the event loop runs
        with document.step("Sketch pen"):
            document.paint_segment(Layer.SKETCH, (30, 60), (70, 60), 1, 255)
        before_apply = document.layer(Layer.SKETCH).copy()
    later = (before_apply > 0) & (drawn == 0)
    assert later[hole].any()  # the new line crosses the hole
    drawn_for = maskops.grow(hole.astype(np.uint8), GUIDANCE_REACH) > 0
    expected = np.where(drawn_for & (drawn > 0) & ~later, 0, before_apply)
    assert expected[hole].any() and not np.array_equal(expected, before_apply)
    assert np.array_equal(document.layer(Layer.SKETCH), expected)


def test_an_applied_fill_whose_run_had_no_sketch_clears_no_line(qtbot, window):
    document = window.document
    hole = _hole_for_telea(window)
    with qtbot.waitSignal(window.controller.applied, timeout=20000):
        window.actions["fill"].trigger()
        with document.step("Sketch pen"):
            document.paint_segment(Layer.SKETCH, (30, 45), (70, 45), 1, 255)
        before_apply = document.layer(Layer.SKETCH).copy()
    assert before_apply[hole].any()
    assert np.array_equal(document.layer(Layer.SKETCH), before_apply)
    assert not document.mask.any()  # the fill was applied
