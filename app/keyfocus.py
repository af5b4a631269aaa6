"""Which widget a key reaches in the editor window.

The canvas's keys (hold ``O`` for the original, hold ``Space`` to pan, the tool letters) and
the window's ``Return`` (apply the fill shown) must work after a choice made with the mouse in
a panel, and text fields must keep their own ``Return`` and ``Esc``. :class:`KeyRouting`, an
application event filter made by the window, sees to these:

- buttons, check boxes, combo boxes, sliders, lists and tab bars of the window take the focus
  from the keyboard (Tab) only: a click on them leaves it where it was, on the canvas, so ``O``
  does not pick an engine whose name starts with O and ``Space`` does not press a button;
- ``Return`` and ``Enter`` typed in a text field or a spin box go to it (the legend's search
  chooses a label, the size box takes its value) instead of applying the fill;
- ``Esc`` typed there acts on the field, not on the fill (the window's ``Esc`` cancels it or
  discards the result shown): it clears a search field (a line edit with a clear button)
  that holds text, else it leaves the field, the focus going back to the canvas;
- this holds in the dock panels and toolbars floated out of the window too (each is a window
  of its own to Qt, yet part of the editor: the window's shortcuts work there);
- Tab skips the panels not shown: Qt keeps a dock panel tabbed behind another "visible", out
  of sight, so while a panel is behind a tab its widgets take no focus (each gets its own
  focus policy back when the panel shows), and a focus left in it goes back to the canvas.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QToolBar,
    QWidget,
)

_FIELD_KEYS = (Qt.Key_Return, Qt.Key_Enter, Qt.Key_Escape)  # a text field's own, not the window's
# a widget's own focus policy (an int), kept while its panel is behind a tab (NoFocus meanwhile)
_OWN_POLICY = "inpaintStudioOwnFocusPolicy"
# the window Qt makes for dock panels floated together (QMainWindow.GroupedDragging)
_DOCK_GROUP_WINDOW = "QDockWidgetGroupWindow"


def takes_typing(widget: QObject | None) -> bool:
    """Whether ``widget`` is one the user types into (a text field, a spin box, an editable
    combo box)."""
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit))


def _clicked_only(widget: QObject) -> bool:
    """Whether ``widget`` is a control the user clicks rather than types into; the scroll
    bars and headers of lists and views are parts of those, which the keys scroll already.
    One that takes no focus at all (a panel's Float and Close buttons: Space there would undock
    the panel) is left so."""
    if widget.focusPolicy() == Qt.NoFocus:
        return False
    if isinstance(widget, QComboBox):
        return not widget.isEditable()
    if isinstance(widget, (QScrollBar, QHeaderView)):
        return False
    return isinstance(widget, (QAbstractButton, QAbstractSlider, QAbstractItemView, QTabBar))


class KeyRouting(QObject):
    """Install on the application (``app.installEventFilter``) for ``window`` once its
    widgets and dock panels are built (later widgets are handled as Qt polishes them): see the
    module notes. ``keep`` is the widget the focus stays on (the canvas)."""

    def __init__(self, window: QWidget, keep: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._keep = keep
        self._tucked: list[QDockWidget] = []  # the panels behind a tab, their widgets NoFocus
        for widget in window.findChildren(QWidget):  # those built already
            if _clicked_only(widget) and self._owns(widget):
                _keep_from_clicks(widget)
        # a panel shows or hides as its tab is chosen, as it is floated or docked, and as the
        # window shows: looked at once the layout is done
        self._panels_check = QTimer(self)
        self._panels_check.setSingleShot(True)
        self._panels_check.setInterval(0)
        self._panels_check.timeout.connect(self._update_panels)
        for dock in window.findChildren(QDockWidget):
            dock.visibilityChanged.connect(lambda _shown: self._panels_check.start())
            dock.topLevelChanged.connect(lambda _floating: self._panels_check.start())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Polish and isinstance(watched, QWidget) and self._owns(watched):
            if _clicked_only(watched):
                _keep_from_clicks(watched)
            if any(dock.isAncestorOf(watched) for dock in self._tucked):
                _tuck(watched)  # built while its panel is behind a tab
        elif (kind in (QEvent.ShortcutOverride, QEvent.KeyPress) and event.key() in _FIELD_KEYS
              and takes_typing(watched) and self._owns(watched)):
            if kind == QEvent.ShortcutOverride:
                event.accept()  # the field's own key, not the window's shortcut
                return True
            if event.key() == Qt.Key_Escape:
                self._escape(watched)
                return True
        return False

    def _update_panels(self) -> None:
        """Take the focus from the widgets of the dock panels behind a tab, give it back to
        those of the panels shown (done by itself, after each panel's visibility changes)."""
        for dock in self._window.findChildren(QDockWidget):
            behind = _behind_a_tab(dock)
            if behind == (dock in self._tucked):
                continue
            widgets = [dock, *dock.findChildren(QWidget)]
            if behind:
                self._tucked.append(dock)
                for widget in widgets:
                    _tuck(widget)
                if dock.isAncestorOf(QApplication.focusWidget()):
                    self._keep.setFocus(Qt.OtherFocusReason)
            else:
                self._tucked.remove(dock)
                for widget in widgets:
                    _untuck(widget)

    def _escape(self, field: QWidget) -> None:
        """``Esc`` in ``field``: clear a search field holding text, else leave the field."""
        if isinstance(field, QLineEdit) and field.isClearButtonEnabled() and field.text() \
                and not field.isReadOnly():
            field.clear()
        else:
            if field.window() is not self._window:  # a floated panel's or toolbar's field
                self._window.activateWindow()
            self._keep.setFocus(Qt.ShortcutFocusReason)

    def _owns(self, widget: QObject) -> bool:
        """Whether ``widget`` lies in the window, its dock panels and toolbars floated out of
        it included (its own dialogs, menus and pop-ups are other windows), and not in the
        canvas."""
        if not isinstance(widget, QWidget) or self._keep.isAncestorOf(widget):
            return False
        while widget is not None:
            if widget is self._window:
                return True
            if widget.isWindow() and not _floats_out(widget):
                return False
            widget = widget.parentWidget()
        return False


def _floats_out(widget: QWidget) -> bool:
    """Whether ``widget``, a window, is a dock panel or toolbar floated out of its main
    window (or the window of dock panels floated together): it keeps that as its parent."""
    return (isinstance(widget, (QDockWidget, QToolBar))
            or widget.metaObject().className() == _DOCK_GROUP_WINDOW)


def _keep_from_clicks(widget: QWidget) -> None:
    """Let ``widget`` (a control the user clicks) take the focus from Tab only; one behind a
    tab gets that as the policy it goes back to."""
    if widget.property(_OWN_POLICY) is not None:
        widget.setProperty(_OWN_POLICY, Qt.TabFocus.value)
    else:
        widget.setFocusPolicy(Qt.TabFocus)


def _tuck(widget: QWidget) -> None:
    """Take the focus from ``widget``, keeping its own policy for :func:`_untuck`."""
    if widget.focusPolicy() != Qt.NoFocus:
        widget.setProperty(_OWN_POLICY, widget.focusPolicy().value)
        widget.setFocusPolicy(Qt.NoFocus)


def _untuck(widget: QWidget) -> None:
    """Give ``widget`` back the focus policy :func:`_tuck` kept."""
    own = widget.property(_OWN_POLICY)
    if own is not None:
        widget.setProperty(_OWN_POLICY, None)
        widget.setFocusPolicy(Qt.FocusPolicy(own))


def _behind_a_tab(dock: QDockWidget) -> bool:
    """Whether ``dock`` is a docked panel out of sight behind another's tab: Qt keeps it
    visible, moved out of the window."""
    return dock.isVisible() and not dock.isFloating() and dock.visibleRegion().isEmpty()
