"""The Preferences dialog: the editor's settings that no panel shows. For now, what a plain
mouse wheel does on the picture: zoom around the pointer (the default) or scroll the view (for
a touchpad that passes for a mouse, whose two-finger scroll would otherwise zoom).

A choice applies at once: the dialog emits :attr:`PreferencesDialog.wheelModeChanged`, which
the window gives to :meth:`Canvas.set_wheel_mode <app.canvas.Canvas.set_wheel_mode>` and
stores with its other preferences (:mod:`app.preferences`). Close or Esc closes it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.canvas import WheelMode

# (mode, its entry in the list, what it does)
_WHEEL_CHOICES = (
    (WheelMode.ZOOM, "Zoom", "The wheel zooms around the pointer"),
    (WheelMode.SCROLL, "Scroll", "The wheel scrolls the picture up and down (Shift+wheel: "
                                 "sideways); Ctrl+wheel zooms"),
)
WHEEL_HINT = ("Ctrl+wheel zooms and a trackpad scrolls either way. Choose Scroll when a "
              "two-finger scroll on your touchpad zooms instead of moving the picture.")


class PreferencesDialog(QDialog):
    """The preferences, each applied as soon as it is changed.

    Signals:
        wheelModeChanged(WheelMode): the user chose what a plain mouse wheel does.
    """

    wheelModeChanged = Signal(object)

    def __init__(self, wheel_mode: WheelMode | str, parent: QWidget | None = None) -> None:
        """``wheel_mode``: what the wheel does now (shown chosen)."""
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.wheel = QComboBox()
        self.wheel.setAccessibleName("Mouse wheel")
        for mode, title, tip in _WHEEL_CHOICES:
            self.wheel.addItem(title, mode.value)
            self.wheel.setItemData(self.wheel.count() - 1, tip, Qt.ToolTipRole)
        self.wheel.setCurrentIndex(self.wheel.findData(WheelMode(wheel_mode).value))
        self.wheel.setToolTip("What turning the mouse wheel over the picture does: zoom around "
                              "the pointer, or scroll (Ctrl+wheel then zooms)")
        self.wheel.currentIndexChanged.connect(
            lambda _index: self.wheelModeChanged.emit(self.wheel_mode))
        label = QLabel("Mouse &wheel:")
        label.setBuddy(self.wheel)
        hint = QLabel(WHEEL_HINT)
        hint.setWordWrap(True)
        form = QFormLayout()
        form.addRow(label, self.wheel)
        form.addRow(hint)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    @property
    def wheel_mode(self) -> WheelMode:
        """The wheel mode chosen in the dialog."""
        return WheelMode(self.wheel.currentData())
