"""``Parser.run`` runs a parser as ``Engine.run`` runs an engine: a bug in it (any exception
the user is not told about as it is) comes as :class:`~engines.base.EngineCrashed` naming
the parser, from it; user-facing failures, a lack of memory and Ctrl+C pass as they are."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from engines.base import Cancelled, EngineCrashed, EngineError, InputError
from engines.fileio import ImageFileError
from engines.segmentation.base import create_parser

IMAGE = np.full((24, 32, 3), 90, np.uint8)


def _raising(monkeypatch, exc: BaseException):
    parser = create_parser("regions")

    def parse(image, cancel=None, progress=None):
        raise exc

    monkeypatch.setattr(parser, "parse", parse)
    return parser


def test_a_bug_is_raised_as_a_crash_naming_the_parser(monkeypatch):
    bug = ZeroDivisionError("division by zero")
    parser = _raising(monkeypatch, bug)
    with pytest.raises(EngineCrashed) as raised:
        parser.run(IMAGE)
    assert str(raised.value) == f"{parser.title} failed: ZeroDivisionError: division by zero"
    assert raised.value.__cause__ is bug


@pytest.mark.parametrize("exc", [
    InputError("the picture is empty"), Cancelled(), EngineError("not ready"),
    ImageFileError("damaged"), MemoryError(),
    RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB"),
    OSError(errno.ENOENT, "No such file or directory", "/tmp/weights.pth"),
    KeyboardInterrupt(),
], ids=lambda exc: type(exc).__name__)
def test_what_the_user_is_told_as_it_is_passes_as_it_is(monkeypatch, exc):
    parser = _raising(monkeypatch, exc)
    with pytest.raises(type(exc)) as raised:
        parser.run(IMAGE)
    assert raised.value is exc


def test_a_map_is_returned_as_parse_returns_it():
    parser = create_parser("regions", working_size=64)
    labels = parser.run(IMAGE)
    assert labels.shape == IMAGE.shape[:2] and labels.dtype == np.uint8
