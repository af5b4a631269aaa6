"""``--debug`` shows where an out-of-memory happened on Python 3.10 too (QA39 F7):
:func:`engines.neural.common.release_frames` drops the failure's traceback (to free what its
frames hold) and keeps its text in ``__notes__``, by ``add_note`` (3.11+) or by hand; the
CLI's ``--debug`` (:func:`cli._errors.debug_traceback`) prints the notes where Python's
:mod:`traceback` would not (before 3.11). Python 3.10 is simulated on a newer one: an
exception without ``add_note``, and :data:`cli._errors.NOTES_PRINTED` set False."""

from __future__ import annotations

import sys
import traceback

import cv2
import numpy as np
import pytest
import torch

import cli
from cli import _errors
from engines import registry
from engines.base import EngineError
from engines.neural import common

NOTE_START = "Where the allocation failed (its frames were let go, to free the memory they held)"


class NoAddNote(MemoryError):
    """A MemoryError as Python 3.10 makes it: no ``add_note``."""

    @property
    def add_note(self):
        raise AttributeError("add_note")


def allocate(failure: BaseException) -> None:
    raise failure


def failed(failure: BaseException) -> BaseException:
    """``failure`` raised in :func:`allocate` and caught, its traceback still on it."""
    try:
        allocate(failure)
    except BaseException as exc:
        return exc
    raise AssertionError("not raised")


def test_without_add_note_the_frames_are_kept_as_text_in_notes():
    failure = failed(NoAddNote())
    assert not hasattr(failure, "add_note")
    common.release_frames(failure)
    assert failure.__traceback__ is None
    assert len(failure.__notes__) == 1
    note = failure.__notes__[0]
    assert note.startswith(f"{NOTE_START}:\n") and "in allocate" in note
    again = failed(failure)  # raised once more: the second note goes after the first
    common.release_frames(again)
    assert len(failure.__notes__) == 2 and failure.__notes__[0] == note


def test_with_add_note_the_note_is_the_same():
    failure = failed(MemoryError())
    common.release_frames(failure)
    assert failure.__traceback__ is None
    assert failure.__notes__[0].startswith(f"{NOTE_START}:\n")
    assert "in allocate" in failure.__notes__[0]


def error_from(failure: BaseException) -> EngineError:
    """An EngineError raised from ``failure`` (whose frames were let go), caught."""
    try:
        raise EngineError("not enough memory") from failure
    except EngineError as exc:
        return exc


def test_the_debug_traceback_prints_the_notes_after_their_exception(monkeypatch):
    monkeypatch.setattr(_errors, "NOTES_PRINTED", False)  # as on Python 3.10
    failure = failed(NoAddNote("out of memory"))
    common.release_frames(failure)
    text = _errors.debug_traceback(error_from(failure))
    failure_line = f"{__name__}.NoAddNote: out of memory\n"
    assert text.count(NOTE_START) == 1
    assert text.index(failure_line) < text.index(NOTE_START) < text.index("direct cause") \
        < text.index("engines.base.EngineError: not enough memory")
    assert f"{failure_line}{failure.__notes__[0]}\n" in text
    assert text.startswith(failure_line)  # its own traceback was dropped: its note says where
    assert "in error_from" in text  # the EngineError's own frames


@pytest.mark.skipif(sys.version_info < (3, 11), reason="compares with 3.11's traceback")
def test_the_debug_traceback_prints_what_python_3_11_prints(monkeypatch):
    """Done by hand (as on 3.10), the text is the one :mod:`traceback` makes from 3.11 on,
    a context's separator included."""
    failure = failed(NoAddNote("out of memory"))
    common.release_frames(failure)
    try:
        try:
            raise error_from(failure)
        except EngineError:
            raise ValueError("while reporting it") from None
    except ValueError as exc:
        suppressed = exc
    try:
        try:
            raise error_from(failure)
        except EngineError:
            raise ValueError("while reporting it")  # noqa: B904 (the context is the point)
    except ValueError as exc:
        during = exc
    for exc in (error_from(failure), suppressed, during):
        expected = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        monkeypatch.setattr(_errors, "NOTES_PRINTED", True)
        assert _errors.debug_traceback(exc) == expected
        monkeypatch.setattr(_errors, "NOTES_PRINTED", False)
        assert _errors.debug_traceback(exc) == expected
    assert "During handling" in _errors.debug_traceback(during)
    assert NOTE_START not in _errors.debug_traceback(suppressed)


class FailingInside(torch.nn.Module):
    """LaMa stand-in whose layer fails to allocate, raising a MemoryError without
    ``add_note``."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Identity()
        self.layer.register_forward_hook(self.fail)

    @staticmethod
    def fail(*_args):
        raise NoAddNote()

    def forward(self, *inputs):
        return self.layer(torch.ones(16, 16))


def test_inpaint_debug_shows_where_the_allocation_failed_as_on_python_3_10(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_errors, "NOTES_PRINTED", False)
    create = registry.create
    monkeypatch.setattr(registry, "create",
                        lambda name, **options: create(name, network=FailingInside(), **options))
    monkeypatch.setattr(registry.engine_class("lama"), "require_ready", lambda self: None)
    image = np.full((48, 64, 3), 128, np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[16:32, 20:40] = 255
    cv2.imwrite(str(tmp_path / "image.png"), image)
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    argv = ["inpaint", str(tmp_path / "image.png"), str(tmp_path / "mask.png"), "-o",
            str(tmp_path / "out.png"), "--engine", "lama"]
    code = cli.main([*argv, "--debug"])
    debug = capsys.readouterr().err
    assert debug.count(NOTE_START) == 1 and "in fail" in debug
    assert "NoAddNote" in debug and "direct cause" in debug
    assert debug.index(NOTE_START) < debug.index("\nerror: ") and "not enough memory" in debug
    assert cli.main(argv) == code != cli.EXIT_OK  # --debug keeps the exit code
    assert NOTE_START not in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()
