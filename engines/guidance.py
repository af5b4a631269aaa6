"""Which guidance of a request can change its fill: what an engine that does not take it
ignores, so that the editor and the CLI can say so (and say nothing of guidance drawn for
another hole); and guidance the classical engines share: colour strokes steering the colour
of a fill (:func:`follow_colour_hints`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from engines.base import (
    MIN_CROP_CONTEXT,
    UNLABELLED,
    CancelToken,
    Engine,
    Guidance,
    InpaintRequest,
    InputError,
    OptionSpec,
    Strategy,
)
from engines.fileio import join_words
from engines.region import (
    REFERENCE_OPAQUE,
    Box,
    LabelSources,
    colour_strokes_in,
    crop_boxes,
    fitted_patches,
    hole_unseen,
    patch_centres,
    source_patch,
    unsourced_labels,
)

# px: sketch lines and colour strokes this close to the hole count as drawn in it (lines are
# drawn up to the hole's edge, and the edge moves by a pixel or two at coarser scales)
GUIDANCE_REACH = 3
# Colour hints (follow_colour_hints), in pixels of the picture the engine fills:
# how far beyond its strokes a colour reaches: a third of the shift is left this far beyond a
# stroke's edge, none at three times it (whatever the stroke's width);
COLOUR_HINT_SPREAD = 8
# the scale (Gaussian sigma) of the fill's own colour that a stroke replaces: detail finer
# than this (the texture) is kept;
COLOUR_HINT_DETAIL = 6.0
# how far into the hole the shift fades in from the hole's edge, so that no seam shows there
# (at most half the hole's half-width).
COLOUR_HINT_EDGE = 6.0
_GRID = 64  # px: a whole number of the coarsest cells of the colour hints' pyramid


def reference_pixels(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """A reference photo as requests carry it (``InpaintRequest.exemplars``): ``rgb``
    ``(h, w, 3)`` uint8 itself when ``alpha`` (``(h, w)`` uint8, 255 = opaque) is None or
    fully opaque, else the ``(h, w, 4)`` RGBA stack of both."""
    if alpha is None or bool((alpha >= REFERENCE_OPAQUE).all()):
        return rgb
    return np.dstack((rgb, alpha))


def reference_usable(pixels: np.ndarray) -> np.ndarray:
    """The ``(h, w)`` bool map of the pixels of a reference photo that may be copied:
    every pixel of an ``(h, w, 3)`` RGB one, those with alpha :data:`REFERENCE_OPAQUE` of an
    ``(h, w, 4)`` RGBA one (uint8)."""
    if pixels.shape[2] == 3:
        return np.ones(pixels.shape[:2], bool)
    return pixels[..., 3] >= REFERENCE_OPAQUE


def reference_problem(pixels: np.ndarray, patch_size: int) -> str | None:
    """Why a reference photo (``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA uint8) cannot give a
    single ``patch_size`` x ``patch_size`` patch, or None when it can: the rule the editor
    and the CLI both apply before searching one. The text follows the file's name."""
    height, width = pixels.shape[:2]
    side = f"{patch_size}x{patch_size}"
    if min(height, width) < patch_size:
        return (f"is {width}x{height} pixels, too small for one {side} patch, so nothing "
                "can be copied from it")
    if pixels.shape[2] == 3:
        return None
    usable = reference_usable(pixels)
    if patch_centres(usable, patch_size).any():
        return None
    if not usable.any():
        return ("has no fully opaque pixel, so nothing can be copied from it (transparent "
                "and partly transparent pixels are never copied)")
    return (f"has no fully opaque {side} area, so nothing can be copied from it "
            "(transparent and partly transparent pixels are never copied)")


def _patch_size_spec(cls: type[Engine]) -> tuple[OptionSpec, bool]:
    """``(spec, own)``: the ``patch_size`` option of the engine class ``cls`` (``own``), else
    Guided PatchMatch's (the engine that searches references)."""
    from engines import registry  # local: the registry imports the engines

    for owner in (cls, registry.engine_class("patchmatch")):
        spec = next((spec for spec in owner.user_options() if spec.key == "patch_size"), None)
        if spec is not None:
            return spec, owner is cls
    raise LookupError("Guided PatchMatch has no patch_size option")


