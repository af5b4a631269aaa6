"""Which widget a key reaches in the editor window.

The canvas's keys (hold ``O`` for the original, hold ``Space`` to pan, the tool letters) and
the window's ``Return`` (apply the fill shown) must work after a choice made with the mouse in
a panel, and text fields must keep their own ``Return`` and ``Esc``. :class:`KeyRouting`, an
application event filter made by the window, sees to both:

- buttons, check boxes, combo boxes, sliders, lists and tab bars of the window take the focus
  from the keyboard (Tab) only: a click on them leaves it where it was, on the canvas, so ``O``
  does not pick an engine whose name starts with O and ``Space`` does not press a button;
- ``Return`` and ``Enter`` typed in a text field or a spin box go to it (the legend's search
  chooses a label, the size box takes its value) instead of applying the fill;
- ``Esc`` typed there acts on the field, not on the fill (the window's ``Esc`` cancels it or
  discards the result shown): it clears a search field (a line edit with a clear button)
  that holds text, else it leaves the field, the focus going back to the canvas.
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

_FIELD_KEYS = (Qt.Key_Return, Qt.Key_Enter, Qt.Key_Escape)  # a text field's own, not the window's


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
        elif (kind in (QEvent.ShortcutOverride, QEvent.KeyPress) and event.key() in _FIELD_KEYS
              and takes_typing(watched) and self._owns(watched)):
            if kind == QEvent.ShortcutOverride:
                event.accept()  # the field's own key, not the window's shortcut
                return True
            if event.key() == Qt.Key_Escape:
                self._escape(watched)
                return True
        return False

    def _escape(self, field: QWidget) -> None:
        """``Esc`` in ``field``: clear a search field holding text, else leave the field."""
        if isinstance(field, QLineEdit) and field.isClearButtonEnabled() and field.text() \
                and not field.isReadOnly():
            field.clear()
        else:
            self._keep.setFocus(Qt.ShortcutFocusReason)

    def _owns(self, widget: QObject) -> bool:
        """Whether ``widget`` lies in the window (its own dialogs are other windows)."""
        return (isinstance(widget, QWidget) and self._window.isAncestorOf(widget)
                and not self._keep.isAncestorOf(widget))
