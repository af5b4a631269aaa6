"""Ctrl+C that lands in a callback called from C (numba's first compilation runs llvmlite's
object-cache hook so) is not lost: ctypes drops the KeyboardInterrupt Python raises there,
and the run would go on to the end and exit 0 (QA audit 26, finding 1). The CLI keeps it and
stops the run at its next progress report, as Ctrl+C does anywhere else."""

from __future__ import annotations

import ctypes
import signal
import sys

import pytest

import engines.classical.opencv as opencv
from cli import EXIT_INTERRUPTED
from cli._common import interrupts_kept, raise_kept_interrupt
from tests.cli.test_cli import _folder, run_cli

_CALLBACK = ctypes.CFUNCTYPE(None)


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Python's own SIGINT handler (KeyboardInterrupt), whatever an earlier test or the
    program's exit (``main._ignore_interrupts``) left in place."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ctrl_c_inside_a_c_callback() -> None:
    """Deliver SIGINT while Python code runs inside a ctypes callback, as a Ctrl+C during
    llvmlite's hook is: its handler raises KeyboardInterrupt there, which ctypes drops."""
    callback = _CALLBACK(lambda: signal.raise_signal(signal.SIGINT))
    ctypes.cast(callback, ctypes.CFUNCTYPE(None))()


@pytest.fixture
def unraisable(monkeypatch) -> list[BaseException]:
    """What reaches ``sys.unraisablehook`` (Python's hook prints it: ctypes' "Exception
    ignored on calling ctypes callback function" and its traceback)."""
    reached: list[BaseException] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reached.append(u.exc_value))
    return reached


def test_without_the_cli_the_interrupt_is_lost(unraisable):
    _ctrl_c_inside_a_c_callback()  # no exception reaches here...
    assert [type(e) for e in unraisable] == [KeyboardInterrupt]  # ...only the hook


def test_a_dropped_interrupt_is_kept_unprinted_and_raised_once(unraisable):
    before = sys.unraisablehook
    with interrupts_kept():
        _ctrl_c_inside_a_c_callback()
        assert unraisable == []
        with pytest.raises(KeyboardInterrupt):
            raise_kept_interrupt()
        raise_kept_interrupt()  # raised once only
    assert sys.unraisablehook is before  # the hook before is back


def test_the_kept_interrupt_is_forgotten_after_the_run(unraisable):
    with interrupts_kept():
        _ctrl_c_inside_a_c_callback()
    raise_kept_interrupt()  # nothing kept from a finished run


def test_other_unraisable_errors_still_reach_the_hook(unraisable):
    class Broken:
        def __del__(self):
            raise ValueError("from a finaliser")

    with interrupts_kept():
        Broken()
    assert [str(e) for e in unraisable] == ["from a finaliser"]


def test_batch_stops_at_the_next_picture_and_says_what_it_kept(tmp_path, monkeypatch,
                                                               capsys):
    images, masks = _folder(tmp_path, count=4)
    fill = opencv.TeleaEngine.inpaint_region
    calls = []

    def fill_and_interrupt(self, region, cancel):
        calls.append(1)
        if len(calls) == 1:  # Ctrl+C while the first picture's fill is in a C callback
            _ctrl_c_inside_a_c_callback()
        return fill(self, region, cancel)

    monkeypatch.setattr(opencv.TeleaEngine, "inpaint_region", fill_and_interrupt)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == EXIT_INTERRUPTED
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "KeyboardInterrupt" not in captured.err
    assert "interrupted" in captured.err
    written = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert len(written) < 4 and len(calls) < 4  # stopped, not run to the end


def test_a_picture_failing_after_a_dropped_interrupt_is_not_done_rather_than_failed(
        tmp_path, monkeypatch, capsys):
    """numba's compilation interrupted in llvmlite's hook leaves the kernel uncompiled: the
    picture's fill then fails ("no compiled object yet"). It was the Ctrl+C, not the
    picture: the run stops with it left to do (QA audit 27, finding 5)."""
    images, masks = _folder(tmp_path, count=3)

    def interrupted_compile(self, region, cancel):
        _ctrl_c_inside_a_c_callback()
        raise RuntimeError("no compiled object yet for <Library '_improve_one'>")

    monkeypatch.setattr(opencv.TeleaEngine, "inpaint_region", interrupted_compile)
    out = tmp_path / "out"
    assert run_cli("batch", "--images", images, "--masks", masks, "-o", out,
                   "--engine", "telea") == EXIT_INTERRUPTED
    captured = capsys.readouterr()
    assert "failed" not in captured.out + captured.err
    assert "no compiled object" not in captured.out + captured.err
    assert "interrupted: 0 results written and kept, 3 pictures not done" in captured.err
