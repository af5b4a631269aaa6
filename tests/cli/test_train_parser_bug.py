"""``train semantic`` computing label maps with a parser that has a bug on some pictures
(QA audit 44, F5): a picture the parser fails on from a bug (an exception no parser should
raise, named after the parser: :class:`~engines.base.EngineCrashed`) is left out with a
notice naming it with its folder, as an unreadable one is, and training goes on (``--debug``
adds the traceback after the notice). When no picture could be labelled the run stops with
an error naming the parser, said as a bug (exit 1, the bug hint). What the user is told as it
is (an InputError) still stops the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cli
from cli import EXIT_FAILED
from cli._errors import BUG_HINT
from engines import fileio
from engines.base import InputError
from engines.neural.semantic import read_checkpoint
from engines.segmentation import base as parsers
from engines.segmentation.labels import generated_palette

BUG = "QA dark parser failed: ZeroDivisionError: dark picture"


class DarkBug(parsers.Parser):
    """Two labels (top and bottom half); a bug (ZeroDivisionError) on a dark picture."""

    name, title = "qa-dark-bug", "QA dark parser"
    label_set = parsers.LabelSet("qa-halves", ("top", "bottom"), generated_palette(2))

    def parse(self, image, cancel=None, progress=None):
        if image.mean() < 50:
            raise ZeroDivisionError("dark picture")
        labels = np.zeros(image.shape[:2], np.uint8)
        labels[image.shape[0] // 2:] = 1
        return labels


class DarkRefused(DarkBug):
    """Tells the user a dark picture cannot be used (an InputError, no bug)."""

    name, title = "qa-dark-refused", "QA dark refusal"

    def parse(self, image, cancel=None, progress=None):
        if image.mean() < 50:
            raise InputError("this picture is too dark to label")
        return super().parse(image, cancel, progress)


@pytest.fixture(autouse=True)
def _parsers(monkeypatch):
    for cls in (DarkBug, DarkRefused):
        monkeypatch.setitem(parsers._PARSERS, cls.name, cls)


def _pictures(tmp_path: Path, greys: list[int]) -> Path:
    """tmp_path/images with a 40x36 picture p<i>.png of each grey in ``greys``."""
    folder = tmp_path / "images"
    folder.mkdir()
    for index, grey in enumerate(greys):
        picture = np.full((36, 40, 3), grey, np.uint8)
        picture[::4] = min(grey + 30, 255)  # some texture
        fileio.write_atomic(folder / f"p{index}.png", fileio.encode_image(picture, ".png"))
    return folder


def _args(images: Path, output: Path, parser: str = DarkBug.name, *more: str) -> list[str]:
    return ["train", "semantic", "--images", str(images), "--parser", parser,
            "--steps", "1", "--batch-size", "2", "--size", "32", "--channels", "4",
            "--device", "cpu", "--save-every", "0", "--no-install", "--no-perceptual",
            "-o", str(output), *more]


def test_a_picture_the_parser_fails_on_is_left_out_and_named(model_cache, tmp_path, capsys):
    images = _pictures(tmp_path, [200, 10, 150])  # p1 is dark
    output = tmp_path / "m.pt"
    assert cli.main(_args(images, output)) == 0
    err = capsys.readouterr().err
    assert f"left out images/p1.png: {BUG}" in err
    assert "error:" not in err and "Traceback" not in err
    assert err.endswith("(this looks like a bug; run again with --debug for details)\n")
    assert err.count("this looks like a bug") == 1
    assert read_checkpoint(output)["meta"]["step"] == 1
    maps = tmp_path / "m-labels-qa-dark-bug"
    assert sorted(path.name for path in maps.glob("*.png")) == ["p0.png", "p2.png"]


def test_with_debug_the_left_out_picture_s_traceback_follows_its_notice(model_cache, tmp_path,
                                                                       capsys):
    images = _pictures(tmp_path, [200, 10, 150])
    assert cli.main(_args(images, tmp_path / "m.pt", DarkBug.name, "--debug")) == 0
    err = capsys.readouterr().err
    notice = err.index(f"left out images/p1.png: {BUG}")
    assert err.index("Traceback", notice) > notice
    assert "ZeroDivisionError: dark picture" in err[notice + len(BUG):]
    assert f"EngineCrashed: {BUG}" in err
    assert "this looks like a bug" not in err


def test_a_parser_that_fails_on_every_picture_stops_the_run(model_cache, tmp_path, capsys):
    images = _pictures(tmp_path, [10, 20])
    output = tmp_path / "m.pt"
    assert cli.main(_args(images, output)) == EXIT_FAILED
    err = capsys.readouterr().err
    assert f"left out images/p0.png: {BUG}" in err and f"left out images/p1.png: {BUG}" in err
    assert (f"error: none of the 2 images in {images} could be labelled: QA dark parser failed "
            "on every one of them (the last time: ZeroDivisionError: dark picture)") in err
    assert err.rstrip("\n").endswith(BUG_HINT)
    assert not output.exists()


def test_unreadable_and_failed_pictures_are_both_counted(model_cache, tmp_path, capsys):
    images = _pictures(tmp_path, [10, 20])
    (images / "p2.png").write_bytes(b"not png")
    assert cli.main(_args(images, tmp_path / "m.pt")) == EXIT_FAILED
    err = capsys.readouterr().err
    assert (f"error: none of the 3 images in {images} could be labelled: 1 cannot be read and "
            "QA dark parser failed on the other 2 (the last time: ZeroDivisionError: dark "
            "picture)") in err


def test_the_one_picture_the_parser_fails_on(model_cache, tmp_path, capsys):
    images = _pictures(tmp_path, [10])
    assert cli.main(_args(images, tmp_path / "m.pt")) == EXIT_FAILED
    assert f"error: the one image in {images} could not be labelled: {BUG}\n" in \
        capsys.readouterr().err


def test_a_parser_s_input_error_still_stops_the_run(model_cache, tmp_path, capsys):
    images = _pictures(tmp_path, [200, 10, 150])
    output = tmp_path / "m.pt"
    assert cli.main(_args(images, output, DarkRefused.name)) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "error: this picture is too dark to label" in err and "left out" not in err
    assert not output.exists()