def reference_patch_size(engine: str, options: Mapping[str, Any]) -> int:
    """The patch side a fill by ``engine`` with ``options`` would copy from reference photos:
    its ``patch_size`` option when it has one, else Guided PatchMatch's default (the engine
    that searches references)."""
    return reference_patch_option(engine, options)[0]


def reference_patch_option(engine: str, options: Mapping[str, Any]) -> tuple[int, OptionSpec]:
    """``(side, spec)``: :func:`reference_patch_size`'s side and the ``patch_size`` option
    that sets it (the engine's, else Guided PatchMatch's: its ``title`` names it as the
    engine panel does, its grid gives the sides a user may choose)."""
    from engines import registry  # local: the registry imports the engines

    spec = _patch_size_spec(registry.engine_class(engine))[0]
    return int(options.get("patch_size", spec.default)), spec


def largest_reference_patch(pixels: np.ndarray, spec: OptionSpec, below: int) -> int | None:
    """The largest patch side on the grid of the ``patch_size`` option ``spec``, under
    ``below``, at which the reference photo ``pixels`` gives a patch (:func:`reference_problem`
    finds none), or None when even the smallest gives none: what the option must be lowered
    to for a photo left out at ``below``. A photo that gives a patch gives every smaller
    one, so the grid is searched by halves (a few erosions of a partly transparent photo)."""
    top = min(below - 1, min(pixels.shape[:2]), spec.maximum)
    if top < spec.minimum:
        return None
    low, high = 0, math.floor((top - spec.minimum) / spec.step)  # grid indices

    def side(index: int) -> int:
        return int(spec.minimum + index * spec.step)

    if reference_problem(pixels, side(low)) is not None:
        return None
    while low < high:  # side(low) gives a patch; the answer is in [low, high]
        middle = (low + high + 1) // 2
        if reference_problem(pixels, side(middle)) is None:
            low = middle
        else:
            high = middle - 1
    return side(low)


def _patch_option(engine: Engine, request: InpaintRequest) -> tuple[int, str]:
    """``(side, title)``: the patch side ``engine`` copies from reference photos on
    ``request`` (its ``patch_size`` option: the engine's, else the request's, else the
    default, as :meth:`Engine.engine_option` reads it; Guided PatchMatch's default for an
    engine without one) and the option's title, as the engine panel names it."""
    spec, own = _patch_size_spec(type(engine))
    side = source_patch(request, engine) if own else None
    return int(spec.default) if side is None else side, spec.title


def left_out_references(request: InpaintRequest, engine: Engine,
                        side: int | None = None) -> list[tuple[int, str]]:
    """The reference photos of ``request`` that ``engine`` leaves out of its fill: ``(index,
    why)`` of each exemplar without room for one patch of the size the engine copies
    (:func:`reference_problem`'s text, which follows the photo's name, at ``side``; None:
    :func:`_patch_option`'s); none for an engine that takes no exemplars. A photo that
    passed when it was added fails here once the patch size was raised."""
    if Guidance.EXEMPLARS not in engine.guidance or not request.exemplars:
        return []
    side = _patch_option(engine, request)[0] if side is None else side
    return [(index, problem) for index, pixels in enumerate(request.exemplars)
            if (problem := reference_problem(pixels, side)) is not None]


