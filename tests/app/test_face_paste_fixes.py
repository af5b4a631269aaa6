"""Paste back in the Faces panel with a fill in the face crop, and the thumbnails after it:
a fill waiting for Enter enables Paste back (which applies it first), Paste back while a
fill runs asks before stopping it, and the thumbnails showing what a paste-back changed
are rebuilt (after its undo and redo too), the others left as they are."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import Layer
from app.faces import face_from_box
from app.window import MainWindow
from engines.fileio import save_image
from tests.app.test_face_switching import gated_engine  # noqa: F401 - a fixture

pytestmark = pytest.mark.timeout(120)

BOX = (40, 20, 90, 80)  # a face box in the 96x128 picture
CROP_HOLE = (slice(300, 360), slice(200, 320))  # in the 512 crop
EARLIER = (slice(100, 140), slice(100, 140))  # an earlier change in the crop, far from it


@pytest.fixture
def window(qtbot, model_cache):
    """A shown window, no fill after each stroke nor applied by itself; ``asked`` lists the
    questions as (title, text), answered with ``answer`` (False at first)."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    window.asked, window.answer = [], False
    window.confirm = lambda title, text: window.asked.append((title, text)) or window.answer
    window.show_error = lambda text: None  # never a message box
    window.engine_panel.auto_run.setChecked(False)
    window.engine_panel.auto_apply.setChecked(False)
    yield window
    window.ask_stop_runs = lambda *args, **kwargs: True
    window.worker.shutdown()


@pytest.fixture
def photo(window, tmp_path, textured) -> np.ndarray:
    assert window.open_path(save_image(tmp_path / "face.png", textured))
    return textured


def paint_crop_hole(crop) -> None:
    mask = np.zeros((crop.height, crop.width), np.uint8)
    mask[CROP_HOLE] = 255
    crop.replace_layer(Layer.MASK, mask, "Mask brush")


def in_photo(window: MainWindow, rows: slice, cols: slice) -> tuple[int, int]:
    """The photo pixel (row, col) at the centre of a part of the face crop."""
    centre = np.array([[(cols.start + cols.stop) / 2, (rows.start + rows.stop) / 2]])
    x, y = window.faces.edit.aligned.to_image(centre)[0]
    return round(float(y)), round(float(x))


def choose(window: MainWindow, engine: str) -> None:
    window.controller.settings.engine = engine  # what the controller's fills use


