"""The "regions" parser on lossless flat graphics that the tolerance rule refuses (audit 25,
F5): a light-theme UI whose greys lie a few levels apart and a line chart of thin
antialiased lines take the exact-colour path; photos stay on the superpixel path."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from engines.segmentation import regions

LINES = [(31, 119, 180), (255, 127, 14), (44, 160, 44)]


def ui() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A 400x300 light-theme UI (background 245, title bar 235, side panel 250, a text box 255
    with a 1 px 180 border, a blue button with white text, dark antialiased text) and the
    masks of its flat areas' insides (2 px off every edge and text)."""
    image = np.full((300, 400, 3), 245, np.uint8)
    image[:40] = 235
    image[40:, :100] = 250
    cv2.rectangle(image, (120, 60), (380, 100), (180, 180, 180), 1)
    image[61:100, 121:380] = 255
    image[120:150, 120:220] = (0, 120, 215)
    for k in range(6):
        cv2.putText(image, f"item {k}", (10, 70 + 30 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (30, 30, 30), 1, cv2.LINE_AA)
    cv2.putText(image, "OK", (155, 142), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    masks = {name: np.zeros((300, 400), bool) for name in
             ("title", "panel", "background", "box", "button")}
    masks["title"][2:38, 2:398] = True
    masks["panel"][42:298, 80:98] = True  # right of the text
    masks["background"][42:298, 102:398] = True
    masks["background"][58:102, 118:382] = False
    masks["background"][118:152, 118:222] = False
    masks["box"][63:98, 123:378] = True
    masks["button"][122:148, 122:150] = True  # left of "OK"
    return image, masks


def test_a_light_ui_gets_one_label_per_flat_area_however_close_their_greys():
    image, masks = ui()
    small, _ = regions._shrink(image, 512)
    assert regions.flat_palette(small) is None  # greys 5 levels apart: the old rule refuses
    labels = regions.region_map(image)
    ids = {}
    for name, mask in masks.items():
        ids[name] = int(np.bincount(labels[mask]).argmax())
        assert (labels[mask] == ids[name]).all(), name
    assert len(set(ids.values())) == len(ids)  # 235, 245, 250, 255 and the blue apart
    assert ids["background"] == 0  # the largest
    border = np.zeros((300, 400), bool)
    cv2.rectangle(border.view(np.uint8), (120, 60), (380, 100), 1, 1)
    border_ids = np.unique(labels[border])
    assert len(border_ids) == 1 and int(border_ids[0]) not in ids.values()
    text = (image[42:, :100] <= 60).all(axis=2)  # the text's darkest pixels: one label
    text_ids, counts = np.unique(labels[42:, :100][text], return_counts=True)
    assert int(text_ids[counts.argmax()]) not in ids.values()
    assert counts.max() >= 0.97 * text.sum()  # a few lone dark specks may join the panel
    assert int(labels.max()) + 1 <= 9


def line_chart() -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """A 600x400 line chart: white, a 176 grid of 1 px lines, a black frame, 3 sine curves
    (2 px, antialiased, crossing each other) in matplotlib's colours; each curve's mask (as
    drawn alone) and the grid and frame's mask."""
    image = np.full((400, 600, 3), 255, np.uint8)
    furniture = np.zeros((400, 600), np.uint8)
    for x in range(100, 560, 80):
        cv2.line(image, (x, 40), (x, 360), (176, 176, 176), 1)
        cv2.line(furniture, (x, 40), (x, 360), 1, 1)
    for y in range(70, 360, 50):
        cv2.line(image, (60, y), (560, y), (176, 176, 176), 1)
        cv2.line(furniture, (60, y), (560, y), 1, 1)
    cv2.rectangle(image, (60, 40), (560, 360), (0, 0, 0), 1)
    cv2.rectangle(furniture, (60, 40), (560, 360), 1, 1)
    xs = np.linspace(70, 550, 400)
    curves = []
    for k, colour in enumerate(LINES):
        ys = 200 - 140 * np.sin((xs - 70) / 480 * 4 * np.pi + k * 1.3)
        points = (np.stack([xs, ys], axis=1) * 16).astype(np.int32)
        cv2.polylines(image, [points], False, colour, 2, cv2.LINE_AA, shift=4)
        alone = np.zeros((400, 600), np.uint8)
        cv2.polylines(alone, [points], False, 255, 2, cv2.LINE_AA, shift=4)
        curves.append(alone)
    return image, curves, furniture.astype(bool)


def test_a_line_chart_gives_each_line_a_label_and_its_edges_to_the_nearest():
    image, curves, furniture = line_chart()
    small, _ = regions._shrink(image, 512)
    assert regions.flat_palette(small) is None  # the old rule sent it to the photo path
    labels = regions.region_map(image)
    white = regions._uniform(image) & (image == 255).all(axis=2)
    assert np.unique(labels[white]).tolist() == [0]  # the background, grid cells and all
    ids = []
    for colour in LINES:
        exact = (image == colour).all(axis=2)
        assert exact.sum() > 500
        line_ids = np.unique(labels[exact])
        assert len(line_ids) == 1  # the whole line, cut by the others as it is
        ids.append(int(line_ids[0]))
    assert len(set(ids)) == 3 and 0 not in ids
    grid, counts = np.unique(labels[(image == 176).all(axis=2)], return_counts=True)
    assert int(grid[counts.argmax()]) not in [0, *ids]  # a few of its pixels hide in edges
    assert counts.max() >= 0.98 * counts.sum()
    assert int(labels.max()) + 1 == 6  # background, grid, black frame, 3 lines
    # an edge pixel of one line alone (nothing else within 4 px) goes to the line where it
    # is mostly the line's colour, to the background where mostly white
    near = cv2.dilate(furniture.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    for k, (curve, line) in enumerate(zip(curves, ids)):
        others = np.logical_or.reduce([c > 0 for j, c in enumerate(curves) if j != k])
        clear = ~near & ~cv2.dilate(others.astype(np.uint8), np.ones((9, 9), np.uint8)) \
            .astype(bool)
        assert (labels[clear & (curve >= 192)] == line).all()
        assert (labels[clear & (curve > 0) & (curve <= 64)] == 0).all()
        assert ((curve >= 192) & clear).sum() > 300 and ((curve > 0) & (curve <= 64) & clear).any()


def test_the_exact_path_reports_its_step_and_ends_with_the_labels_count():
    image, _, _ = line_chart()
    seen: list[tuple[float, str]] = []
    regions.RegionParser().parse(image, progress=lambda f, text: seen.append((f, text)))
    assert [text for _, text in seen[:2]] == ["finding colour regions",
                                             "finding flat colour areas"]
    assert seen[-1] == (1.0, "6 labels")


@pytest.mark.parametrize("photo", [data.astronaut, data.coffee, data.chelsea, data.rocket],
                         ids=["astronaut", "coffee", "chelsea", "rocket"])
def test_photos_are_no_exact_graphics(photo):
    image = photo()
    assert regions.exact_palette(image) is None
    # nor with two thirds of the picture a flat black border (3 x 3 exact blocks well over half)
    bordered = np.zeros((image.shape[0], image.shape[1] * 3, 3), np.uint8)
    bordered[:, :image.shape[1]] = image
    assert regions._repeated_share(bordered) >= regions._EXACT_UNIFORM
    assert regions.exact_palette(bordered) is None


def test_the_flat_cases_of_the_tolerance_rule_keep_that_path(monkeypatch):
    """Bar charts and logos are still mapped by flat_map: the exact rule finds no more
    colours in them than the tolerance rule."""
    from tests.engines.test_regions_flat import bar_chart, logo

    for image, _ in (bar_chart(), logo()):
        mapped = regions.region_map(image)
        with monkeypatch.context() as patched:
            patched.setattr(regions, "exact_palette", lambda image, working_size=512: None)
            np.testing.assert_array_equal(mapped, regions.region_map(image))


def _thin_line_chart(width: int) -> np.ndarray:
    """A 900 x 600 white chart with black axes and three antialiased sine curves ``width``
    px wide that cross one another: at the working size (512) the lines blur away, and the
    tolerance rule finds the white alone (QA audit 27, finding 1)."""
    chart = np.full((600, 900, 3), 255, np.uint8)
    cv2.line(chart, (60, 560), (880, 560), (0, 0, 0), 1)
    cv2.line(chart, (60, 20), (60, 560), (0, 0, 0), 1)
    xs = np.arange(60, 880)
    for k, colour in enumerate([(31, 119, 180), (255, 127, 14), (44, 160, 44)]):
        ys = (300 + 150 * np.sin(xs / (60 + 20 * k)) + k * 30).astype(np.int32)
        cv2.polylines(chart, [np.stack([xs, ys], 1)], False, colour, width, cv2.LINE_AA)
    return chart


@pytest.mark.parametrize("width", [2, 3])
def test_a_chart_whose_lines_the_working_size_loses_takes_the_exact_path(width):
    chart = _thin_line_chart(width)
    small, _ = regions._shrink(chart, 512)
    palette = regions.flat_palette(small)
    assert palette is None or len(palette) < 5  # the tolerance rule misses lines
    labels = regions.region_map(chart)
    assert len(np.unique(labels)) == 5  # white, black, and one label per line
    for colour in [(31, 119, 180), (255, 127, 14), (44, 160, 44), (0, 0, 0)]:
        exact = (chart == colour).all(axis=2)
        values, counts = np.unique(labels[exact], return_counts=True)
        # each line (cut by the others) is one label, but for a speck where lines cross
        assert counts.max() >= 0.99 * exact.sum()
        assert values[counts.argmax()] != labels[0, 0]  # and not the background's


def test_many_small_icons_and_small_pixel_art_take_the_exact_path():
    """Flat squares 16 px wide, 6 px apart (a sample of every 4th pixel of a 1600 px wide
    picture breaks their 3 x 3 blocks up), and 64 x 64 pixel art of 4 x 4 blocks: the gate
    looks at full-size tiles (QA audit 27, finding 6: both took the photo path, 24 labels
    mixing icons and white)."""
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (8, 3))
    icons = np.full((1200, 1600, 3), 255, np.uint8)
    for y in range(5, 1190, 22):
        for x in range(5, 1590, 22):
            icons[y:y + 16, x:x + 16] = colours[rng.integers(0, 8)]
    art = cv2.resize(rng.integers(0, 256, (12, 3)).astype(np.uint8)[rng.integers(0, 12, (16, 16))],
                     (64, 64), interpolation=cv2.INTER_NEAREST)
    for picture, count in ((icons, 9), (art, 12)):
        assert regions.exact_palette(picture) is not None
        labels = regions.region_map(picture)
        codes = regions._exact_codes(picture)
        for label in np.unique(labels):  # every label holds one colour
            assert len(np.unique(codes[labels == label])) == 1
        assert len(np.unique(codes)) == count
    assert len(np.unique(regions.region_map(icons))) == 9  # white and the 8 colours
