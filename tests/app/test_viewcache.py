"""Display pyramids: correct overlay colours, dirty-box updates, preview hides the mask."""

from __future__ import annotations

import cv2
import numpy as np

from app.document import SAMPLE_EXCLUDE, Document, Layer
from app.viewcache import ViewCache
from engines.region import Box


def _doc() -> Document:
    rng = np.random.default_rng(0)
    return Document(rng.integers(0, 256, (900, 1300, 3), dtype=np.uint8))


def _premultiplied(rgb, alpha) -> np.ndarray:
    return np.array([rgb[2] * alpha, rgb[1] * alpha, rgb[0] * alpha, 255 * alpha])


def test_levels_halve_down_to_about_screen_size_and_base_is_bgrx():
    doc = _doc()
    view = ViewCache(doc)
    assert [lv.factor for lv in view.levels] == [1, 2, 4]  # until the short side <= 384
    assert view.levels[1].base.shape == (450, 650, 4)
    assert np.array_equal(view.levels[0].base[..., 2::-1], doc.image)
    assert (view.levels[0].base[..., 3] == 255).all()
    expected = cv2.resize(view.levels[0].base, (650, 450), interpolation=cv2.INTER_AREA)
    assert np.array_equal(view.levels[1].base, expected)


def test_overlay_colours_are_the_premultiplied_style_colours():
    doc = _doc()
    view = ViewCache(doc)
    doc.add_listener(view.update)
    with doc.step("paint"):
        doc.paint_segment(Layer.MASK, (100, 100), (100, 100), 10, 255)
        doc.paint_segment(Layer.SAMPLING, (600, 400), (600, 400), 10, SAMPLE_EXCLUDE)
        doc.paint_segment(Layer.SKETCH, (900, 300), (900, 300), 3, 255)
    style = view.style
    overlay = view.levels[0].overlay.astype(int)
    assert np.abs(overlay[100, 100] - _premultiplied(style.mask_rgb, style.mask_opacity)).max() <= 1
    assert np.abs(overlay[400, 600] - _premultiplied(style.exclude_rgb,
                                                      style.sampling_opacity)).max() <= 1
    assert np.abs(overlay[300, 900] - _premultiplied(style.sketch_rgb, 1.0)).max() <= 1
    assert not overlay[700, 200].any()


def test_layers_stack_bottom_to_top_with_over():
    doc = _doc()
    labels = doc.layer(Layer.LABELS).copy()
    labels[:] = 3
    doc.replace_layer(Layer.LABELS, labels, "labels")
    with doc.step("mask"):
        doc.paint_segment(Layer.MASK, (50, 50), (50, 50), 8, 255)
    view = ViewCache(doc)
    style = view.style
    below = _premultiplied(style.palette[3], style.label_opacity)
    above = _premultiplied(style.mask_rgb, style.mask_opacity)
    expected = above + below * (1 - style.mask_opacity)
    assert np.abs(view.levels[0].overlay[50, 50].astype(int) - expected).max() <= 2


def test_updates_touch_only_the_dirty_box():
    doc = _doc()
    view = ViewCache(doc)
    doc.add_listener(view.update)
    before = view.levels[0].overlay.copy()
    with doc.step("paint"):
        box = doc.paint_segment(Layer.MASK, (400, 300), (500, 320), 6, 255)
    changed = np.argwhere((view.levels[0].overlay != before).any(axis=2))
    assert changed[:, 0].min() >= box.top and changed[:, 0].max() < box.bottom
    assert changed[:, 1].min() >= box.left and changed[:, 1].max() < box.right
    level1 = view.levels[1].overlay
    assert level1[155, 225, 3] > 0  # the coarser level follows


def test_a_preview_hides_the_mask_under_it_and_shows_again_when_cleared():
    doc = _doc()
    view = ViewCache(doc)
    doc.add_listener(view.update)
    with doc.step("mask"):
        doc.paint_segment(Layer.MASK, (200, 200), (260, 200), 10, 255)
    assert view.levels[0].overlay[200, 230, 3] > 0
    result = doc.image.copy()
    result[190:211, 190:271] = 0
    view.set_preview(result, Box(190, 190, 211, 271))
    assert view.levels[0].overlay[200, 230, 3] == 0
    assert view.preview_levels[0].shape == (21, 81, 4) and not view.preview_levels[0][..., :3].any()
    view.set_show_preview(False)  # holding "original"
    assert view.levels[0].overlay[200, 230, 3] > 0
    view.set_show_preview(True)
    view.set_preview(None, None)
    assert view.levels[0].overlay[200, 230, 3] > 0


def test_level_choice_never_magnifies_a_coarse_level():
    view = ViewCache(_doc())
    assert view.level_for(1.0) == 0
    assert view.level_for(0.5) == 1
    assert view.level_for(0.3) == 1
    assert view.level_for(4.0) == 0
