"""Estimating a watermark's mask from many images that carry it (Dekel et al., CVPR 2017).

"On the effectiveness of visible watermarks" observes that a watermark stamped at the same
place on many photos is the only structure they share: the per-pixel *median* of the images'
gradients keeps the watermark's gradients while the varying backgrounds cancel out. This
module follows their "estimating the matted watermark" step:

1. each image's luminance gradients (3x3 Sobel, x and y) are taken at a working size;
2. their per-pixel median over the images is the watermark's gradient field;
3. its magnitude, thresholded (Otsu, with a floor above the residual background noise) and
   closed morphologically, marks the watermark's strokes; enclosed areas are added where the
   watermark covers them (a filled logo), judged on
4. the Poisson reconstruction of the median gradients (the matted watermark
   ``alpha * (W - typical background)`` in grey levels; also the preview);
5. the mask is brought to full size and grown by ``margin`` pixels to cover soft edges.

Choices and their trade-offs:

* Same position, same size. The method assumes the watermark sits at the same pixels in
  every image. Images of the most common size are used; images of other sizes are left out
  of the estimate and listed in :attr:`WatermarkEstimate.skipped` (placing a mask on images
  of another size is :func:`place_mask`'s job, used by the folder clearing).
* Bounded memory. Images are read one at a time. Gradients are kept as int16 for a group of
  images whose size fits ``memory_budget``; each full group is reduced to its median and the
  final estimate is the median of the group medians (Rousseeuw and Bassett's *remedian*).
  With all images in one group (up to 64 images of 1000x700 with the default budget) the
  median is exact; with several groups it is an approximation that stays robust because each
  group median already removes most of the background. Images larger than ``max_side`` are
  estimated at a reduced working size (fine strokes thinner than a working pixel may then be
  under-segmented; the ``margin`` dilation at full size compensates for a pixel or two).
* Luminance only. A coloured watermark whose luminance equals that of the typical background
  has weak luminance gradients; such (rare) marks are better painted by hand.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engines.base import CancelToken, InputError
from engines.fileio import count_noun, image_size, list_images, read_rgb

ProgressCallback = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)
ImageSource = str | os.PathLike | np.ndarray

MIN_IMAGES = 5
LEFT_OUT_SHOWN = 5  # pictures an error names before "and N more"
SOBEL_GAIN = 8.0  # a 3x3 Sobel of a unit ramp is 8: dividing gives grey levels per pixel


@dataclass(frozen=True, eq=False)
class WatermarkEstimate:
    """The result of :func:`estimate_watermark_mask`.

    Attributes:
        mask: ``(H, W)`` uint8, 255 = watermark pixel (grown by the margin), at the images' size.
        matted: ``(H, W)`` float32 reconstruction of the matted watermark in grey levels
            relative to the typical background (positive = brighter); for previews.
        size: ``(width, height)`` of the images the mask belongs to.
        used: how many images went into the estimate.
        skipped: ``(name, reason)`` for every image left out.
        box: ``(x, y, width, height)`` bounding box of the mask, or ``None`` if nothing found.
    """

    mask: np.ndarray
    matted: np.ndarray
    size: tuple[int, int]
    used: int
    skipped: tuple[tuple[str, str], ...]
    box: tuple[int, int, int, int] | None

    @property
    def found(self) -> bool:
        """Whether any watermark pixel was found."""
        return self.box is not None


@dataclass(frozen=True)
class _Source:
    name: str
    item: ImageSource

    def load(self) -> np.ndarray:
        if isinstance(self.item, np.ndarray):
            return self.item
        return read_rgb(self.item)

    def size(self) -> tuple[int, int]:
        """``(width, height)`` from the header; raises :class:`OSError` (an
        :class:`~engines.fileio.ImageFileError` saying why) for a file that cannot be read,
        also a JPEG or PNG cut short after its header, refused in the loader's words
        (:func:`~engines.fileio.image_size` without ``cut_short_ok``), so that it is not
        counted among the readable pictures."""
        if isinstance(self.item, np.ndarray):
            return self.item.shape[1], self.item.shape[0]
        return image_size(self.item, cut_short_ok=False)


def _sources(images: ImageSource | Sequence[ImageSource]) -> list[_Source]:
    if isinstance(images, (str, os.PathLike)):
        return [_Source(p.name, p) for p in list_images(images)]
    if isinstance(images, np.ndarray):
        raise InputError("give several images (a folder or a list), not a single array")
    sources = []
    for index, item in enumerate(images):
        if isinstance(item, np.ndarray):
            if item.dtype != np.uint8 or item.ndim != 3 or item.shape[2] != 3:
                raise InputError(f"image {index + 1} must be (H, W, 3) uint8 RGB, "
                                 f"got {item.dtype} {item.shape}")
            sources.append(_Source(f"image {index + 1}", item))
        else:
            sources.append(_Source(Path(item).name, item))
    return sources


def left_out_note(skipped: Sequence[tuple[str, str]], shown: int | None = None) -> str:
    """What an estimate left out and why, e.g. ``"2 left out of the estimate: p4.jpg: the
    file is damaged (Truncated File Read); other.png: 200x150 differs from the common size
    160x120"``, from :attr:`WatermarkEstimate.skipped`-style ``(name, reason)`` pairs. At
    most ``shown`` of them (all when None), then ``" and 3 more"``; "" for none."""
    if not skipped:
        return ""
    shown = len(skipped) if shown is None else shown
    listed = "; ".join(f"{name}: {reason}" for name, reason in skipped[:shown])
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return f"{len(skipped)} left out of the estimate: {listed}{more}"


def _too_few(found: str, skipped: Sequence[tuple[str, str]]) -> InputError:
    """The error refusing an estimate: ``found`` (what was found and what is needed), then
    the pictures left out and why (:func:`left_out_note`, the first few)."""
    note = left_out_note(skipped, LEFT_OUT_SHOWN)
    return InputError(f"{found}. {note}" if note else found)


def _report(progress: ProgressCallback | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), message)


class _Remedian:
    """Per-pixel median of many int16 frames in bounded memory (median of group medians)."""

    def __init__(self, shape: tuple[int, ...], group: int) -> None:
        self._buffer = np.empty((group, *shape), np.int16)
        self._count = 0
        self._medians: list[np.ndarray] = []

    @staticmethod
    def _median(stack: np.ndarray) -> np.ndarray:
        """Median along axis 0 as float32, partitioning ``stack`` in place."""
        count = stack.shape[0]
        upper = count // 2
        stack.partition(upper, axis=0)  # one kth is several times faster than two
        middle = stack[upper].astype(np.float32)
        if count % 2:
            return middle
        return (stack[:upper].max(axis=0) + middle) * 0.5

    def add(self, frame: np.ndarray) -> None:
        self._buffer[self._count] = frame
        self._count += 1
        if self._count == len(self._buffer):
            self._medians.append(self._median(self._buffer))
            self._count = 0

    def result(self) -> np.ndarray:
        medians = list(self._medians)
        if self._count:
            medians.append(self._median(self._buffer[:self._count]))
        if len(medians) == 1:
            return medians[0]
        return self._median(np.stack(medians))


def luminance_gradients(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """3x3 Sobel gradients of the luminance of ``rgb`` at ``size`` = (w, h).

    Returns ``(h, w, 2)`` int16 (x then y derivative, Sobel units: 8 per grey level/pixel).
    """
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if (grey.shape[1], grey.shape[0]) != size:
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(grey, cv2.CV_16S, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    return np.dstack([gx, gy])


def reconstruct_from_gradients(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Least-squares (Poisson) image whose 3x3 Sobel gradients / 8 are ``gx``, ``gy``.

    Solved in the Fourier domain with periodic boundaries; the free constant is set so the
    median of the result is 0. Returns ``(h, w)`` float32.
    """
    height, width = gx.shape
    # a margin of zero gradient against wrap-around, up to a size the FFT is fast at
    rows = cv2.getOptimalDFTSize(height + height // 2 + 16)
    cols = cv2.getOptimalDFTSize(width + width // 2 + 16)
    pad_h, pad_w = (rows - height) // 2, (cols - width) // 2
    padding = ((pad_h, rows - height - pad_h), (pad_w, cols - width - pad_w))
    gx = np.pad(gx.astype(np.float32), padding)
    gy = np.pad(gy.astype(np.float32), padding)
    wy = 2 * np.pi * np.fft.fftfreq(rows)[:, None]
    wx = 2 * np.pi * np.fft.rfftfreq(cols)[None, :]
    # Sobel / 8 = central difference along one axis x [1 2 1] / 4 smoothing along the other
    dx = 1j * np.sin(wx) * (1 + np.cos(wy)) / 2
    dy = 1j * np.sin(wy) * (1 + np.cos(wx)) / 2
    # the Sobel filter reads I(x+1) - I(x-1) with the sign convention of cv2 (forward positive)
    numerator = np.conj(dx) * np.fft.rfft2(gx) + np.conj(dy) * np.fft.rfft2(gy)
    denominator = np.abs(dx) ** 2 + np.abs(dy) ** 2
    denominator[0, 0] = 1.0
    spectrum = numerator / (denominator + 1e-4)
    spectrum[0, 0] = 0.0
    result = np.fft.irfft2(spectrum, s=(rows, cols)).astype(np.float32)
    result = result[pad_h:pad_h + height, pad_w:pad_w + width]
    return result - np.float32(np.median(result))


def _otsu(values: np.ndarray, top: float) -> float:
    """Otsu's threshold of non-negative ``values`` quantised to 256 levels over ``[0, top]``."""
    quantised = np.clip(values * (255.0 / top), 0, 255).astype(np.uint8)
    level, _ = cv2.threshold(quantised.reshape(-1, 1), 0, 255,
                             cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(level) * top / 255.0


def _remove_small(binary: np.ndarray, min_area: int) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    keep = np.zeros(count, np.uint8)
    keep[1:] = (stats[1:, cv2.CC_STAT_AREA] >= min_area).astype(np.uint8)
    return keep[labels]


def _fill_covered_holes(core: np.ndarray, matted: np.ndarray, level: float) -> np.ndarray:
    """``core`` (0/1) with its enclosed holes added where ``|matted|`` is mostly above ``level``."""
    holes = (core == 0).astype(np.uint8)
    count, labels = cv2.connectedComponents(holes, connectivity=4)
    if count <= 1:
        return core
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    strong = (np.abs(matted) > level).astype(np.float64).ravel()
    sizes = np.bincount(labels.ravel(), minlength=count)
    covered = np.bincount(labels.ravel(), weights=strong, minlength=count)
    fill = covered >= 0.5 * np.maximum(sizes, 1)
    fill[0] = False
    fill[border] = False
    return np.maximum(core, fill[labels].astype(np.uint8))


def mask_from_median_gradients(gx: np.ndarray, gy: np.ndarray,
                               min_contrast: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """The watermark's core mask and matted reconstruction from its median gradients.

    ``gx``, ``gy``: float32 median gradients in grey levels per pixel. ``min_contrast``: the
    weakest gradient (grey levels per pixel) that can belong to the watermark. Returns
    ``(core, matted)``: ``core`` ``(h, w)`` uint8 0/1 (the strokes plus about one pixel),
    ``matted`` float32 as in :class:`WatermarkEstimate`.
    """
    magnitude = np.hypot(gx, gy)
    top = float(np.percentile(magnitude, 99.9))
    noise = float(np.median(magnitude))
    threshold = max(min_contrast, 4.0 * noise)
    if top > threshold:
        threshold = max(threshold, _otsu(magnitude, top))
    edges = (magnitude > threshold).astype(np.uint8)
    edges = _remove_small(edges, 6)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    core = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, kernel)
    matted = reconstruct_from_gradients(gx, gy)
    if core.any():
        contrast = np.abs(matted[core > 0])
        level = max(min_contrast, 0.5 * float(np.median(contrast)))
        core = _fill_covered_holes(core, matted, level)
    return core, matted


def estimate_watermark_mask(images: ImageSource | Sequence[ImageSource],
                            progress: ProgressCallback | None = None,
                            cancel: CancelToken | None = None, *,
                            min_images: int = MIN_IMAGES, margin: int = 2,
                            max_side: int = 2048, memory_budget: int = 256 << 20,
                            min_contrast: float = 5.0) -> WatermarkEstimate:
    """Estimate the mask of a watermark that several images carry at the same place.

    Args:
        images: a folder, or a sequence of image paths and/or ``(H, W, 3)`` uint8 RGB arrays.
            Files are read one at a time (see the module notes on memory).
        progress: called as ``progress(fraction, message)`` after each image and at the end.
        cancel: checked between images; :class:`~engines.base.Cancelled` is raised when set.
        min_images: the fewest usable images of one size to accept (the median needs several
            different backgrounds; 10 or more give clean masks).
        margin: pixels the mask is grown by around the watermark's strokes.
        max_side: the longest working side; larger images are estimated scaled down.
        memory_budget: bytes of gradients held at once (see the module notes).
        min_contrast: the weakest watermark edge to detect, in grey levels per pixel.

    Returns a :class:`WatermarkEstimate` (``found`` is False if no consistent structure was
    seen). Raises :class:`~engines.base.InputError` if fewer than ``min_images`` images of one
    size are readable (its message names the first few left out and why, as
    :func:`left_out_note` does), file errors for a missing folder.
    """
    cancel = cancel or CancelToken()
    sources = _sources(images)
    skipped: list[tuple[str, str]] = []
    sized: list[tuple[_Source, tuple[int, int]]] = []
    for source in sources:
        try:
            sized.append((source, source.size()))
        except OSError as exc:
            skipped.append((source.name, exc.strerror or str(exc)))
    if not sized:
        found = ("the one image given cannot be read" if len(sources) == 1 else
                 f"none of the {len(sources)} images given can be read" if sources else
                 f"the folder {Path(images).name} has no pictures"
                 if isinstance(images, (str, os.PathLike)) else "no images were given")
        raise _too_few(f"{found}; need at least {min_images} carrying the same watermark",
                       skipped)
    size = Counter(s for _, s in sized).most_common(1)[0][0]
    width, height = size
    for source, other in sized:
        if other != size:
            skipped.append((source.name, f"{other[0]}x{other[1]} differs from the common size "
                                         f"{width}x{height}"))
    chosen = [source for source, other in sized if other == size]
    if len(chosen) < min_images:
        raise _too_few(f"found {count_noun(len(chosen), 'readable image')} of size "
                       f"{width}x{height}; estimating a watermark needs at least {min_images} "
                       "of one size", skipped)
    scale = min(1.0, max_side / max(width, height))
    work = (max(1, round(width * scale)), max(1, round(height * scale)))
    frame_bytes = work[0] * work[1] * 2 * 2
    group_limit = int(np.clip(memory_budget // frame_bytes, 3, len(chosen)))
    groups = -(-len(chosen) // group_limit)
    remedian = _Remedian((work[1], work[0], 2), -(-len(chosen) // groups))
    used = 0
    for index, source in enumerate(chosen):
        cancel.raise_if_cancelled()
        try:
            rgb = source.load()
        except OSError as exc:
            skipped.append((source.name, exc.strerror or str(exc)))
        else:
            if (rgb.shape[1], rgb.shape[0]) == size:
                remedian.add(luminance_gradients(rgb, work))
                used += 1
            else:  # the header and the pixels disagree
                skipped.append((source.name, f"decoded as {rgb.shape[1]}x{rgb.shape[0]}"))
        _report(progress, 0.9 * (index + 1) / len(chosen), f"reading {source.name}")
    if used < min_images:
        raise _too_few(f"only {count_noun(used, 'image')} of {width}x{height} could be read; "
                       f"estimating a watermark needs at least {min_images}", skipped)
    cancel.raise_if_cancelled()
    _report(progress, 0.92, "locating the watermark")
    median = remedian.result() / SOBEL_GAIN
    core, matted = mask_from_median_gradients(median[..., 0], median[..., 1], min_contrast)
    if work != size:
        core = cv2.resize(core, size, interpolation=cv2.INTER_LINEAR)
        matted = cv2.resize(matted, size, interpolation=cv2.INTER_LINEAR)
    mask = (core > 0).astype(np.uint8) * 255
    reach = 1.0 / scale  # the Sobel edge band already reaches a working pixel past a stroke
    grow = max(0, round(margin - reach))
    if grow:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        mask = cv2.dilate(mask, kernel)
    points = cv2.findNonZero(mask)
    box = None if points is None else tuple(int(v) for v in cv2.boundingRect(points))
    _report(progress, 1.0, "done")
    return WatermarkEstimate(mask, matted.astype(np.float32), size, used, tuple(skipped), box)


def preview_image(estimate: WatermarkEstimate, background: np.ndarray | None = None,
                  colour: tuple[int, int, int] = (255, 40, 40)) -> np.ndarray:
    """An RGB picture of an estimate: the mask tinted over ``background`` or over the matted
    watermark (grey, stretched to full contrast) when no background is given.

    ``background``: optional ``(H, W, 3)`` uint8 RGB of the estimate's size. Returns
    ``(H, W, 3)`` uint8 RGB.
    """
    width, height = estimate.size
    if background is None:
        matted = estimate.matted
        spread = float(np.percentile(np.abs(matted), 99.5)) or 1.0
        grey = np.clip(128 + 127 * matted / spread, 0, 255).astype(np.uint8)
        base = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    else:
        if background.shape[:2] != (height, width):
            raise InputError(f"the background is {background.shape[1]}x{background.shape[0]} "
                             f"but the mask is {width}x{height}")
        base = background
    out = base.copy()
    hole = estimate.mask >= 128
    tint = np.array(colour, np.float32)
    out[hole] = np.rint(0.5 * base[hole] + 0.5 * tint).astype(np.uint8)
    contour_mask = cv2.morphologyEx(estimate.mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    out[contour_mask > 0] = colour
    return out


def anchored_offset(box: tuple[int, int, int, int], source: tuple[int, int],
                    target: tuple[int, int]) -> tuple[int, int]:
    """Where a box moves when an image of ``source`` size becomes ``target`` size.

    Each axis keeps the box's distance to its nearest anchor: the start, the centre or the end
    of that axis (a watermark usually sits at a fixed offset from a corner, an edge's middle or
    the centre). ``box`` is ``(x, y, w, h)``; sizes are ``(width, height)``. Returns the shift
    ``(dx, dy)`` in pixels.
    """
    def shift(start: int, length: int, old: int, new: int) -> int:
        before, after = start, old - (start + length)
        centre_gap = abs((start + length / 2) - old / 2)
        nearest = min((before, "start"), (after, "end"), (centre_gap, "centre"))[1]
        if nearest == "start":
            return 0
        if nearest == "end":
            return new - old
        return round((new - old) / 2)

    x, y, w, h = box
    return shift(x, w, source[0], target[0]), shift(y, h, source[1], target[1])


def anchored_shift(held: np.ndarray, target: tuple[int, int]) -> tuple[int, int] | None:
    """The shift ``(dx, dy)`` :func:`anchored_offset` gives the box of the nonzero pixels of
    ``held`` (``(H, W)`` bool or uint8) when its image becomes ``target`` = (width, height)
    in size; None when it has none."""
    points = cv2.findNonZero(held.view(np.uint8))
    if points is None:
        return None
    return anchored_offset(cv2.boundingRect(points), (held.shape[1], held.shape[0]), target)


def shifted(layer: np.ndarray, shift: tuple[int, int], target: tuple[int, int],
            fill: float | tuple[float, ...] = 0) -> np.ndarray:
    """``layer`` (``(H, W)`` or ``(H, W, C)``) moved by ``shift`` = (dx, dy) onto an image of
    ``target`` = (width, height), pixel for pixel; ``fill`` where nothing lands, parts
    falling outside dropped."""
    matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(layer, matrix, target, flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def place_mask(mask: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """``mask`` moved onto an image of ``target`` = (width, height), keeping the watermark at
    the same distance from its nearest anchor (see :func:`anchored_offset`); parts falling
    outside are dropped. Returns ``(height, width)`` uint8.
    """
    shift = anchored_shift(mask >= 128, target)
    if shift is None:
        return np.zeros((target[1], target[0]), np.uint8)
    return shifted(mask, shift, target)

