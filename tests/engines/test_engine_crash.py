"""Engine.run names an engine's bug once (EngineCrashed), passes user-facing failures on as
they are, and stays a well-behaved generator (close, Ctrl+C); a folder run lists the
crashed picture as failed with that message."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engines.base import (
    Cancelled,
    CancelToken,
    Engine,
    EngineCrashed,
    EngineError,
    InpaintRequest,
    InputError,
    RegionStage,
    exception_line,
)
from engines.batch import clear_folder
from engines.fileio import save_image


class Raising(Engine):
    """Yields a coarse stage, then raises :attr:`failure` (set per test)."""

    name, title = "qa-raising", "QA raising"
    failure: BaseException = ZeroDivisionError("division by zero")

    def inpaint_region(self, region, cancel):
        yield RegionStage("coarse", region.image.copy(), 0.5)
        raise self.failure


class Untitled(Raising):
    name, title = "qa-untitled", ""


class Closable(Engine):
    """Records whether its region generator was closed (``finally``) after a stage."""

    name, title = "qa-closable", "QA closable"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.closed = False

    def inpaint_region(self, region, cancel):
        try:
            yield RegionStage("coarse", region.image.copy(), 0.5)
            yield RegionStage("refined", region.image.copy(), 1.0, final=True)
        finally:
            self.closed = True


class Nested(Engine):
    """Runs :class:`Raising` inside its own region: its crash must not be named twice."""

    name, title = "qa-nested", "QA nested"

    def inpaint_region(self, region, cancel):
        request = InpaintRequest(region.image, region.mask)
        for stage in Raising().run(request, cancel):
            yield RegionStage(stage.name, stage.image, stage.progress, stage.final)


@pytest.fixture
def request_() -> InpaintRequest:
    image = np.full((32, 40, 3), 90, np.uint8)
    mask = np.zeros((32, 40), np.uint8)
    mask[10:20, 12:24] = 255
    return InpaintRequest(image, mask)


def _raised_by(engine: Engine, request: InpaintRequest, failure: BaseException,
               cancel: CancelToken | None = None) -> BaseException:
    engine.failure = failure
    with pytest.raises(BaseException) as raised:
        list(engine.run(request, cancel))
    return raised.value


def test_an_engines_bug_is_named_once_with_its_first_line_and_chained(request_):
    failure = ZeroDivisionError("plugin bug: division by zero in step 2\n  more detail")
    crash = _raised_by(Raising(), request_, failure)
    assert type(crash) is EngineCrashed and isinstance(crash, EngineError)
    assert str(crash) == "QA raising failed: ZeroDivisionError: plugin bug: division by zero " \
                         "in step 2"
    assert crash.__cause__ is failure


def test_an_engine_without_a_title_is_named_by_its_name(request_):
    crash = _raised_by(Untitled(), request_, KeyError("mask"))
    assert str(crash) == "qa-untitled failed: KeyError: 'mask'"


def test_an_opencv_error_is_named_as_such(request_):
    crash = _raised_by(Raising(), request_, cv2.error("bad argument"))
    assert str(crash) == "QA raising failed: cv2.error: bad argument"


def test_a_crash_inside_another_engine_is_not_named_twice(request_):
    with pytest.raises(EngineCrashed) as raised:
        list(Nested().run(request_))
    assert str(raised.value) == "QA raising failed: ZeroDivisionError: division by zero"


@pytest.mark.parametrize("failure", [
    EngineError("the weights file is damaged"),
    InputError("the sketch is empty"),
    Cancelled(),
    FileNotFoundError(2, "No such file or directory", "reference.png"),
    OSError(5, "Input/output error", "cache.bin"),  # a file error naming its file
    MemoryError(),  # lack of memory: neural engines, the CLI and batch say it their way
    RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB"),
    KeyboardInterrupt(),
])
def test_a_user_facing_failure_passes_unchanged(request_, failure):
    assert _raised_by(Raising(), request_, failure) is failure


def test_a_cancelled_run_raises_cancelled(request_):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        list(Raising().run(request_, token))


def test_closing_the_stages_ends_the_engines_run(request_):
    engine = Closable()
    stages = engine.run(request_)
    assert next(stages).name == "coarse"
    stages.close()  # as the editor does on cancel: no exception, the engine's finally ran
    assert engine.closed
    with pytest.raises(StopIteration):
        next(stages)


def test_generator_exit_thrown_in_is_not_taken_for_a_crash(request_):
    engine = Closable()
    stages = engine.run(request_)
    next(stages)
    with pytest.raises(GeneratorExit):
        stages.throw(GeneratorExit())
    assert engine.closed


def test_exception_line():
    assert exception_line(ValueError("first\nsecond")) == "ValueError: first"
    assert exception_line(ZeroDivisionError()) == "ZeroDivisionError"
    assert exception_line(RuntimeError("  \n")) == "RuntimeError"
    assert exception_line(cv2.error("out of memory")) == "cv2.error: out of memory"


def test_a_folder_run_lists_a_crashed_picture_as_failed_with_one_message(tmp_path, request_):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.png", "b.png"):
        save_image(images / name, np.asarray(request_.image))
    engine = Raising()
    engine.failure = AttributeError("'NoneType' object has no attribute 'shape'")
    result = clear_folder(images, tmp_path / "out", np.asarray(request_.mask), engine)
    assert [(path.name, reason) for path, reason in result.failed] == [
        (name, "QA raising failed: AttributeError: 'NoneType' object has no attribute "
               "'shape'") for name in ("a.png", "b.png")]
    assert not result.written and not any((tmp_path / "out").iterdir())
