"""Colour strokes steer the colour of a fill (engines.guidance.follow_colour_hints): toward
the strokes' colour under them, fading out away from them and toward the hole's edge, the
fill's texture kept; Guided PatchMatch and OpenCV Telea / Navier-Stokes follow them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engines import registry
from engines.base import Guidance, InpaintRequest, InputError
from engines.classical.patchmatch.engine import PatchMatchEngine
from engines.guidance import COLOUR_HINT_SPREAD, follow_colour_hints

H, W = 120, 160
RED = (230, 20, 20)


def _grey_picture(level: int = 110, amplitude: int = 12, seed: int = 0) -> np.ndarray:
    """A grey (equal channels) ``(H, W, 3)`` uint8 picture of ``level`` with fine texture."""
    rng = np.random.default_rng(seed)
    grey = level + rng.integers(-amplitude, amplitude + 1, (H, W))
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _hole() -> np.ndarray:
    hole = np.zeros((H, W), bool)
    hole[20:100, 20:140] = True
    return hole


def _strokes(*rects, colour=RED, alpha=255) -> np.ndarray:
    """``(H, W, 4)`` uint8 RGBA, ``colour`` and ``alpha`` on each ``(rows, cols)`` slice."""
    color = np.zeros((H, W, 4), np.uint8)
    for rect in rects:
        color[rect] = (*colour, alpha)
    return color


def _redness(image: np.ndarray, where: np.ndarray) -> float:
    pixels = image[where].astype(np.float64)
    return float((pixels[:, 0] - (pixels[:, 1] + pixels[:, 2]) / 2).mean())


def _inner_edge(hole: np.ndarray) -> np.ndarray:
    """The hole pixels next to a known pixel."""
    eroded = cv2.erode(hole.astype(np.uint8), np.ones((3, 3), np.uint8),
                       borderType=cv2.BORDER_CONSTANT, borderValue=1)
    return hole & (eroded == 0)


def test_a_red_stroke_tints_the_fill_under_it_and_leaves_the_rest_grey():
    fill, hole = _grey_picture(), _hole()
    stroke = (slice(55, 65), slice(40, 70))
    color = _strokes(stroke)
    result = follow_colour_hints(fill, hole, color)
    under = np.zeros((H, W), bool)
    under[stroke] = True
    assert _redness(result, under) > 150  # about RED's 210: red, not just warmer
    near = np.zeros((H, W), bool)
    near[55:65, 72:76] = True  # just beyond the stroke's end: reddish still
    assert 10 < _redness(result, near) < _redness(result, under)
    far = hole.copy()
    far[:, :70 + 4 * COLOUR_HINT_SPREAD] = False  # 4 spreads beyond the stroke's end
    np.testing.assert_array_equal(result[far], fill[far])  # grey as it was
    np.testing.assert_array_equal(result[~hole], fill[~hole])  # never outside the hole


def test_pixels_outside_the_hole_never_change_even_under_a_stroke():
    fill, hole = _grey_picture(), _hole()
    color = _strokes((slice(0, H), slice(60, 80)))  # across the hole and beyond it
    result = follow_colour_hints(fill, hole, color)
    np.testing.assert_array_equal(result[~hole], fill[~hole])
    assert _redness(result, hole & (color[..., 3] > 0)) > 100


def test_no_seam_where_a_stroke_crosses_the_holes_edge():
    fill, hole = _grey_picture(), _hole()
    color = _strokes((slice(0, H), slice(60, 80)), (slice(50, 70), slice(0, W)))
    result = follow_colour_hints(fill, hole, color)
    shift = result.astype(np.float32) - fill
    edge = _inner_edge(hole)
    assert np.abs(shift[edge]).max() <= 2  # the fill meets the picture at the edge
    # and the shift rises gradually into the hole, not in one step (a hard edge: ~200)
    steps = max(np.abs(np.diff(shift, axis=axis)).max() for axis in (0, 1))
    assert steps < 60
    assert _redness(result, hole & (color[..., 3] > 0)) > 100


def test_the_fills_texture_is_kept_where_it_is_shifted():
    fill = _grey_picture(level=100, amplitude=25)
    hole = _hole()
    hint = (170, 90, 60)  # no channel is clipped at 0 or 255 once shifted
    color = _strokes((slice(35, 85), slice(40, 120)), colour=hint)
    result = follow_colour_hints(fill, hole, color)
    inside = np.zeros((H, W), bool)
    inside[45:75, 50:110] = True  # the stroke's interior

    def detail(image):
        pixels = image.astype(np.float32)
        return pixels - cv2.GaussianBlur(pixels, (0, 0), 1.0)

    np.testing.assert_allclose(detail(result)[inside], detail(fill)[inside], atol=2.5)
    mean = result[inside].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(mean, hint, atol=6)  # the stroke's colour on average
    assert result[inside].astype(np.float32).std(axis=0).min() > 10  # not flat paint


def test_a_strokes_alpha_and_the_strength_scale_the_shift():
    fill, hole = _grey_picture(amplitude=0), _hole()
    under = np.zeros((H, W), bool)
    under[50:70, 50:110] = True
    full = _redness(follow_colour_hints(fill, hole, _strokes((under,))), under)
    half_alpha = _redness(follow_colour_hints(fill, hole, _strokes((under,), alpha=128)),
                          under)
    half_strength = _redness(follow_colour_hints(fill, hole, _strokes((under,)), 0.5), under)
    assert full > 150
    assert half_alpha == pytest.approx(full / 2, rel=0.1)
    assert half_strength == pytest.approx(full / 2, rel=0.1)


def test_nothing_to_follow_leaves_the_fill_as_it_is():
    fill, hole = _grey_picture(), _hole()
    outside = _strokes((slice(0, 10), slice(0, W)))  # only beyond the hole
    inside = _strokes((slice(50, 60), slice(50, 60)))
    assert follow_colour_hints(fill, hole, None) is fill
    assert follow_colour_hints(fill, hole, outside) is fill
    assert follow_colour_hints(fill, hole, inside, strength=0.0) is fill


def test_a_hole_at_the_pictures_border_is_shifted_up_to_it():
    fill = _grey_picture()
    hole = np.zeros((H, W), bool)
    hole[:, :40] = True  # from the picture's left edge
    color = _strokes((slice(40, 80), slice(0, 20)))
    result = follow_colour_hints(fill, hole, color)
    assert _redness(result, color[..., 3] > 0) > 150  # no fade where no picture meets it
    np.testing.assert_array_equal(result[~hole], fill[~hole])


def _request(color=None, **settings) -> InpaintRequest:
    mask = np.zeros((H, W), np.uint8)
    mask[_hole()] = 255
    return InpaintRequest(_grey_picture(), mask, color=color, seed=5, **settings)


STROKE = (slice(56, 64), slice(45, 115))


def test_the_classical_engines_declare_colour_strokes():
    for name in ("patchmatch", "telea", "ns"):
        assert Guidance.COLOR in registry.engine_class(name).guidance
    assert registry.unused_guidance("patchmatch", {Guidance.SKETCH, Guidance.COLOR}) == ([], [])
    unused, users = registry.unused_guidance("lama", {Guidance.COLOR})
    assert unused == ["color"] and {"patchmatch", "telea", "ns"} <= set(users)


def test_the_engines_named_first_follow_the_most_of_the_guidance_given(monkeypatch):
    registry.discover()  # then registered in an order that puts the OpenCV engines first
    monkeypatch.setattr(registry, "_ENGINES", dict(sorted(
        registry._ENGINES.items(), key=lambda item: item[0] not in ("telea", "ns"))))
    unused, users = registry.unused_guidance("lama", {Guidance.COLOR})
    assert users[:3] == ["patchmatch", "telea", "ns"]  # the one taking every kind first
    unused, users = registry.unused_guidance("telea", {Guidance.SKETCH, Guidance.COLOR})
    assert unused == ["sketch"] and users[0] == "patchmatch"  # it follows both
    assert {"edgeconnect", "edgeconnect-face"} <= set(users[1:])  # the sketch only
    unused, users = registry.unused_guidance("lama", {Guidance.SKETCH})
    assert users[0] == "patchmatch" and users.index("edgeconnect") == 1


@pytest.mark.parametrize("name", ["patchmatch", "telea", "ns"])
def test_every_stage_follows_the_strokes_on_a_grey_picture(name):
    color = _strokes(STROKE)
    request = _request(color)
    options = {"backend": "numba", "quality": "fast"} if name == "patchmatch" else {}
    stages = list(registry.create(name, **options).run(request))
    assert len(stages) >= 2  # the coarse stages too
    under = color[..., 3] > 0
    far = request.hole.copy()
    far[56 - 3 * COLOUR_HINT_SPREAD:64 + 3 * COLOUR_HINT_SPREAD] = False  # away from it
    for stage in stages:
        np.testing.assert_array_equal(stage.image[~request.hole], request.image[~request.hole])
        assert _redness(stage.image, under) > 120, stage.name  # not made grey
        assert abs(_redness(stage.image, far)) < 3, stage.name


def test_colour_strength_zero_gives_the_unguided_result_exactly():
    options = {"backend": "numba", "quality": "fast"}
    plain = [s.image for s in PatchMatchEngine(**options).run(_request())]
    ignored = [s.image for s in PatchMatchEngine(colour_strength=0.0, **options).run(
        _request(_strokes(STROKE)))]
    assert len(plain) == len(ignored)
    for a, b in zip(plain, ignored, strict=True):
        np.testing.assert_array_equal(a, b)
    followed = PatchMatchEngine(colour_strength=0.5, **options)
    half = list(followed.run(_request(_strokes(STROKE))))[-1].image
    under = _strokes(STROKE)[..., 3] > 0
    assert 40 < _redness(half, under) < 150


def test_colour_strength_is_a_user_option_from_0_to_1():
    spec = next(s for s in PatchMatchEngine.user_options() if s.key == "colour_strength")
    assert (spec.default, spec.minimum, spec.maximum) == (1.0, 0.0, 1.0)
    assert PatchMatchEngine.parse_options({"colour_strength": "0.3"}) == {
        "colour_strength": 0.3}
    with pytest.raises(InputError, match=r"colour_strength takes 0\.\.1"):
        PatchMatchEngine(colour_strength=1.5)
