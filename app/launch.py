"""Starting the editor: the Qt application, the main window and what it opens first."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.window import SAMPLE_IMAGE, MainWindow


def warm_up_in_background() -> threading.Thread:
    """Compile the PatchMatch kernels off the GUI thread, so the first fill does not wait."""
    from engines.classical.patchmatch.engine import warm_up

    thread = threading.Thread(target=warm_up, name="warm-up", daemon=True)
    thread.start()
    return thread


def launch(image: str | None = None, mask: str | None = None, engine: str | None = None) -> int:
    """Open the editor on ``image`` (the bundled sample when None); returns the exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Inpaint Studio")
    app.setOrganizationName("inpaint-studio")
    window = MainWindow()
    geometry = QSettings("inpaint-studio", "inpaint-studio").value("geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    if engine and not window.engine_panel.select_engine(engine):
        print(f"warning: unknown engine {engine!r}; using {window.controller.settings.engine}",
              file=sys.stderr)
    window.show()
    warm_up_in_background()
    target = Path(image) if image else SAMPLE_IMAGE
    if not window.open_path(target, mask):
        print(f"error: {window.last_error}", file=sys.stderr)
    return app.exec()
