"""QA audit 33, finding 3: closing during a face edit offers Save / Don't Save / Cancel as on
the photo, when saving can keep the work: Save pastes the face back (a fill shown in it
applied first) and saves the photo; Cancel keeps the face and its work; a face whose crop
holds guidance no file keeps is still asked Yes / No (pasting back would drop it)."""

from __future__ import annotations

import numpy as np
import pytest

from app.document import Layer
from app.faces import face_from_box
from engines.fileio import load_image
from engines.region import Box
from tests.app.test_face_paste_fixes import (
    BOX,
    CROP_HOLE,
    EARLIER,
    choose,
    in_photo,
    paint_crop_hole,
)
from tests.app.test_face_paste_fixes import photo as photo
from tests.app.test_face_paste_fixes import window as window
from tests.app.test_face_switching import gated_engine  # noqa: F401 - a fixture

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def saving(window, tmp_path):
    """The window, its Save As answered with out.png (tmp_path), each close question
    recorded in ``asked`` as (title, text) and answered with ``choice``."""
    window.save_paths = [str(tmp_path / "out.png")]
    window.ask_save_path = lambda *args: window.save_paths.pop(0) if window.save_paths else ""
    window.choice = "cancel"
    window.ask_save_changes = lambda title, text: window.asked.append((title, text)) \
        or window.choice
    return window


def _changed_face(window):
    """Enter the face and change a part of its crop (as a fill would); returns the photo
    pixel at the centre of that part."""
    assert window.enter_face(face_from_box(BOX))
    crop = window.document
    changed = crop.image.copy()
    changed[EARLIER] = (0, 255, 0)
    crop.apply_result(changed, "Fill")
    return in_photo(window, *EARLIER)


def test_save_pastes_the_face_back_and_saves_the_photo(saving, photo, tmp_path):
    pixel = _changed_face(saving)
    saving.choice = "save"
    assert saving.close()
    assert saving.asked == [("Unsaved changes", "The face has changes that are not pasted "
                             "back (changed pixels). Paste the face back and save the photo "
                             "first?")]
    written = load_image(tmp_path / "out.png").rgb
    assert (written[pixel] != photo[pixel]).any()  # the face's change, pasted and saved
    assert np.array_equal(load_image(tmp_path / "face.png").rgb, photo)  # original kept


def test_cancel_keeps_the_face_and_its_work(saving, photo, tmp_path):
    _changed_face(saving)
    crop = saving.document
    assert not saving.close()
    assert saving.isVisible() and saving.faces.edit is not None and saving.document is crop
    assert saving.faces.has_unpasted_changes
    assert not (tmp_path / "out.png").exists()


def test_dont_save_closes_without_writing(saving, photo, tmp_path):
    _changed_face(saving)
    saving.choice = "discard"
    assert saving.close()
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["face.png"]


def test_save_abandoned_in_save_as_keeps_the_pasted_photo_open(saving, photo, tmp_path):
    pixel = _changed_face(saving)
    saving.choice, saving.save_paths = "save", []  # Save As cancelled
    assert not saving.close()
    doc = saving.document
    assert saving.faces.edit is None and doc.picture_modified  # pasted: nothing lost
    assert (doc.image[pixel] != photo[pixel]).any()
    assert not (tmp_path / "out.png").exists()


def test_a_fill_waiting_in_the_face_is_applied_pasted_and_saved(qtbot, saving, photo,
                                                                 tmp_path):
    assert saving.enter_face(face_from_box(BOX))
    choose(saving, "telea")
    paint_crop_hole(saving.document)
    with qtbot.waitSignal(saving.controller.busyChanged, timeout=30000,
                          check_params_cb=lambda busy: not busy):
        saving.controller.run()
    assert saving.controller.has_result and not saving.faces.has_unpasted_changes
    hole = in_photo(saving, *CROP_HOLE)
    saving.choice = "save"
    assert saving.close()
    assert saving.asked == [("Unsaved changes", "The face has changes that are not pasted "
                             "back (a fill not applied). Apply the fill shown, paste the face "
                             "back and save the photo first?")]
    assert (load_image(tmp_path / "out.png").rgb[hole] != photo[hole]).any()


def test_photo_changes_with_nothing_in_the_face_save_the_photo(saving, photo, tmp_path):
    photo_doc = saving.document
    with photo_doc.step("fill"):
        photo_doc.touch(Layer.IMAGE, Box(0, 0, 4, 4))
        photo_doc.image[0:4, 0:4] = 0
    assert saving.enter_face(face_from_box(BOX))
    paint_crop_hole(saving.document)  # a mask stroke alone is not work kept
    saving.choice = "save"
    assert saving.close()
    assert saving.asked == [("Unsaved changes", "The photo has changes that are not saved. "
                             "Save the photo first?")]
    assert (load_image(tmp_path / "out.png").rgb[0:4, 0:4] == 0).all()


def test_a_paste_back_refused_keeps_the_face_and_writes_nothing(saving, photo, tmp_path):
    _changed_face(saving)
    edit = saving.faces.edit
    edit.parent_version -= 1  # as when the photo changed since the face was opened
    saving.choice = "save"
    assert not saving.close()
    assert saving.faces.edit is edit and saving.faces.has_unpasted_changes
    assert not (tmp_path / "out.png").exists()


def test_a_face_with_its_own_sketch_is_still_asked_yes_no(saving, photo):
    _changed_face(saving)
    crop = saving.document
    with crop.step("Sketch pen"):
        crop.paint_segment(Layer.SKETCH, (100, 100), (300, 100), 3, 255)
    assert not saving.close()  # confirm answered No
    assert saving.asked == [("Unsaved changes", "The face has changes that are not pasted "
                             "back (changed pixels and its sketch). Discard them?")]


def test_closing_with_a_fill_running_in_the_face_asks_about_it_once(qtbot, saving, photo,
                                                                     tmp_path,
                                                                     gated_engine):  # noqa: F811
    """QA audit 35, F4: "Stop it and quit?" answered Yes, Save pastes the face back
    without the running fill and without asking again about stopping it."""
    pixel = _changed_face(saving)
    choose(saving, "gated")
    paint_crop_hole(saving.document)
    with qtbot.waitSignal(saving.controller.previewChanged, timeout=30000):
        saving.controller.run()
    hole = in_photo(saving, *CROP_HOLE)
    stops = []
    saving.ask_stop_runs = lambda *args, **kwargs: stops.append(args) or True
    saving.choice = "save"
    assert saving.close()
    assert len(stops) == 1 and [title for title, _text in saving.asked] == ["Unsaved changes"]
    written = load_image(tmp_path / "out.png").rgb
    assert (written[pixel] != photo[pixel]).any()  # the face's change
    assert np.array_equal(written[hole], photo[hole])  # not the stopped fill
