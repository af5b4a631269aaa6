"""``batch --debug`` prints each failed picture's traceback, with its notes (where an
out-of-memory happened: :func:`engines.neural.common.release_frames`), on stderr after the
list of failures (QA audit 40, F7); stdout is the same as without ``--debug``, which prints
no traceback."""

from __future__ import annotations

import gc
import weakref

import cv2
import numpy as np
import pytest

import cli
from cli import _errors
from engines import registry
from engines.batch import run_pictures
from tests.cli.test_debug_notes import NOTE_START, FailingInside, NoAddNote


@pytest.fixture
def failing_lama(monkeypatch):
    """LaMa whose network fails to allocate, on every picture."""
    create = registry.create
    monkeypatch.setattr(registry, "create",
                        lambda name, **options: create(name, network=FailingInside(), **options))
    monkeypatch.setattr(registry.engine_class("lama"), "require_ready", lambda self: None)


def _pictures(tmp_path) -> list[str]:
    """``batch`` arguments filling a.png and b.png with one mask, by LaMa."""
    pictures = tmp_path / "pics"
    pictures.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(pictures / name), np.full((48, 64, 3), 128, np.uint8))
    mask = np.zeros((48, 64), np.uint8)
    mask[16:32, 20:40] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    return ["batch", "--images", str(pictures), "--mask", str(tmp_path / "mask.png"),
            "-o", str(tmp_path / "out"), "--engine", "lama"]


@pytest.mark.parametrize("notes_printed", [True, False], ids=["native", "as-on-3.10"])
def test_batch_debug_prints_each_failed_pictures_traceback_and_note(
        tmp_path, monkeypatch, capsys, failing_lama, notes_printed):
    monkeypatch.setattr(_errors, "NOTES_PRINTED", notes_printed)
    argv = _pictures(tmp_path)
    assert cli.main(argv) == cli.EXIT_FAILED
    plain = capsys.readouterr()
    assert "Traceback" not in plain.err and NOTE_START not in plain.err
    assert "2 failed:\n  a.png: " in plain.out and "\n  b.png: " in plain.out

    assert cli.main([*argv, "--debug"]) == cli.EXIT_FAILED
    debug = capsys.readouterr()
    assert debug.out == plain.out  # the one-line list, unchanged
    err = debug.err
    assert err.count(NOTE_START) == 2 and err.count("in fail") == 2
    assert err.count("\nThe above exception was the direct cause") == 2
    assert err.count("engines.base.EngineError: ") == 2
    a, b = err.index("\na.png failed:\n"), err.index("\nb.png failed:\n")
    assert a < err.index(NOTE_START) < b < err.rindex(NOTE_START)  # in order, each its own
    assert "NoAddNote" in err[a:b] and "in run_pictures" in err[a:b]


def test_a_failed_pictures_exception_is_kept_without_its_frames_locals(tmp_path):
    """:attr:`engines.batch.BatchResult.errors` holds each failed picture's exception, in the
    order of :attr:`~engines.batch.BatchResult.failed`, its traceback still saying where,
    but what its finished frames held (the picture) let go."""

    class Big:
        pass

    held = []

    def work(source, target, report):
        picture = Big()
        held.append(weakref.ref(picture))
        raise NoAddNote(f"{source.name} too big")

    sources = [tmp_path / "a.png", tmp_path / "b.png"]
    result = run_pictures(sources, [tmp_path / "out" / s.name for s in sources], work)
    assert [path for path, _ in result.failed] == sources
    assert [str(error) for error in result.errors] == ["a.png too big", "b.png too big"]
    gc.collect()
    assert [ref() for ref in held] == [None, None]
    text = _errors.debug_traceback(result.errors[0])
    assert "in work" in text and "a.png too big" in text
