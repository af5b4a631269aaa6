"""Folder runs (`batch`, `segment FOLDER`, `watermark`) end with the hint a single command
gives after a bug, "(this looks like a bug; run again with --debug for details)", once, on
stderr, when a picture failed from one (an engine's crash, an exception not user-facing);
not after ordinary failures (a damaged picture), nor with ``--debug`` (which shows the
tracebacks instead)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import cli
import engines.batch
from cli import EXIT_FAILED, EXIT_INTERRUPTED
from cli._errors import BUG_HINT, is_bug
from engines import registry
from engines.base import EngineCrashed, InputError
from engines.fileio import ImageFileError, encode_image, write_atomic
from engines.segmentation.base import create_parser
from tests.cli.stopping import ctrl_c, full_disk_after, stop_at_call
from tests.engines.test_watermark import backgrounds, stamp, watermark_alpha

SIZE = (120, 160)


def _crash_on(monkeypatch, name: str) -> None:
    """Telea raises ZeroDivisionError (its run says it as an :class:`EngineCrashed`) on the
    picture ``name`` of :func:`batch_args` (told by its grey, 100 + 40 x its index)."""
    telea = registry.engine_class("telea")
    original = telea.inpaint_region

    def inpaint_region(self, region, cancel):
        if round(float(region.image[~region.hole].mean())) == 100 + 40 * int(name[1]):
            raise ZeroDivisionError("division by zero")
        yield from original(self, region, cancel)

    monkeypatch.setattr(telea, "inpaint_region", inpaint_region)


@pytest.fixture
def batch_args(tmp_path) -> list[str]:
    """``batch`` over p0.png, p1.png (48x64, flat grey), p2.jpg (damaged), filled by Telea
    around one mask."""
    pictures = tmp_path / "pics"
    pictures.mkdir()
    for index in range(2):
        cv2.imwrite(str(pictures / f"p{index}.png"),
                    np.full((48, 64, 3), 100 + 40 * index, np.uint8))
    (pictures / "p2.jpg").write_bytes(b"not a jpeg")
    mask = np.zeros((48, 64), np.uint8)
    mask[16:32, 20:40] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    return ["batch", "--images", str(pictures), "--mask", str(tmp_path / "mask.png"),
            "-o", str(tmp_path / "out"), "--engine", "telea"]


def test_is_bug_tells_a_crash_from_an_ordinary_failure():
    assert is_bug(EngineCrashed("Telea failed: ZeroDivisionError: division by zero"))
    assert is_bug(ZeroDivisionError("division by zero"))
    assert not is_bug(InputError("the mask is empty"))
    assert not is_bug(ImageFileError("not an image file"))
    assert not is_bug(MemoryError())


def test_batch_ends_with_the_bug_hint_once(batch_args, monkeypatch, capsys):
    _crash_on(monkeypatch, "p1")
    assert cli.main(batch_args) == EXIT_FAILED
    printed = capsys.readouterr()
    assert "2 failed:" in printed.out and "p1.png: OpenCV Telea failed: ZeroDivisionError" \
        in printed.out
    assert printed.err.count(BUG_HINT) == 1 and printed.err.endswith(f"{BUG_HINT}\n")


def test_batch_with_debug_shows_the_traceback_not_the_hint(batch_args, monkeypatch, capsys):
    _crash_on(monkeypatch, "p1")
    assert cli.main([*batch_args, "--debug"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "ZeroDivisionError" in err and "Traceback" in err
    assert BUG_HINT not in err and "looks like a bug" not in err


def test_ordinary_failures_give_no_hint(batch_args, capsys):
    assert cli.main(batch_args) == EXIT_FAILED  # p2.jpg is damaged: no bug
    printed = capsys.readouterr()
    assert "1 failed:" in printed.out
    assert "looks like a bug" not in printed.err


def test_an_interrupted_batch_gives_the_hint_before_its_last_line(batch_args, monkeypatch,
                                                                  capsys):
    _crash_on(monkeypatch, "p0")
    stop_at_call(monkeypatch, engines.batch, "_already_there", 2, ctrl_c)  # at p1
    assert cli.main(batch_args) == EXIT_INTERRUPTED
    lines = capsys.readouterr().err.splitlines()
    assert lines.count(BUG_HINT) == 1 and lines[-1].startswith("interrupted: ")
    assert lines[-2] == BUG_HINT


def test_a_stopped_batch_gives_the_hint_after_its_error(batch_args, monkeypatch, capsys):
    """A run stopped for lack of room (a full disk at the first result, p1's) after a
    picture (p0) failed from a bug."""
    _crash_on(monkeypatch, "p0")
    full_disk_after(monkeypatch, 0)
    assert cli.main(batch_args) == EXIT_FAILED
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == BUG_HINT and lines[-2].startswith("error: ")
    assert lines.count(BUG_HINT) == 1


def test_segment_folder_ends_with_the_bug_hint(tmp_path, monkeypatch, capsys):
    pictures = tmp_path / "in"
    pictures.mkdir()
    for index in range(3):
        cv2.imwrite(str(pictures / f"p{index}.png"),
                    np.full((48, 64 + index, 3), 60 * index, np.uint8))
    regions = type(create_parser("regions"))
    original = regions.parse

    def parse(self, image, cancel=None, progress=None):
        if image.shape[1] == 65:
            raise RuntimeError("index out of range in the region merge")  # no lack of memory
        return original(self, image, cancel, progress)

    monkeypatch.setattr(regions, "parse", parse)
    argv = ["segment", str(pictures), "-o", str(tmp_path / "out"), "--parser", "regions"]
    assert cli.main(argv) == EXIT_FAILED
    printed = capsys.readouterr()
    assert (f"p1.png: {regions.title} failed: RuntimeError: index out of range"
            in printed.out)  # named after the parser, as an engine's crash is
    assert printed.err.count(BUG_HINT) == 1 and printed.err.endswith(f"{BUG_HINT}\n")
    assert cli.main([*argv, "--overwrite", "--debug"]) == EXIT_FAILED
    assert "looks like a bug" not in capsys.readouterr().err


def test_watermark_ends_with_the_bug_hint(tmp_path, monkeypatch, capsys):
    alpha = watermark_alpha(SIZE)
    source = tmp_path / "in"
    source.mkdir()
    for index, image in enumerate(stamp(b, alpha) for b in backgrounds(8, seed=2, size=SIZE)):
        write_atomic(source / f"photo{index:02d}.png", encode_image(image, ".png"))
    telea = registry.engine_class("telea")
    calls = []
    original = telea.inpaint_region

    def inpaint_region(self, region, cancel):
        calls.append(1)
        if len(calls) == 3:
            raise ZeroDivisionError("division by zero")
        yield from original(self, region, cancel)

    monkeypatch.setattr(telea, "inpaint_region", inpaint_region)
    argv = ["watermark", "--images", str(source), "-o", str(tmp_path / "out"),
            "--engine", "telea"]
    assert cli.main(argv) == EXIT_FAILED
    printed = capsys.readouterr()
    assert "1 failed:" in printed.out and "Telea failed: ZeroDivisionError" in printed.out
    assert printed.err.count(BUG_HINT) == 1 and printed.err.endswith(f"{BUG_HINT}\n")
