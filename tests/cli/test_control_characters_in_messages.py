"""A file name holding a line break, a carriage return or a tab keeps every command-line
message on one line, whole: ``error:`` lines, notes and "wrote" lines show the character
as an escape (``new\\nline.png``), never cut the message at it nor break the line."""

from __future__ import annotations

import numpy as np
import pytest

import cli
from engines.base import EngineError, InputError, message_line, one_line
from engines.fileio import ImageFileError, save_image
from engines.registry import UnknownEngineError


def test_a_user_message_is_escaped_whole_and_a_library_one_cut_to_its_first_line():
    assert message_line(InputError("-o: the folder new\ndir does not exist")) == (
        "-o: the folder new\\ndir does not exist")
    assert message_line(EngineError("cannot read a\rb.png: gone")) == (
        "cannot read a\\rb.png: gone")
    assert message_line(ImageFileError("not an image file", "bad\nname.png")) == (
        "bad\\nname.png: not an image file")
    assert message_line(UnknownEngineError("no engine 'a\tb'")) == "no engine 'a\\tb'"
    # a library's message goes on with details after its first line
    assert message_line(RuntimeError("Error(s) in loading state_dict:\n\tMissing key(s)")) \
        == "Error(s) in loading state_dict:"
    assert message_line(InputError("")) == "InputError"


def test_escaping_twice_changes_nothing_more():
    once = one_line("a\nb\x1bc\x7f")
    assert once == "a\\nb\\x1bc\\x7f" and one_line(once) == once


@pytest.fixture
def pictures(tmp_path):
    """ok.png (a 16x16 gradient) and mask.png (a 4x4 hole in it) in ``tmp_path``."""
    image = np.dstack([np.tile(np.arange(16, dtype=np.uint8) * 16, (16, 1))] * 3)
    mask = np.zeros((16, 16), np.uint8)
    mask[6:10, 6:10] = 255
    return save_image(tmp_path / "ok.png", image), save_image(tmp_path / "mask.png", mask)


def test_an_output_folder_named_with_a_line_break_is_named_whole(pictures, tmp_path,
                                                                   capsys):
    image, mask = pictures
    output = tmp_path / "new\ndir" / "out.png"
    assert cli.main(["inpaint", str(image), str(mask), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: -o: the folder {tmp_path}/new\\ndir does not exist\n"


def test_a_damaged_picture_named_with_a_line_break_is_one_error_line(pictures, tmp_path,
                                                                      capsys):
    _image, mask = pictures
    bad = tmp_path / "bad\nname.png"
    bad.write_bytes(b"garbage")
    assert cli.main(["inpaint", str(bad), str(mask), "-o", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {tmp_path}/bad\\nname.png: ")


def test_the_wrote_line_escapes_a_tab_in_the_output_name(pictures, tmp_path, capsys):
    image, mask = pictures
    output = tmp_path / "o\tk.png"
    assert cli.main(["inpaint", str(image), str(mask), "-o", str(output), "--engine",
                     "telea"]) == 0
    assert output.is_file()
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {tmp_path}/o\\tk.png"


def test_a_folder_runs_skipped_files_note_escapes_their_names(pictures, tmp_path, capsys):
    image, mask = pictures
    folder = tmp_path / "pictures"
    folder.mkdir()
    image.rename(folder / "ok.png")
    (folder / "not\npic.txt").write_text("notes")
    (folder / "sub\ndir").mkdir()
    assert cli.main(["batch", "--images", str(folder), "--mask", str(mask), "-o",
                     str(tmp_path / "out"), "--engine", "telea"]) == 0
    assert (tmp_path / "out" / "ok.png").is_file()
    said = [line for line in capsys.readouterr().err.splitlines() if "skipped" in line]
    assert len(said) == 1 and "not\\npic.txt" in said[0] and "sub\\ndir" in said[0]
