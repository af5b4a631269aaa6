"""QA audit 23, finding 1: in a face edit, the close question names the face's work (not
pasted back) and the photo's guidance (not kept) apart, with advice that works there (leave
the face, then export: File's exports act on the face crop meanwhile); a mask stroke alone in
the crop is neither asked about nor marks the title, as on the photo."""

from __future__ import annotations

import pytest

from app.document import Layer
from app.faces import face_from_box
from engines.fileio import load_mask
from tests.app.test_face_paste_fixes import BOX, paint_crop_hole
from tests.app.test_face_paste_fixes import photo as photo
from tests.app.test_face_paste_fixes import window as window

pytestmark = pytest.mark.timeout(120)


def _stroke(doc, layer: Layer, y: int, value=255) -> None:
    with doc.step("stroke"):
        doc.paint_segment(layer, (5, y), (40, y), 2, value)


def _asked(window) -> list:
    window.asked.clear()
    window.confirm_discard_changes()
    return window.asked[:]


def test_a_mask_stroke_alone_in_the_face_is_not_picture_work(qtbot, window, photo):
    assert window.enter_face(face_from_box(BOX))
    paint_crop_hole(window.document)
    window.show_modified()
    assert not window.isWindowModified()  # the title marks the picture's changes only
    assert _asked(window) == []  # as on the photo: a hole not filled is not kept work
    # leaving the face still asks: the strokes made in it go
    assert not window.leave_face() and window.asked[-1][0] == "Leave the face?"


def test_the_face_question_names_the_face_and_the_photo_and_its_advice_works(
        qtbot, window, photo, tmp_path):
    photo_doc = window.document
    _stroke(photo_doc, Layer.SKETCH, 10)
    assert window.enter_face(face_from_box(BOX))
    crop = window.document
    with crop.step("Sketch pen"):
        crop.paint_segment(Layer.SKETCH, (100, 100), (300, 100), 3, 255)
    window.show_modified()
    assert not window.isWindowModified()  # a sketch is guidance, not the picture
    assert _asked(window) == [(
        "Unsaved changes",
        "The face has changes that are not pasted back (its sketch). The photo's sketch is "
        "not kept either (leave the face, then File → Export Sketch… keeps it). Discard "
        "them?")]
    # following the advice: leave the face, then export the photo's sketch
    window.answer = True
    assert window.leave_face() and window.document is photo_doc
    assert window.export_sketch(tmp_path / "photo_sketch.png")
    assert load_mask(tmp_path / "photo_sketch.png").shape == photo_doc.shape
    window.answer = False
    assert _asked(window) == []


def test_changed_face_pixels_mark_the_title_and_are_named(qtbot, window, photo):
    assert window.enter_face(face_from_box(BOX))
    crop = window.document
    with crop.step("Fill"):
        crop.paint_segment(Layer.IMAGE, (100, 100), (300, 100), 6, (1, 2, 3))
    window.show_modified()
    assert window.isWindowModified()
    # answered Save / Don't Save / Cancel (tests/app/test_face_close_save.py)
    assert _asked(window) == [("Unsaved changes", "The face has changes that are not pasted "
                               "back (changed pixels). Paste the face back and save the photo "
                               "first?")]