def source_notes(request: InpaintRequest, engine: Engine, reference_names: Sequence[str],
                 label_names: Callable[[], Sequence[str] | None] = lambda: None,
                 cancel: CancelToken | None = None,
                 unedited_labels: np.ndarray | None = None) -> list[str]:
    """Sentences on guidance ``engine`` follows but could not follow in this fill of
    ``request``, for the user (the CLI's ``note:`` lines, the editor's status bar after a
    fill), each starting "the fill" in lower case (a caller that starts a sentence with one
    capitalises it); empty when there is none:

    * each reference photo left out (:func:`left_out_references`), named by its entry of
      ``reference_names`` (one per exemplar, in order), with the patch size and the option
      that sets it;
    * the labels given to the hole (where they differ from ``unedited_labels``, the map
      as a parser computed it; None: all of them) that no pixel the fill may copy from
      carries (:func:`engines.region.unsourced_labels`), which therefore constrained
      nothing, in one sentence: named by ``label_names()`` (the names of the ids of
      ``request.label_set``, asked for only then; None: unknown, each is named by its id),
      with why (no pixel outside the hole carries it, the sampling area leaves out every
      one that does, or no patch of the patch size fits on those the fill may copy from)
      and what that part of the hole was filled from (any pixel, or the unlabelled pixels
      and the reference photos searched, which count as any label);
    * first, the smaller patches the fill used where the picture is too small for the patch
      size (:func:`_fitted_sentence`): the sentences on reference photos and labels then
      name that size, not the option's.

    ``cancel`` is looked at between the bands of the passes over the labels."""
    notes = []
    fitted = fitted_patches(request, engine, cancel)
    option = _patch_option(engine, request) if fitted or request.exemplars else None
    used = min(side for _, side in fitted) if fitted else None
    if fitted:
        notes.append(_fitted_sentence(request, engine, fitted, option, cancel))
    left_out = left_out_references(request, engine, used)
    for index, problem in left_out:
        at = f"its {used}x{used} patches" if used else f"{option[1]} {option[0]}"
        notes.append(f"the fill left out {reference_names[index]} at {at}: it {problem}")
    found = unsourced_labels(request, engine, cancel, unedited_labels)
    if found.labels:
        patch = None
        if found.unfitted:
            patch = (used, "size the fill used") if used else _patch_option(engine, request)
        notes.append(_labels_note(found, label_names, bool(request.exemplars)
                                  and len(left_out) < len(request.exemplars), patch,
                                  _sources_limited(request, engine)))
    return notes


def _fitted_sentence(request: InpaintRequest, engine: Engine, fitted: list[tuple[Box, int]],
                     option: tuple[int, str], cancel: CancelToken | None = None) -> str:
    """The sentence of :func:`source_notes` on the patches ``engine`` used in regions too
    small for its patch size (``fitted``, not empty: :func:`engines.region.fitted_patches`;
    the smallest side used where there are several), naming the option (``option``: the
    engine's :func:`_patch_option`), the region's size and why: no source at all, or (with
    labels in the hole, where the patch also shrinks to follow them:
    :meth:`Engine.fitted_patch`) none for each label, as far as the labels made it shrink
    (the same region without labels says how far it would have)."""
    box, used = min(fitted, key=lambda item: item[1])
    side, title = option
    where = ("the picture" if (box.height, box.width) == request.mask.shape
             else "the area it fills")
    too_small = f"too small for {side}x{side} patches to have a source"
    labels = request.labels
    if labels is not None and bool((labels[request.hole] != UNLABELLED).any()):
        plain = fitted_patches(request.evolve(labels=None, label_set=None), engine, cancel)
        alone = dict(plain).get(box, side)  # the side it would use without labels
        if alone == side:
            too_small += " for each label of the hole"
        elif alone > used:
            too_small += (f", and for {alone}x{alone} ones to have a source for each label "
                          "of the hole")
    return (f"the fill used {used}x{used} patches instead of the {title.lower()} "
            f"({side}x{side}): {where} is {box.width}x{box.height} pixels, {too_small}")


def fill_notes(request: InpaintRequest, engine: Engine, reference_names: Sequence[str],
               cancel: CancelToken | None = None,
               unedited_labels: np.ndarray | None = None) -> list[str]:
    """:func:`source_notes` as a fill's caller says them (the editor, Compare, folder runs,
    ``inpaint``): ``reference_names`` names the first of ``request``'s exemplars, in order,
    "a reference photo" the ones after; labels are named as ``request.label_set`` names
    them (:func:`engines.segmentation.base.label_set_names`, looked up only when a note
    needs them). Then :data:`HIDDEN_FILL_NOTE` where the hole lies over fully transparent
    pixels only (:func:`engines.region.hole_unseen`)."""
    from engines.segmentation.base import label_set_names  # local: parsers import engines

    notes = source_notes(request, engine, reference_names_for(request, reference_names),
                         lambda: label_set_names(request.label_set), cancel, unedited_labels)
    if hole_unseen(request, cancel):
        notes.append(HIDDEN_FILL_NOTE)
    return notes


HIDDEN_FILL_NOTE = ("the fill is not visible: the hole lies over fully transparent pixels "
                    "only (alpha 0), which keep their transparency")


