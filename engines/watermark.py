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
* Which pictures carry the mark. The median bears a few pictures without the mark, but the
  folder clearing should not paint over them: :meth:`WatermarkEstimate.mark_score` projects
  a picture's luminance gradients on the median ones at the strokes (the working-size pixels
  whose median gradient is above the stroke threshold, within two pixels of the edges found)
  and divides by the median's own energy there: about 1 for a picture carrying the mark as
  most do, about 0 for one without it. It costs one grey conversion and two Sobel filters
  over the strokes' box of the picture already read for its fill (plus one resize of the
  picture when it is estimated scaled down): 0.4 ms on a 1000x700 photo with a text mark,
  against about 55 ms for its Telea fill and writing. A picture the estimate was made from would
  find its own gradients in the median (with 5 to 7 images, often), so each is scored
  against the median of the *others*, the stroke pixels chosen by that median too (computed
  from the frames kept whole in one group; a picture is known again by a digest of its
  gradients there); with several groups the pictures are scored against the whole median
  only when cleared (:attr:`WatermarkEstimate.unmarked` is then None). A picture placed with
  ``other_sizes="anchor"`` is moved back by its mask's shift onto the estimate's frame and
  scored on the strokes it covers. Measured on 1073 folders of 5, 7 or 12 crops (320x240)
  of the scikit-image photos (astronaut, coffee, chelsea, rocket, camera, coins, page, text,
  moon, hubble_deep_field, immunohistochemistry, retina, clock, logo, horse, colorwheel,
  the stereo motorcycle, and the textures grass, gravel, brick), 1 in 5 or 7 and 2 in 12
  without the mark, the rest stamped with a thin text line, bold text or a filled logo with
  a cut-out, white or black, alpha 0.15 to 0.6, saved as PNG or JPEG q95 or q75; scores as
  percentiles 1 / 5 / 50 / 95 / 99:

  - without the mark, not estimated from: -0.26 / -0.12 / 0.00 / 0.11 / 0.21 (4320);
    of another size, anchored: -0.23 / -0.10 / 0.00 / 0.10 / 0.22 (2160);
  - without the mark, estimated from (leave-one-out): 5 images -0.10 / -0.03 / 0.04 / 0.19 /
    0.31; 7 images -0.12 / -0.05 / 0.01 / 0.17 / 0.27; 12 images -0.27 / -0.12 / 0.00 /
    0.13 / 0.24;
  - with the mark visible (a mean luminance change of 4 grey levels or more under it):
    0.10 / 0.21 / 0.95 / 1.79 / 2.17 (11309); at alpha 0.15: 0.06 / 0.15 / 0.79 / 1.63 /
    1.98; alpha 0.2: 0.08 / 0.18 / 0.84 / 1.65 / 1.98; alpha 0.3 and more: p1 0.12 to 0.15;
    JPEG q75, q95 and PNG alike (p1 0.10, 0.10, 0.11); anchored at another size: 0.08 /
    0.19 / 0.90 / 1.75 / 2.19.

  :data:`MARK_LEVEL` (0.1) errs toward filling: scores at or above it, and at or below
  :data:`REVERSED_LEVEL` (-0.3, the mark with its contrast reversed), count as carrying
  the mark; a score that cannot be had (a picture of another size without a shift, fewer
  than :data:`MIN_MARK_PIXELS` stroke pixels on it) counts too. Each image estimated from
  is judged by the score it is cleared by: against the median of the others, or against
  the whole median where the others' median has too few strokes to score on (it is one of
  the pictures the mark hangs on). When more than :data:`UNMARKED_SHARE` of them fall
  between, they are judged all the same if no more than half do and the others show the
  mark clearly, their median score at least :data:`SEPARATE_LEVEL` (1.0): a folder of
  which many photos were never stamped, whose stamped ones score 1 to 4 (the unstamped
  dilute the median). Otherwise no picture is judged (:attr:`WatermarkEstimate.lacking`):
  the others show the mark weakly too, the field too weak to tell them apart
  (:attr:`WatermarkEstimate.faint`, as with a faint mark, where many stamped pictures
  score near 0), or over half lack it, more than the median bears.

  Measured again on 2026-11-23, on 1080 folders built as above (a rebuild, which gave the
  earlier figures to within a point or two under the earlier rule, none judged in 58 as
  in the 1073): none judged in 55 (54 of them of 5 images, 41 with alpha 0.15 or 0.2).
  Not filled, so decided: 1.0 % of the pictures with a visible mark (3.0 % at alpha 0.15,
  2.1 % at 0.2, at most 0.9 % from 0.3; 0.2 % where the estimated mask overlaps the true
  one by half or more, 5.4 % where it overlaps by under 0.3), 2.3 % of those anchored:
  the very pictures the earlier rule left unfilled (and 5 stamped ones whose mark changes
  their luminance by under 4 grey levels); and of the pictures without the mark 88.1 % of
  those not estimated from (87.8 % before), 89.5 % of those anchored (89.3 %),
  and of those estimated from 67 % with 5 images, 86 % with 7, 91 % with 12 (66, 85, 91).
  On 620 folders of the same marks of which more lack the mark (2 in 5, 3 or 4 in 7, 4 to
  8 in 12; 20 more found nothing): none judged in 86 (276 under the earlier rule). Not
  filled: of the pictures without the mark, 66 % of those not estimated from (39 % before)
  and of those estimated from 35 % with 5 images (11 %), 41 % with 7 (20 %), 61 % with 12
  (31 %), with 6 in 12 70 % (21 %); of the pictures with a visible mark 1.7 % (73 of
  4235; 70 before), 3.0 % of those anchored (2.8 %). Photos without any mark (150
  folders of 5, 7 or 12): 118 share specks taken for a mark, none judged in 52 of them
  (53 before).
  A mid-grey mark (128, whose contrast changes sign with the background's brightness) is
  estimated poorly (mask overlap under 0.3 in 1875 of 2038 such pictures, 279 folders):
  13.5 % of such marked pictures were not filled (13.1 % under the earlier rule: three
  folders with a wrong mask, overlap 0.01 or less, are now judged), 25 % of those
  anchored: clear them with ``--unmarked fill``.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
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
MARK_LEVEL = 0.1  # the least mark_score of a picture taken to carry the mark (see the notes)
REVERSED_LEVEL = -0.3  # a mark_score this low is the mark with its contrast reversed
# more than this share of the images estimated from showing no mark: judged only when the
# others show the mark clearly (SEPARATE_LEVEL) and no more than half lack it
UNMARKED_SHARE = 1 / 3
SEPARATE_LEVEL = 1.0  # the least median score of the pictures carrying the mark to judge then
MIN_MARK_PIXELS = 20  # fewer stroke pixels to score on a picture: it is not judged (filled)


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
        mark: what :meth:`mark_score` judges pictures by; None when nothing was found or
            when none is judged (:attr:`lacking`).
        unmarked: the names of the images used whose :meth:`mark_score` says they do not
            carry the mark (:func:`carries_mark`): they show no mark, and went into the
            estimate all the same (the median bears a few); None when they were not
            judged: too many to keep whole (several groups, see the module notes;
            :meth:`shows_mark` still judges each picture), or none is judged
            (:attr:`lacking`).
        lacking: when the scores do not tell the pictures apart, how many of the images
            used seem to lack the mark by their score (:func:`carries_mark`): more than
            :data:`UNMARKED_SHARE` of them, and more than half, or the others show it
            weakly (:attr:`faint`). None is judged then: :meth:`shows_mark` says True of
            every picture. None when they are judged (or nothing was found).
            :func:`undecided_note` words it.
        faint: with :attr:`lacking`, the images that seem to carry the mark show it
            weakly (their median score under :data:`SEPARATE_LEVEL`, or there are none):
            the field is too weak to tell them from those without it. False when the
            pictures are judged, or when they show it clearly but over half of the images
            seem to lack it (the median bears a few, not so many).
    """

    mask: np.ndarray
    matted: np.ndarray
    size: tuple[int, int]
    used: int
    skipped: tuple[tuple[str, str], ...]
    box: tuple[int, int, int, int] | None
    mark: MarkField | None = None
    unmarked: tuple[str, ...] | None = None
    lacking: int | None = None
    faint: bool = False

    @property
    def found(self) -> bool:
        """Whether any watermark pixel was found."""
        return self.box is not None

    def mark_score(self, rgb: np.ndarray, shift: tuple[int, int] | None = None
                   ) -> float | None:
        """How much of the estimated watermark ``rgb`` (``(H, W, 3)`` uint8) carries: the
        projection of its luminance gradients on the watermark's median gradients, over
        the strokes, as a share of the latter (about 1 where the mark is as most pictures
        show it, about 0 without it; see the module notes for the measured spread).

        ``shift``: ``(dx, dy)`` the mask moved by onto a picture of another size
        (:func:`place_mask`, :func:`anchored_shift`): the picture is moved back by as
        much, and only the strokes it covers are scored. A picture the estimate was made
        from (the same pixels) gets its score against the median of the others. Returns
        None when it cannot be told: nothing was found, a picture of another size without
        a shift, none judged (:attr:`lacking`), or fewer than :data:`MIN_MARK_PIXELS`
        stroke pixels on the picture.
        """
        mark = self.mark
        if mark is None:
            return None
        moved = (rgb.shape[1], rgb.shape[0]) != self.size
        if moved and shift is None:
            return None
        scored = _strong(mark.field, mark.level)
        if moved:
            back = (-shift[0], -shift[1])
            cover = shifted(np.full(rgb.shape[:2], 255, np.uint8), back, self.size)
            rgb = shifted(rgb, back, self.size)
            if mark.work != self.size:
                cover = cv2.resize(cover, mark.work, interpolation=cv2.INTER_AREA)
            # scored where a working pixel and its Sobel neighbours all come from the picture
            inside = cv2.erode((cover == 255).astype(np.uint8), np.ones((3, 3), np.uint8))
            scored &= inside[mark.rows, mark.cols] > 0
        gradients = _gradients_at(rgb, mark.work, mark.rows, mark.cols)
        if not moved:
            own = mark.own.get(_digest(gradients))
            if own is not None:
                return own
        return _agreement(gradients, mark.field, scored)

    def shows_mark(self, rgb: np.ndarray, shift: tuple[int, int] | None = None) -> bool:
        """Whether ``rgb`` carries the watermark, by its :meth:`mark_score`
        (:func:`carries_mark`); True when that cannot be told (the doubt is given to
        filling)."""
        return carries_mark(self.mark_score(rgb, shift))


def undecided_note(estimate: WatermarkEstimate) -> str:
    """Why ``estimate`` judges none of the pictures (:attr:`WatermarkEstimate.lacking`):
    how many of its images seem to lack the mark, and whether the others show it weakly
    (:attr:`WatermarkEstimate.faint`), e.g. ``"7 of the 12 images seem to lack it, too
    many to tell which carry it"``, ``"5 of the 12 images seem to lack it, and the others
    show it too weakly to tell which carry it"``, ``"1 of the 2 images seems to lack it,
    and the other shows it too weakly to tell which carry it"``, ``"none of the 2 images
    shows it clearly enough to tell which carry it"``; "" when they are judged. Lower case:
    a caller that makes it a sentence capitalises it."""
    lacking, used = estimate.lacking, estimate.used
    if lacking is None:
        return ""
    if lacking == used:  # the estimate stands out in none of them
        if used == 1:
            return "the 1 image does not show it clearly enough to tell whether it carries it"
        return (f"none of the {used} images shows it clearly enough to tell which carry "
                "it")
    seem = "seems" if lacking == 1 else "seem"
    lack = f"{lacking} of the {used} images {seem} to lack it"
    if estimate.faint:
        others = "the other shows" if used - lacking == 1 else "the others show"
        return f"{lack}, and {others} it too weakly to tell which carry it"
    return f"{lack}, too many to tell which carry it"


def _shown_clearly(scores: Sequence[float | None]) -> bool:
    """Whether the pictures whose :meth:`WatermarkEstimate.mark_score` says they carry the
    mark (at or above :data:`MARK_LEVEL`) show it clearly: their median score is at least
    :data:`SEPARATE_LEVEL`."""
    shown = [score for score in scores if score is not None and score >= MARK_LEVEL]
    return bool(shown) and float(np.median(shown)) >= SEPARATE_LEVEL


def carries_mark(score: float | None) -> bool:
    """Whether a :meth:`WatermarkEstimate.mark_score` says the picture carries the mark:
    at least :data:`MARK_LEVEL`, or at most :data:`REVERSED_LEVEL` (the mark with its
    contrast reversed: a mid-grey mark over a background brighter than most), or None
    (not told: filled)."""
    return score is None or score >= MARK_LEVEL or score <= REVERSED_LEVEL


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
    """Per-pixel median of many int16 frames in bounded memory (median of group medians).
    While the frames fit in one group they are kept whole (:meth:`frames`), the median
    taken on copies."""

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
        if self._count == len(self._buffer):  # a full group is reduced once the next begins
            self._medians.append(self._median(self._buffer))
            self._count = 0
        self._buffer[self._count] = frame
        self._count += 1

    def frames(self) -> np.ndarray | None:
        """The frames added, whole, while they all fit in one group (``(count, *shape)``,
        a view: not to be written); None once a group was reduced to its median."""
        return None if self._medians else self._buffer[:self._count]

    def _median_kept(self, stack: np.ndarray) -> np.ndarray:
        """:meth:`_median` of ``stack`` leaving it whole: partitioned a strip of rows at a
        time, on copies of about 16 MiB."""
        rows = max(1, (16 << 20) // max(1, stack[:, :1].nbytes))
        out = np.empty(stack.shape[1:], np.float32)
        for top in range(0, stack.shape[1], rows):
            out[top:top + rows] = self._median(stack[:, top:top + rows].copy())
        return out

    def result(self) -> np.ndarray:
        if not self._medians:  # one group: its frames stay whole (frames)
            return self._median_kept(self._buffer[:self._count])
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


def _stroke_edges(gx: np.ndarray, gy: np.ndarray,
                  min_contrast: float) -> tuple[np.ndarray, float]:
    """``(edges, level)``: the pixels (``(h, w)`` uint8 0/1) whose median gradient is
    stronger than ``level`` (grey levels per pixel: Otsu's, at least ``min_contrast`` and
    four times the median magnitude), less specks of under 6 pixels."""
    magnitude = np.hypot(gx, gy)
    top = float(np.percentile(magnitude, 99.9))
    noise = float(np.median(magnitude))
    threshold = max(min_contrast, 4.0 * noise)
    if top > threshold:
        threshold = max(threshold, _otsu(magnitude, top))
    edges = (magnitude > threshold).astype(np.uint8)
    return _remove_small(edges, 6), threshold


def mask_from_median_gradients(gx: np.ndarray, gy: np.ndarray,
                               min_contrast: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """The watermark's core mask and matted reconstruction from its median gradients.

    ``gx``, ``gy``: float32 median gradients in grey levels per pixel. ``min_contrast``: the
    weakest gradient (grey levels per pixel) that can belong to the watermark. Returns
    ``(core, matted)``: ``core`` ``(h, w)`` uint8 0/1 (the strokes plus about one pixel),
    ``matted`` float32 as in :class:`WatermarkEstimate`.
    """
    edges, _level = _stroke_edges(gx, gy, min_contrast)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    core = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, kernel)
    matted = reconstruct_from_gradients(gx, gy)
    if core.any():
        contrast = np.abs(matted[core > 0])
        level = max(min_contrast, 0.5 * float(np.median(contrast)))
        core = _fill_covered_holes(core, matted, level)
    return core, matted


@dataclass(frozen=True, eq=False)
class MarkField:
    """The estimated watermark's gradients around its strokes, kept to tell whether a
    picture carries it (:meth:`WatermarkEstimate.mark_score`).

    Attributes:
        work: ``(width, height)`` of the working size the estimate was made at.
        rows, cols: ``(k,)`` int32, the working-size pixels within two pixels of the
            watermark's strokes.
        field: ``(k, 2)`` float32, the median gradients there (x, y; grey levels per pixel).
        level: the stroke threshold of the estimate: a pixel whose field (or, for a picture
            it was made from, the median of the others) is stronger is scored.
        own: for each picture the estimate was made from, its score against the median of
            the other pictures (leave-one-out), by the digest of its gradients at these
            pixels (a picture whose pixels changed since is scored against ``field``);
            empty when the pictures were too many to keep whole (several groups).
    """

    work: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray
    field: np.ndarray
    level: float
    own: Mapping[bytes, float]


def _digest(gradients: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(gradients, np.int16).tobytes(),
                           digest_size=16).digest()


def _agreement(gradients: np.ndarray, field: np.ndarray, scored: np.ndarray) -> float | None:
    """How much of the watermark ``gradients`` (``(k, 2)``, Sobel units) carry: their
    projection on ``field`` (``(k, 2)``, grey levels per pixel) over the ``scored`` pixels,
    as a share of the field's own energy there (about 1 for a picture carrying the mark as
    the estimate saw it, about 0 for one without it); None for fewer than
    :data:`MIN_MARK_PIXELS` pixels to score."""
    if np.count_nonzero(scored) < MIN_MARK_PIXELS:
        return None
    seen = gradients[scored].astype(np.float32) / SOBEL_GAIN
    expected = field[scored]
    energy = float(np.einsum("ij,ij->", expected, expected))
    if energy <= 0.0:
        return None
    return float(np.einsum("ij,ij->", seen, expected)) / energy


def _strong(field: np.ndarray, level: float) -> np.ndarray:
    return np.einsum("ij,ij->i", field, field) > level * level


def _medians_without_each(stack: np.ndarray) -> Iterator[np.ndarray]:
    """For each frame of ``stack`` (``(n, k, 2)`` int16, n >= 2), the median of the other
    frames (``(k, 2)`` float32, Sobel units), as :class:`_Remedian` takes a median."""
    count = stack.shape[0]
    order = np.argsort(stack, axis=0, kind="stable")
    ordered = np.take_along_axis(stack, order, axis=0).astype(np.float32)
    rank = np.empty(stack.shape, np.int32)
    np.put_along_axis(rank, order, np.arange(count, dtype=np.int32).reshape(-1, 1, 1), axis=0)
    others = count - 1
    upper = others // 2
    for index in range(count):
        after = rank[index]  # among the others, element j is ordered[j] before it, j + 1 from it

        def at(j: int, after: np.ndarray = after) -> np.ndarray:
            return np.where(after > j, ordered[j], ordered[j + 1])

        middle = at(upper)
        yield middle if others % 2 else (at(upper - 1) + middle) * 0.5


def _own_scores(frames: np.ndarray, mark: MarkField) -> list[float | None]:
    """Each of ``frames`` (``(n, h, w, 2)`` int16, the pictures estimated from, whole)
    scored at ``mark``'s pixels against the median of the others, the scored pixels chosen
    by that median (so that a picture's own gradients choose nothing); about 32 MiB of
    pixels at a time."""
    count = frames.shape[0]
    chunk = max(256, (32 << 20) // (count * 2 * 24))  # int16, int64 order, float32, int32
    seen = np.zeros(count)
    energy = np.zeros(count)
    scored = np.zeros(count, np.int64)
    for start in range(0, len(mark.rows), chunk):
        rows, cols = mark.rows[start:start + chunk], mark.cols[start:start + chunk]
        stack = frames[:, rows, cols]
        for index, median in enumerate(_medians_without_each(stack)):
            median /= SOBEL_GAIN
            strong = _strong(median, mark.level)
            mine = stack[index][strong].astype(np.float32) / SOBEL_GAIN
            seen[index] += float(np.einsum("ij,ij->", mine, median[strong]))
            energy[index] += float(np.einsum("ij,ij->", median[strong], median[strong]))
            scored[index] += int(np.count_nonzero(strong))
    return [None if scored[i] < MIN_MARK_PIXELS or energy[i] <= 0
            else float(seen[i] / energy[i]) for i in range(count)]


def _mark_field(edges: np.ndarray, median: np.ndarray, level: float,
                frames: np.ndarray | None) -> tuple[MarkField, list[float | None] | None]:
    """The :class:`MarkField` of a median gradient field (``(h, w, 2)`` float32, grey
    levels per pixel) whose strokes are ``edges`` (above ``level``), and the scores of the
    ``frames`` it was the median of (None when they were not kept whole), as
    :meth:`WatermarkEstimate.mark_score` gives them: against the median of the others, or,
    where that has too few strokes to score on (the frame is one of those the mark hangs
    on), against the whole median."""
    around = cv2.dilate(edges, np.ones((5, 5), np.uint8))
    rows, cols = np.nonzero(around)
    rows, cols = rows.astype(np.int32), cols.astype(np.int32)
    work = (median.shape[1], median.shape[0])
    mark = MarkField(work, rows, cols, np.ascontiguousarray(median[rows, cols]), level, {})
    if frames is None or frames.shape[0] < 2:
        return mark, None
    scores = _own_scores(frames, mark)
    own = {_digest(frames[index][rows, cols]): score
           for index, score in enumerate(scores) if score is not None}
    whole = _strong(mark.field, level)
    scores = [_agreement(frames[index][rows, cols], mark.field, whole) if score is None
              else score for index, score in enumerate(scores)]
    return MarkField(work, rows, cols, mark.field, level, own), scores


def _gradients_at(rgb: np.ndarray, work: tuple[int, int], rows: np.ndarray,
                  cols: np.ndarray) -> np.ndarray:
    """:func:`luminance_gradients` of ``rgb`` at ``work`` = (w, h), at the pixels ``rows``,
    ``cols`` only (``(k, 2)`` int16, the same values): the Sobel filter is run on their
    box and a pixel around it."""
    width, height = work
    top, bottom = max(int(rows.min()) - 1, 0), min(int(rows.max()) + 2, height)
    left, right = max(int(cols.min()) - 1, 0), min(int(cols.max()) + 2, width)
    if (rgb.shape[1], rgb.shape[0]) == work:
        grey = cv2.cvtColor(np.ascontiguousarray(rgb[top:bottom, left:right]),
                            cv2.COLOR_RGB2GRAY)
    else:
        grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), work,
                          interpolation=cv2.INTER_AREA)
        grey = np.ascontiguousarray(grey[top:bottom, left:right])
    gx = cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(grey, cv2.CV_16S, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    rows, cols = rows - top, cols - left
    return np.stack([gx[rows, cols], gy[rows, cols]], axis=1)


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
    names: list[str] = []  # of the pictures used, in order
    for index, source in enumerate(chosen):
        cancel.raise_if_cancelled()
        try:
            rgb = source.load()
        except OSError as exc:
            skipped.append((source.name, exc.strerror or str(exc)))
        else:
            if (rgb.shape[1], rgb.shape[0]) == size:
                remedian.add(luminance_gradients(rgb, work))
                names.append(source.name)
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
    edges, level = _stroke_edges(median[..., 0], median[..., 1], min_contrast)
    mark, unmarked, lacking, faint = None, None, None, False
    if edges.any():
        _report(progress, 0.96, "checking which images show it")
        mark, scores = _mark_field(edges, median, level, remedian.frames())
        if scores is not None:
            unmarked = tuple(name for name, score in zip(names, scores)
                             if not carries_mark(score))
            clear = _shown_clearly(scores)
            # the scores tell the pictures apart when few seem to lack the mark, or when no
            # more than half do and the others show it clearly (see the module notes)
            if (len(unmarked) > UNMARKED_SHARE * used
                    and not (clear and 2 * len(unmarked) <= used)):
                mark, unmarked, lacking, faint = None, None, len(unmarked), not clear
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
    found = box is not None
    return WatermarkEstimate(mask, matted.astype(np.float32), size, used, tuple(skipped), box,
                             mark if found else None, unmarked if found else None,
                             lacking if found else None, faint and found)


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

