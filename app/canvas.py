"""The canvas: one widget that shows the document and turns pointer input into tool calls.

It paints, in order, the picture (or the engine preview inside its box), the composited
overlays and the brush cursor, from the :class:`~app.viewcache.ViewCache` pyramids, so a
repaint costs what the window costs, not what the image costs. Document changes and engine
previews reach the pyramids at the next turn of the event loop (or the next paint, if that
comes first): a preview is shown only as its latest stage, and a change covered by another
one waiting (a new label map, then its palette) is rendered once. A stage whose hole is large
is converted for display on a helper thread, one at a time, and only swapped in on the GUI
thread. It owns no inference and emits signals rather than acting on the window.

View transform: ``screen = image * zoom + offset``, in logical (device-independent) pixels;
the picture is drawn from the pyramid level that suits *device* pixels (zoom times the
screen's device pixel ratio), so a high-DPI screen shows it at its own resolution.

Navigation: a mouse wheel zooms around the pointer, or, when the user prefers
(:attr:`Canvas.wheel_mode` :attr:`WheelMode.SCROLL`, for a touchpad that reports itself as a
mouse), pans up and down; a trackpad scroll (pixel delta, scroll phase or touchpad device), a
sideways wheel or tilt, and Shift+wheel pan; Ctrl+wheel or Ctrl+trackpad zoom; a pinch zooms
around the fingers. Panning and zooming keep part of the picture in the widget
(:data:`VISIBLE_MARGIN`); :meth:`Canvas.offset_limits` gives the offsets allowed, which the
scroll bars of :class:`~app.canvas_view.CanvasView` span. A zoom about the centre (100 %,
Zoom In/Out) keeps the centre when the scroll bars it brings or removes resize the widget,
and a widget that grows brings a picture cut off at its left or top into the room gained
(:meth:`Canvas.resizeEvent`).
"""

from __future__ import annotations

import enum
import math
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import shiboken6
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QCursor, QImage, QInputDevice, QPainter, QPen, QRegion
from PySide6.QtWidgets import QApplication, QWidget

from app.busy import wait_for
from app.document import Document, Layer
from app.qimages import wrap_buffer
from app.tools import MAX_RADIUS, MIN_RADIUS, PanTool, Tool
from app.viewcache import OverlayStyle, PreparedPreview, ViewCache, add_box, nonzero_rects
from engines.region import Box

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
VISIBLE_MARGIN = 64  # px of the picture kept inside the widget on each axis (or all of it)
WHEEL_ZOOM_BASE = 1.0015  # zoom factor per eighth of a degree of wheel turn
WHEEL_LINE_PIXELS = 20  # px panned per scroll line of a wheel notch
BACKGROUND_VIEW_PIXELS = 4_000_000  # pictures this large get their display built off-thread
BACKGROUND_PREVIEW_PIXELS = 1 << 18  # stages converting more get converted off-thread
SYNC_PIXELS = 1 << 21  # px of changed boxes rendered per turn of the event loop (about)
_FOCUS_FRAME = 2  # px: the frame drawn while the focus came from the keyboard
_PASSING_FOCUS = (Qt.ActiveWindowFocusReason, Qt.PopupFocusReason)  # it comes back
_converter: ThreadPoolExecutor | None = None


class WheelMode(str, enum.Enum):
    """What a plain mouse wheel does on the canvas (a preference): ``ZOOM`` around the
    pointer, or ``SCROLL`` the view (up and down; sideways with Shift). Either way Ctrl+wheel
    zooms and a scroll known to come from a trackpad pans."""

    ZOOM = "zoom"
    SCROLL = "scroll"


def _preview_converter() -> ThreadPoolExecutor:
    """The one helper thread that converts large preview stages (started on first use)."""
    global _converter
    if _converter is None:
        _converter = ThreadPoolExecutor(1, thread_name_prefix="preview")
    return _converter


