"""What closing (or opening another picture) asks names what would be lost: the picture's
changes not saved, and the guidance drawn that no file keeps (saving the picture keeps none
of it; exporting or importing a layer's file does, until it changes again). The mask is not
asked about, nor a label map as computed."""

from __future__ import annotations

import numpy as np

from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Document, Layer
from engines.base import UNLABELLED
from engines.fileio import load_mask, save_image

SKETCH_ONLY = ("The sketch you drew is not saved with the picture: export it "
               "(File → Export Sketch…) to keep it. Discard it?")


def _doc() -> Document:
    return Document(np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8))


def _stroke(doc: Document, layer: Layer, y: int, value=255) -> None:
    with doc.step("stroke"):
        doc.paint_segment(layer, (20, y), (200, y), 3, value)


# --- the document's bookkeeping -------------------------------------------------------
def test_guidance_is_not_the_picture_and_is_kept_only_by_a_file():
    doc = _doc()
    _stroke(doc, Layer.MASK, 100)  # a hole not filled: neither the picture nor guidance
    assert not doc.picture_modified and doc.unkept_guidance() == ()
    _stroke(doc, Layer.SKETCH, 50)
    assert not doc.picture_modified and doc.unkept_guidance() == ("sketch",)
    doc.mark_saved()  # saving the picture keeps no guidance
    assert doc.unkept_guidance() == ("sketch",)
    doc.mark_kept("sketch")  # exported
    assert doc.unkept_guidance() == ()
    _stroke(doc, Layer.SKETCH, 80)
    assert doc.unkept_guidance() == ("sketch",)
    doc.undo()  # back to what the file holds
    assert doc.unkept_guidance() == ()
    doc.redo()
    assert doc.unkept_guidance() == ("sketch",)
    doc.undo()
    doc.undo()  # past the export: no sketch at all, nothing to lose
    assert not doc.layer(Layer.SKETCH).any() and doc.unkept_guidance() == ()


def test_an_export_taken_before_a_later_stroke_does_not_keep_it():
    doc = _doc()
    _stroke(doc, Layer.COLOR, 50, (255, 0, 0, 255))
    point = doc.kept_point("color")  # what a slow export writes
    _stroke(doc, Layer.COLOR, 90, (0, 255, 0, 255))
    doc.mark_kept("color", point)
    assert doc.unkept_guidance() == ("color",)
    doc.undo()
    assert doc.unkept_guidance() == ()


def test_the_two_sampling_areas_are_kept_each_by_its_own_file():
    doc = _doc()
    _stroke(doc, Layer.SAMPLING, 50, SAMPLE_INCLUDE)
    _stroke(doc, Layer.SAMPLING, 150, SAMPLE_EXCLUDE)
    assert doc.unkept_guidance() == ("include", "exclude")
    doc.mark_kept("include")
    _stroke(doc, Layer.SAMPLING, 250, SAMPLE_EXCLUDE)  # the layer changes, the include area not
    assert doc.unkept_guidance() == ("exclude",)


def test_only_label_edits_count_not_the_map_computed():
    doc = _doc()
    computed = np.zeros((300, 400), np.uint8)
    computed[150:] = 1
    doc.replace_label_map(computed, "regions", "Compute label map")
    assert doc.unkept_guidance() == ()
    _stroke(doc, Layer.LABELS, 50, 1)  # the label brush
    assert doc.unkept_guidance() == ("labels",)
    doc.undo()
    assert doc.unkept_guidance() == ()
    _stroke(doc, Layer.LABELS, 200, UNLABELLED)  # rubbing out a computed label is one too
    assert doc.unkept_guidance() == ("labels",)


def test_a_change_that_keeps_the_count_of_drawn_pixels_is_still_unkept():
    doc = _doc()  # the count is checked first, the digest only when it is the same
    _stroke(doc, Layer.SKETCH, 50)
    doc.mark_kept("sketch")
    with doc.step("move the line"):
        doc.paint_segment(Layer.SKETCH, (20, 50), (200, 50), 3, 0)
        doc.paint_segment(Layer.SKETCH, (20, 120), (200, 120), 3, 255)
    assert np.count_nonzero(doc.layer(Layer.SKETCH)[120]) and not doc.layer(Layer.SKETCH)[50].any()
    assert doc.unkept_guidance() == ("sketch",)
    computed = np.ones((300, 400), np.uint8)
    doc.replace_label_map(computed, "regions", "Compute label map")
    _stroke(doc, Layer.LABELS, 50, 2)
    doc.mark_kept("labels")
    with doc.step("relabel"):  # the same pixels, another label: the count stays
        doc.paint_segment(Layer.LABELS, (20, 50), (200, 50), 3, 3)
    assert doc.unkept_guidance() == ("sketch", "labels")