def reference_names_for(request: InpaintRequest, names: Sequence[str]) -> tuple[str, ...]:
    """A name for each of ``request``'s exemplars: ``names`` for the first, in order, "a
    reference photo" for the ones after."""
    return (*names, *["a reference photo"] * (len(request.exemplars) - len(names)))


def _sources_limited(request: InpaintRequest, engine: Engine) -> bool:
    """Whether something but the hole may keep ``engine`` from copying known pixels of
    ``request``: a sampling area it follows, or the picture's transparency."""
    return request.alpha is not None or (Guidance.SAMPLING in engine.guidance and (
        request.sample_include is not None or request.sample_exclude is not None))


def _labels_note(found: LabelSources, label_names: Callable[[], Sequence[str] | None],
                 references: bool, patch: tuple[int, str] | None = None,
                 limited: bool = False) -> str:
    """The sentence of :func:`source_notes` on ``found``'s labels; ``references``: whether
    the fill searched a reference photo (PatchMatch's labels take any of its pixels);
    ``patch``: the ``(side, title)`` of the patch size option (:func:`_patch_option`),
    which the reason given for ``found``'s ``unfitted`` labels names (None: it names none);
    ``limited``: whether a sampling area or transparency keeps the fill from copying some
    known pixels (:func:`_sources_limited`: that reason then says it is about the pixels
    the fill may copy)."""
    names = label_names()

    def named(ids) -> str:
        return join_words([f'"{names[i]}"' if names is not None and i < len(names)
                           else f"id {i}" for i in ids])

    left_out, unfitted = set(found.left_out), set(found.unfitted)
    carried = [i for i in found.labels if i in left_out]
    thin = [i for i in found.labels if i in unfitted]
    lacking = [i for i in found.labels if i not in left_out and i not in unfitted]
    one = len(found.labels) == 1
    why = []
    if carried:
        why.append("the sampling area leaves out every pixel outside the hole that carries "
                   + ("it" if one else named(carried)))
    if thin:
        size = "" if patch is None else f"of the {patch[1].lower()} ({patch[0]}x{patch[0]}) "
        fits = found.fits_at
        smaller = "" if fits is None else f" (a {fits}x{fits} one would)"
        why.append(f"no patch {size}fits on the pixels outside the hole that carry "
                   + ("it" if one else named(thin))
                   + (" and may be copied" if limited else "") + smaller)
    if lacking:
        why.append("no pixel outside the hole carries " + ("it" if one else named(lacking)))
    sources = [what for what, given in (("the unlabelled pixels", found.unlabelled),
                                        ("the reference photos", references)) if given]
    whence = f"from {join_words(sources)} only" if sources else "from any pixel"
    return (f"the fill did not follow the label{'' if one else 's'} {named(found.labels)}: "
            f"{' and '.join(why)}, so {'its' if one else 'their'} part of the hole was "
            f"filled {whence}")


