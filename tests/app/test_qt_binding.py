"""Guards against Qt binding bugs that would crash the editor after a while."""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    payload = Signal(object)
    number = Signal(int)


def test_emitting_signals_does_not_leak_or_steal_references(qtbot):
    """PySide6 6.12.0 lost one reference to ``True`` per ``emit()``; on Python 3.11 the
    editor (which emits on every mouse move) then aborts with ``bool_dealloc``."""
    emitter = _Emitter()
    received = []
    emitter.payload.connect(received.append)
    emitter.number.connect(received.append)
    watched = (True, False, None)
    emits = 2000
    gc.collect()
    before = [sys.getrefcount(o) for o in watched]
    for i in range(emits // 2):
        emitter.payload.emit(None if i % 2 else i)
        emitter.number.emit(i)
    received.clear()
    after = [sys.getrefcount(o) for o in watched]
    # a binding bug moves a count by about one per emit; threads left by earlier tests
    # (ending, collected) may move these shared singletons by a few meanwhile
    drift = [abs(a - b) for a, b in zip(after, before)]
    assert max(drift) < emits // 20, drift
