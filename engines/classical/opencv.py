"""OpenCV's diffusion-based fills: Telea's fast marching method and Navier-Stokes.

Both work with no download and suit thin holes (scratches, text, small blemishes). Each yields
a coarse fill computed at a quarter of the resolution first, then the full-resolution fill;
colour strokes in the hole shift the colour of both toward theirs
(:func:`engines.guidance.follow_colour_hints`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import cv2
import numpy as np

from engines.base import (
    CancelToken,
    Engine,
    Guidance,
    InpaintRequest,
    InputError,
    OptionSpec,
    Region,
    RegionStage,
    Stage,
)
from engines.guidance import follow_colour_hints
from engines.registry import register


class OpenCVEngine(Engine):
    """Shared body of the two ``cv2.inpaint`` methods; subclasses pick the flag."""

    flag: ClassVar[int]
    coarse_factor: ClassVar[int] = 4
    guidance = frozenset({Guidance.COLOR})
    option_specs = (OptionSpec("radius", "Radius", 5, "neighbourhood (px) each hole pixel is "
                               "filled from", minimum=1, maximum=50),)

    def run(self, request: InpaintRequest, cancel: CancelToken | None = None) -> Iterator[Stage]:
        """As :meth:`Engine.run`; a hole covering the whole picture is refused first
        (:class:`InputError`): no crop can hold more context then, only unmasking helps."""
        if request.hole_everywhere:
            raise InputError(f"no source left for {self.title}: the hole covers the whole "
                             "area it is filled from (the whole picture), so there is "
                             "nothing to fill it from; unmask some of the picture")
        yield from super().run(request, cancel)

    def inpaint_region(self, region: Region, cancel: CancelToken) -> Iterator[RegionStage]:
        """Raises :class:`InputError` when the hole covers the whole region (the picture
        is refused earlier, :meth:`run`: this is a crop around the hole, or a picture
        shrunk to work on): a diffusion fill has no known pixel to spread in (OpenCV would
        leave the hole as it is)."""
        if region.hole.all():
            raise InputError(f"no source left for {self.title}: the hole covers the whole "
                             "area it is filled from (the image, or the crop around the "
                             "hole); unmask some context or keep more context around the hole")
        bgr = np.ascontiguousarray(region.image[..., ::-1])
        hole = region.hole.astype(np.uint8) * 255
        radius = float(self.engine_option(region, "radius"))
        height, width = hole.shape
        small = (max(1, width // self.coarse_factor), max(1, height // self.coarse_factor))
        if min(height, width) >= 4 * self.coarse_factor:
            small_bgr = cv2.resize(bgr, small, interpolation=cv2.INTER_AREA)
            small_hole = cv2.resize(hole, small, interpolation=cv2.INTER_AREA)
            small_hole = np.where(small_hole > 0, 255, 0).astype(np.uint8)
            coarse = cv2.inpaint(small_bgr, small_hole,
                                 max(1.0, radius / self.coarse_factor), self.flag)
            coarse = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
            yield RegionStage("coarse", self._hinted(coarse, region), 0.2)
            cancel.raise_if_cancelled()
        refined = cv2.inpaint(bgr, hole, radius, self.flag)
        yield RegionStage("refined", self._hinted(refined, region), 1.0, final=True)

    @staticmethod
    def _hinted(bgr: np.ndarray, region: Region) -> np.ndarray:
        """A BGR fill as the RGB stage to yield, shifted toward the colour strokes."""
        rgb = np.ascontiguousarray(bgr[..., ::-1])  # a copy (a reversed view is not contiguous)
        return follow_colour_hints(rgb, region.hole, region.color, in_place=True)


@register
class TeleaEngine(OpenCVEngine):
    name = "telea"
    title = "OpenCV Telea"
    description = "Fast marching fill (Telea 2004); instant, best for thin scratches and text."
    flag = cv2.INPAINT_TELEA


@register
class NavierStokesEngine(OpenCVEngine):
    name = "ns"
    title = "OpenCV Navier-Stokes"
    description = "Fluid-dynamics diffusion fill (Bertalmio 2001); smooth, for thin holes."
    flag = cv2.INPAINT_NS