def guidance_given(request: InpaintRequest,
                   unedited_labels: np.ndarray | None = None) -> set[Guidance]:
    """The kinds of guidance that can change ``request``'s fill: what an engine that
    does not take them ignores (the editor and the CLI say so).

    Guidance counts only where a fill reads it, so what was drawn for another hole says
    nothing about this one:

    * sketch and colour strokes: within :data:`GUIDANCE_REACH` px of the hole
      (``mask > 0``);
    * labels: where they differ from ``unedited_labels`` (the ``(H, W)`` uint8 map as a
      parser computed it; None: every labelled pixel is given), on a hole pixel, or in
      the region an engine that follows labels sees (the crop around the hole:
      ``crop_margin`` of context, grown to the engine's ``min_context`` where that is
      wider, see :func:`_crop_side`; the whole picture for the other strategies) on a
      pixel whose label, before or after, is one the hole carries (a source of the hole's
      labels);
    * sampling area: an include area that leaves out a known pixel of the region an engine
      that follows it sees, an exclude area that covers one;
    * exemplars: always.

    An empty mask carries none.
    """
    if unedited_labels is not None and unedited_labels.shape != request.mask.shape:
        raise InputError(f"unedited_labels {unedited_labels.shape} does not match the "
                         f"mask {request.mask.shape}")
    hole = Box.around(request.mask)
    if hole is None:
        return set()
    given = set()
    sketch, color = request.sketch, request.color
    if sketch is not None and _near_hole(request.mask, hole,
                                         lambda box: sketch[box.slices] >= 128):
        given.add(Guidance.SKETCH)
    if color is not None and _near_hole(request.mask, hole,
                                        lambda box: color[box.slices][..., 3] > 0):
        given.add(Guidance.COLOR)
    if request.exemplars:
        given.add(Guidance.EXEMPLARS)
    include = request.sample_include
    include = include if include is not None and include.any() else None  # all 0: none
    if request.labels is None and include is None and request.sample_exclude is None:
        return given
    seen: dict[int, list[Box]] = {}  # smallest crop side -> the boxes seen

    def boxes_for(kind: Guidance) -> list[Box]:
        side = _crop_side(kind)
        if side not in seen:
            seen[side] = _seen_boxes(request, hole, side)
        return seen[side]

    if request.labels is not None and any(
            _labels_matter(request.labels, unedited_labels, request.mask, box)
            for box in boxes_for(Guidance.LABELS)):
        given.add(Guidance.LABELS)
    if (include is not None or request.sample_exclude is not None) and any(
            _sampling_matters(include, request.sample_exclude, request.mask, box)
            for box in boxes_for(Guidance.SAMPLING)):
        given.add(Guidance.SAMPLING)
    return given


def _crop_side(kind: Guidance) -> int:
    """The smallest crop side of the engines that follow ``kind`` (their ``min_context``,
    the largest of them: the widest crop any of them reads it in); 0 when none does."""
    from engines import registry  # local: the registry imports the engines

    return max((cls.min_context for cls in registry.engine_classes() if kind in cls.guidance),
               default=0)


def reach_box(box: Box, shape: tuple[int, int]) -> Box:
    """``box`` grown by :data:`GUIDANCE_REACH` on every side, within a picture of ``shape``
    ``(height, width)``: where guidance drawn for a hole inside ``box`` can lie."""
    return box.grown(GUIDANCE_REACH).clip(shape)


def within_reach(hole: np.ndarray, box: Box, shape: tuple[int, int]) -> tuple[Box, np.ndarray]:
    """Where guidance counts as drawn for a hole: ``(grown, near)``, the :func:`reach_box` of
    ``box`` and the ``bool`` map, covering it, of the pixels in the hole or within
    :data:`GUIDANCE_REACH` of it. ``hole``: ``bool`` pixels covering ``box``."""
    grown = reach_box(box, shape)
    near = np.zeros((grown.height, grown.width), np.uint8)
    box.crop(near, grown)[...] = hole
    reach = GUIDANCE_REACH
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    return grown, cv2.dilate(near, disc) > 0


def _near_hole(mask: np.ndarray, hole: Box, drawn: Callable[[Box], np.ndarray]) -> bool:
    """Whether a layer has a pixel within :data:`GUIDANCE_REACH` of the hole (``mask > 0``,
    whose bounding box is ``hole``); ``drawn(box)`` gives the layer's ``bool`` pixels in a
    box."""
    lines = drawn(reach_box(hole, mask.shape))
    if not lines.any():
        return False
    _, near = within_reach(mask[hole.slices] > 0, hole, mask.shape)
    return bool((lines & near).any())


_EXACT_PIXELS = 1 << 20  # pictures up to this size get the exact crop boxes


