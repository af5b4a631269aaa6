"""The reference photos panel: thumbnails of the photos an engine may copy from. Widgets only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.document import Reference
from app.qimages import rgb_pixmap, scaled_rgb
from engines.base import OptionSpec
from engines.fileio import count_noun
from engines.guidance import largest_reference_patch, reference_problem

THUMB = 96  # px, longest side of a thumbnail
_REMOVE_KEYS = (Qt.Key_Delete, Qt.Key_Backspace)  # in the list: remove the selected photos
# an item's data: why its photo is shown left out, "" when it is searched
WHY_ROLE = Qt.UserRole + 1


def thumbnail_pixels(rgb: np.ndarray) -> np.ndarray:
    """``(h, w, 3)`` uint8 RGB scaled (area-averaged) to a contiguous thumbnail whose
    longest side is at most :data:`THUMB`. Qt-free: any thread may make it (a 100-megapixel
    photo takes a moment), for :meth:`ReferencePanel.keep_thumbnail`."""
    return scaled_rgb(rgb, THUMB)


class ReferencePanel(QWidget):
    """Reference photos: extra sources for engines that take them (Guided PatchMatch).

    Signals:
        addRequested(): "Add…" was clicked (the window asks for files).
        removeRequested(list): "Remove", or Delete or Backspace in the list, with the selected
            rows (sorted).
        clearRequested(): "Remove all", once :meth:`confirm_clear` agreed (asked when two or
            more photos are listed: the list is outside the undo history).
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
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(self._clear)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.list.installEventFilter(self)
        self._thumbnails: dict[int, tuple[Reference, QPixmap]] = {}
        self._listed: tuple[Reference, ...] = ()  # the photos the items show, in order
        # (id of a photo, patch side) -> (the photo, why a fill leaves it out or None): see
        # _left_out (kept with the photo, as the thumbnails are)
        self._left_out_cache: dict[tuple[int, int], tuple[Reference, str | None]] = {}
        self.show_references((), engine_uses_them=True)

    def confirm_clear(self, count: int) -> bool:
        """Whether to take all ``count`` (2 or more) photos off the list: "Remove all" or
        "Cancel" (the default, and Esc). A modal question; tests replace this method (or the
        window sets its own question here) to answer it."""
        box = QMessageBox(QMessageBox.Question, "Remove Reference Photos",
                          f"Remove all {count_noun(count, 'reference photo')}? This cannot be "
                          "undone.", QMessageBox.NoButton, self)
        box.setInformativeText("The files stay where they are; add them again with Add….")
        remove = box.addButton("Remove all", QMessageBox.DestructiveRole)
        cancel = box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        removed = box.clickedButton() is remove
        box.deleteLater()
        return removed

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Delete and Backspace (no modifier) in the list remove the selected photos, as
        "Remove" does; taken before any window shortcut on those keys."""
        if (watched is self.list and event.type() in (QEvent.ShortcutOverride, QEvent.KeyPress)
                and event.key() in _REMOVE_KEYS
                and not event.modifiers() & ~Qt.KeypadModifier):
            if not self.list.selectedIndexes():
                return False
            if event.type() == QEvent.ShortcutOverride:
                event.accept()
            else:
                self.remove_selected()
            return True
        return super().eventFilter(watched, event)

    def remove_selected(self) -> None:
        """Ask for the selected photos to be removed (``removeRequested``), if any."""
        rows = sorted({index.row() for index in self.list.selectedIndexes()})
        if rows:
            self.removeRequested.emit(rows)

    def _clear(self) -> None:
        count = self.list.count()
        if count and (count < 2 or self.confirm_clear(count)):
            self.clearRequested.emit()

    def keep_thumbnail(self, reference: Reference, pixels: np.ndarray) -> None:
        """Use ``pixels`` (from :func:`thumbnail_pixels`) as ``reference``'s thumbnail when it
        is listed, instead of scaling the photo then."""
        self._thumbnails[id(reference)] = (reference, rgb_pixmap(pixels, THUMB))

    def show_references(self, references: Sequence[Reference], engine_uses_them: bool,
                        engine_title: str = "",
                        patch: tuple[int, OptionSpec] | None = None) -> None:
        """List ``references`` and say whether the current engine will use them.

        ``patch``: the patch side a fill by that engine copies from reference photos and the
        option that sets it (:func:`engines.guidance.reference_patch_option`); a photo
        without room for one such patch (:func:`engines.guidance.reference_problem`, the
        rule the fill applies) is shown left out: its thumbnail and name greyed, its tooltip
        saying why and to what side the option must be lowered to take it, the hint counting
        it. The same photos listed again (another engine, another option) keep their places
        and the selection."""
        # thumbnails by reference (kept with it, so its id cannot be reused while cached):
        # listing again, on every engine change, rescales only the photos new to the list
        self._thumbnails = {id(r): self._thumbnails.get(id(r)) or (r, rgb_pixmap(r.rgb, THUMB))
                            for r in references}
        if len(references) != len(self._listed) or any(
                shown is not reference for shown, reference in zip(self._listed, references)):
            self.list.clear()
            for reference in references:
                item = QListWidgetItem(reference.name)
                item.setTextAlignment(Qt.AlignHCenter)
                self.list.addItem(item)
            self._listed = tuple(references)
        side, spec = patch if patch is not None and engine_uses_them else (0, None)
        left_out = 0
        for row, reference in enumerate(references):
            why = self._left_out(reference, side, spec) if spec is not None else None
            left_out += why is not None
            self._show_item(self.list.item(row), reference, why)
        self._left_out_cache = {key: kept for key, kept in self._left_out_cache.items()
                                if key[0] in self._thumbnails}
        if not references:
            text = ("No reference photos. Add photos of the same place or a similar one: "
                    "what the hole should show can then come from them.")
        elif not engine_uses_them:
            text = (f"{engine_title or 'This engine'} does not use reference photos; "
                    "choose Guided PatchMatch.")
        elif left_out:
            searched = len(references) - left_out
            said = (f"{count_noun(searched, 'reference photo')} searched by the fill"
                    if searched else "No reference photo searched by the fill")
            them = "it" if left_out == 1 else "them"
            text = (f"{said}; {left_out} left out at {spec.title} {side} (greyed: too small "
                    f"for one patch; lower {spec.title} to use {them}).")
        else:
            text = f"{count_noun(len(references), 'reference photo')} searched by the fill."
        self.hint.setText(text)
        self._update_buttons()

    def left_out_rows(self) -> list[int]:
        """The rows of the photos shown left out (greyed)."""
        return [row for row in range(self.list.count())
                if self.list.item(row).data(WHY_ROLE)]

    def _left_out(self, reference: Reference, side: int, spec: OptionSpec) -> str | None:
        """Why a fill copying ``side`` patches (the option ``spec``) leaves ``reference`` out,
        or None when it searches it; kept per photo and side: a partly transparent photo's
        answer costs erosions, and the panel is listed again at every settings change."""
        key = (id(reference), side)
        kept = self._left_out_cache.get(key)
        if kept is None or kept[0] is not reference:
            problem = reference_problem(reference.pixels, side)
            why = None
            if problem is not None:
                why = f"Left out of the fill at {spec.title} {side}: it {problem}."
                largest = largest_reference_patch(reference.pixels, spec, side)
                if largest is not None:
                    why += f" {spec.title} {largest} or less takes it."
            kept = self._left_out_cache[key] = (reference, why)
        return kept[1]

    def _show_item(self, item: QListWidgetItem, reference: Reference, why: str | None) -> None:
        """Show ``reference`` in ``item``: its thumbnail and size, greyed and saying ``why``
        when it is left out (None: searched). An item already showing that is left alone."""
        if item.data(WHY_ROLE) == (why or ""):
            return
        height, width = reference.rgb.shape[:2]
        pixmap = self._thumbnails[id(reference)][1]
        said = f"{reference.name}: {width}×{height}"
        item.setData(WHY_ROLE, why or "")
        if why is None:
            item.setIcon(QIcon(pixmap))
            item.setData(Qt.ForegroundRole, None)  # the list's own colour
            item.setToolTip(said)
            item.setData(Qt.AccessibleTextRole, reference.name)
            return
        item.setIcon(QIcon(QIcon(pixmap).pixmap(QSize(THUMB, THUMB), QIcon.Mode.Disabled)))
        item.setForeground(self.palette().brush(QPalette.ColorGroup.Disabled,
                                                QPalette.ColorRole.Text))
        item.setToolTip(f"{said}\n{why}")
        item.setData(Qt.AccessibleTextRole, f"{reference.name}, left out")

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.list.selectedIndexes()))
        self.clear_button.setEnabled(self.list.count() > 0)
