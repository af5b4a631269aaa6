"""Display buffers for the canvas: the picture and the composited overlays as mip pyramids.

Painting a 24-megapixel image scaled to a window every frame is slow; painting a buffer of
about the window's size is not. :class:`ViewCache` keeps, for each power-of-two level, the
picture as 32-bit BGRX and all overlays (labels, sampling area, mask, colour strokes,
sketch) composited into one premultiplied BGRA buffer, and updates only the box that an
edit touched. An engine preview is kept as patches (small pyramids) over the rectangles
where it differs from the picture, the hole (:func:`nonzero_rects`), so each stage of a fill
costs what its hole costs, not what its box covers. A picture
with a colour profile other than sRGB is shown converted to sRGB (:mod:`app.display_colour`);
the document's pixels stay as they are. It holds no Qt objects: its buffers are numpy
arrays, which the canvas wraps when painting, without copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from app.display_colour import display_transform
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Document, Layer
from engines.base import UNLABELLED
from engines.region import Box

MIN_LEVEL_SIDE = 192
RECT_TILE = 64  # px: the grid on which nonzero_rects finds the hole
OVERLAY_BAND_PIXELS = 1 << 20  # overlays are composited in bands of about this many pixels


@dataclass
class OverlayStyle:
    """Colours (RGB) and opacities of the overlays; ``visible`` switches each one."""

    mask_rgb: tuple[int, int, int] = (255, 40, 90)
    mask_opacity: float = 0.5
    sketch_rgb: tuple[int, int, int] = (255, 230, 0)
    include_rgb: tuple[int, int, int] = (40, 200, 80)
    exclude_rgb: tuple[int, int, int] = (230, 40, 40)
    sampling_opacity: float = 0.35
    label_opacity: float = 0.45
    color_opacity: float = 0.9
    palette: np.ndarray = field(default_factory=lambda: default_palette(256))
    visible: dict[Layer, bool] = field(default_factory=lambda: {
        Layer.MASK: True, Layer.SKETCH: True, Layer.COLOR: True, Layer.LABELS: True,
        Layer.SAMPLING: True})


def default_palette(count: int) -> np.ndarray:
    """``(count, 3)`` uint8 RGB: well-separated colours (golden-ratio hues), deterministic."""
    hues = (np.arange(count) * 0.618033988749895) % 1.0
    hsv = np.stack([hues * 179, np.full(count, 200), np.full(count, 230)], axis=1)
    return cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]


def nonzero_rects(layer: np.ndarray, box: Box, tile: int = RECT_TILE) -> list[Box]:
    """Rectangles inside ``box`` that together cover every nonzero pixel of ``layer`` (a 2-D
    array of the whole picture, e.g. the mask) within it, without overlapping: the squares of
    a ``tile``-pixel grid (from the picture's corner) that hold any, cut to ``box``, joined
    along each row of squares and then down where runs line up. Costs one pass over ``box``.
    """
    rects: list[Box] = []
    above: dict[tuple[int, int], int] = {}  # (left, right) of a run in the row above: index
    first = box.left // tile * tile  # the grid column where the box begins
    count = -(-(box.right - first) // tile)
    for top in range(box.top // tile * tile, box.bottom, tile):
        top, bottom = max(top, box.top), min(top + tile, box.bottom)
        squares = np.zeros(count * tile, bool)
        squares[box.left - first:box.right - first] = layer[top:bottom,
                                                            box.left:box.right].any(axis=0)
        occupied = np.flatnonzero(squares.reshape(count, tile).any(axis=1))
        here: dict[tuple[int, int], int] = {}
        if occupied.size:
            breaks = np.flatnonzero(np.diff(occupied) > 1)
            starts = np.concatenate((occupied[:1], occupied[breaks + 1]))
            ends = np.concatenate((occupied[breaks], occupied[-1:])) + 1
            for start, end in zip(starts.tolist(), ends.tolist()):
                key = (max(box.left, first + start * tile), min(box.right, first + end * tile))
                if key in above:
                    index = above[key]
                    rects[index] = Box(rects[index].top, key[0], bottom, key[1])
                else:
                    index = len(rects)
                    rects.append(Box(top, key[0], bottom, key[1]))
                here[key] = index
        above = here
    return rects


def add_box(boxes: list[Box], box: Box) -> None:
    """Add ``box`` to ``boxes``, boxes waiting to be rendered that never overlap, so that no
    pixel is rendered twice. A waiting box that ``box`` meets absorbs it where their union is
    no larger than both, and the union is tried again with every other box (so one that
    joins two waiting boxes merges all three); what is left of ``box`` outside the boxes it
    does not merge with is added in pieces."""
    merged = True
    while merged:
        merged = False
        for index, waiting in enumerate(boxes):
            union = waiting.union(box)
            if _area(union) <= _area(waiting) + _area(box):
                del boxes[index]
                box, merged = union, True
                break
    pieces = [box]
    for waiting in boxes:
        pieces = [part for piece in pieces for part in _outside(piece, waiting)]
    boxes.extend(pieces)


def _area(box: Box) -> int:
    return box.height * box.width


def _outside(box: Box, other: Box) -> list[Box]:
    """The parts of ``box`` outside ``other``: up to four boxes (above, below, then left
    and right of it)."""
    if not box.overlaps(other):
        return [box]
    top, bottom = max(box.top, other.top), min(box.bottom, other.bottom)
    parts = [Box(box.top, box.left, other.top, box.right) if box.top < other.top else None,
             Box(other.bottom, box.left, box.bottom, box.right)
             if other.bottom < box.bottom else None,
             Box(top, box.left, bottom, other.left) if box.left < other.left else None,
             Box(top, other.right, bottom, box.right) if other.right < box.right else None]
    return [part for part in parts if part is not None]


def _within(inner: Box, outer: Box) -> tuple[slice, slice]:
    """The slices of ``inner`` in an array that covers ``outer``."""
    return (slice(inner.top - outer.top, inner.bottom - outer.top),
            slice(inner.left - outer.left, inner.right - outer.left))


def _kept(target: np.ndarray, result: np.ndarray) -> None:
    """After an OpenCV call given ``dst=target`` (a view into a display buffer, written in
    place to spare a full-size temporary): copy ``result`` in if OpenCV made a new array."""
    if result.ctypes.data != target.ctypes.data:
        target[...] = result


def _over(below: np.ndarray, above: np.ndarray) -> None:
    """Premultiplied BGRA ``above`` over ``below`` (both ``(h, w, 4)`` uint8), into
    ``below``: ``above + below * (255 - alpha) / 255``, rounded to nearest (OpenCV: 3x
    numpy's speed)."""
    keep = 255 - above[..., 3]
    _kept(below, cv2.multiply(below, cv2.merge((keep, keep, keep, keep)), dst=below,
                              scale=1 / 255))
    _kept(below, cv2.add(above, below, dst=below))


@dataclass(frozen=True)
class PreparedPreview:
    """An engine stage converted for display (:meth:`ViewCache.prepare_preview`): the
    full-size RGB ``image``, its ``box``, and per grid rectangle its BGRX pixels at every
    level."""

    image: np.ndarray
    box: Box
    patches: dict[Box, list[np.ndarray]]


@dataclass
class Level:
    """One pyramid level: ``factor`` = 2**k, buffers of shape ``(ceil(H/f), ceil(W/f), 4)``."""

    factor: int
    base: np.ndarray  # BGRX, for QImage.Format_RGB32
    overlay: np.ndarray  # premultiplied BGRA, for QImage.Format_ARGB32_Premultiplied


class ViewCache:
    """Keeps the display pyramids of a :class:`Document` up to date.

    Call :meth:`update` with the layer and box a change touched (the canvas subscribes it to
    the document's change notifications); :meth:`set_preview` shows an engine result.
    """

    def __init__(self, document: Document, style: OverlayStyle | None = None) -> None:
        self.document = document
        self.style = style or OverlayStyle()
        self.show_preview = True
        self.show_overlays = True
        self.show_original = False  # the base shows the picture as opened where it differs
        self._original_box: Box | None = None  # what the base shows of the original
        self.preview_box: Box | None = None
        self._preview_source: np.ndarray | None = None
        # where the preview differs from the picture: rectangle (on the coarsest level's grid,
        # so each halves exactly as the base does) -> its BGRX pixels at every level
        self._preview_patches: dict[Box, list[np.ndarray]] = {}
        self._overlay_blank = True  # the overlay buffers are all zero, as allocated
        self._pair: tuple[bytes, np.ndarray] | None = None  # see _pair_table
        self.to_display = display_transform(document.metadata.icc_profile)
        height, width = document.height, document.width
        self.levels: list[Level] = []
        factor = 1
        while True:
            h, w = -(-height // factor), -(-width // factor)
            self.levels.append(Level(factor, np.zeros((h, w, 4), np.uint8),
                                     np.zeros((h, w, 4), np.uint8)))
            if min(h, w) <= MIN_LEVEL_SIDE * 2 or factor >= 64:
                break
            factor *= 2
        self.refresh()

    # ------------------------------------------------------------------ public
    def refresh(self) -> None:
        """Rebuild every buffer of the picture and the overlays."""
        self._render_base(self._whole())
        self.refresh_overlay()

    def refresh_overlay(self) -> None:
        """Rebuild the overlay buffers (after a style or palette change)."""
        self._render_overlay(self._whole())

    def update(self, layer: Layer, box: Box, preview: bool = True) -> None:
        """Re-render what ``box`` of ``layer`` affects, at every level. ``preview`` False:
        the preview's patches that a change of the picture meets are left as they are (the
        preview is about to be cleared)."""
        if layer is Layer.IMAGE:
            self._render_base(box)
            for rect in [r for r in self._preview_patches if preview and r.overlaps(box)]:
                self._render_patch(rect)  # the picture around the result changed
        else:
            self._render_overlay(box)

    def set_preview(self, image: np.ndarray | None, box: Box | None,
                    dirty: Sequence[Box] | None = None) -> None:
        """Show ``image`` (full-size RGB) inside ``box`` over the picture, or clear it:
        :meth:`prepare_preview` then :meth:`show_prepared`, here and now.

        ``dirty``: rectangles outside which ``image`` equals the document's picture (an engine
        changes the hole only; see :func:`nonzero_rects`), default all of ``box``. Only they
        are converted and kept, at every level; elsewhere the picture shows. While a preview
        shows, the mask overlay under it is hidden so the fill can be seen.
        """
        prepared = None
        if image is not None and box is not None:
            prepared = self.prepare_preview(image, box, dirty)
        self.show_prepared(prepared)

    def prepare_preview(self, image: np.ndarray, box: Box,
                        dirty: Sequence[Box] | None = None) -> PreparedPreview:
        """Convert ``image`` inside ``box`` (see :meth:`set_preview`) into display patches,
        without showing them. Safe to call on another thread than the one that shows and
        edits: it reads the document's picture only where a patch's square reaches past
        ``box``, and the result is only swapped in by :meth:`show_prepared` (a preview is
        dropped anyway when the picture changes)."""
        parts = [box] if dirty is None else [rect.intersection(box) for rect in dirty]
        rects = dict.fromkeys(self._on_grid(part) for part in parts if part is not None)
        return PreparedPreview(image, box, {rect: self._patch(rect, image, box)
                                            for rect in rects})

    def show_prepared(self, prepared: PreparedPreview | None,
                      render: bool = True) -> list[Box]:
        """Show a preview made by :meth:`prepare_preview` (None clears it): the patches
        are swapped in; the overlay is recomposited only where the mask shows and the
        preview box changed. Returns those rectangles of the overlay, recomposited here
        unless ``render`` is False (the caller renders them, with its other changes of the
        overlay: see :meth:`update`)."""
        previous = self.preview_box
        self.preview_box, self._preview_source, self._preview_patches = None, None, {}
        if prepared is not None:
            self.preview_box, self._preview_source = prepared.box, prepared.image
            self._preview_patches = dict(prepared.patches)
        if self.preview_box == previous:
            return []
        rects = self._mask_area(previous, self.preview_box)
        if render:
            for rect in rects:
                self._render_overlay(rect)
        return rects

    def preview_patches(self, index: int) -> list[tuple[np.ndarray, Box]]:
        """For painting level ``index``: each patch of the preview as (its contiguous BGRX
        pixels, where they lie in the level's pixels)."""
        level = self.levels[index]
        return [(buffers[index], self._level_box(rect, level.factor, level))
                for rect, buffers in self._preview_patches.items()]

    @property
    def preview_levels(self) -> list[np.ndarray]:
        """What the preview shows at each level (finest first) over the level's cover of
        ``preview_box``: the picture with the patches over it (copies, for inspection;
        empty without a preview)."""
        if self.preview_box is None:
            return []
        shown = []
        for index, level in enumerate(self.levels):
            cover = self._level_box(self.preview_box, level.factor, level)
            pixels = level.base[cover.slices].copy()
            for buffer, placed in self.preview_patches(index):
                common = placed.intersection(cover)
                if common is not None:
                    pixels[_within(common, cover)] = buffer[_within(common, placed)]
            shown.append(pixels)
        return shown

    def set_show_preview(self, show: bool) -> None:
        """Show or hide the preview (holding the "original" key hides it)."""
        if show != self.show_preview:
            self.show_preview = show
            self._rerender_mask_area(self.preview_box)

    def set_show_original(self, show: bool) -> None:
        """Show the picture as opened instead of as it is now (holding the "original" key).
        Pressed, only the tiles the document kept from before their first change are
        converted (no copy of the whole original is made); released, what was shown of the
        original is re-rendered from the picture."""
        if show == self.show_original:
            return
        self.show_original = show
        if not show:
            box, self._original_box = self._original_box, None
            if box is not None:
                self._render_base(box)
            return
        for area, pixels in self.document.original_tiles(self._whole()):
            self._convert_original(area, area, pixels)
            self._cascade(area, [level.base for level in self.levels])

    def _rerender_mask_area(self, *boxes: Box | None) -> None:
        """Re-render the overlay where the mask shows (or is hidden) inside ``boxes``."""
        for rect in self._mask_area(*boxes):
            self._render_overlay(rect)

    def _mask_area(self, *boxes: Box | None) -> list[Box]:
        """Rectangles, not overlapping, covering the mask inside ``boxes``
        (:func:`nonzero_rects`)."""
        rects: list[Box] = []
        if not self.document.has_layer(Layer.MASK):
            return rects
        earlier: list[Box] = []
        for box in boxes:  # the boxes may overlap: each adds only its parts outside the others
            if box is None:
                continue
            parts = [box]
            for other in earlier:
                parts = [part for piece in parts for part in _outside(piece, other)]
            for part in parts:
                rects.extend(nonzero_rects(self.document.mask, part))
            earlier.append(box)
        return rects

    def preview_visible(self) -> bool:
        return self.show_preview and self.preview_box is not None

    def level_for(self, zoom: float) -> int:
        """The level to paint at ``zoom`` (device px per image px: the view's zoom times the
        screen's device pixel ratio): the coarsest that still has at least one buffer pixel
        per device pixel."""
        index = 0
        for i, level in enumerate(self.levels):
            if zoom * level.factor <= 1.0 + 1e-6:
                index = i
        return index

    # ---------------------------------------------------------------- internals
    def _whole(self) -> Box:
        return Box(0, 0, self.document.height, self.document.width)

    def _level_box(self, box: Box, factor: int, level: Level) -> Box:
        h, w = level.base.shape[:2]
        return Box(box.top // factor, box.left // factor,
                   min(h, -(-box.bottom // factor)), min(w, -(-box.right // factor)))

    def _cascade(self, box: Box, buffers: Sequence[np.ndarray], area: Box | None = None) -> None:
        """Propagate ``box`` (picture pixels) of ``buffers[0]`` down ``buffers`` (one per level)
        by 2x area averaging. Each buffer covers ``area`` at its level (default: the whole
        picture); ``area`` must lie on the coarsest level's grid."""
        for index in range(1, len(buffers)):
            finer, level = self.levels[index - 1], self.levels[index]
            lbox = self._level_box(box, level.factor, level)
            if lbox.height <= 0 or lbox.width <= 0:
                return
            sh, sw = finer.base.shape[:2]
            ft, fl = (0, 0) if area is None else (area.top // finer.factor,
                                                  area.left // finer.factor)
            top, left = (0, 0) if area is None else (area.top // level.factor,
                                                     area.left // level.factor)
            region = buffers[index - 1][lbox.top * 2 - ft:min(sh, lbox.bottom * 2) - ft,
                                        lbox.left * 2 - fl:min(sw, lbox.right * 2) - fl]
            target = buffers[index][lbox.top - top:lbox.bottom - top,
                                    lbox.left - left:lbox.right - left]
            _kept(target, cv2.resize(region, (lbox.width, lbox.height), dst=target,
                                     interpolation=cv2.INTER_AREA))

    def _render_base(self, box: Box) -> None:
        """Convert ``box`` of the picture into the base buffers (while the original shows:
        of the picture as opened)."""
        target = self.levels[0].base[box.slices]
        _kept(target, cv2.cvtColor(self._shown(self.document.image[box.slices]),
                                   cv2.COLOR_RGB2BGRA, dst=target))
        if self.show_original:  # an edit while the original shows: restored on release
            self._render_original(box)
        self._cascade(box, [level.base for level in self.levels])

    def _render_original(self, box: Box) -> None:
        """Convert into level 0 of the base the parts inside ``box`` of the tiles kept as
        opened."""
        for area, pixels in self.document.original_tiles(box):
            self._convert_original(area.intersection(box), area, pixels)

    def _convert_original(self, part: Box, area: Box, pixels: np.ndarray) -> None:
        """Convert ``part`` of a tile kept as opened (``pixels``, lying at ``area``) into
        level 0 of the base, and remember it for the release."""
        self._original_box = part if self._original_box is None else self._original_box.union(
            part)
        target = self.levels[0].base[part.slices]
        rgb = np.ascontiguousarray(pixels[_within(part, area)])
        _kept(target, cv2.cvtColor(self._shown(rgb), cv2.COLOR_RGB2BGRA, dst=target))

    def _shown(self, rgb: np.ndarray) -> np.ndarray:
        return rgb if self.to_display is None else self.to_display(rgb)

    def _on_grid(self, box: Box) -> Box:
        """``box`` grown to the coarsest level's grid (within the picture)."""
        step = self.levels[-1].factor
        return Box(box.top // step * step, box.left // step * step,
                   min(self.document.height, -(-box.bottom // step) * step),
                   min(self.document.width, -(-box.right // step) * step))

    def _render_patch(self, rect: Box) -> None:
        """Convert ``rect`` (on the grid) of the shown preview again (the picture around it
        changed)."""
        self._preview_patches[rect] = self._patch(rect, self._preview_source, self.preview_box)

    def _patch(self, rect: Box, image: np.ndarray, box: Box) -> list[np.ndarray]:
        """``rect`` (on the grid) of ``image`` inside ``box``, the picture outside it, as
        BGRX pixels at every level."""
        inside = rect.intersection(box)
        if inside == rect:
            rgb = image[rect.slices]
        else:
            rgb = self.document.image[rect.slices].copy()
            rgb[_within(inside, rect)] = image[inside.slices]
        buffers = [cv2.cvtColor(np.ascontiguousarray(self._shown(rgb)), cv2.COLOR_RGB2BGRA)]
        for level in self.levels[1:]:
            placed = self._level_box(rect, level.factor, level)
            buffers.append(np.empty((placed.height, placed.width, 4), np.uint8))
        self._cascade(rect, buffers, rect)
        return buffers

    def _luts(self) -> dict[Layer, np.ndarray]:
        """Premultiplied BGRA (256, 4) uint8 lookup tables of the single-channel layers."""
        style = self.style
        ramp = np.arange(256, dtype=np.float32) / 255.0

        def table(colours: np.ndarray, alpha: np.ndarray) -> np.ndarray:
            lut = np.zeros((256, 4), np.float32)
            lut[:, :3] = colours[:, ::-1] * alpha[:, None]  # RGB -> BGR, premultiplied
            lut[:, 3] = alpha * 255.0
            return np.rint(lut).astype(np.uint8)

        def flat(rgb: tuple[int, int, int]) -> np.ndarray:
            return np.tile(np.array(rgb, np.float32), (256, 1))

        labels_alpha = np.full(256, style.label_opacity, np.float32)
        labels_alpha[UNLABELLED] = 0.0
        sampling_colours = np.zeros((256, 3), np.float32)
        sampling_colours[SAMPLE_INCLUDE] = style.include_rgb
        sampling_colours[SAMPLE_EXCLUDE] = style.exclude_rgb
        sampling_alpha = np.zeros(256, np.float32)
        sampling_alpha[[SAMPLE_INCLUDE, SAMPLE_EXCLUDE]] = style.sampling_opacity
        return {
            Layer.LABELS: table(style.palette[:256].astype(np.float32), labels_alpha),
            Layer.SAMPLING: table(sampling_colours, sampling_alpha),
            Layer.MASK: table(flat(style.mask_rgb), ramp * style.mask_opacity),
            Layer.SKETCH: table(flat(style.sketch_rgb), ramp),
        }

    def _pair_table(self, luts: dict[Layer, np.ndarray]) -> np.ndarray:
        """``(65536, 4)`` uint8: the mask's table "over" the labels' (:func:`_over`), at
        ``label * 256 + mask value``, so that where both show they are composited with one
        lookup instead of two and a blend: the same integers (OpenCV's scaled multiply
        rounds the same way whatever the array). Kept until the tables change."""
        key = luts[Layer.LABELS].tobytes() + luts[Layer.MASK].tobytes()
        if self._pair is None or self._pair[0] != key:
            below = np.repeat(luts[Layer.LABELS][:, None], 256, axis=1)  # (label, mask, 4)
            _over(below, np.repeat(luts[Layer.MASK][None], 256, axis=0))
            self._pair = key, below.reshape(65536, 4)
        return self._pair[1]

    def _render_overlay(self, box: Box) -> None:
        """Composite the overlays of ``box`` (bottom to top: labels, sampling area, mask,
        colour strokes, sketch) into level 0 with integer "over", then cascade. The mask is
        left out under a preview that shows. Done in bands of about
        :data:`OVERLAY_BAND_PIXELS`: the temporaries of a band are small and their memory is
        reused, where full-size ones of a large picture cost the GUI thread a first touch of
        fresh memory each time (a quarter of a second for a 24-megapixel picture)."""
        style, doc = self.style, self.document
        luts = self._luts()
        layers = [layer for layer in (Layer.LABELS, Layer.SAMPLING, Layer.MASK, Layer.COLOR,
                                      Layer.SKETCH)
                  if style.visible.get(layer, True) and doc.has_layer(layer)]
        hidden = (box.intersection(self.preview_box) if self.preview_visible() else None)
        blank = self._overlay_blank
        rows = max(1, OVERLAY_BAND_PIXELS // box.width)
        drawn = False
        for top in range(box.top, box.bottom, rows):
            band = Box(top, box.left, min(top + rows, box.bottom), box.right)
            if self._composite(band, layers, luts, hidden):
                drawn = True
            elif not blank:
                self.levels[0].overlay[band.slices] = 0
        if not drawn and blank:
            return  # nothing to show where nothing shows yet (a picture just opened)
        self._overlay_blank = False
        self._cascade(box, [level.overlay for level in self.levels])

    def _composite(self, box: Box, layers: list[Layer], luts: dict[Layer, np.ndarray],
                   hidden: Box | None) -> bool:
        """Composite ``layers`` (bottom to top) of ``box`` into level 0 of the overlay, the
        mask left out inside ``hidden``; returns whether anything was drawn (if not, the
        buffer was left as it was). Labels with the mask right over them take one lookup
        (:meth:`_pair_table`)."""
        rows, cols = box.slices
        style, doc = self.style, self.document
        target = self.levels[0].overlay[rows, cols]  # composited in place: premultiplied BGRA
        drawn = False

        def over(src: np.ndarray) -> None:
            nonlocal drawn
            if drawn:
                _over(target, src)
            else:
                target[...] = src
                drawn = True

        def over_table(table: np.ndarray, values: np.ndarray) -> None:
            nonlocal drawn
            if drawn:
                _over(target, np.take(table, values, axis=0))  # 5x faster than [values]
            else:  # the first layer straight into the buffer
                np.take(table, values, axis=0, out=target, mode="clip")
                drawn = True

        hidden = None if hidden is None else box.intersection(hidden)
        labels = None  # labels to draw, with the mask in one lookup if it is drawn next

        def draw_labels() -> None:
            nonlocal labels
            if labels is not None:
                over_table(luts[Layer.LABELS], labels)
                labels = None

        for layer in layers:
            values = doc.layer(layer)[rows, cols]
            if layer is Layer.MASK and hidden is not None:
                values = values.copy()
                values[_within(hidden, box)] = 0
            if layer is Layer.COLOR:
                alpha = values[..., 3]
                if not alpha.any():
                    continue
                draw_labels()
                a = alpha.astype(np.uint16) * round(style.color_opacity * 255) // 255
                src = np.empty(values.shape, np.uint8)
                src[..., :3] = (values[..., 2::-1] * a[..., None] // 255).astype(np.uint8)
                src[..., 3] = a.astype(np.uint8)
                over(src)
            elif layer is Layer.LABELS:
                if values.min() < UNLABELLED:  # some labelled (255 is the largest id)
                    labels = values
            elif not values.any():
                continue
            elif layer is Layer.MASK and labels is not None:  # the first drawn: straight in
                index = np.left_shift(labels, 8, dtype=np.uint16)
                np.bitwise_or(index, values, out=index)
                np.take(self._pair_table(luts), index, axis=0, out=target, mode="clip")
                labels, drawn = None, True
            else:
                draw_labels()
                over_table(luts[layer], values)
        draw_labels()
        return drawn
