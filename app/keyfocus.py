"""Which widget a key reaches in the editor window.

The canvas's keys (hold ``O`` for the original, hold ``Space`` to pan, the tool letters) and
the window's ``Return`` (apply the fill shown) must work after a choice made with the mouse in
a panel, and text fields must keep their own ``Return``. :class:`KeyRouting`, an application
event filter made by the window, sees to both:

- buttons, check boxes, combo boxes, sliders, lists and tab bars of the window take the focus
  from the keyboard (Tab) only: a click on them leaves it where it was, on the canvas, so ``O``
  does not pick an engine whose name starts with O and ``Space`` does not press a button;
- ``Return`` and ``Enter`` typed in a text field or a spin box go to it (the legend's search
  chooses a label, the size box takes its value) instead of applying the fill.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
    QWidget,
)

_RETURN_KEYS = (Qt.Key_Return, Qt.Key_Enter)


def takes_typing(widget: QObject | None) -> bool:
    """Whether ``widget`` is one the user types into (a text field, a spin box, an editable
    combo box)."""
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit))


def _clicked_only(widget: QObject) -> bool:
    """Whether ``widget`` is a control the user clicks rather than types into."""
    if isinstance(widget, QComboBox):
        return not widget.isEditable()
    return isinstance(widget, (QAbstractButton, QAbstractSlider, QAbstractItemView, QTabBar))


class KeyRouting(QObject):
    """Install on the application (``app.installEventFilter``) for ``window`` once its
    widgets are built (later ones are handled as Qt polishes them): see the module notes.
    ``keep`` is the widget the focus stays on (the canvas)."""

    def __init__(self, window: QWidget, keep: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._keep = keep
        for widget in window.findChildren(QWidget):  # those built already
            if _clicked_only(widget) and self._owns(widget):
                widget.setFocusPolicy(Qt.TabFocus)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Polish and _clicked_only(watched) and self._owns(watched):
            watched.setFocusPolicy(Qt.TabFocus)
        elif (kind == QEvent.ShortcutOverride and event.key() in _RETURN_KEYS
              and takes_typing(watched) and self._owns(watched)):
            event.accept()  # the field's own Return, not the window's shortcut
            return True
        return False

    def _owns(self, widget: QObject) -> bool:
        """Whether ``widget`` lies in the window (its own dialogs are other windows)."""
        return (isinstance(widget, QWidget) and self._window.isAncestorOf(widget)
                and not self._keep.isAncestorOf(widget))
