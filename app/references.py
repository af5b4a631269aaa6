"""The reference photos panel: thumbnails of the photos an engine may copy from. Widgets only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.document import Reference
from app.qimages import rgb_pixmap, scaled_rgb
from engines.fileio import count_noun

THUMB = 96  # px, longest side of a thumbnail


def thumbnail_pixels(rgb: np.ndarray) -> np.ndarray:
    """``(h, w, 3)`` uint8 RGB scaled (area-averaged) to a contiguous thumbnail whose
    longest side is at most :data:`THUMB`. Qt-free: any thread may make it (a 100-megapixel
    photo takes a moment), for :meth:`ReferencePanel.keep_thumbnail`."""
    return scaled_rgb(rgb, THUMB)


class ReferencePanel(QWidget):
    """Reference photos: extra sources for engines that take them (Guided PatchMatch).

    Signals:
        addRequested(): "Add…" was clicked (the window asks for files).
        removeRequested(list): "Remove" with the selected rows.
        clearRequested(): "Remove all".
    """

    addRequested = Signal()
    removeRequested = Signal(list)
    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setResizeMode(QListWidget.Adjust)
        self.list.setMovement(QListWidget.Static)
        # one thumbnail wide: a long file name is cut in its middle (its extension kept),
        # whole in the item's tooltip, instead of running past a narrow dock's edge
        self.list.setGridSize(QSize(THUMB + 16, THUMB + self.fontMetrics().height() + 16))
        self.list.setTextElideMode(Qt.ElideMiddle)
        self.list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.list.setAccessibleName("Reference photos")
        self.list.setAccessibleDescription("Photos of the same scene or a similar one the fill "
                                           "may copy from")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Add photos of the same scene or a similar one: the fill "
                                   "may copy from them as from the picture itself")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Take the selected photos off the list (the files stay "
                                      "where they are)")
        self.clear_button = QPushButton("Remove all")
        self.clear_button.setToolTip("Take every reference photo off the list (the files stay "
                                     "where they are)")
        buttons = QHBoxLayout()  # under "Add…": a narrow dock has room for two in a row
        for button in (self.remove_button, self.clear_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.add_button)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        self.add_button.clicked.connect(self.addRequested)
        self.remove_button.clicked.connect(
            lambda: self.removeRequested.emit(sorted(i.row() for i in
                                                     self.list.selectedIndexes())))
        self.clear_button.clicked.connect(self.clearRequested)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self._thumbnails: dict[int, tuple[Reference, QPixmap]] = {}
        self.show_references((), engine_uses_them=True)

    def keep_thumbnail(self, reference: Reference, pixels: np.ndarray) -> None:
        """Use ``pixels`` (from :func:`thumbnail_pixels`) as ``reference``'s thumbnail when it
        is listed, instead of scaling the photo then."""
        self._thumbnails[id(reference)] = (reference, rgb_pixmap(pixels, THUMB))

    def show_references(self, references: Sequence[Reference], engine_uses_them: bool,
                        engine_title: str = "") -> None:
        """List ``references`` and say whether the current engine will use them."""
        self.list.clear()
        # thumbnails by reference (kept with it, so its id cannot be reused while cached):
        # listing again, on every engine change, rescales only the photos new to the list
        self._thumbnails = {id(r): self._thumbnails.get(id(r)) or (r, rgb_pixmap(r.rgb, THUMB))
                            for r in references}
        for reference in references:
            height, width = reference.rgb.shape[:2]
            item = QListWidgetItem(QIcon(self._thumbnails[id(reference)][1]), reference.name)
            item.setToolTip(f"{reference.name}: {width}×{height}")
            item.setTextAlignment(Qt.AlignHCenter)
            self.list.addItem(item)
        if not references:
            text = ("No reference photos. Add photos of the same place or a similar one: "
                    "what the hole should show can then come from them.")
        elif engine_uses_them:
            text = f"{count_noun(len(references), 'reference photo')} searched by the fill."
        else:
            text = (f"{engine_title or 'This engine'} does not use reference photos; "
                    "choose Guided PatchMatch.")
        self.hint.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.list.selectedIndexes()))
        self.clear_button.setEnabled(self.list.count() > 0)
