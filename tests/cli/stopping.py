"""Stopping a command part-way in tests: one of its functions interrupts its n-th call."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any


def ctrl_c() -> None:
    """What Ctrl+C raises in the main thread."""
    raise KeyboardInterrupt


def stop_at_call(monkeypatch, owner: Any, name: str, number: int,
                 stop: Callable[[], None]) -> Callable[..., Any]:
    """Make ``owner.name`` call ``stop()`` first at its ``number``-th call (``stop`` raises,
    as :func:`ctrl_c` does, or sends a signal whose handler raises), then do its work.
    Returns the function it replaced, to put back for the run that finishes the rest."""
    original = getattr(owner, name)
    calls = 0

    def stopping(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == number:
            stop()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, stopping)
    return original


def full_disk_after(monkeypatch, written: int, code: int = errno.ENOSPC) -> Callable[[int], None]:
    """Make ``os.fsync`` fail with ``code`` (no room) after ``written`` files were flushed,
    as a disk that fills up during a run. Returns the real ``os.fsync``, to put back."""
    sync = os.fsync
    flushed = 0

    def full(fd: int) -> None:
        nonlocal flushed
        flushed += 1
        if flushed > written:  # this file's bytes do not fit
            raise OSError(code, os.strerror(code))
        sync(fd)

    monkeypatch.setattr(os, "fsync", full)
    return sync
