"""Editing tools: small state objects that turn pointer events into document edits.

Points are image coordinates ``(x, y)`` as floats. A drag (press, moves, release) is one
undoable step. Tools hold no Qt objects; the canvas feeds them events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from app import maskops
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Document, Layer
from engines.base import UNLABELLED
from engines.region import Box

Point = tuple[float, float]
# the brush radii the editor allows (image pixels), as the [ and ] keys keep them
MIN_RADIUS, MAX_RADIUS = 0.5, 1000.0


@dataclass
class ToolSettings:
    """What the tools share: brush radii per family, the current label and colour.

    A tool and its eraser share a family (one size), except the sketch eraser: the pen draws
    3 px lines, and an eraser that thin would hardly clean them up.
    """

    radius: dict[str, float] = field(default_factory=lambda: {
        "mask": 24.0, "sketch": 1.5, "sketch-eraser": 12.0, "color": 8.0, "labels": 24.0,
        "sampling": 40.0})
    label: int = 0
    color: tuple[int, int, int] = (200, 60, 40)
    on_label_picked: Callable[[int], None] | None = None
    on_message: Callable[[str], None] | None = None  # a tool tells the user why it did nothing
    shift: bool = False  # Shift held at the press (the canvas sets it): the whole label


class Tool:
    """Base tool: does nothing. ``brush`` tools show a round cursor of ``radius``."""

    name = "tool"
    title = "Tool"
    family: str | None = None  # brush-size family, None for non-brush tools
    layer: Layer | None = None

    def __init__(self, settings: ToolSettings) -> None:
        self.settings = settings

    @property
    def radius(self) -> float:
        return self.settings.radius.get(self.family, 0.0) if self.family else 0.0

    def press(self, document: Document, point: Point) -> None:
        """Pointer pressed at ``point``."""

    def move(self, document: Document, point: Point) -> None:
        """Pointer moved with the button held."""

    def release(self, document: Document, point: Point) -> bool:
        """Pointer released; returns whether the document changed."""
        return False


def _pixel_centred(point: Point) -> Point:
    """``point`` (pixel ``i`` spans ``[i, i + 1)``) in the coordinates the brush stamps in,
    where whole numbers are pixel centres: the stamp is then centred on the cursor."""
    return point[0] - 0.5, point[1] - 0.5


class BrushTool(Tool):
    """Paints ``value`` into ``layer`` with a round hard brush; one drag = one undo step."""

    value: int | tuple[int, ...] = 255

    def __init__(self, settings: ToolSettings) -> None:
        super().__init__(settings)
        self._last: Point | None = None

    def current_value(self) -> int | tuple[int, ...]:
        return self.value

    def press(self, document: Document, point: Point) -> None:
        if document.in_step:  # a drag never finished (focus lost): close it first
            document.end_step()
        document.begin_step(self.title)
        point = _pixel_centred(point)
        self._last = point
        document.paint_segment(self.layer, point, point, self.radius, self.current_value())

    def move(self, document: Document, point: Point) -> None:
        if self._last is None or not document.in_step:
            return
        point = _pixel_centred(point)
        document.paint_segment(self.layer, self._last, point, self.radius,
                               self.current_value())
        self._last = point

    def release(self, document: Document, point: Point) -> bool:
        if self._last is None or not document.in_step:
            return False
        self.move(document, point)
        self._last = None
        return document.end_step() is not None


class MaskBrush(BrushTool):
    name, title, family, layer, value = "mask", "Mask brush", "mask", Layer.MASK, 255


class MaskEraser(BrushTool):
    name, title, family, layer, value = "mask-eraser", "Mask eraser", "mask", Layer.MASK, 0


class SketchPen(BrushTool):
    name, title, family, layer, value = "sketch", "Sketch pen", "sketch", Layer.SKETCH, 255


class SketchEraser(BrushTool):
    name, title, family, layer, value = ("sketch-eraser", "Sketch eraser", "sketch-eraser",
                                         Layer.SKETCH, 0)


class ColorBrush(BrushTool):
    name, title, family, layer = "color", "Colour brush", "color", Layer.COLOR

    def current_value(self) -> tuple[int, ...]:
        return (*self.settings.color, 255)


class ColorEraser(BrushTool):
    name, title, family, layer, value = ("color-eraser", "Colour eraser", "color",
                                         Layer.COLOR, (0, 0, 0, 0))


def _say_no_label_map(settings: ToolSettings, tool: str) -> None:
    """Tell the user (:attr:`ToolSettings.on_message`) that there is no label map for the
    label ``tool`` ("brush", "bucket") to repaint, and how to get one."""
    if settings.on_message:
        settings.on_message("No label map yet: compute one in the Labels panel or import one, "
                            f"then repaint it with the {tool}")


class LabelBrush(BrushTool):
    """Paints the current label; without a label map it paints nothing and says so (the
    stroke would be a hole of its own, with no map for a fill to follow)."""

    name, title, family, layer = "label", "Label brush", "labels", Layer.LABELS

    def current_value(self) -> int:
        return self.settings.label

    def press(self, document: Document, point: Point) -> None:
        if not document.has_label_map():
            self._last = None  # the drag's moves and release do nothing either
            _say_no_label_map(self.settings, "brush")
            return
        super().press(document, point)


class SampleInclude(BrushTool):
    name, title, family, layer, value = ("sample-include", "Sampling area: include",
                                         "sampling", Layer.SAMPLING, SAMPLE_INCLUDE)


class SampleExclude(BrushTool):
    name, title, family, layer, value = ("sample-exclude", "Sampling area: exclude",
                                         "sampling", Layer.SAMPLING, SAMPLE_EXCLUDE)


class SampleEraser(BrushTool):
    name, title, family, layer, value = ("sample-eraser", "Sampling area: erase",
                                         "sampling", Layer.SAMPLING, 0)


BAND_PIXELS = 1 << 20  # the label's extent is looked for in bands of about this many pixels


def _extent(labels: np.ndarray, value: int) -> Box | None:
    """Bounding box of the pixels of the 2-D uint8 ``labels`` equal to ``value`` (None: there
    are none), found in bands of rows of about :data:`BAND_PIXELS`: no temporary of the
    picture's size, whose fresh memory would cost more than the search."""
    height, width = labels.shape
    rows = max(1, BAND_PIXELS // width)
    equal = np.empty((min(rows, height), width), np.uint8)
    found = None
    for top in range(0, height, rows):
        band = labels[top:top + rows]
        hits = equal[:band.shape[0]]
        maskops.compare(band, value, cv2.CMP_EQ, dst=hits)
        x, y, w, h = cv2.boundingRect(hits)  # of the nonzero pixels
        if w:
            box = Box(top + y, x, top + y + h, x + w)
            found = box if found is None else found.union(box)
    return found


def _connected_area(labels: np.ndarray, seed: tuple[int, int],
                    whole: bool = False) -> tuple[Box, np.ndarray]:
    """The 8-connected area of equal value around ``seed`` (x, y) of the 2-D uint8
    ``labels`` (with ``whole``, every pixel of that value), which is left unchanged: its
    bounding box and a bool mask over that box. The flood fill runs within the extent of
    the seed's label, where the area lies, so its mask is the size of that extent, not of
    the picture. (8-connected: a parser's region touching itself diagonally, as through a
    lattice, is one area.)"""
    x, y = seed
    value = int(labels[y, x])
    extent = _extent(labels, value)
    if whole:
        return extent, maskops.compare(extent.crop(labels, Box.frame(labels.shape)), value,
                                       cv2.CMP_EQ).view(bool)
    flooded = np.zeros((extent.height + 2, extent.width + 2), np.uint8)
    flags = 8 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    _, _, _, (left, top, w, h) = cv2.floodFill(
        extent.crop(labels, Box.frame(labels.shape)), flooded,
        (x - extent.left, y - extent.top), 0, 0, 0, flags)
    box = Box(extent.top + top, extent.left + left, extent.top + top + h,
              extent.left + left + w)
    return box, flooded[top + 1:top + h + 1, left + 1:left + w + 1].view(bool)


class LabelFill(Tool):
    """Fills the connected area of one label with the current label, or with Shift held
    (:attr:`ToolSettings.shift`) every pixel of that label (one undo step, which keeps the
    tiles of the area's bounding box only)."""

    name, title, layer = "fill", "Label fill", Layer.LABELS

    def __init__(self, settings: ToolSettings) -> None:
        super().__init__(settings)
        self._filled = False

    def release(self, document: Document, point: Point) -> bool:
        filled, self._filled = self._filled, False
        return filled

    def press(self, document: Document, point: Point) -> None:
        x, y = int(point[0]), int(point[1])
        labels = document.layer(Layer.LABELS)
        self._filled = False
        if not (0 <= x < document.width and 0 <= y < document.height):
            return
        if labels[y, x] == UNLABELLED and not document.has_label_map():
            # no map: the fill would label, and so hole, the whole picture
            _say_no_label_map(self.settings, "bucket")
            return
        value, old = self.settings.label, int(labels[y, x])
        if old == value:
            return
        with document.step(self.title):
            # found first, so that only the tiles of its box are backed up
            box, area = _connected_area(labels, (x, y), whole=self.settings.shift)
            document.touch(Layer.LABELS, box)
            # every pixel of the area holds ``old``: moved to ``value`` by a masked add or
            # subtract, which cannot saturate (OpenCV: a third faster than numpy's copyto)
            # the layer fetched again: touch swaps in a copy when a request shares it
            target, where = document.layer(Layer.LABELS)[box.slices], area.view(np.uint8)
            if value > old:
                cv2.add(target, value - old, dst=target, mask=where)
            else:
                cv2.subtract(target, old - value, dst=target, mask=where)
            # announced before the hole the step adds around it, whose parts it covers
            document.notify(Layer.LABELS, box)
        self._filled = True


class LabelPicker(Tool):
    """Eyedropper: makes the label under the pointer the current label. Without a label map
    there is none to pick: it says so and keeps the current label."""

    name, title = "picker", "Label picker"

    def press(self, document: Document, point: Point) -> None:
        x, y = int(point[0]), int(point[1])
        if not document.has_label_map():
            if self.settings.on_message:
                self.settings.on_message("No label map yet: no label to pick; compute one in "
                                         "the Labels panel or import one")
            return
        if 0 <= x < document.width and 0 <= y < document.height:
            self.settings.label = int(document.layer(Layer.LABELS)[y, x])
            if self.settings.on_label_picked:
                self.settings.on_label_picked(self.settings.label)


class PanTool(Tool):
    """Moves the view (handled by the canvas); never edits."""

    name, title = "pan", "Pan"


ALL_TOOLS: tuple[type[Tool], ...] = (
    MaskBrush, MaskEraser, SketchPen, SketchEraser, ColorBrush, ColorEraser, LabelBrush,
    LabelFill, LabelPicker, SampleInclude, SampleExclude, SampleEraser, PanTool)


def make_tools(settings: ToolSettings) -> dict[str, Tool]:
    """One instance of every tool, by name, sharing ``settings``."""
    return {cls.name: cls(settings) for cls in ALL_TOOLS}
