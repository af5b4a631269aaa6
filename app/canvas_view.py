"""The canvas with scroll bars: what the window shows in its middle.

A bar shows on an axis while part of the picture lies outside the view on that axis (as
``Qt::ScrollBarAsNeeded``: none when the whole picture is in view), and stays while its slider
is held. Its range is the canvas's :meth:`~app.canvas.Canvas.offset_limits` (a bar goes as far
as a pan may, and no further), its value the picture's screen px left of (above) the view, its
page the view's width (height): ``value = -offset``, in logical px. The bars follow every zoom,
pan, fit and resize through :attr:`Canvas.viewChanged`; moving one moves the canvas. Bars are
updated with their signals blocked, so the canvas's own moves never come back to it (a
fractional offset stays as it is). The room a bar takes or gives back resizes the canvas,
which keeps the centre after a zoom about it (Ctrl+1) and, when it grows, brings a picture
cut off at the left or top into view as far as the room allows (see
:meth:`~app.canvas.Canvas.resizeEvent`): a picture that fits loses its bars.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QMargins, QPointF, QRect, QSignalBlocker, QSize, Qt
from PySide6.QtWidgets import QScrollBar, QWidget

from app.canvas import WHEEL_LINE_PIXELS, Canvas

_SLACK = 0.5  # px of the picture that may lie outside the view without a bar (rounding)
_ARRANGE_ROUNDS = 3  # a resize may move the picture (the clamp), which may change the bars


class CanvasView(QWidget):
    """A :class:`Canvas` (:attr:`canvas`) with a horizontal and a vertical scroll bar
    (:attr:`across`, :attr:`down`), laid out here: the canvas's top left corner stays at the
    view's, so its offset means the same whichever bars show."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = Canvas(self)
        self.setFocusProxy(self.canvas)  # focusing the view (the window's centre) focuses it
        self.across = QScrollBar(Qt.Horizontal, self)
        self.down = QScrollBar(Qt.Vertical, self)
        self._arranging = False
        for bar in (self.across, self.down):
            bar.hide()
            bar.setSingleStep(WHEEL_LINE_PIXELS)
            bar.sliderReleased.connect(self._arrange)  # a bar kept while held may go now
        self.across.valueChanged.connect(
            lambda value: self.canvas.set_offset(QPointF(-value, self.canvas.offset.y())))
        self.down.valueChanged.connect(
            lambda value: self.canvas.set_offset(QPointF(self.canvas.offset.x(), -value)))
        self.canvas.viewChanged.connect(self._arrange)

    def minimumSizeHint(self) -> QSize:
        """The canvas's minimum size with room for both bars."""
        return self.canvas.minimumSize().grownBy(
            QMargins(0, 0, self.down.sizeHint().width(), self.across.sizeHint().height()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _needed(self) -> tuple[bool, bool]:
        """Which bars the canvas's picture needs in this view, given that a bar shown takes
        room from the other axis; a bar whose slider is held stays."""
        canvas = self.canvas
        document = canvas.document
        if document is None:
            return False, False
        x0, y0 = canvas.offset.x(), canvas.offset.y()
        x1, y1 = x0 + document.width * canvas.zoom, y0 + document.height * canvas.zoom
        keep_across = self.across.isSliderDown() and self.across.isVisibleTo(self)
        keep_down = self.down.isSliderDown() and self.down.isVisibleTo(self)
        thick, tall = self.down.sizeHint().width(), self.across.sizeHint().height()
        across = down = False
        for _ in range(2):  # showing one bar can make the other needed, not the reverse
            width = self.width() - (thick if down else 0)
            height = self.height() - (tall if across else 0)
            across = keep_across or x0 < -_SLACK or x1 > width + _SLACK
            down = keep_down or y0 < -_SLACK or y1 > height + _SLACK
        return across, down

    def _arrange(self) -> None:
        """Show the bars needed, give the canvas the rest, and set the bars to its view. The
        canvas's resize may move the picture (to keep it in view), so this repeats until the
        bars stay the same."""
        if self._arranging:  # the canvas resized from here
            return
        self._arranging = True
        try:
            for _ in range(_ARRANGE_ROUNDS):
                across, down = self._needed()
                if self._place(across, down):
                    break
            self._set_bars()
        finally:
            self._arranging = False

    def _place(self, across: bool, down: bool) -> bool:
        """Lay out the canvas and the bars, showing those asked; whether it was so already."""
        thick = self.down.sizeHint().width() if down else 0
        tall = self.across.sizeHint().height() if across else 0
        rect = QRect(0, 0, max(1, self.width() - thick), max(1, self.height() - tall))
        if (self.canvas.geometry() == rect and self.across.isVisibleTo(self) == across
                and self.down.isVisibleTo(self) == down):
            return True
        self.across.setGeometry(0, rect.height(), rect.width(), tall)
        self.down.setGeometry(rect.width(), 0, thick, rect.height())
        self.across.setVisible(across)
        self.down.setVisible(down)
        self.canvas.setGeometry(rect)  # its resize may move the picture (or fit it again)
        return False

    def _set_bars(self) -> None:
        canvas = self.canvas
        (x0, x1), (y0, y1) = canvas.offset_limits()
        _set_bar(self.across, -x1, -x0, -canvas.offset.x(), canvas.width())
        _set_bar(self.down, -y1, -y0, -canvas.offset.y(), canvas.height())


def _set_bar(bar: QScrollBar, least: float, most: float, value: float, page: int) -> None:
    """Set ``bar`` without a signal (nothing moves back): its range the whole px within
    [least, most], ``value`` rounded into it."""
    with QSignalBlocker(bar):
        low = math.ceil(least)
        bar.setRange(low, max(low, math.floor(most)))
        bar.setPageStep(page)
        bar.setValue(round(value))
