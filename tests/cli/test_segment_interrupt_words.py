"""`segment FOLDER` with the face parser names the pictures without a face the same way, one
a line under a count, whether the run finished, was interrupted (Ctrl+C) or stopped for lack
of room; other notes keep their general form."""

from __future__ import annotations

import errno
import os

import engines.batch
from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from tests.cli.stopping import ctrl_c, stop_at_call
from tests.cli.test_segment_folder_notes import (  # noqa: F401 (fixtures)
    _folder,
    _free_networks,
    face_parser,
    segment,
)

_FACE = ("--parser", "face", "--detector", "mobilenet", "--device", "cpu")
_LISTED = ["note: 2 pictures had no face: their maps are all background", "  p0.png",
           "  p2.png"]


def test_a_finished_run_lists_the_pictures_without_a_face(
        tmp_path, face_parser, capsys):  # noqa: F811 - the fixture
    images, out = _folder(tmp_path, 3, bright=(1,))
    assert segment(images, "-o", out, *_FACE) == EXIT_OK
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"3 label maps written to {out}, 0 failed", *_LISTED]


def test_an_interrupted_run_lists_them_the_same_way(
        tmp_path, face_parser, monkeypatch, capsys):  # noqa: F811 - the fixture
    images, out = _folder(tmp_path, 4, bright=(1,))
    stop_at_call(monkeypatch, engines.batch, "save_label_png", 4, ctrl_c)
    assert segment(images, "-o", out, *_FACE) == EXIT_INTERRUPTED
    printed = capsys.readouterr()
    assert printed.out.splitlines() == _LISTED
    assert "no face was found" not in printed.out + printed.err
    message = printed.err.replace("\r", "\n").strip().splitlines()[-1]
    assert message.startswith("interrupted: 3 label maps written and kept, 1 picture not done")


def test_one_picture_without_a_face_in_an_interrupted_run_is_said_in_the_singular(
        tmp_path, face_parser, monkeypatch, capsys):  # noqa: F811 - the fixture
    images, out = _folder(tmp_path, 3, bright=(1,))
    stop_at_call(monkeypatch, engines.batch, "save_label_png", 3, ctrl_c)
    assert segment(images, "-o", out, *_FACE) == EXIT_INTERRUPTED
    assert capsys.readouterr().out.splitlines() == [
        "note: 1 picture had no face: its map is all background", "  p0.png"]


def test_a_run_stopped_for_lack_of_room_lists_them_the_same_way(
        tmp_path, face_parser, monkeypatch, capsys):  # noqa: F811 - the fixture
    images, out = _folder(tmp_path, 4, bright=(1,))

    def disk_full() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / "p3.png"))

    stop_at_call(monkeypatch, engines.batch, "save_label_png", 4, disk_full)
    assert segment(images, "-o", out, *_FACE) == EXIT_FAILED
    printed = capsys.readouterr()
    assert printed.out.splitlines() == _LISTED
    assert "3 label maps written and kept, 1 picture not done" in printed.err