def _seen_boxes(request: InpaintRequest, hole: Box | None = None,
                min_side: int = 0) -> list[Box]:
    """The parts of the picture an engine sees for ``request``: with :attr:`Strategy.CROP`
    the crop boxes around the hole (:func:`engines.region.crop_boxes`, ``crop_margin`` of
    context, and each box grown to ``min_side``, the engine's ``min_context``, where it is
    narrower), else the whole picture. The crop boxes of a picture over
    :data:`_EXACT_PIXELS` are found on the mask max-pooled by a whole factor (a few
    milliseconds, not a fifth of a second on 24 MP), so they hold the engine's and may reach
    a few times that many pixels further (twice where only the margin counts, up to about
    four times where ``min_side`` does or a box borrows context at the picture's far edge).
    :func:`~engines.region.crop_boxes` keeps at least :data:`~engines.base.MIN_CROP_CONTEXT`
    of context in the units it is given, so the factor is at most the context over that: a
    context under twice it is found exactly. ``hole``: the bounding box of the mask's
    nonzero pixels when the caller has it (only that part of the mask is pooled)."""
    mask = request.mask
    if request.strategy is not Strategy.CROP:
        return [Box.frame(mask.shape)]
    context = max(request.crop_margin, MIN_CROP_CONTEXT)  # picture pixels, as the engine's
    factor = max(1, min(math.isqrt(mask.size // _EXACT_PIXELS), context // MIN_CROP_CONTEXT))
    if factor == 1:
        return crop_boxes(mask, context, min_side)
    hole = hole or Box.around(mask)
    if hole is None:
        return []
    # max-pooled by factor x factor blocks, only over the blocks the hole's box meets
    height, width = mask.shape
    top, left = hole.top // factor, hole.left // factor
    bottom, right = -(-hole.bottom // factor), -(-hole.right // factor)
    pooled = np.zeros((-(-height // factor), -(-width // factor)), np.uint8)
    part = (mask[top * factor:bottom * factor, left * factor:right * factor] > 0).view(np.uint8)
    pooled[top:bottom, left:right] = cv2.dilate(
        part, np.ones((factor, factor), np.uint8), anchor=(0, 0))[::factor, ::factor]
    # a pooled hole is up to a block wider on each side, so a box centred on it may sit up
    # to a block off the engine's: two blocks more of side keep the engine's box inside
    side = -(-min_side // factor) + 2 if min_side else 0
    # the pooled picture ends up to a block beyond the real one, so a box that borrows
    # context at the far edge borrows that much less than the engine's: it is lowered by it
    beyond = (pooled.shape[0] * factor - height, pooled.shape[1] * factor - width)
    boxes = crop_boxes(pooled, -(-context // factor), side)
    return [Box(b.top * factor - (beyond[0] if b.bottom == pooled.shape[0] else 0),
                b.left * factor - (beyond[1] if b.right == pooled.shape[1] else 0),
                b.bottom * factor, b.right * factor).clip(mask.shape) for b in boxes]


def _labels_matter(labels: np.ndarray, unedited: np.ndarray | None, mask: np.ndarray,
                   box: Box) -> bool:
    """Whether ``labels`` differ from ``unedited`` (None: from unlabelled) inside ``box``
    where a fill reads them: on a hole pixel, or on a pixel whose label before or after is
    one the box's hole carries."""
    rows, cols = box.slices
    now, hole = labels[rows, cols], mask[rows, cols] >= 128
    before = None if unedited is None else unedited[rows, cols]
    changed = now != (UNLABELLED if before is None else before)
    if not changed.any():
        return False
    if (changed & hole).any():
        return True
    carried = np.bincount(now[hole], minlength=256).astype(bool)
    carried[UNLABELLED] = False
    return bool(carried[now[changed]].any()
                or (before is not None and carried[before[changed]].any()))


def _sampling_matters(include: np.ndarray | None, exclude: np.ndarray | None,
                      mask: np.ndarray, box: Box) -> bool:
    """Whether an include area leaves out, or an exclude area covers, a known pixel of
    ``box`` (a source the fill could otherwise copy)."""
    rows, cols = box.slices
    known = mask[rows, cols] < 128
    if include is not None and (known & (include[rows, cols] < 128)).any():
        return True
    return exclude is not None and bool((known & (exclude[rows, cols] >= 128)).any())


def follow_colour_hints(fill: np.ndarray, hole: np.ndarray, color: np.ndarray | None,
                        strength: float = 1.0, *, in_place: bool = False) -> np.ndarray:
    """``fill`` with its colours inside ``hole`` shifted toward the colour strokes painted
    there, its texture kept.

    ``fill``: ``(H, W, 3)`` uint8 RGB, an engine's result; ``hole``: ``(H, W)`` bool, True
    on the filled pixels; ``color``: ``(H, W, 4)`` uint8 RGBA strokes (alpha > 0 where
    painted; :attr:`InpaintRequest.color`) or None; ``strength``: 0..1, times each stroke's
    alpha / 255. Returns a new ``(H, W, 3)`` uint8 array, or with ``in_place`` ``fill``
    itself, shifted in place (for a caller that owns it: no copy of the whole picture);
    ``fill`` itself, unchanged, when no stroke lies in the hole or ``strength`` is 0. Pixels
    outside the hole are never changed.

    On a stroke the shift is ``strength * alpha / 255 * (hint - m)``, where ``m`` is the
    fill's local mean colour (:data:`COLOUR_HINT_DETAIL`), so a full stroke makes the fill
    its colour plus the fill's own detail. Between the strokes and the known pixels (anchored
    at no shift) the shift is interpolated by push-pull (a pyramid of weighted means); hole
    pixels lean weakly toward no shift, so it fades out beyond the strokes
    (:data:`COLOUR_HINT_SPREAD`), and it is faded in from the hole's edge
    (:data:`COLOUR_HINT_EDGE`): no seam.
    """
    painted = None if strength <= 0 else colour_strokes_in(hole, color)
    if painted is None:
        return fill
    height, width = hole.shape
    # the shift is gone three spreads beyond the strokes: work on the hole near them, with
    # known context for the local mean, from a corner on the pyramid's grid of the whole
    # picture (the result does not depend on where the box starts)
    margin = math.ceil(3 * COLOUR_HINT_DETAIL)
    near = Box.around(painted).grown(6 * COLOUR_HINT_SPREAD).intersection(
        Box.around(hole).grown(margin)).clip((height, width))
    box = Box(near.top // _GRID * _GRID, near.left // _GRID * _GRID, near.bottom, near.right)
    rows, cols = box.slices
    hole_u8 = hole[rows, cols].astype(np.uint8)
    painted = painted[rows, cols]
    pixels = fill[rows, cols].astype(np.float32)
    mean = cv2.GaussianBlur(pixels, (0, 0), COLOUR_HINT_DETAIL)
    amount = np.where(painted, np.minimum(color[rows, cols, 3] * (strength / 255.0), 1.0),
                      0.0).astype(np.float32)
    wanted = (color[rows, cols, :3].astype(np.float32) - mean) * amount[..., None]
    # certainty: 1 on strokes and known pixels (no shift), a weak pull to no shift elsewhere
    weight = np.where(hole_u8 > 0, 1.0 / COLOUR_HINT_SPREAD ** 2, 1.0).astype(np.float32)
    weight[painted] = 1.0
    shift = _push_pull(wanted, weight)
    inside = cv2.distanceTransform(hole_u8, cv2.DIST_L2, 3)
    edge = min(COLOUR_HINT_EDGE, max(1.0, float(inside.max()) / 2))
    ramp = np.clip((inside - 1.0) / edge, 0.0, 1.0)
    shift *= (ramp * ramp * (3.0 - 2.0 * ramp))[..., None]  # smoothstep, 0 on the edge row
    shifted = cv2.add(pixels, shift)  # float32
    result = fill if in_place else fill.copy()
    np.copyto(result[rows, cols], np.clip(np.rint(shifted), 0, 255).astype(np.uint8),
              where=hole_u8[..., None] > 0)
    return result


def _push_pull(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Scattered-data interpolation of ``values`` (``(h, w, 3)`` float32, each already times
    its certainty) with certainty ``weight`` (``(h, w)`` float32 in [0, 1]): pixels of
    certainty 1 keep their value, the others blend in the smooth interpolation of coarser
    levels (Gortler et al. 1996's push-pull, with OpenCV's Gaussian pyramid). Returns the
    ``(h, w, 3)`` float32 field."""
    levels = [(values, weight)]
    while min(weight.shape) > 1 and float(weight.min()) < 1.0:
        summed = cv2.pyrDown(values) * 4.0, cv2.pyrDown(weight) * 4.0
        scale = 1.0 / np.maximum(summed[1], 1.0)  # certainty saturates at 1
        values, weight = summed[0] * scale[..., None], summed[1] * scale
        levels.append((values, weight))
    field = levels[-1][0] / np.maximum(levels[-1][1], 1e-6)[..., None]
    for values, weight in reversed(levels[:-1]):
        height, width = weight.shape
        coarse = cv2.pyrUp(field, dstsize=(width, height))
        field = values + (1.0 - weight)[..., None] * coarse
    return field