def test_a_save_of_an_earlier_picture_leaves_a_later_fill_unsaved():
    doc = _doc()
    written = doc.state, doc.layer_state(Layer.IMAGE)  # what a save in the background copied
    with doc.step("fill"):
        doc.paint_segment(Layer.IMAGE, (5, 5), (50, 5), 3, (1, 2, 3))
    doc.mark_saved(*written)
    assert doc.picture_modified
    doc.undo()
    assert not doc.picture_modified


# --- the question ---------------------------------------------------------------------
def _open(window, tmp_path):
    source = tmp_path / "photo.png"
    save_image(source, np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8))
    assert window.open_path(source)
    window.engine_panel.auto_run.setChecked(False)
    asked = []
    window.confirm = lambda title, text: asked.append((title, text)) or False
    return asked


def test_a_sketch_alone_is_named_before_and_after_save(window, tmp_path):
    asked = _open(window, tmp_path)
    _stroke(window.document, Layer.SKETCH, 30)
    assert not window.close() and window.isVisible()
    assert asked == [("Unsaved changes", SKETCH_ONLY)]  # no pixel of the picture changed
    asked.clear()
    assert window.save_as(tmp_path / "saved.png")
    assert not window.close()  # the file holds the picture, not the sketch
    assert asked == [("Unsaved changes", SKETCH_ONLY)]
    asked.clear()
    assert not window.open_path(tmp_path / "saved.png")  # opening another asks the same
    assert asked == [("Unsaved changes", SKETCH_ONLY)]


def test_an_exported_sketch_is_not_asked_about(window, tmp_path):
    asked = _open(window, tmp_path)
    _stroke(window.document, Layer.SKETCH, 30)
    exported = tmp_path / "lines.png"
    assert window.export_sketch(exported)
    assert load_mask(exported, window.document.shape)[30, 100] == 255
    assert window.close() and asked == [] and not window.isVisible()


def test_a_fill_and_a_sketch_are_one_question(qtbot, window, tmp_path):
    asked = _open(window, tmp_path)
    doc = window.document
    with doc.step("mask"):
        doc.paint_segment(Layer.MASK, (100, 90), (140, 90), 6, 255)
    window.controller.settings.engine = "telea"
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        window.actions["fill"].trigger()
    _stroke(doc, Layer.SKETCH, 20)  # far from the hole: not cleared by the fill
    with doc.step("Label brush"):
        doc.paint_segment(Layer.LABELS, (20, 60), (60, 60), 3, 2)
    assert doc.picture_modified and doc.unkept_guidance() == ("sketch", "labels")
    assert not window.close()
    assert asked == [("Unsaved changes", "The picture has changes that are not saved. The "
                      "sketch and label edits are not kept either (File → Export Sketch… / "
                      "Export Label Map… keep them). Save the picture first?")]
    asked.clear()
    assert window.save_as(tmp_path / "filled.png")
    assert not window.close()
    assert asked == [("Unsaved changes", "The sketch and label edits you drew are not saved "
                      "with the picture: export them (File → Export Sketch… / Export Label "
                      "Map…) to keep them. Discard them?")]
    asked.clear()
    window.undo()  # the label edit
    window.undo()  # the sketch: back to the save point
    assert window.close() and asked == []


def test_a_label_map_computed_is_not_asked_about_its_edits_are(window, tmp_path):
    asked = _open(window, tmp_path)
    doc = window.document
    computed = np.zeros((doc.height, doc.width), np.uint8)
    computed[60:] = 1
    doc.replace_label_map(computed, None, "Compute label map")
    assert window.confirm_discard_changes() and asked == []
    with doc.step("Label brush"):
        doc.paint_segment(Layer.LABELS, (20, 20), (80, 20), 4, 1)
    assert not window.close()
    assert asked == [("Unsaved changes", "The label edits you drew are not saved with the "
                      "picture: export them (File → Export Label Map…) to keep them. Discard "
                      "them?")]
    asked.clear()
    assert window.export_labels(tmp_path / "labels.png")
    assert window.close() and asked == []
