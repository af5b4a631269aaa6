"""Exit codes: `--debug` adds the traceback and keeps the code; a result that does not fit on
the disk gives the same code in every command (1: the work ran, its result was not kept)."""

from __future__ import annotations

import errno
import os

import pytest

import cli
from cli import EXIT_FAILED, EXIT_USAGE
from tests.cli.pictures import box_mask, photo_and_mask, watermarked_folder


@pytest.fixture
def picture(tmp_path):
    """(picture file, mask file) of 48x64, a square hole."""
    return photo_and_mask(tmp_path)


@pytest.mark.parametrize("where", ["first", "last"])
def test_debug_keeps_the_exit_code_of_an_expected_error(picture, tmp_path, capsys, where):
    arguments = ["inpaint", str(picture[0]), str(picture[1]), "-o", str(tmp_path / "x.png"),
                 "--engine", "nope"]
    assert cli.main(arguments) == EXIT_USAGE
    plain = capsys.readouterr().err
    debug = ["--debug", *arguments] if where == "first" else [*arguments, "--debug"]
    assert cli.main(debug) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "Traceback" in err and "Traceback" not in plain
    assert err.strip().splitlines()[-1] == plain.strip().splitlines()[-1]  # the same line


def _full_disk(monkeypatch) -> None:
    """Every result's bytes fail to reach the disk, as on a full one."""
    def full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)


def test_a_full_disk_exits_alike_in_inpaint_and_batch(tmp_path, capsys, monkeypatch):
    images = watermarked_folder(tmp_path / "in", count=2)
    mask = box_mask(tmp_path / "hole.png")
    _full_disk(monkeypatch)
    single = tmp_path / "one.png"
    assert cli.main(["inpaint", str(images / "photo0.png"), str(mask), "-o", str(single),
                     "--engine", "telea"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert os.strerror(errno.ENOSPC) in err and "looks like a bug" not in err
    assert not single.exists()
    assert cli.main(["batch", "--images", str(images), "--mask", str(mask), "-o",
                     str(tmp_path / "out"), "--engine", "telea"]) == EXIT_FAILED
