"""Display pyramids: correct overlay colours, dirty-box updates, preview hides the mask."""

from __future__ import annotations

import cv2
import numpy as np

from app.document import SAMPLE_EXCLUDE, Document, Layer
from app.viewcache import ViewCache, nonzero_rects
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


def _holes(doc: Document, centres, radius=12) -> np.ndarray:
    """Paint round holes into the mask; returns a stage-like result: the picture with the
    hole pixels changed (as an engine leaves everything else as it was)."""
    with doc.step("mask"):
        for x, y in centres:
            doc.paint_segment(Layer.MASK, (x, y), (x, y), radius, 255)
    result = doc.image.copy()
    result[doc.mask > 0] = (20, 200, 60)
    return result


def _converted_pixels(monkeypatch) -> list[int]:
    """Pixels passed to cv2.cvtColor from now on, per call."""
    counted = []
    convert = cv2.cvtColor

    def spy(source, code, *args, **kwargs):
        counted.append(source.shape[0] * source.shape[1])
        return convert(source, code, *args, **kwargs)

    monkeypatch.setattr(cv2, "cvtColor", spy)
    return counted


def test_a_stage_converts_only_the_rectangles_around_its_hole(monkeypatch):
    doc = _doc()
    view, whole = ViewCache(doc), ViewCache(doc)
    result = _holes(doc, [(100, 100), (1200, 800), (650, 450)])
    box = Box(88, 88, 813, 1213)  # spans the picture, as the holes do
    dirty = nonzero_rects(doc.mask, box)
    converted = _converted_pixels(monkeypatch)
    view.set_preview(result, box, dirty)
    # three 25 px holes: a few 64 px squares each, not the 725x1125 box
    assert 0 < sum(converted) <= 3 * 4 * 64 * 64
    converted.clear()
    whole.set_preview(result, box)  # the same stage shown the old way: all of the box
    assert sum(converted) >= box.height * box.width
    for ours, everything in zip(view.preview_levels, whole.preview_levels):
        assert np.array_equal(ours, everything)  # what shows is the same at every level
    assert np.array_equal(view.preview_levels[0][..., 2::-1], result[box.slices])


def test_later_stages_of_the_same_box_leave_the_overlay_alone(monkeypatch):
    doc = _doc()
    view = ViewCache(doc)
    doc.add_listener(view.update)
    result = _holes(doc, [(300, 300), (900, 600)])
    box = Box(280, 280, 621, 921)
    rendered = []
    render = ViewCache._render_overlay
    monkeypatch.setattr(ViewCache, "_render_overlay",
                        lambda self, b: rendered.append(b) or render(self, b))
    view.set_preview(result, box, nonzero_rects(doc.mask, box))
    assert rendered and sum(b.height * b.width for b in rendered) < box.height * box.width / 4
    assert view.levels[0].overlay[300, 300, 3] == 0  # the mask hidden under the preview
    rendered.clear()
    view.set_preview(result.copy(), box, nonzero_rects(doc.mask, box))  # the next stage
    assert rendered == []
    view.set_preview(None, None)
    assert view.levels[0].overlay[300, 300, 3] > 0 and view.levels[0].overlay[600, 900, 3] > 0


def test_the_mask_outside_the_preview_box_stays_visible():
    doc = _doc()
    view = ViewCache(doc)
    doc.add_listener(view.update)
    result = _holes(doc, [(200, 200)])
    box = Box(185, 185, 216, 216)
    view.set_preview(result, box, nonzero_rects(doc.mask, box))
    with doc.step("another stroke while the engine runs"):
        doc.paint_segment(Layer.MASK, (900, 600), (950, 600), 8, 255)
    assert view.levels[0].overlay[600, 920, 3] > 0
    assert view.levels[0].overlay[200, 200, 3] == 0


def test_a_changed_picture_shows_around_the_preview_patches():
    doc = _doc()
    view = ViewCache(doc)
    doc.add_listener(view.update)
    result = _holes(doc, [(400, 300)])
    box = Box(200, 200, 500, 700)
    view.set_preview(result, box, nonzero_rects(doc.mask, box))
    changed = doc.image.copy()
    changed[320:330, 380:440] = 7  # beside the hole, inside one of its squares
    doc.apply_result(changed, used_mask=np.zeros_like(doc.mask))
    shown = view.preview_levels[0][..., 2::-1]
    assert (shown[320 - 200:330 - 200, 380 - 200:440 - 200] == 7).all()
    assert (shown[300 - 200, 400 - 200] == (20, 200, 60)).all()


def test_nonzero_rects_cover_the_layer_inside_the_box_without_overlapping():
    rng = np.random.default_rng(3)
    layer = np.zeros((700, 900), np.uint8)
    for _ in range(12):
        y, x = rng.integers(0, 700), rng.integers(0, 900)
        cv2.circle(layer, (int(x), int(y)), int(rng.integers(2, 60)), 255, -1)
    box = Box(50, 30, 690, 870)
    rects = nonzero_rects(layer, box, tile=64)
    covered = np.zeros(layer.shape, int)
    for rect in rects:
        assert box.contains(rect) and layer[rect.slices].any()
        covered[rect.slices] += 1
    assert covered.max() == 1
    inside = np.zeros(layer.shape, bool)
    inside[box.slices] = True
    assert (covered[(layer > 0) & inside] == 1).all()
    assert covered.sum() < 0.8 * box.height * box.width
    assert nonzero_rects(np.zeros_like(layer), box) == []
