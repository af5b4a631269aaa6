"""A GIF saved on its own palette keeps every untouched pixel's entry, also where the
palette lists one colour more than once (the pixel's own entry, not the colour's first)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engines.fileio import load_image, save_result

# entries 0 and 2 are both red, 1 and 4 both blue; 3 green; 5 (also red) is transparent
_PALETTE = np.array([[255, 0, 0], [0, 0, 255], [255, 0, 0], [0, 160, 0], [0, 0, 255],
                     [255, 0, 0], [9, 9, 9], [9, 9, 9]], np.uint8)


def _write(path, indices: np.ndarray, transparency: int | None = None) -> None:
    picture = Image.fromarray(indices, "P")
    picture.putpalette(_PALETTE.tobytes())
    options = {} if transparency is None else {"transparency": transparency}
    picture.save(path, optimize=False, **options)


def _indices(path) -> np.ndarray:
    with Image.open(path) as written:
        assert written.mode == "P"
        assert np.array_equal(np.array(written.getpalette(), np.uint8).reshape(-1, 3)[:8],
                              _PALETTE)
        return np.array(written)


def _original(height: int = 40, width: int = 60) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return ((x // 3 + y // 2) % 5).astype(np.uint8)  # entries 0-4, both reds, both blues


def test_untouched_pixels_keep_their_own_entry_of_a_duplicated_colour(tmp_path):
    indices = _original()
    _write(tmp_path / "in.gif", indices)
    loaded = load_image(tmp_path / "in.gif")
    hole = np.zeros(indices.shape, bool)
    hole[10:20, 15:35] = True
    result = loaded.rgb.copy()
    result[hole] = (250, 5, 5)  # nearest: red, whose first entry is 0
    saved = save_result(tmp_path / "out.gif", result, loaded, edited=hole)
    written = _indices(saved)
    assert np.array_equal(written[~hole], indices[~hole])  # entry 2 stays 2, 4 stays 4
    assert (written[hole] == 0).all()  # a filled pixel: the nearest colour's first entry


def test_a_pixel_painted_another_duplicated_colour_gets_that_colours_first_entry(tmp_path):
    indices = _original()
    _write(tmp_path / "in.gif", indices)
    loaded = load_image(tmp_path / "in.gif")
    result = loaded.rgb.copy()
    painted = indices == 2  # the second red entry's pixels, painted blue
    result[painted] = (0, 0, 255)
    written = _indices(save_result(tmp_path / "out.gif", result, loaded))
    assert (written[painted] == 1).all()
    assert np.array_equal(written[~painted], indices[~painted])


def test_a_transparent_duplicate_entry_stays_off_opaque_pixels(tmp_path):
    indices = _original()
    indices[:, :4] = 5  # transparent (its colour is red too)
    _write(tmp_path / "in.gif", indices, transparency=5)
    loaded = load_image(tmp_path / "in.gif")
    assert (loaded.alpha[:, :4] == 0).all()
    result = loaded.rgb.copy()
    written = _indices(save_result(tmp_path / "out.gif", result, loaded))
    assert np.array_equal(written, indices)


def test_an_edit_of_another_size_falls_back_to_the_first_entry(tmp_path):
    """Entries kept from the original apply only to a picture of its size."""
    indices = _original()
    _write(tmp_path / "in.gif", indices)
    loaded = load_image(tmp_path / "in.gif")
    turned = np.ascontiguousarray(np.rot90(loaded.rgb))
    written = _indices(save_result(tmp_path / "out.gif", turned, loaded))
    expected = np.rot90(indices).copy()
    expected[expected == 2] = 0  # the colour's first entry
    expected[expected == 4] = 1
    assert np.array_equal(written, expected)


def test_a_full_palette_of_256_entries_with_repeats(tmp_path):
    colours = np.random.default_rng(1).integers(0, 256, (256, 3)).astype(np.uint8)
    colours[128:] = colours[:128]  # every colour twice
    indices = (np.arange(64 * 64) % 256).astype(np.uint8).reshape(64, 64)
    picture = Image.fromarray(indices, "P")
    picture.putpalette(colours.tobytes())
    picture.save(tmp_path / "in.gif", optimize=False)
    loaded = load_image(tmp_path / "in.gif")
    with Image.open(save_result(tmp_path / "out.gif", loaded.rgb, loaded)) as written:
        assert np.array_equal(np.array(written), indices)