# --- F2: a fill waiting for Enter in the crop --------------------------------------------
def test_paste_back_is_enabled_while_a_fill_waits_and_pastes_it(qtbot, window, photo):
    assert window.enter_face(face_from_box(BOX))
    crop, paste = window.document, window.face_panel.paste_button
    choose(window, "telea")
    paint_crop_hole(crop)
    assert not paste.isEnabled()  # nothing changed yet
    with qtbot.waitSignal(window.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        window.controller.run()
    assert window.controller.has_result and not window.faces.has_unpasted_changes
    assert paste.isEnabled()

    window.controller.discard()  # Esc: nothing waits, nothing to paste
    assert not paste.isEnabled()
    with qtbot.waitSignal(window.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        window.controller.run()
    assert paste.isEnabled()

    hole = in_photo(window, *CROP_HOLE)
    paste.click()  # applies the fill in the crop, then pastes it
    assert window.faces.edit is None and window.document is not crop
    assert crop.undo_label().startswith("Fill")
    photo_doc = window.document
    assert photo_doc.undo_label() == "Face edit"
    assert (photo_doc.image[hole] != photo[hole]).any()
    assert not window.controller.has_result and not paste.isEnabled()


# --- F3: a fill running in the crop -----------------------------------------------------
def test_paste_back_while_a_fill_runs_asks_and_no_keeps_it(qtbot, window, photo,
                                                           gated_engine):  # noqa: F811
    photo_doc = window.document
    assert window.enter_face(face_from_box(BOX))
    crop = window.document
    earlier = crop.image.copy()
    earlier[EARLIER] = (0, 255, 0)
    crop.apply_result(earlier, "Fill")  # an earlier change: Paste back is on
    choose(window, "gated")
    paint_crop_hole(crop)
    with qtbot.waitSignal(window.controller.previewChanged, timeout=30000):
        window.controller.run()
    assert window.controller.busy and window.face_panel.paste_button.isEnabled()

    window.face_panel.paste_button.click()  # "No"
    assert window.asked == [("Fill running", "A fill is still running in the face. Stop it "
                                             "and paste the face back?")]
    assert window.faces.edit is not None and window.document is crop
    assert window.controller.busy and photo_doc.undo_label() is None
    with qtbot.waitSignal(window.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        gated_engine.set()  # the fill goes on and arrives
    assert window.controller.has_result


def test_paste_back_while_a_fill_runs_yes_stops_it_and_pastes(qtbot, window, photo,
                                                              gated_engine):  # noqa: F811
    photo_doc = window.document
    assert window.enter_face(face_from_box(BOX))
    crop = window.document
    earlier = crop.image.copy()
    earlier[EARLIER] = (0, 255, 0)
    crop.apply_result(earlier, "Fill")
    choose(window, "gated")
    paint_crop_hole(crop)
    with qtbot.waitSignal(window.controller.previewChanged, timeout=30000):
        window.controller.run()
    changed, hole = in_photo(window, *EARLIER), in_photo(window, *CROP_HOLE)

    window.answer = True
    window.face_panel.paste_button.click()
    assert [title for title, _text in window.asked] == ["Fill running"]
    assert window.faces.edit is None and window.document is photo_doc
    assert photo_doc.undo_label() == "Face edit"
    message = window.statusBar().currentMessage()
    assert "Stopped Gated in the face" in message and "nothing was filled" in message
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=30000)
    gated_engine.set()
    qtbot.wait(100)
    assert not window.controller.has_result and photo_doc.preview is None
    assert (photo_doc.image[changed] != photo[changed]).any()  # the earlier change
    assert np.array_equal(photo_doc.image[hole], photo[hole])  # not the stopped fill


def test_paste_back_without_a_fill_asks_nothing(window, photo):
    assert window.enter_face(face_from_box(BOX))
    crop = window.document
    earlier = crop.image.copy()
    earlier[EARLIER] = (0, 255, 0)
    crop.apply_result(earlier, "Fill")
    assert window.paste_face_back()
    assert window.asked == [] and window.document.undo_label() == "Face edit"


# --- F4: the thumbnails follow the photo -------------------------------------------------
def icon(window: MainWindow, row: int):
    return window.face_panel.faces.item(row).icon()


def icon_image(window: MainWindow, row: int):
    return icon(window, row).pixmap(96, 96).toImage()


def test_thumbnails_follow_a_paste_back_and_its_undo_and_redo(window, tmp_path):
    rng = np.random.default_rng(3)
    picture = rng.integers(0, 200, (320, 640, 3), np.uint8)
    assert window.open_path(save_image(tmp_path / "two.png", picture))
    window.faces.add_box(BOX)  # near the top left
    window.faces.add_box((520, 200, 580, 273))  # far right: other tiles of the picture
    before, far = icon_image(window, 0), icon(window, 1).cacheKey()

    assert window.enter_face(0)
    crop = window.document
    magenta = crop.image.copy()
    magenta[:] = (255, 0, 255)
    crop.apply_result(magenta, "Fill")
    assert window.paste_face_back()
    after = icon_image(window, 0)
    assert after != before
    centre = after.pixelColor(48, 48)
    assert (centre.red(), centre.green(), centre.blue()) == (255, 0, 255)
    assert icon(window, 1).cacheKey() == far  # its thumbnail shows nothing that changed

    window.actions["undo"].trigger()
    assert window.document.undo_label() is None
    assert icon_image(window, 0) == before
    window.actions["redo"].trigger()
    assert icon_image(window, 0) == after
    assert icon(window, 1).cacheKey() == far
    assert window.face_panel.faces.currentRow() == 0  # the list was not rebuilt
