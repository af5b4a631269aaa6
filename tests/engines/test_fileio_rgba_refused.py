"""``save_image`` (and :func:`engines.fileio.encode_image`, which every save goes through)
refuses a 4-channel array given as the RGB picture: its transparency goes in ``alpha``, on
its own. Before, the fourth channel was dropped silently and the file written opaque."""

from __future__ import annotations

import numpy as np
import pytest

from engines.fileio import encode_image, load_image, save_image


def _rgba() -> np.ndarray:
    rgba = np.random.default_rng(0).integers(0, 256, (12, 16, 4), np.uint8)
    rgba[:, :8, 3] = 0  # the left half transparent
    return rgba


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif", ".gif", ".bmp"])
def test_an_rgba_array_as_rgb_is_refused_naming_its_shape_and_alpha(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    with pytest.raises(ValueError, match=r"got shape \(12, 16, 4\); pass transparency as "
                                         r"alpha, on its own"):
        save_image(path, _rgba())
    assert not path.exists() and list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("shape", [(12, 16, 1), (12, 16, 2), (12, 16, 3, 1), (12,)])
def test_other_shapes_are_refused_too(tmp_path, shape):
    with pytest.raises(ValueError, match=r"\(H, W, 3\) RGB or \(H, W\) grey, got shape"):
        save_image(tmp_path / "out.png", np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\) RGB or \(H, W\) grey"):
        encode_image(np.zeros(shape, np.uint8), ".png")


def test_the_same_picture_with_alpha_on_its_own_keeps_its_transparency(tmp_path):
    rgba = _rgba()
    path = save_image(tmp_path / "out.png", rgba[..., :3], rgba[..., 3])
    loaded = load_image(path)
    assert np.array_equal(loaded.alpha, rgba[..., 3])
    assert np.array_equal(loaded.rgb, rgba[..., :3])


def test_grey_and_rgb_arrays_are_still_written(tmp_path):
    grey = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    assert np.array_equal(load_image(save_image(tmp_path / "grey.png", grey)).rgb[..., 1],
                          grey)
    rgb = np.random.default_rng(1).integers(0, 256, (12, 16, 3), np.uint8)
    assert np.array_equal(load_image(save_image(tmp_path / "rgb.png", rgb)).rgb, rgb)
