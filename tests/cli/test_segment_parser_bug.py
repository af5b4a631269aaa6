"""A parser's bug (an exception no parser should raise, here a ZeroDivisionError, which no
folder run takes for a failure of its own) on one picture of ``segment FOLDER`` is that
picture's failure, named after the parser: the other pictures are labelled, the summary is
printed, the bug hint ends the run (the traceback with ``--debug``), exit 1. A single
``segment IMAGE`` says the same line and the hint."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import cli
from cli import EXIT_FAILED
from cli._errors import BUG_HINT
from engines.segmentation.base import create_parser

REGIONS = type(create_parser("regions"))


@pytest.fixture
def pictures(tmp_path, monkeypatch):
    """p0.png, p1.png, p2.png (48 px high, 64, 65 and 66 wide); the regions parser raises
    ZeroDivisionError on p1's width."""
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / f"p{index}.png"),
                    np.full((48, 64 + index, 3), 60 * index, np.uint8))
    original = REGIONS.parse

    def parse(self, image, cancel=None, progress=None):
        if image.shape[1] == 65:
            raise ZeroDivisionError("float division by zero")
        return original(self, image, cancel, progress)

    monkeypatch.setattr(REGIONS, "parse", parse)
    return folder


def test_segment_folder_lists_the_picture_and_goes_on(pictures, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["segment", str(pictures), "-o", str(out), "--parser", "regions"]
    assert cli.main(argv) == EXIT_FAILED
    printed = capsys.readouterr()
    title = REGIONS.title
    assert f"2 label maps written to {out}, 1 failed" in printed.out
    assert (f"  p1.png: {title} failed: ZeroDivisionError: float division by zero"
            in printed.out.splitlines())
    assert sorted(path.name for path in out.iterdir()) == ["p0.png", "p2.png"]
    assert printed.err.count(BUG_HINT) == 1 and printed.err.endswith(f"{BUG_HINT}\n")
    assert "error:" not in printed.err


def test_segment_folder_with_debug_shows_the_traceback(pictures, tmp_path, capsys):
    argv = ["segment", str(pictures), "-o", str(tmp_path / "out"), "--parser", "regions",
            "--debug"]
    assert cli.main(argv) == EXIT_FAILED
    printed = capsys.readouterr()
    assert "2 label maps written" in printed.out
    assert "p1.png failed:" in printed.err and "Traceback" in printed.err
    assert "ZeroDivisionError: float division by zero" in printed.err
    assert "looks like a bug" not in printed.err


def test_segment_one_picture_names_the_parser_and_gives_the_hint(pictures, tmp_path,
                                                                   capsys):
    output = tmp_path / "p1_labels.png"
    argv = ["segment", str(pictures / "p1.png"), "-o", str(output), "--parser", "regions"]
    assert cli.main(argv) == EXIT_FAILED
    lines = capsys.readouterr().err.splitlines()
    assert lines[-2:] == [
        f"error: {REGIONS.title} failed: ZeroDivisionError: float division by zero", BUG_HINT]
    assert not output.exists()
