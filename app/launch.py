"""Starting the editor: the Qt application, the main window and what it opens first."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.platform_check import drop_opencv_qt_paths, window_problem
from app.window import SAMPLE_IMAGE, MainWindow
from engines import registry


def _warm_up() -> None:
    from engines.classical.patchmatch.engine import warm_up
    from engines.segmentation.regions import warm_up as warm_up_regions

    warm_up()
    warm_up_regions()
    # Start-up leaves hundreds of thousands of long-lived objects (torch, numba, Qt); a full
    # garbage collection walking them holds the GIL for 100-150 ms, a visible freeze in the
    # middle of a fill. Collect once now, then move them out of the collector's way.
    gc.collect()
    gc.freeze()


def warm_up_in_background() -> threading.Thread:
    """Load or compile the numba kernels (PatchMatch's, the regions parser's) off the GUI
    thread and settle the garbage collector, so the first fill or label map neither waits
    nor stutters."""
    thread = threading.Thread(target=_warm_up, name="warm-up", daemon=True)
    thread.start()
    return thread


def not_opened_note(opened: Path | None, others: Sequence[str], names: bool = False) -> str:
    """What the editor says of the pictures ``others`` named after the one it ``opened``
    (None: none could be), which it does not open: one picture is edited at a time. With
    ``names``, the first three are named."""
    count = len(others)
    named = ""
    if names:
        named = f" ({', '.join(others[:3])}{', …' if count > 3 else ''})"
    note = (f"{count} other file{'s' if count > 1 else ''} named on the command line not "
            f"opened{named}: one picture is edited at a time")
    return f"Opened {opened.name}; {note}" if opened is not None else note[0].upper() + note[1:]


def _named_once(paths: list[Path]) -> list[Path]:
    """``paths`` without the repeats of a file (the same resolved path), in order."""
    seen: dict[Path, Path] = {}
    for path in paths:
        seen.setdefault(path.resolve(), path)
    return list(seen.values())


def open_window(image: str | None = None, mask: str | None = None,
                engine: str | None = None, others: Sequence[str] = ()) -> MainWindow:
    """The editor's window, shown, with the last session's preferences, on ``image`` (the
    bundled sample when None) and its ``mask`` file, filling with ``engine`` when given.
    What went wrong is said in the window and on stderr: a picture that cannot be opened
    (the window stays empty), a mask that cannot be taken (the picture opens without it), an
    unknown engine (the last one used stays), preferences not understood, and ``others``,
    more pictures named after ``image``: when ``image`` cannot be opened, the next that can
    is (without ``mask``, which goes with ``image``), and the window says why those before
    it did not; the rest are said not opened (:func:`not_opened_note`), those that do not
    exist said not found. A file named twice counts once."""
    window = MainWindow()
    window.restore_preferences()
    notes = [window.preferences_note]
    if engine and not window.engine_panel.select_engine(engine):
        title = registry.engine_class(window.controller.settings.engine).title
        notes.append(f"Unknown engine {engine!r}; filling with {title}")
        print(f"warning: unknown engine {engine!r}; using {window.controller.settings.engine}",
              file=sys.stderr)
    window.show()
    warm_up_in_background()
    named = _named_once([Path(image) if image else SAMPLE_IMAGE, *map(Path, others)])
    opened: Path | None = None
    failed: list[str] = []  # why each picture tried before the one opened did not open
    for tried, target in enumerate(named):
        window.last_error = ""
        done = window.open_path(target, mask if tried == 0 else None)
        if window.last_error:
            print(f"{'warning' if done else 'error'}: {window.last_error}", file=sys.stderr)
        if done:
            opened = target
            if failed:  # said in the window too: one started from a file manager has no stderr
                notes.append(f"Could not open {'; '.join(failed)}")
            if tried and mask:
                notes.append(f"--mask {mask} not used: it goes with {named[0].name}, which "
                             "could not be opened")
                print(f"warning: {notes[-1]}", file=sys.stderr)
            break
        failed.append(window.last_error or str(target))
    after = named[named.index(opened) + 1:] if opened else []
    rest = [str(path) for path in after if path.exists()]
    missing = [path.name for path in after if not path.exists()]
    if rest:
        notes.append(not_opened_note(opened, rest))
        print(f"warning: {not_opened_note(opened, rest, names=True)}", file=sys.stderr)
    if missing:
        notes.append(f"Not found: {', '.join(missing)}")
        print(f"warning: {notes[-1]}", file=sys.stderr)
    # opening replaced the status bar's message: what start-up found is said after its own
    note = ". ".join(note for note in notes if note)
    if note:
        window.say_also(note, 20000)
    return window


def launch(image: str | None = None, mask: str | None = None, engine: str | None = None,
           others: Sequence[str] = ()) -> int:
    """Open the editor on ``image`` (the bundled sample when None; ``others``, more pictures
    named, are said not opened); returns the exit code, the application's (0 when the
    window is closed), or 2, said on stderr, when the system lacks what Qt needs to open a
    window (:func:`app.platform_check.window_problem`; Qt would abort the process)."""
    app = QApplication.instance()
    if app is None:
        problem = window_problem()
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        drop_opencv_qt_paths()
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Inpaint Studio")
    app.setOrganizationName("inpaint-studio")
    window = open_window(image, mask, engine, others)
    code = app.exec()  # the window, referenced here (it has no parent), lives until it ends
    del window
    return code
