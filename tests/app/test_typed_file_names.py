"""Names typed in the save dialogs: Qt's dialog on Linux adds no suffix and keeps trailing dots
and spaces, so Save As and the exports complete the name themselves (a label map too), and
ask before replacing a file of the completed name."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.document import Layer
from engines.fileio import load_image, load_mask, save_image
from engines.segmentation.labelmap import load_label_png
from tests.app.test_window import shown_window


@pytest.fixture
def window(qtbot, tmp_path):
    """The editor on a 40x60 JPEG ``photo.jpg`` with a label map (ids 2 and 5) and a mask;
    errors go to ``window.errors``, questions (answered ``window.answer``, no at first) to
    ``window.questions``."""
    window = shown_window(qtbot)
    window.engine_panel.auto_run.setChecked(False)
    rng = np.random.default_rng(3)
    save_image(tmp_path / "photo.jpg", rng.integers(0, 255, (40, 60, 3)).astype(np.uint8))
    assert window.open_path(tmp_path / "photo.jpg")
    labels = np.full((40, 60), 2, np.uint8)
    labels[:, 30:] = 5
    window.document.replace_label_map(labels, None, "map")
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (10, 10), (20, 20), 4, 255)
    window.errors, window.questions, window.answer = [], [], False
    window.show_error = window.errors.append
    window.confirm = lambda title, text: window.questions.append(text) or window.answer
    yield window
    window.worker.shutdown()


def _listing(folder) -> list[str]:
    """The pictures and maps written into ``folder`` (not the photo opened, nor the
    preferences the tests keep there)."""
    return sorted(p.name for p in folder.iterdir() if p.name != "photo.jpg"
                  and p.suffix != ".ini")


@pytest.mark.parametrize("typed, written", [
    ("trailing.", "trailing.jpg"),  # the original's kind, not "trailing..jpg"
    ("x.png.", "x.png"),  # not "x.png..jpg"
    ("k.jpg ", "k.jpg"),  # not refused as ".jpg " files
    ("spaced. . ", "spaced.jpg"),
])
def test_save_as_drops_trailing_dots_and_spaces_before_completing_the_name(
        window, tmp_path, typed, written):
    assert window.save_as(tmp_path / typed)
    assert _listing(tmp_path) == [written] and window.errors == []
    assert window.save_path == tmp_path / written
    assert load_image(tmp_path / written).rgb.shape == (40, 60, 3)
    assert window.windowTitle().startswith(written)


def test_save_as_asks_before_replacing_a_file_of_the_completed_name(window, tmp_path):
    (tmp_path / "x.png").write_bytes(b"kept")
    window.ask_save_path = lambda *args: str(tmp_path / "x.png.")  # the dialog asked of this
    assert not window.save_as()
    assert window.questions == ["x.png already exists. Replace it?"]
    assert (tmp_path / "x.png").read_bytes() == b"kept"
    window.answer = True
    assert window.save_as()
    assert load_image(tmp_path / "x.png").rgb.shape == (40, 60, 3)


def test_a_label_map_name_typed_without_an_extension_is_saved_as_png(window, tmp_path):
    labels = window.document.layer(Layer.LABELS).copy()
    window.ask_save_path = lambda *args: str(tmp_path / "mylabels")
    assert window.export_labels()
    assert _listing(tmp_path) == ["mylabels.png"] and window.errors == []
    assert np.array_equal(load_label_png(tmp_path / "mylabels.png"), labels)
    assert Image.open(tmp_path / "mylabels.png").mode == "P"  # indexed, as ever
    assert window.statusBar().currentMessage() == \
        f"Label map saved to {tmp_path / 'mylabels.png'}"
    assert window.export_labels(tmp_path / "lab.png.")  # not refused as a ".png." file
    assert _listing(tmp_path) == ["lab.png", "mylabels.png"]


def test_replacing_a_label_map_of_the_completed_name_is_asked_about(window, tmp_path):
    (tmp_path / "mylabels.png").write_bytes(b"kept")
    window.ask_save_path = lambda *args: str(tmp_path / "mylabels")
    assert not window.export_labels()  # answered no: nothing written
    assert window.questions == ["mylabels.png already exists. Replace it?"]
    assert (tmp_path / "mylabels.png").read_bytes() == b"kept" and window.errors == []
    window.answer = True
    assert window.export_labels()
    assert np.array_equal(load_label_png(tmp_path / "mylabels.png"),
                          window.document.layer(Layer.LABELS))
    # named in full by the caller (no dialog asked): not replaced, and not asked about
    window.questions.clear()
    assert not window.export_labels(tmp_path / "mylabels")
    assert window.questions == [] and "already exists" in window.errors[-1]


def test_a_label_map_completed_to_the_pictures_own_name_is_refused(window, tmp_path):
    save_image(tmp_path / "shot.png", np.zeros((40, 60, 3), np.uint8))
    window.answer = True  # discard the photo's edits
    assert window.open_path(tmp_path / "shot.png")
    labels = np.full((40, 60), 1, np.uint8)
    window.document.replace_label_map(labels, None, "map")
    before, window.questions = (tmp_path / "shot.png").read_bytes(), []
    assert not window.export_labels(tmp_path / "shot", overwrite=True)
    assert window.errors == ["shot.png is the picture being edited: choose another name for "
                             "the label map"]
    assert (tmp_path / "shot.png").read_bytes() == before and window.questions == []


def test_an_export_drops_trailing_dots_and_spaces_too(window, tmp_path):
    assert window.export_mask(tmp_path / "hole.png.")
    assert window.export_mask(tmp_path / "hole2. ")
    assert _listing(tmp_path) == ["hole.png", "hole2.png"]
    assert np.array_equal(load_mask(tmp_path / "hole.png"), window.document.mask)


@pytest.mark.parametrize("typed", ["....", "  ", ". .", "."])
def test_save_as_refuses_a_name_of_only_dots_and_spaces(window, tmp_path, typed):
    # as the dialog returns it (a Path would drop a last "." itself)
    window.ask_save_path = lambda *args: f"{tmp_path}/{typed}"
    assert not window.save_as()
    assert window.errors == [f'Not saved: "{typed}" cannot be a file name (it has only dots '
                             "and spaces); type another name"]
    assert _listing(tmp_path) == [] and window.questions == []  # nothing written or asked
    assert window.save_path is None and window.document.modified


def test_save_as_refuses_a_path_naming_a_folder(window, tmp_path):
    typed = str(tmp_path / "sub") + "/"
    assert not window.save_as(typed)
    assert window.errors == [f"Not saved: {typed} names a folder, not a file; type a file "
                             "name"]
    assert _listing(tmp_path) == [] and window.questions == []


@pytest.mark.parametrize("export", ["export_mask", "export_labels", "export_sketch"])
def test_an_export_refuses_a_name_of_only_dots_and_spaces(window, tmp_path, export):
    with window.document.step("Sketch pen"):
        window.document.paint_segment(Layer.SKETCH, (5, 5), (30, 5), 2, 255)
    (tmp_path / "....png").write_bytes(b"kept")  # what "...." was completed to before
    window.answer = True  # a question would be answered yes
    window.ask_save_path = lambda *args: str(tmp_path / "....")
    assert not getattr(window, export)()
    assert not getattr(window, export)(tmp_path / "  ", overwrite=True)
    assert window.errors == [
        'Not exported: "...." cannot be a file name (it has only dots and spaces); type '
        "another name",
        'Not exported: "  " cannot be a file name (it has only dots and spaces); type '
        "another name"]
    assert _listing(tmp_path) == ["....png"] and window.questions == []
    assert (tmp_path / "....png").read_bytes() == b"kept"


@pytest.mark.parametrize("typed, extension", [
    (".png", ".png"), (".PNG", ".PNG"), (".jpg", ".jpg"), (".tiff", ".tiff"),
    (".png.", ".png"),  # the trailing dot dropped, as Windows does: still only ".png"
    (".png.png", ".png"),  # ".png" as a dialog hands it back with its filter's suffix added
    (".jpg.png", ".jpg"), ("..png", ".png"),
])
def test_save_as_refuses_a_name_of_only_an_extension(window, tmp_path, typed, extension):
    window.answer = True  # a question would be answered yes
    window.ask_save_path = lambda *args: f"{tmp_path}/{typed}"
    assert not window.save_as()
    assert window.errors == [
        f'Not saved: "{typed}" is only an extension, with no name before it (it would make '
        f'a hidden file); type a name before it, such as "picture{extension}"']
    assert _listing(tmp_path) == [] and window.questions == []  # nothing written or asked
    assert window.save_path is None and window.document.modified


@pytest.mark.parametrize("export", ["export_mask", "export_labels", "export_sketch"])
def test_an_export_refuses_a_name_of_only_an_extension(window, tmp_path, export):
    with window.document.step("Sketch pen"):
        window.document.paint_segment(Layer.SKETCH, (5, 5), (30, 5), 2, 255)
    (tmp_path / ".png.png").write_bytes(b"kept")  # what ".png" was completed to before
    window.answer = True
    window.ask_save_path = lambda *args: str(tmp_path / ".png")
    assert not getattr(window, export)()
    assert not getattr(window, export)(tmp_path / ".png.png", overwrite=True)
    assert window.errors == [
        f'Not exported: "{name}" is only an extension, with no name before it (it would make '
        'a hidden file); type a name before it, such as "picture.png"'
        for name in (".png", ".png.png")]
    assert _listing(tmp_path) == [".png.png"] and window.questions == []
    assert (tmp_path / ".png.png").read_bytes() == b"kept"


@pytest.mark.parametrize("typed, written", [
    (".hidden", ".hidden.jpg"),  # a hidden file meant: completed as any name is
    (".notes.png", ".notes.png"),
    ("png", "png.jpg"),  # a name, not an extension
    ("photo.png.png", "photo.png.png"),
    (".png2", ".png2.jpg"),  # not an image extension
])
def test_hidden_and_extension_like_names_are_still_saved(window, tmp_path, typed, written):
    assert window.save_as(tmp_path / typed)
    assert _listing(tmp_path) == [written] and window.errors == []
    assert load_image(tmp_path / written).rgb.shape == (40, 60, 3)


def test_an_export_under_a_hidden_name_is_written(window, tmp_path):
    assert window.export_mask(tmp_path / ".hole")
    assert window.export_mask(tmp_path / ".hole2.PNG")
    assert _listing(tmp_path) == [".hole.png", ".hole2.PNG"] and window.errors == []
    assert np.array_equal(load_mask(tmp_path / ".hole.png"), window.document.mask)
