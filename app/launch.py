"""Starting the editor: the Qt application, the main window and what it opens first."""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.window import SAMPLE_IMAGE, MainWindow


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


def launch(image: str | None = None, mask: str | None = None, engine: str | None = None) -> int:
    """Open the editor on ``image`` (the bundled sample when None); returns the exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Inpaint Studio")
    app.setOrganizationName("inpaint-studio")
    window = MainWindow()
    window.restore_preferences()
    if engine and not window.engine_panel.select_engine(engine):
        print(f"warning: unknown engine {engine!r}; using {window.controller.settings.engine}",
              file=sys.stderr)
    window.show()
    warm_up_in_background()
    target = Path(image) if image else SAMPLE_IMAGE
    if not window.open_path(target, mask):
        print(f"error: {window.last_error}", file=sys.stderr)
    return app.exec()
