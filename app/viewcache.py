"""Display buffers for the canvas: the picture and the composited overlays as mip pyramids.

Painting a 24-megapixel image scaled to a window every frame is slow; painting a buffer of
about the window's size is not. :class:`ViewCache` keeps, for each power-of-two level, the
picture as 32-bit BGRX and all overlays (labels, sampling area, mask, colour strokes,
sketch) composited into one premultiplied BGRA buffer, and updates only the box that an
edit touched. A picture with a colour profile other than sRGB is shown converted to sRGB
(:mod:`app.display_colour`); the document's pixels stay as they are. It holds no Qt
objects: buffers come from an ``allocate(h, w)`` function, which the canvas points at
``QImage`` memory (via qimage2ndarray) so painting needs no copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from app.display_colour import display_transform
from app.document import SAMPLE_EXCLUDE, SAMPLE_INCLUDE, Document, Layer
from engines.base import UNLABELLED
from engines.region import Box

Allocate = Callable[[int, int], np.ndarray]  # (height, width) -> (h, w, 4) uint8 buffer
MIN_LEVEL_SIDE = 192


def _numpy_allocate(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width, 4), np.uint8)


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

    def __init__(self, document: Document, style: OverlayStyle | None = None,
                 allocate: Allocate = _numpy_allocate) -> None:
        self.document = document
        self.style = style or OverlayStyle()
        self._allocate = allocate
        self.show_preview = True
        self.show_overlays = True
        self.show_original = False  # the base shows Document.original where it differs
        self._original_box: Box | None = None  # what the base shows of the original
        self.preview_box: Box | None = None
        self.preview_levels: list[np.ndarray] = []
        self.to_display = display_transform(document.metadata.icc_profile)
        height, width = document.height, document.width
        self.levels: list[Level] = []
        factor = 1
        while True:
            h, w = -(-height // factor), -(-width // factor)
            self.levels.append(Level(factor, allocate(h, w), allocate(h, w)))
            if min(h, w) <= MIN_LEVEL_SIDE * 2 or factor >= 64:
                break
            factor *= 2
        self.refresh()

    # ------------------------------------------------------------------ public
    def refresh(self) -> None:
        """Rebuild every buffer (after a style change or a new preview)."""
        whole = Box(0, 0, self.document.height, self.document.width)
        self._render_base(whole)
        self._render_overlay(whole)

    def update(self, layer: Layer, box: Box) -> None:
        """Re-render what ``box`` of ``layer`` affects, at every level."""
        if layer is Layer.IMAGE:
            self._render_base(box)
            if self.preview_box is not None and box.overlaps(self.preview_box):
                self._render_preview()
        else:
            self._render_overlay(box)

    def set_preview(self, image: np.ndarray | None, box: Box | None) -> None:
        """Show ``image`` (full-size RGB) inside ``box`` over the picture, or clear it.

        While a preview shows, the mask overlay under it is hidden so the fill can be seen.
        """
        previous = self.preview_box
        if image is None or box is None:
            self.preview_box, self.preview_levels = None, []
        else:
            self.preview_box = box
            self._preview_source = image
            self._render_preview()
        self._rerender_mask_area(previous, self.preview_box)

    def set_show_preview(self, show: bool) -> None:
        """Show or hide the preview (holding the "original" key hides it)."""
        if show != self.show_preview:
            self.show_preview = show
            self._rerender_mask_area(self.preview_box, None)

    def set_show_original(self, show: bool) -> None:
        """Show the picture as opened instead of as it is now (holding the "original" key);
        only where they differ is re-rendered, both ways."""
        if show == self.show_original:
            return
        self.show_original = show
        box = self.document.changed_box() if show else self._original_box
        self._original_box = None  # while the original shows, _render_base records the box
        if box is not None:
            self._render_base(box)

    def _rerender_mask_area(self, *boxes: Box | None) -> None:
        present = [b for b in boxes if b is not None]
        if present:
            union = present[0]
            for b in present[1:]:
                union = union.union(b)
            self._render_overlay(union)

    def preview_visible(self) -> bool:
        return self.show_preview and self.preview_box is not None

    def level_for(self, zoom: float) -> int:
        """The level to paint at ``zoom`` (screen px per image px): the coarsest that still
        has at least one buffer pixel per screen pixel."""
        index = 0
        for i, level in enumerate(self.levels):
            if zoom * level.factor <= 1.0 + 1e-6:
                index = i
        return index

    # ---------------------------------------------------------------- internals
    def _level_box(self, box: Box, factor: int, level: Level) -> Box:
        h, w = level.base.shape[:2]
        return Box(box.top // factor, box.left // factor,
                   min(h, -(-box.bottom // factor)), min(w, -(-box.right // factor)))

    def _cascade(self, box: Box, attribute: str) -> None:
        """Propagate ``box`` of level 0's buffer down the pyramid by 2x area averaging."""
        for previous, level in zip(self.levels, self.levels[1:]):
            lbox = self._level_box(box, level.factor, level)
            if lbox.height <= 0 or lbox.width <= 0:
                return
            src = getattr(previous, attribute)
            sh, sw = src.shape[:2]
            region = src[lbox.top * 2:min(sh, lbox.bottom * 2), lbox.left * 2:min(sw, lbox.right * 2)]
            dst = getattr(level, attribute)
            dst[lbox.top:lbox.bottom, lbox.left:lbox.right] = cv2.resize(
                region, (lbox.width, lbox.height), interpolation=cv2.INTER_AREA)

    def _render_base(self, box: Box) -> None:
        rows, cols = box.slices
        source = self.document.image
        if self.show_original:  # an edit while the original shows: restored on release
            source = self.document.original
            self._original_box = box if self._original_box is None \
                else self._original_box.union(box)
        self.levels[0].base[rows, cols] = cv2.cvtColor(
            self._shown(source[rows, cols]), cv2.COLOR_RGB2BGRA)
        self._cascade(box, "base")

    def _shown(self, rgb: np.ndarray) -> np.ndarray:
        return rgb if self.to_display is None else self.to_display(rgb)

    def _render_preview(self) -> None:
        box = self.preview_box
        rows, cols = box.slices
        patch = cv2.cvtColor(np.ascontiguousarray(self._shown(self._preview_source[rows, cols])),
                             cv2.COLOR_RGB2BGRA)
        levels = [patch]
        while len(levels) < len(self.levels):
            h, w = levels[-1].shape[:2]
            if h < 2 or w < 2:
                break
            levels.append(cv2.resize(levels[-1], (-(-w // 2), -(-h // 2)),
                                     interpolation=cv2.INTER_AREA))
        self.preview_levels = levels

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

    def _render_overlay(self, box: Box) -> None:
        """Composite the overlays of ``box`` (bottom to top: labels, sampling area, mask,
        colour strokes, sketch) into level 0 with integer "over", then cascade."""
        rows, cols = box.slices
        style, doc = self.style, self.document
        luts = self._luts()
        out: np.ndarray | None = None  # premultiplied BGRA uint8

        def over(src: np.ndarray) -> None:
            nonlocal out
            if out is None:
                out = src
                return
            keep = (255 - src[..., 3:4]).astype(np.uint16)
            out = src + ((out.astype(np.uint16) * keep + 127) // 255).astype(np.uint8)

        def shown(layer: Layer) -> bool:
            return style.visible.get(layer, True) and doc.has_layer(layer)

        for layer in (Layer.LABELS, Layer.SAMPLING, Layer.MASK, Layer.COLOR, Layer.SKETCH):
            if not shown(layer) or (layer is Layer.MASK and self.preview_visible()):
                continue
            values = doc.layer(layer)[rows, cols]
            if layer is Layer.COLOR:
                alpha = values[..., 3]
                if not alpha.any():
                    continue
                a = alpha.astype(np.uint16) * round(style.color_opacity * 255) // 255
                src = np.empty(values.shape, np.uint8)
                src[..., :3] = (values[..., 2::-1] * a[..., None] // 255).astype(np.uint8)
                src[..., 3] = a.astype(np.uint8)
                over(src)
            elif layer is Layer.LABELS:
                if (values != UNLABELLED).any():
                    over(np.take(luts[layer], values, axis=0))  # 5x faster than [values]
            elif values.any():
                over(np.take(luts[layer], values, axis=0))
        target = self.levels[0].overlay[rows, cols]
        if out is None:
            target[...] = 0
        else:
            target[...] = out
        self._cascade(box, "overlay")
