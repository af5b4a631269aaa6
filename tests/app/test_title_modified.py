"""The window title marks unsaved changes ("*", Qt's windowModified) and drops the mark once
the photo matches its file again (saved, or every change undone)."""

import numpy as np

from app.document import Layer
from engines.fileio import save_image


def _open_picture(window, tmp_path):
    source = tmp_path / "photo.png"
    save_image(source, np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8))
    assert window.open_path(source)
    window.engine_panel.auto_run.setChecked(False)
    return source


def _fill(qtbot, window):
    with window.document.step("mask"):
        window.document.paint_segment(Layer.MASK, (20, 20), (40, 30), 5, 255)
    with qtbot.waitSignal(window.controller.applied, timeout=30000):
        window.actions["fill"].trigger()


def test_the_title_marks_changes_until_saved_or_undone(qtbot, window, tmp_path):
    _open_picture(window, tmp_path)
    assert window.windowTitle() == "photo.png[*] — Inpaint Studio"  # Qt shows the [*] as "*"
    assert not window.isWindowModified()
    _fill(qtbot, window)
    assert window.document.modified and window.isWindowModified()
    while window.document.can_undo():
        window.undo()
    assert not window.document.modified and not window.isWindowModified()
    window.redo()  # the mask: the picture is still as in its file
    assert not window.isWindowModified()
    window.redo()  # the fill
    assert window.isWindowModified()
    saved = tmp_path / "saved.png"
    assert window.save_as(saved)
    assert saved.exists() and not window.isWindowModified()
    assert window.windowTitle() == "saved.png[*] — Inpaint Studio"
    window.undo()  # back past the save: differs from the file again
    assert window.isWindowModified()


def test_a_failed_save_keeps_the_mark(qtbot, window, tmp_path):
    _open_picture(window, tmp_path)
    _fill(qtbot, window)
    errors = []
    window.show_error = errors.append
    assert not window.save_as(tmp_path / "missing folder" / "out.png")
    assert errors and window.isWindowModified()


def test_guidance_alone_does_not_mark_the_title(window, tmp_path):
    """Save writes the picture only: a sketch or a mask drawn leaves the title unmarked
    (closing names the sketch apart: test_close_names_guidance)."""
    _open_picture(window, tmp_path)
    doc = window.document
    for layer in (Layer.SKETCH, Layer.MASK):
        with doc.step(layer.value):
            doc.paint_segment(layer, (20, 20), (40, 30), 3, 255)
    assert doc.modified and not doc.picture_modified
    window.show_modified()
    assert not window.isWindowModified()