class Canvas(QWidget):
    """Shows a :class:`Document`; brushes, zoom (wheel or Ctrl+wheel, pinch, around the
    pointer) and pan (drags, trackpad, sideways wheel, the wheel in :attr:`WheelMode.SCROLL`),
    never far enough to lose the picture.

    A drag of the tool is one undo step, ended by the left button's release or, when that
    release cannot come or must not be waited for, by :meth:`end_drag`: a press (a pan
    started over it), a move with the left button up, Space, a tool change, the focus or
    the mouse grab lost, another document, or a command that needs the document.

    Signals:
        zoomChanged(float): the zoom factor (screen px per image px) changed.
        cursorMoved(int, int): pointer position in image pixels (-1, -1 when outside).
        editFinished(str): a drag changed the named layer (one undo step was recorded).
        dragChanged(bool): a drag of the tool began (True, after the tool's press: a brush
            stroke's step is open) or ended, however (False, after any editFinished).
        brushSizeChanged(float): the current tool's radius changed with [ or ].
        viewChanged(): the zoom, the offset, the widget's size or the document changed
            (once per change, after all of it is set).
    """

    zoomChanged = Signal(float)
    cursorMoved = Signal(int, int)
    editFinished = Signal(str)
    dragChanged = Signal(bool)
    brushSizeChanged = Signal(float)
    viewChanged = Signal()
    _previewPrepared = Signal(object, object, int, str)  # (view, Future, epoch, label)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setAccessibleName("Picture")
        self.setAccessibleDescription("The picture being edited: paint on it with the current "
                                      "tool; F1 lists the keys")
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.setMinimumSize(200, 150)
        self.document: Document | None = None
        self.view: ViewCache | None = None
        self.tool: Tool | None = None
        self.zoom = 1.0
        self.offset = QPointF(0, 0)
        self.stage_label = ""
        self.style = OverlayStyle()  # shared by every document shown here
        self._wheel_mode = WheelMode.ZOOM
        self._fitted = True
        self._keeping_centre = False  # while a zoom about the centre is announced (resizeEvent)
        self._pointer: QPointF | None = None
        self._panning_from: QPointF | None = None
        self._space_held = False
        self._drawing = False  # a drag of the tool is under way (see end_drag)
        self._drag_point: tuple[float, float] | None = None  # where it last was (image px)
        self._focus_shown = False  # a frame while the focus came from the keyboard (Tab)
        self._background = QColor(46, 46, 50)
        # what the view has yet to show (see sync_view)
        self._pending_preview: tuple[np.ndarray | None, Box | None, str] | None = None
        self._pending_boxes: dict[bool, list[Box]] = {True: [], False: []}  # by "is image"
        self._pending_overlays = False  # every overlay, after a style change
        self._mask_version = 0  # counts mask changes, for the hole rectangles below
        self._holes: tuple[Box, int, list[Box]] | None = None  # (box, mask version, rects)
        self._sync_timer = QTimer(self)
        self._sync_timer.setSingleShot(True)
        self._sync_timer.setInterval(0)
        self._sync_timer.timeout.connect(lambda: self.sync_view(SYNC_PIXELS))
        # a stage being converted on the helper thread (at most one at a time); stages
        # prepared for an older epoch (before a clear or another document) are dropped
        self._converting = False
        self._preview_epoch = 0
        self._previewPrepared.connect(self._on_preview_prepared)

    # ---------------------------------------------------------------- document
    def set_document(self, document: Document | None) -> None:
        """Show ``document``. The display buffers of a large picture are built on a worker
        thread, the window painting the previous one meanwhile (:func:`app.busy.wait_for`).
        A drag under way on the previous document ends there, unannounced (:meth:`end_drag`)."""
        self.end_drag(announce=False)
        view = None
        if document is not None:
            def build() -> ViewCache:
                return ViewCache(document, self.style)

            view = (build() if document.width * document.height < BACKGROUND_VIEW_PIXELS
                    else wait_for(self, "Preparing the picture...", build))
        if self.document is not None:
            self.document.remove_listener(self._on_change)
        self.document = document
        self.view = view
        self.stage_label = ""
        self._pending_preview, self._pending_overlays, self._holes = None, False, None
        self._pending_boxes = {True: [], False: []}
        self._preview_epoch += 1
        if document is not None:
            document.add_listener(self._on_change)
            self.fit()
        else:
            self.viewChanged.emit()
        self.update()

    def _on_change(self, layer: Layer, box: Box) -> None:
        if self.view is None:
            return
        if layer is Layer.MASK:
            self._mask_version += 1
        self._schedule(layer is Layer.IMAGE, box)

    def _schedule(self, image: bool, box: Box) -> None:
        """Remember that ``box`` of the picture (``image``) or of the overlays changed, to be
        rendered with the other changes waiting (:func:`add_box`)."""
        add_box(self._pending_boxes[image], box)
        self._sync_timer.start()

    def sync_view(self, pixels: int | None = None) -> None:
        """Bring the view up to date now, and schedule the repaint of what changed: the latest
        preview first, then the changed boxes of the picture and the overlays (a
        whole-overlay refresh covers the boxes). Runs from a zero timer, so that the event
        loop turns between an edit and its rendering, and before any paint.

        ``pixels``: render about that many pixels of the changed boxes at most (at least
        one band of rows of one box), the rest at the next turn of the event loop; the timer
        and paints pass :data:`SYNC_PIXELS`, so that a change of most of a large picture (a
        fill applied, the mask hidden under a new preview) is rendered in bands between
        which the window stays responsive. None: all of it. A cleared preview stays shown
        until the picture's boxes waiting are rendered: after a fill is applied, the
        picture under it becomes what it shows, and the old picture never flashes."""
        self._sync_timer.stop()
        view = self.view
        if view is None:
            return
        budget = [math.inf if pixels is None else pixels, False]
        clearing = False  # the preview is cleared once the picture's boxes are rendered
        if self._pending_preview is not None:
            if self._pending_preview[0] is not None or not self._pending_boxes[True]:
                self._sync_preview(view)
            else:
                clearing = True
                self._preview_epoch += 1  # a stage still being converted must not show
        image_boxes = self._take_boxes(True, budget)
        for box in image_boxes:
            view.update(Layer.IMAGE, box, preview=not clearing)
        if self._pending_preview is not None and self._pending_preview[0] is None \
                and not self._pending_boxes[True]:
            self._sync_preview(view)
        if self._pending_overlays:  # every overlay: the whole picture, in bands
            self._pending_overlays = False
            self._pending_boxes[False] = [Box(0, 0, self.document.height, self.document.width)]
        overlay_boxes = self._take_boxes(False, budget)
        for box in overlay_boxes:
            view.update(Layer.MASK, box)  # any overlay layer: all are composited
        for box in image_boxes + overlay_boxes:
            self.update(self._screen_rect(box).adjusted(-2, -2, 2, 2))
        if self._pending_boxes[True] or self._pending_boxes[False] \
                or (self._pending_preview is not None and not self._converting):
            self._sync_timer.start()

    def _take_boxes(self, image: bool, budget: list) -> list[Box]:
        """Take from the boxes waiting to be rendered (of the picture if ``image``, else of
        the overlays) those that fit in ``budget[0]`` pixels, lowering it by theirs
        (``budget[1]``: whether anything was taken this turn already): a box larger than
        what is left is cut, its top rows taken (one band of rows at least, if nothing else
        was taken this turn) and the rest left waiting. Bands end on the coarsest level's
        grid, so each halves down the levels as the whole box would (the same pixels)."""
        waiting, taken = self._pending_boxes[image], []
        step = self.view.levels[-1].factor
        while waiting and budget[0] > 0:
            box = waiting[0]
            area = box.height * box.width
            if area > budget[0]:
                rows = int(budget[0] // box.width) // step * step
                if not rows and budget[1]:
                    break  # the rest at the next turn
                bottom = (box.top + max(step, rows)) // step * step
                if bottom < box.bottom:
                    taken.append(Box(box.top, box.left, bottom, box.right))
                    waiting[0] = Box(bottom, box.left, box.bottom, box.right)
                    budget[0], budget[1] = 0, True
                    break
            taken.append(waiting.pop(0))
            budget[0] -= area
            budget[1] = True
        return taken

    def _sync_preview(self, view: ViewCache) -> None:
        """Show the waiting preview stage, or clear the preview (the overlay where the mask
        shows again then waits with the other changed boxes, so that a box a change renders
        anyway is not rendered twice). A stage that converts more than
        :data:`BACKGROUND_PREVIEW_PIXELS` goes to the helper thread (it waits there while
        another is converted: only the latest is kept) and shows when it is ready."""
        image, box, label = self._pending_preview
        if image is None:
            self._pending_preview = None
            self._preview_epoch += 1  # a stage still being converted must not show
            waiting = self._pending_boxes[False]
            shown_again = view.show_prepared(None, render=False)  # the mask shown again
            if waiting:
                for rect in shown_again:
                    add_box(waiting, rect)
            else:  # the rectangles of the mask never overlap
                waiting.extend(shown_again)
            self.stage_label = ""
            self.update()
            return
        rects = self._hole_rects(box)
        pixels = sum(r.height * r.width for r in rects) if rects else box.height * box.width
        if pixels <= BACKGROUND_PREVIEW_PIXELS:
            self._pending_preview = None
            self._preview_epoch += 1  # newer than any stage still being converted
            view.set_preview(image, box, rects)
            self._show_stage(label)
        elif not self._converting:
            self._pending_preview = None
            self._converting = True
            future = _preview_converter().submit(view.prepare_preview, image, box, rects)
            epoch = self._preview_epoch
            future.add_done_callback(lambda done: self._prepared(view, done, epoch, label))

    def _prepared(self, view: ViewCache, future: Future, epoch: int, label: str) -> None:
        """On the helper thread: hand the converted stage to the GUI thread."""
        if shiboken6.isValid(self):  # not deleted meanwhile
            self._previewPrepared.emit(view, future, epoch, label)

    def _on_preview_prepared(self, view: ViewCache, future: Future, epoch: int,
                             label: str) -> None:
        """Swap in a stage converted on the helper thread, unless the preview was cleared or
        another document shown meanwhile; then take the next waiting stage."""
        self._converting = False
        prepared: PreparedPreview = future.result()  # a conversion error surfaces here
        if view is self.view and epoch == self._preview_epoch:
            # the overlay where the mask is now hidden (or shown again) is rendered in
            # bands, with the other changes waiting (sync_view)
            waiting = self._pending_boxes[False]
            for rect in view.show_prepared(prepared, render=False):
                add_box(waiting, rect)
            self._show_stage(label)
        if self._pending_preview is not None or self._pending_boxes[False]:
            self._sync_timer.start()

    def _show_stage(self, label: str) -> None:
        self.stage_label = label
        self.update()

    def _hole_rects(self, box: Box) -> list[Box] | None:
        """Rectangles covering the mask inside ``box``: where an engine result differs from
        the picture (None, for all of the box, when the mask is empty there)."""
        document = self.document
        if not document.has_layer(Layer.MASK):
            return None
        if self._holes is None or self._holes[:2] != (box, self._mask_version):
            self._holes = (box, self._mask_version, nonzero_rects(document.mask, box))
        return self._holes[2] or None

    def set_tool(self, tool: Tool) -> None:
        """Use ``tool``; a drag of another tool under way ends first (:meth:`end_drag`)."""
        if tool is not self.tool:
            self.end_drag()
        self.tool = tool
        self._update_cursor()
        self.update()

    def set_preview(self, image: np.ndarray | None, box: Box | None, label: str = "") -> None:
        """Show an engine result inside ``box`` (``None`` clears it). It differs from the
        picture only where the document's mask is set (as engines do), so only that is
        converted. Stages that come faster than they can be shown are coalesced: the view
        takes the latest at the next turn of the event loop or paint (:meth:`sync_view`)."""
        if self.view is None:
            return
        self._pending_preview = (image, box, label)
        self._sync_timer.start()

    def set_show_original(self, show_original: bool) -> None:
        """While ``True`` the picture shows as loaded: as opened, with no preview and no
        overlays."""
        if self.view is None:
            return
        self.sync_view()
        self.view.set_show_preview(not show_original)
        self.view.set_show_original(show_original)
        self.view.show_overlays = not show_original
        self.update()

    def refresh_overlays(self) -> None:
        """Re-render every overlay (after a style or palette change), at the next turn of
        the event loop."""
        if self.view is not None:
            self._pending_overlays = True
            self._sync_timer.start()

    @property
    def wheel_mode(self) -> WheelMode:
        """What a plain mouse wheel does here (:class:`WheelMode`; ``ZOOM`` at first)."""
        return self._wheel_mode

    def set_wheel_mode(self, mode: WheelMode | str) -> None:
        """Make a plain mouse wheel zoom or scroll from the next turn on (a mode's value, such
        as ``"scroll"``, is taken too; any other raises ValueError)."""
        self._wheel_mode = WheelMode(mode)

    # -------------------------------------------------------------- transform
    def image_point(self, pos: QPointF) -> tuple[float, float]:
        return ((pos.x() - self.offset.x()) / self.zoom, (pos.y() - self.offset.y()) / self.zoom)

    def _screen_rect(self, box: Box) -> QRect:
        x0 = math.floor(box.left * self.zoom + self.offset.x())
        y0 = math.floor(box.top * self.zoom + self.offset.y())
        x1 = math.ceil(box.right * self.zoom + self.offset.x())
        y1 = math.ceil(box.bottom * self.zoom + self.offset.y())
        return QRect(x0, y0, x1 - x0, y1 - y0)

    @property
    def fitted(self) -> bool:
        """Whether the picture is shown fitted (:meth:`fit`), as it is fitted again when the
        widget is resized; a zoom or a pan ends that."""
        return self._fitted

    def fit(self) -> None:
        """Zoom so the whole image fits the widget, centred."""
        if self.document is None:
            return
        w, h = max(1, self.width()), max(1, self.height())
        zoom = min(w / self.document.width, h / self.document.height) * 0.98
        self._set_zoom(zoom, QPointF(w / 2, h / 2), centre=True)

    def actual_size(self) -> None:
        """100 %: one image pixel per screen pixel, keeping the view centre (as
        :meth:`zoom_by` keeps it)."""
        self._set_zoom(1.0, QPointF(self.width() / 2, self.height() / 2), keep_centre=True)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Multiply the zoom, keeping the image point under ``anchor`` fixed; by default the
        one in the centre, which stays there when the zoom resizes the widget (scroll bars
        showing or going: see :meth:`resizeEvent`)."""
        if anchor is None:
            self._set_zoom(self.zoom * factor, QPointF(self.width() / 2, self.height() / 2),
                           keep_centre=True)
        else:
            self._set_zoom(self.zoom * factor, anchor)

    def _set_zoom(self, zoom: float, anchor: QPointF, centre: bool = False,
                  keep_centre: bool = False) -> None:
        """Show the picture at ``zoom``, the image point under ``anchor`` staying there, or
        (``centre``: fitting it) centred; a resize then fits again only in the second case.
        ``keep_centre``: ``anchor`` is the widget's centre, and a resize that announcing the
        change causes (scroll bars showing or going) keeps the image point there."""
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        if centre and self.document is not None:
            self.offset = QPointF((self.width() - self.document.width * zoom) / 2,
                                  (self.height() - self.document.height * zoom) / 2)
        else:
            ix, iy = self.image_point(anchor)
            self.offset = self._clamped(QPointF(anchor.x() - ix * zoom, anchor.y() - iy * zoom),
                                        zoom)
        self._fitted = centre
        if zoom != self.zoom:
            self.zoom = zoom
            self.zoomChanged.emit(zoom)
        self.update()
        self._keeping_centre = keep_centre
        try:
            self.viewChanged.emit()
        finally:
            self._keeping_centre = False

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the picture by (dx, dy) screen px, as far as :meth:`_clamped` allows."""
        if not dx and not dy:  # a scroll phase starting or ending: not a move
            return
        self.set_offset(self.offset + QPointF(dx, dy))

    def set_offset(self, offset: QPointF) -> None:
        """Put the picture's top left corner at ``offset`` (widget px), or as near to it as
        :meth:`offset_limits` allows (a scroll bar moved, a pan)."""
        self.offset = self._clamped(offset, self.zoom)
        self._fitted = False
        self.update()
        self.viewChanged.emit()

    def offset_limits(self, zoom: float | None = None
                      ) -> tuple[tuple[float, float], tuple[float, float]]:
        """The least and greatest offset, across then down, at ``zoom`` (default the current
        one): on each axis at least min(:data:`VISIBLE_MARGIN`, the picture's size on screen,
        the widget's size) px of the picture lie inside the widget. No document: (0, 0)."""
        if self.document is None:
            return (0.0, 0.0), (0.0, 0.0)
        zoom = self.zoom if zoom is None else zoom

        def axis(picture: float, widget: float) -> tuple[float, float]:
            keep = min(VISIBLE_MARGIN, picture, widget)
            return keep - picture, widget - keep

        return (axis(self.document.width * zoom, self.width()),
                axis(self.document.height * zoom, self.height()))

    def _clamped(self, offset: QPointF, zoom: float) -> QPointF:
        """``offset`` moved just enough to lie within :meth:`offset_limits` at ``zoom``."""
        if self.document is None:
            return offset
        (x0, x1), (y0, y1) = self.offset_limits(zoom)
        return QPointF(min(x1, max(x0, offset.x())), min(y1, max(y0, offset.y())))

    # ---------------------------------------------------------------- painting
    def paintEvent(self, event) -> None:
        self.sync_view(SYNC_PIXELS)  # before painting begins
        painter = QPainter(self)
        painter.fillRect(event.rect(), self._background)
        view = self.view
        if view is None or self.document is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignCenter, "Open an image (Ctrl+O) or drop one here")
            self._paint_focus_frame(painter)
            return
        # the painter maps logical px to device px (2x on a 2x screen, or in a 2x grab): the
        # level is chosen for device px, and smoothed only where it is shrunk on screen, so a
        # picture at one image (or level) px per device px or larger shows crisp
        device_zoom = self.zoom * painter.deviceTransform().m11()
        index = view.level_for(device_zoom)
        level = view.levels[index]
        factor = level.factor
        painter.setRenderHint(QPainter.SmoothPixmapTransform,
                              device_zoom * factor < 1.0 - 1e-6)
        # the visible part of the image, in level pixels
        exposed = QRectF(event.rect())
        x0, y0 = self.image_point(exposed.topLeft())
        x1, y1 = self.image_point(exposed.bottomRight())
        h, w = level.base.shape[:2]
        lx0 = max(0, math.floor(x0 / factor) - 1)
        ly0 = max(0, math.floor(y0 / factor) - 1)
        lx1 = min(w, math.ceil(x1 / factor) + 1)
        ly1 = min(h, math.ceil(y1 / factor) + 1)
        if lx1 > lx0 and ly1 > ly0:
            source = QRectF(lx0, ly0, lx1 - lx0, ly1 - ly0)
            target = QRectF(lx0 * factor * self.zoom + self.offset.x(),
                            ly0 * factor * self.zoom + self.offset.y(),
                            (lx1 - lx0) * factor * self.zoom, (ly1 - ly0) * factor * self.zoom)
            painter.drawImage(target, wrap_buffer(level.base, QImage.Format_RGB32), source)
            if view.preview_visible():
                self._paint_preview(painter, index, Box(ly0, lx0, ly1, lx1))
            if view.show_overlays:
                painter.drawImage(target, wrap_buffer(level.overlay,
                                                  QImage.Format_ARGB32_Premultiplied), source)
        self._paint_cursor(painter)
        if self.stage_label:
            self._paint_badge(painter, self.stage_label)
        self._paint_focus_frame(painter)

    def _paint_preview(self, painter: QPainter, index: int, exposed: Box) -> None:
        """Paint the preview's patches of level ``index`` that meet ``exposed`` (level px)."""
        scale = self.view.levels[index].factor * self.zoom
        for buffer, placed in self.view.preview_patches(index):
            if not placed.overlaps(exposed):
                continue
            target = QRectF(placed.left * scale + self.offset.x(),
                            placed.top * scale + self.offset.y(),
                            placed.width * scale, placed.height * scale)
            painter.drawImage(target, wrap_buffer(buffer, QImage.Format_RGB32),
                              QRectF(0, 0, placed.width, placed.height))

    def _paint_cursor(self, painter: QPainter) -> None:
        tool = self.tool
        if self._pointer is None or tool is None or not tool.family or self._space_held:
            return
        radius = max(1.0, tool.radius * self.zoom)
        painter.setRenderHint(QPainter.Antialiasing, True)
        painter.setBrush(Qt.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 200), 3))
        painter.drawEllipse(self._pointer, radius, radius)
        painter.setPen(QPen(QColor(255, 255, 255, 230), 1))
        painter.drawEllipse(self._pointer, radius, radius)

    def _paint_badge(self, painter: QPainter, text: str) -> None:
        metrics = painter.fontMetrics()
        rect = QRect(10, 10, metrics.horizontalAdvance(text) + 16, metrics.height() + 8)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(0, 0, 0, 160))
        painter.drawRoundedRect(rect, 6, 6)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(rect, Qt.AlignCenter, text)

    def _paint_focus_frame(self, painter: QPainter) -> None:
        """A thin frame along the edges while the focus came from the keyboard: a click or
        the keys sent back here after a panel's button leave the picture unframed."""
        if self._focus_shown and self.hasFocus():
            colour = QColor(self.palette().highlight().color())
            colour.setAlpha(200)
            painter.setRenderHint(QPainter.Antialiasing, False)
            painter.setBrush(Qt.NoBrush)
            painter.setPen(QPen(colour, _FOCUS_FRAME))
            half = _FOCUS_FRAME // 2
            painter.drawRect(self.rect().adjusted(half, half, -half, -half))

    def _update_focus_frame(self) -> None:
        """Repaint the edges where the focus frame is drawn."""
        inner = self.rect().adjusted(_FOCUS_FRAME, _FOCUS_FRAME, -_FOCUS_FRAME, -_FOCUS_FRAME)
        self.update(QRegion(self.rect()).subtracted(QRegion(inner)))

    def _cursor_rect(self, pos: QPointF | None) -> QRect:
        if pos is None or self.tool is None:
            return QRect()
        r = int(self.tool.radius * self.zoom) + 4
        return QRect(int(pos.x()) - r, int(pos.y()) - r, 2 * r + 1, 2 * r + 1)

    def _update_cursor(self) -> None:
        if self._space_held or isinstance(self.tool, PanTool):
            self.setCursor(Qt.ClosedHandCursor if self._panning_from else Qt.OpenHandCursor)
        elif self.tool is not None and self.tool.family:
            self.setCursor(Qt.BlankCursor if self.tool.radius * self.zoom >= 3 else
                           Qt.CrossCursor)
        else:
            self.setCursor(Qt.CrossCursor)

    # ------------------------------------------------------------------ input
    def resizeEvent(self, event) -> None:
        """A fitted picture is fitted again. Otherwise it stays where it was (its top left
        corner), except that a resize caused by a zoom about the centre keeps the centre,
        and that on an axis along which the widget grew, a picture cut off at the start
        (left, top) moves into the room that is free at the end, as a scroll area does: a
        picture that now fits is then all in view."""
        if self._fitted:
            self.fit()
        else:
            offset = QPointF(self.offset)
            old, new = event.oldSize(), event.size()
            if old.isValid() and self.document is not None:
                if self._keeping_centre:
                    offset += QPointF(new.width() - old.width(),
                                      new.height() - old.height()) / 2
                offset = QPointF(
                    _into_room(offset.x(), self.document.width * self.zoom, new.width(),
                               new.width() > old.width()),
                    _into_room(offset.y(), self.document.height * self.zoom, new.height(),
                               new.height() > old.height()))
            self.offset = self._clamped(offset, self.zoom)
            self.viewChanged.emit()
        super().resizeEvent(event)

    def wheelEvent(self, event) -> None:
        """Ctrl+wheel or Ctrl+trackpad: zoom around the pointer. A trackpad scroll (it
        reports a pixel delta or a scroll phase, or comes from a touchpad): pan both ways. A
        sideways wheel or tilt, or Shift+wheel: pan sideways. A plain mouse wheel: zoom
        around the pointer, or in :attr:`WheelMode.SCROLL` pan (both ways, for a touchpad
        that passes for a mouse)."""
        angle, pixels = event.angleDelta(), event.pixelDelta()
        modifiers = event.modifiers()
        device = event.device()
        trackpad = (not pixels.isNull() or event.phase() != Qt.NoScrollPhase
                    or (device is not None and device.type() == QInputDevice.DeviceType.TouchPad))
        shift = bool(modifiers & Qt.ShiftModifier)
        sideways = bool(angle.x()) or shift
        scrolls = self._wheel_mode is WheelMode.SCROLL
        if modifiers & Qt.ControlModifier or not (trackpad or sideways or scrolls):
            delta = angle.y() or angle.x()
            if delta:
                self.zoom_by(WHEEL_ZOOM_BASE ** delta, event.position())
                self._update_cursor()
        elif trackpad and not pixels.isNull():
            self.pan_by(pixels.x(), pixels.y())
        else:
            # a notch (120) scrolls as many lines as the system says
            step = WHEEL_LINE_PIXELS * QApplication.wheelScrollLines() / 120
            if trackpad or (scrolls and not shift):
                self.pan_by(angle.x() * step, angle.y() * step)
            else:  # sideways wheel, or Shift turning the wheel sideways (some systems
                # already swap the axes for Shift)
                self.pan_by((angle.x() or angle.y()) * step, 0)
        event.accept()

    def event(self, event) -> bool:
        """A pinch (a native zoom gesture) zooms around the fingers by ``1 + value``; the
        mouse grab lost (a popup or a dialog took the mouse) ends a drag (:meth:`end_drag`)."""
        if event.type() == QEvent.UngrabMouse:
            self.end_drag()
        if (event.type() == QEvent.NativeGesture
                and event.gestureType() == Qt.ZoomNativeGesture):
            self.zoom_by(1.0 + event.value(), event.position())
            self._update_cursor()
            event.accept()
            return True
        return super().event(event)

    @property
    def dragging(self) -> bool:
        """Whether a drag of the tool is under way (pressed, not yet ended: :meth:`end_drag`)."""
        return self._drawing

    def end_drag(self, announce: bool = True) -> None:
        """End a drag of the tool whose release will not come or must not be waited for (a
        pan started over it, a tool change, the focus or the mouse grab lost, a command that
        needs the document): a tool that edits a layer is released where the drag last was,
        so the stroke so far is kept as one undo step and :attr:`editFinished` is emitted as
        after a release (not with ``announce`` False: the document is being replaced); the
        drag of one that edits none (the face box, the picker) is dropped. Does nothing
        without a drag; later moves never paint until the next press."""
        if not self._drawing:
            return
        if self.tool is not None and self.tool.layer is None:
            self._drawing, self._drag_point = False, None
            self.dragChanged.emit(False)
            return
        self._finish_drag(self._drag_point, announce)

    def _finish_drag(self, point: tuple[float, float] | None, announce: bool) -> None:
        """Release the tool at ``point`` (image px) and end the drag; see :meth:`end_drag`."""
        self._drawing, self._drag_point = False, None
        document, tool = self.document, self.tool
        if document is not None and tool is not None and point is not None \
                and tool.release(document, point) and announce:
            self.editFinished.emit(tool.layer.value if tool.layer else "")
        self.dragChanged.emit(False)

    def mousePressEvent(self, event) -> None:
        pos = event.position()
        # a press of any button ends a drag under way: one whose release was lost, or one
        # a pan now starts over (the stroke so far is kept, and no hover paints after it)
        self.end_drag()
        pan = (event.button() == Qt.MiddleButton or self._space_held
               or (event.button() == Qt.LeftButton and isinstance(self.tool, PanTool)))
        if pan:
            self._panning_from = pos
            self._update_cursor()
        elif event.button() == Qt.LeftButton and self.document and self.tool:
            self._drawing = True
            self._drag_point = self.image_point(pos)
            self.tool.settings.shift = bool(event.modifiers() & Qt.ShiftModifier)
            self.tool.press(self.document, self._drag_point)
            self.dragChanged.emit(True)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        old = self._pointer
        self._pointer = pos
        if self._panning_from is not None:
            delta = pos - self._panning_from
            self._panning_from = pos
            self.pan_by(delta.x(), delta.y())
        elif self._drawing and self.document and self.tool:
            if event.buttons() & Qt.LeftButton:
                self._drag_point = self.image_point(pos)
                self.tool.move(self.document, self._drag_point)
            else:  # the left button is up, its release never came here: no hover paints
                self.end_drag()
        if self.tool is not None and self.tool.family:
            self.update(self._cursor_rect(old))
            self.update(self._cursor_rect(pos))
        if self.document is not None:
            x, y = self.image_point(pos)
            inside = 0 <= x < self.document.width and 0 <= y < self.document.height
            self.cursorMoved.emit(int(x) if inside else -1, int(y) if inside else -1)

    def mouseReleaseEvent(self, event) -> None:
        if self._panning_from is not None and event.button() in (Qt.MiddleButton, Qt.LeftButton):
            self._panning_from = None
            self._update_cursor()
        elif self._drawing and event.button() == Qt.LeftButton:
            self._finish_drag(self.image_point(event.position()), announce=True)
        event.accept()

    def leaveEvent(self, event) -> None:
        old, self._pointer = self._pointer, None
        self.update(self._cursor_rect(old))
        self.cursorMoved.emit(-1, -1)
        super().leaveEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            if self._drawing:  # Space during a stroke ends it; the button held then pans
                self.end_drag()
                self._panning_from = self._pointer or QPointF(self.mapFromGlobal(QCursor.pos()))
            self._update_cursor()
            self.update(self._cursor_rect(self._pointer))
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event) -> None:
        # the frame comes with Tab, goes with any other way here, stays across another
        # window or a menu taking the keys for a while
        if event.reason() not in _PASSING_FOCUS:
            self._focus_shown = event.reason() in (Qt.TabFocusReason, Qt.BacktabFocusReason)
        self._update_focus_frame()
        super().focusInEvent(event)

    def focusOutEvent(self, event) -> None:
        if event.reason() not in _PASSING_FOCUS:
            self._focus_shown = False
        self._update_focus_frame()
        # the release of a drag under way may go elsewhere now (a dialog, another window)
        self.end_drag()
        # a Space released elsewhere (a message box took the focus) never reaches us: let
        # go of it now, or every later drag would pan
        if self._space_held:
            self._space_held = False
            self._panning_from = None
            self._update_cursor()
        super().focusOutEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self._panning_from = None
            self._update_cursor()
            return
        super().keyReleaseEvent(event)

    def change_brush_size(self, factor: float) -> None:
        """Scale the current tool's radius (``[`` and ``]``) by ``factor``, at least one
        pixel a press above 2 px, kept between :data:`~app.tools.MIN_RADIUS` and
        :data:`~app.tools.MAX_RADIUS` (at a limit a press keeps it)."""
        if self.tool is None or not self.tool.family:
            return
        family = self.tool.family
        radii = self.tool.settings.radius
        old = radii[family]
        new = old * factor
        if round(new) == round(old) and new > 2:
            new = old + (1 if factor > 1 else -1)
        new = min(MAX_RADIUS, max(MIN_RADIUS, new))
        radii[family] = new
        self.brushSizeChanged.emit(new)
        pointer = self._pointer or QPointF(self.mapFromGlobal(QCursor.pos()))
        self.update(self._cursor_rect(pointer).adjusted(-int(old * self.zoom), -int(old * self.zoom),
                                                        int(old * self.zoom), int(old * self.zoom)))
        self._update_cursor()


def _into_room(start: float, length: float, room: float, grew: bool) -> float:
    """Where a picture ``length`` screen px long that starts at ``start`` (its offset on one
    axis) goes in a widget ``room`` px long: where it was, unless the widget ``grew`` and
    the picture is cut off at the start while there is free room at the end, into which it
    then moves as far as both allow."""
    free = room - (start + length)
    if grew and start < 0 and free > 0:
        return start + min(-start, free)
    return start
