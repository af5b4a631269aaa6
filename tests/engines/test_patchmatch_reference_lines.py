"""A traced thin line with a reference photo (an exemplar): the reference's structure map
marks its lines by their centre line as deep as its own gradients ask, so a reference whose
texture is much busier or smoother than the picture's still lends its line to the stroke.

Since 3457747 the picture's lines are no deeper than the finest level's threshold asks at
any level (nor than the level's own asks, since the nineteenth session); the references
took that threshold too, so a faint wire on a smooth reference was no line by a busy
picture's depth, and the stroke made its line vanish from a fill that copied it without a
sketch."""

from __future__ import annotations

import cv2
import numpy as np

from engines.base import CancelToken, InpaintRequest
from engines.classical.patchmatch.engine import PatchMatchEngine

SIZE = (240, 320)
WIDTH = 4  # the wire, px


def _line(start, end) -> np.ndarray:
    """Bool map of a ``WIDTH`` px line across the picture."""
    line = np.zeros(SIZE, np.uint8)
    cv2.line(line, start, end, 255, WIDTH)
    return line > 0


def _noisy(colour, spread: float, seed: int) -> np.ndarray:
    """A float RGB picture of ``colour`` with uniform grey noise ``spread`` levels wide."""
    noise = np.random.default_rng(seed).uniform(-spread / 2, spread / 2, SIZE)
    return np.asarray(colour, np.float64)[None, None, :] + noise[..., None]


def _scene(picture, spread, level, ref_colour, ref_spread, ref_level, side=80):
    """A picture crossed by a dark wire (grey ``level``) shown only near a ``side`` px hole
    and never a patch source (``sample_exclude``), a 3 px stroke along it from 15 px before
    the hole to 15 px after it, and a reference photo holding a parallel wire of grey
    ``ref_level`` on another background. Returns (picture, hole, stroke, exclude,
    reference, the wire's pixels in the hole)."""
    line = _line((20, 200), (300, 40))
    image = _noisy((picture,) * 3, spread, 0)
    hole = np.zeros(SIZE, np.uint8)
    hole[120 - side // 2:120 + side // 2, 160 - side // 2:160 + side // 2] = 255
    near = cv2.dilate(hole, np.ones((37, 37), np.uint8)) > 0
    image[line & near] = level
    image = np.clip(image, 0, 255).astype(np.uint8)
    reach = side // 2 + 15
    y_at = lambda x: round(200 - (x - 20) * 160 / 280)  # noqa: E731 (the wire's row)
    sketch = np.zeros(SIZE, np.uint8)
    cv2.line(sketch, (160 - reach, y_at(160 - reach)), (160 + reach, y_at(160 + reach)),
             255, 3)
    exclude = (cv2.dilate(line.view(np.uint8), np.ones((11, 11), np.uint8)) * 255
               ).astype(np.uint8)
    reference = _noisy(ref_colour, ref_spread, 7)
    reference[_line((20, 230), (300, 70))] = ref_level
    reference = np.clip(reference, 0, 255).astype(np.uint8)
    return image, hole, sketch, exclude, reference, line & (hole > 0)


def _fill(image, hole, sketch, exclude, reference, seed=0) -> np.ndarray:
    request = InpaintRequest(image=image, mask=hole, sketch=sketch, sample_exclude=exclude,
                             exemplars=(reference,), seed=seed)
    result = list(PatchMatchEngine().run(request, CancelToken()))[-1].image
    np.testing.assert_array_equal(result[hole == 0], image[hole == 0])
    return result


def _along_and_contrast(result, wire) -> tuple[float, float]:
    """The fill's mean grey on the wire's pixels in the hole, and how much darker it is
    there than 3 to 8 px beside them."""
    grey = result.astype(np.float64).mean(axis=2)
    away = cv2.distanceTransform((~wire).view(np.uint8), cv2.DIST_L2, 3)
    in_hole = cv2.dilate(wire.view(np.uint8), np.ones((21, 21), np.uint8)) > 0
    beside = in_hole & (away > 2) & (away <= 8)
    return float(grey[wire].mean()), float(grey[beside].mean() - grey[wire].mean())


def test_a_wire_only_in_the_reference_is_continued_along_the_stroke():
    """The same wire and texture in the reference, on a green background: the stroke takes
    the reference's wire (grey 25 where it is 20; 124, no line, without the sketch)."""
    scene = _scene(125, 30, 20, (120, 170, 110), 30, 20)
    image, hole, _, exclude, reference, wire = scene
    along, contrast = _along_and_contrast(_fill(*scene[:5]), wire)
    plain, _ = _along_and_contrast(_fill(image, hole, None, exclude, reference), wire)
    assert abs(along - 20) < 15 and contrast > 80
    assert plain > 100


def test_a_faint_wire_on_a_smooth_reference_stays_a_line_with_the_stroke():
    """A busy picture (texture 90 grey levels wide: Canny's high threshold 230, a line 29
    deep) and a smooth reference whose wire is 25 below its sky: the fill without a sketch
    copies the faint wire (21 darker than beside it); with the stroke it did not (6) while
    the reference's map took the picture's depth, and does (24) at its own."""
    scene = _scene(140, 90, 20, (140, 140, 140), 4, 115)
    image, hole, _, exclude, reference, wire = scene
    _, traced = _along_and_contrast(_fill(*scene[:5]), wire)
    _, plain = _along_and_contrast(_fill(image, hole, None, exclude, reference), wire)
    assert plain > 15
    assert traced > 15 and traced > plain - 5


def test_a_wire_on_a_busy_reference_is_copied_whole_into_a_smooth_picture():
    """A smooth picture (texture 30 wide) and a busy reference (90 wide) with the same wire
    (grey 60): the stroke copies it at its grey (mean error 5 over seeds 0 to 2; 9.6 at the
    picture's depth, which marked the reference's texture grains as lines too)."""
    scene = _scene(140, 30, 60, (140, 140, 140), 90, 60)
    wire = scene[5]
    errors = [np.abs(_fill(*scene[:5], seed=seed).astype(np.float64).mean(axis=2)[wire]
                     - 60).mean() for seed in (0, 1, 2)]
    assert np.mean(errors) < 7.5
    plain = _fill(scene[0], scene[1], None, *scene[3:5])
    assert np.abs(plain.astype(np.float64).mean(axis=2)[wire] - 60).mean() > 40


def test_a_faint_reference_does_not_draw_the_pictures_own_wire_away():
    """A busy picture's coarse levels judge its lines by their own, lower depth (its noise
    averages out as it shrinks): at the finest level's, level 1 found 75 of the wire's 173
    centre pixels and the stroke took a smooth reference's faint wire instead (grey 104
    where it is 20)."""
    rng = np.random.default_rng(0)
    image = 140 + rng.uniform(-45, 45, SIZE)[..., None].repeat(3, axis=2)
    wire = _line((20, 200), (300, 40))
    image[wire] = 20
    image = np.clip(image, 0, 255).astype(np.uint8)
    hole = np.zeros(SIZE, np.uint8)
    hole[95:145, 135:185] = 255
    sketch = np.zeros(SIZE, np.uint8)
    cv2.line(sketch, (120, 143), (200, 97), 255, 3)
    reference = _noisy((140, 140, 140), 4, 7)
    reference[_line((20, 230), (300, 70))] = 115
    reference = np.clip(reference, 0, 255).astype(np.uint8)
    in_hole = wire & (hole > 0)
    result = _fill(image, hole, sketch, None, reference, seed=2)
    assert result.astype(np.float64).mean(axis=2)[in_hole].mean() < 45
