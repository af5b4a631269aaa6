"""Save As and the exports never write through a symbolic link (a broken one included): the
file it points to may be another photo. The name is refused before any question, nothing is
written and the link stays. A file there that replacing was not asked for is refused in the
editor's words (it has no setting to allow overwriting)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from app.document import Layer
from engines.fileio import save_image
from tests.app.test_window import shown_window


@pytest.fixture
def window(qtbot, tmp_path):
    """The editor on ``photo.png`` with a mask stroke; every question answered Yes (and
    recorded in ``window.asked``), errors recorded in ``window.errors``."""
    window = shown_window(qtbot)
    window.asked = []
    window.errors = []
    window.confirm = lambda title, text: window.asked.append(text) or True
    window.show_error = window.errors.append
    window.ask_stop_runs = lambda text: True
    assert window.open_path(save_image(tmp_path / "photo.png",
                                       np.full((60, 80, 3), 90, np.uint8)))
    with window.document.step("Mask brush"):
        window.document.paint_segment(Layer.MASK, (10, 10), (20, 20), 5, 255)
    yield window
    window.worker.shutdown()


def _other_photo(tmp_path):
    """``keep_me.png``, another photo, and ``link.png`` pointing to it; its bytes."""
    save_image(tmp_path / "keep_me.png", np.full((60, 80, 3), 200, np.uint8))
    (tmp_path / "link.png").symlink_to("keep_me.png")
    return (tmp_path / "keep_me.png").read_bytes()


@pytest.mark.parametrize("overwrite", [False, True])
def test_save_as_onto_a_link_is_refused_and_writes_nothing(window, tmp_path, overwrite):
    before = _other_photo(tmp_path)
    assert not window.save_as(tmp_path / "link.png", overwrite=overwrite)
    assert window.errors == ["link.png is a link to keep_me.png: choose the file itself or "
                             "another name"]
    assert window.asked == []  # refused before any question
    assert (tmp_path / "keep_me.png").read_bytes() == before
    assert os.readlink(tmp_path / "link.png") == "keep_me.png"
    assert window.save_path is None and window.document.picture_modified is False


def test_save_as_from_the_dialog_onto_a_link_is_refused(window, tmp_path):
    """The dialog asked before replacing the file: the link is refused all the same."""
    before = _other_photo(tmp_path)
    window.ask_save_path = lambda *args: str(tmp_path / "link.png")
    assert not window.save_as()
    assert window.errors == ["link.png is a link to keep_me.png: choose the file itself or "
                             "another name"]
    assert (tmp_path / "keep_me.png").read_bytes() == before
    assert (tmp_path / "link.png").is_symlink()


def test_a_name_completed_onto_a_link_is_refused_before_the_question(window, tmp_path):
    before = _other_photo(tmp_path)
    window.ask_save_path = lambda *args: str(tmp_path / "link")  # completed as link.png
    assert not window.save_as()
    assert window.asked == []
    assert window.errors == ["link.png is a link to keep_me.png: choose the file itself or "
                             "another name"]
    assert (tmp_path / "keep_me.png").read_bytes() == before


def test_a_broken_link_is_refused_and_nothing_is_made_where_it_points(window, tmp_path):
    (tmp_path / "gone.png").symlink_to("nowhere/missing.png")
    window.ask_save_path = lambda *args: str(tmp_path / "gone.png")
    assert not window.save_as()
    assert window.errors == ["gone.png is a link to nowhere/missing.png, which does not exist: "
                             "choose another name"]
    assert not os.path.lexists(tmp_path / "nowhere")
    assert os.readlink(tmp_path / "gone.png") == "nowhere/missing.png"


def test_saving_to_the_remembered_name_once_a_link_is_refused(window, tmp_path):
    """Ctrl+S writes the file Save As chose; a link put there since is not written through."""
    window.ask_save_path = lambda *args: str(tmp_path / "out.png")
    assert window.save_as()
    before = _other_photo(tmp_path)
    (tmp_path / "out.png").unlink()
    (tmp_path / "out.png").symlink_to("keep_me.png")
    window.errors.clear()
    assert not window.save()
    assert window.errors == ["out.png is a link to keep_me.png: choose the file itself or "
                             "another name"]
    assert (tmp_path / "keep_me.png").read_bytes() == before


def test_the_file_itself_is_saved_as_asked(window, tmp_path):
    _other_photo(tmp_path)
    window.ask_save_path = lambda *args: str(tmp_path / "keep_me.png")
    assert window.save_as()  # the dialog asked before replacing it
    assert window.errors == []
    assert not (tmp_path / "keep_me.png").is_symlink()
    assert os.readlink(tmp_path / "link.png") == "keep_me.png"


def test_a_file_there_not_to_be_replaced_is_refused_in_the_editors_words(window, tmp_path):
    before = _other_photo(tmp_path)
    assert not window.save_as(tmp_path / "keep_me.png", overwrite=False)
    assert window.errors == [f"{tmp_path / 'keep_me.png'}: already exists; choose another name"]
    assert window.asked == []
    assert (tmp_path / "keep_me.png").read_bytes() == before
    assert not any("allow overwriting" in error for error in window.errors)


def test_exports_onto_a_link_are_refused(window, tmp_path):
    before = _other_photo(tmp_path)
    assert not window.export_mask(tmp_path / "link.png", overwrite=True)
    window.ask_save_path = lambda *args: str(tmp_path / "link.png")
    assert not window.export_mask()
    assert window.errors == ["link.png is a link to keep_me.png: choose the file itself or "
                             "another name"] * 2
    assert window.asked == []
    assert (tmp_path / "keep_me.png").read_bytes() == before
    assert (tmp_path / "link.png").is_symlink()


def test_an_export_onto_a_file_not_to_be_replaced_says_so_in_the_editors_words(window,
                                                                                tmp_path):
    (tmp_path / "kept.png").write_bytes(b"kept")
    assert not window.export_mask(tmp_path / "kept.png")
    assert window.errors == [f"{tmp_path / 'kept.png'}: already exists; choose another name"]
    assert (tmp_path / "kept.png").read_bytes() == b"kept"
