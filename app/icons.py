"""Tool icons drawn with QPainter: crisp at any scale, no image files to keep in sync.

:func:`tool_icon` returns the icon of a tool name (see :mod:`app.tools`); :func:`action_icon`
the icon of a run action, from the platform style where it has one.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

SIZE = 64  # drawn at 64 px, scaled down by Qt
MASK = QColor(255, 40, 90)
SKETCH = QColor(240, 200, 0)
INCLUDE = QColor(40, 180, 80)
EXCLUDE = QColor(220, 40, 40)
INK = QColor(60, 60, 70)


def _canvas(draw: Callable[[QPainter], None]) -> QIcon:
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.Antialiasing)
    draw(painter)
    painter.end()
    return QIcon(pixmap)


def _pen(colour: QColor, width: float = 5.0) -> QPen:
    pen = QPen(colour, width)
    pen.setCapStyle(Qt.RoundCap)
    pen.setJoinStyle(Qt.RoundJoin)
    return pen


def _slash(p: QPainter) -> None:
    p.setPen(_pen(INK, 6))
    p.drawLine(QPointF(12, 52), QPointF(52, 12))


def _dot(colour: QColor, crossed: bool = False) -> Callable[[QPainter], None]:
    def draw(p: QPainter) -> None:
        p.setPen(_pen(INK, 3))
        p.setBrush(QColor(0, 0, 0, 0) if crossed else colour)
        p.drawEllipse(QRectF(10, 10, 44, 44))
        if crossed:
            _slash(p)
    return draw


def _pencil(colour: QColor, crossed: bool = False) -> Callable[[QPainter], None]:
    def draw(p: QPainter) -> None:
        body = QPainterPath(QPointF(14, 50))
        for x, y in ((20, 36), (44, 12), (52, 20), (28, 44)):
            body.lineTo(x, y)
        body.closeSubpath()
        p.setPen(_pen(INK, 3))
        p.setBrush(colour)
        p.drawPath(body)
        if crossed:
            _slash(p)
    return draw


def _swatches(crossed: bool = False) -> Callable[[QPainter], None]:
    def draw(p: QPainter) -> None:
        p.setPen(_pen(INK, 3))
        for i, colour in enumerate((QColor(230, 90, 60), QColor(70, 160, 230),
                                    QColor(90, 200, 90))):
            p.setBrush(colour)
            p.drawEllipse(QRectF(8 + i * 14, 14 + (i % 2) * 14, 26, 26))
        if crossed:
            _slash(p)
    return draw


def _label(p: QPainter) -> None:
    tag = QPainterPath(QPointF(10, 20))
    for x, y in ((36, 20), (54, 32), (36, 44), (10, 44)):
        tag.lineTo(x, y)
    tag.closeSubpath()
    p.setPen(_pen(INK, 3))
    p.setBrush(QColor(110, 150, 240))
    p.drawPath(tag)
    p.setBrush(Qt.white)
    p.drawEllipse(QRectF(16, 28, 8, 8))


def _bucket(p: QPainter) -> None:
    p.setPen(_pen(INK, 3))
    p.setBrush(QColor(110, 150, 240))
    p.save()
    p.translate(28, 34)
    p.rotate(-35)
    p.drawRect(QRectF(-14, -14, 28, 28))
    p.restore()
    p.setBrush(QColor(110, 150, 240))
    drop = QPainterPath(QPointF(50, 34))
    drop.cubicTo(56, 44, 58, 52, 50, 54)
    drop.cubicTo(42, 52, 44, 44, 50, 34)
    p.drawPath(drop)


def _dropper(p: QPainter) -> None:
    p.setPen(_pen(INK, 6))
    p.drawLine(QPointF(14, 50), QPointF(40, 24))
    p.setBrush(INK)
    p.drawEllipse(QRectF(38, 10, 16, 16))


def _tint(colour: QColor) -> QColor:
    return QColor(colour.red(), colour.green(), colour.blue(), 60)


def _area(colour: QColor, sign: str) -> Callable[[QPainter], None]:
    def draw(p: QPainter) -> None:
        pen = _pen(colour, 4)
        pen.setStyle(Qt.DashLine)
        p.setPen(pen)
        p.setBrush(_tint(colour))
        p.drawRect(QRectF(8, 8, 48, 48))
        p.setPen(_pen(colour, 7))
        p.drawLine(QPointF(20, 32), QPointF(44, 32))
        if sign == "+":
            p.drawLine(QPointF(32, 20), QPointF(32, 44))
    return draw


def _area_eraser(p: QPainter) -> None:
    """The sampling area (its include half and its exclude half), crossed out."""
    p.setPen(Qt.NoPen)
    for x, colour in ((8, INCLUDE), (32, EXCLUDE)):
        p.setBrush(_tint(colour))
        p.drawRect(QRectF(x, 8, 24, 48))
    pen = _pen(INK, 4)
    pen.setStyle(Qt.DashLine)
    p.setPen(pen)
    p.setBrush(QBrush(Qt.NoBrush))
    p.drawRect(QRectF(8, 8, 48, 48))
    _slash(p)


def _hand(p: QPainter) -> None:
    p.setPen(_pen(INK, 5))
    for a, b in (((32, 8), (32, 56)), ((8, 32), (56, 32))):
        p.drawLine(QPointF(*a), QPointF(*b))
    p.setBrush(INK)
    for tip, left, right in (((32, 6), (24, 16), (40, 16)), ((32, 58), (24, 48), (40, 48)),
                             ((6, 32), (16, 24), (16, 40)), ((58, 32), (48, 24), (48, 40))):
        arrow = QPainterPath(QPointF(*tip))
        arrow.lineTo(*left)
        arrow.lineTo(*right)
        arrow.closeSubpath()
        p.drawPath(arrow)


def _face_box(p: QPainter) -> None:
    pen = _pen(INK, 4)
    pen.setStyle(Qt.DashLine)
    p.setPen(pen)
    p.setBrush(QBrush(Qt.NoBrush))
    p.drawRect(QRectF(8, 8, 48, 48))
    p.setPen(_pen(INK, 4))
    p.drawEllipse(QRectF(18, 16, 28, 34))
    p.drawArc(QRectF(25, 30, 14, 10), 200 * 16, 140 * 16)


_TOOLS: dict[str, Callable[[QPainter], None]] = {
    "mask": _dot(MASK), "mask-eraser": _dot(MASK, crossed=True),
    "sketch": _pencil(SKETCH), "sketch-eraser": _pencil(SKETCH, crossed=True),
    "color": _swatches(), "color-eraser": _swatches(crossed=True),
    "label": _label, "fill": _bucket, "picker": _dropper,
    "sample-include": _area(INCLUDE, "+"), "sample-exclude": _area(EXCLUDE, "-"),
    "sample-eraser": _area_eraser, "pan": _hand, "face-box": _face_box,
}
_ACTIONS = {
    "undo": QStyle.SP_ArrowBack, "redo": QStyle.SP_ArrowForward,
    "fill": QStyle.SP_MediaPlay, "apply": QStyle.SP_DialogApplyButton,
    "cancel": QStyle.SP_DialogCancelButton, "open": QStyle.SP_DialogOpenButton,
    "save": QStyle.SP_DialogSaveButton,
}
_cache: dict[str, QIcon] = {}


def tool_icon(name: str) -> QIcon:
    """The icon of tool ``name`` (an empty icon for unknown names)."""
    if name not in _cache:
        draw = _TOOLS.get(name)
        _cache[name] = _canvas(draw) if draw else QIcon()
    return _cache[name]


def action_icon(name: str) -> QIcon:
    """The platform style's icon for a run action (an empty icon when there is none)."""
    pixmap = _ACTIONS.get(name)
    return QApplication.style().standardIcon(pixmap) if pixmap is not None else QIcon()
